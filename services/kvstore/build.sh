#!/bin/sh
# Production build script for kvstore. Production builds inside a container; this
# workspace has no registry, so the host's Go toolchain builds the same static binary.
set -eu
VERSION="${VERSION:-test}"
cur_dir=$(pwd)
mkdir -p ./.src/target
# empty /data owned by uid 65534: docker seeds the named volume from it (ownership included)
mkdir -p ./.src/data
touch ./.src/data/.keep
cd "${CLOCAL_SOURCE:-../../apps/kvstore}"
CGO_ENABLED=0 go build -trimpath -o "$cur_dir/.src/target/kvstore" .
cd "$cur_dir"
echo "$VERSION" > ./.src/.version
