#!/bin/sh
# /init of the nested arm64 KVM host (L1) that the demo boots on x86_64:
# run coho on the console, report its exit status, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mode=$(sed -n 's/.*coho\.demo=\([a-z]*\).*/\1/p' /proc/cmdline)
echo "arm64 KVM host is up (Linux $(uname -r)); running: coho run -k Image -i guest.cpio.gz -c 2 -m 256"
/coho run -k /Image -i /guest.cpio.gz -c 2 -m 256 -p "quiet coho.demo=$mode"
echo "coho exited with status $?"
poweroff -f
