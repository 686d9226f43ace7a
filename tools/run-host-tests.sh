#!/bin/sh
# Run each host test binary (build/host/<abi>/test_*), say which ABI it is, fail on the first failure.
status=0
for t in "$@"; do
    abi=$(basename "$(dirname "$t")")
    echo "== host [$abi] $(basename "$t")"
    "$t" || status=1
done
exit $status
