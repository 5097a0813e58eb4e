#!/bin/sh
# Production build script for markdown-renderer. Production builds inside a container; this
# workspace has no registry, so the host's Go toolchain builds the same static binary.
set -eu
VERSION="${VERSION:-test}"
cur_dir=$(pwd)
mkdir -p ./.src/target
cd "${CLOCAL_SOURCE:-../../apps/markdown-renderer}"
CGO_ENABLED=0 go build -trimpath -o "$cur_dir/.src/target/markdown-renderer" .
cd "$cur_dir"
echo "$VERSION" > ./.src/.version
