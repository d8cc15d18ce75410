#!/usr/bin/env bash
# TIMEOUT=600
# run.sh: power cuts on the disk path (docs/disk-tests.md).  An ext4
# store holds four empty 8 MiB images (raw, qcow2, vhd dynamic, vmdk
# monolithicSparse); guest "pc" (disk-powercut.elf) has them as
# xvda..xvdd and, one thread per disk, writes stamped pseudo-random
# extents and flushes in a loop.  CUTS times (default 20, about 4 s
# each) the machine boots on the same store (left unclean by the cut
# before: the realistic case; STORE=fresh: a new store each time holding
# the images the cut left), and QEMU gets SIGKILL a
# seeded random 0-3 s after every disk acknowledged its first flush.
# After each cut (on a copy of the store whose journal e2fsck -E
# journal_only replayed, as a mount does): e2fsck -fn finds it clean, qemu-img check
# passes on the qcow2 (leaked clusters alone allowed: status 3) and vmdk
# images, and verify.py finds every flushed round's sectors in each
# image (or a later round's), nothing else.  SEED=S replays a run.
# Before the cuts, boots prove tapdisk's refusals (a damaged unclean
# store; journals it must not replay) and its replay of a transaction
# debugfs wrote.
# The first cut with a problem ends the run (KEEP_GOING=1: every cut is
# made and every problem listed; the verdict is the same).
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/disk-powercut; [ "${IMAGES:-empty}" = full ] && out=build/tests/disk-powercut-full
rm -rf "$out" && mkdir -p "$out/tree/images" "$out/x"
t=$out/tree/images
store=$out/store.img
CUTS=${CUTS:-20}
SEED=${SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) ))}
SECTORS=16384   # 8 MiB
fail() { echo "disk-powercut: replay with SEED=$SEED CUTS=$CUTS"; echo "disk-powercut: $*"; echo "Test result: FAILURE"; exit 0; }
problems=()
problem() { echo "disk-powercut: PROBLEM: $*"; problems+=("$*"); }
command -v qemu-img >/dev/null || { echo "no qemu-img"; echo "Test result: SKIP"; exit 0; }
echo "powercut: seed=$SEED cuts=$CUTS store=${STORE:-reuse} images=${IMAGES:-empty}"
RANDOM=$SEED   # the cut delays come from bash's generator, seeded
q() { qemu-img "$@" || fail "qemu-img $* failed"; }
# IMAGES=empty (default): new images, which grow (and allocate store
# blocks) as they are written.  IMAGES=full: every sector written
# beforehand (no zero block, so mkfs.ext4 -d leaves no hole): the
# guest's writes allocate nothing in the images or the store, and only
# data changes (docs/disk-tests.md: the store is then fsck-clean).
IMAGES=${IMAGES:-empty}
case $IMAGES in
empty)
    q create -q -f raw "$t/d.raw" 8M
    q create -q -f qcow2 "$t/d.qcow2" 8M
    q create -q -f vpc -o subformat=dynamic,force_size=on "$t/d.vhd" 8M
    q create -q -f vmdk -o subformat=monolithicSparse "$t/d.vmdk" 8M
    for i in 0 1 2 3; do truncate -s $((SECTORS * 512)) "$out/x/prev-$i.raw"; done ;;
full)
    python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 131 + (i >> 9) * 7) % 255 + 1 for i in range(8 << 20)))' > "$out/full.raw"
    cp "$out/full.raw" "$t/d.raw"
    q convert -q -f raw -O qcow2 "$out/full.raw" "$t/d.qcow2"
    q convert -q -f raw -O vpc -o subformat=dynamic,force_size=on "$out/full.raw" "$t/d.vhd"
    q convert -q -f raw -O vmdk -o subformat=monolithicSparse "$out/full.raw" "$t/d.vmdk"
    for i in 0 1 2 3; do cp "$out/full.raw" "$out/x/prev-$i.raw"; done ;;
*) fail "IMAGES=$IMAGES: empty or full" ;;
esac
# STORE=reuse (default): every boot opens the store the cut before left
# unclean; STORE=fresh: each boot gets a new store (mkfs.ext4 -d) holding
# the images as the cut before left them.
STORE=${STORE:-reuse}
case $STORE in reuse|fresh) ;; *) fail "STORE=$STORE: reuse or fresh" ;; esac
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
# Refusal first: a store left unclean whose file names a block outside
# the filesystem is more than a crash of tapdisk leaves; tapdisk must
# not write to it (store.c, mark_named_blocks) and says to run e2fsck.
bad=$out/bad-store.img
mkdir -p "$out/bad/images" && head -c 65536 /dev/urandom > "$out/bad/images/b.raw"
mkfs.ext4 -q -F -d "$out/bad" "$bad" 16M || fail "mkfs.ext4 failed"
debugfs -w -R "sif /images/b.raw flags 0" "$bad" >/dev/null 2>&1 &&
    debugfs -w -R "sif /images/b.raw block[0] 99999999" "$bad" >/dev/null 2>&1 &&
    debugfs -w -R "ssv state 0" "$bad" >/dev/null 2>&1 || fail "debugfs could not damage the bad store"
