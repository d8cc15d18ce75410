#!/usr/bin/env bash
# The 4 MiB between alpha and beta stayed on the switch: fewer than 200
# frames left through the NIC (gamma's DHCP and ping, ARP and other
# broadcasts flooded before the switch learned).
log=$1
out=$(grep -o 'nic0: [0-9]* frames in, [0-9]* out' "$log" | awk '{ print $5 }' | tail -1)
[ -n "$out" ] || { echo "no nic0 counters"; exit 1; }
[ "$out" -lt 200 ] || { echo "$out frames went out of the NIC: the switch flooded unicast traffic"; exit 1; }
if grep -q 'iommu: DMA fault' "$log"; then echo "an IOMMU fault was logged"; exit 1; fi
exit 0
