#!/bin/bash
# Nested end-to-end tests of coho on an x86_64 (or any) host:
#
#   qemu-system-aarch64 (TCG, virtualization=on)  -> L1: Debian arm64 kernel with KVM
#     /coho run ...                                -> L2: Debian arm64 kernel + busybox
#
# usage: tests/e2e/run.sh COHO_BINARY     the real run (make check-e2e)
#        tests/e2e/run.sh --selftest      checks the harness itself without coho:
#                                         L2 kernel+initramfs and the firmware booted
#                                         directly by QEMU, the L1 plumbing with stub cases
#
# Three L1 boots: GICv3 (every boot format, the firmware, --irqchip gicv3-its,
# --dump-dtb, inputs coho must reject), GICv2 (--irqchip gicv2 and auto) and
# VFIO (GICv3 and an SMMUv3; QEMU's edu and ivshmem-plain for --vfio-pci). The L2 guest's /init
# (l2-init.sh) prints what it sees; this script checks it against what it
# asked for. One line per assertion ("ok - ..."/"not ok - ..."), then exactly
# one "e2e: N passed, M failed" line; exit status 1 on any failure.
# Logs: tests/out/e2e/logs/. Environment: COHO_CACHE (downloads),
# E2E_QEMU_TIMEOUT (seconds per QEMU run, default 900), E2E_ONLY=gicv3|gicv2|scripts|vfio|vfio-next,
# E2E_CASES=ERE (only the cases whose name matches, e.g. 'virtio-net.*').

set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PASS=0 FAIL=0
CASE_FAILED=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); CASE_FAILED=1; echo "not ok - $*"; }
# check DESCRIPTION COMMAND...: one assertion; never stops the script.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
# expect_eq DESCRIPTION GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi
}
# expect_match DESCRIPTION GOT ERE
expect_match() {
	if printf '%s\n' "$2" | grep -qE -- "$3"; then ok "$1"; else not_ok "$1 (got '$2', want /$3/)"; fi
}
has_line() { printf '%s\n' "$1" | grep -qF -- "$2"; }
first_word() { printf '%s\n' "${1%% *}"; }

# --- cases --------------------------------------------------------------

# add_case NAME KIND VMM ARGS...: append a run_case line to $CASES (the L1
# /cases.sh) and remember NAME's KIND (linux, linux-its, firmware, error, dtb).
declare -A KIND=()
ORDER=()
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
# (RUNNER=run_script_case add_case ... writes that runner instead of run_case.)
add_case() {
	local name=$1 kind=$2 arg line
	shift 2
	line="${RUNNER:-run_case} $name"
	for arg; do line+=" $(sq "$arg")"; done
	echo "$line" >>"$CASES"
	KIND[$name]=$kind
	ORDER+=("$name")
}
# params NAME [quiet]: the L2 command line; the coho_e2e token proves -p arrived.
params() { echo "console=ttyS0 panic=-1${2:+ $2} coho_e2e=$TOKEN-$1"; }
GUEST=(-i /l2.cpio.gz -c 2 -m 256)

cases_gicv3() {
	add_case err-garbage error /coho run -k /garbage.img "${GUEST[@]}"
	add_case err-truncated-image error /coho run -k /truncated.Image "${GUEST[@]}"
	add_case err-truncated-gz error /coho run -k /truncated.Image.gz "${GUEST[@]}"
	add_case err-missing-kernel error /coho run -k /no-such-kernel "${GUEST[@]}"
	add_case err-missing-initrd error /coho run -k /Image -i /no-such-initrd -m 256
	add_case err-bad-option error /coho run --no-such-option -k /Image
	add_case err-bad-irqchip error /coho run -k /Image "${GUEST[@]}" --irqchip gicv9
	add_case firmware firmware /coho run -f /firmware.bin -c 1 -m 256
	add_case image linux /coho run -k /Image "${GUEST[@]}" -p "$(params image)"
	add_case imagegz linux /lkvm run -k /Image.gz "${GUEST[@]}" -p "$(params imagegz quiet)"
	add_case zboot linux /coho run -k /vmlinuz.efi "${GUEST[@]}" -p "$(params zboot quiet)"
	add_case image-its linux-its /coho run -k /Image "${GUEST[@]}" --irqchip gicv3-its \
		-p "$(params image-its quiet)"
	add_case dumpdtb dtb /coho run -k /Image "${GUEST[@]}" -p "$(params dumpdtb quiet)" \
		--dump-dtb /tmp/coho.dtb
	echo "dump_file dumpdtb /tmp/coho.dtb" >>"$CASES"
	# Debian 13's kernel as the guest (another generation of kernel, same initramfs).
	if [ -n "${COHO_KERNEL_NEXT:-}" ]; then
		add_case image-next linux /coho run -k /Image.next "${GUEST[@]}" \
			-p "$(params image-next quiet)"
	fi
	# virtio-rng on the virtio PCI bridge (MSI-X through the ITS).
	add_case virtio-rng virtio-msi /coho run -k /Image "${GUEST[@]}" --rng \
		-p "$(params virtio-rng "quiet coho_e2e_virtio")"
	if [ -n "${COHO_KERNEL_NEXT:-}" ]; then
		add_case virtio-rng-next virtio-msi /coho run -k /Image.next "${GUEST[@]}" --rng \
			-p "$(params virtio-rng-next "quiet coho_e2e_virtio")"
	fi
	# virtio-console: hvc0 output reaches coho's stdout, coho's stdin reaches hvc0.
	echo "run_hvc_case virtio-console hello-hvc-$TOKEN /coho run -k /Image ${GUEST[*]} --console virtio -p '$(params virtio-console "quiet coho_e2e_virtio coho_e2e_hvc")'" >>"$CASES"
	KIND[virtio-console]=hvc
	ORDER+=(virtio-console)
	# virtio-9p: a shared directory.
	echo "run_9p_case virtio-9p $TOKEN-virtio-9p /coho run -k /Image ${GUEST[*]} --9p /tmp/share,hostshare -p '$(params virtio-9p "quiet coho_e2e_virtio coho_e2e_9p")'" >>"$CASES"
	KIND[virtio-9p]=9p
	ORDER+=(virtio-9p)
	# -d DIR: the directory becomes the 9p root (tag /dev/root, root= parameters added).
	echo "run_9p_case virtio-9p-root $TOKEN-virtio-9p-root /coho run -k /Image ${GUEST[*]} -d /tmp/share -p '$(params virtio-9p-root "quiet coho_e2e_virtio coho_e2e_root9p")'" >>"$CASES"
	KIND[virtio-9p-root]=9p-root
	ORDER+=(virtio-9p-root)
	# virtio-blk: a read-write and a read-only disk.
	echo "run_blk_case virtio-blk /coho run -k /Image ${GUEST[*]} -d /tmp/rw.img -d /tmp/ro.img,ro -p '$(params virtio-blk "quiet coho_e2e_virtio coho_e2e_blk")'" >>"$CASES"
	KIND[virtio-blk]=virtio-blk
	ORDER+=(virtio-blk)
	# virtio-net: a tap coho creates (and removes), with a host address and a chosen MAC.
	add_net_case virtio-net 10.0.2 cohonet0 02:00:00:aa:bb:01 no \
		-n mode=tap,tapif=cohonet0,host_ip=10.0.2.1/24,guest_mac=02:00:00:aa:bb:01
	# virtio-net on a persistent tap L1 made (coho attaches and leaves it), default MAC.
	echo "tunctl -t cohotap1 >/dev/null; ip addr add 10.0.3.1/24 dev cohotap1; ip link set cohotap1 up" >>"$CASES"
	add_net_case virtio-net-tunctl 10.0.3 cohotap1 02:43:4f:48:4f:00 yes -n tapif=cohotap1
	# vhost=1: the kernel's vhost-net moves the frames (its worker thread must exist).
	add_net_case virtio-net-vhost 10.0.6 cohonet6 02:43:4f:48:4f:00 no \
		-n mode=tap,tapif=cohonet6,host_ip=10.0.6.1/24,vhost=1
	# Every device again over virtio-mmio.
	add_case virtio-rng-mmio virtio-mmio /coho run -k /Image "${GUEST[@]}" --rng \
		--virtio-transport mmio -p "$(params virtio-rng-mmio "quiet coho_e2e_virtio")"
	echo "run_blk_case virtio-blk-mmio /coho run -k /Image ${GUEST[*]} --virtio-transport mmio -d /tmp/rw.img -d /tmp/ro.img,ro -p '$(params virtio-blk-mmio "quiet coho_e2e_virtio coho_e2e_blk")'" >>"$CASES"
	KIND[virtio-blk-mmio]=virtio-blk
	ORDER+=(virtio-blk-mmio)
	echo "run_9p_case virtio-9p-mmio $TOKEN-virtio-9p-mmio /coho run -k /Image ${GUEST[*]} --virtio-transport mmio --9p /tmp/share,hostshare -p '$(params virtio-9p-mmio "quiet coho_e2e_virtio coho_e2e_9p")'" >>"$CASES"
	KIND[virtio-9p-mmio]=9p
	ORDER+=(virtio-9p-mmio)
	echo "run_hvc_case virtio-console-mmio hello-hvc-$TOKEN /coho run -k /Image ${GUEST[*]} --virtio-transport mmio --console virtio -p '$(params virtio-console-mmio "quiet coho_e2e_virtio coho_e2e_hvc")'" >>"$CASES"
	KIND[virtio-console-mmio]=hvc
	ORDER+=(virtio-console-mmio)
	add_net_case virtio-net-mmio 10.0.4 cohonet4 02:43:4f:48:4f:00 no \
		--virtio-transport mmio -n tapif=cohonet4,host_ip=10.0.4.1,vhost=1
	# A guest reboot with --no-reboot: coho ends with its own exit code, 3.
	add_case reboot reset /coho run -k /Image "${GUEST[@]}" --no-reboot -p "$(params reboot "quiet coho_e2e_reboot")"
	# Console output blocked (stdout a pipe nobody reads): SIGTERM must still stop coho.
	add_case blocked blocked /blockpipe 100 -- /coho run -k /Image "${GUEST[@]}" \
		-p "$(params blocked "quiet coho_e2e_flood coho_e2e_hold")"
	# SIGTERM while the guest runs: stopped cleanly, 128 + 15, terminal restored.
	echo "run_signal_case sigterm TERM /coho run -k /Image ${GUEST[*]} -p '$(params sigterm "quiet coho_e2e_hold")'" >>"$CASES"
	KIND[sigterm]=signal
	ORDER+=(sigterm)
	cases_default_guest
}

