#!/usr/bin/env bash
# run.sh: conformance test: the images the loader tests boot on Keel
# (load-notes, ramdisk) boot the same way as dom0 of real Xen 4.17: notes
# only in SHT_NOTE sections, only a __xen_guest string, FEATURES strings
# without a NUL in descsz (Linux's !writable_page_tables among them), the
# recorded 64-bit PV notes (without INIT_P2M: Xen then maps the p2m
# elsewhere, which minios does not expect), and a ramdisk delivered by
# virtual address and, with MOD_START_PFN, by pfn (the guest checks its
# cksum; Xen places it at the same pfn as Keel does for mem=8M).
#
# Run from the top directory after `make`. Prints exactly one line
# "Test result: SUCCESS|SKIP|FAILURE|ERROR" (last).
set -uo pipefail

out=build/tests/xen-load
mkdir -p "$out"

result() {
    echo "Test result: $1"
    exit 0
}

if [ ! -f /boot/xen-4.17-amd64.gz ]; then
    echo "xen-load: /boot/xen-4.17-amd64.gz is not installed"
    result SKIP
fi
rd=build/tests/ramdisk.img
for f in shtnote xenguest features linuxfeat notes-xen ramdisk-pfn; do
    [ -f "build/tests/load/$f.elf" ] || { echo "xen-load: build/tests/load/$f.elf is missing (run: make)"; result ERROR; }
done
[ -f "$rd" ] && [ -f build/tests/ramdisk.elf ] || { echo "xen-load: the ramdisk test is not built (run: make)"; result ERROR; }
read -r crc len _ < <(cksum "$rd")

fail=0
# boot NAME LINE-REGEX [-r RAMDISK] IMAGE ARGS...
boot() {
    local name=$1 want=$2
    shift 2
    bash ci/xen-conformance.sh -t 60 -l "$out/$name.log" "$@" >"$out/$name.out" 2>"$out/$name.err"
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "xen-load: $name: dom0 did not power off (status $rc; log $out/$name.log)"
        cat "$out/$name.err"
        fail=1
    elif ! grep -Eqx -- "$want" "$out/$name.out"; then
        echo "xen-load: $name: no line '$want' in its output:"
        cat "$out/$name.out"
        fail=1
    else
        echo "xen-load: $name: $want"
    fi
}

for f in shtnote xenguest features linuxfeat notes-xen; do
    boot "$f" "Hello, world" "build/tests/load/$f.elf" "name=$f"
done
boot rdva "ramdisk: $len bytes at va 0x[0-9a-f]+, cksum $crc" -r "$rd" \
    build/tests/ramdisk.elf name=rdva "crc=$crc" "len=$len" pfn=0
boot rdpfn "ramdisk: $len bytes at pfn 0x400, cksum $crc" -r "$rd" \
    build/tests/load/ramdisk-pfn.elf name=rdpfn "crc=$crc" "len=$len" pfn=1

[ $fail = 0 ] || result FAILURE
result SUCCESS
