#!/bin/sh
# The SMP matrix (make test-smp, mk/smp.mk): the test kernel's whole in-kernel
# suite (tests/kernel, test_smp.c included) booted with -smp 1, 2, 4 and 8,
# each under single-threaded TCG (one host thread takes turns over the vCPUs)
# and multi-threaded TCG (a host thread per vCPU: real parallelism); then the
# normal kernel at -smp 4 (its boot log lists the four CPUs; the console's
# cpus and a four-CPU stress) and at -smp 1 (one CPU, as before).
#   usage: run-smp-tests.sh "<qemu command and options>" build/kernel-test.elf build/kernel.elf
# Every test-kernel boot must print "N passed, 0 failed" and exit with status 1
# (isa-debug-exit), and with N > 1 CPUs list CPU 1..N-1 online.  Then, at -smp 4, the panic
# tests (a panic or a double fault on an AP stops every other CPU, tests/kernel/test_panic.c).
# MM_SMP_COUNTS and MM_SMP_ACCELS override the matrix (e.g. "2 4", "tcg").
qemu_base=$1
test_kernel=$2
kernel=$3
counts=${MM_SMP_COUNTS:-1 2 4 8}
accels=${MM_SMP_ACCELS:-tcg tcg,thread=multi}
. tools/check-lib.sh

modules="$test_kernel first-module,$test_kernel"
timings=""

# The boot log names every CPU: "CPU i: APIC id A online", then "N of N CPUs online".
expect_cpus() { # expect_cpus LOG N
    if [ "$2" -gt 1 ]; then
        i=1
        while [ "$i" -lt "$2" ]; do
            expect "$1" "^\[boot\] smp: CPU $i: APIC id [0-9]+ online, kernel stack 0xe[0-9a-f]{7}-0xe[0-9a-f]{7}$" "-smp $2: CPU $i online"
            i=$((i + 1))
        done
        expect "$1" "^\[boot\] smp: $2 of $2 CPUs online$" "-smp $2: all $2 CPUs online"
    else
        expect "$1" '^\[boot\] smp: 1 CPU in the ' "-smp 1: one CPU"
        expect_not "$1" '^\[boot\] smp: CPU [0-9]+: APIC' "-smp 1: no AP started"
    fi
    expect_not "$1" 'did not answer|PANIC' "-smp $2: no AP lost, no panic"
}

# Boot the test kernel: boot_test_kernel ACCEL N LOG SECONDS QEMU-ARGS...; sets rc, leaves LOG.
boot_test_kernel() {
    bt_cmd=$(echo "$qemu_base" | sed "s/-accel [a-z]*/-accel $1/")
    bt_n=$2 bt_log=$3 bt_secs=$4
    shift 4
    timeout "$bt_secs" $bt_cmd -m 32M -smp "$bt_n" -serial "file:$bt_log.raw" -kernel "$test_kernel" \
        "$@" </dev/null
    rc=$?
    clean_log "$bt_log.raw" "$bt_log" && rm -f "$bt_log.raw"
}

run_one() { # run_one ACCEL N
    tag=$(echo "$1" | tr ',=' '--')
    log=build/smp-$tag-$2.log
    echo "== kernel suite under QEMU ($1, -smp $2, -m 32M)"
    start=$(now)
    boot_test_kernel "$1" "$2" "$log" 600 -initrd "$modules"
    t=$(seconds_since "$start")
    ktest_verdict "$log" "$rc" "kernel suite ($1, -smp $2, ${t} s)"
    grep -E '^    [0-9]+ CPUs: |^    reader on CPU' "$log"
    expect_cpus "$log" "$2"
    timings="$timings $tag/$2=${t}s"
}

for accel in $accels; do
    for n in $counts; do
        run_one "$accel" "$n"
    done
done

# An AP that never answers (boot option smpmute1: APIC id 1 gets INIT but no SIPI):
# one line, skipped, the next APs take indexes 1 and 2, and the SMP tests pass on three.
log=build/smp-mute.log
echo "== kernel suite's SMP tests, -smp 4, APIC id 1 silent (smpmute1)"
boot_test_kernel tcg 4 "$log" 300 -append "smpmute1 ktest=smp"
ktest_verdict "$log" "$rc" "SMP tests with a silent AP"
expect "$log" '^\[boot\] smp: the AP with APIC id 1 did not answer within 1000 ms; skipped$' "the silent AP reported in one line"
expect "$log" '^\[boot\] smp: CPU 1: APIC id 2 online, ' "the next AP takes index 1"
expect "$log" '^\[boot\] smp: CPU 2: APIC id 3 online, ' "and the one after it index 2"
expect "$log" '^\[boot\] smp: 3 of 4 CPUs online$' "three of four CPUs online"

