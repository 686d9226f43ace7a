#!/bin/sh
# Compressed memory in the booted kernel (issue 14 items 3-5, mm/zswap.c): the
# console's zswapdemo (kernel/shell.c) under QEMU at -m 32M.
#   1. 64 MB of realistic pages (text, arrays of structures, zero pages, pages
#      of one word, buffers mostly zero: kernel/zswap_pages.h) written into a
#      compressible area, read back in a shuffled order and compared byte for
#      byte, every checker 0 before and after the vfree; zram and meminfo show it.
#   2. The same at -smp 4, the read-back on the four CPUs at once: 64 MB, with
#      the shootdowns the reader CPUs answer and their time counted (reclaim
#      shoots down once per batch of up to ZSWAP_BATCH pages, and the codec runs
#      with mm/'s lock let go: mm/zswap.c; one shootdown per 32 pages made it
#      take 2.5 to 4 min on a loaded 2-core machine, 25 to 35 s now).
#   3. 48 MB of noise (incompressible): a write fault at last finds no frame and
#      nothing left to compress: one line naming the page and the area, then the
#      kernel's fault diagnosis naming the compressible area, and no "PASS"
#      (the kernel halts: QEMU is stopped once it says so).  The fault comes while
#      writing; reading back what fitted is tests/host/test_zswap.c's.
#   4. At -m 272M -smp 4 (16 MB of RAM beyond the 256 MB direct map, which the
#      PMM hands out first): 100 MB written, every page compressed on request
#      (zswapdemo's "reclaim"), read back on four CPUs: the frames beyond the
#      direct map are read and filled through zswap's private window (zram
#      counts them), every byte exact.
#   5. The whole in-kernel suite with reclaim running (the test kernel's boot
#      option zswap-pressure, tests/kernel/ktest_pressure.c): under every test
#      with paging, a compressible area that takes free RAM below zswap's low
#      watermark, filled with realistic pages, verified byte for byte after the
#      test; at -m 32M and at -m 32M -smp 4.  The suite's verdict, and its last
#      lines: the pages compressed and brought back (> 0), none mismatched.
#   usage: zswap-check.sh "<qemu command and options>" build/kernel.elf build/kernel-test.elf
qemu_base=$1
kernel=$2
test_kernel=$3
log=build/zswap.log
. tools/check-lib.sh

# console SECONDS QEMU-ARGS -- COMMAND...: a boot fed those console lines; the log in $log, $rc.
# QEMU is stopped early once the kernel says "System halted." (a refused fault's diagnosis).
console() {
    seconds=$1
    shift
    qemu_args "$@"
    shift $qargs_shift
    printf '%s\n' "$@" >"$log.in"
    # shellcheck disable=SC2086 # qargs: several words
    $qemu_base $qargs -serial stdio -kernel "$kernel" <"$log.in" >"$log.raw" 2>&1 &
    pid=$!
    waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if grep -q 'System halted\.' "$log.raw" 2>/dev/null || [ "$waited" -ge "$seconds" ]; then
            kill "$pid" 2>/dev/null
            break
        fi
        sleep 1
        waited=$((waited + 1))
    done
    wait "$pid"
    rc=$?
    clean_log "$log.raw" "$log"
}

demo_ok() { # demo_ok WHAT PAGES CPUS: the demo's lines of a passing run
    expect "$log" "^zswapdemo: read back $2 pages in random order on $3 CPUs: 0 mismatched$" "$1: every page read back exact"
    expect "$log" '^zswap: reclaim [1-9][0-9]* runs, [0-9]+ pages scanned, [1-9][0-9]* compressed, [0-9]+ dropped clean, 0 failed; faults: [1-9][0-9]* brought back, [0-9]+ zero-filled, 0 out of memory' "$1: pages compressed and brought back"
    expect "$log" '^zswapdemo: checks after: zswap 0, zstore 0, vmalloc 0, pmm 0$' "$1: checkers healthy"
    expect "$log" '^zswapdemo: checks after vfree: zswap 0, zstore 0, vmalloc 0, pmm 0$' "$1: checkers healthy after vfree"
    expect "$log" '^zswapdemo: PASS$' "$1: PASS"
    expect_not "$log" 'MISMATCH|CPU exception|PANIC|ERROR' "$1: no mismatch, fault or error"
}

echo "== zswap check: 64 MB of realistic data in 32 MB of RAM"
start=$(now)
console 120 -m 32M -- meminfo 'zswapdemo 64' zram meminfo poweroff
demo_ok "64 MB at -m 32M" 16384 1
expect "$log" '^zswapdemo: 64 MB compressible \(16384 pages\) of realistic' "the area is twice the RAM"
expect "$log" '^zstore: orig 65536 KB, compressed [0-9]+ KB, pool [0-9]+ KB .*ratio [2-9]\.[0-9]+$' "the store's figures, a ratio of 2 or more"
expect "$log" '^  compressed_pages +[0-9]+ \(' "meminfo shows the compressed memory"
expect "$log" '^  compressible_pages +0 \(0 present' "meminfo: nothing compressible left after the vfree"
exit_status_is "$rc" 0
echo "  ($(seconds_since "$start") s)"

