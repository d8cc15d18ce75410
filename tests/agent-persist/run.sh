#!/usr/bin/env bash
# agent-persist: the agent's VM records on its own disk (docs/agent.md,
# "VM records on the disk").  The store holds agent.img, an empty ext4
# image made here with mkfs.ext4; the agent boots with
# disk=xvda:/agent.img restart=crash selftest=crash-on-udp beside the
# xenstore stub, tapdisk and netback.  Boot 1: no records; VM.create of
# "auto" (other_config:auto_poweron "true", the hello image) and
# "manual"; a UDP datagram "agent: crash" through QEMU's forward crashes
# the agent, the hypervisor builds it again (restart=crash), it loads the
# two records, leaves "auto" alone (started paused before the crash, its
# domain lives on: not started twice), "auto" unpaused prints hello, and
# the API lists both with their uuids.  The host then reads both records from the
# store with debugfs (JSON, auto_poweron as created) and adds a corrupt
# record file.  Boot 2 (a new QEMU on the same store, a host reboot): the
# corrupt file is skipped with its log line, the two VMs are found
# again and "auto" is started again.
# ALONE=1
# TIMEOUT=600
set -u
cd "$(dirname "$0")/../.."
. tests/common/store-boot.sh
skip() { echo "$*"; echo "Test result: SKIP"; exit 0; }
fail() { echo "FAIL: $*"; [ -n "${log:-}" ] && [ -f "$log" ] && tail -n 25 "$log"; echo "Test result: FAILURE"; exit 1; }
for t in curl jq debugfs mkfs.ext4; do command -v $t >/dev/null || skip "$t is not installed (ci/deps.sh)"; done
for f in build/stubdoms/agent.elf build/stubdoms/netback.elf build/stubdoms/xenstore.elf build/stubdoms/tapdisk.elf; do
    [ -f $f ] || fail "$f not built"
done
out=build/tests/agent-persist
rm -rf "$out" && mkdir -p "$out/tree"
store=$out/store.img
mkfs.ext4 -q -F "$out/tree/agent.img" 16M || fail "mkfs.ext4 agent.img"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 (store)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
modules="$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0"
modules+=",build/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M"
modules+=",build/stubdoms/agent.elf name=agent role=control mem=32M vif=netback ip=10.0.2.15/24 gw=10.0.2.2"
modules+=" user=root password=keel-demo kdf_iter=1000 http=1 disk=xvda:/agent.img restart=crash selftest=crash-on-udp"
PW=keel-demo
qpid=
trap '[ -n "$qpid" ] && pkill -TERM -P $qpid 2>/dev/null; wait 2>/dev/null' EXIT
C="curl -s --max-time 60"
jrpc() {
    $C -H 'Content-Type: application/json' --data-binary \
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$url/jsonrpc"
}
# boot LOG: a QEMU on the store in the background; url set once the API answers.
boot() {
    log=$1
    port=$(free_port) uport=$(free_port)
    rm -f "$log" "$log.qemu"
    store_boot "$log" 500 512M "$modules" \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:80,hostfwd=udp:127.0.0.1:$uport-10.0.2.15:57005" \
        -device virtio-net-pci,netdev=n0,addr=3 >/dev/null &
    qpid=$!
    url=http://127.0.0.1:$port
    wait_api "$1"
}
# wait_api WHAT: the API answers a login; s is the session.
wait_api() {
    for _ in $(seq 150); do
        kill -0 $qpid 2>/dev/null || fail "QEMU ended: $(cat "$log.qemu" 2>/dev/null)"
        s=$(jrpc session.login_with_password "[\"root\",\"$PW\"]" 2>/dev/null | jq -r '.result // empty' 2>/dev/null)
        [[ "$s" =~ ^OpaqueRef: ]] && return 0
        sleep 2
    done
    fail "$1: the agent did not answer in 300 s"
}
# stop: QEMU killed (its timeout process, the child of store_boot's subshell).
stop() { pkill -TERM -P $qpid 2>/dev/null; wait $qpid 2>/dev/null; qpid=; sed -i 's/\r$//' "$log"; }
# wait_log N TEXT: TEXT appears N times in the log (up to 120 s).
wait_log() {
    for _ in $(seq 240); do
        [ "$(grep -cF "$2" "$log")" -ge "$1" ] && return 0
        sleep 0.5
    done
    fail "\"$2\" not seen $1 times"
}
# vms: "name:power_state:auto_poweron:uuid" of the defined VMs, sorted.
vms() {
    jrpc VM.get_all_records "[\"$s\"]" |
        jq -r '.result | map(select(.name_label == "auto" or .name_label == "manual")) |
               map("\(.name_label):\(.power_state):\(.other_config.auto_poweron // "-"):\(.uuid)") | sort | join(" ")'
}

