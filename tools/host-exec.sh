#!/bin/sh
# host-exec.sh PROGRAM [ARGS...]: run a host program that make test built.  A 32-bit
# (i386) program runs natively where this machine's kernel executes 32-bit programs;
# where it cannot (a Linux built without IA32 emulation: "Exec format error"), it runs
# under qemu-i386 (Debian's qemu-user, installed by make deps).
# host-exec.sh --i386-native: exit status 0 iff i386 programs run natively here
# (the Makefile builds them without ASan otherwise: under qemu-i386 it is 100x slower).
probe=${BUILD:-build}/host/i386-probe

i386_native() {
    if [ ! -x "$probe" ]; then
        mkdir -p "$(dirname "$probe")"
        printf 'int main(void) { return 0; }\n' |
            ${CLANG:-clang} -m32 -x c -o "$probe" - 2>/dev/null || return 1
    fi
    "$probe" 2>/dev/null
}

if [ "$1" = --i386-native ]; then
    i386_native
    exit
fi

# byte 5 of an ELF header (EI_CLASS): 1 = 32-bit
class=$(od -An -tu1 -j4 -N1 "$1" 2>/dev/null | tr -d ' ')
if [ "$class" = 1 ] && ! i386_native; then
    if ! command -v qemu-i386 >/dev/null; then
        echo "host-exec: $1 is a 32-bit program, this machine cannot run it and qemu-i386 is missing (make deps)" >&2
        exit 127
    fi
    exec qemu-i386 -L / "$@"
fi
exec "$@"
