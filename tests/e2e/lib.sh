#!/bin/bash
# Shared pieces of the nested arm64 tests (tests/e2e/run.sh) and the boot
# benchmark (bench/boot.sh): fixtures, initramfs builders, the L1 QEMU boot,
# and log helpers. Source it; it defines E2E_* variables and e2e_* functions
# and installs EXIT/INT/TERM traps (e2e_cleanup). Generated files go to
# $E2E_OUT (default tests/out/e2e, ignored by git; set it before sourcing to
# use another directory); downloads are cached by tests/e2e/assets.sh
# outside the repo.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_DIR=$E2E_ROOT/tests/e2e
E2E_TOOLS_SRC=$E2E_ROOT/tests/tools
E2E_OUT=${E2E_OUT:-$E2E_ROOT/tests/out/e2e}
E2E_CROSS=${E2E_CROSS:-aarch64-linux-gnu-}
# The GICv3 L1 runs about 20 L2 boots: 2.5 min on a quiet 2-core machine,
# and this host has been seen running 2x slower. Each case inside L1 is
# bounded by 120 s already; this bound only has to stop a hung L1.
E2E_QEMU_TIMEOUT=${E2E_QEMU_TIMEOUT:-900}
# pauth-impdef: TCG emulates pointer authentication with a cheap hash instead
# of QARMA; Debian's kernels sign every return address, so L1 boots ~2x faster.
E2E_QEMU_CPU=${E2E_QEMU_CPU:-max,pauth-impdef=on}

e2e_log() { echo "e2e: $*" >&2; }
e2e_die() { echo "e2e: error: $*" >&2; exit 1; }

# Temporary directories and the running QEMU go away however the script ends
# (Ctrl-C included: timeout(1) puts QEMU in its own process group, out of
# reach of the terminal's SIGINT, so it is stopped here by its PID).
E2E_TMP=()
E2E_QEMU_PID=
e2e_cleanup() {
	local d
	[ -z "$E2E_QEMU_PID" ] || kill "$E2E_QEMU_PID" 2>/dev/null || true
	for d in "${E2E_TMP[@]}"; do rm -rf "$d"; done
}
trap e2e_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# e2e_mktemp VAR: a new directory under $E2E_OUT, removed on exit, in VAR.
e2e_mktemp() {
	local d
	mkdir -p "$E2E_OUT"
	d=$(mktemp -d "$E2E_OUT/tmp.XXXXXX")
	E2E_TMP+=("$d")
	printf -v "$1" '%s' "$d"
}

# Fetch the kernel and busybox (cached) and set COHO_KERNEL, COHO_BUSYBOX.
e2e_assets() {
	# shellcheck source=tests/e2e/assets.sh
	. "$E2E_DIR/assets.sh"
	mkdir -p "$E2E_OUT/assets" "$E2E_OUT/tools" "$E2E_OUT/logs"
}

# e2e_stale OUT SRC...: true when OUT is missing or older than a SRC.
e2e_stale() {
	local out=$1 src
	shift
	[ -e "$out" ] || return 0
	for src; do [ "$src" -nt "$out" ] && return 0; done
	return 1
}

