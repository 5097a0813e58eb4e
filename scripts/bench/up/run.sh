#!/usr/bin/env bash
# Benchmark: `clocal up TARGET` with everything current (nothing to build, nothing to
# recreate) against the Docker Compose CLI v2.40.3 `up -d --wait` on the same generated
# project, in the same session. Needs hyperfine (apt-get install hyperfine).
#
#   scripts/bench/up/run.sh [TARGET...]      (default: repo-manager all)
#
# Each target gets two separate projects (one per tool) so neither sees the other's
# containers; both are warmed up first (images built, containers running and healthy).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(repo-manager all)
runs=${RUNS:-15}

for t in "${targets[@]}"; do
  pc="bench-up-clocal-$t"; pd="bench-up-compose-$t"
  cleanup() { "$clocal" -p "$pc" down -v -t 1 >/dev/null 2>&1 || true; "$compose" -f "$out/$t.compose.yaml" -p "$pd" down -v -t 1 >/dev/null 2>&1 || true; }
  trap cleanup EXIT
  "$clocal" -p "$pc" up "$t" --ephemeral-ports >/dev/null 2>&1
  "$clocal" -p "$pd" config "$t" --ephemeral-ports > "$out/$t.compose.yaml"
  [ -z "$(grep -l 'clocal/pause' "$out/$t.compose.yaml")" ] || true
  COMPOSE_BAKE=false "$compose" -f "$out/$t.compose.yaml" -p "$pd" up -d --wait >/dev/null 2>&1
  echo "== $t: $("$clocal" config --services "$t" | wc -l) services, nothing to do"
  COMPOSE_BAKE=false hyperfine -N --warmup 2 --runs "$runs" --export-markdown "$out/up-$t.md" \
    -n "clocal up $t" "$clocal -p $pc up $t --ephemeral-ports" \
    -n "compose up -d --wait" "$compose -f $out/$t.compose.yaml -p $pd up -d --wait"
  cleanup
  trap - EXIT
done
