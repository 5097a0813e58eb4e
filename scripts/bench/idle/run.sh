#!/usr/bin/env bash
# Benchmark: idle CPU of a running stack, with the service files' healthcheck interval and
# with a developer's healthcheck_interval (default 3s) in clocal.local.yaml.
#
#   scripts/bench/idle/run.sh [TARGET] [INTERVAL]     (default: all 3s)
#
# Runs on a copy of the example workspace (the tracked clocal.local.yaml is never touched);
# CPU busy is read from /proc/stat over 30 s, so run it on an otherwise idle machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
target=${1:-all}
interval=${2:-3s}
out="$root/scripts/bench/out"
mkdir -p "$out"
(cd "$root" && go build -o "$out/clocal" ./cmd/clocal)
C="$out/clocal"
W=$(mktemp -d)
(cd "$root" && cp -r clocal.yaml services profiles apps go.mod go.sum "$W/")
trap '"$C" -w "$W" -p bench-idle down -v -t 1 >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
busy() {
  local a b
  a=$(head -1 /proc/stat); sleep "${SECONDS_SAMPLE:-30}"; b=$(head -1 /proc/stat)
  python3 -c "
a=list(map(int,'$a'.split()[1:]));b=list(map(int,'$b'.split()[1:]))
d=[y-x for x,y in zip(a,b)];tot=sum(d);idle=d[3]+d[4]
print('%.1f%%'%(100*(tot-idle)/tot))"
}
echo "containers running before: $(docker ps -q | wc -l)"
echo "nothing of ours running: $(busy) busy"
"$C" -w "$W" -p bench-idle up "$target" --ephemeral-ports >/dev/null 2>&1; sleep 5
echo "$target, service files' interval: $(busy) busy ($(docker ps -q --filter label=com.docker.compose.project=bench-idle | wc -l) containers)"
echo "healthcheck_interval: $interval" > "$W/clocal.local.yaml"
"$C" -w "$W" -p bench-idle up "$target" --ephemeral-ports >/dev/null 2>&1; sleep 5
echo "$target, healthcheck_interval $interval: $(busy) busy"
