#!/usr/bin/env bash
# run.sh: a guest disk over xenbus (main.c): the xenstore stub (d1), the
# tapdisk stub domain (d2, build/stubdoms/tapdisk.elf exit=idle, owning
# the store disk 00:04.0), a frontend (d3,
# minios blkfront) and a control domain (d4) that writes the backend and
# frontend nodes as libxl does.  The store (mkfs.ext4 -d) holds
# /images/base.raw (2 MiB of a pattern) and /images/vm/disk.qcow2, an
# empty overlay whose backing file is ../base.raw.  The frontend attaches
# (Initialised -> the backend's Connected), reads the backing file's
# bytes, writes 256 KiB at sector 512, flushes, reads back, detaches
# (Closing -> the backend's Closed).  Afterwards the host extracts both
# files with debugfs: qemu-img check passes on the overlay, qemu-img
# compare finds the pattern with the guest's write, base.raw is
# untouched, and e2fsck -fn finds the store clean.  A second disk, xvdb,
# names an image the store does not have: the backend closes it and the
# frontend's attach is refused.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/blkif-xenbus
rm -rf "$out" && mkdir -p "$out/tree/images/vm" "$out/x/images/vm"
store=$out/store.img
log=$out/guest.log
fail() { echo "blkif-xenbus: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
why=$(store_base_overlay "$out") || fail "$why"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
X=build/tests/blkif-xenbus.elf
store_boot "$log" 150 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle,$X name=guest mem=8M op=front,$X name=ctl role=control op=ctl back=2 front=3"
why=$(store_boot_clean "$log") || fail "$why"
why=$(store_require "$log" '(ctl) wrote the nodes of d3'"'"'s xvda and xvdb, served by d2' \
                           '(tapdisk) tapdisk: /local/domain/2/backend/vbd/3/51728: /images/missing.qcow2: File not found by ext2_lookup (-2)' \
                           '(guest) refused: device/vbd/51728: the backend /local/domain/2/backend/vbd/3/51728 did not connect (it closed)' \
                           '(tapdisk) tapdisk: store on 00:04.0: 64 MiB' \
                           '(tapdisk) tapdisk: /local/domain/2/backend/vbd/3/51712: connected' \
                           '(tapdisk) tapdisk: /local/domain/2/backend/vbd/3/51712: ring of 4 pages, persistent grants on' \
                           '(guest) attached: 4096 sectors' \
                           '(guest) read 1 MiB through the qcow2 overlay: the backing file'"'"'s bytes' \
                           '(guest) wrote 256 KiB, flushed, read back: byte-exact' \
                           '(guest) detached: the backend closed' \
                           '(guest) Test result: SUCCESS' \
                           '(tapdisk) tapdisk: /local/domain/2/backend/vbd/3/51712: closed (frontend state 5)' \
                           '(tapdisk) tapdisk: every disk closed (exit=idle): store closed' \
                           '(ctl) Test result: SUCCESS') || fail "$why"
# blkfront uses tapdisk's indirect descriptors (32 segments): its 1 MiB
# read goes as requests of 256 sectors.
grep -qE '\(tapdisk\) blkback: d3: [0-9]+ requests answered OKAY \([1-9][0-9]* indirect\), 0 refused' "$log" \
    || fail "blkfront sent no indirect request"
# Persistent grants: blkfront's slot pages mapped once each (one reader:
# 8 slots of 32 pages at most), reused by later requests, unmapped at disconnect.
grep -qE '\(tapdisk\) blkback: d3: persistent grants: ([1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-6]) mapped, [1-9][0-9]* reused, 0 purged' "$log" \
    || fail "persistent grants were not mapped once and reused"
why=$(store_dump "$store" "$out/x/images" base.raw vm/disk.qcow2) || fail "$why"
qemu-img check -q -f qcow2 "$out/x/images/vm/disk.qcow2" || fail "qemu-img check"
cmp -s "$out/x/images/base.raw" "$out/base.raw" || fail "the backing file was changed"
qemu-img compare -q -f raw -F qcow2 "$out/expected.raw" "$out/x/images/vm/disk.qcow2" || fail "qemu-img compare: the overlay does not read as expected"
echo "blkif-xenbus: qemu-img check and compare: the overlay holds the guest's write over the backing file; base.raw untouched"
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "blkif-xenbus: e2fsck -fn: clean"
echo "Test result: SUCCESS"
