#!/bin/bash
# agent-devices-persist: a VM's VIFs persist with its record on the
# agent's disk (docs/agent-devices.md).  The agent with
# disk=xvda:/agent.img restart=crash selftest=crash-on-udp beside tapdisk,
# netback and the xenstore stub.  VM.create of an httpd VM, VIF 0 (derived
# MAC) and VIF 1 (given MAC, MTU 1400); the agent crashed by the UDP
# trigger and rebuilt: both VIFs listed again with the same uuids, MACs
# and MTUs; the record on the disk (debugfs, after the journals are
# replayed) holds them; the VM started by the new agent is wired (vif 0
# connected by netback with its MAC) and its page fetched from the host.
# A VDI and a VBD made then survive a second crash (/var/devices.json),
# and devices.json on the disk holds them.
# ALONE=1
# TIMEOUT=600
set -u
cd "$(dirname "$0")/../.."
. tests/common/store-boot.sh
skip() { echo "$*"; echo "Test result: SKIP"; exit 0; }
fail() { echo "FAIL: $*"; [ -n "${log:-}" ] && [ -f "$log" ] && tail -n 25 "$log"; echo "Test result: FAILURE"; exit 1; }
for t in curl jq debugfs mkfs.ext4 e2fsck; do command -v $t >/dev/null || skip "$t is not installed (ci/deps.sh)"; done
for f in build/stubdoms/agent.elf build/stubdoms/netback.elf build/stubdoms/xenstore.elf build/stubdoms/tapdisk.elf; do
    [ -f $f ] || fail "$f not built"
done
out=build/tests/agent-devices-persist
rm -rf "$out" && mkdir -p "$out/tree"
store=$out/store.img
mkfs.ext4 -q -F "$out/tree/agent.img" 16M || fail "mkfs.ext4 agent.img"
# web.img: the disk the agent-started httpd serves (root=/disk).
mkdir -p "$out/site"
echo "served from the VDI web.img" > "$out/site/hello.txt"
mkfs.ext4 -q -F -d "$out/site" "$out/tree/web.img" 4M || fail "mkfs.ext4 web.img"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 (store)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
modules="$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0"
modules+=",build/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M"
modules+=",build/stubdoms/agent.elf name=agent role=control mem=32M vif=netback ip=10.0.2.15/24 gw=10.0.2.2"
modules+=" user=root password=keel-demo kdf_iter=1000 http=1 disk=xvda:/agent.img restart=crash selftest=crash-on-udp"
qpid=
trap '[ -n "$qpid" ] && pkill -TERM -P $qpid 2>/dev/null; wait 2>/dev/null' EXIT
C="curl -s --max-time 60"
jrpc() {
    $C -H 'Content-Type: application/json' --data-binary \
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$url/jsonrpc"
}
res() { jrpc "$1" "$2" | jq -c .result; }
log=$out/boot.log
port=$(free_port) uport=$(free_port) wport=$(free_port)
store_boot "$log" 500 512M "$modules" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:80,hostfwd=udp:127.0.0.1:$uport-10.0.2.15:57005,hostfwd=tcp:127.0.0.1:$wport-10.0.2.20:80" \
    -device virtio-net-pci,netdev=n0,addr=3 >/dev/null &
qpid=$!
url=http://127.0.0.1:$port
# wait_api WHAT: the API answers a login; s is the session.
wait_api() {
    for _ in $(seq 150); do
        kill -0 $qpid 2>/dev/null || fail "QEMU ended: $(cat "$log.qemu" 2>/dev/null)"
        s=$(jrpc session.login_with_password '["root","keel-demo"]' 2>/dev/null | jq -r '.result // empty' 2>/dev/null)
        [[ "$s" =~ ^OpaqueRef: ]] && return 0
        sleep 2
    done
    fail "$1: the agent did not answer in 300 s"
}
# wait_log N TEXT: TEXT appears N times in the log (up to 120 s).
wait_log() {
    for _ in $(seq 240); do
        [ "$(grep -acF "$2" "$log")" -ge "$1" ] && return 0
        sleep 0.5
    done
    fail "\"$2\" not seen $1 times"
}
# The VIFs, as "device:MAC:MTU:network-name:uuid", sorted.
vifs() {
    local n
    n=$(jrpc network.get_all_records "[\"$s\"]")
    jrpc VIF.get_all_records "[\"$s\"]" | jq -r --argjson n "$(jq -c .result <<<"$n")" \
        '.result | to_entries | map("\(.value.device):\(.value.MAC):\(.value.MTU):\($n[.value.network].name_label):\(.value.uuid)") | sort | join(" ")'
}

