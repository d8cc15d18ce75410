#!/usr/bin/env bash
# hvm-linux: an unmodified PC boot on an HVM guest (docs/hvm.md, "HVM from firmware"): Debian's
# SeaBIOS from the reset vector, Debian's GRUB 2 from the device model's IDE disk
# (tests/hvm-linux/mkdisk.sh: MBR, core.img, an ext2 partition), which loads Debian's stock kernel
# (the bzImage as shipped) and the busybox initramfs of linux-pv (ci/linux-guest.sh) from the file
# system and boots it with console=ttyS0: the device model's COM1.  The kernel finds Xen HVM, its
# xAPIC (and switches it to x2APIC mode), the I/O APIC (the PIT's IRQ0 on pin 2, as the MP table
# says, and COM1's IRQ4 reach it), the callback vector and the Xen clocksource, the Xen
# platform device (00:02.0): it unplugs the emulated disk and NICs through the platform ports and
# maps its grant table into the device's memory BAR; the device model's ACPI tables (through
# SeaBIOS's loader): the MADT, the PM timer (acpi_pm clocksource), the PCI root bridge and COM1
# from the DSDT, the SCI on pin 9; /init (linux-pv's) runs processes and powers off through ACPI
# S5 (the device model's PM1a_CNT); the device model powers off; every frame comes back.
# The disk's sectors move by REP INSW in one ioreq each (requests by pointer).  SKIP without the
# .debs.  HVM_LINUX_TIMEOUT: QEMU's seconds (default 240); HVM_LINUX_QEMU extra QEMU options.
# TIMEOUT=300
set -u
cd "$(dirname "$0")/../.."
out=build/tests/hvm-linux
mkdir -p "$out"
log=${HVM_LINUX_LOG:-$out/keel.log}
bash ci/linux-guest.sh build >"$out/build.log" 2>&1
case $? in
0) ;;
77) cat "$out/build.log"; echo "Test result: SKIP"; exit 0 ;;
*) cat "$out/build.log"; echo "Test result: ERROR"; exit 0 ;;
esac
if ! bash tests/hvm-linux/mkdisk.sh build/linux/vmlinuz build/linux/initrd.img "$out/disk.img" \
        "console=ttyS0 ${HVM_LINUX_ARGS:-}" >"$out/mkdisk.log" 2>&1; then
    cat "$out/mkdisk.log"; echo "Test result: ERROR"; exit 0
