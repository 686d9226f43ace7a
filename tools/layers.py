#!/usr/bin/env python3
"""The layering check of mm/ (issue 10, item 6): who calls whom, from the object files.

    layers.py [-v] [--nm NM] [--known-cycles FILE] [--outside OBJ...] [--variant NAME] OBJ...
              [--variant NAME OBJ...]...

Each OBJ is one compiled mm/ file (build/layers/normal/mm/heap.c.o is the file "heap"). `nm`
says which symbols each one defines (T, D, B, R, C, W, V...) and which it uses (U, w).  File
A depends on file B when A uses a symbol that B defines: that is the graph.  Objects given
under several --variant names (the normal build and the MM_DEBUG build) are read variant by
variant; the graph is the union, and an edge found in some variants only says which.

It prints the graph as layers: layer 0 holds the files that use no other mm/ file, and each
file sits one layer above the highest file it uses.  Files in a cycle have no order among
them: they share one layer, shown in braces.  Then every edge with one symbol it stands for
(-v: every symbol).

It fails (exit 1), one line per problem, each starting with "layers: FAIL":
  - every elementary cycle, its files in order and one symbol per edge:
        layers: FAIL cycle: heap -(kmem_cache_alloc)-> slab -(heap_owns)-> heap
  - every symbol an mm/ file uses that no mm/ file defines, unless it is named glue_*
    (mm/glue.h is the one door out of mm/); with --outside OBJ... (kernel/, arch/, host/
    objects) the line names the file that defines it.
--known-cycles FILE lists cycles that are expected for now (one a line, "a -> b -> a", the
files in the order printed, starting with the alphabetically first; # starts a comment):
they are printed as "known cycle" and do not fail, but a listed cycle that no longer exists
does ("remove it from the list"), so the list can only shrink.
Exit status: 0 no problem, 1 problems, 2 bad usage or nm failed.
"""
import os
import subprocess
import sys

DEFINED = set("ABCDGRSTVWiuv")  # nm types of the global symbols an object defines
USED = set("Uw")  # ... and of those it uses (w: a weak reference)


