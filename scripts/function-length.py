#!/usr/bin/env python3
"""No function of the service library (api/src) is longer than MAX_LINES lines, from its `fn`
line to its closing brace. Tests (`#[cfg(test)]` modules and `tests/` folders) and the operator
tools (their own crate) are left out. Prints each longer function; exits 1 when there is one.
`--top N` prints the N longest instead.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api", "src")
MAX_LINES = 80

FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)", re.M)


def blank_tests_and_literals(text):
    """Comments, string literals and `#[cfg(test)] mod` blocks turned into spaces (newlines
    kept), so that braces inside them are not counted and line numbers stay true."""
    out = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("r#\"", i) or text.startswith("r\"", i):
            hashes = 1 if text.startswith("r#", i) else 0
            end = "\"" + "#" * hashes
            j = text.find(end, i + 2 + hashes)
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text[i] == "'" and re.match(r"'(\\.|[^\\'])'", text[i : i + 4]):
            m = re.match(r"'(\\.|[^\\'])'", text[i : i + 4])
            out.append(" " * len(m.group(0)))
            i += len(m.group(0))
        else:
            out.append(text[i])
            i += 1
    text = "".join(out)
    for m in list(re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text)):
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        text = text[: m.start()] + re.sub(r"[^\n]", " ", text[m.start() : j]) + text[j:]
    return text


def functions(path):
    text = blank_tests_and_literals(open(path, encoding="utf-8").read())
    for m in FN.finditer(text):
        # The body starts at the first `{` after the signature (a `;` first: no body).
        j = m.end()
        while j < len(text) and text[j] not in "{;":
            j += 1
        if j >= len(text) or text[j] == ";":
            continue
        depth, k = 1, j + 1
        while k < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[k], 0)
            k += 1
        first = text.count("\n", 0, m.start()) + 1
        last = text.count("\n", 0, k) + 1
        yield m.group(1), first, last - first + 1


def main():
    found = []
    for folder, _, files in os.walk(ROOT):
        if os.sep + "tests" in folder[len(ROOT) :]:
            continue
        for name in files:
            if name.endswith(".rs"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, ROOT)
                for fn, line, length in functions(path):
                    found.append((length, f"api/src/{rel}:{line}", fn))
    found.sort(reverse=True)
    if "--top" in sys.argv:
        count = int(sys.argv[sys.argv.index("--top") + 1])
        for length, where, fn in found[:count]:
            print(f"{length:4} {where} {fn}")
        return
    long = [f for f in found if f[0] > MAX_LINES]
    for length, where, fn in long:
        print(f"{where}: fn {fn} is {length} lines (at most {MAX_LINES})")
    if long:
        sys.exit(1)
    print(f"function length: {len(found)} functions, none over {MAX_LINES} lines")


if __name__ == "__main__":
    main()