# The default guest (issue #5): `coho run` with no -k boots L1's own kernel
# (/boot/vmlinuz-$(uname -r), a link to /Image made here) with coho's embedded
# init, L1's / read-only over 9p and a shell on the console. L1 gets the
# guest's modules as a Debian package installs them (lib/modules/RELEASE/
# kernel/..., modules.dep, modules.builtin). The shell runs on L1's / (busybox).
# Appends to run_real's files.
DG_LINE="coho: host / read-only at /, shell on the console (exit or Ctrl-D powers off)"
cases_default_guest() {
	local tree cmds
	e2e_mktemp tree
	e2e_module_tree "$tree" E2E_DG_MODULES "${E2E_L1_KERNEL:-$COHO_KERNEL}"
	# What the guest's shell is given once it is up ($T: the echo of a command
	# line never looks like its output).
	cmds=$tree/dg-cmds.sh
	printf '%s\n' 'T=COHO-DG' \
		'echo $T uname=$(uname -r)' \
		'echo $T root=$(ls /)' \
		'touch /x 2>/dev/null && echo $T write=rw || echo $T write=ro' \
		'echo $T rootmnt=$(awk '"'"'$2 == "/" { print $1, $3, substr($4, 1, 2) }'"'"' /proc/mounts)' \
		'echo $T 9p-mounts=$(grep -c " 9p " /proc/mounts)' \
		'echo $T tty=$(tty)' \
		'poweroff -f' >"$cmds"
	files+=(lib="$tree/lib" dg-cmds.sh="$cmds")
	# L1 has no /boot/vmlinuz-* yet: refused, naming the file.
	add_case default-guest-nokernel default-guest /coho run -c 1 -m 256
	echo 'mkdir -p /boot && ln -s /Image "/boot/vmlinuz-$(uname -r)"' >>"$CASES"
	echo "run_stdin_case default-guest /dg-cmds.sh /coho run -c 1 -m 256" >>"$CASES"
	# The commands as a script gives them: stdin is the file, read at once,
	# long before the guest's driver opens the UART (typeahead must survive).
	echo "run_stdin_case default-guest-piped @/dg-cmds.sh /coho run -c 1 -m 256" >>"$CASES"
	# stdin /dev/null: the guest's shell reads end of file at once and the guest powers off.
	echo "run_stdin_case default-guest-devnull /dev/null /coho run -c 1 -m 256" >>"$CASES"
	KIND[default-guest]=default-guest KIND[default-guest-devnull]=default-guest
	KIND[default-guest-piped]=default-guest
	ORDER+=(default-guest default-guest-piped default-guest-devnull)
}

# expect_default_guest NAME TEXT RC LOG: what the default guest printed.
expect_default_guest() {
	local n=$1 t=$2 rc=$3 log=$4 rel errs v
	rel=$(e2e_value "$(grep -m 1 '^COHO-L1 userspace ' "$log")" kernel)
	errs=$(printf '%s\n' "$t" | grep "^COHO-L1 stderr case=$n: " || true)
	case $n in
	default-guest-nokernel)
		expect_eq "$n: exit code 2" "$rc" 2
		expect_eq "$n: exactly one line on stderr, a 'coho: error:'" \
			"$(printf '%s\n' "$errs" | grep -c "coho: error: ")/$(printf '%s\n' "$errs" | grep -c .)" 1/1
		check "$n: the error names /boot/vmlinuz-$rel and -k" \
			bash -c '[[ $1 == *"/boot/vmlinuz-$2:"* && $1 == *"-k FILE"* ]]' _ "$errs" "$rel"
		return
		;;
	esac
	expect_eq "$n: exit code 0 (the guest powered off)" "$rc" 0
	expect_eq "$n: nothing on coho's stderr" "$errs" ""
	check "$n: coho's init says the shell is on the console" has_line "$t" "$DG_LINE"
	check "$n: no coho-init error" bash -c '! grep -q "coho-init:" <<<"$1"' _ "$t"
	[ "$n" = default-guest ] || [ "$n" = default-guest-piped ] || return 0
	expect_eq "$n: L1's release is the one its module tree is for" "$rel" "$L1_KVER"
	expect_eq "$n: the guest runs L1's kernel (uname -r)" "$(e2e_value "$t" "COHO-DG uname")" "$rel"
	v=$(e2e_value "$t" "COHO-DG root")
	check "$n: / is L1's / (coho, cases.sh and dg-cmds.sh in '$v')" \
		bash -c '[[ " $1 " == *" coho "* && " $1 " == *" cases.sh "* && " $1 " == *" dg-cmds.sh "* ]]' _ "$v"
	expect_eq "$n: / is read-only (touch fails)" "$(e2e_value "$t" "COHO-DG write")" ro
	expect_eq "$n: / is the 9p share hostroot, mounted ro" "$(e2e_value "$t" "COHO-DG rootmnt")" \
		"hostroot 9p ro"
	expect_match "$n: a 9p mount in /proc/mounts" "$(e2e_value "$t" "COHO-DG 9p-mounts")" '^[1-9]'
	expect_eq "$n: the shell's terminal is the console's own device" \
		"$(e2e_value "$t" "COHO-DG tty")" /dev/ttyS0
}

# add_net_case NAME NET TAP MAC TAP_STAYS ARGS...: a virtio-net guest at NET.15
# talking to L1 at NET.1 over TAP; ARGS are coho's network options.
declare -A NET_MAC=() NET_TAP_STAYS=()
add_net_case() {
	local name=$1 net=$2 tap=$3 mac=$4 stays=$5 arg line
	shift 5
	line="run_net_case $name $net.15 $tap /coho run -k /Image ${GUEST[*]}"
	for arg; do line+=" $(sq "$arg")"; done
	line+=" -p $(sq "$(params "$name" "quiet coho_e2e_virtio coho_e2e_net=$net.15,$net.1")")"
	echo "$line" >>"$CASES"
	KIND[$name]=net
	NET_MAC[$name]=$mac
	NET_TAP_STAYS[$name]=$stays
	ORDER+=("$name")
}

cases_gicv2() {
	# No ITS: virtio-pci falls back to INTx.
	add_case virtio-rng-intx virtio-intx /coho run -k /Image "${GUEST[@]}" --irqchip gicv2 --rng \
		-p "$(params virtio-rng-intx "quiet coho_e2e_virtio")"
	add_net_case virtio-net-intx 10.0.5 cohonet5 02:43:4f:48:4f:00 no \
		--irqchip gicv2 -n mode=tap,tapif=cohonet5,host_ip=10.0.5.1/24
	add_case image-gicv2 linux /coho run -k /Image "${GUEST[@]}" --irqchip gicv2 \
		-p "$(params image-gicv2 quiet)"
	add_case image-gicv2-auto linux /coho run -k /Image "${GUEST[@]}" --irqchip auto \
		-p "$(params image-gicv2-auto quiet)"
}

# The VFIO boot: L1 has an SMMUv3 and two PCI devices to give coho, QEMU's edu
# (1234:11e8) and ivshmem-plain (1af4:1110, its BAR2 backed by $VFIO_SHM).
# l1-init.sh's vfio_find sets $EDU_BDF and $IVSHMEM_BDF for the case lines
# (written raw, so that L1 expands them); vfio_setup binds both to vfio-pci.
# VFIO_BDF[case]: the BDF a vfio-error case passes, "@edu"/"@ivshmem" for the
# one L1 found; VFIO_ERE[case]: what its error line must say besides the BDF.
VFIO_NODEV=0000:00:1f.7
declare -A VFIO_BDF=() VFIO_ERE=()
VFIO_DEV_EDU='$EDU_BDF'
cases_vfio() {
	# A device that is not bound to vfio-pci (no driver at all, before
	# vfio_setup): refused, and its driver (none) and driver_override left alone.
	{
		echo "vfio_find"
		echo "run_case vfio-err-unbound /coho run -k /Image ${GUEST[*]} -p '$(params vfio-err-unbound quiet)' --vfio-pci \"\$IVSHMEM_BDF\""
		echo "vfio_state vfio-err-unbound \"\$IVSHMEM_BDF\""
	} >>"$CASES"
	KIND[vfio-err-unbound]=vfio-error VFIO_BDF[vfio-err-unbound]=@ivshmem
	# (the driver's name, not only the option's: "--vfio-pci" alone is not enough)
	VFIO_ERE[vfio-err-unbound]='(^|[^-])vfio-pci'
	ORDER+=(vfio-err-unbound)
	# Both devices bound to vfio-pci, each with its /dev/vfio/GROUP.
	echo "vfio_setup vfio-setup" >>"$CASES"
	KIND[vfio-setup]=vfio-setup
	ORDER+=(vfio-setup)
	# A device L1 does not have.
	add_case vfio-err-nodev vfio-error /coho run -k /Image "${GUEST[@]}" \
		-p "$(params vfio-err-nodev quiet)" --vfio-pci "$VFIO_NODEV"
	VFIO_BDF[vfio-err-nodev]=$VFIO_NODEV
	# The passthrough bridge's dma-coherent: coho's own decision (from --debug)
	# must be what L2 sees, and coherent=on|off must override it.
	local c
	for c in auto on off; do
		local opt=$VFIO_DEV_EDU
		[ "$c" = auto ] || opt+=",coherent=$c"
		echo "run_case vfio-coherent-$c /coho run -k /Image ${GUEST[*]} --rng --debug -p '$(params "vfio-coherent-$c" "quiet coho_e2e_virtio")' --vfio-pci \"$opt\"" >>"$CASES"
		KIND[vfio-coherent-$c]=vfio-coherent
		ORDER+=("vfio-coherent-$c")
	done
	# Both devices passed through with the default BAR policies (edu's BAR0
	# uc, ivshmem's prefetchable BAR2 wc): what L2 reads and writes, edu's DMA,
	# MSI and INTx, and how each BAR was mapped on this L1 kernel.
	echo "run_case vfio-passthrough /coho run -k /Image ${GUEST[*]} --debug -p '$(params vfio-passthrough "quiet coho_e2e_vfio")' --vfio-pci \"\$EDU_BDF\" --vfio-pci \"\$IVSHMEM_BDF\"" >>"$CASES"
	KIND[vfio-passthrough]=vfio-pass
	ORDER+=(vfio-passthrough)
	# The policies turned around: edu's BAR0 wc, ivshmem's BAR2 uc.
	echo "run_case vfio-policy /coho run -k /Image ${GUEST[*]} --debug -p '$(params vfio-policy "quiet coho_e2e_vfio coho_e2e_shm_page=32")' --vfio-pci \"\$EDU_BDF,bar0=wc\" --vfio-pci \"\$IVSHMEM_BDF,bar2=uc\"" >>"$CASES"
	KIND[vfio-policy]=vfio-pass
	ORDER+=(vfio-policy)
	# A virtio-rng-pci of L1's QEMU passed through: MSI-X (the table trapped
	# and emulated, the rest of its BAR mapped), DMA, L2's own virtio driver.
	echo "run_case vfio-msix /coho run -k /Image ${GUEST[*]} --debug -p '$(params vfio-msix "quiet coho_e2e_virtio")' --vfio-pci \"\$RNG_BDF\"" >>"$CASES"
	KIND[vfio-msix]=vfio-msix
	ORDER+=(vfio-msix)
}

