#!/usr/bin/env bash
# The container image end to end: deploy/container/build.sh builds it from this build's binaries,
# then a container of it reports `vigild --version`, starts as the unprivileged user, passes its
# own HEALTHCHECK (`vigil health` over grpc.health.v1), and stops cleanly on SIGTERM.
#
#   tests/deploy/image_test.sh --build-dir DIR
#
# Exit 77 (ctest: SKIPPED) with the reason when this host has no working container engine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$ROOT/build
[ "${1:-}" = --build-dir ] && BUILD_DIR=$2
TAG=localhost/vigil:ctest
NAME=vigil-image-test-$$
SECONDS=0

fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() { podman rm --force --volumes "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

set +e
"$ROOT/deploy/container/build.sh" --build-dir "$BUILD_DIR" --tag "$TAG" >"${TMPDIR:-/tmp}/$NAME.build.log" 2>&1
code=$?
set -e
if [ $code -eq 3 ]; then
  echo "SKIPPED: no working container engine on this host:"
  tail -n 5 "${TMPDIR:-/tmp}/$NAME.build.log"
  rm -f "${TMPDIR:-/tmp}/$NAME.build.log"
  exit 77
fi
[ $code -eq 0 ] || { cat "${TMPDIR:-/tmp}/$NAME.build.log"; fail "build.sh exited $code"; }
rm -f "${TMPDIR:-/tmp}/$NAME.build.log"
echo "image built in ${SECONDS}s"

. "$ROOT/deploy/container/engine.sh"
vigil_podman_probe localhost/vigil-base:bookworm || fail "the engine stopped working: $PODMAN_WHY"
P=(podman "${PODMAN_GLOBAL[@]}")

version=$("${P[@]}" run --rm --health-interval disable "${PODMAN_LIMITS[@]}" "$TAG" --version)
[ "$version" = "$("$BUILD_DIR/services/vigild/vigild" --version)" ] || fail "vigild --version in the image: '$version'"
echo "in the image: $version"

# The image's own command: the store on the volume, loopback inside the container's network.
# No health timer (it needs systemd); the test runs the HEALTHCHECK itself.
"${P[@]}" run --detach --name "$NAME" --health-interval disable "${PODMAN_LIMITS[@]}" "$TAG" >/dev/null
healthy=""
for _ in $(seq 1 100); do
  if "${P[@]}" healthcheck run "$NAME" >/dev/null 2>&1; then healthy=yes; break; fi
  [ "$("${P[@]}" inspect --format '{{.State.Running}}' "$NAME")" = true ] || break
  sleep 0.2
done
[ -n "$healthy" ] || { "${P[@]}" logs "$NAME"; fail "the HEALTHCHECK never passed"; }
echo "HEALTHCHECK passed:"
"${P[@]}" exec "$NAME" vigil health

[ "$("${P[@]}" exec "$NAME" id -u)" = 10001 ] || fail "vigild does not run as uid 10001"
mode=$("${P[@]}" exec "$NAME" stat -c %a /var/lib/vigil)
[ "$mode" = 700 ] || fail "volume mode $mode, not 700"

"${P[@]}" stop --time 30 "$NAME" >/dev/null
code=$("${P[@]}" inspect --format '{{.State.ExitCode}}' "$NAME")
[ "$code" = 0 ] || { "${P[@]}" logs "$NAME"; fail "vigild exited $code on SIGTERM"; }
"${P[@]}" logs "$NAME" 2>&1 | grep -q "vigild stopped cleanly" || fail "no clean stop in the log"
echo "stopped cleanly on SIGTERM; ${SECONDS}s in all"
