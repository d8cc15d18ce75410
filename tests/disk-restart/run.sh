#!/usr/bin/env bash
# run.sh: tapdisk restarted under writing guests (docs/disk-restart.md):
# no answered write is lost.
# The host makes five 8 MiB images: a raw image of a pattern (no zero
# blocks, so mkfs.ext4 -d allocates every block: writes to it change no
# metadata), and four empty ones that grow as they are written: a sparse
# raw (the store allocates its blocks), a qcow2 (clusters, L2 tables and
# refcounts allocated), a dynamic vhd (blocks, bitmaps, BAT) and a
# monolithicSparse vmdk (grains, grain tables).  Two boots, each on a
# fresh ext4 store of them:
#   mixed: tapdisk.elf (restart=crash selftest=crash-after-writes=56)
#     serves all five to guests g-raw, g-sparse, g-qcow2, g-vhd, g-vmdk;
#   sparse: tapdisk (selftest=crash-after-writes=20) serves the sparse
#     raw alone: nothing but the guest's flushes commits the store, so
#     every crash finds answered writes whose blocks the store allocated
#     since its last commit (the case that lost them before).
# Each guest writes 16 rounds of 352 KiB (three requests in flight) and
# flushes only after every fourth round, so most writes are answered
# long before a flush covers them.  Each life of tapdisk crashes after
# carrying out its N-th write (of any guest), before answering it; the
# hypervisor builds it again, the xenstore stub writes its backend nodes
# again, the new life reopens the store (replaying its journal) and
# serves the disks; each blkfront reconnects (new ring and channel) and
# issues its unanswered requests again, and no other: an answered write
# must have survived.  Each guest checks that every call succeeded (no
# EIO), that I/O never stalled (no response with requests outstanding)
# for 1 s of guest time, and reads everything back.  Afterwards the host
# extracts the images: qemu-img check finds no corruption (a cluster
# leaked by a crash is allowed), qemu-img compare finds every round in
# every image (every write was answered, most before any flush), e2fsck
# -fn finds the store clean.
# QEMU runs with -icount shift=0 and tapdisk polls its disk
# (blk-poll-ns=2000, docs/disk.md "Guest time"): guest time counts
# instructions, not the host's disk latency, so the stall measured (and
# asserted) does not depend on the host's load.
# TIMEOUT=400
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/disk-restart
rm -rf "$out" && mkdir -p "$out/tree/images" "$out/x"
fail() { echo "disk-restart: $*"; echo "Test result: FAILURE"; exit 0; }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
ROUNDS=16
EVERY=4
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
X=build/tests/disk-restart.elf
G="mem=8M op=loop rounds=$ROUNDS flush=$EVERY"
fmt_of() { case $1 in *.raw) echo raw;; *.qcow2) echo qcow2;; *.vhd) echo vpc;; *.vmdk) echo vmdk;; esac; }

