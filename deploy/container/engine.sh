# Sourced by build.sh and tests/deploy/image_test.sh: finds how podman can run containers on
# this host. Hosts differ: crun 1.8 (bookworm's default runtime) refuses a host whose cgroups are
# mounted in hybrid v1/v2 mode, and a sandbox without CAP_SYS_RESOURCE cannot raise the open-files
# and process limits podman sets by default. Each variant is tried in turn on a real container.
#
#   vigil_podman_probe IMAGE   sets PODMAN_GLOBAL (flags before the verb) and PODMAN_LIMITS (flags
#                              for run and build); returns 1 with the reason in PODMAN_WHY when
#                              no variant runs a container.

vigil_podman_probe() {
  local image=$1 runtime limits out
  PODMAN_GLOBAL=() PODMAN_LIMITS=() PODMAN_WHY=""
  if ! command -v podman >/dev/null 2>&1; then
    PODMAN_WHY="podman is not installed (apt-get install podman)"
    return 1
  fi
  local nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
  for runtime in "" runc; do
    if [ -n "$runtime" ] && ! command -v "$runtime" >/dev/null 2>&1; then continue; fi
    for limits in default host; do
      local global=() lim=()
      [ -n "$runtime" ] && global=(--runtime "$runtime")
      [ "$limits" = host ] && lim=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
      if out=$(podman "${global[@]}" run --rm --network host "${lim[@]}" "$image" true 2>&1); then
        PODMAN_GLOBAL=("${global[@]}")
        PODMAN_LIMITS=("${lim[@]}")
        return 0
      fi
      PODMAN_WHY+="podman ${global[*]} run ${lim[*]}: $(printf '%s' "$out" | tail -n 1)"$'\n'
    done
  done
  return 1
}
