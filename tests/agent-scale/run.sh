#!/bin/bash
# agent-scale: the agent holds 1,024 defined VMs.  Boots the xenstore
# stub, netback and the agent (http=1); over one keep-alive connection
# it defines 1,024 hello VMs through the API (VM.create in a loop, none
# started), is refused the 1,025th (INTERNAL_ERROR naming the limit), and
# VM.get_all_records lists every one of them (names and Halted) beside
# the boot domains; VM.get_all agrees.  It prints (does not assert) how
# long the creates and each VM.get_all_records took.
# ALONE=1
# TIMEOUT=900
set -u
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*"; [ -n "${log:-}" ] && [ -f "$log" ] && tail -n 25 "$log"; echo "Test result: FAILURE"; exit 1; }
for f in build/stubdoms/agent.elf build/stubdoms/netback.elf build/stubdoms/xenstore.elf; do
    [ -f $f ] || fail "$f not built"
done
HV=build/hv.elf
[ "${DEBUG:-0}" = 1 ] && HV=build/hv-debug.elf
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
modules="build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M"
modules+=",build/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M"
modules+=",build/stubdoms/agent.elf name=agent role=control mem=32M vif=netback ip=10.0.2.15/24 gw=10.0.2.2 user=root password=keel-demo kdf_iter=1000 http=1"
nic=$(make -s --no-print-directory run-net-qemu)
tmp=$(mktemp -d)
log=$tmp/boot.log
# shellcheck disable=SC2086
timeout -k 5 880 qemu-system-x86_64 -accel tcg -cpu max -m 512M -nodefaults -display none \
    -no-reboot -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:80" \
    $nic -kernel $HV -initrd "$modules" </dev/null >/dev/null 2>"$tmp/qemu.err" &
qpid=$!
trap 'kill $qpid 2>/dev/null; wait $qpid 2>/dev/null; rm -rf "$tmp"' EXIT
python3 - "$port" <<'PY' || fail "the API check failed"
import http.client, json, sys, time
port = int(sys.argv[1])
for _ in range(150):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        c.request("GET", "/"); c.getresponse().read(); break
    except OSError:
        time.sleep(2)
else:
    raise SystemExit("the agent did not answer through the forward in 300 s")
def call(m, *p):
    c.request("POST", "/jsonrpc", json.dumps({"jsonrpc": "2.0", "id": 1, "method": m, "params": list(p)}),
              {"Content-Type": "application/json"})
    return json.loads(c.getresponse().read())
def ok(m, *p):
    r = call(m, *p)
    if "error" in r:
        raise SystemExit(f"{m}: {r['error']}")
    return r["result"]
s = ok("session.login_with_password", "root", "keel-demo")
t0 = time.time()
refs = set()
for i in range(1024):
    refs.add(ok("VM.create", s, {"name_label": f"s{i}", "memory_static_max": "4194304", "PV_kernel": "hello"}))
    if (i + 1) % 256 == 0:
        print(f"agent-scale: {i + 1} VMs defined ({time.time() - t0:.0f} s)", flush=True)
assert len(refs) == 1024, len(refs)
r = call("VM.create", s, {"name_label": "over", "memory_static_max": "4194304", "PV_kernel": "hello"})
e = r.get("error", {})
assert e.get("message") == "INTERNAL_ERROR" and "at most 1024" in e.get("data", [""])[0], r
print("agent-scale: the 1,025th VM.create refused:", e["data"][0])
for k in range(3):
    t1 = time.time()
    recs = ok("VM.get_all_records", s)
    print(f"agent-scale: VM.get_all_records: {len(recs)} records in {time.time() - t1:.2f} s", flush=True)
mine = {ref: rec for ref, rec in recs.items() if ref in refs}
assert len(mine) == 1024, len(mine)
assert sorted(rec["name_label"] for rec in mine.values()) == sorted(f"s{i}" for i in range(1024))
assert all(rec["power_state"] == "Halted" and rec["domid"] == -1 for rec in mine.values())
assert len(recs) >= 1024 + 3, len(recs)        # and the boot domains
assert set(ok("VM.get_all", s)) == set(recs), "VM.get_all and get_all_records differ"
print("agent-scale: 1,024 defined VMs listed through VM.get_all_records")
PY
echo "Test result: SUCCESS"
