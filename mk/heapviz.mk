# --------------------------------------------------------------- heapviz ----
# tools/heapviz.py draws a heap_dump() from a log as an SVG picture.
#
#   make heap-picture   boot the kernel, drive its shell (stress, alloc, free, heap)
#                       and draw the last dump: docs/heap.svg; the same with a debug
#                       kernel booted with mmdebug: docs/heap-debug.svg
#   make test-tools     the suite "tools" of make test: tests/tools/test_heapviz.py on
#                       the captured samples in tests/tools/samples/ and on fresh dumps
#                       of tests/tools/dump_sample.c (i386 and x86_64)
.PHONY: heap-picture test-tools

# dump_sample: a fragmented heap, dumped; built like the host tests (the real mm/ sources).
define dump_sample_rule
$(BUILD)/tools/$(1)/dump_sample: tests/tools/dump_sample.c $(HOST_SRCS) $(HEADERS) $(wildcard host/*.h)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(1)) -o $$@ $$< $(HOST_SRCS) -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call dump_sample_rule,$(a))))
DUMP_SAMPLES := $(foreach a,$(HOST_ARCHES),$(BUILD)/tools/$(a)/dump_sample)

# trace_sample: a real allocation trace from the debug build, for tools/tracestat.py.
define trace_sample_rule
$(BUILD)/tools/$(1)/trace_sample: tests/tools/trace_sample.c $(HOST_SRCS) $(HEADERS) $(wildcard host/*.h)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(1)) -DMM_DEBUG -o $$@ $$< $(HOST_SRCS) -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call trace_sample_rule,$(a))))
TRACE_SAMPLES := $(foreach a,$(HOST_ARCHES),$(BUILD)/tools/$(a)/trace_sample)

TEST_SUITES += tools
test-tools: $(DUMP_SAMPLES) $(TRACE_SAMPLES)
	@TRACE_SAMPLES="$(TRACE_SAMPLES)" tools/run-tool-tests.sh $(DUMP_SAMPLES)

heap-picture: $(BUILD)/kernel.elf $(BUILD)/kernel-test.elf $(BUILD)/kernel-debug.elf
	@tools/heap-picture.sh "$(QEMU_BASE)" $< docs/heap.svg
	@tools/heap-picture.sh "$(QEMU_BASE)" $(BUILD)/kernel-debug.elf docs/heap-debug.svg mmdebug

# The normal kernel built with MM_DEBUG (whatever DEBUG says), for the debug picture.
KDBGN_OBJS := $(call kobj,kdn,$(MM_SRCS) $(ARCH_SRCS) $(KERNEL_SRCS))
$(BUILD)/kdn/%.c.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC [d]  $<"
	@$(CLANG) $(KCFLAGS) -DMM_DEBUG -c $< -o $@
$(BUILD)/kdn/%.S.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS [d]  $<"
	@$(CLANG) $(KASFLAGS) -DMM_DEBUG -c $< -o $@
$(BUILD)/kernel-debug.elf: $(KDBGN_OBJS) arch/x86/linker.ld
	@echo "  LD      $@"
	@$(LD) -m elf_i386 -T arch/x86/linker.ld -o $@ $(KDBGN_OBJS)
