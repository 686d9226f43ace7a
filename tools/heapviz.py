#!/usr/bin/env python3
"""heapviz: draw a heap_dump() as an SVG picture of the heap.

Reads a serial log or host test output holding one or more dumps in the
format heap_dump() prints (mm/heap_stats.c):

    heap: 1192 used, 64184 free in 5 blocks (1 free), 4 allocations, 0 frees
    region 0: 0x00500000-0x00510000 (early heap: frees only)
      0x00500020        24  ALLOC
      0x00500548     64184  free
      0xd0000020      4064  slab kmalloc-72 0/55
      0x00500700  CORRUPT (bad magic number, magic 0x00000000): dump stops here

Every block line is "<payload address> <size> <state> [details]"; any state
word is accepted (ALLOC, free, slab, redzone, quarantine, ...: unknown ones
get a neutral colour).  Each region becomes a band of rows; each block a
span as wide as its bytes (its header darker), so holes and fragmentation
show at a glance.  The title gives the counts and totals.

A dump is complete when its block lines add up to the block count of its
"heap:" line.  By default the last complete dump is drawn; --index N picks
one (0 = first, -1 = last), --all draws every complete dump, one below the
other, --list lists them.

    tools/heapviz.py build/heap.log -o heap.svg
    make run | tools/heapviz.py - -o heap.svg

Standard library only.
"""
import argparse
import re
import sys
from xml.sax.saxutils import escape

HEADER_RE = re.compile(
    r"heap: (?P<used>\d+) used, (?P<free>\d+) free in (?P<blocks>\d+) blocks "
    r"\((?P<free_blocks>\d+) free\)(?:, (?P<allocs>\d+) allocations, (?P<frees>\d+) frees)?")
REGION_RE = re.compile(r"^region (?P<index>\d+): (?P<start>0x[0-9a-fA-F]+)-(?P<end>0x[0-9a-fA-F]+)"
                       r"\s*(?P<note>.*)$")
BLOCK_RE = re.compile(r"^\s+(?P<addr>0x[0-9a-fA-F]+)\s+(?P<size>\d+)\s+(?P<state>\S+)\s*(?P<detail>.*)$")
CORRUPT_RE = re.compile(r"^\s+(?P<addr>0x[0-9a-fA-F]+)\s+CORRUPT\b\s*(?P<detail>.*)$")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# state -> (payload colour, header colour); anything else: NEUTRAL
COLOURS = {
    "ALLOC": ("#4e79a7", "#1f3d5c"),
    "free": ("#dfeee0", "#8fb894"),
    "slab": ("#f28e2b", "#9c5512"),
    "redzone": ("#e15759", "#8c2325"),
    "quarantine": ("#b07aa1", "#6b3f60"),
    "CORRUPT": ("#222222", "#000000"),
}
NEUTRAL = ("#b0b0b0", "#6e6e6e")
LABELS = {"ALLOC": "allocated", "free": "free", "slab": "slab page",
          "redzone": "red zone", "quarantine": "quarantine", "CORRUPT": "corrupt (dump stopped)"}


class Block:
    """One line of a dump: payload address, payload size, state, the rest of the line."""

    def __init__(self, addr, size, state, detail="", line=0):
        self.addr, self.size, self.state, self.detail, self.line = addr, size, state, detail, line
        self.offset = 0  # of its header from the region's start, set by Dump.layout

    def __repr__(self):
        return f"Block(0x{self.addr:x}, {self.size}, {self.state!r})"


class Region:
    def __init__(self, index, start, end, note):
        self.index, self.start, self.end, self.note = index, start, end, note
        self.blocks = []

    @property
    def size(self):
        return self.end - self.start


