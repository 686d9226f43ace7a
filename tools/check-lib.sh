# shellcheck shell=sh disable=SC2034
# check-lib.sh - what the test scripts share (sourced, not run): host test runs,
# counting checks, the pass/fail rule of the in-kernel suite, the lines every
# boot must print, and timing.  The sourcing script keeps the totals in
# $passed, $failed and $status and writes them to build/results/<suite>.
passed=0
failed=0
status=0

ok() { # ok WHAT
    echo "  ok: $1"
    passed=$((passed + 1))
}

not_ok() { # not_ok WHAT
    echo "  FAILED: $1"
    failed=$((failed + 1))
    status=1
}

expect() { # expect LOG PATTERN WHAT
    if grep -qE -- "$2" "$1"; then
        ok "$3"
    else
        not_ok "$3 (/$2/ not in $1)"
    fi
}

expect_not() { # expect_not LOG PATTERN WHAT
    if grep -qE -- "$2" "$1"; then
        not_ok "$3 (/$2/ in $1:)"
        grep -E -- "$2" "$1" | head -n 5
    else
        ok "$3"
    fi
}

# QEMU arguments up to a "--": "QEMU-ARG... -- REST...": sets qargs (the QEMU arguments,
# one string) and qargs_shift, the count the caller shifts away to keep REST.
qemu_args() { # qemu_args "$@"; shift $qargs_shift
    qargs=
    qargs_shift=0
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        qargs="$qargs $1"
        qargs_shift=$((qargs_shift + 1))
        shift
    done
    [ $# -gt 0 ] && qargs_shift=$((qargs_shift + 1)) # the "--"
}

# A boot's arguments "WHAT QEMU-ARG... -- APPEND EXPECTED...": sets what, qargs, append and
# boot_shift, the count the caller shifts away to keep the EXPECTED lines (cpus-check.sh,
# numa-check.sh).
boot_args() { # boot_args "$@"; shift $boot_shift
    what=$1
    shift
    qemu_args "$@"
    shift $qargs_shift
    append=$1
    boot_shift=$((qargs_shift + 2))
}

# The log's lines that match PATTERN must be exactly LINE..., in order (cpus-check.sh,
# numa-check.sh: what a discovery printed); LOG.want and LOG.got are left for a look.
expect_lines() { # expect_lines LOG PATTERN WHAT LINE...
    el_log=$1 el_pattern=$2 el_what=$3
    shift 3
    grep -E -- "$el_pattern" "$el_log" >"$el_log.got"
    : >"$el_log.want"
    for line in "$@"; do
        printf '%s\n' "$line" >>"$el_log.want"
    done
    if cmp -s "$el_log.got" "$el_log.want"; then
        ok "$el_what: $(tail -n 1 "$el_log.got")"
    else
        not_ok "$el_what: the discovery printed other lines (-wanted +got):"
        diff "$el_log.want" "$el_log.got" | sed -n 's/^[<>]/    &/p'
    fi
}

exit_status_is() { # exit_status_is RC WANTED: a poweroff is 0, timeout's own status 124
    if [ "$1" -eq "$2" ]; then
        ok "QEMU exit status $2"
    else
        not_ok "QEMU exit status $1 (wanted $2)"
    fi
}

# Serial output with CR LF -> LF, so that patterns can anchor on line ends.
clean_log() { # clean_log RAW LOG
    tr -d '\r' <"$1" >"$2"
}

now() { date +%s.%N; }
seconds_since() { # seconds_since START -> "1.23"
    awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'
}

# The lines every boot of the real kernel prints, Phase 1 part (boot-check.sh, iso-check.sh).
expect_phase1_boot() { # expect_phase1_boot LOG
    expect "$1" '^\[boot\] serial \+ VGA console \.\.\. ok' "console up"
    expect "$1" '^\[boot\] GDT.*ok$' "GDT loaded"
    expect "$1" '^\[boot\] IDT.*ok$' "IDT loaded"
    expect "$1" '^\[boot\] memory map' "multiboot memory map"
    expect "$1" '^\[boot\] heap: 64 KB at physical 0x00500000 \.\.\. ok' "heap at 5 MB"
    expect "$1" '^kmalloc\( *1000\) = 0x005[0-9a-f]{5}, written and read back: ok' "demo allocations"
    expect "$1" 'heap_check: 0 broken invariants' "demo leaves a healthy heap"
}

# ... and the physical memory manager's part (not with the boot option phase1).
expect_pmm_boot() { # expect_pmm_boot LOG
    expect "$1" '^  0x[0-9a-f]{16}-0x[0-9a-f]{16} .* reserved +kernel image$' "kernel image reserved in the map"
    expect "$1" '^  0x[0-9a-f]{16}-0x[0-9a-f]{16} .* reserved +multiboot info$' "multiboot info reserved in the map"
    expect "$1" '^\[boot\] pmm: pmm_init_layout with [0-9]+ ranges, kernel image 0x[0-9a-f]{8}-0x[0-9a-f]{8}' "memory map and kernel image handed to pmm_init_layout"
    expect "$1" '^\[boot\] pmm: [1-9][0-9]* pages total, [1-9][0-9]* free, [0-9]+ reserved \(metadata [0-9]+ KB at 0x[0-9a-f]{8}\)$' "PMM totals"
    expect "$1" '^\[boot\] pmm_check: 0 broken invariants \(ok\)$' "pmm_check healthy"
    expect "$1" '^\[boot\] vmm: .* paging on \.\.\. ok$' "paging on"
    expect "$1" '^\[boot\] vmm: directory 0x[0-9a-f]{8}, [0-9]+ page tables; .*; page 0 unmapped$' "page directory built"
    expect "$1" '^\[boot\] heap: moving kmalloc to 0xd0000000 \.\.\. ok, 64 KB mapped$' "virtual heap at 0xd0000000"
    expect "$1" '^\[boot\] heap: kmalloc\(1 MB\) = 0xd[0-9a-f]{7}: heap grew to [0-9]+ KB .* read back: ok$' "heap grows on demand"
    expect "$1" '^\[boot\] heap: kfree: shrank back to [0-9]+ KB; .*heap_check 0, vmm_check 0, pmm_check 0$' "heap shrinks, all checkers healthy"
    expect "$1" '^\[boot\] kstack: 32 KB at 0xe[0-9a-f]{7}-0xe[0-9a-f]{7}, guard page 0xe[0-9a-f]{7} below it; vmalloc_check 0; switching to it$' "the kernel moves to a guarded kernel stack"
}

# Nothing went wrong, and the kernel switched itself off.
expect_clean_poweroff() { # expect_clean_poweroff LOG RC
    expect "$1" '^autopoweroff: powering off' "powers off by itself"
    expect_not "$1" 'CPU exception|EXCEPTION|PANIC|FAILED|ERROR' "no error output"
    exit_status_is "$2" 0
}

# The in-kernel suite's rule: QEMU exit status 1 (isa-debug-exit with 0) and
# "N passed, 0 failed"; its counts are added to ours.  A run that printed no
# summary counts as one failure.
ktest_verdict() { # ktest_verdict LOG RC WHAT
    grep -E '^\[ FAIL|FAILED|PANIC|passed, ' "$1"
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    p=$(echo "$summary" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$summary" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-1}))
    if [ "$2" -eq 1 ] && [ "${f:-1}" -eq 0 ]; then
        echo "$3: ok"
    else
        echo "$3: FAILED (QEMU exit status $2; log in $1)"
        [ -n "$summary" ] || tail -n 30 "$1"
        status=1
    fi
}

# One host test program (build/host/<abi>/test_*, run by tools/host-exec.sh), its ABI said
# first: its output in $out, cmocka's counts added to passed and failed; a non-zero exit
# sets status, and one that comes before cmocka could count is one failure
# (run-host-tests.sh, run-debug-tests.sh).
host_test() { # host_test PROGRAM
    echo "== host [$(basename "$(dirname "$1")")] $(basename "$1")"
    out=$(tools/host-exec.sh "$1" 2>&1)
    ht_rc=$?
    ht_p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -n 1)
    ht_f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -n 1)
    passed=$((passed + ${ht_p:-0}))
    failed=$((failed + ${ht_f:-0}))
    if [ $ht_rc -ne 0 ]; then
        status=1
        [ -n "$ht_f" ] || failed=$((failed + 1)) # crashed before cmocka could count
    fi
}

write_results() { # write_results SUITE
    mkdir -p build/results
    echo "$passed $failed" >"build/results/$1"
}
