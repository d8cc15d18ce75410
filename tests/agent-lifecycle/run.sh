#!/bin/bash
# agent-lifecycle: domains the agent starts are full members of the store.
# Boots the xenstore stub, netback and the agent (http=1); through the API
# it creates and starts httpd (embedded in the agent, no vif) and hello:
# VM.clean_reboot of the httpd VM (it reboots itself and is started again
# as a new domain), then VM.clean_shutdown;
# each is introduced to the store before it runs (its nodes written as
# libxl does, XS_INTRODUCE), so VM.clean_shutdown of the httpd VM is
# obeyed by the domain itself (minios's control/shutdown watch) and hello
# runs with a store; each one's console ring is served by the xenstore
# stub (its lines print as "(dN) ...", never falling back to console_io);
# once each domain is gone the agent releases it
# (XS_RELEASE) and its /local/domain/N and /vm/UUID nodes are read back
# absent.  Refusals: clean_shutdown of a Halted VM, an unknown kernel.
# ALONE=1
# TIMEOUT=300
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
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
modules="build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M"
modules+=",build/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M"
modules+=",build/stubdoms/agent.elf name=agent role=control mem=32M vif=netback ip=10.0.2.15/24 gw=10.0.2.2 user=root password=keel-demo maxconn=4 http=1"
nic=$(make -s --no-print-directory run-net-qemu)
tmp=$(mktemp -d)
log=$tmp/boot.log
# shellcheck disable=SC2086
timeout -k 5 280 qemu-system-x86_64 -accel tcg -cpu max -m 512M -nodefaults -display none \
    -no-reboot -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:80" \
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
expect_err() {
    local want=$1 data=$2 r
    r=$(jrpc "$3" "$4")
    [ "$(jq -c '[.error.message, .error.data]' <<<"$r")" = "[\"$want\",$data]" ] ||
        fail "$3 $4: expected $want $data, got $r"
}
# wait_log REGEX SECONDS
wait_log() {
    for _ in $(seq "$2"); do grep -Eq "$1" "$log" && return 0; sleep 1; done
    return 1
}
s=$(jrpc session.login_with_password '["root","keel-demo","1.0","agent-lifecycle"]' | jq -r .result)
[[ "$s" =~ ^OpaqueRef: ]] || fail "login: $s"
state() { jrpc VM.get_power_state "[\"$s\",\"$1\"]" | jq -r .result; }

expect_err VALUE_NOT_SUPPORTED '["PV_kernel","kv","the agent starts only the images embedded in it: hello, httpd"]' \
    VM.create "[\"$s\",{\"name_label\":\"x\",\"memory_static_max\":16777216,\"PV_kernel\":\"kv\"}]"

