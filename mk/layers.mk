# ---------------------------------------------------------------- layers ----
# The layering check of mm/ (issue 10): tools/layers.py reads the mm/ objects with nm
# (which file defines each symbol another file uses), prints the graph of which file
# uses which as layers, and fails on a cycle or on a symbol an mm/ file takes from
# outside mm/ other than the glue_* functions of mm/glue.h.  The objects are the
# kernel's (i386, freestanding: memset & co. come from mm/string.c), built twice: as
# the normal build and with MM_DEBUG; the graph is the union of both.
#
#   make layers        build the objects, print the graph; the exit status is the check's
#                      (every cycle fails, the known ones too); LAYERS_FLAGS=-v: every
#                      symbol of each edge
#   make test-layers   the suite "layers" of make test (tools/layers-check.sh): the script
#                      on synthetic objects it must pass and fail, then the real mm/ with
#                      the cycles of LAYERS_KNOWN_CYCLES allowed: a cycle not in that list,
#                      or one listed that no longer exists, fails the suite; no mm/
#                      file may pass 700 lines; and the
#                      targets of make help each exist
#
# LAYERS_KNOWN_CYCLES: the cycles of mm/ as it is, until the layering refactor of issue
# 10 lands; empty the file as they disappear (the suite says which to remove).
LAYERS_KNOWN_CYCLES ?= tools/layers-known-cycles.txt

.PHONY: layers test-layers

# MM_DEBUG off whatever DEBUG says, then on: the check covers both builds.
LAYERS_KCFLAGS := $(filter-out -DMM_DEBUG,$(KCFLAGS))
LAYERS_NORMAL  := $(patsubst mm/%.c,$(BUILD)/layers/normal/mm/%.c.o,$(MM_SRCS))
LAYERS_DEBUG   := $(patsubst mm/%.c,$(BUILD)/layers/debug/mm/%.c.o,$(MM_SRCS))
# kernel/ and arch/ objects, so that a symbol used from outside mm/ is named with its file
LAYERS_OUTSIDE := $(call kobj,k,$(filter %.c,$(ARCH_SRCS)) $(KERNEL_SRCS))

$(BUILD)/layers/normal/mm/%.c.o: mm/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC [l]  $<"
	@$(CLANG) $(LAYERS_KCFLAGS) -c $< -o $@
$(BUILD)/layers/debug/mm/%.c.o: mm/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC [ld] $<"
	@$(CLANG) $(LAYERS_KCFLAGS) -DMM_DEBUG -c $< -o $@

LAYERS_ARGS = --outside $(LAYERS_OUTSIDE) --variant normal $(LAYERS_NORMAL) \
              --variant MM_DEBUG $(LAYERS_DEBUG)

LAYERS_FLAGS ?=
layers: $(LAYERS_NORMAL) $(LAYERS_DEBUG) $(LAYERS_OUTSIDE)
	@python3 tools/layers.py $(LAYERS_FLAGS) $(LAYERS_ARGS)

TEST_SUITES += layers
test-layers: $(LAYERS_NORMAL) $(LAYERS_DEBUG) $(LAYERS_OUTSIDE)
	@CLANG="$(CLANG)" tools/layers-check.sh $(LAYERS_KNOWN_CYCLES) $(LAYERS_ARGS)