# Cases for scripts and CI (issue #5), each run as a script would: stdin
# from /dev/null, stdout to a file, exit codes and outcomes checked.
cases_scripts() {
	local n
	sc() { RUNNER=run_script_case add_case "$@"; } # a run_script_case line
	sc sc-poweroff sc-poweroff /coho run -k /Image "${GUEST[@]}" \
		--console-log /tmp/conlog.sc-poweroff -p "$(params sc-poweroff quiet)"
	# panic=-1: the kernel resets right after its panic report.
	sc sc-panic sc-panic /coho run -k /Image "${GUEST[@]}" --console-log /tmp/conlog.sc-panic \
		-p "$(params sc-panic "quiet coho_e2e_panic")"
	# panic=0: the kernel halts after its report; coho must notice and stop it.
	sc sc-panic-halt sc-panic /coho run -k /Image "${GUEST[@]}" \
		--console-log /tmp/conlog.sc-panic-halt \
		-p "console=ttyS0 panic=0 quiet coho_e2e_panic coho_e2e=$TOKEN-sc-panic-halt"
	# --timeout 5: the guest is still booting under nested emulation when it expires.
	sc sc-timeout sc-timeout /coho run -k /Image "${GUEST[@]}" --timeout 5 \
		-p "$(params sc-timeout "quiet coho_e2e_ticks")"
	# --timeout 20: L2 is counting in userspace when it expires.
	sc sc-timeout-ticks sc-timeout /coho run -k /Image "${GUEST[@]}" --timeout 20 \
		-p "$(params sc-timeout-ticks "quiet coho_e2e_ticks")"
	sc sc-missing-kernel sc-usage /coho run -k /no-such-kernel "${GUEST[@]}" \
		--console-log /tmp/conlog.sc-missing-kernel-not-created
	echo "truncate -s 1M /tmp/bootcount.img" >>"$CASES"
	sc sc-reboot-once sc-reboot-once /coho run -k /Image "${GUEST[@]}" -d /tmp/bootcount.img \
		--debug --console-log /tmp/conlog.sc-reboot-once \
		-p "$(params sc-reboot-once "quiet coho_e2e_reboot_once")"
	sc sc-reboot-limit sc-reboot-limit /coho run -k /Image "${GUEST[@]}" --reboot-limit 2 \
		--console-log /tmp/conlog.sc-reboot-limit -p "$(params sc-reboot-limit "quiet coho_e2e_reboot")"
	echo "say \"conlog-missing-kernel exists=\$([ -e /tmp/conlog.sc-missing-kernel-not-created ] && echo yes || echo no)\"" >>"$CASES"
	# The control commands, against a guest running in the background.
	echo "ctl_case sc-control /coho run -k /Image -i /l2.cpio.gz -c 2 -m 256 -p '$(params sc-control "quiet coho_e2e_ticks")'" >>"$CASES"
	KIND[sc-control]=sc-control
	ORDER+=(sc-control)
}

# expect_script NAME TEXT RC LOG: what a cases_scripts case must show.
expect_script() {
	local n=$1 t=$2 rc=$3 log=$4 secs conlog
	secs=$(e2e_value "$(printf '%s\n' "$t" | tail -n 1)" seconds | cut -d' ' -f1)
	conlog=$(printf '%s\n' "$t" | grep "^COHO-L1 console-log case=$n " | tail -n 1 || true)
	case ${KIND[$n]} in
	sc-poweroff)
		expect_eq "$n: exit code 0 (guest powered off)" "$rc" 0
		check "$n: L2 reached userspace" has_line "$t" "COHO-L2 userspace"
		;;
	sc-panic)
		expect_eq "$n: exit code 4 (guest panicked)" "$rc" 4
		check "$n: L2 triggered the panic" has_line "$t" "COHO-L2 panicking"
		check "$n: the panic report is in what coho printed" has_line "$t" "Kernel panic - not syncing"
		check "$n: stopped within 30 s" awk -v s="$secs" 'BEGIN { exit !(s < 30) }'
		;;
	sc-timeout)
		local lim=5
		[ "$n" = sc-timeout ] || lim=20
		expect_eq "$n: exit code 7 (--timeout $lim)" "$rc" 7
		[ "$lim" = 5 ] || check "$n: the guest was running (ticks printed)" has_line "$t" "COHO-L2 tick=1"
		check "$n: stopped after $lim s, within $lim s + 5 s margin (took ${secs}s)" \
			awk -v s="$secs" -v l="$lim" 'BEGIN { exit !(s >= l && s < l + 5) }'
		check "$n: one warning says why" has_line "$t" "coho: warning: --timeout: the guest ran for $lim s"
		;;
	sc-usage)
		expect_eq "$n: exit code 2 (missing kernel)" "$rc" 2
		expect_eq "$n: exactly one error line" \
			"$(printf '%s\n' "$t" | grep -c "^COHO-L1 stderr case=$n: coho: error:")" 1
		check "$n: no --console-log file left behind" has_line "$(cat "$log")" "COHO-L1 conlog-missing-kernel exists=no"
		;;
	sc-reboot-once)
		expect_eq "$n: exit code 0 (powered off after one reboot)" "$rc" 0
		check "$n: first boot counted 1 and rebooted" has_line "$t" "COHO-L2 boot-count=1"
		check "$n: second boot counted 2" has_line "$t" "COHO-L2 boot-count=2"
		expect_eq "$n: two boots in the console log (L2 userspace twice)" \
			"$(printf '%s\n' "$t" | grep -c '^COHO-L2 userspace')" 2
		check "$n: --debug shows the first cleaning pass" has_line "$t" "clean boot: "
		check "$n: --debug shows the second cleaning pass (reboot 1)" has_line "$t" "clean reboot 1: "
		check "$n: the reboot re-cleaned the kernel (tens of MB)" bash -c \
			'printf "%s\n" "$1" | grep -E "clean reboot 1: [0-9]+ ranges, [0-9]{8,} bytes" -q' _ "$t"
		;;
	sc-control)
		local v
		v=$(e2e_value "$t" "COHO-L1 ctl-list rc" || true)
		check "$n: coho list shows the guest by name, with its PID, running" \
			bash -c 'printf "%s\n" "$1" | grep -Eq "^0 e2e-ctl [0-9]+ running$"' _ "$v"
		check "$n: coho list shows it paused while paused" has_line "$t" "COHO-L1 ctl-list-paused e2e-ctl"
		check "$n: ... as paused" bash -c 'printf "%s\n" "$1" | grep -q "ctl-list-paused e2e-ctl [0-9]* paused"' _ "$t"
		expect_eq "$n: socket directory 0700, socket 0600" \
			"$(e2e_value "$t" "COHO-L1 ctl-modes dir" | cut -d' ' -f1) $(e2e_value "$t" "COHO-L1 ctl-modes dir" | sed 's/.* sock=\([0-9]*\).*/\1/')" "700 600"
		for v in pause resume sysrq stop; do
			expect_eq "$n: coho $v exits 0" "$(e2e_value "$t" "COHO-L1 ctl-$v rc" | cut -d' ' -f1)" 0
		done
		v=$(printf '%s\n' "$t" | grep '^COHO-L1 ctl-ticks ' | tail -n 1 || true)
		local a b c
		a=$(e2e_value "$v" paused_from | cut -d' ' -f1) b=$(e2e_value "$v" paused_to | cut -d' ' -f1)
		c=$(e2e_value "$v" resumed_to | cut -d' ' -f1)
		check "$n: the guest counted before the pause ($a ticks)" [ "${a:-0}" -ge 3 ]
		expect_eq "$n: paused: no tick in 2 s" "$b" "$a"
		check "$n: resumed: it counts again ($b -> $c)" [ "${c:-0}" -gt "${b:-0}" ]
		v=$(printf '%s\n' "$t" | grep '^COHO-L1 ctl-dump ' | tail -n 1 || true)
		expect_eq "$n: coho debug dumps both vCPUs' registers" \
			"$(e2e_value "$v" rc | cut -d' ' -f1) $(e2e_value "$v" vcpus | cut -d' ' -f1) $(e2e_value "$v" pcs | cut -d' ' -f1)" "0 2 2"
		check "$n: the SysRq key reached the guest's kernel (sysrq: in its output)" \
			bash -c '[ "$(printf "%s\n" "$1" | sed -n "s/^COHO-L1 ctl-sysrq-seen=//p")" -ge 1 ]' _ "$t"
		v=$(printf '%s\n' "$t" | grep '^COHO-L1 ctl-nosuch ' | tail -n 1 || true)
		expect_eq "$n: a wrong name: exit 2" "$(e2e_value "$v" rc | cut -d' ' -f1)" 2
		check "$n: ... with one error naming it" has_line "$v" "coho: error: stop: no guest named no-such-guest is running"
		expect_eq "$n: coho stop ends the guest: coho exits 0, its socket is gone" \
			"$(e2e_value "$t" "COHO-L1 ctl-exit rc")" "0 sock=gone"
		expect_eq "$n: coho list no longer shows it" "$(e2e_value "$t" "COHO-L1 ctl-list-after lines")" 0
		expect_eq "$n: SIGKILL leaves a stale socket" "$(e2e_value "$t" "COHO-L1 ctl-stale left")" yes
		expect_eq "$n: coho list removes the stale socket" "$(e2e_value "$t" "COHO-L1 ctl-stale after-list")" no
		;;
	sc-reboot-limit)
		expect_eq "$n: exit code 3 (reboot limit)" "$rc" 3
		expect_eq "$n: three boots: the first and 2 reboots" \
			"$(printf '%s\n' "$t" | grep -c '^COHO-L2 rebooting')" 3
		check "$n: one warning names the limit" has_line "$t" "--reboot-limit is 2"
		;;
	esac
	if [ -n "$conlog" ]; then
		expect_eq "$n: --console-log holds exactly what coho printed" "$(e2e_value "$conlog" same | cut -d' ' -f1)" yes
	fi
}

