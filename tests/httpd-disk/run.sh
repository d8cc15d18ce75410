#!/usr/bin/env bash
# httpd-disk: httpd serves files from its own disk (root=, docs/appliances.md).
# The host makes www.img with mkfs.ext4 -d: /www with a small file, a
# 5 MiB file, a 40 MiB file (more than httpd's whole 32 MiB of memory:
# only streaming it in pieces can serve it), index.html, a
# subdirectory with its own index.html and a .css, symbolic links out of
# /www, and /secret.txt beside /www; puts it on the tapdisk domain's
# store.  The machine boots the xenstore stub, tapdisk (the store at
# 00:04.0), netback (QEMU's virtio-net at 00:03.0, user networking) and
# httpd (vif=netback, disk=xvda:/images/www.img root=/disk/www); QEMU
# forwards a free host port to httpd's port 80.  From the host, curl
# fetches every file and compares its sha256 with the host's copy, checks
# HEAD, a range, content types, directory -> index.html, keep-alive (two
# files on one connection), 404, 500 for a file whose inode the host
# overwrote, and every way out of the root: "..",
# "%2e%2e", encoded '/', "//", the symbolic links (403 or 404, never the
# secret's bytes).  Beside it a second httpd, "bad", whose disk has a
# zeroed superblock magic: it says why the disk did not mount, keeps
# running and answers 503.
# ALONE=1 (two QEMU-heavy appliances, curl downloads with timeouts)
# TIMEOUT=600
set -uo pipefail
. tests/common/store-boot.sh
out=build/tests/httpd-disk
rm -rf "$out" && mkdir -p "$out/fs/www/sub" "$out/tree/images"
store=$out/store.img
log=$out/guest.log
qpid=
fail() {
    echo "httpd-disk: $*"
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
    [ -f "$log" ] && tail -30 "$log"
    echo "Test result: FAILURE"; exit 0
}
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh)"; echo "Test result: SKIP"; exit 0; }
www=$out/fs/www
printf 'a small file from the host\n' > "$www/small.txt"
python3 - "$www" <<'PY'
import sys
d = sys.argv[1]
open(d + "/five.bin", "wb").write(bytes((i * 131 + (i >> 11) * 7 + 3) & 0xff for i in range(5 << 20)))
big = bytearray()
for k in range(40 * 16):
    big += bytes(((i * 29 + k * 5 + (i >> 7)) & 0xff) for i in range(65536))
open(d + "/big.bin", "wb").write(big)
PY
printf '<html><body>root index</body></html>\n' > "$www/index.html"
printf '<html><body>sub index</body></html>\n' > "$www/sub/index.html"
printf 'body { color: black }\n' > "$www/sub/page.css"
printf 'the secret beside /www\n' > "$out/fs/secret.txt"
ln -s ../secret.txt "$www/out"
ln -s /secret.txt "$www/abs"
ln -s .. "$www/up"
printf 'this inode gets overwritten\n' > "$www/broken.txt"
mkfs.ext4 -q -F -d "$out/fs" "$out/tree/images/www.img" 64M || fail "mkfs.ext4 www.img"
# /www/broken.txt's inode: 64 bytes overwritten (its checksum fails).
loc=$(debugfs -R "imap /www/broken.txt" "$out/tree/images/www.img" 2>/dev/null |
      sed -n 's/.*located at block \([0-9]*\), offset 0x\([0-9a-f]*\).*/\1 \2/p')
