#!/bin/sh
# The NUMA topology in the booted kernel (arch/x86/numa.c, issue 13 item 1): the
# real kernel under QEMU with -numa layouts.  QEMU builds the SRAT from -numa
# node (memory from -object memory-backend-ram, CPUs from cpus=) and a SLIT when
# -numa dist is given; the kernel prints one "numa: ..." line.  Every "numa:" and
# "acpi:" line of the boot must be exactly the expected ones, then a clean poweroff.
#
# QEMU's SRAT cuts the 640 KB - 1 MB hole out of node 0 (so node 0 has two
# ranges) and the 3-4 GB PCI hole out of RAM above 3 GB; "cpus" in the line are
# CPU indices (cpu_topology()), here equal to the APIC ids.
#
# With two nodes or more, the PMM's side (issue 13 item 2, kernel/numa_pmm.c)
# follows in lines "numa: pmm ...": each node's RAM pages, which must be what
# QEMU was given less what its firmware keeps out of the memory map: on node
# 0 the 640 KB - 1 MB hole and the EBDA's page (the map's RAM ends at
# 0x9fc00): 97 pages; on the node holding the top of RAM below 4 GB, the
# firmware's last 128 KB (reserved): 32 pages.  Then a page allocated on each
# CPU (smp_run) from its own node (or, when that node has no memory, from the
# nearest), and the last node with memory emptied by strict allocations, its
# next page from the nearest other node; and 16 pages of vmalloc_node for each
# node (from it, or the nearest with memory) and 16 interleaved over all; and
# kmalloc_node (a size-class object, a 3-page block) and kmem_cache_alloc_node
# on each node (every page on it, or the nearest with memory), kmalloc on each
# CPU from its own node's slabs, kmem_cache_check and heap_check at 0.
# After each layout's boot, the test kernel's whole in-kernel suite on the same layout.
#   usage: numa-check.sh "<qemu command and options>" build/kernel.elf build/kernel-test.elf
qemu_base=$1
kernel=$2
test_kernel=$3
log=build/numa.log
. tools/check-lib.sh

# boot WHAT QEMU-ARGS -- APPEND -- EXPECTED-LINE...: one boot, its numa/acpi lines compared.
boot() {
    boot_args "$@"
    shift $boot_shift
    echo "== numa check: $what (qemu$qargs, -append \"$append\")"
    start=$(now)
    # shellcheck disable=SC2086 # qargs: several words
    timeout 30 $qemu_base $qargs -serial stdio -kernel "$kernel" -append "$append" \
        </dev/null >"$log.raw" 2>&1
    rc=$?
    clean_log "$log.raw" "$log"
    expect_lines "$log" '^(numa|acpi): ' "$what" "$@"
    expect_clean_poweroff "$log" $rc
    echo "  ($(seconds_since "$start") s)"
    [ -n "$test_kernel" ] && suite "$@"
}

# suite: the test kernel's whole in-kernel suite (tests/kernel) on the layout of the last
# boot (its qargs and append; its kernel's numa lines must be the boot's): every layer's tests with the PMM's lists per node and each
# CPU's pages from its own node (issue 13 item 5: "the whole existing suite passes" in each).
suite() {
    echo "== numa check: the in-kernel suite, $what"
    start=$(now)
    # shellcheck disable=SC2086 # qargs: several words
    timeout 600 $qemu_base $qargs -serial "file:$log.raw" -kernel "$test_kernel" \
        -append "$append" -initrd "$test_kernel first-module,$test_kernel" </dev/null
    rc=$?
    clean_log "$log.raw" "$log"
    ktest_verdict "$log" "$rc" "the in-kernel suite: $what"
    expect_lines "$log" '^(numa|acpi): ' "the suite's kernel saw the same layout" "$@"
    suite_runs=$((suite_runs + 1))
    echo "  ($(seconds_since "$start") s)"
}
suite_runs=0

# mem ID SIZE: a RAM backend for a node
mem() { echo "-object memory-backend-ram,id=$1,size=$2"; }

node0_640k="0x00000000-0x0009ffff"

