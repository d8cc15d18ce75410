#!/usr/bin/env bash
# kv-host: kv's core as a host server (build/apps/kv-host, ASan/UBSan)
# against real clients: redis-cli round trips (PING, SET/GET, EX/TTL,
# INCR, MSET/MGET, KEYS, DBSIZE, errors) and a short redis-benchmark with
# 50 connections (get, set; then pipelined). SKIP without redis-tools.
set -u
cd "$(dirname "$0")/../.."
bin=build/apps/kv-host
fail() { echo "FAIL: $*"; echo "Test result: FAILURE"; exit 1; }
for t in redis-cli redis-benchmark; do
    command -v $t >/dev/null || { echo "$t is not installed (ci/deps.sh: redis-tools)"; echo "Test result: SKIP"; exit 0; }
done
[ -x $bin ] || fail "$bin not built"
tmp=$(mktemp -d)
out=$tmp/server.out
$bin 0 > "$out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q 'listening on port' "$out" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$out")
[ -n "$port" ] || fail "server did not start: $(cat "$out")"
cli() { timeout 30 redis-cli -p "$port" "$@"; }
eq() {   # WANT CLI-ARGS...
    local want=$1 got
    shift
    got=$(cli "$@" 2>&1)
    [ "$got" = "$want" ] || fail "redis-cli $*: got '$got', expected '$want'"
}
eq PONG ping
eq hi ping hi
eq OK set greeting "hello world"
eq "hello world" get greeting
eq "" get nosuch
eq OK set t v ex 100
ttl=$(cli ttl t)
[ "$ttl" -ge 1 ] && [ "$ttl" -le 100 ] || fail "ttl t: $ttl"
eq 1 incr n
eq 11 incrby n 10
eq 10 decr n
eq OK mset a 1 b 2
eq $'1\n2' mget a b nosuch
eq 1 exists a
eq 2 del a b
eq 3 dbsize
eq greeting keys 'gr*'
eq "ERR value is not an integer or out of range" incr greeting
eq "ERR unknown command 'frob', with args beginning with: 'x' " frob x
eq "ERR wrong number of arguments for 'get' command" get
eq OK select 0
eq "ERR DB index is out of range" select 3
eq save config get save
cli info | grep -q '^redis_version:' || fail "info: no redis_version"
# a value with every byte value, through stdin (-x)
head -c 256 /dev/urandom > "$tmp/bin"
cli -x set bin < "$tmp/bin" >/dev/null || fail "set -x"
eq "ERR unknown command 'strlen', with args beginning with: 'bin' " strlen bin
cli get bin | head -c 256 | cmp -s - "$tmp/bin" || fail "binary value differs"
eq OK flushall
eq 0 dbsize
echo "redis-cli round trips ok"

bench() {
    timeout 120 redis-benchmark -p "$port" -c 50 -n 2000 -t get,set -q "$@" > "$tmp/bench" 2>&1 ||
        fail "redis-benchmark $*: $(tail -3 "$tmp/bench")"
    tr '\r' '\n' < "$tmp/bench" > "$tmp/bench.lines"
    ! grep -qi 'error' "$tmp/bench.lines" || fail "redis-benchmark $*: $(grep -i error "$tmp/bench.lines" | head -3)"
    for t in SET GET; do
        grep -q "^$t: [0-9.]* requests per second" "$tmp/bench.lines" ||
            fail "redis-benchmark $*: no $t result: $(cat "$tmp/bench.lines")"
    done
    grep 'requests per second' "$tmp/bench.lines" | sed 's/^/  /'
}
bench
bench -P 16
echo "redis-benchmark -c 50 -n 2000 -t get,set ok"
kill -0 $pid || fail "the server died: $(cat "$out")"
echo "Test result: SUCCESS"
