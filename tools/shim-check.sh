#!/bin/sh
# shellcheck disable=SC1091,SC2154 # check-lib.sh: ok, not_ok, $passed, $failed, $status
# Real programs with our heap as their malloc: each runs twice, plainly and
# under LD_PRELOAD=build/host/libkmalloc.so, and everything they produce must
# be the same: exit status, stdout, stderr, and every file they wrote.
#   usage: shim-check.sh build/host/libkmalloc.so   (runs in build/shim/run/<program>/)
#
#   python3          tests/shim/workload.py: strings, dicts, JSON, sorting,
#                    classes, churn; prints a SHA-256 digest
#   python3 (malloc) the same with PYTHONMALLOC=malloc: every object, even the
#                    small ones pymalloc keeps in its arenas, comes from kmalloc
#   sqlite3          tests/shim/workload.sql on a database file: 30 000 inserts,
#                    updates, deletes, joins, 3000 subqueries, VACUUM
#   gcc              mm/heap_block.c, heap_region.c, kmalloc.c, pmm.c, vmm.c at -O2 to
#                    objects and assembly, and
#                    tests/shim/threads.c to an executable (cc1, as, collect2, ld)
#   threads          tests/shim/threads.c: 4 threads of malloc/free/realloc/
#                    aligned allocations, 6 forks in the middle, then 4 threads
#                    handing blocks to each other (freed by another thread); the
#                    shim's CPU ids (cpu_ids_peak in the stats line) reused
#
# Our heap must really have been used: with MM_SHIM_STATS=<file> every process
# appends a line at exit (allocations, peak sizes, heap_check); the program's
# main process must show allocations, and every process a healthy heap (no
# caller-bug reports, no foreign pointers, heap_check 0).  The peak heap size
# of each program is printed, and how many system calls the simulated MMU made
# for how many pages mapped and unmapped: with 1024 pages or more, at least 4
# pages a call (runs of pages, not one call per page).  Results go to
# build/results/shim.
shim=$(realpath "$1")
root=$(pwd)
out=$root/build/shim/run
. tools/check-lib.sh

export LC_ALL=C PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1

# check_case NAME PROC CMD...: run CMD in build/shim/run/NAME/{plain,shim}; PROC is
# the process whose stats line must show allocations (cc1 for gcc).
check_case() {
    name=$1
    proc=$2
    shift 2
    d=$out/$name
    rm -rf "$d"
    mkdir -p "$d/plain" "$d/shim"
    : >"$d/stats"
    echo "== shim: $name: $*"
    start=$(now)
    (cd "$d/plain" && timeout 300 "$@" >../plain.out 2>../plain.err)
    rc_plain=$?
    t_plain=$(seconds_since "$start")
    start=$(now)
    (cd "$d/shim" && timeout 300 env MM_SHIM_STATS="$d/stats" LD_PRELOAD="$shim" "$@" \
        >../shim.out 2>../shim.err)
    rc_shim=$?
    t_shim=$(seconds_since "$start")

    if [ "$rc_plain" -eq 0 ] && [ "$rc_shim" -eq 0 ]; then
        ok "$name: exit status 0 in both runs (plain ${t_plain} s, shim ${t_shim} s)"
    else
        not_ok "$name: exit status plain $rc_plain, shim $rc_shim"
        tail -n 5 "$d/shim.err"
    fi
    if cmp -s "$d/plain.out" "$d/shim.out"; then
        ok "$name: stdout identical ($(wc -l <"$d/plain.out") lines)"
    else
        not_ok "$name: stdout differs ($d/plain.out, $d/shim.out)"
        diff "$d/plain.out" "$d/shim.out" | head -n 10
    fi
    if cmp -s "$d/plain.err" "$d/shim.err"; then
        ok "$name: stderr identical ($(wc -c <"$d/plain.err") bytes)"
    else
        not_ok "$name: stderr differs ($d/plain.err, $d/shim.err)"
        diff "$d/plain.err" "$d/shim.err" | head -n 10
    fi
    files=$(find "$d/plain" -type f | wc -l)
    if [ "$files" -eq 0 ]; then
        : # the program writes no files
    elif diff -r "$d/plain" "$d/shim" >/dev/null; then
        ok "$name: $files files written, identical byte for byte"
    else
        not_ok "$name: files differ"
        diff -rq "$d/plain" "$d/shim" | head -n 5
    fi

    # kmalloc-shim: NAME[PID]: allocations N frees N peak_used_kb N heap_peak_kb N ...
    stats=$(grep -E "^kmalloc-shim: $proc\[" "$d/stats" |
        awk '{ n++; a += $4; if ($8 > used) used = $8; if ($10 > peak) peak = $10 }
             END { if (n) printf "%d %d %d %d", n, a, used, peak }')
    # shellcheck disable=SC2086 # four numbers, split on purpose
    set -- $stats
    if [ "${2:-0}" -gt 0 ]; then
        ok "$name: our heap served $proc: $2 allocations in $1 process(es), peak heap $4 KB"
        summary="$summary
  $name: $2 allocations in $proc, peak $3 KB used, virtual heap peak $4 KB"
        summary="$summary (${t_plain} s plain, ${t_shim} s shim)"
    else
        not_ok "$name: no allocations recorded for $proc ($d/stats)"
    fi
    # the simulated MMU's system calls, summed over the processes: one per run, not per page
    calls=$(awk '{ for (i = 1; i < NF; i++) { if ($i == "map_calls") mc += $(i + 1)
                                                if ($i == "map_pages") mp += $(i + 1)
                                                if ($i == "unmap_calls") uc += $(i + 1)
                                                if ($i == "unmap_pages") up += $(i + 1) } }
                 END { printf "%d %d %d %d", mc, mp, uc, up }' "$d/stats")
    # shellcheck disable=SC2086 # four numbers, split on purpose
    set -- $calls
    for kind in mapped unmapped; do
        n=$1 pages=$2
        [ "$kind" = unmapped ] && n=$3 pages=$4
        if [ "$pages" -lt 1024 ]; then
            echo "  --    $name: $pages pages $kind in $n system calls (too few pages to judge)"
        elif [ $((n * 4)) -le "$pages" ]; then
            ok "$name: $pages pages $kind in $n system calls (runs, at least 4 pages a call)"
        else
            not_ok "$name: $pages pages $kind in $n system calls (fewer than 4 pages a call)"
        fi
    done
    # (each process's kmalloc-shim-lock line, mm_lock's counts, is not judged)
    bad=$(grep '^kmalloc-shim: ' "$d/stats" | awk '$14 != 0 || $16 != 0 || $20 != 0')
    lines=$(grep -c '^kmalloc-shim: ' "$d/stats")
    if [ "$lines" -gt 0 ] && [ -z "$bad" ]; then
        ok "$name: heap healthy at exit in all $lines processes (no errors, heap_check 0)"
    else
        not_ok "$name: heap reports in $d/stats"
        echo "$bad" | head -n 5
    fi
}