# httpd, started through the API: introduced, then running.
w=$(jrpc VM.create "[\"$s\",{\"name_label\":\"web2\",\"memory_static_max\":16777216,\"PV_kernel\":\"httpd\"}]" | jq -r .result)
[[ "$w" =~ ^OpaqueRef: ]] || fail "VM.create web2: $w"
r=$(jrpc VM.start "[\"$s\",\"$w\",false,false]")
[ "$(jq -c .result <<<"$r")" = '""' ] || fail "VM.start web2: $r"
d=$(grep -o 'agent: VM web2 started as d[0-9]*' "$log" | sed 's/.*as d//')
[[ "$d" =~ ^[0-9]+$ ]] || fail "no start line for web2"
grep -Eq "agent: d$d introduced to the store \(ring mfn [0-9]+, port [0-9]+\)" "$log" || fail "d$d was not introduced"
[ "$(state "$w")" = Running ] || fail "web2 is $(state "$w")"
# Its console ring is served by the xenstore stub (no fallback to console_io).
wait_log "d$d: introduced with a console: served on its port [0-9]+" 10 || fail "d$d's console is not served"
[ "$(jrpc VM.get_domid "[\"$s\",\"$w\"]" | jq -r .result)" = "$d" ] || fail "web2's domid is not $d"
# Let httpd get going (its minios sets the control/shutdown watch at start).
wait_log "\(d$d\) .*httpd" 60 || fail "d$d (web2) said nothing of httpd"
sleep 3
echo "web2 (httpd) started as d$d and introduced: $(grep -o "agent: d$d introduced.*" "$log")"

# Clean reboot: "reboot" written, the domain reboots itself (minios's
# watch), the agent destroys it and starts the VM again as a new domain.
# Through tools/keel (keel vm-reboot, on the npm xen-api client) when
# ci/deps.sh installed it, else JSON-RPC.
if command -v node >/dev/null && [ -d build/npm/node_modules/xen-api ]; then
    out=$(timeout 120 node tools/keel/keel.mjs --url "$url" --password keel-demo vm-reboot web2 2>&1) ||
        fail "keel vm-reboot web2: $out"
    grep -Eq "^web2: Running, domain [0-9]+$" <<<"$out" || fail "keel vm-reboot web2 said: $out"
    out=$(timeout 60 node tools/keel/keel.mjs --url "$url" --password keel-demo vm-reboot web2 --now 2>&1)
    [ $? = 2 ] && grep -q "vm-reboot: bad --now" <<<"$out" || fail "keel vm-reboot --now: $out"
else
    r=$(jrpc VM.clean_reboot "[\"$s\",\"$w\"]")
    [ "$(jq -c .result <<<"$r")" = '""' ] || fail "VM.clean_reboot web2: $r"
fi
grep -q "agent: asked d$d to reboot through control/shutdown" "$log" || fail "reboot not written"
grep -q "(d$d) minios: control/shutdown asks for reboot" "$log" || fail "d$d did not see the reboot request"
! grep -q "d$d did not shut down" "$log" || fail "d$d had to be destroyed"
d0=$d
d=$(grep -o 'agent: VM web2 started as d[0-9]*' "$log" | tail -1 | sed 's/.*as d//')
[ "$d" != "$d0" ] || fail "no new domain after clean_reboot"
grep -q "agent: d$d introduced to the store" "$log" || fail "the rebooted d$d was not introduced"
[ "$(state "$w")" = Running ] || fail "web2 is $(state "$w") after clean_reboot"
wait_log "agent: d$d0 is gone: released from the store \((done|already)\), its nodes removed" 20 ||
    fail "d$d0's store nodes after the reboot: $(grep "agent: d$d0 is gone" "$log")"
wait_log "\(d$d\) .*httpd" 60 || fail "the rebooted d$d said nothing of httpd"
sleep 3
echo "clean_reboot of web2: d$d0 rebooted itself, released; web2 runs again as d$d"

# Clean shutdown: the agent writes control/shutdown, the domain powers off.
r=$(jrpc VM.clean_shutdown "[\"$s\",\"$w\"]")
[ "$(jq -c .result <<<"$r")" = '""' ] || fail "VM.clean_shutdown web2: $r"
grep -q "agent: asked d$d to poweroff through control/shutdown" "$log" || fail "control/shutdown not written"
grep -q "(d$d) minios: control/shutdown asks for poweroff" "$log" || fail "d$d did not see control/shutdown"
! grep -q "d$d did not shut down" "$log" || fail "d$d had to be destroyed"
for _ in $(seq 30); do [ "$(state "$w")" = Halted ] && break; sleep 1; done
[ "$(state "$w")" = Halted ] || fail "web2 is $(state "$w") after clean_shutdown"
jrpc VM.get_all_records "[\"$s\"]" >/dev/null
wait_log "agent: d$d is gone: released from the store \((done|already)\), its nodes removed" 20 ||
    fail "d$d's store nodes: $(grep "agent: d$d is gone" "$log")"
expect_err VM_BAD_POWER_STATE "[\"$w\",\"running\",\"halted\"]" VM.clean_shutdown "[\"$s\",\"$w\"]"
echo "clean_shutdown of web2: it powered off by itself; $(grep -o "agent: d$d is gone.*" "$log")"

# A VM from a template, through tools/keel on the npm xen-api client
# (template-create: VM.create with is_a_template; vm-install: VM.clone +
# VM.provision, as xe vm-install): the template refuses to start
# (VM_IS_TEMPLATE), the installed VM starts, runs, is shut down and
# destroyed.  JSON-RPC without the client.
keel() { timeout 60 node tools/keel/keel.mjs --url "$url" --password keel-demo "$@" 2>&1; }
if command -v node >/dev/null && [ -d build/npm/node_modules/xen-api ]; then
    tu=$(keel template-create tpl 16 httpd) || fail "keel template-create: $tu"
    out=$(keel vm-start tpl)
    [ $? = 1 ] && grep -q "VM_IS_TEMPLATE" <<<"$out" || fail "keel vm-start of a template: $out"
    vu=$(keel vm-install tpl web3) || fail "keel vm-install: $vu"
    [[ "$vu" =~ ^[0-9a-f-]{36}$ && "$vu" != "$tu" ]] || fail "keel vm-install printed: $vu"
    out=$(keel vm-start web3) || fail "keel vm-start web3: $out"
    grep -Eq "Running, domain [0-9]+$" <<<"$out" || fail "keel vm-start web3 said: $out"
    keel vm-list | grep -Eq "^$vu +[0-9]+ +Running +16M +web3$" || fail "vm-list: $(keel vm-list)"
    out=$(keel vm-shutdown web3 --force) || fail "keel vm-shutdown web3 --force: $out"
    for _ in $(seq 30); do keel vm-list | grep -Eq "^$vu +-1 +Halted" && break; sleep 1; done
    out=$(keel vm-destroy web3) || fail "keel vm-destroy web3: $out"
    out=$(keel vm-destroy tpl) || fail "keel vm-destroy tpl: $out"
    keel vm-list | grep -q "web3\|tpl" && fail "web3 or tpl left: $(keel vm-list)"
    echo "template tpl -> keel vm-install web3: started, Running, shut down, destroyed; the template refused to start"
else
    t=$(jrpc VM.create "[\"$s\",{\"name_label\":\"tpl\",\"memory_static_max\":16777216,\"PV_kernel\":\"httpd\",\"is_a_template\":true}]" | jq -r .result)
    expect_err VM_IS_TEMPLATE "[\"$t\",\"start\"]" VM.start "[\"$s\",\"$t\",false,false]"
    v=$(jrpc VM.clone "[\"$s\",\"$t\",\"web3\"]" | jq -r .result)
    [ "$(jrpc VM.provision "[\"$s\",\"$v\"]" | jq -c .result)" = '""' ] || fail "VM.provision"
    [ "$(jrpc VM.start "[\"$s\",\"$v\",false,false]" | jq -c .result)" = '""' ] || fail "VM.start web3"
    [ "$(state "$v")" = Running ] || fail "web3 is $(state "$v")"
    jrpc VM.hard_shutdown "[\"$s\",\"$v\"]" >/dev/null
    for _ in $(seq 30); do [ "$(state "$v")" = Halted ] && break; sleep 1; done
    jrpc VM.destroy "[\"$s\",\"$v\"]" >/dev/null; jrpc VM.destroy "[\"$s\",\"$t\"]" >/dev/null
    echo "template tpl -> VM.clone + VM.provision web3 (JSON-RPC): started, shut down, destroyed"
fi

# hello with a store: introduced, says hello, halts, released.
h=$(jrpc VM.create "[\"$s\",{\"name_label\":\"hi\",\"memory_static_max\":2097152,\"PV_kernel\":\"hello\"}]" | jq -r .result)
[ "$(jrpc VM.start "[\"$s\",\"$h\",false,false]" | jq -c .result)" = '""' ] || fail "VM.start hi"
dh=$(grep -o 'agent: VM hi started as d[0-9]*' "$log" | sed 's/.*as d//')
grep -q "agent: d$dh introduced to the store" "$log" || fail "hi (d$dh) not introduced"
grep -Eq "d$dh: introduced with a console: served on its port [0-9]+" "$log" || fail "d$dh's console is not served"
wait_log "\(d$dh\) Hello, world" 30 || fail "d$dh did not say hello"
for _ in $(seq 30); do [ "$(state "$h")" = Halted ] && break; sleep 1; done
[ "$(state "$h")" = Halted ] || fail "hi is $(state "$h")"
jrpc VM.get_all_records "[\"$s\"]" >/dev/null
wait_log "agent: d$dh is gone: released from the store \((done|already)\), its nodes removed" 20 ||
    fail "d$dh's store nodes: $(grep "agent: d$dh is gone" "$log")"
echo "hello as d$dh: introduced, said hello, Halted, released"

! grep -Eq "\(d[0-9]+\) minios: console:" "$log" || fail "a console fell back: $(grep -E -m1 "\(d[0-9]+\) minios: console:" "$log")"
kill -0 $qpid 2>/dev/null || fail "QEMU ended"
! grep -qi 'panic\|assert' "$log" || fail "$(grep -i -m1 'panic\|assert' "$log")"
echo "Test result: SUCCESS"
