#!/bin/sh
# The closing line of make test: the sum of build/results/<suite> ("passed failed").
# A suite that left no result file did not run to its end: it counts as a failure.
passed=0
failed=0
for suite in "$@"; do
    if [ -f "build/results/$suite" ]; then
        read -r p f <"build/results/$suite"
        passed=$((passed + p))
        failed=$((failed + f))
    else
        echo "make test: suite '$suite' left no results"
        failed=$((failed + 1))
    fi
done
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