# vfio_shm FILE: the ivshmem backing file, 1 MiB with 64 KiB of random bytes
# at the start. Sets SHM_SHA (sha256 of those 64 KiB) and SHM_SAMPLE_SHA (of
# the 32-bit words at every KiB of them as "0x%08x" lines: l2-init.sh's
# devmem sample).
vfio_shm() {
	head -c 65536 /dev/urandom >"$1"
	truncate -s 1M "$1"
	SHM_SHA=$(head -c 65536 "$1" | sha256sum | cut -d' ' -f1)
	SHM_SAMPLE_SHA=$(od -An -v -tx4 -w4 -N 65536 "$1" |
		awk 'NR % 256 == 1 { print "0x" $1 }' | sha256sum | cut -d' ' -f1)
}

# --- assertions ---------------------------------------------------------

# expect_linux NAME TEXT RC GIC_ERE SERIAL_KEY: what an L2 Linux guest reported.
expect_linux() {
	local n=$1 t=$2 rc=$3 gic=$4 serial=$5 v base size
	expect_eq "$n: exit code 0 (guest powered off)" "$rc" 0
	check "$n: L2 reached userspace" has_line "$t" "COHO-L2 userspace"
	expect_eq "$n: L2 sees 2 CPUs" "$(e2e_value "$t" "COHO-L2 cpus")" 2
	v=$(e2e_value "$t" "COHO-L2 cmdline")
	expect_match "$n: -p reached /proc/cmdline" "$v" "(^| )coho_e2e=$TOKEN-$n( |\$)"
	v=$(e2e_value "$t" "COHO-L2 payload")
	expect_eq "$n: initrd payload sha256 matches the host's" "$(first_word "$v")" "$PAYLOAD_SHA"
	expect_match "$n: DT psci compatible" "$(e2e_value "$t" "COHO-L2 dt-psci")" \
		'arm,psci-(0\.2|1\.0).* method=(hvc|smc)'
	expect_match "$n: DT has an arm,armv8-timer node" "$(e2e_value "$t" "COHO-L2 dt-timer")" '^/'
	expect_match "$n: DT has a ${serial/serial/ns16550a} serial node" \
		"$(e2e_value "$t" "COHO-L2 dt-$serial")" '^/'
	expect_match "$n: DT interrupt controller" "$(e2e_value "$t" "COHO-L2 dt-gic")" "$gic"
	v=$(e2e_value "$t" "COHO-L2 dt-memory")
	base=${v#* base=} base=${base%% *} size=${v##* size=}
	if [[ $base =~ ^0x[0-9a-f]+$ && $size =~ ^0x[0-9a-f]+$ ]] &&
		[ $((base)) -eq $((0x40000000)) ] && [ $((size)) -eq $((256 << 20)) ]; then
		ok "$n: DT memory node is 256 MiB at 0x40000000"
	else
		not_ok "$n: DT memory node is 256 MiB at 0x40000000 (got '$v')"
	fi
	expect_match "$n: DT chosen/linux,initrd-start" "$(e2e_value "$t" "COHO-L2 dt-initrd")" \
		'^0x[0-9a-f]+-0x[0-9a-f]+$'
	check "$n: L2 init ran to the end" has_line "$t" "COHO-L2 done"
}

# expect_firmware NAME TEXT RC
expect_firmware() {
	local n=$1 t=$2 rc=$3
	expect_eq "$n: exit code 0 (PSCI SYSTEM_OFF)" "$rc" 0
	check "$n: firmware printed on the UART" has_line "$t" "COHO-FW hello"
	check "$n: x0 points at an FDT readable with the MMU off" has_line "$t" "COHO-FW dtb=ok"
	if has_line "$t" "COHO-FW system-off returned"; then
		not_ok "$n: PSCI SYSTEM_OFF ended the VM (the call returned)"
	else
		ok "$n: PSCI SYSTEM_OFF ended the VM"
	fi
}

# expect_error NAME TEXT RC: coho must refuse with exit code 2 and one error line.
expect_error() {
	local n=$1 t=$2 rc=$3 errs
	expect_eq "$n: exit code 2" "$rc" 2
	errs=$(printf '%s\n' "$t" | grep -c "^COHO-L1 stderr case=$n: coho: error: " || true)
	expect_eq "$n: one 'coho: error:' line on stderr" "$errs" 1
}

# expect_dtb NAME TEXT RC LOG: --dump-dtb wrote a valid DTB of this VM.
expect_dtb() {
	local n=$1 t=$2 rc=$3 log=$4 dtb v
	dtb=$E2E_OUT/logs/$n.dtb
	expect_eq "$n: exit code 0" "$rc" 0
	expect_match "$n: the dump starts with the FDT magic" "$(e2e_value "$(grep "^COHO-L1 file case=$n " "$log")" magic)" '^d00dfeed$'
	awk -v b="COHO-L1 base64-begin case=$n" -v e="COHO-L1 base64-end case=$n" \
		'$0 == e { on = 0 } on { print } $0 == b { on = 1 }' "$log" | base64 -d >"$dtb" 2>/dev/null || true
	if dtc -q -I dtb -O dts -o "$dtb.dts" "$dtb" 2>/dev/null; then
		ok "$n: dtc decodes the dump ($dtb.dts)"
	else
		not_ok "$n: dtc decodes the dump"
		return 0
	fi
	expect_match "$n: DT /chosen/bootargs is the -p text" \
		"$(fdtget -t s "$dtb" /chosen bootargs 2>&1)" "coho_e2e=$TOKEN-$n( |\$)"
	for v in arm,armv8-timer ns16550a arm,psci arm,gic-v3 linux,initrd-start; do
		check "$n: the dumped DT mentions $v" grep -q -- "$v" "$dtb.dts"
	done
}

# expect_reset NAME TEXT RC: the guest rebooted under --no-reboot; coho ends with exit code 3.
expect_reset() {
	local n=$1 t=$2 rc=$3
	check "$n: L2 reached userspace and asked for a reboot" has_line "$t" "COHO-L2 rebooting"
	expect_eq "$n: exit code 3 (guest reboot with --no-reboot)" "$rc" 3
}

# expect_blocked NAME TEXT RC: stopped by SIGTERM while its output was blocked.
expect_blocked() {
	local n=$1 t=$2 rc=$3 ds
	local line ms
	line=$(printf '%s\n' "$t" | grep '^blockpipe: ' | tail -n 1)
	expect_eq "$n: console output was blocked (pipe full) when the signal came" \
		"$(e2e_value "$line" full | cut -d' ' -f1)" 1
	expect_eq "$n: exit code 143 (128 + SIGTERM)" "$(e2e_value "$line" rc | cut -d' ' -f1)" 143
	ms=$(e2e_value "$line" after_signal_ms)
	if [[ $ms =~ ^[0-9]+$ ]] && [ "$ms" -le 5000 ]; then
		ok "$n: exited within 5 s of the signal (${ms} ms)"
	else
		not_ok "$n: exited within 5 s of the signal (got '${ms}' ms)"
	fi
}

# expect_virtio NAME TEXT RC MSI(yes/no) [mmio]: a guest with virtio-rng on the
# virtio bridge (or on virtio-mmio).
expect_virtio() {
	local n=$1 t=$2 rc=$3 msi=$4 transport=${5:-pci} v
	expect_eq "$n: exit code 0" "$rc" 0
	check "$n: L2 reached userspace" has_line "$t" "COHO-L2 userspace"
	check "$n: no module failed to load" bash -c "! grep -q 'COHO-L2 insmod-failed' <<<\"\$1\"" _ "$t"
	expect_transport "$n" "$t" "$transport"
	expect_match "$n: the guest's hwrng is virtio" "$(e2e_value "$t" "COHO-L2 rng-current")" '^virtio'
	expect_eq "$n: 4096 bytes read from /dev/hwrng" "$(e2e_value "$t" "COHO-L2 rng-bytes")" 4096
	v=$(e2e_value "$t" "COHO-L2 rng-distinct")
	if [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 200 ]; then
		ok "$n: the bytes look random ($v distinct byte values in 4096)"
	else
		not_ok "$n: the bytes look random (got '$v' distinct byte values)"
	fi
	v=$(e2e_value "$t" "COHO-L2 msi-irqs")
	if [ "$msi" = yes ]; then
		check "$n: the guest uses MSIs ($v lines in /proc/interrupts)" [ "${v:-0}" -ge 1 ]
	fi
}

# expect_transport NAME TEXT pci|mmio: the devices' DT nodes are dma-coherent.
expect_transport() {
	local n=$1 t=$2
	if [ "$3" = mmio ]; then
		expect_match "$n: the virtio-mmio nodes are dma-coherent in the guest's DT" \
			"$(e2e_value "$t" "COHO-L2 dt-virtio-mmio")" '^/virtio_mmio@a[0-9a-f]*000 dma-coherent=yes$'
		check "$n: no virtio PCI bridge with --virtio-transport mmio" \
			bash -c "! grep -q 'COHO-L2 dt-pci-bridge' <<<\"\$1\"" _ "$t"
	else
		expect_match "$n: the virtio PCI bridge is dma-coherent in the guest's DT" \
			"$(e2e_value "$t" "COHO-L2 dt-pci-bridge")" '^/pci@10000000 dma-coherent=yes$'
	fi
}

# expect_net NAME TEXT RC LOG: both directions over the tap, and the tap's fate.
expect_net() {
	local n=$1 t=$2 rc=$3 log=$4 before fetch after v
	before=$(grep "^COHO-L1 net-before case=$n " "$log" | tail -n 1 || true)
	fetch=$(grep "^COHO-L1 net-fetch case=$n " "$log" | tail -n 1 || true)
	after=$(grep "^COHO-L1 net-after case=$n " "$log" | tail -n 1 || true)
	expect_eq "$n: exit code 0" "$rc" 0
	check "$n: no module failed to load" bash -c "! grep -q 'COHO-L2 insmod-failed' <<<\"\$1\"" _ "$t"
	expect_transport "$n" "$t" "$(case $n in *-mmio) echo mmio ;; *) echo pci ;; esac)"
	expect_eq "$n: the guest's MAC" "$(e2e_value "$t" "COHO-L2 net-mac")" "${NET_MAC[$n]}"
	expect_eq "$n: L2 pinged L1 over the tap" "$(e2e_value "$t" "COHO-L2 net-ping")" ok
	expect_eq "$n: L2 fetched L1's file intact (wget, sha256)" "$(e2e_value "$t" "COHO-L2 net-get")" \
		"0 sha=$(e2e_value "$before" sha | cut -d' ' -f1)"
	expect_eq "$n: L1 fetched L2's file intact (wget, sha256)" "$(e2e_value "$fetch" rc)" \
		"0 sha=$PAYLOAD_SHA"
	expect_eq "$n: L2 was told to finish over the network" "$(e2e_value "$t" "COHO-L2 net-bye")" 0
	v=$(e2e_value "$(grep "^COHO-L1 net-vhost case=$n " "$log" | tail -n 1)" threads)
	case $n in
	*-vhost | *-mmio) expect_eq "$n: vhost-net worker thread while the guest ran" "$v" 1 ;;
	*) expect_eq "$n: no vhost-net worker without vhost=1" "$v" 0 ;;
	esac
	expect_eq "$n: the tap $( [ "${NET_TAP_STAYS[$n]}" = yes ] && echo "L1 made is still there" ||
		echo "coho made is gone") after exit" "$(e2e_value "$after" tap-exists)" "${NET_TAP_STAYS[$n]}"
}

