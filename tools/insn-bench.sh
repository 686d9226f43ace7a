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
. tools/bench-lib.sh
have_callgrind insn-bench || exit 0

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
awk -F, '$1 == "ours" { printf "target (issue 12), ours %s: %.1f / %.1f per malloc / free: %s\n", $2, $5, $6,
    $5 <= 60 && $6 <= 60 ? "met" : sprintf("missed (%.1fx / %.1fx the 60 allowed)", $5 / 60, $6 / 60) }' "$csv"

# Callgrind names a function by file and name, and code inlined from a header
# (mm/heap_internal.h, mm/lock.h) becomes a function of that header's name:
# both lists below merge the entries of one function name.
#
# own FILE PAIRS: each function's own instructions per malloc + free pair, the top ones
own() {
    callgrind_annotate --inclusive=no --threshold=100 --auto=no "$1" 2>/dev/null |
        awk -v pairs="$2" '/^ *[0-9,]+ +\( *[0-9.]+%\)  / && !/PROGRAM TOTALS/ {
            ir = $1; gsub(/,/, "", ir)
            fn = $0; sub(/^ *[0-9,]+ +\( *[0-9.]+%\)  /, "", fn); sub(/ \[.*$/, "", fn)
            sub(/^.*:/, "", fn); if (fn ~ /^bench_/) next
            own[fn] += ir; all += ir }
        END { for (f in own) printf "%d %s\n", own[f], f }' | sort -rn | head -14 |
        awk -v pairs="$2" '{ printf "  %7.1f  %s\n", $1 / pairs, $2 }'
}

# tree FILE PAIRS: the calls under bench_malloc and bench_free, inclusive
# instructions per pair and calls per pair, six levels, branches >= 4 per pair.
# Callgrind keeps one set of callees per function, whoever called it: below a
# function with several callers (mm_lock under malloc and under free), its
# callees are shared out in proportion to its instructions from each caller
# (an estimate; the line of the function itself is exact).  Calls per pair
# include the calls made while not counting (the warm-up's: 0.5% in small).
tree() {
    callgrind_annotate --tree=calling --inclusive=yes --threshold=100 --auto=no "$1" 2>/dev/null |
        awk -v pairs="$2" '
        function name(s) { sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +[*>] +/, "", s); sub(/ [\[(].*$/, "", s)
                           sub(/^.*:/, "", s); return s }
        / \* / { cur = name($0); next }
        / > / && cur != "" { c = name($0); ir = $1; gsub(/,/, "", ir)
                   n = $0; sub(/^.*\(/, "", n); sub(/x\).*$/, "", n); gsub(/,/, "", n)
                   if (!((cur, c) in cost)) kids[cur] = kids[cur] " " c
                   cost[cur, c] += ir; calls[cur, c] += n; into[c] += ir }
        function show(f, depth, seen, share,   k, m, i, j, t, order, g) {
            m = split(kids[f], k, " ")
            for (i = 1; i <= m; i++) order[i] = k[i]
            for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
                if (cost[f, order[j]] > cost[f, order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
            for (i = 1; i <= m; i++) {
                g = order[i]
                if (share * cost[f, g] / pairs < 4) continue
                printf "  %*s%-*s %7.1f  (%.2f calls)\n", 2 * depth, "", 46 - 2 * depth, g,
                       share * cost[f, g] / pairs, share * calls[f, g] / pairs
                if (depth < 5 && !index(seen, " " g " "))
                    show(g, depth + 1, seen " " g " ", share * cost[f, g] / into[g])
            }
        }
        END { show("bench_malloc", 0, " ", 1); show("bench_free", 0, " ", 1) }'
}

for prog in small cfrac; do
    cg=$dir/callgrind.ours.$prog
    [ -f "$cg" ] || continue
    pairs=$(awk '/^calls/ { print $2 }' "$cg.out")
    echo
    echo "where ours spends them ($prog), instructions per malloc + free pair:"
    echo " each function's own instructions, the top ones:"
    own "$cg" "$pairs"
    echo " the calls under malloc and free (with what they call; calls per pair):"
    tree "$cg" "$pairs"
done
