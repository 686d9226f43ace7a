#!/bin/sh
# The suite "tools" of make test: fresh dumps from each dump_sample binary given
# (build/tools/<abi>/dump_sample, in Phase 1 and Phase 2), then the unittests of
# tools/heapviz.py on them and on tests/tools/samples/, and of tools/tracestat.py
# on the traces of $TRACE_SAMPLES; totals in build/results/tools.
fresh=build/tools/fresh
rm -rf "$fresh" && mkdir -p "$fresh" build/results
status=0
for bin in "$@"; do
    abi=$(basename "$(dirname "$bin")")
    for mode in early virtual; do
        if ! tools/host-exec.sh "$bin" "$mode" >"$fresh/$abi-$mode.log" 2>&1; then
            echo "tools: $bin $mode failed:"
            cat "$fresh/$abi-$mode.log"
            status=1
        fi
    done
done
echo "== tools: tests/tools/test_heapviz.py tests/tools/test_tracestat.py"
HEAPVIZ_FRESH="$fresh" python3 -m unittest -v tests/tools/test_heapviz.py tests/tools/test_tracestat.py \
    >build/tools/unittest.log 2>&1
rc=$?
cat build/tools/unittest.log
last=$(grep -E '^(OK|FAILED)' build/tools/unittest.log | tail -n 1)
count() { # count failures|errors|skipped: from unittest's closing line, 0 if absent
    n=$(echo "$last" | sed -n "s/.*$1=\([0-9]*\).*/\1/p")
    echo "${n:-0}"
}
ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' build/tools/unittest.log)
failed=$(($(count failures) + $(count errors) + $(count skipped))) # a skip is not a pass
passed=$(( ${ran:-0} - failed ))
[ $rc -ne 0 ] && [ "$failed" -eq 0 ] && failed=1 # crashed before unittest could count
[ $status -ne 0 ] && failed=$((failed + 1))       # a dump_sample failed
echo "$passed $failed" >build/results/tools
echo "tools: $passed passed, $failed failed"
[ $rc -eq 0 ] && [ $status -eq 0 ] && [ "$(count skipped)" -eq 0 ]
