#!/usr/bin/env bash
# bench-net.sh: the network figures of make bench (issue 11), in plain TCG
# (real clients need real time, so -icount cannot apply): Keel's net demo
# (the xenstore stub, the netback driver domain owning a virtio-net NIC,
# apps/httpd and apps/kv) and Debian's stock Linux running nginx and
# redis-server (ci/linux-net.sh) are booted side by side in the same
# QEMU configuration (q35, one CPU, 512 MiB, virtio-net with user
# networking and the same 127.0.0.1 port forwards), and measured by the same
# host clients; the figures that matter are the ratios Keel / Linux.
#
#   bash ci/bench-net.sh KEEL_MODULES   (make run-net-modules) prints "net: NAME=VALUE" lines and
#                                       writes build/bench/net.json
#                                       (KEEL_MODULES "-": the Linux side only)
# First, under -icount: guest-to-guest TCP throughput over netback's switch
# (lwIP's iperf, two appliances) against the grant-copy bound measured in
# the same run.  Then each side: machine start to the first HTTP 200 (s,
# wall clock), then
#   wrk -t2 -c30 -d10s http://127.0.0.1:P/bench.html (612 bytes: ci/bench-page.py)
#   redis-benchmark -t get,set -c 50 -n 100000 -q    (and with -P 16)
set -u
cd "$(dirname "$0")/.."
keel_modules=$1
out=build/bench
mkdir -p "$out"
json=$out/net.json

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pids=""
stop_qemu() {
    for p in $pids; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    pids=""
}
trap stop_qemu EXIT

# rbench PORT TEST [ARGS]: redis-benchmark's requests/s for one test, 50
# clients, 100,000 requests.  A run that a reset ends early (QEMU's user
# network resets a forwarded connection now and then under this load, on
# Linux's side as on Keel's) is run again, up to three times in all; the
# retries are printed.
rbench() {
    local port=$1 t=$2 rb v
    shift 2
    for attempt in 1 2 3; do
        rb=$(timeout 300 redis-benchmark -p "$port" -t "$t" -c 50 -n 100000 "$@" -q 2>&1 | tr '\r' '\n')
        v=$(echo "$rb" | awk '/^[A-Z]+: [0-9]/ && /requests per second/ { print $2 }' | tail -1)
        if [ -n "$v" ]; then
            echo "$v"
            return
        fi
        echo "net: redis-benchmark -t $t $* attempt $attempt: $(echo "$rb" | grep -v '^ *$' | grep -v 'rps=' | tail -1)" >&2
    done
}

# boot_side NAME LOG WEB-IP KV-IP QEMU-ARGS...: boots NAME in the
# background and waits for its HTTP 200 and its PONG; prints
# "net: NAME_boot_to_http_200_s=S" and records its ports in NAME_hp/NAME_rp.
boot_side() {
    local name=$1 log=$2 wip=$3 kip=$4
    shift 4
    local hp rp
    hp=$(free_port) rp=$(free_port)
    local t0 t1
    t0=$(date +%s.%N)
    # Both sides with hostfwd's listen backlog raised (ci/listen-backlog.c).
    LD_PRELOAD=$PWD/build/host/listen-backlog.so \
    timeout -k 5 1800 qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 512M -smp 1 \
        -nodefaults -display none -no-reboot -serial "file:$log" \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$hp-$wip:80,hostfwd=tcp:127.0.0.1:$rp-$kip:6379" \
        -device virtio-net-pci,netdev=n0,addr=3 "$@" </dev/null >/dev/null 2>"$log.qemu" &
    local qpid=$!
    pids="$pids $qpid"
    local code=""
    for _ in $(seq 1 3000); do
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$hp/bench.html" 2>/dev/null)
        [ "$code" = 200 ] && break
        kill -0 "$qpid" 2>/dev/null || break
        sleep 0.2
    done
    t1=$(date +%s.%N)
    if [ "$code" != 200 ]; then
        echo "net: $name never answered HTTP 200 (log: $log)" >&2
        return 1
    fi
    # Wait for kv as well (it may come up after httpd).
    for _ in $(seq 1 300); do
        redis-cli -p "$rp" ping 2>/dev/null | grep -q PONG && break
        sleep 0.2
    done
    eval "${name}_hp=$hp ${name}_rp=$rp"
    echo "net: ${name}_boot_to_http_200_s=$(echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }')"
}

# measure NAME TEST: one run of one test against NAME, appended to
# $rounds/NAME_TEST (one figure per line; nothing if the run failed).
measure() {
    local name=$1 test=$2 hp rp v
    eval "hp=\$${name}_hp rp=\$${name}_rp"
    case $test in
    http_requests_per_s)
        v=$(wrk -t2 -c30 -d10s "http://127.0.0.1:$hp/bench.html" 2>&1 | awk '/^Requests\/sec:/ { print $2 }') ;;
    redis_set_per_s) v=$(rbench "$rp" set) ;;
    redis_get_per_s) v=$(rbench "$rp" get) ;;
    redis_set_p16_per_s) v=$(rbench "$rp" set -P 16) ;;
    redis_get_p16_per_s) v=$(rbench "$rp" get -P 16) ;;
    esac
    [ -n "$v" ] && echo "$v" >> "$rounds/${name}_$test"
    echo "net: round $round $name $test ${v:-failed}" >&2
}

