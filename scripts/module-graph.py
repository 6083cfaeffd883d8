#!/usr/bin/env python3
"""The module graph of the service library (api/src): its layers point one way, its files form no
cycle.

Each top-level folder of api/src is a layer; LAYERS below says which layers each may use (the
README's "Architecture" section draws the same). Each file is a module (`view/model.rs` is
`view::model`, `view/mod.rs` is `view`); an edge A -> B means a file of A names B, by a `crate::`,
`super::` or `self::` path (in a `use` tree or inline). Tests (`#[cfg(test)]` modules and `tests/`
folders) are left out: they may reach anywhere.

Exits 1, naming each offending edge, when a layer uses one it may not, or when files form a cycle
(a module naming one of its own submodules, which it declares, is not counted as an edge: only
references between modules that do not contain each other are). `--edges` prints the layers'
edges; `--files` the files'.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api", "src")

# Which layers each layer may use, lowest first. A layer not named here fails the check.
LAYERS = {
    "domain": set(),
    "observe": {"domain"},
    "db": {"domain", "observe"},
    "net": {"domain", "observe"},
    "push": {"db", "net", "domain", "observe"},
    "collector": {"push", "net", "db", "domain", "observe"},
    "view": {"db", "domain", "observe"},
    "history": {"view", "db", "domain", "observe"},
    "web": {"view", "history", "push", "db", "domain", "observe"},
    "app": {"web", "view", "history", "collector", "push", "net", "db", "domain", "observe"},
}


def module_of(rel):
    """`view/model.rs` -> ("view", "model"); `view/mod.rs` -> ("view",); `lib.rs` -> ()."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def strip_tests(text):
    """Drops comments and `#[cfg(test)] mod x { ... }` blocks."""
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
            if depth == 0 and brace is None:
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


def resolve(path, here, modules):
    """The module (a tuple) that a path names, from the module `here`; None if not a module path."""
    parts = [p.strip().split(" ")[0] for p in path.split("::") if p.strip()]
    if not parts:
        return None
    if parts[0] == "crate":
        base, rest = (), parts[1:]
    elif parts[0] in ("self", "super"):
        base = here
        rest = parts
        while rest and rest[0] in ("self", "super"):
            if rest[0] == "super":
                base = base[:-1]
            rest = rest[1:]
    else:
        return None
    best = base
    for k in range(len(rest), 0, -1):
        if base + tuple(rest[:k]) in modules:
            best = base + tuple(rest[:k])
            break
    return best


def file_edges():
    sources = {}
    for folder, _, files in os.walk(ROOT):
        if os.sep + "tests" in folder[len(ROOT) :]:
            continue
        for name in files:
            if name.endswith(".rs"):
                rel = os.path.relpath(os.path.join(folder, name), ROOT)
                sources[module_of(rel)] = os.path.join(folder, name)
    modules = set(sources)
    graph = {}
    for here, path in sources.items():
        text = strip_tests(open(path, encoding="utf-8").read())
        paths = []
        for m in re.finditer(r"\buse\s+([^;]*);", text, re.S):
            paths.extend(flatten(m.group(1)))
        for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", text):
            paths.append(m.group(1))
        targets = set()
        for p in paths:
            target = resolve(p, here, modules)
            # A module's own submodules are its parts, not its dependencies.
            if target is None or target[: len(here)] == here:
                continue
            targets.add(target)
        graph[here] = targets
    return graph


def layer_edges(files):
    graph = {}
    for here, targets in files.items():
        if not here:
            continue
        for target in targets:
            if target and target[0] != here[0]:
                graph.setdefault(here[0], {}).setdefault(target[0], []).append((here, target))
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


def name(module):
    return "::".join(module) or "crate"


def main():
    files = file_edges()
    layers = layer_edges(files)
    if "--edges" in sys.argv:
        for layer in sorted(LAYERS):
            print(f"{layer} -> {', '.join(sorted(layers.get(layer, {}))) or '(nothing)'}")
    if "--files" in sys.argv:
        for module in sorted(files):
            print(f"{name(module)} -> {', '.join(sorted(map(name, files[module]))) or '(nothing)'}")
    failed = False
    top = {module[0] for module in files if module}
    for layer in sorted(top - set(LAYERS)):
        print(f"layer {layer} is not in LAYERS (scripts/module-graph.py)")
        failed = True
    for layer, uses in sorted(layers.items()):
        for used, why in sorted(uses.items()):
            if used not in LAYERS.get(layer, set()):
                failed = True
                examples = ", ".join(f"{name(a)} -> {name(b)}" for a, b in sorted(why)[:3])
                print(f"layer {layer} may not use {used}: {examples}")
    file_graph = {module: {t for t in targets if t} for module, targets in files.items()}
    for component in cycles(file_graph):
        failed = True
        print("file cycle: " + " <-> ".join(map(name, component)))
    if failed:
        sys.exit(1)
    edges = sum(len(targets) for targets in files.values())
    print(f"module graph: {len(LAYERS)} layers in order, {len(files)} files, {edges} edges, no cycles")


if __name__ == "__main__":
    main()
