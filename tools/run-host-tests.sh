#!/bin/sh
# Run each host test binary (build/host/<abi>/test_*), say which ABI it is,
# and record the totals in build/results/host for the closing line of make test.
passed=0
failed=0
status=0
for t in "$@"; do
    abi=$(basename "$(dirname "$t")")
    echo "== host [$abi] $(basename "$t")"
    out=$(tools/host-exec.sh "$t" 2>&1)
    rc=$?
    echo "$out"
    p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -n 1)
    f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -n 1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ $rc -ne 0 ]; then
        status=1
        [ -n "$f" ] || failed=$((failed + 1)) # crashed before cmocka could count
    fi
done
mkdir -p build/results
echo "$passed $failed" >build/results/host
echo "host tests: $passed passed, $failed failed"
exit $status
