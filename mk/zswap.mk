# ----------------------------------------------------------------- zswap ----
# Reclaim of cold pages and demand paging back in (mm/zswap.c, issue 14 items
# 3-6).  Its host test is a pattern rule's (tests/host/test_zswap.c).
#   make test-zswap    the suite "zswap" of make test: the console's zswapdemo under
#                      QEMU at -m 32M (tools/zswap-check.sh): 64 MB of realistic
#                      data written, read back shuffled, verified; 40 MB at -smp 4;
#                      48 MB of noise failing cleanly (one line, the fault diagnosis)
.PHONY: test-zswap
TEST_SUITES += zswap
test-zswap: $(BUILD)/kernel.elf
	@tools/zswap-check.sh "$(QEMU_BASE)" $<
