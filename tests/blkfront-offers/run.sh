#!/usr/bin/env bash
# run.sh: minios blkfront against a backend that offers neither a
# multi-page ring nor indirect descriptors (docs/disk.md, blkfront):
# tapdisk.elf max-ring-page-order=0 max-indirect-segments=0 writes
# neither node, as a backend without the features; blkfront must fall
# back to a one-page ring (ring-ref) and plain requests of 11 segments.
# tapdisk's first max-ring-page-order=9 is above what it can serve: it
# is refused (logged, ignored).  The guest reads the first MiB of a
# 4 MiB raw image (the pattern), writes 2 MiB from sector 2048 (1 MiB
# requests: split into 88-sector requests), flushes and reads back;
# the host checks the image with qemu-img compare and e2fsck -fn.
# Those writes cost no store commit before their answers.
# (With tapdisk's full offer the same guest gets a 4-page ring and
# indirect requests: tests/blkif-xenbus.)
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/blkfront-offers
rm -rf "$out" && mkdir -p "$out/tree/images" "$out/x"
store=$out/store.img
log=$out/guest.log
fail() { echo "blkfront-offers: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
python3 - "$out" <<'PY'
import sys
n = 4 << 20
base = bytes((i * 151 + (i >> 9) * 3 + 7) & 0xff for i in range(n))
open(sys.argv[1] + "/tree/images/raw.img", "wb").write(base)
e = bytearray(base)
for i in range(1 << 20, 3 << 20):
    e[i] = (i * 13 + (i >> 11) * 7 + 0 * 31 + 1 * 57 + 1) & 0xff
open(sys.argv[1] + "/expected.raw", "wb").write(e)
PY
mkfs.ext4 -q -F -d "$out/tree" "$store" 32M || fail "mkfs.ext4 failed"
X=build/tests/blkif-xenbus.elf
store_boot "$log" 150 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle max-ring-page-order=9 max-ring-page-order=0 max-indirect-segments=0,$X name=plain mem=8M op=disks n=1 salt=1 disk=xvda:/images/raw.img"
why=$(store_boot_clean "$log") || fail "$why"
why=$(store_require "$log" '(tapdisk) tapdisk: max-ring-page-order=9: not 0..4: ignored' \
                           '(tapdisk) tapdisk: /local/domain/2/backend/vbd/3/51712: ring of 1 page, persistent grants on' \
                           '(plain) xvda: 8192 sectors: base read, 2 MiB written, flushed, read back: byte-exact' \
                           '(plain) Test result: SUCCESS' \
                           '(tapdisk) tapdisk: every disk closed (exit=idle): store closed') || fail "$why"
grep -qE '\(tapdisk\) blkback: d3: [1-9][0-9]* requests answered OKAY \(0 indirect\), 0 refused' "$log" ||
    fail "tapdisk did not answer plain requests only"
# The image's blocks all exist (the pattern has no zero block): its
# writes change no metadata, so holding their answers until they survive
# a crash costs no store commit (docs/disk-restart.md).
grep -qE '\(tapdisk\) blkback: d3: .*; [1-9][0-9]* write answers held for 0 store commits' "$log" ||
    fail "overwrites of a raw image's blocks cost store commits"
debugfs -R "dump /images/raw.img $out/x/raw.img" "$store" >/dev/null 2>&1 || fail "debugfs dump"
qemu-img compare -q -f raw -F raw "$out/expected.raw" "$out/x/raw.img" ||
    fail "qemu-img compare: the image does not hold what the guest wrote"
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "blkfront-offers: one-page ring, no indirect requests; qemu-img compare and e2fsck -fn clean"
echo "Test result: SUCCESS"
