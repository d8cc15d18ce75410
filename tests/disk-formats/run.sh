#!/usr/bin/env bash
# run.sh: every image format through the whole path (docs/disk.md):
# guest -> minios blkfront -> tapdisk.elf (blkback, image library) ->
# ext4 store (libext2fs) -> virtio-blk.  The host makes 4 MiB images of
# one pattern with qemu-img: raw, vhd (dynamic), vmdk (monolithicSparse),
# and two empty qcow2 overlays, vm1/ and vm2/, over the same read-only
# backing file ../base.raw; an ext4 store holds them (mkfs.ext4 -d).
# Guest "fmt" has disk=xvda (raw) xvdb (vm1 qcow2) xvdc (vhd) xvdd
# (vmdk), guest "share" has disk=xvda (vm2 qcow2), and guest "comp"
# has xvda a compressed qcow2 of the pattern (qemu-img convert -c): each
# guest reads the first MiB of each disk (the pattern), writes 2 MiB of
# its own from sector
# 2048, flushes, reads back.  Afterwards this script extracts the images
# with debugfs: qemu-img check (qcow2 x3, vmdk) passes, qemu-img compare
# finds exactly what each guest wrote over the pattern, the shared
# backing file is untouched, and e2fsck -fn finds the store clean.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/disk-formats
rm -rf "$out" && mkdir -p "$out/tree/images/vm1" "$out/tree/images/vm2" "$out/x/images/vm1" "$out/x/images/vm2"
t=$out/tree/images
store=$out/store.img
log=$out/guest.log
fail() { echo "disk-formats: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
python3 - "$out" <<'PY'
import sys
n = 4 << 20
base = bytes((i * 151 + (i >> 9) * 3 + 7) & 0xff for i in range(n))
open(sys.argv[1] + "/base.raw", "wb").write(base)
def pat(i, d, salt):
    return (i * 13 + (i >> 11) * 7 + d * 31 + salt * 57 + 1) & 0xff
def expect(d, salt):
    e = bytearray(base)
    for i in range(1 << 20, 3 << 20):
        e[i] = pat(i, d, salt)
    return e
for name, d, salt in (("raw", 0, 1), ("vm1", 1, 1), ("vhd", 2, 1), ("vmdk", 3, 1), ("vm2", 0, 2), ("comp", 0, 3)):
    open(sys.argv[1] + "/expected-" + name + ".raw", "wb").write(expect(d, salt))
PY
q() { qemu-img "$@" || fail "qemu-img $* failed"; }
cp "$out/base.raw" "$t/raw.img"
cp "$out/base.raw" "$t/base.raw"
q convert -q -f raw -O vpc -o subformat=dynamic,force_size=on "$out/base.raw" "$t/d.vhd"
q convert -q -f raw -O vmdk -o subformat=monolithicSparse "$out/base.raw" "$t/d.vmdk"
q convert -q -c -f raw -O qcow2 "$out/base.raw" "$t/comp.qcow2"
for v in vm1 vm2; do
    (cd "$t/$v" && qemu-img create -q -f qcow2 -b ../base.raw -F raw disk.qcow2) || fail "qemu-img create $v"
done
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
X=build/tests/blkif-xenbus.elf
store_boot "$log" 240 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle persistent=0,$X name=fmt mem=8M op=disks n=4 salt=1 disk=xvda:/images/raw.img disk=xvdb:/images/vm1/disk.qcow2 disk=xvdc:/images/d.vhd disk=xvdd:/images/d.vmdk,$X name=share mem=8M op=disks n=1 salt=2 disk=xvda:/images/vm2/disk.qcow2,$X name=comp mem=8M op=disks n=1 salt=3 disk=xvda:/images/comp.qcow2"
why=$(store_boot_clean "$log") || fail "$why"
# tapdisk runs with persistent=0: every disk's data goes by grant copy.
[ "$(grep -c 'persistent grants off (persistent=0)' "$log")" -eq 6 ] \
    || fail "not every disk says persistent grants off (persistent=0)"
grep -qE 'persistent grants on|persistent grants: ' "$log" && fail "persistent grants used with persistent=0"
why=$(store_require "$log" '(fmt) xvda: 8192 sectors: base read, 2 MiB written, flushed, read back: byte-exact' \
                           '(fmt) xvdb: 8192 sectors: base read, 2 MiB written, flushed, read back: byte-exact' \
                           '(fmt) xvdc: 8192 sectors: base read, 2 MiB written, flushed, read back: byte-exact' \
                           '(fmt) xvdd: 8192 sectors: base read, 2 MiB written, flushed, read back: byte-exact' \
                           '(share) xvda: 8192 sectors: base read, 2 MiB written, flushed, read back: byte-exact' \
                           '(fmt) Test result: SUCCESS' \
                           '(share) Test result: SUCCESS' \
                           '(comp) xvda: 8192 sectors: base read, 2 MiB written, flushed, read back: byte-exact' \
                           '(comp) Test result: SUCCESS' \
                           '(tapdisk) tapdisk: every disk closed (exit=idle): store closed') || fail "$why"
why=$(store_dump "$store" "$out/x/images" raw.img base.raw d.vhd d.vmdk vm1/disk.qcow2 vm2/disk.qcow2 comp.qcow2) || fail "$why"
x=$out/x/images
q check -q -f qcow2 "$x/vm1/disk.qcow2"
q check -q -f qcow2 "$x/vm2/disk.qcow2"
q check -q -f vmdk "$x/d.vmdk"
q check -q -f qcow2 "$x/comp.qcow2"
cmp -s "$x/base.raw" "$out/base.raw" || fail "the shared backing file base.raw was changed"
q compare -q -f raw -F raw "$out/expected-raw.raw" "$x/raw.img"
q compare -q -f raw -F qcow2 "$out/expected-vm1.raw" "$x/vm1/disk.qcow2"
q compare -q -f raw -F vpc "$out/expected-vhd.raw" "$x/d.vhd"
q compare -q -f raw -F vmdk "$out/expected-vmdk.raw" "$x/d.vmdk"
q compare -q -f raw -F qcow2 "$out/expected-vm2.raw" "$x/vm2/disk.qcow2"
q compare -q -f raw -F qcow2 "$out/expected-comp.raw" "$x/comp.qcow2"
echo "disk-formats: qemu-img check (qcow2 x3, vmdk) and compare (all six): as the guests wrote them; the shared base.raw untouched"
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "disk-formats: e2fsck -fn: clean"
echo "Test result: SUCCESS"
