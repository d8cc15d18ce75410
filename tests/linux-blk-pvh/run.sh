#!/usr/bin/env bash
# linux-blk-pvh: linux-blk with Debian's kernel as a PVH guest (type=pvh): xen-blkfront grants
# guest frames (persistent grants, indirect descriptors) that tapdisk maps through the PVH
# domain's p2m; the same reads, writes, discard and image checks.  SKIP without the .debs.
cd "$(dirname "$0")/../.." || exit 1
LINUX_BLK_TYPE=pvh LINUX_BLK_OUT=build/tests/linux-blk-pvh exec bash tests/linux-blk/run.sh
