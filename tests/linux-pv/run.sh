#!/usr/bin/env bash
# linux-pv: Debian 12's stock kernel (unmodified, ci/linux-guest.sh) boots on Keel as a PV domU with
# 2 vCPUs, console=hvc0 through the xenstore stub's console backend, and a busybox initramfs whose
# /init (tests/linux-pv/init) mounts /proc and /sys, runs processes, prints /proc/cpuinfo and a
# pipeline's output and powers off with poweroff -f: QEMU's status 33.  SKIP without the .debs.
# LINUX_PV_KEEL_LOG names the console log (default build/tests/linux-pv/keel.log); LINUX_PV_SMP the
# host CPUs (default 2), LINUX_PV_QEMU extra QEMU options (ci/bench-linux.sh: -icount),
# LINUX_PV_VCPUS the guest's vCPUs (default 2; ci/bench-linux.sh: 1 beside PVH), LINUX_PV_TIMEOUT QEMU's seconds (default 240), LINUX_PV_ARGS extra kernel words (ci/bench-linux.sh:
# "procbench", with which /init runs tests/linux-pv/procbench.c and powers off: not this test's lines).
set -u
cd "$(dirname "$0")/../.."
out=build/tests/linux-pv
mkdir -p "$out"
log=${LINUX_PV_KEEL_LOG:-$out/keel.log}
# DEBUG=1 (make DEBUG=1 test): the debug hypervisor, which checks the lock order.
[ "${DEBUG:-0}" = 1 ] && export HV=build/hv-debug.elf
bash ci/linux-guest.sh build >"$out/build.log" 2>&1
case $? in
0) ;;
77) cat "$out/build.log"; echo "Test result: SKIP"; exit 0 ;;
*) cat "$out/build.log"; echo "Test result: ERROR"; exit 0 ;;
esac
L=build/linux
M="$L/vmlinux name=linux mem=256M vcpus=${LINUX_PV_VCPUS:-2} console=hvc0 ${LINUX_PV_ARGS:-}"
M+=",$L/initrd.img ramdisk"
M+=",build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M exit=idle"
rm -f "$log" "$log.qemu"
# A hang (seen about once in 100 runs on a loaded host, cause open:
# docs/testing.md) leaves a state dump in the log: the hypervisor runs
# with nmi=dump, and once the console has been silent for
# LINUX_PV_SILENCE seconds (default 40) QEMU's monitor sends an NMI.
mon=$out/monitor.sock
rm -f "$mon"
SMP=${LINUX_PV_SMP:-2} bash ci/qemu-boot.sh "$log" "${LINUX_PV_TIMEOUT:-240}" 1G "$M" \
    -append nmi=dump -monitor "unix:$mon,server,nowait" ${LINUX_PV_QEMU:-} &
qpid=$!
(
    while kill -0 $qpid 2>/dev/null; do
        sleep 2
        [ -f "$log" ] || continue
        if [ $(( $(date +%s) - $(stat -c %Y "$log") )) -ge "${LINUX_PV_SILENCE:-40}" ]; then
            echo "linux-pv: the console has been silent for ${LINUX_PV_SILENCE:-40} s: NMI for a state dump"
            python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"nmi\n"); time.sleep(1)' "$mon" || true
            break
        fi
    done
) &
wpid=$!
wait $qpid
rc=$?
kill $wpid 2>/dev/null
wait $wpid 2>/dev/null
rm -f "$mon"
sed -i 's/\r$//' "$log"
grep -E '\(linux\) linux-pv: |\(linux\) .*(Linux version|Run /init|System halted|soft lockup)|d1 \(linux\) (shut down|p2m list)|exit status|^nmi: ' "$log"
fail=0
for pat in \
    '\(linux\) linux-pv: /init running, pid 1, kernel 6\.1\.' \
    '\(linux\) linux-pv: online CPUs 0-1$' \
    '\(linux\) linux-pv: child A counted to 2000$' \
    '\(linux\) linux-pv: child B counted to 3000$' \
    '\(linux\) processor[[:space:]]+: 1$' \
    '\(linux\) linux-pv: 200 processes run, sort says 20000$' \
    '\(linux\) linux-pv: pipeline: sum=5050$' \
    '\(linux\) linux-pv: processors 2$' \
    '\(linux\) linux-pv: init done, powering off$' \
    'd1 \(linux\) shut down: poweroff$' \
    '\(xenstore\) every domain has gone' \
    'd1 \(linux\): p2m list mapped at INIT_P2M 8000000000: pfns '; do
    grep -Eq -- "$pat" "$log" || { echo "linux-pv: no line matches: $pat"; fail=1; }
done
if grep -q 'PANIC\|hypervisor fault\|LEAK' "$log"; then
    echo "linux-pv: the hypervisor reported a fault or a leak"; fail=1
fi
if [ "$rc" -ne 33 ]; then
    echo "linux-pv: QEMU exit $rc, expected 33 (log: $log)"; fail=1
fi
if [ $fail -eq 0 ]; then
    # Hypervisor time (the console stamp) from the machine's start to /init's first line.
    t=$(sed -n 's/^\[ *\([0-9.]*\)\] (linux) linux-pv: \/init running.*/\1/p' "$log" | head -1)
    echo "linux-pv: machine start -> /init marker: ${t}s (Keel's console clock)"
    echo "Test result: SUCCESS"
else
    echo "Test result: FAILURE"
fi
