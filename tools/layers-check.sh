#!/bin/sh
# The suite "layers" of make test (mk/layers.mk): tools/layers.py checked on synthetic
# objects it must pass and fail, then run on the real mm/ objects with the cycles listed
# in KNOWN allowed (a cycle not listed, or a listed one that is gone, fails).
#   usage: layers-check.sh KNOWN LAYERS_ARGS...   ($CLANG compiles the synthetic files)
# Totals in build/results/layers.
known=$1
shift
CLANG=${CLANG:-clang}
dir=build/layers/selftest
rm -rf "$dir" && mkdir -p "$dir" build/results
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "  ok    $1"; }
fail() { failed=$((failed + 1)); echo "  FAIL  $1"; }

# src SET FILE 'C code': one synthetic "mm/" file, compiled to $dir/SET/FILE.c.o
src() {
    mkdir -p "$dir/$1"
    printf '%s\n' "$3" >"$dir/$1/$2.c"
    $CLANG -c -O0 -ffreestanding -fno-builtin -o "$dir/$1/$2.c.o" "$dir/$1/$2.c" || exit 1
}
# run NAME EXPECTED_STATUS ARGS...: tools/layers.py ARGS, its output in $dir/NAME.out
run() {
    name=$1 want=$2
    shift 2
    python3 tools/layers.py "$@" >"$dir/$name.out" 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$name: exit status $got, expected $want"
        sed 's/^/        /' "$dir/$name.out"
        return 1
    fi
}
# has NAME 'LINE' / hasnt NAME 'PATTERN': the output holds that exact line / no such line
has() { grep -qxF -- "$2" "$dir/$1.out" || { fail "$1: no line '$2'"; sed 's/^/        /' "$dir/$1.out"; return 1; }; }
# count NAME 'PATTERN' N: exactly N lines of the output match
count() {
    n=$(grep -c -- "$2" "$dir/$1.out")
    [ "$n" -eq "$3" ] || { fail "$1: $n lines match '$2', expected $3"; sed 's/^/        /' "$dir/$1.out"; return 1; }
}
hasnt() { ! grep -q -- "$2" "$dir/$1.out" || { fail "$1: unexpected '$2'"; return 1; }; }

echo "== layers: tools/layers.py on synthetic objects"
# acyclic: low <- mid <- top, and top also uses low and the glue (allowed)
src acyclic low 'int low_f(int x) { return x + 1; }'
src acyclic mid 'int low_f(int); int mid_f(int x) { return low_f(x) * 2; }'
src acyclic top 'int low_f(int); int mid_f(int); unsigned long glue_lock(void);
int top_f(int x) { return mid_f(x) + low_f(x) + (int)glue_lock(); }'
acyclic="$dir/acyclic/low.c.o $dir/acyclic/mid.c.o $dir/acyclic/top.c.o"
run acyclic 0 $acyclic && has acyclic '  layer 2: top' && has acyclic '  layer 1: mid' &&
    has acyclic '  layer 0: low' && has acyclic '  top -> low: low_f' &&
    hasnt acyclic 'FAIL' && pass "acyclic set passes, drawn as 3 layers"

# a cycle a -> b -> c -> a, and d beside it using a
src cycle a 'int b_f(int); int a_f(int x) { return x ? b_f(x - 1) : 0; }'
src cycle b 'int c_f(int); int b_f(int x) { return x ? c_f(x - 1) : 1; }'
src cycle c 'int a_f(int); int c_f(int x) { return x ? a_f(x - 1) : 2; }'
src cycle d 'int a_f(int); int d_f(int x) { return a_f(x); }'
cycle="$dir/cycle/a.c.o $dir/cycle/b.c.o $dir/cycle/c.c.o $dir/cycle/d.c.o"
run cycle 1 $cycle && has cycle 'layers: FAIL cycle: a -(b_f)-> b -(c_f)-> c -(a_f)-> a' &&
    has cycle '  layer 1: d' && has cycle '  layer 0: {a b c}' &&
    count cycle '^layers: FAIL' 1 && pass "a cycle fails, one line naming it"

# an mm/ file using a symbol of an outside (kernel/) object, and the glue (allowed)
src outside m 'void kprint(const char *); void glue_console_write(const char *, unsigned long);
void m_f(void) { kprint("x"); glue_console_write("y", 1); }'
src kernel kprint 'void kprint(const char *s) { (void)s; }'
run outside 1 --outside "$dir/kernel/kprint.c.o" --variant normal "$dir/outside/m.c.o" &&
    has outside "layers: FAIL outside: m uses kprint (defined in $dir/kernel/kprint.c.o): only glue_* (mm/glue.h) may leave mm/" &&
    hasnt outside 'glue_console_write' && pass "a symbol from outside mm/ fails; glue_* does not"

# the same outside use in one build only is still a failure, and says which build
run outside-variant 1 --variant normal $acyclic --variant MM_DEBUG $acyclic "$dir/outside/m.c.o" &&
    has outside-variant 'layers: FAIL outside: m uses kprint (defined by no mm/ file) [MM_DEBUG only]: only glue_* (mm/glue.h) may leave mm/' &&
    pass "an outside use in one build only fails, naming the build"

# known cycles: listed ones pass; one listed but gone fails; one not listed fails
echo 'a -> b -> c -> a  # listed' >"$dir/known-ok.txt"
run known 0 --known-cycles "$dir/known-ok.txt" $cycle &&
    has known 'layers: known cycle: a -(b_f)-> b -(c_f)-> c -(a_f)-> a' && pass "a listed cycle passes"
