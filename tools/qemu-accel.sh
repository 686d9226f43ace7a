#!/bin/sh
# Print "-accel kvm" when KVM really works here, "-accel tcg" otherwise.
#   usage: qemu-accel.sh QEMU TEST_KERNEL
# "Works" means more than /dev/kvm opening: some sandboxes offer a KVM that
# cannot deliver a guest exception.  So we boot the test kernel's CPU suite
# (ktest=cpu:) under KVM and use KVM only if it passes.  The answer is cached
# in build/qemu-accel until the test kernel changes.  MM_ACCEL=tcg|kvm forces
# the choice; every test must pass under both.
qemu=${1:-qemu-system-i386}
kernel=${2:-build/kernel-test.elf}
cache=build/qemu-accel
case "${MM_ACCEL:-}" in
tcg | kvm) echo "-accel $MM_ACCEL"; exit 0 ;;
esac
if [ -f "$cache" ] && [ "$cache" -nt "$kernel" ]; then
    cat "$cache"
    exit 0
fi
accel=tcg
if [ -w /dev/kvm ] && [ -f "$kernel" ]; then
    timeout 10 "$qemu" -accel kvm -display none -no-reboot -m 32M -serial none \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$kernel" \
        -append "ktest=cpu:" </dev/null >/dev/null 2>&1
    if [ $? -eq 1 ]; then
        accel=kvm
    else
        echo "qemu-accel: /dev/kvm is here but cannot run our kernel's exception test: using TCG" >&2
    fi
fi
mkdir -p build
echo "-accel $accel" | tee "$cache"
