#!/usr/bin/env bash
# agent-https: the agent's XenAPI over TLS (docs/agent.md, "HTTPS").  The
# agent boots with its disk (an empty agent.img made here with mkfs.ext4,
# on tapdisk's store), restart=crash and selftest=crash-on-udp, without
# http=1.  First boot: it makes its ECDSA P-256 key and self-signed
# certificate (CN keel) and keeps them on its disk.  From the host: the
# certificate fetched with openssl s_client has the fingerprint the agent
# logs, P-256, CN and subjectAltName keel; curl --cacert (that
# certificate, the name resolved to 127.0.0.1) logs in over JSON-RPC; a
# plaintext request to the TLS port costs only its connection (logged as
# a failed handshake, the next curl works); plain HTTP on port 80 is
# refused (nothing listens without http=1); the unmodified npm xen-api
# client (allowUnauthorized) lists VMs over https.  Then the agent is
# crashed and rebuilt: it takes the key and certificate from its disk
# (same fingerprint) and curl --cacert with the first certificate works.
# ALONE=1
# TIMEOUT=600
set -u
cd "$(dirname "$0")/../.."
. tests/common/store-boot.sh
skip() { echo "$*"; echo "Test result: SKIP"; exit 0; }
fail() { echo "FAIL: $*"; [ -n "${log:-}" ] && [ -f "$log" ] && tail -n 25 "$log"; echo "Test result: FAILURE"; exit 1; }
for t in curl jq openssl mkfs.ext4; do command -v $t >/dev/null || skip "$t is not installed (ci/deps.sh)"; done
for f in build/stubdoms/agent.elf build/stubdoms/netback.elf build/stubdoms/xenstore.elf build/stubdoms/tapdisk.elf; do
    [ -f $f ] || fail "$f not built"
done
out=build/tests/agent-https
rm -rf "$out" && mkdir -p "$out/tree"
store=$out/store.img
mkfs.ext4 -q -F "$out/tree/agent.img" 16M || fail "mkfs.ext4 agent.img"
mkfs.ext4 -q -F -d "$out/tree" "$store" 64M || fail "mkfs.ext4 (store)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
modules="$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0"
modules+=",build/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M"
modules+=",build/stubdoms/agent.elf name=agent role=control mem=32M vif=netback ip=10.0.2.15/24 gw=10.0.2.2"
modules+=" user=root password=keel-demo kdf_iter=1000 disk=xvda:/agent.img restart=crash selftest=crash-on-udp"
qpid=
trap '[ -n "$qpid" ] && pkill -TERM -P $qpid 2>/dev/null; wait 2>/dev/null' EXIT
log=$out/boot.log
port=$(free_port) hport=$(free_port) uport=$(free_port)
store_boot "$log" 500 512M "$modules" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:80,hostfwd=tcp:127.0.0.1:$hport-10.0.2.15:443,hostfwd=udp:127.0.0.1:$uport-10.0.2.15:57005" \
    -device virtio-net-pci,netdev=n0,addr=3 >/dev/null &
qpid=$!
C="curl -s --max-time 60 --resolve keel:$hport:127.0.0.1"
surl=https://keel:$hport
# login [CURL-OPTS...]: the session ref over https, or "".
login() {
    $C "$@" -H 'Content-Type: application/json' --data-binary \
        '{"jsonrpc":"2.0","id":1,"method":"session.login_with_password","params":["root","keel-demo"]}' \
        "$surl/jsonrpc" | jq -r '.result // empty' 2>/dev/null
}
# wait_log N TEXT: TEXT in the log N times (up to 300 s).
wait_log() {
    for _ in $(seq 600); do
        kill -0 $qpid 2>/dev/null || fail "QEMU ended: $(cat "$log.qemu" 2>/dev/null)"
        [ "$(grep -cF "$2" "$log" 2>/dev/null || true)" -ge "$1" ] 2>/dev/null && return 0
        sleep 0.5
    done
    fail "\"$2\" not seen $1 times"
}
wait_log 1 'agent: TLS certificate CN=keel (made now, kept on its disk), SHA-256 fingerprint '
fp1=$(sed -n 's/.*agent: TLS certificate CN=keel .*SHA-256 fingerprint \([0-9A-F:]*\).*/\1/p' "$log" | head -1)
wait_log 1 'agent: XenAPI (JSON-RPC /jsonrpc, XML-RPC /xmlrpc) over HTTPS on port 443 (plain HTTP off: no http=1)'
ok=0
for _ in $(seq 60); do
    openssl s_client -connect 127.0.0.1:$hport -servername keel </dev/null 2>/dev/null |
        openssl x509 > "$out/cert.pem" 2>/dev/null && { ok=1; break; }
    sleep 2
