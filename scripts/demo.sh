#!/bin/bash
# Boot a guest with coho: Debian's arm64 kernel and a busybox initramfs.
#   - on an arm64 host with /dev/kvm, coho runs directly;
#   - elsewhere (x86_64), coho runs inside a nested arm64 KVM host under
#     qemu-system-aarch64 (TCG), and its guest's console is shown here.
# With a terminal on stdin the guest gives a shell (Ctrl-A x quits coho; in
# the nested case Ctrl-] x quits QEMU); otherwise it greets and powers off.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh >&2
export E2E_OUT=${E2E_OUT:-$PWD/tests/out/demo}
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh
e2e_assets

mode=auto
[ -t 0 ] && mode=shell
out=$E2E_OUT
mkdir -p "$out"
guest_root=$(mktemp -d "$out/guest.XXXXXX")
trap 'rm -rf "$guest_root" "${host_root:-}"' EXIT
e2e_rootfs "$guest_root" scripts/demo/guest-init.sh
e2e_cpio "$guest_root" "$out/guest.cpio.gz" gzip

if [ "$(uname -m)" = aarch64 ] && [ -c /dev/kvm ]; then
	make -s -j"$(nproc)" >&2
	./coho run -k "$COHO_KERNEL" -i "$out/guest.cpio.gz" -c 2 -m 256 -p "quiet coho.demo=$mode"
	exit $?
fi

make -s -j"$(nproc)" ARCH=arm64 all >&2
host_root=$(mktemp -d "$out/host.XXXXXX")
e2e_rootfs "$host_root" scripts/demo/host-init.sh
cp build/arm64/coho "$host_root/coho"
cp "$COHO_KERNEL" "$host_root/Image"
cp "$out/guest.cpio.gz" "$host_root/guest.cpio.gz"
e2e_cpio "$host_root" "$out/host.cpio"
echo "Booting the nested arm64 KVM host (about 10-20 s under emulation), then coho's guest..." >&2
# --foreground: QEMU must stay in the terminal's foreground process group to read it.
fg=()
[ "$mode" = shell ] && fg=(--foreground)
rc=0
timeout "${fg[@]}" -k 10 "${DEMO_TIMEOUT:-1800}" qemu-system-aarch64 \
	-M virt,virtualization=on,gic-version=3 -cpu "$E2E_QEMU_CPU" -smp 2 -m 2048 \
	-nographic -no-reboot -nic none -echr 0x1d \
	-kernel "$COHO_KERNEL" -initrd "$out/host.cpio" \
	-append "console=ttyAMA0 quiet panic=-1 coho.demo=$mode" || rc=$?
exit $rc