class Dump:
    """One heap_dump(): its "heap:" line's figures and its regions."""

    def __init__(self, header, line):
        self.figures = {k: int(v) for k, v in header.groupdict().items() if v is not None}
        self.line = line  # where it starts in the log (1-based)
        self.regions = []
        self.corrupt = False
        self.header_size = None

    @property
    def blocks(self):
        return [b for r in self.regions for b in r.blocks]

    def complete(self):
        return (bool(self.regions) and not self.corrupt
                and len(self.blocks) == self.figures["blocks"])

    def layout(self):
        """Header size and each block's offset in its region.

        The header size is what separates a block's payload from the next one's
        (32 bytes on i386, 56 on x86_64); a region's first header is at its start.
        """
        gaps = {}
        for r in self.regions:
            for a, b in zip(r.blocks, r.blocks[1:]):
                if a.state != "CORRUPT" and b.state != "CORRUPT":
                    gap = b.addr - a.addr - a.size
                    gaps[gap] = gaps.get(gap, 0) + 1
        if gaps:
            self.header_size = max(gaps, key=gaps.get)
        else:  # one block per region: it fills the region
            r = next((r for r in self.regions if r.blocks), None)
            self.header_size = r.size - r.blocks[0].size if r and r.size > r.blocks[0].size else 32
        for r in self.regions:
            off = 0
            for b in r.blocks:
                b.offset = off
                off += self.header_size + b.size


def parse(text):
    """Every dump in text (a log), complete or not, in order."""
    dumps = []
    cur = None
    region = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = ANSI_RE.sub("", raw).replace("\r", "").rstrip()
        m = HEADER_RE.search(line)
        if m:
            cur = Dump(m, n)
            dumps.append(cur)
            region = None
            continue
        if cur is None:
            continue
        m = REGION_RE.match(line)
        if m:
            region = Region(int(m["index"]), int(m["start"], 16), int(m["end"], 16), m["note"])
            cur.regions.append(region)
            continue
        m = CORRUPT_RE.match(line) if region else None
        if m:
            region.blocks.append(Block(int(m["addr"], 16), 0, "CORRUPT", m["detail"], n))
            cur.corrupt = True
            continue
        m = BLOCK_RE.match(line) if region else None
        if m:
            region.blocks.append(Block(int(m["addr"], 16), int(m["size"]), m["state"],
                                       m["detail"], n))
            continue
        cur = region = None  # anything else ends the dump
    for d in dumps:
        d.layout()
    return dumps


def human(n):
    for unit, div in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= div:
            v = n / div
            return f"{v:.0f} {unit}" if v >= 100 or v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"


def row_bytes_for(size, max_rows=24):
    """Bytes per row: a power of two from 1 KB, so a region takes at most max_rows rows."""
    row = 1024
    while size > row * max_rows:
        row *= 2
    return row


class Svg:
    WIDTH = 1000
    LEFT = 110  # room for the row's start address
    RIGHT = 20
    ROW_H = 22
    ROW_GAP = 4

    def __init__(self):
        self.parts = []
        self.y = 0

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=12, weight="normal", anchor="start", cls="label"):
        self.add(f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" font-size="{size}" '
                 f'font-weight="{weight}" text-anchor="{anchor}">{escape(s)}</text>')

    def render(self):
        h = self.y + 10
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.WIDTH}" height="{h}" '
                f'viewBox="0 0 {self.WIDTH} {h}" font-family="DejaVu Sans Mono, monospace">\n'
                f'<rect width="{self.WIDTH}" height="{h}" fill="white"/>\n')
        return head + "\n".join(self.parts) + "\n</svg>\n"


def fragmentation(dump):
    """1 - largest free block / all free bytes: 0 when the free space is in one piece."""
    free = [b.size for b in dump.blocks if b.state == "free"]
    total = sum(free)
    return (1 - max(free) / total) if total else 0.0


