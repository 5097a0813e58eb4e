#!/usr/bin/env bash
# Creates the local base image clocal/busybox:local (idempotent).
#
# clocal never pulls from a registry, so the small shell image that tests and
# example build scripts use is made locally: Debian's busybox-static package
# provides a static /bin/busybox, which is laid out in a minimal rootfs (one
# symlink per applet, /etc/passwd with root and nobody, /tmp) and imported with
# `docker import`.
#
# Usage: scripts/base-image.sh [--force]
#   IMAGE=name:tag   overrides the image reference (default clocal/busybox:local)
set -euo pipefail

image="${IMAGE:-clocal/busybox:local}"
force=0
if [ "${1:-}" = "--force" ]; then force=1; fi

if [ "$force" -eq 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
	echo "base-image: $image already exists" >&2
	exit 0
fi

# Serialise concurrent callers (parallel test packages) on one lock.
lock="${TMPDIR:-/tmp}/clocal-base-image.lock"
if command -v flock >/dev/null 2>&1 && [ -z "${CLOCAL_BASE_IMAGE_LOCKED:-}" ]; then
	exec env CLOCAL_BASE_IMAGE_LOCKED=1 flock "$lock" "$0" "$@"
fi
if [ "$force" -eq 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
	exit 0
fi

busybox=""
for cand in /bin/busybox /usr/bin/busybox; do
	if [ -x "$cand" ] && file_out="$(LC_ALL=C ldd "$cand" 2>&1 || true)" &&
		printf '%s' "$file_out" | grep -qE 'not a dynamic executable|statically linked'; then
		busybox="$cand"
		break
	fi
done
if [ -z "$busybox" ]; then
	echo "base-image: installing busybox-static" >&2
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq busybox-static >/dev/null
	busybox=/bin/busybox
fi

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev}
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
chmod 0755 "$rootfs/bin/busybox"
"$busybox" --list-full | while read -r applet; do
	[ -n "$applet" ] || continue
	[ "$applet" = "bin/busybox" ] && continue
	mkdir -p "$rootfs/$(dirname "$applet")"
	ln -sf /bin/busybox "$rootfs/$applet"
done
# Make sure the basic shell is always there even if --list-full is unsupported.
[ -e "$rootfs/bin/sh" ] || ln -s /bin/busybox "$rootfs/bin/sh"
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF

tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf - . |
	docker import \
		-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		-c 'CMD ["/bin/sh"]' \
		-c 'LABEL dev.clocal.base=busybox' \
		-m "clocal base image from $(basename "$busybox") ($("$busybox" 2>&1 | head -n1 || true))" \
		- "$image" >/dev/null
echo "base-image: created $image" >&2
