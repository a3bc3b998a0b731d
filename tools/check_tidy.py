#!/usr/bin/env python3
"""Runs clang-tidy (the top-level .clang-tidy) on the C++ files a change touches.

The change: the working tree against `git merge-base HEAD origin/main`, or, where there is no
origin/main (CI's clean clone), the last commit (against HEAD~1). Each changed .cc of the build's
compile_commands.json is checked, and for a changed header the .cc beside it (or else the first
unit that includes it). Only diagnostics in the changed files count: clang-tidy's findings in
code the change did not touch are not its business. The compile commands are the build's g++
ones made fit for clang (tools/check_thread_safety.py's conversion).

  tools/check_tidy.py BUILD_DIR [--jobs N] [--base REF]
      exit 0 when the changed files are clean, 1 with each finding, 77 (SKIPPED, with the
      reason) when no C++ file changed or clang-tidy is missing
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import check_thread_safety

SKIP = 77
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIAGNOSTIC = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): "
                        r"(?P<level>warning|error): (?P<text>.*)$")


def git(*args, root=SOURCE_ROOT):
    result = subprocess.run(["git", *args], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def base_revision(root=SOURCE_ROOT):
    """(revision, how it was chosen), or (None, why there is none)."""
    if git("rev-parse", "--verify", "-q", "origin/main", root=root):
        merge_base = git("merge-base", "HEAD", "origin/main", root=root)
        if merge_base:
            return merge_base, "git merge-base HEAD origin/main"
    if git("rev-parse", "--verify", "-q", "HEAD~1", root=root):
        return git("rev-parse", "HEAD~1", root=root), "HEAD~1 (no origin/main)"
    return None, "neither origin/main nor HEAD~1 exists"


def changed_files(base, root=SOURCE_ROOT):
    """The C++ files changed in the working tree against `base` that still exist."""
    out = git("diff", "--name-only", "--diff-filter=ACMR", base, "--", "*.cc", "*.h", root=root)
    files = []
    for name in (out or "").splitlines():
        if os.path.exists(os.path.join(root, name)):
            files.append(os.path.realpath(os.path.join(root, name)))
    return sorted(files)


def units_to_check(changed, units):
    """The compile_commands entries that cover `changed`: each changed unit, and for a changed
    header the unit beside it or else the first that includes it by its path."""
    by_file = {u["file"]: u for u in units}
    chosen = {}
    for path in changed:
        if path in by_file:
            chosen[path] = by_file[path]
            continue
        if not path.endswith(".h"):
            continue
        sibling = path[:-2] + ".cc"
        if sibling in by_file:
            chosen[sibling] = by_file[sibling]
            continue
        include = '#include "%s"' % os.path.relpath(path, SOURCE_ROOT)
        for unit in units:
            with open(unit["file"], encoding="utf-8", errors="replace") as f:
                if include in f.read():
                    chosen[unit["file"]] = unit
                    break
    return [chosen[f] for f in sorted(chosen)]


def run_tidy(tidy, database_dir, unit):
    result = subprocess.run([tidy, "--quiet", "-p", database_dir, unit["file"]],
                            cwd=SOURCE_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    return result.stdout


def findings(output, changed):
    """Diagnostics in `changed` files, and compiler errors anywhere, as lines."""
    found = []
    for line in output.splitlines():
        match = DIAGNOSTIC.match(line)
        if not match:
            continue
        path = os.path.realpath(os.path.join(SOURCE_ROOT, match["path"]))
        if path in changed or (match["level"] == "error" and "[clang-diagnostic-" in line):
            found.append("%s:%s:%s: %s: %s" % (os.path.relpath(path, SOURCE_ROOT), match["line"],
                                               match["col"], match["level"], match["text"]))
    return found


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--base", help="compare against this revision instead")
    args = parser.parse_args(argv)

    tidy = next((shutil.which(t) for t in ("/usr/bin/clang-tidy", "clang-tidy", "clang-tidy-14")
                 if shutil.which(t)), None)
    clang = check_thread_safety.find_clang()
    if tidy is None or clang is None:
        print("SKIPPED: clang-tidy or clang++ not found (Debian's packages `clang-tidy` and "
              "`clang`; ./x test installs them)")
        return SKIP
    if args.base:
        base, how = git("rev-parse", args.base), args.base
    else:
        base, how = base_revision()
    if base is None:
        print("SKIPPED: nothing to compare with: %s" % how)
        return SKIP
    changed = changed_files(base)
    if not changed:
        print("SKIPPED: no C++ file changed against %s" % how)
        return SKIP
    units = units_to_check(changed, check_thread_safety.own_units(args.build_dir, SOURCE_ROOT))
    if not units:
        print("SKIPPED: no translation unit of %s covers the changed files" % args.build_dir)
        return SKIP

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tidy-") as database_dir:
        with open(os.path.join(database_dir, "compile_commands.json"), "w") as f:
            json.dump([{"directory": u["directory"], "file": u["file"],
                        "arguments": check_thread_safety.clang_arguments(u, clang) +
                        ["-c", u["file"]]} for u in units], f)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            outputs = list(pool.map(lambda u: run_tidy(tidy, database_dir, u), units))
    found = sorted({line for output in outputs for line in findings(output, set(changed))})
    for line in found:
        print(line)
    print("clang-tidy: %d findings in %d changed files against %s (%d units, %d jobs, %.0f s)"
          % (len(found), len(changed), how, len(units), args.jobs, time.monotonic() - started))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
