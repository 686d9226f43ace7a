#!/bin/sh
# The boot matrix of the in-kernel suite: boot the test kernel at every memory
# size below and turn each isa-debug-exit status into pass/fail.
#   usage: run-kernel-tests.sh "<qemu command and options>" build/kernel-test.elf
# The kernel writes 0 (pass) or 1 (fail) to port 0xf4; QEMU exits (code<<1)|1.
# Every boot must print "N passed, 0 failed" and exit with status 1; the
# counts of all boots are added up.  With KVM available the matrix also runs
# under plain TCG: both must pass.  MM_KTEST_SIZES overrides the sizes.
#
#   8M        a small machine: the early heap at 5 MB is near the top of RAM
#   32M       what `make run` uses
#   128M, 1G  more RAM, more PMM metadata (12 bytes a page: 3 MB for 1 GB)
#   3G        almost the whole 32-bit space, all of it below 4 GB: 9 MB of
#             metadata, too big for the gap between the kernel and the heap
qemu_base=$1
kernel=$2
sizes=${MM_KTEST_SIZES:-8M 32M 128M 1G 3G}
. tools/check-lib.sh

# Two multiboot modules (QEMU loads them after the kernel), so that the
# suite's "PMM never hands out reserved ranges" covers modules and their strings.
modules="$kernel first-module,$kernel"
timings=""
run_one() { # run_one ACCEL SIZE
    cmd=$(echo "$qemu_base" | sed "s/-accel [a-z]*/-accel $1/")
    log=build/ktest-$1-$2.log
    echo "== kernel suite under QEMU ($1, -m $2)"
    start=$(now)
    timeout 120 $cmd -m "$2" -serial "file:$log.raw" -kernel "$kernel" -initrd "$modules" </dev/null
    rc=$?
    t=$(seconds_since "$start")
    clean_log "$log.raw" "$log" && rm -f "$log.raw"
    ktest_verdict "$log" "$rc" "kernel suite ($1, -m $2, ${t} s)"
    timings="$timings $2=${t}s"
}

case "$qemu_base" in
*"-accel kvm"*) accels="kvm tcg" ;;
*) accels="tcg" ;;
esac
for accel in $accels; do
    for size in $sizes; do
        run_one "$accel" "$size"
    done
done
write_results kernel
echo "kernel suite: $passed passed, $failed failed over the boot matrix (times:$timings)"
exit $status
