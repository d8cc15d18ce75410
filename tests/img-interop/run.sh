#!/usr/bin/env bash
# Interop of the image drivers (through keel-img) with qemu-img/qemu-io:
# generic cases for every built format, then tests/img-interop/cases-<fmt>.sh.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
KI=$TOP/build/tools/keel-img
QI=qemu-img
QIO=qemu-io
export KI QI QIO

if [ ! -x "$KI" ]; then echo "no $KI (make all)"; echo "Test result: ERROR"; exit 0; fi
if ! command -v $QI >/dev/null || ! command -v $QIO >/dev/null; then
    echo "qemu-img/qemu-io not installed (qemu-utils)"; echo "Test result: SKIP"; exit 0
fi

T=$(mktemp -d /tmp/img-interop.XXXXXX)
trap 'rm -rf "$T"' EXIT
LOG=$T/log
npass=0 nfail=0 nskip=0 cur=""

case_begin() { cur=$1; : > "$LOG"; }
pass() { echo "PASS $cur"; npass=$((npass + 1)); }
skip() { echo "SKIP $cur: $1"; nskip=$((nskip + 1)); }
fail() {
    echo "FAIL $cur: $1"
    sed 's/^/    | /' "$LOG" | tail -15
    nfail=$((nfail + 1))
}
run() { "$@" >> "$LOG" 2>&1; }

qfmt() { if [ "$1" = vhd ]; then echo vpc; else echo "$1"; fi; }

# The standard patterns (qemu-io commands): aligned and unaligned writes,
# an overwrite, a zero write inside data, a write crossing 1 MiB.
PATTERNS=(
    "write -P 0x11 0 64k"
    "write -P 0x22 1M 4k"
    "write -P 0x33 3146240 1536"
    "write -P 0x44 8384512 8k"
    "write -P 0x55 16k 4k"
    "write -z 32k 4k"
    "write -P 0x66 12M 192k"
    "write -P 0x77 16773120 4096"
)
qio() {
    local args=() p
    for p in "${PATTERNS[@]}"; do args+=(-c "$p"); done
    $QIO "${args[@]}" "$@" >> "$LOG" 2>&1
}
mkref() {
    local file=$1 size=$2 fmt=${3:-raw}
    [ -e "$file" ] || truncate -s "$size" "$file" || return 1
    qio -f "$(qfmt "$fmt")" "$file"
}

# qemu-img check; formats without checks in qemu (raw, vpc: exit 63) pass.
qcheck() {
    run $QI check "$@"
    local rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 63 ]
}

have_fmt() { "$KI" formats | grep -qx "$1"; }

# ---- generic cases, per format ------------------------------------------

