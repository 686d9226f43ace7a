# ------------------------------------------------------------------ tsan ----
# ThreadSanitizer over the real mm/ sources: threads stand in for CPUs (the host
# glue's lock is a pthread mutex, its CPU ids thread-local and handed out under a
# mutex, so TSan sees every synchronisation there is).  x86_64, clang
# -fsanitize=thread (no ASan: the two do not mix), the host glue, and the test
# files that run mm/ on several threads at once: tests/host/test_smp.c,
# tests/host/test_lock.c, tests/host/test_lock_split.c (the VMM's lock beside the heap's),
# tests/host/test_pmm_pcp.c (the PMM's per-CPU lists), tests/host/test_zswap_transit.c
# (zswap's codec with mm/'s lock let go: faults, reclaim and vfree on one page at once),
# tests/host/test_attack_fence.c and tests/host/test_blockcache.c (two threads freeing one
# block at once: the block map read without the lock).
# (tests/host/test_zswap.c is not here: its readers share pages that another
# thread's fault mapped, ordered by the simulated MMU alone, which ThreadSanitizer
# cannot see, so it reports the mapping's mmap against their reads.)
#
#   make test-tsan    the suite "tsan" of make test: each program built and run;
#                     any ThreadSanitizer report (a data race, a lock misuse) fails
#                     it, as does a failed case (tools/tsan-check.sh; results in
#                     build/results/tsan)
.PHONY: test-tsan
TSAN_TESTS  := test_smp test_lock test_lock_split test_pmm_pcp test_zswap_transit test_attack_fence \
               test_blockcache
TSAN_CFLAGS := -m64 $(filter-out -fsanitize=% -fno-sanitize-recover=all,$(HOST_CFLAGS)) \
               -fsanitize=thread
TSAN_BINS   := $(addprefix $(BUILD)/tsan/,$(TSAN_TESTS))

HOBJ_FLAGS_tsan = $(TSAN_CFLAGS)
$(eval $(call hostobj_rules,tsan))
$(BUILD)/tsan/%: tests/host/%.c $(call hostobjs,tsan,$(HOST_SRCS)) $(HEADERS) $(wildcard host/*.h tests/host/*.h)
	@mkdir -p $(dir $@)
	@echo "  TSANCC  $@"
	@$(CLANG) $(TSAN_CFLAGS) -Itests/host -o $@ $< $(call hostobjs,tsan,$(HOST_SRCS)) -lcmocka -lpthread

TEST_SUITES += tsan
test-tsan: $(TSAN_BINS)
	@tools/tsan-check.sh $(TSAN_BINS)
