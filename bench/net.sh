#!/bin/bash
# virtio-net benchmark: TCP throughput between the nested L2 guest and L1
# over a tap, with coho's userspace data path and with vhost=1, RUNS times
# each. L2 fetches a file from L1's busybox httpd (host -> guest: the
# receive path), then L1 fetches one from L2's httpd (guest -> host: the
# transmit path). Numbers only.
#
# usage: bench/net.sh [VMM_BINARY]      default build/arm64/coho
#   RUNS=N (default 2)   FILE_MIB=N (default 64)
# Both ends are emulated by QEMU TCG on this machine, so the absolute
# numbers are far below real hardware; compare the two data paths.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"

bench_start "${1:-}" RUNS=2 FILE_MIB=64

{ e2e_init_head; cat <<INIT; } >"$work/init"
mods=/lib/modules/\$(uname -r)
while read -r m; do insmod "\$mods/\$m.ko" 2>/dev/null; done <"\$mods/order"
t() { cut -d' ' -f1 /proc/uptime; }
ip link set lo up
ip addr add 10.0.9.15/24 dev eth0 && ip link set eth0 up
ping -c 1 -W 10 10.0.9.1 >/dev/null 2>&1 || echo "BENCH-NET no-ping"
t0=\$(t); wget -q -O /dev/null http://10.0.9.1:8080/big; t1=\$(t)
echo "BENCH-NET rx_s=\$(echo \$t1 \$t0 | awk '{print \$1-\$2}')"
mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/big bs=1M count=$FILE_MIB 2>/dev/null
httpd -p 8080 -h /tmp/www
echo "BENCH-NET ready"
timeout 300 nc -l -p 9001 >/dev/null
poweroff -f
INIT
mkdir -p "$work/l2"
e2e_rootfs "$work/l2" "$work/init"
e2e_modules "$work/l2" E2E_L2_MODULES "$COHO_KERNEL"
e2e_cpio "$work/l2" "$work/l2.cpio.gz" gzip
{
	cat <<'CASES'
mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/big bs=1M count=FILE_MIB 2>/dev/null
httpd -p 8080 -h /tmp/www
# bench NAME VHOST: one guest; the transmit half is timed here in L1.
bench() {
	/vmm run -k /Image -i /l2.cpio.gz -c 1 -m 512 -p 'console=ttyS0 quiet panic=-1' \
		-n "mode=tap,tapif=bench0,host_ip=10.0.9.1/24,vhost=$2" >/tmp/out.$1 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 3000 ] && kill -0 $pid 2>/dev/null && ! grep -q 'BENCH-NET ready' /tmp/out.$1; do
		sleep 0.1
		i=$((i + 1))
	done
	if ! grep -q 'BENCH-NET ready' /tmp/out.$1; then
		echo "BENCH-FAILED $1"
		grep -v "coho: debug" /tmp/out.$1 | tail -n 40; grep "coho: debug" /tmp/out.$1 | grep -v -e MSI-X -e "notify at" | tail -n 30
		kill $pid 2>/dev/null
		wait $pid
		return
	fi
	t0=$(cut -d' ' -f1 /proc/uptime)
	wget -q -O /dev/null http://10.0.9.15:8080/big
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo bye | timeout 10 nc 10.0.9.15 9001
	wait $pid
	echo "BENCH-RESULT $1 vhost=$2 $(grep -o 'rx_s=[0-9.]*' /tmp/out.$1) tx_s=$(echo "$t1 $t0" | awk '{print $1-$2}')"
	grep 'coho: ' /tmp/out.$1
}
CASES
	for i in $(seq 1 "$RUNS"); do
		echo "bench userspace$i 0"
		echo "bench vhost$i 1"
	done
} | sed "s/FILE_MIB/$FILE_MIB/" >"$work/cases.sh"
e2e_l1_initramfs "$work/l1.cpio" "$work/cases.sh" vmm="$VMM" Image="$COHO_KERNEL" \
	l2.cpio.gz="$work/l2.cpio.gz"
echo "bench-net: vmm=${VMM#"$E2E_ROOT"/} kernel=$COHO_KVER runs=$RUNS file=${FILE_MIB} MiB (L2: 1 vCPU, 512 MiB)"
# shellcheck disable=SC2034 # read by e2e_boot_l1
E2E_QEMU_TIMEOUT=$((120 + RUNS * 400))
log=$E2E_OUT/net.log
e2e_boot_l1 "$log" 3 "$work/l1.cpio"
[ "$E2E_QEMU_RC" -eq 0 ] || { echo "bench-net: QEMU exited $E2E_QEMU_RC"; e2e_tail "$log" 30; }
grep 'coho: ' "$log" | sort -u || true
grep -o 'BENCH-RESULT .*' "$log" | awk -v mib="$FILE_MIB" '
	{ split($4, r, "="); split($5, t, "=");
	  printf "%-11s %s: host->guest %.1f MB/s (%.2f s), guest->host %.1f MB/s (%.2f s)\n", $2, $3,
		 (r[2] > 0 ? mib / r[2] : 0), r[2], (t[2] > 0 ? mib / t[2] : 0), t[2] }'
echo "bench-net: L1 QEMU ${E2E_QEMU_SECONDS}s; log ${log#"$E2E_ROOT"/}"
