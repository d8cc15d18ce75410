#!/usr/bin/env bash
# agent-api: the management agent (stubdoms/agent, role=control) booted
# beside the xenstore stub, netback and a long-running appliance (httpd
# without a vif, "web"), reached from the host through QEMU's hostfwd on
# 127.0.0.1 and checked with curl (+ jq) over JSON-RPC and XML-RPC: login
# with the right and a wrong password, system.listMethods,
# VM.get_all_records naming every boot domain with its domid and power
# state, pause/unpause of web with the state seen changing, every refusal
# (VM_BAD_POWER_STATE, OPERATION_NOT_ALLOWED on the agent and on the
# xenstore domain, HANDLE_INVALID, MESSAGE_METHOD_UNKNOWN,
# MESSAGE_PARAMETER_COUNT_MISMATCH, SESSION_INVALID without a session and
# after logout), malformed JSON and XML, an oversized body (413) and head
# (431); Python's xmlrpc.client and XenAPI.py (python3-os-xenapi); keep-alive; the connection limit
# (maxconn=4: a fifth connection waits until one of four idle ones
# closes); the npm xen-api client (ci/deps.sh installs it into build/npm)
# logging in and listing VMs, and tools/keel/keel.mjs on it; VM.create and VM.start (paused, then not) of
# the hello image embedded in the agent, which runs and halts, then
# VM.destroy; and last VM.hard_shutdown of web.
# ALONE=1
# TIMEOUT=420
set -u
cd "$(dirname "$0")/../.."
skip() { echo "$*"; echo "Test result: SKIP"; exit 0; }
fail() { echo "FAIL: $*"; [ -n "${log:-}" ] && [ -f "$log" ] && tail -n 15 "$log"; echo "Test result: FAILURE"; exit 1; }
for t in curl jq; do command -v $t >/dev/null || skip "$t is not installed (ci/deps.sh)"; done
for f in build/stubdoms/agent.elf build/stubdoms/netback.elf build/stubdoms/xenstore.elf build/apps/httpd.elf; do
    [ -f $f ] || fail "$f not built"
done
HV=build/hv.elf
[ "${DEBUG:-0}" = 1 ] && HV=build/hv-debug.elf
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
modules="build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M"
modules+=",build/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M"
modules+=",build/stubdoms/agent.elf name=agent role=control mem=32M vif=netback ip=10.0.2.15/24 gw=10.0.2.2 user=root password=keel-demo maxconn=4 http=1"
modules+=",build/apps/httpd.elf name=web mem=16M"
nic=$(make -s --no-print-directory run-net-qemu)
tmp=$(mktemp -d)
log=$tmp/boot.log
# shellcheck disable=SC2086
timeout -k 5 400 qemu-system-x86_64 -accel tcg -cpu max -m 512M -nodefaults -display none \
    -no-reboot -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:80" \
    $nic -kernel $HV -initrd "$modules" </dev/null >/dev/null 2>"$tmp/qemu.err" &
qpid=$!
trap 'kill $qpid 2>/dev/null; wait $qpid 2>/dev/null; rm -rf "$tmp"' EXIT
url=http://127.0.0.1:$port
up=0
for _ in $(seq 120); do
    kill -0 $qpid 2>/dev/null || fail "QEMU ended: $(tail -n 5 "$tmp/qemu.err")"
    if curl -s --max-time 5 -o /dev/null "$url/"; then up=1; break; fi
    sleep 2
done
[ $up = 1 ] || fail "the agent did not answer through the forward in 240 s"
grep -q 'agent: password for root hashed (PBKDF2-HMAC-SHA256' "$log" || fail "no hashing line"
echo "agent up: $(grep -o 'agent: XenAPI.*' "$log")"

C="curl -s --max-time 60"
# jrpc METHOD JSON-PARAMS: the JSON-RPC response body.
jrpc() {
    $C -H 'Content-Type: application/json' --data-binary \
        "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"$1\",\"params\":$2}" "$url/jsonrpc"
}
# expect_err CODE JSON-PARAMS-OF-ERROR METHOD PARAMS
expect_err() {
    local want=$1 data=$2 r
    r=$(jrpc "$3" "$4")
    [ "$(jq -c '[.error.message, .error.data]' <<<"$r")" = "[\"$want\",$data]" ] ||
        fail "$3 $4: expected $want $data, got $r"
}

# Content type exactly application/json (the npm client insists).
ct=$($C -o /dev/null -w '%{content_type}' -H 'Content-Type: application/json' \
    --data-binary '{"jsonrpc":"2.0","id":1,"method":"system.listMethods","params":[]}' "$url/jsonrpc")
