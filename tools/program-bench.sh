#!/bin/sh
# make bench, whole programs: the shim's real programs timed under each
# allocator's own LD_PRELOAD library (glibc as is, jemalloc, mimalloc,
# tcmalloc, ours = build/host/libkmalloc.so); best of 3 wall-clock runs.
# Writes build/bench/programs.csv.
shim=${1:-build/host/libkmalloc.so}
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
                 "$top/mm/heap.c" -o "$work/heap.o" >/dev/null 2>&1 ;;
        esac
        t=$(( ($(date +%s%N) - t0) / 1000000 ))
        [ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
    done
    echo "$best"
}

echo "program,allocator,ms" >"$csv"
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
        eval "t_$name=$t"
        echo "$prog,$name,$t" >>"$csv"
    done
    ratios=$(awk -v o="$t_ours" -v g="$t_glibc" -v j="$t_jemalloc" -v m="$t_mimalloc" -v t="$t_tcmalloc" \
        'BEGIN { printf "glibc %.2fx  jemalloc %.2fx  mimalloc %.2fx  tcmalloc %.2fx", o/g, o/j, o/m, o/t }')
    printf '%-8s %7sms %7sms %7sms %7sms %7sms   %s\n' "$prog" "$t_glibc" "$t_jemalloc" "$t_mimalloc" \
        "$t_tcmalloc" "$t_ours" "$ratios"
done
