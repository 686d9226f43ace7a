#!/usr/bin/env python3
"""tracestat.py LOG: read the allocation trace a debug build prints (heap_trace_dump, the
console's `trace`: lines "trace: <seq> alloc|free <addr> <size> <file>:<line>") from a serial
log or a host run, and summarise it: events, allocations and frees by call site, the peak of
live bytes inside the window, what is still live at its end, and frees of addresses the window
never saw allocated (allocated before it, or a bug).  The trace is a ring: only its last
events are there, so "live at the end" means "allocated inside the window and not freed"."""
import argparse
import re
import sys
from collections import OrderedDict

LINE = re.compile(r"trace: (\d+) (alloc|free) (0x[0-9a-fA-F]+) (\d+) (\S+)")


def parse(text):
    """The events of the last trace dump in text, oldest first: (seq, kind, addr, size, site)."""
    dumps, current, last_seq = [], [], None
    for line in text.splitlines():
        m = LINE.search(line)
        if not m:
            continue
        seq = int(m.group(1))
        if last_seq is not None and seq <= last_seq:  # a new dump starts
            dumps.append(current)
            current = []
        current.append((seq, m.group(2), int(m.group(3), 16), int(m.group(4)), m.group(5)))
        last_seq = seq
    if current:
        dumps.append(current)
    return dumps[-1] if dumps else []


def summarise(events):
    live = OrderedDict()  # addr -> (size, site)
    sites = OrderedDict()  # site -> [allocs, bytes, frees]
    unknown_frees, live_bytes, peak = [], 0, 0
    for seq, kind, addr, size, site in events:
        s = sites.setdefault(site, [0, 0, 0])
        if kind == "alloc":
            s[0] += 1
            s[1] += size
            live[addr] = (size, site)
            live_bytes += size
            peak = max(peak, live_bytes)
        else:
            s[2] += 1
            if addr in live:
                live_bytes -= live.pop(addr)[0]
            else:
                unknown_frees.append((seq, addr))
    return {"events": len(events), "sites": sites, "live": live, "peak": peak,
            "unknown_frees": unknown_frees,
            "first": events[0][0] if events else None, "last": events[-1][0] if events else None}


def report(r, out):
    if not r["events"]:
        out.write("tracestat: no trace lines\n")
        return
    out.write("tracestat: %d events (seq %d-%d), peak %d bytes live inside the window\n"
              % (r["events"], r["first"], r["last"], r["peak"]))
    for site, (allocs, nbytes, frees) in sorted(r["sites"].items(), key=lambda kv: -kv[1][1]):
        out.write("site: %s %d allocations, %d bytes, %d frees\n" % (site, allocs, nbytes, frees))
    by_site = OrderedDict()
    for addr, (size, site) in r["live"].items():
        n = by_site.setdefault(site, [0, 0])
        n[0] += 1
        n[1] += size
    for site, (count, nbytes) in by_site.items():
        out.write("live: %s %d allocations, %d bytes\n" % (site, count, nbytes))
    out.write("live: %d allocations, %d bytes at the end of the window\n"
              % (len(r["live"]), sum(s for s, _ in r["live"].values())))
    out.write("frees of addresses not allocated in the window: %d\n" % len(r["unknown_frees"]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", help="serial log or test output holding a trace dump ('-': stdin)")
    args = ap.parse_args(argv)
    text = sys.stdin.read() if args.log == "-" else open(args.log, errors="replace").read()
    r = summarise(parse(text))
    report(r, sys.stdout)
    return 0 if r["events"] else 1


if __name__ == "__main__":
    sys.exit(main())
