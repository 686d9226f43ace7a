#!/bin/sh
# The suite "names" of make test (mk/names.mk): mm/ in a kernel that owns its own names
# and links no compiler runtime.
#
#   1. mm/ builds -Werror clean with gcc (-O0, -O2, -Os; -march=i486 and gcc's default)
#      and clang (the kernel's KCFLAGS), normal and MM_DEBUG, freestanding i386; every
#      symbol an object leaves undefined is a glue_* function or defined by another
#      mm/ object: no __popcountsi2, __udivdi3, ... (no libgcc, no compiler-rt).
#   2. Built with -DMM_PREFIX (include/mm_names.h), every global symbol mm/ defines is
#      mm_<name> (or in ALLOW below, or a glue_* function mm/vmm.c implements), and it
#      leaves undefined only glue_*, its own
#      names, and memset/memcpy/memmove/memcmp (which compilers emit for struct copies
#      and zeroing: a freestanding kernel has them under those names).
#   3. A kernel that owns kfree(char *), kmalloc, memset, memcpy, memmove and memcmp
#      (tests/names/kernel_own.c, tests/embed/string.c) links with the prefixed mm/,
#      -nostdlib and stub glue, with ld.lld and with gcc (GNU ld); a file of it (tests/names/kernel_uses.c)
#      calls ours as kmalloc and, after #undef kfree, its own kfree beside mm_kfree.
#   4. The README's file list ("Embedding mm/ in your kernel") holds every mm/*.c and
#      every header they include (clang -MM, both builds, with and without MM_PREFIX).
#   5. Self-tests: each check fails where it must: an unprefixed export planted in the
#      prefixed set, a 64-bit division and a __builtin_popcount (gcc: __udivdi3,
#      __popcountsi2), the same link with the unprefixed mm/ (duplicate kfree), and a
#      file list without mm/bits.h.
#
#   usage: names-check.sh KCFLAGS...   ($CLANG, $GCC, $LD; totals in build/results/names)
CLANG=${CLANG:-clang}
GCC=${GCC:-gcc}
LD=${LD:-ld.lld}
KCFLAGS="$*"
# Global symbols a prefixed mm/ may define without the mm_ prefix: none today.
ALLOW=""
dir=build/names
rm -rf "$dir" && mkdir -p "$dir" build/results
. tools/check-lib.sh # ok, not_ok: the counts

GCCFLAGS="-m32 -ffreestanding -fno-builtin -nostdlib -std=c11 -g -Wall -Wextra -Werror
          -Wno-unused-parameter -fno-stack-protector -fno-pic -fno-omit-frame-pointer
          -mno-sse -mno-sse2 -mno-mmx -mno-3dnow -mno-80387 -Iinclude -Imm"

# build NAME CC FLAGS...: every mm/*.c into $dir/NAME/ (one compiler run); 0 if all compiled
build() {
    name=$1 cc=$2
    shift 2
    mkdir -p "$dir/$name"
    top=$(pwd)
    (cd "$dir/$name" && $cc "$@" -I"$top/include" -I"$top/mm" -c "$top"/mm/*.c) >"$dir/$name.log" 2>&1
}

# check MODE OBJ...: prints one line per wrong symbol ("undefined X in F", "unprefixed
# export X in F"); MODE prefixed also allows the four string functions undefined and
# wants every export prefixed.  0 if nothing is wrong.
check() {
    mode=$1
    shift
    nm -A -g "$@" | awk -v mode="$mode" -v allow=" $ALLOW " '
        { n = split($1, p, "/"); file = p[n]; sub(/:.*/, "", file) }
        $(NF - 1) == "U" { undef[NR] = file " " $NF; next }
        { defined[$NF] = 1
          # glue_*: the kernel-page glue mm/vmm.c implements (mm/glue.h), not a name of ours
          if (mode == "prefixed" && $NF !~ /^(mm|glue)_/ && index(allow, " " $NF " ") == 0)
              bad[++nbad] = "unprefixed export " $NF " in " file }
        END {
            for (i in undef) {
                split(undef[i], u, " ")
                if (u[2] ~ /^glue_/ || u[2] in defined) continue
                if (mode == "prefixed" && u[2] ~ /^(memset|memcpy|memmove|memcmp)$/) continue
                bad[++nbad] = "undefined " u[2] " in " u[1]
            }
            for (i = 1; i <= nbad; i++) print bad[i]
        }' | sort >"$dir/.bad"
    cat "$dir/.bad"
    [ ! -s "$dir/.bad" ]
}

