#!/usr/bin/env bash
# bench-disk.sh: the disk figures of make bench (issue 12; docs/disk.md
# "Figures"), under QEMU -icount shift=0,sleep=off: the guest's clocks
# count instructions (1 ns each), and when every vCPU is idle the clock
# jumps to the next timer.  A wait for the store disk is the one thing
# that is not instructions: QEMU completes the request in host time, so
# tapdisk runs with blk-poll-ns=2000 (it looks at the used ring every
# 2 us of guest time while a request is out) and each wait costs a few
# us of guest time, more when the host is busy.  Every figure is the
# fastest of 5 rounds (BENCH_DISK_ROUNDS); each boot runs twice and the
# script prints both runs' difference.  Writes bench/disk-results.json
# and a table.
#
# The host makes one 16 MiB raw image whose every 4 KiB block starts with
# its block number, converts it with qemu-img to qcow2, vhd (dynamic) and
# vmdk (monolithicSparse), and puts the four in an ext4 store with 4 KiB
# blocks (mkfs.ext4 -d; the qcow2 keeps qemu-img's holes, so its file has
# 6 extents and an extent-tree block, the raw file one extent).
# Each boot starts from a fresh copy of that store and runs the xenstore
# stub, tapdisk.elf (owning the store's virtio-blk) and the bench guest
# bench/disk/guest.c:
#   on:  persistent grants on (tapdisk's default): the guest has raw,
#        qcow2, vhd and vmdk as xvda..xvdd (4 disks per domain at most)
#        and runs 4 KiB sequential and random reads and writes on each,
#        then random reads at queue depth 1 and 32 on xvda (raw);
#        afterwards tapdisk reads each image itself with
#        the guest's random pattern (selftest=bench-read).
#   off: tapdisk persistent=0: queue depth 1 and 32 on raw only.
#   grow: four empty 16 MiB images (a sparse raw, qcow2, vhd, vmdk made
#        by qemu-img create) on a store of their own; the guest's first
#        4 KiB sequential writes on each (op=grow: one pass, the store
#        and the image allocate) and the flush after them.
set -u
cd "$(dirname "$0")/.."
. tests/common/store-boot.sh
out=build/bench/disk
rm -rf "$out" && mkdir -p "$out/tree/images" bench
json=bench/disk-results.json
MB=16
python3 - "$out/tree/images/raw.img" "$MB" <<'PY'
import struct, sys
n = int(sys.argv[2]) << 20
b = bytearray(n)
for blk in range(n // 4096):
    o = blk * 4096
    b[o:o + 8] = struct.pack("<Q", blk)
    b[o + 8:o + 4096] = bytes([(blk * 7 + 1) & 0xff]) * 4088
open(sys.argv[1], "wb").write(b)
PY
t=$out/tree/images
qemu-img convert -q -f raw -O qcow2 "$t/raw.img" "$t/disk.qcow2" &&
qemu-img convert -q -f raw -O vpc -o subformat=dynamic,force_size=on "$t/raw.img" "$t/disk.vhd" &&
qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse "$t/raw.img" "$t/disk.vmdk" ||
    { echo "bench-disk: qemu-img convert failed"; exit 1; }
mkfs.ext4 -q -F -b 4096 -d "$out/tree" "$out/store0.img" 128M || { echo "bench-disk: mkfs.ext4 failed"; exit 1; }
g=$out/grow/images
mkdir -p "$g" && truncate -s ${MB}M "$g/raw.img" &&
qemu-img create -q -f qcow2 "$g/disk.qcow2" ${MB}M &&
qemu-img create -q -f vpc -o subformat=dynamic,force_size=on "$g/disk.vhd" ${MB}M &&
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$g/disk.vmdk" ${MB}M &&
mkfs.ext4 -q -F -b 4096 -d "$out/grow" "$out/grow0.img" 128M || { echo "bench-disk: making the grow store failed"; exit 1; }

FORMATS="raw qcow2 vhd vmdk"
GUEST_FORMATS=$FORMATS
path() {
    case $1 in raw) echo /images/raw.img ;; *) echo "/images/disk.$1" ;; esac
}
TD="build/stubdoms/tapdisk.elf name=tapdisk mem=16M role=hardware pci=00:04.0 exit=idle blk-poll-ns=2000"
G=build/bench/disk.elf
ICOUNT="-icount shift=0,sleep=off"
reads=""
disks_on="disk=xvda:$(path raw) disk=xvdb:$(path qcow2) disk=xvdc:$(path vhd) disk=xvdd:$(path vmdk)"
for f in $FORMATS; do reads="$reads selftest=bench-read=$(path "$f")"; done

