"""Builds vigil-client with its gRPC stubs generated from the repository's proto/ first (see
gen_stubs.py): pyproject.toml holds the metadata; this only hooks the generation in."""

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_stubs  # noqa: E402


class BuildPyWithStubs(build_py):
    def run(self):
        proto_dir = gen_stubs.default_proto_dir()
        if os.path.isdir(os.path.join(proto_dir, "vigil", "v1")):
            gen_stubs.generate(proto_dir)
        elif not os.path.exists(os.path.join(gen_stubs.OUT, "rso_pb2.py")):
            raise SystemExit(f"vigil-client: no protos at {proto_dir} and no generated stubs; "
                             f"build from a vigil checkout or set VIGIL_PROTO_DIR")
        super().run()


setup(cmdclass={"build_py": BuildPyWithStubs})
