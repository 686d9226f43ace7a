#!/bin/sh
# The suite "targets" of make test (mk/targets.mk): the Makefile's own targets.
#   - make with no target is make all, and leaves build/kernel.elf and build/kernel-test.elf;
#   - every target make help names exists: a rule in make's database, and make -n TARGET
#     succeeds (not for test: its recipe runs the suites even under -n); test-NAME for
#     each suite in $TEST_SUITES the same way;
#   - the reverse: every .PHONY target (Makefile and mk/*.mk, from make's database) is
#     named by make help, or is in the script's short list of internal targets; a
#     self-test plants a missing help line and an extra .PHONY target and expects both;
#   - make debug under gdb -batch: continue stops at the breakpoint on kernel_main, and
#     QEMU is gone afterwards, both when gdb kills it and when gdb only detaches.
# Totals in build/results/targets.
# MAKEFLAGS stays: make DEBUG=1 test (or QEMU=..., CLANG=...) tests that build, not another
make="make --no-print-directory"
dir=build/targets
rm -rf "$dir" && mkdir -p "$dir" build/results
. tools/check-lib.sh # ok, not_ok: the counts
show() { sed 's/^/        /' "$1"; }

echo "== targets: make with no target"
if $make >"$dir/make.out" 2>&1 && [ -f build/kernel.elf ] && [ -f build/kernel-test.elf ]; then
    $make -n >"$dir/n-default.out" 2>&1
    $make -n all >"$dir/n-all.out" 2>&1
    if cmp -s "$dir/n-default.out" "$dir/n-all.out"; then
        ok "make builds build/kernel.elf and build/kernel-test.elf, as make all"
    else
        not_ok "make -n and make -n all differ"
        show "$dir/n-default.out"
    fi
else
    not_ok "make (no target) failed or left no kernels"
    show "$dir/make.out"
fi

echo "== targets: every target make help names"
$make help >"$dir/help.out" 2>&1 || { not_ok "make help failed"; show "$dir/help.out"; }
$make -pn help >"$dir/db.out" 2>/dev/null
if grep -qx '.DEFAULT_GOAL := all' "$dir/db.out"; then
    ok "make's database says .DEFAULT_GOAL := all"
else
    not_ok "make's database has no '.DEFAULT_GOAL := all'"
fi
# "  make NAME   what": NAME, lowercase; "make test-NAME" stands for every suite
targets=$(sed -n 's/^  make \([a-z][a-z0-9-]*\)  .*/\1/p' "$dir/help.out")
for s in $TEST_SUITES; do targets="$targets test-$s"; done
# a line that names a target this cannot read would be skipped: fail on it instead
grep '^  make [^ ]' "$dir/help.out" | grep -v '^  make test-NAME  ' |
    grep -v '^  make [a-z][a-z0-9-]*  ' >"$dir/help-unread.out"
if [ -s "$dir/help-unread.out" ]; then
    not_ok "make help lines not of the form '  make NAME  what' (two spaces before what):"
    show "$dir/help-unread.out"
fi
n=0
for t in $targets; do
    n=$((n + 1))
    # a real rule: "NAME:" in the database, not under "# Not a target:"
    if ! awk -v t="$t" 'index($0, t ":") == 1 && prev != "# Not a target:" { f = 1 } { prev = $0 }
                       END { exit !f }' "$dir/db.out"; then
        not_ok "make help names '$t', which has no rule"
        continue
    fi
    [ "$t" = test ] && { ok "make $t exists (rule in the database)"; continue; }
    if $make -n "$t" >"$dir/n-$t.out" 2>&1; then
        ok "make $t exists (make -n $t)"
    else
        not_ok "make -n $t failed"
        tail -n 5 "$dir/n-$t.out" | sed 's/^/        /'
    fi
done
[ "$n" -ge 10 ] || not_ok "only $n targets found in make help (expected the header's list)"

echo "== targets: every .PHONY target is in make help"
# Targets a user is not meant to type: none today.  A .PHONY target that only other rules
# use goes here, with a comment saying why make help leaves it out.
internal_targets=""
# the .PHONY targets of make's database ($2) that the help text ($1) does not name
# ("make test-NAME" names test-SUITE for every suite in $TEST_SUITES)
unlisted() {
    named=" $(sed -n 's/^  make \([a-z][a-z0-9-]*\)  .*/\1/p' "$1" | tr '\n' ' ')"
    for s in $TEST_SUITES; do named="$named test-$s "; done
    for t in $(sed -n 's/^\.PHONY: //p' "$2"); do
        case "$named $internal_targets " in *" $t "*) ;; *) echo "$t" ;; esac
    done
}
phony=$(sed -n 's/^\.PHONY: //p' "$dir/db.out" | wc -w)
unlisted "$dir/help.out" "$dir/db.out" >"$dir/unlisted.out"
if [ "$phony" -lt 10 ]; then
    not_ok "only $phony .PHONY targets in make's database"
elif [ -s "$dir/unlisted.out" ]; then
    not_ok ".PHONY targets make help does not name (add them to the Makefile's header):"
    show "$dir/unlisted.out"
else
    ok "all $phony .PHONY targets are in make help"
fi
# the check itself: a help line taken out, and a .PHONY target added, are both found
grep -v '^  make bench-zswap  ' "$dir/help.out" >"$dir/help-planted.out"
sed 's/^\(\.PHONY: .*\)$/\1 planted-target/' "$dir/db.out" >"$dir/db-planted.out"
unlisted "$dir/help-planted.out" "$dir/db-planted.out" >"$dir/unlisted-planted.out"
if [ "$(sort "$dir/unlisted-planted.out" | tr '\n' ' ')" = "bench-zswap planted-target " ]; then
    ok "self-test: a help line removed (bench-zswap) and a .PHONY target added are both found"
else
    not_ok "self-test: the planted bench-zswap and planted-target were not both found:"
    show "$dir/unlisted-planted.out"
fi

# make debug, gdb in batch mode; $1 names the case, $2 is gdb's last command
debug_case() {
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$dir/$1.gdb" <<GDB
shell cp build/debug/qemu.pid $dir/$1.pid
continue
info symbol \$pc
$2
GDB
    timeout 120 $make debug GDB_PORT="$port" GDBFLAGS="-batch -x $dir/$1.gdb" >"$dir/$1.out" 2>&1
    rc=$?
    pid=$(cat "$dir/$1.pid" 2>/dev/null)
    if [ $rc -ne 0 ]; then
        not_ok "make debug ($1): exit status $rc"
        show "$dir/$1.out"
    elif ! grep -q '^Breakpoint 1, kernel_main (' "$dir/$1.out" ||
        ! grep -q '^kernel_main\( + [0-9]*\)\{0,1\} in section \.text' "$dir/$1.out"; then
        not_ok "make debug ($1): continue did not stop at kernel_main"
        show "$dir/$1.out"
    elif [ -z "$pid" ]; then
        not_ok "make debug ($1): no QEMU pid in build/debug/qemu.pid"
    elif grep -q qemu "/proc/$pid/cmdline" 2>/dev/null; then
        not_ok "make debug ($1): QEMU (pid $pid) still runs after gdb exited"
        kill "$pid"
    else
        ok "make debug ($1): stopped at kernel_main, QEMU gone after gdb"
    fi
}
echo "== targets: make debug (gdb -batch)"
debug_case kill kill
debug_case detach detach

echo "$passed $failed" >build/results/targets
echo "targets: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
