#!/usr/bin/env bash
# bench-linux.sh: the figure "Linux PV machine start -> /init marker" on Keel and on Xen 4.17 in the
# same QEMU (plain TCG, 2 host CPUs: Linux does not finish under -icount on Keel, see docs/testing.md).
# The figure is the TSC that /init reads first thing (tests/linux-pv/tsc.c): QEMU's TSC counts from
# machine start at the host's rate, so ticks / TSC kHz is the time since QEMU started the machine,
# firmware and hypervisor boot included.  Prints "linux_pv_start_to_init_tsc keel=N xen=N khz=K".
set -u
cd "$(dirname "$0")/.."
mkdir -p build/bench
LINUX_PV_KEEL_LOG=build/bench/linux-keel.log bash tests/linux-pv/run.sh >build/bench/linux-keel.out 2>&1
k=$(sed -n 's/.*(linux) linux-pv: \/init running.*, tsc \([0-9]*\)$/\1/p' build/bench/linux-keel.log | head -1)
khz=$(grep -o 'TSC [0-9]* kHz' build/bench/linux-keel.log | head -1 | awk '{print $2}')
x=""
if [ -f /boot/xen-4.17-amd64.gz ]; then
    bash tests/linux-pv-xen/run.sh >build/bench/linux-xen.out 2>&1
    x=$(sed -n 's/^linux-pv: \/init running.*, tsc \([0-9]*\)$/\1/p' build/tests/linux-pv-xen/guest.out | head -1)
fi
echo "linux_pv_start_to_init_tsc keel=${k:-} xen=${x:-} khz=${khz:-}"
