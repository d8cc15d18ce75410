#!/usr/bin/env bash
# run.sh: an appliance's own ext4 filesystem on its disk (main.c): the
# host makes an 8 MiB ext4 image (mkfs.ext4 -d) holding /www/index.html
# (120000 bytes: byte i = (i * 71 + (i >> 10) * 3 + 5) & 0xff) and puts
# it, as /images/fs.img, on the tapdisk domain's store (mkfs.ext4 -d
# again).  The guest (disk=xvda:/images/fs.img) attaches it with
# blkfront, opens the filesystem with libext2fs over blkfront, reads the
# file, rewrites and appends, flushes, closes and detaches.  Afterwards
# this script extracts fs.img from the store with debugfs, reads the
# file inside it with debugfs, compares it byte for byte, and e2fsck -fn
# must find both filesystems clean.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/disk-fs
rm -rf "$out" && mkdir -p "$out/fs/www" "$out/tree/images"
store=$out/store.img
log=$out/guest.log
fail() { echo "disk-fs: $*"; echo "Test result: FAILURE"; exit 0; }
python3 - "$out/fs/www/index.html" <<'PY'
import sys
open(sys.argv[1], "wb").write(bytes((i * 71 + (i >> 10) * 3 + 5) & 0xff for i in range(120000)))
PY
mkfs.ext4 -q -F -d "$out/fs" "$out/tree/images/fs.img" 8M || fail "mkfs.ext4 (inner) failed"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 (store) failed"
store_boot "$log" 150 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle,build/tests/disk-fs.elf name=app mem=8M disk=xvda:/images/fs.img"
why=$(store_boot_clean "$log") || fail "$why"
why=$(store_require "$log" '(app) read /www/index.html from the ext4 on xvda: 120000 bytes, byte-exact' \
                           '(app) rewrote 10000 bytes, appended 50000, flushed, read back: byte-exact' \
                           '(app) filesystem closed, xvda detached' \
                           '(app) Test result: SUCCESS' \
                           '(tapdisk) tapdisk: every disk closed (exit=idle): store closed') || fail "$why"
debugfs -R "dump /images/fs.img $out/fs.img" "$store" >/dev/null 2>&1 || fail "debugfs dump /images/fs.img"
debugfs -R 'cat /www/index.html' "$out/fs.img" > "$out/index.html" 2>/dev/null || fail "debugfs cat"
python3 - "$out/index.html" <<'PY' || fail "/www/index.html does not hold what the guest wrote"
import sys
d = open(sys.argv[1], "rb").read()
assert len(d) == 170000, len(d)
h = lambda i: (i * 71 + (i >> 10) * 3 + 5) & 0xff
g = lambda i: (i * 23 + (i >> 8) + 0x77) & 0xff
w = bytes(g(i) if 3000 <= i < 13000 or i >= 120000 else h(i) for i in range(170000))
assert d == w
print("disk-fs: debugfs: /www/index.html in fs.img holds the guest's writes, byte for byte")
PY
e2fsck -fn "$out/fs.img" > "$out/fsck-inner.log" 2>&1 || { cat "$out/fsck-inner.log"; fail "e2fsck -fn: fs.img is not clean"; }
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "disk-fs: e2fsck -fn: fs.img and the store clean"
echo "Test result: SUCCESS"