printf 'a -> b -> c -> a\nx -> y -> x\n' >"$dir/known-gone.txt"
run known-gone 1 --known-cycles "$dir/known-gone.txt" $cycle &&
    has known-gone "layers: FAIL known cycle no longer exists: x -> y -> x: remove it from $dir/known-gone.txt" &&
    pass "a listed cycle that is gone fails"
echo 'b -> a -> b' >"$dir/known-other.txt"
run known-other 1 --known-cycles "$dir/known-other.txt" $cycle &&
    has known-other 'layers: FAIL cycle: a -(b_f)-> b -(c_f)-> c -(a_f)-> a' &&
    pass "a cycle missing from the list fails"

echo "== layers: mm/ (cycles allowed for now: $known)"
python3 tools/layers.py --known-cycles "$known" "$@" >"$dir/mm.out" 2>&1
rc=$?
cat "$dir/mm.out"
if [ $rc -eq 0 ]; then
    pass "mm/: no cycle beyond $known, none of it gone, nothing from outside mm/"
else
    fail "mm/: the layering check failed (the FAIL lines above)"
fi

# Files a reader can hold (issue 10, item 2): no mm/ source or header past MAX_LINES lines.
# too_long DIR...: one line per file over the limit, "FILE: N lines".
MAX_LINES=700
too_long() {
    for f in "$@"; do
        n=$(wc -l <"$f")
        [ "$n" -le $MAX_LINES ] || echo "$f: $n lines"
    done
}
echo "== layers: no mm/ file past $MAX_LINES lines"
mkdir -p "$dir/long"
awk 'BEGIN { for (i = 0; i <= 700; i++) print "/* line */" }' >"$dir/long/long.c"
awk 'BEGIN { for (i = 1; i <= 700; i++) print "/* line */" }' >"$dir/long/fits.c"
got=$(too_long "$dir/long/long.c" "$dir/long/fits.c")
[ "$got" = "$dir/long/long.c: 701 lines" ] && pass "the length check flags a file of 701 lines, not one of 700" ||
    fail "the length check on 701 and 700 lines said: '$got'"
got=$(too_long mm/*.c mm/*.h)
if [ -z "$got" ]; then
    pass "every mm/ file has at most $MAX_LINES lines ($(ls mm/*.c mm/*.h | wc -l) files)"
else
    fail "mm/ files past $MAX_LINES lines (split them along their seams):"
    echo "$got" | sed 's/^/        /'
fi

# arch/ depends on kernel/ through nothing but the console hook (issue 10, item 5):
# arch_uses ARCH_OBJS -- KERNEL_OBJS: "arch-file uses symbol (kernel-file)" for each symbol
# an arch/ object leaves undefined that a kernel/ object defines, but the hook's.
ARCH_HOOK="kprintf terminal_write kernel_main"
arch_uses() {
    arch="" kern="" side=arch
    for o in "$@"; do
        case "$o" in
        --) side=kernel ;;
        *) if [ $side = arch ]; then arch="$arch $o"; else kern="$kern $o"; fi ;;
        esac
    done
    for k in $kern; do nm --defined-only "$k" | awk -v f="$k" '$2 ~ /^[TDBR]$/ { print $3, f }'; done |
        sort >"$dir/kernel.defs"
    for a in $arch; do
        nm --undefined-only "$a" | awk -v f="$a" '{ print $2, f }'
    done | sort | join "$dir/kernel.defs" - | while read -r sym kfile afile; do
        case " $ARCH_HOOK " in *" $sym "*) continue ;; esac
        echo "${afile##*/} uses $sym (${kfile##*/})"
    done
}
echo "== layers: arch/ uses kernel/ only through the console hook ($ARCH_HOOK)"
mkdir -p "$dir/arch"
src arch up 'int kernel_option(const char *); void kprintf(const char *, ...);
int up_f(void) { kprintf("x"); return kernel_option("y"); }'
src kern option 'int kernel_option(const char *s) { return s[0]; } void kprintf(const char *f, ...) { (void)f; }'
got=$(arch_uses "$dir/arch/up.c.o" -- "$dir/kern/option.c.o")
[ "$got" = "up.c.o uses kernel_option (option.c.o)" ] &&
    pass "an arch/ object using a kernel/ symbol beside kprintf is named" ||
    fail "the arch/kernel check on a planted use said: '$got'"
outside="" in_outside=0
for a in "$@"; do
    case "$a" in
    --outside) in_outside=1 ;;
    --*) in_outside=0 ;;
    *) [ $in_outside = 1 ] && outside="$outside $a" ;;
    esac
done
archobjs=$(for o in $outside; do case "$o" in */arch/*) echo "$o" ;; esac; done)
kernobjs=$(for o in $outside; do case "$o" in */kernel/*) echo "$o" ;; esac; done)
got=$(arch_uses $archobjs -- $kernobjs)
if [ -n "$archobjs" ] && [ -n "$kernobjs" ] && [ -z "$got" ]; then
    pass "arch/ ($(echo $archobjs | wc -w) objects) uses no kernel/ symbol but the console hook"
else
    fail "arch/ uses kernel/ beyond the console hook (or no objects were given):"
    echo "$got" | sed 's/^/        /'
fi

# every case above ends in pass or fail: fewer means a case fell through unreported
cases=12
if [ $((passed + failed)) -ne $cases ]; then
    fail "only $((passed + failed)) of the suite's $cases cases reported"
fi
echo "$passed $failed" >build/results/layers
echo "layers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
