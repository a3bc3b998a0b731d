#!/usr/bin/env python3
"""tools/check_thread_safety.py on a tiny build: it reports guarded state touched without its
mutex, a lock-requiring helper called without the lock, and ABSL_GUARDED_BY on a std::mutex
(which the analysis cannot see), also in a unit that includes the annotations only through a
vigil header, accepts correct locking, turns a g++ command into a clang++ one; and every vigil
translation unit of the build that uses Abseil's locking passes.

  check_thread_safety_test.py BUILD_DIR [--jobs N]
      exit 77 (SKIPPED, with the reason) when clang++ or BUILD_DIR's compile_commands.json is
      missing
"""

import json
import os
import shutil
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import check_thread_safety  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = None
JOBS = 2
CLANG = check_thread_safety.find_clang()

COUNTER = """\
    #include "absl/base/thread_annotations.h"
    #include "absl/synchronization/mutex.h"

    class Counter {
     public:
      void Add() {
        %s
      }
      int value() {
        absl::MutexLock lock(&mu_);
        return AddLocked(0);
      }

     private:
      int AddLocked(int d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return n_ += d; }
      absl::Mutex mu_;
      int n_ ABSL_GUARDED_BY(mu_) = 0;
    };
    """


class CheckThreadSafetyTest(unittest.TestCase):
    def build(self, sources):
        """A source root with `sources` and a build dir whose compile_commands.json compiles
        them as vigil's CMake does with g++, plus one generated file that must be left out."""
        root = tempfile.mkdtemp(prefix="tsa-")
        self.addCleanup(shutil.rmtree, root)
        build = os.path.join(root, "build")
        os.makedirs(build)
        entries = []
        for path, text in dict(sources, **{"build/gen.pb.cc": "this is not C++\n"}).items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(textwrap.dedent(text))
            if not path.endswith(".cc"):
                continue
            entries.append({
                "directory": build,
                "command": "ccache /usr/bin/c++ -I%s -O2 -g -std=c++20 -Wall -Wshadow=local "
                           "-Werror -o %s.o -c %s" % (root, os.path.basename(path), full),
                "file": full,
            })
        with open(os.path.join(build, "compile_commands.json"), "w") as f:
            json.dump(entries, f)
        return root, build

    def check(self, sources, analysed=None):
        root, build = self.build(sources)
        failures, count = check_thread_safety.check(build, root, CLANG, jobs=JOBS)
        self.assertEqual(count, len(sources) if analysed is None else analysed)
        return [(os.path.relpath(path, root), text) for path, text in failures]

    def test_guarded_state_touched_without_its_mutex_is_reported(self):
        failures = self.check({"base/counter.cc": COUNTER % "++n_;"})
        self.assertEqual([path for path, _ in failures], ["base/counter.cc"], failures)
        self.assertIn("writing variable 'n_' requires holding mutex 'mu_' exclusively",
                      failures[0][1])

    def test_a_helper_that_needs_the_lock_called_without_it_is_reported(self):
        failures = self.check({"base/counter.cc": COUNTER % "AddLocked(1);"})
        self.assertEqual(len(failures), 1, failures)
        self.assertIn("calling function 'AddLocked' requires holding mutex 'mu_' exclusively",
                      failures[0][1])

    def test_guarded_by_a_std_mutex_is_reported(self):
        failures = self.check({"base/std.cc": """\
            #include <mutex>
            #include "absl/base/thread_annotations.h"
            struct S {
              std::mutex mu;
              int n ABSL_GUARDED_BY(mu) = 0;
            };
            """})
        self.assertEqual(len(failures), 1, failures)
        self.assertIn("capability", failures[0][1])

    def test_correct_locking_passes_and_g_plus_plus_warnings_are_not_errors(self):
        # -Wshadow=local is g++'s alone: passed to clang++ with -Werror it would fail.
        self.assertEqual(self.check({
            "base/counter.cc": COUNTER % "absl::MutexLock lock(&mu_);\n        ++n_;",
        }), [])

    def test_a_unit_that_includes_annotations_through_a_vigil_header_is_analysed(self):
        failures = self.check({
            "base/counter.h": "#pragma once\n" + COUNTER % "++n_;",
            "base/use.cc": '#include "base/counter.h"\nvoid Use(Counter& c) { c.Add(); }\n',
            "base/plain.cc": "int Plain(int x) { return x; }\n",
        }, analysed=1)
        self.assertEqual([path for path, _ in failures], ["base/use.cc"], failures)

    def test_the_compile_command_becomes_a_clang_syntax_only_run(self):
        command = check_thread_safety.clang_command({
            "directory": "/b", "file": "/s/a.cc",
            "command": "ccache /usr/bin/c++ -I/s -DX=1 -O2 -pthread -std=c++20 -Wall "
                       "-Wshadow=local -Werror -o a.cc.o -c /s/a.cc"}, "/usr/bin/clang++")
        self.assertEqual(command, [
            "/usr/bin/clang++", "-I/s", "-DX=1", "-O2", "-pthread", "-std=c++20",
            "-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety", "/s/a.cc"])

    def test_every_vigil_translation_unit_passes(self):
        if BUILD_DIR is None:
            self.skipTest("no build directory given")
        failures, count = check_thread_safety.check(BUILD_DIR, ROOT, CLANG, jobs=JOBS)
        self.assertGreater(count, 40)
        self.assertEqual(failures, [], "\n\n".join("%s:\n%s" % f for f in failures))


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--jobs" in args:
        i = args.index("--jobs")
        JOBS = int(args[i + 1])
        del args[i:i + 2]
    if args:
        BUILD_DIR = args.pop(0)
    if CLANG is None:
        print("SKIPPED: clang++ not found (Debian's package `clang`; ./x test installs it)")
        sys.exit(check_thread_safety.SKIP)
    if BUILD_DIR is not None and not os.path.exists(
            os.path.join(BUILD_DIR, "compile_commands.json")):
        print("SKIPPED: %s has no compile_commands.json (CMAKE_EXPORT_COMPILE_COMMANDS)"
              % BUILD_DIR)
        sys.exit(check_thread_safety.SKIP)
    unittest.main(argv=[sys.argv[0]] + args, verbosity=2)
