#!/usr/bin/python3
"""Generates vigil_client/_proto/ from the repository's proto/vigil/v1/*.proto.

protoc writes the messages (*_pb2.py, with *.pyi type stubs) and /usr/bin/grpc_python_plugin
the service stubs (*_pb2_grpc.py). Their imports of each other ("from vigil.v1 import x_pb2")
are rewritten to relative ones, so the stubs live inside vigil_client and no top-level "vigil"
package is installed. The wire and descriptor names (vigil.v1.Offender, vigil/v1/rso.proto) are
unchanged.

setup.py runs this on every build; run it by hand to use the package from a checkout:
    /usr/bin/python3 clients/python/gen_stubs.py [--proto-dir DIR]
Environment: VIGIL_PROTO_DIR (default: ../../proto from here), PROTOC (default: protoc),
GRPC_PYTHON_PLUGIN (default: grpc_python_plugin on PATH, then /usr/bin/grpc_python_plugin).
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "vigil_client", "_proto")
IMPORT = re.compile(r"^from vigil\.v1 import ", re.MULTILINE)


def default_proto_dir():
    return (os.environ.get("VIGIL_PROTO_DIR")
            or os.path.normpath(os.path.join(HERE, "..", "..", "proto")))


def find_tool(env, name, fallback):
    path = os.environ.get(env) or shutil.which(name) or fallback
    if not path or not os.access(path, os.X_OK):
        sys.exit(f"gen_stubs: {name} not found (Debian: apt-get install protobuf-compiler "
                 f"protobuf-compiler-grpc), or set {env}")
    return path


def generate(proto_dir):
    protos = sorted(glob.glob(os.path.join(proto_dir, "vigil", "v1", "*.proto")))
    if not protos:
        raise SystemExit(f"gen_stubs: no vigil/v1/*.proto under {proto_dir} (set VIGIL_PROTO_DIR)")
    protoc = find_tool("PROTOC", "protoc", None)
    plugin = find_tool("GRPC_PYTHON_PLUGIN", "grpc_python_plugin", "/usr/bin/grpc_python_plugin")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [protoc, f"-I{proto_dir}", f"--python_out={tmp}", f"--pyi_out={tmp}",
             f"--grpc_python_out={tmp}", f"--plugin=protoc-gen-grpc_python={plugin}",
             *[os.path.relpath(p, proto_dir) for p in protos]],
            check=True)
        generated = os.path.join(tmp, "vigil", "v1")
        staged = OUT + ".new"
        shutil.rmtree(staged, ignore_errors=True)
        os.makedirs(staged)
        for name in sorted(os.listdir(generated)):
            with open(os.path.join(generated, name)) as f:
                text = IMPORT.sub("from . import ", f.read())
            with open(os.path.join(staged, name), "w") as f:
                f.write(text)
        with open(os.path.join(staged, "__init__.py"), "w") as f:
            f.write('"""Generated from proto/vigil/v1 by gen_stubs.py: do not edit."""\n')
        shutil.rmtree(OUT, ignore_errors=True)
        os.replace(staged, OUT)
    return OUT


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto-dir", default=default_proto_dir())
    args = parser.parse_args()
    print("generated", generate(args.proto_dir))


if __name__ == "__main__":
    main()
