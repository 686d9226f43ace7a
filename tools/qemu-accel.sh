#!/bin/sh
# Print "-accel kvm" when KVM really works here, "-accel tcg" otherwise.
# MM_ACCEL=tcg (or kvm) forces the choice; every test must pass under both.
qemu=${1:-qemu-system-i386}
case "${MM_ACCEL:-}" in
tcg | kvm) echo "-accel $MM_ACCEL"; exit 0 ;;
esac
if [ -w /dev/kvm ] && echo quit | timeout 10 "$qemu" -accel kvm -machine none -display none \
    -nodefaults -monitor stdio >/dev/null 2>&1; then
    echo "-accel kvm"
else
    echo "-accel tcg"
fi