generic_cases() {
    local f=$1 q
    q=$(qfmt "$f")
    local sz=16M ref=ref.raw
    rm -f ./*
    truncate -s $sz $ref && mkref $ref $sz || { echo "cannot make the reference"; return 1; }

    case_begin "$f: qemu-img writes, keel-img reads (compare)"
    if run $QI create -f "$q" q.$f $sz && mkref q.$f $sz "$f" &&
       run "$KI" compare -f "$f" -F raw q.$f $ref; then pass
    else fail "keel-img compare of a qemu-written image with the reference"; fi

    case_begin "$f: keel-img info and check of a qemu-img image"
    if run "$KI" info -f "$f" q.$f && run "$KI" check -f "$f" q.$f; then pass
    else fail "info/check failed"; fi

    case_begin "$f: keel-img convert $f -> raw is exact"
    if run "$KI" convert -f "$f" -O raw q.$f k.raw &&
       run $QI compare -f raw -F raw k.raw $ref; then pass
    else fail "converted raw differs"; fi

    case_begin "$f: keel-img convert raw -> $f passes qemu-img check and compare"
    if run "$KI" convert -f raw -O "$f" $ref k.$f && qcheck -f "$q" k.$f &&
       run $QI compare -f raw -F "$q" $ref k.$f; then pass
    else fail "qemu-img check/compare of a keel-written image"; fi

    case_begin "$f: round trip raw -> $f -> raw (keel-img) is byte-exact"
    # (vhd may round the size up to its geometry: the extra must be zeros)
    if run "$KI" convert -O raw -f "$f" k.$f rt.raw &&
       run cmp -n "$(stat -c %s $ref)" rt.raw $ref && run $QI compare -f raw -F raw rt.raw $ref; then pass
    else fail "round trip differs"; fi

    case_begin "$f: keel-img writes into a qemu-img image"
    cp $ref exp.raw
    if run $QI create -f "$q" w.$f $sz && mkref w.$f $sz "$f" &&
       run "$KI" write -f "$f" -P 0x99 w.$f 1M 1M && run "$KI" write -f "$f" -P 0x9a w.$f 5000 3000 &&
       run $QIO -f raw -c "write -P 0x99 1M 1M" -c "write -P 0x9a 5000 3000" exp.raw &&
       qcheck -f "$q" w.$f && run $QI compare -f raw -F "$q" exp.raw w.$f; then pass
    else fail "qemu-img check/compare after keel-img writes"; fi

    case_begin "$f: keel-img create + write passes qemu-img check and compare"
    truncate -s 0 exp2.raw && truncate -s $sz exp2.raw
    if run "$KI" create -f "$f" c.$f $sz && run "$KI" write -f "$f" -P 0x42 c.$f 2M 200k &&
       run "$KI" write -f "$f" -P 0x43 c.$f 100000 1000 &&
       run $QIO -f raw -c "write -P 0x42 2M 200k" -c "write -P 0x43 100000 1000" exp2.raw &&
       qcheck -f "$q" c.$f && run $QI compare -f raw -F "$q" exp2.raw c.$f; then pass
    else fail "qemu-img check/compare of a keel-created image"; fi

    case_begin "$f: backing chain made by qemu-img reads correctly"
    if [ "$f" = raw ]; then skip "raw has no backing files"
    elif [ "$f" = vhd ]; then skip "qemu-img cannot create vhd differencing images (see cases-vhd.sh)"
    elif run $QI create -f "$q" base.$f $sz && mkref base.$f $sz "$f" &&
         run $QI create -f "$q" -b base.$f -F "$q" top.$f &&
         run $QIO -f "$q" -c "write -P 0xa1 0 4k" -c "write -P 0xa2 1000k 100k" -c "write -z 12M 64k" top.$f &&
         run $QI convert -f "$q" -O raw top.$f chain.raw &&
         run "$KI" compare -f "$f" -F raw top.$f chain.raw; then pass
    else fail "keel-img reads of the chain differ from qemu's"; fi

    case_begin "$f: backing chain made by keel-img passes qemu-img"
    if [ "$f" = raw ]; then skip "raw has no backing files"; return; fi
    cp $ref exp3.raw
    if ! run "$KI" convert -O "$f" $ref kb.$f || ! run "$KI" create -f "$f" -b kb.$f -F "$f" kt.$f ||
       ! run "$KI" write -f "$f" -P 0xb1 kt.$f 1000k 100k ||
       ! run $QIO -f raw -c "write -P 0xb1 1000k 100k" exp3.raw; then
        fail "keel-img could not make or write the chain"
    elif [ "$f" = vhd ]; then
        # qemu's vpc driver opens differencing images but ignores the
        # parent, so only keel-img can read the chain back.
        if run "$KI" check -f vhd kt.vhd && run "$KI" compare -f vhd -F raw kt.vhd exp3.raw; then pass
        else fail "keel-img reads of its own vhd chain differ"; fi
    elif qcheck -f "$q" kt.$f && run $QI compare -f raw -F "$q" exp3.raw kt.$f &&
         run "$KI" compare -f "$f" -F raw kt.$f exp3.raw; then pass
    else fail "qemu-img check/compare of a keel-made chain"; fi
}

# Encrypted qcow2 (LUKS), if the qcow2 driver supports it.
luks_cases() {
    local sec=(--object secret,id=sec0,data=keel-pass)
    rm -f ./*
    truncate -s 16M ref.raw && mkref ref.raw 16M
    case_begin "qcow2: LUKS image made by qemu-img reads with keel-img"
    # qemu-img's PBKDF timing fails now and then on a loaded machine
    # ("Unable to get accurate CPU usage"): try a few times.
    local i
    for i in 1 2 3 4 5; do
        run $QI create -f qcow2 "${sec[@]}" -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 e.qcow2 16M && break
        sleep 0.2
    done
    if [ ! -f e.qcow2 ] ||
       ! qio "${sec[@]}" --image-opts driver=qcow2,file.filename=e.qcow2,encrypt.key-secret=sec0; then
        fail "qemu could not make the encrypted image"
    elif "$KI" info -f qcow2 "${sec[@]}" e.qcow2 2>&1 | grep -qi 'not supported\|unsupported'; then
        skip "the qcow2 driver does not support LUKS yet"; return
    elif run "$KI" compare "${sec[@]}" -f qcow2 -F raw e.qcow2 ref.raw; then pass
    else fail "keel-img reads of the encrypted image differ"; fi

    case_begin "qcow2: LUKS image written by keel-img reads with qemu-img"
    if run "$KI" convert "${sec[@]}" -O qcow2 -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 ref.raw ke.qcow2 &&
       qcheck "${sec[@]}" --image-opts driver=qcow2,file.filename=ke.qcow2,encrypt.key-secret=sec0 &&
       run $QI compare "${sec[@]}" --image-opts driver=raw,file.filename=ref.raw \
           driver=qcow2,file.filename=ke.qcow2,encrypt.key-secret=sec0; then pass
    else fail "qemu-img check/compare of a keel-encrypted image"; fi
}

for f in raw qcow2 vhd vmdk; do
    if ! have_fmt $f; then
        echo "SKIP $f: driver not built"
        nskip=$((nskip + 1))
        continue
    fi
    mkdir -p "$T/$f"
    pushd "$T/$f" >/dev/null || exit 1
    generic_cases $f
    [ $f = qcow2 ] && luks_cases
    if [ -f "$TOP/tests/img-interop/cases-$f.sh" ]; then
        # shellcheck disable=SC1090
        source "$TOP/tests/img-interop/cases-$f.sh"
        rm -f ./*
        "cases_$f"
    fi
    popd >/dev/null || exit 1
done

echo "$npass passed, $nfail failed, $nskip skipped"
if [ $nfail -gt 0 ]; then echo "Test result: FAILURE"
elif [ $npass -eq 0 ]; then echo "Test result: SKIP"
else echo "Test result: SUCCESS"; fi
