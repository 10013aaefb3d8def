#!/bin/bash
# Test assets for the nested arm64 tests: Debian 12's current arm64 kernel and
# static busybox, downloaded once with `apt-get download` into
# ${COHO_CACHE:-$HOME/.cache/coho} and unpacked there with `dpkg -x`.
#
#   bash tests/e2e/assets.sh        fetch if needed, print KEY=VALUE lines
#   . tests/e2e/assets.sh           the same, but export the variables instead
#
# Variables: COHO_KERNEL (an arm64 Image: Debian's vmlinuz is uncompressed),
# COHO_KVER (its release), COHO_BUSYBOX (static aarch64 busybox).
# A run that finds the .deb files in the cache downloads nothing. The kernel
# package is resolved through `apt-cache depends linux-image-arm64:arm64`;
# without a usable apt index the newest cached kernel is used.

set -euo pipefail

assets_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COHO_CACHE=${COHO_CACHE:-$HOME/.cache/coho}

assets_log() { echo "assets: $*" >&2; }

# The arm64 package index must be present (scripts/deps.sh adds the
# architecture, updates and installs the host tools; it is idempotent).
assets_have_index() { apt-cache show busybox-static:arm64 >/dev/null 2>&1; }

# The versioned kernel package behind the metapackage, e.g. linux-image-6.1.0-56-arm64.
assets_resolve_kernel_pkg() {
	apt-cache depends linux-image-arm64:arm64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*\).*/\1/p' | head -n 1
}

# Echo the cached .deb of PKG (any version), downloading it first if absent.
assets_fetch_deb() {
	local pkg=$1 deb
	deb=$(ls -t "$COHO_CACHE/${pkg}_"*_arm64.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		assets_log "downloading $pkg:arm64 into $COHO_CACHE"
		(cd "$COHO_CACHE" && apt-get download -q "$pkg:arm64" 2>&1 | grep -v unsandboxed >&2 || true)
		deb=$(ls -t "$COHO_CACHE/${pkg}_"*_arm64.deb 2>/dev/null | head -n 1 || true)
		[ -n "$deb" ] || { assets_log "apt-get download $pkg:arm64 failed"; return 1; }
	fi
	echo "$deb"
}

# Unpack DEB once into $COHO_CACHE/unpacked/<name of the deb>; echo that directory.
assets_unpack() {
	local deb=$1 dir
	dir="$COHO_CACHE/unpacked/$(basename "$deb" .deb)"
	if [ ! -e "$dir/.done" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		dpkg -x "$deb" "$dir"
		touch "$dir/.done"
	fi
	echo "$dir"
}

assets_main() {
	local kpkg kdeb kdir bbdeb bbdir
	mkdir -p "$COHO_CACHE"
	kpkg=$(assets_resolve_kernel_pkg || true)
	if [ -z "$kpkg" ] && ! assets_have_index; then
		assets_log "no arm64 package index; running scripts/deps.sh"
		bash "$assets_root/scripts/deps.sh" >&2
		kpkg=$(assets_resolve_kernel_pkg || true)
	fi
	if [ -z "$kpkg" ]; then
		kdeb=$(ls -t "$COHO_CACHE"/linux-image-[0-9]*-arm64_*_arm64.deb 2>/dev/null | head -n 1 || true)
		[ -n "$kdeb" ] || { assets_log "cannot resolve linux-image-arm64:arm64"; return 1; }
		assets_log "apt-cache could not resolve the kernel; using cached $(basename "$kdeb")"
	else
		kdeb=$(assets_fetch_deb "$kpkg")
	fi
	bbdeb=$(assets_fetch_deb busybox-static)

	kdir=$(assets_unpack "$kdeb")
	bbdir=$(assets_unpack "$bbdeb")

	COHO_KERNEL=$(ls "$kdir"/boot/vmlinuz-* | head -n 1)
	COHO_KVER=${COHO_KERNEL##*/vmlinuz-}
	COHO_BUSYBOX=$bbdir/bin/busybox
	# Debian's arm64 vmlinuz is a plain Image: "ARM\x64" at offset 0x38.
	if [ "$(od -An -c -j 56 -N 4 "$COHO_KERNEL" | tr -d ' ')" != 'ARMd' ]; then
		assets_log "$COHO_KERNEL is not an arm64 Image"
		return 1
	fi
	[ -x "$COHO_BUSYBOX" ] || { assets_log "no busybox in $bbdeb"; return 1; }
	export COHO_CACHE COHO_KERNEL COHO_KVER COHO_BUSYBOX
}

# The newest Debian 13 (trixie) arm64 kernel, through a private apt
# configuration under $COHO_CACHE/trixie (the machine's own sources are not
# touched; the mirror is the one the machine's debian.sources names). Sets
# COHO_KERNEL_NEXT and COHO_KVER_NEXT, or leaves them empty (with a message)
# when trixie cannot be reached: callers skip what needs it.
assets_next_kernel() {
	local dir=$COHO_CACHE/trixie mirror apt pkg deb kdir
	COHO_KERNEL_NEXT= COHO_KVER_NEXT=
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	[ -n "$mirror" ] || mirror=$(awk '/^deb / { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
	echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
		>"$dir/sources.list"
	apt=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
	     -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
	     -o APT::Architecture=arm64 -o APT::Architectures=arm64)
	deb=$(ls -t "$dir"/linux-image-[0-9]*-arm64_*_arm64.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		if [ -z "$mirror" ] || ! apt-get "${apt[@]}" update -q >"$dir/update.log" 2>&1; then
			assets_log "cannot reach Debian trixie (see $dir/update.log)"
			return 0
		fi
		pkg=$(apt-cache "${apt[@]}" depends linux-image-arm64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^: ]*\).*/\1/p' | head -n 1)
		[ -n "$pkg" ] || { assets_log "cannot resolve trixie's linux-image-arm64"; return 0; }
		assets_log "downloading $pkg (trixie) into $dir"
		(cd "$dir" && apt-get "${apt[@]}" download -q "$pkg" 2>&1 | grep -v unsandboxed >&2 || true)
		deb=$(ls -t "$dir"/linux-image-[0-9]*-arm64_*_arm64.deb 2>/dev/null | head -n 1 || true)
		[ -n "$deb" ] || { assets_log "apt-get download $pkg failed"; return 0; }
	fi
	kdir=$(assets_unpack "$deb")
	COHO_KERNEL_NEXT=$(ls "$kdir"/boot/vmlinuz-* | head -n 1)
	COHO_KVER_NEXT=${COHO_KERNEL_NEXT##*/vmlinuz-}
	export COHO_KERNEL_NEXT COHO_KVER_NEXT
}

assets_main
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	printf 'COHO_CACHE=%s\nCOHO_KERNEL=%s\nCOHO_KVER=%s\nCOHO_BUSYBOX=%s\n' \
		"$COHO_CACHE" "$COHO_KERNEL" "$COHO_KVER" "$COHO_BUSYBOX"
fi
