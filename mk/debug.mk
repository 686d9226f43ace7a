# ----------------------------------------------------------------- debug ----
# The debug build of the memory manager (MM_DEBUG, include/mm_debug.h), tested
# by make test whatever DEBUG says:
#
#   build/host/<arch>-debug/<test>   every host test file built with MM_DEBUG: the
#                                    existing suites with the checks off (a debug build
#                                    must behave as the normal one), tests/host/test_debug.c
#                                    with them on
#   build/kernel-test-debug.elf      the test kernel built with MM_DEBUG, booted twice: every
#                                    suite, then the debug tests with "mmdebug" (checks on)
#   make test-debug                  the suite "debug" of make test: both of the above
.PHONY: test-debug

DEBUG_HOST_TESTS := $(patsubst tests/host/%.c,%,$(wildcard tests/host/test_*.c))

define debug_host_rules
$(BUILD)/host/$(1)-debug/%: tests/host/%.c $(call hostobjs,$(1)-debug,$(HOST_SRCS)) $(HEADERS) $(wildcard host/*.h tests/host/*.h)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(1)) -DMM_DEBUG -Itests/host -o $$@ $$< $(call hostobjs,$(1)-debug,$(HOST_SRCS)) -lcmocka -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call debug_host_rules,$(a))))
$(foreach a,$(HOST_ARCHES),$(eval $(call ownpaging_rule,$(a),-debug,-DMM_DEBUG)))
DEBUG_HOST_BINS := $(foreach a,$(HOST_ARCHES),$(addprefix $(BUILD)/host/$(a)-debug/,$(DEBUG_HOST_TESTS)))

KDEBUG_OBJS := $(call kobj,kd,$(MM_SRCS) $(ARCH_SRCS) $(KERNEL_SRCS) $(KTEST_SRCS))
$(BUILD)/kd/%.c.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC [td] $<"
	@$(CLANG) $(KCFLAGS) -DKERNEL_TEST -DMM_DEBUG -Itests/kernel -c $< -o $@
$(BUILD)/kd/%.S.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS [td] $<"
	@$(CLANG) $(KASFLAGS) -DKERNEL_TEST -c $< -o $@
$(BUILD)/kernel-test-debug.elf: $(KDEBUG_OBJS) arch/x86/linker.ld
	@echo "  LD      $@"
	@$(LD) -m elf_i386 -T arch/x86/linker.ld -o $@ $(KDEBUG_OBJS)
kernel: $(BUILD)/kernel-test-debug.elf

TEST_SUITES += debug
test-debug: $(DEBUG_HOST_BINS) $(BUILD)/kernel-test-debug.elf
	@tools/run-debug-tests.sh "$(QEMU_BASE)" $(BUILD)/kernel-test-debug.elf $(DEBUG_HOST_BINS)
