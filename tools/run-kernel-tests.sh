#!/bin/sh
# Boot the test kernel in QEMU and turn its isa-debug-exit status into pass/fail.
#   usage: run-kernel-tests.sh "<qemu command and options>" build/kernel-test.elf
# The kernel writes 0 (pass) or 1 (fail) to port 0xf4; QEMU exits (code<<1)|1.
# With KVM available the suite also runs under plain TCG: both must pass.
qemu_base=$1
kernel=$2
log=build/ktest.log
status=0
passed=0
failed=0
run_one() {
    accel=$1
    cmd=$(echo "$qemu_base" | sed "s/-accel [a-z]*/-accel $accel/")
    echo "== kernel suite under QEMU ($accel, -m 32M)"
    timeout 120 $cmd -m 32M -serial "file:$log" -kernel "$kernel" </dev/null
    rc=$?
    tr -d '\r' <"$log" >"$log.txt" && mv "$log.txt" "$log"
    grep -E '^\[ FAIL|FAILED|PANIC|EXCEPTION|passed, ' "$log"
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    p=$(echo "$summary" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$summary" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-1}))
    if [ "$rc" -eq 1 ] && [ "${f:-1}" -eq 0 ]; then
        echo "kernel suite ($accel): ok"
    else
        echo "kernel suite ($accel): FAILED (QEMU exit status $rc; log in $log)"
        [ -n "$summary" ] || tail -n 30 "$log"
        status=1
    fi
}
case "$qemu_base" in
*"-accel kvm"*) run_one kvm; run_one tcg ;;
*) run_one tcg ;;
esac
mkdir -p build/results
echo "$passed $failed" >build/results/kernel
exit $status