need() { # need PROGRAM: installed by tools/deps.sh
    if [ -x "$1" ]; then
        return 0
    fi
    not_ok "$1 is missing (tools/deps.sh installs it)"
    return 1
}

summary=""
if need /usr/bin/python3; then
    check_case python3 python3 /usr/bin/python3 "$root/tests/shim/workload.py"
    check_case python3-malloc python3 env PYTHONMALLOC=malloc /usr/bin/python3 \
        "$root/tests/shim/workload.py"
fi
if need /usr/bin/sqlite3; then
    check_case sqlite3 sqlite3 sh -c "/usr/bin/sqlite3 test.db <'$root/tests/shim/workload.sql'"
fi
if need /usr/bin/gcc; then
    # the two runs work in different directories: keep that out of the debug info
    cflags="-O2 -g -fdebug-prefix-map=\$PWD=. -std=c11 -ffreestanding -fno-builtin -DMM_HOSTED"
    cflags="$cflags -I$root/include -I$root/mm"
    check_case gcc cc1 sh -c "set -e
        for f in heap_block heap_region kmalloc pmm vmm; do
            /usr/bin/gcc $cflags -c $root/mm/\$f.c -o \$f.o
            /usr/bin/gcc $cflags -S $root/mm/\$f.c -o \$f.s
        done
        /usr/bin/gcc -O2 -o threads $root/tests/shim/threads.c -lpthread"
fi
check_case threads threads "$root/build/shim/threads"
# threads.c under the shim: blocks freed by other threads than their own, every byte
# checked; and the glue's CPU ids dense and reused: 4 workers, then 4 handoff threads
# after they exited (and 2 threads in each forked child), never more than 5 at once,
# so no id above 4 (9 threads in the parent would reach 8 without reuse)
expect "$out/threads/shim.out" '^handoff: 4 threads x [0-9]+ blocks.* ([0-9]+) of \1;' \
    "threads: every block handed to another thread was checked and freed there"
expect "$out/threads/shim.out" '^failures: 0$' "threads: no failure under the shim"
peak=$(sed -n 's/^kmalloc-shim: threads\[.* cpu_ids_peak \([0-9]*\) .*$/\1/p' "$out/threads/stats" |
    sort -n | tail -n 1)
if [ -n "$peak" ] && [ "$peak" -le 5 ]; then
    ok "threads: the shim's CPU ids are reused: at most $peak in use in any process"
else
    not_ok "threads: CPU ids up to ${peak:-?} (5 at most with reuse; $out/threads/stats)"
fi

write_results shim
echo "shim: peak sizes of the virtual heap:$summary"
echo "shim: $passed passed, $failed failed"
exit "$status"
