#!/bin/sh
# From frag_bench's lines, print each placement's fragmentation per trace, and
# the ratios against ours (good-fit).
awk '/fragmentation/ { split($0, a, "fragmentation "); f = a[2] + 0
       t = substr($0, 11, 16); gsub(/ +$/, "", t); v[$1, t] = f; traces[t] = 1 }
     END { for (t in traces)
               printf "  %-16s good-fit %.3f  best-scan %.3f  first-fit %.3f  best-scan/good %.2fx  first/good %.2fx\n",
                      t, v["good-fit", t], v["best-scan", t], v["first-fit", t],
                      v["best-scan", t] / v["good-fit", t], v["first-fit", t] / v["good-fit", t] }' "$1"