[ "$ct" = application/json ] || fail "content-type is \"$ct\""

expect_err SESSION_AUTHENTICATION_FAILED '[]' session.login_with_password '["root","wrong","1.0","agent-api"]'
expect_err SESSION_AUTHENTICATION_FAILED '[]' session.login_with_password '["admin","keel-demo"]'
r=$(jrpc session.login_with_password '["root","keel-demo","1.0","agent-api"]')
s=$(jq -r '.result' <<<"$r")
[[ "$s" =~ ^OpaqueRef:[0-9a-f-]{36}$ ]] || fail "login: $r"
[ "$(jq -r .id <<<"$r")" = 7 ] || fail "the id was not echoed: $r"
s2=$(jrpc session.login_with_password '["root","keel-demo"]' | jq -r .result)
[ "$s2" != "$s" ] && [[ "$s2" =~ ^OpaqueRef: ]] || fail "a second login gave $s2"
echo "JSON-RPC login: wrong password and user refused, sessions $s and another"

m=$(jrpc system.listMethods '[]')
for want in session.login_with_password VM.get_all_records VM.pause VM.unpause VM.hard_shutdown host.get_record pool.get_all_records; do
    jq -e --arg w "$want" '.result | index($w)' <<<"$m" >/dev/null || fail "listMethods lacks $want: $m"
done
echo "system.listMethods: $(jq '.result | length' <<<"$m") methods"

# The domains as the hypervisor built them: domids in module order.
recs=$(jrpc VM.get_all_records "[\"$s\"]")
jq -e '.result' <<<"$recs" >/dev/null || fail "VM.get_all_records: $recs"
summary=$(jq -r '.result | to_entries | map(.value) | sort_by(.domid) | map("\(.name_label):\(.domid):\(.power_state):\(.is_control_domain)") | join(" ")' <<<"$recs")
echo "VM.get_all_records: $summary"
# The hypervisor's own account of the ids, from its boot messages.
for n in xenstore netback agent web; do
    id=$(jq -r --arg n "$n" '.result | to_entries | map(.value) | map(select(.name_label == $n)) | .[0].domid' <<<"$recs")
    [[ "$id" =~ ^[0-9]+$ ]] || fail "no VM named $n: $summary"
    grep -q "d$id ($n)" "$log" || fail "$n has domid $id in the API, but the boot log says: $(grep -o "d[0-9]* ($n)" "$log" | head -1)"
done
# The xenstore stub writes its own name node, so it is named too.
xsid=$(grep -o 'd[0-9]* (xenstore)' "$log" | head -1 | sed 's/^d\([0-9]*\).*/\1/')
[ -n "$xsid" ] || fail "no xenstore domid in the boot log"
[ "$(jq -r '.result | map(select(.power_state == "Running")) | length' <<<"$recs")" = 4 ] ||
    fail "not all four Running: $summary"
[ "$(jq -r '.result | map(select(.is_control_domain)) | map(.name_label) | join(",")' <<<"$recs")" = agent ] ||
    fail "is_control_domain: $summary"
