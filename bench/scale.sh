#!/usr/bin/env bash
# How vigild's costs grow with its data: for each size (open obligations), a fresh vigild is
# loaded with a synthetic force through the import RPCs, then measured:
#   - import rate (offenders/s);
#   - GetBacklogSummary and ListBacklogItems latency, one client, back to back: alone, then
#     beside a background load of 1,000 RecordVisit/s (16 paced clients: vigil_load --rate);
#   - RecordVisit, RecordArmsAssessment and CreateReferral throughput at 64 clients, and vigild's
#     CPU per call;
#   - cold start (SIGTERM, start again, until it serves) and resident memory after it.
# The reads and writes are measured on a settled store: after the import, the script waits (up to
# 10 minutes, its "settle s" column) until RocksDB has no compaction pending, as a store that has
# run a while would have; the import's compactions would otherwise share the cores with them.
# Prints one markdown table row per size, for docs/performance.md.
#
# The writes act on every offender in the community, chosen at random: at 10k each is met again
# within seconds (its clocks already met, nothing overdue left to resolve), at 1M almost every
# call meets one for the first time. ACT_ON=N has them act on N offenders at every size, so
# that each call does alike work and only the size differs (10k has about 2,300 in the
# community; 1M about 228,000).
#
#   bench/scale.sh [BUILD_DIR] [SIZES...]      e.g. bench/scale.sh build 10000 100000 1000000
#   ACT_ON=1450 bench/scale.sh build 10000 1000000
set -euo pipefail
BUILD=${1:-build}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000 1000000)
WORK=$(mktemp -d /tmp/vigil-scale.XXXXXX)
. "$(dirname "$0")/scale_lib.sh"
command -v curl >/dev/null || { echo "needs curl: apt-get install curl" >&2; exit 2; }
METRICS_ADDR=127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
EXTRA_VIGILD_FLAGS=(--metrics-listen "$METRICS_ADDR")

cleanup() {
  kill_vigild
  rm -rf "$WORK"
}
trap cleanup EXIT

# The p50, p99 (ms) of the one RPC row of a vigil_load report.
percentiles() { awk -v rpc="$1" '$1 == rpc {printf "%s / %s", $5, $7}'; }
# drive MIX RPC: 64 clients of MIX for 10 s; prints "calls/s (CPU µs per call)": the calls' rate,
# and vigild's CPU from the first call until the compactions they caused have finished, divided
# by the calls (the load driver shares the cores). Starts once the phase before has settled
# (called in a subshell: SETTLE stays the import's), so no phase pays for another's writes.
drive() {
  local before after
  settle
  started() { before=$(cpu_ticks); }
  ON_DRIVING=started drive_load --server "$ADDR" --clients 64 --seconds 10 --mix "$1=1" \
    ${ACT_ON:+--act_on "$ACT_ON"} || true
  settle
  after=$(cpu_ticks)
  awk -v rpc="$2" -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" \
    '$1 == rpc {printf "%s (%.0f µs)", $4, ticks / hz * 1e6 / $2}' "$WORK/load.out"
}

# The two reads' p50 / p99 beside a background load of 1,000 RecordVisit/s; sets SUMMARY_LOADED,
# ITEMS_LOADED and BACKGROUND (the writes/s the background reached).
reads_under_load() {
  read_beside() {
    sleep 1
    SUMMARY_LOADED=$("$LOAD" --server "$ADDR" --clients 1 --calls 1000 --mix backlog-summary=1 \
      2>/dev/null | percentiles BacklogService/GetBacklogSummary)
    ITEMS_LOADED=$("$LOAD" --server "$ADDR" --clients 1 --calls 1000 --mix backlog-items=1 \
      2>/dev/null | percentiles BacklogService/ListBacklogItems)
  }
  ON_DRIVING=read_beside drive_load --server "$ADDR" --clients 16 --rate 1000 --seconds 20 \
    --mix record-visit=1 || true
  BACKGROUND=$(awk '$1 == "all" {print $4}' "$WORK/load.out")
}

# Waits until RocksDB has no compaction pending (estimated bytes and the pending flag, from
# vigild's Prometheus endpoint), for at most 10 minutes; SETTLE is the seconds waited.
settle() {
  local t0 pending
  t0=$(date +%s)
  while :; do
    pending=$(curl -sf "http://$METRICS_ADDR/metrics" | awk '
      /^vigil_rocksdb_estimate_pending_compaction_bytes / {p = $2}
      /^vigil_rocksdb_compaction_pending / {c = $2}
      END {print (p == "" ? 1 : p + c)}') || pending=1
    [ "$pending" = 0 ] && break
    [ $(($(date +%s) - t0)) -ge 600 ] && { echo "compactions still pending after 600 s" >&2; break; }
    sleep 1
  done
  SETTLE=$(($(date +%s) - t0))
}

echo "| open obligations | offenders | import offenders/s | backlog summary p50 / p99 ms | oldest-first page p50 / p99 ms | summary p50 / p99 ms, 1,000 writes/s beside | page p50 / p99 ms, 1,000 writes/s beside | background writes/s | RecordVisit/s (vigild CPU µs per call) | RecordArmsAssessment/s | CreateReferral/s (64 clients) | cold start s | RSS MiB | store MiB | settle s |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in "${SIZES[@]}"; do
  rm -rf "$WORK/data"
  start_vigild
  load_force "$size"
  open=$(metric obligations_open_)
  settle
  summary=$("$LOAD" --server "$ADDR" --clients 1 --calls 2000 --mix backlog-summary=1 2>/dev/null |
    percentiles BacklogService/GetBacklogSummary)
  items=$("$LOAD" --server "$ADDR" --clients 1 --calls 2000 --mix backlog-items=1 2>/dev/null |
    percentiles BacklogService/ListBacklogItems)
  reads_under_load
  visits=$(drive record-visit VisitService/RecordVisit)
  arms=$(drive record-arms AssessmentService/RecordArmsAssessment)
  referrals=$(drive create-referral ReferralService/CreateReferral)
  stop_vigild
  start_vigild
  cold=$STARTUP
  rss=$(rss_mib)
  store=$(du -sm "$WORK/data" | cut -f1)
  stop_vigild
  printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" \
    "$open" "$OFFENDERS" "$IMPORT_RATE" "$summary" "$items" "$SUMMARY_LOADED" "$ITEMS_LOADED" \
    "$BACKGROUND" "$visits" "$arms" "$referrals" "$cold" "$rss" "$store" "$SETTLE"
done
