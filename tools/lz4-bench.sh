#!/bin/sh
# make bench-lz4 (part of make bench): build/bench/lz4_bench's ratios and wall-clock
# speeds, then callgrind's instruction counts for one pass of each codec over the
# same pages (--toggle-collect=insn_pass: only the codec's work is counted), which
# are the repeatable measure on a shared machine.  Files: build/bench/lz4.txt,
# build/bench/callgrind.lz4.*.
bench=${1:-build/bench/lz4_bench}
dir=build/bench
mkdir -p "$dir"
echo "LZ4 codec against liblz4 (issue 14), 4 KB pages, one run:"
"$bench" | tee "$dir/lz4.txt" || exit 1
if ! command -v valgrind >/dev/null; then
    echo "lz4-bench: valgrind missing (tools/deps.sh bench installs it): instruction counts skipped"
    exit 0
fi
echo "instructions (callgrind, one pass over every page; per 4 KB page):"
for op in compress decompress; do
    line="  $op"
    for who in ours liblz4; do
        cg=$dir/callgrind.lz4.$who-$op
        if ! valgrind --tool=callgrind --callgrind-out-file="$cg" --toggle-collect=insn_pass \
            "$bench" --insn "$who-$op" >"$cg.out" 2>"$cg.log"; then
            echo "lz4-bench: $who $op failed under callgrind (see $cg.log)"
            exit 1
        fi
        pages=$(awk '/^pages/ { print $2 }' "$cg.out")
        ir=$(awk '/^totals:/ { print $2 }' "$cg")
        eval "ir_$who=$ir"
        line="$line  $who $(awk -v i="$ir" -v p="$pages" 'BEGIN { printf "%8.0f", i / p }')"
    done
    # shellcheck disable=SC2154
    echo "$line  ours/liblz4 $(awk -v a="$ir_ours" -v b="$ir_liblz4" 'BEGIN { r = b / a;
        printf "%.2fx speed (target >= 0.7x): %s", r, (r >= 0.7 ? "met" : "MISSED") }')"
done
