#!/bin/bash
# Command-line behaviour of a native coho build (no KVM needed: the whole
# load path runs "dry"): every bad input gets exit 2 and exactly one
# "coho: error:" line and leaves no file behind; --dump-dtb writes a DTB
# that dtc decompiles without warnings. Usage: tests/cli/run.sh COHO [LABEL]
set -uo pipefail
coho=$(realpath "$1")
label=${2:-cli}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/e2e/assets.sh
. "$root/tests/e2e/assets.sh" >/dev/null
set +e  # assets.sh sets -e; the checks below count failures instead
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok; else not_ok "$what"; fi; }

# Fixtures: the real Debian kernel, its gzip, a zboot wrapper, broken copies.
cp "$COHO_KERNEL" Image
gzip -1 -c Image >Image.gz
gcc -O2 -o mkzboot "$root/tests/tools/mkzboot.c" && ./mkzboot Image.gz vmlinuz.efi
head -c $(($(stat -c %s Image) - 4096)) Image >truncated.Image
head -c 100000 Image.gz >truncated.Image.gz
printf 'not a kernel at all, just text\n' >garbage
: >empty
mkdir adir
head -c 1000000 /dev/urandom >initrd.img
truncate -s 1100M huge-initrd.img

# expect_error NAME ARGS...: exit 2, one error line, nothing else on stderr, no out.dtb.
expect_error() {
	local name=$1 rc err
	shift
	rm -f out.dtb
	"$coho" "$@" >stdout.txt 2>stderr.txt </dev/null
	rc=$?
	err=$(cat stderr.txt)
	check "$name: exit 2 (got $rc: $err)" [ "$rc" -eq 2 ]
	check "$name: exactly one stderr line, a 'coho: error:' (got: $err)" \
		[ "$(wc -l <stderr.txt)" -eq 1 -a "$(grep -c '^coho: error: ' stderr.txt)" -eq 1 ]
	check "$name: no DTB left behind" [ ! -e out.dtb ]
	check "$name: nothing on stdout" [ ! -s stdout.txt ]
}

# expect_dtb NAME ARGS...: --dump-dtb out.dtb succeeds and dtc is silent.
expect_dtb() {
	local name=$1 rc
	shift
	rm -f out.dtb
	"$coho" run --dump-dtb out.dtb "$@" >stdout.txt 2>stderr.txt </dev/null
	rc=$?
	check "$name: exit 0 (got $rc: $(cat stderr.txt))" [ "$rc" -eq 0 ]
	check "$name: dtc decompiles without warnings" \
		bash -c 'dtc -I dtb -O dts -o out.dts out.dtb 2>dtc.err && [ ! -s dtc.err ]'
}

prop() { fdtget "$@" 2>/dev/null; }

expect_dtb image -k Image -i initrd.img -c 4 -m 512 -p "quiet marker=42"
check "image: bootargs = console + -p" [ "$(prop -t s out.dtb /chosen bootargs)" = "console=ttyS0 quiet marker=42" ]
check "image: 4 cpu nodes" [ "$(grep -c 'device_type = "cpu"' out.dts)" -eq 4 ]
check "image: memory is 512 MiB at 1 GiB" [ "$(prop -t x out.dtb /memory@40000000 reg)" = "0 40000000 0 20000000" ]
check "image: stdout-path is the 8250" [ "$(prop -t s out.dtb /chosen stdout-path)" = "/serial@9000000" ]
# A 64-bit property as two hex cells -> a number.
u64prop() { local hi lo; read -r hi lo < <(prop -t x out.dtb "$1" "$2"); echo $(((0x${hi:-0} << 32) | 0x${lo:-0})); }
start=$(u64prop /chosen linux,initrd-start)
end=$(u64prop /chosen linux,initrd-end)
isize=$(od -An -tu8 -j16 -N8 Image | tr -d ' ')
check "image: initrd range has the file's size" [ $((end - start)) -eq 1000000 ]
check "image: initrd after the kernel's image_size" [ "$start" -ge $((0x40000000 + isize)) ]
check "image: initrd inside the first GiB of RAM" [ "$end" -le $((0x80000000)) ]
check "image: kaslr-seed and rng-seed present" bash -c 'grep -q kaslr-seed out.dts && grep -q rng-seed out.dts'
expect_dtb imagegz -k Image.gz -c 1
expect_dtb zboot -k vmlinuz.efi -c 1
expect_dtb positional-kernel Image -c 1
expect_dtb gicv2 -k Image --irqchip gicv2 -c 8
check "gicv2: GICv2 node" grep -q 'arm,cortex-a15-gic' out.dts
expect_dtb gicv3 -k Image --irqchip gicv3 -c 2
check "gicv3: no ITS node" bash -c '! grep -q gic-v3-its out.dts'
expect_dtb mem-suffix -k Image -m 1G -c 1
check "mem-suffix: 1G" [ "$(prop -t x out.dtb /memory@40000000 reg)" = "0 40000000 0 40000000" ]
expect_dtb console-param -k Image -c 1 -p "console=hvc0"
check "console-param: no console added" [ "$(prop -t s out.dtb /chosen bootargs)" = "console=hvc0" ]

