#!/bin/sh
# Builds the fault-injection app (static, FROM scratch image) like the example services do.
set -eu
cur_dir=$(pwd)
mkdir -p ./.src/target
cd "${CLOCAL_SOURCE:-../../apps/faultapp}"
CGO_ENABLED=0 GOFLAGS= go build -trimpath -o "$cur_dir/.src/target/faultapp" .
