#!/usr/bin/env bash
# run.sh: Linux's xen-blkfront (Debian 12's stock kernel, its module in an
# initramfs with busybox) against the tapdisk stub domain: the kernel's
# module line has disk=xvda:/images/vm/disk.qcow2, a qcow2 overlay of
# ../base.raw (4 MiB of a pattern) on tapdisk's store.  /init reads the
# first MiB (md5 printed and compared here with the host's), writes it
# again at 2 MiB with fsync, drops the caches and reads it back (same
# md5); then discards that MiB (blkdiscard: feature-discard, 64 KiB
# qcow2 clusters, which become zero clusters over the backing file) and
# reads zeros there.  Afterwards this script extracts the overlay with
# debugfs: qemu-img check passes, qemu-img compare finds the pattern
# with zeros at 2 MiB, base.raw is untouched, e2fsck -fn clean.
# Linux must take persistent grants and indirect descriptors (32 segments)
# and tapdisk must serve indirect requests.
# SKIPs without the Linux guest (ci/linux-guest.sh).  LINUX_BLK_TYPE=pvh boots the same
# kernel as a PVH guest (tests/linux-blk-pvh), =hvm as an HVM guest from SeaBIOS and GRUB
# (tests/linux-blk-hvm); LINUX_BLK_OUT the output directory; LINUX_BLK_ARGS more kernel
# arguments (HVM), LINUX_BLK_INTX=1 checks events came by the platform device's INTx.
set -uo pipefail
out=${LINUX_BLK_OUT:-build/tests/linux-blk}
rm -rf "$out" && mkdir -p "$out/tree/images/vm" "$out/x/images/vm" "$out/mod"
store=$out/store.img
log=$out/guest.log
fail() { echo "linux-blk: $*"; echo "Test result: FAILURE"; exit 0; }
L=build/linux
deb=$(ls $L/deb/linux-image-6.1.*-amd64_*.deb 2>/dev/null | head -1)
if [ ! -f $L/vmlinux ] || [ ! -x $L/busybox ] || [ -z "$deb" ]; then
    echo "no Linux guest (ci/linux-guest.sh)"; echo "Test result: SKIP"; exit 0
fi
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out/mod" --wildcards './lib/modules/*/kernel/drivers/block/xen-blkfront.ko' \
    || fail "no xen-blkfront.ko in $deb"
ko=$(find "$out/mod" -name xen-blkfront.ko | head -1)
cp "$ko" "$out/xen-blkfront.ko"
python3 ci/mkinitramfs.py "$out/initrd.img" $L/busybox tests/linux-blk/init "$out/xen-blkfront.ko" \
    || fail "mkinitramfs"
