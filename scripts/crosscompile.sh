#!/usr/bin/env bash
# Builds clocal for every platform its users run it on (CGO off, as a release would be):
# linux and darwin on amd64 and arm64, windows on amd64; and type-checks the tests for
# macOS and Windows (go vet), where laptops are. Platform-specific code sits behind build
# tags (lock_*.go, owner_*.go, limits_*.go, script_*.go, disk_*.go); features that need
# Linux say so when used (build.sh needs a Unix pseudo-terminal: WSL 2 on Windows).
# .ci/run runs this next to the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
export CGO_ENABLED=0
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64; do
  start=$SECONDS
  GOOS=${target%/*} GOARCH=${target#*/} go build -ldflags "-s -w" ./...
  GOOS=${target%/*} GOARCH=${target#*/} go build -ldflags "-s -w" -o /dev/null ./cmd/clocal
  echo "cross-compile $target: ok ($((SECONDS - start))s)"
done
start=$SECONDS
GOOS=darwin GOARCH=arm64 go vet ./...
echo "go vet darwin/arm64 (tests included): ok ($((SECONDS - start))s)"
start=$SECONDS
GOOS=windows GOARCH=amd64 go vet ./...
echo "go vet windows/amd64 (tests included): ok ($((SECONDS - start))s)"
