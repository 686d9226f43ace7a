#!/bin/sh
# make bench-numa (part of make bench): build/bench/numa_bench's locality
# figures, then callgrind's instructions per pmm_alloc_page + pmm_free_page
# pair on CPU 0 (build/bench/pmm_pairs, --toggle-collect=insn_pass counts only
# the pairs): this tree with no nodes registered and with two, and the
# node-blind PMM of commit NUMA_REF (the last before the PMM knew nodes: its
# mm/, host/ and include/ from git, built the same way; skipped without the
# history).  Files: build/bench/numa.txt, build/bench/callgrind.numa.*.
#   usage: numa-bench.sh build/bench/numa_bench build/bench/pmm_pairs "CC and FLAGS"
bench=${1:-build/bench/numa_bench}
pairs=${2:-build/bench/pmm_pairs}
cc=$3
ref=b512a3f
. tools/bench-lib.sh
bench_figures numa "NUMA (issue 13), one run:" "$bench"
have_callgrind numa-bench || exit 0
# per_pair NAME PROGRAM ARG: instructions per pair, or empty
per_pair() {
    cg=$dir/callgrind.numa.$1
    if ! total=$(pass_insns "$cg" "$2" "$3"); then
        echo "numa-bench: $1 failed under callgrind (see $cg.log)" >&2
        return
    fi
    awk -v n="$(awk '/^pairs/ { print $2 }' "$cg.out")" -v t="$total" 'BEGIN { printf "%d", t / n }'
}
one=$(per_pair one "$pairs" one)
two=$(per_pair two "$pairs" two)
# build_ref COMMIT OUT: bench/pmm_pairs.c against that commit's mm/, host/, include/
build_ref() {
    src=$dir/ref-$1
    [ -n "$cc" ] && git cat-file -e "$1^{commit}" 2>/dev/null &&
        rm -rf "$src" && mkdir -p "$src" && git archive "$1" mm host include | tar -x -C "$src" &&
        $cc -I"$src/include" -I"$src/mm" -I"$src/host" -o "$2" bench/pmm_pairs.c \
            "$src"/mm/*.c "$src/host/glue.c" "$src/host/glue_common.c" -lpthread
}
blind=""
if build_ref "$ref" "$dir/pmm_pairs_ref"; then
    blind=$(per_pair blind "$dir/pmm_pairs_ref" one)
fi
# the PMM just before its per-CPU lists (issue 12 item 3): the same pairs, then threads
pcp_ref=2056496
nopcp_one="" nopcp_two=""
if build_ref "$pcp_ref" "$dir/pmm_pairs_nopcp"; then
    nopcp_one=$(per_pair nopcp-one "$dir/pmm_pairs_nopcp" one)
    nopcp_two=$(per_pair nopcp-two "$dir/pmm_pairs_nopcp" two)
fi
echo "  instructions per pmm_alloc_page + pmm_free_page pair (callgrind):"
echo "    this PMM, one node: $one; two nodes (CPU 0 on node 0): $two"
if [ -n "$blind" ]; then
    echo "    the node-blind PMM of commit $ref, one node: $blind"
    awk -v a="$blind" -v b="$one" -v c="$two" 'BEGIN {
        printf "    node-aware / node-blind on one node: %.3fx (target: within 5%%): %s; two nodes: %.3fx\n",
            b / a, (b <= a * 1.05 ? "met" : "MISSED"), c / a }'
else
    echo "    the node-blind PMM of commit $ref: not built (no git history here): no comparison"
fi
if [ -n "$nopcp_one" ]; then
    echo "  the per-CPU lists of single pages (issue 12 item 3): instructions per pair"
    awk -v a="$nopcp_one" -v b="$one" -v c="$nopcp_two" -v d="$two" -v r="$pcp_ref" 'BEGIN {
        printf "    one node: %d before (commit %s, no lists) -> %d with them: %.3fx\n", a, r, b, b / a
        printf "    two nodes: %d before -> %d with them: %.3fx\n", c, d, d / c }'
    # threads: the best of 3 runs each, wall clock (noisy on a shared machine)
    best() { # PROGRAM N
        for i in 1 2 3; do "$1" threads "$2"; done | awk '{ if (!b || $4 < b) b = $4 } END { print b }'
    }
    for n in 1 2; do
        before=$(best "$dir/pmm_pairs_nopcp" $n)
        after=$(best "$pairs" $n)
        awk -v n=$n -v a="$before" -v b="$after" 'BEGIN {
            printf "    %d thread(s) at once, ns per pair (best of 3, wall clock): %.1f before -> %.1f: %.2fx\n",
                n, a, b, b / a }'
    done
else
    echo "  the per-CPU lists: commit 2056496 (before them) not built (no git history): no comparison"
fi
