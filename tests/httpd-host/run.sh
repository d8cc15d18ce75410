#!/usr/bin/env bash
# httpd-host: httpd's protocol core as a host server (build/apps/httpd-host,
# ASan/UBSan) against a real client, curl: files of 0 B, 1 KiB and 4 MiB
# byte-exact, HEAD, ranges (206, 416), keep-alive with several URLs in one
# curl, and the refusals (404, 405, 431, 501, 413); then wrk with 30
# connections (when installed). SKIP without curl.
set -u
cd "$(dirname "$0")/../.."
bin=build/apps/httpd-host www=build/apps/httpd/www
fail() { echo "FAIL: $*"; echo "Test result: FAILURE"; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed (ci/deps.sh)"; echo "Test result: SKIP"; exit 0; }
[ -x $bin ] || fail "$bin not built"
tmp=$(mktemp -d)
out=$tmp/server.out
$bin 0 > "$out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q 'listening on port' "$out" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$out")
[ -n "$port" ] || fail "server did not start: $(cat "$out")"
url=http://127.0.0.1:$port
C="curl -s --max-time 60"

for f in empty 1k.bin 4m.bin index.html; do
    $C -o "$tmp/$f" "$url/$f" || fail "GET /$f failed"
    cmp -s "$tmp/$f" "$www/$f" || fail "/$f differs from $www/$f"
done
[ "$(stat -c %s "$tmp/4m.bin")" = 4194304 ] || fail "4m.bin is not 4 MiB"
$C -o "$tmp/root" "$url/" && cmp -s "$tmp/root" "$www/index.html" || fail "GET / is not index.html"
echo "GET: 0 B, 1 KiB, 4 MiB, index.html byte-exact"

h=$($C -I "$url/4m.bin" | tr -d '\r')
grep -qx 'HTTP/1.1 200 OK' <<<"$h" && grep -qx 'Content-Length: 4194304' <<<"$h" || fail "HEAD: $h"
echo "HEAD: Content-Length 4194304"

# Ranges: 206 with the bytes dd cuts from the file; 416 past the end.
check_range() {   # FILE RANGE SKIP COUNT CONTENT-RANGE
    local code
    code=$($C -o "$tmp/r" -D "$tmp/rh" -w '%{http_code}' -r "$2" "$url/$1")
    [ "$code" = 206 ] || fail "range $2 of $1: status $code"
    dd if="$www/$1" of="$tmp/want" bs=1 skip="$3" count="$4" status=none 2>/dev/null ||
        tail -c +"$(($3 + 1))" "$www/$1" | head -c "$4" > "$tmp/want"
    cmp -s "$tmp/r" "$tmp/want" || fail "range $2 of $1: wrong bytes"
    grep -qi "^Content-Range: $5" "$tmp/rh" || fail "range $2 of $1: $(grep -i content-range "$tmp/rh")"
}
check_range 1k.bin 100-199 100 100 'bytes 100-199/1024'
check_range 1k.bin -10 1014 10 'bytes 1014-1023/1024'
check_range 1k.bin 1000- 1000 24 'bytes 1000-1023/1024'
# a range deep in the 4 MiB file (dd of 1-byte blocks is slow: use tail/head)
code=$($C -o "$tmp/r" -w '%{http_code}' -r 3000000-3100000 "$url/4m.bin")
tail -c +3000001 "$www/4m.bin" | head -c 100001 > "$tmp/want"
[ "$code" = 206 ] && cmp -s "$tmp/r" "$tmp/want" || fail "range 3000000-3100000 of 4m.bin"
code=$($C -o "$tmp/r" -D "$tmp/rh" -w '%{http_code}' -r 2000- "$url/1k.bin")
[ "$code" = 416 ] && grep -qi '^Content-Range: bytes \*/1024' "$tmp/rh" || fail "range past the end: $code"
code=$($C -o /dev/null -w '%{http_code}' -r 0-0 "$url/empty")
[ "$code" = 416 ] || fail "range of the empty file: $code"
echo "ranges: 206 byte-exact, 416 past the end"

# Keep-alive: several URLs in one curl share one connection.
$C -v -o "$tmp/k1" -o "$tmp/k2" -o "$tmp/k3" "$url/1k.bin" "$url/4m.bin" "$url/empty" 2> "$tmp/v" ||
    fail "keep-alive curl failed"
cmp -s "$tmp/k1" "$www/1k.bin" && cmp -s "$tmp/k2" "$www/4m.bin" && cmp -s "$tmp/k3" "$www/empty" ||
    fail "keep-alive: wrong bytes"
[ "$(grep -c 'Connected to' "$tmp/v")" = 1 ] || fail "keep-alive: $(grep -c 'Connected to' "$tmp/v") connections for 3 URLs"
grep -q 'Re-using existing connection' "$tmp/v" || fail "keep-alive: curl did not re-use the connection"
echo "keep-alive: 3 URLs over 1 connection"

expect_code() {   # WANT CURL-ARGS...
    local want=$1 code
    shift
    code=$($C -o /dev/null -w '%{http_code}' "$@")
    [ "$code" = "$want" ] || fail "curl $*: status $code, expected $want"
}
expect_code 404 "$url/nope"
expect_code 405 -X POST -d x "$url/1k.bin"
expect_code 405 -X DELETE "$url/1k.bin"
expect_code 501 -X FROB "$url/1k.bin"
expect_code 431 -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$url/1k.bin"
expect_code 413 -X GET -H 'Content-Length: 100000' "$url/1k.bin"
echo "refusals: 404 405 501 431 413"

# 30 concurrent keep-alive connections for 2 s (wrk, if installed).
if command -v wrk >/dev/null; then
    timeout 60 wrk -t2 -c30 -d2s "$url/index.html" > "$tmp/wrk" 2>&1 || fail "wrk: $(tail -3 "$tmp/wrk")"
    n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$tmp/wrk")
    [ "${n:-0}" -gt 0 ] || fail "wrk made no requests: $(cat "$tmp/wrk")"
    ! grep -q 'Non-2xx\|Socket errors' "$tmp/wrk" || fail "wrk: $(grep 'Non-2xx\|Socket errors' "$tmp/wrk")"
    echo "wrk -c30: $n requests, all 200: $(grep 'Requests/sec' "$tmp/wrk")"
fi

kill -0 $pid || fail "the server died: $(cat "$out")"
grep -q 'ERROR: \(Address\|Undefined\)Sanitizer\|runtime error' "$out" && fail "sanitizer: $(cat "$out")"
echo "Test result: SUCCESS"
