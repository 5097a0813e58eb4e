#!/usr/bin/env bash
# The model at fleet scale (issue 10): generated production-shaped fleets of 100, 300 and
# 1,000 apps (hosts = apps*3/10; shared ports, sidecars on localhost, replicas on another
# port, job files per host and per cluster under jobs_root, a production .proto), and the
# time of clocal's model commands on each, with hyperfine. Baseline in the same run: the
# compose CLI v2.40.3 loading the same full project (`docker compose config -q`). Then the
# trimmed project of every service through compose-go (scripts/bench/fleetload).
#
#   RUNS=10 scripts/bench/fleet/run.sh [SIZES...]     (default sizes: 100 300 1000)
#   AGENTS=0.3 FQDN=1 scripts/bench/fleet/run.sh      (a per-host agent on every host reached
#                                                      over localhost by 30% of the apps; hosts
#                                                      written short and full)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
runs=${RUNS:-10}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 300 1000)
go build -o "$out/genfleet" ./scripts/bench/genfleet
go build -o "$out/fleetload" ./scripts/bench/fleetload
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in "${sizes[@]}"; do
  dir="$out/fleet-$n"
  rm -rf "$dir"
  extra=()
  [ -z "${AGENTS:-}" ] || extra+=(-agents "$AGENTS")
  [ -z "${FQDN:-}" ] || extra+=(-fqdn)
  "$out/genfleet" -apps "$n" -hosts $((n * 3 / 10)) -seed 1 "${extra[@]}" -out "$dir"
  "$clocal" -w "$dir" config --full > "$dir/full.yaml"
  target=$("$out/fleetload" -w "$dir" -biggest)
  hyperfine -N --warmup 1 --runs "$runs" --style basic --export-json "$out/fleet-$n.json" \
    -n "validate" "$clocal -w $dir validate" \
    -n "profiles" "$clocal -w $dir profiles" \
    -n "config --full" "$clocal -w $dir config --full" \
    -n "config $target" "$clocal -w $dir config $target" \
    -n "graph" "$clocal -w $dir graph" \
    -n "compose config (baseline)" "$compose -f $dir/full.yaml --project-directory $dir config -q"
  "$out/fleetload" -w "$dir"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
