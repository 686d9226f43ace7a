#!/bin/sh
# make bench, whole programs: the shim's real programs timed under each
# allocator's own LD_PRELOAD library (glibc as is, jemalloc, mimalloc,
# tcmalloc, ours = build/host/libkmalloc.so); best of 3 wall-clock runs, then
# one more for the peak RSS (tools/maxrss.py).  Writes build/bench/programs.csv.
shim=${1:-build/host/libkmalloc.so}
# absolute: the sqlite3 runs cd into a scratch directory (a relative LD_PRELOAD
# would be ignored there, and glibc timed in our place)
shim=$(cd "$(dirname "$shim")" && pwd)/$(basename "$shim")
lib=/usr/lib/x86_64-linux-gnu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
csv=build/bench/programs.csv
top=$(pwd)

run() { # run PROGRAM-NAME PRELOAD: prints the best of 3 times in seconds
    best=""
    for i in 1 2 3; do
        rm -f "$work/test.db" "$work/heap.o"
        t0=$(date +%s%N)
        case $1 in
        python3) LD_PRELOAD=$2 python3 "$top/tests/shim/workload.py" >/dev/null 2>&1 ;;
        sqlite3) (cd "$work" && LD_PRELOAD=$2 sqlite3 test.db <"$top/tests/shim/workload.sql" >/dev/null 2>&1) ;;
        gcc) LD_PRELOAD=$2 gcc -O2 -fno-builtin -DMM_HOSTED -I"$top/include" -I"$top/mm" -c \
                 "$top/mm/kmalloc.c" -o "$work/heap.o" >/dev/null 2>&1 ;;
        esac
        t=$(( ($(date +%s%N) - t0) / 1000000 ))
        [ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
    done
    echo "$best"
}

rss() { # rss PROGRAM-NAME PRELOAD: peak RSS in KB of one more run
    rm -f "$work/test.db" "$work/heap.o"
    case $1 in
    python3) LD_PRELOAD=$2 "$top/tools/maxrss.py" python3 "$top/tests/shim/workload.py" ;;
    sqlite3) (cd "$work" && LD_PRELOAD=$2 "$top/tools/maxrss.py" sh -c "sqlite3 test.db <'$top/tests/shim/workload.sql'") ;;
    gcc) LD_PRELOAD=$2 "$top/tools/maxrss.py" gcc -O2 -fno-builtin -DMM_HOSTED -I"$top/include" -I"$top/mm" -c \
             "$top/mm/kmalloc.c" -o "$work/heap.o" ;;
    esac
}

echo "program,allocator,ms,peak_rss_kb" >"$csv"
printf '%-8s %9s %9s %9s %9s %9s   %s\n' program glibc jemalloc mimalloc tcmalloc ours "ours / each (lower is faster)"
for prog in python3 sqlite3 gcc; do
    line=""
    for entry in glibc: jemalloc:$lib/libjemalloc.so.2 mimalloc:$lib/libmimalloc.so.2 \
        tcmalloc:$lib/libtcmalloc_minimal.so.4 ours:$shim; do
        name=${entry%%:*}
        so=${entry#*:}
        if [ -n "$so" ] && [ ! -f "$so" ]; then
            eval "t_$name=-"
            continue
        fi
        t=$(run "$prog" "$so")
        r=$(rss "$prog" "$so")
        eval "t_$name=$t"
        eval "r_$name=$r"
        echo "$prog,$name,$t,$r" >>"$csv"
    done
    ratios=$(awk -v o="$t_ours" -v g="$t_glibc" -v j="$t_jemalloc" -v m="$t_mimalloc" -v t="$t_tcmalloc" \
        'BEGIN { printf "glibc %.2fx  jemalloc %.2fx  mimalloc %.2fx  tcmalloc %.2fx", o/g, o/j, o/m, o/t }')
    printf '%-8s %7sms %7sms %7sms %7sms %7sms   %s\n' "$prog" "$t_glibc" "$t_jemalloc" "$t_mimalloc" \
        "$t_tcmalloc" "$t_ours" "$ratios"
    rss_lines="$rss_lines$(printf '%-8s %7sKB %7sKB %7sKB %7sKB %7sKB   %s' "$prog" "$r_glibc" "$r_jemalloc" \
        "$r_mimalloc" "$r_tcmalloc" "$r_ours" "$(awk -v o="$r_ours" -v g="$r_glibc" -v j="$r_jemalloc" \
        -v m="$r_mimalloc" -v t="$r_tcmalloc" 'BEGIN { printf "glibc %.2fx  jemalloc %.2fx  mimalloc %.2fx  tcmalloc %.2fx", o/g, o/j, o/m, o/t }')")
"
done
echo
echo "peak RSS of the same programs (one more run each; ours / each: lower is leaner):"
printf '%s' "$rss_lines"
