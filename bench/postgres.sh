#!/usr/bin/env bash
# vigil against PostgreSQL 15 doing the same work (issue #21), one phase after the other on the
# same machine, so that the ratios come from one run:
#   - the write transactions at 64 clients: RecordVisit, RecordArmsAssessment and CreateReferral,
#     each one PostgreSQL transaction sent as one pipeline (bench/postgres/*.sql; pgbench
#     -M prepared): the domain rows, the obligation rows re-timed or opened with their indexes
#     and history, the feed events, a hash-chained audit record whose previous hash is read from
#     a one-row audit_head locked FOR UPDATE, and the open counters; on a force of about 10,000
#     open obligations. PostgreSQL's tps and CPU per transaction (every postgres process's utime
#     + stime from /proc, exited backends' through the postmaster's cutime + cstime) over 10 s
#     after 10 s of warm-up (a new backend first faults in each shared-buffer page it touches:
#     the first seconds run at a fraction of the rate, which a connection pool pays once; the
#     warm-up's rate is printed too), beside vigild's calls/s for 10 s (clients/load/vigil_load
#     against a vigild loaded with bench/scale_lib.sh's load_force) and CPU per call (vigild's
#     /proc/PID/stat);
#   - the alert queue: 100,000 obligations due at one instant, claimed by a procedure in batches
#     of 500 (FOR UPDATE SKIP LOCKED; each batch marks its obligations alerted, writes an alert
#     and an event per alert and one audit record, and commits), with one worker and with two,
#     from the start until all are committed; beside build/bench/alerts_bench's "due -> last
#     RAISED event at the subscriber" for the same number.
# Before and after each side it reads build/bench/memory_probe (the time of one dependent load
# from memory): on a virtual machine whose host's memory is contended that moves by several
# times for minutes on end, and with it both sides' figures; the run says when it moved.
# PostgreSQL runs durably as vigil does (fsync, synchronous_commit and full_page_writes on;
# shared_buffers 1GB) in a throwaway cluster of its own: initdb in a temporary directory (as
# the postgres user when run as root), a unix socket there, removed on exit; the system's own
# cluster is never touched. Installs postgresql-15 with apt-get when it is missing (as root, or
# through sudo; Debian's package creates and starts its default cluster on installation). Without
# vigil's binaries in BUILD_DIR it measures PostgreSQL only. Prints markdown tables for
# docs/performance.md; about 2 minutes.
#
#   bench/postgres.sh [BUILD_DIR]
#   PG_OBLIGATIONS=2000 PG_SECONDS=3 PG_WARMUP=2 DEADLINES=10000 bench/postgres.sh build   (a try)
# Also: PG_CLIENTS (64, both sides), PG_SHARED_BUFFERS (1GB), PG_REFERRAL_CLOCKS (1: the triage
# clock vigil opens for a received referral), PG_AUDIT_LOCK (advisory: the chain's writers queue
# on an advisory lock before the row lock, see audit_append in bench/postgres/schema.sql; row:
# on the row lock alone), PGBIN (/usr/lib/postgresql/15/bin).
set -euo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
SQL=$HERE/postgres
PG_OBLIGATIONS=${PG_OBLIGATIONS:-10000}
PG_SECONDS=${PG_SECONDS:-10}
PG_WARMUP=${PG_WARMUP:-10}
PG_AUDIT_LOCK=${PG_AUDIT_LOCK:-advisory}
PG_CLIENTS=${PG_CLIENTS:-64}
DEADLINES=${DEADLINES:-100000}
PG_SHARED_BUFFERS=${PG_SHARED_BUFFERS:-1GB}
PG_REFERRAL_CLOCKS=${PG_REFERRAL_CLOCKS:-1}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
TICK=$(getconf CLK_TCK)
OFFENDERS=$(( PG_OBLIGATIONS * 8 / 21 ))