# expect_blk NAME TEXT RC LOG: the disks' contents as seen by L2 and left in L1.
expect_blk() {
	local n=$1 t=$2 rc=$3 log=$4 before after
	before=$(grep "^COHO-L1 blk-before case=$n " "$log" | tail -n 1 || true)
	after=$(grep "^COHO-L1 blk-after case=$n " "$log" | tail -n 1 || true)
	expect_eq "$n: exit code 0" "$rc" 0
	expect_eq "$n: L2 read the rw disk intact (sha256)" "$(e2e_value "$t" "COHO-L2 blk-rw-sha")" \
		"$(e2e_value "$before" rw | cut -d' ' -f1)"
	expect_eq "$n: L2 read the ro disk intact (sha256)" "$(e2e_value "$t" "COHO-L2 blk-ro-sha")" \
		"$(e2e_value "$before" ro | cut -d' ' -f1)"
	expect_eq "$n: the ro disk is read-only in L2" "$(e2e_value "$t" "COHO-L2 blk-ro-flag")" 1
	expect_eq "$n: writing the ro disk fails in L2" "$(e2e_value "$t" "COHO-L2 blk-ro-write")" refused
	expect_eq "$n: the ro image is unchanged" "$(e2e_value "$after" ro | cut -d' ' -f1)" \
		"$(e2e_value "$before" ro | cut -d' ' -f1)"
	expect_eq "$n: L2's write reached the rw image" "$(e2e_value "$after" sector1)" \
		"COHO-WRITTEN-$TOKEN-$n"
	expect_match "$n: the disk has a serial number" "$(e2e_value "$t" "COHO-L2 blk-serial")" '^coho-disk0'
}

# expect_hvc NAME TEXT RC: virtio-console in both directions.
expect_hvc() {
	local n=$1 t=$2 rc=$3
	expect_eq "$n: exit code 0" "$rc" 0
	check "$n: what L2 wrote to hvc0 came out of coho" has_line "$t" "COHO-HVC out-$TOKEN-$n"
	expect_eq "$n: what was piped into coho arrived on L2's hvc0" \
		"$(e2e_value "$t" "COHO-L2 hvc-in")" "hello-hvc-$TOKEN"
}

# expect_9p NAME TEXT RC LOG: the share, seen from both sides.
expect_9p() {
	local n=$1 t=$2 rc=$3 log=$4 before after
	before=$(grep "^COHO-L1 9p-before case=$n " "$log" | tail -n 1 || true)
	after=$(grep "^COHO-L1 9p-after case=$n " "$log" | tail -n 1 || true)
	expect_eq "$n: exit code 0" "$rc" 0
	expect_eq "$n: L2 mounted the share" "$(e2e_value "$t" "COHO-L2 9p-mount")" 0
	expect_eq "$n: L2 read the host's file intact (sha256)" \
		"$(e2e_value "$t" "COHO-L2 9p-hello-sha")" "$(e2e_value "$before" sha)"
	expect_eq "$n: cp -a of a tree with a symlink into the share" \
		"$(e2e_value "$t" "COHO-L2 9p-cp-a")" ok
	expect_eq "$n: L2's file reached the host" \
		"$(e2e_value "$after" guestfile | cut -d' ' -f1)" "written-by-L2-$TOKEN-$n"
	expect_eq "$n: the symlink arrived as a symlink" "$(e2e_value "$after" link | cut -d' ' -f1)" f
	expect_eq "$n: nothing outside the share was visible" \
		"$(e2e_value "$t" "COHO-L2 9p-outside-visible")" 0
	expect_eq "$n: nothing appeared outside the share" "$(e2e_value "$after" newoutside)" 0
}

# expect_9p_root NAME TEXT RC LOG: -d DIR as the root: the share tagged
# /dev/root and kvmtool's root= parameters on the guest's command line.
expect_9p_root() {
	local n=$1 t=$2 rc=$3 log=$4 sha
	sha=$(e2e_value "$(grep "^COHO-L1 9p-before case=$n " "$log" | tail -n 1)" sha)
	expect_eq "$n: exit code 0" "$rc" 0
	expect_match "$n: L1 exported a file" "$sha" '^[0-9a-f]{64}$'
	expect_eq "$n: L2 mounted the /dev/root share" "$(e2e_value "$t" "COHO-L2 root9p-mount")" 0
	expect_eq "$n: L2 read the host's file intact (sha256)" \
		"$(e2e_value "$t" "COHO-L2 root9p-hello-sha")" "$sha"
	expect_eq "$n: root=/dev/root on the command line" \
		"$(e2e_value "$t" "COHO-L2 root9p-root")" /dev/root
	expect_eq "$n: rootfstype=9p on the command line" \
		"$(e2e_value "$t" "COHO-L2 root9p-rootfstype")" 9p
}

# expect_signal NAME TEXT RC: coho stopped by SIGTERM while L2 was running.
expect_signal() {
	local n=$1 t=$2 rc=$3
	check "$n: L2 was up when the signal came" has_line "$t" "COHO-L2 holding"
	expect_eq "$n: exit code 143 (128 + SIGTERM)" "$rc" 143
}

# vfio_found LOG DEV: the BDF of L1's edu or ivshmem device ("none" if absent).
vfio_found() {
	e2e_value "$(grep "^COHO-L1 vfio-found dev=$2 " "$1" | tail -n 1)" bdf | cut -d' ' -f1
}

# expect_vfio_setup NAME TEXT RC LOG: L1 found edu, ivshmem and virtio-rng
# (without a driver, except virtio-rng on kernels with virtio-pci built in)
# and bound them to vfio-pci, each in its own group with a /dev/vfio node.
expect_vfio_setup() {
	local n=$1 t=$2 rc=$3 log=$4 dev line group groups=()
	expect_eq "$n: both devices bound (rc 0)" "$rc" 0
	expect_eq "$n: L1 has the vfio-pci driver" \
		"$(e2e_value "$(grep '^COHO-L1 vfio-pci-driver=' "$log")" "COHO-L1 vfio-pci-driver" | cut -d' ' -f1)" yes
	for dev in edu ivshmem virtio-rng; do
		line=$(grep "^COHO-L1 vfio-found dev=$dev " "$log" | tail -n 1 || true)
		expect_match "$n: L1 has QEMU's $dev device" "$(vfio_found "$log" $dev)" \
			'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$'
		if [ "$dev" != virtio-rng ]; then
			expect_eq "$n: no L1 driver had $dev" "$(e2e_value "$line" driver)" none
		else
			# Debian 13 builds virtio-pci in: L1 drives the virtio-rng until it is bound.
			expect_match "$n: no L1 driver but virtio-pci had $dev" \
				"$(e2e_value "$line" driver)" '^(none|virtio-pci)$'
		fi
		line=$(printf '%s\n' "$t" | grep "^COHO-L1 vfio dev=$dev " | tail -n 1 || true)
		expect_eq "$n: $dev is bound to vfio-pci" "$(e2e_value "$line" driver)" vfio-pci
		group=$(e2e_value "$line" group | cut -d' ' -f1)
		expect_match "$n: $dev has an IOMMU group" "$group" '^[0-9]+$'
		expect_eq "$n: /dev/vfio/$group exists for $dev" "$(e2e_value "$line" devnode | cut -d' ' -f1)" yes
		groups+=("$group")
	done
	check "$n: each device has its own group (${groups[*]})" \
		[ "$(printf '%s\n' "${groups[@]}" | sort -u | wc -l)" = 3 ]
}

# expect_vfio_coherent NAME TEXT RC: the guest boots; its DT has exactly one
# passthrough bridge, at 0x11000000 with dma-coherent if coho decided
# "coherent" (or was told coherent=on), at 0x11800000 without it otherwise.
expect_vfio_coherent() {
	local n=$1 t=$2 rc=$3 decided want
	expect_eq "$n: exit code 0" "$rc" 0
	check "$n: L2 reached userspace" has_line "$t" "COHO-L2 userspace"
	decided=$(printf '%s\n' "$t" | sed -n 's/.*coho: debug: .*vfio [0-9a-f:.]*: DMA \(coherent\|not coherent\):.*/\1/p' | head -n 1)
	case $n in
	*-on) expect_eq "$n: coho decided coherent (coherent=on)" "$decided" coherent ;;
	*-off) expect_eq "$n: coho decided not coherent (coherent=off)" "$decided" "not coherent" ;;
	*) expect_match "$n: coho logged its decision and why" \
		"$(printf '%s\n' "$t" | grep -o 'DMA [a-z ]*: as the host says; IOMMU [a-z ]* coherent DMA; .*' | head -n 1)" \
		'^DMA (coherent|not coherent): as the host says; IOMMU (enforces|does not enforce) coherent DMA; (no )?dma-coherent' ;;
	esac
	if [ "$decided" = coherent ]; then want="/pci@11000000 dma-coherent=yes"; else want="/pci@11800000 dma-coherent=no"; fi
	# --rng adds the virtio bridge (pci@10000000), always dma-coherent, to the same DT.
	expect_eq "$n: the guest's virtio bridge is dma-coherent next to the passthrough bridge" \
		"$(printf '%s\n' "$t" | grep '^COHO-L2 dt-pci-bridge=/pci@10000000 ' | sed 's/^COHO-L2 dt-pci-bridge=//')" \
		"/pci@10000000 dma-coherent=yes"
	expect_eq "$n: the guest's passthrough bridge matches the decision" \
		"$(printf '%s\n' "$t" | grep '^COHO-L2 dt-pci-bridge=/pci@11' | sed 's/^COHO-L2 dt-pci-bridge=//' | tr '\n' ';')" "$want;"
	check "$n: --debug says which bridge the device went on" has_line "$t" "on the $([ "$want" = "/pci@11000000 dma-coherent=yes" ] && echo dma-coherent || echo non-coherent) bridge"
}

