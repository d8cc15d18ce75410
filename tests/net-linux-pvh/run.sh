#!/usr/bin/env bash
# net-linux-pvh: net-linux with Debian's kernel as a PVH guest (type=pvh) on 2 pCPUs: its grant
# table above its RAM (add_to_physmap, docs/hvm.md), xen-netfront against Keel's netback, ping and
# TCP echo with a minios appliance over the switch; its vCPU moves between the pCPUs with the
# XCR0 it set (AVX in busybox).  SKIP without the .debs.
# ALONE=1
cd "$(dirname "$0")/../.." || exit 1
NET_LINUX_TYPE=pvh NET_LINUX_SMP=2 NET_LINUX_OUT=build/tests/net-linux-pvh exec bash tests/net-linux/run.sh
