#!/bin/sh
# The suite "lz4" of make test (mk/lz4.mk): the libFuzzer target of the LZ4 codec.
#   1. every seed of tests/fuzz/corpus-lz4 replayed (one check each)
#   2. LZ4_FUZZ_TIME seconds (default 15) of fuzzing from the seeds (one check)
#   3. mutants: a copy of mm/lz4.c with one bug planted, built into the target,
#      which must stop on it within MUTANT_TIME seconds (default 60) with the
#      message expected of it (one check each): the fuzzer can find such bugs
# usage: lz4-fuzz-check.sh CLANG "FUZZ_CFLAGS"; totals in build/results/lz4
clang=$1
cflags=$2
seeds=tests/fuzz/corpus-lz4
out=build/fuzz
bin=$out/fuzz_lz4
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
mkdir -p "$out" build/results

echo "== lz4: the seed corpus replayed"
for f in "$seeds"/*; do
    name=$(basename "$f")
    if "$bin" "$f" >"$out/lz4-replay-$name.log" 2>&1; then
        ok "seed $name"
    else
        not_ok "seed $name:"
        grep -m3 '^fuzz_lz4:\|ERROR' "$out/lz4-replay-$name.log"
    fi
done

time=${LZ4_FUZZ_TIME:-15}
echo "== lz4: $time s of fuzzing from the seeds"
rm -rf "$out/lz4-test-corpus" && mkdir -p "$out/lz4-test-corpus"
timeout $((time + 60)) "$bin" -max_total_time="$time" -max_len=8200 -timeout=20 \
    -artifact_prefix="$out/lz4-" -print_final_stats=1 "$out/lz4-test-corpus" "$seeds" \
    >"$out/lz4-test-run.log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/lz4-test-run.log")
cov=$(grep -o 'cov: [0-9]*' "$out/lz4-test-run.log" | tail -n 1)
if [ $rc -eq 0 ]; then
    ok "$time s of fuzzing: ${runs:-?} inputs, $cov, no crash"
else
    not_ok "fuzzing crashed (exit status $rc); the input is in $out/lz4-crash-*:"
    grep -m6 -A4 '^fuzz_lz4:\|ERROR:' "$out/lz4-test-run.log"
fi

echo "== lz4: planted bugs must be found"
# name#what the fuzzer must say (grep -E)#sed expression on mm/lz4.c (must change it)
mtime=${MUTANT_TIME:-60}
i=0
while IFS='#' read -r name says expr; do
    i=$((i + 1))
    dir=$out/lz4-mutant-$i
    rm -rf "$dir" && mkdir -p "$dir/corpus"
    sed "$expr" mm/lz4.c >"$dir/lz4.c"
    if cmp -s mm/lz4.c "$dir/lz4.c"; then
        not_ok "mutant $i ($name): the edit no longer applies to mm/lz4.c: update $0"
        continue
    fi
    # shellcheck disable=SC2086
    if ! $clang $cflags -Imm -o "$dir/fuzz_lz4" tests/fuzz/fuzz_lz4.c "$dir/lz4.c" mm/string.c \
        -llz4 >"$dir/build.log" 2>&1; then
        not_ok "mutant $i ($name) does not build ($dir/build.log)"
        continue
    fi
    start=$(date +%s)
    timeout $((mtime + 30)) "$dir/fuzz_lz4" -max_total_time="$mtime" -max_len=8200 -timeout=20 \
        -seed=1 -artifact_prefix="$dir/" "$dir/corpus" "$seeds" >"$dir/fuzz.log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    why=$(grep -m1 -E '^fuzz_lz4:|^SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$dir/fuzz.log" | cut -c1-140)
    if [ $rc -ne 0 ] && echo "$why" | grep -qE "$says"; then
        ok "mutant $i ($name): found in $took s ($why)"
    elif [ -n "$why" ]; then
        not_ok "mutant $i ($name): the fuzzer stopped on something else: $why ($dir/fuzz.log)"
    else
        not_ok "mutant $i ($name): not found in $mtime s (exit status $rc, $dir/fuzz.log)"
    fi
done <<'MUTANTS'
offsets up to 8 bytes before the output accepted#use-after-poison|heap-buffer-overflow|liblz4 decodes#s/if (off - 1 >= (size_t)(op - ostart))/if (off - 1 >= (size_t)(op - ostart) + 8)/
a literal run one byte past the output accepted#use-after-poison|heap-buffer-overflow|guard#s/if (lit > (size_t)(oend - op))/if (lit > (size_t)(oend - op) + 1)/
the compressor lets a match end 4 bytes from the end#liblz4 decodes#s/mlimit = end - LAST_LITERALS;/mlimit = end - LAST_LITERALS + 1;/
MUTANTS

echo "$passed $failed" >build/results/lz4
echo "lz4: $passed passed, $failed failed"
exit $status