wait_api "boot"
w=$(res VM.create "[\"$s\",{\"name_label\":\"web\",\"memory_static_max\":\"16777216\",\"PV_kernel\":\"httpd\",\"PV_args\":\"ip=10.0.2.20/24 gw=10.0.2.2 root=/disk disk=xvda:/web.img\"}]" | jq -r .)
[[ "$w" =~ ^OpaqueRef: ]] || fail "VM.create web: $w"
n=$(res network.get_by_name_label "[\"$s\",\"netback\"]" | jq -r '.[0]')
[[ "$n" =~ ^OpaqueRef: ]] || fail "no network netback"
v0=$(res VIF.create "[\"$s\",{\"VM\":\"$w\",\"network\":\"$n\",\"device\":\"0\"}]" | jq -r .)
v1=$(res VIF.create "[\"$s\",{\"VM\":\"$w\",\"network\":\"$n\",\"device\":\"1\",\"MAC\":\"00:16:3e:aa:bb:01\",\"MTU\":1400}]" | jq -r .)
[[ "$v0" =~ ^OpaqueRef: && "$v1" =~ ^OpaqueRef: ]] || fail "VIF.create: $v0 $v1"
before=$(vifs)
[[ "$before" =~ ^0:00:16:3e:[0-9a-f:]{8}:1500:netback:[0-9a-f-]{36}\ 1:00:16:3e:aa:bb:01:1400:netback:[0-9a-f-]{36}$ ]] ||
    fail "VIFs: $before"
echo "created: $before"

