# ----------------------------------------------------------------- zswap ----
# Reclaim of cold pages and demand paging back in (mm/zswap.c, issue 14 items
# 3-6).  Its host test is a pattern rule's (tests/host/test_zswap.c).
#   make test-zswap    the suite "zswap" of make test: the console's zswapdemo under
#                      QEMU at -m 32M (tools/zswap-check.sh): 64 MB of realistic
#                      data written, read back shuffled, verified; the same at -smp 4;
#                      48 MB of noise failing cleanly (one line, the fault diagnosis);
#                      100 MB at -m 272M -smp 4 (frames beyond the direct map); the
#                      whole in-kernel suite with zswap-pressure at -m 32M and -smp 4
.PHONY: test-zswap
TEST_SUITES += zswap
test-zswap: $(BUILD)/kernel.elf $(BUILD)/kernel-test.elf
	@tools/zswap-check.sh "$(QEMU_BASE)" $^

# make bench-zswap (and make bench): the time to fault a compressed page back in
# (bench/zswap_bench.c): mm/'s fault path, a host read of the page, the
# decompression alone; the reclaim per page.  i386 (under qemu-i386) and x86_64.
define zswap_bench_rule
$(BUILD)/bench/zswap_bench-$(1): bench/zswap_bench.c bench/bench.h kernel/zswap_pages.h \
                                 $(HOST_SRCS) $(HEADERS)
	@mkdir -p $$(dir $$@)
	@echo "  BENCH   $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(ZSTORE_BENCH_CFLAGS) -o $$@ $$< $(HOST_SRCS) -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call zswap_bench_rule,$(a))))

.PHONY: bench-zswap
bench-zswap: $(foreach a,$(HOST_ARCHES),$(BUILD)/bench/zswap_bench-$(a))
	@for a in $(HOST_ARCHES); do \
	    tools/host-exec.sh $(BUILD)/bench/zswap_bench-$$a || exit 1; \
	done | tee $(BUILD)/bench/zswap.txt
bench: bench-zswap
