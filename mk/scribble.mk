# -------------------------------------------------------------- scribble ----
# The scribble fuzzer (issue 9): random operations on a fresh memory manager with
# 1-64 bytes written at random places of the heap between them; every seed in a
# forked child: no crash, no hang, no allocation overlapping a live object, no
# byte of a live object changed that no scribble covered (tests/scribble/scribble.c).
# Modes: 0 no scribbles (the control), 1 near block headers, 2 anywhere but slab
# pages and cache descriptors, 3 anywhere; Phase 2 (virtual heap) and Phase 1.
#
#   make test-scribble     the suite "scribble" of make test: SCRIBBLE_TEST_SEEDS seeds
#                          (default 3) of SCRIBBLE_TEST_OPS operations (20000) per phase,
#                          mode and ABI under ASan + UBSan, one check each; then the
#                          planted bugs of the selftest build, each of which must be found
#   make fuzz-scribble     the long run (make fuzz runs it first): SEEDS seeds (default
#                          2000) of OPS operations (default 20000) per phase, mode and ABI,
#                          optimised, no sanitizers, SCRIBBLE_JOBS children at a time
#                          (default 2); one summary line each.  SCRIBBLE_MODES (default
#                          1 2 3; the bounded run's SCRIBBLE_TEST_MODES adds the control, 0),
#                          SCRIBBLE_PHASES (2 1), SCRIBBLE_ABIS (both) choose
#   build/scribble/<abi>/scribble -P 2 -m 3 -s 17 -v    one seed, every step traced
#                          (each failure prints its own such line)
#
# SCRIBBLE_KNOWN_FAILING: phase:mode:abi combinations that fail on the code as it is
# (now only Phase 1 mode 0: the false out-of-memory of issue 9, bug 3; the other bugs
# are fixed: the block map, slab metadata and cache descriptors out of band).
# Their failures are printed as "known failure", not counted as failed, and a combination
# that passes says so ("remove it from the list").  Remove entries as the fixes land.
SCRIBBLE_KNOWN_FAILING ?=

SCRIBBLE_TEST_SEEDS ?= 3
SCRIBBLE_TEST_OPS   ?= 20000
SEEDS               ?= 2000
OPS                 ?= 20000
SCRIBBLE_JOBS       ?= 2
SCRIBBLE_TEST_MODES ?= 0 1 2 3
SCRIBBLE_MODES      ?= 1 2 3
SCRIBBLE_PHASES     ?= 2 1
SCRIBBLE_ABIS       ?= $(HOST_ARCHES)

SCRIBBLE_DEPS  := tests/scribble/scribble.c $(HOST_SRCS) $(HEADERS) \
                  $(wildcard host/*.h tests/host/*.h)
# the long run's build: optimised, no sanitizers (the normal build of mm/, DEBUG or not)
SCRIBBLE_FAST_CFLAGS := $(filter-out -O1 -fsanitize=% -fno-sanitize-recover=%,$(HOST_CFLAGS)) -O2

.PHONY: test-scribble fuzz-scribble fuzz

define scribble_rules
$(BUILD)/scribble/$(1)/scribble: $(SCRIBBLE_DEPS)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(1)) -Itests/host -o $$@ $$< $(HOST_SRCS) -lcmocka -lpthread
$(BUILD)/scribble/$(1)/scribble-fast: $(SCRIBBLE_DEPS)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(SCRIBBLE_FAST_CFLAGS) -Itests/host -o $$@ $$< $(HOST_SRCS) -lcmocka -lpthread
# planted bugs (-X KIND), to show the checks find them
$(BUILD)/scribble/$(1)/scribble-selftest: $(SCRIBBLE_DEPS)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(1)) -DSCRIBBLE_SELFTEST -Itests/host -o $$@ $$< $(HOST_SRCS) -lcmocka -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call scribble_rules,$(a))))

SCRIBBLE_ENV = SCRIBBLE_KNOWN_FAILING="$(SCRIBBLE_KNOWN_FAILING)" SCRIBBLE_JOBS=$(SCRIBBLE_JOBS) \
               SCRIBBLE_PHASES="$(SCRIBBLE_PHASES)" SCRIBBLE_ABIS="$(SCRIBBLE_ABIS)"

TEST_SUITES += scribble
test-scribble: $(foreach a,$(SCRIBBLE_ABIS),$(BUILD)/scribble/$(a)/scribble) \
               $(BUILD)/scribble/i386/scribble-selftest
	@$(SCRIBBLE_ENV) SCRIBBLE_SEEDS=$(SCRIBBLE_TEST_SEEDS) SCRIBBLE_OPS=$(SCRIBBLE_TEST_OPS) \
	    SCRIBBLE_MODES="$(SCRIBBLE_TEST_MODES)" \
	    tools/scribble-check.sh test $(BUILD)/scribble

fuzz-scribble: $(foreach a,$(SCRIBBLE_ABIS),$(BUILD)/scribble/$(a)/scribble-fast)
	@$(SCRIBBLE_ENV) SCRIBBLE_SEEDS=$(SEEDS) SCRIBBLE_OPS=$(OPS) SCRIBBLE_MODES="$(SCRIBBLE_MODES)" \
	    tools/scribble-check.sh long $(BUILD)/scribble

# make fuzz: the scribble fuzzer's long run first, then libFuzzer (mk/fuzz.mk)
fuzz: fuzz-scribble
