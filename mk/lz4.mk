# ------------------------------------------------------------------- lz4 ----
# The LZ4 block codec (mm/lz4.c, issue 14 item 1) against Debian's liblz4:
#
#   build/host/<arch>[-debug]/test_lz4   tests/host/test_lz4.c: the pattern rules of the
#                                        Makefile and mk/debug.mk, plus -llz4 (liblz4-dev,
#                                        amd64 and i386: tools/deps.sh)
#   build/fuzz/fuzz_lz4                  libFuzzer: arbitrary bytes into the decompressor
#                                        (checked against liblz4), round trips of pages
#   make test-lz4                        the suite "lz4" of make test: the seeds of
#                                        tests/fuzz/corpus-lz4 replayed, LZ4_FUZZ_TIME
#                                        seconds of fuzzing (default 15)
#   make fuzz-lz4                        the long run: FUZZ_TIME seconds (default 600)
#   make bench-lz4                       ratio and speed against liblz4 on the test corpus,
#                                        and callgrind's instruction counts (part of make bench)
LZ4_TEST_DEPS := tests/host/test_lz4.c tests/host/lz4_corpus.h $(HEADERS) \
                 $(wildcard host/*.h tests/host/*.h)
define lz4_test_rule
$(BUILD)/host/$(1)$(2)/test_lz4: $(LZ4_TEST_DEPS) $(call hostobjs,$(1)$(2),$(HOST_SRCS))
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@ (liblz4)"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(1)) $(3) -Itests/host -o $$@ tests/host/test_lz4.c $(call hostobjs,$(1)$(2),$(HOST_SRCS)) -llz4 -lcmocka -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call lz4_test_rule,$(a),,)))
$(foreach a,$(HOST_ARCHES),$(eval $(call lz4_test_rule,$(a),-debug,-DMM_DEBUG)))

# make bench-lz4 (and make bench): ours (mm/lz4.c, mm/string.c) built for x86_64 -O2 with
# no vector registers, as the kernel has none (-mno-sse...: the compiler may not vectorise
# its copy loops either); liblz4 is Debian's (SSE2 and glibc's AVX2 memset included).
# DWARF 4 for valgrind 3.19 (tools/lz4-bench.sh runs callgrind).
LZ4_BENCH_CFLAGS := -m64 -std=c11 -O2 -gdwarf-4 -fno-builtin -Wall -Wextra -Werror \
                    -Wno-unused-parameter -DMM_HOSTED -D_GNU_SOURCE -Iinclude -Imm -Ihost
LZ4_BENCH_NOVEC  := -mno-sse -mno-sse2 -mno-mmx -mno-3dnow -mno-avx -mno-80387
$(BUILD)/bench/lz4_bench: bench/lz4_bench.c bench/bench.h tests/host/lz4_corpus.h mm/lz4.c \
                          mm/string.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CLANG) $(LZ4_BENCH_CFLAGS) $(LZ4_BENCH_NOVEC) -c mm/lz4.c -o $@-lz4.o
	@$(CLANG) $(LZ4_BENCH_CFLAGS) $(LZ4_BENCH_NOVEC) -c mm/string.c -o $@-string.o
	@$(CLANG) $(LZ4_BENCH_CFLAGS) -o $@ $< $@-lz4.o $@-string.o -llz4

.PHONY: bench-lz4
bench-lz4: $(BUILD)/bench/lz4_bench
	@tools/lz4-bench.sh $<
bench: bench-lz4

# The libFuzzer target: mm/lz4.c and mm/string.c only, with liblz4 as the reference.
LZ4_FUZZ_TIME ?= 15
LZ4_FUZZ_SEEDS := tests/fuzz/corpus-lz4
LZ4_FUZZ_SRCS  := mm/lz4.c mm/string.c
$(BUILD)/fuzz/fuzz_lz4: tests/fuzz/fuzz_lz4.c $(LZ4_FUZZ_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	@$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(LZ4_FUZZ_SRCS) -llz4

.PHONY: test-lz4 fuzz-lz4 fuzz-lz4-seeds
# The seeds are generated (with Debian's lz4 tool) and committed.
fuzz-lz4-seeds:
	@python3 tests/fuzz/make-lz4-seeds.py $(LZ4_FUZZ_SEEDS)
fuzz-lz4: $(BUILD)/fuzz/fuzz_lz4
	@mkdir -p $(BUILD)/fuzz/corpus-lz4
	$(BUILD)/fuzz/fuzz_lz4 -max_total_time=$(FUZZ_TIME) -max_len=8200 -timeout=20 \
	    -artifact_prefix=$(BUILD)/fuzz/lz4- -print_final_stats=1 $(BUILD)/fuzz/corpus-lz4 $(LZ4_FUZZ_SEEDS)

TEST_SUITES += lz4
test-lz4: $(BUILD)/fuzz/fuzz_lz4
	@LZ4_FUZZ_TIME=$(LZ4_FUZZ_TIME) tools/lz4-fuzz-check.sh $(CLANG) "$(FUZZ_CFLAGS)"
