#!/usr/bin/env bash
# What a backup costs and how long a restore takes (docs/performance.md, "Backups"): a fresh
# vigild is loaded with a synthetic force through the import RPCs, then
#   - a full backup through AdminService.CreateBackup while 16 clients keep writing visits
#     (seconds, MiB, and the writes/s during it against writes/s without it);
#   - an incremental backup after those writes (seconds, MiB copied);
#   - verifying the backup (every file's checksum);
#   - `vigild --restore-from` into a new directory, audit chain verified (the RTO);
#   - beside it, the floor: `cp -a` of the stopped data dir plus sync.
# Prints one markdown table row per size.
#
#   bench/backup.sh [BUILD_DIR] [SIZES...]      e.g. bench/backup.sh build 100000 1000000
set -euo pipefail
BUILD=${1:-build}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100000 1000000)
VIGILD=$BUILD/services/vigild/vigild
LOAD=$BUILD/clients/load/vigil_load
VIGIL=$BUILD/clients/cli/vigil
WORK=$(mktemp -d /tmp/vigil-backup-bench.XXXXXX)
PORT_FILE=$WORK/port
PID=

cleanup() {
  [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start() {
  rm -f "$PORT_FILE"
  "$VIGILD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --port-file "$PORT_FILE" \
    --backup-dir "$WORK/backups" --log-level warning --read-rate 0 >>"$WORK/vigild.log" 2>&1 &
  PID=$!
  until [ -s "$PORT_FILE" ]; do
    kill -0 "$PID" 2>/dev/null || { tail -20 "$WORK/vigild.log" >&2; exit 1; }
    sleep 0.01
  done
  ADDR=127.0.0.1:$(cat "$PORT_FILE")
}

stop() {
  kill -TERM "$PID"
  while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
  PID=
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
mib() { du -sm "$1" | cut -f1; }
admin() { "$VIGIL" --server "$ADDR" --actor bench --role force-admin --force wessex --timeout 3600 "$@"; }
# visits_rate SECONDS: RecordVisit/s at 16 clients on the offenders loaded (found again, not
# imported again).
visits_rate() {
  "$LOAD" --server "$ADDR" --clients 16 --seconds "$1" --mix record-visit=1 \
    2>/dev/null | awk '$1 == "VisitService/RecordVisit" {printf "%s", $4}'
}

echo "| offenders | store MiB | full backup s (MiB) | RecordVisit/s at 16 clients, alone / during the backup | incremental backup s (MiB added) | verify s | restore + chain check s | cp -a + sync s |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for offenders in "${SIZES[@]}"; do
  rm -rf "$WORK/data" "$WORK/backups" "$WORK/restored" "$WORK/copy"
  start
  "$LOAD" --server "$ADDR" --offenders "$offenders" --load_only >/dev/null 2>&1
  alone=$(visits_rate 10)
  store=$(mib "$WORK/data")
  # The full backup while visits are recorded.
  visits_rate 30 >"$WORK/during" &
  load_pid=$!
  sleep 2
  t=$(now)
  admin admin backup create >/dev/null
  full_s=$(since "$t")
  wait "$load_pid"
  during=$(cat "$WORK/during")
  full_mib=$(mib "$WORK/backups")
  # An incremental backup after the visits.
  t=$(now)
  admin admin backup create >/dev/null
  incr_s=$(since "$t")
  incr_mib=$(( $(mib "$WORK/backups") - full_mib ))
  t=$(now)
  admin admin backup verify 2 >/dev/null
  verify_s=$(since "$t")
  stop
  t=$(now)
  "$VIGILD" --restore-from "$WORK/backups" --data-dir "$WORK/restored" >/dev/null
  restore_s=$(since "$t")
  t=$(now)
  cp -a "$WORK/data" "$WORK/copy" && sync
  cp_s=$(since "$t")
  printf "| %s | %s | %s (%s) | %s / %s | %s (%s) | %s | %s | %s |\n" "$offenders" "$store" \
    "$full_s" "$full_mib" "$alone" "$during" "$incr_s" "$incr_mib" "$verify_s" "$restore_s" "$cp_s"
done
