#!/usr/bin/env bash
# Each transfer the hostile domain tried into or out of a frame not its
# own is the very fault the hypervisor logged next: same address, same
# access, and nothing else faulted.
log=$1
want=()
while read -r what frame; do
    want+=("$what ${frame}000")
done < <(sed -nE 's/.*\(hostile\) hostile: DMA (write|read) (to|of) (the victim.s|its own L1 page table|its shared_info) (frame )?([0-9a-f]+)$/\1 \5/p' "$log")
got=()
while read -r what addr; do
    got+=("$what $addr")
done < <(sed -nE "s/.*iommu: DMA fault: 00:04.0 \(d2's\) (write|read) at ([0-9a-f]+) blocked.*/\1 \2/p" "$log")
[ "${#want[@]}" -eq 4 ] || { echo "expected 4 hostile transfers, the guest names ${#want[@]}"; exit 1; }
[ "${#got[@]}" -eq 4 ] || { echo "expected 4 DMA faults, the hypervisor logged ${#got[@]}: ${got[*]}"; exit 1; }
for i in 0 1 2 3; do
    [ "${want[$i]}" = "${got[$i]}" ] || { echo "transfer $i: tried '${want[$i]}', fault '${got[$i]}'"; exit 1; }
done
grep -q "iommu: DMA fault: .*the hypervisor's" "$log" && { echo "a device the hypervisor keeps faulted"; exit 1; }
exit 0
