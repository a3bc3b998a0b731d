#!/usr/bin/env bash
# What proven identity costs (issue #13): the same vigild workload over plaintext with the
# development authenticator, over TLS with bearer tokens (--auth=jwt), and over mutual TLS
# (--auth=mtls), measured one after the other in one run, each on a fresh store loaded with the
# same synthetic force. Prints a markdown table for docs/performance.md.
#
#   bench/identity.sh [BUILD_DIR] [OFFENDERS] [SECONDS]
set -euo pipefail
BUILD=${1:-build}
OFFENDERS=${2:-3000}
SECONDS_PER_RUN=${3:-10}
VIGILD=$BUILD/services/vigild/vigild
LOAD=$BUILD/clients/load/vigil_load
VIGIL=$BUILD/clients/cli/vigil
WORK=$(mktemp -d /tmp/vigil-identity.XXXXXX)
PKI=$WORK/pki
PID=

cleanup() {
  [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$VIGIL" certs create-ca --dir "$PKI" >/dev/null
"$VIGIL" certs create-server --dir "$PKI" --host localhost --host 127.0.0.1 >/dev/null
"$VIGIL" certs create-client --dir "$PKI" --actor "Load Driver" --role supervisor \
  --force wessex >/dev/null
"$VIGIL" token create-key --dir "$PKI" >/dev/null
TOKEN=$("$VIGIL" token dev --key "$PKI/token-signing.key" --actor "Load Driver" \
  --role supervisor --force wessex --issuer bench --audience vigil --ttl-seconds 86400)

# start MODE: a fresh store served with MODE's transport and authenticator; sets PID and ADDR.
start() {
  local mode=$1 args=()
  case $mode in
    plaintext) ;;
    jwt) args=(--auth jwt --tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key"
               --jwks "$PKI/jwks.json" --jwt-issuer bench --jwt-audience vigil) ;;
    mtls) args=(--auth mtls --tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key"
                --tls-client-ca "$PKI/ca.crt") ;;
  esac
  rm -rf "$WORK/data" "$WORK/port"
  "$VIGILD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --port-file "$WORK/port" \
    --log-level warning --read-rate 0 "${args[@]}" >>"$WORK/vigild.log" 2>&1 &
  PID=$!
  until [ -s "$WORK/port" ]; do
    kill -0 "$PID" 2>/dev/null || { tail -20 "$WORK/vigild.log" >&2; exit 1; }
    sleep 0.01
  done
  ADDR=127.0.0.1:$(cat "$WORK/port")
}

stop() {
  kill -TERM "$PID"
  while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
  PID=
}

credential() {
  case $1 in
    plaintext) ;;
    jwt) echo "--tls_ca=$PKI/ca.crt --token=$TOKEN" ;;
    mtls) echo "--tls_ca=$PKI/ca.crt --cert=$PKI/client.load-driver.crt --key=$PKI/client.load-driver.key" ;;
  esac
}

percentiles() { awk -v rpc="$1" '$1 == rpc {printf "%s / %s", $5, $7}'; }
rate() { awk -v rpc="$1" '$1 == rpc {printf "%s", $4}'; }

echo "| transport, authenticator | RecordVisit/s | CreateReferral/s (64 clients) | backlog summary p50 / p99 ms (1 client) |"
echo "|---|---:|---:|---:|"
for mode in plaintext jwt mtls; do
  start "$mode"
  # shellcheck disable=SC2046
  set -- $(credential "$mode")
  "$LOAD" --server "$ADDR" "$@" --offenders "$OFFENDERS" --load_only >/dev/null 2>&1
  visits=$("$LOAD" --server "$ADDR" "$@" --clients 64 \
    --seconds "$SECONDS_PER_RUN" --mix record-visit=1 2>/dev/null | rate VisitService/RecordVisit)
  referrals=$("$LOAD" --server "$ADDR" "$@" --clients 64 --seconds "$SECONDS_PER_RUN" \
    --mix create-referral=1 2>/dev/null | rate ReferralService/CreateReferral)
  summary=$("$LOAD" --server "$ADDR" "$@" --clients 1 --calls 2000 --mix backlog-summary=1 \
    2>/dev/null | percentiles BacklogService/GetBacklogSummary)
  stop
  case $mode in
    plaintext) label="plaintext, dev headers" ;;
    jwt) label="TLS 1.3, bearer token (ES256), each token verified once" ;;
    mtls) label="mutual TLS 1.3, client certificate" ;;
  esac
  echo "| $label | $visits | $referrals | $summary |"
done
