# --------------------------------------------------------------- heapviz ----
# tools/heapviz.py draws a heap_dump() from a log as an SVG picture.
#
#   make heap-picture   boot the kernel, drive its shell (stress, alloc, free, heap)
#                       and draw the last dump: docs/heap.svg
#   make test-tools     the suite "tools" of make test: tests/tools/test_heapviz.py on
#                       the captured samples in tests/tools/samples/ and on fresh dumps
#                       of tests/tools/dump_sample.c (i386 and x86_64)
.PHONY: heap-picture test-tools

# dump_sample: a fragmented heap, dumped; built like the host tests (the real mm/ sources).
define dump_sample_rule
$(BUILD)/tools/$(1)/dump_sample: tests/tools/dump_sample.c $(HOST_SRCS) $(HEADERS) $(wildcard host/*.h)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) -o $$@ $$< $(HOST_SRCS) -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call dump_sample_rule,$(a))))
DUMP_SAMPLES := $(foreach a,$(HOST_ARCHES),$(BUILD)/tools/$(a)/dump_sample)

# trace_sample: a real allocation trace from the debug build, for tools/tracestat.py.
define trace_sample_rule
$(BUILD)/tools/$(1)/trace_sample: tests/tools/trace_sample.c $(HOST_SRCS) $(HEADERS) $(wildcard host/*.h)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) -DMM_DEBUG -o $$@ $$< $(HOST_SRCS) -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call trace_sample_rule,$(a))))
TRACE_SAMPLES := $(foreach a,$(HOST_ARCHES),$(BUILD)/tools/$(a)/trace_sample)

TEST_SUITES += tools
test-tools: $(DUMP_SAMPLES) $(TRACE_SAMPLES)
	@TRACE_SAMPLES="$(TRACE_SAMPLES)" tools/run-tool-tests.sh $(DUMP_SAMPLES)

heap-picture: $(BUILD)/kernel.elf $(BUILD)/kernel-test.elf
	@tools/heap-picture.sh "$(QEMU_BASE)" $< docs/heap.svg
