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