# median FILE: the median of its lines (the lower middle one of an even count).
median() {
    [ -s "$1" ] || { echo null; return; }
    sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Guest to guest over netback's switch, deterministic under -icount (all
# inside the guest): lwIP's iperf 2 client sends to its server for 10 s of
# PV time, and the client first measures the grant-copy bound (apps/iperf).
g2g_log=$out/net-g2g.log
IPERF=build/apps/iperf.elf
TCG_SINGLE=1 bash ci/qemu-boot.sh "$g2g_log" 900 256M \
    "build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M exit=idle,build/stubdoms/netback.elf name=netback mem=32M exit=idle,$IPERF name=srv mem=16M vif=netback ip=10.0.9.1/24 mode=server tests=1,$IPERF name=cli mem=16M vif=netback ip=10.0.9.2/24 mode=client server=10.0.9.1 copybound=1" \
    -icount shift=0,sleep=off
g2g_kbit=$(tr -d '\r' < "$g2g_log" | grep -o '(srv) iperf: served [0-9]* bytes .*: [0-9]* kbit/s' | grep -o '[0-9]* kbit/s' | cut -d' ' -f1)
g2g_bound=$(tr -d '\r' < "$g2g_log" | grep -o 'grant-copy bound: .* [0-9]* Mbit/s' | grep -o '[0-9]* Mbit/s' | cut -d' ' -f1)
g2g_mbit=null g2g_ratio=null
if [ -n "$g2g_kbit" ] && [ -n "$g2g_bound" ]; then
    g2g_mbit=$((g2g_kbit / 1000))
    g2g_ratio=$(echo "$g2g_kbit $g2g_bound" | awk '{ printf "%.3f", $1 / 1000 / $2 }')
fi
echo "net: guest_to_guest_tcp_mbit_s=$g2g_mbit grant_copy_bound_mbit_s=${g2g_bound:-null} ratio=$g2g_ratio"

bash ci/linux-net.sh >/dev/null || { echo "net: no Linux side (ci/linux-net.sh failed)" >&2; exit 1; }
# Both machines stay up; the runs alternate between them, test by test,
# for NET_ROUNDS rounds (default 3, who goes first swapping each round),
# so that a change in the host's load falls on both sides alike; each
# figure is the median of its rounds.
tests="http_requests_per_s redis_set_per_s redis_get_per_s redis_set_p16_per_s redis_get_p16_per_s"
rounds=$out/net-rounds
rm -rf "$rounds" && mkdir -p "$rounds"
boots=$out/net-boots
: > "$boots"
sides=""
if [ "$keel_modules" != - ]; then
    boot_side keel "$out/net-keel.log" 10.0.2.15 10.0.2.16 -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -kernel build/hv.elf -initrd "$keel_modules" -append "iommu=off" >> "$boots" && sides="keel"
fi
boot_side linux "$out/net-linux.log" 10.0.2.15 10.0.2.15 -kernel build/linux/vmlinuz \
    -initrd build/linux-net/initrd.img -append "console=ttyS0 quiet panic=-1" >> "$boots" &&
    sides="$sides linux"
for round in $(seq 1 "${NET_ROUNDS:-3}"); do
    order=$sides
    [ $((round % 2)) = 0 ] && order=$(echo "$sides" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
    for t in $tests; do
        for s in $order; do
            measure "$s" "$t"
        done
    done
done
stop_qemu
res=$(cat "$boots"
      for s in $sides; do
          for t in $tests; do
              echo "net: ${s}_$t=$(median "$rounds/${s}_$t")"
          done
      done)
echo "$res"
v() { echo "$res" | grep -o "net: $1=[0-9.a-z]*" | cut -d= -f2; }
ratio() {
    local k l
    k=$(v "keel_$1") l=$(v "linux_$1")
    if [ -n "$k" ] && [ -n "$l" ] && [ "$k" != null ] && [ "$l" != null ]; then
        echo "$k $l" | awk '$2 > 0 { printf "%.2f", $1 / $2; exit } { print "null" }'
    else
        echo null
    fi
}
{
    echo "{"
    for m in boot_to_http_200_s http_requests_per_s redis_set_per_s redis_get_per_s \
             redis_set_p16_per_s redis_get_p16_per_s; do
        k=$(v "keel_$m") l=$(v "linux_$m")
        echo "  \"$m\": { \"keel\": ${k:-null}, \"linux\": ${l:-null}, \"keel_over_linux\": $(ratio "$m") },"
    done
    echo "  \"guest_to_guest_tcp_mbit_s\": $g2g_mbit, \"grant_copy_bound_mbit_s\": ${g2g_bound:-null}, \"guest_to_guest_over_bound\": $g2g_ratio,"
    echo "  \"how\": \"guest to guest: -icount, 10 s of PV time, iperf 2 (lwiperf) over netback, bound = GNTTABOP_copy of 1514-byte frames x 1460 payload bytes; Keel vs Linux: plain TCG, -M q35 -smp 1 -m 512M, virtio-net + user net, hostfwd on 127.0.0.1; wrk -t2 -c30 -d10s; redis-benchmark -t get,set -c 50 -n 100000 [-P 16]; both machines up at once, runs alternating between them test by test, each figure the median of ${NET_ROUNDS:-3} rounds\""
    echo "}"
} > "$json"
for m in boot_to_http_200_s http_requests_per_s redis_set_per_s redis_get_per_s \
         redis_set_p16_per_s redis_get_p16_per_s; do
    printf 'net: %-24s keel %-10s linux %-10s keel/linux %s\n' "$m" \
        "$(v "keel_$m")" "$(v "linux_$m")" "$(ratio "$m")"
done
