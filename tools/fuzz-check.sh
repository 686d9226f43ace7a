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
passed=0
failed=0
status=0

ok() {
    echo "  ok: $1"
    passed=$((passed + 1))
}

not_ok() {
    echo "  FAILED: $1"
    failed=$((failed + 1))
    status=1
}

# found BINARY SECONDS LOG WHAT PATTERN [SEEDS]: the fuzzer, started from SEEDS (default:
# the seed corpus; "" for none), must stop within SECONDS on a failed check whose message
# matches PATTERN (grep -E): the planted bug, not some other one.
found() {
    rm -rf "$out/found-corpus" && mkdir -p "$out/found-corpus"
    start=$(date +%s)
    # shellcheck disable=SC2086
    timeout $(($2 + 30)) "$1" -max_total_time="$2" -max_len=4096 -timeout=20 -seed=1 \
        -artifact_prefix="$out/found-" "$out/found-corpus" ${6-$seeds} >"$3" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    why=$(grep -m1 '^fuzz_heap: step' "$3" | cut -c1-150)
    if [ $rc -ne 0 ] && echo "$why" | grep -qE "$5"; then
        ok "$4: found in $took s ($why)"
    elif [ -n "$why" ]; then
        not_ok "$4: the fuzzer stopped on something else: $why ($3)"
    else
        not_ok "$4: not found in $2 s (exit status $rc, $3)"
    fi
}
# what the shadow says when a block's bytes changed (the planted bug)
changed='slot [0-9]+: block .* byte [0-9]+ is 0x'


mkdir -p "$out" build/results
if [ "$mode" = test ]; then
    echo "== fuzz: the seed corpus replayed"
    for f in "$seeds"/*; do
        name=$(basename "$f")
        if "$out/fuzz_heap" "$f" >"$out/replay-$name.log" 2>&1; then
            ok "seed $name"
        else
            not_ok "seed $name:"
            grep -A3 '^fuzz_heap: step\|ERROR' "$out/replay-$name.log" | head -n 8
        fi
    done

    time=${FUZZ_TEST_TIME:-15}
    echo "== fuzz: $time s of fuzzing from the seeds"
    rm -rf "$out/test-corpus" && mkdir -p "$out/test-corpus"
    timeout $((time + 60)) "$out/fuzz_heap" -max_total_time="$time" -max_len=4096 -timeout=20 \
        -artifact_prefix="$out/" -print_final_stats=1 "$out/test-corpus" "$seeds" \
        >"$out/test-run.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/test-run.log")
    cov=$(grep -o 'cov: [0-9]*' "$out/test-run.log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        ok "$time s of fuzzing: ${runs:-?} inputs, $cov, no crash"
    else
        not_ok "fuzzing crashed (exit status $rc); the input is in $out/crash-*:"
        grep -A6 '^fuzz_heap: step\|ERROR:' "$out/test-run.log" | head -n 12
    fi

    echo "== fuzz: a planted bug must be found"
    found "$out/fuzz_heap_selftest" 60 "$out/selftest.log" "planted bug (FUZZ_SELFTEST)" "$changed"

    echo "$passed $failed" >build/results/fuzz
    echo "fuzz: $passed passed, $failed failed"
    exit $status
fi

# ---- selftest: the planted bug, then mutants of the heap's files ----
found "$out/fuzz_heap_selftest" 60 "$out/selftest.log" "planted bug (FUZZ_SELFTEST)" "$changed"
found "$out/fuzz_heap_selftest" "${SCRATCH_TIME:-300}" "$out/selftest-scratch.log" \
    "planted bug (FUZZ_SELFTEST), from an empty corpus" "$changed" ""

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
    found "$dir/fuzz_heap" "$time" "$dir/fuzz.log" "mutant $i ($name)" "$says"
done <<'EOF'
krealloc copies half the block#krealloc.*byte [0-9]+ is#mm/kmalloc.c#s/memcpy(result, ptr, b->size);/memcpy(result, ptr, b->size \/ 2);/
kcalloc leaves the last byte dirty#kcalloc: byte [0-9]+ of#mm/kmalloc.c#s/memset(p, 0, count \* size);/memset(p, 0, count * size - 1);/
kmalloc_usable_size claims 8 bytes more#heap_used|usable size|byte [0-9]+ is|heap_check#mm/kmalloc.c#s/return b ? b->size : 0;/return b ? b->size + 8 : 0;/
a split puts the rest 8 bytes early#usable size|byte [0-9]+ is|heap_check|heap_used#mm/heap_block.c#s/(uintptr_t)b + HDR + need);/(uintptr_t)b + HDR + need - 8);/
kmalloc_aligned leaves a front too small to be a block#kmalloc_aligned.*(heap_check|byte)#mm/heap_alloc.c#s/while (a - p < HDR + MIN_PAYLOAD)/while (a - p < HDR)/
EOF
echo "fuzz-selftest: $passed of $((passed + failed)) planted bugs found"
exit $status
