#!/usr/bin/env bash
# run.sh: blkif between two domains (main.c): the backend (store, image
# library, blkback) owns the store disk 00:04.0, an ext4 store the host
# makes with mkfs.ext4 -d holding an empty 4 MiB qcow2 image
# (qemu-img create); the frontend writes, flushes and reads back 704 KiB
# through the ring with 16 requests in flight, sends hostile requests and
# finally an impossible ring index, and is cut off.  Afterwards this
# script extracts the image with debugfs: qemu-img check must pass,
# qemu-img compare must find the frontend's pattern in the first 1408
# sectors and zeros after, and e2fsck -fn must find the store clean.
set -uo pipefail
out=build/tests/blkif-pair
rm -rf "$out" && mkdir -p "$out/tree/images"
store=$out/store.img
log=$out/guest.log
fail() { echo "blkif-pair: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
qemu-img create -q -f qcow2 "$out/tree/images/disk.qcow2" 4M || fail "qemu-img create"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
python3 - "$out/expected.raw" <<'PY'
import sys
n = 4 << 20
b = bytearray(n)
for s in range(16 * 11 * 8):
    b[s * 512:(s + 1) * 512] = bytes((s * 17 + j * 5 + 0x3c) & 0xff for j in range(512))
open(sys.argv[1], "wb").write(b)
PY
X=build/tests/blkif-pair.elf
HV=${HV:-build/hv.elf}
[ "${DEBUG:-0}" = 1 ] && HV=build/hv-debug.elf
HV=$HV bash ci/qemu-boot.sh "$log" 120 128M \
    "$X name=tapdisk role=hardware pci=00:04.0 op=back store=00:04.0 peer=2,$X name=front op=front peer=1" \
    -append iommu=off -M q35 \
    -drive "file=$store,if=none,id=d0,format=raw,cache=writeback" -device virtio-blk-pci,drive=d0,addr=4
rc=$?
sed -i 's/\r$//' "$log"
cat "$log"
[ "$rc" -eq 33 ] || fail "QEMU status $rc, not 33"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
for w in '(front) connected: 8192 sectors' \
         '(front) 16 writes and 16 reads of 11 pages each in flight at once, flushed: byte-exact' \
         '(front) flush: OKAY' \
         '(front) refused: read past the end: BLKIF_RSP_ERROR' \
         '(front) refused: write with a bad grant: BLKIF_RSP_ERROR' \
         '(front) refused: unknown operation 77: BLKIF_RSP_ERROR' \
         '(front) refused: segment past its page: BLKIF_RSP_ERROR' \
         '(front) refused: write barrier (not advertised): BLKIF_RSP_EOPNOTSUPP' \
         '(front) refused: indirect (not advertised): BLKIF_RSP_EOPNOTSUPP' \
         '(front) a good read after them: OKAY' \
         '(front) backend says: frontend d2 cut off: impossible request producer index' \
         '(tapdisk) served: 34 OKAY, 6 refused' \
         '(tapdisk) image and store closed' \
         '(tapdisk) Test result: SUCCESS' \
         '(front) Test result: SUCCESS'; do
    grep -qF "$w" "$log" || fail "missing \"$w\""
done
debugfs -R "dump /images/disk.qcow2 $out/disk.qcow2" "$store" >/dev/null 2>&1 || fail "debugfs dump"
qemu-img check -q -f qcow2 "$out/disk.qcow2" || fail "qemu-img check"
qemu-img compare -q -f raw -F qcow2 "$out/expected.raw" "$out/disk.qcow2" || fail "qemu-img compare: the image does not hold what the frontend wrote"
echo "blkif-pair: qemu-img check and compare: the image holds the frontend's writes"
e2fsck -fn "$store" > "$out/fsck.log" 2>&1 || { cat "$out/fsck.log"; fail "e2fsck -fn: the store is not clean"; }
echo "blkif-pair: e2fsck -fn: clean"
echo "Test result: SUCCESS"
