#!/bin/sh
# make bench, threads: build/bench/thread_bench (no mm/ inside) under each
# allocator's LD_PRELOAD library: glibc as is, jemalloc, mimalloc, tcmalloc
# (Debian's packages) and ours (build/host/libkmalloc.so, the shim), so every
# allocator is called through the same binary the same way.  Three rounds, the
# allocators taking turns in each (machine load drifts over all of them alike);
# each cell keeps its best round: the highest ops/s, the lowest ns per free.
# Writes build/bench/threads.txt (every line) and build/bench/threads.csv.
bench=${1:-build/bench/thread_bench}
shim=${2:-build/host/libkmalloc.so}
secs=${3:-0.15}
shim=$(cd "$(dirname "$shim")" && pwd)/$(basename "$shim")
lib=/usr/lib/x86_64-linux-gnu
out=build/bench/threads.txt
csv=build/bench/threads.csv
: >"$out"
names=""
# A busy machine takes cores from the threads: say how busy it was.
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
for round in 1 2 3; do
    for entry in glibc: jemalloc:$lib/libjemalloc.so.2 mimalloc:$lib/libmimalloc.so.2 \
        tcmalloc:$lib/libtcmalloc_minimal.so.4 ours:$shim; do
        name=${entry%%:*}
        so=${entry#*:}
        if [ -n "$so" ] && [ ! -f "$so" ]; then
            [ "$round" = 1 ] && echo "thread-bench: $so missing (tools/deps.sh bench installs it): $name skipped"
            continue
        fi
        [ "$round" = 1 ] && names="$names $name"
        if ! LD_PRELOAD=$so "$bench" "$secs" >"$out.one" 2>&1; then
            echo "thread-bench: $name, round $round: thread_bench failed:"
            cat "$out.one"
        fi
        sed "s/^/$name $round /" "$out.one" >>"$out"
    done
done
rm -f "$out.one"
echo "load average at the end:   $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v names="$names" -v csv="$csv" -v ncpu="$(nproc)" '
$3 == "tput"   { k = $1 SUBSEP $4 SUBSEP $5; if ($6 > best[k]) best[k] = $6
                 if ($5 <= ncpu && $7 >= 0) { waited += $7; nwait++ } }
$3 == "remote" { if (!($1 in loc) || $4 < loc[$1]) loc[$1] = $4
                 if (!($1 in rem) || $5 < rem[$1]) rem[$1] = $5 }
END {
    n = split(names, a, " ")
    split("fixed64 small prodcons large", w, " ")
    desc["fixed64"] = "fixed 64 B churn"; desc["small"] = "random 8-512 B churn"
    desc["prodcons"] = "producer/consumer"; desc["large"] = "random 8 B-64 KB"
    print "allocator,workload,threads,ops_per_s" > csv
    printf "%-21s %3s", "workload (Mops/s)", "thr"
    for (i = 1; i <= n; i++) printf " %9s", a[i]
    printf "   ours / each\n"
    for (j = 1; j <= 4; j++) for (t = 1; t <= 4; t *= 2) {
        printf "%-21s %3d", desc[w[j]], t
        for (i = 1; i <= n; i++) {
            v = best[a[i], w[j], t]; printf " %9.2f", v / 1e6
            print a[i] "," w[j] "," t "," v > csv
        }
        printf "  "
        o = best["ours", w[j], t]
        for (i = 1; i <= n; i++) if (a[i] != "ours")
            printf " %s %.2fx", a[i], best[a[i], w[j], t] ? o / best[a[i], w[j], t] : 0
        printf "\n"
    }
    printf "\nscaling, throughput with 2 threads / 1 thread (4 / 1 in brackets; %d CPUs):\n", ncpu
    printf "%-21s", "workload"
    for (i = 1; i <= n; i++) printf " %14s", a[i]
    printf "\n"
    for (j = 1; j <= 4; j++) {
        printf "%-21s", desc[w[j]]
        for (i = 1; i <= n; i++) {
            one = best[a[i], w[j], 1]
            printf "   %5.2fx (%4.2fx)", one ? best[a[i], w[j], 2] / one : 0, one ? best[a[i], w[j], 4] / one : 0
        }
        printf "\n"
    }
    printf "(producer/consumer: 1 thread does both roles in turn, all frees local; 2 threads are one\n"
    printf " producer and one consumer, every free remote: its \"scaling\" is the price of remote frees)\n"
    printf "\nremote free: 1024 objects of 64 B allocated by one thread, freed by it (local) or by\n"
    printf "another (remote); ns per free, fastest of 100 rounds each, best of 3 runs:\n"
    for (i = 1; i <= n; i++)
        printf "  %-9s local %6.1f ns  remote %6.1f ns  remote/local %5.2fx\n", a[i], loc[a[i]], rem[a[i]],
               loc[a[i]] ? rem[a[i]] / loc[a[i]] : 0
    printf "\ntargets (issue 12), ours:\n"
    printf "  scaling 1 -> 2 threads >= 1.70x, as measured:\n    "
    for (j = 1; j <= 4; j++) if (w[j] != "prodcons")
        printf "%s %s%s", desc[w[j]], verdict(ratio(best, w[j]), 1.7, 1), (j < 4 ? "; " : "\n")
    printf "  remote free <= 3x local: %s\n", verdict(loc["ours"] ? rem["ours"] / loc["ours"] : 0, 3, 0)
    if (nwait) {
        printf "\nthe threads of the 1- and %d-thread runs waited for a CPU %.0f%% of their time (schedstat;\n", ncpu, 100 * waited / nwait
        printf "about 0%% on an idle machine)\n"
        if (waited / nwait > 0.1)
            printf "WARNING: other processes took CPUs from the threads: the scaling figures above are not\n" \
                   "         an idle machine\047s; run make bench again on a quiet machine for them\n"
    }
}
# ours with 2 threads / with 1 in a table of figures (0: none)
function ratio(t, wl) {
    return t["ours", wl, 1] > 0 && t["ours", wl, 2] > 0 ? t["ours", wl, 2] / t["ours", wl, 1] : 0
}
# "1.02x (missed: 0.60 of the target)" / "1.00x (met)"; at_least: the target is a minimum
function verdict(v, target, at_least) {
    if (v == 0) return "no figure"
    if (at_least ? v >= target : v <= target) return sprintf("%.2fx (met)", v)
    return sprintf("%.2fx (missed: %.2f of the target)", v, at_least ? v / target : target / v)
}' "$out"
