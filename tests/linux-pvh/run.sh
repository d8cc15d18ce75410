#!/usr/bin/env bash
# linux-pvh: the same Debian 12 stock kernel and busybox initramfs as linux-pv (ci/linux-guest.sh),
# booted as a PVH domU (type=pvh: its XEN_ELFNOTE_PHYS32_ENTRY, hvm_start_info, docs/hvm.md) with
# 1 vCPU, console=hvc0 through the xenstore stub's console ring.  The kernel must find what a PVH
# domU finds on Xen: the ACPI tables (MADT, hardware-reduced FADT), its x2APIC, the callback
# vector, the Xen clocksource and single-shot timer, vcpu_info placement; /init (linux-pv's) runs
# processes and powers off; the domain powers off, every frame comes back, QEMU's status 33.
# SKIP without the .debs.  LINUX_PVH_TIMEOUT: QEMU's seconds (default 360); LINUX_PVH_KEEL_LOG the
# console log (default build/tests/linux-pvh/keel.log); LINUX_PVH_QEMU extra QEMU options and
# LINUX_PVH_ARGS extra kernel words (ci/bench-linux.sh: -icount and "procbench", with which /init
# runs tests/linux-pv/procbench.c and powers off: not this test's lines).
# TIMEOUT=420
set -u
cd "$(dirname "$0")/../.."
out=build/tests/linux-pvh
mkdir -p "$out"
log=${LINUX_PVH_KEEL_LOG:-$out/keel.log}
[ "${DEBUG:-0}" = 1 ] && export HV=build/hv-debug.elf
bash ci/linux-guest.sh build >"$out/build.log" 2>&1
case $? in
0) ;;
77) cat "$out/build.log"; echo "Test result: SKIP"; exit 0 ;;
*) cat "$out/build.log"; echo "Test result: ERROR"; exit 0 ;;
esac
L=build/linux
M="$L/vmlinux name=linux type=pvh mem=256M console=hvc0 ${LINUX_PVH_ARGS:-}"
M+=",$L/initrd.img ramdisk"
M+=",build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M exit=idle"
rm -f "$log" "$log.qemu"
SMP=1 bash ci/qemu-boot.sh "$log" "${LINUX_PVH_TIMEOUT:-360}" 1G "$M" ${LINUX_PVH_QEMU:-}
rc=$?
sed -i 's/\r$//' "$log"
grep -E '\(linux\) linux-pv: |\(linux\) .*(Linux version|Booting kernel|ACPI: (APIC|FACP)|x2apic|callback vector|installing Xen timer|clocksource: Switched|Run /init|System halted|Kernel panic)|d1 \(linux\)|exit status' "$log"
fail=0
for pat in \
    '\(linux\) .*Booting kernel on Xen PVH$' \
    '\(linux\) .*ACPI: APIC 0x[0-9A-F]+ 000034 \(v04 KEEL' \
    '\(linux\) .*ACPI: FACP 0x[0-9A-F]+ 00010C \(v05 KEEL' \
    '\(linux\) .*x2apic: enabled by BIOS, switching to x2apic ops$' \
    '\(linux\) .*xen:events: Xen HVM callback vector for event delivery is enabled$' \
    '\(linux\) .*installing Xen timer for CPU 0$' \
    '\(linux\) .*clocksource: Switched to clocksource xen$' \
    '\(linux\) .*xen:grant_table: Grant tables using version 1 layout$' \
    '\(linux\) linux-pv: /init running, pid 1, kernel 6\.1\.' \
    '\(linux\) linux-pv: child A counted to 2000$' \
    '\(linux\) linux-pv: child B counted to 3000$' \
    '\(linux\) linux-pv: 200 processes run, sort says 20000$' \
    '\(linux\) linux-pv: pipeline: sum=5050$' \
    '\(linux\) linux-pv: processors 1$' \
    '\(linux\) linux-pv: init done, powering off$' \
    'd1 \(linux\) shut down: poweroff$' \
    '\(xenstore\) every domain has gone' \
    'mm: free frames before domains ([0-9]+), after \1: all returned'; do
    grep -Eq -- "$pat" "$log" || { echo "linux-pvh: no line matches: $pat"; fail=1; }
done
if grep -q 'PANIC\|hypervisor fault\|LEAK\|crashed' "$log"; then
    echo "linux-pvh: the hypervisor reported a fault, a leak or a crashed domain"; fail=1
fi
if grep -q 'add_to_physmap failed' "$log"; then
    echo "linux-pvh: Linux could not map its grant table"; fail=1
fi
if grep -Eq '\(linux\) .*(Kernel panic|BUG:|Oops)' "$log"; then
    echo "linux-pvh: the kernel panicked or oopsed"; fail=1
fi
if [ "$rc" -ne 33 ]; then
    echo "linux-pvh: QEMU exit $rc, expected 33 (log: $log)"; fail=1
fi
if [ $fail -eq 0 ]; then
    t=$(sed -n 's/^\[ *\([0-9.]*\)\] (linux) linux-pv: \/init running.*/\1/p' "$log" | head -1)
    echo "linux-pvh: machine start -> /init marker: ${t}s (Keel's console clock)"
    echo "Test result: SUCCESS"
else
    echo "Test result: FAILURE"
fi
