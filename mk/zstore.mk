# ---------------------------------------------------------------- zstore ----
# The compressed page store (mm/zstore.c, issue 14 item 2).  Its tests are the
# pattern rules' (tests/host/test_zstore.c, tests/kernel/test_zstore.c).
#   make bench-zstore   (part of make bench) bench/zstore_bench.c: the store's space
#                       overhead over the compressed bytes on the LZ4 corpus (target
#                       under 10%), its view and the heap's, before and after churn;
#                       the time of a put and a get.  i386 (the kernel's ABI, under
#                       tools/host-exec.sh) and x86_64.
ZSTORE_BENCH_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -fno-builtin \
                       -DMM_HOSTED -D_GNU_SOURCE -Iinclude -Imm -Ihost
define zstore_bench_rule
$(BUILD)/bench/zstore_bench-$(1): bench/zstore_bench.c bench/bench.h tests/host/lz4_corpus.h \
                                  $(HOST_SRCS) $(HEADERS)
	@mkdir -p $$(dir $$@)
	@echo "  BENCH   $$@"
	@$(CLANG) $(HOST_FLAGS_$(1)) $(ZSTORE_BENCH_CFLAGS) -o $$@ $$< $(HOST_SRCS) -lpthread
endef
$(foreach a,$(HOST_ARCHES),$(eval $(call zstore_bench_rule,$(a))))

.PHONY: bench-zstore
bench-zstore: $(foreach a,$(HOST_ARCHES),$(BUILD)/bench/zstore_bench-$(a)) $(BUILD)/kernel.elf
	@for a in $(HOST_ARCHES); do \
	    CLANG=$(CLANG) BUILD=$(BUILD) tools/host-exec.sh $(BUILD)/bench/zstore_bench-$$a || exit 1; \
	done | tee $(BUILD)/bench/zstore.txt
bench: bench-zstore
