#!/bin/sh
# Run each host test binary (build/host/<abi>/test_*), say which ABI it is,
# and record the totals in build/results/host for the closing line of make test.
. tools/check-lib.sh
for t in "$@"; do
    host_test "$t"
    echo "$out"
done
write_results host
echo "host tests: $passed passed, $failed failed"
exit $status