bs=$(dumpe2fs -h "$out/tree/images/www.img" 2>/dev/null | sed -n 's/^Block size: *//p')
[ -n "$loc" ] && [ -n "$bs" ] || fail "debugfs imap /www/broken.txt"
head -c 64 /dev/zero | tr '\0' '\245' |
    dd of="$out/tree/images/www.img" bs=1 seek=$(( ${loc% *} * bs + 0x${loc#* } )) conv=notrunc status=none
mkdir -p "$out/badfs/www" && echo "never served" > "$out/badfs/www/index.html"
mkfs.ext4 -q -F -d "$out/badfs" "$out/tree/images/bad.img" 4M || fail "mkfs.ext4 bad.img"
printf '\0\0' | dd of="$out/tree/images/bad.img" bs=1 seek=1080 conv=notrunc status=none
mkfs.ext4 -q -F -d "$out/tree" "$store" 112M || fail "mkfs.ext4 (store)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
modules="$XS,build/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0"
modules+=",build/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M"
modules+=",build/apps/httpd.elf name=web mem=32M vif=netback ip=10.0.2.15/24 gw=10.0.2.2"
modules+=" disk=xvda:/images/www.img root=/disk/www"
modules+=",build/apps/httpd.elf name=bad mem=16M vif=netback ip=10.0.2.16/24 gw=10.0.2.2"
modules+=" disk=xvda:/images/bad.img:ro root=/disk/www"
up=0
for attempt in 1 2 3; do
    port=$(free_port) port2=$(free_port)
    [ "$port" != "$port2" ] || port2=$(free_port)
    rm -f "$log" "$log.qemu"
    store_boot "$log" 500 512M "$modules" \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:80,hostfwd=tcp:127.0.0.1:$port2-10.0.2.16:80" \
        -device virtio-net-pci,netdev=n0,addr=3 >/dev/null &
    qpid=$!
    for _ in $(seq 1 900); do
        [ "$(grep -c 'httpd: serving /disk/www on port 80' "$log" 2>/dev/null)" = 2 ] && { up=1; break; }
        kill -0 $qpid 2>/dev/null || break
        sleep 0.2
    done
    [ $up = 1 ] && break
    kill -0 $qpid 2>/dev/null && fail "httpd did not start serving within 180 s"
    wait $qpid; qpid=
    grep -q 'hostfwd' "$log.qemu" 2>/dev/null || fail "QEMU ended early: $(cat "$log.qemu" 2>/dev/null)"
    echo "httpd-disk: port $port was taken; another"
done
[ $up = 1 ] || fail "no port could be forwarded"
url=http://127.0.0.1:$port
# The network path comes up after httpd listens: wait for the first answer.
ok=0
for _ in $(seq 1 60); do
    curl -s --max-time 5 -o /dev/null "$url/small.txt" && { ok=1; break; }
    sleep 2
done
[ $ok = 1 ] || fail "no answer through the forwarded port in 120 s"
echo "httpd-disk: forwarding 127.0.0.1:$port to httpd:80"
get() {   # get PATH FILE -> prints "status size content-type"
    curl -s --path-as-is --max-time 300 -o "$2" -w '%{http_code} %{size_download} %{content_type}' "$url$1"
}
sha() { sha256sum < "$1" | cut -d' ' -f1; }
for f in small.txt five.bin big.bin sub/page.css; do
    r=$(get "/$f" "$out/got") || fail "curl /$f failed"
    [ "${r%% *}" = 200 ] || fail "/$f: $r"
    [ "$(sha "$out/got")" = "$(sha "$www/$f")" ] || fail "/$f: sha256 differs from the host's file ($r)"
    echo "httpd-disk: /$f: $r, sha256 as the host's"
done
for p in / /index.html; do
    r=$(get "$p" "$out/got"); [ "${r%% *}" = 200 ] && cmp -s "$out/got" "$www/index.html" ||
        fail "$p is not /www/index.html: $r"
done
for p in /sub /sub/; do
    r=$(get "$p" "$out/got"); [ "${r%% *}" = 200 ] && cmp -s "$out/got" "$www/sub/index.html" ||
        fail "$p is not /www/sub/index.html: $r"
done
echo "httpd-disk: /, /sub and /sub/ serve their index.html"
for t in "small.txt text/plain" "sub/page.css text/css" "five.bin application/octet-stream" \
         "index.html text/html"; do
    r=$(get "/${t%% *}" /dev/null)
    [ "${r##* }" = "${t##* }" ] || fail "/${t%% *}: content type \"${r##* }\", want ${t##* }"
done
h=$(curl -s -I --max-time 30 "$url/five.bin" | tr -d '\r')
grep -qx 'HTTP/1.1 200 OK' <<<"$h" && grep -qx 'Content-Length: 5242880' <<<"$h" ||
    fail "HEAD /five.bin: $h"
curl -s --max-time 60 -r 1000000-1099999 -o "$out/range" "$url/big.bin" || fail "range request"
cmp -s "$out/range" <(tail -c +1000001 "$www/big.bin" | head -c 100000) || fail "bytes 1000000-1099999 of /big.bin differ"
echo "httpd-disk: HEAD, a range of /big.bin, content types by extension"
# Keep-alive: two files over one connection.
n=$(curl -s --max-time 60 -o /dev/null -o /dev/null -w '%{num_connects}\n' "$url/five.bin" "$url/small.txt" |
    paste -sd+ | bc)
[ "$n" = 1 ] || fail "keep-alive: $n connections for two files, want 1"
echo "httpd-disk: keep-alive: /five.bin and /small.txt over one connection"
r=$(get /missing "$out/got"); [ "${r%% *}" = 404 ] || fail "/missing: $r"
r=$(get /broken.txt "$out/got"); [ "${r%% *}" = 500 ] || fail "/broken.txt (its inode overwritten): $r, want 500"
grep -q 'overwritten' "$out/got" && fail "/broken.txt was served from a corrupt inode"
echo "httpd-disk: /broken.txt, whose inode is corrupt: 500"
r=$(get /sub/missing.html "$out/got"); [ "${r%% *}" = 404 ] || fail "/sub/missing.html: $r"
secret=$(cat "$out/fs/secret.txt")
for p in /../secret.txt /sub/../../secret.txt /%2e%2e/secret.txt /%2E%2E%2Fsecret.txt \
         /sub/%2e%2e/%2e%2e/secret.txt //secret.txt /./small.txt /out /abs /up/secret.txt \
         /secret.txt /etc/passwd http://x/../secret.txt; do
    if [ "${p:0:4}" = http ]; then
        # an absolute-form target, sent as is
        r=$(curl -s --max-time 30 --request-target "$p" -o "$out/got" -w '%{http_code}' "$url/") ||
            fail "curl $p"
    else
        r=$(get "$p" "$out/got") || fail "curl $p"
    fi
    case "${r%% *}" in 403|404) ;; *) fail "$p: $r, want 403 or 404" ;; esac
    grep -qF "$secret" "$out/got" && fail "$p served the secret"
    echo "httpd-disk: $p: ${r%% *}"
done
# Still serving after all that, and several clients at once.
pids=()
for i in 1 2 3; do
    curl -s --max-time 300 -o "$out/par$i" "$url/five.bin" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in 1 2 3; do cmp -s "$out/par$i" "$www/five.bin" || fail "parallel download $i of /five.bin differs"; done
echo "httpd-disk: three parallel downloads of /five.bin byte-exact"
# The appliance whose disk is corrupt: 503, and its reason in the log.
ok=0
for _ in $(seq 1 30); do
    r=$(curl -s --max-time 5 -o "$out/got" -w '%{http_code}' "http://127.0.0.1:$port2/index.html") &&
        [ "$r" != 000 ] && { ok=1; break; }
    sleep 2
done
[ $ok = 1 ] || fail "no answer from the bad disk's httpd"
[ "$r" = 503 ] || fail "bad disk's httpd: /index.html gave $r, want 503"
grep -q 'never served' "$out/got" && fail "bad disk's httpd served from its corrupt disk"
r=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port2/../x")
[ "$r" = 503 ] || fail "bad disk's httpd: second request gave $r, want 503"
echo "httpd-disk: the httpd whose disk has a bad superblock magic answers 503"
kill $qpid 2>/dev/null; wait $qpid 2>/dev/null; qpid=
sed -i 's/\r$//' "$log"
grep -q 'PANIC\|hypervisor fault' "$log" && fail "hypervisor panic"
grep -qF '(web) httpd: root=/disk/www: serving the files of the disk' "$log" || fail "no root= line from httpd"
grep -qF '(bad) httpd: root=/disk/www: the disk did not mount: device/vbd/51712: bad superblock magic 0x0000' "$log" ||
    fail "the bad disk's httpd did not say why its disk did not mount"
grep -E '\((web|bad|tapdisk)\)' "$log" | head -24
echo "Test result: SUCCESS"