boot() {   # NAME RUN MODULES [STORE0]
    local log=$out/$1-$2.log
    store=$out/store-$1-$2.img
    cp "${4:-$out/store0.img}" "$store"
    local t0=$SECONDS
    SMP=1 TCG_SINGLE=1 store_boot "$log" 240 256M "$3" $ICOUNT >/dev/null
    echo "bench-disk: boot $1 run $2: QEMU status $rc, $((SECONDS - t0)) s" >&2
    grep -q 'bench-disk: done' "$log" || { echo "bench-disk: $1 run $2 did not finish (log: $log)" >&2; grep 'FAILED' "$log" >&2; }
    rm -f "$store"
}
start=$SECONDS
for run in 1 2; do
    boot on $run "$XS,$TD$reads,$G name=bench mem=16M names=raw+qcow2+vhd+vmdk op=all $disks_on"
    boot off $run "$XS,$TD persistent=0,$G name=bench mem=16M names=raw op=qd disk=xvda:$(path raw)"
    boot grow $run "$XS,$TD,$G name=bench mem=16M names=raw+qcow2+vhd+vmdk op=grow $disks_on" "$out/grow0.img"
done
total=$((SECONDS - start))

# Figures: the bench lines of a log, without the console's prefixes.
figs() { grep -o 'bench-disk: .*\|tapdisk: bench-read .*' "$out/$1.log" | sed 's/ *$//'; }
# The largest difference of any figure between the two runs, in percent
# of the smaller.
spread() {
    python3 - "$out" <<'PY'
import re, sys
worst = 0.0
for b in ("on", "off", "grow"):
    runs = []
    for r in (1, 2):
        try:
            text = open(f"{sys.argv[1]}/{b}-{r}.log", errors="replace").read()
        except OSError:
            print("null"); sys.exit()
        runs.append({m.group(1): int(m.group(2)) for m in
                     re.finditer(r"((?:bench-disk:|tapdisk: bench-read) [^=\n]*?) ops=\d+ ns=(\d+)", text)})
    for k in runs[0]:
        if k in runs[1] and min(runs[0][k], runs[1][k]) > 0:
            a, c = runs[0][k], runs[1][k]
            worst = max(worst, abs(a - c) * 100.0 / min(a, c))
print(f"{worst:.1f}")
PY
}
same=true
for b in on off grow; do
    if ! diff <(figs "$b-1") <(figs "$b-2") > "$out/$b.diff"; then
        same=false
        echo "bench-disk: the two '$b' runs differ:" >&2
        cat "$out/$b.diff" >&2
    fi
done
L1=$out/on-1.log L2=$out/off-1.log L1b=$out/on-2.log L2b=$out/off-2.log
L3=$out/grow-1.log L3b=$out/grow-2.log
val() {   # LOG LINE-REGEX KEY
    grep -o "$2.*" "$1" | head -1 | grep -o " $3=[0-9]*" | cut -d= -f2
}
j() { [ -n "$1" ] && echo "$1" || echo null; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ] && echo "$1 $2" | awk '{ printf "%.3f", $1 / $2 }' || echo null; }
mbs() { [ -n "$1" ] && echo "$1" | awk '{ printf "%.2f", $1 * 1024 / 1e6 }' || echo null; }

