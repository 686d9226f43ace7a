#!/bin/sh
# QEMU's memory and -numa options for `make run NUMA=N`: 64 MB split into N
# nodes of equal size, the SMP CPUs dealt out in order (SMP/N each, the last
# node taking what is left), distance 21 between any two nodes.
#   usage: numa-qemu-args.sh NODES CPUS
nodes=$1 cpus=$2
case $nodes in
1 | 2 | 4) ;;
*)
    echo "numa-qemu-args.sh: NUMA=$nodes: give 1, 2 or 4 nodes" >&2
    exit 1
    ;;
esac
if [ "$cpus" -lt "$nodes" ]; then
    echo "numa-qemu-args.sh: SMP=$cpus: at least one CPU per node (NUMA=$nodes)" >&2
    exit 1
fi
size=$((64 / nodes))
per=$((cpus / nodes))
args="-m 64M"
n=0
while [ $n -lt "$nodes" ]; do
    first=$((n * per))
    last=$((first + per - 1))
    [ $n -eq $((nodes - 1)) ] && last=$((cpus - 1))
    args="$args -object memory-backend-ram,id=m$n,size=${size}M"
    args="$args -numa node,nodeid=$n,memdev=m$n,cpus=$first-$last"
    n=$((n + 1))
done
a=0
while [ $a -lt "$nodes" ]; do
    b=$((a + 1))
    while [ $b -lt "$nodes" ]; do
        args="$args -numa dist,src=$a,dst=$b,val=21"
        b=$((b + 1))
    done
    a=$((a + 1))
done
echo "$args"
