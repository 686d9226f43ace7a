# ------------------------------------------------------------------ fuzz ----
# libFuzzer over the real mm/ sources (x86_64, ASan + UBSan, like the host tests):
# tests/fuzz/fuzz_heap.c decodes each input into kmalloc/kcalloc/krealloc/kfree/
# kmalloc_aligned/kmalloc_usable_size calls (and misuse) checked against a shadow.
#
#   make fuzz                 fuzz for FUZZ_TIME seconds (default 600) on FUZZ_JOBS
#                             processes (default 1); new inputs go to build/fuzz/corpus,
#                             a crash to build/fuzz/crash-*
#   make fuzz-selftest        show the fuzzer finds bugs: a planted one, and mutants of
#                             copies of the heap's files (mm/kmalloc.c, mm/heap_alloc.c, mm/heap_block.c)
#   make test-fuzz            the suite "fuzz" of make test: the seed corpus replayed,
#                             FUZZ_TEST_TIME seconds of fuzzing (default 15), the selftest
#   build/fuzz/fuzz_heap FILE replays one input (MM_FUZZ_TRACE=1: every operation)
FUZZ_TIME      ?= 600
FUZZ_JOBS      ?= 1
FUZZ_TEST_TIME ?= 15
FUZZ_CFLAGS := -m64 $(filter-out -fsanitize=%,$(HOST_CFLAGS)) -fsanitize=fuzzer,address,undefined
FUZZ_SEEDS  := tests/fuzz/corpus
FUZZ_DEPS   := $(HOST_SRCS) $(HEADERS) $(wildcard host/*.h)

.PHONY: fuzz fuzz-seeds fuzz-selftest test-fuzz

$(BUILD)/fuzz/fuzz_heap: tests/fuzz/fuzz_heap.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	@$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(HOST_SRCS) -lpthread

# The same target with a planted bug (a rare kfree scribbles on its neighbour).
$(BUILD)/fuzz/fuzz_heap_selftest: tests/fuzz/fuzz_heap.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	@$(CLANG) $(FUZZ_CFLAGS) -DFUZZ_SELFTEST -o $@ $< $(HOST_SRCS) -lpthread

# The seeds are generated (and committed): regenerate after changing the op encoding.
fuzz-seeds:
	@python3 tests/fuzz/make-seeds.py $(FUZZ_SEEDS)

fuzz: $(BUILD)/fuzz/fuzz_heap
	@mkdir -p $(BUILD)/fuzz/corpus
	@echo "fuzz: $(FUZZ_TIME) s on $(FUZZ_JOBS) process(es); corpus $(BUILD)/fuzz/corpus"
	@if [ "$(FUZZ_JOBS)" -gt 1 ]; then fork="-fork=$(FUZZ_JOBS)"; else fork=; fi; \
	$(BUILD)/fuzz/fuzz_heap $$fork -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=20 \
	    -artifact_prefix=$(BUILD)/fuzz/ -print_final_stats=1 $(BUILD)/fuzz/corpus $(FUZZ_SEEDS)

fuzz-selftest: $(BUILD)/fuzz/fuzz_heap_selftest
	@tools/fuzz-check.sh selftest $(CLANG) "$(FUZZ_CFLAGS)" "$(HOST_SRCS)"

TEST_SUITES += fuzz
test-fuzz: $(BUILD)/fuzz/fuzz_heap $(BUILD)/fuzz/fuzz_heap_selftest
	@FUZZ_TEST_TIME=$(FUZZ_TEST_TIME) tools/fuzz-check.sh test $(CLANG) "$(FUZZ_CFLAGS)" "$(HOST_SRCS)"
