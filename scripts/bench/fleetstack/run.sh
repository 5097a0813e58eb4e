#!/usr/bin/env bash
# Fleet benchmark: a generated workspace of N services (default 60) sharing one source folder,
# each built by its build.sh with the Go toolchain, the example's 1 s healthchecks. Measures
# cold `clocal up all`, idle CPU (with and without `clocal watch`), no-op `up all` against the
# Docker Compose CLI v2.40.3 `up -d --wait` on the same project, and a shared-source edit
# under watch (time until all N serve it, rollbacks, peak RSS of the watch).
#
#   scripts/bench/fleetstack/run.sh                 # 60 services
#   scripts/bench/fleetstack/run.sh -n 20 -skip idle
#
# The machine is shared: run it when `uptime` shows a low load, and read the load averages
# it prints with the figures. Takes 10-20 minutes for 60 services.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
go build -o "$out/fleetstack-bench" ./scripts/bench/fleetstack
echo "load: $(cat /proc/loadavg)  cores: $(nproc)  docker: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')" >&2
"$out/fleetstack-bench" -clocal "$clocal" -compose "$compose" "$@"
