#!/usr/bin/env bash
# linux-blk-hvm: linux-blk with Debian's kernel as an HVM guest from firmware (type=hvm): SeaBIOS
# and GRUB 2 from the device model's IDE disk (tests/hvm-linux/mkdisk.sh, with linux-blk's
# initramfs), the kernel unplugs the emulated disk through the Xen platform device, connects to
# the xenstore domain (its console on hvc0 through the console ring: the "(linux)" lines), and
# xen-blkfront grants guest frames that tapdisk maps through the HVM domain's p2m; the same reads,
# writes, discard and image checks.  SKIP without the .debs.
# TIMEOUT=480
cd "$(dirname "$0")/../.." || exit 1
LINUX_BLK_TYPE=hvm LINUX_BLK_OUT=build/tests/linux-blk-hvm exec bash tests/linux-blk/run.sh
