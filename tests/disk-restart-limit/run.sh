#!/usr/bin/env bash
# run.sh: the restart limit under a disk (docs/disk-restart.md).  tapdisk
# (restart=crash selftest=crash-after-writes=1) crashes on the first write
# of every life; blkfront reconnects after each restart and issues the
# write again, which crashes the next life.  After the fifth restart
# within 10 s the hypervisor lets tapdisk stay dead; blkfront waits 10 s
# for the backend, then gives up: the blocked write and every later
# read, write and flush fail with ENOTCONN (no hang), detach too.  The
# host then checks e2fsck -fn on the store.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/disk-restart-limit
rm -rf "$out" && mkdir -p "$out/tree/images"
store=$out/store.img
log=$out/guest.log
fail() { echo "disk-restart-limit: $*"; echo "Test result: FAILURE"; exit 0; }
head -c $((1 << 20)) /dev/zero | tr '\0' '\132' > "$out/tree/images/disk.raw"
mkfs.ext4 -q -F -d "$out/tree" "$store" 32M || fail "mkfs.ext4 failed"
X=build/tests/disk-restart.elf
store_boot "$log" 240 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle restart=crash selftest=crash-after-writes=1,$X name=guest mem=8M op=limit disk=xvda:/images/disk.raw"
# 35: every domain ended, tapdisk by crashes.
[ "$rc" -eq 35 ] || fail "QEMU status $rc, not 35"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
grep -q 'LEAK' "$log" && fail "frames leaked"
grep -qE '^\[ *[0-9.]+\] d[0-9]+ \(tapdisk\): restarted \(restart=crash\), life 6$' "$log" ||
    fail "tapdisk did not reach its sixth life"
grep -qE 'd[0-9]+: restarted 5 times within 10 s: not restarted again' "$log" ||
    fail "the hypervisor did not stop restarting tapdisk"
grep -qE '\(guest\) blkfront: device/vbd/51712: backend .*: it did not come back to InitWait \(timed out\): giving up, I/O fails with ENOTCONN' "$log" ||
    fail "blkfront did not give up"
why=$(store_require "$log" '(guest) gave up cleanly: the blocked write, then read, flush and write refused with ENOTCONN, detach' \
                           '(guest) Test result: SUCCESS') || fail "$why"
grep -qE 'mm: free frames before domains ([0-9]+), after \1: all returned' "$log" || fail "frames not all returned"
store_fsck "$store" "$out/fsck.log" || fail "e2fsck -fn: the store is not clean"
echo "disk-restart-limit: e2fsck -fn: clean"
echo "Test result: SUCCESS"