fi
M="/usr/share/seabios/bios.bin name=hvm mem=256M type=hvm"
M+=",build/stubdoms/dm.elf name=dm mem=32M role=dm target=1 boot-fail-wait=1000"
M+=",$out/disk.img ramdisk"
rm -f "$log" "$log.qemu"
bash ci/qemu-boot.sh "$log" "${HVM_LINUX_TIMEOUT:-240}" 512M "$M" ${HVM_LINUX_QEMU:-}
rc=$?
sed -i 's/\r$//' "$log"
grep -E 'serial: (hvm-linux|linux-pv): |serial: .*(Linux version|Hypervisor detected|x2apic enabled|callback vector|Switched to clocksource|Run /init|Kernel panic)|d1 \(hvm\)|requests by pointer|IDE:|exit status' "$log"
fail=0
for pat in \
    'dm: d1 debugcon: Booting from Hard Disk\.\.\.$' \
    'dm: d1 serial: .*hvm-linux: GRUB 2 loading Linux from \(hd0,msdos1\)$' \
    'dm: d1 serial: hvm-linux: booting it$' \
    'dm: d1 serial: \[ *[0-9.]+\] Linux version 6\.1\.' \
    'dm: d1 serial: \[ *[0-9.]+\] Command line: BOOT_IMAGE=\(hd0,msdos1\)/vmlinuz console=ttyS0' \
    'dm: d1 serial: \[ *[0-9.]+\] Hypervisor detected: Xen HVM$' \
    'dm: d1 serial: \[ *[0-9.]+\] Booting paravirtualized kernel on Xen HVM$' \
    'dm: d1 serial: \[ *[0-9.]+\] x2apic enabled$' \
    'dm: d1 serial: \[ *[0-9.]+\] xen:events: Xen HVM callback vector for event delivery is enabled$' \
    'dm: d1 serial: \[ *[0-9.]+\] clocksource: Switched to clocksource xen$' \
    'dm: d1 unplugs emulated devices 0x3 \(PV drivers: product 3, build 1\): the IDE disk is gone$' \
    'dm: d1 serial: \[ *[0-9.]+\] xen:grant_table: Grant tables using version 1 layout$' \
    'dm: d1 serial: linux-pv: /init running, pid 1, kernel 6\.1\.' \
    'dm: d1 serial: linux-pv: 200 processes run, sort says 20000$' \
    'dm: d1 serial: linux-pv: pipeline: sum=5050$' \
    'dm: d1 serial: \[ *[0-9.]+\] \.\.TIMER: vector=0x30 apic1=0 pin1=2 apic2=-1 pin2=-1$' \
    'dm: d1 serial: linux-pv: interrupts: 0: [1-9][0-9]* IO-APIC 2-edge timer$' \
    'dm: d1 serial: linux-pv: interrupts: 4: [1-9][0-9]* IO-APIC 4-edge ttyS0$' \
    'dm: d1 serial: \[ *[0-9.]+\] ACPI: RSDP 0x[0-9A-F]+ 000024 \(v02 KEEL  \)$' \
    'dm: d1 serial: \[ *[0-9.]+\] ACPI: PM-Timer IO Port: 0xb008$' \
    'dm: d1 serial: \[ *[0-9.]+\] ACPI: INT_SRC_OVR \(bus 0 bus_irq 9 global_irq 9 high level\)$' \
    'dm: d1 serial: \[ *[0-9.]+\] ACPI: PM: \(supports S0 S5\)$' \
    'dm: d1 serial: \[ *[0-9.]+\] ACPI: PCI Root Bridge \[PCI0\] \(domain 0000 \[bus 00-ff\]\)$' \
    'dm: d1 serial: \[ *[0-9.]+\] pnp: PnP ACPI: found 1 devices$' \
    'dm: d1 serial: \[ *[0-9.]+\] clocksource: acpi_pm: mask: 0xffffff ' \
    'dm: d1 serial: \[ *[0-9.]+\] i8042: PNP: No PS/2 controller found\.$' \
    'dm: d1 serial: linux-pv: interrupts: 9: 0 IO-APIC 9-fasteoi acpi$' \
    'dm: d1 serial: linux-pv: init done, powering off$' \
    'dm: d1 serial: \[ *[0-9.]+\] ACPI: PM: Preparing to enter system sleep state S5$' \
    'dm: d1 powers off through ACPI \(PM1a_CNT, S5\): remote_shutdown\(poweroff\) 0$' \
    'd1 \(hvm\) shut down: poweroff$' \
    'dm: d1: [0-9]{4,} requests by pointer \(0 stopped at memory it could not map\)' \
    'd2 \(dm\) shut down: poweroff$' \
    'mm: free frames before domains ([0-9]+), after \1: all returned'; do
    grep -Eq -- "$pat" "$log" || { echo "hvm-linux: no line matches: $pat"; fail=1; }
done
if grep -q 'PANIC\|hypervisor fault\|LEAK\|crashed' "$log"; then
    echo "hvm-linux: the hypervisor reported a fault, a leak or a crashed domain"; fail=1
fi
if grep -Eq 'serial: .*(Kernel panic|BUG:|Oops|MP-BIOS bug|registers return all ones)' "$log"; then
    echo "hvm-linux: the kernel panicked, oopsed or found no working I/O APIC"; fail=1
fi
if grep -Eq 'serial: .*(ACPI (BIOS )?(Error|Warning)|\[Firmware Bug\]|PM-Timer running at invalid rate)' "$log"; then
    echo "hvm-linux: Linux found fault with the ACPI tables or the PM timer"; fail=1
fi
if [ "$rc" -ne 33 ]; then
    echo "hvm-linux: QEMU exit $rc, expected 33 (log: $log)"; fail=1
fi
if [ $fail -eq 0 ]; then
    t=$(sed -n 's/^\[ *\([0-9.]*\)\] (dm) dm: d1 serial: linux-pv: \/init running.*/\1/p' "$log" | head -1)
    echo "hvm-linux: machine start -> /init marker: ${t}s (Keel's console clock)"
    echo "Test result: SUCCESS"
else
    echo "Test result: FAILURE"
fi
