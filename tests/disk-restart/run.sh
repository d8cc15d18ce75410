#!/usr/bin/env bash
# run.sh: tapdisk restarted under a writing guest (docs/disk-restart.md).
# The host makes an 8 MiB raw image of a pattern (no zero blocks, so
# mkfs.ext4 -d allocates every block: writes to it change no metadata)
# on an ext4 store.  tapdisk.elf (restart=crash
# selftest=crash-after-writes=60) serves it to a guest that writes 32
# rounds of 128 KiB (three requests in flight) and flushes after each.
# tapdisk carries out the 60th write, crashes before answering it; the
# hypervisor builds it again, the xenstore stub writes its backend nodes
# again, the new life reopens the store (left "not clean") and serves the
# disk; blkfront reconnects (new ring and channel) and issues the
# unanswered requests again.  The guest checks that every call succeeded
# within 1 s of guest time and reads everything back.  Afterwards the
# host extracts the image: qemu-img compare finds every acknowledged
# (and flushed) round, e2fsck -fn finds the store clean.
set -uo pipefail
out=build/tests/disk-restart
rm -rf "$out" && mkdir -p "$out/tree/images" "$out/x"
store=$out/store.img
log=$out/guest.log
fail() { echo "disk-restart: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
ROUNDS=32
python3 - "$out" "$ROUNDS" <<'PY'
import sys
n = 8 << 20
base = bytearray((i * 151 + (i >> 9) * 3 + 7) & 0xff or 1 for i in range(n))
open(sys.argv[1] + "/tree/images/disk.raw", "wb").write(base)
rounds = int(sys.argv[2])
for i in range(2048 * 512, (2048 + 256 * rounds) * 512):
    base[i] = (i * 7 + (i >> 9) * 11 + 0x35) & 0xff
open(sys.argv[1] + "/expected.raw", "wb").write(base)
PY
mkfs.ext4 -q -F -d "$out/tree" "$store" 32M || fail "mkfs.ext4 failed"
X=build/tests/disk-restart.elf
XS="build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M exit=idle"
HV=${HV:-build/hv.elf}
[ "${DEBUG:-0}" = 1 ] && HV=build/hv-debug.elf
HV=$HV bash ci/qemu-boot.sh "$log" 240 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle restart=crash selftest=crash-after-writes=60,$X name=guest mem=8M op=loop rounds=$ROUNDS disk=xvda:/images/disk.raw" \
    -append iommu=off -M q35 \
    -drive "file=$store,if=none,id=d0,format=raw,cache=writeback" -device virtio-blk-pci,drive=d0,addr=4
rc=$?
sed -i 's/\r$//' "$log"
cat "$log"
# 35: every domain ended, one of them (tapdisk's first life) by a crash.
[ "$rc" -eq 35 ] || fail "QEMU status $rc, not 35"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
grep -q 'LEAK' "$log" && fail "frames leaked"
for w in '(tapdisk) tapdisk: selftest=crash-after-writes=60: d' \
         "(guest) $ROUNDS writes and $ROUNDS flushes acknowledged, 2 connections, longest stall" \
         "(guest) $ROUNDS rounds read back: byte-exact" \
         '(guest) Test result: SUCCESS' \
         '(tapdisk) tapdisk: every disk closed (exit=idle): store closed'; do
    grep -qF "$w" "$log" || fail "missing \"$w\""
done
grep -qE '^\[ *[0-9.]+\] d[0-9]+ \(tapdisk\): restarted \(restart=crash\), life 2$' "$log" ||
    fail "tapdisk was not restarted"
grep -qE '\(xenstore\) d[0-9]+: disk xvda \(51712\): backend d[0-9]+ restarted: its nodes written again' "$log" ||
    fail "the xenstore stub did not write the backend nodes again"
grep -qE 'mm: free frames before domains ([0-9]+), after \1: all returned' "$log" || fail "frames not all returned"
grep -qE '\(guest\) blkfront: device/vbd/51712: backend .* \((gone|started over)\): reconnecting, [1-9][0-9]* requests? outstanding' "$log" ||
    fail "blkfront did not see the backend go with requests outstanding"
grep -qE '\(guest\) blkfront: device/vbd/51712: reconnected \(connection 2\) after [0-9]+ ms: [1-9][0-9]* requests? issued again' "$log" ||
    fail "blkfront did not reconnect and issue requests again"
grep -E '\(guest\) .*longest stall' "$log" | sed 's/^/disk-restart: /'
debugfs -R "dump /images/disk.raw $out/x/disk.raw" "$store" >/dev/null 2>&1 || fail "debugfs dump /images/disk.raw"
qemu-img compare -q -f raw -F raw "$out/expected.raw" "$out/x/disk.raw" ||
    fail "qemu-img compare: the image is not what the guest's acknowledged, flushed writes made"
echo "disk-restart: qemu-img compare: every acknowledged and flushed round is in the image"
e2fsck -fn "$store" > "$out/fsck.log" 2>&1 || { cat "$out/fsck.log"; fail "e2fsck -fn: the store is not clean"; }
echo "disk-restart: e2fsck -fn: clean"
echo "Test result: SUCCESS"
