#!/bin/sh
# /init of the demo guest: say hello, give a shell when the console is
# interactive (coho.demo=shell on the kernel command line), then power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo
echo "Hello from an arm64 guest booted by coho: Linux $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs, $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) MiB"
echo "Device tree model: $(cat /proc/device-tree/model), PSCI: $(tr '\0' ' ' </proc/device-tree/psci/compatible)"
if grep -q 'coho.demo=shell' /proc/cmdline; then
	echo "This is a busybox shell inside the guest. 'poweroff -f' ends the guest (or Ctrl-A x quits coho)."
	setsid cttyhack sh -l
fi
poweroff -f
