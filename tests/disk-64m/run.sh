#!/usr/bin/env bash
# ALONE=1 (165 to 225 s of QEMU measured with the machine loaded)
# TIMEOUT=600
# run.sh: 64 MiB through each image format (docs/disk-tests.md).  The host
# makes four empty 64 MiB images with qemu-img (raw, qcow2, vhd dynamic,
# vmdk monolithicSparse) in an ext4 store; guest "big" (disk-64m.elf,
# disk=xvda..xvdd) writes 64 MiB of a per-sector pattern to each through
# blkfront -> tapdisk.elf -> image -> virtio-blk, flushes and reads it
# all back.  Afterwards the images are extracted with debugfs: qemu-img
# check passes (qcow2, vmdk: qemu-img cannot check vhd), qemu-img compare matches an expected
# raw image built here from the same pattern, and e2fsck -fn finds the
# store clean.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/disk-64m
rm -rf "$out" && mkdir -p "$out/tree/images" "$out/x/images"
t=$out/tree/images
store=$out/store.img
log=$out/guest.log
MB=64
fail() { echo "disk-64m: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
python3 - "$out" "$MB" <<'PY' || fail "could not build the expected images"
import struct, sys
n = int(sys.argv[2]) * 2048
for d in range(4):
    with open("%s/expected-%d.raw" % (sys.argv[1], d), "wb") as f:
        tag = 0x6b65656c00000000 + d
        for s0 in range(0, n, 2048):
            f.write(b"".join(struct.pack("<QQ", s, tag) * 32 for s in range(s0, s0 + 2048)))
PY
q() { qemu-img "$@" || fail "qemu-img $* failed"; }
q create -q -f raw "$t/d.raw" ${MB}M
q create -q -f qcow2 "$t/d.qcow2" ${MB}M
q create -q -f vpc -o subformat=dynamic,force_size=on "$t/d.vhd" ${MB}M
q create -q -f vmdk -o subformat=monolithicSparse "$t/d.vmdk" ${MB}M
mkfs.ext4 -q -F -d "$out/tree" "$store" 512M || fail "mkfs.ext4 failed"
G=build/tests/disk-64m.elf
start=$(date +%s)
store_boot "$log" 560 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle,$G name=big mem=16M n=4 MB=$MB disk=xvda:/images/d.raw disk=xvdb:/images/d.qcow2 disk=xvdc:/images/d.vhd disk=xvdd:/images/d.vmdk"
echo "disk-64m: QEMU ran $(( $(date +%s) - start )) s"
why=$(store_boot_clean "$log") || fail "$why"
for d in a b c d; do
    w="(big) xvd$d: $MB MiB written, flushed, read back: byte-exact"
    grep -qF "$w" "$log" || fail "missing \"$w\""
done
why=$(store_require "$log" '(big) Test result: SUCCESS' '(tapdisk) tapdisk: every disk closed (exit=idle): store closed') || fail "$why"
i=0
for f in d.raw:raw d.qcow2:qcow2 d.vhd:vpc d.vmdk:vmdk; do
    name=${f%%:*} fmt=${f##*:}
    debugfs -R "dump /images/$name $out/x/images/$name" "$store" >/dev/null 2>&1 || fail "debugfs dump /images/$name"
    case $fmt in qcow2|vmdk) q check -q -f "$fmt" "$out/x/images/$name" ;; esac  # vpc has no check
    q compare -q -f raw -F "$fmt" "$out/expected-$i.raw" "$out/x/images/$name"
    i=$((i + 1))
done
echo "disk-64m: qemu-img check (qcow2, vmdk) and compare (all four): the 64 MiB the guest wrote"
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "disk-64m: e2fsck -fn: clean"
echo "Test result: SUCCESS"
