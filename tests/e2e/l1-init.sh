#!/bin/sh
# /init of the L1 guest (busybox ash): the KVM host that runs the VMM under
# test. It sources /cases.sh, written by the host script, which calls
# run_case for each VMM invocation; every case ends in a
# "COHO-L1 case=NAME rc=N" line. Then it powers off. No set -e: a failing
# case must never keep the machine from powering off.

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp

say() { echo "COHO-L1 $*"; }

# Modules (tun and vhost-net, or VFIO for the passthrough boot), in
# dependency order.
mods=/lib/modules/$(uname -r)
if [ -f "$mods/order" ]; then
	while read -r m; do
		insmod "$mods/$m.ko" 2>/dev/null || say "insmod-failed=$m"
	done <"$mods/order"
fi

# run_case NAME COMMAND...: run COMMAND with its stdout on the console,
# bounded by $CASE_TIMEOUT seconds; report its stderr lines (prefixed) and
# its exit code.
CASE_TIMEOUT=${CASE_TIMEOUT:-120}
# shellcheck disable=SC3043 # busybox ash has local
run_case() {
	local name="$1" rc t0 t1
	shift
	say "begin case=$name"
	t0=$(cut -d' ' -f1 /proc/uptime)
	timeout -s KILL "$CASE_TIMEOUT" "$@" 2>"/tmp/stderr.$name"
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	sed "s/^/COHO-L1 stderr case=$name: /" "/tmp/stderr.$name"
	tty_check "$name"
	say "case=$name rc=$rc seconds=$(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}')"
}

# run_stdin_case NAME FILE COMMAND...: run_case with COMMAND's stdin a FIFO
# that gets FILE once coho's default guest says its shell is on the console,
# then end of file. FILE /dev/null is COMMAND's stdin itself, and @FILE
# makes FILE itself the stdin, all of it there before the guest boots (coho's
# 8250 keeps that typeahead across the FIFO clear Linux does when it opens
# the port). COMMAND's stdout is printed when it is done.
run_stdin_case() {
	local name="$1" file="$2" pid rc i t0 t1
	shift 2
	say "begin case=$name"
	t0=$(cut -d' ' -f1 /proc/uptime)
	if [ "$file" = /dev/null ]; then
		timeout -s KILL "$CASE_TIMEOUT" "$@" </dev/null >"/tmp/out.$name" 2>"/tmp/stderr.$name"
		rc=$?
	elif [ "${file#@}" != "$file" ]; then
		# @FILE: stdin is FILE itself, all of it available from the start.
		timeout -s KILL "$CASE_TIMEOUT" "$@" <"${file#@}" >"/tmp/out.$name" 2>"/tmp/stderr.$name"
		rc=$?
	else
		rm -f "/tmp/in.$name"
		mkfifo "/tmp/in.$name"
		timeout -s KILL "$CASE_TIMEOUT" "$@" <"/tmp/in.$name" >"/tmp/out.$name" 2>"/tmp/stderr.$name" &
		pid=$!
		exec 5>"/tmp/in.$name"
		i=0
		while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null &&
			! grep -q 'shell on the console' "/tmp/out.$name"; do
			sleep 0.1
			i=$((i + 1))
		done
		(cat "$file" >&5) 2>/dev/null
		exec 5>&-
		wait $pid
		rc=$?
		rm -f "/tmp/in.$name"
	fi
	t1=$(cut -d' ' -f1 /proc/uptime)
	tr -d '\r' <"/tmp/out.$name"
	echo
	sed "s/^/COHO-L1 stderr case=$name: /" "/tmp/stderr.$name"
	tty_check "$name"
	say "case=$name rc=$rc seconds=$(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}')"
}

