#!/usr/bin/env bash
# apps-net: httpd and kv reached from the host through the network path:
# QEMU user networking forwards two free host ports on 127.0.0.1 to
# httpd:80 and kv:6379; curl fetches 0 B, 1 KiB and 4 MiB byte-exact, and
# redis-cli and redis-benchmark (-c 50 -n 2000 -t get,set) talk to kv.
#
# Ready to enable: it SKIPs until the network path exists (the netback stub
# domain image, build/stubdoms/netback.elf). The boot configuration and the
# guests' addresses are the lead's to fix once netback and netfront land:
#   APPS_NET_MODULES   the -initrd string (default below)
#   APPS_NET_QEMU      the NIC (default: q35, virtio-net-pci at 00:03.0)
#   WEB_IP, KV_IP      the appliances' addresses on QEMU's 10.0.2.0/24
#                      (default: empty, QEMU's first DHCP address)
# ALONE=1
set -u
cd "$(dirname "$0")/../.."
skip() { echo "$*"; echo "Test result: SKIP"; exit 0; }
fail() { echo "FAIL: $*"; echo "Test result: FAILURE"; exit 1; }
[ -f build/stubdoms/netback.elf ] ||
    skip "the network path is not built yet (no build/stubdoms/netback.elf): nothing reaches an appliance from the host"
for t in curl redis-cli redis-benchmark; do
    command -v $t >/dev/null || skip "$t is not installed (ci/deps.sh)"
done
[ -f build/apps/httpd.elf ] && [ -f build/apps/kv.elf ] || fail "build/apps/httpd.elf or kv.elf not built"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hp=$(free_port) kp=$(free_port)
[ "$hp" != "$kp" ] || kp=$(free_port)
modules=${APPS_NET_MODULES:-"$(make -s --no-print-directory run-net-modules)"}
nic=${APPS_NET_QEMU:-"$(make -s --no-print-directory run-net-qemu)"}
WEB_IP=${WEB_IP:-10.0.2.15} KV_IP=${KV_IP:-10.0.2.16}
tmp=$(mktemp -d)
log=$tmp/boot.log
# shellcheck disable=SC2086
# hostfwd's listen backlog of 1 raised (ci/listen-backlog.c): without it
# redis-benchmark's 50 connects overflow the host's accept queue.
[ -f build/host/listen-backlog.so ] || fail "build/host/listen-backlog.so not built"
LD_PRELOAD=$PWD/build/host/listen-backlog.so \
timeout -k 5 280 qemu-system-x86_64 -accel tcg -cpu max -m 512M -nodefaults -display none \
    -no-reboot -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$hp-${WEB_IP:-}:80,hostfwd=tcp:127.0.0.1:$kp-${KV_IP:-}:6379" \
    $nic -kernel build/hv.elf -initrd "$modules" </dev/null >/dev/null 2>"$tmp/qemu.err" &
qpid=$!
trap 'kill $qpid 2>/dev/null; wait $qpid 2>/dev/null; rm -rf "$tmp"' EXIT
url=http://127.0.0.1:$hp
up=0
for _ in $(seq 120); do
    kill -0 $qpid 2>/dev/null || fail "QEMU ended: $(tail -n 5 "$log" "$tmp/qemu.err")"
    if curl -s --max-time 5 -o /dev/null "$url/empty" &&
       [ "$(timeout 5 redis-cli -p "$kp" ping 2>/dev/null)" = PONG ]; then up=1; break; fi
    sleep 2
done
[ $up = 1 ] || fail "httpd or kv did not answer through the forward in 240 s: $(tail -n 5 "$log")"
www=build/apps/httpd/www
for f in empty 1k.bin 4m.bin; do
    curl -s --max-time 120 -o "$tmp/$f" "$url/$f" && cmp -s "$tmp/$f" "$www/$f" ||
        fail "/$f is not byte-exact through the network path"
done
echo "httpd: 0 B, 1 KiB, 4 MiB byte-exact through the network path"
cli() { timeout 30 redis-cli -p "$kp" "$@"; }
[ "$(cli set greeting hello)" = OK ] && [ "$(cli get greeting)" = hello ] ||
    fail "redis-cli set/get through the network path"
# The stalls once seen here (3 s and longer, then "Connection reset by
# peer") were the host's accept queue behind hostfwd's backlog of 1: see
# ci/listen-backlog.c.  No retry.
timeout 200 redis-benchmark -p "$kp" -c 50 -n 2000 -t get,set -q > "$tmp/bench" 2>&1 ||
    fail "redis-benchmark: $(tr '\r' '\n' < "$tmp/bench" | grep -v '^ *$' | tail -3)"
tr '\r' '\n' < "$tmp/bench" | grep 'requests per second' | sed 's/^/  /'
[ "$(tr '\r' '\n' < "$tmp/bench" | grep -c '^[A-Z]*: [0-9.]* requests per second')" -ge 2 ] ||
    fail "redis-benchmark gave no figures"
echo "kv: redis-cli and redis-benchmark through the network path"
echo "Test result: SUCCESS"
