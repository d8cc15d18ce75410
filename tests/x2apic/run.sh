#!/usr/bin/env bash
# run.sh: the local APIC in x2APIC mode (issue 9).  QEMU 7.2's TCG has no
# x2APIC, so this runs the hypervisor under KVM (-cpu host) when /dev/kvm
# works and the CPU has x2APIC, and skips otherwise.  No guests: on this
# project's build machines /dev/kvm is an emulation whose guest page walks
# are unreliable (docs/testing.md), so the proof is the hypervisor's own
# boot checks, which every mode must pass:
#   - CPU bring-up by INIT/SIPI through the APIC's ICR,
#   - a remote call (IPI) answered by every other CPU,
#   - every CPU's APIC timer interrupting twice (so EOI works).
# Runs: x2APIC with 4 CPUs; the same with x2apic=off (xAPIC); and 256 CPUs
# on q35 with interrupt remapping in x2APIC mode, where the CPU with APIC
# id 255 can only be reached in x2APIC mode (the firmware leaves x2APIC on).
# ALONE=1 (it loads the host: 256 vCPU threads)
set -uo pipefail
out=build/tests/x2apic
mkdir -p "$out"
result() { echo "Test result: $1"; exit 0; }

if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
    echo "x2apic: /dev/kvm is not usable here"
    result SKIP
fi
if ! grep -qw x2apic /proc/cpuinfo; then
    echo "x2apic: the host CPU has no x2APIC"
    result SKIP
fi
[ -f build/hv.elf ] || { echo "x2apic: build/hv.elf is missing"; result ERROR; }

fail=0
# boot NAME SMP EXPECTED-MODE [qemu args...]: boots the hypervisor with no
# domains; it checks its CPUs and timers, then powers off (status 33).
boot() {
    local name=$1 smp=$2 mode=$3
    shift 3
    local log=$out/$name.log
    : >"$log"
    timeout -k 5 240 qemu-system-x86_64 -accel kvm -cpu host -m 512M -smp "$smp" \
        -nodefaults -display none -no-reboot -serial "file:$log" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel build/hv.elf "$@" \
        </dev/null >"$log.qemu" 2>&1
    local rc=$?
    local others=$((smp - 1))
    local want=("apic: $mode, id 0," "smp: $smp CPUs online"
                "smp: remote calls answered by $others of $others other CPUs"
                "apic: timer interrupts and EOI on $smp of $smp CPUs ($mode)")
    if [ "$rc" -ne 33 ]; then
        echo "x2apic: $name: QEMU status $rc, not 33 (log $log)"
        tail -5 "$log"
        fail=1
        return
    fi
    for w in "${want[@]}"; do
        if ! grep -qF "$w" "$log"; then
            echo "x2apic: $name: missing \"$w\" (log $log)"
            fail=1
        fi
    done
    grep -E 'apic:|smp:' "$log" | sed "s/^/x2apic: $name: /"
}

# If KVM cannot even start a vCPU here, there is nothing to test.
if ! timeout 60 qemu-system-x86_64 -accel kvm -cpu host -m 64M -nodefaults -display none \
        -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel build/hv.elf \
        -serial "file:$out/probe.log" </dev/null >"$out/probe.qemu" 2>&1 &&
   ! grep -q 'Keel hypervisor starting' "$out/probe.log"; then
    echo "x2apic: the hypervisor does not start under KVM here"
    result SKIP
fi

boot x2apic-4 4 x2APIC
boot xapic-4 4 xAPIC -append x2apic=off
boot x2apic-256 256 x2APIC -M q35,kernel-irqchip=split -device intel-iommu,intremap=on,eim=on
grep -q 'APIC id 255' "$out/x2apic-256.log" && { echo "x2apic: APIC id 255 was refused"; fail=1; }
[ "$fail" -eq 0 ] && result SUCCESS
result FAILURE
