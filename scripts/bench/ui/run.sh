#!/usr/bin/env bash
# Benchmark: what the status page costs when idle, with the example's 8 services running.
#
#   scripts/bench/ui/run.sh [TARGET] [SECONDS]      (default: all 60)
#
# Starts TARGET on a workspace copy, then measures, one after the other, over SECONDS each:
#   1. `clocal watch` (the baseline: the long-running clocal a developer has anyway);
#   2. `clocal ui` with a page's two streams open (the live feed and the logs of every
#      service, as the page opens them; curl stands in for the browser);
#   3. `clocal watch` started as `up TARGET --watch --ui`, with the same two streams.
# For each: CPU time of the process (utime+stime from /proc/PID/stat) over the window as a
# share of one core, and its resident memory: VmRSS (VmHWM is the peak), split into
# RssAnon (heap, stacks: what the process itself allocated) and RssFile (the pages of the
# ~95 MB clocal binary it touched).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
target=${1:-all}
secs=${2:-60}
out="$root/scripts/bench/out"
mkdir -p "$out"
(cd "$root" && go build -o "$out/clocal" ./cmd/clocal)
C="$out/clocal"
W=$(mktemp -d)
P=bench-ui-$$
(cd "$root" && cp -r clocal.yaml services profiles apps go.mod go.sum "$W/")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$C" -w "$W" -p "$P" down -v -t 1 >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
tck=$(getconf CLK_TCK)

cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
mem() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }
measure() { # name pid
  sleep 10 # settle: the first snapshot, log tails
  local a b
  a=$(cpu "$2"); sleep "$secs"; b=$(cpu "$2")
  python3 -c "print('%-34s CPU %5.2f%% of a core   RSS %5.1f MB (anon %5.1f, file %5.1f)   peak %5.1f MB' % ('$1', 100*($b-$a)/$tck/$secs, $(mem "$2" VmRSS)/1024, $(mem "$2" RssAnon)/1024, $(mem "$2" RssFile)/1024, $(mem "$2" VmHWM)/1024))"
}
streams() { # url: open the page's streams
  local base=${1%%/?token=*} tok=${1##*token=}
  curl -sN -H "X-Clocal-Token: $tok" "$base/api/stream" >/dev/null & pids+=($!)
  curl -sN -H "X-Clocal-Token: $tok" "$base/api/logs?tail=200" >/dev/null & pids+=($!)
}
url_of() { for _ in $(seq 1 100); do [ -s "$1" ] && head -1 "$1" && return; sleep 0.1; done; echo "no URL in $1" >&2; exit 1; }

"$C" -w "$W" -p "$P" up "$target" --ephemeral-ports >/dev/null 2>&1
echo "$target: $(docker ps -q --filter label=com.docker.compose.project=$P | wc -l) containers; $(nproc) cores; ${secs}s windows"

"$C" -w "$W" -p "$P" watch >/dev/null 2>&1 & w=$!; pids+=($w)
measure "clocal watch (baseline)" "$w"
kill "$w"; wait "$w" 2>/dev/null || true

"$C" -w "$W" -p "$P" ui >"$out/ui.url" 2>/dev/null & u=$!; pids+=($u)
streams "$(url_of "$out/ui.url")"
measure "clocal ui, page open" "$u"
kill "$u"; wait "$u" 2>/dev/null || true

"$C" -w "$W" -p "$P" up "$target" --ephemeral-ports --watch --ui >"$out/ui.url" 2>/dev/null & u=$!; pids+=($u)
streams "$(url_of "$out/ui.url")"
measure "clocal up --watch --ui, page open" "$u"
