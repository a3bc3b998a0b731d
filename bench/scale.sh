#!/usr/bin/env bash
# How vigild's costs grow with its data: for each size (open obligations), a fresh vigild is
# loaded with a synthetic force through the import RPCs, then measured:
#   - import rate (offenders/s);
#   - GetBacklogSummary and ListBacklogItems latency, one client, back to back;
#   - RecordVisit, RecordArmsAssessment and CreateReferral throughput at 64 clients;
#   - cold start (SIGTERM, start again, until it serves) and resident memory after it.
# Prints one markdown table row per size, for docs/performance.md.
#
#   bench/scale.sh [BUILD_DIR] [SIZES...]      e.g. bench/scale.sh build 10000 100000 1000000
set -euo pipefail
BUILD=${1:-build}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000 1000000)
VIGILD=$BUILD/services/vigild/vigild
LOAD=$BUILD/clients/load/vigil_load
VIGIL=$BUILD/clients/cli/vigil
WORK=$(mktemp -d /tmp/vigil-scale.XXXXXX)
PORT_FILE=$WORK/port
PID=

cleanup() {
  [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts vigild on $WORK/data; sets PID, ADDR and STARTUP (seconds until it served).
start() {
  rm -f "$PORT_FILE"
  local t0 t1
  t0=$(date +%s.%N)
  "$VIGILD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --port-file "$PORT_FILE" \
    --log-level warning --read-rate 0 >>"$WORK/vigild.log" 2>&1 &
  PID=$!
  until [ -s "$PORT_FILE" ]; do
    kill -0 "$PID" 2>/dev/null || { tail -20 "$WORK/vigild.log" >&2; exit 1; }
    sleep 0.01
  done
  t1=$(date +%s.%N)
  ADDR=127.0.0.1:$(cat "$PORT_FILE")
  STARTUP=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
}

stop() {
  kill -TERM "$PID"
  while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
  PID=
}

rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status"; }

# The p50, p99 (ms) of the one RPC row of a vigil_load report.
percentiles() { awk -v rpc="$1" '$1 == rpc {printf "%s / %s", $5, $7}'; }
rate() { awk -v rpc="$1" '$1 == rpc {printf "%s", $4}'; }

metric() {
  "$VIGIL" --server "$ADDR" --actor bench --role supervisor --force wessex -o json metrics "$1" |
    python3 -c 'import json,sys; print(sum(int(m.get("value", 0)) for m in json.load(sys.stdin).get("metrics", [])))'
}

echo "| open obligations | offenders | import offenders/s | backlog summary p50 / p99 ms | oldest-first page p50 / p99 ms | RecordVisit/s | RecordArmsAssessment/s | CreateReferral/s (64 clients) | cold start s | RSS MiB | store MiB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in "${SIZES[@]}"; do
  rm -rf "$WORK/data"
  offenders=$(( size * 2 / 7 ))  # about 3.5 open clocks per offender
  start
  load=$("$LOAD" --server "$ADDR" --offenders "$offenders" --load_only 2>/dev/null)
  import_rate=$(echo "$load" | grep 'load: offenders' | grep -o '([0-9]*/s)' | tr -dc 0-9)
  open=$(metric obligations_open_)
  summary=$("$LOAD" --server "$ADDR" --clients 1 --calls 2000 --mix backlog-summary=1 2>/dev/null |
    percentiles BacklogService/GetBacklogSummary)
  items=$("$LOAD" --server "$ADDR" --clients 1 --calls 2000 --mix backlog-items=1 2>/dev/null |
    percentiles BacklogService/ListBacklogItems)
  visits=$("$LOAD" --server "$ADDR" --offenders "$offenders" --clients 64 --seconds 10 \
    --mix record-visit=1 2>/dev/null | rate VisitService/RecordVisit)
  arms=$("$LOAD" --server "$ADDR" --offenders "$offenders" --clients 64 --seconds 10 \
    --mix record-arms=1 2>/dev/null | rate AssessmentService/RecordArmsAssessment)
  referrals=$("$LOAD" --server "$ADDR" --clients 64 --seconds 10 --mix create-referral=1 2>/dev/null |
    rate ReferralService/CreateReferral)
  stop
  start
  cold=$STARTUP
  rss=$(rss_mib)
  store=$(du -sm "$WORK/data" | cut -f1)
  stop
  printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$open" "$offenders" \
    "$import_rate" "$summary" "$items" "$visits" "$arms" "$referrals" "$cold" "$rss" "$store"
done