# pages MB LESS: the pages of a node of MB megabytes, less LESS pages the firmware keeps
pages() { echo $(($1 * 256 - $2)); }
local_ok="each from its own node or the nearest"
node_map() { # node_map WHAT "0 0 ...": "numa: pmm WHAT: node 0 -> node A, node 1 -> node B, ..."
    nm_i=0 nm_text="numa: pmm $1:"
    for nm_node in $2; do
        [ $nm_i -gt 0 ] && nm_text="$nm_text,"
        nm_text="$nm_text node $nm_i -> node $nm_node"
        nm_i=$((nm_i + 1))
    done
    echo "$nm_text"
}
vmalloc_line() { # vmalloc_line NODES "0 0 ...": node N's vmalloc_node pages came from the Nth
    echo "$(node_map vmalloc_node "$2"); interleaved over $1 nodes: ok"
}
kmalloc_line() { # kmalloc_line "0 0 ...": node N's kmalloc_node objects came from the Nth
    echo "$(node_map kmalloc_node "$1"); kmalloc by CPU: $local_ok; checkers 0: ok"
}
fallback() { # fallback EMPTIED NEXT: the line of the exhaustion check
    echo "numa: pmm fallback: node $1 emptied (strict), its next page from node $2 (nearest with memory: node $2); all given back, pmm_check 0: ok"
}

# shellcheck disable=SC2046 # mem: several words
boot "2 nodes of 32 MB, 2 CPUs each, distance 21" \
    -m 64M -smp 4 $(mem m0 32M) $(mem m1 32M) \
    -numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,cpus=2-3 \
    -numa dist,src=0,dst=1,val=21 -- autopoweroff \
    "numa: 2 nodes from ACPI SRAT: node 0 $node0_640k 0x00100000-0x01ffffff cpus 0 1, node 1 0x02000000-0x03ffffff cpus 2 3; SLIT 10 21/21 10" \
    "numa: pmm node 0 $(pages 32 97) pages, node 1 $(pages 32 32) pages" \
    "numa: pmm pages by CPU: cpu 0 node 0, cpu 1 node 0, cpu 2 node 1, cpu 3 node 1: $local_ok" \
    "$(vmalloc_line 2 "0 1")" \
    "$(kmalloc_line "0 1")" \
    "$(fallback 1 0)"

# shellcheck disable=SC2046
boot "4 nodes of 16 MB, one CPU each, distances 10-40" \
    -m 64M -smp 4 $(mem m0 16M) $(mem m1 16M) $(mem m2 16M) $(mem m3 16M) \
    -numa node,nodeid=0,memdev=m0,cpus=0 -numa node,nodeid=1,memdev=m1,cpus=1 \
    -numa node,nodeid=2,memdev=m2,cpus=2 -numa node,nodeid=3,memdev=m3,cpus=3 \
    -numa dist,src=0,dst=1,val=20 -numa dist,src=0,dst=2,val=30 -numa dist,src=0,dst=3,val=40 \
    -numa dist,src=1,dst=2,val=20 -numa dist,src=1,dst=3,val=30 -numa dist,src=2,dst=3,val=20 \
    -- autopoweroff \
    "numa: 4 nodes from ACPI SRAT: node 0 $node0_640k 0x00100000-0x00ffffff cpus 0, node 1 0x01000000-0x01ffffff cpus 1, node 2 0x02000000-0x02ffffff cpus 2, node 3 0x03000000-0x03ffffff cpus 3; SLIT 10 20 30 40/20 10 20 30/30 20 10 20/40 30 20 10" \
    "numa: pmm node 0 $(pages 16 97) pages, node 1 $(pages 16 0) pages, node 2 $(pages 16 0) pages, node 3 $(pages 16 32) pages" \
    "numa: pmm pages by CPU: cpu 0 node 0, cpu 1 node 1, cpu 2 node 2, cpu 3 node 3: $local_ok" \
    "$(vmalloc_line 4 "0 1 2 3")" \
    "$(kmalloc_line "0 1 2 3")" \
    "$(fallback 3 2)"

# shellcheck disable=SC2046
boot "unequal nodes: 16 MB and 48 MB, no SLIT" \
    -m 64M -smp 4 $(mem m0 16M) $(mem m1 48M) \
    -numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,cpus=2-3 \
    -- autopoweroff \
    "numa: 2 nodes from ACPI SRAT: node 0 $node0_640k 0x00100000-0x00ffffff cpus 0 1, node 1 0x01000000-0x03ffffff cpus 2 3; no SLIT: 10 20/20 10" \
    "numa: pmm node 0 $(pages 16 97) pages, node 1 $(pages 48 32) pages" \
    "numa: pmm pages by CPU: cpu 0 node 0, cpu 1 node 0, cpu 2 node 1, cpu 3 node 1: $local_ok" \
    "$(vmalloc_line 2 "0 1")" \
    "$(kmalloc_line "0 1")" \
    "$(fallback 1 0)"

