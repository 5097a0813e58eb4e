#!/usr/bin/env bash
# Dev loop benchmark: edit-to-running latency of `clocal watch` for repo-manager, split into
# clocal's own overhead and the build/start steps, against the Docker Compose CLI v2.40.3
# `watch` (rebuild action) on the same service, in the same session; then the watcher's
# startup on a 100,000-file tree. See README.md.
#
#   scripts/bench/devloop/run.sh            # N=10 edits per phase
#   N=5 COMPOSE= scripts/bench/devloop/run.sh   # clocal only
#   REMOTE=1 scripts/bench/devloop/run.sh   # the stack on a second Docker host over ssh
#
# COMPOSE: the compose CLI plugin binary (run as `$COMPOSE compose ...`). Default: the first
# of $(go env GOPATH)/bin/cmd, scripts/bench/out/docker-compose, ~/.docker/cli-plugins/docker-compose.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/clocal" ./cmd/clocal
go build -o "$tmp/devloop-bench" ./scripts/bench/devloop
if [ -z "${COMPOSE+x}" ]; then
  COMPOSE=
  for c in "$(go env GOPATH)/bin/cmd" "$root/scripts/bench/out/docker-compose" "$HOME/.docker/cli-plugins/docker-compose"; do
    if [ -x "$c" ]; then COMPOSE=$c; break; fi
  done
  [ -n "$COMPOSE" ] || echo "no compose CLI found: baseline skipped (scripts/bench/compose-cli.sh builds one)" >&2
fi
if [ -n "$COMPOSE" ]; then case $(basename "$COMPOSE") in docker-compose) "$COMPOSE" version >&2;; *) "$COMPOSE" compose version >&2;; esac; fi
if [ -n "${REMOTE:-}" ]; then
  # The stack on a second Docker host reached over ssh (as the tests get it), the sources
  # and build.sh here: edit -> served through the port forward. No compose baseline there.
  go build -o "$tmp/remotehost" ./scripts/bench/remotehost
  coproc RH { exec "$tmp/remotehost"; }
  rh_pid=$RH_PID  # bash unsets RH_PID once it exits
  read -r rh_env <&"${RH[0]}"
  eval "$rh_env"   # PATH (the ssh wrapper) and DOCKER_HOST
  remote=$DOCKER_HOST
  unset DOCKER_HOST  # the local side runs on this machine's daemon
  trap 'st=$?; kill "$rh_pid" 2>/dev/null; wait "$rh_pid" 2>/dev/null; rm -rf "$tmp"; exit $st' EXIT
  echo "remote Docker host: $remote (edits interleaved with the same loop on this machine)" >&2
  set -- -remote "$remote" "$@"
fi
echo "load: $(cat /proc/loadavg)  cores: $(nproc)" >&2
"$tmp/devloop-bench" -clocal "$tmp/clocal" -compose "$COMPOSE" -repo "$root" -n "${N:-10}" ${JSON:+-json "$JSON"} "$@"
echo >&2
echo "== watcher startup on a 100,000-file tree" >&2
go test -run '^$' -bench WatchStartup100k -benchtime 3x ./internal/watch/
