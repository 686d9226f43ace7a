# ----------------------------------------------------------------- names ----
# mm/ in a kernel that owns kfree, memset & co. and links no compiler runtime
# (issue 11): tools/names-check.sh builds mm/ with gcc (-O0, -O2, -Os, -march=i486)
# and clang, normal and MM_DEBUG, and with -DMM_PREFIX (include/mm_names.h); checks
# every object's symbols with nm; links the prefixed mm/ with a kernel of its own
# names (tests/names/) -nostdlib, with ld.lld and with gcc; and shows that each check
# fails on a planted unprefixed export, a libgcc call and the unprefixed link; and
# checks that the README's embedding file list holds every file mm/ includes.
#
#   make test-names    the suite "names" of make test (results in build/results/names)
.PHONY: test-names
TEST_SUITES += names
# The kernel's flags without -O2 / MM_DEBUG (the script sets those) and without -g.
NAMES_KCFLAGS := $(filter-out -O2 -DMM_DEBUG,$(KCFLAGS))
test-names: $(MM_SRCS) $(HEADERS) tests/names/kernel_own.c tests/names/kernel_uses.c \
            tests/embed/string.c
	@CLANG="$(CLANG)" LD="$(LD)" tools/names-check.sh $(NAMES_KCFLAGS)