# expect_vfio_error NAME TEXT RC LOG: --vfio-pci refused (exit 2, one error
# line) with the BDF (and VFIO_ERE[NAME]) in the message; a device L1 has
# keeps its driver and driver_override.
expect_vfio_error() {
	local n=$1 t=$2 rc=$3 log=$4 bdf line st
	bdf=${VFIO_BDF[$n]}
	case $bdf in @*) bdf=$(vfio_found "$log" "${bdf#@}") ;; esac
	expect_error "$n" "$t" "$rc"
	line=$(printf '%s\n' "$t" | sed -n "s/^COHO-L1 stderr case=$n: coho: error: //p" | head -n 1)
	expect_match "$n: the error names the device ($bdf)" "$line" "${bdf//./\\.}"
	[ -z "${VFIO_ERE[$n]:-}" ] ||
		expect_match "$n: the error says /${VFIO_ERE[$n]}/" "$line" "${VFIO_ERE[$n]}"
	st=$(grep "^COHO-L1 vfio-state case=$n " "$log" | tail -n 1 || true)
	if [ -n "$st" ]; then
		expect_eq "$n: the device still has no driver" "$(e2e_value "$st" driver | cut -d' ' -f1)" none
		expect_eq "$n: its driver_override is untouched" "$(e2e_value "$st" override)" "(null)"
	fi
}

# expect_pci_probe NAME TEXT MARK [PAGE]: what l2-init.sh's pci_report said about QEMU's
# edu and ivshmem (BAR2 holding $VFIO_SHM, MARK written at 4 KiB page PAGE, default 16).
expect_pci_probe() {
	local n=$1 t=$2 mark=$3 v f
	check "$n: edu listed (1234:11e8)" has_line "$t" "COHO-L2 pci dev=1234:11e8 "
	check "$n: ivshmem listed (1af4:1110)" has_line "$t" "COHO-L2 pci dev=1af4:1110 "
	v=$(printf '%s\n' "$t" | grep '^COHO-L2 edu ' | tail -n 1 || true)
	expect_match "$n: edu ID register 0x010000ed" "$(e2e_value "$v" id | cut -d' ' -f1)" '^0x0*10000ed$'
	expect_match "$n: edu inverts 0x12345678" "$(e2e_value "$v" inv | cut -d' ' -f1)" '^0x0*edcba987$'
	expect_match "$n: edu computes 5! = 0x78" "$(e2e_value "$v" fact | cut -d' ' -f1)" '^0x0*78$'
	v=$(printf '%s\n' "$t" | grep '^COHO-L2 ivshmem ' | tail -n 1 || true)
	expect_eq "$n: ivshmem BAR2 is prefetchable" "$(e2e_value "$v" prefetch | cut -d' ' -f1)" yes
	expect_eq "$n: ivshmem BAR2 is 64-bit" "$(e2e_value "$v" mem64 | cut -d' ' -f1)" yes
	expect_eq "$n: ivshmem BAR2 can be mapped write-combined (resource2_wc)" \
		"$(e2e_value "$v" wc | cut -d' ' -f1)" yes
	expect_eq "$n: ivshmem BAR2 is 1 MiB" "$(e2e_value "$v" size)" $((1 << 20))
	expect_eq "$n: the pattern in BAR2 (64 words sampled with devmem, sha256)" \
		"$(e2e_value "$(printf '%s\n' "$t" | grep '^COHO-L2 ivshmem-sample ')" sha)" "$SHM_SAMPLE_SHA"
	for f in resource2 resource2_wc; do
		v=$(printf '%s\n' "$t" | grep "^COHO-L2 ivshmem-read map=$f " | tail -n 1 || true)
		expect_eq "$n: the host's pattern in BAR2 through $f (64 KiB, sha256)" \
			"$(e2e_value "$v" bytes | cut -d' ' -f1) $(e2e_value "$v" sha | cut -d' ' -f1)" "65536 $SHM_SHA"
	done
	while [ $((${#mark} % 4)) -ne 0 ]; do mark+=.; done
	expect_eq "$n: the mark written at page ${4:-16} of BAR2 reached the file" \
		"$(dd if="$VFIO_SHM" bs=1 skip=$((${4:-16} * 4096)) count=${#mark} 2>/dev/null)" "$mark"
	expect_eq "$n: the mark written through resource2_wc reached the file" \
		"$(dd if="$VFIO_SHM" bs=1 skip=$(((${4:-16} + 1) * 4096)) count=$((${#mark} + 3)) 2>/dev/null)" "$mark-wc"
	v=$(printf '%s\n' "$t" | grep '^COHO-L2 ivshmem-ldp ' | tail -n 1 || true)
	if [ "$n" != st-pci ]; then
		expect_eq "$n: a load pair on trapped BAR0 kills only the L2 process (SIGBUS)" \
			"$(e2e_value "$v" rc | cut -d' ' -f1)" 135
		check "$n: coho injected an abort for it (and went on)" \
			has_line "$t" "cannot be decoded (e.g. a load/store pair): external data abort injected"
	fi
	check "$n: the PCI report ran to the end" has_line "$t" "COHO-L2 pci-done"
}

# bar_line TEXT BDF BAR: coho's --debug line on how BAR of BDF was mapped.
bar_line() {
	printf '%s\n' "$1" | grep -E "coho: debug: .*vfio $2: BAR$3 [0-9]+ (MiB|KiB|bytes).*: policy " | head -n 1 || true
}

# expect_bar NAME TEXT DEV BDF BAR POLICY HOW GUEST_MAX EXACT: coho said BAR of
# DEV (BDF) has POLICY, is mapped|trapped, the guest gets at most GUEST_MAX,
# exact|"not as requested"; a BAR that is not exact comes with one warning.
# A mapped BAR must have seen no trapped access (L2 used it), a trapped one some.
expect_bar() {
	local n=$1 t=$2 dev=$3 bdf=$4 bar=$5 pol=$6 how=$7 max=$8 exact=$9 l cnt
	l=$(bar_line "$t" "$bdf" "$bar")
	expect_match "$n: $dev BAR$bar: policy $pol, $how, at most $max ($exact)" "$l" \
		": policy $pol, $how[ ,].*guest gets at most $max [(]$exact[)]"
	if [ "$exact" = exact ]; then
		check "$n: $dev BAR$bar: no memory-type warning" \
			bash -c '! grep -q "warning: --vfio-pci $1: BAR$2:" <<<"$3"' _ "$bdf" "$bar" "$t"
	else
		check "$n: $dev BAR$bar: one warning names what the guest gets instead" \
			has_line "$t" "warning: --vfio-pci $bdf: BAR$bar: $pol requested, the guest gets at most"
	fi
	cnt=$(printf '%s\n' "$t" | sed -n "s/.*vfio $bdf: BAR$bar: [a-z]*, \([0-9]*\) guest accesses trapped.*/\1/p" | head -n 1)
	if [ "$how" = mapped ]; then
		expect_eq "$n: $dev BAR$bar: L2's accesses went through the memory slot (none trapped)" "$cnt" 0
	else
		expect_match "$n: $dev BAR$bar: L2's accesses were trapped" "$cnt" '^[1-9][0-9]*$'
	fi
}

# expect_vfio_irqs NAME TEXT: edu's DMA round trip, 10 MSIs and 10 INTx
# raises, each delivered exactly once, as L2 counted them.
expect_vfio_irqs() {
	local n=$1 t=$2 v
	v=$(printf '%s\n' "$t" | grep '^COHO-L2 edu-dma ' | tail -n 1 || true)
	expect_eq "$n: edu DMA round trip RAM -> edu -> RAM returns the pattern" \
		"$(e2e_value "$v" match | cut -d' ' -f1)" yes
	v=$(printf '%s\n' "$t" | grep '^COHO-L2 edu-msi: irqs ' | tail -n 1 || true)
	expect_eq "$n: edu MSIs: 10 raised, 10 delivered, none extra" \
		"$(e2e_value "$v" raised | cut -d' ' -f1)/$(e2e_value "$v" delivered | cut -d' ' -f1)/$(e2e_value "$v" extra | cut -d' ' -f1)" 10/10/0
	check "$n: edu_msi.ko in L2 says result=ok" has_line "$t" "COHO-L2 edu-msi: result=ok"
	check "$n: L2 counts edu's interrupt as an MSI (ITS-MSI)" has_line "$t" "ITS-MSI"
	v=$(printf '%s\n' "$t" | grep '^COHO-L2 edu-intx ' | tail -n 1 || true)
	expect_eq "$n: edu INTx through uio_pci_generic: 10 raised, 10 delivered, none extra" \
		"$(e2e_value "$v" raised | cut -d' ' -f1)/$(e2e_value "$v" delivered | cut -d' ' -f1)/$(e2e_value "$v" extra | cut -d' ' -f1)" 10/10/0
	check "$n: L2's uio_pci_generic interrupt is a level-triggered line" has_line "$t" "Level"
}

# expect_vfio_maps NAME TEXT: the BAR outcomes this L1 kernel must give.
# Linux < 6.9 maps vfio-pci BARs Device-nGnRE at stage 2, >= 6.9 Normal-NC.
expect_vfio_maps() {
	local n=$1 t=$2 edu ivs s2 l
	edu=$(vfio_found "$LOG" edu) ivs=$(vfio_found "$LOG" ivshmem)
	if [ "$L1_NC" = yes ]; then s2=Normal-NC; else s2=Device-nGnRE; fi
	l=$(printf '%s\n' "$t" | grep 'coho: debug: .*vfio: Linux ' | head -n 1 || true)
	check "$n: --debug names L1's kernel and its stage-2 type for vfio-pci BARs ($s2)" \
		has_line "$l" "Linux $L1_KVER maps vfio-pci BARs $s2 at stage 2"
	case $n:$L1_NC in
	vfio-passthrough:no)
		expect_bar "$n" "$t" edu "$edu" 0 uc mapped Device-nGnRE exact
		expect_bar "$n" "$t" ivshmem "$ivs" 2 wc mapped Device-nGnRE 'not as requested'
		;;
	vfio-passthrough:yes)
		expect_bar "$n" "$t" edu "$edu" 0 uc trapped Device-nGnRE exact
		expect_bar "$n" "$t" ivshmem "$ivs" 2 wc mapped Normal-NC exact
		;;
	vfio-policy:no)
		expect_bar "$n" "$t" edu "$edu" 0 wc mapped Device-nGnRE 'not as requested'
		expect_bar "$n" "$t" ivshmem "$ivs" 2 uc mapped Device-nGnRE exact
		;;
	vfio-policy:yes)
		expect_bar "$n" "$t" edu "$edu" 0 wc mapped Normal-NC exact
		expect_bar "$n" "$t" ivshmem "$ivs" 2 uc trapped Device-nGnRE exact
		;;
	esac
}

