#!/bin/sh
# /init of the L2 guest (busybox ash). It reports what the guest sees as
# "COHO-L2 key=value" lines on the console for the host test to check, then
# powers off. Nothing here may stop the script before the power-off: no set -e.
# Sourced with COHO_E2E_FUNCS=1 it only defines the functions (the harness's
# selftest runs pci_report in L1, on the devices QEMU gives L1).

say() { echo "COHO-L2 $*"; }

dt=/proc/device-tree

# Print a property as hex bytes without separators.
dt_hex() { od -An -v -tx1 "$1" 2>/dev/null | tr -d ' \n'; }
# Print a string-list property with the NULs turned into spaces.
dt_str() { tr '\0' ' ' <"$1" 2>/dev/null | sed 's/ *$//'; }
# Print the 32-bit cell property FILE as a decimal number.
dt_u32() { echo $((0x$(dt_hex "$1"))); }

# --- PCI devices passed through (coho_e2e_vfio) ---------------------------

# pci_res DIR BAR FIELD: field 1 (start), 2 (end) or 3 (flags) of BAR's line
# in the device's sysfs resource file.
# shellcheck disable=SC3043 # busybox ash has local (in the functions below)
pci_res() {
	awk -v l=$(($2 + 1)) -v f="$3" 'NR == l { print $f }' "$1/resource" 2>/dev/null
}
# rd ADDR / wr ADDR VALUE: a 32-bit MMIO access (busybox devmem, lower case).
rd() { devmem "$(printf '0x%x' "$(($1))")" 32 | tr 'A-F' 'a-f'; }
wr() { devmem "$(printf '0x%x' "$(($1))")" 32 "$2"; }

