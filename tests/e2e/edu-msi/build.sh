#!/bin/bash
# Cross-build edu_msi.ko (next to this script) for a Debian arm64 kernel.
#
#   bash tests/e2e/edu-msi/build.sh KVER OUTDIR     e.g. KVER=6.1.0-56-arm64
#
# Writes OUTDIR/edu_msi.ko and prints its path. Everything comes from Debian
# with `apt-get download` into ${COHO_CACHE:-$HOME/.cache/coho} (as
# tests/e2e/assets.sh does): linux-headers-KVER:arm64, the -common headers it
# depends on, and linux-kbuild-X for the *host* architecture (the headers'
# scripts/ link to fixdep, modpost, ... which must run here). They are unpacked
# with `dpkg -x` into one private tree, $COHO_CACHE/kbuild/KVER, whose absolute
# paths are rewritten to stay inside it. Kernels of Debian 12 (bookworm) come
# from the machine's apt sources; others (Debian 13, trixie) through a private
# apt configuration under $COHO_CACHE/trixie/kbuild-apt. A cached tree needs no
# network, and an OUTDIR/edu_msi.ko newer than its sources is kept.
# The compiler is the one the headers' .kernelvariables name:
# aarch64-linux-gnu-gcc-12 for bookworm. The module is unsigned: Debian's
# kernels load it (tainted "OE") unless Secure Boot lockdown is on.
# Debian 13's kbuild tools need glibc >= 2.38 (and its kernel gcc-14), so on a
# Debian 12 host only bookworm kernels build; others fail with one clear line.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "edu-msi build: error: $*" >&2; exit 1; }
log() { echo "edu-msi build: $*" >&2; }

