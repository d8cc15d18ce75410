#!/usr/bin/env bash
# run.sh: newlib's file calls on an appliance's own ext4 disk (main.c).
# The host makes fs.img (8 MiB ext4 with /www/hello.txt) and ro.img
# (with /ro.txt) with mkfs.ext4 -d and puts them on the tapdisk
# domain's store; the guest works on fs.img through /disk and proves
# the refusals, fills the disk until a write gets ENOSPC, unlinks that
# file (that unlink failed with EIO before: docs/diskfs.md) and writes
# again, then mounts ro.img read-only.  Afterwards debugfs reads
# what the guest left in fs.img, and e2fsck -fn finds every filesystem clean.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/diskfs
rm -rf "$out" && mkdir -p "$out/fs/www" "$out/ro" "$out/tree/images"
store=$out/store.img
log=$out/guest.log
fail() { echo "diskfs: $*"; echo "Test result: FAILURE"; exit 0; }
echo "hello from the host" > "$out/fs/www/hello.txt"
printf 'read only!!\n' > "$out/ro/ro.txt"
mkfs.ext4 -q -F -d "$out/fs" "$out/tree/images/fs.img" 8M || fail "mkfs.ext4 fs.img"
mkfs.ext4 -q -F -d "$out/ro" "$out/tree/images/ro.img" 4M || fail "mkfs.ext4 ro.img"
# full.img: debugfs fills it with /full.bin (a 9 MB source: the write
# stops at "Could not allocate block", the file holding every free block
# up to the filesystem's last one).
mkdir -p "$out/full" && echo "on the full disk" > "$out/full/h.txt"
mkfs.ext4 -q -F -d "$out/full" "$out/tree/images/full.img" 8M || fail "mkfs.ext4 full.img"
head -c 9000000 /dev/zero | tr '\0' x > "$out/9mb"
debugfs -w -R "write $out/9mb /full.bin" "$out/tree/images/full.img" >/dev/null 2>&1
last=$(( $(dumpe2fs -h "$out/tree/images/full.img" 2>/dev/null | sed -n 's/^Block count: *//p') - 1 ))
debugfs -R "stat /full.bin" "$out/tree/images/full.img" 2>/dev/null | grep -q -- "-$last\b" ||
    fail "full.img: /full.bin does not reach the last block ($last)"
dumpe2fs -h "$out/tree/images/full.img" 2>/dev/null | grep -q '^Free blocks: *0$' || fail "full.img is not full"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 (store)"
store_boot "$log" 300 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle,build/tests/diskfs.elf name=app mem=8M disk=xvda:/images/fs.img disk=xvdb:/images/ro.img:ro disk=xvdc:/images/full.img"
[ "$rc" -eq 33 ] || fail "QEMU status $rc, not 33"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
why=$(store_require "$log" '(app) mounted xvda' '(app) readdir /disk/d: . .. a.bin b.bin c.txt stdio.txt sub t.bin' \
                           '(app) truncated the full file to 3000 bytes' \
                           '(app) unlinked the full file, wrote and read back 200000 bytes after it' \
                           '(app) xvdb mounted read-only' '(app) Test result: SUCCESS' \
                           "(app) xvdc: truncated the host's full.bin (to the last block) to 100000 bytes, wrote 64 KiB after it" \
                           "(app) xvdc: unlinked the host's full.bin (to the last block), wrote 1 MiB after it") || fail "$why"
debugfs -R "dump /images/fs.img $out/fs.img" "$store" >/dev/null 2>&1 || fail "debugfs dump"
grep -qE '\(app\) filled the disk: [0-9]+ bytes written, then ENOSPC' "$log" || fail "the disk was not filled"
for f in a.bin e.txt stdio.txt t.bin after.bin; do
    debugfs -R "dump /d/$f $out/$f" "$out/fs.img" >/dev/null 2>&1 || fail "debugfs dump /d/$f"
done
python3 - "$out" <<'PY' || fail "the files in fs.img do not hold what the guest wrote"
import sys, os
o = sys.argv[1]
pat = lambda k, i: (i * (13 + 2 * k) + (i >> 9) + k) & 0xff
assert open(o + "/a.bin", "rb").read() == bytes(pat(1, i) for i in range(3000))
assert open(o + "/t.bin", "rb").read() == bytes(pat(2, i) for i in range(1000))
assert open(o + "/after.bin", "rb").read() == bytes(pat(4, i) for i in range(200000))
assert open(o + "/e.txt", "rb").read() == b"renamed\n"
assert open(o + "/stdio.txt", "rb").read() == b"fprintf 42 through newlib\n"
print("diskfs: debugfs: /d/a.bin, t.bin, e.txt, stdio.txt, after.bin hold the guest's bytes")
PY
ls=$(debugfs -R 'ls /d' "$out/fs.img" 2>/dev/null)
echo "$ls" | grep -qE 'b\.bin|c\.txt|sub|fill\.bin' && fail "removed names still in /d: $ls"
debugfs -R "dump /images/full.img $out/full.img" "$store" >/dev/null 2>&1 || fail "debugfs dump full.img"
debugfs -R "ls /" "$out/full.img" 2>/dev/null | grep -q 'full\.bin' && fail "full.img still has /full.bin"
debugfs -R "dump /new.bin $out/new.bin" "$out/full.img" >/dev/null 2>&1 || fail "debugfs dump /new.bin"
python3 - "$out/new.bin" <<'PY' || fail "/new.bin in full.img does not hold the guest's bytes"
import sys
pat = lambda k, i: (i * (13 + 2 * k) + (i >> 9) + k) & 0xff
assert open(sys.argv[1], "rb").read() == bytes(pat(5, i) for i in range(1 << 20))
PY
for i in fs.img full.img store.img; do
    p=$out/$i; [ $i = store.img ] && p=$store
    e2fsck -fn "$p" > "$out/fsck-$i.log" 2>&1 || { cat "$out/fsck-$i.log"; fail "e2fsck -fn $i not clean"; }
done
echo "diskfs: e2fsck -fn: fs.img, full.img and the store clean"
echo "Test result: SUCCESS"
