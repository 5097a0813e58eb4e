#!/usr/bin/env bash
# Benchmark: clocal against a Docker host reached over ssh, with the Docker Compose CLI
# v2.40.3 on the same project and host as the baseline, in the same session (hyperfine).
# The host is a second dockerd on this machine in its own namespaces, reached only through
# `sshd -i` (scripts/bench/remotehost, as the tests get it).
#
#   scripts/bench/remote/run.sh            # RUNS=10 per command
#
# 1. `ps` on a running stack (repo-manager's 3 services) over ssh: clocal (one ssh
#    connection per process, sessions multiplexed) and compose (the docker CLI's ssh
#    helper: one ssh connection per API connection).
# 2. `up` with nothing to do on that host: clocal's second `up` (nothing built, nothing
#    copied).
# 3. The host vanishes (every process of it killed): time until `ps` says so, both tools;
#    compose is stopped by `timeout` after CAP seconds (default 30).
# 4. A host that never answers (the ssh connection opens, nothing comes back): the same.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
runs=${RUNS:-10}
cap=${CAP:-30}
tmp=$(mktemp -d)
go build -o "$tmp/remotehost" ./scripts/bench/remotehost
coproc RH { exec "$tmp/remotehost"; }
rh_pid=$RH_PID  # bash unsets RH_PID once it exits
read -r rh_env <&"${RH[0]}"
eval "$rh_env"
ws="$tmp/ws"
mkdir -p "$ws"
cp -r clocal.yaml go.mod go.sum services profiles apps "$ws"/
project=bench-remote
cleanup() {
  st=$?
  DOCKER_HOST=$DOCKER_HOST "$clocal" -w "$ws" -p "$project" down -v >/dev/null 2>&1 || true
  kill "$rh_pid" 2>/dev/null || true
  wait "$rh_pid" 2>/dev/null || true
  rm -rf "$tmp"
  exit $st
}
trap cleanup EXIT
echo "remote Docker host: $DOCKER_HOST; load: $(cat /proc/loadavg)" >&2
"$clocal" -w "$ws" -p "$project" up repo-manager >&2
"$clocal" -w "$ws" -p "$project" config repo-manager > "$tmp/compose.yaml"

echo "== ps on a running stack over ssh"
hyperfine -N --warmup 1 --runs "$runs" --export-markdown "$out/remote-ps.md" \
  -n "clocal ps" "$clocal -w $ws -p $project ps" \
  -n "compose ps" "$compose -f $tmp/compose.yaml -p $project ps"
echo "== up with nothing to do"
hyperfine -N --runs "$runs" --export-markdown "$out/remote-up.md" \
  -n "clocal up (nothing to do)" "$clocal -w $ws -p $project up repo-manager"

echo "== the host vanishes"
kill -USR1 "$rh_pid"
sleep 1
hyperfine -N -i --runs "$runs" --export-markdown "$out/remote-vanished-clocal.md" \
  -n "clocal ps (host gone)" "$clocal -w $ws -p $project ps"
hyperfine -N -i --runs "${COMPOSE_RUNS:-3}" --export-markdown "$out/remote-vanished-compose.md" \
  -n "compose ps (host gone, timeout ${cap}s)" "timeout $cap $compose -f $tmp/compose.yaml -p $project ps"
"$clocal" -w "$ws" -p "$project" ps || echo "clocal ps exit status: $?"

echo "== a host that never answers (ssh connects, nothing comes back: a hung machine, a dead VPN)"
silent="$tmp/silent"
mkdir -p "$silent/bin"
printf 'Host clocal-silent\n  ProxyCommand sleep 3600\n  BatchMode yes\n' > "$silent/config"
printf '#!/bin/sh\nexec %s -F %s "$@"\n' "$(command -v ssh)" "$silent/config" > "$silent/bin/ssh"
chmod +x "$silent/bin/ssh"
PATH="$silent/bin:$PATH" DOCKER_HOST=ssh://clocal-silent hyperfine -N -i --runs "${SILENT_RUNS:-3}" --export-markdown "$out/remote-silent-clocal.md" \
  -n "clocal ps (host silent)" "$clocal -w $ws -p $project ps"
PATH="$silent/bin:$PATH" DOCKER_HOST=ssh://clocal-silent hyperfine -N -i --runs "${SILENT_RUNS:-3}" --export-markdown "$out/remote-silent-compose.md" \
  -n "compose ps (host silent, timeout ${cap}s)" "timeout -k 5 $cap $compose -f $tmp/compose.yaml -p $project ps"
PATH="$silent/bin:$PATH" DOCKER_HOST=ssh://clocal-silent "$clocal" -w "$ws" -p "$project" ps || echo "clocal ps exit status: $?"
