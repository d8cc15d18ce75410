#!/usr/bin/env bash
# run.sh: the virtio-net test (tests/virtio-net/run.sh) behind QEMU's VT-d
# (intel-iommu,intremap=on) with no iommu=off: the NIC's DMA goes through
# the owner's identity tables (iommu_platform=on, VIRTIO_F_ACCESS_PLATFORM
# accepted by minios) and its MSI-X vectors through interrupt remapping
# entries; the same byte-exact transfers, and the hypervisor's log shows the
# remapped vectors and no DMA fault.
set -uo pipefail
out=$(VNET_IOMMU=1 bash tests/virtio-net/run.sh)
echo "$out"
log=build/tests/virtio-net-iommu/guest.log
for want in 'iommu: interrupt remapping on' 'iommu: 00:03.0 reaches only d[0-9]*.s writable RAM' \
            'iommu: interrupt remapping entry [0-9]*: vector .* from 00:03.0'; do
    grep -q "$want" "$log" || { echo "virtio-net-iommu: no line matches: $want"; echo "Test result: FAILURE"; exit 0; }
done
if grep -q 'iommu: DMA fault' "$log"; then
    grep 'iommu: DMA fault' "$log" | head -5
    echo "virtio-net-iommu: an IOMMU fault was logged"; echo "Test result: FAILURE"; exit 0
fi
