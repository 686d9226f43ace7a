#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz_lz4.c (make fuzz-lz4-seeds).

Encoding (fuzz_lz4.c): byte 0 even = decode: 2 bytes of output capacity (LE16),
then a block; byte 0 odd = round trip: 1 byte (the small capacity / 16), then
the data.  Real blocks come from liblz4 through the lz4 command line tool
(Debian's lz4 package): its frame is taken apart and its one block kept.
Crafted blocks cover each error of the decoder.  Deterministic.

usage: make-lz4-seeds.py OUTDIR
"""
import os
import random
import struct
import subprocess
import sys


def lz4_block(data):
    """liblz4's block for data (< 4 MB: one block), from the lz4 tool's frame."""
    frame = subprocess.run(["lz4", "-c", "-B4", "--no-frame-crc", "--content-size"],
                           input=data, capture_output=True, check=True).stdout
    flg = frame[4]
    header = 4 + 2 + (8 if flg & 0x08 else 0) + 1
    (size,) = struct.unpack_from("<I", frame, header)
    if size & 0x80000000:
        raise SystemExit("lz4 stored the block uncompressed: pick other data")
    return frame[header + 4:header + 4 + size]


def decode_seed(block, cap):
    return bytes([0]) + struct.pack("<H", cap) + block


def trip_seed(data, small=0):
    return bytes([1, small]) + data


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(14)
    text = b"".join(b"line %d: the quick brown fox jumps over the lazy dog %d\n" % (i, i % 7)
                    for i in range(80))[:4096]
    struct_page = b"".join(struct.pack("<IIHH", i, i * 4096, 0, 3) for i in range(341))[:4096]
    mixed = text[:1500] + bytes(1000) + b"\xde\xad\xbe\xef" * 200 + text[:796]
    seeds = {
        "01-text-liblz4": decode_seed(lz4_block(text), 4096),
        "02-struct-liblz4": decode_seed(lz4_block(struct_page), 4096),
        "03-zero-liblz4": decode_seed(lz4_block(bytes(4096)), 4096),
        "04-mixed-liblz4": decode_seed(lz4_block(mixed), 4096),
        "05-mixed-small-cap": decode_seed(lz4_block(mixed), 3000),
        "06-literals-only": decode_seed(bytes([0xF0, 30]) + text[:45], 64),
        "07-offset-0": decode_seed(bytes([0x40]) + b"abcd" + bytes([0, 0, 0x10]) + b"x", 64),
        "08-offset-before-start": decode_seed(bytes([0x40]) + b"abcd" + bytes([5, 0, 0x10]) + b"x", 64),
        "09-run-offset-1": decode_seed(bytes([0x1F]) + b"a" + bytes([1, 0, 200, 0x50]) + b"bcdef", 512),
        "10-ends-on-match": decode_seed(bytes([0x40]) + b"abcd" + bytes([4, 0]), 64),
        "11-long-lengths": decode_seed(bytes([0xF0]) + b"\xff" * 40, 4096),
        "12-empty-block": decode_seed(bytes([0]), 0),
        # an offset of 0 first: liblz4 1.9.4 decodes it, the format (and ours) refuse it
        "13-offset-0-first": decode_seed(bytes.fromhex("0800003f021f610100c8506263646566"), 5375),
        "20-trip-text": trip_seed(text, 40),
        "21-trip-struct": trip_seed(struct_page, 100),
        "22-trip-zero": trip_seed(bytes(4096), 1),
        "23-trip-random": trip_seed(bytes(rng.getrandbits(8) for _ in range(4096)), 255),
        "24-trip-mixed": trip_seed(mixed, 60),
        "25-trip-short": trip_seed(b"abcabcabcabcabcab", 0),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


main()
