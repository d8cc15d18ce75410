#!/usr/bin/env bash
# net-linux-hvm: net-linux with Debian's kernel as an HVM guest from firmware (type=hvm) on 2
# pCPUs: SeaBIOS and GRUB 2 from the device model's IDE disk (tests/hvm-linux/mkdisk.sh, with
# net-linux's initramfs), the kernel unplugs the emulated NICs through the Xen platform device,
# connects to the xenstore domain (console on hvc0), and its xen-netfront, against Keel's netback,
# pings a minios appliance over the switch and echoes TCP with it.  SKIP without the .debs.
# ALONE=1
# TIMEOUT=480
cd "$(dirname "$0")/../.." || exit 1
NET_LINUX_TYPE=hvm NET_LINUX_SMP=2 NET_LINUX_OUT=build/tests/net-linux-hvm exec bash tests/net-linux/run.sh
