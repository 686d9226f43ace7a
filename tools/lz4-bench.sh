#!/bin/sh
# make bench-lz4 (part of make bench): build/bench/lz4_bench's ratios and wall-clock
# speeds, then callgrind's instruction counts for one pass of each codec over the
# same pages (--toggle-collect=insn_pass: only the codec's work is counted), which
# are the repeatable measure on a shared machine.  Files: build/bench/lz4.txt,
# build/bench/callgrind.lz4.*.
bench=${1:-build/bench/lz4_bench}
. tools/bench-lib.sh
bench_figures lz4 "LZ4 codec against liblz4 (issue 14), 4 KB pages, one run:" "$bench"
have_callgrind lz4-bench || exit 0
echo "instructions (callgrind, one pass over every page; per 4 KB page); both clear a 16 KB"
echo "table per page, liblz4 with glibc's AVX2 memset (many instructions), ours with rep stos"
echo "(few): the second figure leaves the clearing (any memset) out:"
for op in compress decompress; do
    line=$(printf '  %-10s' "$op")
    for who in ours liblz4; do
        cg=$dir/callgrind.lz4.$who-$op
        if ! ir=$(pass_insns "$cg" "$bench" --insn "$who-$op"); then
            echo "lz4-bench: $who $op failed under callgrind (see $cg.log)"
            exit 1
        fi
        pages=$(awk '/^pages/ { print $2 }' "$cg.out")
        clear=$(callgrind_annotate --inclusive=no "$cg" 2>/dev/null |
            awk '/^ *[0-9,]+ / && /memset|rep_store/ { gsub(/,/, "", $1); s += $1 } END { print s + 0 }')
        eval "ir_$who=\$((ir / pages)) core_$who=\$(((ir - clear) / pages))"
    done
    # shellcheck disable=SC2154
    echo "$line ours $ir_ours ($core_ours)  liblz4 $ir_liblz4 ($core_liblz4)  $(awk \
        -v a="$ir_ours" -v b="$ir_liblz4" -v c="$core_ours" -v d="$core_liblz4" 'BEGIN {
        r = b / a; q = d / c
        printf "ours/liblz4 %.2fx (%.2fx) speed (target >= 0.7x): %s", r, q,
            (r >= 0.7 && q >= 0.7 ? "met" : "MISSED") }')"
done
