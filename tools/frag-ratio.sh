#!/bin/sh
# From frag_bench's lines, print first-fit's fragmentation over best-fit's for each trace.
awk '{ split($0, a, "fragmentation "); f = a[2] + 0; t = substr($0, 12, 16); gsub(/ +$/, "", t)
       if ($1 == "best-fit") best[t] = f; else first[t] = f }
     END { for (t in best) printf "  %-16s best-fit %.3f  first-fit %.3f  first/best %.2fx\n", t, best[t], first[t], first[t] / best[t] }' "$1"
