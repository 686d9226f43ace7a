"""tools/tracestat.py on a real trace (tests/tools/trace_sample.c, built with MM_DEBUG)."""
import io
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import tracestat  # noqa: E402

SAMPLES = os.environ.get("TRACE_SAMPLES", "").split()


class TraceStat(unittest.TestCase):
    def run_sample(self, binary):
        # tools/host-exec.sh: an i386 sample runs under qemu-i386 where this machine cannot run it
        out = subprocess.run(["tools/host-exec.sh", binary], capture_output=True, text=True, check=True).stdout
        return tracestat.summarise(tracestat.parse(out))

    def test_samples_given(self):
        self.assertTrue(SAMPLES, "TRACE_SAMPLES names no trace_sample binaries")

    def test_counts_by_site(self):
        for binary in SAMPLES:
            r = self.run_sample(binary)
            self.assertEqual(r["events"], 18 + 9, binary)
            by_line = {site.rsplit(":", 1)[1]: v for site, v in r["sites"].items()}
            allocs = sorted((v[0], v[1], v[2]) for v in by_line.values())
            # three allocation sites, and the two kfree lines (an event's site is its caller's)
            self.assertEqual(allocs, [(0, 0, 4), (0, 0, 5), (3, 72, 0), (5, 10000, 0), (10, 1000, 0)],
                             binary)
            self.assertEqual(r["peak"], 1000 + 10000 + 72)
            self.assertEqual(len(r["live"]), 6 + 3)
            self.assertEqual(sum(s for s, _ in r["live"].values()), 600 + 72)
            self.assertEqual(r["unknown_frees"], [])

    def test_report_and_unknown_free(self):
        text = ("trace: 7 free 0x1000 16 a.c:1\n"
                "trace: 8 alloc 0x2000 32 b.c:2\n")
        r = tracestat.summarise(tracestat.parse(text))
        self.assertEqual(r["unknown_frees"], [(7, 0x1000)])
        out = io.StringIO()
        tracestat.report(r, out)
        self.assertIn("live: b.c:2 1 allocations, 32 bytes", out.getvalue())
        self.assertIn("not allocated in the window: 1", out.getvalue())

    def test_last_dump_wins(self):
        text = ("trace: 1 alloc 0x10 8 a.c:1\ntrace: 2 alloc 0x20 8 a.c:1\n"
                "trace: 1 alloc 0x30 8 b.c:9\n")
        self.assertEqual([e[2] for e in tracestat.parse(text)], [0x30])


if __name__ == "__main__":
    unittest.main()
