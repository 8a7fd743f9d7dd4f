#!/usr/bin/env python3
"""The code's shape, as issue #15 measures it, for a checkout at DIR (default: .):
lines per crate, the largest file, TrainConfig's fields, serde_json::Value and json!
uses outside tests, import cycles between the files of a crate, and test helpers
copied between test files.

    python3 scripts/code_shape.py [DIR] [--json]

Compare two commits with `git worktree add /tmp/before <commit>` and a run on each.
"""
import json
import os
import re
import sys
from collections import defaultdict


def rust_files(root):
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("target", ".git", "node_modules", "vendor")]
        for f in files:
            if f.endswith(".rs"):
                yield os.path.join(dirpath, f)


def strip_tests(text):
    """The source without its `#[cfg(test)] mod … { … }` blocks."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def is_test_path(rel):
    parts = rel.split(os.sep)
    return "tests" in parts or parts[-1] in ("tests.rs",) or "examples" in parts or "benches" in parts


def module_of(rel_in_src):
    """crates/x/src/a/b.rs -> a::b ; a/mod.rs -> a ; lib.rs/main.rs -> ''."""
    p = rel_in_src[:-3]
    if p in ("lib", "main"):
        return ""
    if p.endswith("/mod"):
        p = p[:-4]
    return p.replace("/", "::")


def expand_groups(text, root):
    """`root::{a::b, c::{d, e}}` -> ["a::b", "c::d", "c::e"], for every group after
    `root::` (`crate` or `super`), plus the plain `root::a::b` paths."""
    out = re.findall(root + r"::((?:\w+::)*\w+)", text)

    def split_top(body):
        depth, cur, items = 0, "", []
        for ch in body:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                items.append(cur)
                cur = ""
            else:
                cur += ch
        items.append(cur)
        return [i.strip() for i in items if i.strip()]

    def walk(prefix, body):
        for item in split_top(body):
            m = re.match(r"((?:\w+::)*)\{(.*)\}$", item, re.S)
            if m:
                walk(prefix + m.group(1), m.group(2))
            else:
                out.append(prefix + item.split(" as ")[0].strip())

    for m in re.finditer(root + r"::((?:\w+::)*)\{", text):
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        walk(m.group(1), text[m.end() : j - 1])
    return out


def cycles(src_root, files):
    """Strongly connected components (size > 1) of the graph 'file uses file'."""
    mods = {module_of(os.path.relpath(f, src_root)): f for f in files}
    graph = defaultdict(set)
    for m, f in mods.items():
        text = strip_tests(open(f, encoding="utf-8", errors="replace").read())
        # Doc links name modules without importing them.
        text = re.sub(r"//.*", "", text)
        for ref in expand_groups(text, "crate"):
            parts = ref.split("::")
            # the longest prefix that is a module file
            for k in range(len(parts), 0, -1):
                cand = "::".join(parts[:k])
                if cand in mods:
                    if cand != m and not cand.startswith(m + "::") and m != "":
                        graph[m].add(cand)
                    break
        for ref in expand_groups(text, "super"):
            base = m.rsplit("::", 1)[0] if "::" in m else ""
            if os.path.basename(f) == "mod.rs":
                base = m.rsplit("::", 1)[0] if "::" in m else ""
            parts = ref.split("::")
            for k in range(len(parts), 0, -1):
                cand = "::".join(([base] if base else []) + parts[:k])
                if cand in mods:
                    if cand != m and m != "":
                        graph[m].add(cand)
                    break
    # Tarjan
    index, low, stack, on, comps, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(mods):
        if v not in index:
            visit(v)
    return comps


def functions(text):
    """(name, body) of each top-level or impl function of a file."""
    for m in re.finditer(r"(?m)^\s*(?:pub(?:\([^)]*\))? )?(?:async )?fn (\w+)[^{;]*\{", text):
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        yield m.group(1), " ".join(text[m.end() : j].split())


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = os.path.abspath(args[0] if args else ".")
    crates_dir = os.path.join(root, "crates")
    report = {"crates": {}, "largest_file": None, "value_uses": 0, "json_macro_uses": 0,
              "import_cycles": [], "copied_test_helpers": []}
    largest = (0, "")
    helpers = defaultdict(set)
    for crate in sorted(os.listdir(crates_dir)):
        croot = os.path.join(crates_dir, crate)
        if not os.path.isdir(croot):
            continue
        src_lines = test_lines = 0
        src_files = []
        for f in rust_files(croot):
            rel = os.path.relpath(f, root)
            text = open(f, encoding="utf-8", errors="replace").read()
            n = text.count("\n")
            if is_test_path(os.path.relpath(f, croot)):
                test_lines += n
                if os.sep + "tests" + os.sep in f and not f.endswith("main.rs"):
                    for name, body in functions(text):
                        if not re.search(r"#\[(?:tokio::)?test", text[max(0, text.find("fn " + name) - 120):text.find("fn " + name)]):
                            helpers[name].add((rel, body))
                continue
            src_lines += n
            if n > largest[0]:
                largest = (n, rel)
            if os.path.relpath(f, croot).startswith("src" + os.sep):
                src_files.append(f)
            body = strip_tests(text)
            report["value_uses"] += len(re.findall(r"\bValue\b", body)) if "serde_json" in body else 0
            report["json_macro_uses"] += len(re.findall(r"\bjson!\s*\(", body))
        report["crates"][crate] = {"src_lines": src_lines, "test_lines": test_lines}
        for comp in cycles(os.path.join(croot, "src"), src_files):
            report["import_cycles"].append(f"{crate}: " + " <-> ".join(comp))
    report["largest_file"] = {"path": largest[1], "lines": largest[0]}
    # A test helper is "copied" when another test file defines a function of the same
    # name whose body is at least 75% the same (difflib): same-named helpers that do
    # different things (each crate's `fixture(name)` reads its own folder) are not.
    import difflib
    for name, defs in sorted(helpers.items()):
        defs = sorted(defs)
        files = set()
        for i in range(len(defs)):
            for k in range(i + 1, len(defs)):
                (fa, ba), (fb, bb) = defs[i], defs[k]
                if fa != fb and difflib.SequenceMatcher(None, ba, bb).ratio() >= 0.75:
                    files.update((fa, fb))
        if files:
            report["copied_test_helpers"].append({"fn": name, "files": sorted(files)})
    tc = ""
    for f in rust_files(os.path.join(crates_dir, "classify")):
        t = open(f, encoding="utf-8", errors="replace").read()
        m = re.search(r"pub struct TrainConfig\s*\{(.*?)\n\}", t, re.S)
        if m:
            tc = m.group(1)
    report["train_config_fields"] = len(re.findall(r"(?m)^\s*pub \w+\s*:", tc))
    if "--json" in sys.argv:
        print(json.dumps(report, indent=2))
        return
    print(f"{'crate':<10} {'src lines':>9} {'test lines':>10}")
    for c, v in report["crates"].items():
        print(f"{c:<10} {v['src_lines']:>9} {v['test_lines']:>10}")
    print(f"largest file: {report['largest_file']['path']} ({report['largest_file']['lines']} lines)")
    print(f"TrainConfig fields: {report['train_config_fields']}")
    print(f"serde_json::Value uses outside tests: {report['value_uses']}; json! calls: {report['json_macro_uses']}")
    print(f"import cycles between files: {len(report['import_cycles'])}")
    for c in report["import_cycles"]:
        print(f"  {c}")
    print(f"test helpers defined in more than one test file: {len(report['copied_test_helpers'])}")
    for h in report["copied_test_helpers"]:
        print(f"  {h['fn']}: {', '.join(h['files'])}")


if __name__ == "__main__":
    main()
