# The memory manager of a 32-bit x86 kernel, and the small kernel that runs it.
#
# Targets (make help prints this list: keep one line per target, "#   make NAME  what"):
#   make              the same as make all
#   make all          build build/kernel.elf and build/kernel-test.elf (and the MM_DEBUG test kernel)
#   make kernel       build build/kernel.elf and build/kernel-test.elf only
#   make run          build the kernel and boot it in QEMU on SMP=4 CPUs (serial console here)
#   make debug        the kernel in QEMU stopped at its first instruction, gdb attached (kernel_main)
#   make test         every test suite (TEST_SUITES, below), then one total line
#   make test-NAME    one suite of make test (NAME: one of the suites make help lists last)
#   make iso          build/kernel.iso and build/kernel-test.iso: GRUB 2 CD images
#   make bench        benchmarks (ratios against other implementations, one run)
#   make bench-threads  the threaded table, scaling and remote free alone (mk/bench.mk)
#   make bench-insn   instructions per malloc / free and ours' call tree, alone (mk/bench.mk)
#   make bench-locks  the heap's lock and the VMM's side by side: ns per pair (mk/bench.mk)
#   make bench-numa   node locality on 4 CPUs, instructions of the page path (mk/numa.mk)
#   make bench-lz4    mm/lz4.c against liblz4: ratio, speed, instructions (mk/lz4.mk)
#   make bench-zstore  the compressed store's space overhead, a put's and a get's time (mk/zstore.mk)
#   make bench-zswap  the time to fault a compressed page back in, reclaim per page (mk/zswap.mk)
#   make layers       which mm/ file uses which, as layers; fails on a cycle (mk/layers.mk)
#   make fuzz         the long fuzz runs: scribble fuzzer, then libFuzzer (mk/fuzz.mk, scribble.mk)
#   make fuzz-selftest  show that libFuzzer finds planted bugs (mk/fuzz.mk)
#   make fuzz-scribble  the scribble fuzzer's long run alone (mk/scribble.mk)
#   make fuzz-lz4     libFuzzer on the LZ4 decompressor and round trips, FUZZ_TIME s (mk/lz4.mk)
#   make fuzz-seeds   rewrite the heap fuzzer's seed corpus, tests/fuzz/corpus (mk/fuzz.mk)
#   make fuzz-lz4-seeds  rewrite the LZ4 fuzzer's seed corpus, tests/fuzz/corpus-lz4 (mk/lz4.mk)
#   make heap-picture  docs/heap.svg and docs/heap-debug.svg from heap dumps (mk/heapviz.mk)
#   make format       clang-format every C file in place
#   make format-check  check that every C file is clang-formatted (changes nothing)
#   make deps         install the Debian packages the above need (as root)
#   make clean        remove build/
#   make help         this list
#
# make test: format check, host unit tests (i386 + x86_64, ASan+UBSan), the in-kernel
# suite under QEMU (8M..3G), the boot checks, the GRUB CDs, real programs (python3,
# sqlite3, gcc) with our heap as their malloc, and the suites of the fragments in mk/.
#
# make DEBUG=1 ...   the same with the debug build of the memory manager (MM_DEBUG:
#                red zones, poison, quarantine, leak report, profile; include/mm_debug.h;
#                the kernel turns the checks on with the boot option "mmdebug").
#                make test builds and runs the debug variants anyway (mk/debug.mk).
#                (make debug is something else: the kernel under gdb.)
#
# Objects go to build/; nothing is written into the source tree.

.DEFAULT_GOAL := all

BUILD    := build
CLANG    ?= clang
LD       := ld.lld
QEMU     ?= qemu-system-i386
DEBUG    ?= 0
DEBUG_CFLAGS := $(if $(filter 1,$(DEBUG)),-DMM_DEBUG)

# ---------------------------------------------------------------- kernel ----
RESOURCE_DIR := $(shell $(CLANG) -print-resource-dir)
# The oldest CPU the code can run on: a 486 (invlpg, CR0.WP).  Not i686: that
# lets the compiler use cmov, and a 486 or Pentium then dies at its first one.
# The kernel refuses a 386 on serial (arch/x86/cpu.c); make test-boot checks
# that the images hold no instruction a 486 lacks.
KTARGET := --target=i386-elf -march=i486
KCFLAGS := $(KTARGET) -ffreestanding -fno-builtin -nostdinc -isystem $(RESOURCE_DIR)/include \
           -std=c11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
           -fno-stack-protector -fno-pic -fno-omit-frame-pointer \
           -mno-sse -mno-sse2 -mno-mmx -mno-3dnow -mno-80387 \
           -Iinclude -Imm -Iarch/x86 -Ikernel $(DEBUG_CFLAGS)
