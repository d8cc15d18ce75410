#!/usr/bin/env bash
# run.sh: guest disks from the boot configuration (docs/boot-config.md):
# the guest's module line says disk=xvda:/images/vm/disk.qcow2
# disk=xvdb:/images/base.raw:ro; the hypervisor checks the words and
# passes them in the xenstore domain's boot list, the xenstore domain
# writes the backend and frontend nodes as libxl does, the tapdisk stub
# domain (tapdisk.elf exit=idle) serves them from its store, and the
# guest (tests/blkif-xenbus/main.c op=boot, minios blkfront) attaches
# both: it reads the qcow2 overlay's backing bytes, writes 256 KiB,
# flushes and reads back on xvda, reads the base file on xvdb, whose
# writes are refused (read-only), and detaches.  Meanwhile guest "evil"
# connects its three disks by hand with protocol x86_32-abi, with
# ring-page-order 5 (tapdisk offers 4) and with a
# ring-ref that grants nothing: tapdisk closes each, the others go on;
# guest "crasher" attaches a disk and crashes without closing it: tapdisk
# notices its nodes are gone and closes the disk.
# Two more modules have
# bad disk= words and are refused by the hypervisor with a reason.
# Afterwards the host checks the overlay with qemu-img check/compare,
# base.raw is untouched, and e2fsck -fn finds the store clean.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/disk-boot
rm -rf "$out" && mkdir -p "$out/tree/images/vm" "$out/x/images/vm"
store=$out/store.img
log=$out/guest.log
fail() { echo "disk-boot: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
why=$(store_base_overlay "$out") || fail "$why"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
X=build/tests/blkif-xenbus.elf
store_boot "$log" 150 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle,$X name=guest mem=8M op=boot disk=xvda:/images/vm/disk.qcow2 disk=xvdb:/images/base.raw:ro,$X name=evil op=hostile disk=xvda:/images/base.raw:ro disk=xvdb:/images/base.raw:ro disk=xvdc:/images/base.raw:ro,$X name=crasher op=crash disk=xvda:/images/base.raw:ro,$X name=bad1 op=boot disk=hda:/images/base.raw,$X name=bad2 op=boot disk=xvdc:images/base.raw"
[ "$rc" -eq 35 ] || fail "QEMU status $rc, not 35 (two modules refused, the rest powered off)"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
grep -q 'LEAK' "$log" && fail "frames leaked"
why=$(store_require "$log" "module 'bad1' refused: disk=hda:/images/base.raw: xvd[a-z]:PATH[:ro]" \
                           "module 'bad2' refused: disk=xvdc:images/base.raw: the path must be absolute" \
                           '(xenstore) d3: disk xvda (51712) = /images/vm/disk.qcow2, served by d2' \
                           '(xenstore) d3: disk xvdb (51728) = /images/base.raw (read-only), served by d2' \
                           '(tapdisk) tapdisk: store on 00:04.0: 64 MiB' \
                           '(tapdisk) tapdisk: /local/domain/2/backend/vbd/3/51712: connected' \
                           '(tapdisk) tapdisk: /local/domain/2/backend/vbd/3/51728: connected' \
                           '(guest) attached: 4096 sectors' \
                           '(guest) xvdb: read-only, 4096 sectors, the base file'"'"'s bytes; a write refused' \
                           '(guest) read 1 MiB through the qcow2 overlay: the backing file'"'"'s bytes' \
                           '(guest) wrote 256 KiB, flushed, read back: byte-exact' \
                           '(guest) detached: the backend closed' \
                           '(guest) Test result: SUCCESS' \
                           '(evil) refused: protocol x86_32-abi: the backend closed' \
                           '(evil) refused: a ring-ref that grants nothing: the backend closed' \
                           '(evil) refused: ring-page-order 5: the backend closed' \
                           '(tapdisk) tapdisk: /local/domain/2/backend/vbd/4/51744: /local/domain/4/device/vbd/51744: ring-page-order 5 above max-ring-page-order 4' \
                           '(evil) Test result: SUCCESS' \
                           "(tapdisk) tapdisk: /local/domain/2/backend/vbd/4/51712: /local/domain/4/device/vbd/51712: protocol x86_32-abi (only x86_64-abi is served) (-" \
                           "(tapdisk) tapdisk: /local/domain/2/backend/vbd/4/51728: d4's ring grant 4000 cannot be mapped" \
                           '(crasher) attached and read; crashing without closing' \
                           '(tapdisk) tapdisk: /local/domain/2/backend/vbd/5/51712: closed (frontend state -1)' \
                           '(tapdisk) tapdisk: every disk closed (exit=idle): store closed') || fail "$why"
why=$(store_dump "$store" "$out/x/images" base.raw vm/disk.qcow2) || fail "$why"
qemu-img check -q -f qcow2 "$out/x/images/vm/disk.qcow2" || fail "qemu-img check"
cmp -s "$out/x/images/base.raw" "$out/base.raw" || fail "the backing file was changed"
qemu-img compare -q -f raw -F qcow2 "$out/expected.raw" "$out/x/images/vm/disk.qcow2" || fail "qemu-img compare: the overlay does not read as expected"
echo "disk-boot: qemu-img check and compare: the overlay holds the guest's write over the backing file; base.raw untouched"
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "disk-boot: e2fsck -fn: clean"
echo "Test result: SUCCESS"
