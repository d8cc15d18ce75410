#!/usr/bin/env bash
# run.sh: tapdisk restarted under a writing guest (docs/disk-restart.md).
# The host makes an 8 MiB raw image of a pattern (no zero blocks, so
# mkfs.ext4 -d allocates every block: writes to it change no metadata)
# and an empty 8 MiB qcow2 (clusters allocated as it is written) on an
# ext4 store.  tapdisk.elf (restart=crash selftest=crash-after-writes=56)
# serves them to guest (raw) and guest2 (qcow2), which each write 16
# rounds of 352 KiB (three requests in flight) and flush after each.
# tapdisk carries out the 56th write (of 96: blkfront sends a round as
# three indirect requests of up to 128 KiB) and crashes before answering it;
# the hypervisor builds it again, the xenstore stub writes its backend
# nodes again, the new life reopens the store (left "not clean") and
# serves the disks; each blkfront reconnects (new ring and channel) and
# issues its unanswered requests again.  Each guest checks that every
# call succeeded and that I/O never stalled (no response with requests
# outstanding) for 1 s of guest time, and reads everything back.
# Afterwards the
# host extracts the images: qemu-img check finds no corruption in the
# qcow2 (a cluster leaked by the crash is allowed), qemu-img compare
# finds every acknowledged (and flushed) round, e2fsck -fn finds the
# store clean.
# QEMU runs with -icount shift=0: guest time counts instructions, so the
# stall measured (and asserted) does not depend on the host's load.
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/disk-restart
rm -rf "$out" && mkdir -p "$out/tree/images" "$out/x"
store=$out/store.img
log=$out/guest.log
fail() { echo "disk-restart: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
ROUNDS=16
python3 - "$out" "$ROUNDS" <<'PY'
import sys
n = 8 << 20
base = bytearray((i * 151 + (i >> 9) * 3 + 7) & 0xff or 1 for i in range(n))
open(sys.argv[1] + "/tree/images/disk.raw", "wb").write(base)
rounds = int(sys.argv[2])
for i in range(2048 * 512, (2048 + 704 * rounds) * 512):
    base[i] = (i * 7 + (i >> 9) * 11 + 0x35) & 0xff
open(sys.argv[1] + "/expected.raw", "wb").write(base)
PY
qemu-img create -q -f qcow2 "$out/tree/images/disk.qcow2" 8M || fail "qemu-img create"
python3 - "$out" "$ROUNDS" <<'PY'
import sys
e = bytearray(8 << 20)
for i in range(2048 * 512, (2048 + 704 * int(sys.argv[2])) * 512):
    e[i] = (i * 7 + (i >> 9) * 11 + 0x35) & 0xff
open(sys.argv[1] + "/expected-qcow2.raw", "wb").write(e)
PY
mkfs.ext4 -q -F -d "$out/tree" "$store" 32M || fail "mkfs.ext4 failed"
X=build/tests/disk-restart.elf
store_boot "$log" 240 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle restart=crash selftest=crash-after-writes=56,$X name=guest mem=8M op=loop rounds=$ROUNDS disk=xvda:/images/disk.raw,$X name=guest2 mem=8M op=loop rounds=$ROUNDS disk=xvda:/images/disk.qcow2" \
    -icount shift=0
# 35: every domain ended, one of them (tapdisk's first life) by a crash.
[ "$rc" -eq 35 ] || fail "QEMU status $rc, not 35"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
grep -q 'LEAK' "$log" && fail "frames leaked"
for w in '(tapdisk) tapdisk: selftest=crash-after-writes=56: d' \
         "(guest) $ROUNDS rounds read back: byte-exact" \
         '(guest) Test result: SUCCESS' \
         "(guest2) $ROUNDS rounds read back: byte-exact" \
         '(guest2) Test result: SUCCESS' \
         '(tapdisk) tapdisk: every disk closed (exit=idle): store closed'; do
    grep -qF "$w" "$log" || fail "missing \"$w\""
done
grep -qE '^\[ *[0-9.]+\] d[0-9]+ \(tapdisk\): restarted \(restart=crash\), life 2$' "$log" ||
    fail "tapdisk was not restarted"
[ "$(grep -cE '\(xenstore\) d[0-9]+: disk xvda \(51712\): backend d[0-9]+ restarted: its nodes written again' "$log")" = 2 ] ||
    fail "the xenstore stub did not write both guests' backend nodes again"
grep -qE 'mm: free frames before domains ([0-9]+), after \1: all returned' "$log" || fail "frames not all returned"
for g in guest guest2; do
    # One more write when a flush reported writes lost with the old life.
    grep -qE "\\($g\\) $ROUNDS writes and $ROUNDS flushes acknowledged, 2 connections, longest stall|\\($g\\) $((ROUNDS + 1)) writes and $ROUNDS flushes acknowledged, 2 connections, longest stall" "$log" ||
        fail "$g: not every round acknowledged over 2 connections"
    grep -qE "\\($g\\) blkfront: device/vbd/51712: backend .* \\((gone|started over)\\): reconnecting, [0-9]+ requests? outstanding" "$log" ||
        fail "$g's blkfront did not see the backend go"
    grep -qE "\\($g\\) blkfront: device/vbd/51712: reconnected \\(connection 2\\) after [0-9]+ ms: [0-9]+ requests? issued again" "$log" ||
        fail "$g's blkfront did not reconnect"
done
# The write tapdisk carried out and never answered was issued again.
grep -qE '\((guest|guest2)\) blkfront: device/vbd/51712: reconnected \(connection 2\) after [0-9]+ ms: [1-9][0-9]* requests? issued again' "$log" ||
    fail "no request was issued again"
grep -E '\((guest|guest2)\) .*longest stall' "$log" | sed 's/^/disk-restart: /'
for f in disk.raw disk.qcow2; do
    debugfs -R "dump /images/$f $out/x/$f" "$store" >/dev/null 2>&1 || fail "debugfs dump /images/$f"
done
# A crash between a cluster's allocation (refcount) and its L2 entry
# leaks that cluster, as it does under QEMU (exit status 3: leaks only,
# "no harm to data"); corruption (status 2) or anything else fails.
qemu-img check -f qcow2 "$out/x/disk.qcow2" > "$out/check.log" 2>&1
crc=$?
[ "$crc" -eq 0 ] || [ "$crc" -eq 3 ] || { cat "$out/check.log"; fail "qemu-img check: disk.qcow2 is damaged (status $crc)"; }
[ "$crc" -eq 3 ] && echo "disk-restart: qemu-img check: $(grep -c '^Leaked cluster' "$out/check.log") cluster(s) leaked by the crash, no corruption"
qemu-img compare -q -f raw -F raw "$out/expected.raw" "$out/x/disk.raw" ||
    fail "qemu-img compare: disk.raw is not what the guest's acknowledged, flushed writes made"
qemu-img compare -q -f raw -F qcow2 "$out/expected-qcow2.raw" "$out/x/disk.qcow2" ||
    fail "qemu-img compare: disk.qcow2 is not what guest2's acknowledged, flushed writes made"
echo "disk-restart: qemu-img check (qcow2) and compare (raw, qcow2): every acknowledged and flushed round is in the images"
e2fsck -fn "$store" > "$out/fsck.log" 2>&1 || { cat "$out/fsck.log"; fail "e2fsck -fn: the store is not clean"; }
echo "disk-restart: e2fsck -fn: clean"
echo "Test result: SUCCESS"
