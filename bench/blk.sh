#!/bin/bash
# virtio-blk benchmark: sequential write and read throughput of a 256 MiB
# disk inside the nested L2 guest (busybox dd, 1 MiB blocks, O_DIRECT in the
# guest so its page cache is not measured), RUNS times. Numbers only.
#
# usage: bench/blk.sh [VMM_BINARY]      default build/arm64/coho
#   RUNS=N        (default 3)   DISK_MIB=N (default 256)
# The image lives on L1's tmpfs, so the host side is memory: this measures
# the virtio path (virtqueue, ioeventfd, worker threads, MSI-X), not a disk.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"

bench_start "${1:-}" RUNS=3 DISK_MIB=256

{ e2e_init_head; cat <<INIT; } >"$work/init"
mods=/lib/modules/\$(uname -r)
while read -r m; do insmod "\$mods/\$m.ko" 2>/dev/null; done <"\$mods/order"
t() { cut -d' ' -f1 /proc/uptime; }
t0=\$(t); dd if=/dev/zero of=/dev/vda bs=1M count=$DISK_MIB oflag=direct 2>/dev/null; sync; t1=\$(t)
dd if=/dev/vda of=/dev/null bs=1M count=$DISK_MIB iflag=direct 2>/dev/null; t2=\$(t)
echo "BENCH-BLK write_s=\$(echo \$t1 \$t0 | awk '{print \$1-\$2}') read_s=\$(echo \$t2 \$t1 | awk '{print \$1-\$2}')"
poweroff -f
INIT
mkdir -p "$work/l2"
e2e_rootfs "$work/l2" "$work/init"
e2e_modules "$work/l2" E2E_L2_MODULES "$COHO_KERNEL"
e2e_cpio "$work/l2" "$work/l2.cpio.gz" gzip
{
	for i in $(seq 1 "$RUNS"); do
		echo "truncate -s ${DISK_MIB}M /tmp/disk.img"
		echo "run_case run$i /vmm run -k /Image -i /l2.cpio.gz -c 1 -m 256 -d /tmp/disk.img -p 'console=ttyS0 quiet panic=-1'"
		echo "rm -f /tmp/disk.img"
	done
} >"$work/cases.sh"
e2e_l1_initramfs "$work/l1.cpio" "$work/cases.sh" vmm="$VMM" Image="$COHO_KERNEL" \
	l2.cpio.gz="$work/l2.cpio.gz"
echo "bench-blk: vmm=${VMM#"$E2E_ROOT"/} kernel=$COHO_KVER runs=$RUNS disk=${DISK_MIB} MiB (L2: 1 vCPU, 256 MiB)"
# shellcheck disable=SC2034 # read by e2e_boot_l1
E2E_QEMU_TIMEOUT=$((120 + RUNS * 200))
log=$E2E_OUT/blk.log
e2e_boot_l1 "$log" 3 "$work/l1.cpio"
[ "$E2E_QEMU_RC" -eq 0 ] || { echo "bench-blk: QEMU exited $E2E_QEMU_RC"; e2e_tail "$log" 30; }
grep -o 'BENCH-BLK .*' "$log" | awk -v mib="$DISK_MIB" '
	{ split($2, w, "="); split($3, r, "=");
	  ws = w[2] > 0 ? mib / w[2] : 0; rs = r[2] > 0 ? mib / r[2] : 0;
	  printf "run %d: write %.1f MB/s (%.2f s), read %.1f MB/s (%.2f s)\n", NR, ws, w[2], rs, r[2] }'
echo "bench-blk: L1 QEMU ${E2E_QEMU_SECONDS}s; log ${log#"$E2E_ROOT"/}"
