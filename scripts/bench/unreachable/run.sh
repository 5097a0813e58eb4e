#!/usr/bin/env bash
# Benchmark: how long a command takes to tell the user the Docker daemon cannot be
# reached, for clocal and, as the baseline in the same session, the Docker Compose CLI
# v2.40.3 on the same project. Two dead daemons: a socket that does not exist, and a TCP
# port that accepts connections and never answers (a hung daemon, a dead tunnel). Needs
# hyperfine and python3 (the silent listener).
#
#   scripts/bench/unreachable/run.sh
#
# The compose CLI has no bound of its own on a silent daemon: it is stopped by `timeout`
# after CAP seconds (default 30), so its figure there is a lower bound.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
runs=${RUNS:-10}
cap=${CAP:-30}
"$clocal" config repo-manager > "$out/unreachable.compose.yaml"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$port" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(128)
held = []
while True:
    c, _ = s.accept()
    held.append(c)  # accept, never answer
PY
listener=$!
trap 'kill $listener 2>/dev/null || true' EXIT
sleep 0.5

for host in unix:///nonexistent.sock "tcp://127.0.0.1:$port"; do
  echo "== DOCKER_HOST=$host"
  n=$runs
  case $host in tcp:*) n=${COMPOSE_RUNS:-3} ;; esac
  DOCKER_HOST=$host hyperfine -N -i --runs "$runs" --export-markdown "$out/unreachable-clocal-${host%%:*}.md" \
    -n "clocal ps" "$clocal ps"
  DOCKER_HOST=$host hyperfine -N -i --runs "$n" --export-markdown "$out/unreachable-compose-${host%%:*}.md" \
    -n "compose ps (timeout ${cap}s)" "timeout $cap $compose -f $out/unreachable.compose.yaml -p bench-unreachable ps"
done