# The end of the kernel at -smp 4 (tests/kernel/test_panic.c; each test ends its boot): a panic
# on CPU 1 while the others stress, two CPUs panicking at once (by chance, then surely: the second
# waits in an NMI handler), a stack overflow on CPU 1.  Every other CPU must stop (an NMI) before
# the message: no progress line of theirs after it.
count_of() { grep -cE -- "$2" "$1"; } # count_of LOG PATTERN
nothing_after() { # nothing_after LOG START_PATTERN PATTERN WHAT
    if sed -n "/$2/,\$p" "$1" | grep -qE -- "$3"; then
        not_ok "$4 (/$3/ after /$2/ in $1)"
    else
        ok "$4"
    fi
}
for accel in $accels; do
    tag=$(echo "$accel" | tr ',=' '--')
    for t in panic-ap panic-two panic-second ap-overflow; do
        log=build/smp-$t-$tag.log
        echo "== $t ($accel, -smp 4)"
        boot_test_kernel "$accel" 4 "$log" 120 -append "ktest=$t"
        ktest_verdict "$log" "$rc" "$t ($accel)"
        case $t in
        ap-overflow)
            expect "$log" '^\*\*\* CPU exception 8: #DF Double Fault' "$t: the overflow ends in #DF"
            expect "$log" '^  address: guard-page hit: guard page below kernel stack 0xe[0-9a-f]{7} \(8192 bytes\): a stack overflow$' "$t: the guard page named"
            expect "$log" '^  on CPU 1 of 4; the other CPUs are stopped$' "$t: on CPU 1, the others stopped"
            expect "$log" '^    #DF task on CPU 1, its stack at 0xe[0-9a-f]{7} \([0-9]+ bytes into kernel stack ' "$t: CPU 1's own #DF task and stack"
            [ "$(count_of "$log" 'CPU exception')" -eq 1 ] && ok "$t: one diagnosis" || not_ok "$t: one diagnosis" ;;
        *)
            [ "$(count_of "$log" '^PANIC: ')" -eq 1 ] && ok "$t: one PANIC line" || not_ok "$t: one PANIC line ($log)"
            expect "$log" '^  on CPU [12] of 4; the other CPUs are stopped$' "$t: the others stopped"
            [ "$t" = panic-second ] ||
                expect "$log" '^    stress CPU 0: [0-9]+ rounds$' "$t: CPU 0 stressed before it"
            expect "$log" '^    stress CPU 3: [0-9]+ rounds$' "$t: CPU 3 stressed before it"
            nothing_after "$log" '^PANIC: ' 'stress CPU' "$t: no progress line after the PANIC line"
            expect "$log" '^    after the panic: 0 CPUs still running; ' "$t: none runs after it"
            expect_not "$log" 'CPU exception' "$t: no fault" ;;
        esac
        [ "$t" = panic-ap ] && expect "$log" '^PANIC: ktest: CPU 1 panics on purpose while the other CPUs stress$' "$t: the message"
        [ "$t" = panic-ap ] && expect "$log" '^    stress CPU 2: [0-9]+ rounds$' "$t: CPU 2 stressed before it"
        [ "$t" = panic-two ] && expect "$log" '^PANIC: ktest: CPU [12] panics at the same moment as CPU [12]$' "$t: one of the two messages"
        [ "$t" = panic-second ] && expect "$log" '^PANIC: ktest: CPU 1 panics while CPU 2 waits in an NMI handler$' "$t: the first CPU's message"
        [ "$t" = panic-second ] && expect "$log" '^    CPU 1.s message went out; 1 CPU halted in the xchg without a word$' "$t: the second lost the xchg"
    done
done

# The normal kernel: the boot lists four CPUs; the console shows them and stresses all four.
cmd=$(echo "$qemu_base" | sed "s/-accel [a-z]*/-accel tcg,thread=multi/")
log=build/smp-console.log
echo "== kernel at -smp 4: boot log, cpus, stress on 4 CPUs"
printf '%s\n' cpus 'stress 3000 7 4' 'stress 1000 8 4' cpus check 'stress 4 1 9' 'stress 500' poweroff >"$log.in"
timeout 300 $cmd -m 32M -smp 4 -serial stdio -kernel "$kernel" <"$log.in" >"$log.raw" 2>&1
rc=$?
clean_log "$log.raw" "$log" && rm -f "$log.raw"
expect_pmm_boot "$log"
expect_cpus "$log" 4
expect "$log" '^4 CPUs online$' "cpus: four CPUs online"
expect "$log" '^ +3 +3 +yes +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+$' "cpus: CPU 3, APIC id 3, online (cached objects, shootdowns, deferred, fences)"
expect "$log" '^stress: 3000 operations on each of 4 CPUs at once' "stress 3000 7 4 runs on four CPUs"
expect "$log" '^stress: 12000 ops ' "stress: 4 x 3000 operations summed"
expect "$log" '^stress: [1-9][0-9]* blocks freed by another CPU than the one that filled them$' "stress: cross-CPU frees"
expect "$log" '^stress: [0-9]+ bytes verified, 0 errors, 0 heap_check failures: PASS$' "stress on 4 CPUs passes"
expect "$log" '^ +1 +1 +yes +[0-9]+ +[0-9]+ +[1-9][0-9]* +[0-9]+$' "cpus: CPU 1 flushed, before its next work, what was unmapped while it was idle"
expect "$log" '^pmm_check: 0, vmm_check: 0 broken invariants$' "check after it: healthy"
expect "$log" "^stress: '9' is not a CPU count \(1\.\.4 online\)$" "stress with 9 CPUs refused in one line"
expect "$log" '^stress: 500 ops ' "stress on one CPU as before"
expect_not "$log" 'CPU exception|PANIC|FAIL' "no fault, no failure"
exit_status_is "$rc" 0

echo "== kernel at -smp 1: one CPU, as before"
log=build/smp-one.log
timeout 120 $cmd -m 32M -smp 1 -serial "file:$log.raw" -kernel "$kernel" -append autopoweroff </dev/null
rc=$?
clean_log "$log.raw" "$log" && rm -f "$log.raw"
expect_pmm_boot "$log"
expect_cpus "$log" 1
expect_clean_poweroff "$log" "$rc"

write_results smp
echo "smp suite: $passed passed, $failed failed (times:$timings)"
exit $status