KASFLAGS := $(KTARGET) -ffreestanding -nostdinc -g -Iinclude -Iarch/x86

MM_SRCS     := $(wildcard mm/*.c)
ARCH_SRCS   := $(wildcard arch/x86/*.c) $(wildcard arch/x86/*.S)
KERNEL_SRCS := $(wildcard kernel/*.c)
KTEST_SRCS  := $(wildcard tests/kernel/*.c)

kobj = $(patsubst %,$(BUILD)/$(1)/%.o,$(2))
KOBJS      := $(call kobj,k,$(MM_SRCS) $(ARCH_SRCS) $(KERNEL_SRCS))
KTEST_OBJS := $(call kobj,kt,$(MM_SRCS) $(ARCH_SRCS) $(KERNEL_SRCS) $(KTEST_SRCS))

# (and the DEBUG setting: switching it rebuilds everything)
HEADERS := $(wildcard include/*.h mm/*.h arch/x86/*.h kernel/*.h tests/*.h tests/kernel/*.h bench/*.h) \
           $(BUILD)/debug-$(DEBUG).stamp

$(BUILD)/debug-$(DEBUG).stamp:
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/debug-*.stamp
	@touch $@

.PHONY: all kernel iso run debug help test test-host test-kernel test-boot test-iso test-shim \
        bench format format-check deps clean
all: kernel

kernel: $(BUILD)/kernel.elf $(BUILD)/kernel-test.elf

$(BUILD)/k/%.c.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CLANG) $(KCFLAGS) -c $< -o $@
$(BUILD)/k/%.S.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	@$(CLANG) $(KASFLAGS) -c $< -o $@
$(BUILD)/kt/%.c.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC [t]  $<"
	@$(CLANG) $(KCFLAGS) -DKERNEL_TEST -Itests/kernel -c $< -o $@
$(BUILD)/kt/%.S.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS [t]  $<"
	@$(CLANG) $(KASFLAGS) -DKERNEL_TEST -c $< -o $@

$(BUILD)/kernel.elf: $(KOBJS) arch/x86/linker.ld
	@echo "  LD      $@"
	@$(LD) -m elf_i386 -T arch/x86/linker.ld -o $@ $(KOBJS)
$(BUILD)/kernel-test.elf: $(KTEST_OBJS) arch/x86/linker.ld
	@echo "  LD      $@"
	@$(LD) -m elf_i386 -T arch/x86/linker.ld -o $@ $(KTEST_OBJS)

# GRUB 2 CD images: the loader people really use.  The normal one passes
# "autopoweroff" (boot, demo, power off); the test one runs the in-kernel suite.
ISOS := $(BUILD)/kernel.iso $(BUILD)/kernel-test.iso
iso: $(ISOS)
$(BUILD)/kernel.iso: $(BUILD)/kernel.elf tools/mkiso.sh
	@tools/mkiso.sh $< $@ autopoweroff
$(BUILD)/kernel-test.iso: $(BUILD)/kernel-test.elf tools/mkiso.sh
	@tools/mkiso.sh $< $@

# QEMU: KVM when it works, plain TCG otherwise (every test passes under both).
QEMU_ACCEL = $(shell tools/qemu-accel.sh $(QEMU) $(BUILD)/kernel-test.elf)
QEMU_BASE   = $(QEMU) $(QEMU_ACCEL) -display none -no-reboot \
              -device isa-debug-exit,iobase=0xf4,iosize=0x04

# Interactive on a terminal; on a pipe or /dev/null (CI) the kernel shows the
# boot and the demo and powers off by itself.  SMP: the CPUs QEMU gives it (the
# boot log lists each; the console's cpus and stress N SEED CPUS use them).
# NUMA=N (1, 2 or 4): 64 MB in N nodes, the CPUs dealt out over them
# (tools/numa-qemu-args.sh); the console's numa command shows them.
SMP ?= 4
NUMA ?=
RUN_MEM = $(if $(NUMA),$$(tools/numa-qemu-args.sh $(NUMA) $(SMP)),-m 32M)
run: $(BUILD)/kernel.elf $(BUILD)/kernel-test.elf
	@mem="$(RUN_MEM)" || exit 1; \
	if [ -t 0 ]; then \
	    $(QEMU_BASE) $$mem -smp $(SMP) -serial mon:stdio -kernel $<; \
	else \
	    $(QEMU_BASE) $$mem -smp $(SMP) -serial stdio -kernel $< -append "autopoweroff" </dev/null; \
	fi

# The kernel under gdb: QEMU stopped at the first instruction (-S) with its GDB stub
# on GDB_PORT, gdb on build/kernel.elf connected, a breakpoint on kernel_main set
# (script: build/debug/kernel.gdb); serial on GDB_SERIAL (a QEMU -serial argument).
# QEMU is ended when gdb exits.  GDBFLAGS go to gdb (the suite "make" passes -batch).
GDB_PORT   ?= 1234
GDB_SERIAL ?= file:$(BUILD)/debug/serial.log
GDBFLAGS   ?=
debug: $(BUILD)/kernel.elf $(BUILD)/kernel-test.elf
	@tools/debug.sh "$(QEMU_BASE)" $< $(GDB_PORT) $(GDB_SERIAL) $(GDBFLAGS)

# The header of this file, "#   make NAME  what" lines: one line per target; then
# the suites of make test (mk/targets.mk checks that every target named exists).
help:
	@sed -n '1,/^$$/s/^#   \(make .*\)/  \1/p' $(firstword $(MAKEFILE_LIST))
	@echo "  suites of make test: $(TEST_SUITES)"

# ------------------------------------------------------------------ host ----
HOST_CFLAGS := -std=c11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
               -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-builtin -DMM_HOSTED -D_GNU_SOURCE -Iinclude -Imm -Ihost $(DEBUG_CFLAGS)
HOST_ARCHES := i386 x86_64
HOST_FLAGS_i386   := -m32
HOST_FLAGS_x86_64 := -m64
# Where this machine's kernel cannot execute 32-bit programs, tools/host-exec.sh runs
# the i386 ones under qemu-i386, built without ASan (UBSan stays): ASan there is 100x
# slower (test_heap: 0.9 s without, minutes with).  The x86_64 builds keep ASan.
# Evaluated once, and only by a recipe that builds an i386 host program.
I386_NATIVE = $(eval I386_NATIVE := $(shell CLANG=$(CLANG) BUILD=$(BUILD) tools/host-exec.sh --i386-native && echo yes))$(I386_NATIVE)
HOST_NOASAN_i386 = $(if $(I386_NATIVE),,-fno-sanitize=address)
HOST_NOASAN_x86_64 :=
HOST_SRCS   := $(MM_SRCS) host/glue.c host/glue_common.c
HOST_TESTS  := $(patsubst tests/host/%.c,%,$(wildcard tests/host/test_*.c))
ifneq ($(DEBUG),1)
HOST_TESTS  := $(filter-out test_debug,$(HOST_TESTS)) # the debug build's own tests
endif

# The real mm/ sources and the host glue, compiled once per flavour of host build
# (build/hobj/<flavour>/...o): the test programs of that flavour link the objects.
# Each source is compiled alone, as it would be on one command line, so a program is
# the same as one built from the sources.  $(call hostobjs,FLAVOUR,SOURCES).
hostobjs = $(patsubst %.c,$(BUILD)/hobj/$(1)/%.o,$(2))
.PRECIOUS: $(BUILD)/hobj/%.o
# The flags of flavour F are in HOBJ_FLAGS_F (a variable: they hold commas).
define hostobj_rules
$(BUILD)/hobj/$(1)/%.o: %.c $(HEADERS) $(wildcard host/*.h)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	@$(CLANG) $$(HOBJ_FLAGS_$(1)) -c -o $$@ $$<
endef
$(foreach a,$(HOST_ARCHES),$(eval HOBJ_FLAGS_$(a) = $(HOST_FLAGS_$(a)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(a))))
$(foreach a,$(HOST_ARCHES),$(eval HOBJ_FLAGS_$(a)-debug = $$(HOBJ_FLAGS_$(a)) -DMM_DEBUG))
$(foreach f,$(HOST_ARCHES) $(addsuffix -debug,$(HOST_ARCHES)),$(eval $(call hostobj_rules,$(f))))

# build/host/<arch>/<test>: one binary per test file, linking the real mm/ sources.
define host_rules
$(BUILD)/host/$(1)/%: tests/host/%.c $(call hostobjs,$(1),$(HOST_SRCS)) $(HEADERS) $(wildcard host/*.h tests/host/*.h)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(1)) -Itests/host -o $$@ $$< $(call hostobjs,$(1),$(HOST_SRCS)) -lcmocka -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call host_rules,$(a))))

# test_ownpaging: a kernel with its own paging, so mm/ WITHOUT mm/vmm.c (nor mm/zswap.c,
# which compresses behind its entries; the test
# implements the glue's kernel pages itself); the debug twin is in mk/debug.mk.
OWNPAGING_SRCS := $(filter-out mm/vmm.c mm/vmm_stats.c mm/zswap.c mm/zswap_window.c mm/zswap_stats.c,$(HOST_SRCS))
define ownpaging_rule
$(BUILD)/host/$(1)$(2)/test_ownpaging: tests/host/test_ownpaging.c $(call hostobjs,$(1)$(2),$(OWNPAGING_SRCS)) $(HEADERS) $(wildcard host/*.h tests/host/*.h)
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@ (no mm/vmm.c)"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(HOST_CFLAGS) $$(HOST_NOASAN_$(1)) $(3) -Itests/host -o $$@ $$< $(call hostobjs,$(1)$(2),$(OWNPAGING_SRCS)) -lcmocka -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call ownpaging_rule,$(a),,)))

HOST_BINS := $(foreach a,$(HOST_ARCHES),$(addprefix $(BUILD)/host/$(a)/,$(HOST_TESTS)))

test-host: $(HOST_BINS)
	@tools/run-host-tests.sh $(HOST_BINS)

# ------------------------------------------------------------------ shim ----
# LD_PRELOAD=build/host/libkmalloc.so: our heap as a process's malloc.  The real
# mm/ sources with host/shim_glue.c (not host/glue.c; the two share the lock and
# the page tables in host/glue_common.c) and host/shim.c; x86_64, optimised, no
# sanitizers (they would bring their own malloc); only the malloc API is exported.
SHIM_SRCS   := $(MM_SRCS) host/shim_glue.c host/glue_common.c host/shim.c
SHIM_CFLAGS := -m64 -std=c11 -O2 -g -fPIC -fvisibility=hidden -fno-builtin -Wall -Wextra -Werror \
               -Wno-unused-parameter -DMM_HOSTED -DHOST_SHIM -D_GNU_SOURCE -Iinclude -Imm -Ihost $(DEBUG_CFLAGS)
$(BUILD)/host/libkmalloc.so: $(SHIM_SRCS) $(HEADERS) host/shim.h host/glue_common.h
	@mkdir -p $(dir $@)
	@echo "  SHIM    $@"
	@$(CLANG) $(SHIM_CFLAGS) -shared -Wl,--no-undefined -o $@ $(SHIM_SRCS) -lpthread

# A plain program (no mm/ inside): threads and fork against whatever malloc it gets
# (-fno-builtin: every malloc call really happens, none is folded away).
$(BUILD)/shim/threads: tests/shim/threads.c tests/rng.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CLANG) -m64 -std=c11 -O2 -g -fno-builtin -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< -lpthread

# Real programs (python3, sqlite3, gcc, the thread test) plain and under the shim.
test-shim: $(BUILD)/host/libkmalloc.so $(BUILD)/shim/threads
	@tools/shim-check.sh $(BUILD)/host/libkmalloc.so

test-kernel: $(BUILD)/kernel-test.elf
	@tools/run-kernel-tests.sh "$(QEMU_BASE)" $<

test-boot: $(BUILD)/kernel.elf $(BUILD)/kernel-test.elf $(BUILD)/kernel-test-debug.elf
	@tools/boot-check.sh "$(QEMU_BASE)" $<

test-iso: $(ISOS) $(BUILD)/kernel-test.elf
	@tools/iso-check.sh "$(QEMU_BASE)" $(BUILD)/kernel-test.iso $(BUILD)/kernel.iso

# Every suite runs even if an earlier one failed; the closing line adds them up.
# Suites: each test-<name> target leaves build/results/<name>.  A fragment in
# mk/ adds its own suite with "TEST_SUITES += name".
TEST_SUITES := host kernel boot iso shim
-include $(sort $(wildcard mk/*.mk))

test: deps format-check
	@rm -rf $(BUILD)/results
	@st=0; \
	for s in $(TEST_SUITES); do $(MAKE) --no-print-directory test-$$s || st=1; done; \
	tools/total.sh $(TEST_SUITES) || st=1; \
	exit $$st

# ----------------------------------------------------------------- bench ----
# mm/string.c is compiled as the kernel compiles it (i386, no SSE/MMX), so the
# figures are the kernel's; the benchmark driver itself is ordinary -O2 code.
BENCH_CFLAGS := -m32 -std=c11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Iinclude -Imm -Ihost
$(BUILD)/bench/string_bench: bench/string_bench.c bench/bench.h mm/string.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CLANG) $(BENCH_CFLAGS) -fno-builtin -DMM_HOSTED -mno-sse -mno-mmx -c mm/string.c -o $@-string.o
	@$(CLANG) $(BENCH_CFLAGS) -fno-builtin -o $@ $< $@-string.o

# The heap's placement on the same traces: ours (TLSF good fit, O(1)) against an
# exhaustive best-fit scan and first fit of one free list.  Those two are not
# product code: bench/frag_fit.c replaces mm/heap_fit.c and mm/heap_class.c in their build.
FRAG_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -fno-builtin -DMM_HOSTED -D_GNU_SOURCE -Iinclude -Imm -Ihost
FRAG_SRCS   := $(filter-out mm/heap_fit.c mm/heap_class.c,$(HOST_SRCS)) bench/frag_fit.c
$(BUILD)/bench/frag_best: bench/frag_bench.c $(HOST_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CLANG) $(FRAG_CFLAGS) -o $@ $< $(HOST_SRCS) -lpthread
$(BUILD)/bench/frag_first: bench/frag_bench.c $(FRAG_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CLANG) $(FRAG_CFLAGS) -DHEAP_FIRST_FIT -o $@ $< $(FRAG_SRCS) -lpthread
$(BUILD)/bench/frag_bestscan: bench/frag_bench.c $(FRAG_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CLANG) $(FRAG_CFLAGS) -DHEAP_BEST_FIT_SCAN -o $@ $< $(FRAG_SRCS) -lpthread

$(BUILD)/bench/alloc_bench: bench/alloc_bench.c bench/bench.h $(HOST_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CLANG) $(FRAG_CFLAGS) -o $@ $< $(HOST_SRCS) -lpthread

bench: $(BUILD)/bench/string_bench $(BUILD)/bench/frag_best $(BUILD)/bench/frag_first \
       $(BUILD)/bench/frag_bestscan $(BUILD)/bench/alloc_bench $(BUILD)/host/libkmalloc.so \
       $(BUILD)/bench/thread_bench $(BUILD)/bench/insn_bench $(BUILD)/bench/libkmalloc-dwarf4.so
	@tools/deps.sh bench
	@if CLANG=$(CLANG) BUILD=$(BUILD) tools/host-exec.sh --i386-native; then \
	    $(BUILD)/bench/string_bench | tee $(BUILD)/bench/string_bench.txt; \
	else echo "memset & co.: skipped, this machine cannot run i386 programs (string_bench is the kernel's"; \
	    echo "  i386 code); tools/host-exec.sh $(BUILD)/bench/string_bench runs it under qemu-i386, emulated timings"; fi
	@echo
	@echo "heap fragmentation (peak footprint / peak live), same traces, one run:"
	@$(BUILD)/bench/frag_best >$(BUILD)/bench/frag.txt && $(BUILD)/bench/frag_bestscan >>$(BUILD)/bench/frag.txt && \
	    $(BUILD)/bench/frag_first >>$(BUILD)/bench/frag.txt
	@cat $(BUILD)/bench/frag.txt
	@tools/frag-ratio.sh $(BUILD)/bench/frag.txt
	@echo
	@echo "our heap against glibc, jemalloc, mimalloc, tcmalloc (same workloads, one run):"
	@tools/alloc-bench.sh $(BUILD)/bench/alloc_bench
	@tools/plot-bench.sh $(BUILD)/bench/alloc.csv $(BUILD)/bench/alloc.svg
	@echo
	@echo "whole programs, each under its allocator's LD_PRELOAD (best of 3):"
	@tools/program-bench.sh $(BUILD)/host/libkmalloc.so
	@echo
	@echo "threads: the same program under each allocator's LD_PRELOAD, ours the shim (best of 3 rounds):"
	@tools/thread-bench.sh $(BUILD)/bench/thread_bench $(BUILD)/host/libkmalloc.so
	@echo
	@echo "instructions per call (callgrind, one thread, the same program under each allocator):"
	@tools/insn-bench.sh $(BUILD)/bench/insn_bench $(BUILD)/bench/libkmalloc-dwarf4.so

# ------------------------------------------------------------ formatting ----
FORMAT_FILES := $(shell find include mm arch kernel host tests bench -name '*.[ch]' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run -Werror $(FORMAT_FILES) && echo "format-check: $(words $(FORMAT_FILES)) files formatted"

deps:
	@tools/deps.sh

clean:
	rm -rf $(BUILD)