if [ $# -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
	die "usage: build.sh KVER OUTDIR"
fi
KVER=$1
mkdir -p "$2" || die "cannot create $2"
OUT=$(cd "$2" && pwd)
COHO_CACHE=${COHO_CACHE:-$HOME/.cache/coho}
CROSS=aarch64-linux-gnu-
hostarch=$(dpkg --print-architecture)
ko=$OUT/edu_msi.ko

vermagic() {
	${CROSS}objcopy -O binary -j .modinfo "$1" /dev/stdout 2>/dev/null |
		tr '\0' '\n' | sed -n 's/^vermagic=//p'
}

# Up to date: newer than the source and this script, and built for KVER.
if [ "$ko" -nt "$here/edu_msi.c" ] && [ "$ko" -nt "$here/build.sh" ] &&
   [[ "$(vermagic "$ko")" == "$KVER "* ]]; then
	echo "$ko"
	exit 0
fi

# apt for bookworm is the machine's own; for trixie a private configuration
# with both architectures (assets.sh's own trixie config is arm64 only).
trixie=$COHO_CACHE/trixie
tapt=$trixie/kbuild-apt
trixie_opts=(-o "Dir::Etc::SourceList=$tapt/sources.list" -o Dir::Etc::SourceParts=/dev/null
	     -o "Dir::State::Lists=$tapt/lists" -o "Dir::Cache=$tapt/cache"
	     -o "APT::Architecture=$hostarch" -o "APT::Architectures::=$hostarch"
	     -o APT::Architectures::=arm64)
trixie_update() {
	local mirror
	mkdir -p "$tapt/lists/partial" "$tapt/cache/archives/partial"
	mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	[ -n "$mirror" ] || mirror=$(awk '/^deb / { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$mirror" ] || return 1
	echo "deb [arch=$hostarch,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
		>"$tapt/sources.list"
	log "updating the private trixie index in $tapt"
	apt-get "${trixie_opts[@]}" update -q >"$tapt/update.log" 2>&1
}

# Echo the newest file in DIR matching the pattern GLOB (package file names
# have no spaces), or nothing.
newest() {
	# shellcheck disable=SC2012,SC2086 # GLOB is a pattern on purpose
	ls -t "$1"/$2 2>/dev/null | head -n 1 || true
}

# Echo the cached .deb in DIR matching GLOB, first downloading SPEC with apt
# options OPTS... when there is none.
fetch() {
	local dir=$1 glob=$2 spec=$3 deb
	shift 3
	deb=$(newest "$dir" "$glob")
	if [ -z "$deb" ]; then
		log "apt-get download $spec into $dir"
		(cd "$dir" || exit; apt-get "$@" download -q "$spec" 2>&1 | grep -v unsandboxed >&2) || true
		deb=$(newest "$dir" "$glob")
		[ -n "$deb" ] || return 1
	fi
	echo "$deb"
}

mkdir -p "$COHO_CACHE" "$trixie"
hpkg=linux-headers-$KVER
hglob="${hpkg}_*_arm64.deb"
# Which suite: a cached headers deb decides; otherwise ask apt.
if [ -n "$(newest "$COHO_CACHE" "$hglob")" ]; then
	debdir=$COHO_CACHE opts=()
elif [ -n "$(newest "$trixie" "$hglob")" ]; then
	debdir=$trixie opts=("${trixie_opts[@]}")
elif apt-cache show "$hpkg:arm64" >/dev/null 2>&1; then
	debdir=$COHO_CACHE opts=()
else
	if ! apt-cache "${trixie_opts[@]}" show "$hpkg:arm64" >/dev/null 2>&1; then
		trixie_update || die "cannot reach Debian trixie (see $tapt/update.log)"
	fi
	apt-cache "${trixie_opts[@]}" show "$hpkg:arm64" >/dev/null 2>&1 ||
		die "no package $hpkg:arm64 in bookworm or trixie"
	debdir=$trixie opts=("${trixie_opts[@]}")
fi

hdeb=$(fetch "$debdir" "$hglob" "$hpkg:arm64" "${opts[@]}") || die "apt-get download $hpkg:arm64 failed"
ver=$(dpkg-deb -f "$hdeb" Version)
deps=$(dpkg-deb -f "$hdeb" Depends)
cpkg=$(grep -o 'linux-headers-[^ ,]*-common[^ ,]*' <<<"$deps" | head -n 1 || true)
kpkg=$(grep -o 'linux-kbuild-[^ ,]*' <<<"$deps" | head -n 1 || true)
if [ -z "$cpkg" ] || [ -z "$kpkg" ]; then
	die "cannot find -common/kbuild in $hdeb's Depends: $deps"
fi
# The kbuild tools come from the same source upload: the same version, exactly.
cdeb=$(fetch "$debdir" "${cpkg}_${ver}_*.deb" "$cpkg=$ver" "${opts[@]}") ||
	die "apt-get download $cpkg=$ver failed"
kdeb=$(fetch "$debdir" "${kpkg}_${ver}_${hostarch}.deb" "$kpkg:$hostarch=$ver" "${opts[@]}") ||
	die "apt-get download $kpkg:$hostarch=$ver failed"

# One private tree per KVER, redone when the set of .debs changes.
tree=$COHO_CACHE/kbuild/$KVER
stamp=$(basename -a "$hdeb" "$cdeb" "$kdeb")
if [ "$(cat "$tree/.done" 2>/dev/null || true)" != "$stamp" ]; then
	log "unpacking headers and kbuild into $tree"
	rm -rf "$tree" && mkdir -p "$tree"
	for deb in "$hdeb" "$cdeb" "$kdeb"; do
		dpkg -x "$deb" "$tree" || die "dpkg -x $deb failed"
	done
	# Absolute symlinks (lib/modules/KVER/build, ...) would leave the tree.
	find "$tree" -type l -lname '/*' -print0 | while IFS= read -r -d '' l; do
		ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$tree$(readlink "$l")")" "$l"
	done
	# The arch headers' Makefile includes /usr/src/linux-headers-*-common/Makefile.
	sed -i "s|^include /usr/src/|include $tree/usr/src/|" "$tree/usr/src/$hpkg/Makefile"
	echo "$stamp" >"$tree/.done"
fi
hdr=$tree/usr/src/$hpkg
[ -f "$hdr/Makefile" ] || die "no $hdr/Makefile"
# The kbuild helpers (fixdep, modpost.real-*, ...) are host binaries: a newer
# suite's may need a newer glibc than this machine has.
kdir=$(readlink -f "$hdr/scripts")
while IFS= read -r -d '' f; do
	[ "$(head -c 4 "$f")" = $'\x7fELF' ] || continue
	if miss=$(ldd "$f" 2>&1 | grep -m 1 'not found'); then
		miss=$(grep -o "[^ ]*' not found\|[^[:space:]]* => not found" <<<"$miss" || echo "$miss")
		die "$kpkg:$hostarch $ver does not run on this host (${f##*/}: $miss)"
	fi
done < <(find "$kdir" -type f -perm -u+x -print0)
# Debian's .kernelvariables pins the compiler the kernel was built with.
# shellcheck disable=SC2016 # a literal $(CROSS_COMPILE)
cc=$(sed -n 's/^CC = .*\$(CROSS_COMPILE)\([^ ]*\).*/\1/p' "$hdr/.kernelvariables" 2>/dev/null || true)
command -v "$CROSS${cc:-gcc}" >/dev/null ||
	die "$KVER was built with $CROSS${cc:-gcc}, which is not installed"

work=$tree/work
rm -rf "$work" && mkdir -p "$work"
cp "$here/edu_msi.c" "$work/"
echo 'obj-m := edu_msi.o' >"$work/Kbuild"
log "building edu_msi.ko for $KVER"
if ! make -C "$hdr" M="$work" ARCH=arm64 CROSS_COMPILE=$CROSS modules >"$work/build.log" 2>&1; then
	tail -n 20 "$work/build.log" >&2
	die "make failed for $KVER (full log: $work/build.log)"
fi
[[ "$(vermagic "$work/edu_msi.ko")" == "$KVER "* ]] ||
	die "built module has vermagic '$(vermagic "$work/edu_msi.ko")', not $KVER"
cp "$work/edu_msi.ko" "$ko.tmp" && mv -f "$ko.tmp" "$ko"
echo "$ko"
