"""Tests of tools/heapviz.py on real heap dumps.

samples/ holds captured logs: kernel-serial.log (the kernel under QEMU, its
shell driven through a pipe: `stress`, `alloc`, `free`, three heap dumps),
host-*.log (tests/tools/dump_sample.c: a fragmented heap, dumped, and the
heap's own statistics on a "sample-stats:" line), states.log (hand-edited:
states heap_dump does not print yet, a corrupt dump, a truncated one).  With
HEAPVIZ_FRESH=DIR (make test-tools) the dump_sample logs in DIR, made by the
current mm/ sources, are checked too.

Run: python3 -m unittest -v tests/tools/test_heapviz.py
"""
import glob
import io
import os
import re
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import heapviz  # noqa: E402

SAMPLES = os.path.join(HERE, "samples")
SVG = "{http://www.w3.org/2000/svg}"


def read(path):
    with open(path) as f:
        return f.read()


def sample(name):
    return read(os.path.join(SAMPLES, name))


def run(*argv, stdin=None):
    """heapviz.main(argv): (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            rc = heapviz.main(list(argv))
    finally:
        sys.stdin = old
    return rc, out.getvalue(), err.getvalue()


def svg_of(text, *argv):
    rc, out, err = run("-", *argv, stdin=text)
    assert rc == 0, err
    return ET.fromstring(out)  # well-formed XML, or this raises


def groups(root):
    return [g for g in root.iter(SVG + "g") if "block" in g.get("class", "").split()]


def sample_stats(text):
    m = re.search(r"sample-stats: heap_size (\d+) used (\d+) free (\d+) blocks (\d+) "
                  r"free_blocks (\d+) header (\d+)", text)
    return dict(zip(["heap_size", "used", "free", "blocks", "free_blocks", "header"],
                    map(int, m.groups())))


class ParseKernelLog(unittest.TestCase):
    """The serial log of a real boot: CR LF line ends, prompts, three dumps."""

    def setUp(self):
        self.dumps = heapviz.parse(sample("kernel-serial.log"))

    def test_finds_every_dump_complete(self):
        self.assertEqual(len(self.dumps), 3)
        self.assertTrue(all(d.complete() for d in self.dumps))
        self.assertEqual([len(d.blocks) for d in self.dumps],
                         [d.figures["blocks"] for d in self.dumps])

    def test_boot_demo_dump_block_by_block(self):
        first = self.dumps[0]  # the boot demo: four blocks allocated
        self.assertEqual([(b.addr, b.size, b.state) for b in first.blocks],
                         [(0x00500020, 24, "ALLOC"), (0x00500058, 104, "ALLOC"),
                          (0x005000E0, 1000, "ALLOC"), (0x005004E8, 64, "ALLOC"),
                          (0x00500548, 64184, "free")])
        self.assertEqual(first.header_size, 32)  # i386: the spec's 32-byte header
        self.assertEqual(first.figures["used"], 24 + 104 + 1000 + 64)

    def test_last_dump_regions_are_tiled_exactly(self):
        last = self.dumps[-1]
        self.assertEqual(len(last.regions), 2)
        self.assertEqual(last.regions[0].start, 0x00500000)
        self.assertEqual(last.regions[1].start, 0xD0000000)
        for r in last.regions:
            self.assertEqual(sum(32 + b.size for b in r.blocks), r.size, r.note)
            for a, b in zip(r.blocks, r.blocks[1:]):  # each block ends where the next begins
                self.assertEqual(a.addr + a.size + 32, b.addr)
                self.assertEqual(a.offset + 32 + a.size, b.offset)

    def test_last_dump_states_and_figures(self):
        last = self.dumps[-1]
        states = [b.state for b in last.blocks]
        self.assertEqual(states.count("free"), last.figures["free_blocks"])
        self.assertEqual(sum(b.size for b in last.blocks if b.state == "free"),
                         last.figures["free"])
        self.assertEqual(sum(b.size for b in last.blocks if b.state != "free"),
                         last.figures["used"])
        slabs = [b for b in last.blocks if b.state == "slab"]
        self.assertTrue(slabs)
        self.assertTrue(all(re.match(r"kmalloc-\d+ \d+/\d+$", b.detail) for b in slabs))


class ParseHostSamples(unittest.TestCase):
    """dump_sample's output agrees with the heap's own statistics."""

    def check(self, text, name):
        stats = sample_stats(text)
        dumps = heapviz.parse(text)
        self.assertEqual(len(dumps), 1, name)
        d = dumps[0]
        self.assertTrue(d.complete(), name)
        blocks = d.blocks
        self.assertEqual(d.header_size, stats["header"], name)
        self.assertEqual(len(blocks), stats["blocks"], name)
        self.assertEqual(sum(b.state == "free" for b in blocks), stats["free_blocks"], name)
        self.assertEqual(sum(b.size for b in blocks if b.state == "free"), stats["free"], name)
        self.assertEqual(sum(b.size for b in blocks if b.state != "free"), stats["used"], name)
        self.assertEqual(sum(r.size for r in d.regions), stats["heap_size"], name)
        for r in d.regions:
            self.assertEqual(sum(d.header_size + b.size for b in r.blocks), r.size, name)
        return d

    def test_captured_samples(self):
        files = sorted(glob.glob(os.path.join(SAMPLES, "host-*.log")))
        self.assertEqual(len(files), 2)
        sizes = {self.check(read(f), f).header_size for f in files}
        self.assertEqual(sizes, {32, 56})  # i386 and x86_64

    def test_virtual_sample_has_slabs_and_two_regions(self):
        d = self.check(sample("host-x86_64-virtual.log"), "host-x86_64-virtual.log")
        self.assertEqual(len(d.regions), 2)
        self.assertIn("virtual heap", d.regions[1].note)
        self.assertIn("slab", {b.state for b in d.blocks})

    @unittest.skipUnless(os.environ.get("HEAPVIZ_FRESH"), "HEAPVIZ_FRESH not set")
    def test_fresh_dumps_of_the_current_sources(self):
        files = sorted(glob.glob(os.path.join(os.environ["HEAPVIZ_FRESH"], "*.log")))
        self.assertGreaterEqual(len(files), 4)  # i386 and x86_64, early and virtual
        for f in files:
            with self.subTest(f):
                self.check(read(f), f)


class States(unittest.TestCase):
    def setUp(self):
        self.text = sample("states.log")
        self.dumps = heapviz.parse(self.text)

    def test_any_state_word_is_a_block(self):
        d = self.dumps[0]
        self.assertEqual([b.state for b in d.blocks],
                         ["ALLOC", "redzone", "quarantine", "ALLOC", "guardpage", "slab", "free"])
        self.assertEqual(d.blocks[2].detail, "(freed 3 operations ago)")
        self.assertTrue(d.complete())

    def test_corrupt_and_truncated_dumps_are_not_complete(self):
        self.assertEqual([d.complete() for d in self.dumps], [True, False, False])
        self.assertTrue(self.dumps[1].corrupt)
        self.assertEqual(self.dumps[1].blocks[-1].state, "CORRUPT")
        self.assertEqual(len(self.dumps[2].blocks), 2)  # of 4: the log was cut

    def test_default_draws_the_last_complete_dump(self):
        root = svg_of(self.text)
        self.assertEqual(len(groups(root)), 7)  # the first dump: the only complete one

    def test_unknown_states_get_the_neutral_colour(self):
        root = svg_of(self.text)
        fills = {}
        for g in groups(root):
            payload = [r for r in g.iter(SVG + "rect") if r.get("class") == "payload"]
            fills[g.get("data-state")] = payload[0].get("fill")
        self.assertEqual(fills["guardpage"], heapviz.NEUTRAL[0])
        self.assertEqual(fills["redzone"], heapviz.COLOURS["redzone"][0])
        self.assertEqual(fills["quarantine"], heapviz.COLOURS["quarantine"][0])
        self.assertEqual(len(set(fills.values())), 6)  # ALLOC twice, then one colour each
        labels = " ".join(t.text for t in root.iter(SVG + "text"))
        self.assertIn("guardpage (1)", labels)  # in the legend, under its own name

    def test_list(self):
        rc, out, _ = run("-", "--list", stdin=self.text)
        self.assertEqual(rc, 0)
        lines = out.splitlines()
        self.assertEqual(len(lines), 3)
        self.assertIn("[0]", lines[0])
        self.assertIn("incomplete", lines[1])
        self.assertIn("incomplete", lines[2])


class Svg(unittest.TestCase):
    def setUp(self):
        self.text = sample("kernel-serial.log")
        self.dumps = heapviz.parse(self.text)

    def test_one_group_per_block_header_and_payload(self):
        root = svg_of(self.text)
        gs = groups(root)
        last = self.dumps[-1]
        self.assertEqual(len(gs), len(last.blocks))
        self.assertEqual([int(g.get("data-addr"), 16) for g in gs], [b.addr for b in last.blocks])
        for g, b in zip(gs, last.blocks):
            rects = list(g.iter(SVG + "rect"))
            self.assertGreaterEqual(sum(r.get("class") == "hdr" for r in rects), 1)
            self.assertGreaterEqual(sum(r.get("class") == "payload" for r in rects), 1)
            self.assertIn(f"{b.size} bytes {b.state}", g.find(SVG + "title").text)

    def test_widths_are_proportional_to_bytes(self):
        root = svg_of(self.text)
        last = self.dumps[-1]
        for r in last.regions:
            row = heapviz.row_bytes_for(r.size)
            scale = (heapviz.Svg.WIDTH - heapviz.Svg.LEFT - heapviz.Svg.RIGHT) / row
            for g in groups(root):
                b = next((b for b in r.blocks if b.addr == int(g.get("data-addr"), 16)), None)
                if b is None:
                    continue
                w = sum(float(x.get("width")) for x in g.iter(SVG + "rect")
                        if x.get("class") in ("hdr", "payload"))
                self.assertAlmostEqual(w, (32 + b.size) * scale, delta=0.05 * 4)

    def test_a_block_across_rows_is_cut_into_spans(self):
        self.assertEqual(list(heapviz.segments(1000, 3000, 1024)),
                         [(0, 1000, 24), (1, 0, 1024), (2, 0, 1024), (3, 0, 928)])
        region = self.dumps[0].regions[0]  # 64 KB in 4 KB rows: the last free block spans 16
        root = svg_of(self.text, "--index", "0")
        free = [g for g in groups(root) if g.get("data-state") == "free"][0]
        spans = [r for r in free.iter(SVG + "rect") if r.get("class") == "payload"]
        self.assertEqual(heapviz.row_bytes_for(region.size), 4096)
        self.assertEqual(len(spans), 16)

    def test_title_counts_and_legend(self):
        root = svg_of(self.text)
        texts = [t.text for t in root.iter(SVG + "text")]
        last = self.dumps[-1]
        self.assertTrue(texts[0].startswith(f"heap: {last.figures['blocks']} blocks "
                                            f"({last.figures['free_blocks']} free) in 2 regions"))
        counts = {s: sum(b.state == s for b in last.blocks) for s in ("free", "slab", "ALLOC")}
        for state, label in (("free", "free"), ("slab", "slab page"), ("ALLOC", "allocated")):
            self.assertIn(f"{label} ({counts[state]})", texts)

    def test_index_and_all(self):
        self.assertEqual(len(groups(svg_of(self.text, "--index", "0"))), 5)
        self.assertEqual(len(groups(svg_of(self.text, "--index", "1"))), 4)
        self.assertEqual(len(groups(svg_of(self.text, "--index", "-1"))),
                         len(self.dumps[-1].blocks))
        everything = svg_of(self.text, "--all")
        self.assertEqual(len(groups(everything)), sum(len(d.blocks) for d in self.dumps))
        titles = [t.text for t in everything.iter(SVG + "text") if t.get("class") == "title"]
        self.assertEqual(len(titles), 3)
        rc, _, err = run("-", "--index", "3", stdin=self.text)
        self.assertEqual(rc, 1)
        self.assertIn("3 complete dumps", err)

    def test_a_truncated_last_dump_is_skipped(self):
        cut = self.text[:self.text.rindex("  0xd00")]  # the last dump loses its last blocks
        dumps = heapviz.parse(cut)
        self.assertFalse(dumps[-1].complete())
        self.assertEqual(len(groups(svg_of(cut))), 4)  # the second dump, the last complete one

    def test_writes_a_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "heap.svg")
            rc, _, err = run(os.path.join(SAMPLES, "kernel-serial.log"), "-o", out)
            self.assertEqual(rc, 0)
            self.assertIn(f"({len(self.dumps[-1].blocks)} blocks)", err)
            self.assertEqual(len(groups(ET.parse(out).getroot())), len(self.dumps[-1].blocks))

    def test_no_dump_is_an_error(self):
        rc, out, err = run("-", stdin="boot log without any heap dump\n")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("no complete heap dump", err)



class DebugDump(unittest.TestCase):
    """A debug kernel booted with mmdebug (make heap-picture): red zones and quarantine."""

    def test_red_zones_and_quarantine_drawn(self):
        text = sample("kernel-debug-serial.log")
        last = heapviz.parse(text)[-1]
        states = {b.state for b in last.blocks}
        self.assertIn("quarantine", states)
        live = [b for b in last.blocks if b.state == "ALLOC" and "red zone" in b.detail]
        self.assertTrue(live)
        root = svg_of(text)
        r = last.regions[0]
        scale = (heapviz.Svg.WIDTH - heapviz.Svg.LEFT - heapviz.Svg.RIGHT) / heapviz.row_bytes_for(
            r.size)
        by_addr = {int(g.get("data-addr"), 16): g for g in groups(root)}
        for b in live:
            if b not in r.blocks:
                continue
            asked = int(re.search(r"(\d+) bytes at", b.detail)[1])
            rects = list(by_addr[b.addr].iter(SVG + "rect"))
            red = sum(float(x.get("width")) for x in rects if x.get("class") == "redzone")
            used = sum(float(x.get("width")) for x in rects if x.get("class") == "payload")
            self.assertAlmostEqual(red, (b.size - asked) * scale, delta=0.6)
            self.assertAlmostEqual(used, asked * scale, delta=0.6)
        self.assertIn("red zone (", ET.tostring(root, encoding="unicode"))  # in the legend


if __name__ == "__main__":
    unittest.main()