# bench_start VMM_ARG NAME=DEFAULT...: the benchmarks' common start. Each
# NAME (e.g. RUNS) from the environment or DEFAULT, a positive integer; VMM
# from the argument, $VMM or build/arm64/coho, a static aarch64 binary;
# outputs under tests/out/bench; the kernel and busybox fetched; a work
# directory in $work.
bench_start() {
	local arg=$1 spec n v
	shift
	for spec; do
		n=${spec%%=*}
		v=${!n:-${spec#*=}}
		[[ $v =~ ^[1-9][0-9]*$ ]] || e2e_die "$n must be a positive number (got '$v')"
		printf -v "$n" '%s' "$v"
	done
	VMM=${arg:-${VMM:-$E2E_ROOT/build/arm64/coho}}
	E2E_OUT=$E2E_ROOT/tests/out/bench
	e2e_check_vmm "$VMM"
	e2e_assets
	work=
	e2e_mktemp work
}

# e2e_init_head: the first lines of a busybox /init (shell, proc, sys, dev).
e2e_init_head() {
	printf '%s\n' '#!/bin/sh' '/bin/busybox --install -s /bin' 'export PATH=/bin' \
		'mount -t proc proc /proc' 'mount -t sysfs sysfs /sys' 'mount -t devtmpfs devtmpfs /dev'
}

# Host tool mkzboot, static aarch64 runstat, and the -f firmware (8250 and
# PL011 variants). Set E2E_MKZBOOT, E2E_RUNSTAT, E2E_FIRMWARE, E2E_FIRMWARE_PL011.
e2e_build_tools() {
	local t=$E2E_OUT/tools v
	E2E_MKZBOOT=$t/mkzboot
	E2E_RUNSTAT=$t/runstat
	E2E_FIRMWARE=$t/firmware.bin
	E2E_FIRMWARE_PL011=$t/firmware-pl011.bin
	if e2e_stale "$E2E_MKZBOOT" "$E2E_TOOLS_SRC/mkzboot.c"; then
		gcc -O2 -Wall -Wextra -Werror -o "$E2E_MKZBOOT" "$E2E_TOOLS_SRC/mkzboot.c"
	fi
	E2E_BLOCKPIPE=$t/blockpipe
	if e2e_stale "$E2E_BLOCKPIPE" "$E2E_TOOLS_SRC/blockpipe.c"; then
		"${E2E_CROSS}gcc" -static -O2 -Wall -Wextra -Werror -o "$E2E_BLOCKPIPE" \
			"$E2E_TOOLS_SRC/blockpipe.c"
	fi
	# The L2 test module for edu's MSIs: cross-built against Debian's headers.
	E2E_EDU_MSI=$(bash "$E2E_DIR/edu-msi/build.sh" "$COHO_KVER" "$t/edu-msi-$COHO_KVER") ||
		e2e_die "cannot build edu_msi.ko for $COHO_KVER"
	E2E_PCITOOL=$t/pcitool
	if e2e_stale "$E2E_PCITOOL" "$E2E_TOOLS_SRC/pcitool.c"; then
		"${E2E_CROSS}gcc" -static -O2 -Wall -Wextra -Werror -o "$E2E_PCITOOL" \
			"$E2E_TOOLS_SRC/pcitool.c"
	fi
	if e2e_stale "$E2E_RUNSTAT" "$E2E_TOOLS_SRC/runstat.c"; then
		"${E2E_CROSS}gcc" -static -O2 -Wall -Wextra -Werror -o "$E2E_RUNSTAT" \
			"$E2E_TOOLS_SRC/runstat.c"
	fi
	for v in "$E2E_FIRMWARE:" "$E2E_FIRMWARE_PL011:-DUART_PL011"; do
		local bin=${v%%:*} def=${v#*:}
		if e2e_stale "$bin" "$E2E_DIR/firmware.S"; then
			"${E2E_CROSS}gcc" ${def:+"$def"} -c -o "$bin.o" "$E2E_DIR/firmware.S"
			"${E2E_CROSS}ld" -Ttext=0x40000000 -o "$bin.elf" "$bin.o"
			"${E2E_CROSS}objcopy" -O binary "$bin.elf" "$bin"
			rm -f "$bin.o" "$bin.elf"
		fi
	done
}

# Kernel fixtures derived from COHO_KERNEL (kept between runs, rebuilt when
# the kernel changes): Image.gz, an EFI zboot wrapper around it, and inputs
# that coho must reject. Sets E2E_IMAGE, E2E_IMAGE_GZ, E2E_ZBOOT,
# E2E_GARBAGE, E2E_TRUNC_GZ, E2E_TRUNC_IMAGE.
e2e_kernel_fixtures() {
	local a=$E2E_OUT/assets
	E2E_IMAGE=$COHO_KERNEL
	E2E_IMAGE_GZ=$a/Image.gz
	E2E_ZBOOT=$a/vmlinuz.efi
	E2E_GARBAGE=$a/garbage.img
	E2E_TRUNC_GZ=$a/truncated.Image.gz
	E2E_TRUNC_IMAGE=$a/truncated.Image
	if e2e_stale "$E2E_IMAGE_GZ" "$E2E_IMAGE"; then
		e2e_log "compressing $(basename "$E2E_IMAGE") (gzip -9)"
		gzip -9 -n -c "$E2E_IMAGE" >"$E2E_IMAGE_GZ.tmp" && mv "$E2E_IMAGE_GZ.tmp" "$E2E_IMAGE_GZ"
	fi
	if e2e_stale "$E2E_ZBOOT" "$E2E_IMAGE_GZ" "$E2E_MKZBOOT"; then
		"$E2E_MKZBOOT" "$E2E_IMAGE_GZ" "$E2E_ZBOOT"
	fi
	if e2e_stale "$E2E_TRUNC_GZ" "$E2E_IMAGE_GZ"; then
		# 64 KiB of random bytes: no Image magic, not gzip, not MZ.
		{ printf 'NOT A KERNEL'; head -c 65536 /dev/urandom; } >"$E2E_GARBAGE"
		# Half a gzip stream: inflating must fail cleanly.
		head -c $(($(stat -c %s "$E2E_IMAGE_GZ") / 2)) "$E2E_IMAGE_GZ" >"$E2E_TRUNC_GZ"
		# 48 bytes: cut inside the 64-byte Image header.
		head -c 48 "$E2E_IMAGE" >"$E2E_TRUNC_IMAGE"
	fi
}

# e2e_cpio DIR OUT [gzip]: pack DIR as a newc archive (owned by root).
e2e_cpio() {
	local dir=$1 out=$2 compress=${3:-}
	if [ "$compress" = gzip ]; then
		(cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9 -n) >"$out"
	else
		(cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out"
	fi
}

# e2e_rootfs DIR INIT: a busybox root in DIR with INIT as /init.
e2e_rootfs() {
	local dir=$1 init=$2
	rm -rf "$dir"
	mkdir -p "$dir"/{bin,dev,proc,sys,tmp}
	cp "$COHO_BUSYBOX" "$dir/bin/busybox"
	ln -s busybox "$dir/bin/sh"
	install -m 0755 "$init" "$dir/init"
	# The kernel opens /dev/console for init before anything is mounted.
	mknod -m 600 "$dir/dev/console" c 5 1
}

# Guest drivers that Debian builds as modules, in load order (dependencies
# first); those a kernel has built in are simply absent from its tree.
E2E_L2_MODULES=(virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio virtio-rng
		virtio_blk virtio_console failover net_failover virtio_net netfs fscache 9pnet
		9pnet_virtio 9p uio uio_pci_generic)
# What L1 (the KVM host) needs for coho's network tests: taps and vhost-net.
E2E_L1_MODULES=(tun tap vhost_iotlb vhost vhost_net)
# What L1 needs to hand PCI devices to coho (the VFIO boot of run.sh), in
# dependency order (the .ko files' depends=); Debian 6.1 builds these as
# modules, the SMMUv3 driver, irqbypass and KVM's VFIO device are built in.
E2E_L1_VFIO_MODULES=(vfio vfio_virqfd vfio_iommu_type1 vfio-pci-core vfio-pci)
# Which of those lists (the name of an array) e2e_l1_initramfs puts in L1,
# from the kernel L1 boots (E2E_L1_KERNEL, default COHO_KERNEL).
E2E_L1_MODLIST=${E2E_L1_MODLIST:-E2E_L1_MODULES}

# e2e_modules ROOT LIST KERNEL...: copy the modules named in the array LIST
# (E2E_L2_MODULES, E2E_L1_MODULES, ...) of each KERNEL (a vmlinuz inside an
# unpacked linux-image package) into ROOT/lib/modules/<release>/,
# decompressed, with a load-order file "order".
e2e_modules() {
	local root=$1 k tree rel m f dest
	local -n list=$2
	shift 2
	for k; do
		[ -n "$k" ] || continue
		rel=${k##*/vmlinuz-}
		# Debian 13 (merged /usr) keeps modules in usr/lib/modules.
		tree=$(dirname "$(dirname "$k")")/lib/modules/$rel
		[ -d "$tree" ] || tree=$(dirname "$(dirname "$k")")/usr/lib/modules/$rel
		[ -d "$tree" ] || { e2e_log "no modules for $rel"; continue; }
		dest=$root/lib/modules/$rel
		mkdir -p "$dest"
		: >"$dest/order"
		for m in "${list[@]}"; do
			f=$(find "$tree" \( -name "$m.ko" -o -name "$m.ko.xz" \) | head -n 1 || true)
			[ -n "$f" ] || continue
			case $f in
			*.xz) xz -dc "$f" >"$dest/$m.ko" ;;
			*) cp "$f" "$dest/$m.ko" ;;
			esac
			echo "$m" >>"$dest/order"
		done
	done
}

# e2e_l2_initramfs OUT PAYLOAD: the L2 guest's initramfs (gzip'd cpio) with
# PAYLOAD as /payload.bin and the virtio modules of the guest kernels.
e2e_l2_initramfs() {
	local out=$1 payload=$2 dir
	e2e_mktemp dir
	e2e_rootfs "$dir" "$E2E_DIR/l2-init.sh"
	cp "$payload" "$dir/payload.bin"
	e2e_modules "$dir" E2E_L2_MODULES "$COHO_KERNEL" "${COHO_KERNEL_NEXT:-}"
	# pcitool drives passed-through PCI devices from L2 (edu DMA and INTx, BAR bandwidth).
	[ -z "${E2E_PCITOOL:-}" ] || install -m 0755 "$E2E_PCITOOL" "$dir/bin/pcitool"
	# edu_msi.ko counts edu's MSIs in L2 (built for the first guest kernel only:
	# Debian 13's build tools do not run on Debian 12).
	if [ -n "${E2E_EDU_MSI:-}" ]; then
		cp "$E2E_EDU_MSI" "$dir/lib/modules/$COHO_KVER/edu_msi.ko"
	fi
	e2e_cpio "$dir" "$out" gzip
	rm -rf "$dir"
}

# What coho's default guest (no -k) loads from its host's module tree: the
# virtio-pci transport and 9p, with their dependencies (Debian 12's names).
E2E_DG_MODULES=(virtio_pci virtio_pci_legacy_dev virtio_pci_modern_dev netfs fscache 9pnet
		9pnet_virtio 9p)

# e2e_module_tree OUT LIST KERNEL: in OUT/lib/modules/<release>/, the modules
# named in the array LIST as KERNEL's package has them (compressed or not, at
# their paths), its modules.builtin, and the modules.dep depmod would write
# for them (the package has none: depmod makes it on installation), from
# each module's depends=. Every dependency must be in LIST or built in.
e2e_module_tree() {
	local out=$1 k=$3 tree rel m f dep deps line path
	local -n mods=$2
	local -A where=()
	rel=${k##*/vmlinuz-}
	tree=$(dirname "$(dirname "$k")")/lib/modules/$rel
	[ -d "$tree" ] || tree=$(dirname "$(dirname "$k")")/usr/lib/modules/$rel
	[ -d "$tree" ] || e2e_die "no modules for $rel"
	mkdir -p "$out/lib/modules/$rel"
	cp "$tree/modules.builtin" "$out/lib/modules/$rel/"
	for m in "${mods[@]}"; do
		f=$(cd "$tree" && find kernel \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \) | head -n 1 || true)
		[ -n "$f" ] || e2e_die "module $m not in $tree"
		mkdir -p "$out/lib/modules/$rel/$(dirname "$f")"
		cp "$tree/$f" "$out/lib/modules/$rel/$f"
		where[${m//-/_}]=$f
	done
	: >"$out/lib/modules/$rel/modules.dep"
	for m in "${mods[@]}"; do
		path=${where[${m//-/_}]}
		case $path in
		*.xz) deps=$(xz -dc "$tree/$path" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1) ;;
		*.zst) deps=$(zstd -dcq "$tree/$path" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1) ;;
		*) deps=$(tr '\0' '\n' <"$tree/$path" | sed -n 's/^depends=//p' | head -n 1) ;;
		esac
		line="$path:"
		for dep in ${deps//,/ }; do
			[ -n "${where[${dep//-/_}]:-}" ] || e2e_die "$m needs $dep, which is not in $2"
			line+=" ${where[${dep//-/_}]}"
		done
		echo "$line" >>"$out/lib/modules/$rel/modules.dep"
	done
}

# e2e_l1_initramfs OUT CASES DEST=SRC...: the L1 initramfs, an uncompressed
# cpio (TCG would spend seconds inflating ~60 MB of kernels), with CASES as
# /cases.sh and each SRC copied to /DEST. A DEST=@TARGET makes a symlink, a
# directory SRC is merged into DEST.
# The modules are those of the array named by $E2E_L1_MODLIST.
e2e_l1_initramfs() {
	local out=$1 cases=$2 spec dir dest src
	shift 2
	e2e_mktemp dir
	e2e_rootfs "$dir" "$E2E_DIR/l1-init.sh"
	install -m 0644 "$cases" "$dir/cases.sh"
	e2e_modules "$dir" "$E2E_L1_MODLIST" "${E2E_L1_KERNEL:-$COHO_KERNEL}"
	for spec; do
		dest=$dir/${spec%%=*} src=${spec#*=}
		mkdir -p "$(dirname "$dest")"
		case $src in
		@*) ln -s "${src#@}" "$dest" ;;
		*)
			if [ -d "$src" ]; then
				mkdir -p "$dest" && cp -a "$src/." "$dest/"
			else
				cp "$src" "$dest"
			fi
			;;
		esac
	done
	e2e_cpio "$dir" "$out"
	rm -rf "$dir"
}

# e2e_check_vmm BINARY: it must be a static aarch64 ELF to run in L1.
e2e_check_vmm() {
	local bin=$1
	[ -f "$bin" ] || e2e_die "$bin: no such file (build it: make ARCH=arm64 all)"
	"${E2E_CROSS}readelf" -h "$bin" 2>/dev/null | grep -q 'Machine:.*AArch64' ||
		e2e_die "$bin: not an aarch64 ELF executable"
	if "${E2E_CROSS}readelf" -l "$bin" | grep -q 'INTERP'; then
		e2e_die "$bin: dynamically linked; L1 has no libraries (link it -static)"
	fi
}

# e2e_qemu LOG SECONDS QEMU-ARGS...: run QEMU bounded by SECONDS; LOG gets
# its output without carriage returns (LOG.raw keeps it as is). Sets
# E2E_QEMU_RC and E2E_QEMU_SECONDS; returns 0.
# shellcheck disable=SC2034 # E2E_QEMU_RC and E2E_QEMU_SECONDS are for the caller
e2e_qemu() {
	local log=$1 secs=$2 t0 t1
	shift 2
	t0=$(date +%s.%N)
	E2E_QEMU_RC=0
	timeout -k 10 "$secs" qemu-system-aarch64 "$@" </dev/null >"$log.raw" 2>&1 &
	E2E_QEMU_PID=$!
	wait "$E2E_QEMU_PID" || E2E_QEMU_RC=$?
	E2E_QEMU_PID=
	t1=$(date +%s.%N)
	E2E_QEMU_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	tr -d '\r' <"$log.raw" >"$log"
	return 0
}

# e2e_boot_l1 LOG GIC_VERSION INITRD [SMP]: boot Debian's kernel as the KVM
# host L1 at EL2 (VHE) under TCG; its /init runs /cases.sh and powers off.
# Extras for one boot (empty by default): E2E_L1_MACHINE, more -M properties
# (e.g. "iommu=smmuv3"), and the array E2E_L1_QEMU_ARGS, more QEMU arguments
# (e.g. -device edu); set them as locals of the caller or reset them after.
E2E_L1_MACHINE=${E2E_L1_MACHINE:-}
E2E_L1_QEMU_ARGS=()
e2e_boot_l1() {
	local log=$1 gic=$2 initrd=$3 smp=${4:-2}
	e2e_qemu "$log" "$E2E_QEMU_TIMEOUT" \
		-M "virt,virtualization=on,gic-version=$gic${E2E_L1_MACHINE:+,$E2E_L1_MACHINE}" \
		-cpu "$E2E_QEMU_CPU" -smp "$smp" -m 2048 -nographic -no-reboot -nic none \
		-kernel "${E2E_L1_KERNEL:-$COHO_KERNEL}" -initrd "$initrd" \
		-append "console=ttyAMA0 quiet panic=-1" \
		${E2E_L1_QEMU_ARGS[@]+"${E2E_L1_QEMU_ARGS[@]}"}
}

# e2e_section LOG NAME: the lines of case NAME, from its "begin" line to its
# "case=NAME rc=" line.
e2e_section() {
	awk -v b="COHO-L1 begin case=$2" -v e="COHO-L1 case=$2 rc=" '
		index($0, b) == 1 && length($0) == length(b) { on = 1 }
		on { print }
		on && index($0, e) == 1 { exit }' "$1"
}

# e2e_value TEXT KEY: what follows the first "KEY=" in TEXT, to the end of
# its line ("" if none). KEY may include a prefix: "COHO-L2 cpus".
e2e_value() {
	printf '%s\n' "$1" | awk -v k="$2=" '(i = index($0, k)) { print substr($0, i + length(k)); exit }'
}

# e2e_tail LOG [N]: the last N lines of LOG, indented, for failure reports.
e2e_tail() {
	echo "--- last ${2:-40} lines of $1"
	tail -n "${2:-40}" "$1" | sed 's/^/  | /'
	echo "---"
}
