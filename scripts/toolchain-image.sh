#!/usr/bin/env bash
# Makes the Go toolchain image that services/code-search/build.sh runs its build in, from the
# Go installed on this machine, for a laptop that cannot reach the company registry (where
# production keeps it): `docker pull` it there when you can.
#
# The image holds a trimmed GOROOT at /usr/local/go (the go command, compile, link, asm and
# the standard library's sources; no tests, no cmd sources) on an empty base, imported with
# `docker import`: nothing is pulled.
#
# Usage: scripts/toolchain-image.sh [IMAGE]
#   IMAGE defaults to $TOOLCHAIN_IMAGE, else registry.coding.example/toolchains/go:<version>
#   (the name services/code-search/service.yaml gives it, with this Go's version).
#   --push also pushes it (docker push IMAGE).
set -euo pipefail

push=0
args=()
for a in "$@"; do
	case "$a" in
	--push) push=1 ;;
	*) args+=("$a") ;;
	esac
done

goroot="$(go env GOROOT)"
version="$(go env GOVERSION)"     # go1.26.8
short="${version#go}"; short="${short%.*}" # 1.26
image="${args[0]:-${TOOLCHAIN_IMAGE:-registry.coding.example/toolchains/go:$short}}"
arch="$(go env GOHOSTOS)_$(go env GOHOSTARCH)"

# /tmp (go build's work folder) and the trimmed GOROOT, moved under usr/local/go.
empty="$(mktemp -d)"
trap 'rm -rf "$empty"' EXIT
mkdir -m 1777 "$empty/tmp"
tools=()
for t in compile link asm; do tools+=("pkg/tool/$arch/$t"); done
tar --numeric-owner --owner=0 --group=0 \
	--exclude='*_test.go' --exclude='testdata' --exclude='src/cmd' \
	--transform 's,^\(bin\|pkg\|src\|go\.env\|VERSION\),usr/local/go/\1,' \
	-cf - -C "$empty" tmp -C "$goroot" bin/go "${tools[@]}" pkg/include src go.env VERSION |
	docker import \
		-c 'ENV PATH=/usr/local/go/bin:/usr/bin:/bin' \
		-c 'ENV GOROOT=/usr/local/go' \
		-c 'ENV GOTOOLCHAIN=local' \
		-c 'ENV CGO_ENABLED=0' \
		-c 'WORKDIR /app' \
		-c "LABEL dev.clocal.toolchain=$version" \
		-m "Go toolchain $version from $goroot" \
		- "$image" >/dev/null
echo "toolchain-image: created $image ($version)" >&2
if [ "$push" -eq 1 ]; then
	docker push "$image"
fi
