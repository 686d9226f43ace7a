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
dir=build/bench
mkdir -p "$dir"
echo "NUMA (issue 13), one run:"
"$bench" | tee "$dir/numa.txt" || exit 1
. tools/bench-lib.sh
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
blind=""
src=$dir/numa-ref
if [ -n "$cc" ] && git cat-file -e "$ref^{commit}" 2>/dev/null; then
    rm -rf "$src" && mkdir -p "$src" && git archive "$ref" mm host include | tar -x -C "$src" &&
        $cc -I"$src/include" -I"$src/mm" -I"$src/host" -o "$dir/pmm_pairs_ref" bench/pmm_pairs.c \
            "$src"/mm/*.c "$src/host/glue.c" "$src/host/glue_common.c" -lpthread &&
        blind=$(per_pair blind "$dir/pmm_pairs_ref" one)
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