expect_dtb virtio -k Image -c 1 --rng -d initrd.img -d initrd.img,ro,direct
check "virtio: a pci-host-ecam-generic bridge" grep -q 'pci-host-ecam-generic' out.dts
check "virtio: the virtio bridge is dma-coherent" bash -c 'fdtget out.dtb /pci@10000000 dma-coherent >/dev/null 2>&1 || [ $? -eq 0 ]'
check "virtio: dma-coherent present" grep -q 'dma-coherent;' out.dts
check "virtio: msi-map to the ITS" grep -q 'msi-map' out.dts
expect_dtb no-virtio -k Image -c 1
check "no-virtio: no PCI bridge without virtio devices" bash -c '! grep -q pci-host-ecam-generic out.dts'

mkdir -p share
expect_dtb console-virtio -k Image -c 1 --console virtio --9p share,tag1
check "console-virtio: console=hvc0 by default" [ "$(prop -t s out.dtb /chosen bootargs)" = "console=hvc0" ]
check "console-virtio: no stdout-path to the UART" bash -c '! fdtget out.dtb /chosen stdout-path >/dev/null 2>&1'
expect_error missing-9p-dir run -k Image -c 1 --9p no-such-dir,tag --dump-dtb out.dtb
expect_error 9p-long-tag run -k Image -c 1 --9p share,$(printf 't%.0s' $(seq 1 80)) --dump-dtb out.dtb
expect_error bad-console-hv run -k Image -c 1 --console hv
expect_error missing-disk run -k Image -c 1 -d no-such.img --dump-dtb out.dtb
# -d DIR: kvmtool's 9p root (tag /dev/root) and its root= parameters.
root9p='root=/dev/root rw rootflags=rw,trans=virtio,version=9p2000.L rootfstype=9p'
expect_dtb disk-dir-root -k Image -c 1 -d adir -p quiet
check "disk-dir-root: bootargs = console + 9p root + -p" [ "$(prop -t s out.dtb /chosen bootargs)" = "console=ttyS0 $root9p quiet" ]
# The bridge exists only with a virtio device (see no-virtio); mmio counts them.
check "disk-dir-root: the virtio PCI bridge" grep -q pci-host-ecam-generic out.dts
expect_dtb disk-dir-root-mmio -k Image -c 1 -d adir --virtio-transport mmio
check "disk-dir-root-mmio: one virtio device, no disk" [ "$(grep -c 'compatible = "virtio,mmio"' out.dts)" -eq 1 ]
expect_dtb disk-dir-root-ro -k Image -c 1 -d adir,ro --console virtio
check "disk-dir-root-ro: a read-only root" [ "$(prop -t s out.dtb /chosen bootargs)" = "console=hvc0 ${root9p//rw/ro}" ]
expect_dtb disk-dir-user-root -k Image -c 1 -d adir -p "root=/dev/vda console=ttyS0"
check "disk-dir-user-root: -p root= wins" [ "$(prop -t s out.dtb /chosen bootargs)" = "root=/dev/vda console=ttyS0" ]
check "disk-dir-user-root: the share is still there" grep -q pci-host-ecam-generic out.dts
expect_error disk-two-dirs run -k Image -c 1 -d adir -d share --dump-dtb out.dtb
expect_error disk-dir-direct run -k Image -c 1 -d adir,direct --dump-dtb out.dtb
expect_error disk-dir-and-9p-root run -k Image -c 1 --9p share,/dev/root -d adir --dump-dtb out.dtb
expect_error disk-bad-flag run -k Image -c 1 -d initrd.img,rw,bogus
expect_error disk-no-file run -k Image -c 1 -d ,ro
expect_error too-many-disks run -k Image -c 1 -d a -d a -d a -d a -d a -d a -d a -d a -d a
expect_dtb virtio-mmio -k Image -c 1 --virtio-transport mmio --rng -d initrd.img --console virtio
check "virtio-mmio: three virtio,mmio nodes" [ "$(grep -c 'compatible = "virtio,mmio"' out.dts)" -eq 3 ]
check "virtio-mmio: every node dma-coherent" [ "$(awk '/virtio_mmio@/ { n = 1 } n && /dma-coherent;/ { c++; n = 0 } END { print c + 0 }' out.dts)" -eq 3 ]
check "virtio-mmio: the first slot at 0xa000000 on SPI 16" [ "$(prop -t x out.dtb /virtio_mmio@a000000 interrupts)" = "0 10 4" ]
check "virtio-mmio: nodes in creation order (the disks' order is the guest's vda, vdb)" \
	[ "$(grep -o 'virtio_mmio@[0-9a-f]*' out.dts | tr '\n' ' ')" = "virtio_mmio@a000000 virtio_mmio@a001000 virtio_mmio@a002000 " ]
