# shellcheck shell=sh
# fuzz-lib.sh - what the libFuzzer checks share (sourced after check-lib.sh,
# whose ok/not_ok count them): replaying the seeds, a timed run, and the rule
# that a planted bug counts as found only if the fuzzer stops with the message
# expected of it.  STOP is a grep -E pattern for the target's own failure line.

# replay_seeds BIN SEEDS LOG_PREFIX STOP: every seed run once, one check each
replay_seeds() {
    for f in "$2"/*; do
        name=$(basename "$f")
        if "$1" "$f" >"$3$name.log" 2>&1; then
            ok "seed $name"
        else
            not_ok "seed $name:"
            grep -A3 -E "$4|ERROR" "$3$name.log" | head -n 8
        fi
    done
}

# fuzz_for BIN SECONDS MAX_LEN DIR STOP SEEDS: SECONDS of fuzzing from SEEDS,
# one check; the corpus it grows, its log and any crash go to DIR
fuzz_for() {
    rm -rf "$4" && mkdir -p "$4/corpus"
    timeout $(($2 + 60)) "$1" -max_total_time="$2" -max_len="$3" -timeout=20 \
        -artifact_prefix="$4/" -print_final_stats=1 "$4/corpus" "$6" >"$4/run.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$4/run.log")
    cov=$(grep -o 'cov: [0-9]*' "$4/run.log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        ok "$2 s of fuzzing: ${runs:-?} inputs, $cov, no crash"
    else
        not_ok "fuzzing crashed (exit status $rc); the input is in $4/crash-*:"
        grep -A6 -E "$5|ERROR:" "$4/run.log" | head -n 12
    fi
}

# fuzz_finds BIN SECONDS MAX_LEN DIR WHAT PATTERN STOP [SEEDS]: the fuzzer,
# started from SEEDS (none if absent or ""), must stop within SECONDS on a
# failure whose first STOP line matches PATTERN: the planted bug, not another
fuzz_finds() {
    rm -rf "$4/corpus" && mkdir -p "$4/corpus"
    start=$(date +%s)
    # shellcheck disable=SC2086
    timeout $(($2 + 30)) "$1" -max_total_time="$2" -max_len="$3" -timeout=20 -seed=1 \
        -artifact_prefix="$4/" "$4/corpus" ${8-} >"$4/fuzz.log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    why=$(grep -m1 -E "$7" "$4/fuzz.log" | cut -c1-150)
    if [ $rc -ne 0 ] && echo "$why" | grep -qE "$6"; then
        ok "$5: found in $took s ($why)"
    elif [ -n "$why" ]; then
        not_ok "$5: the fuzzer stopped on something else: $why ($4/fuzz.log)"
    else
        not_ok "$5: not found in $2 s (exit status $rc, $4/fuzz.log)"
    fi
}
