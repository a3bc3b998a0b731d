#!/usr/bin/env bash
# What an erasure costs as the store grows: for each size (open obligations), a fresh vigild is
# loaded with the synthetic force, one deceased offender is registered, and `vigil retention
# erase` removes it: the seconds of the whole call and of its flush and compaction, the keys and
# events it touched, and the store's size before and after. Prints one markdown row per size.
#
#   bench/erasure.sh [BUILD_DIR] [SIZES...]        e.g. bench/erasure.sh build 10000 100000
set -euo pipefail
BUILD=${1:-build}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)
WORK=$(mktemp -d /tmp/vigil-erasure.XXXXXX)
. "$(dirname "$0")/scale_lib.sh"
trap 'kill_vigild; rm -rf "$WORK"' EXIT

as() { "$VIGIL" --server "$ADDR" --actor "$1" --role "$2" --force wessex --purpose "erasure bench" "${@:3}"; }

echo "| open obligations | store MiB before | erase call s | of which flush + compaction s | keys removed | events redacted | store MiB after |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for size in "${SIZES[@]}"; do
  rm -rf "$WORK/data"
  start_vigild
  load_force "$size"
  open=$(metric obligations_open_)
  as "DC 1" officer offender create --id ERASE-ME --name "Erasable Person" --registered 2020-01-02 \
    --owner "DC 1" --team north >/dev/null
  as "DS 1" supervisor offender update ERASE-ME --revision 1 --status deceased >/dev/null
  before=$(du -sm "$WORK/data" | cut -f1)
  t0=$(date +%s.%N)
  out=$(as "FA 1" force-admin -o json retention erase offender ERASE-ME --reason "bench")
  t1=$(date +%s.%N)
  after=$(du -sm "$WORK/data" | cut -f1)
  stop_vigild
  echo "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("| %s | %s | %.2f | %.2f | %s | %s | %s |" % (sys.argv[1], sys.argv[2], float(sys.argv[4]) - float(sys.argv[3]),
      r.get("compaction_seconds", 0), r.get("keys_removed", 0), r.get("events_redacted", 0), sys.argv[5]))
' "$open" "$before" "$t0" "$t1" "$after"
done
