#!/bin/sh
# CPU discovery in the booted kernel (arch/x86/cpus_boot.c, issue 12): the real
# kernel under QEMU with several processor layouts and firmware tables, and the
# boot option cpus=madt|mp|one.  Every line the discovery prints ("cpus: ...",
# "acpi: ...") must be exactly the expected ones, in order, then a clean poweroff.
#
# What QEMU's BIOS (SeaBIOS) builds: an ACPI MADT listing every CPU, and an MP
# table listing only the first CPU of each socket; -smp N alone is N cores in
# one socket (so the MP table lists 1), -smp N,sockets=N lists all N in both.
# -machine pc,acpi=off / -no-acpi leave the MP table alone.
#   usage: cpus-check.sh "<qemu command and options>" build/kernel.elf
qemu_base=$1
kernel=$2
log=build/cpus.log
. tools/check-lib.sh

lapic="local APIC at 0xfee00000"
no_rsdp="acpi: no RSDP in the EBDA or at 0xe0000-0xfffff"

# boot WHAT QEMU-ARGS -- APPEND -- EXPECTED-LINE...: one boot, its discovery lines compared.
boot() {
    boot_args "$@"
    shift $boot_shift
    echo "== cpus check: $what (qemu$qargs, -append \"$append\")"
    case "$qargs" in
    *acpi=off* | *-no-acpi*) acpi=off ;;
    *) acpi=on ;;
    esac
    if [ $acpi = on ]; then
        # shellcheck disable=SC2086 # qargs: several words
        timeout 60 $qemu_base -m 32M $qargs -serial stdio -kernel "$kernel" -append "$append" \
            </dev/null >"$log.raw" 2>&1
        rc=$?
    else
        # Without ACPI there is no PM1a port to power off with (kernel/power.c): the
        # kernel says so and halts; QEMU is stopped once it has said it.
        # shellcheck disable=SC2086 # qargs: several words
        timeout 60 $qemu_base -m 32M $qargs -serial stdio -kernel "$kernel" -append "$append" \
            </dev/null >"$log.raw" 2>&1 &
        qpid=$!
        n=0
        while [ $n -lt 600 ] && kill -0 $qpid 2>/dev/null &&
            ! grep -q 'poweroff failed: no ACPI PM1a control port answered; halted' "$log.raw"; do
            sleep 0.1
            n=$((n + 1))
        done
        kill $qpid 2>/dev/null
        wait $qpid
        rc=$?
    fi
    clean_log "$log.raw" "$log"
    expect_lines "$log" '^(cpus|acpi|\[boot\] cpus): ' "$what" "$@"
    if [ $acpi = on ]; then
        expect_clean_poweroff "$log" $rc
    else
        expect "$log" '^autopoweroff: powering off' "the kernel ran to its end"
        expect "$log" '^poweroff failed: no ACPI PM1a control port answered; halted$' \
            "no ACPI, so no poweroff: said, halted"
        expect_not "$log" 'CPU exception|EXCEPTION|PANIC|FAILED|ERROR' "no error output"
    fi
}

boot "-smp 1: the MADT lists one CPU" -smp 1 -- autopoweroff \
    "cpus: 1 from ACPI MADT (APIC id 0), $lapic"

boot "-smp 4 (4 cores, 1 socket): the MADT lists 4" -smp 4 -- autopoweroff \
    "cpus: 4 from ACPI MADT (APIC ids 0 1 2 3), $lapic"

boot "-smp 4, cpus=mp: QEMU's MP table lists the socket's first CPU only" -smp 4 -- \
    "autopoweroff cpus=mp" \
    "cpus: boot option cpus=mp: ACPI is not consulted" \
    "cpus: 1 from MP table (APIC id 0), $lapic"

boot "-smp 4, cpus=madt" -smp 4 -- "autopoweroff cpus=madt" \
    "cpus: boot option cpus=madt: the MP table is not consulted" \
    "cpus: 4 from ACPI MADT (APIC ids 0 1 2 3), $lapic"

boot "-smp 4, cpus=one: no table read" -smp 4 -- "autopoweroff cpus=one" \
    "cpus: boot option cpus=one: no table is consulted" \
    "cpus: 1 from none (one CPU) (APIC id 0), $lapic"

boot "-smp 4, cpus=two: an unknown value named, then the default" -smp 4 -- \
    "autopoweroff cpus=two" \
    "[boot] cpus: unknown boot option (not cpus=madt, cpus=mp or cpus=one): ignored" \
    "cpus: 4 from ACPI MADT (APIC ids 0 1 2 3), $lapic"

boot "-smp 4,sockets=4: the MADT lists 4" -smp 4,sockets=4 -- autopoweroff \
    "cpus: 4 from ACPI MADT (APIC ids 0 1 2 3), $lapic"

boot "-smp 4,sockets=4, cpus=mp: the MP table lists 4" -smp 4,sockets=4 -- "autopoweroff cpus=mp" \
    "cpus: boot option cpus=mp: ACPI is not consulted" \
    "cpus: 4 from MP table (APIC ids 0 1 2 3), $lapic"

boot "-machine pc,acpi=off -smp 4,sockets=4: the MP table alone" \
    -machine pc,acpi=off -smp 4,sockets=4 -- autopoweroff \
    "$no_rsdp" \
    "cpus: 4 from MP table (APIC ids 0 1 2 3), $lapic"

boot "-no-acpi -smp 4: the MP table alone, one CPU in it" -no-acpi -smp 4 -- autopoweroff \
    "$no_rsdp" \
    "cpus: 1 from MP table (APIC id 0), $lapic"

boot "-machine pc,acpi=off -smp 2,sockets=2, cpus=madt: no MADT, so one CPU" \
    -machine pc,acpi=off -smp 2,sockets=2 -- "autopoweroff cpus=madt" \
    "cpus: boot option cpus=madt: the MP table is not consulted" \
    "$no_rsdp" \
    "cpus: 1 from none (one CPU) (APIC id 0), $lapic"

boot "-smp 20: more than KERNEL_MAX_CPUS, the first 16 kept" -smp 20 -- autopoweroff \
    "cpus: ACPI MADT: 20 CPUs, more than KERNEL_MAX_CPUS (16): keeping the BSP and the first 15 others" \
    "cpus: 16 from ACPI MADT (APIC ids 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15), $lapic"

# ACPI tables at the top of the RAM below 4 GB (3 GB here): read before paging, no mapping.
boot "-m 4G -smp 2: tables near 3 GB" -m 4G -smp 2 -- autopoweroff \
    "cpus: 2 from ACPI MADT (APIC ids 0 1), $lapic"

boot "-cpu 486 -smp 2" -cpu 486 -smp 2 -- autopoweroff \
    "cpus: 2 from ACPI MADT (APIC ids 0 1), $lapic"

write_results cpus
echo "cpus checks: $passed passed, $failed failed (last log in $log)"
exit $status
