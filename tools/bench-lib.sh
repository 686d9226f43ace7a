# shellcheck shell=sh
# bench-lib.sh - what the benchmark scripts that count instructions share
# (sourced): callgrind over a program's insn_pass() only, the repeatable
# measure on a shared machine.

# bench_figures NAME TITLE PROGRAM...: TITLE, then PROGRAM's figures, shown and kept in
# build/bench/NAME.txt ($dir is build/bench); the calling script stops if PROGRAM fails.
bench_figures() {
    dir=build/bench
    mkdir -p "$dir"
    bf_name=$1
    echo "$2"
    shift 2
    "$@" | tee "$dir/$bf_name.txt" || exit 1
}

# have_callgrind NAME: true if valgrind's callgrind and callgrind_annotate are
# here; otherwise NAME says that the instruction counts are skipped
have_callgrind() {
    command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null && return 0
    echo "$1: valgrind (callgrind) missing (tools/deps.sh bench installs it): instruction counts skipped"
    return 1
}

# pass_insns OUT PROGRAM ARG...: runs PROGRAM under callgrind counting only
# inside insn_pass(); prints the instructions counted.  Callgrind's file is
# OUT, the program's output OUT.out, valgrind's OUT.log; false if it failed.
pass_insns() {
    cg=$1
    shift
    valgrind --tool=callgrind --callgrind-out-file="$cg" --toggle-collect=insn_pass "$@" \
        >"$cg.out" 2>"$cg.log" || return 1
    awk '/^totals:/ { print $2 }' "$cg"
}