# ---- boot 1 ----
boot "$out/boot1.log"
grep -qF 'agent: 0 VM records loaded from /var/vms (its disk)' "$log" || fail "boot 1: no empty load line"
mk() {
    jrpc VM.create "[\"$s\",{\"name_label\":\"$1\",\"memory_static_max\":\"4194304\",\"PV_kernel\":\"hello\",\"PV_args\":\"\",\"other_config\":$2}]" | jq -r '.result // .error'
}
r=$(jrpc VM.create "[\"$s\",{\"name_label\":\"x\",\"memory_static_max\":\"4194304\",\"PV_kernel\":\"hello\",\"other_config\":[]}]")
[ "$(jq -r .error.message <<<"$r")" = FIELD_TYPE_ERROR ] || fail "other_config as an array: $r"
a=$(mk auto '{"auto_poweron":"true"}') m=$(mk manual '{}')
[[ "$a" =~ ^OpaqueRef: && "$m" =~ ^OpaqueRef: ]] || fail "VM.create: $a $m"
before=$(vms)
echo "boot 1: created $before"
[[ "$before" =~ ^auto:Halted:true:.*\ manual:Halted:-: ]] || fail "records after create: $before"
# auto started paused: its domain outlives the agent's crash and is not
# started twice.
[ "$(jrpc VM.start "[\"$s\",\"$a\",true,false]" | jq -c .result)" = '""' ] || fail "VM.start auto paused"
python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"agent: crash", ("127.0.0.1", int(sys.argv[1])))' "$uport"
wait_log 1 'agent: selftest=crash-on-udp: the trigger came: crashing'
wait_log 1 'agent: 2 VM records loaded from /var/vms (its disk)'
wait_api "after the crash"
wait_log 1 'agent: autostart: VM auto already has domain d'
# Its store nodes, written by the agent's first life, are followed again.
ad=$(grep -o 'agent: autostart: VM auto already has domain d[0-9]*' "$log" | head -1 | sed 's/.*domain d//')
wait_log 1 "agent: d$ad's store nodes (written before a restart) are followed again"
grep -qF 'agent: autostart of VM auto' "$log" && fail "auto started twice"
[ "$(jrpc VM.get_power_state "[\"$s\",\"$a\"]" | jq -r .result)" = Paused ] || fail "auto is not Paused after the crash"
[ "$(jrpc VM.unpause "[\"$s\",\"$a\"]" | jq -c .result)" = '""' ] || fail "VM.unpause auto"
wait_log 1 'Hello, world'
after=$(vms)
echo "boot 1, after the agent's crash: $after"
for _ in $(seq 20); do
    grep -q "agent: d$ad is gone: released from the store (.*), its nodes removed" "$log" && break
    sleep 1; vms >/dev/null
done
grep -q "agent: d$ad is gone: released from the store (.*), its nodes removed" "$log" ||
    fail "d$ad's nodes after the crash: $(grep "agent: d$ad is gone" "$log")"
after=${after//Running/Halted}
[ "${after//Paused/Halted}" = "$before" ] || fail "after the crash: $after, before: $before"
# The password changed (session.change_password): saved hashed on the disk.
[ "$(jrpc session.change_password "[\"$s\",\"wrong\",\"keel-other\"]" | jq -r .error.message)" = SESSION_AUTHENTICATION_FAILED ] ||
    fail "change_password with a wrong old password"
[ "$(jrpc session.change_password "[\"$s\",\"keel-demo\",\"keel-other\"]" | jq -c .result)" = '""' ] ||
    fail "session.change_password"
PW=keel-other
stop
grep -q 'PANIC\|hypervisor fault' "$log" && fail "boot 1: hypervisor panic"

# ---- the records on the disk, read by the host; a corrupt one added ----
# QEMU was killed as a power cut: the store's journal and the agent's
# disk's journal are replayed (e2fsck, as tapdisk and diskfs do at their
# next mount), and then both filesystems are clean.
e2fsck -fy "$store" > "$out/fsck.log" 2>&1; [ $? -le 1 ] || fail "e2fsck the store: $(cat "$out/fsck.log")"
debugfs -R "dump /agent.img $out/agent.img" "$store" >/dev/null 2>&1 || fail "debugfs dump /agent.img"
e2fsck -fy "$out/agent.img" > "$out/fsck.log" 2>&1; [ $? -le 1 ] || fail "e2fsck agent.img: $(cat "$out/fsck.log")"
e2fsck -fn "$out/agent.img" > "$out/fsck.log" 2>&1 || fail "agent.img is not clean: $(cat "$out/fsck.log")"
n=0
for u in $(tr ' ' '\n' <<<"$before" | cut -d: -f4); do
    # The record, or its .new if the crash came before the rename was on
    # the disk (diskfs makes a file durable, not a rename: docs/agent.md).
    debugfs -R "cat /vms/$u.json" "$out/agent.img" 2>/dev/null > "$out/$u.json"
    [ -s "$out/$u.json" ] || { debugfs -R "cat /vms/$u.json.new" "$out/agent.img" 2>/dev/null > "$out/$u.json"; echo "$u: its .new"; }
    [ -s "$out/$u.json" ] || fail "the record of $u on the disk is empty"
    jq -e --arg u "$u" '.uuid == $u and .version == 1 and .PV_kernel == "hello"' "$out/$u.json" >/dev/null ||
        fail "the record of $u on the disk: $(cat "$out/$u.json")"
    n=$((n + 1))
done
[ $n = 2 ] || fail "$n records"
[ "$(jq -r '.name_label + ":" + .other_config.auto_poweron' "$out"/*.json | sort | tr '\n' ' ')" = "auto:true manual:false " ] ||
    fail "auto_poweron on the disk: $(cat "$out"/*.json)"
printf '{"version":1,"uuid":"tru' > "$out/bad.json"
debugfs -w -R "write $out/bad.json /vms/11111111-2222-4333-8444-555555555555.json" "$out/agent.img" >/dev/null 2>&1 ||
    fail "debugfs write the corrupt record"
printf 'rm /agent.img\nwrite %s /agent.img\n' "$out/agent.img" > "$out/cmds"
debugfs -w -f "$out/cmds" "$store" >/dev/null 2>&1 || fail "debugfs: agent.img back on the store"
debugfs -R "cat /auth.json" "$out/agent.img" 2>/dev/null > "$out/auth.json"
[ -s "$out/auth.json" ] || debugfs -R "cat /auth.json.new" "$out/agent.img" 2>/dev/null > "$out/auth.json"
jq -e '.user == "root" and .kdf == "PBKDF2-HMAC-SHA256" and .iterations == 1000 and (.hash | length) == 64' \
    "$out/auth.json" >/dev/null || fail "auth.json on the disk: $(cat "$out/auth.json")"
grep -q 'keel-other' "$out/auth.json" && fail "the new password is on the disk in plain text"
echo "the host read both records from the disk and added a corrupt one; auth.json holds the new hash"

# ---- boot 2: a host reboot ----
boot "$out/boot2.log"
grep -qF 'agent: record /var/vms/11111111-2222-4333-8444-555555555555.json: not JSON' "$log" ||
    fail "boot 2: no log line for the corrupt record"
grep -qF 'agent: 2 VM records loaded from /var/vms (its disk)' "$log" || fail "boot 2: not 2 records"
grep -qE 'agent: credentials from /var/auth.json(\.new)? \(set by session.change_password\)' "$log" ||
    fail "boot 2: the changed credentials were not taken"
[ "$(jrpc session.login_with_password '["root","keel-demo"]' | jq -r .error.message)" = SESSION_AUTHENTICATION_FAILED ] ||
    fail "boot 2: the boot line's password still logs in"
wait_log 1 'agent: autostart of VM auto (other_config:auto_poweron)'
wait_log 1 'Hello, world'
again=$(vms)
echo "boot 2: $again ($(grep -o 'agent: record .*' "$log"))"
[ "${again//Running/Halted}" = "$before" ] || fail "boot 2: $again, boot 1: $before"
# A destroy removes the record.
[ "$(jrpc VM.destroy "[\"$s\",\"$m\"]" | jq -c .result)" = '""' ] || fail "VM.destroy manual"
stop
e2fsck -fy "$store" > "$out/fsck.log" 2>&1; [ $? -le 1 ] || fail "e2fsck the store (2): $(cat "$out/fsck.log")"
debugfs -R "dump /agent.img $out/agent2.img" "$store" >/dev/null 2>&1 || fail "debugfs dump /agent.img (2)"
e2fsck -fy "$out/agent2.img" > "$out/fsck.log" 2>&1; [ $? -le 1 ] || fail "e2fsck agent.img (2): $(cat "$out/fsck.log")"
debugfs -R "ls /vms" "$out/agent2.img" 2>/dev/null | grep -q "$(tr ' ' '\n' <<<"$before" | grep '^auto:' | cut -d: -f4)" ||
    fail "auto's record is not on the disk after boot 2"
mu=$(tr ' ' '\n' <<<"$before" | grep '^manual:' | cut -d: -f4)
debugfs -R "ls /vms" "$out/agent2.img" 2>/dev/null | grep -q "$mu" && fail "manual's record is still on the disk"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "boot 2: hypervisor panic"
echo "VM.destroy removed manual's record from the disk"
echo "Test result: SUCCESS"