# shellcheck disable=SC2046
boot "a node with memory and no CPU" \
    -m 64M -smp 4 $(mem m0 32M) $(mem m1 32M) \
    -numa node,nodeid=0,memdev=m0,cpus=0-3 -numa node,nodeid=1,memdev=m1 \
    -numa dist,src=0,dst=1,val=25 -- autopoweroff \
    "numa: 2 nodes from ACPI SRAT: node 0 $node0_640k 0x00100000-0x01ffffff cpus 0 1 2 3, node 1 0x02000000-0x03ffffff no cpus; SLIT 10 25/25 10" \
    "numa: pmm node 0 $(pages 32 97) pages, node 1 $(pages 32 32) pages" \
    "numa: pmm pages by CPU: cpu 0 node 0, cpu 1 node 0, cpu 2 node 0, cpu 3 node 0: $local_ok" \
    "$(vmalloc_line 2 "0 1")" \
    "$(kmalloc_line "0 1")" \
    "$(fallback 1 0)"

# shellcheck disable=SC2046
boot "a node with CPUs and no memory" \
    -m 64M -smp 4 $(mem m0 64M) \
    -numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,cpus=2-3 -- autopoweroff \
    "numa: 2 nodes from ACPI SRAT: node 0 $node0_640k 0x00100000-0x03ffffff cpus 0 1, node 1 no memory cpus 2 3; no SLIT: 10 20/20 10" \
    "numa: pmm node 0 $(pages 64 129) pages, node 1 0 pages" \
    "numa: pmm pages by CPU: cpu 0 node 0, cpu 1 node 0, cpu 2 node 0 (node 1 has no free memory), cpu 3 node 0 (node 1 has no free memory): $local_ok" \
    "$(vmalloc_line 2 "0 0")" \
    "$(kmalloc_line "0 0")" \
    "numa: pmm fallback: fewer than two nodes with free memory: not tried"

boot "no -numa: one node, no SRAT, no error line" -m 64M -smp 4 -- autopoweroff \
    "numa: 1 node (no SRAT): node 0 0x00000000-0x03fdffff cpus 0 1 2 3"

# shellcheck disable=SC2046
boot "asymmetric distances 21 and 31: taken as given" \
    -m 64M -smp 4 $(mem m0 32M) $(mem m1 32M) \
    -numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,cpus=2-3 \
    -numa dist,src=0,dst=1,val=21 -numa dist,src=1,dst=0,val=31 -- autopoweroff \
    "numa: 2 nodes from ACPI SRAT: node 0 $node0_640k 0x00100000-0x01ffffff cpus 0 1, node 1 0x02000000-0x03ffffff cpus 2 3; SLIT 10 21/31 10" \
    "numa: pmm node 0 $(pages 32 97) pages, node 1 $(pages 32 32) pages" \
    "numa: pmm pages by CPU: cpu 0 node 0, cpu 1 node 0, cpu 2 node 1, cpu 3 node 1: $local_ok" \
    "$(vmalloc_line 2 "0 1")" \
    "$(kmalloc_line "0 1")" \
    "$(fallback 1 0)"

# shellcheck disable=SC2046
boot "boot option cpus=one: one CPU running, the SRAT's other three counted" \
    -m 64M -smp 4 $(mem m0 32M) $(mem m1 32M) \
    -numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,cpus=2-3 \
    -- "autopoweroff cpus=one" \
    "numa: 2 nodes from ACPI SRAT: node 0 $node0_640k 0x00100000-0x01ffffff cpus 0, node 1 0x02000000-0x03ffffff no cpus; no SLIT: 10 20/20 10; 3 SRAT CPUs not running" \
    "numa: pmm node 0 $(pages 32 97) pages, node 1 $(pages 32 32) pages" \
    "numa: pmm pages by CPU: cpu 0 node 0: $local_ok" \
    "$(vmalloc_line 2 "0 1")" \
    "$(kmalloc_line "0 1")" \
    "$(fallback 1 0)"

