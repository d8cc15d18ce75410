#!/usr/bin/env bash
# Each transfer the hostile domain tried into or out of a frame its
# device may not reach is, in order, a fault the hypervisor logged with
# the same access and address; nothing else faulted.
log=$1
want=$(sed -nE 's/.*\(hostile\) hostile: DMA (write|read) (to|of) frame ([0-9a-f]+) \(.*\)$/\1 \3000/p' "$log")
got=$(sed -nE "s/.*iommu: DMA fault: 00:04.0 \(d2's\) (write|read) at ([0-9a-f]+) blocked.*/\1 \2/p" "$log")
n=$(printf '%s\n' "$want" | grep -c .)
[ "$n" -eq 7 ] || { echo "expected 7 blocked transfers, the guest names $n"; exit 1; }
[ "$want" = "$got" ] || { echo "tried: $(echo $want) / faults: $(echo $got)"; exit 1; }
grep -q "iommu: DMA fault: .*the hypervisor's" "$log" && { echo "a device the hypervisor keeps faulted"; exit 1; }
exit 0
