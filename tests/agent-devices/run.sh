#!/bin/bash
# agent-devices: the network and VIF classes, and the VIFs of the VMs the
# agent starts wired through netback (docs/agent-devices.md).  Boots the
# xenstore stub, netback (the uplink to QEMU's user network) and the
# agent (10.0.2.15, http=1).  Through the API: the network of netback;
# VIF.create of httpd's VM (default MAC) and every refusal (unknown VM
# and network, a boot domain, a bad device, a duplicate device, bad MACs,
# a bad MTU, missing fields); VIF.destroy of a second VIF; VM.start: the
# agent writes the frontend and backend nodes, netback connects the vif
# and the host reaches the agent-started httpd at 10.0.2.20 through
# QEMU's port forward; device changes of the running VM refused; after a
# hard shutdown the backend directory is removed (read back) and a
# second start gets the same MAC and serves again.
# ALONE=1
# TIMEOUT=400
set -u
cd "$(dirname "$0")/../.."
skip() { echo "$*"; echo "Test result: SKIP"; exit 0; }
fail() { echo "FAIL: $*"; [ -n "${log:-}" ] && [ -f "$log" ] && tail -n 25 "$log"; echo "Test result: FAILURE"; exit 1; }
for t in curl jq; do command -v $t >/dev/null || skip "$t is not installed (ci/deps.sh)"; done
for f in build/stubdoms/agent.elf build/stubdoms/netback.elf build/stubdoms/xenstore.elf; do
    [ -f $f ] || fail "$f not built"
done
HV=build/hv.elf
[ "${DEBUG:-0}" = 1 ] && HV=build/hv-debug.elf
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(freeport)
wport=$(freeport)
modules="build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M"
modules+=",build/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M"
modules+=",build/stubdoms/agent.elf name=agent role=control mem=32M vif=netback ip=10.0.2.15/24 gw=10.0.2.2 user=root password=keel-demo maxconn=4 http=1"
nic=$(make -s --no-print-directory run-net-qemu)
tmp=$(mktemp -d)
log=$tmp/boot.log
# shellcheck disable=SC2086
timeout -k 5 380 qemu-system-x86_64 -accel tcg -cpu max -m 512M -nodefaults -display none \
    -no-reboot -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:80,hostfwd=tcp:127.0.0.1:$wport-10.0.2.20:80" \
    $nic -kernel $HV -initrd "$modules" </dev/null >/dev/null 2>"$tmp/qemu.err" &
qpid=$!
trap 'kill $qpid 2>/dev/null; wait $qpid 2>/dev/null; rm -rf "$tmp"' EXIT
url=http://127.0.0.1:$port
up=0
for _ in $(seq 100); do
    kill -0 $qpid 2>/dev/null || fail "QEMU ended: $(tail -n 5 "$tmp/qemu.err")"
    if curl -s --max-time 5 -o /dev/null "$url/"; then up=1; break; fi
    sleep 2
done
[ $up = 1 ] || fail "the agent did not answer through the forward in 200 s"
C="curl -s --max-time 60"
jrpc() {
    $C -H 'Content-Type: application/json' --data-binary \
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$url/jsonrpc"
}
res() { jrpc "$1" "$2" | jq -c .result; }
expect_err() {
    local want=$1 data=$2 r
    r=$(jrpc "$3" "$4")
    [ "$(jq -c '[.error.message, .error.data]' <<<"$r")" = "[\"$want\",$data]" ] ||
        fail "$3 $4: expected $want $data, got $r"
}
wait_log() {
    for _ in $(seq "$2"); do grep -Eq "$1" "$log" && return 0; sleep 1; done
    return 1
}
s=$(jrpc session.login_with_password '["root","keel-demo","1.0","agent-devices"]' | jq -r .result)
[[ "$s" =~ ^OpaqueRef: ]] || fail "login: $s"

# The network: netback's switch.
nets=$(res network.get_all "[\"$s\"]")
[ "$(jq length <<<"$nets")" = 1 ] || fail "network.get_all: $nets"
n=$(jq -r '.[0]' <<<"$nets")
rec=$(res network.get_record "[\"$s\",\"$n\"]")
[ "$(jq -r '.name_label + " " + .bridge + " " + (.MTU|tostring)' <<<"$rec")" = "netback netback 1500" ] ||
    fail "network record: $rec"
