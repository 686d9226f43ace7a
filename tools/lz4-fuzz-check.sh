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
. tools/check-lib.sh
. tools/fuzz-lib.sh
stop='^fuzz_lz4:|^SUMMARY: (Address|UndefinedBehavior)Sanitizer'
mkdir -p "$out" build/results

echo "== lz4: the seed corpus replayed"
replay_seeds "$bin" "$seeds" "$out/lz4-replay-" "$stop"

time=${LZ4_FUZZ_TIME:-15}
echo "== lz4: $time s of fuzzing from the seeds"
fuzz_for "$bin" "$time" 8200 "$out/lz4-test" "$stop" "$seeds"

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
    fuzz_finds "$dir/fuzz_lz4" "$mtime" 8200 "$dir" "mutant $i ($name)" "$says" "$stop" "$seeds"
done <<'MUTANTS'
offsets up to 8 bytes before the output accepted#use-after-poison|heap-buffer-overflow|liblz4 decodes#s/if (off - 1 >= (size_t)(op - ostart))/if (off - 1 >= (size_t)(op - ostart) + 8)/
a literal run one byte past the output accepted#use-after-poison|heap-buffer-overflow|guard#s/if (lit > (size_t)(oend - op))/if (lit > (size_t)(oend - op) + 1)/
the compressor lets a match end 4 bytes from the end#liblz4 decodes#s/mlimit = end - LAST_LITERALS;/mlimit = end - LAST_LITERALS + 1;/
MUTANTS

write_results lz4
echo "lz4: $passed passed, $failed failed"
exit $status
