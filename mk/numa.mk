# ------------------------------------------------------------------ numa ----
# The NUMA topology from ACPI (issue 13, item 1): arch/x86/numa.c reads the SRAT
# and the SLIT through the ACPI code of the CPU discovery (arch/x86/acpi.c,
# firmware.h) and checks them against the running CPUs and the memory map.
#
#   build/host/<arch>[-debug]/test_srat   numa.c with the CPU discovery's three
#                      files, built for the host, reading tables tests/host/test_srat.c
#                      builds in a fake physical memory (honest and lying); no mm/
#                      inside (-UMM_HOSTED: include/pmm.h, for pmm_range_t, renames
#                      nothing then).  Run by the host and debug suites like every
#                      tests/host file.
#   make test-numa     the suite "numa" of make test: build/kernel.elf under QEMU
#                      with -numa layouts (2 nodes of 2 CPUs, 4 nodes, unequal sizes,
#                      a node without CPUs, one without memory, no -numa); the line
#                      "numa: ..." checked (tools/numa-check.sh), and with nodes the
#                      PMM's lines "numa: pmm ..." (kernel/numa_pmm.c): per-node
#                      totals, each CPU's page from its node, vmalloc_node, fallback
#                      ...; and after each layout the whole in-kernel suite
#                      (build/kernel-test.elf) on the same layout
#   build/host/<arch>[-debug]/test_pmm_node   the PMM's nodes (mm/pmm_node.c) on made-up
#                      layouts: a tests/host file like the others
.PHONY: test-numa

NUMA_HOST_SRCS := arch/x86/numa.c $(CPUS_HOST_SRCS)
NUMA_HOST_HDRS := arch/x86/numa.h include/pmm.h $(CPUS_HOST_HDRS)

define numa_host_rule
$(BUILD)/host/$(1)$(2)/test_srat: tests/host/test_srat.c $(NUMA_HOST_SRCS) $(NUMA_HOST_HDRS)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@ (arch/x86 NUMA topology, no mm/)"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(1)) $(3) -UMM_HOSTED -Iarch/x86 -o $$@ $$< $(NUMA_HOST_SRCS) -lcmocka
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call numa_host_rule,$(a),,)))
$(foreach a,$(HOST_ARCHES),$(eval $(call numa_host_rule,$(a),-debug,-DMM_DEBUG)))

TEST_SUITES += numa
test-numa: $(BUILD)/kernel.elf $(BUILD)/kernel-test.elf
	@tools/numa-check.sh "$(QEMU_BASE)" $< $(BUILD)/kernel-test.elf

# make bench-numa (and make bench): node locality under a 4-CPU workload
# (bench/numa_bench.c) and the instructions of the page path, node-aware
# against the node-blind PMM before it (bench/pmm_pairs.c, tools/numa-bench.sh).
NUMA_BENCH_CC = $(CLANG) $(FRAG_CFLAGS) -Werror -gdwarf-4
$(BUILD)/bench/numa_bench: bench/numa_bench.c $(HOST_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(NUMA_BENCH_CC) -o $@ $< $(HOST_SRCS) -lpthread
$(BUILD)/bench/pmm_pairs: bench/pmm_pairs.c $(HOST_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(NUMA_BENCH_CC) -o $@ $< $(HOST_SRCS) -lpthread
.PHONY: bench-numa
bench-numa: $(BUILD)/bench/numa_bench $(BUILD)/bench/pmm_pairs
	@tools/numa-bench.sh $(BUILD)/bench/numa_bench $(BUILD)/bench/pmm_pairs \
	    "$(subst -Iinclude -Imm -Ihost,,$(NUMA_BENCH_CC))"
bench: bench-numa
