#!/usr/bin/env bash
# nmi-dump: with nmi=dump on the hypervisor's line, an NMI (QEMU's monitor command `nmi`, which
# reaches the boot CPU through LINT1) makes every pCPU print its line (the boot CPU forwards the NMI
# to the others) and then every domain's vCPUs: here 2 pCPUs, the xenstore domain blocked (it has
# no clients left once apps/hello powered off).  Without nmi=dump the same NMI prints nothing and
# the machine goes on.
set -u
cd "$(dirname "$0")/../.."
out=build/tests/nmi-dump
mkdir -p "$out"
M="build/apps/hello.elf name=a mem=2M,build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M"
mon() {   # mon SOCKET CMD: one monitor command
    python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
for _ in range(100):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.1)
s.sendall((sys.argv[2] + "\n").encode()); time.sleep(0.5)
PY
}
fail=0
for mode in dump ignore; do
    log=$out/$mode.log sock=$out/$mode.mon
    rm -f "$log" "$log.qemu" "$sock"
    append=""; [ $mode = dump ] && append="nmi=dump"
    SMP=2 bash ci/qemu-boot.sh "$log" 120 128M "$M" -append "$append" \
        -monitor "unix:$sock,server,nowait" &
    qpid=$!
    for _ in $(seq 1 600); do   # until hello has powered off and xenstore is idle
        grep -q 'd1 (a) shut down: poweroff' "$log" 2>/dev/null && break
        sleep 0.1
    done
    sleep 1
    mon "$sock" nmi
    for _ in $(seq 1 50); do
        grep -q '^nmi: d2 (xenstore)' "$log" 2>/dev/null && break
        sleep 0.1
    done
    sleep 1
    mon "$sock" quit
    wait $qpid
    sed -i 's/\r$//' "$log"
    grep -a '^nmi:' "$log"
    if [ $mode = dump ]; then
        for pat in '^nmi: state dump 0 at [0-9]+ ns' \
                   '^nmi: cpu0 runs (idle|d[0-9]+ v[0-9]+), [0-9]+ queued' \
                   '^nmi: cpu1 runs (idle|d[0-9]+ v[0-9]+), [0-9]+ queued' \
                   '^nmi: d2 \(xenstore\) pause 0 parked 0 shutdown 0' \
                   '^nmi:   v0 blocked cpu[01] .*upcall pending 0'; do
            grep -Eq -- "$pat" "$log" || { echo "nmi-dump: no line matches: $pat"; fail=1; }
        done
        if grep -q 'did not answer' "$log"; then echo "nmi-dump: a pCPU did not answer"; fail=1; fi
    else
        if grep -q '^nmi:' "$log"; then echo "nmi-dump: lines printed without nmi=dump"; fail=1; fi
        grep -q 'd1 (a) shut down: poweroff' "$log" || { echo "nmi-dump: hello did not run"; fail=1; }
    fi
    if grep -q 'PANIC\|hypervisor fault' "$log"; then echo "nmi-dump: the hypervisor faulted ($mode)"; fail=1; fi
done
[ $fail -eq 0 ] && echo "Test result: SUCCESS" || echo "Test result: FAILURE"
