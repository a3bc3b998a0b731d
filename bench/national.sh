#!/usr/bin/env bash
# What the national view costs: three vigild shards (wessex, mercia, northumbria), each loaded
# with a synthetic force of SIZE open obligations, and a national backlog (vigild
# --services=national-backlog) in front of them. Measured in one run, over loopback gRPC, one
# client, calls back to back:
#   - GetBacklogSummary of one force at its own shard;
#   - GetBacklogSummary national: the national vigild asking the three shards at once and
#     merging (its own audit record, then each shard's);
#   - ListBacklogItems national, oldest first, 50 a page.
# Prints one markdown table row, for docs/performance.md.
#
#   bench/national.sh [BUILD_DIR] [SIZE]      e.g. bench/national.sh build 100000
#
# The shards run --auth=dev on loopback (the national vigild's calls name their principal in the
# identity headers, as its service certificate lets it do under --auth=jwt); the national vigild
# runs --auth=jwt with a `vigil token` key, and the load driver sends an hmicfrs-inspector token.
set -euo pipefail
BUILD=${1:-build}
SIZE=${2:-100000}
CALLS=${CALLS:-2000}
VIGILD=$BUILD/services/vigild/vigild
LOAD=$BUILD/clients/load/vigil_load
VIGIL=$BUILD/clients/cli/vigil
WORK=$(mktemp -d /tmp/vigil-national.XXXXXX)
FORCES=(wessex mercia northumbria)
cleanup() {
  # start() runs in a command substitution (a subshell): each vigild's pid is in its file.
  for file in "$WORK"/*.pid; do
    [ -e "$file" ] && kill -KILL "$(cat "$file")" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME ARGS...: vigild on $WORK/NAME; prints its address.
start() {
  local name=$1
  shift
  "$VIGILD" --data-dir "$WORK/$name" --listen 127.0.0.1:0 --port-file "$WORK/$name.port" \
    --log-level warning --read-rate 0 "$@" >>"$WORK/$name.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$WORK/$name.pid"
  until [ -s "$WORK/$name.port" ]; do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$WORK/$name.log" >&2; exit 1; }
    sleep 0.01
  done
  echo "127.0.0.1:$(cat "$WORK/$name.port")"
}

# The p50 / p99 (ms) of the one RPC row of a vigil_load report.
percentiles() { awk -v rpc="$1" '$1 == rpc {printf "%s / %s", $5, $7}'; }

offenders=$((SIZE * 8 / 21)) # about 2.6 open clocks per offender (bench/scale_lib.sh)
shards=()
for force in "${FORCES[@]}"; do
  addr=$(start "$force")
  "$LOAD" --server "$addr" --force "$force" --offenders "$offenders" --load_only >/dev/null 2>&1
  shards+=("$force=$addr")
done
wessex=${shards[0]#wessex=}

"$VIGIL" token create-key --dir "$WORK/tokens" >/dev/null
token=$("$VIGIL" token dev --key "$WORK/tokens/token-signing.key" --actor "HMI Bench" \
  --role hmicfrs-inspector --force national)
national=$(start national --services national-backlog --shards "$(IFS=,; echo "${shards[*]}")" \
  --auth jwt --jwks "$WORK/tokens/jwks.json" --jwt-issuer vigil-dev --jwt-audience vigil)

one=$("$LOAD" --server "$wessex" --force wessex --clients 1 --calls "$CALLS" \
  --mix backlog-summary=1 2>/dev/null | percentiles BacklogService/GetBacklogSummary)
all=$("$LOAD" --server "$national" --token "$token" --clients 1 --calls "$CALLS" \
  --mix backlog-summary=1 2>/dev/null | percentiles BacklogService/GetBacklogSummary)
items=$("$LOAD" --server "$national" --token "$token" --clients 1 --calls "$CALLS" \
  --mix backlog-items=1 2>/dev/null | percentiles BacklogService/ListBacklogItems)

echo "| open obligations per shard | one shard's summary p50 / p99 ms | national summary, 3 shards, p50 / p99 ms | national oldest-first page p50 / p99 ms |"
echo "|---:|---:|---:|---:|"
printf "| %s | %s | %s | %s |\n" "$SIZE" "$one" "$all" "$items"
