#!/usr/bin/env bash
# What each write costs vigild in handoffs: a fresh vigild with a synthetic force of 10,000
# obligations, then for each write RPC 8 s from 64 clients (vigil_load, 8 connections), and per
# call: vigild's CPU (utime + stime), its context switches (voluntary and not, every thread, from
# /proc/PID/task/*/status), and the store's commit groups (store_commit_group_changes from
# vigild's Prometheus endpoint: changes per group, groups — one fsync each — per second).
# Prints one markdown row per RPC, for docs/performance.md (issue #21).
#
#   bench/handoffs.sh [BUILD_DIR] [SECONDS]       VIGILD=/other/vigild bench/handoffs.sh
set -euo pipefail
BUILD=${1:-build}
SECONDS_EACH=${2:-8}
WORK=$(mktemp -d /tmp/vigil-handoffs.XXXXXX)
. "$(dirname "$0")/scale_lib.sh"
command -v curl >/dev/null || { echo "needs curl: apt-get install curl" >&2; exit 2; }
trap 'kill_vigild; rm -rf "$WORK"' EXIT

METRICS_ADDR=127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
EXTRA_VIGILD_FLAGS=(--metrics-listen "$METRICS_ADDR")
start_vigild
load_force 10000

switches() { cat /proc/"$PID"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }
# "sum count" of the commit group sizes so far.
groups() {
  curl -sf "http://$METRICS_ADDR/metrics" |
    awk '/^vigil_store_commit_group_changes_sum / {s = $2} /^vigil_store_commit_group_changes_count / {c = $2} END {print s + 0, c + 0}'
}

tck=$(getconf CLK_TCK)
echo "| RPC (64 clients, 10k) | calls/s | vigild CPU µs per call | context switches per call | changes per commit group | commit groups (fsyncs) per s |"
echo "|---|---:|---:|---:|---:|---:|"
for mix in record-visit record-arms create-referral; do
  started() { x0=$(switches); t0=$(cpu_ticks); read -r s0 c0 < <(groups); }
  ON_DRIVING=started drive_load --server "$ADDR" --clients 64 --seconds "$SECONDS_EACH" \
    --mix "$mix=1" || true
  x1=$(switches); t1=$(cpu_ticks); read -r s1 c1 < <(groups)
  line=$(awk '$1 == "all" {print $2, $4}' "$WORK/load.out")
  [ -n "$line" ] || { echo "$mix: the load driver reported nothing" >&2; exit 1; }
  awk -v mix="$mix" -v calls="${line% *}" -v rate="${line#* }" -v x=$((x1 - x0)) \
    -v t=$((t1 - t0)) -v tck="$tck" -v s="$(awk -v a="$s1" -v b="$s0" 'BEGIN {print a - b}')" \
    -v c="$(awk -v a="$c1" -v b="$c0" 'BEGIN {print a - b}')" -v secs="$SECONDS_EACH" \
    'BEGIN {printf "| %s | %.0f | %.0f | %.1f | %.1f | %.0f |\n", mix, rate, t / tck * 1e6 / calls, x / calls, (c > 0 ? s / c : 0), c / secs}'
done
