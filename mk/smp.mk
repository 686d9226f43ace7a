# ------------------------------------------------------------------- smp ----
# The SMP matrix (issue 12): the in-kernel suite at -smp 1, 2, 4, 8 under
# single- and multi-threaded TCG, then the normal kernel at -smp 4 (boot log,
# the console's cpus and a four-CPU stress) and -smp 1 (tools/run-smp-tests.sh;
# MM_SMP_COUNTS, MM_SMP_ACCELS narrow it).
TEST_SUITES += smp

.PHONY: test-smp
test-smp: $(BUILD)/kernel.elf $(BUILD)/kernel-test.elf
	@tools/run-smp-tests.sh "$(QEMU_BASE)" $(BUILD)/kernel-test.elf $(BUILD)/kernel.elf
