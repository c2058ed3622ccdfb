#!/usr/bin/python3
"""check-layers.py - the include rules of the tree (docs/architecture.md).

1. The library's layers depend one way: core <- net <- id <- xport <- nc.
   A file may include library headers of its own layer or lower ones only,
   and never a header of a binary (agent, hub, cli, common).
2. The daemons' modules (a module is foo.c with foo.h) form no include
   cycle, and no binary includes another's headers. (The CLI's command
   table and its help command name each other on purpose.)

Prints one line per violation and exits 1; exits 0 when the tree is clean.
Usage: check-layers.py [SRC_DIR]   (default: src beside this script)
"""
import os
import re
import sys

LAYERS = ["core", "net", "id", "xport", "nc"]
BINARIES = ["agent", "hub", "cli", "common"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def files(src):
    for root, _, names in os.walk(src):
        for n in sorted(names):
            if n.endswith((".c", ".h")):
                yield os.path.relpath(os.path.join(root, n), src)


def module(path):
    """src-relative path of a file -> its module (path without suffix)."""
    return os.path.splitext(path)[0]


def area(path):
    """('lib', layer) or (binary, None)."""
    parts = path.split(os.sep)
    if parts[0] == "lib" and len(parts) > 2:
        return "lib", parts[1]
    return parts[0], None


def find_cycle(graph):
    """One include cycle as a list of modules, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {m: WHITE for m in graph}
    stack = []

    def visit(m):
        color[m] = GREY
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if color.get(n, BLACK) == GREY:
                return stack[stack.index(n):] + [n]
            if color.get(n) == WHITE:
                c = visit(n)
                if c:
                    return c
        stack.pop()
        color[m] = BLACK
        return None

    for m in sorted(graph):
        if color[m] == WHITE:
            c = visit(m)
            if c:
                return c
    return None


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src")
    bad = []
    graphs = {b: {} for b in BINARIES}
    for f in files(src):
        with open(os.path.join(src, f), encoding="utf-8") as fh:
            incs = INCLUDE.findall(fh.read())
        kind, layer = area(f)
        for inc in incs:
            ikind, ilayer = area(inc)
            if kind == "lib":
                if ikind != "lib":
                    bad.append(f"{f}: the library includes {inc}")
                elif LAYERS.index(ilayer) > LAYERS.index(layer):
                    bad.append(f"{f}: layer {layer} includes {inc} "
                               f"(layer {ilayer} is above it)")
            elif kind in BINARIES and ikind in BINARIES:
                if ikind != kind and ikind != "common":
                    bad.append(f"{f}: {kind} includes {inc} of {ikind}")
                elif module(inc) != module(f):
                    graphs[kind].setdefault(module(f), set()).add(module(inc))
        if kind in BINARIES:
            graphs[kind].setdefault(module(f), set())
    for b, g in graphs.items():
        if b not in ("agent", "hub"):
            continue
        cycle = find_cycle(g)
        if cycle:
            bad.append(f"{b}: include cycle: {' -> '.join(cycle)}")
    for line in bad:
        print(line)
    if bad:
        print(f"check-layers: {len(bad)} violation(s)")
        return 1
    print(f"check-layers: layers and modules clean ({src})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
