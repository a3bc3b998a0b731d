#!/usr/bin/env bash
# Builds the vigil container image (deploy/container/Containerfile) with podman, or with
# --proxy the proxy's (Containerfile.haproxy: Debian's HAProxy, no vigil binaries).
#
#   deploy/container/build.sh [--proxy] [--build-dir DIR] [--tag NAME] [--base IMAGE] [--rebuild-base]
#
#   --proxy           build localhost/vigil-proxy:2.6 instead
#   --build-dir DIR   where vigild and vigil were built (default: build; `./x build` makes them)
#   --tag NAME        the image to write (default: localhost/vigil:VERSION, VERSION from vigild)
#   --base IMAGE      a Debian bookworm-slim image to build on, e.g. one pulled from your registry.
#                     Without it the base is built from Debian packages: mmdebstrap makes a
#                     minbase bookworm root file system (the packages bookworm-slim has, without
#                     documentation) from this host's apt sources, and `podman import` stores it
#                     as localhost/vigil-base:bookworm, which later builds reuse.
#   --rebuild-base    build that base again (to take Debian's updates)
#
# Prints the image name on the last line. Needs root (or rootless podman with subuids), podman,
# and mmdebstrap unless --base is given. Exit status: 0 built; 1 failed; 2 bad usage; 3 no
# working container engine here (podman or mmdebstrap missing, or podman runs no container).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_DIR=$ROOT/build
TAG=""
BASE=""
BASE_LOCAL=localhost/vigil-base:bookworm
REBUILD_BASE=0
PROXY=0
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) BUILD_DIR=$(cd "$2" && pwd); shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --base) BASE=$2; shift 2 ;;
    --rebuild-base) REBUILD_BASE=1; shift ;;
    --proxy) PROXY=1; shift ;;
    *) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
say() { printf '==> %s\n' "$*" >&2; }

VIGILD=$BUILD_DIR/services/vigild/vigild
VIGIL=$BUILD_DIR/clients/cli/vigil
if [ "$PROXY" = 1 ]; then
  [ -n "$TAG" ] || TAG=localhost/vigil-proxy:2.6
else
  for bin in "$VIGILD" "$VIGIL"; do
    [ -x "$bin" ] || { echo "build.sh: $bin is missing; run ./x build first" >&2; exit 1; }
  done
  VERSION=$("$VIGILD" --version | awk '{print $2}')
  [ -n "$TAG" ] || TAG=localhost/vigil:$VERSION
fi

command -v podman >/dev/null || { echo "build.sh: podman is missing (apt-get install podman)" >&2; exit 3; }
if ! info=$(podman info 2>&1 >/dev/null); then
  printf 'build.sh: podman does not work here: %s\n' "$(printf '%s' "$info" | tail -n 1)" >&2
  exit 3
fi
. "$HERE/engine.sh"

if [ -z "$BASE" ]; then
  BASE=$BASE_LOCAL
  if [ "$REBUILD_BASE" = 1 ] || ! podman image exists "$BASE"; then
    command -v mmdebstrap >/dev/null || { echo "build.sh: mmdebstrap is missing (apt-get install mmdebstrap), or give --base" >&2; exit 3; }
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # The chroot uses the same archive as this host, with the host's view of Release validity
    # (a snapshot archive has expired Release files by design).
    mirrors=()
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
      [ -s "$f" ] && grep -qv '^\s*#' "$f" && mirrors+=("$f") && break
    done
    aptopts=()
    valid_until=$(apt-config dump Acquire::Check-Valid-Until 2>/dev/null | awk '{print $2}' | tr -d '";')
    [ "$valid_until" = false ] && aptopts+=(--aptopt='Acquire::Check-Valid-Until "false"')
    say "building the base root file system with mmdebstrap (bookworm, minbase; a few minutes)"
    mmdebstrap --variant=minbase --format=tar --quiet \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      "${aptopts[@]}" bookworm "$work/base.tar" "${mirrors[@]}" </dev/null
    say "importing it as $BASE"
    podman import --change 'CMD ["bash"]' "$work/base.tar" "$BASE" >/dev/null
    rm -f "$work/base.tar"
  fi
fi

if ! vigil_podman_probe "$BASE"; then
  printf 'build.sh: podman cannot run containers here:\n%s' "$PODMAN_WHY" >&2
  exit 3
fi

context=$(mktemp -d)
trap 'rm -rf "$context" ${work:+"$work"}' EXIT
if [ "$PROXY" = 1 ]; then
  cp "$HERE/Containerfile.haproxy" "$context/Containerfile"
else
  cp "$HERE/Containerfile" "$ROOT/deploy/policy/default.textproto" "$context/"
  # The image carries the binaries without their debug sections (a tenth of the size).
  strip --strip-debug -o "$context/vigild" "$VIGILD"
  strip --strip-debug -o "$context/vigil" "$VIGIL"
fi

say "building $TAG on $BASE (podman ${PODMAN_GLOBAL[*]} build ${PODMAN_LIMITS[*]})"
# docker format: the OCI format has no HEALTHCHECK.
podman "${PODMAN_GLOBAL[@]}" build --format docker --network host "${PODMAN_LIMITS[@]}" \
  --build-arg "BASE=$BASE" --tag "$TAG" --file "$context/Containerfile" "$context" >&2
echo "$TAG"
