#!/usr/bin/env bash
# run.sh: lwIP over minios's virtio-net driver (main.c) on q35.  The guest
# owns a virtio-net device on QEMU's user network (role=hardware
# pci=00:03.0), gets 10.0.2.15 by DHCP and serves TCP port 80; QEMU
# forwards a host port, chosen free at run time (127.0.0.1 only), to it.
# From the host: 1 MiB of random bytes echoed back byte-exact, then 256
# KiB of the guest's pattern received byte-exact.  Twice: with DHCP, and
# with a static address from the command line (ip=10.0.2.20/24
# gw=10.0.2.2, the port forwarded to that address).
set -uo pipefail
out=build/tests/virtio-net${VNET_IOMMU:+-iommu}
mkdir -p "$out"
log=$out/guest.log
X=build/tests/virtio-net.elf
HV=${HV:-build/hv.elf}
[ "${DEBUG:-0}" = 1 ] && HV=build/hv-debug.elf
# VNET_IOMMU=1 (tests/virtio-net-iommu): behind QEMU's VT-d with interrupt
# remapping, the device's DMA through it (iommu_platform=on) and its MSI-X
# through remapping entries; no iommu=off.
if [ "${VNET_IOMMU:-0}" = 1 ]; then
    PLATFORM=(-M q35 -device intel-iommu,intremap=on) DEVOPT=,iommu_platform=on,disable-legacy=on
else
    PLATFORM=(-append iommu=off -M q35) DEVOPT=""
fi
fail() { echo "virtio-net: $*"; [ -f "$log" ] && tail -20 "$log"; echo "Test result: FAILURE"; exit 0; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# boot MODULE-ARGS GUEST-IP EXPECTED-LINE: one boot, both connections.
# A port taken between the probe and QEMU's bind makes QEMU fail at
# once: then another is tried.
boot() {
    local args=$1 gip=$2 want=$3
    for attempt in 1 2 3; do
        port=$(free_port)
        rm -f "$log" "$log.qemu"
        HV=$HV bash ci/qemu-boot.sh "$log" 180 128M "$X name=web role=hardware pci=00:03.0$args" \
            "${PLATFORM[@]}" \
            -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-$gip:80" -device "virtio-net-pci,netdev=n0,addr=3$DEVOPT" &
        qpid=$!
        for _ in $(seq 1 600); do
            grep -q 'listening on port 80' "$log" 2>/dev/null && break
            kill -0 $qpid 2>/dev/null || break
            sleep 0.2
        done
        if grep -q 'listening on port 80' "$log" 2>/dev/null; then
            break
        fi
        if kill -0 $qpid 2>/dev/null; then
            kill $qpid; wait $qpid
            fail "the guest did not listen within 120 s"
        fi
        wait $qpid
        grep -q 'Could not set up host forwarding\|hostfwd' "$log.qemu" 2>/dev/null || fail "QEMU ended early: $(cat "$log.qemu" 2>/dev/null)"
        echo "virtio-net: port $port was taken; another"
    done
    grep -q 'listening on port 80' "$log" || fail "no port could be forwarded"
    echo "virtio-net: forwarding 127.0.0.1:$port to the guest's port 80"

    python3 - "$port" <<'PY'
import os, socket, sys
port = int(sys.argv[1])
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=60)
# 1: echo.  Sending and receiving as each is possible (select), so
# neither side can wait on the other with its window full.
import select, time
data = os.urandom(1 << 20)
s = conn()
s.setblocking(False)
got = bytearray()
off = 0
deadline = time.monotonic() + 120
while off < len(data):
    if time.monotonic() > deadline:
        print("virtio-net: echo stalled: %d sent, %d back" % (off, len(got)))
        sys.exit(1)
    r, w, _ = select.select([s], [s], [], 1.0)
    if w:
        try:
            off += s.send(data[off:off + 65536])
        except BlockingIOError:
            pass
    if r:
        try:
            b = s.recv(65536)
        except BlockingIOError:
            b = None
        if b == b"":
            print("virtio-net: the guest closed the echo early")
            sys.exit(1)
        if b:
            got += b
s.setblocking(True)
s.settimeout(60)
s.shutdown(socket.SHUT_WR)
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
s.close()
if bytes(got) != data:
    print("virtio-net: echo differs: sent %d bytes, got %d back" % (len(data), len(got)))
    sys.exit(1)
print("virtio-net: 1 MiB echoed byte-exact")
# 2: the guest's pattern.
s = conn()
got = bytearray()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
s.sendall(b"k")
s.close()
want = bytes(((i * 7 + (i >> 8)) & 0xff) for i in range(256 * 1024))
if bytes(got) != want:
    print("virtio-net: pattern differs: got %d bytes" % len(got))
    sys.exit(1)
print("virtio-net: 256 KiB pattern received byte-exact")
PY
    prc=$?
    # A failed client leaves the guest waiting: QEMU is stopped then.
    [ $prc -eq 0 ] || kill $qpid 2>/dev/null
    wait $qpid
    rc=$?
    sed -i 's/\r$//' "$log"
    [ $prc -eq 0 ] || fail "the host's client failed"
    [ "$rc" -eq 33 ] || fail "QEMU status $rc, not 33"
    grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
    for w in "$want" \
             '(web) virtio-net 00:03.0: MAC 52:54:00:12:34:56' \
             '(web) echoed 1048576 bytes' '(web) sent 262144 bytes of the pattern, receipt taken' \
             '(web) Test result: SUCCESS' 'all returned'; do
        grep -qF "$w" "$log" || fail "missing \"$w\""
    done
    grep -E 'virtio-net|net:|\(web\)' "$log"
}
boot "" "" 'net: en1 up: 10.0.2.15 netmask 255.255.255.0 gateway 10.0.2.2 (DHCP)'
boot " ip=10.0.2.20/24 gw=10.0.2.2" 10.0.2.20 \
    'net: en1 up: 10.0.2.20 netmask 255.255.255.0 gateway 10.0.2.2 (ip= on the command line)'
echo "Test result: SUCCESS"
