#!/bin/bash
# Install what building and testing coho needs on a Debian 12 machine (root),
# and unpack Debian's arm64 libfdt and zlib into build/deps/arm64 for the
# static aarch64 build (libfdt-dev:arm64 conflicts with the native package).
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(gcc make qemu-system-arm qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      binutils-aarch64-linux-gnu device-tree-compiler cpio libfdt-dev zlib1g-dev xz-utils
      clang-format git clang libclang-rt-14-dev groff-base)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
	need_update=1
fi
if [ ${#missing[@]} -gt 0 ] || [ -n "${need_update:-}" ] || ! apt-cache show busybox-static:arm64 >/dev/null 2>&1; then
	apt-get update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

dest=build/deps/arm64
if [ ! -f "$dest/usr/lib/aarch64-linux-gnu/libfdt.a" ] || [ ! -f "$dest/usr/lib/aarch64-linux-gnu/libz.a" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -q libfdt-dev:arm64 zlib1g-dev:arm64 2>&1 | grep -v unsandboxed || true)
	mkdir -p "$dest"
	for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dest"; done
	test -f "$dest/usr/lib/aarch64-linux-gnu/libfdt.a"
	test -f "$dest/usr/lib/aarch64-linux-gnu/libz.a"
fi
