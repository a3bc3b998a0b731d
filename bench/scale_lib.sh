# Sourced by bench/scale.sh and bench/web_scale.sh: a vigild of its own on $WORK/data, loaded
# with the synthetic force of a given size through the import RPCs. The caller sets BUILD (the
# build directory) and WORK (a directory it owns), and calls kill_vigild on exit.

VIGILD=${VIGILD:-$BUILD/services/vigild/vigild}
LOAD=${LOAD:-$BUILD/clients/load/vigil_load}
VIGIL=$BUILD/clients/cli/vigil
PORT_FILE=$WORK/port
PID=

# Starts vigild (its default --auth=dev: the load driver, CLI and vigil-web name the caller) on
# $WORK/data, with the flags in the array EXTRA_VIGILD_FLAGS if set; sets PID, ADDR and STARTUP
# (seconds until it served).
start_vigild() {
  rm -f "$PORT_FILE"
  local t0 t1
  t0=$(date +%s.%N)
  "$VIGILD" --data-dir "$WORK/data" --listen 127.0.0.1:0 --port-file "$PORT_FILE" \
    --log-level warning --read-rate 0 ${EXTRA_VIGILD_FLAGS[@]+"${EXTRA_VIGILD_FLAGS[@]}"} \
    >>"$WORK/vigild.log" 2>&1 &
  PID=$!
  until [ -s "$PORT_FILE" ]; do
    kill -0 "$PID" 2>/dev/null || { tail -20 "$WORK/vigild.log" >&2; exit 1; }
    sleep 0.01
  done
  t1=$(date +%s.%N)
  ADDR=127.0.0.1:$(cat "$PORT_FILE")
  STARTUP=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
}

# SIGTERM, and waits until it has drained and closed the store.
stop_vigild() {
  kill -TERM "$PID"
  while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
  PID=
}

kill_vigild() { [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null || true; }

rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status"; }

# vigild's CPU time so far, in clock ticks (utime + stime; getconf CLK_TCK per second).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

# Runs the load driver ("$LOAD" "$@"), its report in $WORK/load.out, and calls the function
# named in ON_DRIVING (if set) once the driver starts its timed calls: before them it lists the offenders
# it acts on, which at 1M costs vigild seconds of CPU that are not the workload's. Returns the
# driver's status.
drive_load() {
  "$LOAD" "$@" >"$WORK/load.out" 2>"$WORK/load.err" &
  local driver=$!
  until grep -q 'driving' "$WORK/load.err" 2>/dev/null || ! kill -0 "$driver" 2>/dev/null; do
    sleep 0.01
  done
  [ -z "${ON_DRIVING:-}" ] || "$ON_DRIVING"
  wait "$driver"
}

# The sum of a metric family's values, read as a force-wide supervisor.
metric() {
  "$VIGIL" --server "$ADDR" --actor bench --role supervisor --force wessex -o json metrics "$1" |
    python3 -c 'import json,sys; print(sum(int(m.get("value", 0)) for m in json.load(sys.stdin).get("metrics", [])))'
}

# Loads about SIZE open obligations into the running vigild: SIZE * 8 / 21 offenders of force
# wessex (about 2.6 open clocks each, a third overdue: an offender whose notification period has
# ended has none). Sets OFFENDERS, IMPORT_RATE (offenders/s) and LOAD_SECONDS.
load_force() {
  local size=$1 report t0 t1
  OFFENDERS=$(( size * 8 / 21 ))
  t0=$(date +%s.%N)
  # (An older vigild refuses a few generated rows; the rest load, and the refusals are counted.)
  report=$("$LOAD" --server "$ADDR" --offenders "$OFFENDERS" --load_only 2>/dev/null) || true
  t1=$(date +%s.%N)
  IMPORT_RATE=$(echo "$report" | grep 'load: offenders' | grep -o '([0-9]*/s)' | tr -dc 0-9)
  LOAD_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}')
}