echo "== zswap check: 64 MB of realistic data in 32 MB of RAM, read back on 4 CPUs"
start=$(now)
console 300 -m 32M -smp 4 -- 'zswapdemo 64' cpus poweroff
demo_ok "64 MB at -m 32M -smp 4" 16384 4
expect "$log" '^zswapdemo: 64 MB compressible \(16384 pages\) of realistic.*; 4 CPUs$' "the area is twice the RAM, 4 CPUs"
exit_status_is "$rc" 0
echo "  ($(seconds_since "$start") s; TLB shootdowns received per CPU:" \
    "$(awk '/^ +[0-9]+ +[0-9]+ +yes/ {printf " %s", $5}' "$log"))"

echo "== zswap check: 48 MB of noise in 32 MB of RAM fails cleanly"
start=$(now)
console 60 -m 32M -- 'zswapdemo 48 random' poweroff
expect "$log" '^zswap: fault at 0xe[0-9a-f]{7}, page [0-9]+ of compressible area 0xe[0-9a-f]{7} \(50331648 bytes\): out of memory with nothing left to compress' "one line naming the page and the area"
expect "$log" '^\*\*\* CPU exception 14: #PF Page Fault' "the fault diagnosis follows"
expect "$log" '^  address: [0-9]+ bytes into compressible area 0xe[0-9a-f]{7} \(50331648 bytes\)$' "the diagnosis names the compressible area"
expect "$log" '^System halted\.$' "the kernel stops there"
expect_not "$log" 'MISMATCH|zswapdemo: PASS' "no page read back wrong, no pass claimed"
echo "  ($(seconds_since "$start") s)"

echo "== zswap check: 100 MB at -m 272M -smp 4, the frames beyond the direct map through the window"
start=$(now)
console 240 -m 272M -smp 4 -- 'zswapdemo 100 reclaim' poweroff
demo_ok "100 MB at -m 272M -smp 4" 25600 4
expect "$log" '^zswapdemo: reclaim asked for: 25600 pages freed, 0 still present$' "every page compressed before the read-back"
expect "$log" '^zswap: window for frames beyond the direct map at 0xe[0-9a-f]{7}: [1-9][0-9]* frames reached through it$' "frames beyond the direct map reached through the window"
exit_status_is "$rc" 0
echo "  ($(seconds_since "$start") s)"

# pressure_suite WHAT QEMU-ARGS...: the test kernel's whole suite with zswap-pressure.
pressure_suite() {
    what=$1
    shift
    plog=build/zswap-pressure-$(echo "$*" | tr -d ' -').log
    echo "== zswap check: the in-kernel suite with reclaim running ($what)"
    start=$(now)
    # shellcheck disable=SC2086 # qemu_base: several words
    timeout 600 $qemu_base "$@" -append zswap-pressure -serial "file:$plog.raw" \
        -kernel "$test_kernel" </dev/null
    prc=$?
    clean_log "$plog.raw" "$plog" && rm -f "$plog.raw"
    t=$(seconds_since "$start")
    ktest_verdict "$plog" "$prc" "kernel suite with zswap-pressure ($what, $t s)"
    expect "$plog" '^\[ktest\] zswap-pressure: [1-9][0-9]* tests with an area \([0-9]+ without: excluded\), [1-9][0-9]* pages written and verified, 0 mismatched$' "$what: every test's area read back exact"
    expect "$plog" '^\[ktest\] zswap-pressure: .* in all, [1-9][0-9]* reclaim runs, [1-9][0-9]* compressed, [0-9]+ dropped clean, [1-9][0-9]* brought back, 0 failed, 0 out of memory$' "$what: reclaim ran (pages compressed and brought back)"
    expect_not "$plog" 'zswap-pressure: (MISMATCH|[0-9]+ compressible areas left)' "$what: no mismatch, no area left over"
    # reclaim inside the tests' own bodies (owed under pressure, run at an allocation's exit):
    # in at least half of the tests with an area
    with=$(sed -nE 's/^\[ktest\] zswap-pressure: ([0-9]+) tests with an area.*/\1/p' "$plog")
    during=$(sed -nE 's/^\[ktest\] zswap-pressure: [0-9]+ pages reclaimed while ([0-9]+) of the tests ran.*/\1/p' "$plog")
    if [ -n "$with" ] && [ -n "$during" ] && [ $((2 * during)) -ge "$with" ]; then
        ok "$what: reclaim ran while $during of the $with tests with an area ran"
    else
        not_ok "$what: reclaim ran while ${during:-?} of the ${with:-?} tests with an area ran (want at least half)"
    fi
    grep -E '^\[ktest\] zswap-pressure: [0-9]+ (tests|pages reclaimed)' "$plog"
}
pressure_suite "-m 32M" -m 32M
pressure_suite "-m 32M -smp 4" -m 32M -smp 4

write_results zswap
echo "zswap checks: $passed passed, $failed failed (last log in $log)"
exit $status
