#!/bin/sh
# make bench, allocators: build/bench/alloc_bench runs the same workloads on our
# heap and on the process's malloc; run it once per allocator (glibc as is,
# jemalloc, mimalloc, tcmalloc through LD_PRELOAD, Debian's packages) and keep
# every line in build/bench/alloc.txt, plus build/bench/alloc.csv.
bench=${1:-build/bench/alloc_bench}
lib=/usr/lib/x86_64-linux-gnu
out=build/bench/alloc.txt
csv=build/bench/alloc.csv
: >"$out"
echo "allocator,workload,mm_mops,other_mops,ratio" >"$csv"
for entry in glibc: jemalloc:$lib/libjemalloc.so.2 mimalloc:$lib/libmimalloc.so.2 \
    tcmalloc:$lib/libtcmalloc_minimal.so.4; do
    name=${entry%%:*}
    so=${entry#*:}
    if [ -n "$so" ] && [ ! -f "$so" ]; then
        echo "alloc-bench: $so missing (tools/deps.sh bench installs it): $name skipped" | tee -a "$out"
        continue
    fi
    echo "== ours against $name" | tee -a "$out"
    LD_PRELOAD=$so "$bench" "$name" >"$out.one"
    cat "$out.one" | tee -a "$out"
    awk -v a="$name" '/^throughput/ { w = substr($0, 12, 20); gsub(/ +$/, "", w)
                       r = $NF; sub(/x$/, "", r); printf "%s,%s,%s,%s,%s\n", a, w, $(NF-6), $(NF-3), r }' "$out.one" >>"$csv"
    rm -f "$out.one"
done