# The agent crashes; the new one loads the record with its VIFs.
python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"agent: crash", ("127.0.0.1", int(sys.argv[1])))' "$uport"
wait_log 1 'agent: selftest=crash-on-udp: the trigger came: crashing'
sleep 2
wait_api "after the crash"
wait_log 1 'agent: 1 VM records loaded from /var/vms (its disk)'
after=$(vifs)
[ "$after" = "$before" ] || fail "after the crash: $after, before: $before"
[ "$(res VM.get_VIFs "[\"$s\",\"$w\"]" | jq -c sort)" = "$(jq -cn --arg a "$v0" --arg b "$v1" '[$a,$b]|sort')" ] ||
    fail "web's VIFs after the crash"
echo "after the agent's crash: the same VIFs ($after)"

# The SR, a VDI for web.img (introduced: the file is on the store), a VBD.
expect_err() {
    local want=$1 data=$2 r
    r=$(jrpc "$3" "$4")
    [ "$(jq -c '[.error.message, .error.data]' <<<"$r")" = "[\"$want\",$data]" ] ||
        fail "$3 $4: expected $want $data, got $r"
}
sr=$(res SR.get_all "[\"$s\"]" | jq -r '.[0]')
[[ "$sr" =~ ^OpaqueRef: ]] || fail "no SR"
[ "$(res SR.get_type "[\"$s\",\"$sr\"]")" = '"tapdisk"' ] || fail "SR type"
bogus=OpaqueRef:00000000-0000-4000-8000-000000000000
intro() { echo "[\"$s\",\"\",\"web\",\"\",\"$1\",\"user\",false,$3,{},\"$2\",{},{}]"; }
expect_err HANDLE_INVALID "[\"SR\",\"$bogus\"]" VDI.introduce "$(intro $bogus /web.img true)"
expect_err INVALID_VALUE '["location","/../web.img"]' VDI.introduce "$(intro "$sr" /../web.img true)"
expect_err INVALID_VALUE '["location","web.img"]' VDI.introduce "$(intro "$sr" web.img true)"
expect_err FIELD_TYPE_ERROR '["read_only"]' VDI.introduce "$(intro "$sr" /web.img 1)"
vdi=$(res VDI.introduce "$(intro "$sr" /web.img true)" | jq -r .)
[[ "$vdi" =~ ^OpaqueRef: ]] || fail "VDI.introduce: $vdi"
expect_err VDI_IN_USE "[\"$vdi\",\"introduce\"]" VDI.introduce "$(intro "$sr" /web.img true)"
[ "$(res SR.get_VDIs "[\"$s\",\"$sr\"]")" = "[\"$vdi\"]" ] || fail "the SR's VDIs"
vbd() { echo "[\"$s\",{\"VM\":\"$1\",\"VDI\":\"$2\",\"userdevice\":\"$3\",\"mode\":\"$4\",\"type\":\"$5\"}]"; }
expect_err VDI_READONLY "[\"$vdi\"]" VBD.create "$(vbd "$w" "$vdi" 0 RW Disk)"
expect_err INVALID_DEVICE '["16"]' VBD.create "$(vbd "$w" "$vdi" 16 RO Disk)"
expect_err INVALID_VALUE '["mode","rw"]' VBD.create "$(vbd "$w" "$vdi" 0 rw Disk)"
expect_err VALUE_NOT_SUPPORTED '["type","CD","only Disk: tapdisk serves images"]' VBD.create "$(vbd "$w" "$vdi" 0 RO CD)"
expect_err HANDLE_INVALID "[\"VDI\",\"$bogus\"]" VBD.create "$(vbd "$w" $bogus 0 RO Disk)"
expect_err HANDLE_INVALID "[\"VM\",\"$bogus\"]" VBD.create "$(vbd $bogus "$vdi" 0 RO Disk)"
b=$(res VBD.create "$(vbd "$w" "$vdi" 0 RO Disk)" | jq -r .)
[[ "$b" =~ ^OpaqueRef: ]] || fail "VBD.create: $b"
expect_err DEVICE_ALREADY_EXISTS '["0"]' VBD.create "$(vbd "$w" "$vdi" 0 RO Disk)"
expect_err VDI_IN_USE "[\"$vdi\",\"forget\"]" VDI.forget "[\"$s\",\"$vdi\"]"
[ "$(res VM.get_VBDs "[\"$s\",\"$w\"]")" = "[\"$b\"]" ] || fail "web's VBDs"
[ "$(res VBD.get_device "[\"$s\",\"$b\"]")" = '"xvda"' ] || fail "VBD device"
if command -v node >/dev/null && [ -d build/npm/node_modules/xen-api ]; then
    kout=$(timeout 60 node tools/keel/keel.mjs --url "$url" --password keel-demo vdi-list 2>&1) ||
        fail "keel vdi-list: $kout"
    grep -Eq "^[0-9a-f-]{36}  /web.img +ro  web  web$" <<<"$kout" || fail "keel vdi-list said: $kout"
    echo "keel vdi-list: $(tail -1 <<<"$kout")"
fi
echo "SR tapdisk, VDI web.img introduced, VBD xvda (RO) of web; refusals HANDLE_INVALID, INVALID_VALUE, VDI_IN_USE, VDI_READONLY, INVALID_DEVICE, VALUE_NOT_SUPPORTED, DEVICE_ALREADY_EXISTS"

# Started by the new agent: wired and reachable.
[ "$(res VM.start "[\"$s\",\"$w\",false,false]")" = '""' ] || fail "VM.start web"
wait_log 1 'agent: VM web started as d'   # the console may lag the answer
d=$(grep -ao 'agent: VM web started as d[0-9]*' "$log" | sed 's/.*as d//')
[[ "$d" =~ ^[0-9]+$ ]] || fail "no start line for web"
mac=$(cut -d: -f2-7 <<<"${before%% *}")
wait_log 1 "vif $d/0: connected (mac $mac"
# vif 1's nodes written too (minios's netfront drives vif 0 only).
grep -aEq "agent: d$d: vif 1 on network netback \(d[0-9]+\), mac 00:16:3e:aa:bb:01" "$log" || fail "d$d's vif 1 not written"
got=""
for _ in $(seq 60); do
    got=$(curl -s --max-time 5 "http://127.0.0.1:$wport/" || true)
    [ -n "$got" ] && break
    sleep 2
done
[ -n "$got" ] || fail "web (d$d) did not answer through netback"
echo "web started by the new agent as d$d: vif 0 ($mac) connected, vif 1 written, its page fetched"
grep -aEq "agent: d$d: disk xvda \(51712\) = /web.img \(read-only\) on tapdisk \(d[0-9]+\)" "$log" || fail "d$d's disk not written"
got=$(curl -s --max-time 10 "http://127.0.0.1:$wport/hello.txt")
[ "$got" = "served from the VDI web.img" ] || fail "hello.txt from web's disk: $got"
[ "$(res VBD.get_currently_attached "[\"$s\",\"$b\"]")" = true ] || fail "the VBD is not attached"
echo "web read its disk (the VDI): hello.txt = $got"
[ "$(res VM.hard_shutdown "[\"$s\",\"$w\"]")" = '""' ] || fail "VM.hard_shutdown web"
ok=0
for _ in $(seq 30); do
    jrpc VM.get_all_records "[\"$s\"]" >/dev/null
    grep -aEq "agent: d$d is gone: /local/domain/[0-9]+/backend/vbd/$d removed" "$log" && { ok=1; break; }
    sleep 1
done
[ $ok = 1 ] || fail "d$d's vbd backend directory: $(grep -a "agent: d$d is gone" "$log")"
! grep -aq "backend/vbd/$d removed (but it is still there)" "$log" || fail "d$d's vbd backend directory is still there"
grep -ao "agent: d$d is gone: /local/domain/[0-9]*/backend/vbd/$d removed" "$log"

# A second crash: the VDI and the VBD come back from /var/devices.json
# with the same refs (docs/agent-devices.md).
python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"agent: crash", ("127.0.0.1", int(sys.argv[1])))' "$uport"
wait_log 2 'agent: selftest=crash-on-udp: the trigger came: crashing'
sleep 2
wait_api "after the second crash"
wait_log 1 'agent: devices: 1 VDIs and 1 VBDs loaded from /var/devices.json'
[ "$(res VDI.get_all "[\"$s\"]")" = "[\"$vdi\"]" ] || fail "the VDIs after the second crash: $(res VDI.get_all "[\"$s\"]")"
[ "$(res VM.get_VBDs "[\"$s\",\"$w\"]")" = "[\"$b\"]" ] || fail "web's VBDs after the second crash"
[ "$(res VBD.get_mode "[\"$s\",\"$b\"]")" = '"RO"' ] && [ "$(res VDI.get_location "[\"$s\",\"$vdi\"]")" = '"/web.img"' ] ||
    fail "the VBD's mode or the VDI's location after the second crash"
echo "after a second crash: VDI $vdi (/web.img) and VBD $b (xvda, RO) loaded again"

# The record on the disk (read with the journals replayed, as the agent does).
pkill -TERM -P $qpid 2>/dev/null; wait $qpid 2>/dev/null; qpid=
# QEMU (under timeout, a grandchild) may still be closing the store.
for _ in $(seq 40); do pgrep -f "file=$store," >/dev/null || break; sleep 0.5; done
e2fsck -fy "$store" >/dev/null 2>&1
debugfs -R "dump /agent.img $out/agent.img" "$store" >"$out/dump.err" 2>&1
[ -s "$out/agent.img" ] || fail "debugfs dump /agent.img: $(cat "$out/dump.err")"
e2fsck -fy "$out/agent.img" >/dev/null 2>&1
u=$(debugfs -R "ls -l /vms" "$out/agent.img" 2>/dev/null | grep -o '[0-9a-f-]\{36\}\.json' | head -1)
u=${u%.json}
[ -n "$u" ] || fail "no record in /vms"
# The record, or its .new if the crash came before the rename was on the
# disk (docs/agent.md: the new agent loads it so).
debugfs -R "cat /vms/$u.json" "$out/agent.img" 2>/dev/null > "$out/rec.json"
[ -s "$out/rec.json" ] || debugfs -R "cat /vms/$u.json.new" "$out/agent.img" 2>/dev/null > "$out/rec.json"
[ "$(jq -c '.VIFs | map([.device, .MAC, .MTU, .network, .MAC_autogenerated]) | sort' "$out/rec.json")" = \
  "[[0,\"$mac\",1500,\"netback\",true],[1,\"00:16:3e:aa:bb:01\",1400,\"netback\",false]]" ] ||
    fail "the record on the disk: $(cat "$out/rec.json")"
echo "the record on the disk: $(jq -c .VIFs "$out/rec.json")"
debugfs -R "cat /devices.json" "$out/agent.img" 2>/dev/null > "$out/devices.json"
[ -s "$out/devices.json" ] || debugfs -R "cat /devices.json.new" "$out/agent.img" 2>/dev/null > "$out/devices.json"
[ "$(jq -c '[(.VDIs | map([.location, .read_only])), (.VBDs | map([.userdevice, .mode]))]' "$out/devices.json")" = \
  '[[["/web.img",true]],[[0,"RO"]]]' ] || fail "devices.json on the disk: $(cat "$out/devices.json")"
echo "devices.json on the disk: $(cat "$out/devices.json")"
echo "Test result: SUCCESS"
