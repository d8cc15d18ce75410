#!/usr/bin/env bash
# run.sh: tapdisk restarted under writing guests (docs/disk-restart.md).
# The host puts five 8 MiB images on an ext4 store: a raw image of a
# pattern (no zero blocks, so mkfs.ext4 -d allocates every block: writes
# to it change no metadata), and four empty ones that grow as they are
# written: a sparse raw (the store allocates its blocks), a qcow2
# (clusters, L2 tables and refcounts allocated), a dynamic vhd (blocks,
# bitmaps, BAT) and a monolithicSparse vmdk (grains, grain tables).
# tapdisk.elf (restart=crash selftest=crash-after-writes=56) serves them
# to guests g-raw, g-sparse, g-qcow2, g-vhd and g-vmdk, which each write
# 16 rounds of 352 KiB (three requests in flight) and flush only after
# every fourth round, so most writes are answered long before a flush
# covers them.  Each life of tapdisk crashes after carrying out its 56th
# write (of any guest), before answering it; the hypervisor builds it
# again, the xenstore stub writes its backend nodes again, the new life
# reopens the store (replaying its journal) and serves the disks; each
# blkfront reconnects (new ring and channel) and issues its unanswered
# requests again, and no other: an answered write must have survived.
# Each guest checks that every call succeeded (no EIO), that I/O never
# stalled (no response with requests outstanding) for 1 s of guest time,
# and reads everything back.  Afterwards the host extracts the images:
# qemu-img check finds no corruption (a cluster leaked by a crash is
# allowed), qemu-img compare finds every round in every image (every
# write was answered, most of them before any flush), e2fsck -fn finds
# the store clean.
# QEMU runs with -icount shift=0: guest time counts instructions, so the
# stall measured (and asserted) does not depend on the host's load.
# TIMEOUT=400
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/disk-restart
rm -rf "$out" && mkdir -p "$out/tree/images" "$out/x"
store=$out/store.img
log=$out/guest.log
fail() { echo "disk-restart: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
ROUNDS=16
EVERY=4
GUESTS="g-raw g-sparse g-qcow2 g-vhd g-vmdk"
python3 - "$out" "$ROUNDS" <<'PY'
import sys
n = 8 << 20
base = bytearray((i * 151 + (i >> 9) * 3 + 7) & 0xff or 1 for i in range(n))
open(sys.argv[1] + "/tree/images/disk.raw", "wb").write(base)
zero = bytearray(n)
rounds = int(sys.argv[2])
for img in (base, zero):
    for i in range(2048 * 512, (2048 + 704 * rounds) * 512):
        img[i] = (i * 7 + (i >> 9) * 11 + 0x35) & 0xff
open(sys.argv[1] + "/expected.raw", "wb").write(base)
open(sys.argv[1] + "/expected-empty.raw", "wb").write(zero)
PY
truncate -s 8M "$out/tree/images/sparse.raw" || fail "truncate"
qemu-img create -q -f qcow2 "$out/tree/images/disk.qcow2" 8M || fail "qemu-img create qcow2"
qemu-img create -q -f vpc -o subformat=dynamic "$out/tree/images/disk.vhd" 8M || fail "qemu-img create vhd"
qemu-img create -q -f vmdk "$out/tree/images/disk.vmdk" 8M || fail "qemu-img create vmdk"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
X=build/tests/disk-restart.elf
G="mem=8M op=loop rounds=$ROUNDS flush=$EVERY"
store_boot "$log" 240 256M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle blk-poll-ns=2000 restart=crash selftest=crash-after-writes=56,$X name=g-raw $G disk=xvda:/images/disk.raw,$X name=g-sparse $G disk=xvda:/images/sparse.raw,$X name=g-qcow2 $G disk=xvda:/images/disk.qcow2,$X name=g-vhd $G disk=xvda:/images/disk.vhd,$X name=g-vmdk $G disk=xvda:/images/disk.vmdk" \
    -icount shift=0
# 35: every domain ended, one of them (tapdisk's first life) by a crash.
[ "$rc" -eq 35 ] || fail "QEMU status $rc, not 35"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
grep -q 'LEAK' "$log" && fail "frames leaked"
grep -q '(tapdisk) tapdisk: selftest=crash-after-writes=56: d' "$log" || fail "tapdisk did not crash"
grep -qF '(tapdisk) tapdisk: every disk closed (exit=idle): store closed' "$log" || fail "tapdisk did not close the store"
grep -qE '^\[ *[0-9.]+\] d[0-9]+ \(tapdisk\): restarted \(restart=crash\), life 2$' "$log" ||
    fail "tapdisk was not restarted"
lives=$(grep -cE '^\[ *[0-9.]+\] d[0-9]+ \(tapdisk\): restarted \(restart=crash\), life [0-9]+$' "$log")
crashes=$(grep -c '(tapdisk) tapdisk: selftest=crash-after-writes=56: d' "$log")
[ "$crashes" = "$lives" ] || fail "$crashes crashes but $lives restarts"
[ "$(grep -cE '\(xenstore\) d[0-9]+: disk xvda \(51712\): backend d[0-9]+ restarted: its nodes written again' "$log")" = $((5 * lives)) ] ||
    fail "the xenstore stub did not write the five guests' backend nodes again after each of $lives restarts"
grep -qE 'mm: free frames before domains ([0-9]+), after \1: all returned' "$log" || fail "frames not all returned"
kept=0
for g in $GUESTS; do
    for w in "($g) $ROUNDS rounds read back: byte-exact" "($g) Test result: SUCCESS"; do
        grep -qF "$w" "$log" || fail "missing \"$w\""
    done
    grep -qE "\\($g\\) $ROUNDS writes and $((ROUNDS / EVERY)) flushes acknowledged, [2-9] connections, longest stall" "$log" ||
        fail "$g: not every round acknowledged, or not over several connections"
    grep -qE "\\($g\\) blkfront: device/vbd/51712: backend .* \\((gone|started over)\\): reconnecting" "$log" ||
        fail "$g's blkfront did not see the backend go"
    grep -qE "\\($g\\) blkfront: device/vbd/51712: reconnected \\(connection 2\\) after [0-9]+ ms: [0-9]+ requests? issued again" "$log" ||
        fail "$g's blkfront did not reconnect"
    n=$(grep -oE "\\($g\\) blkfront: device/vbd/51712: backend .*reconnecting, [0-9]+ requests? outstanding, [0-9]+ answered" "$log" |
        awk '{ s += $(NF-1) } END { print s + 0 }')
    kept=$((kept + n))
done
# The crashes came with answered writes that no flush covered yet: what
# the test is about (blkfront does not issue those again).
[ "$kept" -gt 0 ] || fail "no crash came with answered writes not yet flushed"
echo "disk-restart: $crashes crash(es); at them, $kept answered writes not yet flushed, not issued again"
# Every write tapdisk carried out and never answered was issued again.
grep -qE '\(g-[a-z0-9]+\) blkfront: device/vbd/51712: reconnected \(connection [0-9]+\) after [0-9]+ ms: [1-9][0-9]* requests? issued again' "$log" ||
    fail "no request was issued again"
grep -E '\(g-[a-z0-9]+\) .*longest stall' "$log" | sed 's/^/disk-restart: /'
for f in disk.raw sparse.raw disk.qcow2 disk.vhd disk.vmdk; do
    debugfs -R "dump /images/$f $out/x/$f" "$store" >/dev/null 2>&1 || fail "debugfs dump /images/$f"
done
# A crash between a cluster's allocation (refcount) and its L2 entry
# leaks that cluster, as it does under QEMU (exit status 3: leaks only,
# "no harm to data"); corruption (status 2) or anything else fails.
# qemu-img has no check for vpc.
for f in disk.qcow2 disk.vmdk; do
    qemu-img check "$out/x/$f" > "$out/check-$f.log" 2>&1
    crc=$?
    [ "$crc" -eq 0 ] || [ "$crc" -eq 3 ] || { cat "$out/check-$f.log"; fail "qemu-img check: $f is damaged (status $crc)"; }
    [ "$crc" -eq 3 ] && echo "disk-restart: qemu-img check: $f: $(grep -c '^Leaked cluster' "$out/check-$f.log") cluster(s) leaked by a crash, no corruption"
done
qemu-img compare -q -f raw -F raw "$out/expected.raw" "$out/x/disk.raw" ||
    fail "qemu-img compare: disk.raw does not hold every answered write"
for f in sparse.raw:raw disk.qcow2:qcow2 disk.vhd:vpc disk.vmdk:vmdk; do
    qemu-img compare -q -f raw -F "${f#*:}" "$out/expected-empty.raw" "$out/x/${f%:*}" ||
        fail "qemu-img compare: ${f%:*} does not hold every answered write"
done
echo "disk-restart: qemu-img check (qcow2, vmdk) and compare (all five): every answered write is in the images"
e2fsck -fn "$store" > "$out/fsck.log" 2>&1 || { cat "$out/fsck.log"; fail "e2fsck -fn: the store is not clean"; }
echo "disk-restart: e2fsck -fn: clean"
echo "Test result: SUCCESS"
