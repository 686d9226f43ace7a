#!/bin/sh
# tsan-check.sh PROGRAM...: run host test programs built with -fsanitize=thread
# (mk/tsan.mk).  Each counts as one check per cmocka case that passed, and fails
# the suite if a case failed, the program did not exit 0, or ThreadSanitizer
# reported anything (a data race, a lock misuse, a leaked thread...).  TSan's
# reports go to build/tsan/<program>.log.  Totals in build/results/tsan.
passed=0
failed=0
status=0
mkdir -p build/results build/tsan
for t in "$@"; do
    name=$(basename "$t")
    log=build/tsan/$name.log
    echo "== tsan: $name"
    start=$(date +%s)
    # halt_on_error: the first report stops the program (exit status 66), so a
    # race cannot hide behind a later passing case.
    TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 log_path=stderr" \
        timeout 600 "$t" >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log" | tail -n 1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$log" | tail -n 1)
    reports=$(grep -c '^WARNING: ThreadSanitizer' "$log")
    if [ "$rc" -eq 0 ] && [ "$reports" -eq 0 ] && [ -z "$f" ] && [ -n "$p" ]; then
        echo "  ok: $name: $p cases passed, no ThreadSanitizer report ($took s)"
        passed=$((passed + p))
    else
        echo "  FAILED: $name: exit status $rc, ${p:-0} passed, ${f:-0} failed," \
            "$reports ThreadSanitizer report(s) ($log):"
        grep -A24 -m1 '^WARNING: ThreadSanitizer' "$log"
        grep -A2 '^\[  ERROR   \]\|^\[  FAILED  \]' "$log" | head -n 12
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        [ -n "$f" ] && [ "$reports" -eq 0 ] || failed=$((failed + 1))
        status=1
    fi
done
echo "$passed $failed" >build/results/tsan
echo "tsan: $passed passed, $failed failed"
exit $status
