#!/usr/bin/env bash
# Image benchmarks (host, one run): 4 KiB I/O through each driver against
# raw, and a 1 GiB sparse qcow2 -> raw convert against qemu-img's.
# Writes bench/img-results.json and prints a table.
set -eu
cd "$(dirname "$0")/../.."
B=build/bench-img
BENCH=build/tapdisk/bench-img
KI=build/tools/keel-img-opt
D=$(mktemp -d "${TMPDIR:-/var/tmp}/keel-bench-img.XXXXXX")
trap 'rm -rf "$D"' EXIT

io=$($BENCH "$D" raw qcow2 vhd vmdk)

# 1 GiB qcow2, 1 MiB of data every 16 MiB (64 MiB in all), plus a
# compressed-free, zero-cluster-free layout: qemu-img writes it.
qemu-img create -q -f qcow2 "$D/src.qcow2" 1G
cmds=()
for i in $(seq 0 63); do cmds+=(-c "write -P $((i % 250 + 1)) $((i * 16))M 1M"); done
qemu-io -f qcow2 "${cmds[@]}" "$D/src.qcow2" >/dev/null
sync
# Each convert writes a fresh output file in the same directory as the
# other's, the input in the page cache; both with their default cache mode
# (cache=unsafe for the output: no flush; keel-img follows qemu-img here).
# Five runs each, alternating; the median counts.
cat "$D/src.qcow2" >/dev/null
t() { local s e; rm -f "$1"; shift; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
tqs=() tks=()
for i in 1 2 3 4 5; do
    tqs+=("$(t "$D/q.raw" qemu-img convert -f qcow2 -O raw "$D/src.qcow2" "$D/q.raw")")
    tks+=("$(t "$D/k.raw" "$KI" convert -f qcow2 -O raw "$D/src.qcow2" "$D/k.raw")")
done
med() { printf '%s\n' "$@" | sort -g | sed -n 3p; }
tq=$(med "${tqs[@]}")
tk=$(med "${tks[@]}")
same=$(cmp -s "$D/q.raw" "$D/k.raw" && echo true || echo false)

python3 - "$io" "$tq" "$tk" "$same" <<'PY'
import json, sys
io = json.loads(sys.argv[1]); tq = float(sys.argv[2]); tk = float(sys.argv[3])
same = sys.argv[4] == "true"
raw = io.get("raw", {})
res = {"io_4k": io, "ratios_vs_raw": {}, "convert_1g_sparse_qcow2_to_raw": {
    "keel_img_s": round(tk, 3), "qemu_img_s": round(tq, 3),
    "keel_over_qemu_time": round(tk / tq, 3) if tq else None, "outputs_identical": same}}
print("%-6s %12s %12s %12s %12s" % ("driver", "seq write", "seq read", "rand write", "rand read"))
keys = ["seq_write_MBps", "seq_read_MBps", "rand_write_MBps", "rand_read_MBps"]
for fmt, v in io.items():
    r = {k: round(v[k] / raw[k], 3) if raw.get(k) else None for k in keys}
    res["ratios_vs_raw"][fmt] = r
    print("%-6s " % fmt + " ".join("%6.0f MB/s %4.2fx" % (v[k], r[k] or 0) for k in keys))
print("convert 1 GiB sparse qcow2 -> raw (median of 5): keel-img %.3f s, qemu-img %.3f s (%.2fx the time), outputs %s"
      % (tk, tq, tk / tq if tq else 0, "identical" if same else "DIFFER"))
if "qcow2" in res["ratios_vs_raw"]:
    q = res["ratios_vs_raw"]["qcow2"]["seq_read_MBps"]
    print("goal qcow2 seq read >= 0.9x raw: %s (%.2fx)" % ("met" if q and q >= 0.9 else "NOT met", q or 0))
print("goal convert no slower than qemu-img: %s" % ("met" if tk <= tq else "NOT met"))
json.dump(res, open("bench/img-results.json", "w"), indent=2)
PY
