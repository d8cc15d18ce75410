#!/usr/bin/env bash
# agent-kernels: VM kernels from the agent's own disk (docs/agent.md, "Kernels
# from the disk").  The agent's disk (agent.img on the store, mounted at /var)
# holds kernels/hello.elf (apps/hello, stripped), kernels/trunc.elf (its first
# 200 bytes) and kernels/text.elf (not an ELF).  VM.create takes PV_kernel
# /var/kernels/hello.elf and VM.start boots it (hello prints its greeting and
# arguments); paths outside /var/kernels/, with "..", a dot file or a
# subdirectory are VALUE_NOT_SUPPORTED at VM.create; a missing file, the
# truncated ELF and the text file are INTERNAL_ERRORs at VM.start naming the
# file and what is wrong, the VM stays Halted and the agent serves on (the
# good VM starts again after them).
# ALONE=1
# TIMEOUT=400
set -u
cd "$(dirname "$0")/../.."
. tests/common/store-boot.sh
skip() { echo "$*"; echo "Test result: SKIP"; exit 0; }
fail() { echo "FAIL: $*"; [ -n "${log:-}" ] && [ -f "$log" ] && tail -n 25 "$log"; echo "Test result: FAILURE"; exit 1; }
for t in curl jq mkfs.ext4; do command -v $t >/dev/null || skip "$t is not installed (ci/deps.sh)"; done
for f in build/stubdoms/agent.elf build/stubdoms/netback.elf build/stubdoms/xenstore.elf \
         build/stubdoms/tapdisk.elf build/tests/hello-stripped.elf; do
    [ -f $f ] || fail "$f not built"
done
out=build/tests/agent-kernels
rm -rf "$out" && mkdir -p "$out/tree" "$out/agent/kernels"
store=$out/store.img
cp build/tests/hello-stripped.elf "$out/agent/kernels/hello.elf"
head -c 200 build/tests/hello-stripped.elf > "$out/agent/kernels/trunc.elf"
echo "this is not an ELF file" > "$out/agent/kernels/text.elf"
mkdir -p "$out/agent/kernels/sub" && cp build/tests/hello-stripped.elf "$out/agent/kernels/sub/hello.elf"
mkfs.ext4 -q -F -d "$out/agent" "$out/tree/agent.img" 16M || fail "mkfs.ext4 agent.img"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 (store)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
modules="$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0"
modules+=",build/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M"
modules+=",build/stubdoms/agent.elf name=agent role=control mem=48M vif=netback ip=10.0.2.15/24 gw=10.0.2.2"
modules+=" user=root password=keel-demo kdf_iter=1000 http=1 disk=xvda:/agent.img"
log=$out/keel.log
qpid=
trap '[ -n "$qpid" ] && pkill -TERM -P $qpid 2>/dev/null; wait 2>/dev/null' EXIT
store_boot "$log" 380 512M "$modules" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:80" \
    -device virtio-net-pci,netdev=n0,addr=3 >/dev/null &
qpid=$!
url=http://127.0.0.1:$port
jrpc() {
    curl -s --max-time 60 -H 'Content-Type: application/json' --data-binary \
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$url/jsonrpc"
}
s=
for _ in $(seq 150); do
    kill -0 $qpid 2>/dev/null || fail "QEMU ended: $(cat "$log.qemu" 2>/dev/null)"
    s=$(jrpc session.login_with_password '["root","keel-demo"]' 2>/dev/null | jq -r '.result // empty' 2>/dev/null)
    [[ "$s" =~ ^OpaqueRef: ]] && break
    sleep 2
