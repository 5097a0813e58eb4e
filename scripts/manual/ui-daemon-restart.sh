#!/usr/bin/env bash
# Manual check (not run by CI: it restarts this machine's Docker daemon, which every other
# container and test on it shares): the status page of `clocal ui` survives a real restart
# of dockerd, says the daemon is gone meanwhile, and follows the stack again afterwards.
#
#   sudo scripts/manual/ui-daemon-restart.sh
#
# Starts repo-manager on a workspace copy, runs `clocal ui` with the page's live feed open
# (curl stands in for the browser), restarts dockerd (systemctl, or TERM and start it again
# as it was started), runs `clocal up repo-manager` again (the restart stopped the
# containers) and prints the states the page received. Exits 1 unless the page reported the
# outage, then cleared it, and ended with every service running and healthy.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/scripts/bench/out"
mkdir -p "$out"
(cd "$root" && go build -o "$out/clocal" ./cmd/clocal) || exit 1
C="$out/clocal"
W=$(mktemp -d)
P=ui-restart-$$
feed=$(mktemp)
(cd "$root" && cp -r clocal.yaml services profiles apps go.mod go.sum "$W/")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$C" -w "$W" -p "$P" down -v -t 1 >/dev/null 2>&1 || true
  rm -rf "$W" "$feed"
}
trap cleanup EXIT

restart_dockerd() {
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker 2>/dev/null; then
    systemctl restart docker
  else
    local pid cmd
    pid=$(pidof dockerd) || { echo "no dockerd running" >&2; return 1; }
    mapfile -d '' cmd < "/proc/$pid/cmdline"
    kill -TERM "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    setsid nohup "${cmd[@]}" >>/var/log/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "dockerd did not come back" >&2
  return 1
}

"$C" -w "$W" -p "$P" up repo-manager --ephemeral-ports >/dev/null 2>&1 || { echo "up failed" >&2; exit 1; }
"$C" -w "$W" -p "$P" ui >"$out/ui.url" 2>/dev/null & u=$!; pids+=($u)
for _ in $(seq 1 100); do [ -s "$out/ui.url" ] && break; sleep 0.1; done
url=$(head -1 "$out/ui.url"); base=${url%%/?token=*}; tok=${url##*token=}
curl -sN -H "X-Clocal-Token: $tok" "$base/api/stream" >"$feed" & pids+=($!)
sleep 3
echo "restarting dockerd at $(date +%T)"
restart_dockerd || exit 1
echo "dockerd answers at $(date +%T)"
sleep 3
"$C" -w "$W" -p "$P" up repo-manager --ephemeral-ports >/dev/null 2>&1 || { echo "up after the restart failed" >&2; exit 1; }
sleep 3
kill -0 "$u" 2>/dev/null || { echo "clocal ui exited" >&2; exit 1; }
grep '^data: {"project"' "$feed" | python3 -c '
import sys, json
states = [json.loads(l[6:]) for l in sys.stdin]
for d in states:
    print("daemon: %-10s %s" % ("unreachable" if d.get("daemon") else "ok",
          ", ".join("%s=%s/%s" % (s["name"], s["state"], s.get("health") or "-") for s in d["services"])))
down = [i for i, d in enumerate(states) if d.get("daemon")]
last = states[-1] if states else {}
ok = bool(down) and not last.get("daemon") and last.get("services") and \
     all(s["state"] == "running" and s.get("health") == "healthy" for s in last["services"])
print("PASS: outage shown, then the stack followed again" if ok else "FAIL")
sys.exit(0 if ok else 1)'
