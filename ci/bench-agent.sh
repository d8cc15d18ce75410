#!/usr/bin/env bash
# bench-agent.sh: the management agent's figures (docs/agent.md,
# "Figures"), written to build/bench/agent.json (make bench copies it to
# bench/agent-results.json).
#   1. VM.start call -> the new domain's first instruction, in TSC ticks,
#      for the 1st and the Nth (N=1000 by default, AGENT_BENCH_N=) hello VM
#      built one after the other on one host (VM.create, VM.start, Halted,
#      VM.destroy each time), under -icount (guest-internal: the agent logs
#      the TSC when VM.start reaches it, the hypervisor the first
#      instruction's);
#   2. VM.get_all_records requests per second over one keep-alive
#      connection from the host, plain TCG, with the agent holding 1,000
#      defined VMs (AGENT_BENCH_DEFS=) beside the boot domains, and where
#      an answer's time goes (the agent's bench lines: ticks in the call,
#      serialisation included, and in the socket writes);
#   3. the agent's heap (sbrk top since main) at the last VM.start of each
#      phase, and its pages (the hypervisor's tot_pages of the agent).
set -u
cd "$(dirname "$0")/.."
N=${AGENT_BENCH_N:-1000}
DEFS=${AGENT_BENCH_DEFS:-1000}
mkdir -p build/bench
# The net demo's machine: q35, VT-d, the virtio-net NIC netback owns.
NIC=$(make -s --no-print-directory run-net-qemu)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
modules="build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M"
modules+=",build/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M"
modules+=",build/stubdoms/agent.elf name=agent role=control mem=32M vif=netback ip=10.0.2.15/24 gw=10.0.2.2"
modules+=" user=root password=keel-demo kdf_iter=1000 http=1 bench=1"
# boot LOG PORT [qemu args]: in the background; qpid.
boot() {
    local log=$1 port=$2
    shift 2
    rm -f "$log" "$log.qemu"
    # shellcheck disable=SC2086
    bash ci/qemu-boot.sh "$log" 3000 512M "$modules" \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:80" $NIC "$@" &
    qpid=$!
}
stop() { pkill -TERM -P $qpid 2>/dev/null; wait $qpid 2>/dev/null; }
trap 'stop' EXIT

# ---- 1: the Nth start, under -icount ----
log1=build/bench/agent-start.log
p1=$(free_port)
SMP=1 TCG_SINGLE=1 boot "$log1" "$p1" -icount shift=0,sleep=off
python3 - "$p1" "$N" <<'PY' || { echo "bench-agent: the start loop failed"; exit 1; }
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
def conn():
    for _ in range(300):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request("GET", "/"); c.getresponse().read(); return c
        except OSError:
            time.sleep(2)
    raise SystemExit("the agent did not answer")
c = conn()
def call(m, *p):
    global c
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": m, "params": list(p)})
    try:
        c.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
        r = json.loads(c.getresponse().read())
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        # Under -icount sleep=off an idle guest's clock leaps to its next
        # timer: the agent's 60 s idle limit can close the connection
        # while the (loaded) host is slow.  The request was not read:
        # again on a new connection.
        print("bench-agent: the agent closed the idle connection: reconnecting", flush=True)
        c = conn()
        c.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
        r = json.loads(c.getresponse().read())
    if "error" in r:
        raise SystemExit(f"{m}: {r['error']}")
    return r["result"]
s = call("session.login_with_password", "root", "keel-demo")
t0 = time.time()
for i in range(n):
    vm = call("VM.create", s, {"name_label": f"b{i}", "memory_static_max": "4194304", "PV_kernel": "hello"})
    call("VM.start", s, vm, False, False)
    while call("VM.get_power_state", s, vm) != "Halted":
        time.sleep(0.01)
    call("VM.destroy", s, vm)
    if (i + 1) % 100 == 0:
        print(f"bench-agent: {i + 1} VMs started and gone ({time.time() - t0:.0f} s)", flush=True)
