#!/bin/sh
# Boot checks of the real kernel (not the test build):
#   1. boot with "autopoweroff" (what `make run` does without a terminal) at
#      several memory sizes: every init step, the heap demo, a healthy heap,
#      and a clean poweroff (QEMU exit status 0);
#   2. the serial console: commands typed into the shell, answers checked.
#   usage: boot-check.sh "<qemu command and options>" build/kernel.elf
qemu_base=$1
kernel=$2
log=build/boot.log
status=0
passed=0
failed=0

expect() { # expect LOG PATTERN WHAT
    if grep -qE -- "$2" "$1"; then
        echo "  ok: $3"
        passed=$((passed + 1))
    else
        echo "  MISSING: $3 (/$2/ not in $1)"
        failed=$((failed + 1))
        status=1
    fi
}

exit_status_is_0() { # a poweroff is QEMU exit status 0 (timeout's would be 124)
    if [ "$1" -eq 0 ]; then
        echo "  ok: QEMU exit status 0"
        passed=$((passed + 1))
    else
        echo "  FAILED: QEMU exit status $1"
        failed=$((failed + 1))
        status=1
    fi
}

for mem in 8M 32M 128M; do
    echo "== boot check: -m $mem, autopoweroff"
    timeout 60 $qemu_base -m $mem -serial stdio -kernel "$kernel" -append autopoweroff \
        </dev/null >"$log.raw" 2>&1
    rc=$?
    tr -d '\r' <"$log.raw" >"$log"
    expect "$log" '^\[boot\] serial \+ VGA console \.\.\. ok' "console up"
    expect "$log" '^\[boot\] GDT.*ok$' "GDT loaded"
    expect "$log" '^\[boot\] IDT.*ok$' "IDT loaded"
    expect "$log" '^\[boot\] memory map' "multiboot memory map"
    expect "$log" '^\[boot\] heap: 64 KB at physical 0x00500000 \.\.\. ok' "heap at 5 MB"
    expect "$log" '^kmalloc\( *1000\) = 0x005[0-9a-f]{5}, written and read back: ok' "demo allocations"
    expect "$log" 'heap_check: 0 broken invariants' "demo leaves a healthy heap"
    expect "$log" '^autopoweroff: powering off' "powers off by itself"
    if grep -qE 'EXCEPTION|PANIC|FAILED|ERROR' "$log"; then
        echo "  UNEXPECTED error output:"; grep -E 'EXCEPTION|PANIC|FAILED|ERROR' "$log"
        failed=$((failed + 1)); status=1
    fi
    # timeout's own status would be 124; a poweroff is QEMU exit status 0
    exit_status_is_0 $rc
done

echo "== boot check: serial console commands"
printf 'help\nalloc 100\nalloc 0x40\nalloc 99999999\nmeminfo\nfree 0x1234\nfree 0x500020\nfree 0x500020\ncheck\nheap\nstress 3000\nbogus\npoweroff\n' |
    timeout 120 $qemu_base -m 32M -serial stdio -kernel "$kernel" >"$log.raw" 2>&1
rc=$?
tr -d '\r' <"$log.raw" >"$log"
expect "$log" 'meminfo' "help lists commands"
expect "$log" 'alloc 100.*' "alloc accepted"
expect "$log" 'ERROR: kfree: 0x00001234: not a heap pointer' "free of a wild address reported"
expect "$log" 'ERROR: kfree: 0x00500020: double free' "double free from the console reported"
expect "$log" 'heap_check: 0 broken|0 broken invariants' "check says healthy"
expect "$log" 'PASS' "stress 3000 verified its data"
expect "$log" 'unknown command|Unknown command' "unknown command named"
exit_status_is_0 $rc
mkdir -p build/results
echo "$passed $failed" >build/results/boot
echo "boot checks: $passed passed, $failed failed (last log in $log)"
exit $status
