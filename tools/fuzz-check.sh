#!/bin/sh
# The fuzz target's checks (mk/fuzz.mk).
#   fuzz-check.sh test     CLANG "CFLAGS" "HOST_SRCS"   the suite "fuzz" of make test:
#       every seed of tests/fuzz/corpus replayed (one check each), FUZZ_TEST_TIME
#       seconds of fuzzing from the seeds (one check), and the planted bug of
#       build/fuzz/fuzz_heap_selftest found (one check); totals in build/results/fuzz
#   fuzz-check.sh selftest CLANG "CFLAGS" "HOST_SRCS"   make fuzz-selftest: the planted
#       bug, from the seeds and from an empty corpus (SCRATCH_TIME s, default 300), then
#       mutants: copies of a heap file (mm/kmalloc.c, mm/heap_alloc.c, mm/heap_block.c) with one bug each
#       (the list at the end), each built
#       into the fuzz target, which must find it within MUTANT_TIME s (default 60)
# A bug counts as found only if the fuzzer stops with the message expected of it.
mode=$1
clang=$2
cflags=$3
srcs=$4
seeds=tests/fuzz/corpus
out=build/fuzz
. tools/check-lib.sh
. tools/fuzz-lib.sh
stop='^fuzz_heap: step'

# what the shadow says when a block's bytes changed (the planted bug)
changed='slot [0-9]+: block .* byte [0-9]+ is 0x'

mkdir -p "$out" build/results
if [ "$mode" = test ]; then
    echo "== fuzz: the seed corpus replayed"
    replay_seeds "$out/fuzz_heap" "$seeds" "$out/replay-" "$stop"

    time=${FUZZ_TEST_TIME:-15}
    echo "== fuzz: $time s of fuzzing from the seeds"
    fuzz_for "$out/fuzz_heap" "$time" 4096 "$out/test" "$stop" "$seeds"

    echo "== fuzz: a planted bug must be found"
    fuzz_finds "$out/fuzz_heap_selftest" 60 4096 "$out/selftest" "planted bug (FUZZ_SELFTEST)" \
        "$changed" "$stop" "$seeds"

    write_results fuzz
    echo "fuzz: $passed passed, $failed failed"
    exit $status
fi

# ---- selftest: the planted bug, then mutants of the heap's files ----
fuzz_finds "$out/fuzz_heap_selftest" 60 4096 "$out/selftest" "planted bug (FUZZ_SELFTEST)" \
    "$changed" "$stop" "$seeds"
fuzz_finds "$out/fuzz_heap_selftest" "${SCRATCH_TIME:-300}" 4096 "$out/selftest-scratch" \
    "planted bug (FUZZ_SELFTEST), from an empty corpus" "$changed" "$stop"

# name#what the fuzzer must say (grep -E)#file#sed expression on that file (must change it)
time=${MUTANT_TIME:-60}
i=0
while IFS='#' read -r name says file expr; do
    i=$((i + 1))
    dir=$out/mutant-$i
    mkdir -p "$dir"
    copy=$dir/$(basename "$file")
    sed "$expr" "$file" >"$copy"
    if cmp -s "$file" "$copy"; then
        not_ok "mutant $i ($name): the edit no longer applies to $file: update $0"
        continue
    fi
    # shellcheck disable=SC2086
    if ! $clang $cflags -o "$dir/fuzz_heap" tests/fuzz/fuzz_heap.c \
        $(echo $srcs | sed "s#$file#$copy#") -lpthread; then
        not_ok "mutant $i ($name) does not build"
        continue
    fi
    fuzz_finds "$dir/fuzz_heap" "$time" 4096 "$dir" "mutant $i ($name)" "$says" "$stop" "$seeds"
done <<'EOF'
krealloc copies half the block#krealloc.*byte [0-9]+ is#mm/kmalloc.c#s/memcpy(result, ptr, b->size);/memcpy(result, ptr, b->size \/ 2);/
kcalloc leaves the last byte dirty#kcalloc: byte [0-9]+ of#mm/kmalloc.c#s/memset(p, 0, count \* size);/memset(p, 0, count * size - 1);/
kmalloc_usable_size claims 8 bytes more#heap_used|usable size|byte [0-9]+ is|heap_check#mm/kmalloc.c#s/return b ? b->size : 0;/return b ? b->size + 8 : 0;/
a split puts the rest 8 bytes early#usable size|byte [0-9]+ is|heap_check|heap_used#mm/heap_block.c#s/(uintptr_t)b + HDR + need);/(uintptr_t)b + HDR + need - 8);/
kmalloc_aligned leaves a front too small to be a block#kmalloc_aligned.*(heap_check|byte)#mm/heap_alloc.c#s/while (a - p < HDR + MIN_PAYLOAD)/while (a - p < HDR)/
EOF
echo "fuzz-selftest: $passed of $((passed + failed)) planted bugs found"
exit $status
