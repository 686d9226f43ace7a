# ------------------------------------------------------------------ cpus ----
# Which processors the machine has (issue 12): arch/x86/acpi.c (RSDP, RSDT/XSDT,
# MADT), arch/x86/mptable.c (the MP floating pointer and configuration table)
# and arch/x86/cpus.c (the decision), through a reader of physical memory
# (arch/x86/firmware.h).
#
#   build/host/<arch>[-debug]/test_acpi   those three files built for the host,
#                      reading tables tests/host/test_acpi.c builds in a fake
#                      physical memory (honest and lying); no mm/ inside.  The
#                      host suite runs the i386 and x86_64 builds, the debug
#                      suite the -debug ones, like every tests/host file.
#   make test-cpus     the suite "cpus" of make test: the kernel booted under QEMU
#                      with -smp 1, 4, 4 sockets, 20, ACPI off, and each boot
#                      option cpus=madt|mp|one; the line "cpus: N from ..." checked
#                      (tools/cpus-check.sh)
.PHONY: test-cpus

CPUS_HOST_SRCS := arch/x86/acpi.c arch/x86/mptable.c arch/x86/cpus.c
CPUS_HOST_HDRS := arch/x86/cpus.h arch/x86/firmware.h arch/x86/console.h tests/rng.h \
                  tests/host/console_capture.h

define cpus_host_rule
$(BUILD)/host/$(1)$(2)/test_acpi: tests/host/test_acpi.c $(CPUS_HOST_SRCS) $(CPUS_HOST_HDRS)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@ (arch/x86 CPU discovery, no mm/)"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(1)) $(3) -Iarch/x86 -o $$@ $$< $(CPUS_HOST_SRCS) -lcmocka
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call cpus_host_rule,$(a),,)))
$(foreach a,$(HOST_ARCHES),$(eval $(call cpus_host_rule,$(a),-debug,-DMM_DEBUG)))

TEST_SUITES += cpus
test-cpus: $(BUILD)/kernel.elf
	@tools/cpus-check.sh "$(QEMU_BASE)" $<
