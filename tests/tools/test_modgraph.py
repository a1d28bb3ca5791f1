#!/usr/bin/env python3
"""tools.modgraph - tools/modgraph on small made-up source trees: it finds
the edges and the cycles there are, and none that are not (a static helper
of the same name in two files, a name in a comment or a string, a callback
passed by pointer).

    test_modgraph.py MODGRAPH
"""
import os
import shutil
import subprocess
import sys
import tempfile

FAILURES = []
ROOTS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def tree(files):
    root = tempfile.mkdtemp(prefix="modgraph-")
    ROOTS.append(root)
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return root


def run(tool, root):
    p = subprocess.run([sys.executable, tool, root], capture_output=True, text=True)
    return p.returncode, p.stdout


def edges(out):
    """{file: [callees]} from the tool's edge lines."""
    result = {}
    for line in out.splitlines():
        if line.startswith("  ") and " -> " in line:
            left, right = line.strip().split(" -> ")
            result[left] = [] if right == "-" else right.split(", ")
    return result


def main():
    tool = sys.argv[1]

    # a layered tree: top calls mid and low, mid calls low; decoys
    root = tree({
        "lib/low.c": "int\nlow_add (int a)\n{\n    return a + 1;\n}\n"
                     "static int\nhelper (void)\n{\n    return 0;\n}\n",
        "lib/mid.c": "#include \"low.h\"\nint\nmid_twice (int a)\n{\n"
                     "    /* top_run (1) in a comment */\n"
                     "    const char *s = \"top_run (2)\";\n"
                     "    (void) s;\n    return low_add (low_add (a));\n}\n"
                     "static int\nhelper (void)\n{\n    return 1;\n}\n"
                     "int\nmid_register (int (*fn) (int))\n{\n    return fn (2);\n}\n",
        "top.c": "static int\ns_callback (int x)\n{\n    return x;\n}\n"
                 "int\ntop_run (void)\n{\n"
                 "    helper ();\n"
                 "    mid_register (s_callback);\n"
                 "    return mid_twice (low_add (1));\n}\n",
    })
    rc, out = run(tool, root)
    got = edges(out)
    check(rc == 0, "a layered tree has no cycle (exit 0)")
    check(got.get("top.c") == ["lib/low.c", "lib/mid.c"], "top.c calls low and mid: %s" % got.get("top.c"))
    check(got.get("lib/mid.c") == ["lib/low.c"],
          "mid.c calls low only (comment, string, own static helper ignored): %s"
          % got.get("lib/mid.c"))
    check(got.get("lib/low.c") == [], "low.c calls nothing")
    check("  0: lib/low.c" in out and "  1: lib/mid.c" in out and "  2: top.c" in out,
          "layers 0, 1, 2 in call order")
    check("no cycle among 3 files" in out, "says there is no cycle")

    # a cycle of two files, and one of three beside it
    root = tree({
        "a.c": "void\na_one (void)\n{\n    b_one ();\n}\n",
        "b.c": "void\nb_one (void)\n{\n    a_one ();\n}\n",
        "c.c": "void\nc_one (void)\n{\n    d_one ();\n}\n",
        "d.c": "void\nd_one (void)\n{\n    e_one ();\n}\n",
        "e.c": "void\ne_one (void)\n{\n    c_one ();\n    a_one ();\n}\n",
    })
    rc, out = run(tool, root)
    check(rc == 1, "a tree with cycles fails (exit 1)")
    check("cycle of 2 files: a.c, b.c" in out, "names the cycle a.c, b.c")
    check("cycle of 3 files: c.c, d.c, e.c" in out, "names the cycle c.c, d.c, e.c")
    check("2 cycles among 5 files" in out, "counts both cycles")

    # usage errors
    p = subprocess.run([sys.executable, tool], capture_output=True, text=True)
    check(p.returncode == 2, "no folder: usage error (exit 2)")
    p = subprocess.run([sys.executable, tool, "/nonexistent-folder"], capture_output=True, text=True)
    check(p.returncode == 2, "a missing folder: usage error (exit 2)")

    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        for r in ROOTS:
            shutil.rmtree(r, ignore_errors=True)
    sys.exit(rc)