# shellcheck disable=SC2046
boot "-smp 2,maxcpus=4: the SRAT lists CPUs not running" \
    -m 64M -smp 2,maxcpus=4 $(mem m0 32M) $(mem m1 32M) \
    -numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,cpus=2-3 \
    -- autopoweroff \
    "numa: 2 nodes from ACPI SRAT: node 0 $node0_640k 0x00100000-0x01ffffff cpus 0 1, node 1 0x02000000-0x03ffffff no cpus; no SLIT: 10 20/20 10; 2 SRAT CPUs not running" \
    "numa: pmm node 0 $(pages 32 97) pages, node 1 $(pages 32 32) pages" \
    "numa: pmm pages by CPU: cpu 0 node 0, cpu 1 node 0: $local_ok" \
    "$(vmalloc_line 2 "0 1")" \
    "$(kmalloc_line "0 1")" \
    "$(fallback 1 0)"

# shellcheck disable=SC2046
boot "-m 4G, 2 nodes of 2 GB: node 1's RAM above 4 GB left out" \
    -m 4G -smp 2 $(mem m0 2G) $(mem m1 2G) \
    -numa node,nodeid=0,memdev=m0,cpus=0 -numa node,nodeid=1,memdev=m1,cpus=1 \
    -numa dist,src=0,dst=1,val=31 -- autopoweroff \
    "numa: 2 nodes from ACPI SRAT: node 0 $node0_640k 0x00100000-0x7fffffff cpus 0, node 1 0x80000000-0xbfffffff cpus 1; SLIT 10 31/31 10; 1 range above 4 GB left out" \
    "numa: pmm node 0 $(pages 2048 97) pages, node 1 $(pages 1024 32) pages" \
    "numa: pmm pages by CPU: cpu 0 node 0, cpu 1 node 1: $local_ok" \
    "$(vmalloc_line 2 "0 1")" \
    "$(kmalloc_line "0 1")" \
    "$(fallback 1 0)"

# The console's numa command (kernel/shell.c) on two nodes of 32 MB: the topology and the
# PMM's per-node pages (total as the boot line's), CPUs, allocation counts and distances.
# shellcheck disable=SC2046
echo "== numa check: the console's numa command, 2 nodes of 32 MB"
printf '%s\n' numa 'palloc 1' numa poweroff >"$log.in"
timeout 30 $qemu_base -m 64M -smp 4 $(mem m0 32M) $(mem m1 32M) \
    -numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,cpus=2-3 \
    -numa dist,src=0,dst=1,val=21 -serial stdio -kernel "$kernel" <"$log.in" >"$log.raw" 2>&1
rc=$?
clean_log "$log.raw" "$log"
expect "$log" '^2 nodes \(ACPI SRAT\), distances: ACPI SLIT; the PMM uses 2$' "numa: the topology's source"
expect "$log" "^ +0  $node0_640k +$(pages 32 97) +[0-9]+ +[0-9]+ +[0-9]+  0,1 +[1-9][0-9]* +0 +[0-9]+$" "numa: node 0's first range, its pages (as the boot line), CPUs 0 and 1, local allocations"
expect "$log" '^ +0x00100000-0x01ffffff$' "numa: node 0's second range"
expect "$log" "^ +1  0x02000000-0x03ffffff +$(pages 32 32) +[0-9]+ +[0-9]+ +[0-9]+  2,3 +[0-9]+ +[0-9]+ +[0-9]+$" "numa: node 1, its pages, CPUs 2 and 3"
# palloc 1 on CPU 0 is one more local allocation on node 0: the column counts
local_counts=$(sed -n "s/^ *0  $node0_640k .*  0,1 *\([0-9]*\) .*/\1/p" "$log")
# shellcheck disable=SC2086 # two numbers, split on purpose
set -- $local_counts
if [ $# -eq 2 ] && [ "$2" -gt "$1" ]; then
    ok "numa: node 0's local allocations rose with palloc 1 ($1 -> $2)"
else
    not_ok "numa: node 0's local allocations before and after palloc 1: '$local_counts'"
fi
expect "$log" '^ +0: +10 +21$' "numa: distances from node 0"
expect "$log" '^ +1: +21 +10$' "numa: distances from node 1"
expect_not "$log" 'CPU exception|PANIC' "numa: no fault"
exit_status_is "$rc" 0

# Every layout above ran the whole suite: say how many did, so a lost run shows.
if [ -n "$test_kernel" ]; then
    if [ "$suite_runs" -eq 10 ]; then
        ok "the in-kernel suite ran in all $suite_runs -numa layouts"
    else
        not_ok "the in-kernel suite ran in $suite_runs -numa layouts, not 10"
    fi
fi

write_results numa
echo "numa checks: $passed passed, $failed failed (last log in $log)"
exit $status
