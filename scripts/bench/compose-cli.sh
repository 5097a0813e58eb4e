#!/usr/bin/env bash
# Builds the Docker Compose CLI v2.40.3 (the baseline for clocal's benchmarks) from the Go
# module proxy into scripts/bench/out/docker-compose. `go install ...@v2.40.3` refuses the
# module (its go.mod has exclude directives), so it is built from a throwaway module that
# requires it. Prints the binary's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/out/docker-compose"
if [ -x "$out" ] && "$out" version 2>/dev/null | grep -q v2.40.3; then echo "$out"; exit 0; fi
mkdir -p "$here/out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cat > go.mod <<'MOD'
module composecli

go 1.25.0

require github.com/docker/compose/v2 v2.40.3
MOD
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/docker/compose/v2/cmd"
GO
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=v2.40.3" -o "$out" github.com/docker/compose/v2/cmd
echo "$out"
