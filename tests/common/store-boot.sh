# Sourced by the disk script tests (docs/disk.md): boots a machine whose
# store disk is the ext4 image $store, as a virtio-blk at 00:04.0 on q35.
#   store_boot LOG TIMEOUT MEM "MODULES" [extra qemu args...]
# Runs build/hv.elf (build/hv-debug.elf with DEBUG=1, or $HV) with
# iommu=off through ci/qemu-boot.sh, sets rc to QEMU's status, strips the
# console's CRs from LOG and prints it.
# XS is the xenstore stub's module, as the tests boot it.
XS="build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M exit=idle"
store_boot() {
    local log=$1 t=$2 mem=$3 modules=$4 hv=${HV:-build/hv.elf}
    shift 4
    [ "${DEBUG:-0}" = 1 ] && hv=build/hv-debug.elf
    HV=$hv bash ci/qemu-boot.sh "$log" "$t" "$mem" "$modules" -append iommu=off -M q35 \
        -drive "file=$store,if=none,id=d0,format=raw,cache=writeback" \
        -device virtio-blk-pci,drive=d0,addr=4 "$@"
    rc=$?
    sed -i 's/\r$//' "$log"
    cat "$log"
}

# After store_boot: the machine ended with every domain powered off
# (status 33), no hypervisor panic or fault, no frame leaked.  Prints why
# not and returns 1 (the caller's fail() ends the test).
store_boot_clean() {
    local log=$1
    [ "$rc" -eq 33 ] || { echo "QEMU status $rc, not 33"; return 1; }
    grep -q 'PANIC\|hypervisor fault' "$log" && { echo "hypervisor panic"; return 1; }
    grep -q 'LEAK' "$log" && { echo "frames leaked"; return 1; }
    return 0
}

# store_require LOG LINE...: every LINE is in LOG (grep -F); otherwise
# prints `missing "LINE"` for the first one that is not and returns 1:
#   why=$(store_require "$log" 'line' ...) || fail "$why"
store_require() {
    local log=$1 w
    shift
    for w in "$@"; do
        grep -qF "$w" "$log" || { echo "missing \"$w\""; return 1; }
    done
    return 0
}

# store_dump STORE DIR NAME...: extracts /images/NAME from the store
# image to DIR/NAME with debugfs; prints what failed and returns 1.
store_dump() {
    local st=$1 dir=$2 f
    shift 2
    for f in "$@"; do
        debugfs -R "dump /images/$f $dir/$f" "$st" >/dev/null 2>&1 || { echo "debugfs dump /images/$f"; return 1; }
    done
    return 0
}

# store_fsck STORE LOGFILE: e2fsck -fn finds the store clean; otherwise
# prints its report and returns 1.
store_fsck() {
    e2fsck -fn "$1" > "$2" 2>&1 || { cat "$2"; return 1; }
}

# store_base_overlay OUT: OUT/tree/images/base.raw (2 MiB of a pattern,
# also kept as OUT/base.raw), the qcow2 overlay OUT/tree/images/vm/disk.qcow2
# over it, and OUT/expected.raw: the base with 256 KiB at sector 512
# written as the guests of blkif-xenbus and disk-boot write it.
store_base_overlay() {
    local out=$1
    python3 - "$out" <<'PY' || { echo "making base.raw"; return 1; }
import sys
n = 2 << 20
base = bytes((i * 151 + (i >> 9) * 3 + 7) & 0xff for i in range(n))
open(sys.argv[1] + "/tree/images/base.raw", "wb").write(base)
open(sys.argv[1] + "/base.raw", "wb").write(base)
e = bytearray(base)
off = 512 * 512
for i in range(off, off + 512 * 512):
    e[i] = (i * 29 + (i >> 10) * 5 + 0xa1) & 0xff
open(sys.argv[1] + "/expected.raw", "wb").write(e)
PY
    (cd "$out/tree/images/vm" && qemu-img create -q -f qcow2 -b ../base.raw -F raw disk.qcow2) || { echo "qemu-img create"; return 1; }
}
