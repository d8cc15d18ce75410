#!/usr/bin/env bash
# net-linux: Debian 12's stock kernel (ci/linux-guest.sh) as a PV guest with vif=netback: its
# own xen-netfront module (from the same .deb, loaded by tests/net-linux/init) connects to Keel's
# netback, gets a link, pings a minios appliance over the switch and echoes TCP with it (a short
# line, then 20,000 lines summed at both ends; Linux leaves TCP checksums to the backend:
# NETTXF_csum_blank).  SKIP without the .debs.  docs/network.md.  NET_LINUX_TYPE=pvh boots the
# same kernel as a PVH guest (tests/net-linux-pvh), =hvm as an HVM guest from SeaBIOS and GRUB
# (tests/net-linux-hvm), NET_LINUX_SMP the pCPUs (default 2),
# NET_LINUX_OUT the output directory.
# ALONE=1
# (run after the others: it shares build/linux with linux-pv, whose first run builds it)
set -u
cd "$(dirname "$0")/../.."
out=${NET_LINUX_OUT:-build/tests/net-linux}
mkdir -p "$out"
log=$out/keel.log
[ "${DEBUG:-0}" = 1 ] && export HV=build/hv-debug.elf
bash ci/linux-guest.sh build >"$out/build.log" 2>&1
case $? in
0) ;;
77) cat "$out/build.log"; echo "Test result: SKIP"; exit 0 ;;
*) cat "$out/build.log"; echo "Test result: ERROR"; exit 0 ;;
esac
deb=$(ls build/linux/deb/linux-image-*.deb | tail -1)
ko=$(dpkg-deb -c "$deb" | awk '{print $6}' | grep '/xen-netfront\.ko$' | head -1)
[ -n "$ko" ] || { echo "net-linux: no xen-netfront.ko in $deb"; echo "Test result: ERROR"; exit 0; }
dpkg-deb --fsys-tarfile "$deb" | tar -xO "$ko" >"$out/xen-netfront.ko"
python3 ci/mkinitramfs.py "$out/initrd.img" build/linux/busybox tests/net-linux/init "$out/xen-netfront.ko"
L=build/linux
M="build/stubdoms/netback.elf name=netback mem=16M exit=idle"
M+=",build/tests/net-app.elf name=alpha mem=32M vif=netback ip=10.0.0.1/24 listen=7 wait=1"
limit=300
if [ "${NET_LINUX_TYPE:-pv}" = hvm ]; then
    # From firmware: GRUB loads the bzImage and the initramfs from the
    # device model's IDE disk; the kernel's console is hvc0 (COM1 too).
    bash tests/hvm-linux/mkdisk.sh $L/vmlinuz "$out/initrd.img" "$out/boot.img" \
        "console=ttyS0 console=hvc0" >"$out/mkdisk.log" 2>&1 ||
        { cat "$out/mkdisk.log"; echo "Test result: ERROR"; exit 0; }
    M+=",/usr/share/seabios/bios.bin name=linux type=hvm mem=256M vif=netback"
    M+=",build/stubdoms/dm.elf name=dm mem=32M role=dm target=3 boot-fail-wait=1000,$out/boot.img ramdisk"
    limit=420
else
    M+=",$L/vmlinux name=linux ${NET_LINUX_TYPE:+type=$NET_LINUX_TYPE }mem=256M vcpus=1 console=hvc0 vif=netback"
    M+=",$out/initrd.img ramdisk"
fi
M+=",build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M exit=idle"
rm -f "$log" "$log.qemu"
SMP=${NET_LINUX_SMP:-2} bash ci/qemu-boot.sh "$log" $limit 1G "$M"
rc=$?
sed -i 's/\r$//' "$log"
grep -E '\(linux\) net-linux: |\(netback\) |\(alpha\) (xn0|Test)|exit status' "$log"
want_sum=$(seq 1 20000 | awk '{s+=$1} END {print s}')
fail=0
for pat in \
    '\(linux\) net-linux: xen-netfront loaded' \
    '\(netback\) vif 3/0: connected \(mac 00:16:3e:' \
    '\(linux\) net-linux: eth0 00:16:3e:[0-9a-f:]+ carrier 1$' \
    '\(linux\) net-linux: ping: 3 replies$' \
    '\(linux\) net-linux: tcp echo: hello-over-the-switch$' \
    "\\(linux\\) net-linux: tcp echo of 20000 lines: sum $want_sum\$" \
    '\(alpha\) Test result: SUCCESS' \
    'd3 \(linux\) shut down: poweroff$'; do
    grep -Eq -- "$pat" "$log" || { echo "net-linux: no line matches: $pat"; fail=1; }
done
if [ "${NET_LINUX_TYPE:-pv}" = pvh ]; then
    grep -Eq '\(linux\) .*Booting kernel on Xen PVH$' "$log" || { echo "net-linux: Linux did not boot as PVH"; fail=1; }
    grep -Eq '\(linux\) .*(invalid opcode|Bad FPU state|Oops|BUG:)' "$log" && { echo "net-linux: the kernel reported a fault"; fail=1; }
fi
if [ "${NET_LINUX_TYPE:-pv}" = hvm ]; then
    grep -Eq 'dm: d3 serial: .*Booting paravirtualized kernel on Xen HVM$' "$log" || { echo "net-linux: Linux did not boot as HVM"; fail=1; }
    grep -Eq 'dm: d3 unplugs emulated devices 0x3 ' "$log" || { echo "net-linux: Linux did not unplug the emulated NICs"; fail=1; }
    grep -Eq 'd4 \(dm\) shut down: poweroff$' "$log" || { echo "net-linux: the device model did not power off"; fail=1; }
fi
if grep -q 'PANIC\|hypervisor fault\|LEAK' "$log"; then
    echo "net-linux: the hypervisor reported a fault or a leak"; fail=1
fi
if grep -q '(netback) vif 3/0: cut off' "$log"; then
    echo "net-linux: netback cut Linux's vif off"; fail=1
fi
if [ "$rc" -ne 33 ]; then
    echo "net-linux: QEMU exit $rc, expected 33 (log: $log)"; fail=1
fi
if [ $fail -eq 0 ]; then echo "Test result: SUCCESS"; else echo "Test result: FAILURE"; fi
