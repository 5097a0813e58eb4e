#!/bin/sh
# Production build script for code-search, as the article's build.sh is written: the build
# runs in a toolchain container (`docker run -it`), with the source tree mounted at /app and
# a dependency cache mounted from this machine; the Dockerfile then packages the binary it
# leaves under .src/. The toolchain image lives in the company registry: `docker login` to
# it once (the docker CLI pulls it on first use), or make it from your own Go with
# scripts/toolchain-image.sh. `clocal doctor code-search` says which applies.
set -eu
TOOLCHAIN_IMAGE="${TOOLCHAIN_IMAGE:-registry.coding.example/toolchains/go:1.26}"
# Dependency cache (the article's ~/.m2): Go's build and module caches, kept between builds.
cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/clocal-toolchain"
GO_BUILD_CACHE="${GO_BUILD_CACHE:-$cache/go-build}"
GO_MOD_CACHE="${GO_MOD_CACHE:-$cache/mod}"
mkdir -p ./.src/target "$GO_BUILD_CACHE" "$GO_MOD_CACHE"
docker run -it --rm \
  --user "$(id -u):$(id -g)" \
  -v "$(pwd)/../..:/app" \
  -v "$GO_BUILD_CACHE:/cache/go-build" \
  -v "$GO_MOD_CACHE:/cache/mod" \
  -e HOME=/tmp -e GOCACHE=/cache/go-build -e GOMODCACHE=/cache/mod -e GOFLAGS=-buildvcs=false \
  -w /app \
  "$TOOLCHAIN_IMAGE" \
  go build -trimpath -o services/code-search/.src/target/code-search ./apps/code-search
echo "${VERSION:-test}" > ./.src/.version