rlog=$out/refuse.log
store=$bad store_boot "$rlog" 60 128M \
    "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0" -pidfile "$out/qemu.pid" > /dev/null &
boot=$!
want='\(tapdisk\) tapdisk: store on 00:04.0: inode [0-9]+ of a store left unclean: a block outside the store: run e2fsck \(-[0-9]+\)'
until grep -qE "$want" "$rlog" 2>/dev/null || ! kill -0 "$boot" 2>/dev/null; do sleep 0.1; done
[ -s "$out/qemu.pid" ] && kill -9 "$(cat "$out/qemu.pid")" 2>/dev/null
wait "$boot"
grep -qE "$want" "$rlog" || { tail -20 "$rlog"; fail "tapdisk did not refuse a damaged unclean store"; }
e2fsck -fn "$bad" >/dev/null 2>&1 && fail "the damaged store passes e2fsck: the refusal proves nothing"
echo "powercut: $(grep -oE 'store on 00:04.0: .*' "$rlog")"
# The store's journal (docs/disk.md): tapdisk replays a transaction
# e2fsprogs wrote (debugfs journal_write) before it writes, and refuses
# a journal it must not replay (transactions in it while the store does
# not say needs_recovery); and it honours revoke records as jbd2 and
# e2fsck do (two blocks logged, one revoked by a later transaction).
# Each boot runs until tapdisk says WANT, then is cut.
jboot() {   # STORE WANT NAME
    local l=$out/journal-$3.log
    rm -f "$out/qemu.pid"
    store=$1 store_boot "$l" 60 128M \
        "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0" -pidfile "$out/qemu.pid" > /dev/null &
    local b=$!
    until grep -qE "$2" "$l" 2>/dev/null || ! kill -0 "$b" 2>/dev/null; do sleep 0.1; done
    [ -s "$out/qemu.pid" ] && kill -9 "$(cat "$out/qemu.pid")" 2>/dev/null
    wait "$b"
    grep -qE "$2" "$l" || { tail -20 "$l"; fail "journal: $3: tapdisk did not say: $2"; }
    echo "powercut: journal: $3: $(grep -oE "$2" "$l" | head -1)"
}
head -c 1024 /dev/urandom > "$out/jblock"
head -c 2048 /dev/urandom > "$out/jblock2"
for v in ok norecover revoke; do
    mkfs.ext4 -q -F -b 1024 "$out/j-$v.img" 16M || fail "mkfs.ext4 failed"
    case $v in
    revoke) jw="jw -b 16000,16001 $out/jblock2"$'\n'"jc"$'\n'"jo"$'\n'"jw -r 16000" ;;
    *) jw="jw -b 16000 $out/jblock" ;;
    esac
    printf 'jo\n%s\njc\n' "$jw" | debugfs -w -f - "$out/j-$v.img" >/dev/null 2>&1 &&
        dumpe2fs -h "$out/j-$v.img" 2>/dev/null | grep -q '^Journal start: *[1-9]' || fail "debugfs wrote no transaction"
done
debugfs -w -R "feature -needs_recovery" "$out/j-norecover.img" >/dev/null 2>&1 || fail "debugfs feature"
cmp -s -n 1024 "$out/jblock" <(dd if="$out/j-ok.img" bs=1024 skip=16000 count=1 2>/dev/null) &&
    fail "the logged block is in place before any replay: the replay would prove nothing"
jboot "$out/j-ok.img" '\(tapdisk\) tapdisk: store on 00:04.0: 16 MiB' ok
grep -q '(tapdisk) store: journal replayed: 1 transaction(s), 1 block(s)' "$out/journal-ok.log" ||
    fail "journal: tapdisk did not replay debugfs's transaction"
cmp -s -n 1024 "$out/jblock" <(dd if="$out/j-ok.img" bs=1024 skip=16000 count=1 2>/dev/null) ||
    fail "journal: after tapdisk's replay block 16000 does not hold what debugfs logged"
