#!/usr/bin/env bash
# The one test command (README and .ci/run call exactly this).
# Runs formatting and vet checks, then every test: unit tests with the race detector and the
# integration tests against the real Docker daemon (they FAIL, not skip, when CI=true and
# the daemon is unreachable).
#
#   scripts/test.sh --unit [go test flags]   the fast lane: every pure test, no Docker
#
# The fast lane sets CLOCAL_TEST_LANE=unit: tests that need a real part (the Docker daemon,
# a registry, a second host, the compose CLI, a browser) skip, even under CI=true, and
# DOCKER_HOST points at a socket that does not exist, so a test that reaches for the daemon
# without saying so fails. No race detector, no vet: a minute, not half an hour.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

if [ "${1:-}" = "--unit" ]; then
  shift
  start=$SECONDS
  unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*') | grep -v '\.pb\.go$' || true)
  if [ -n "$unformatted" ]; then
    echo "gofmt would change:"; echo "$unformatted"; exit 1
  fi
  echo "== go test, unit lane (no Docker)"
  CLOCAL_TEST_LANE=unit DOCKER_HOST=unix:///nonexistent/clocal-unit-lane.sock \
    go test -count=1 -timeout 5m "$@" ./...
  echo "unit lane: $((SECONDS - start))s"
  exit 0
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*') | grep -v '\.pb\.go$' || true)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...
# The separate test module must follow the main module's requirements (run go mod tidy in
# examples/stacktest after adding a dependency): checked here, so a stale go.mod fails in
# seconds instead of after the whole suite.
if [ -d examples/stacktest ]; then
  (cd examples/stacktest && go vet ./...)
fi

# Images the integration tests build on (busybox shell image; no registry here).
bash scripts/base-image.sh >/dev/null

# The Docker Compose CLI v2.40.3, built from the Go module proxy: the convert tests check
# that `docker compose config` accepts every generated project (clocal itself never runs it).
if [ -z "${CLOCAL_COMPOSE_CLI:-}" ]; then
  echo "== Docker Compose CLI v2.40.3 (for the compose config checks)"
  CLOCAL_COMPOSE_CLI=$(bash scripts/bench/compose-cli.sh)
  export CLOCAL_COMPOSE_CLI
fi

echo "== go test (race detector on)"
go test -race -count=1 -timeout 25m "$@" ./...

echo "== separate test module using the clocal Go package"
if [ -d examples/stacktest ]; then
  (cd examples/stacktest && go test -count=1 -timeout 10m ./...)
fi
