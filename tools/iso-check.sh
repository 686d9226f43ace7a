#!/bin/sh
# Boot the GRUB CD images (tools/mkiso.sh) the way users boot the kernel:
#   1. build/kernel-test.iso: the in-kernel suite must pass (the rule of
#      run-kernel-tests.sh: "N passed, 0 failed" and isa-debug-exit status);
#   2. build/kernel.iso (GRUB passes "autopoweroff"): the boot lines of
#      boot-check.sh, the PMM on GRUB's memory map, QEMU exit status 0.
#   usage: iso-check.sh "<qemu command and options>" build/kernel-test.iso build/kernel.iso
qemu_base=$1
test_iso=$2
iso=$3
. tools/check-lib.sh

echo "== GRUB CD: $test_iso (in-kernel suite), -m 32M"
log=build/iso-ktest.log
start=$(now)
timeout 120 $qemu_base -m 32M -boot d -cdrom "$test_iso" -serial "file:$log.raw" </dev/null
rc=$?
t=$(seconds_since "$start")
clean_log "$log.raw" "$log" && rm -f "$log.raw"
ktest_verdict "$log" $rc "kernel suite from GRUB ($t s)"

echo "== GRUB CD: $iso (autopoweroff), -m 32M"
log=build/iso-boot.log
start=$(now)
timeout 120 $qemu_base -m 32M -boot d -cdrom "$iso" -serial stdio </dev/null >"$log.raw" 2>&1
rc=$?
t=$(seconds_since "$start")
clean_log "$log.raw" "$log"
expect "$log" "command line '(/boot/kernel.elf )?autopoweroff'" "GRUB's command line"
expect_phase1_boot "$log"
expect_pmm_boot "$log"
expect "$log" ' reserved +boot loader name$' "GRUB's loader name reserved"
expect_clean_poweroff "$log" $rc
echo "GRUB boot: $t s"

write_results iso
echo "GRUB CD checks: $passed passed, $failed failed (logs: build/iso-ktest.log, build/iso-boot.log)"
exit $status
