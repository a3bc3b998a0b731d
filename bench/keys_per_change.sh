#!/usr/bin/env bash
# Keys and bytes each write writes: a fresh vigild is loaded with a small synthetic force, then
# for each write RPC, 300 calls from one client (so that no two changes share a commit group),
# and the write-ahead log is read back with RocksDB's `ldb dump_wal` (Debian rocksdb-tools): every
# WriteBatch after the calls began, classified as the owner's commit (it writes the offender's or
# the referral's record) or another context's (the alerts context following the feed). Prints
# one markdown row per RPC, for docs/performance.md.
#
#   bench/keys_per_change.sh [BUILD_DIR]          VIGILD=/other/vigild bench/keys_per_change.sh
set -euo pipefail
BUILD=${1:-build}
WORK=$(mktemp -d /tmp/vigil-keys.XXXXXX)
. "$(dirname "$0")/scale_lib.sh"
command -v ldb >/dev/null || { echo "needs ldb: apt-get install rocksdb-tools" >&2; exit 2; }

cleanup() {
  kill_vigild
  rm -rf "$WORK"
}
trap cleanup EXIT

# The last sequence in the WAL files now (0 when empty).
last_sequence() {
  local last=0 f s
  for f in "$WORK"/data/*.log; do
    s=$(ldb dump_wal --walfile="$f" 2>/dev/null | awk -F, '/^[0-9]+,/ {s = $1} END {print s + 0}')
    [ "$s" -gt "$last" ] && last=$s
  done
  echo "$last"
}

# Averages over the batches after sequence $1: owner commits (they put rso/o/ or ocait/r/) and
# the others.
summarize() {
  cat "$WORK"/data/*.log >/dev/null
  for f in "$WORK"/data/*.log; do ldb dump_wal --walfile="$f" 2>/dev/null; done |
    python3 -c '
import sys
after, calls = int(sys.argv[1]), int(sys.argv[2])
owner = [0, 0, 0]; other = [0, 0, 0]
for line in sys.stdin:
    parts = line.split(",", 4)
    if len(parts) < 5 or not parts[0].isdigit() or int(parts[0]) <= after:
        continue
    keys, size = int(parts[1]), int(parts[2])
    mine = "PUT(1) : 0x72736F2F6F2F" in parts[4] or "PUT(1) : 0x6F636169742F722F" in parts[4]
    bucket = owner if mine else other
    bucket[0] += 1; bucket[1] += keys; bucket[2] += size
def avg(b, i): return b[i] / b[0] if b[0] else 0
print("| %d | %.1f | %.0f | %.2f | %.1f | %.0f |" % (owner[0], avg(owner, 1), avg(owner, 2),
      other[0] / max(owner[0], 1), avg(other, 1), avg(other, 2)))
' "$1" "$2"
}

start_vigild
load_force 5000
stop_vigild
start_vigild
echo "| RPC | owner commits | keys per change | bytes per change | other commits per change | their keys | their bytes |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for mix in record-visit record-arms create-referral; do
  before=$(last_sequence)
  # (Calls an older vigild refuses write nothing and are not counted.)
  "$LOAD" --server "$ADDR" --clients 1 --calls 300 --mix "$mix=1" \
    >/dev/null 2>&1 || true
  sleep 1  # the alerts context's following commits
  printf "| %s |" "$mix"
  summarize "$before" 300 | cut -c2-
done
