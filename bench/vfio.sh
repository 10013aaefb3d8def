#!/bin/bash
# VFIO BAR benchmark: read and write bandwidth of a passed-through ivshmem
# BAR2 (1 MiB of shared memory in L1's QEMU) from inside the nested L2
# guest, through sysfs resource2 (mapped uncached by L2) and resource2_wc
# (mapped write-combined), side by side, for each BAR policy coho is given:
# wc (the default for this prefetchable BAR) and uc. Numbers only.
#
# usage: bench/vfio.sh [VMM_BINARY]      default build/arm64/coho
#   RUNS=N (default 3)   L1=next   boot Debian 13's kernel as L1 (Linux >= 6.9
#   maps vfio-pci BARs Normal-NC at stage 2, where a uc policy is trapped)
# Under TCG, memory types do not change what the emulated CPU does, so the
# two L2 mappings give the same numbers; what differs is whether an access
# reaches the memory through a KVM memory slot or exits to coho (trapped).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"

bench_start "${1:-}" RUNS=3
e2e_build_tools
E2E_L1_KERNEL=$COHO_KERNEL
if [ "${L1:-}" = next ]; then
	assets_next_kernel
	[ -n "${COHO_KERNEL_NEXT:-}" ] || e2e_die "L1=next: no Debian 13 kernel"
	E2E_L1_KERNEL=$COHO_KERNEL_NEXT
fi
# L2: find ivshmem, measure both mappings, power off.
{ e2e_init_head; cat <<'INIT'; } >"$work/init"
# 1 MiB through a memory slot; 32 KiB when coho traps the BAR (every access exits).
BW_SIZE=1
grep -q coho_bw_small /proc/cmdline && BW_SIZE=32K
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1af4:0x1110 ] || continue
	for f in resource2 resource2_wc; do
		echo "BENCH-VFIO map=$f $(pcitool bw "$d/$f" "$BW_SIZE" 2>&1)"
	done
done
poweroff -f
INIT
mkdir -p "$work/l2/bin"
e2e_rootfs "$work/l2" "$work/init"
install -m 0755 "$E2E_PCITOOL" "$work/l2/bin/pcitool"
e2e_cpio "$work/l2" "$work/l2.cpio.gz" gzip

# L1: bind ivshmem to vfio-pci (l1-init.sh's vfio_find/vfio_setup), then the runs.
head -c 1M /dev/zero >"$work/shm.bin"
{
	echo "vfio_find"
	echo "vfio_setup setup"
	for i in $(seq 1 "$RUNS"); do
		for pol in wc uc; do
			small=
			[ "$pol" = uc ] && [ "${L1:-}" = next ] && small=" coho_bw_small"
			echo "run_case $pol-$i /vmm run -k /Image -i /l2.cpio.gz -c 1 -m 256 --debug -p 'console=ttyS0 quiet panic=-1$small' --vfio-pci \"\$IVSHMEM_BDF,bar2=$pol\""
		done
	done
} >"$work/cases.sh"
E2E_L1_MODLIST=E2E_L1_VFIO_MODULES
e2e_l1_initramfs "$work/l1.cpio" "$work/cases.sh" vmm="$VMM" Image="$COHO_KERNEL" \
	l2.cpio.gz="$work/l2.cpio.gz"
E2E_L1_MACHINE=iommu=smmuv3
# shellcheck disable=SC2054 # commas inside QEMU's option values
E2E_L1_QEMU_ARGS=(-object "memory-backend-file,id=shm0,share=on,mem-path=$work/shm.bin,size=1M"
	-device ivshmem-plain,memdev=shm0)
echo "bench-vfio: vmm=${VMM#"$E2E_ROOT"/} L1 kernel=${E2E_L1_KERNEL##*/vmlinuz-} L2 kernel=$COHO_KVER runs=$RUNS (ivshmem BAR2; 1 MiB per pass, 32 KiB when trapped; 8-byte accesses)"
# shellcheck disable=SC2034 # read by e2e_boot_l1
E2E_QEMU_TIMEOUT=$((180 + RUNS * 120))
log=$E2E_OUT/vfio.log
e2e_boot_l1 "$log" 3 "$work/l1.cpio"
[ "$E2E_QEMU_RC" -eq 0 ] || { echo "bench-vfio: QEMU exited $E2E_QEMU_RC"; e2e_tail "$log" 30; }
# Per case: how coho mapped BAR2 (from --debug), then L2's two measurements.
awk '
	/COHO-L1 begin case=/ { split($3, c, "="); cs = c[2] }
	/vfio .*: BAR2 .*: policy / { h[cs] = ($0 ~ /, mapped/) ? "mapped" : "trapped" }
	/BENCH-VFIO map=/ {
		m = ""; w = ""; r = ""
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^map=/) m = substr($i, 5)
			if ($i ~ /^write_MBps=/) w = substr($i, 12)
			if ($i ~ /^read_MBps=/) r = substr($i, 11)
		}
		res[cs] = res[cs] sprintf("  %-13s write %9s MB/s  read %9s MB/s", m, w, r)
	}
	END {
		for (k in res) printf "%-6s BAR2 %-7s%s\n", k, h[k], res[k] | "sort"
	}' "$log"
echo "bench-vfio: L1 QEMU ${E2E_QEMU_SECONDS}s; log ${log#"$E2E_ROOT"/}"
