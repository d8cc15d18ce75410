# Format-specific interop cases for vhd (sourced by tests/img-interop/run.sh,
# which calls cases_vhd from inside its scratch directory; see run.sh for
# $KI, $QI, $QIO, mkref, qio, case_begin, pass/fail/skip, run).
# qemu-img calls the format "vpc"; it has no check for it and cannot create
# differencing images (its driver opens them but ignores the parent).

# Virtual size as qemu-img info reports it.
qsize() { $QI info -f vpc --output=json "$1" | sed -n 's/.*"virtual-size": *\([0-9]*\).*/\1/p'; }
ksize() { "$KI" info -f vhd "$1" | sed -n 's/^virtual size: .*(\([0-9]*\) bytes).*/\1/p'; }

cases_vhd() {
    rm -f ./* 2>/dev/null; rm -rf sub
    truncate -s 16M ref.raw && mkref ref.raw 16M || { echo "cannot make the reference"; return 1; }

    local sub
    for sub in fixed dynamic; do
        case_begin "vhd: qemu-img $sub image (qemu-io writes) reads back identically"
        if run $QI create -f vpc -o subformat=$sub q-$sub.vhd 16M && mkref q-$sub.vhd 16M vhd &&
           run $QI convert -f vpc -O raw q-$sub.vhd q-$sub.raw &&
           run "$KI" compare -f vhd -F raw q-$sub.vhd q-$sub.raw; then pass
        else fail "keel-img reads of a qemu-written $sub vhd differ"; fi

        case_begin "vhd: keel-img convert -o subformat=$sub passes qemu-img compare"
        if run "$KI" convert -f raw -O vhd -o subformat=$sub ref.raw k-$sub.vhd &&
           run $QI compare -f raw -F vpc ref.raw k-$sub.vhd &&
           run "$KI" check -f vhd k-$sub.vhd; then pass
        else fail "qemu-img compare of a keel-written $sub vhd"; fi
    done

    # CHS rounding: both tools must agree on the virtual size of each
    # other's images, for sizes that round and for one past the CHS limit.
    case_begin "vhd: virtual sizes agree with qemu-img (CHS rounding)"
    local ok=1 s
    for s in 1M 3M 10M 100M 1000M 130G; do
        for sub in dynamic fixed; do
            [ $sub = fixed ] && [ $s = 130G ] && continue
            run $QI create -f vpc -o subformat=$sub qs.vhd $s && run "$KI" create -f vhd -o subformat=$sub ks.vhd $s || { ok=0; continue; }
            local a b c d
            a=$(qsize qs.vhd); b=$(ksize qs.vhd); c=$(qsize ks.vhd); d=$(ksize ks.vhd)
            echo "$s $sub: qemu image qemu=$a keel=$b; keel image qemu=$c keel=$d" >> "$LOG"
            [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] && [ "$a" = "$d" ] || ok=0
            rm -f qs.vhd ks.vhd
        done
    done
    if [ $ok = 1 ]; then pass; else fail "virtual sizes differ"; fi

    # Differencing chains (made by keel-img: qemu-img cannot), with the
    # parent named relatively (W2ru locator), from a subdirectory, and
    # absolutely (W2ku).
    case_begin "vhd: differencing chain, relative, subdirectory and absolute parents"
    cp ref.raw exp.raw
    mkdir -p sub
    if run "$KI" convert -f raw -O vhd ref.raw base.vhd &&
       run "$KI" create -f vhd -b base.vhd -F vhd d1.vhd &&
       run "$KI" create -f vhd -b ../d1.vhd -F vhd sub/d2.vhd &&
       run "$KI" create -f vhd -b "$PWD/sub/d2.vhd" -F vhd d3.vhd &&
       run "$KI" write -f vhd -P 0xc1 d1.vhd 1000k 100k &&
       run "$KI" write -f vhd -P 0xc2 sub/d2.vhd 5000 3000 &&
       run "$KI" write -f vhd -P 0xc3 d3.vhd 12M 2M &&
       run $QIO -f raw -c "write -P 0xc1 1000k 100k" -c "write -P 0xc2 5000 3000" \
            -c "write -P 0xc3 12M 2M" exp.raw &&
       run "$KI" compare -f vhd -F raw d3.vhd exp.raw &&
       run "$KI" check -f vhd d3.vhd && run "$KI" info -f vhd d3.vhd &&
       run "$KI" convert -f vhd -O raw d3.vhd d3.raw && run $QI compare -f raw -F raw d3.raw exp.raw; then pass
    else fail "the vhd chain reads wrong"; fi

    case_begin "vhd: a missing parent is a clean error"
    mv base.vhd base.moved
    if run "$KI" compare -f vhd -F raw d1.vhd ref.raw; then fail "opened without its parent"
    elif grep -q "parent" "$LOG"; then pass
    else fail "error does not name the parent"; fi
    mv base.moved base.vhd
}