# edu_probe DIR: QEMU's edu device (1234:11e8): its ID register, the
# inverter at +4, the factorial unit at +8 (status at +0x20, bit 0 = busy).
edu_probe() {
	local d=$1 a i fact
	# No driver turns memory decoding on: pci_enable_device via sysfs.
	echo 1 >"$d/enable" 2>/dev/null
	a=$(pci_res "$d" 0 1)
	if [ $((a)) -eq 0 ]; then
		say "edu bar0=unassigned"
		return
	fi
	wr $((a + 4)) 0x12345678
	wr $((a + 8)) 5
	i=0
	while [ $i -lt 50 ] && [ $(($(rd $((a + 0x20))) & 1)) -ne 0 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	fact=$(rd $((a + 8)))
	say "edu bar0=$a flags=$(pci_res "$d" 0 3) id=$(rd "$a") inv=$(rd $((a + 4))) fact=$fact"
	edu_irqs "$d"
}

# edu_irqs DIR: edu's DMA engine and both interrupt paths, each from L2:
# a DMA round trip RAM -> edu -> RAM (pcitool), MSI through a tiny test
# driver (edu_msi.ko: raises and counts), then INTx through uio_pci_generic
# (pcitool counts each raise exactly once and watches for extra ones).
edu_irqs() {
	local d=$1 bdf=${1##*/} mods u n
	say "edu-dma $(pcitool edu-dma "$bdf" 2>&1 | tr '\n' ' ')"
	mods=/lib/modules/$(uname -r)
	if [ -f "$mods/edu_msi.ko" ]; then
		insmod "$mods/edu_msi.ko" rounds=10 2>/dev/null || say "edu-msi insmod=failed"
		dmesg | grep 'edu-msi:' | sed 's/^\[[ 0-9.]*\] //' | while read -r l; do say "$l"; done
		say "edu-msi-irq $(grep -E 'edu' /proc/interrupts | head -n 1 | tr -s ' ')"
		rmmod edu_msi 2>/dev/null
	else
		say "edu-msi module=missing"
	fi
	insmod "$mods/uio.ko" 2>/dev/null
	insmod "$mods/uio_pci_generic.ko" 2>/dev/null
	echo 1234 11e8 >/sys/bus/pci/drivers/uio_pci_generic/new_id 2>/dev/null
	u=
	for n in 1 2 3 4 5 6 7 8 9 10; do
		u=$(ls "$d/uio" 2>/dev/null | head -n 1)
		[ -z "$u" ] || break
		sleep 0.2
	done
	if [ -n "$u" ]; then
		say "edu-intx $(pcitool edu-intx "$bdf" "/dev/$u" 10 2>&1 | tr '\n' ' ')"
		say "edu-intx-irq $(grep uio_pci_generic /proc/interrupts | head -n 1 | tr -s ' ')"
	else
		say "edu-intx uio=none"
	fi
}

# ivshmem_probe DIR MARK: QEMU's ivshmem-plain (1af4:1110): BAR2 is the shared
# memory. Report its flags, whether it can be mapped write-combined, the
# sha256 of its first 64 KiB (read through sysfs resource2 with dd) and of 64
# words sampled every 1 KiB over them with devmem ("0x%08x" lines, in case
# the resource file cannot be read), then write MARK at 64 KiB.
ivshmem_probe() {
	local d=$1 mark=$2 a flags i w wc via moff f
	# Where MARK goes: 64 KiB unless the case asks for another page (coho_e2e_shm_page=N).
	moff=$(sed -n 's/.*coho_e2e_shm_page=\([0-9]*\).*/\1/p' /proc/cmdline)
	moff=$((${moff:-16} * 4096))
	echo 1 >"$d/enable" 2>/dev/null
	a=$(pci_res "$d" 2 1) flags=$(pci_res "$d" 2 3)
	if [ $((a)) -eq 0 ]; then
		say "ivshmem bar2=unassigned"
		return
	fi
	if [ -e "$d/resource2_wc" ]; then wc=yes; else wc=no; fi
	# IORESOURCE_PREFETCH 0x2000, IORESOURCE_MEM_64 0x100000
	say "ivshmem bar2=$a flags=$flags prefetch=$([ $((flags & 0x2000)) -ne 0 ] && echo yes || echo no) mem64=$([ $((flags & 0x100000)) -ne 0 ] && echo yes || echo no) wc=$wc size=$(($(pci_res "$d" 2 2) - a + 1))"
	# The first 64 KiB through both sysfs mappings: resource2 (L2 maps it
	# uncached) and resource2_wc (write-combining), 32-bit loads (pcitool read).
	for f in resource2 resource2_wc; do
		[ -e "$d/$f" ] || continue
		pcitool read "$d/$f" 0 65536 >/tmp/ivshmem.bin 2>/tmp/ivshmem.err
		say "ivshmem-read map=$f bytes=$(wc -c </tmp/ivshmem.bin) sha=$(sha256sum </tmp/ivshmem.bin | cut -d' ' -f1) err=$(head -n 1 /tmp/ivshmem.err)"
	done
	rm -f /tmp/ivshmem.bin /tmp/ivshmem.err
	i=0
	while [ $i -lt 64 ]; do
		rd $((a + i * 1024))
		i=$((i + 1))
	done >/tmp/ivshmem.sample
	say "ivshmem-sample words=$(wc -l </tmp/ivshmem.sample) sha=$(sha256sum </tmp/ivshmem.sample | cut -d' ' -f1)"
	# MARK, padded to whole words, at 64 KiB: dd on resource2, else devmem.
	while [ $((${#mark} % 4)) -ne 0 ]; do mark="$mark."; done
	via="dd"
	if ! printf '%s' "$mark" | dd of="$d/resource2" bs=4096 seek=$((moff / 4096)) conv=notrunc 2>/dev/null; then
		via=devmem i=0
		for w in $(printf '%s' "$mark" | od -An -v -tx4); do
			wr $((a + moff + i)) "0x$w"
			i=$((i + 4))
		done
	fi
	say "ivshmem-write via=$via mark=$mark readback=$(rd $((a + moff)))"
	# MARK-wc one page further, written through resource2_wc.
	if [ -e "$d/resource2_wc" ]; then
		say "ivshmem-wc-write $(printf '%s' "$mark-wc" | pcitool write "$d/resource2_wc" $((moff + 4096)) 256 2>&1)"
	fi
	# A load pair on BAR0 (256 bytes: always trapped): the VMM cannot decode
	# it and must abort this process (SIGBUS, 135), not stop the guest.
	pcitool ldp "$d/resource0" >/tmp/ldp.out 2>&1
	say "ivshmem-ldp rc=$? $(tr '\n' ' ' </tmp/ldp.out)"
}

# pci_report MARK: every PCI device, edu and ivshmem probed, the PCI host
# bridges of the DT.
pci_report() {
	local d id b c
	for d in /sys/bus/pci/devices/*; do
		[ -e "$d/vendor" ] || continue
		id=$(cat "$d/vendor"):$(cat "$d/device")
		id=$(echo "$id" | sed 's/0x//g')
		say "pci dev=$id bdf=${d##*/} class=$(cat "$d/class")"
		case $id in
		1234:11e8) edu_probe "$d" ;;
		1af4:1110) ivshmem_probe "$d" "$1" ;;
		esac
	done
	for b in "$dt"/pci@* "$dt"/pcie@*; do
		[ -d "$b" ] || continue
		if [ -e "$b/dma-coherent" ]; then c=yes; else c=no; fi
		say "pci-host node=${b#"$dt"} reg=0x$(dt_hex "$b/reg") dma-coherent=$c"
	done
	say "pci-done"
}

[ -z "${COHO_E2E_FUNCS:-}" ] || return 0

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

# The first node (path relative to the DT root) whose compatible contains $1.
# One grep over every compatible property: each process costs a lot under
# nested emulation.
compat_files=$(find $dt/ -name compatible 2>/dev/null)
# shellcheck disable=SC3043 # busybox ash has local
dt_find_compatible() {
	local f
	# shellcheck disable=SC2086 # a list of paths without spaces
	f=$(grep -l -F "$1" $compat_files 2>/dev/null | head -n 1)
	[ -n "$f" ] || return 1
	f=${f%/compatible}
	echo "${f#"$dt"}"
}

say "userspace uptime=$(cut -d' ' -f1 /proc/uptime)"
say "cpus=$(grep -c '^processor' /proc/cpuinfo)"
say "cmdline=$(cat /proc/cmdline)"
if [ -f /payload.bin ]; then
	say "payload=$(sha256sum /payload.bin | cut -d' ' -f1) size=$(wc -c </payload.bin)"
else
	say "payload=missing"
fi

# Device tree, as the VMM built it.
say "dt-model=$(dt_str $dt/model)"
say "dt-psci=$(dt_str $dt/psci/compatible) method=$(dt_str $dt/psci/method)"
node=$(dt_find_compatible arm,armv8-timer) && say "dt-timer=$node" || say "dt-timer=missing"
node=$(dt_find_compatible ns16550a) && say "dt-serial=$node" || say "dt-serial=missing"
node=$(dt_find_compatible arm,pl011) && say "dt-pl011=$node"
for gic in arm,gic-v3 arm,cortex-a15-gic arm,gic-400 arm,cortex-a9-gic; do
	node=$(dt_find_compatible $gic) && { say "dt-gic=$gic node=$node"; break; }
done
[ -n "$node" ] || say "dt-gic=missing"
node=$(dt_find_compatible arm,gic-v3-its) && say "dt-its=$node" || say "dt-its=missing"
node=$(dt_find_compatible arm,pl031) && say "dt-rtc=$node" || say "dt-rtc=missing"

# The memory node: reg is <address size> in the root's cell counts.
ac=$(dt_u32 $dt/#address-cells) sc=$(dt_u32 $dt/#size-cells)
mem=
for d in "$dt"/memory*; do
	[ "$(dt_str "$d/device_type")" = memory ] && { mem=$d; break; }
done
if [ -n "$mem" ]; then
	reg=$(dt_hex "$mem/reg")
	base=$(echo "$reg" | cut -c1-$((ac * 8)))
	size=$(echo "$reg" | cut -c$((ac * 8 + 1))-$(((ac + sc) * 8)))
	say "dt-memory=${mem#"$dt"} base=0x$base size=0x$size"
else
	say "dt-memory=missing"
fi
say "mem-total=$(sed -n 's/^MemTotal: *//p' /proc/meminfo)"

if [ -e $dt/chosen/linux,initrd-start ]; then
	say "dt-initrd=0x$(dt_hex $dt/chosen/linux,initrd-start)-0x$(dt_hex $dt/chosen/linux,initrd-end)"
else
	say "dt-initrd=missing"
fi
[ -e $dt/chosen/bootargs ] && say "dt-bootargs=$(dt_str $dt/chosen/bootargs)"
[ -e $dt/chosen/stdout-path ] && say "dt-stdout-path=$(dt_str $dt/chosen/stdout-path)"

say "done uptime=$(cut -d' ' -f1 /proc/uptime)"
# coho_e2e_virtio: load the virtio drivers and report what the devices do.
if grep -q 'coho_e2e_virtio' /proc/cmdline; then
	mods=/lib/modules/$(uname -r)
	if [ -f "$mods/order" ]; then
		while read -r m; do
			insmod "$mods/$m.ko" 2>/dev/null || say "insmod-failed=$m"
		done <"$mods/order"
	fi
	sleep 1
	for b in $dt/pci@*; do
		[ -d "$b" ] || continue
		if [ -e "$b/dma-coherent" ]; then c=yes; else c=no; fi
		say "dt-pci-bridge=${b#"$dt"} dma-coherent=$c"
	done
	for v in $dt/virtio_mmio@*; do
		[ -d "$v" ] || continue
		if [ -e "$v/dma-coherent" ]; then c=yes; else c=no; fi
		say "dt-virtio-mmio=${v#"$dt"} dma-coherent=$c"
	done
	rng=/sys/class/misc/hw_random
	if [ -e $rng/rng_current ]; then say "rng-current=$(cat $rng/rng_current)"; else say "rng-current=none"; fi
	say "rng-bytes=$(head -c 4096 /dev/hwrng 2>/dev/null | wc -c)"
	say "rng-distinct=$(head -c 4096 /dev/hwrng 2>/dev/null | od -An -v -tx1 | tr ' ' '\n' | grep . | sort -u | wc -l)"
	say "msi-irqs=$(grep -c -i 'msi' /proc/interrupts)"
	say "virtio-devices=$(ls /sys/bus/virtio/devices 2>/dev/null | tr '\n' ' ')"
fi
# coho_e2e_vfio: the PCI devices coho passed through (QEMU's edu, ivshmem-plain).
if grep -q 'coho_e2e_vfio' /proc/cmdline; then
	token=$(sed -n 's/.*coho_e2e=\([^ ]*\).*/\1/p' /proc/cmdline)
	pci_report "COHO-IVSHMEM-$token"
fi
# coho_e2e_hvc: the virtio console: write to it, read what the host piped in.
if grep -q 'coho_e2e_hvc' /proc/cmdline; then
	token=$(sed -n 's/.*coho_e2e=\([^ ]*\).*/\1/p' /proc/cmdline)
	if [ -c /dev/hvc0 ]; then
		echo "COHO-HVC out-$token" >/dev/hvc0
		# Input that arrives while no one has the tty open is dropped by the
		# guest (as on a real serial line): open it, then ask for the line.
		exec 3</dev/hvc0
		say "hvc-ready"
		line=
		read -r -t 30 line <&3
		exec 3<&-
		say "hvc-in=$line"
	else
		say "hvc-in=no-hvc0"
	fi
fi
# coho_e2e_9p: mount the host's share, read a file, write files back
# (including a tree with a symlink via cp -a), look for ways out.
if grep -q 'coho_e2e_9p' /proc/cmdline; then
	token=$(sed -n 's/.*coho_e2e=\([^ ]*\).*/\1/p' /proc/cmdline)
	mkdir -p /mnt
	mount -t 9p -o trans=virtio,version=9p2000.L hostshare /mnt
	say "9p-mount=$?"
	say "9p-hello-sha=$(sha256sum /mnt/hello.txt 2>/dev/null | cut -d' ' -f1)"
	echo "written-by-L2-$token" >/mnt/from-guest.txt
	mkdir -p /tmp/t/a/b && echo tree >/tmp/t/a/f && ln -s f /tmp/t/a/l
	if cp -a /tmp/t /mnt/t && [ "$(readlink /mnt/t/a/l)" = f ] && [ "$(cat /mnt/t/a/l)" = tree ]; then
		say "9p-cp-a=ok"
	else
		say "9p-cp-a=failed"
	fi
	say "9p-ls=$(ls /mnt | tr '\n' ' ')"
	# Nothing outside the share may be visible or writable through it.
	found=$(ls -a /mnt /mnt/.. /mnt/escape/ 2>/dev/null | grep -c "outside-$token")
	echo x >/mnt/../escaped-$token 2>/dev/null
	say "9p-outside-visible=$found"
	sync
	umount /mnt
fi
# coho_e2e_root9p: -d DIR made DIR the root filesystem (9p tag /dev/root); L2
# runs from its initramfs, so it mounts the share itself.
if grep -q 'coho_e2e_root9p' /proc/cmdline; then
	mkdir -p /mnt
	mount -t 9p -o trans=virtio,version=9p2000.L /dev/root /mnt
	say "root9p-mount=$?"
	say "root9p-hello-sha=$(sha256sum /mnt/hello.txt 2>/dev/null | cut -d' ' -f1)"
	tr ' ' '\n' </proc/cmdline | grep -E '^(root|rootfstype)=' | sed 's/^/COHO-L2 root9p-/'
	umount /mnt
fi
# coho_e2e_blk: two virtio disks: read both, write a token to the first,
# try to write the second (read-only).
if grep -q 'coho_e2e_blk' /proc/cmdline; then
	token=$(sed -n 's/.*coho_e2e=\([^ ]*\).*/\1/p' /proc/cmdline)
	say "blk-rw-sha=$(sha256sum /dev/vda 2>/dev/null | cut -d' ' -f1)"
	say "blk-ro-sha=$(sha256sum /dev/vdb 2>/dev/null | cut -d' ' -f1)"
	say "blk-ro-flag=$(cat /sys/block/vdb/ro 2>/dev/null)"
	say "blk-serial=$(cat /sys/block/vda/serial 2>/dev/null)"
	printf 'COHO-WRITTEN-%s\n' "$token" | dd of=/dev/vda bs=512 seek=1 conv=notrunc 2>/dev/null
	sync
	say "blk-write=$?"
	if echo x | dd of=/dev/vdb bs=512 seek=1 conv=notrunc 2>/dev/null && sync; then
		say "blk-ro-write=accepted"
	else
		say "blk-ro-write=refused"
	fi
fi
# coho_e2e_net=GUEST_IP,HOST_IP: configure eth0, ping the host, fetch its
# /blob over HTTP, then serve /payload.bin as /up.bin until the host says bye.
net=$(sed -n 's/.*coho_e2e_net=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$net" ]; then
	gip=${net%,*} hip=${net#*,}
	say "net-mac=$(cat /sys/class/net/eth0/address 2>/dev/null)"
	ip link set lo up
	ip addr add "$gip/24" dev eth0 && ip link set eth0 up
	if ping -c 2 -W 10 "$hip" >/dev/null 2>&1; then say "net-ping=ok"; else say "net-ping=failed"; fi
	wget -q -O /tmp/blob "http://$hip:8080/blob"
	say "net-get=$? sha=$(sha256sum /tmp/blob 2>/dev/null | cut -d' ' -f1)"
	rm -f /tmp/blob
	mkdir -p /tmp/www && cp /payload.bin /tmp/www/up.bin
	httpd -p 8080 -h /tmp/www
	say "net-ready"
	timeout 120 nc -l -p 9001 >/dev/null
	say "net-bye=$?"
fi
# coho_e2e_reboot_once: reboot on the first boot, power off on the second.
# The boot count lives in the first bytes of the disk /dev/vda (RAM does not
# count: coho reloads the initramfs on reboot).
if grep -q 'coho_e2e_reboot_once' /proc/cmdline; then
	mods=/lib/modules/$(uname -r)
	while read -r m; do insmod "$mods/$m.ko" 2>/dev/null; done <"$mods/order"
	n=0
	while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
	boots=$(dd if=/dev/vda bs=16 count=1 2>/dev/null | tr -dc 0-9)
	boots=$((${boots:-0} + 1))
	printf '%-16s' "$boots" | dd of=/dev/vda bs=16 count=1 conv=notrunc,fsync 2>/dev/null
	say "boot-count=$boots"
	if [ "$boots" -lt 2 ]; then
		say "rebooting"
		reboot -f
	fi
	poweroff -f
fi
# coho_e2e_panic: a kernel panic (SysRq c).
if grep -q 'coho_e2e_panic' /proc/cmdline; then
	say "panicking"
	# Let the UART drain first: the panic report would cut into the line.
	sleep 1
	echo 1 >/proc/sys/kernel/sysrq
	echo c >/proc/sysrq-trigger
fi
# coho_e2e_ticks: count forever, 10 a second (pause/resume, --timeout).
if grep -q 'coho_e2e_ticks' /proc/cmdline; then
	n=0
	while :; do
		n=$((n + 1))
		say "tick=$n"
		sleep 0.1
	done
fi
# coho_e2e_reboot: ask for a reset instead of a power-off (PSCI SYSTEM_RESET).
if grep -q 'coho_e2e_reboot' /proc/cmdline; then
	say "rebooting"
	reboot -f
fi
# coho_e2e_flood: print far more than a pipe holds (the reader may never read).
if grep -q 'coho_e2e_flood' /proc/cmdline; then
	yes 'COHO-L2 flood 0123456789abcdef0123456789abcdef0123456789abcdef' | head -c 1000000
fi
# coho_e2e_hold: stay up until the VMM is stopped from outside (signal tests).
if grep -q 'coho_e2e_hold' /proc/cmdline; then
	say "holding"
	while :; do sleep 1; done
fi
poweroff -f
