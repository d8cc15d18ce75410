#!/usr/bin/env bash
# linux-blk-hvm-intx: linux-blk-hvm with the kernel told not to use the callback vector
# (xen_no_vector_callback), as a guest of an older Xen or one that wants its events as a PCI
# interrupt: Linux finds the Xen platform device's INTA on GSI 24 through the DSDT's _PRT
# (level, active low), sets HVM_PARAM_CALLBACK_IRQ to that PCI INTx, and every event (its console
# on hvc0, xenstore, xen-blkfront's) comes through the level-triggered I/O APIC pin: asserted while
# vCPU 0's upcall is pending, delivered again after EOI while it stays so.  The same reads,
# writes, discard and image checks as linux-blk-hvm.  SKIP without the .debs.
# TIMEOUT=480
cd "$(dirname "$0")/../.." || exit 1
LINUX_BLK_TYPE=hvm LINUX_BLK_ARGS=xen_no_vector_callback LINUX_BLK_INTX=1 \
    LINUX_BLK_OUT=build/tests/linux-blk-hvm-intx exec bash tests/linux-blk/run.sh