# variant NAME MODE CC FLAGS...: build, then check; one ok or not_ok line
variant() {
    name=$1 mode=$2
    shift 2
    if ! build "$name" "$@"; then
        not_ok "$name: mm/ does not compile -Werror clean"
        sed 's/^/        /' "$dir/$name.log" | head -20
        return
    fi
    if check "$mode" "$dir/$name"/*.o >"$dir/$name.out"; then
        ok "$name: $(ls "$dir/$name"/*.o | wc -l) objects, undefined only glue_*$([ "$mode" = prefixed ] && echo ' (and memset & co.), every export mm_*')"
    else
        not_ok "$name: $(wc -l <"$dir/$name.out") wrong symbols"
        sed 's/^/        /' "$dir/$name.out"
    fi
}

echo "== names: mm/ with gcc and clang, no compiler runtime"
for dbg in "" -DMM_DEBUG; do
    tag=${dbg:+-debug}
    for opt in -O0 -O2 -Os; do
        variant "gcc$opt-i486$tag" plain "$GCC" $GCCFLAGS $opt -march=i486 $dbg
    done
    variant "gcc-O2$tag" plain "$GCC" $GCCFLAGS -O2 $dbg
    variant "clang-O2-i486$tag" plain "$CLANG" $KCFLAGS -O2 $dbg
done

echo "== names: -DMM_PREFIX"
for dbg in "" -DMM_DEBUG; do
    tag=${dbg:+-debug}
    variant "prefix-clang$tag" prefixed "$CLANG" $KCFLAGS -DMM_PREFIX $dbg
    variant "prefix-gcc-Os-i486$tag" prefixed "$GCC" $GCCFLAGS -Os -march=i486 -DMM_PREFIX $dbg
done

echo "== names: a kernel with its own kfree, kmalloc, memset & co. links with the prefixed mm/"
k=$dir/kernel
mkdir -p "$k"
# one stub per glue_* function mm/ calls (the linker checks names, not types)
# (not those mm/vmm.c defines itself: the kernel pages of our own paging)
nm -g --defined-only "$dir/prefix-clang"/*.o | awk '$3 ~ /^glue_/ { print $3 }' | sort -u >"$k/glue_own"
nm -u "$dir/prefix-clang"/*.o | awk '$2 ~ /^glue_/ { print $2 }' | sort -u | grep -vxF -f "$k/glue_own" |
    sed 's/.*/void &(void) {}/' >"$k/glue_stubs.c"
link_ok=1
$CLANG $KCFLAGS -c tests/names/kernel_own.c -o "$k/own.o" &&
    $CLANG $KCFLAGS -c tests/embed/string.c -o "$k/string.o" &&
    $CLANG $KCFLAGS -DMM_PREFIX -c tests/names/kernel_uses.c -o "$k/uses.o" &&
    $CLANG $KCFLAGS -c "$k/glue_stubs.c" -o "$k/stubs.o" &&
    $GCC $GCCFLAGS -O2 -c tests/names/kernel_own.c -o "$k/gcc-own.o" &&
    $GCC $GCCFLAGS -O2 -c tests/embed/string.c -o "$k/gcc-string.o" &&
    $GCC $GCCFLAGS -O2 -DMM_PREFIX -c tests/names/kernel_uses.c -o "$k/gcc-uses.o" || link_ok=0
if [ $link_ok -eq 1 ] &&
    $LD -m elf_i386 -e _start -o "$k/lld.elf" "$k/own.o" "$k/string.o" "$k/uses.o" "$k/stubs.o" \
        "$dir/prefix-clang"/*.o >"$k/lld.log" 2>&1 &&
    nm "$k/lld.elf" >"$k/lld.nm" &&
    grep -q ' T kfree$' "$k/lld.nm" && grep -q ' T mm_kfree$' "$k/lld.nm" &&
    grep -q ' T memset$' "$k/lld.nm" && grep -q ' T mm_memset$' "$k/lld.nm" &&
    grep -q ' T kmalloc$' "$k/lld.nm" && grep -q ' T mm_kmalloc$' "$k/lld.nm"; then
    ok "ld.lld -nostdlib: kernel's kfree/kmalloc/memset beside mm_kfree/mm_kmalloc/mm_memset"
else
    not_ok "ld.lld: the kernel and the prefixed mm/ (clang) do not link, or a name is missing"
    sed 's/^/        /' "$k/lld.log" 2>/dev/null | head -20
fi
# uses.o: our API reached by its prefixed names, the kernel's kfree by its own
uses=$(nm -u "$k/uses.o" | awk '{ print $2 }' | tr '\n' ' ')
missing=
for sym in mm_kmalloc mm_kfree mm_memset mm_kmem_cache_alloc mm_vmalloc mm_pmm_alloc_page kfree; do
    case " $uses " in *" $sym "*) ;; *) missing="$missing $sym" ;; esac
done
for sym in kmalloc memset kmem_cache_alloc vmalloc pmm_alloc_page; do
    case " $uses " in *" $sym "*) missing="$missing (unprefixed $sym)" ;; esac
done
if [ -z "$missing" ]; then
    ok "kernel_uses.c calls mm_kmalloc, mm_memset, ... and, after #undef kfree, its own kfree"
else
    not_ok "kernel_uses.c: wrong calls:$missing (it calls: $uses)"
fi
if [ $link_ok -eq 1 ] &&
    $GCC -m32 -nostdlib -static -Wl,-e,_start -o "$k/gcc.elf" "$k/gcc-own.o" "$k/gcc-string.o" \
        "$k/gcc-uses.o" "$k/stubs.o" "$dir/prefix-gcc-Os-i486"/*.o >"$k/gcc.log" 2>&1; then
    ok "gcc -nostdlib (GNU ld, no libgcc): the kernel and the prefixed mm/ (gcc -Os) link"
else
    not_ok "gcc -nostdlib: the kernel and the prefixed mm/ (gcc) do not link"
    sed 's/^/        /' "$k/gcc.log" 2>/dev/null | head -20
fi

echo "== names: the README's file list holds every file mm/ needs"
# readme_missing LIST: the mm/ sources and every header they include (both builds,
# with and without MM_PREFIX) that are not in LIST; one name a line
readme_missing() {
    for f in mm/*.c; do
        for d in "" "-DMM_DEBUG -DMM_PREFIX"; do
            $CLANG $KCFLAGS $d -MM "$f"
        done
    done | tr ' \\' '\n\n' | grep -E '^(include|mm)/.*\.[ch]$' >"$dir/.needed"
    printf '%s\n' mm/*.c >>"$dir/.needed"
    sort -u "$dir/.needed" | while read -r f; do
        grep -qxF "$f" "$1" || echo "$f"
    done
}
# the code block after "Copy these files:" in the embedding section
awk '/^## Embedding/ { s = 1 } s && /^Copy these files:/ { s = 2 } s == 2 && /^```/ { n++; next }
     n == 1 { print } n == 2 { exit }' README.md |
    tr ' ' '\n' | grep -E '^(include|mm)/' | sort -u >"$dir/readme.list"
readme_missing "$dir/readme.list" >"$dir/readme.missing"
if [ "$(wc -l <"$dir/readme.list")" -gt 0 ] && [ ! -s "$dir/readme.missing" ]; then
    ok "README lists all $(sort -u "$dir/.needed" | wc -l) files mm/ needs ($(wc -l <"$dir/readme.list") listed)"
else
    not_ok "README's embedding list misses: $(tr '\n' ' ' <"$dir/readme.missing")"
fi

echo "== names: self-tests (each check must fail here)"
st=$dir/selftest
mkdir -p "$st"
# an export without the prefix, compiled as a prefixed mm/ file would be
printf '#include "memory.h"\nint planted_export(void) { return (int)sizeof(memory_stats_t); }\n' >"$st/planted.c"
$CLANG $KCFLAGS -DMM_PREFIX -c "$st/planted.c" -o "$st/planted.o"
if check prefixed "$dir/prefix-clang"/*.o "$st/planted.o" >"$st/planted.out"; then
    not_ok "a planted unprefixed export passed the check"
elif [ "$(cat "$st/planted.out")" = "unprefixed export planted_export in planted.o" ]; then
    ok "a planted unprefixed export fails, named: $(cat "$st/planted.out")"
else
    not_ok "a planted export: unexpected lines"
    sed 's/^/        /' "$st/planted.out"
fi
# compiler runtime calls gcc makes on i386: 64-bit division, popcount without POPCNT
printf 'unsigned long long planted_div(unsigned long long a, unsigned long long b) { return a / b; }\nint planted_pop(unsigned x) { return __builtin_popcount(x); }\n' >"$st/runtime.c"
$GCC $GCCFLAGS -O2 -march=i486 -c "$st/runtime.c" -o "$st/runtime.o"
check plain "$dir/gcc-O2-i486"/*.o "$st/runtime.o" >"$st/runtime.out"
if grep -qxF 'undefined __udivdi3 in runtime.o' "$st/runtime.out" &&
    grep -qxF 'undefined __popcountsi2 in runtime.o' "$st/runtime.out" &&
    [ "$(wc -l <"$st/runtime.out")" -eq 2 ]; then
    ok "planted __udivdi3 and __popcountsi2 calls fail, named"
else
    not_ok "planted runtime calls: the check did not name exactly __udivdi3 and __popcountsi2"
    sed 's/^/        /' "$st/runtime.out"
fi
# the unprefixed mm/ clashes with the kernel's names: the link test can fail
if $LD -m elf_i386 -e _start -o "$st/clash.elf" "$k/own.o" "$k/string.o" "$k/stubs.o" \
    "$dir/clang-O2-i486"/*.o >"$st/clash.log" 2>&1; then
    not_ok "the unprefixed mm/ linked with a kernel that owns kfree and memset"
elif grep -q 'duplicate symbol: kfree' "$st/clash.log" && grep -q 'duplicate symbol: memset' "$st/clash.log"; then
    ok "without MM_PREFIX the same link fails: duplicate kfree, memset"
else
    not_ok "the unprefixed link failed, but not on kfree and memset"
    sed 's/^/        /' "$st/clash.log" | head -10
fi

# the README check on a list without mm/bits.h
grep -vxF mm/bits.h "$dir/readme.list" >"$st/readme.list"
if [ "$(readme_missing "$st/readme.list")" = mm/bits.h ]; then
    ok "a file list without mm/bits.h fails, naming it"
else
    not_ok "a file list without mm/bits.h: the check did not name exactly mm/bits.h"
fi

# every case above ends in ok or not_ok: fewer means a case fell through unreported
cases=$((10 + 4 + 3 + 1 + 4))
if [ $((passed + failed)) -ne $cases ]; then
    not_ok "only $((passed + failed)) of the suite's $cases cases reported"
fi
echo "$passed $failed" >build/results/names
echo "names: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
