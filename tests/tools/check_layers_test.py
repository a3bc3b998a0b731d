#!/usr/bin/env python3
"""tools/check_layers.py on small trees: it refuses an include its target does not link, directly
or through a dependency, accepts one it does, and names every library missing from the layer
table; and vigil's own tree passes."""

import os
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import check_layers  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class CheckLayersTest(unittest.TestCase):
    def tree(self, files):
        root = tempfile.mkdtemp(prefix="layers-")
        self.addCleanup(lambda: os.system("rm -rf '%s'" % root))
        files.setdefault("docs/architecture.md",
                         "| `vigil_base` | | `vigil_storage` | | `vigil_policy` | |")
        for path, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(textwrap.dedent(text))
        return root

    def layered(self, policy_include):
        return self.tree({
            "base/CMakeLists.txt": "vigil_library(vigil_base SOURCES log.cc DEPS absl::status)\n",
            "base/log.h": "", "base/log.cc": '#include "base/log.h"\n',
            "storage/CMakeLists.txt": """\
                vigil_library(vigil_storage
                  SOURCES store.cc  # the store
                  DEPS vigil_base RocksDB::rocksdb-shared)
                """,
            "storage/store.h": "", "storage/key.h": "",
            "storage/store.cc": '#include "storage/store.h"\n#include "base/log.h"\n',
            "services/policy/CMakeLists.txt":
                "vigil_library(vigil_policy SOURCES due.cc DEPS vigil_base)\n",
            "services/policy/due.h": "",
            "services/policy/due.cc": '#include "services/policy/due.h"\n#include "%s"\n'
                                      % policy_include,
        })

    def test_an_include_of_a_linked_library_passes(self):
        self.assertEqual(check_layers.check(self.layered("base/log.h")), [])

    def test_an_include_of_an_unlinked_library_is_refused_naming_both(self):
        problems = check_layers.check(self.layered("storage/store.h"))
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("services/policy/due.cc:2: includes storage/store.h (vigil_storage), "
                      "but vigil_policy does not link vigil_storage", problems[0])

    def test_a_header_only_file_belongs_to_its_directory_s_library(self):
        problems = check_layers.check(self.layered("storage/key.h"))
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("storage/key.h (vigil_storage)", problems[0])

    def test_dependencies_are_followed_transitively(self):
        root = self.layered("base/log.h")
        with open(os.path.join(root, "services/policy/CMakeLists.txt"), "w") as f:
            f.write("vigil_library(vigil_policy SOURCES due.cc DEPS vigil_storage)\n")
        with open(os.path.join(root, "services/policy/due.cc"), "a") as f:
            f.write('#include "storage/store.h"\n')
        self.assertEqual(check_layers.check(root), [])

    def test_a_library_missing_from_the_layer_table_is_named(self):
        root = self.layered("base/log.h")
        with open(os.path.join(root, "docs/architecture.md"), "w") as f:
            f.write("| `vigil_base` | | `vigil_policy` | |")
        self.assertEqual(check_layers.check(root), [
            "docs/architecture.md: the layer table does not name `vigil_storage` (storage/)"])

    def test_vigil_s_own_tree_keeps_its_layers(self):
        self.assertEqual(check_layers.check(ROOT), [])


if __name__ == "__main__":
    unittest.main()
