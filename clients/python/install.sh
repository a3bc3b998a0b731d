#!/bin/sh
# Installs clients/python (vigil-client) into a fresh virtual environment VENV over Debian's
# python3-grpcio and python3-protobuf, with no package index, as on a machine without PyPI:
#   clients/python/install.sh VENV
# Needs python3-venv, python3-setuptools, python3-wheel, protobuf-compiler and
# protobuf-compiler-grpc (./x installs them).
set -eu
venv=$1
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$venv" "$here/build"
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --no-index --no-build-isolation --disable-pip-version-check "$here"
"$venv/bin/python" -c 'import sys, vigil_client
print("vigil_client", vigil_client.__version__, "(API", vigil_client.API_VERSION + ") in", sys.prefix)'
