#!/bin/sh
# The suite "embed" of make test (mk/embed.mk; issue 11): mm/ in a kernel that is not ours.
#
# 1. The files README.md's "Embedding `mm/` in your kernel" section lists (its first code
#    block) are copied into an EMPTY directory, build/embed/<compiler>/, with the embedding
#    test kernel's own sources (tests/embed/): what the README forgets is missing there.
# 2. There the kernel is built with clang (--target=i386-elf, ld.lld) and with gcc
#    (-m32, GNU ld): -ffreestanding -fno-builtin -nostdlib, no libgcc; every listed mm/*.c
#    but mm/vmm.c (the kernel has its own paging) and mm/zswap.c (it needs vmm.c's page
#    tables), with the names prefixed (mm_kmalloc...).
# 3. Each image boots under QEMU (TCG, -smp 2,sockets=2) with -m 64 and -m 128: the kernel
#    starts its second CPU, runs the stress on both, prints one line per checker and
#    "embed: PASS"; isa-debug-exit status 1 is a pass.
#    Its memory start-up is two-stage (pmm_init_layout with the boot mapping's 4 MB
#    reachable, then pmm_set_reachable once it has mapped the rest), its paging its own
#    (mm/ maps through its glue_kmap), its kfree(char *) and memset & co. its own.
#   usage: embed-check.sh          (from the top of the tree; CLANG, GCC, QEMU may be set)
# Totals in build/results/embed; EMBED_MEMS, EMBED_COMPILERS narrow the matrix.
CLANG=${CLANG:-clang}
GCC=${GCC:-gcc}
QEMU=${QEMU:-qemu-system-i386}
mems=${EMBED_MEMS:-64M 128M}
compilers=${EMBED_COMPILERS:-clang gcc}
. tools/check-lib.sh