[ "$(res network.get_by_name_label "[\"$s\",\"netback\"]")" = "[\"$n\"]" ] || fail "network.get_by_name_label"
nu=$(jq -r .uuid <<<"$rec")
[ "$(res network.get_by_uuid "[\"$s\",\"$nu\"]")" = "\"$n\"" ] || fail "network.get_by_uuid"
echo "network: $n (netback, bridge netback)"

w=$(res VM.create "[\"$s\",{\"name_label\":\"web\",\"memory_static_max\":16777216,\"PV_kernel\":\"httpd\",\"PV_args\":\"ip=10.0.2.20/24 gw=10.0.2.2\"}]" | jq -r .)
[[ "$w" =~ ^OpaqueRef: ]] || fail "VM.create web: $w"
bogus=OpaqueRef:00000000-0000-4000-8000-000000000000
vif() { echo "[\"$s\",{\"VM\":\"$1\",\"network\":\"$2\",\"device\":\"$3\"$4}]"; }

# Refusals.
expect_err HANDLE_INVALID "[\"VM\",\"$bogus\"]" VIF.create "$(vif $bogus "$n" 0 '')"
expect_err HANDLE_INVALID "[\"network\",\"$bogus\"]" VIF.create "$(vif "$w" $bogus 0 '')"
expect_err INVALID_DEVICE '["7"]' VIF.create "$(vif "$w" "$n" 7 '')"
expect_err INVALID_DEVICE '["0x"]' VIF.create "$(vif "$w" "$n" 0x '')"
expect_err MAC_INVALID '["01:00:5e:00:00:01"]' VIF.create "$(vif "$w" "$n" 0 ',"MAC":"01:00:5e:00:00:01"')"
expect_err MAC_INVALID '["00:16:3e:zz:00:01"]' VIF.create "$(vif "$w" "$n" 0 ',"MAC":"00:16:3e:zz:00:01"')"
expect_err MAC_INVALID '["00:16:3e:00:00"]' VIF.create "$(vif "$w" "$n" 0 ',"MAC":"00:16:3e:00:00"')"
expect_err INVALID_VALUE '["MTU","9000"]' VIF.create "$(vif "$w" "$n" 0 ',"MTU":9000')"
expect_err INVALID_VALUE '["MTU","15x"]' VIF.create "$(vif "$w" "$n" 0 ',"MTU":"15x"')"
expect_err FIELD_TYPE_ERROR '["network"]' VIF.create "[\"$s\",{\"VM\":\"$w\",\"device\":\"0\"}]"
expect_err FIELD_TYPE_ERROR '["MAC"]' VIF.create "$(vif "$w" "$n" 0 ',"MAC":5')"
expect_err FIELD_TYPE_ERROR '["args"]' VIF.create "[\"$s\",\"x\"]"
nb=$(res VM.get_by_name_label "[\"$s\",\"netback\"]" | jq -r '.[0]')
expect_err OPERATION_NOT_ALLOWED '["the devices of a boot domain come from its boot line"]' \
    VIF.create "$(vif "$nb" "$n" 0 '')"
expect_err HANDLE_INVALID "[\"VIF\",\"$bogus\"]" VIF.get_record "[\"$s\",\"$bogus\"]"
expect_err HANDLE_INVALID "[\"VIF\",\"$bogus\"]" VIF.destroy "[\"$s\",\"$bogus\"]"
expect_err HANDLE_INVALID "[\"network\",\"$bogus\"]" network.get_record "[\"$s\",\"$bogus\"]"
expect_err MESSAGE_PARAMETER_COUNT_MISMATCH '["VIF.create","2","1"]' VIF.create "[\"$s\"]"
expect_err SESSION_INVALID '["OpaqueRef:x"]' VIF.get_all '["OpaqueRef:x"]'
echo "VIF.create refusals: HANDLE_INVALID (VM, network), INVALID_DEVICE, MAC_INVALID, INVALID_VALUE (MTU), FIELD_TYPE_ERROR, OPERATION_NOT_ALLOWED (boot domain)"

# VIF 0 with a derived MAC; VIF 1 with a given one, destroyed.
v0=$(res VIF.create "$(vif "$w" "$n" 0 '')" | jq -r .)
[[ "$v0" =~ ^OpaqueRef: ]] || fail "VIF.create 0: $v0"
expect_err DEVICE_ALREADY_EXISTS '["0"]' VIF.create "$(vif "$w" "$n" 0 ',"MAC":"00:16:3e:01:02:03"')"
v1=$(res VIF.create "$(vif "$w" "$n" 1 ',"MAC":"00:16:3E:0A:0B:0C","MTU":"1400"')" | jq -r .)
[[ "$v1" =~ ^OpaqueRef: ]] || fail "VIF.create 1: $v1"
r1=$(res VIF.get_record "[\"$s\",\"$v1\"]")
[ "$(jq -c '[.MAC, .MTU, .MAC_autogenerated, .device]' <<<"$r1")" = '["00:16:3e:0a:0b:0c",1400,false,"1"]' ] ||
    fail "VIF 1: $r1"
[ "$(res VM.get_record "[\"$s\",\"$w\"]" | jq -c '.VIFs|length')" = 2 ] || fail "web has not 2 VIFs"
[ "$(res VIF.destroy "[\"$s\",\"$v1\"]")" = '""' ] || fail "VIF.destroy 1"
expect_err HANDLE_INVALID "[\"VIF\",\"$v1\"]" VIF.get_record "[\"$s\",\"$v1\"]"
r0=$(res VIF.get_record "[\"$s\",\"$v0\"]")
mac=$(jq -r .MAC <<<"$r0")
[[ "$mac" =~ ^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$ ]] || fail "VIF 0's MAC: $r0"
[ "$(jq -c '[.VM, .network, .device, .MTU, .MAC_autogenerated, .currently_attached]' <<<"$r0")" = \
  "[\"$w\",\"$n\",\"0\",1500,true,false]" ] || fail "VIF 0: $r0"
[ "$(res VM.get_record "[\"$s\",\"$w\"]" | jq -c .VIFs)" = "[\"$v0\"]" ] || fail "web's VIFs"
[ "$(res network.get_VIFs "[\"$s\",\"$n\"]")" = "[\"$v0\"]" ] || fail "the network's VIFs"
[ "$(res VIF.get_all "[\"$s\"]")" = "[\"$v0\"]" ] || fail "VIF.get_all"
[ "$(res VIF.get_MAC "[\"$s\",\"$v0\"]")" = "\"$mac\"" ] || fail "VIF.get_MAC"
echo "VIF 0 of web: $mac (derived); VIF 1 created with a given MAC and MTU, destroyed"

if command -v node >/dev/null && [ -d build/npm/node_modules/xen-api ]; then
    out=$(timeout 60 node tools/keel/keel.mjs --url "$url" --password keel-demo vif-list 2>&1) ||
        fail "keel vif-list: $out"
    grep -Eq "^web +0 +$mac +netback +1500 +detached$" <<<"$out" || fail "keel vif-list said: $out"
    echo "keel vif-list: $(grep '^web' <<<"$out")"
    k="timeout 60 node tools/keel/keel.mjs --url $url --password keel-demo"
    out=$($k vif-create web netback 2 00:16:3e:11:22:33 2>&1) || fail "keel vif-create: $out"
    [[ "$out" =~ ^[0-9a-f-]{36}$ ]] || fail "keel vif-create said: $out"
    out=$($k vif-create web netback 2 2>&1)
    [ $? = 1 ] && [ "$out" = "keel: DEVICE_ALREADY_EXISTS(2)" ] || fail "keel vif-create twice: $out"
    out=$($k vif-create web netback 3 01:02:03:04:05:06 2>&1)
    [ $? = 1 ] && [ "$out" = "keel: MAC_INVALID(01:02:03:04:05:06)" ] || fail "keel vif-create bad MAC: $out"
    out=$($k vif-destroy web 2 2>&1) || fail "keel vif-destroy: $out"
    [ "$(res VIF.get_all "[\"$s\"]")" = "[\"$v0\"]" ] || fail "VIF 2 left after keel vif-destroy"
    echo "keel vif-create / vif-destroy of VIF 2; its refusals DEVICE_ALREADY_EXISTS, MAC_INVALID"
fi

# Start: wired, connected, reachable from the host.
[ "$(res VM.start "[\"$s\",\"$w\",false,false]")" = '""' ] || fail "VM.start web"
wait_log 'agent: VM web started as d' 10   # the console may lag the answer
d=$(grep -o 'agent: VM web started as d[0-9]*' "$log" | sed 's/.*as d//')
[[ "$d" =~ ^[0-9]+$ ]] || fail "no start line for web"
grep -Eq "agent: d$d: vif 0 on network netback \(d[0-9]+\), mac $mac" "$log" || fail "d$d's vif not written"
wait_log "vif $d/0: connected \(mac $mac" 60 || fail "netback did not connect vif $d/0"
got=""
for _ in $(seq 60); do
    got=$(curl -s --max-time 5 "http://127.0.0.1:$wport/" || true)
    [ -n "$got" ] && break
    sleep 2
done
[ -n "$got" ] || fail "the agent-started httpd (d$d, 10.0.2.20) did not answer through netback"
[ "$(res VIF.get_currently_attached "[\"$s\",\"$v0\"]")" = true ] || fail "VIF 0 not attached"
echo "web (d$d) reached from the host through netback: $(head -c 60 <<<"$got" | tr -d '\n')..."

# Device changes of a running VM: refused (no hotplug).
expect_err VM_BAD_POWER_STATE "[\"$w\",\"halted\",\"running\"]" VIF.create "$(vif "$w" "$n" 2 '')"
expect_err VM_BAD_POWER_STATE "[\"$w\",\"halted\",\"running\"]" VIF.destroy "[\"$s\",\"$v0\"]"
echo "VIF.create / VIF.destroy of the running web: VM_BAD_POWER_STATE"

# Gone: the backend directory removed.
[ "$(res VM.hard_shutdown "[\"$s\",\"$w\"]")" = '""' ] || fail "VM.hard_shutdown web"
ok=0
for _ in $(seq 30); do
    jrpc VM.get_all_records "[\"$s\"]" >/dev/null
    grep -Eq "agent: d$d is gone: /local/domain/[0-9]+/backend/vif/$d removed" "$log" && { ok=1; break; }
    sleep 1
done
[ $ok = 1 ] || fail "d$d's backend directory: $(grep "agent: d$d is gone" "$log")"
! grep -q "backend/vif/$d removed (but it is still there)" "$log" || fail "d$d's backend directory is still there"
grep -Eq "agent: d$d is gone: released from the store .*its nodes removed" "$log" || fail "d$d not released"
[ "$(res VM.get_power_state "[\"$s\",\"$w\"]")" = '"Halted"' ] || fail "web not Halted"
echo "$(grep -Eo "agent: d$d is gone: /local.*" "$log" | tr -d "\r")"

# Again: the same MAC, served again.
[ "$(res VM.start "[\"$s\",\"$w\",false,false]")" = '""' ] || fail "VM.start web again"
for _ in $(seq 10); do [ "$(grep -c 'agent: VM web started as d' "$log")" -ge 2 ] && break; sleep 1; done
d2=$(grep -o 'agent: VM web started as d[0-9]*' "$log" | tail -1 | sed 's/.*as d//')
[ "$d2" != "$d" ] || fail "no new domain"
grep -Eq "agent: d$d2: vif 0 on network netback \(d[0-9]+\), mac $mac" "$log" || fail "d$d2's MAC is not $mac"
wait_log "vif $d2/0: connected \(mac $mac" 60 || fail "netback did not connect vif $d2/0"
got=""
for _ in $(seq 60); do
    got=$(curl -s --max-time 5 "http://127.0.0.1:$wport/" || true)
    [ -n "$got" ] && break
    sleep 2
done
[ -n "$got" ] || fail "the second web (d$d2) did not answer"
echo "web started again as d$d2 with the same MAC, served"

kill -0 $qpid 2>/dev/null || fail "QEMU ended"
! grep -qi 'panic\|assert' "$log" || fail "$(grep -i -m1 'panic\|assert' "$log")"
echo "Test result: SUCCESS"
