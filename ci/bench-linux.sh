#!/usr/bin/env bash
# bench-linux.sh: Linux PV figures on Keel and on Xen 4.17 in the same QEMU: linux-pv and
# linux-pv-xen (2 vCPUs) on one host CPU under -icount shift=0,sleep=off, so that the TSC counts
# instructions and the figures repeat.  (With two host CPUs under -icount Linux stops on Keel:
# docs/testing.md.)  Xen runs the kernel as dom0, Keel as a domU.
#   - machine start -> /init: the TSC that /init reads first thing (tests/linux-pv/tsc.c), which
#     QEMU counts from machine start: firmware, hypervisor boot and the domain build are included;
#   - getpid() round trip and fork + execve("/bin/true") + wait4 round trip, in ticks per op,
#     pinned to the guest's first vCPU:
#     tests/linux-pv/procbench.c (100,000 getpid, 50 fork+exec+wait), which /init runs because this
#     script adds "procbench" to the kernel's command line, and then powers off (the functional
#     tests linux-pv and linux-pv-xen leave it out; their verdicts here are FAILURE, unread).
# Then the same kernel on Keel with one vCPU twice, as a PV guest and as a PVH guest (linux-pvh,
# type=pvh; PVH has one vCPU so far), for the same three figures side by side.
# And the same kernel as an HVM guest from firmware (hvm-linux: SeaBIOS's reset vector -> GRUB 2
# from the device model's IDE disk -> the bzImage from an ext2 partition -> /init), its console
# COM1 in the device model stub domain, for the same three figures.
# Prints one line per figure:
#   linux_pv_start_to_init_tsc keel=N xen=N
#   linux_pv_getpid_tsc keel=N xen=N
#   linux_pv_fork_exec_wait_tsc keel=N xen=N
#   linux_pvh_start_to_init_tsc pvh=N pv=N
#   linux_pvh_getpid_tsc pvh=N pv=N
#   linux_pvh_fork_exec_wait_tsc pvh=N pv=N
#   linux_hvm_start_to_init_tsc hvm=N (and _getpid_tsc, _fork_exec_wait_tsc)
# (an empty value where a run gave no figure; Xen's are empty without /boot/xen-4.17-amd64.gz).
set -u
cd "$(dirname "$0")/.."
mkdir -p build/bench
ICOUNT="-icount shift=0,sleep=off"
klog=build/bench/linux-keel.log
xout=build/tests/linux-pv-xen/guest.out
export LINUX_PV_ARGS=procbench LINUX_PV_TIMEOUT=900
LINUX_PV_SMP=1 LINUX_PV_QEMU="$ICOUNT" LINUX_PV_KEEL_LOG=$klog \
    bash tests/linux-pv/run.sh >build/bench/linux-keel.out 2>&1
have_xen=0
if [ -f /boot/xen-4.17-amd64.gz ]; then
    have_xen=1
    LINUX_PV_QEMU="-smp 1 $ICOUNT" bash tests/linux-pv-xen/run.sh >build/bench/linux-xen.out 2>&1
fi
# The value of a /init line: on Keel's console with the "(linux) " prefix, on Xen's as it is.
val() {   # sed-pattern-after-"linux-pv: " -> the first \1 on Keel's log, then on Xen's
    local k x=""
    k=$(sed -n "s/.*(linux) linux-pv: $1/\1/p" "$klog" 2>/dev/null | head -1)
    [ $have_xen = 1 ] && x=$(sed -n "s/^linux-pv: $1/\1/p" "$xout" 2>/dev/null | head -1)
    echo "keel=${k:-} xen=${x:-}"
}
echo "linux_pv_start_to_init_tsc $(val '\/init running.*, tsc \([0-9]*\)$')"
echo "linux_pv_getpid_tsc $(val 'bench getpid n=[0-9]* ticks_per_op=\([0-9.]*\)$')"
echo "linux_pv_fork_exec_wait_tsc $(val 'bench fork_exec_wait n=[0-9]* ticks_per_op=\([0-9.]*\)$')"
# One vCPU: PV and PVH.
k1log=build/bench/linux-keel-1vcpu.log
hlog=build/bench/linux-pvh.log
LINUX_PV_VCPUS=1 LINUX_PV_SMP=1 LINUX_PV_QEMU="$ICOUNT" LINUX_PV_KEEL_LOG=$k1log \
    bash tests/linux-pv/run.sh >build/bench/linux-keel-1vcpu.out 2>&1
LINUX_PVH_ARGS=procbench LINUX_PVH_TIMEOUT=900 LINUX_PVH_QEMU="$ICOUNT" LINUX_PVH_KEEL_LOG=$hlog \
    bash tests/linux-pvh/run.sh >build/bench/linux-pvh.out 2>&1
val1() {  # the same, from the PVH log and the 1-vCPU PV log
    local h p
    h=$(sed -n "s/.*(linux) linux-pv: $1/\1/p" "$hlog" 2>/dev/null | head -1)
    p=$(sed -n "s/.*(linux) linux-pv: $1/\1/p" "$k1log" 2>/dev/null | head -1)
    echo "pvh=${h:-} pv=${p:-}"
}
echo "linux_pvh_start_to_init_tsc $(val1 '\/init running.*, tsc \([0-9]*\)$')"
echo "linux_pvh_getpid_tsc $(val1 'bench getpid n=[0-9]* ticks_per_op=\([0-9.]*\)$')"
echo "linux_pvh_fork_exec_wait_tsc $(val1 'bench fork_exec_wait n=[0-9]* ticks_per_op=\([0-9.]*\)$')"
# HVM from firmware, one vCPU.
vlog=build/bench/linux-hvm.log
HVM_LINUX_ARGS=procbench HVM_LINUX_TIMEOUT=900 HVM_LINUX_QEMU="$ICOUNT" HVM_LINUX_LOG=$vlog \
    bash tests/hvm-linux/run.sh >build/bench/linux-hvm.out 2>&1
valh() { sed -n "s/.*(dm) dm: d1 serial: linux-pv: $1/\1/p" "$vlog" 2>/dev/null | head -1; }
echo "linux_hvm_start_to_init_tsc hvm=$(valh '\/init running.*, tsc \([0-9]*\)$')"
echo "linux_hvm_getpid_tsc hvm=$(valh 'bench getpid n=[0-9]* ticks_per_op=\([0-9.]*\)$')"
echo "linux_hvm_fork_exec_wait_tsc hvm=$(valh 'bench fork_exec_wait n=[0-9]* ticks_per_op=\([0-9.]*\)$')"
# A bench line that says "failed" is reported, and no figure is taken from it.
grep -h 'linux-pv: bench .* failed' "$klog" "$xout" "$k1log" "$hlog" "$vlog" 2>/dev/null | sed 's/^/bench-linux: /' >&2
exit 0