done
[[ "$s" =~ ^OpaqueRef: ]] || fail "the agent did not answer in 300 s"
wait_log() {   # N TEXT: TEXT in the log N times (up to 120 s)
    for _ in $(seq 240); do
        [ "$(tr -d '\r' < "$log" | grep -cF -- "$2")" -ge "$1" ] && return 0
        sleep 0.5
    done
    fail "\"$2\" not seen $1 times"
}
create() {   # NAME KERNEL ARGS -> the answer
    jrpc VM.create "[\"$s\",{\"name_label\":\"$1\",\"memory_static_max\":\"4194304\",\"PV_kernel\":\"$2\",\"PV_args\":\"$3\",\"other_config\":{}}]"
}
# Refused at VM.create, with the rule in the answer.
for k in /etc/hello.elf /var/kernels/../vms/x.json /var/kernels/.hidden /var/kernels/sub/hello.elf \
         /var/kernels/ kernels/hello.elf /var/kernels/a%20b; do
    r=$(create bad "$k" "")
    [ "$(jq -r '.error.message' <<<"$r")" = VALUE_NOT_SUPPORTED ] || fail "PV_kernel $k: $r"
    [ "$(jq -r '.error.data[1]' <<<"$r")" = "$k" ] || fail "PV_kernel $k: the refusal does not name it: $r"
    jq -r '.error.data[2]' <<<"$r" | grep -qF 'ELF files /var/kernels/NAME on its disk' || fail "PV_kernel $k: no rule given: $r"
done
echo "agent-kernels: 7 bad PV_kernel paths refused at VM.create"
good=$(create good /var/kernels/hello.elf fromdisk | jq -r '.result // .error')
[[ "$good" =~ ^OpaqueRef: ]] || fail "VM.create of /var/kernels/hello.elf: $good"
[ "$(jrpc VM.get_PV_kernel "[\"$s\",\"$good\"]" | jq -r .result)" = /var/kernels/hello.elf ] || fail "VM.get_PV_kernel"
[ "$(jrpc VM.start "[\"$s\",\"$good\",false,false]" | jq -c .result)" = '""' ] || fail "VM.start of the kernel from the disk"
wait_log 1 'Hello, world'
wait_log 1 '= fromdisk'
echo "agent-kernels: /var/kernels/hello.elf started and printed its greeting and arguments"
# Refused at VM.start: the file is read then.
check_start() {   # NAME KERNEL EXPECTED-TEXT
    local v r
    v=$(create "$1" "$2" "" | jq -r '.result // .error')
    [[ "$v" =~ ^OpaqueRef: ]] || fail "VM.create of $2: $v"
    r=$(jrpc VM.start "[\"$s\",\"$v\",false,false]")
    [ "$(jq -r '.error.message' <<<"$r")" = INTERNAL_ERROR ] || fail "VM.start of $2: $r"
    jq -r '.error.data[0]' <<<"$r" | grep -qF -- "$3" || fail "VM.start of $2: not \"$3\": $r"
    [ "$(jrpc VM.get_power_state "[\"$s\",\"$v\"]" | jq -r .result)" = Halted ] || fail "$1 is not Halted"
    echo "agent-kernels: VM.start of $2: $(jq -r '.error.data[0]' <<<"$r")"
}
check_start missing /var/kernels/missing.elf '/var/kernels/missing.elf: No such file'
check_start trunc /var/kernels/trunc.elf '/var/kernels/trunc.elf: '
check_start text /var/kernels/text.elf '/var/kernels/text.elf: '
# The agent still serves, and the good VM starts again.
for _ in $(seq 60); do
    [ "$(jrpc VM.get_power_state "[\"$s\",\"$good\"]" | jq -r .result)" = Halted ] && break
    sleep 1
done
[ "$(jrpc VM.start "[\"$s\",\"$good\",false,false]" | jq -c .result)" = '""' ] || fail "VM.start of good again"
wait_log 2 'Hello, world'
echo "agent-kernels: the good VM started again after the refusals"
pkill -TERM -P $qpid 2>/dev/null; wait $qpid 2>/dev/null; qpid=
sed -i 's/\r$//' "$log"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
grep -q 'crashed' "$log" && fail "a domain crashed: $(grep crashed "$log")"
echo "Test result: SUCCESS"
