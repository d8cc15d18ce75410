#!/usr/bin/env bash
# bench-linux.sh: the figure "Linux PV machine start -> /init marker" on Keel and on Xen 4.17 in the
# same QEMU: linux-pv and linux-pv-xen (2 vCPUs) on one host CPU under -icount shift=0,sleep=off,
# so that the TSC counts instructions and the figure repeats.  (With two host CPUs under -icount
# Linux stops on Keel: docs/testing.md.)  The figure is the TSC that /init reads first thing
# (tests/linux-pv/tsc.c), which QEMU counts from machine start: firmware, hypervisor boot and the
# domain build are included.  Prints "linux_pv_start_to_init_tsc keel=N xen=N".
set -u
cd "$(dirname "$0")/.."
mkdir -p build/bench
ICOUNT="-icount shift=0,sleep=off"
LINUX_PV_SMP=1 LINUX_PV_QEMU="$ICOUNT" LINUX_PV_KEEL_LOG=build/bench/linux-keel.log \
    bash tests/linux-pv/run.sh >build/bench/linux-keel.out 2>&1
k=$(sed -n 's/.*(linux) linux-pv: \/init running.*, tsc \([0-9]*\)$/\1/p' build/bench/linux-keel.log | head -1)
x=""
if [ -f /boot/xen-4.17-amd64.gz ]; then
    LINUX_PV_QEMU="-smp 1 $ICOUNT" bash tests/linux-pv-xen/run.sh >build/bench/linux-xen.out 2>&1
    x=$(sed -n 's/^linux-pv: \/init running.*, tsc \([0-9]*\)$/\1/p' build/tests/linux-pv-xen/guest.out | head -1)
fi
echo "linux_pv_start_to_init_tsc keel=${k:-} xen=${x:-}"
