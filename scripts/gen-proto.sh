#!/usr/bin/env bash
# Regenerates internal/job/jobpb/job.pb.go from job.proto.
# Installs protoc (Debian's protobuf-compiler) and protoc-gen-go (at the
# google.golang.org/protobuf version go.mod requires) when they are missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v protoc >/dev/null 2>&1; then
	echo "gen-proto: installing protoc (protobuf-compiler)" >&2
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq protobuf-compiler >/dev/null
fi

pbver="$(go list -m -f '{{.Version}}' google.golang.org/protobuf)"
gobin="$(go env GOBIN)"
if [ -z "$gobin" ]; then gobin="$(go env GOPATH)/bin"; fi
plugin="$gobin/protoc-gen-go"
if [ ! -x "$plugin" ] || ! "$plugin" --version 2>/dev/null | grep -qF "$pbver"; then
	echo "gen-proto: installing protoc-gen-go@$pbver" >&2
	go install "google.golang.org/protobuf/cmd/protoc-gen-go@$pbver"
fi

protoc \
	--plugin=protoc-gen-go="$plugin" \
	--proto_path=internal/job/jobpb \
	--go_out=internal/job/jobpb \
	--go_opt=paths=source_relative \
	job.proto

echo "gen-proto: wrote internal/job/jobpb/job.pb.go (protoc $(protoc --version | awk '{print $2}'), protoc-gen-go $pbver)" >&2
