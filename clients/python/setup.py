"""Builds vigil-client with its gRPC stubs generated from the repository's proto/ (see
gen_stubs.py); pyproject.toml holds the metadata. The stubs are generated before setup() runs,
because every step, metadata included, needs the vigil_client._proto package to exist."""

import os
import sys

from setuptools import setup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_stubs  # noqa: E402

proto_dir = gen_stubs.default_proto_dir()
if os.path.isdir(os.path.join(proto_dir, "vigil", "v1")):
    gen_stubs.generate(proto_dir)
elif not os.path.exists(os.path.join(gen_stubs.OUT, "rso_pb2.py")):
    raise SystemExit(f"vigil-client: no protos at {proto_dir} and no generated stubs; build from "
                     f"a vigil checkout or set VIGIL_PROTO_DIR")

setup()