ref_of() { jq -r --arg n "$1" '.result | to_entries | map(select(.value.name_label == $n)) | .[0].key' <<<"$recs"; }
web=$(ref_of web) agent=$(ref_of agent) xs=$(ref_of xenstore)
web_uuid=$(jq -r --arg r "$web" '.result[$r].uuid' <<<"$recs")
[ "$(jrpc VM.get_by_uuid "[\"$s\",\"$web_uuid\"]" | jq -r .result)" = "$web" ] || fail "VM.get_by_uuid"
[ "$(jrpc VM.get_by_name_label "[\"$s\",\"web\"]" | jq -c .result)" = "[\"$web\"]" ] || fail "VM.get_by_name_label"
mem=$(jrpc VM.get_memory_static_max "[\"$s\",\"$web\"]" | jq -r .result)
[ "$mem" = $((16 * 1024 * 1024)) ] || fail "web's memory_static_max is $mem, not 16 MiB"
echo "VM getters: by uuid, by name, memory_static_max $mem"

state() { jrpc VM.get_power_state "[\"$s\",\"$1\"]" | jq -r .result; }
[ "$(jrpc VM.pause "[\"$s\",\"$web\"]" | jq -c .result)" = '""' ] || fail "VM.pause web"
[ "$(state "$web")" = Paused ] || fail "web is $(state "$web") after pause"
expect_err VM_BAD_POWER_STATE "[\"$web\",\"running\",\"paused\"]" VM.pause "[\"$s\",\"$web\"]"
[ "$(jrpc VM.unpause "[\"$s\",\"$web\"]" | jq -c .result)" = '""' ] || fail "VM.unpause web"
[ "$(state "$web")" = Running ] || fail "web is $(state "$web") after unpause"
expect_err VM_BAD_POWER_STATE "[\"$web\",\"paused\",\"running\"]" VM.unpause "[\"$s\",\"$web\"]"
echo "pause/unpause of web: Running -> Paused -> Running, wrong states refused"

expect_err OPERATION_NOT_ALLOWED '["Operations on the control domain (the agent itself) are not allowed"]' VM.pause "[\"$s\",\"$agent\"]"
expect_err OPERATION_NOT_ALLOWED '["Operations on the control domain (the agent itself) are not allowed"]' VM.hard_shutdown "[\"$s\",\"$agent\"]"
expect_err OPERATION_NOT_ALLOWED '["Operations on the xenstore domain are not allowed"]' VM.hard_shutdown "[\"$s\",\"$xs\"]"
expect_err OPERATION_NOT_ALLOWED '["Operations on the xenstore domain are not allowed"]' VM.pause "[\"$s\",\"$xs\"]"
expect_err HANDLE_INVALID '["VM","OpaqueRef:nope"]' VM.get_record "[\"$s\",\"OpaqueRef:nope\"]"
expect_err MESSAGE_METHOD_UNKNOWN '["VM.frobnicate"]' VM.frobnicate "[\"$s\"]"
expect_err MESSAGE_PARAMETER_COUNT_MISMATCH '["VM.pause","2","1"]' VM.pause "[\"$s\"]"
expect_err SESSION_INVALID '["OpaqueRef:00000000-0000-0000-0000-000000000000"]' VM.get_all '["OpaqueRef:00000000-0000-0000-0000-000000000000"]'
expect_err SESSION_INVALID '[""]' VM.get_all '[42]'
expect_err FIELD_TYPE_ERROR '["vm"]' VM.pause "[\"$s\",17]"
echo "refusals: OPERATION_NOT_ALLOWED (agent, xenstore), HANDLE_INVALID, MESSAGE_METHOD_UNKNOWN, MESSAGE_PARAMETER_COUNT_MISMATCH, SESSION_INVALID, FIELD_TYPE_ERROR"

# host and pool, read from the hypervisor.
h=$(jrpc host.get_all_records "[\"$s\"]")
[ "$(jq -r '.result | to_entries | .[0].value.cpu_info.cpu_count' <<<"$h")" = 1 ] || fail "host cpu_count: $h"
jq -e '.result | to_entries | .[0].value.memory_total > 400000000' <<<"$h" >/dev/null || fail "host memory_total: $h"
p=$(jrpc pool.get_all_records "[\"$s\"]")
hostref=$(jq -r '.result | keys[0]' <<<"$h")
[ "$(jq -r '.result | to_entries | .[0].value.master' <<<"$p")" = "$hostref" ] || fail "pool master: $p"
echo "host: 1 CPU, $(jq -r '.result | to_entries | .[0].value.memory_total' <<<"$h") bytes; pool master is the host"

# Malformed requests: JSON-RPC errors, an XML-RPC fault, HTTP statuses.
[ "$($C -H 'Content-Type: application/json' --data-binary '{"jsonrpc":"2.0",' "$url/jsonrpc" | jq -r .error.code)" = -32700 ] ||
    fail "malformed JSON not refused with -32700"
[ "$($C --data-binary '{"jsonrpc":"2.0","id":1,"method":5}' "$url/jsonrpc" | jq -r .error.code)" = -32600 ] ||
    fail "a request with a non-string method not refused with -32600"
deep=$(printf '[%.0s' $(seq 200))
[ "$($C --data-binary "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"VM.get_all\",\"params\":$deep}" "$url/jsonrpc" | jq -r .error.code)" = -32700 ] ||
    fail "200 nested arrays not refused"
$C --data-binary '<?xml version="1.0"?><methodCall><methodName>x</methodName><params>' "$url/xmlrpc" |
    grep -q '<name>faultCode</name>' || fail "malformed XML got no fault"
$C --data-binary '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><methodCall><methodName>&b;</methodName></methodCall>' "$url/xmlrpc" |
    grep -q 'document type declaration is not accepted' || fail "a DOCTYPE was not refused"
code=$($C -o /dev/null -w '%{http_code}' --data-binary @<(head -c 300000 /dev/zero | tr '\0' a) "$url/jsonrpc")
[ "$code" = 413 ] || fail "a 300 kB body got $code"
code=$($C -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$url/")
[ "$code" = 431 ] || fail "a 9 kB header got $code"
code=$($C -o /dev/null -w '%{http_code}' "$url/jsonrpc")
[ "$code" = 405 ] || fail "GET /jsonrpc got $code"
code=$($C -o /dev/null -w '%{http_code}' -X FROB "$url/jsonrpc")
[ "$code" = 501 ] || [ "$code" = 400 ] || fail "FROB got $code"
echo "malformed: JSON -32700/-32600, nesting refused, XML fault, DOCTYPE refused, 413, 431, 405"

# XML-RPC: login (wrong and right), VM.get_all, a failure struct.
xcall() {   # METHOD PARAM...: each PARAM a <value> body
    local body="<?xml version=\"1.0\"?><methodCall><methodName>$1</methodName><params>" p
    shift
    for p in "$@"; do body+="<param><value>$p</value></param>"; done
    $C -H 'Content-Type: text/xml' --data-binary "$body</params></methodCall>" "$url/xmlrpc"
}
x=$(xcall session.login_with_password root wrong)
grep -q '<name>Status</name><value>Failure</value>' <<<"$x" &&
    grep -q 'SESSION_AUTHENTICATION_FAILED' <<<"$x" || fail "XML-RPC wrong password: $x"
x=$(xcall session.login_with_password '<string>root</string>' '<string>keel-demo</string>')
xs_s=$(sed -n 's/.*<name>Value<\/name><value>\(OpaqueRef:[0-9a-f-]*\)<\/value>.*/\1/p' <<<"$x")
[ -n "$xs_s" ] || fail "XML-RPC login: $x"
x=$(xcall VM.get_all "$xs_s")
grep -q '<name>Status</name><value>Success</value>' <<<"$x" && grep -q "$web" <<<"$x" || fail "XML-RPC VM.get_all: $x"
x=$(xcall VM.get_domid "$xs_s" "$web")
wid=$(jq -r --arg r "$web" '.result[$r].domid' <<<"$recs")
grep -q "<name>Value</name><value>$wid</value>" <<<"$x" || fail "XML-RPC domid is not the string $wid: $x"
x=$(xcall VM.pause "$xs_s" "$agent")
grep -q '<value>OPERATION_NOT_ALLOWED</value>' <<<"$x" && grep -q 'ErrorDescription' <<<"$x" || fail "XML-RPC refusal: $x"
echo "XML-RPC: login refused and granted, VM.get_all, domid as a string, Failure with ErrorDescription"

# Python's own XML-RPC client (the one XenAPI.py is built on) reads our answers.
py=$(timeout 60 python3 - "$url" "$web" <<'PY'
import sys, xmlrpc.client
p = xmlrpc.client.ServerProxy(sys.argv[1] + "/xmlrpc")
r = p.session.login_with_password("root", "keel-demo", "1.0", "agent-api")
assert r["Status"] == "Success", r
s = r["Value"]
recs = p.VM.get_all_records(s)["Value"]
web = recs[sys.argv[2]]
assert web["name_label"] == "web" and web["power_state"] == "Running", web
assert isinstance(web["domid"], str) and web["domid"].isdigit(), web["domid"]
f = p.VM.pause(s, "OpaqueRef:nope")
assert f == {"Status": "Failure", "ErrorDescription": ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]}, f
print("python xmlrpc.client: %d VMs, web is d%s, HANDLE_INVALID as a Failure struct" % (len(recs), web["domid"]))
PY
) || fail "python xmlrpc.client: $py"
echo "$py"

# XenAPI.py (Debian's python3-os-xenapi), unmodified, over XML-RPC.
xenapi=/usr/lib/python3/dist-packages/os_xenapi/client/XenAPI.py
if [ -f $xenapi ] && [ -x /usr/bin/python3 ]; then
    py=$(timeout 120 /usr/bin/python3 - "$url" "$(dirname $xenapi)" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import XenAPI
s = XenAPI.Session(sys.argv[1] + "/xmlrpc")
try:
    s.xenapi.login_with_password("root", "nope")
    raise SystemExit("a wrong password was accepted")
except XenAPI.Failure as e:
    assert e.details == ["SESSION_AUTHENTICATION_FAILED"], e.details
s.xenapi.login_with_password("root", "keel-demo", "1.0", "agent-api")
version = s.API_version
assert version == "2.21", version
vms = s.xenapi.VM.get_all_records()
names = sorted(v["name_label"] for v in vms.values())
agent = [r for r, v in vms.items() if v["is_control_domain"]][0]
try:
    s.xenapi.VM.pause(agent)
    raise SystemExit("the agent paused itself")
except XenAPI.Failure as e:
    assert e.details[0] == "OPERATION_NOT_ALLOWED", e.details
web = s.xenapi.VM.get_by_name_label("web")[0]
assert s.xenapi.VM.get_power_state(web) == "Running"
# Events and tasks over XML-RPC: a token from event.inject, Async.VM.pause
# and unpause as tasks, the pause seen by event.from (a double timeout),
# a failing Async call's task carrying the error.
import time
tok = s.xenapi.event.inject("pool", s.xenapi.pool.get_all()[0])
def run(task):
    for _ in range(600):
        st = s.xenapi.task.get_status(task)
        if st != "pending":
            break
        time.sleep(0.1)
    rec = s.xenapi.task.get_record(task)
    s.xenapi.task.destroy(task)
    return st, rec
st, rec = run(s.xenapi.Async.VM.pause(web))
assert st == "success" and rec["result"] == "", rec
ev = getattr(s.xenapi.event, "from")(["VM"], tok, 5.0)
mods = [e for e in ev["events"] if e["ref"] == web and e["class"] == "vm"]
assert mods and mods[-1]["snapshot"]["power_state"] == "Paused", ev
st, rec = run(s.xenapi.Async.VM.unpause(web))
assert st == "success", rec
st, rec = run(s.xenapi.Async.VM.unpause(web))
assert st == "failure" and rec["error_info"][0] == "VM_BAD_POWER_STATE", rec
try:
    getattr(s.xenapi.event, "from")(["VM"], "nonsense", 1.0)
    raise SystemExit("a bad token was accepted")
except XenAPI.Failure as e:
    assert e.details[0] == "EVENT_FROM_TOKEN_PARSE_FAILURE", e.details
assert s.xenapi.VM.get_power_state(web) == "Running"
s.xenapi.session.logout()
print("XenAPI.py: API %s, VMs %s, OPERATION_NOT_ALLOWED raised as a Failure, Async pause/unpause tasks, the pause seen by event.from, a failed task, logged out" % (version, " ".join(names)))
PY
) || fail "XenAPI.py: $py"
    echo "$py"
else
    echo "XenAPI.py (python3-os-xenapi) is not installed (ci/deps.sh): its check skipped"
fi

# Keep-alive: two calls in one curl share one connection.
$C -v -o /dev/null -o /dev/null -H 'Content-Type: application/json' \
    --data-binary '{"jsonrpc":"2.0","id":1,"method":"system.listMethods","params":[]}' \
    "$url/jsonrpc" "$url/jsonrpc" 2> "$tmp/v" || fail "keep-alive curl"
[ "$(grep -c 'Connected to' "$tmp/v")" = 1 ] && grep -q 'Re-using existing connection' "$tmp/v" ||
    fail "keep-alive: $(grep -c 'Connected to' "$tmp/v") connections for 2 calls"
echo "keep-alive: 2 calls over 1 connection"

# The connection limit (maxconn=4 on the boot line): with four idle
# connections held, a fifth is not served; once one closes, it is.
for fd in 5 6 7 8; do eval "exec $fd<>/dev/tcp/127.0.0.1/$port" || fail "idle connection $fd"; done
sleep 2
$C -o "$tmp/fifth" --max-time 120 "$url/" &
cpid=$!
sleep 5
kill -0 $cpid 2>/dev/null || fail "a fifth connection was served while four were held: $(cat "$tmp/fifth")"
exec 5>&- 5<&-
wait $cpid || fail "the fifth connection was not served after one closed"
grep -q 'Keel management agent' "$tmp/fifth" || fail "the fifth got $(cat "$tmp/fifth")"
for fd in 6 7 8; do eval "exec $fd>&- $fd<&-"; done
echo "connection limit: a fifth connection waited while four were held, served once one closed"

# The npm xen-api client, unmodified.
if [ -f build/npm/node_modules/xen-api/package.json ] && command -v node >/dev/null; then
    cat > "$tmp/client.mjs" <<EOF
import { Xapi } from '$PWD/build/npm/node_modules/xen-api/index.mjs'
const xapi = new Xapi({ url: 'http://127.0.0.1:$port', auth: { user: 'root', password: 'keel-demo' }, watchEvents: false })
await xapi.connect()
const vms = await xapi.call('VM.get_all_records')
console.log('npm: ' + Object.values(vms).map(v => v.name_label + ':' + v.power_state).sort().join(' '))
await xapi.disconnect()
process.exit(0)
EOF
    out=$(cd "$tmp" && timeout 120 node client.mjs 2>&1) || fail "npm xen-api client: $out"
    grep -q "^npm: agent:Running netback:Running web:Running xenstore:Running$" <<<"$out" ||
        fail "npm xen-api client: $out"
    echo "$out"
    # tools/keel/keel.mjs, the xe-like CLI on the same client.
    K="timeout 120 node tools/keel/keel.mjs --url $url --password keel-demo"
    out=$($K vm-list) || fail "keel vm-list: $out"
    grep -Eq "^[0-9a-f-]{36} +$wid +Running +16M +web$" <<<"$out" || fail "keel vm-list: $out"
    out=$(timeout 120 node tools/keel/keel.mjs --url "$url" --password wrong vm-list 2>&1) &&
        fail "keel with a wrong password succeeded: $out"
    grep -q '^keel: SESSION_AUTHENTICATION_FAILED()$' <<<"$out" || fail "keel with a wrong password: $out"
    out=$($K vm-pause agent 2>&1) && fail "keel vm-pause agent succeeded"
    grep -q '^keel: OPERATION_NOT_ALLOWED(Operations on the control domain' <<<"$out" || fail "keel vm-pause agent: $out"
    u=$($K vm-create hello2 2 hello 2>&1) && [[ "$u" =~ ^[0-9a-f-]{36}$ ]] || fail "keel vm-create: $u"
    out=$($K vm-start "$u" --paused 2>&1) || fail "keel vm-start: $out"
    grep -q "starting $u... Paused, domain [0-9]*" <<<"$out" || fail "keel vm-start: $out"
    $K vm-list | grep -Eq "^$u +[0-9]+ +Paused +2M +hello2$" || fail "keel vm-list after the start: $($K vm-list)"
    out=$($K vm-unpause hello2 2>&1) || fail "keel vm-unpause: $out"
    h2=$(jrpc VM.get_by_uuid "[\"$s\",\"$u\"]" | jq -r .result)
    wait_halted() {
        for _ in $(seq 60); do [ "$(state "$1")" = Halted ] && return 0; sleep 1; done
        fail "$1 did not come back to Halted: $(state "$1")"
    }
    wait_halted "$h2"
    out=$($K vm-destroy hello2 2>&1) || fail "keel vm-destroy: $out"
    out=$($K vm-destroy hello2 2>&1) && fail "keel vm-destroy twice succeeded"
    grep -q '^keel: 0 VMs are named hello2' <<<"$out" || fail "keel vm-destroy twice: $out"
    echo "keel CLI: vm-list, wrong password and vm-pause agent refused, vm-create, vm-start --paused, vm-unpause (it ran and halted), vm-destroy"
    # The same client WITH its event watch (its default): event.inject,
    # event.from with tokens, the task class.  A VM is started with
    # callAsync (Async.VM.start: the client waits for its task's record to
    # reach success through events), and its power state in the client's
    # cache (fed by events only) goes Halted, Paused, Halted, then gone.
    cat > "$tmp/events.mjs" <<EOF
import { Xapi } from '$PWD/build/npm/node_modules/xen-api/index.mjs'
const xapi = new Xapi({ url: 'http://127.0.0.1:$port', auth: { user: 'root', password: 'keel-demo' } })
await xapi.connect()
await xapi.objectsFetched
const sleep = ms => new Promise(r => setTimeout(r, ms))
const ref = await xapi.call('VM.create', { name_label: 'ev1', memory_static_max: 2097152, PV_kernel: 'hello' })
const until = async (what, f) => {
  for (let i = 0; i < 600; i++) { const o = xapi.getObject(ref, undefined); if (o && f(o)) return o; await sleep(100) }
  throw new Error('timed out waiting for ' + what + ': ' + xapi.getObject(ref, undefined)?.power_state)
}
await until('ev1 added', o => o.power_state === 'Halted')
console.log('events: ev1 added (Halted)')
const res = await xapi.callAsync('VM.start', ref, true, false)
if (res !== '') throw new Error('Async.VM.start result ' + JSON.stringify(res))
const o = await until('ev1 Paused', o => o.power_state === 'Paused')
console.log('events: Async.VM.start task succeeded; ev1 Paused as d' + o.domid)
await xapi.callAsync('VM.unpause', ref)
await until('ev1 Halted', o => o.power_state === 'Halted')
console.log('events: ev1 ran and is Halted')
let failed = ''
try { await xapi.callAsync('VM.unpause', ref) } catch (e) { failed = e.code }
if (failed !== 'VM_BAD_POWER_STATE') throw new Error('a failing task gave ' + failed)
console.log('events: a failed task rejected with ' + failed)
await xapi.call('VM.destroy', ref)
for (let i = 0; i < 100 && xapi.getObject(ref, undefined); i++) await sleep(100)
if (xapi.getObject(ref, undefined)) throw new Error('ev1 still cached after VM.destroy')
await sleep(1000)
const tasks = await xapi.call('task.get_all')
console.log('events: ev1 gone from the cache (del); tasks left: ' + tasks.length)
await xapi.disconnect()
process.exit(0)
EOF
    out=$(cd "$tmp" && timeout 200 node events.mjs 2>&1) || fail "npm xen-api client with events: $out"
    grep -q "^events: ev1 ran and is Halted$" <<<"$out" && grep -q "tasks left: 0$" <<<"$out" ||
        fail "npm xen-api client with events: $out"
    echo "$out"
    dev=$(grep -o 'agent: VM ev1 started as d[0-9]*' "$log" | tail -1 | sed 's/.*as d//')
    [ -n "$dev" ] && grep -q "(d$dev) Hello, world" "$log" || fail "ev1 (d$dev) did not say hello"
else
    echo "the npm xen-api client is not installed (ci/deps.sh): its checks skipped"
fi

# VM.create (over XML-RPC, memory as a string) and VM.start of the hello
# image embedded in the agent: started paused, unpaused, it prints and
# powers off, and the VM is Halted again; started a second time; destroyed.
x=$(xcall VM.create "$xs_s" "<struct><member><name>name_label</name><value>hello1</value></member><member><name>memory_static_max</name><value>2097152</value></member><member><name>PV_kernel</name><value>hello</value></member><member><name>PV_args</name><value>greeting=1</value></member></struct>")
h1=$(sed -n 's/.*<name>Value<\/name><value>\(OpaqueRef:[0-9a-f-]*\)<\/value>.*/\1/p' <<<"$x")
[ -n "$h1" ] || fail "VM.create: $x"
[ "$(state "$h1")" = Halted ] || fail "hello1 is $(state "$h1") after VM.create"
expect_err VALUE_NOT_SUPPORTED '["PV_kernel","/boot/vmlinuz","the agent starts only the images embedded in it: hello, httpd"]' \
    VM.create "[\"$s\",{\"name_label\":\"h2\",\"memory_static_max\":2097152,\"PV_kernel\":\"/boot/vmlinuz\"}]"
expect_err INVALID_VALUE '["memory_static_max","4096"]' \
    VM.create "[\"$s\",{\"name_label\":\"h2\",\"memory_static_max\":4096,\"PV_kernel\":\"hello\"}]"
expect_err VM_BAD_POWER_STATE "[\"$web\",\"halted\",\"running\"]" VM.start "[\"$s\",\"$web\",false,false]"
[ "$(jrpc VM.start "[\"$s\",\"$h1\",true,false]" | jq -c .result)" = '""' ] || fail "VM.start hello1 paused"
[ "$(state "$h1")" = Paused ] || fail "hello1 is $(state "$h1") after a paused start"
d1=$(jrpc VM.get_domid "[\"$s\",\"$h1\"]" | jq -r .result)
[[ "$d1" =~ ^[0-9]+$ ]] && grep -q "agent: VM hello1 started as d$d1 (hello, 2048 KiB, paused)" "$log" ||
    fail "hello1's domid $d1 is not the one the agent started"
! grep -q "(d$d1) Hello, world" "$log" || fail "hello1 ran while paused"
[ "$(jrpc VM.unpause "[\"$s\",\"$h1\"]" | jq -c .result)" = '""' ] || fail "VM.unpause hello1"
wait_halted() {
    for _ in $(seq 60); do [ "$(state "$1")" = Halted ] && return 0; sleep 1; done
    fail "$1 did not come back to Halted: $(state "$1")"
}
wait_halted "$h1"
grep -q "(d$d1) Hello, world" "$log" || fail "d$d1 did not say hello"
[ "$(jrpc VM.start "[\"$s\",\"$h1\",false,false]" | jq -c .result)" = '""' ] || fail "VM.start hello1 again"
wait_halted "$h1"
d2=$(grep -o 'agent: VM hello1 started as d[0-9]*' "$log" | tail -1 | sed 's/.*as d//')
[ "$d2" != "$d1" ] && grep -q "(d$d2) Hello, world" "$log" || fail "the second start (d$d2) did not say hello"
# hard_reboot of a paused start: that domain goes without running, a new one runs.
[ "$(jrpc VM.start "[\"$s\",\"$h1\",true,false]" | jq -c .result)" = '""' ] || fail "VM.start hello1 paused again"
d3=$(jrpc VM.get_domid "[\"$s\",\"$h1\"]" | jq -r .result)
[ "$(jrpc VM.hard_reboot "[\"$s\",\"$h1\"]" | jq -c .result)" = '""' ] || fail "VM.hard_reboot hello1"
wait_halted "$h1"
d4=$(grep -o 'agent: VM hello1 started as d[0-9]*' "$log" | tail -1 | sed 's/.*as d//')
[ "$d4" != "$d3" ] && grep -q "(d$d4) Hello, world" "$log" && ! grep -q "(d$d3) Hello, world" "$log" ||
    fail "hard_reboot: paused d$d3 should be gone unheard and d$d4 should say hello"
expect_err OPERATION_NOT_ALLOWED '["a boot domain restarts by its restart= policy, not through the API"]' VM.hard_reboot "[\"$s\",\"$web\"]"
[ "$(jrpc VM.destroy "[\"$s\",\"$h1\"]" | jq -c .result)" = '""' ] || fail "VM.destroy hello1"
expect_err HANDLE_INVALID "[\"VM\",\"$h1\"]" VM.get_record "[\"$s\",\"$h1\"]"
# A Halted VM for the clean_shutdown refusal below (VM_BAD_POWER_STATE).
x=$(jrpc VM.create "[\"$s\",{\"name_label\":\"h1x\",\"memory_static_max\":2097152,\"PV_kernel\":\"hello\"}]")
h1x=$(jq -r .result <<<"$x")
[[ "$h1x" =~ ^OpaqueRef: ]] || fail "VM.create h1x: $x"
echo "VM.create + VM.start of hello: paused d$d1, unpaused, said hello, Halted; again as d$d2; hard_reboot of paused d$d3 ran d$d4; destroyed"

# Logout ends the session; clean shutdown of web (keel vm-shutdown without
# --force: VM.clean_shutdown writes "poweroff" to its control/shutdown,
# minios acknowledges and powers off by itself).  A Halted VM is refused.
[ "$(jrpc session.logout "[\"$s2\"]" | jq -c .result)" = '""' ] || fail "logout"
expect_err SESSION_INVALID "[\"$s2\"]" VM.get_all "[\"$s2\"]"
expect_err VM_BAD_POWER_STATE "[\"$h1x\",\"running\",\"halted\"]" VM.clean_shutdown "[\"$s\",\"$h1x\"]"
jrpc VM.destroy "[\"$s\",\"$h1x\"]" >/dev/null
if [ -f build/npm/node_modules/xen-api/package.json ] && command -v node >/dev/null; then
    out=$(timeout 120 node tools/keel/keel.mjs --url "$url" --password keel-demo vm-shutdown web 2>&1) ||
        fail "keel vm-shutdown web: $out"
else
    [ "$(jrpc VM.clean_shutdown "[\"$s\",\"$web\"]" | jq -c .result)" = '""' ] || fail "VM.clean_shutdown web"
fi
grep -q "agent: asked d$wid to poweroff through control/shutdown" "$log" || fail "the agent did not write control/shutdown"
grep -q "(web) minios: control/shutdown asks for poweroff" "$log" && grep -q "d$wid (web) shut down: poweroff" "$log" || fail "web did not power off on control/shutdown"
! grep -q "d$wid did not shut down" "$log" || fail "web had to be destroyed"
st=$(jrpc VM.get_power_state "[\"$s\",\"$web\"]")
[ "$(jq -r .result <<<"$st")" = Halted ] || [ "$(jq -r .error.message <<<"$st")" = HANDLE_INVALID ] ||
    fail "web after clean_shutdown: $st"
n=$(jrpc VM.get_all "[\"$s\"]" | jq '.result | length')
echo "logout: session gone; clean shutdown of web (it powered off by itself): $(jq -c '.result // .error.message' <<<"$st"), $n VMs listed"
grep -q "d$wid (web)" "$log" || fail "boot log lost"
kill -0 $qpid 2>/dev/null || fail "QEMU ended"
! grep -q 'keel-demo' "$log" || fail "the password appears on the console: $(grep -m1 keel-demo "$log")"
! grep -qi 'panic\|assert' "$log" || fail "$(grep -i -m1 'panic\|assert' "$log")"
echo "Test result: SUCCESS"
