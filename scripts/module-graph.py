#!/usr/bin/env python3
"""The module graph of the `api` crate, and its cycles.

Each top-level module of api/src (and each module under api/src/tools/) is a node; an edge A -> B
means a file of A names `crate::B` (in a `use` tree or a path). Tests (`#[cfg(test)]` modules and
`tests/` folders) are left out: they may reach anywhere. Prints the edges with --edges; exits 1
and prints every cycle (strongly connected component of more than one node) when there is one.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api", "src")
GROUPED = {"tools"}  # folders whose submodules are nodes of their own


def unit_of(rel):
    parts = rel[:-3].split(os.sep)  # drop ".rs"
    if parts[-1] == "mod":
        parts = parts[:-1]
    if not parts or parts[0] in ("lib", "main"):
        return None
    if parts[0] in GROUPED and len(parts) > 1:
        return f"{parts[0]}::{parts[1]}"
    return parts[0]


def strip_tests(text):
    """Drops `#[cfg(test)] mod x { ... }` blocks and comments."""
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def flatten(tree, prefix=""):
    """Paths of a `use` tree: `crate::{a, b::{c, d}}` -> crate::a, crate::b::c, crate::b::d."""
    tree = tree.strip()
    depth, brace = 0, None
    for k, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                brace = k
            depth += 1
        elif ch == "}":
            depth -= 1
    if brace is None:
        return [prefix + tree]
    head, inner = tree[:brace], tree[brace + 1 : tree.rindex("}")]
    items, depth, start = [], 0, 0
    for k, ch in enumerate(inner):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            items.append(inner[start:k])
            start = k + 1
    items.append(inner[start:])
    paths = []
    for item in items:
        if item.strip():
            paths.extend(flatten(item, prefix + head))
    return paths


def targets(path):
    """The unit a `crate::...` path names."""
    parts = [p.strip() for p in path.split("::")]
    if len(parts) < 2 or parts[0] != "crate":
        return None
    name = parts[1].split(" ")[0]
    if name in GROUPED and len(parts) > 2:
        return f"{name}::{parts[2].split(' ')[0]}"
    return name


def edges():
    graph = {}
    for folder, _, files in os.walk(ROOT):
        if os.sep + "tests" in folder[len(ROOT):]:
            continue
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(folder, name), ROOT)
            unit = unit_of(rel)
            if unit is None:
                continue
            text = strip_tests(open(os.path.join(folder, name), encoding="utf-8").read())
            names = set()
            for m in re.finditer(r"\buse\s+([^;]*);", text, re.S):
                for p in flatten(m.group(1)):
                    names.add(targets(p))
            for m in re.finditer(r"\bcrate::((?:\w+::)*\w+)", text):
                names.add(targets("crate::" + m.group(1)))
            graph.setdefault(unit, set())
            for target in names:
                if target and target != unit and target not in ("self", "super"):
                    if target in GROUPED:
                        continue
                    graph[unit].add(target)
    return graph


def cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    graph = edges()
    if "--edges" in sys.argv:
        for unit in sorted(graph):
            print(f"{unit} -> {', '.join(sorted(graph[unit])) or '(nothing)'}")
    found = cycles(graph)
    for component in found:
        print("cycle: " + " <-> ".join(component))
    if found:
        sys.exit(1)
    print(f"module graph: {len(graph)} modules, no cycles")


if __name__ == "__main__":
    main()
