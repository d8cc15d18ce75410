#!/usr/bin/env bash
# run.sh: blkif between domains (main.c): the backend (store, image
# library, blkback) owns the store disk 00:04.0, an ext4 store the host
# makes with mkfs.ext4 -d holding an empty 4 MiB qcow2 image
# (qemu-img create) and a 4 MiB raw one.  The hostile frontend (d2, on
# the qcow2) writes, flushes and reads back 704 KiB through the ring with
# 16 requests in flight, sends hostile requests and finally an
# impossible ring index, and is cut off; the well-behaved one (d3, on the
# raw image, through minios's blkfront) writes, flushes and reads back
# as much, once and again after d2's cut-off, unharmed.  Afterwards
# this script extracts the images with debugfs: qemu-img check must pass
# on the qcow2, qemu-img compare must find each frontend's pattern where
# it wrote it and zeros elsewhere, and e2fsck -fn must find the store
# clean.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/blkif-pair
rm -rf "$out" && mkdir -p "$out/tree/images"
store=$out/store.img
log=$out/guest.log
fail() { echo "blkif-pair: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
qemu-img create -q -f qcow2 "$out/tree/images/disk.qcow2" 4M || fail "qemu-img create"
qemu-img create -q -f raw "$out/tree/images/good.raw" 4M || fail "qemu-img create"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
python3 - "$out" <<'PY'
import sys
n = 4 << 20
def image(bases):
    b = bytearray(n)
    for base in bases:
        for s in range(base, base + 16 * 11 * 8):
            b[s * 512:(s + 1) * 512] = bytes((s * 17 + j * 5 + 0x3c) & 0xff for j in range(512))
    return b
open(sys.argv[1] + "/expected.raw", "wb").write(image([0]))
open(sys.argv[1] + "/expected-good.raw", "wb").write(image([0, 4096]))
PY
X=build/tests/blkif-pair.elf
store_boot "$log" 120 128M \
    "$X name=tapdisk role=hardware pci=00:04.0 op=back store=00:04.0 peer=2 peer2=3,$X name=front op=front peer=1,$X name=good op=good peer=1"
why=$(store_boot_clean "$log") || fail "$why"
why=$(store_require "$log" '(front) connected: 8192 sectors' \
                           '(front) 16 writes and 16 reads of 11 pages each in flight at once from sector 0, flushed: byte-exact' \
                           '(good) blkfront: wrote 1408 sectors from sector 0, flushed, read back: byte-exact' \
                           '(good) the other frontend was cut off; going on' \
                           '(good) blkfront: wrote 1408 sectors from sector 4096, flushed, read back: byte-exact' \
                           '(good) Test result: SUCCESS' \
                           '(front) flush: OKAY' \
                           '(front) refused: read past the end: BLKIF_RSP_ERROR' \
                           '(front) refused: write with a bad grant: BLKIF_RSP_ERROR' \
                           '(front) refused: unknown operation 77: BLKIF_RSP_ERROR' \
                           '(front) refused: segment past its page: BLKIF_RSP_ERROR' \
                           '(front) refused: write barrier (not advertised): BLKIF_RSP_EOPNOTSUPP' \
                           '(front) indirect read of 20 segments: OKAY' \
                           '(front) indirect read of 20 segments: byte-exact, answered as a read' \
                           '(front) refused: indirect flush: BLKIF_RSP_ERROR' \
                           '(front) refused: indirect of 33 segments: BLKIF_RSP_ERROR' \
                           '(front) refused: indirect page that grants nothing: BLKIF_RSP_ERROR' \
                           '(front) refused: indirect segment past its page: BLKIF_RSP_ERROR' \
                           '(front) refused: indirect read past the end: BLKIF_RSP_ERROR' \
                           '(front) a good read after them: OKAY' \
                           '(front) backend says: frontend d2 cut off: impossible request producer index' \
                           '(tapdisk) served d2: 35 OKAY, 10 refused; frontend d2 cut off' \
                           '(tapdisk) served d3: 66 OKAY, 0 refused; connected' \
                           '(good) blkfront: 66 requests answered, up to ' \
                           '(tapdisk) images and store closed' \
                           '(tapdisk) Test result: SUCCESS' \
                           '(front) Test result: SUCCESS') || fail "$why"
debugfs -R "dump /images/disk.qcow2 $out/disk.qcow2" "$store" >/dev/null 2>&1 || fail "debugfs dump"
debugfs -R "dump /images/good.raw $out/good.raw" "$store" >/dev/null 2>&1 || fail "debugfs dump"
qemu-img check -q -f qcow2 "$out/disk.qcow2" || fail "qemu-img check"
qemu-img compare -q -f raw -F qcow2 "$out/expected.raw" "$out/disk.qcow2" || fail "qemu-img compare: disk.qcow2 does not hold what d2 wrote"
qemu-img compare -q -f raw -F raw "$out/expected-good.raw" "$out/good.raw" || fail "qemu-img compare: good.raw does not hold what d3 wrote"
echo "blkif-pair: qemu-img check and compare: each image holds its frontend's writes"
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "blkif-pair: e2fsck -fn: clean"
echo "Test result: SUCCESS"