PY
stop
sed -i 's/\r$//' "$log1"
mapfile -t starts < <(grep -o 'bench: agent VM.start d[0-9]* request_tsc=[0-9]* heap_bytes=[0-9]*' "$log1")
[ "${#starts[@]}" -ge 1 ] || { echo "bench-agent: no VM.start lines"; exit 1; }
ticks() {   # the start line -> first-instruction ticks
    local d t
    d=$(sed 's/.*VM.start d\([0-9]*\) .*/\1/' <<<"$1")
    t=$(sed 's/.*request_tsc=\([0-9]*\).*/\1/' <<<"$1")
    f=$(grep -o "bench: d$d first_instruction_tsc=[0-9]*" "$log1" | head -1 | cut -d= -f2)
    [ -n "$f" ] && echo $((f - t))
}
first=$(ticks "${starts[0]}")
last=$(ticks "${starts[${#starts[@]}-1]}")
heap1=$(sed 's/.*heap_bytes=//' <<<"${starts[${#starts[@]}-1]}")
echo "bench-agent: VM.start -> first instruction: 1st $first ticks, ${#starts[@]}th $last ticks; heap $heap1 bytes"

# ---- 2: get_all_records per second, plain TCG ----
log2=build/bench/agent-rps.log
p2=$(free_port)
boot "$log2" "$p2"
rps=$(python3 - "$p2" "$DEFS" <<'PY'
import http.client, json, sys, time
port, defs = int(sys.argv[1]), int(sys.argv[2])
for _ in range(300):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("GET", "/"); c.getresponse().read(); break
    except OSError:
        time.sleep(2)
def call(m, *p):
    c.request("POST", "/jsonrpc", json.dumps({"jsonrpc": "2.0", "id": 1, "method": m, "params": list(p)}),
              {"Content-Type": "application/json"})
    r = json.loads(c.getresponse().read())
    if "error" in r:
        raise SystemExit(f"{m}: {r['error']}")
    return r["result"]
s = call("session.login_with_password", "root", "keel-demo")
vms = [call("VM.create", s, {"name_label": f"v{i}", "memory_static_max": "4194304", "PV_kernel": "hello"})
       for i in range(defs)]
call("VM.start", s, vms[0], True, False)      # a heap figure with the VMs defined
n, t0 = 0, time.time()
while time.time() - t0 < 10:
    recs = call("VM.get_all_records", s)
    n += 1
assert len(recs) >= defs, len(recs)
pages = [r["memory_target"] // 4096 for r in recs.values() if r["is_control_domain"]][0]
print(f"{n / (time.time() - t0):.1f} {len(recs)} {pages}")
PY
) || { echo "bench-agent: the get_all_records loop failed: $rps"; exit 1; }
stop
sed -i 's/\r$//' "$log2"
heap2=$(grep -o 'bench: agent VM.start d[0-9]* request_tsc=[0-9]* heap_bytes=[0-9]*' "$log2" | tail -1 | sed 's/.*heap_bytes=//')
read -r rate nrecs pages <<<"$rps"
# The last logged answer of the loop: ticks in the call and in the writes.
split=$(grep -o 'bench: agent answer of [0-9]* bytes: call_tsc=[0-9]* send_tsc=[0-9]*' "$log2" | tail -1)
abytes=$(sed 's/.*answer of \([0-9]*\) bytes.*/\1/' <<<"$split")
acall=$(sed 's/.*call_tsc=\([0-9]*\).*/\1/' <<<"$split")
asend=$(sed 's/.*send_tsc=\([0-9]*\).*/\1/' <<<"$split")
echo "bench-agent: VM.get_all_records: $rate requests/s with $nrecs VMs ($abytes bytes: call $acall ticks, writes $asend ticks); heap with $DEFS defined VMs $heap2 bytes, $pages pages"
cat > build/bench/agent.json <<JSON
{
  "vm_start_to_first_instruction_tsc": { "first": $first, "nth": $last, "n": ${#starts[@]}, "clock": "-icount shift=0 (ticks)" },
  "get_all_records_per_second": { "value": $rate, "vms": $nrecs, "defined_vms": $DEFS, "clock": "plain TCG, host wall clock, one keep-alive connection",
    "answer": { "bytes": ${abytes:-null}, "call_tsc": ${acall:-null}, "writes_tsc": ${asend:-null} } },
  "agent_heap_bytes": { "after_start_loop": $heap1, "with_defined_vms": ${heap2:-null}, "defined_vms": $DEFS },
  "agent_pages_with_defined_vms": ${pages:-null}
}
JSON
cat build/bench/agent.json