# run_script_case NAME CMD...: as a script or CI job runs coho: stdin from
# /dev/null, stdout to a file (printed afterwards, so the checks see L2's
# lines). If the case wrote /tmp/conlog.NAME (--console-log), report whether
# it holds exactly what coho printed.
run_script_case() {
	local name="$1" rc t0 t1 c
	shift
	say "begin case=$name"
	t0=$(cut -d' ' -f1 /proc/uptime)
	timeout -s KILL "$CASE_TIMEOUT" "$@" </dev/null >"/tmp/out.$name" 2>"/tmp/stderr.$name"
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	cat "/tmp/out.$name"
	echo
	sed "s/^/COHO-L1 stderr case=$name: /" "/tmp/stderr.$name"
	if [ -f "/tmp/conlog.$name" ]; then
		if cmp -s "/tmp/out.$name" "/tmp/conlog.$name"; then c=yes; else c=no; fi
		say "console-log case=$name same=$c bytes=$(wc -c <"/tmp/conlog.$name") printed=$(wc -c <"/tmp/out.$name")"
	fi
	tty_check "$name"
	say "case=$name rc=$rc seconds=$(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}')"
}

# ticks FILE: how many "COHO-L2 tick=" lines FILE has.
ticks() {
	local n
	n=$(grep -c '^COHO-L2 tick=' "$1" 2>/dev/null)
	echo "${n:-0}"
}

