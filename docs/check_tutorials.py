#!/usr/bin/env python3
"""Runs the code of the tutorials and compares what it prints with the page.

Every ```c block of a tutorial is a complete program and every ```python block a complete
script. When the next block (after optional prose) is a ```text block, it is the exact output
the program must print. Blocks of other languages (sh, cmake) are not run.

    check_tutorials.py [--cc CC] [--cflags FLAGS] [--libs FLAGS] [--python PY]
                       --work DIR docs/tutorial-c.md docs/tutorial-python.md

The library is found through --cflags/--libs (C) and the environment (SOFTCE_LIBRARY,
PYTHONPATH, LD_LIBRARY_PATH) for Python. Exit status 0 when every block ran and matched.
Runs with the standard library only.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys

FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(path):
    """(language, first line number, text) of every fenced block, in order."""
    out, lang, start, lines = [], None, 0, []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            m = FENCE.match(line)
            if lang is None and m:
                lang, start, lines = m.group(1), no + 1, []
            elif lang is not None and line.rstrip("\n") == "```":
                out.append((lang, start, "".join(lines)))
                lang = None
            elif lang is not None:
                lines.append(line)
    if lang is not None:
        sys.exit(f"{path}:{start}: unterminated code block")
    return out


def run_c(args, src, exe):
    cmd = ([args.cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"] +
           shlex.split(args.cflags) + [src, "-o", exe] + shlex.split(args.libs) + ["-lm"])
    build = subprocess.run(cmd, capture_output=True, text=True)
    if build.returncode != 0:
        return None, "compile failed: " + " ".join(cmd) + "\n" + build.stderr
    return subprocess.run([exe], capture_output=True, text=True, timeout=120), None


def run_python(args, src):
    return subprocess.run([args.python, src], capture_output=True, text=True, timeout=300), None


def check_block(args, page, lang, line, code, expected):
    stem = f"{os.path.splitext(os.path.basename(page))[0]}_{line}"
    src = os.path.join(args.work, stem + (".c" if lang == "c" else ".py"))
    with open(src, "w", encoding="utf-8") as f:
        f.write(code)
    if lang == "c":
        result, error = run_c(args, src, os.path.join(args.work, stem))
    else:
        result, error = run_python(args, src)
    where = f"{page}:{line}"
    if error:
        return f"{where}: {error}"
    if result.returncode != 0:
        return f"{where}: exit status {result.returncode}\n{result.stdout}{result.stderr}"
    if expected is not None and result.stdout != expected:
        return (f"{where}: output differs\n--- page\n{expected}--- program\n{result.stdout}"
                f"{result.stderr}")
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cc", default=os.environ.get("CC", "cc"))
    p.add_argument("--cflags", default="")
    p.add_argument("--libs", default="-lsoftce")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--work", required=True)
    p.add_argument("pages", nargs="+")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    failures, count = [], 0
    for page in args.pages:
        found = blocks(page)
        for i, (lang, line, code) in enumerate(found):
            if lang not in ("c", "python"):
                continue
            nxt = found[i + 1] if i + 1 < len(found) else None
            expected = nxt[2] if nxt and nxt[0] == "text" else None
            count += 1
            error = check_block(args, page, lang, line, code, expected)
            print(f"{'FAIL' if error else 'ok  '} {page}:{line} ({lang})", flush=True)
            if error:
                failures.append(error)
    for f in failures:
        print(f, file=sys.stderr)
    print(f"{count - len(failures)} passed, {len(failures)} failed")
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