check "virtio-mmio: no PCI bridge" bash -c '! grep -q pci-host-ecam-generic out.dts'
expect_dtb virtio-transport-pci -k Image -c 1 --virtio-transport virtio-pci --rng
check "virtio-transport-pci: the bridge, no virtio,mmio" bash -c 'grep -q pci-host-ecam-generic out.dts && ! grep -q virtio,mmio out.dts'
expect_error virtio-legacy run -k Image -c 1 --virtio-transport mmio-legacy
expect_error virtio-bad-transport run -k Image -c 1 --virtio-transport ccw
# -n: parse errors only (a valid -n would create a tap on this host).
expect_error net-mode-user run -k Image -c 1 -n mode=user
expect_error net-bad-mac run -k Image -c 1 -n mode=tap,guest_mac=01:02:03:04:05:06
expect_error net-bad-key run -k Image -c 1 --network mode=tap,trans=mmio
expect_error net-long-tapif run -k Image -c 1 -n tapif=abcdefghijklmnopq
expect_error net-too-many run -k Image -c 1 -n tapif=a -n tapif=b -n tapif=c -n tapif=d -n tapif=e
expect_dtb net-none -k Image -c 1 -n none
check "net-none: no network device, no bridge" bash -c '! grep -q pci-host-ecam-generic out.dts'
# --vfio-pci: syntax errors, and a device this host does not have (nothing is opened).
expect_error vfio-bad-bdf run -k Image -c 1 --vfio-pci 00:02
expect_error vfio-bad-option run -k Image -c 1 --vfio-pci 00:02.0,coherent=maybe
expect_error vfio-bad-bar run -k Image -c 1 --vfio-pci 00:02.0,bar6=wc
expect_error vfio-bad-attr run -k Image -c 1 --vfio-pci 00:02.0,bar2=wb
expect_error vfio-twice run -k Image -c 1 --vfio-pci 00:02.0 --vfio-pci 0000:00:02.0
expect_error vfio-no-device run -k Image -c 1 --vfio-pci ffff:ff:1f.7 --dump-dtb out.dtb
check "vfio-no-device: the error names the device" grep -q 'ffff:ff:1f.7: no such PCI device' stderr.txt
expect_error no-kernel run -c 1
expect_error missing-kernel run -k no-such-file -c 1 --dump-dtb out.dtb
expect_error kernel-is-dir run -k adir -c 1 --dump-dtb out.dtb
expect_error empty-kernel run -k empty -c 1 --dump-dtb out.dtb
expect_error garbage-kernel run -k garbage -c 1 --dump-dtb out.dtb
expect_error truncated-image run -k truncated.Image -c 1 --dump-dtb out.dtb
expect_error truncated-gz run -k truncated.Image.gz -c 1 --dump-dtb out.dtb
expect_error missing-initrd run -k Image -i no-such-initrd -c 1 --dump-dtb out.dtb
expect_error empty-initrd run -k Image -i empty -c 1 --dump-dtb out.dtb
expect_error ram-too-small run -k Image -m 16 -c 1 --dump-dtb out.dtb
expect_error initrd-too-big-for-ram run -k Image -i huge-initrd.img -m 512 -c 1 --dump-dtb out.dtb
expect_error initrd-beyond-first-gib run -k Image -i huge-initrd.img -m 2G -c 1 --dump-dtb out.dtb
expect_error firmware-and-kernel run -k Image -f Image -c 1 --dump-dtb out.dtb
expect_error initrd-without-kernel run -i initrd.img -c 1 --dump-dtb out.dtb
expect_error two-kernels run -k Image Image.gz -c 1
expect_error unknown-option run --frobnicate -k Image
expect_error unsupported-kvmtool-option run -k Image --balloon
expect_error missing-argument run -k
expect_error bad-mem run -k Image -m 12x
expect_error zero-mem run -k Image -m 0
expect_error huge-mem run -k Image -m 100000T
expect_error zero-cpus run -k Image -c 0
expect_error too-many-cpus run -k Image -c 100000
expect_error gicv2-9-cpus run -k Image -c 9 --irqchip gicv2 --dump-dtb out.dtb
expect_error bad-irqchip run -k Image --irqchip gicv9
expect_error bad-console run -k Image --console telnet
expect_error unknown-command frobnicate
expect_error later-command balloon
# #5's run options and control commands: bad input is refused the same way.
expect_error bad-timeout run -k Image --timeout 0
expect_error bad-timeout-text run -k Image --timeout soon
expect_error bad-reboot-limit run -k Image --reboot-limit -1
expect_error bad-name run -k Image --name 'a/b'
expect_error stop-which stop
expect_error stop-name-and-all stop --name a --all
expect_error stop-no-such-guest stop --name coho-cli-no-such-guest
expect_error pause-bad-name pause --name ../x
expect_error debug-bad-sysrq debug --name a --sysrq ab
expect_error resume-no-such-guest resume --name coho-cli-no-such-guest
# --console-log: a file coho created is removed when nothing ran (exit 2).
rm -f conlog.txt
"$coho" run -k no-such-kernel --console-log conlog.txt >/dev/null 2>&1 </dev/null
check "console-log: no file left behind by a run that never started" [ ! -e conlog.txt ]
"$coho" list >stdout.txt 2>stderr.txt </dev/null
rc=$?
check "list: exit 0 and no error (got $rc)" [ "$rc" -eq 0 -a ! -s stderr.txt ]
check "list: a header line" grep -q '^NAME  *PID  *STATE' stdout.txt
expect_error help-unknown help frobnicate

"$coho" version >stdout.txt 2>&1
check "version: exit 0 and a version line" grep -q '^coho version ' stdout.txt
"$coho" help run >stdout.txt 2>&1
for o in --kernel --initrd --params --mem --cpus --name --console --firmware --irqchip \
	--dump-dtb --debug --help; do
	check "help run lists $o" grep -q -- "$o" stdout.txt
done
check "help run shows defaults" grep -q 'default: auto' stdout.txt
ln -s "$coho" lkvm
./lkvm run --dump-dtb out.dtb -k Image -c 1 >/dev/null 2>&1
check "lkvm name works" [ -s out.dtb ]

echo "$label: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