first_tsc=$(val "$L1" 'bench-disk: first_read' tsc)
first_ns=$(val "$L1" 'bench-disk: first_read' ns)
hv_first=$(grep -o 'bench: hv_entry_to_first_guest_tsc=[0-9]*' "$L1" | head -1 | cut -d= -f2)
{
    echo "{"
    echo "  \"units\": \"guest time under QEMU TCG -icount shift=0,sleep=off (PV clock ns; TSC ticks = instructions); 4 KiB operations, $(grep -o 'define BENCH_DISK_OPS *[0-9]*' stubdoms/tapdisk/include/keel/bench_disk.h | grep -o '[0-9]*$') per figure (the fastest of 5 rounds), on ${MB} MiB images in an ext4 store (4 KiB blocks) on virtio-blk; disk waits polled every 2 us (tapdisk blk-poll-ns=2000)\","
    echo "  \"runs_repeat_exactly\": $same,"
    echo "  \"largest_difference_between_runs_percent\": $(spread),"
    echo "  \"bench_disk_wall_seconds\": $total,"
    echo "  \"formats\": {"
    sep=""
    for f in $FORMATS; do
        echo -n "$sep    \"$f\": {"
        s2=""
        for p in seq_read rand_read seq_write rand_write; do
            i=$(val "$L1" "bench-disk: $f $p " iops) k=$(val "$L1" "bench-disk: $f $p " kib_s)
            i2=$(val "$L1b" "bench-disk: $f $p " iops)
            echo -n "$s2 \"$p\": { \"iops\": $(j "$i"), \"mb_s\": $(mbs "$k"), \"iops_run2\": $(j "$i2") }"
            s2=","
        done
        i=$(val "$L3" "bench-disk: $f grow_write " iops) i2=$(val "$L3b" "bench-disk: $f grow_write " iops)
        echo -n ", \"grow_write\": { \"iops\": $(j "$i"), \"iops_run2\": $(j "$i2") }"
        i=$(val "$L3" "bench-disk: $f grow_flush " ns) i2=$(val "$L3b" "bench-disk: $f grow_flush " ns)
        echo -n ", \"grow_flush_ns\": $(j "$i"), \"grow_flush_ns_run2\": $(j "$i2")"
        tr=$(val "$L1" "tapdisk: bench-read $(path "$f"): " iops)
        tb=$(val "$L1" "tapdisk: bench-read $(path "$f"): " store_bytes_per_op)
        [ -n "$s2" ] && echo -n ","
        echo -n " \"tapdisk_local_rand_read_iops\": $(j "$tr"), \"store_bytes_read_per_4k_read\": $(j "$tb")"
        echo -n " }"
        sep=$',\n'
    done
    echo
    echo "  },"
    rr=$(val "$L1" 'bench-disk: raw rand_read ' iops) qr=$(val "$L1" 'bench-disk: qcow2 rand_read ' iops)
    rs=$(val "$L1" 'bench-disk: raw seq_read ' iops) qs=$(val "$L1" 'bench-disk: qcow2 seq_read ' iops)
    lr=$(val "$L1" "tapdisk: bench-read $(path raw): " iops)
    lq=$(val "$L1" "tapdisk: bench-read $(path qcow2): " iops)
    echo "  \"qcow2_over_raw_reads\": { \"seq\": $(ratio "$qs" "$rs"), \"rand\": $(ratio "$qr" "$rr") },"
    echo "  \"tapdisk_local_qcow2_over_raw_rand_reads\": $(ratio "$lq" "$lr"),"
    echo -n "  \"boundary_guest_rand_read_over_tapdisk_local\": {"
    sep=""
    for f in $GUEST_FORMATS; do
        g=$(val "$L1" "bench-disk: $f rand_read " iops) l=$(val "$L1" "tapdisk: bench-read $(path "$f"): " iops)
        echo -n "$sep \"$f\": $(ratio "$g" "$l")"
        sep=","
    done
    echo " },"
    echo "  \"raw_rand_read_iops_by_queue_depth\": {"
    echo "    \"persistent_grants_on\": { \"qd1\": $(j "$(val "$L1" 'bench-disk: qd1 ' iops)"), \"qd32\": $(j "$(val "$L1" 'bench-disk: qd32 ' iops)"), \"qd32_max_inflight\": $(j "$(val "$L1" 'bench-disk: qd32 ' max_inflight)"), \"ring_pages\": $(j "$(val "$L1" 'bench-disk: qd32 ' ring_pages)") },"
    echo "    \"persistent_grants_off\": { \"qd1\": $(j "$(val "$L2" 'bench-disk: qd1 ' iops)"), \"qd32\": $(j "$(val "$L2" 'bench-disk: qd32 ' iops)"), \"qd32_max_inflight\": $(j "$(val "$L2" 'bench-disk: qd32 ' max_inflight)"), \"ring_pages\": $(j "$(val "$L2" 'bench-disk: qd32 ' ring_pages)") }"
    echo "  },"
    echo "  \"machine_start_to_first_completed_read_tsc\": $(j "$first_tsc"),"
    echo "  \"hv_entry_to_first_completed_read_ns\": $(j "$first_ns"),"
    echo "  \"hv_entry_to_first_guest_instruction_tsc\": $(j "$hv_first")"
    echo "}"
} > "$json"
cat "$json"
printf '%-8s %-11s %10s %10s\n' format pattern IOPS MB/s
for f in $GUEST_FORMATS; do
    for p in seq_read rand_read seq_write rand_write; do
        printf '%-8s %-11s %10s %10s\n' "$f" "$p" "$(val "$L1" "bench-disk: $f $p " iops)" \
            "$(mbs "$(val "$L1" "bench-disk: $f $p " kib_s)")"
    done
    printf '%-8s %-11s %10s %10s\n' "$f" grow_write "$(val "$L3" "bench-disk: $f grow_write " iops)" \
        "$(mbs "$(val "$L3" "bench-disk: $f grow_write " kib_s)")"
done
echo "bench-disk: two runs of each boot agree: $same; $total s in all; wrote $json"
# Success: every boot finished its figures and the JSON parses (the two
# runs are compared above, not required to agree: disk waits are host time).
ok=true
for b in on off grow; do
    for run in 1 2; do
        grep -q 'bench-disk: done' "$out/$b-$run.log" || ok=false
    done
done
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$json" && $ok