# expect_vfio_msix NAME TEXT: L2 drove the passed-through virtio-rng with
# its own driver: random bytes (DMA into L2's RAM), MSI-X vectors through
# the ITS, coho switched VFIO to MSI-X, the notify BAR mapped.
expect_vfio_msix() {
	local n=$1 t=$2 rng
	rng=$(vfio_found "$LOG" virtio-rng)
	expect_match "$n: L2's hwrng is the passed-through virtio-rng" "$(e2e_value "$t" "COHO-L2 rng-current")" '^virtio'
	expect_eq "$n: 4096 random bytes read in L2" "$(e2e_value "$t" "COHO-L2 rng-bytes")" 4096
	expect_match "$n: the bytes are random (>200 distinct values in 4096)" "$(e2e_value "$t" "COHO-L2 rng-distinct")" '^(2[0-9][0-9])$'
	expect_match "$n: L2 has MSI(-X) interrupts" "$(e2e_value "$t" "COHO-L2 msi-irqs")" '^[1-9]'
	check "$n: coho put VFIO in MSI-X mode" has_line "$t" "vfio $rng: interrupts: MSI-X"
	check "$n: the MSI-X capability was virtualised" bash -c 'grep -qE "vfio $1: INTx (yes|no), MSI (yes|no), MSI-X yes" <<<"$2"' _ "$rng" "$t"
	expect_match "$n: the MSI-X table's BAR is trapped (table and PBA only)" \
		"$(printf '%s\n' "$t" | grep -E "vfio $rng: BAR[0-9] .*: policy .*MSI-X" | head -n 1)" 'trapped'
}

# check_boot LABEL LOG GIC_ERE: check an L1 boot and every case it ran; the L2
# guests must see an interrupt controller matching GIC_ERE.
check_boot() {
	local label=$1 log=$2 gic=$3 n t rc page
	expect_eq "$label: QEMU exited 0 within ${E2E_QEMU_TIMEOUT}s (took ${E2E_QEMU_SECONDS}s)" \
		"$E2E_QEMU_RC" 0
	check "$label: L1 has /dev/kvm" grep -q '^COHO-L1 kvm=yes' "$log"
	for n in "${ORDER[@]}"; do
		CASE_FAILED=0
		t=$(e2e_section "$log" "$n")
		printf '%s\n' "$t" >"$E2E_OUT/logs/case-$n.log"
		rc=$(e2e_value "$(printf '%s\n' "$t" | tail -n 1)" "COHO-L1 case=$n rc")
		if [ -z "$rc" ]; then
			if [ -n "$t" ]; then
				not_ok "$n: case ran to completion in L1"
				e2e_tail "$E2E_OUT/logs/case-$n.log" 30
			else
				not_ok "$n: case ran to completion in L1 (it never started)"
			fi
			continue
		fi
		echo "# $n: rc=$(first_word "$rc") ${rc#* }"
		printf '%s\n' "$t" | sed -n "s/^COHO-L1 stderr case=$n: \(coho: error: .*\)/#   \1/p"
		rc=$(first_word "$rc")
		case ${KIND[$n]} in
		linux) expect_linux "$n" "$t" "$rc" "$gic" serial ;;
		linux-its)
			expect_linux "$n" "$t" "$rc" "$gic" serial
			expect_match "$n: DT has an arm,gic-v3-its node" \
				"$(e2e_value "$t" "COHO-L2 dt-its")" '^/'
			;;
		firmware) expect_firmware "$n" "$t" "$rc" ;;
		error) expect_error "$n" "$t" "$rc" ;;
		dtb) expect_dtb "$n" "$t" "$rc" "$log" ;;
		signal) expect_signal "$n" "$t" "$rc" ;;
		reset) expect_reset "$n" "$t" "$rc" ;;
		blocked) expect_blocked "$n" "$t" "$rc" ;;
		virtio-msi) expect_virtio "$n" "$t" "$rc" yes ;;
		virtio-blk) expect_blk "$n" "$t" "$rc" "$log" ;;
		hvc) expect_hvc "$n" "$t" "$rc" ;;
		9p) expect_9p "$n" "$t" "$rc" "$log" ;;
		9p-root) expect_9p_root "$n" "$t" "$rc" "$log" ;;
		virtio-intx) expect_virtio "$n" "$t" "$rc" no ;;
		virtio-mmio) expect_virtio "$n" "$t" "$rc" no mmio ;;
		net) expect_net "$n" "$t" "$rc" "$log" ;;
		vfio-setup) expect_vfio_setup "$n" "$t" "$rc" "$log" ;;
		vfio-error) expect_vfio_error "$n" "$t" "$rc" "$log" ;;
		vfio-coherent) expect_vfio_coherent "$n" "$t" "$rc" ;;
		vfio-pass)
			expect_eq "$n: exit code 0" "$rc" 0
			if [ "$n" = vfio-policy ]; then page=32; else page=16; fi
			expect_pci_probe "$n" "$t" "COHO-IVSHMEM-$TOKEN-$n" "$page"
			expect_vfio_irqs "$n" "$t"
			LOG=$log expect_vfio_maps "$n" "$t"
			;;
		vfio-msix)
			expect_eq "$n: exit code 0" "$rc" 0
			LOG=$log expect_vfio_msix "$n" "$t"
			;;
		sc-*) expect_script "$n" "$t" "$rc" "$log" ;;
		default-guest) expect_default_guest "$n" "$t" "$rc" "$log" ;;
		esac
		case ${KIND[$n]}:$n in
		virtio-blk:*-mmio | 9p:*-mmio | hvc:*-mmio) expect_transport "$n" "$t" mmio ;;
		esac
		# coho ran with stdin on L1's console, a terminal: it must leave it as it found it.
		check "$n: console terminal settings as before the case" \
			has_line "$t" "COHO-L1 tty-restored case=$n yes"
		[ "$CASE_FAILED" -eq 0 ] || e2e_tail "$E2E_OUT/logs/case-$n.log" 30
	done
	local -n l1mods=$E2E_L1_MODLIST
	check "$label: L1 loaded its modules (${l1mods[*]})" bash -c "! grep -q '^COHO-L1 insmod-failed' \"\$1\"" _ "$log"
	check "$label: L1 ran every case and powered off" grep -q '^COHO-L1 all-done' "$log"
}

# --- the two modes ------------------------------------------------------

prepare() {
	e2e_assets
	# Debian 13's kernel as a second guest kernel (COHO_E2E_NEXT=0 skips it).
	[ "${COHO_E2E_NEXT:-1}" = 0 ] || assets_next_kernel
	echo "# second guest kernel: ${COHO_KVER_NEXT:-none}"
	e2e_build_tools
	e2e_kernel_fixtures
	rm -f "$E2E_OUT"/logs/*
	TOKEN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	# A random payload of 1-4 MiB rides in the L2 initramfs.
	head -c $(((1 << 20) + $(od -An -N4 -tu4 /dev/urandom) % (3 << 20))) /dev/urandom \
		>"$E2E_OUT/assets/payload.bin"
	PAYLOAD_SHA=$(sha256sum "$E2E_OUT/assets/payload.bin" | cut -d' ' -f1)
	L2_INITRD=$E2E_OUT/assets/l2.cpio.gz
	e2e_l2_initramfs "$L2_INITRD" "$E2E_OUT/assets/payload.bin"
	echo "# kernel $COHO_KVER, payload $(stat -c %s "$E2E_OUT/assets/payload.bin") bytes, token $TOKEN"
}

# e2e_filter_cases ERE: keep only the cases whose name matches ERE (and the
# set-up lines that are not cases); for quick runs while developing.
e2e_filter_cases() {
	local re=$1 n keep=()
	awk -v re="^($re)\$" '!/^(run_[a-z0-9_]*case|dump_file) / || $2 ~ re' "$CASES" >"$CASES.f"
	mv "$CASES.f" "$CASES"
	for n in "${ORDER[@]}"; do
		[[ $n =~ ^($re)$ ]] && keep+=("$n")
	done
	ORDER=("${keep[@]}")
}

# vfio_l1 SHMFILE: the VFIO boot's L1 extras: an SMMUv3, edu, ivshmem-plain
# on SHMFILE (a fresh vfio_shm pattern), the VFIO modules. Sets VFIO_SHM and
# the (caller's local) E2E_L1_* variables.
vfio_l1() {
	VFIO_SHM=$1
	vfio_shm "$VFIO_SHM"
	E2E_L1_MACHINE=iommu=smmuv3
	# shellcheck disable=SC2054 # commas inside QEMU's option values
	E2E_L1_QEMU_ARGS=(-device edu,dma_mask=0xffffffffff
		-object "memory-backend-file,id=shm0,share=on,mem-path=$VFIO_SHM,size=1M"
		-device ivshmem-plain,memdev=shm0
		-device virtio-rng-pci,disable-legacy=on,iommu_platform=on)
	E2E_L1_MODLIST=E2E_L1_VFIO_MODULES
}

# version_ge RELEASE MAJOR MINOR: RELEASE ("6.12.107+deb13-arm64") is at least MAJOR.MINOR.
version_ge() {
	local ma mi
	ma=$(echo "$1" | cut -d. -f1) mi=$(echo "$1" | cut -d. -f2 | sed 's/[^0-9].*//')
	[ "$ma" -gt "$2" ] || { [ "$ma" -eq "$2" ] && [ "$mi" -ge "$3" ]; }
}

