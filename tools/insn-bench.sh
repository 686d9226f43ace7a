#!/bin/sh
# make bench, instructions: build/bench/insn_bench under callgrind, with each
# allocator as the process's malloc (glibc as is; jemalloc, mimalloc, tcmalloc
# and ours through LD_PRELOAD: ours is the shim built with DWARF 4 debug
# information, build/bench/libkmalloc-dwarf4.so, which valgrind 3.19 can
# read).  --toggle-collect counts only the instructions inside bench_malloc and
# bench_free; their own (self) instructions are taken off, the rest divided by
# the calls the program reports: instructions per malloc and per free, the
# same on every run.  Then where ours spends them: its top functions.
# Files: build/bench/callgrind.ALLOCATOR.PROGRAM, build/bench/insn.csv.
bench=${1:-build/bench/insn_bench}
shim=${2:-build/bench/libkmalloc-dwarf4.so}
shim=$(cd "$(dirname "$shim")" && pwd)/$(basename "$shim")
lib=/usr/lib/x86_64-linux-gnu
dir=build/bench
csv=$dir/insn.csv
if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
    echo "insn-bench: valgrind (callgrind, callgrind_annotate) missing (tools/deps.sh bench installs it): skipped"
    exit 0
fi

# incl FILE FUNCTION / self FILE FUNCTION: the function's Ir in a callgrind file
ir() {
    callgrind_annotate $1 --threshold=100 "$2" 2>/dev/null |
        awk -v f=":$3 " '/^ *[0-9,]+ / && index($0, f) { gsub(/,/, "", $1); print $1; exit }'
}

echo "allocator,program,mallocs,frees,insn_per_malloc,insn_per_free" >"$csv"
printf '%-9s %-8s %9s %9s   %s\n' allocator program mallocs frees "instructions per malloc / per free"
for prog in small cfrac; do
    for entry in glibc: jemalloc:$lib/libjemalloc.so.2 mimalloc:$lib/libmimalloc.so.2 \
        tcmalloc:$lib/libtcmalloc_minimal.so.4 ours:$shim; do
        name=${entry%%:*}
        so=${entry#*:}
        if [ -n "$so" ] && [ ! -f "$so" ]; then
            echo "insn-bench: $so missing: $name skipped"
            continue
        fi
        cg=$dir/callgrind.$name.$prog
        if ! LD_PRELOAD=$so valgrind --tool=callgrind --callgrind-out-file="$cg" \
            --toggle-collect=bench_malloc --toggle-collect=bench_free "$bench" "$prog" \
            >"$cg.out" 2>"$cg.log"; then
            echo "insn-bench: $name $prog failed under callgrind (see $cg.log)"
            continue
        fi
        set -- $(awk '/^calls/ { print $2, $3 }' "$cg.out")
        mallocs=$1 frees=$2
        mi=$(ir --inclusive=yes "$cg" bench_malloc) ms=$(ir --inclusive=no "$cg" bench_malloc)
        fi=$(ir --inclusive=yes "$cg" bench_free) fs=$(ir --inclusive=no "$cg" bench_free)
        if [ -z "$mallocs" ] || [ -z "$mi" ] || [ -z "$ms" ] || [ -z "$fi" ] || [ -z "$fs" ]; then
            echo "insn-bench: $name $prog: no counts in $cg"
            continue
        fi
        awk -v a="$name" -v p="$prog" -v m="$mallocs" -v f="$frees" -v mi="$mi" -v ms="$ms" \
            -v fi="$fi" -v fs="$fs" -v csv="$csv" 'BEGIN {
            pm = (mi - ms) / m; pf = (fi - fs) / f
            printf "%-9s %-8s %9d %9d   %7.1f / %7.1f\n", a, p, m, f, pm, pf
            printf "%s,%s,%d,%d,%.1f,%.1f\n", a, p, m, f, pm, pf >> csv }'
    done
done
echo "(small: 200 000 frees and mallocs of 8-512 B, 1024 live; cfrac: a continued-fraction"
echo " factoriser on heap-allocated numbers. Target for ours (issue 12): <= 60 / 60.)"

for prog in small cfrac; do
    cg=$dir/callgrind.ours.$prog
    [ -f "$cg" ] || continue
    calls=$(awk '/^calls/ { print $2 + $3 }' "$cg.out")
    echo
    echo "where ours spends them ($prog): self instructions per malloc-or-free call, top functions"
    callgrind_annotate --inclusive=no --threshold=100 "$cg" 2>/dev/null |
        awk -v calls="$calls" '/^ *[0-9,]+ +\( *[0-9.]+%\)  / && !/PROGRAM TOTALS/ {
            n++; if (n > 15) exit
            ir = $1; gsub(/,/, "", ir); pct = $2 $3; sub(/^\(/, "", pct); sub(/\)$/, "", pct)
            fn = $0; sub(/^ *[0-9,]+ +\( *[0-9.]+%\)  /, "", fn); sub(/ \[.*$/, "", fn)
            sub(/^.*\//, "", fn)
            printf "  %7.1f  %6s  %s\n", ir / calls, pct, fn }'
done