# ctl_case NAME COHO_ARGS...: the control commands against a guest running in
# the background as a script would start it (stdin /dev/null, --name e2e-ctl,
# L2 counting ticks): coho list, pause (the ticks stall), debug (registers),
# resume (they go on), a SysRq through the console, stop (exit 0); a wrong
# name; the socket's and its directory's modes; a stale socket after SIGKILL.
ctl_case() {
	local name=$1 i a b c pid dir out
	shift
	say "begin case=$name"
	dir=${XDG_RUNTIME_DIR:-${HOME:-/}/.coho}
	[ -n "${XDG_RUNTIME_DIR:-}" ] && dir=$XDG_RUNTIME_DIR/coho
	dir=$(echo "$dir" | sed 's#//*#/#g')
	out=/tmp/out.$name
	"$@" --name e2e-ctl </dev/null >"$out" 2>"/tmp/stderr.$name" &
	pid=$!
	i=0
	while [ "$(ticks "$out")" -lt 3 ] && [ $i -lt 600 ] && kill -0 $pid 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	say "ctl-started ticks=$(ticks "$out")"
	/coho list >/tmp/list.$name 2>&1
	say "ctl-list rc=$? $(grep -E '^e2e-ctl ' /tmp/list.$name | tr -s ' ')"
	say "ctl-modes dir=$(stat -c %a "$dir") sock=$(stat -c %a "$dir/e2e-ctl.sock") type=$(stat -c %F "$dir/e2e-ctl.sock" | tr ' ' _)"
	/coho pause --name e2e-ctl >/dev/null 2>&1
	say "ctl-pause rc=$?"
	sleep 0.5
	a=$(ticks "$out")
	sleep 2
	b=$(ticks "$out")
	/coho list | grep -E '^e2e-ctl ' | tr -s ' ' | sed 's/^/COHO-L1 ctl-list-paused /'
	/coho debug --name e2e-ctl --dump >/tmp/dump.$name 2>&1
	say "ctl-dump rc=$? vcpus=$(grep -c '^vCPU ' /tmp/dump.$name) pcs=$(grep -c ' pc 0x' /tmp/dump.$name)"
	/coho resume --name e2e-ctl >/dev/null 2>&1
	say "ctl-resume rc=$?"
	sleep 2
	c=$(ticks "$out")
	say "ctl-ticks paused_from=$a paused_to=$b resumed_to=$c"
	/coho debug --name e2e-ctl --sysrq h >/dev/null 2>&1
	say "ctl-sysrq rc=$?"
	sleep 1
	/coho stop --name no-such-guest >/dev/null 2>/tmp/nosuch.$name
	say "ctl-nosuch rc=$? err=$(head -n 1 /tmp/nosuch.$name)"
	/coho stop --name e2e-ctl >/dev/null 2>&1
	say "ctl-stop rc=$?"
	wait $pid
	say "ctl-exit rc=$? sock=$([ -e "$dir/e2e-ctl.sock" ] && echo left || echo gone)"
	say "ctl-sysrq-seen=$(grep -c 'sysrq: ' "$out")"
	/coho list >/tmp/list.$name 2>&1
	say "ctl-list-after lines=$(grep -c -E '^e2e-ctl ' /tmp/list.$name)"
	# A coho killed with SIGKILL leaves its socket: list removes it, the name is free again.
	"$@" --name e2e-stale </dev/null >/dev/null 2>&1 &
	pid=$!
	i=0
	while [ ! -S "$dir/e2e-stale.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 $pid
	wait $pid 2>/dev/null
	say "ctl-stale left=$([ -S "$dir/e2e-stale.sock" ] && echo yes || echo no)"
	/coho list >/dev/null 2>&1
	say "ctl-stale after-list=$([ -e "$dir/e2e-stale.sock" ] && echo yes || echo no)"
	sed "s/^/COHO-L1 stderr case=$name: /" "/tmp/stderr.$name"
	tty_check "$name"
	say "case=$name rc=0 seconds=0"
}

# dump_file NAME FILE: report FILE's first 4 bytes and its base64 dump.
dump_file() {
	if [ -f "$2" ]; then
		say "file case=$1 size=$(wc -c <"$2") magic=$(hexdump -n 4 -e '4/1 "%02x"' "$2")"
		say "base64-begin case=$1"
		base64 "$2"
		say "base64-end case=$1"
	else
		say "file case=$1 missing"
	fi
}

# The console's settings before any case ran: every case must leave them so.
TTY0=$(stty -g </dev/console)
# tty_check NAME: report whether the console is as TTY0 left it, and put it back.
tty_check() {
	if [ "$(stty -g </dev/console)" = "$TTY0" ]; then
		say "tty-restored case=$1 yes"
	else
		say "tty-restored case=$1 no"
		stty "$TTY0" </dev/console
	fi
}

# run_signal_case NAME SIGNAL COMMAND...: run COMMAND with stdin on the
# console (a terminal, so coho switches it to raw mode), wait until the L2
# guest says it is holding, send SIGNAL, and report the exit code and
# whether the terminal settings came back exactly.
run_signal_case() {
	local name=$1 sig=$2 pid rc i t0 t1
	shift 2
	say "begin case=$name"
	t0=$(cut -d' ' -f1 /proc/uptime)
	"$@" </dev/console >/tmp/out.$name 2>/tmp/stderr.$name &
	pid=$!
	i=0
	while [ $i -lt 1200 ] && ! grep -q 'COHO-L2 holding' /tmp/out.$name; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -s "$sig" $pid
	i=0
	while [ $i -lt 300 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	kill -s KILL $pid 2>/dev/null
	wait $pid
	rc=$?
	tr -d '\r' </tmp/out.$name
	sed "s/^/COHO-L1 stderr case=$name: /" /tmp/stderr.$name
	tty_check "$name"
	t1=$(cut -d' ' -f1 /proc/uptime)
	say "case=$name rc=$rc seconds=$(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}')"
}

# run_blk_case NAME COMMAND...: give COMMAND two fresh random disk images,
# /tmp/rw.img and /tmp/ro.img, and report their checksums before, and what
# the guest left in sector 1 of rw.img afterwards.
run_blk_case() {
	local name=$1
	shift
	dd if=/dev/urandom of=/tmp/rw.img bs=1M count=4 2>/dev/null
	dd if=/dev/urandom of=/tmp/ro.img bs=1M count=4 2>/dev/null
	say "blk-before case=$name rw=$(sha256sum /tmp/rw.img | cut -d' ' -f1) ro=$(sha256sum /tmp/ro.img | cut -d' ' -f1)"
	run_case "$name" "$@"
	say "blk-after case=$name ro=$(sha256sum /tmp/ro.img | cut -d' ' -f1) sector1=$(dd if=/tmp/rw.img bs=512 skip=1 count=1 2>/dev/null | head -n 1 | tr -cd 'A-Za-z0-9_-')"
	rm -f /tmp/rw.img /tmp/ro.img
}

# run_9p_case NAME TOKEN COMMAND...: export /tmp/share (a random file, a
# symlink to /) with a secret next to it; afterwards report what the guest
# left in the share and whether anything appeared outside it.
run_9p_case() {
	local name=$1 token=$2
	shift 2
	rm -rf /tmp/share && mkdir -p /tmp/share
	dd if=/dev/urandom of=/tmp/share/hello.txt bs=1k count=300 2>/dev/null
	ln -s / /tmp/share/escape
	echo secret >/tmp/outside-$token
	ls /tmp >/tmp/ls-before.$name
	say "9p-before case=$name sha=$(sha256sum /tmp/share/hello.txt | cut -d' ' -f1)"
	run_case "$name" "$@"
	ls /tmp | grep -v -e "^ls-" -e "^stderr\." >/tmp/ls-after.$name
	grep -v -e "^ls-" -e "^stderr\." /tmp/ls-before.$name >/tmp/ls-b.$name
	say "9p-after case=$name guestfile=$(cat /tmp/share/from-guest.txt 2>/dev/null) link=$(readlink /tmp/share/t/a/l) newoutside=$(diff /tmp/ls-b.$name /tmp/ls-after.$name | grep -c '^+[^+]')"
}

# run_hvc_case NAME LINE COMMAND...: COMMAND's stdin is a FIFO; LINE is
# written to it once the guest says it is reading its console (hvc-ready).
run_hvc_case() {
	local name=$1 line=$2 pid rc i
	shift 2
	say "begin case=$name"
	rm -f /tmp/hvc.in
	mkfifo /tmp/hvc.in
	"$@" </tmp/hvc.in >/tmp/out.$name 2>/tmp/stderr.$name &
	pid=$!
	exec 4>/tmp/hvc.in
	i=0
	while [ $i -lt 1200 ] && ! grep -q 'COHO-L2 hvc-ready' /tmp/out.$name; do
		sleep 0.1
		i=$((i + 1))
	done
	echo "$line" >&4
	exec 4>&-
	i=0
	while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	kill -s KILL $pid 2>/dev/null
	wait $pid
	rc=$?
	tr -d '\r' </tmp/out.$name
	sed "s/^/COHO-L1 stderr case=$name: /" /tmp/stderr.$name
	tty_check "$name"
	say "case=$name rc=$rc"
}

# run_net_case NAME GUEST_IP TAP COMMAND...: serve /tmp/www/blob (random)
# over HTTP from L1; once the L2 guest at GUEST_IP says net-ready, fetch its
# /up.bin, tell it to finish (a line to its port 9001), and report what was
# fetched and whether the tap TAP still exists after coho exited.
run_net_case() {
	local name=$1 gip=$2 tap=$3 pid rc i t0 t1
	shift 3
	say "begin case=$name"
	t0=$(cut -d' ' -f1 /proc/uptime)
	if [ ! -f /tmp/www/blob ]; then
		mkdir -p /tmp/www
		dd if=/dev/urandom of=/tmp/www/blob bs=1k count=3000 2>/dev/null
		httpd -p 8080 -h /tmp/www
	fi
	say "net-before case=$name sha=$(sha256sum /tmp/www/blob | cut -d' ' -f1)"
	rm -f /tmp/up.$name
	"$@" >/tmp/out.$name 2>/tmp/stderr.$name &
	pid=$!
	i=0
	while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null && ! grep -q 'COHO-L2 net-ready' /tmp/out.$name; do
		sleep 0.1
		i=$((i + 1))
	done
	say "net-tap-during case=$name state=$(cat /sys/class/net/$tap/operstate 2>/dev/null)"
	# vhost-net's worker is a kernel thread named after its owner: vhost-PID.
	say "net-vhost case=$name threads=$(grep -lx "vhost-$pid" /proc/[0-9]*/comm 2>/dev/null | wc -l)"
	timeout 60 wget -q -O /tmp/up.$name "http://$gip:8080/up.bin"
	say "net-fetch case=$name rc=$? sha=$(sha256sum /tmp/up.$name 2>/dev/null | cut -d' ' -f1)"
	echo bye | timeout 10 nc "$gip" 9001
	i=0
	while [ $i -lt 600 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	kill -s KILL $pid 2>/dev/null
	wait $pid
	rc=$?
	tr -d '\r' </tmp/out.$name
	sed "s/^/COHO-L1 stderr case=$name: /" /tmp/stderr.$name
	tty_check "$name"
	if [ -e "/sys/class/net/$tap" ]; then i=yes; else i=no; fi
	say "net-after case=$name tap-exists=$i"
	t1=$(cut -d' ' -f1 /proc/uptime)
	say "case=$name rc=$rc seconds=$(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}')"
}

# --- VFIO (the passthrough boot: QEMU's edu and ivshmem-plain behind an SMMUv3)

# pci_driver BDF: the driver bound to the PCI device BDF, or "none".
pci_driver() {
	local l
	l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) || { echo none; return; }
	echo "${l##*/}"
}

# vfio_find: set EDU_BDF (1234:11e8) and IVSHMEM_BDF (1af4:1110), found by
# vendor and device ID, and report each device's driver before any binding.
vfio_find() {
	local d id
	EDU_BDF= IVSHMEM_BDF= RNG_BDF=
	for d in /sys/bus/pci/devices/*; do
		[ -e "$d/vendor" ] || continue
		id=$(cat "$d/vendor"):$(cat "$d/device")
		case $id in
		0x1234:0x11e8) EDU_BDF=${d##*/} ;;
		0x1af4:0x1110) IVSHMEM_BDF=${d##*/} ;;
		0x1af4:0x1044) RNG_BDF=${d##*/} ;; # virtio-rng, modern only
		esac
	done
	if [ -d /sys/bus/pci/drivers/vfio-pci ]; then d=yes; else d=no; fi
	say "vfio-pci-driver=$d container=$([ -c /dev/vfio/vfio ] && echo yes || echo no)"
	say "vfio-found dev=edu bdf=${EDU_BDF:-none} driver=$(pci_driver "$EDU_BDF")"
	say "vfio-found dev=ivshmem bdf=${IVSHMEM_BDF:-none} driver=$(pci_driver "$IVSHMEM_BDF")"
	say "vfio-found dev=virtio-rng bdf=${RNG_BDF:-none} driver=$(pci_driver "$RNG_BDF")"
}

# vfio_state CASE BDF: the device's driver and driver_override (after a case
# that must have left them alone).
vfio_state() {
	say "vfio-state case=$1 bdf=${2:-none} driver=$(pci_driver "$2") override=$(cat "/sys/bus/pci/devices/$2/driver_override" 2>/dev/null)"
}

# vfio_bind NAME BDF: bind the device to vfio-pci (driver_override, then
# drivers_probe) and report its IOMMU group and whether /dev/vfio/GROUP exists.
vfio_bind() {
	local name=$1 bdf=$2 d group i
	d=/sys/bus/pci/devices/$bdf
	if [ -z "$bdf" ] || [ ! -d "$d" ]; then
		say "vfio dev=$name bdf=${bdf:-none} group=none devnode=no driver=none"
		return 1
	fi
	# A driver built into L1's kernel (virtio-pci on Debian 13) lets go first.
	[ ! -e "$d/driver" ] || echo "$bdf" >"$d/driver/unbind"
	echo vfio-pci >"$d/driver_override"
	echo "$bdf" >/sys/bus/pci/drivers_probe
	group=$(readlink "$d/iommu_group" 2>/dev/null)
	group=${group##*/}
	i=0
	while [ $i -lt 20 ] && [ -n "$group" ] && [ ! -c "/dev/vfio/$group" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ -n "$group" ] && [ -c "/dev/vfio/$group" ]; then i=yes; else i=no; fi
	say "vfio dev=$name bdf=$bdf group=${group:-none} devnode=$i driver=$(pci_driver "$bdf")"
	[ "$i" = yes ]
}

# vfio_setup NAME: a pseudo-case binding edu, ivshmem and virtio-rng to
# vfio-pci (the VFIO cases after it pass $EDU_BDF, $IVSHMEM_BDF, $RNG_BDF to coho).
vfio_setup() {
	local name=$1 rc=0 t0 t1
	say "begin case=$name"
	t0=$(cut -d' ' -f1 /proc/uptime)
	vfio_bind edu "$EDU_BDF" || rc=1
	vfio_bind ivshmem "$IVSHMEM_BDF" || rc=1
	vfio_bind virtio-rng "$RNG_BDF" || rc=1
	t1=$(cut -d' ' -f1 /proc/uptime)
	tty_check "$name"
	say "case=$name rc=$rc seconds=$(echo "$t1 $t0" | awk '{printf "%.2f", $1 - $2}')"
}

say "userspace uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"
if [ -c /dev/kvm ]; then say "kvm=yes"; else say "kvm=no"; fi
dmesg | grep -iE 'kvm.*(vhe|hyp mode|initialized|GIC)' | sed 's/^/COHO-L1 dmesg: /'
[ -f /cases.sh ] && . /cases.sh
say "all-done uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