echo "powercut: journal: tapdisk replayed debugfs's transaction: block 16000 holds what it logged"
jboot "$out/j-norecover.img" "\(tapdisk\) tapdisk: store on 00:04.0: the store's journal holds transactions but the store does not say it needs recovery: run e2fsck \(-[0-9]+\)" norecover
dumpe2fs -h "$out/j-norecover.img" 2>/dev/null | grep -q '^Journal start: *[1-9]' ||
    fail "journal: norecover: tapdisk refused the store but emptied its journal"
# Revoked: e2fsck replays a copy; tapdisk must leave the same bytes.
dd if="$out/j-revoke.img" bs=1024 skip=16000 count=2 2>/dev/null > "$out/jrev-before"
cp "$out/j-revoke.img" "$out/j-revoke-e2.img"
e2fsck -fy -E journal_only "$out/j-revoke-e2.img" >/dev/null 2>&1
jboot "$out/j-revoke.img" '\(tapdisk\) tapdisk: store on 00:04.0: 16 MiB' revoke
grep -q '(tapdisk) store: journal replayed: 2 transaction(s), 1 block(s)' "$out/journal-revoke.log" ||
    fail "journal: revoke: tapdisk did not replay 2 transactions and 1 block"
cmp -s <(dd if="$out/j-revoke.img" bs=1024 skip=16000 count=1 2>/dev/null) <(head -c 1024 "$out/jrev-before") ||
    fail "journal: revoke: tapdisk wrote the revoked block 16000"
cmp -s <(dd if="$out/j-revoke.img" bs=1024 skip=16001 count=1 2>/dev/null) <(tail -c 1024 "$out/jblock2") ||
    fail "journal: revoke: block 16001 does not hold what debugfs logged"
cmp -s <(dd if="$out/j-revoke.img" bs=1024 skip=16000 count=2 2>/dev/null) \
       <(dd if="$out/j-revoke-e2.img" bs=1024 skip=16000 count=2 2>/dev/null) ||
    fail "journal: revoke: tapdisk's replay differs from e2fsck's"
