#!/usr/bin/env python3
"""Checks that every #include of vigil's own code follows a link dependency.

Every library exports the whole source root as its include path, so the compiler would let
services/policy/schedule.cc include services/common/rpc.h although vigil_policy does not link
vigil_common; a header-only piece could then slip under a layer that must not know it. This
check closes that gap: it reads the targets and their dependencies from the CMakeLists.txt files
(vigil_library(NAME SOURCES ... DEPS ...), add_executable + target_link_libraries), gives each
file to a target (its sources, the header beside each source, and any other header to the first
library of its directory), and refuses an include of a file whose target is neither the
includer's own nor one it links, directly or through its dependencies.

It also checks that docs/architecture.md's layer table names every library.

  tools/check_layers.py [SOURCE_ROOT]      exit 0 when clean, 1 with one line per violation
"""

import os
import re
import sys

CODE_DIRS = ("base", "storage", "services", "clients", "bench")
# Generated headers and the library that generates them.
GENERATED = (("vigil/", "vigil_proto"), ("grpc/health/", "vigil_health_proto"),
             ("base/version.h", "vigil_version"))


def cmake_calls(text, command):
    """The argument lists of every `command(...)` call in a CMakeLists.txt text."""
    text = re.sub(r"#[^\n]*", "", text)
    for match in re.finditer(r"\b%s\s*\(" % re.escape(command), text):
        depth, start = 1, match.end()
        i = start
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield text[start:i - 1].split()


def read_targets(root):
    """{target: {"dir", "sources", "deps"}} for every library and executable under CODE_DIRS."""
    targets = {}
    for top in CODE_DIRS + ("proto",):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if d != "node_modules"]
            if "CMakeLists.txt" not in filenames:
                continue
            rel_dir = os.path.relpath(dirpath, root)
            text = open(os.path.join(dirpath, "CMakeLists.txt"), encoding="utf-8").read()
            for args in cmake_calls(text, "vigil_library"):
                name, section = args[0], None
                target = targets.setdefault(name, {"dir": rel_dir, "sources": [], "deps": set()})
                for word in args[1:]:
                    if word in ("SOURCES", "DEPS"):
                        section = word
                    elif section == "SOURCES":
                        target["sources"].append(os.path.join(rel_dir, word))
                    elif section == "DEPS":
                        target["deps"].add(word)
            for command in ("add_executable", "add_library"):
                for args in cmake_calls(text, command):
                    name = args[0]
                    sources = [os.path.join(rel_dir, w) for w in args[1:]
                               if w.endswith((".cc", ".h"))]
                    targets.setdefault(name, {"dir": rel_dir, "sources": sources, "deps": set()})
            for args in cmake_calls(text, "target_link_libraries"):
                if args[0] in targets:
                    targets[args[0]]["deps"].update(
                        w for w in args[1:] if w not in ("PRIVATE", "PUBLIC", "INTERFACE"))
    return targets


def closure(targets, name):
    seen, stack = set(), [name]
    while stack:
        for dep in targets.get(stack.pop(), {}).get("deps", ()):
            if dep in targets and dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def owners(root, targets):
    """{file: target} for every .h and .cc under CODE_DIRS that a target builds or owns."""
    owner = {}
    for name, target in targets.items():
        for source in target["sources"]:
            owner[source] = name
            header = source[:-3] + ".h"
            if source.endswith(".cc") and os.path.exists(os.path.join(root, header)):
                owner.setdefault(header, name)
    first_library = {}
    for name, target in targets.items():
        if target["sources"] and any(s.endswith(".cc") for s in target["sources"]):
            first_library.setdefault(target["dir"], name)
    for top in CODE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if d != "node_modules"]
            rel_dir = os.path.relpath(dirpath, root)
            for filename in filenames:
                path = os.path.join(rel_dir, filename)
                if filename.endswith(".h") and path not in owner and rel_dir in first_library:
                    owner[path] = first_library[rel_dir]
    return owner


def target_of_include(include, owner):
    for prefix, name in GENERATED:
        if include.startswith(prefix):
            return name
    return owner.get(include)


def check(root):
    targets = read_targets(root)
    owner = owners(root, targets)
    problems = []
    for path, name in sorted(owner.items()):
        if not os.path.exists(os.path.join(root, path)):
            continue  # generated
        allowed = closure(targets, name) | {name}
        text = open(os.path.join(root, path), encoding="utf-8").read()
        for number, line in enumerate(text.splitlines(), 1):
            match = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not match:
                continue
            included = target_of_include(match.group(1), owner)
            if included is None or included in allowed:
                continue
            problems.append(
                "%s:%d: includes %s (%s), but %s does not link %s: add it to %s's DEPS if the "
                "layer table in docs/architecture.md allows it, or move the code" %
                (path, number, match.group(1), included, name, included, name))
    layer_table = open(os.path.join(root, "docs/architecture.md"), encoding="utf-8").read()
    for name, target in sorted(targets.items()):
        is_library = name.startswith("vigil_") and target["dir"].split("/")[0] != "proto"
        if is_library and "`%s`" % name not in layer_table:
            problems.append("docs/architecture.md: the layer table does not name `%s` (%s/)" %
                            (name, target["dir"]))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    problems = check(os.path.abspath(root))
    for problem in problems:
        print(problem)
    if problems:
        print("%d include(s) outside the layers" % len(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
