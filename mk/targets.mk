# --------------------------------------------------------------- targets ----
# The Makefile's own targets, checked (tools/targets-check.sh):
#
#   make test-targets  the suite "targets" of make test: make with no target is make all
#                      and builds both kernels; every target make help names exists (its
#                      rule is in make's database, and make -n TARGET succeeds; for test
#                      itself only the former: its recipe runs the suites even under -n);
#                      every .PHONY target is named by make help (a self-test plants one
#                      missing);
#                      make debug under gdb -batch: the breakpoint on kernel_main is hit,
#                      and QEMU is gone when gdb has killed it, or detached from it
.PHONY: test-targets

TEST_SUITES += targets
test-targets: $(BUILD)/kernel.elf $(BUILD)/kernel-test.elf
	@TEST_SUITES="$(TEST_SUITES)" tools/targets-check.sh
