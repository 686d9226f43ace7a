#!/bin/sh
# docs/heap.svg: a picture of the kernel's heap after real work (make heap-picture).
#   usage: heap-picture.sh "<qemu command and options>" build/kernel.elf OUT.svg [CMDLINE]
# (CMDLINE: boot options, e.g. "mmdebug" for a debug kernel's red zones and quarantine)
# The kernel is booted with its serial console driven through a pipe, as
# tools/boot-check.sh does: `stress 2000 7`, then allocations of assorted sizes
# (`alloc`), then `free` of every other one, then `heap`; tools/heapviz.py draws
# the last heap_dump of the serial log.  The addresses to free come from a first
# boot with the same commands: the kernel is deterministic, which is checked.
qemu_base=$1
kernel=$2
out=$3
append=${4:-}
log=build/heap-picture${append:+-$append}.log
sizes="40 3000 100 9000 24 700 5000 64 20000 300 1500 8 12000 2048 500 6000 90 30000 200 4000"

run() { # run COMMANDS: boot, type them, power off; the serial log goes to $log
    printf '%s\npoweroff\n' "$1" |
        timeout 120 $qemu_base -m 32M -serial stdio -kernel "$kernel" -append "$append" >"$log.raw" 2>&1
    tr -d '\r' <"$log.raw" >"$log"
}
addresses() {
    sed -n 's/^kmalloc([0-9]*) = \(0x[0-9a-f]*\)$/\1/p' "$log"
}

cmds="stress 2000 7"
for s in $sizes; do
    cmds="$cmds
alloc $s"
done
run "$cmds"
first=$(addresses)
[ -n "$first" ] || { echo "heap-picture: no allocations in $log" >&2; exit 1; }
frees=""
i=0
for a in $first; do
    [ $((i % 2)) -eq 0 ] && frees="$frees
free $a"
    i=$((i + 1))
done
run "$cmds$frees
heap"
if [ "$(addresses)" != "$first" ]; then
    echo "heap-picture: the second boot allocated elsewhere: not deterministic ($log)" >&2
    exit 1
fi
mkdir -p "$(dirname "$out")"
python3 tools/heapviz.py "$log" -o "$out"