done
[ $ok = 1 ] || fail "no certificate from openssl s_client"
fp=$(openssl x509 -in "$out/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
[ "$fp" = "$fp1" ] || fail "the certificate's fingerprint is $fp, the agent says $fp1"
text=$(openssl x509 -in "$out/cert.pem" -noout -text)
grep -q 'Subject: CN *= *keel' <<<"$text" || fail "subject: $(grep Subject: <<<"$text")"
grep -q 'DNS:keel' <<<"$text" || fail "no subjectAltName DNS:keel"
grep -q 'NIST CURVE: P-256\|ASN1 OID: prime256v1' <<<"$text" || fail "not P-256"
echo "certificate: CN=keel, DNS:keel, P-256, fingerprint $fp (as the agent logs)"

s=$(login --cacert "$out/cert.pem")
[[ "$s" =~ ^OpaqueRef: ]] || fail "curl --cacert login: $(login --cacert "$out/cert.pem" -v 2>&1 | tail -5)"
# Without the certificate curl refuses it (self-signed).
$C -o /dev/null "$surl/" && fail "curl trusted the self-signed certificate without --cacert"
echo "curl --cacert: logged in ($s); without --cacert the certificate is refused"

# A plaintext request to the TLS port: that connection fails, nothing else.
python3 - "$hport" <<'PY' || fail "the plaintext request to the TLS port"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: keel\r\nContent-Length: 2\r\n\r\n{}")
try:
    d = s.recv(4096)
except OSError:
    d = b""
assert b"OpaqueRef" not in d and b"jsonrpc" not in d, d
PY
# (curl without --cacert above was the first failed handshake: its alert.)
wait_log 1 '(2 failed handshakes)'
s2=$(login --cacert "$out/cert.pem")
[[ "$s2" =~ ^OpaqueRef: ]] || fail "login after a bad handshake"
echo "a plaintext request to 443: $(grep -o 'agent: HTTPS: handshake:.*(2 failed handshakes)' "$log" | head -1); the next login works"

# Plain HTTP: nothing listens on 80 without http=1.
curl -s --max-time 20 -o /dev/null -H 'Content-Type: application/json' --data-binary \
    '{"jsonrpc":"2.0","id":1,"method":"session.login_with_password","params":["root","keel-demo"]}' \
    "http://127.0.0.1:$port/jsonrpc" && fail "plain HTTP answered without http=1"
echo "plain HTTP on port 80: refused (no http=1)"

# The npm xen-api client, unmodified, over https.
if [ -f build/npm/node_modules/xen-api/package.json ] && command -v node >/dev/null; then
    cat > "$out/client.mjs" <<JS
import { Xapi } from '$PWD/build/npm/node_modules/xen-api/index.mjs'
const xapi = new Xapi({ url: 'https://127.0.0.1:$hport', allowUnauthorized: true,
                        auth: { user: 'root', password: 'keel-demo' }, watchEvents: false })
await xapi.connect()
const vms = await xapi.call('VM.get_all_records')
console.log('npm: ' + Object.values(vms).map(v => v.name_label + ':' + v.power_state).sort().join(' '))
await xapi.disconnect()
process.exit(0)
JS
    o=$(timeout 120 node "$out/client.mjs" 2>&1) || fail "npm xen-api client: $o"
    grep -q "^npm: agent:Running netback:Running tapdisk:Running xenstore:Running$" <<<"$o" || fail "npm xen-api client: $o"
    echo "$o (over https, allowUnauthorized)"
else
    echo "the npm xen-api client is not installed (ci/deps.sh): its check skipped"
fi

# The agent crashed and rebuilt: the same key and certificate, from its disk.
python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"agent: crash", ("127.0.0.1", int(sys.argv[1])))' "$uport"
wait_log 1 'agent: selftest=crash-on-udp: the trigger came: crashing'
wait_log 1 'agent: TLS certificate CN=keel (from its disk), SHA-256 fingerprint '
fp2=$(sed -n 's/.*agent: TLS certificate CN=keel (from its disk), SHA-256 fingerprint \([0-9A-F:]*\).*/\1/p' "$log" | head -1)
[ "$fp2" = "$fp1" ] || fail "after the restart the fingerprint is $fp2, before $fp1"
s3=
for _ in $(seq 60); do
    s3=$(login --cacert "$out/cert.pem")
    [[ "$s3" =~ ^OpaqueRef: ]] && break
    sleep 2
done
[[ "$s3" =~ ^OpaqueRef: ]] || fail "curl --cacert after the restart"
echo "after the agent's crash and restart: the same fingerprint $fp2; curl --cacert with the first certificate logs in"
pkill -TERM -P $qpid 2>/dev/null; wait $qpid 2>/dev/null; qpid=
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
echo "Test result: SUCCESS"
