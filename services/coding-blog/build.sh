#!/bin/sh
# Production build script for coding-blog. Production builds inside a container; this
# workspace has no registry, so the host's Go toolchain builds the same static binary.
set -eu
VERSION="${VERSION:-test}"
cur_dir=$(pwd)
mkdir -p ./.src/target
cd "${CLOCAL_SOURCE:-../../apps/coding-blog}"
CGO_ENABLED=0 go build -trimpath -o "$cur_dir/.src/target/coding-blog" .
cd "$cur_dir"
echo "$VERSION" > ./.src/.version