def draw_dump(svg, dump, number=None):
    f = dump.figures
    states = {}
    for b in dump.blocks:
        states[b.state] = states.get(b.state, 0) + 1
        if redzone_of(b):  # a debug build's live block: its red zone gets a legend entry
            states["redzone"] = states.get("redzone", 0) + 1
    total = sum(r.size for r in dump.regions)
    largest = max((b.size for b in dump.blocks if b.state == "free"), default=0)
    title = (f"heap: {f['blocks']} blocks ({f['free_blocks']} free) in {len(dump.regions)} "
             f"region{'s' if len(dump.regions) != 1 else ''}, {human(total)}")
    if number is not None:
        title = f"dump {number} (log line {dump.line}): " + title
    svg.y += 24
    svg.text(10, svg.y, title, size=15, weight="bold", cls="title")
    svg.y += 18
    svg.text(10, svg.y, f"used {human(f['used'])}, free {human(f['free'])} "
             f"(largest free block {human(largest)}, fragmentation {fragmentation(dump):.0%}), "
             f"headers {human(dump.header_size * len(dump.blocks))} "
             f"({dump.header_size} B each)", size=12, cls="subtitle")
    if "allocs" in f:
        svg.y += 16
        svg.text(10, svg.y, f"{f['allocs']} allocations, {f['frees']} frees so far", size=12,
                 cls="subtitle")
    svg.y += 10
    width = svg.WIDTH - svg.LEFT - svg.RIGHT
    for r in dump.regions:
        row = row_bytes_for(r.size)
        svg.y += 20
        svg.text(10, svg.y, f"region {r.index}: 0x{r.start:08x}-0x{r.end:08x}  {human(r.size)}, "
                 f"{len(r.blocks)} blocks, {human(row)} a row  {r.note}".rstrip(), size=12,
                 weight="bold", cls="region")
        svg.y += 6
        top = svg.y
        rows = max(1, -(-r.size // row))
        for i in range(rows):
            y = top + i * (svg.ROW_H + svg.ROW_GAP)
            span = min(row, r.size - i * row)
            svg.add(f'<rect class="row" x="{svg.LEFT}" y="{y}" width="{span * width / row:.2f}" '
                    f'height="{svg.ROW_H}" fill="#f7f7f7" stroke="#999" stroke-width="0.5"/>')
            svg.text(svg.LEFT - 6, y + 15, f"+0x{i * row:x}", size=10, anchor="end", cls="axis")
        for b in r.blocks:
            draw_block(svg, b, dump.header_size, r, row, width, top)
        svg.y = top + rows * (svg.ROW_H + svg.ROW_GAP)
    draw_legend(svg, states, dump.header_size)


def segments(start, length, row):
    """Cut [start, start + length) at row boundaries: (row index, offset in row, length)."""
    while length > 0:
        i, off = divmod(start, row)
        n = min(length, row - off)
        yield i, off, n
        start += n
        length -= n


def redzone_of(b):
    """A debug build's live block ("ALLOC 24 bytes at f.c:12, red zone 8"): (asked, rest)."""
    m = re.search(r"(\d+) bytes at .*red zone \d+", b.detail) if b.state == "ALLOC" else None
    if not m or int(m[1]) > b.size:
        return None
    return int(m[1]), b.size - int(m[1])


def draw_block(svg, b, hdr, region, row, width, top):
    payload, header = COLOURS.get(b.state, NEUTRAL)
    scale = width / row
    end = region.size if b.state == "CORRUPT" else b.offset + hdr + b.size
    tip = (f"0x{b.addr:08x}: {b.size} bytes {b.state} {b.detail}".rstrip()
           if b.state != "CORRUPT" else f"0x{b.addr:08x}: CORRUPT {b.detail}: the rest is unknown")
    cls = re.sub(r"[^A-Za-z0-9_-]", "_", b.state)
    svg.add(f'<g class="block {cls}" data-addr="0x{b.addr:x}" data-size="{b.size}" '
            f'data-state="{escape(b.state)}"><title>{escape(tip)}</title>')
    pieces = [(b.offset, min(hdr, end - b.offset), header, "hdr")]
    rz = redzone_of(b)
    if rz:  # the bytes asked, then the red zone and its record to the block's end
        pieces.append((b.offset + hdr, rz[0], payload, "payload"))
        pieces.append((b.offset + hdr + rz[0], rz[1], COLOURS["redzone"][0], "redzone"))
    elif end > b.offset + hdr:
        pieces.append((b.offset + hdr, end - b.offset - hdr, payload, "payload"))
    for start, length, colour, part in pieces:
        for i, off, n in segments(start, max(0, length), row):
            y = top + i * (svg.ROW_H + svg.ROW_GAP)
            svg.add(f'<rect class="{part}" x="{svg.LEFT + off * scale:.2f}" y="{y}" '
                    f'width="{max(n * scale, 0.3):.2f}" height="{svg.ROW_H}" fill="{colour}"/>')
    # a slab's "N/M" objects in use: a bar along the bottom of its span
    m = re.search(r"(\d+)/(\d+)", b.detail) if b.state == "slab" else None
    if m and int(m[2]):
        used = b.size * int(m[1]) // int(m[2])
        for i, off, n in segments(b.offset + hdr, used, row):
            y = top + i * (svg.ROW_H + svg.ROW_GAP) + svg.ROW_H * 2 / 3
            svg.add(f'<rect class="inuse" x="{svg.LEFT + off * scale:.2f}" y="{y:.1f}" '
                    f'width="{n * scale:.2f}" height="{svg.ROW_H / 3:.1f}" fill="{header}"/>')
    # a hairline at the block's end, so neighbours in one state stay apart
    i, off = divmod(min(end, region.size), row)
    if off == 0 and i > 0:
        i, off = i - 1, row
    y = top + i * (svg.ROW_H + svg.ROW_GAP)
    svg.add(f'<line x1="{svg.LEFT + off * scale:.2f}" y1="{y}" x2="{svg.LEFT + off * scale:.2f}" '
            f'y2="{y + svg.ROW_H}" stroke="white" stroke-width="0.6"/>')
    svg.add("</g>")


def draw_legend(svg, states, hdr):
    svg.y += 14
    x = svg.LEFT
    order = [s for s in COLOURS if s in states] + sorted(s for s in states if s not in COLOURS)
    items = [(COLOURS.get(s, NEUTRAL)[0], f"{LABELS.get(s, s)} ({states[s]})") for s in order]
    items.append((NEUTRAL[1], f"block header ({hdr} B, darker shade of its block)"))
    if "slab" in states:
        items.append((COLOURS["slab"][1], "slab objects in use (bar)"))
    for colour, label in items:
        w = 14 + 7.2 * len(label) + 18
        if x + w > svg.WIDTH - svg.RIGHT:
            x = svg.LEFT
            svg.y += 18
        svg.add(f'<rect class="legend" x="{x}" y="{svg.y - 10}" width="12" height="12" '
                f'fill="{colour}" stroke="#666" stroke-width="0.5"/>')
        svg.text(x + 16, svg.y, label, size=11, cls="legend-label")
        x += w
    svg.y += 12


def render(dumps, numbers=None):
    svg = Svg()
    for i, d in enumerate(dumps):
        draw_dump(svg, d, numbers[i] if numbers else None)
        svg.y += 10
    return svg.render()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Draw a heap_dump() from a log as an SVG picture.")
    ap.add_argument("log", nargs="?", default="-", help="serial log or test output ('-': stdin)")
    ap.add_argument("-o", "--output", default="-", help="SVG file to write ('-': stdout)")
    pick = ap.add_mutually_exclusive_group()
    pick.add_argument("--index", type=int, help="draw complete dump N (0 = first, -1 = last)")
    pick.add_argument("--all", action="store_true", help="draw every complete dump")
    pick.add_argument("--list", action="store_true", help="list the dumps found and stop")
    args = ap.parse_args(argv)

    if args.log == "-":
        text = sys.stdin.read()
    else:
        with open(args.log, errors="replace") as f:
            text = f.read()
    found = parse(text)
    dumps = [d for d in found if d.complete()]
    if args.list:
        for i, d in enumerate(found):
            mark = f"[{dumps.index(d)}]" if d in dumps else "incomplete"
            print(f"{mark:>10}  line {d.line}: {len(d.blocks)} of {d.figures['blocks']} blocks, "
                  f"{len(d.regions)} regions")
        return 0
    if not dumps:
        print(f"heapviz: no complete heap dump in {args.log} "
              f"({len(found)} incomplete)", file=sys.stderr)
        return 1
    if args.all:
        chosen, numbers = dumps, list(range(len(dumps)))
    else:
        i = -1 if args.index is None else args.index
        if not -len(dumps) <= i < len(dumps):
            print(f"heapviz: no dump {i}: {len(dumps)} complete dumps", file=sys.stderr)
            return 1
        chosen, numbers = [dumps[i]], None
    out = render(chosen, numbers)
    if args.output == "-":
        sys.stdout.write(out)
    else:
        with open(args.output, "w") as f:
            f.write(out)
        d = chosen[-1]
        print(f"heapviz: {args.output}: {len(chosen)} dump(s), last from line {d.line} "
              f"({len(d.blocks)} blocks)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
