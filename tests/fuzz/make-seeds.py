#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz_heap.c (make fuzz-seeds).

Each seed is a small program in the fuzz target's encoding (described at the
top of fuzz_heap.c): a mode byte (bit 0: start on the virtual heap; bit 1: two threads), then
operations, each an opcode byte and its argument bytes.  The encoders below
mirror the decoders there; change both together, then run `make fuzz-seeds`.
The files are deterministic (random mixes use fixed seeds).

usage: make-seeds.py OUTDIR
"""
import os
import random
import sys

# opcodes (fuzz_heap.c: ops[])
KMALLOC, KCALLOC, KREALLOC, KFREE, ALIGNED, USABLE = 0, 1, 2, 3, 4, 5
BAD_KFREE, BAD_KREALLOC, BAD_USABLE, VIRTUAL, REWRITE, COMB = 6, 7, 8, 9, 10, 11
CACHE_CREATE, CACHE_ALLOC, CACHE_KFREE, CACHE_DESTROY, CACHE_MISUSE = 16, 17, 18, 19, 20

# decode_size's table of special sizes, by name
SPECIAL = ["0", "1", "7", "8", "9", "15", "16", "17", "HDR-1", "HDR", "HDR+1", "2HDR",
           "4095", "4096", "4097", "64K-2HDR", "64K-HDR", "64K", "64K+1", "SURE", "1M",
           "1M+8", "64M", "300M", "0x7FFFFFF0", "0x7FFFFFF1", "2^31", "SIZE_MAX/2",
           "SIZE_MAX-7", "SIZE_MAX"]
# decode_align's bad or absurd alignments, by name
ODD_ALIGN = ["0", "3", "6", "24", "100", "4097", "65535", "1M", "2^40", "SIZE_MAX"]
EARLY, VIRT = 0, 1
TWO = 2  # mode bit 1: two threads, chunks in turn (and a side stream on the virtual heap)


def size(n):
    """The bytes decode_size reads as n (an int), or a special size (a str)."""
    if isinstance(n, str):
        return bytes([0xC0 + SPECIAL.index(n)])
    assert 1 <= n <= 1 << 18, n
    v = n - 1
    if n <= 64:
        return bytes([v])
    if n <= 1 << 14:
        return bytes([0x40 | v >> 8, v & 0xFF])
    return bytes([0x80 | v >> 12, v & 0xFF, (v >> 8) & 0x0F])


def align(a):
    """The byte decode_align reads as alignment a (a power of two up to 64 KB, or a bad one)."""
    if isinstance(a, str):
        return bytes([0xF0 + ODD_ALIGN.index(a)])
    k = a.bit_length() - 1
    assert a == 1 << k and k <= 16, a
    return bytes([k])


class Program:
    def __init__(self, mode):
        self.b = bytearray([mode])

    def op(self, code, *args):
        self.b.append(code)
        for a in args:
            self.b += a if isinstance(a, (bytes, bytearray)) else bytes([a])
        return self

    def kmalloc(self, slot, n):
        return self.op(KMALLOC, slot, size(n))

    def kcalloc(self, slot, count_byte, n):
        return self.op(KCALLOC, slot, count_byte, size(n))

    def krealloc(self, slot, n):
        return self.op(KREALLOC, slot, size(n))

    def kfree(self, slot):
        return self.op(KFREE, slot)

    def aligned(self, slot, a, n):
        return self.op(ALIGNED, slot, align(a), size(n))

    def usable(self, slot):
        return self.op(USABLE, slot)

    def misuse(self, code, how, slot, n=1):
        return self.op(code, how, slot, size(n))

    def comb(self, first, count, n):
        return self.op(COMB, first, count - 1, n - 1)


def seeds():
    out = {}

    p = Program(EARLY)
    for i, n in enumerate([1, 24, 100, 700, 3000, 64]):
        p.kmalloc(i, n)
    p.kfree(1).kfree(3).kmalloc(6, 40).krealloc(2, 300).op(REWRITE, 0)
    for i in range(7):
        p.kfree(i)
    out["01-early-basic"] = p

    p = Program(EARLY)
    for i in range(44):  # 44 x 1500 bytes: more than 64 KB, the last ones fail
        p.kmalloc(i, 1500)
    for i in range(0, 44, 2):
        p.kfree(i)
    p.kmalloc(50, 3000).kmalloc(51, 1400).kmalloc(52, "64K-2HDR")
    out["02-early-fill-and-holes"] = p

    p = Program(EARLY)
    p.kcalloc(0, 4, 100).kcalloc(1, 0, 100).kcalloc(2, 31, "0").kcalloc(3, 0xE0, 24)
    p.kcalloc(4, 0xE1, "SIZE_MAX/2").kcalloc(5, 0xF0, 16).kcalloc(6, 0xF0, "0")
    p.kmalloc(7, 200).op(REWRITE, 7).kfree(7).kcalloc(8, 10, 20)  # reused, dirty memory
    out["03-kcalloc-overflow"] = p

    p = Program(EARLY)
    p.krealloc(0, 100).kmalloc(1, 100).kmalloc(2, 100).kfree(1)
    p.krealloc(0, 150).krealloc(0, 232).krealloc(0, 40).krealloc(0, 2000)
    p.krealloc(0, "SIZE_MAX").krealloc(0, "64M").krealloc(0, "0").krealloc(2, 5)
    out["04-krealloc"] = p

    p = Program(VIRT)
    for k in range(17):
        p.aligned(k, 1 << k, 1 + 37 * k)
    for i, bad in enumerate(ODD_ALIGN):
        p.aligned(20 + i, bad, 64)
    for k in range(0, 17, 3):
        p.kfree(k)
    out["05-aligned"] = p

    p = Program(EARLY)
    for i, n in enumerate([1, 9, 17, 33, 250, 1001]):
        p.kmalloc(i, n).usable(i)
    p.krealloc(2, 400).usable(2).kfree(3).krealloc(2, 100).usable(2).usable(40)
    out["06-usable-size"] = p

    p = Program(EARLY)
    p.kmalloc(0, 100).kmalloc(1, 200).kmalloc(2, 300).kfree(1)
    for how in range(6):
        p.misuse(BAD_KFREE, how, 0)
    p.misuse(BAD_KREALLOC, 0, 0, 50).misuse(BAD_KREALLOC, 1, 2, 500).misuse(BAD_KREALLOC, 5, 0, "0")
    p.misuse(BAD_USABLE, 1, 2).misuse(BAD_USABLE, 3, 0).kfree(0).kfree(2)
    p.misuse(BAD_KFREE, 6, 0)  # the freed blocks, twice
    out["07-misuse"] = p

    p = Program(VIRT)
    p.kmalloc(0, 200000).kmalloc(1, "SURE").kmalloc(2, "1M").kmalloc(3, 100)
    p.kfree(2).kfree(1).kmalloc(4, "64M").kmalloc(5, "300M").krealloc(0, 250000).kfree(0)
    out["08-virtual-grow-shrink"] = p

    p = Program(EARLY)
    for i in range(8):
        p.kmalloc(i, 64)
    p.kfree(1).kfree(3).kfree(5)  # free blocks of one size class in the early heap
    p.op(VIRTUAL).kmalloc(8, 64).kfree(0).krealloc(2, 32).krealloc(4, 5000).kfree(6)
    out["09-early-to-virtual"] = p

    p = Program(EARLY)
    for i, s in enumerate(SPECIAL):
        p.kmalloc(i % 8, s)
    out["10-boundary-sizes"] = p

    p = Program(EARLY)
    p.comb(0, 16, 24).comb(20, 16, 100).kmalloc(40, 1000).comb(1, 15, 200).op(VIRTUAL)
    p.comb(30, 16, 8).kmalloc(41, 3000)
    out["11-comb-fragmentation"] = p

    p = Program(VIRT)
    p.op(CACHE_CREATE, 0, size(48), align(16), 0).op(CACHE_CREATE, 1, size(500), align(64), 1)
    p.op(CACHE_CREATE, 2, size(3000), align(8), 0).op(CACHE_CREATE, 3, size(64), align("3"), 1)
    for i in range(10):
        p.op(CACHE_ALLOC, i % 2, i)
    p.op(CACHE_KFREE, 3).kfree(4).op(CACHE_ALLOC, 1, 3).kmalloc(20, 48).op(CACHE_MISUSE, 0, 0)
    p.op(CACHE_MISUSE, 0, 1).op(CACHE_DESTROY, 0).op(CACHE_ALLOC, 1, 30).op(CACHE_DESTROY, 1)
    out["12-pools"] = p

    for name, mode, seed in (("13-random-virtual", VIRT, 13), ("14-random-early", EARLY, 14),
                             ("15-two-threads-virtual", VIRT | TWO, 15),
                             ("16-two-threads-early", EARLY | TWO, 16)):
        rnd = random.Random(seed)
        p = Program(mode)
        if mode & TWO:  # pools too: objects of a cache freed by the other thread
            p.op(CACHE_CREATE, 0, size(40), align(8), 0).op(CACHE_CREATE, 1, size(300), align(16), 1)
        for i in range(250):
            if mode == EARLY | TWO and i == 120:
                p.op(VIRTUAL)  # the side stream starts with the virtual heap
            if mode & TWO and rnd.random() < 0.1:
                p.op(CACHE_ALLOC, rnd.randrange(2), rnd.randrange(24))
                continue
            slot = rnd.randrange(24)
            r = rnd.random()
            n = rnd.choice([rnd.randint(1, 64), rnd.randint(1, 2048), rnd.randint(1, 9000)])
            if r < 0.35:
                p.kmalloc(slot, n)
            elif r < 0.6:
                p.kfree(slot)
            elif r < 0.75:
                p.krealloc(slot, n)
            elif r < 0.82:
                p.kcalloc(slot, rnd.randint(0, 8), rnd.randint(1, 300))
            elif r < 0.9:
                p.aligned(slot, 1 << rnd.randint(0, 12), n)
            elif r < 0.95:
                p.usable(slot)
            else:
                p.misuse(rnd.choice([BAD_KFREE, BAD_KREALLOC, BAD_USABLE]), rnd.randrange(256),
                         slot)
        out[name] = p
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(outdir, exist_ok=True)
    for name, prog in seeds().items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(bytes(prog.b))
    print(f"fuzz seeds: {len(seeds())} files in {outdir}")


if __name__ == "__main__":
    main()