def node_name(path):
    """build/layers/normal/mm/heap.c.o -> heap"""
    base = os.path.basename(path)
    for suffix in (".o", ".c", ".S"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base


def read_symbols(nm, path):
    """(defined globals, used symbols) of one object file, from nm -P."""
    try:
        out = subprocess.run([nm, "-P", path], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", "") or str(e)
        sys.exit(f"layers: {nm} -P {path} failed: {err.strip()}")
    defined, used = set(), set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        name, kind = fields[0], fields[1]
        if kind in USED:
            used.add(name)
        elif kind in DEFINED:  # local symbols (t, d, b...) are private to their file
            defined.add(name)
    return defined, used


def parse_args(argv):
    opts = {"nm": os.environ.get("NM", "nm"), "known": None, "outside": [], "variants": [],
            "verbose": False}
    current = None
    target = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        if a in ("--nm", "--known-cycles", "--variant"):
            if i + 1 >= len(argv):
                sys.exit(f"layers: {a} needs an argument")
            val = argv[i + 1]
            i += 2
            if a == "--nm":
                opts["nm"] = val
            elif a == "--known-cycles":
                opts["known"] = val
            else:
                current = (val, [])
                opts["variants"].append(current)
                target = current[1]
            continue
        if a == "-v":
            opts["verbose"] = True
            i += 1
            continue
        if a == "--outside":
            target = opts["outside"]
            i += 1
            continue
        if a.startswith("-"):
            sys.exit(f"layers: unknown option {a} (see --help)")
        if target is None:
            current = ("", [])
            opts["variants"].append(current)
            target = current[1]
        target.append(a)
        i += 1
    if not any(objs for _, objs in opts["variants"]):
        sys.exit("layers: no object files given (see --help)")
    return opts


def strongly_connected(nodes, edges):
    """Tarjan: list of components (sets of nodes)."""
    index, low, stack, on_stack, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            comps.append(comp)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return comps


def elementary_cycles(nodes, edges):
    """Every elementary cycle once, as a list of nodes starting at its smallest node.
    (A plain search from each start node through larger nodes only: mm/ has a dozen files.)"""
    cycles = []
    for start in sorted(nodes):
        path = [start]
        on_path = {start}

        def walk(v):
            for w in sorted(edges.get(v, ())):
                if w == start:
                    cycles.append(list(path))
                elif w > start and w not in on_path:
                    path.append(w)
                    on_path.add(w)
                    walk(w)
                    path.pop()
                    on_path.discard(w)

        walk(start)
    return cycles


def cycle_key(cycle):
    return " -> ".join(cycle + [cycle[0]])


def read_known(path):
    known = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                known.append(" -> ".join(p.strip() for p in line.split("->")))
    return known


def main(argv):
    opts = parse_args(argv)
    nm = opts["nm"]
    names = [v for v, _ in opts["variants"] if v]
    all_variants = len(opts["variants"])

    nodes = set()
    # edge (a, b) -> {symbol: set of variants}
    edge_syms = {}
    outside_uses = {}  # (file, symbol) -> set of variants
    for variant, objs in opts["variants"]:
        defs = {}  # symbol -> file defining it (in this variant)
        uses = {}
        for obj in objs:
            name = node_name(obj)
            nodes.add(name)
            d, u = read_symbols(nm, obj)
            for sym in d:
                if sym in defs and defs[sym] != name:
                    print(f"layers: note: {sym} defined in both {defs[sym]} and {name}")
                defs.setdefault(sym, name)
            uses.setdefault(name, set()).update(u)
        for name, used in uses.items():
            for sym in used:
                owner = defs.get(sym)
                if owner == name:
                    continue
                if owner is None:
                    if not sym.startswith("glue_"):
                        outside_uses.setdefault((name, sym), set()).add(variant)
                    continue
                edge_syms.setdefault((name, owner), {}).setdefault(sym, set()).add(variant)

    outside_defs = {}
    for obj in opts["outside"]:
        d, _ = read_symbols(nm, obj)
        for sym in d:
            outside_defs.setdefault(sym, obj)

    edges = {}
    for a, b in edge_syms:
        edges.setdefault(a, set()).add(b)

    def edge_variants(a, b):
        vs = set()
        for v in edge_syms[(a, b)].values():
            vs |= v
        return vs

    def edge_symbol(a, b):
        """One symbol for the edge: preferably one found in every variant."""
        syms = edge_syms[(a, b)]
        full = sorted(s for s, v in syms.items() if len(v) == all_variants)
        return full[0] if full else sorted(syms)[0]

    def variant_note(vs):
        if all_variants > 1 and len(vs) < all_variants:
            return " [" + ", ".join(sorted(vs)) + " only]"
        return ""

    # Layers over the components (a cycle is one component, one layer).
    comps = strongly_connected(nodes, edges)
    comp_of = {}
    for i, c in enumerate(comps):
        for v in c:
            comp_of[v] = i
    level = {}

    def comp_level(i):
        if i not in level:
            below = [comp_of[w] for v in comps[i] for w in edges.get(v, ()) if comp_of[w] != i]
            level[i] = 1 + max((comp_level(j) for j in below), default=-1)
        return level[i]

    for i in range(len(comps)):
        comp_level(i)
    top = max(level.values(), default=-1)

    title = "mm/ as layers (each file above every file it uses)"
    if names:
        title += "; builds: " + ", ".join(names)
    print(title + ":")
    for lv in range(top, -1, -1):
        parts = []
        for i in sorted((i for i in level if level[i] == lv), key=lambda i: min(comps[i])):
            c = sorted(comps[i])
            parts.append("{" + " ".join(c) + "}" if len(c) > 1 else c[0])
        print(f"  layer {lv}: " + "  ".join(parts))
    print("edges (file -> file it uses: " + ("every symbol" if opts["verbose"] else "one symbol") + "):")
    for a in sorted(edges):
        for b in sorted(edges[a]):
            n = len(edge_syms[(a, b)])
            back = "  <- in a cycle" if comp_of[a] == comp_of[b] else ""
            ev = edge_variants(a, b)
            if opts["verbose"]:  # a symbol's own builds only where they differ from the edge's
                syms = " ".join(s + (variant_note(v) if v != ev else "")
                                for s, v in sorted(edge_syms[(a, b)].items()))
            else:
                syms = edge_symbol(a, b) + (f" (+{n - 1} more)" if n > 1 else "")
            print(f"  {a} -> {b}: {syms}"
                  + variant_note(ev) + back)

    problems = 0
    cycles = elementary_cycles(nodes, edges)
    known = read_known(opts["known"]) if opts["known"] else []
    found = set()
    for cyc in cycles:
        key = cycle_key(cyc)
        found.add(key)
        ring = cyc + [cyc[0]]
        text = ring[0]
        for a, b in zip(ring, ring[1:]):
            text += f" -({edge_symbol(a, b)}{variant_note(edge_variants(a, b))})-> {b}"
        if key in known:
            print(f"layers: known cycle: {text}")
        else:
            problems += 1
            print(f"layers: FAIL cycle: {text}")
    for key in known:
        if key not in found:
            problems += 1
            print(f"layers: FAIL known cycle no longer exists: {key}: remove it from {opts['known']}")
    for (name, sym), vs in sorted(outside_uses.items()):
        where = outside_defs.get(sym)
        where = f"defined in {where}" if where else "defined by no mm/ file"
        problems += 1
        print(f"layers: FAIL outside: {name} uses {sym} ({where}){variant_note(vs)}:"
              " only glue_* (mm/glue.h) may leave mm/")
    print(f"layers: {len(nodes)} files, {sum(len(e) for e in edges.values())} edges, "
          f"{len(cycles)} cycles ({len(found & set(known))} known), "
          f"{len(outside_uses)} outside uses: " + ("FAIL" if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
