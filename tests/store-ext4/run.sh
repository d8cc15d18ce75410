#!/usr/bin/env bash
# run.sh: the image store (stubdoms/tapdisk/store, main.c): libext2fs for
# minios on an ext4 filesystem the host makes at run time with
# `mkfs.ext4 -d` (64 MiB, /data/in.bin and /data/out.bin, 300000 bytes
# each: byte i = (i * 131 + (i >> 12) * 7 + 1) & 0xff), given to the
# guest as the virtio-blk device 00:04.0; 00:05.0 is a 1 MiB disk of
# zeros (no filesystem).  The guest reads, rewrites and appends to
# out.bin, flushes and closes the store; afterwards this script reads
# out.bin with `debugfs -R 'cat /data/out.bin'` and compares it byte for
# byte with what the guest wrote, and `e2fsck -fn` must find the store
# clean.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/store-ext4
rm -rf "$out" && mkdir -p "$out/tree/data"
store=$out/store.img
junk=$out/junk.img
log=$out/guest.log
fail() { echo "store-ext4: $*"; echo "Test result: FAILURE"; exit 0; }
python3 - "$out/tree/data" <<'PY'
import sys
data = bytes((i * 131 + (i >> 12) * 7 + 1) & 0xff for i in range(300000))
for n in ("in.bin", "out.bin"):
    open(sys.argv[1] + "/" + n, "wb").write(data)
PY
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
e2fsck -fn "$store" >/dev/null 2>&1 || fail "the fresh store is not clean"
truncate -s 1M "$junk"
X=build/tests/store-ext4.elf
store_boot "$log" 120 128M \
    "$X name=store role=hardware pci=00:04.0 pci=00:05.0 store=00:04.0 junk=00:05.0" \
    -drive "file=$junk,if=none,id=d1,format=raw" -device virtio-blk-pci,drive=d1,addr=5
why=$(store_boot_clean "$log") || fail "$why"
why=$(store_require "$log" '(store) refused: junk disk: no ext2/3/4 filesystem that libext2fs can open on the store: ' \
                           '(store) read /data/in.bin: 300000 bytes, byte-exact' \
                           '(store) refused: data/in.bin: a store path is absolute' \
                           '(store) refused: /data/nope.img: File not found by ext2_lookup' \
                           '(store) refused: /data: not a regular file' \
                           '(store) refused: store_close: 1 files still open' \
                           '(store) refused: /data/in.bin: already open' \
                           '(store) a second reader of /data/in.bin: opened' \
                           '(store) refused: /data/out.bin: already open for writing' \
                           '(store) refused: /data/../data/out.bin: already open for writing' \
                           '(store) opened out.bin relative to /data/in.bin' \
                           '(store) persist: nothing held after an overwrite, a commit after an append, then nothing' \
                           '(store) wrote /data/out.bin: 20000 bytes rewritten, 70000 appended, flushed, read back byte-exact' \
                           '(store) refused: /data/out.bin: the store is open read-only' \
                           '(store) store reopened read-only: /data/out.bin byte-exact' \
                           '(store) Test result: SUCCESS') || fail "$why"
debugfs -R 'cat /data/out.bin' "$store" > "$out/out.bin" 2>"$out/debugfs.err" || fail "debugfs failed"
python3 - "$out/out.bin" <<'PY' || fail "/data/out.bin does not hold what the guest wrote"
import sys
data = open(sys.argv[1], "rb").read()
assert len(data) == 370000, len(data)
host = lambda i: (i * 131 + (i >> 12) * 7 + 1) & 0xff
guest = lambda i: (i * 37 + (i >> 9) + 0x5a) & 0xff
want = bytes(guest(i) if 5000 <= i < 25000 or i >= 300000 else host(i) for i in range(370000))
if data != want:
    i = next(i for i in range(len(want)) if data[i] != want[i])
    print("byte", i, "differs"); sys.exit(1)
print("store-ext4: debugfs: /data/out.bin holds the guest's writes, byte for byte")
PY
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "store-ext4: e2fsck -fn: clean"
echo "Test result: SUCCESS"
