#!/usr/bin/env bash
# run.sh: disk images on the store (main.c).  The host makes, at run
# time, 2 MiB images of one pattern with qemu-img (raw, qcow2 over a raw
# backing file named "../base.raw", vhd, vmdk, and a qcow2 whose backing
# file is missing) and an ext4 store holding them (mkfs.ext4 -d), given
# to the guest as the virtio-blk device 00:04.0.  The guest opens each
# image through the store and the image library, writes and flushes;
# afterwards this script extracts the images with debugfs and checks them
# with qemu-img check (qcow2, vmdk; qemu-img has no check for vhd) and
# qemu-img compare against the expected content, checks that the shared
# backing file is untouched, and that e2fsck -fn finds the store clean.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/store-images
rm -rf "$out" && mkdir -p "$out/tree/images/vm1" "$out/x/images/vm1"
t=$out/tree/images
store=$out/store.img
log=$out/guest.log
fail() { echo "store-images: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
python3 - "$out" <<'PY'
import sys
n = 2 << 20
host = lambda i: (i * 151 + (i >> 9) * 3 + 7) & 0xff
guest = lambda i: (i * 29 + (i >> 10) * 5 + 0xa1) & 0xff
w = lambda i: guest(i) if (256 << 10) <= i < (448 << 10) or i >= n - (64 << 10) else host(i)
open(sys.argv[1] + "/pattern.raw", "wb").write(bytes(host(i) for i in range(n)))
open(sys.argv[1] + "/expected.raw", "wb").write(bytes(w(i) for i in range(n)))
PY
q() { qemu-img "$@" || fail "qemu-img $* failed"; }
cp "$out/pattern.raw" "$t/raw.img"
cp "$out/pattern.raw" "$t/base.raw"
q convert -q -f raw -O vpc -o subformat=dynamic,force_size=on "$out/pattern.raw" "$t/d.vhd"
q convert -q -f raw -O vmdk -o subformat=monolithicSparse "$out/pattern.raw" "$t/d.vmdk"
(cd "$t/vm1" && qemu-img create -q -f qcow2 -b ../base.raw -F raw disk.qcow2) || fail "qemu-img create overlay"
q create -q -f qcow2 -u -b missing.raw -F raw "$t/orphan.qcow2" 2M
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
X=build/tests/store-images.elf
store_boot "$log" 120 128M \
    "$X name=images role=hardware pci=00:04.0 store=00:04.0"
why=$(store_boot_clean "$log") || fail "$why"
why=$(store_require "$log" '(images) /images/raw.img (raw): 2097152 bytes read, byte-exact' \
                           '(images) /images/raw.img: wrote 196608 + 65536 bytes, flushed, reopened: byte-exact' \
                           '(images) /images/vm1/disk.qcow2 (qcow2, backing ../base.raw): 2097152 bytes read, byte-exact' \
                           '(images) /images/vm1/disk.qcow2: wrote 196608 + 65536 bytes, flushed, reopened: byte-exact' \
                           '(images) /images/d.vhd (vhd): 2097152 bytes read, byte-exact' \
                           '(images) /images/d.vhd: wrote 196608 + 65536 bytes, flushed, reopened: byte-exact' \
                           '(images) /images/d.vmdk (vmdk): 2097152 bytes read, byte-exact' \
                           '(images) /images/d.vmdk: wrote 196608 + 65536 bytes, flushed, reopened: byte-exact' \
                           '(images) refused: /images/orphan.qcow2: ' \
                           '(images) Test result: SUCCESS') || fail "$why"
for f in raw.img base.raw d.vhd d.vmdk vm1/disk.qcow2; do
    debugfs -R "dump /images/$f $out/x/images/$f" "$store" >/dev/null 2>&1 || fail "debugfs dump /images/$f"
    [ -s "$out/x/images/$f" ] || fail "debugfs: /images/$f is empty"
done
x=$out/x/images
q check -q -f qcow2 "$x/vm1/disk.qcow2"
q check -q -f vmdk "$x/d.vmdk"
cmp -s "$x/base.raw" "$out/pattern.raw" || fail "the backing file base.raw was changed"
q compare -q -f raw -F raw "$out/expected.raw" "$x/raw.img"
q compare -q -f raw -F qcow2 "$out/expected.raw" "$x/vm1/disk.qcow2"
q compare -q -f raw -F vpc "$out/expected.raw" "$x/d.vhd"
q compare -q -f raw -F vmdk "$out/expected.raw" "$x/d.vmdk"
echo "store-images: qemu-img check (qcow2, vmdk) and compare (all four): as the guest wrote them; base.raw untouched"
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "store-images: e2fsck -fn: clean"
echo "Test result: SUCCESS"
