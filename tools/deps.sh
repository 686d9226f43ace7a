#!/bin/sh
# Make sure the Debian packages that `make test`/`make run`/`make bench` need are
# installed: install them when we are root, otherwise print the exact command.
set -u

# package (arch-qualified where it matters) : why
PACKAGES="
qemu-system-x86
libcmocka-dev
libcmocka-dev:i386
liblz4-dev
liblz4-dev:i386
gcc-multilib
clang
lld
clang-format
libclang-rt-14-dev
grub-pc-bin
grub-common
xorriso
mtools
python3
gdb
sqlite3
gcc
qemu-user
"

# `deps.sh bench`: also the allocators make bench measures against, and valgrind
# (callgrind counts their instructions per call).
if [ "${1:-}" = bench ]; then
    PACKAGES="$PACKAGES libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 valgrind"
fi

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for p in $PACKAGES; do
    installed "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

need_i386=""
case "$missing" in *:i386*) need_i386=yes ;; esac

if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages:$missing"
    echo "deps: run as root:"
    [ -n "$need_i386" ] && echo "    dpkg --add-architecture i386"
    echo "    apt-get update && apt-get install -y$missing"
    exit 1
fi

echo "deps: installing$missing"
if [ -n "$need_i386" ] && ! dpkg --print-foreign-architectures | grep -qx i386; then
    dpkg --add-architecture i386 || exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A mirror caught mid-sync fails one index now and then: retry, and go on with
# what was fetched (the install below is what must succeed).
for try in 1 2 3; do
    apt-get update -q && break
    echo "deps: apt-get update failed (try $try), retrying"
    sleep 5
done
for try in 1 2 3; do
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing && exit 0
    echo "deps: apt-get install failed (try $try), retrying"
    sleep 5
    apt-get update -q
done
echo "deps: could not install:$missing"
exit 1