echo "powercut: journal: tapdisk honoured debugfs's revoke record as e2fsck did"
names=(d.raw d.qcow2 d.vhd d.vmdk) fmts=(raw qcow2 vpc vmdk)
G=build/tests/disk-powercut.elf
start=$(date +%s)
for k in $(seq 1 "$CUTS"); do
    log=$out/cut-$k.log
    delay_ms=$(( RANDOM % 3000 ))
    rm -f "$out/qemu.pid"
    if [ "$STORE" = fresh ] && [ "$k" -gt 1 ]; then
        cp "$out"/x/d.* "$t/" && mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 failed"
    fi
    store_boot "$log" 300 256M \
        "$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0,$G name=pc mem=16M seed=$SEED gen=$k n=4 rounds=1000000 disk=xvda:/images/d.raw disk=xvdb:/images/d.qcow2 disk=xvdc:/images/d.vhd disk=xvdd:/images/d.vmdk" \
        -pidfile "$out/qemu.pid" > /dev/null &
    boot=$!
    # Wait until every disk has acknowledged a flush, then cut.
    t0=$(date +%s)
    until [ "$(grep -oE '\(pc\) flushed d=[0-3] ' "$log" 2>/dev/null | sort -u | wc -l)" -eq 4 ]; do
        kill -0 "$boot" 2>/dev/null || { wait "$boot"; tail -20 "$log"; fail "cut $k: QEMU ended before every disk flushed"; }
        [ $(( $(date +%s) - t0 )) -lt 240 ] || { kill -9 "$(cat "$out/qemu.pid")"; wait "$boot"; tail -20 "$log"; fail "cut $k: no flush from every disk in 240 s"; }
        sleep 0.1
    done
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -0 "$boot" 2>/dev/null || { wait "$boot"; tail -20 "$log"; fail "cut $k: QEMU ended before the cut"; }
    kill -9 "$(cat "$out/qemu.pid")" || fail "cut $k: could not kill QEMU"
    wait "$boot"
    sed -i 's/\r$//' "$log"
    grep -q 'PANIC\|hypervisor fault' "$log" && { tail -40 "$log"; fail "cut $k: hypervisor panic"; }
    grep -qE 'Test result: (FAILURE|ERROR)' "$log" && { grep -E '\(pc\)|tapdisk' "$log" | tail -20; fail "cut $k: a domain failed before the cut"; }
    grep -q 'not cut' "$log" && fail "cut $k: the guest finished before the cut"
    echo "powercut: cut $k: $delay_ms ms after the first flush of every disk; last lines: $(grep -oE 'flushed d=[0-3] round=[0-9]+$' "$log" | tail -4 | tr '\n' ' ')"
    # What a mount does first: the journal replayed (the store journals
    # its metadata: docs/disk.md), here by e2fsck on a copy; the store
    # itself stays as the cut left it, for tapdisk's own replay at the
    # next boot.  The checks below read the replayed copy.
    cp "$store" "$out/replayed.img"
    e2fsck -y -E journal_only "$out/replayed.img" > "$out/replay-$k.log" 2>&1
    jrc=$?
    [ "$jrc" -le 1 ] || { cat "$out/replay-$k.log"; problem "cut $k: e2fsck -E journal_only: status $jrc"; }
    echo "powercut: cut $k: the journal replayed as a mount would (e2fsck -E journal_only: status $jrc)"
    specs=()
    for i in 0 1 2 3; do
        name=${names[$i]} fmt=${fmts[$i]}
        rm -f "$out/x/$name"
        debugfs -R "dump /images/$name $out/x/$name" "$out/replayed.img" >/dev/null 2>&1 && [ -s "$out/x/$name" ] ||
            fail "cut $k: debugfs dump /images/$name"
        case $fmt in
        qcow2)  # a crash may leak clusters (status 3: leaks only, no corruption)
            qemu-img check -f qcow2 "$out/x/$name" > "$out/check-$k-$i.log" 2>&1
            crc=$?
            if [ "$crc" -eq 3 ] && ! grep -qv -e '^Leaked cluster' -e 'leaked clusters were found' \
                    -e 'This means waste of disk space' -e '^$' -e '^Image end offset' \
                    -e 'allocated, .*fragmented, .*compressed clusters' "$out/check-$k-$i.log"; then
                echo "powercut: cut $k: qcow2: qemu-img check: $(grep -c '^Leaked cluster' "$out/check-$k-$i.log") cluster(s) leaked, no corruption"
            elif [ "$crc" -ne 0 ]; then
                cat "$out/check-$k-$i.log"; problem "cut $k: qemu-img check: $name: status $crc"
            fi ;;
        vmdk)
            qemu-img check -f vmdk "$out/x/$name" > "$out/check-$k-$i.log" 2>&1 ||
                { cat "$out/check-$k-$i.log"; problem "cut $k: qemu-img check: $name"; } ;;
        esac  # vpc: qemu-img has no check; the conversion reads every block
        qemu-img convert -f "$fmt" -O raw "$out/x/$name" "$out/x/cur-$i.raw" ||
            { problem "cut $k: qemu-img convert cannot read $name"; cp "$out/x/prev-$i.raw" "$out/x/cur-$i.raw"; }
        specs+=("$fmt:$out/x/prev-$i.raw:$out/x/cur-$i.raw")
    done
    st=; [ "$k" = 1 ] && st=--selftest
    python3 tests/disk-powercut/verify.py $st "$SEED" "$k" "$log" "$SECTORS" "${specs[@]}" ||
        problem "cut $k: a flushed write is missing or an image holds garbage"
    for i in 0 1 2 3; do mv "$out/x/cur-$i.raw" "$out/x/prev-$i.raw"; done
    if e2fsck -fn "$out/replayed.img" > "$out/fsck-$k.log" 2>&1; then
        echo "powercut: cut $k: e2fsck -fn: clean"
    else
        grep -vE '^(e2fsck [0-9]|Pass [1-5]|$)' "$out/fsck-$k.log" | sed "s/^/powercut: cut $k: e2fsck: /"
        problem "cut $k: e2fsck -fn: the store is not clean"
    fi
    [ ${#problems[@]} -gt 0 ] && [ "${KEEP_GOING:-0}" != 1 ] && break
done
[ "$STORE" = reuse ] && echo "powercut: tapdisk opened the store left unclean by a cut $((k - 1)) times; $(cat "$out"/cut-*.log | grep -c '(tapdisk) store: not closed cleanly: [0-9]* blocks that files use were free in the bitmap: marked in use') times it found blocks files use marked free, and marked them; $(cat "$out"/cut-*.log | grep -c "(tapdisk) store: journal replayed: ") times it replayed the journal first"
echo "powercut: $k of $CUTS cuts per format (raw, qcow2, vhd, vmdk) in $(( $(date +%s) - start )) s"
if [ ${#problems[@]} -gt 0 ]; then
    printf 'disk-powercut: %s\n' "${problems[@]}"
    fail "${#problems[@]} problem(s), the first: ${problems[0]}"
fi
echo "powercut: after every cut: store fsck-clean, qemu-img check passed, every flushed write there"
echo "Test result: SUCCESS"
