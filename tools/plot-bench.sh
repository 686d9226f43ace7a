#!/bin/sh
# Turn build/bench/alloc.csv (allocator,workload,mm_mops,other_mops,ratio) into
# build/bench/alloc.svg: one bar per workload and allocator, the throughput of
# our heap over theirs, on a log scale with a line at 1x (even).
csv=${1:-build/bench/alloc.csv}
svg=${2:-build/bench/alloc.svg}
awk -F, 'NR > 1 { n++; alloc[n] = $1; work[n] = $2; r[n] = $5 }
END {
    w = 60 + n * 34; h = 360; base = 180; scale = 60   # 60 px per factor of 10
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"10\">\n", w, h
    printf "<text x=\"10\" y=\"16\" font-size=\"13\">our heap / other allocator, throughput (log scale; above the line: ours faster)</text>\n"
    for (k = -2; k <= 2; k++) {
        y = base - k * scale
        printf "<line x1=\"40\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\"/>\n", w - 10, y, y, k == 0 ? "black" : "#ddd"
        printf "<text x=\"4\" y=\"%d\">%gx</text>\n", y + 4, 10 ^ k
    }
    split("glibc jemalloc mimalloc tcmalloc", names, " ")
    col["glibc"] = "#4c72b0"; col["jemalloc"] = "#dd8452"; col["mimalloc"] = "#55a868"; col["tcmalloc"] = "#c44e52"
    for (i = 1; i <= n; i++) {
        x = 50 + (i - 1) * 34
        v = log(r[i]) / log(10) * scale
        y = v > 0 ? base - v : base
        printf "<rect x=\"%d\" y=\"%.1f\" width=\"26\" height=\"%.1f\" fill=\"%s\"><title>%s vs %s: %.2fx</title></rect>\n", x, y, (v > 0 ? v : -v), col[alloc[i]], work[i], alloc[i], r[i]
        printf "<text x=\"%d\" y=\"%d\" transform=\"rotate(60 %d %d)\">%s / %s</text>\n", x + 4, base + 130, x + 4, base + 130, alloc[i], work[i]
    }
    print "</svg>"
}' "$csv" >"$svg"
echo "plot: $svg"
