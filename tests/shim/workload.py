"""A Python workload for the malloc shim (tools/shim-check.sh).

Run once with the system malloc and once under LD_PRELOAD=libkmalloc.so;
the two outputs must be identical.  Everything is seeded and printed in a
fixed order, so the output depends only on the interpreter, never on
addresses or the allocator.  Each section prints a line and feeds a running
SHA-256 that is printed at the end.
"""
import collections
import fractions
import hashlib
import heapq
import itertools
import json
import random
import re
import sys
import zlib

digest = hashlib.sha256()


def report(name, value):
    text = f"{name}: {value}"
    digest.update(text.encode())
    print(text)


rng = random.Random(20240611)

# ---- strings: build, split, join, format, regular expressions
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 12)))
         for _ in range(40000)]
text = " ".join(words)
report("text length", len(text))
report("distinct words", len(set(words)))
caps = re.sub(r"\b([a-z])([a-z]*)\b", lambda m: m.group(1).upper() + m.group(2), text)
report("capitalised checksum", zlib.crc32(caps.encode()))
vowels = collections.Counter(re.findall(r"[aeiou]+", text))
report("vowel runs", sorted(vowels.most_common(5)))
lines = [f"{i:06d}|{w:<12}|{len(w) * 3.5:8.2f}" for i, w in enumerate(words[:5000])]
report("formatted", hashlib.md5("\n".join(lines).encode()).hexdigest())

# ---- dicts and lists: grow, update, delete, comprehensions
table = {}
for i, w in enumerate(words):
    table.setdefault(w[:3], []).append(i)
for key in list(table)[::3]:
    del table[key]
report("prefix buckets", len(table))
report("largest bucket", max(len(v) for v in table.values()))
inverted = {i: k for k, v in table.items() for i in v}
report("inverted entries", len(inverted))
matrix = [[(r * 31 + c * 17) % 101 for c in range(300)] for r in range(300)]
transposed = [list(col) for col in zip(*matrix)]
report("matrix trace", sum(transposed[i][i] for i in range(300)))

# ---- sorting: keys, stability, heaps, bisect-like merges
records = [(rng.randint(0, 1000), rng.random(), w) for w in words]
by_key = sorted(records, key=lambda r: (r[0], r[2]))
report("sorted head", [r[2] for r in by_key[:5]])
report("sorted descending tail", [r[0] for r in sorted(records, reverse=True)[-3:]])
report("3 smallest", [r[2] for r in heapq.nsmallest(3, records)])
merged = list(heapq.merge(sorted(words[:20000]), sorted(words[20000:])))
report("merge is sorted", merged == sorted(words))

# ---- JSON round trips of nested structures
doc = {
    "users": [{"id": i, "name": words[i], "tags": words[i:i + rng.randint(0, 6)],
               "score": fractions.Fraction(i, 7).limit_denominator(100).numerator,
               "nested": {"a": [i] * (i % 5), "b": {"c": str(i) * (i % 4)}}}
              for i in range(8000)],
    "meta": {"version": 3, "unicode": "k\u00e4se \u20ac \u2603"},
}
for _ in range(4):
    encoded = json.dumps(doc, sort_keys=True, indent=1)
    doc = json.loads(encoded)
report("json bytes", len(encoded))
report("json digest", hashlib.sha256(encoded.encode()).hexdigest()[:16])
report("json equal", json.loads(json.dumps(doc)) == doc)


# ---- a small class hierarchy: virtual calls, __slots__, dataclass-like eq
class Shape:
    def __init__(self, name):
        self.name = name

    def area(self):
        raise NotImplementedError

    def describe(self):
        return f"{type(self).__name__}({self.name}) area={self.area():.3f}"


class Rect(Shape):
    def __init__(self, name, w, h):
        super().__init__(name)
        self.w, self.h = w, h

    def area(self):
        return self.w * self.h


class Square(Rect):
    def __init__(self, name, side):
        super().__init__(name, side, side)


class Circle(Shape):
    __slots__ = ("r",)

    def __init__(self, name, r):
        super().__init__(name)
        self.r = r

    def area(self):
        return 3.141592653589793 * self.r * self.r


shapes = []
for i in range(30000):
    kind = i % 3
    if kind == 0:
        shapes.append(Rect(words[i], rng.randint(1, 50), rng.randint(1, 50)))
    elif kind == 1:
        shapes.append(Square(words[i], rng.randint(1, 50)))
    else:
        shapes.append(Circle(words[i], rng.randint(1, 30)))
shapes.sort(key=lambda s: (s.area(), s.name))
report("biggest shapes", [s.describe() for s in shapes[-3:]])
report("total area", round(sum(s.area() for s in shapes), 3))
per_kind = collections.defaultdict(int)
for s in shapes:
    per_kind[type(s).__name__] += 1
report("per kind", sorted(per_kind.items()))

# ---- churn: many objects created and dropped in waves, big buffers
survivors = []
for wave in range(30):
    batch = [bytearray(rng.randint(1, 4000)) for _ in range(2000)]
    for b in batch[::7]:
        b[:] = bytes(len(b))  # touch every byte
    survivors.extend(batch[::50])
    big = b"x" * (1 << 20) * (wave % 4 + 1)  # 1-4 MB, freed next wave
report("survivors", len(survivors))
report("survivor bytes", sum(len(b) for b in survivors))
growing = []
for i in range(200000):
    growing.append(i * i)  # list realloc, again and again
report("growing sum", sum(growing))
blob = bytearray()
for i in range(20000):
    blob += words[i % len(words)].encode()  # bytearray realloc
report("blob crc", zlib.crc32(blob))

# ---- itertools and generators
pairs = itertools.islice(itertools.combinations(range(500), 2), 0, None, 997)
report("combination sum", sum(a * b for a, b in pairs))
report("permutations", sum(1 for _ in itertools.permutations(range(8))))

print("digest:", digest.hexdigest())
sys.exit(0)
