#!/bin/sh
# The suite "debug" of make test: the memory manager's debug build (MM_DEBUG).
#   usage: run-debug-tests.sh "<qemu command and options>" build/kernel-test-debug.elf HOSTBIN...
# Runs every host test binary built with MM_DEBUG (cmocka's counts), then boots
# the debug test kernel twice (32 MB): every in-kernel suite (the debug tests
# turn the checks on for their own heaps), and the debug tests alone with the
# boot option "mmdebug".  Totals go to build/results/debug.
qemu_base=$1
kernel=$2
shift 2
. tools/check-lib.sh

for t in "$@"; do
    host_test "$t"
    echo "$out" | grep -E '^\[ +(PASSED|FAILED|SKIPPED) +\]|^\[  ERROR   \]|ERROR|Assert|SKIP' | head -n 40
done

# QEMU under TCG (as the boot matrix's second half), 32 MB, the two modules of run-kernel-tests.sh.
cmd=$(echo "$qemu_base" | sed "s/-accel [a-z]*/-accel tcg/")
boot() { # boot NAME APPEND WHAT
    log=build/ktest-debug-$1.log
    echo "== debug kernel under QEMU (tcg, -m 32M, '$2')"
    timeout 300 $cmd -m 32M -serial "file:$log.raw" -kernel "$kernel" \
        -initrd "$kernel first-module,$kernel" -append "$2" </dev/null
    rc=$?
    clean_log "$log.raw" "$log" && rm -f "$log.raw"
    ktest_verdict "$log" "$rc" "$3"
}
# Every suite in the debug build, checks off (the debug tests turn them on for their heap)...
boot all "" "debug kernel: every suite, the debug tests with the checks on"
expect build/ktest-debug-all.log '^\[boot\] debug build: checks off' "debug kernel: checks off by default"
# ... and the boot option: checks on from the first heap.
boot mmdebug "mmdebug ktest=debug:" "debug kernel booted with mmdebug: the debug tests"
expect build/ktest-debug-mmdebug.log '^\[boot\] debug build: checks on' "debug kernel: mmdebug turns the checks on"

write_results debug
echo "debug suite: $passed passed, $failed failed"
exit $status
