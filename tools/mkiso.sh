#!/bin/sh
# Build a bootable CD image (BIOS, El Torito) in which GRUB 2 multiboots our
# kernel: the loader people really use, with its own memory map, its own
# placement of the multiboot information and a boot loader name.
#   usage: mkiso.sh KERNEL.elf OUTPUT.iso [KERNEL OPTIONS...]
# GRUB boots at once (timeout=0) and passes the options as the kernel's
# command line (GRUB 2.06 leaves the kernel's path out of it: "autopoweroff").
# Needs grub-mkrescue (grub-common), the BIOS modules (grub-pc-bin), xorriso
# and mtools: tools/deps.sh installs them.
set -eu
kernel=$1
iso=$2
shift 2

tree=$iso.d
rm -rf "$tree"
mkdir -p "$tree/boot/grub"
cp "$kernel" "$tree/boot/kernel.elf"
cat >"$tree/boot/grub/grub.cfg" <<CFG
set timeout=0
set default=0
menuentry "mm kernel" {
    multiboot /boot/kernel.elf $*
    boot
}
CFG

# grub-mkrescue is chatty even when all is well: show its output only on failure.
if ! grub-mkrescue -o "$iso" "$tree" >"$iso.log" 2>&1; then
    cat "$iso.log"
    echo "mkiso: grub-mkrescue failed for $iso"
    exit 1
fi
echo "  ISO     $iso"