echo "== embed: mm/ as README.md's embedding section lists it, in a kernel of its own"
# The first ``` block after the heading; on each line the leading words that are paths.
files=$(awk '/^## Embedding `mm\/` in your kernel/ { sec = 1; next }
             sec && /^## / { exit }
             sec && /^```/ { if (blk) exit; blk = 1; next }
             blk { for (i = 1; i <= NF && $i ~ /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.\/-]+\.[ch]$/; i++) print $i }' README.md)
if [ -z "$files" ]; then
    not_ok "README.md: no file list in the embedding section"
    write_results embed
    exit 1
fi
missing=""
for f in $files; do
    [ -f "$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
    not_ok "README.md lists files that do not exist:$missing"
else
    ok "README.md lists $(echo "$files" | wc -w) files, all present"
fi
glue_lines=$(wc -l <tests/embed/glue.c)

# build COMPILER: the image build/embed/COMPILER/embed.elf, from the copied files only
build() {
    cc=$1
    dir=build/embed/$cc
    rm -rf "$dir" && mkdir -p "$dir/kernel" || return 1
    for f in $files; do
        mkdir -p "$dir/$(dirname "$f")" && cp "$f" "$dir/$f" || return 1
    done
    cp tests/embed/*.c tests/embed/*.h tests/embed/*.S tests/embed/*.ld "$dir/kernel/"
    cp tests/rng.h "$dir/" # the tests' random numbers (kernel/stress.c: "../rng.h")
    (
        cd "$dir" || exit 1
        common="-ffreestanding -fno-builtin -nostdlib -fno-pic -fno-pie -fno-stack-protector
                -march=i486 -mno-sse -mno-sse2 -mno-mmx -mno-80387 -std=c11 -O2 -g
                -Wall -Wextra -Wno-unused-parameter -Iinclude -Imm -Ikernel"
        case $cc in
        clang) CC="$CLANG --target=i386-elf" LD="ld.lld -m elf_i386" ;;
        gcc) CC="$GCC -m32" LD="ld -m elf_i386" ;;
        esac
        names="-DMM_PREFIX" # the kernel owns kfree, memset & co.: every mm/ name is mm_<name>
        kernel_srcs="kernel/boot.S kernel/kernel.c kernel/glue.c kernel/smp.c kernel/paging.c kernel/stress.c kernel/lib.c kernel/string.c"
        objs=""
        # our paging (mm/vmm.c, its reports mm/vmm_stats.c) is left out; mm/zswap*.c
        # compress pages behind mm/vmm.c's entries: they go with vmm.c
        for f in $(echo "$files" | grep '^mm/.*\.c$' | grep -v -e '^mm/vmm\.c$' -e '^mm/vmm_stats\.c$' -e '^mm/zswap\.c$' -e '^mm/zswap_window\.c$' -e '^mm/zswap_stats\.c$'); do
            o=obj/$f.o
            mkdir -p "$(dirname "$o")"
            $CC $common $names -c "$f" -o "$o" || exit 1
            objs="$objs $o"
        done
        for f in $kernel_srcs; do
            o=obj/$f.o
            mkdir -p "$(dirname "$o")"
            case $f in
            kernel/lib.c | kernel/string.c) flags="" ;; # the kernel's own names: no mm/ header, no prefix
            *) flags="$names" ;;
            esac
            $CC $common -Werror $flags -c "$f" -o "$o" || exit 1
            objs="$objs $o"
        done
        # -nostdlib and no libgcc: an undefined compiler-runtime symbol fails here
        $LD -T kernel/linker.ld -o embed.elf $objs >link.log 2>&1
        rc=$?
        cat link.log
        exit $rc
    )
}

for cc in $compilers; do
    echo "== embed: build with $cc"
    if ! build "$cc"; then
        not_ok "$cc: the embedding kernel does not build from the README's files"
        continue
    fi
    ok "$cc: built from the README's files alone, -nostdlib, no libgcc"
    elf=build/embed/$cc/embed.elf
    # coexistence: the kernel's own kfree and memset are the ones the image calls by name
    if nm "$elf" | grep -qE ' T mm_kfree$' && nm "$elf" | grep -qE ' T kfree$' &&
        nm "$elf" | grep -qE ' T mm_memset$' && nm "$elf" | grep -qE ' T memset$'; then
        ok "$cc: kfree and memset (the kernel's) beside mm_kfree and mm_memset (mm/'s)"
    else
        not_ok "$cc: the image lacks one of kfree, mm_kfree, memset, mm_memset"
    fi
    for mem in $mems; do
        log=build/embed/$cc/boot-$mem.log
        start=$(now)
        timeout 120 "$QEMU" -accel tcg -smp 2,sockets=2 -m "$mem" -display none -no-reboot \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial "file:$log.raw" \
            -kernel "$elf" </dev/null
        rc=$?
        t=$(seconds_since "$start")
        clean_log "$log.raw" "$log" && rm -f "$log.raw"
        what="$cc, -m $mem, 2 CPUs"
        grep -E '^embed: (stage|pmm|virtual|second|cpu|stress|TLB|[a-z_]+_check|PASS|FAIL|TODO)' "$log" |
            sed 's/^/    /'
        for c in shootdown_check heap_check pmm_check vmalloc_check kmem_cache_check; do
            expect "$log" "^embed: $c = 0$" "$what: $c 0"
        done
        expect "$log" '^embed: second CPU up' "$what: the second CPU started"
        expect "$log" '^embed: cpu 1: [1-9]' "$what: the stress ran on the second CPU"
        expect_not "$log" 'FAIL|PANIC|ERROR' "$what: no failure, no mm/ error report"
        if [ "$rc" -eq 1 ] && grep -q '^embed: PASS$' "$log"; then
            ok "$what: embed: PASS (${t} s)"
        else
            not_ok "$what: no PASS (QEMU exit status $rc, ${t} s; log $log)"
            tail -n 20 "$log"
        fi
    done
done
write_results embed
echo "embed: glue of the test kernel: $glue_lines lines (tests/embed/glue.c)"
echo "embed: $passed passed, $failed failed"
exit $status