# boot TAG N GUEST:IMAGE...: a fresh store of the images, tapdisk
# crashing after each life's N-th write, one guest per image; then the
# checks.
boot() {
    local tag=$1 n=$2 store=$out/$1.img log=$out/$1.log mods g img f
    shift 2
    mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "$tag: mkfs.ext4 failed"
    mods="$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0 exit=idle blk-poll-ns=2000 restart=crash selftest=crash-after-writes=$n"
    for g in "$@"; do
        mods="$mods,$X name=${g%%:*} $G disk=xvda:/images/${g#*:}"
    done
    store_boot "$log" 240 256M "$mods" -icount shift=0
    # 35: every domain ended, some of them (tapdisk's lives) by a crash.
    [ "$rc" -eq 35 ] || fail "$tag: QEMU status $rc, not 35"
    grep -q 'PANIC\|hypervisor fault' "$log" && fail "$tag: hypervisor panic"
    grep -q 'LEAK' "$log" && fail "$tag: frames leaked"
    grep -qF '(tapdisk) tapdisk: every disk closed (exit=idle): store closed' "$log" ||
        fail "$tag: tapdisk did not close the store"
    grep -qE '^\[ *[0-9.]+\] d[0-9]+ \(tapdisk\): restarted \(restart=crash\), life 2$' "$log" ||
        fail "$tag: tapdisk was not restarted"
    local lives crashes kept=0 k
    lives=$(grep -cE '^\[ *[0-9.]+\] d[0-9]+ \(tapdisk\): restarted \(restart=crash\), life [0-9]+$' "$log")
    crashes=$(grep -c "(tapdisk) tapdisk: selftest=crash-after-writes=$n: d" "$log")
    [ "$crashes" = "$lives" ] || fail "$tag: $crashes crashes but $lives restarts"
    [ "$(grep -cE '\(xenstore\) d[0-9]+: disk xvda \(51712\): backend d[0-9]+ restarted: its nodes written again' "$log")" -ge $# ] ||
        fail "$tag: the xenstore stub did not write every guest's backend nodes again"
    grep -qE 'mm: free frames before domains ([0-9]+), after \1: all returned' "$log" ||
        fail "$tag: frames not all returned"
    for g in "$@"; do
        g=${g%%:*}
        for w in "($g) $ROUNDS rounds read back: byte-exact" "($g) Test result: SUCCESS"; do
            grep -qF "$w" "$log" || fail "$tag: missing \"$w\""
        done
        grep -qE "\\($g\\) $ROUNDS writes and $((ROUNDS / EVERY)) flushes acknowledged, [2-9] connections, longest stall" "$log" ||
            fail "$tag: $g: not every round acknowledged, or not over several connections"
        grep -qE "\\($g\\) blkfront: device/vbd/51712: backend .* \\((gone|started over)\\): reconnecting" "$log" ||
            fail "$tag: $g's blkfront did not see the backend go"
        grep -qE "\\($g\\) blkfront: device/vbd/51712: reconnected \\(connection 2\\) after [0-9]+ ms: [0-9]+ requests? issued again" "$log" ||
            fail "$tag: $g's blkfront did not reconnect"
        k=$(grep -oE "\\($g\\) blkfront: device/vbd/51712: backend .*reconnecting, [0-9]+ requests? outstanding, [0-9]+ answered" "$log" |
            awk '{ s += $(NF-1) } END { print s + 0 }')
        kept=$((kept + k))
    done
    # The crashes came with answered writes that no flush covered yet:
    # what the test is about (blkfront does not issue those again).
    [ "$kept" -gt 0 ] || fail "$tag: no crash came with answered writes not yet flushed"
    echo "disk-restart: $tag: $crashes crash(es); at them, $kept answered writes not yet flushed, not issued again"
    # Every write tapdisk carried out and never answered was issued again.
    grep -qE '\(g-[a-z0-9]+\) blkfront: device/vbd/51712: reconnected \(connection [0-9]+\) after [0-9]+ ms: [1-9][0-9]* requests? issued again' "$log" ||
        fail "$tag: no request was issued again"
    grep -E '\(g-[a-z0-9]+\) .*longest stall' "$log" | sed "s/^/disk-restart: $tag: /"
    for g in "$@"; do
        img=${g#*:}
        f=$(fmt_of "$img")
        debugfs -R "dump /images/$img $out/x/$tag-$img" "$store" >/dev/null 2>&1 || fail "$tag: debugfs dump /images/$img"
        # A crash between a cluster's allocation (refcount) and its L2
        # entry leaks that cluster, as it does under QEMU (exit status 3:
        # leaks only, "no harm to data"); corruption (status 2) or
        # anything else fails.  qemu-img has no check for raw or vpc.
        if [ "$f" = qcow2 ] || [ "$f" = vmdk ]; then
            qemu-img check -f "$f" "$out/x/$tag-$img" > "$out/check-$tag-$img.log" 2>&1
            crc=$?
            [ "$crc" -eq 0 ] || [ "$crc" -eq 3 ] || { cat "$out/check-$tag-$img.log"; fail "$tag: qemu-img check: $img is damaged (status $crc)"; }
            [ "$crc" -eq 3 ] && echo "disk-restart: $tag: qemu-img check: $img: $(grep -c '^Leaked cluster' "$out/check-$tag-$img.log") cluster(s) leaked by a crash, no corruption"
        fi
        local want=$out/expected-empty.raw
        [ "$img" = disk.raw ] && want=$out/expected.raw
        qemu-img compare -q -f raw -F "$f" "$want" "$out/x/$tag-$img" ||
            fail "$tag: qemu-img compare: $img does not hold every answered write"
    done
    echo "disk-restart: $tag: qemu-img check and compare: every answered write is in the images"
    e2fsck -fn "$store" > "$out/fsck-$tag.log" 2>&1 || { cat "$out/fsck-$tag.log"; fail "$tag: e2fsck -fn: the store is not clean"; }
    echo "disk-restart: $tag: e2fsck -fn: clean"
}

# Every format, crashes wherever the five guests' requests meet the 56th
# write of each life (the images' own flushes commit the store often).
boot mixed 56 g-raw:disk.raw g-sparse:sparse.raw g-qcow2:disk.qcow2 g-vhd:disk.vhd g-vmdk:disk.vmdk
# One guest alone on a sparse raw image: nothing but its flushes commits
# the store, so the 20th write of a life always finds 7 answered writes
# whose blocks the store allocated after the last commit.
boot sparse 20 g-sparse:sparse.raw
echo "Test result: SUCCESS"
