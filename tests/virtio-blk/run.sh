#!/usr/bin/env bash
# run.sh: minios's virtio-blk driver on q35 (main.c, op=blk).  The host
# makes a 4 MiB raw image at run time (sector s, byte j:
# (s * 31 + j * 7 + 1) & 0xff) and gives it to QEMU twice: as the
# virtio-blk device 00:04.0 (writable, with a write cache) and, read-only
# with 4 KiB logical blocks, as 00:05.0; the guest owns both
# (role=hardware pci=).  It checks every sector, rewrites sectors 100-399,
# flushes and reads them back; afterwards this script checks the image
# byte for byte: 100-399 hold the guest's pattern, the rest the host's.
set -uo pipefail
out=build/tests/virtio-blk
mkdir -p "$out"
img=$out/disk.img
log=$out/guest.log
python3 - "$img" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    for s in range(8192):
        f.write(bytes((s * 31 + j * 7 + 1) & 0xff for j in range(512)))
PY
X=build/tests/virtio-blk.elf
rm -f "$log" "$log.qemu"
HV=${HV:-build/hv.elf}
[ "${DEBUG:-0}" = 1 ] && HV=build/hv-debug.elf
HV=$HV bash ci/qemu-boot.sh "$log" 120 128M \
    "$X name=blk role=hardware pci=00:04.0 pci=00:05.0 op=blk blkdev=00:04.0 ro=00:05.0" \
    -append iommu=off -M q35 \
    -drive "file=$img,if=none,id=d0,format=raw,cache=writeback" -device virtio-blk-pci,drive=d0,addr=4 \
    -drive "file=$img,if=none,id=d1,format=raw,readonly=on,file.locking=off" \
    -device virtio-blk-pci,drive=d1,addr=5,logical_block_size=4096,physical_block_size=4096
rc=$?
sed -i 's/\r$//' "$log"
cat "$log"
fail() { echo "virtio-blk: $*"; echo "Test result: FAILURE"; exit 0; }
[ "$rc" -eq 33 ] || fail "QEMU status $rc, not 33"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
for w in 'virtio-blk 00:04.0: 8192 sectors of 512 bytes, block size 512, flush, MSI-X' \
         'virtio-blk 00:05.0: 8192 sectors of 512 bytes, block size 4096, read-only' \
         '(blk) read 8192 sectors: the host'"'"'s pattern, byte-exact' \
         '(blk) three threads read the disk at once: byte-exact' \
         '(blk) wrote sectors 100-399, flushed, read back byte-exact' \
         '(blk) Test result: SUCCESS'; do
    grep -qF "$w" "$log" || fail "missing \"$w\""
done
python3 - "$img" <<'PY' || fail "the image does not hold what the guest wrote"
import sys
data = open(sys.argv[1], "rb").read()
assert len(data) == 8192 * 512, len(data)
for s in range(8192):
    want = bytes(((s * 13 + j * 3 + 0x55) if 100 <= s < 400 else (s * 31 + j * 7 + 1)) & 0xff
                 for j in range(512))
    if data[s * 512:(s + 1) * 512] != want:
        print("sector", s, "differs"); sys.exit(1)
print("virtio-blk: image checked: sectors 100-399 the guest's pattern, the others the host's")
PY
echo "Test result: SUCCESS"