if [ ! -x "$PGBIN/pgbench" ] || [ ! -x "$PGBIN/psql" ] || [ ! -x "$PGBIN/initdb" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "installing postgresql-15" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    postgresql-15 postgresql-client-15 >/dev/null
fi

WORK=$(mktemp -d /tmp/vigil-pg.XXXXXX)
PGDIR=$WORK/pg
PGDATA=$PGDIR/data
mkdir "$PGDIR"
# initdb refuses to run as root: the cluster belongs to the postgres user the package creates.
if [ "$(id -u)" -eq 0 ]; then
  chmod 711 "$WORK"
  chown postgres: "$PGDIR"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
PID=
PM=
BACKGROUND=()

cleanup() {
  local p
  for p in ${BACKGROUND[@]+"${BACKGROUND[@]}"}; do kill "$p" 2>/dev/null || true; done
  if [ -n "$PID" ]; then kill -KILL "$PID" 2>/dev/null || true; fi
  if [ -f "$PGDATA/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 ||
      kill -KILL "$(head -1 "$PGDATA/postmaster.pid")" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port nothing listens on (the server listens on its unix socket only; the port names it).
PORT=55432
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done

pg() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGDIR" -p "$PORT" -U postgres "$@"; }

start_postgres() {
  as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-locale --no-sync \
    >"$PGDIR/initdb.log" 2>&1 || { cat "$PGDIR/initdb.log" >&2; exit 1; }
  cat >>"$PGDATA/postgresql.conf" <<CONF
# bench/postgres.sh
port = $PORT
listen_addresses = ''
unix_socket_directories = '$PGDIR'
max_connections = 150
shared_buffers = $PG_SHARED_BUFFERS
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = 8GB
checkpoint_timeout = 30min
CONF
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDIR/postgres.log" -w -t 120 start >/dev/null ||
    { tail -20 "$PGDIR/postgres.log" >&2; exit 1; }
  PM=$(head -1 "$PGDATA/postmaster.pid")
}

stop_postgres() {
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  PM=
}

# Clock ticks of CPU the cluster has used: the postmaster's own and its reaped children's
# (backends that have exited), and every live child's.
pg_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pm="$PM" '{
    pid = $1; line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
    # f[2] ppid, f[12] utime, f[13] stime, f[14] cutime, f[15] cstime
    if (pid == pm) t += f[12] + f[13] + f[14] + f[15]; else if (f[2] == pm) t += f[12] + f[13]
  } END { print t + 0 }'
}

# Until pgbench's progress report for second $2 or later is in file $1 (pgbench, pid $3, running).
wait_progress() {
  until awk -v t="$2" '/^progress: / && $2 + 0 >= t {f = 1} END {exit !f}' "$1"; do
    kill -0 "$3" 2>/dev/null || { cat "$1" >&2; exit 1; }
    sleep 0.05
  done
}

# pgbench of one script at PG_CLIENTS clients for PG_WARMUP + PG_SECONDS s, measured over the
# last PG_SECONDS (from its progress reports each second, and the cluster's CPU sampled at the
# reports that open and close them); sets PG_TPS, PG_CPU (µs per transaction) and PG_COLD_TPS
# (the warm-up's rate: every backend new).
pg_write() {
  local script=$1 log=$PGDIR/pgbench.log c0 c1 txns failed bench
  pg -d vigil -c 'VACUUM ANALYZE' -c CHECKPOINT
  "$PGBIN/pgbench" -h "$PGDIR" -p "$PORT" -U postgres -n -M prepared -c "$PG_CLIENTS" -j 2 \
    -T "$((PG_WARMUP + PG_SECONDS + 1))" -P 1 -D offenders="$OFFENDERS" \
    -D clocks="$PG_REFERRAL_CLOCKS" -f "$SQL/$script.sql" vigil >"$log" 2>&1 &
  bench=$!
  BACKGROUND=("$bench")
  wait_progress "$log" "$PG_WARMUP" "$bench"
  c0=$(pg_ticks)
  wait_progress "$log" "$((PG_WARMUP + PG_SECONDS))" "$bench"
  c1=$(pg_ticks)
  wait "$bench" || { cat "$log" >&2; exit 1; }
  BACKGROUND=()
  failed=$(awk '/^number of failed transactions/ {print $5}' "$log")
  [ "${failed:-0}" = 0 ] || echo "postgres.sh: $script: $failed failed transactions" >&2
  # "progress: 12.0 s, 755.0 tps, lat 85.246 ms stddev 12.751, 0 failed": each report's rate
  # is over the time since the previous one.
  read -r PG_COLD_TPS PG_TPS txns < <(awk -v a="$PG_WARMUP" -v b="$((PG_WARMUP + PG_SECONDS))" '
    /^progress: / {
      t = $2 + 0; n = $4 * (t - prev); prev = t
      if (!started) { cold += n; cold_t = t; if (t >= a) { started = 1; t0 = t } }
      else if (!ended) { warm += n; t1 = t; if (t >= b) ended = 1 }
    }
    END {printf "%.0f %.0f %.0f\n", cold / cold_t, warm / (t1 - t0), warm}' "$log")
  PG_CPU=$(awk -v t="$((c1 - c0))" -v n="$txns" -v hz="$TICK" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}')
}

# The alert queue with N workers on DEADLINES obligations due; sets PG_ALERT_S and PG_ALERT_RATE.
pg_alerts() {
  local workers=$1 t0 t1 _ p alerted
  pg -d alerts -c 'TRUNCATE obligation, obligation_event, alert, audit, audit_head RESTART IDENTITY'
  pg -d alerts -v deadlines="$DEADLINES" -f "$SQL/deadlines.sql"
  pg -d alerts -c CHECKPOINT
  BACKGROUND=()
  t0=$(date +%s.%N)
  for _ in $(seq 1 "$workers"); do
    pg -d alerts -c "CALL raise_alerts('wessex', 500)" &
    BACKGROUND+=($!)
  done
  for p in "${BACKGROUND[@]}"; do wait "$p"; done
  t1=$(date +%s.%N)
  BACKGROUND=()
  alerted=$(pg -d alerts -Atc "SELECT (SELECT count(*) FROM alert) || ' ' ||
      (SELECT count(*) FROM obligation WHERE alerted) || ' ' || audit_verify('wessex')")
  [ "$alerted" = "$DEADLINES $DEADLINES true" ] ||
    { echo "postgres.sh: alert queue, $workers workers: alerts, alerted, chain: $alerted" >&2; exit 1; }
  PG_ALERT_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
  PG_ALERT_RATE=$(awk -v s="$PG_ALERT_S" -v n="$DEADLINES" 'BEGIN {printf "%.0f", n / s}')
}

# ns per dependent load now (bench/memory_probe), or "-" without the probe.
probe() {
  if [ -x "$BUILD/bench/memory_probe" ]; then
    "$BUILD/bench/memory_probe" 2>/dev/null | awk '{print $1}'
  else
    echo "-"
  fi
}

# --- PostgreSQL ---------------------------------------------------------------------------------
PROBE_PG_BEFORE=$(probe)
start_postgres
PG_VERSION=$(pg -d postgres -Atc 'SHOW server_version' | cut -d' ' -f1)
pg -d postgres -c 'CREATE DATABASE vigil' -c 'CREATE DATABASE alerts'
for db in vigil alerts; do
  pg -d postgres -c "ALTER DATABASE $db SET bench.audit_lock = '$PG_AUDIT_LOCK'"
done
pg -d vigil -f "$SQL/schema.sql"
pg -d vigil -v obligations="$PG_OBLIGATIONS" -f "$SQL/force.sql"
PG_OPEN=$(pg -d vigil -Atc 'SELECT count(*) FROM obligation WHERE open')
declare -A PG_TPS_OF PG_CPU_OF PG_COLD_OF
for script in record_visit record_arms create_referral; do
  pg_write "$script"
  PG_TPS_OF[$script]=$PG_TPS
  PG_CPU_OF[$script]=$PG_CPU
  PG_COLD_OF[$script]=$PG_COLD_TPS
done
# The transactions did what they claim: the chain verifies, and every counter holds its cell's
# open obligations.
[ "$(pg -d vigil -Atc "SELECT audit_verify('wessex')")" = t ] ||
  { echo "postgres.sh: the audit chain does not verify" >&2; exit 1; }
[ "$(pg -d vigil -Atc "SELECT count(*) FROM counter c FULL JOIN
      (SELECT force, team, officer, kind, risk, count(*) AS n FROM obligation WHERE open
        GROUP BY 1, 2, 3, 4, 5) o USING (force, team, officer, kind, risk)
     WHERE coalesce(c.open, -1) <> coalesce(o.n, 0)")" = 0 ] ||
  { echo "postgres.sh: the open counters do not match the obligations" >&2; exit 1; }
pg -d postgres -c 'DROP DATABASE vigil'
pg -d alerts -f "$SQL/schema.sql"
pg_alerts 1
PG_ALERT1_S=$PG_ALERT_S PG_ALERT1_RATE=$PG_ALERT_RATE
pg_alerts 2
PG_ALERT2_S=$PG_ALERT_S PG_ALERT2_RATE=$PG_ALERT_RATE
stop_postgres
PROBE_PG_AFTER=$(probe)

# --- vigil ----------------------------------------------------------------------------------------
declare -A VIGIL_RATE_OF VIGIL_CPU_OF
VIGIL_ALERT_S=
VIGIL_ALERT_BATCHES_S=
HAVE_VIGIL=
PROBE_VIGIL_BEFORE=-
PROBE_VIGIL_AFTER=-
if [ -x "$BUILD/services/vigild/vigild" ] && [ -x "$BUILD/clients/load/vigil_load" ] &&
   [ -x "$BUILD/bench/alerts_bench" ]; then
  HAVE_VIGIL=1
  PROBE_VIGIL_BEFORE=$(probe)
  # shellcheck source-path=SCRIPTDIR source=scale_lib.sh
  . "$HERE/scale_lib.sh"
  start_vigild
  load_force "$PG_OBLIGATIONS"
  VIGIL_OPEN=$(metric obligations_open_ 2>/dev/null || echo "?")
  for mix in record-visit:record_visit:VisitService/RecordVisit \
             record-arms:record_arms:AssessmentService/RecordArmsAssessment \
             create-referral:create_referral:ReferralService/CreateReferral; do
    IFS=: read -r op script rpc <<<"$mix"
    # (No --offenders: the driver lists the loaded offenders instead of importing them again;
    # vigild's CPU is counted from its first timed call.)
    started() { c0=$(cpu_ticks); }
    ON_DRIVING=started drive_load --server "$ADDR" --clients "$PG_CLIENTS" \
      --seconds "$PG_SECONDS" --mix "$op=1" || true
    out=$(cat "$WORK/load.out")
    c1=$(cpu_ticks)
    VIGIL_RATE_OF[$script]=$(echo "$out" | awk -v rpc="$rpc" '$1 == rpc {printf "%s", $4}')
    calls=$(echo "$out" | awk -v rpc="$rpc" '$1 == rpc {print $2}')
    VIGIL_CPU_OF[$script]=$(awk -v t="$((c1 - c0))" -v n="${calls:-0}" -v hz="$TICK" \
      'BEGIN {if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "-"}')
  done
  stop_vigild
  # "  due -> last RAISED event at the subscriber:   3470 ms (28818 alerts/s)"
  last_event() {
    local out
    out=$("$BUILD/bench/alerts_bench" --deadlines="$DEADLINES" "$@" 2>&1) ||
      { echo "$out" >&2; exit 1; }
    echo "$out" | awk '/due -> last .*event at the subscriber/ {
      sub(/^[^:]*: */, ""); printf "%.2f", ($2 == "ms" ? $1 / 1000 : $2 == "us" ? $1 / 1e6 : $1); exit }'
  }
  VIGIL_ALERT_S=$(last_event) || exit 1                  # a subscriber on Subscribe (one a message)
  VIGIL_ALERT_BATCHES_S=$(last_event --batches) || exit 1  # on SubscribeBatches
  PROBE_VIGIL_AFTER=$(probe)
fi

# --- tables -------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "" && a != "-" && b > 0) printf "%.2f", a / b; else print "-"}'; }
echo
echo "PostgreSQL $PG_VERSION: $PG_OPEN open obligations, $OFFENDERS offenders; $PG_CLIENTS clients," \
  "$PG_SECONDS s each after $PG_WARMUP s of warm-up; fsync, synchronous_commit, full_page_writes on;" \
  "shared_buffers $PG_SHARED_BUFFERS; audit chain queue: $PG_AUDIT_LOCK."
if [ -n "$HAVE_VIGIL" ]; then
  echo "vigil: $BUILD, $VIGIL_OPEN open obligations (load_force $PG_OBLIGATIONS), the same clients and seconds."
else
  echo "vigil: no binaries in $BUILD (services/vigild/vigild, clients/load/vigil_load," \
    "bench/alerts_bench): PostgreSQL's figures only."
fi
echo
echo "| RPC ($PG_CLIENTS clients) | vigil writes/s | vigil CPU µs/write | PG tps | PG CPU µs/txn | vigil/PG |"
echo "|---|---:|---:|---:|---:|---:|"
for row in record_visit:RecordVisit record_arms:RecordArmsAssessment create_referral:CreateReferral; do
  IFS=: read -r script rpc <<<"$row"
  v=${VIGIL_RATE_OF[$script]:--}
  printf "| %s | %s | %s | %s | %s | %s |\n" "$rpc" "$v" "${VIGIL_CPU_OF[$script]:--}" \
    "${PG_TPS_OF[$script]}" "${PG_CPU_OF[$script]}" "$(ratio "$v" "${PG_TPS_OF[$script]}")"
done
echo
echo "(PostgreSQL's warm-up, every backend new: RecordVisit ${PG_COLD_OF[record_visit]} tps," \
  "RecordArmsAssessment ${PG_COLD_OF[record_arms]}, CreateReferral ${PG_COLD_OF[create_referral]}.)"
echo
echo "| simultaneous deadlines | vigil due → last event s (Subscribe / SubscribeBatches) | PG 1 worker s (alerts/s) | PG 2 workers s (alerts/s) | vigil/PG 2 workers |"
echo "|---:|---:|---:|---:|---:|"
printf "| %s | %s / %s | %s (%s) | %s (%s) | %s / %s |\n" "$DEADLINES" "${VIGIL_ALERT_S:--}" \
  "${VIGIL_ALERT_BATCHES_S:--}" "$PG_ALERT1_S" "$PG_ALERT1_RATE" "$PG_ALERT2_S" "$PG_ALERT2_RATE" \
  "$(ratio "${VIGIL_ALERT_S:--}" "$PG_ALERT2_S")" "$(ratio "${VIGIL_ALERT_BATCHES_S:--}" "$PG_ALERT2_S")"
echo
echo "Memory latency (ns per dependent load, bench/memory_probe): PostgreSQL's side" \
  "$PROBE_PG_BEFORE -> $PROBE_PG_AFTER, vigil's $PROBE_VIGIL_BEFORE -> $PROBE_VIGIL_AFTER."
# Twice apart or more: the machine changed speed during the run (docs/performance.md; within
# one stretch the probe wanders by up to ~1.7 times).
awk -v a="$PROBE_PG_BEFORE" -v b="$PROBE_PG_AFTER" -v c="$PROBE_VIGIL_BEFORE" \
  -v d="$PROBE_VIGIL_AFTER" 'BEGIN {
    lo = 1e18; hi = 0
    split(a " " b " " c " " d, v, " ")
    for (i = 1; i <= 4; i++) if (v[i] != "-") { if (v[i] + 0 < lo) lo = v[i] + 0; if (v[i] + 0 > hi) hi = v[i] + 0 }
    if (hi > 0 && hi >= lo * 2)
      printf "WARNING: memory latency moved from %d to %d ns during the run: the two sides ran on a machine of different speeds, and their ratios compare nothing; run again.\n", lo, hi
  }'
