#!/usr/bin/env bash
# The web dashboard at national size: a fresh vigild loaded with SIZE open obligations as
# bench/scale.sh loads them, vigil-web with the development sign-in in front of it, and Chromium
# timing the supervisor's dashboard (first contentful paint, heat map shown) and the drill-down
# of its busiest cell, RUNS times (bench/web_scale.mjs). Prints the load's time, each run and
# the medians, for docs/performance.md.
#
#   bench/web_scale.sh [BUILD_DIR] [SIZE] [RUNS]      e.g. bench/web_scale.sh build 1000000 5
#
# Needs vigild, vigil, vigil-web and vigil_load built, the app built (services/web/app: npm ci
# && npm run build) and tests/web's npm ci (playwright-core); Chromium at /usr/bin/chromium.
set -euo pipefail
BUILD=${1:-build}
SIZE=${2:-1000000}
RUNS=${3:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WEB=$BUILD/services/web/vigil-web
STATIC=$ROOT/services/web/app/dist
WORK=$(mktemp -d /tmp/vigil-web-scale.XXXXXX)
. "$ROOT/bench/scale_lib.sh"
WEB_PID=

cleanup() {
  if [ -n "$WEB_PID" ]; then
    kill -TERM "$WEB_PID" 2>/dev/null || true
    wait "$WEB_PID" 2>/dev/null || true
  fi
  kill_vigild
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -f "$STATIC/index.html" ] || { echo "$STATIC: build the app (npm ci && npm run build)" >&2; exit 1; }
[ -d "$ROOT/tests/web/node_modules/playwright-core" ] || { echo "run npm ci in tests/web" >&2; exit 1; }

start_vigild
load_force "$SIZE"
echo "loaded $(metric obligations_open_) open obligations ($OFFENDERS offenders) in ${LOAD_SECONDS} s" \
  "($IMPORT_RATE offenders/s)"

"$WEB" --listen 127.0.0.1:0 --port-file "$WORK/web-port" --vigild "$ADDR" --dev-sign-in \
  --static-dir "$STATIC" --log-level warning >>"$WORK/vigil-web.log" 2>&1 &
WEB_PID=$!
until [ -s "$WORK/web-port" ]; do
  kill -0 "$WEB_PID" 2>/dev/null || { tail -20 "$WORK/vigil-web.log" >&2; exit 1; }
  sleep 0.01
done

node "$ROOT/bench/web_scale.mjs" --url "http://127.0.0.1:$(cat "$WORK/web-port")" --runs "$RUNS"
kill -TERM "$WEB_PID"
wait "$WEB_PID" || true
WEB_PID=
stop_vigild
