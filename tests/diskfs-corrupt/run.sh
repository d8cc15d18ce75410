#!/usr/bin/env bash
# run.sh: corrupt ext4 disks under diskfs (main.c).  The host makes four
# small ext4 images with mkfs.ext4 -d and damages three of them: the
# superblock's magic (bytes 1080-1081) zeroed; the inode table block
# holding the root directory's inode (debugfs imap <2>) overwritten; the
# image cut to half its size.  The fourth is intact but for the inode of
# /bad.txt (its bytes in the inode table overwritten).  All four go on the
# tapdisk domain's store.  The guest must see each of the three mounts
# refused with a reason naming the damage (and nothing mounted), then
# mount the fourth, get EIO for /bad.txt, read /ok.txt whole; then mount
# read-only a disk whose journal holds a transaction (replayed first, as
# Linux's read-only mount does) and refuse the same attached read-only;
# and exit cleanly: no crash, no hang, no silent misread.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/diskfs-corrupt
rm -rf "$out" && mkdir -p "$out/fs" "$out/good" "$out/tree/images"
store=$out/store.img
log=$out/guest.log
fail() { echo "diskfs-corrupt: $*"; echo "Test result: FAILURE"; exit 0; }
img=$out/tree/images
echo "a file" > "$out/fs/file.txt"
printf 'an intact file on xvdd\n' > "$out/good/ok.txt"
printf 'this inode gets overwritten\n' > "$out/good/bad.txt"
for i in magic inode trunc; do
    mkfs.ext4 -q -F -b 4096 -d "$out/fs" "$img/$i.img" 8M || fail "mkfs.ext4 $i.img"
done
mkfs.ext4 -q -F -b 4096 -d "$out/good" "$img/good.img" 8M || fail "mkfs.ext4 good.img"
# The magic: two zero bytes at 1024 + 56.
printf '\0\0' | dd of="$img/magic.img" bs=1 seek=1080 conv=notrunc status=none
# imap PATH IMAGE -> "BLOCK OFFSET" of that inode in the inode table.
imap() {
    debugfs -R "imap $1" "$2" 2>/dev/null |
        sed -n 's/.*located at block \([0-9]*\), offset 0x\([0-9a-f]*\).*/\1 \2/p'
}
read -r blk _ <<<"$(imap '<2>' "$img/inode.img")"
[ -n "$blk" ] || fail "debugfs imap <2> found no block"
rootblk=$blk
head -c 4096 /dev/zero | tr '\0' '\132' |
    dd of="$img/inode.img" bs=4096 seek="$blk" conv=notrunc status=none
read -r blk off <<<"$(imap /bad.txt "$img/good.img")"
[ -n "$blk" ] || fail "debugfs imap /bad.txt found no block"
head -c 64 /dev/zero | tr '\0' '\245' |
    dd of="$img/good.img" bs=1 seek=$((blk * 4096 + 0x$off)) conv=notrunc status=none
truncate -s 4M "$img/trunc.img"
# The damage is what it should be, by the host's tools.
dumpe2fs -h "$img/magic.img" >/dev/null 2>&1 && fail "dumpe2fs still reads magic.img"
e2fsck -fn "$img/inode.img" >/dev/null 2>&1 && fail "e2fsck finds inode.img clean"
e2fsck -fn "$img/good.img" >/dev/null 2>&1 && fail "e2fsck finds good.img clean"
# jr.img: a transaction in its journal (debugfs journal_write, which
# also sets needs_recovery) logging /j.txt's block with new contents,
# not in place yet; jro.img the same, attached read-only.
mkdir -p "$out/jfs"
printf "before the journal's replay\n" > "$out/jfs/j.txt"
mkfs.ext4 -q -F -b 4096 -d "$out/jfs" "$img/jr.img" 8M || fail "mkfs.ext4 jr.img"
jblk=$(debugfs -R "bmap /j.txt 0" "$img/jr.img" 2>/dev/null)
[ -n "$jblk" ] && [ "$jblk" -gt 0 ] || fail "debugfs bmap /j.txt found no block"
{ printf "after the journal's replay!\n"; head -c $((4096 - 28)) /dev/zero; } > "$out/jblock"
printf 'jo\njw -b %s %s\njc\n' "$jblk" "$out/jblock" | debugfs -w -f - "$img/jr.img" >/dev/null 2>&1
dumpe2fs -h "$img/jr.img" 2>/dev/null | grep -q '^Journal start: *[1-9]' || fail "debugfs left no transaction in jr.img"
debugfs -R "cat /j.txt" "$img/jr.img" 2>/dev/null | grep -q "^before" || fail "jr.img: /j.txt replayed already"
cp "$img/jr.img" "$img/jro.img"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 (store)"
store_boot "$log" 200 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle,build/tests/diskfs-corrupt.elf name=app mem=8M disk=xvda:/images/magic.img disk=xvdb:/images/inode.img disk=xvdc:/images/trunc.img disk=xvdd:/images/good.img:ro,build/tests/diskfs-corrupt.elf name=japp mem=8M part=journal disk=xvda:/images/jr.img disk=xvdb:/images/jro.img:ro"
[ "$rc" -eq 33 ] || fail "QEMU status $rc, not 33"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
why=$(store_require "$log" '(app) xvda (superblock magic overwritten): mount refused: -22: device/vbd/51712: bad superblock magic 0x0000' \
                           "(app) xvdb (root directory's inode table block overwritten): mount refused: -5: device/vbd/51728: the root directory's inode (inode 2, in inode table block $rootblk): Inode checksum does not match inode" \
                           '(app) xvdc (image cut to half its size): mount refused: -22: device/vbd/51744: truncated: the superblock counts 2048 blocks of 4096 bytes (8388608 bytes) but the disk holds 4194304 bytes' \
                           '(app) xvdd: /disk/bad.txt, whose inode is overwritten: EIO' \
                           '(app) still running: xvdd mounted, /disk/ok.txt read whole, unmounted' \
                           '(japp) store: journal replayed: 1 transaction(s), 1 block(s)' \
                           "(japp) xvda: mounted read-only after its journal's replay: /disk/j.txt holds the logged contents" \
                           "(japp) xvdb (read-only, its journal needs recovery): mount refused: -30: device/vbd/51728: the store's journal needs recovery and its device is read-only" \
                           '(japp) Test result: SUCCESS' \
                           '(app) Test result: SUCCESS') || fail "$why"
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "diskfs-corrupt: e2fsck -fn: the store clean"
# jr.img as the guest left it: replayed in place, clean; jro.img untouched.
debugfs -R "dump /images/jr.img $out/jr.out" "$store" >/dev/null 2>&1 &&
    debugfs -R "dump /images/jro.img $out/jro.out" "$store" >/dev/null 2>&1 || fail "debugfs dump jr/jro.img"
e2fsck -fn "$out/jr.out" >/dev/null 2>&1 || fail "jr.img: not clean after the guest's replay"
debugfs -R "cat /j.txt" "$out/jr.out" 2>/dev/null | grep -q "^after the journal's replay" || fail "jr.img: /j.txt not replayed in place"
cmp -s "$out/jro.out" "$img/jro.img" || fail "jro.img (read-only) changed"
echo "diskfs-corrupt: jr.img replayed in place and clean; jro.img untouched"
echo "Test result: SUCCESS"