python3 - "$out" <<'PY'
import sys, hashlib
n = 4 << 20
base = bytes((i * 151 + (i >> 9) * 3 + 7) & 0xff for i in range(n))
open(sys.argv[1] + "/tree/images/base.raw", "wb").write(base)
open(sys.argv[1] + "/base.raw", "wb").write(base)
e = bytearray(base)
e[2 << 20:3 << 20] = bytes(1 << 20)       # written, then discarded
open(sys.argv[1] + "/expected.raw", "wb").write(e)
open(sys.argv[1] + "/md5", "w").write(hashlib.md5(base[:1 << 20]).hexdigest())
PY
(cd "$out/tree/images/vm" && qemu-img create -q -f qcow2 -b ../base.raw -F raw disk.qcow2) || fail "qemu-img create"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
XS="build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M exit=idle"
G="$L/vmlinux name=linux ${LINUX_BLK_TYPE:+type=$LINUX_BLK_TYPE }mem=256M vcpus=1 console=hvc0 disk=xvda:/images/vm/disk.qcow2,$out/initrd.img ramdisk"
limit=280
dev=xvda devnum=51712
if [ "${LINUX_BLK_TYPE:-pv}" = hvm ]; then
    # From firmware: the boot disk xvda is a qcow2 image on tapdisk's
    # store (GRUB, the bzImage and the initramfs: tests/hvm-linux/mkdisk.sh),
    # the device model's IDE disk through its blkfront until Linux unplugs
    # it, then Linux's own xvda; the disk under test is xvdb (blkdev=, an
    # environment variable of /init).  The kernel's console is hvc0 (COM1 too).
    bash tests/hvm-linux/mkdisk.sh $L/vmlinuz "$out/initrd.img" "$out/boot.img" \
        "console=ttyS0 console=hvc0 blkdev=xvdb ${LINUX_BLK_ARGS:-}" >"$out/mkdisk.log" 2>&1 || fail "mkdisk: $(cat "$out/mkdisk.log")"
    mkdir -p "$out/tree/images/hvm"
    qemu-img convert -q -f raw -O qcow2 "$out/boot.img" "$out/tree/images/hvm/boot.qcow2" || fail "qemu-img convert"
    mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
    G="/usr/share/seabios/bios.bin name=linux type=hvm mem=256M disk=xvda:/images/hvm/boot.qcow2 disk=xvdb:/images/vm/disk.qcow2"
    G+=",build/stubdoms/dm.elf name=dm mem=32M role=dm target=3 boot-fail-wait=1000"
    dev=xvdb devnum=51728
    limit=420
fi
HV=${HV:-build/hv.elf}
[ "${DEBUG:-0}" = 1 ] && HV=build/hv-debug.elf
HV=$HV SMP=1 bash ci/qemu-boot.sh "$log" $limit 1G \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle,$G" \
    -append iommu=off -M q35 \
    -drive "file=$store,if=none,id=d0,format=raw,cache=writeback" -device virtio-blk-pci,drive=d0,addr=4
rc=$?
sed -i 's/\r$//' "$log"
grep -E 'linux-blk|tapdisk\)|exit status|shut down|refused' "$log"
[ "$rc" -eq 124 ] && fail "timed out"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
grep -q 'LEAK' "$log" && fail "frames leaked"
md5=$(cat "$out/md5")
for w in "(linux) linux-blk: /dev/$dev: 8192 sectors, read-only 0" \
         "(linux) linux-blk: first MiB md5 $md5" \
         '(linux) linux-blk: wrote the first MiB again at 2 MiB, fsync done' \
         "(linux) linux-blk: MiB at 2 MiB md5 $md5" \
         '(linux) linux-blk: discard granularity 65536' \
         '(linux) linux-blk: discarded the MiB at 2 MiB' \
         '(linux) linux-blk: MiB at 2 MiB after discard md5 b6d81b360a5672d80c27430f39153e2c' \
         '(linux) linux-blk: done' \
         "(tapdisk) tapdisk: /local/domain/2/backend/vbd/3/$devnum: connected" \
         "(tapdisk) tapdisk: /local/domain/2/backend/vbd/3/$devnum: ring of 4 pages, persistent grants on"; do
    grep -qF "$w" "$log" || fail "missing \"$w\""
