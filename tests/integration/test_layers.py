#!/usr/bin/env python3
"""The layering of src/ is enforced, and the documentation, the build and
this test agree on it.

ARCHITECTURE.md's "Parts" table says which parts each part may use. For
every ordered pair of parts (P, Q) a one-line C file including a header of
Q is compiled with the flags the build gives P's sources (from `meson
introspect --targets` of BUILD_ROOT): it must compile when the table allows
P to use Q (or P is Q), and must fail for want of the header when not. Also:
no source under src/ reaches a project header through a path ("src/...",
"../"), which would get around the include directories, and the table, the
part folders and the part libraries name the same parts.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get("PROJECT_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_ROOT", "")
SRC = os.path.join(ROOT, "src")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testdeps  # noqa: E402

ROW_RE = re.compile(r"^\|\s*`([a-z0-9_]+)/`\s*\|[^|]*\|\s*([^|]*?)\s*\|\s*$")
# A quoted include naming a directory: the one way around the include dirs.
PATH_INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]*/[^"]*)"', re.M)
# Flags that say where compiler output goes, not how a source is compiled.
DROP_FLAGS = ("-fdiagnostics-color", "-MD", "-MMD")


def parts_table():
    """{part: set of parts it may use}, in table order, from ARCHITECTURE.md."""
    with open(os.path.join(ROOT, "ARCHITECTURE.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## Parts\n(.*?)(?=^## )", text, re.M | re.S)
    if not m:
        raise AssertionError("ARCHITECTURE.md has no '## Parts' section")
    order, uses = [], {}
    for line in m.group(1).splitlines():
        row = ROW_RE.match(line)
        if not row:
            continue
        part, may = row.group(1), row.group(2).strip()
        if may == "(nothing)":
            allowed = set()
        elif may == "every part above":
            allowed = set(order)
        elif may == "every part":
            allowed = None  # resolved once the whole table is read
        else:
            allowed = {p.strip().rstrip("/").strip("`") for p in may.split(",")}
        order.append(part)
        uses[part] = allowed
    for part, allowed in uses.items():
        if allowed is None:
            uses[part] = set(order) - {part}
    return order, uses


def part_folders():
    return sorted(d for d in os.listdir(SRC) if os.path.isdir(os.path.join(SRC, d)))


def part_flags():
    """{part: (compiler argv, flags)} for the static library defined in
    src/<part>/meson.build, as meson compiles its C sources."""
    out = subprocess.run(["meson", "introspect", "--targets", BUILD], capture_output=True,
                         text=True, check=True).stdout
    found = {}
    for t in json.loads(out):
        where = os.path.relpath(t["defined_in"], SRC)
        part = where.split(os.sep)[0]
        if t["type"] != "static library" or where != os.path.join(part, "meson.build"):
            continue
        for ts in t["target_sources"]:
            if ts.get("language") == "c":
                flags = [p for p in ts["parameters"] if not p.startswith(DROP_FLAGS)]
                found[part] = (ts["compiler"], flags)
                break
    return found


def headers(part):
    return sorted(n for n in os.listdir(os.path.join(SRC, part)) if n.endswith(".h"))


def compile_include(compiler, flags, header):
    """Compile `#include "header"` alone; (ok, compiler output)."""
    with tempfile.TemporaryDirectory(prefix="sesrelay-layers-") as d:
        src = os.path.join(d, "one_include.c")
        with open(src, "w") as f:
            f.write('#include "%s"\n' % header)
        r = subprocess.run(compiler + flags + ["-fsyntax-only", src], capture_output=True,
                           text=True, cwd=d)
    return r.returncode == 0, r.stdout + r.stderr


class Layers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BUILD or not os.path.exists(os.path.join(BUILD, "build.ninja")):
            testdeps.missing("a configured build directory in BUILD_ROOT",
                             "meson setup build; meson test -C build layers")
        cls.order, cls.uses = parts_table()
        cls.flags = part_flags()

    def test_table_folders_and_libraries_agree(self):
        self.assertGreater(len(self.order), 1, "no parts read from ARCHITECTURE.md")
        self.assertEqual(sorted(self.order), part_folders(),
                         "ARCHITECTURE.md Parts table vs folders under src/")
        self.assertEqual(sorted(self.flags), part_folders(),
                         "part folders vs static libraries defined in src/<part>/meson.build")
        for part, allowed in self.uses.items():
            self.assertLessEqual(allowed, set(self.order), f"{part} may use an unknown part")
            self.assertNotIn(part, allowed, f"{part} lists itself")
            self.assertTrue(headers(part), f"src/{part}/ has no header")

    def test_header_of_each_part_compiles_only_where_allowed(self):
        # One header per part: the first that compiles with its own part's
        # flags (all of them should; that is checked too).
        chosen = {}
        for q in self.order:
            compiler, flags = self.flags[q]
            for h in headers(q):
                ok, out = compile_include(compiler, flags, h)
                with self.subTest(own=q, header=h):
                    self.assertTrue(ok, f"src/{q}/{h} does not compile alone in {q}:\n{out}")
                if ok and q not in chosen:
                    chosen[q] = h
        for p in self.order:
            compiler, flags = self.flags[p]
            for q in self.order:
                if q not in chosen:
                    continue
                h = chosen[q]
                ok, out = compile_include(compiler, flags, h)
                allowed = p == q or q in self.uses[p]
                with self.subTest(part=p, uses=q, header=h):
                    if allowed:
                        self.assertTrue(ok, f"{p} may use {q} (ARCHITECTURE.md) but "
                                        f"#include \"{h}\" fails with {p}'s flags:\n{out}")
                    else:
                        self.assertFalse(ok, f"{p} may not use {q} (ARCHITECTURE.md) but "
                                         f"#include \"{h}\" compiles with {p}'s flags")
                        self.assertRegex(out, r"No such file|file not found",
                                         f"{p} -> {q} failed for another reason:\n{out}")

    def test_no_include_through_a_path(self):
        bad = []
        for dirpath, _, names in os.walk(SRC):
            for n in names:
                if not n.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, n)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for m in PATH_INCLUDE_RE.finditer(text):
                    line = text.count("\n", 0, m.start()) + 1
                    bad.append(f"{os.path.relpath(path, ROOT)}:{line}: #include \"{m.group(1)}\"")
        self.assertEqual(bad, [], "project headers are included by name; the part's "
                         "include directories decide what it may see")


if __name__ == "__main__":
    unittest.main(verbosity=2)
