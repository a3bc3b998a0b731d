#!/usr/bin/env python3
"""Runs Clang's thread-safety analysis over every vigil translation unit of a build.

vigil builds with g++, which ignores ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED and the
other annotations of absl/base/thread_annotations.h. This check gives each translation unit of
the build's compile_commands.json (vigil's own sources; generated protobuf code is left out) to
clang++ with -fsyntax-only -Wthread-safety -Werror=thread-safety, so that touching guarded
state without its mutex, calling a function that needs a lock without holding it, or guarding
state with a mutex the analysis cannot see (std::mutex) fails. The compile command is the
build's own, with the compiler replaced, its output and warning flags dropped (g++'s warning set
is not clang's, and only the thread-safety diagnostics are errors here).

Only units that include Abseil's mutex or thread annotations, directly or through vigil's own
headers, are analysed (--every-unit: all of them): a unit that includes neither cannot touch
annotated state, and leaving the others out halves the time.

  tools/check_thread_safety.py BUILD_DIR [--jobs N] [--clang CLANG++] [--every-unit] [FILE...]
      exit 0 when clean, 1 with clang's diagnostics for each failing file, 77 when clang++ or
      the build's compile_commands.json is missing (the reason on stdout)
"""

import argparse
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

SKIP = 77
ANALYSIS_FLAGS = ["-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety"]
# Compiler launchers CMake may put in front of the compiler.
LAUNCHERS = ("ccache", "sccache", "distcc")


def find_clang(requested=None):
    """The clang++ to use: `requested`, else Debian's /usr/bin/clang++, else one on PATH."""
    if requested:
        return shutil.which(requested)
    for candidate in ("/usr/bin/clang++", "clang++", "clang++-14"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def clang_command(entry, clang):
    """The compile command of a compile_commands.json `entry` as a clang++ syntax-only run."""
    return clang_arguments(entry, clang) + ANALYSIS_FLAGS + [entry["file"]]


def clang_arguments(entry, clang):
    """The compiler and flags of `entry`'s g++ command for clang: no launcher, no output or
    dependency files, no -c, no source, no warning flags."""
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    while args and os.path.basename(args[0]) in LAUNCHERS:
        args = args[1:]
    out = [clang]
    source = entry["file"]
    skip_next = False
    for arg in args[1:]:
        if skip_next:
            skip_next = False
            continue
        if arg in ("-o", "-MF", "-MT", "-MQ"):
            skip_next = True
        elif arg in ("-c", "-MD", "-MMD", source) or arg.startswith("-o"):
            continue
        elif arg.startswith("-W") and not arg.startswith("-Wl,") and not arg.startswith("-Wp,"):
            continue  # g++'s warning set (-Wshadow=local is not clang's), and its -Werror
        else:
            out.append(arg)
    return out


def own_units(build_dir, source_root):
    """The entries of vigil's own translation units: under the source root, not generated."""
    with open(os.path.join(build_dir, "compile_commands.json"), encoding="utf-8") as f:
        entries = json.load(f)
    source_root = os.path.realpath(source_root)
    build_dir = os.path.realpath(build_dir)
    units = []
    for entry in entries:
        path = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
        if os.path.commonpath([path, build_dir]) == build_dir:
            continue
        if os.path.commonpath([path, source_root]) != source_root:
            continue
        units.append(dict(entry, file=path))
    return units


INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
LOCKING_HEADERS = ("absl/synchronization/mutex.h", "absl/base/thread_annotations.h")


def uses_locking(path, source_root, cache):
    """Whether `path`, or a vigil header it includes (transitively), includes Abseil's mutex or
    thread annotations: only such a unit can hold code the analysis checks."""
    if path in cache:
        return cache[path]
    cache[path] = False  # an include cycle ends here
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    found = False
    for name in INCLUDE.findall(text):
        header = os.path.join(source_root, name)
        if name in LOCKING_HEADERS or (os.path.exists(header) and
                                       uses_locking(header, source_root, cache)):
            found = True
            break
    cache[path] = found
    return found


def check_unit(entry, clang):
    """None when clean, else clang's diagnostics for the unit."""
    result = subprocess.run(clang_command(entry, clang), cwd=entry["directory"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode == 0:
        return None
    return result.stdout.strip() or "clang++ failed with status %d" % result.returncode


def check(build_dir, source_root, clang, jobs=2, files=None, every_unit=False):
    """([(file, diagnostics)] for every unit that fails, in file order; how many were analysed).
    Only units that use Abseil's locking (uses_locking) unless `every_unit`."""
    units = own_units(build_dir, source_root)
    if files:
        wanted = {os.path.realpath(f) for f in files}
        units = [u for u in units if u["file"] in wanted]
    if not every_unit:
        cache = {}
        root = os.path.realpath(source_root)
        units = [u for u in units if uses_locking(u["file"], root, cache)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(lambda u: (u["file"], check_unit(u, clang)), units))
    return sorted((f, d) for f, d in results if d is not None), len(units)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("files", nargs="*", help="only these translation units")
    parser.add_argument("--source-root",
                        default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--clang")
    parser.add_argument("--every-unit", action="store_true",
                        help="also units that include neither Abseil's mutex nor its annotations")
    args = parser.parse_intermixed_args(argv)

    clang = find_clang(args.clang)
    if clang is None:
        print("SKIPPED: clang++ not found (Debian's package `clang`; ./x test installs it)")
        return SKIP
    if not os.path.exists(os.path.join(args.build_dir, "compile_commands.json")):
        print("SKIPPED: %s has no compile_commands.json: configure and build it first"
              % args.build_dir)
        return SKIP
    started = time.monotonic()
    failures, count = check(args.build_dir, args.source_root, clang, args.jobs, args.files,
                              args.every_unit)
    for path, diagnostics in failures:
        print("%s:\n%s\n" % (os.path.relpath(path, args.source_root), diagnostics))
    print("thread safety: %d of %d translation units fail (%s, %d jobs, %.0f s)"
          % (len(failures), count, clang, args.jobs, time.monotonic() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
