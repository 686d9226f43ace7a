# ----------------------------------------------------------- bench (more) ----
# make bench, issue 12: threaded workloads (1, 2, 4 threads) and instructions
# per malloc/free (callgrind).  Both programs are plain x86_64 programs with no
# mm/ inside: each allocator, ours too (build/host/libkmalloc.so), is the
# process's malloc through LD_PRELOAD, so every one is called the same way.
# -fno-builtin: every malloc/free call really happens.
BENCH_PLAIN_CFLAGS := -m64 -std=c11 -O2 -g -fno-builtin -Wall -Wextra -Werror -D_GNU_SOURCE
$(BUILD)/bench/thread_bench: bench/thread_bench.c bench/bench.h tests/rng.h
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CLANG) $(BENCH_PLAIN_CFLAGS) -o $@ $< -lpthread
# -fno-optimize-sibling-calls: bench_malloc/bench_free end in a real call, not a
# jump, so callgrind's --toggle-collect counts exactly their calls.
$(BUILD)/bench/insn_bench: bench/insn_bench.c tests/rng.h
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CLANG) $(BENCH_PLAIN_CFLAGS) -fno-optimize-sibling-calls -gdwarf-4 -o $@ $<
# Valgrind 3.19 cannot read clang's DWARF 5: callgrind gets the shim built as
# build/host/libkmalloc.so is, with DWARF 4 debug information (same code).
$(BUILD)/bench/libkmalloc-dwarf4.so: $(SHIM_SRCS) $(HEADERS) host/shim.h host/glue_common.h
	@mkdir -p $(dir $@)
	@echo "  SHIM    $@"
	@$(CLANG) $(SHIM_CFLAGS) -gdwarf-4 -shared -Wl,--no-undefined -o $@ $(SHIM_SRCS) -lpthread

# The two parts alone (make bench runs them after the single-thread tables):
#   make bench-threads   the threaded table, scaling and remote free (~30 s)
#   make bench-insn      instructions per malloc / free and ours' call tree (~30 s)
.PHONY: bench-threads bench-insn
bench-threads: $(BUILD)/bench/thread_bench $(BUILD)/host/libkmalloc.so
	@tools/thread-bench.sh $(BUILD)/bench/thread_bench $(BUILD)/host/libkmalloc.so
bench-insn: $(BUILD)/bench/insn_bench $(BUILD)/bench/libkmalloc-dwarf4.so
	@tools/insn-bench.sh $(BUILD)/bench/insn_bench $(BUILD)/bench/libkmalloc-dwarf4.so

# make bench-locks: the heap's lock and the VMM's side by side (bench/lock_bench.c):
# ns per pair of a heap thread alone, beside a vmm_map/unmap thread, beside a
# thread running vmm_check and pmm_check.  Wall clock: noisy on a shared machine.
.PHONY: bench-locks
$(BUILD)/bench/lock_bench: bench/lock_bench.c bench/machine.h $(HOST_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CLANG) $(FRAG_CFLAGS) -Werror -Ibench -o $@ $< $(HOST_SRCS) -lpthread
bench-locks: $(BUILD)/bench/lock_bench
	@for m in vmm heap both check; do $(BUILD)/bench/lock_bench $$m || exit 1; done