run_real() {
	local vmm=$1 boot gic files work
	local E2E_L1_MACHINE E2E_L1_MODLIST E2E_L1_QEMU_ARGS E2E_L1_KERNEL
	e2e_mktemp work
	for boot in gicv3 gicv2 scripts vfio vfio-next; do
		[ -z "${E2E_ONLY:-}" ] || [ "$E2E_ONLY" = "$boot" ] || continue
		CASES=$E2E_OUT/logs/cases-$boot.sh ORDER=()
		: >"$CASES"
		E2E_L1_MACHINE='' E2E_L1_MODLIST=E2E_L1_MODULES E2E_L1_QEMU_ARGS=()
		E2E_L1_KERNEL=$COHO_KERNEL L1_KVER=$COHO_KVER
		files=(coho="$vmm" lkvm=@coho blockpipe="$E2E_BLOCKPIPE" Image="$E2E_IMAGE" l2.cpio.gz="$L2_INITRD")
		case $boot in
		gicv3)
			gic=3
			cases_gicv3
			[ -z "${COHO_KERNEL_NEXT:-}" ] || files+=(Image.next="$COHO_KERNEL_NEXT")
			files+=(Image.gz="$E2E_IMAGE_GZ" vmlinuz.efi="$E2E_ZBOOT" firmware.bin="$E2E_FIRMWARE"
				garbage.img="$E2E_GARBAGE" truncated.Image="$E2E_TRUNC_IMAGE"
				truncated.Image.gz="$E2E_TRUNC_GZ")
			;;
		gicv2)
			gic=2
			cases_gicv2
			;;
		scripts)
			gic=3
			cases_scripts
			;;
		vfio)
			gic=3
			vfio_l1 "$work/shm.bin"
			cases_vfio
			;;
		vfio-next)
			# The same VFIO cases on Debian 13's kernel as L1: from 6.9 KVM maps
			# vfio-pci BARs Normal-NC at stage 2, which changes the BAR outcomes.
			if [ "${COHO_E2E_NEXT:-1}" = 0 ]; then
				echo "# L1 VFIO on Debian 13's kernel: skipped (COHO_E2E_NEXT=0)"
				continue
			elif [ -z "${COHO_KERNEL_NEXT:-}" ]; then
				not_ok "L1 VFIO on Debian 13's kernel: no Debian 13 kernel (trixie unreachable)"
				continue
			fi
			gic=3
			E2E_L1_KERNEL=$COHO_KERNEL_NEXT L1_KVER=$COHO_KVER_NEXT
			vfio_l1 "$work/shm.bin"
			cases_vfio
			;;
		esac
		if version_ge "$L1_KVER" 6 9; then L1_NC=yes; else L1_NC=no; fi
		[ -z "${E2E_CASES:-}" ] || e2e_filter_cases "$E2E_CASES"
		e2e_l1_initramfs "$work/l1-$boot.cpio" "$CASES" "${files[@]}"
		echo "# booting L1 $boot ($(stat -c %s "$work/l1-$boot.cpio") byte initramfs)"
		e2e_boot_l1 "$E2E_OUT/logs/l1-$boot.log" "$gic" "$work/l1-$boot.cpio"
		case $boot in
		gicv3) check_boot "L1 GICv3" "$E2E_OUT/logs/l1-gicv3.log" 'arm,gic-v3' ;;
		gicv2)
			check_boot "L1 GICv2" "$E2E_OUT/logs/l1-gicv2.log" \
				'arm,(cortex-a15-gic|gic-400|cortex-a9-gic)'
			;;
		scripts) check_boot "L1 scripts" "$E2E_OUT/logs/l1-scripts.log" 'arm,gic-v3' ;;
		vfio) check_boot "L1 VFIO ($L1_KVER)" "$E2E_OUT/logs/l1-vfio.log" 'arm,gic-v3' ;;
		vfio-next) check_boot "L1 VFIO ($L1_KVER)" "$E2E_OUT/logs/l1-vfio-next.log" 'arm,gic-v3' ;;
		esac
		[ "$E2E_QEMU_RC" -eq 0 ] || e2e_tail "$E2E_OUT/logs/l1-$boot.log" 60
		rm -f "$work/l1-$boot.cpio"
	done
}

# --selftest: validate the harness's own pieces without coho.
run_selftest() {
	local log t n off size blob work
	e2e_mktemp work
	# 1. The L2 kernel and initramfs booted directly by QEMU (PL011, no KVM),
	#    once as Image and once as Image.gz: the L2 /init and the checks.
	for n in image imagegz; do
		log=$E2E_OUT/logs/selftest-$n.log
		t=$E2E_IMAGE
		[ "$n" = image ] || t=$E2E_IMAGE_GZ
		e2e_qemu "$log" "$E2E_QEMU_TIMEOUT" -M virt,gic-version=3 -cpu "$E2E_QEMU_CPU" \
			-smp 2 -m 256 -nographic -no-reboot -nic none -kernel "$t" -initrd "$L2_INITRD" \
			-append "console=ttyAMA0 panic=-1 coho_e2e=$TOKEN-$n"
		echo "# selftest $n: QEMU rc=$E2E_QEMU_RC in ${E2E_QEMU_SECONDS}s"
		CASE_FAILED=0
		expect_linux "$n" "$(cat "$log")" "$E2E_QEMU_RC" 'arm,gic-v3' pl011
		[ "$CASE_FAILED" -eq 0 ] || e2e_tail "$log" 30
	done
	# 2. The firmware, built for QEMU's PL011, booted by QEMU.
	log=$E2E_OUT/logs/selftest-firmware.log
	e2e_qemu "$log" 60 -M virt -cpu max -m 256 -nographic -no-reboot -nic none \
		-kernel "$E2E_FIRMWARE_PL011"
	expect_firmware firmware "$(cat "$log")" "$E2E_QEMU_RC"
	# 3. The zboot wrapper: header fields and a payload that inflates to the Image.
	off=$(od -An -tu4 -j 8 -N 4 "$E2E_ZBOOT" | tr -d ' ')
	size=$(od -An -tu4 -j 12 -N 4 "$E2E_ZBOOT" | tr -d ' ')
	expect_eq "zboot: MZ, zimg and gzip in the header" \
		"$(head -c 8 "$E2E_ZBOOT" | tr -d '\0')/$(dd if="$E2E_ZBOOT" bs=1 skip=24 count=4 2>/dev/null)" \
		"MZzimg/gzip"
	check "zboot: the payload inflates to the Image" cmp -s "$E2E_IMAGE" \
		<(tail -c +$((off + 1)) "$E2E_ZBOOT" | head -c "$size" | gunzip)
	# 4. The L1 plumbing: stub cases instead of coho, a file round trip.
	CASES=$E2E_OUT/logs/cases-selftest.sh ORDER=()
	: >"$CASES"
	add_case st-ok error /bin/sh -c 'echo "coho: error: stub" >&2; echo hello; exit 2'
	# shellcheck disable=SC2016 # $1 is for the stub's shell
	add_case st-quote error /bin/sh -c 'test "$1" = "a b'"'"'c" || exit 9; echo "coho: error: q" >&2; exit 2' sh "a b'c"
	add_case st-hang error /bin/sh -c 'sleep 100'
	sed -i 's/^run_case st-hang/CASE_TIMEOUT=2 run_case st-hang/' "$CASES"
	echo "dump_file st-dump /blob.bin" >>"$CASES"
	blob=$work/blob.bin
	head -c 3000 /dev/urandom >"$blob"
	e2e_l1_initramfs "$work/l1-selftest.cpio" "$CASES" blob.bin="$blob"
	log=$E2E_OUT/logs/l1-selftest.log
	e2e_boot_l1 "$log" 3 "$work/l1-selftest.cpio"
	echo "# selftest L1: QEMU rc=$E2E_QEMU_RC in ${E2E_QEMU_SECONDS}s," \
		"userspace at $(e2e_value "$(cat "$log")" "COHO-L1 userspace uptime" | cut -d' ' -f1)s"
	expect_eq "L1: QEMU exited 0" "$E2E_QEMU_RC" 0
	check "L1: /dev/kvm present" grep -q '^COHO-L1 kvm=yes' "$log"
	t=$(e2e_section "$log" st-ok)
	expect_error st-ok "$t" "$(first_word "$(e2e_value "$t" "COHO-L1 case=st-ok rc")")"
	check "st-ok: stdout passes through" has_line "$t" hello
	t=$(e2e_section "$log" st-quote)
	expect_eq "st-quote: arguments keep spaces and quotes" \
		"$(first_word "$(e2e_value "$t" "COHO-L1 case=st-quote rc")")" 2
	t=$(e2e_section "$log" st-hang)
	expect_match "st-hang: the per-case timeout kills a hung VMM" \
		"$(first_word "$(e2e_value "$t" "COHO-L1 case=st-hang rc")")" '^(137|124)$'
	awk '$0 == "COHO-L1 base64-end case=st-dump" { on = 0 } on { print }
		$0 == "COHO-L1 base64-begin case=st-dump" { on = 1 }' "$log" | base64 -d >"$blob.back" || true
	check "st-dump: a file survives the base64 trip over the console" cmp -s "$blob" "$blob.back"
	selftest_vfio "$work"
}

# 5. The VFIO boot's L1 (SMMUv3, edu, ivshmem, the VFIO modules) without
#    coho: L1 runs l2-init.sh's pci_report on the devices as it sees them
#    (no driver has them), as L2 will on the ones coho passes through; then
#    l1-init.sh's vfio_find and vfio_setup bind them to vfio-pci.
selftest_vfio() {
	local work=$1 log t
	local E2E_L1_MACHINE E2E_L1_MODLIST E2E_L1_QEMU_ARGS
	vfio_l1 "$work/shm.bin"
	CASES=$E2E_OUT/logs/cases-selftest-vfio.sh ORDER=()
	{
		echo "vfio_find"
		echo "say \"begin case=st-pci\"; (COHO_E2E_FUNCS=1; . /l2-init.sh && pci_report COHO-IVSHMEM-$TOKEN-st); say \"case=st-pci rc=\$?\""
		echo "vfio_setup st-vfio-setup"
	} >"$CASES"
	e2e_l1_initramfs "$work/l1-selftest-vfio.cpio" "$CASES" l2-init.sh="$E2E_DIR/l2-init.sh" \
		bin/pcitool="$E2E_PCITOOL"
	log=$E2E_OUT/logs/l1-selftest-vfio.log
	e2e_boot_l1 "$log" 3 "$work/l1-selftest-vfio.cpio"
	echo "# selftest L1 VFIO: QEMU rc=$E2E_QEMU_RC in ${E2E_QEMU_SECONDS}s"
	expect_eq "L1 VFIO: QEMU exited 0" "$E2E_QEMU_RC" 0
	check "L1 VFIO: the VFIO modules loaded" bash -c "! grep -q '^COHO-L1 insmod-failed' \"\$1\"" _ "$log"
	CASE_FAILED=0
	t=$(e2e_section "$log" st-pci)
	printf '%s\n' "$t" | grep -E '^COHO-L2 (pci|edu|ivshmem)' | sed 's/^/# /'
	expect_pci_probe st-pci "$t" "COHO-IVSHMEM-$TOKEN-st"
	t=$(e2e_section "$log" st-vfio-setup)
	expect_vfio_setup st-vfio-setup "$t" "$(first_word "$(e2e_value "$t" "COHO-L1 case=st-vfio-setup rc")")" "$log"
	[ "$CASE_FAILED" -eq 0 ] || e2e_tail "$log" 40
}

main() {
	local start
	start=$(date +%s)
	case ${1:-} in
	--selftest)
		prepare
		run_selftest
		;;
	"" | -h | --help)
		sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
		exit 2
		;;
	*)
		e2e_check_vmm "$1"
		prepare
		run_real "$1"
		;;
	esac
	echo "# total $(($(date +%s) - start))s, logs in ${E2E_OUT#"$E2E_ROOT"/}/logs"
	echo "e2e: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

# Sourcing the file (to try the assertions on a saved log) defines everything but runs nothing.
# (main runs inside "if", not after "||", so that set -e stays in force in it.)
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
