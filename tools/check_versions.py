#!/usr/bin/python3
"""Checks that the versions agree (ctest versions_consistent): vigil's (CMake PROJECT_VERSION)
and the API's (VIGIL_API_VERSION) are semantic versions with a CHANGELOG.md section, the image
of that API release is in proto/api/, and both client packages name a semantic version of their
own and the API release they were checked against.

    /usr/bin/python3 tools/check_versions.py --version 0.1.0 --api-version 0.1.0"""

import argparse
import json
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def constant(path, name):
    match = re.search(rf"""\b{name}\s*=\s*["']([^"']+)["']""", read(path))
    return match.group(1) if match else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="CMake PROJECT_VERSION")
    parser.add_argument("--api-version", required=True, help="CMake VIGIL_API_VERSION")
    args = parser.parse_args()
    problems = []

    def semver(what, value):
        if not value or not SEMVER.match(value):
            problems.append(f"{what}: {value!r} is not a semantic version")

    semver("CMakeLists.txt project VERSION", args.version)
    semver("CMakeLists.txt VIGIL_API_VERSION", args.api_version)
    changelog = read("CHANGELOG.md")
    if "## [Unreleased]" not in changelog:
        problems.append("CHANGELOG.md: no '## [Unreleased]' section")
    if not re.search(rf"^## \[{re.escape(args.version)}\]", changelog, re.MULTILINE):
        problems.append(f"CHANGELOG.md: no '## [{args.version}]' section for vigil {args.version}")
    if not re.search(rf"API( `vigil.v1`)? {re.escape(args.api_version)}\b", changelog):
        problems.append(f"CHANGELOG.md: API {args.api_version} is not mentioned")
    image = f"proto/api/vigil-v1-{args.api_version}.binpb"
    if not os.path.exists(os.path.join(ROOT, image)):
        problems.append(f"{image}: missing (buf build --exclude-source-info -o {image})")

    python = constant("clients/python/vigil_client/_version.py", "__version__")
    python_api = constant("clients/python/vigil_client/_version.py", "API_VERSION")
    node = json.loads(read("clients/node/package.json"))["version"]
    node_src = constant("clients/node/src/version.ts", "VERSION")
    node_api = constant("clients/node/src/version.ts", "API_VERSION")
    semver("vigil-client version", python)
    semver("@vigil/client version", node)
    if node_src != node:
        problems.append(f"clients/node/src/version.ts VERSION {node_src!r} is not "
                        f"package.json's {node!r}")
    for what, api in (("vigil-client", python_api), ("@vigil/client", node_api)):
        if api != args.api_version:
            problems.append(f"{what}: API_VERSION {api!r} is not VIGIL_API_VERSION "
                            f"{args.api_version!r}")
    for problem in problems:
        print(problem)
    if not problems:
        print(f"vigil {args.version}, API {args.api_version}, vigil-client {python}, "
              f"@vigil/client {node}: consistent")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