done
if [ "${LINUX_BLK_TYPE:-pv}" = hvm ]; then
    grep -qE 'dm: d3 serial: .*Booting paravirtualized kernel on Xen HVM$' "$log" || fail "Linux did not boot as HVM"
    grep -qE 'dm: d3 unplugs emulated devices 0x3 ' "$log" || fail "Linux did not unplug the emulated disk"
    grep -qE '\(linux\) .*Grant tables using version 1 layout' "$log" || fail "Linux has no grant table"
    # The boot disk: the device model's blkfront (d4's xvda) while
    # SeaBIOS and GRUB read it, closed at the unplug; then Linux's.
    n=$(( $(stat -c %s "$out/boot.img") / 512 ))
    for w in "dm: IDE primary master: $n sectors from xvda through blkfront" \
             '(tapdisk) tapdisk: /local/domain/2/backend/vbd/4/51712: connected' \
             '(tapdisk) tapdisk: /local/domain/2/backend/vbd/4/51712: closed (frontend state' \
             '(tapdisk) tapdisk: /local/domain/2/backend/vbd/3/51712: connected' \
             "(linux) linux-blk: boot disk /dev/xvda: $n sectors, first MiB md5 $(head -c 1048576 "$out/boot.img" | md5sum | cut -d' ' -f1)"; do
        grep -qF "$w" "$log" || fail "missing \"$w\""
    done
    grep -qE 'dm: IDE: [1-9][0-9]{4,} sectors read, 0 written, 0 I/O errors from xvda through blkfront before the unplug$' "$log" \
        || fail "the device model did not read the boot disk through blkfront"
    # The device model closed the image before Linux's blkfront opened it.
    a=$(grep -nF '/backend/vbd/4/51712: closed' "$log" | head -1 | cut -d: -f1)
    b=$(grep -nF '/backend/vbd/3/51712: connected' "$log" | head -1 | cut -d: -f1)
    [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] || fail "Linux's xvda connected before the device model let it go"
fi
if [ -n "${LINUX_BLK_INTX:-}" ]; then
    # Without the callback vector every event (the console's, xenstore's,
    # blkfront's) came through the Xen platform device's INTA: level, on
    # GSI 24 by the DSDT's _PRT, HVM_PARAM_CALLBACK_IRQ via PCI INTx.
    grep -qE 'Xen HVM callback vector for event delivery is enabled' "$log" && fail "the callback vector was used"
    # GSI 24, level-triggered (fasteoi), the platform device's: 100 and more
    grep -qE '\(linux\) linux-blk: interrupts: 24: [0-9]{3,} IO-APIC 24-fasteoi xen-platform-pci$' "$log" \
        || fail "fewer than 100 events through the platform device's INTx on GSI 24"
fi
if [ "${LINUX_BLK_TYPE:-pv}" = pvh ]; then
    grep -qE '\(linux\) .*Booting kernel on Xen PVH$' "$log" || fail "Linux did not boot as PVH"
    grep -qE '\(linux\) .*Grant tables using version 1 layout' "$log" || fail "Linux has no grant table"
fi
grep -qE "blkfront: $dev: .*persistent grants: enabled" "$log" || fail "Linux did not enable persistent grants"
grep -qE "blkfront: $dev: .*indirect descriptors: enabled" "$log" || fail "Linux did not enable indirect descriptors"
grep -qE '\(tapdisk\) blkback: d3: [0-9]+ requests answered OKAY \([1-9][0-9]* indirect\), 0 refused' "$log" \
    || fail "Linux's indirect requests were not served"
grep -qE '\(tapdisk\) blkback: d3: persistent grants: [1-9][0-9]* mapped, [1-9][0-9]* reused' "$log" \
    || fail "Linux's persistent grants were not kept mapped and reused"
for f in base.raw vm/disk.qcow2; do
    debugfs -R "dump /images/$f $out/x/images/$f" "$store" >/dev/null 2>&1 || fail "debugfs dump /images/$f"
done
qemu-img check -q -f qcow2 "$out/x/images/vm/disk.qcow2" || fail "qemu-img check"
cmp -s "$out/x/images/base.raw" "$out/base.raw" || fail "the backing file was changed"
qemu-img compare -q -f raw -F qcow2 "$out/expected.raw" "$out/x/images/vm/disk.qcow2" || fail "qemu-img compare: the overlay does not read as Linux left it"
echo "linux-blk: qemu-img check and compare: the overlay reads as Linux left it (zeros where it discarded); base.raw untouched"
e2fsck -fn "$store" > "$out/fsck.log" 2>&1 || { cat "$out/fsck.log"; fail "e2fsck -fn: the store is not clean"; }
echo "linux-blk: e2fsck -fn: clean"
echo "Test result: SUCCESS"
