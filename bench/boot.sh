#!/bin/bash
# Boot benchmark: how long a VMM takes to boot Linux to userspace and back,
# and how much memory it uses itself, measured inside the nested L1 guest.
#
# usage: bench/boot.sh [VMM_BINARY]          default build/arm64/coho
#   RUNS=N          boots to measure (default 5)
#   FRESH_L1=1      boot a fresh L1 for every run (default). FRESH_L1=0 runs them all in
#                   one L1, where every run after the first is penalised by the emulator:
#                   the VMM and the guest write over physical pages that held the previous
#                   guest's executed code, and QEMU (TCG) must invalidate its translations
#                   of them (seen: kernel load 80 ms in a first run, 0.4-1.2 s later).
#   VMM=PATH        another static aarch64 VMM with the kvmtool CLI (e.g. lkvm) to
#                   compare; same as passing it as the argument
#   VMM_DEBUG=0     do not pass --debug (coho's --debug prints "coho: debug: clean"
#                   lines, the guest-memory cleaning statistics, shown per run)
#   L2_MIB=256      guest RAM
#
# Setup: x86_64 host -> qemu-system-aarch64 TCG (L1: Debian 12 kernel, KVM,
# VHE, 2 vCPUs) -> VMM -> L2: the same kernel, 1 vCPU, busybox initramfs, no
# network, "quiet". tests/tools/runstat.c runs each boot and measures, in L1:
#   wall_ms      VMM start to VMM exit (after L2 powered off)
#   marker_ms    VMM start to L2's first userspace line on the console
#   vmm_rss_kib  VmRSS minus the Rss of the guest-RAM mapping (the mapping
#                whose size is L2_MIB), read while L2 runs, at the marker
#   vmm_hwm_kib  VmHWM minus the same guest-RAM Rss
#   guest_rss_kib  guest RAM resident by then (guest_thp_kib: of it in huge pages)
# The times are those of an emulated machine: compare VMMs with each other,
# not with hardware. Numbers only; no pass/fail.

set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"

bench_start "${1:-}" RUNS=5 L2_MIB=256
e2e_build_tools

# L2: busybox and an init that prints the marker and powers off at once.
cat >"$work/init" <<'EOF'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo "COHO-L2 userspace uptime=$(/bin/busybox cut -d' ' -f1 /proc/uptime)"
/bin/busybox poweroff -f
EOF
mkdir -p "$work/l2"
e2e_rootfs "$work/l2" "$work/init"
e2e_cpio "$work/l2" "$work/l2.cpio.gz" gzip

debug=()
[ "${VMM_DEBUG:-1}" = 0 ] || debug=(--debug)
FRESH_L1=${FRESH_L1:-1}
per_l1=$RUNS
[ "$FRESH_L1" = 0 ] || per_l1=1
{
	for i in $(seq 1 "$per_l1"); do
		printf "run_case run%d /runstat -g %d -t 120 -- /vmm run -k /Image -i /l2.cpio.gz" "$i" "$L2_MIB"
		printf " -c 1 -m %d -p 'console=ttyS0 quiet panic=-1'%s\n" "$L2_MIB" "${debug:+ ${debug[*]}}"
	done
} >"$work/cases.sh"
e2e_l1_initramfs "$work/l1.cpio" "$work/cases.sh" vmm="$VMM" runstat="$E2E_RUNSTAT" \
	Image="$COHO_KERNEL" l2.cpio.gz="$work/l2.cpio.gz"

# shellcheck disable=SC2034 # read by e2e_boot_l1
E2E_QEMU_TIMEOUT=$((60 + per_l1 * 130))
echo "bench: vmm=${VMM#"$E2E_ROOT"/} kernel=$COHO_KVER runs=$RUNS" \
	"$([ "$FRESH_L1" = 0 ] && echo "in one L1" || echo "each in a fresh L1")" \
	"(L1: QEMU TCG, 2 vCPUs, KVM; L2: 1 vCPU, $L2_MIB MiB, busybox initramfs)"
# logs[i], sections[i]: where run i's measurement is.
declare -a logs=() sections=()
qemu_seconds=0
for b in $(seq 1 $((RUNS / per_l1))); do
	log=$E2E_OUT/boot-$b.log
	e2e_boot_l1 "$log" 3 "$work/l1.cpio"
	[ "$E2E_QEMU_RC" -eq 0 ] || { echo "bench: QEMU exited $E2E_QEMU_RC after ${E2E_QEMU_SECONDS}s"; e2e_tail "$log" 40; }
	qemu_seconds=$(awk -v a="$qemu_seconds" -v b="$E2E_QEMU_SECONDS" 'BEGIN { print a + b }')
	for i in $(seq 1 "$per_l1"); do
		logs+=("$log")
		sections+=("run$i")
	done
done

metrics=(wall_ms marker_ms vmm_rss_kib vmm_hwm_kib guest_rss_kib guest_thp_kib)
declare -A values=()
for i in $(seq 1 "$RUNS"); do
	sec=$(e2e_section "${logs[i - 1]}" "${sections[i - 1]}")
	line=$(printf '%s\n' "$sec" | grep -o 'runstat: rc=.*' | tail -n 1 || true)
	if [ -z "$line" ]; then
		echo "run $i: no measurement"
		printf '%s\n' "$sec" | tail -n 20 | sed 's/^/  | /'
		continue
	fi
	echo "run $i: ${line#runstat: }"
	printf '%s\n' "$sec" | sed -n 's/^COHO-L1 stderr case=run[0-9]*: \(.*clean boot: [0-9].*\)/  \1/p'
	[ "$(e2e_value "$line" rc | cut -d' ' -f1)" = 0 ] || { echo "  (run $i failed; left out)"; continue; }
	for m in "${metrics[@]}"; do
		v=$(e2e_value "$line" "$m" | cut -d' ' -f1)
		[[ $v == -* ]] || values[$m]+="$v "
	done
done

printf '%-14s %10s %10s %10s %4s\n' metric median min max n
for m in "${metrics[@]}"; do
	# shellcheck disable=SC2086
	printf '%s\n' ${values[$m]:-} | sort -g | awk -v m="$m" '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { printf "%-14s %10s %10s %10s %4d\n", m, "-", "-", "-", 0; exit }
			med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%-14s %10.1f %10.1f %10.1f %4d\n", m, med, v[1], v[NR], NR
		}'
done
echo "bench: L1 QEMU time ${qemu_seconds}s in all; logs ${E2E_OUT#"$E2E_ROOT"/}/boot-*.log"
