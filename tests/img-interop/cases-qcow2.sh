# Format-specific interop cases for qcow2 (owned by the qcow2 driver's engineer).
# Contract: tests/img-interop/run.sh sources this file and, only when the
# qcow2 driver is built, calls the function cases_qcow2 (define it here) from
# inside a scratch directory $T (the cwd), after the generic cases.
# Available from run.sh:
#   $KI (build/tools/keel-img), $QI (qemu-img), $QIO (qemu-io), $T
#   qfmt FMT          qemu's name of a format (vhd -> vpc)
#   mkref FILE SIZE [FMT]   write the standard pattern set (PATTERNS in
#                     run.sh, all below 16 MiB) into FILE with qemu-io;
#                     creates FILE as raw of SIZE if it does not exist
#   qio ARGS...       qemu-io -c "<each pattern>" ARGS (ARGS: open options
#                     and file, e.g. --image-opts driver=qcow2,...)
#   case_begin NAME; then exactly one of: pass | fail "why" | skip "why"
#   run CMD...        runs CMD with its output to the log; returns its status
# Keep every case short (a few seconds at most).

# qemu-img made and wrote IMG with the patterns: keel-img reads it exactly
# and finds it clean; keel-img then writes into it (a partial cluster, a
# whole cluster, across clusters) and qemu-img finds it clean and exact.
qc_rw_case() {
    local name=$1 opts=$2
    case_begin "qcow2: $name: qemu-img image reads exactly, keel-img writes pass qemu-img"
    rm -f t.qcow2 exp.raw
    cp ref.raw exp.raw
    if ! run $QI create -f qcow2 -o "$opts" t.qcow2 16M || ! mkref t.qcow2 16M qcow2; then
        fail "qemu could not make the image"; return
    fi
    if ! run "$KI" compare -f qcow2 -F raw t.qcow2 ref.raw; then fail "keel-img read differs"; return; fi
    if ! run "$KI" check -f qcow2 t.qcow2; then fail "keel-img check of a qemu image"; return; fi
    if run "$KI" write -f qcow2 -P 0xc1 t.qcow2 70000 5000 && run "$KI" write -f qcow2 -P 0xc2 t.qcow2 4M 2M &&
       run "$KI" write -f qcow2 -P 0xc3 t.qcow2 12M 1000 &&
       run $QIO -f raw -c "write -P 0xc1 70000 5000" -c "write -P 0xc2 4M 2M" -c "write -P 0xc3 12M 1000" exp.raw &&
       run $QI check -f qcow2 t.qcow2 && run $QI compare -f raw -F qcow2 exp.raw t.qcow2; then pass
    else fail "qemu-img check/compare after keel-img writes"; fi
}

# keel-img creates with OPTS and converts the reference: qemu-img finds it
# clean and identical, and reports the options.
qc_create_case() {
    local name=$1 opts=$2 expect=$3
    case_begin "qcow2: $name: keel-img convert -o $opts passes qemu-img check and compare"
    rm -f k.qcow2
    if run "$KI" convert -f raw -O qcow2 -o "$opts" ref.raw k.qcow2 && run $QI check -f qcow2 k.qcow2 &&
       run $QI compare -f raw -F qcow2 ref.raw k.qcow2 &&
       { [ -z "$expect" ] || $QI info k.qcow2 | grep -q "$expect"; }; then pass
    else fail "qemu-img check/compare/info of a keel-made image"; fi
}

cases_qcow2() {
    truncate -s 16M ref.raw && mkref ref.raw 16M || { fail "cannot make the reference"; return; }

    local c v
    for v in 0.10 1.1; do
        for c in 512 4k 64k 2M; do
            qc_rw_case "compat=$v cluster_size=$c" "compat=$v,cluster_size=$c"
        done
    done
    for c in 1 2 4 8 32 64; do
        qc_rw_case "refcount_bits=$c" "refcount_bits=$c"
        qc_create_case "refcount_bits=$c" "refcount_bits=$c" "refcount bits: $c"
    done
    qc_create_case "compat=0.10" "compat=0.10" "compat: 0.10"
    qc_create_case "cluster_size=512" "cluster_size=512" "cluster_size: 512"
    qc_create_case "cluster_size=2M" "cluster_size=2M" "cluster_size: 2097152"
    qc_create_case "lazy_refcounts" "lazy_refcounts=on" "lazy refcounts: true"
    qc_create_case "extended_l2" "extended_l2=on" "extended l2: true"
    qc_rw_case "extended_l2=on" "extended_l2=on"
    qc_rw_case "extended_l2=on cluster_size=2M" "extended_l2=on,cluster_size=2M"
    qc_rw_case "lazy_refcounts=on" "lazy_refcounts=on"

    case_begin "qcow2: refcount table growth (512-byte clusters, refcount_bits=64)"
    rm -f k.qcow2
    if run "$KI" convert -f raw -O qcow2 -o cluster_size=512,refcount_bits=64 ref.raw k.qcow2 &&
       run $QI check -f qcow2 k.qcow2 && run $QI compare -f raw -F qcow2 ref.raw k.qcow2; then pass
    else fail "qemu-img check/compare"; fi

    case_begin "qcow2: compressed image (qemu-img convert -c) reads exactly"
    rm -f c.qcow2
    if run $QI convert -c -f raw -O qcow2 ref.raw c.qcow2 && run "$KI" compare -f qcow2 -F raw c.qcow2 ref.raw &&
       run "$KI" check -f qcow2 c.qcow2 && "$KI" info -f qcow2 c.qcow2 | grep -q "compressed clusters: yes"; then pass
    else fail "keel-img read/check/info of a compressed image"; fi

    case_begin "qcow2: keel-img writes into a compressed image"
    cp ref.raw exp.raw
    if run "$KI" write -f qcow2 -P 0xd1 c.qcow2 10000 70000 &&
       run $QIO -f raw -c "write -P 0xd1 10000 70000" exp.raw &&
       run $QI check -f qcow2 c.qcow2 && run $QI compare -f raw -F qcow2 exp.raw c.qcow2; then pass
    else fail "qemu-img check/compare"; fi

    for c in 512 4k 64k; do
        case_begin "qcow2: keel-img convert -c (cluster_size=$c) passes qemu-img, clusters compressed"
        rm -f kc.qcow2
        if run "$KI" convert -c -f raw -O qcow2 -o cluster_size=$c ref.raw kc.qcow2 &&
           run $QI check -f qcow2 kc.qcow2 && run $QI compare -f raw -F qcow2 ref.raw kc.qcow2 &&
           ! $QI check -f qcow2 kc.qcow2 | grep -q " 0.00% compressed"; then pass
        else fail "qemu-img check/compare of a keel-compressed image"; fi
    done

    # convert -c writes every non-zero output cluster whole, so clusters of
    # any size compress (a 2 MiB cluster holding a few scattered writes too).
    # qemu-img 7.2's map shows a compressed extent as data without a host
    # offset (later versions also say "compressed": true).
    for c in 64k 2M; do
        case_begin "qcow2: keel-img convert -c (cluster_size=$c): qemu-img check, map and compare"
        rm -f kc.qcow2
        if run "$KI" convert -c -f raw -O qcow2 -o cluster_size=$c ref.raw kc.qcow2 &&
           run $QI check -f qcow2 kc.qcow2 &&
           $QI check -f qcow2 kc.qcow2 | grep -q " 100.00% compressed clusters" &&
           $QI map -f qcow2 --output=json kc.qcow2 > map.json 2>> "$LOG" &&
           grep '"data": true' map.json | grep -vq '"offset"' &&
           ! grep '"data": true' map.json | grep -q '"offset"' &&
           run $QI compare -f raw -F qcow2 ref.raw kc.qcow2; then pass
        else fail "qemu-img check/map/compare of keel-img convert -c at cluster_size=$c"; fi
    done

    case_begin "qcow2: zero clusters (v3 zero flag over data and over a backing file)"
    rm -f zb.qcow2 zt.qcow2 z.raw
    if run $QI create -f qcow2 zb.qcow2 16M && mkref zb.qcow2 16M qcow2 &&
       run $QI create -f qcow2 -b zb.qcow2 -F qcow2 zt.qcow2 &&
       run $QIO -f qcow2 -c "write -z 0 128k" -c "write -z 12M 64k" -c "write -P 0x5a 12M 512" zt.qcow2 &&
       run $QI convert -f qcow2 -O raw zt.qcow2 z.raw && run "$KI" compare -f qcow2 -F raw zt.qcow2 z.raw &&
       run "$KI" write -f qcow2 -P 0x5b zt.qcow2 100k 1k && run $QIO -f raw -c "write -P 0x5b 100k 1k" z.raw &&
       run $QI check -f qcow2 zt.qcow2 && run $QI compare -f raw -F qcow2 z.raw zt.qcow2; then pass
    else fail "zero clusters read or rewrite differ"; fi

    case_begin "qcow2: three-level chain, v2 and v3 mixed, extended_l2 top, keel-img COW writes"
    rm -f b0.qcow2 b1.qcow2 b2.qcow2 chain.raw
    if run $QI create -f qcow2 -o compat=0.10,cluster_size=4k b0.qcow2 16M && mkref b0.qcow2 16M qcow2 &&
       run $QI create -f qcow2 -o cluster_size=64k -b b0.qcow2 -F qcow2 b1.qcow2 &&
       run $QIO -f qcow2 -c "write -P 0xe1 60k 10k" -c "write -z 1M 64k" b1.qcow2 &&
       run $QI create -f qcow2 -o extended_l2=on,cluster_size=64k -b b1.qcow2 -F qcow2 b2.qcow2 &&
       run $QIO -f qcow2 -c "write -P 0xe2 4k 4k" -c "write -P 0xe3 3M 2k" b2.qcow2 &&
       run $QI convert -f qcow2 -O raw b2.qcow2 chain.raw && run "$KI" compare -f qcow2 -F raw b2.qcow2 chain.raw &&
       run "$KI" write -f qcow2 -P 0xe4 b2.qcow2 40k 8k && run "$KI" write -f qcow2 -P 0xe5 b1.qcow2 8M 3k &&
       run $QIO -f raw -c "write -P 0xe4 40k 8k" -c "write -P 0xe5 8M 3k" chain.raw &&
       run $QI check -f qcow2 b1.qcow2 && run $QI check -f qcow2 b2.qcow2 &&
       run $QI compare -f raw -F qcow2 chain.raw b2.qcow2; then pass
    else fail "chain reads or copy-on-write differ"; fi

    case_begin "qcow2: dirty lazy-refcount image (qemu-io abort) is repaired when opened for writing"
    rm -f d.qcow2 exp.raw
    cp ref.raw exp.raw
    if run $QI create -f qcow2 -o lazy_refcounts=on d.qcow2 16M && mkref d.qcow2 16M qcow2 &&
       run sh -c "$QIO -f qcow2 -c 'write -P 0xf1 5M 300k' -c abort d.qcow2 2>/dev/null"; [ -s d.qcow2 ] &&
       $QI info d.qcow2 | grep -q "dirty bit\|corrupt: false" &&
       "$KI" info -f qcow2 d.qcow2 | grep -q "dirty: yes" &&
       run "$KI" write -f qcow2 -P 0xf2 d.qcow2 6M 4k &&
       run $QIO -f raw -c "write -P 0xf1 5M 300k" -c "write -P 0xf2 6M 4k" exp.raw &&
       run $QI check -f qcow2 d.qcow2 && ! $QI info d.qcow2 | grep -q "dirty bit: true" &&
       run $QI compare -f raw -F qcow2 exp.raw d.qcow2; then pass
    else fail "dirty image not repaired or contents differ"; fi

    case_begin "qcow2: internal snapshots are listed; the active layer reads exactly"
    rm -f s.qcow2
    if run $QI create -f qcow2 s.qcow2 16M && mkref s.qcow2 16M qcow2 && run $QI snapshot -c first s.qcow2 &&
       run $QIO -f qcow2 -c "write -P 0x01 0 64k" s.qcow2 && run $QI snapshot -c second s.qcow2 &&
       "$KI" info -f qcow2 s.qcow2 > info.txt 2>&1 && grep -q first info.txt && grep -q second info.txt &&
       run "$KI" check -f qcow2 s.qcow2 && run $QI convert -f qcow2 -O raw s.qcow2 s.raw &&
       run "$KI" compare -f qcow2 -F raw s.qcow2 s.raw; then pass
    else fail "snapshots not listed, check failed or active layer differs"; fi

    local sec=(--object secret,id=sec0,data=keel-pass)
    case_begin "qcow2: LUKS: keel-img writes into a qemu-made encrypted image"
    rm -f e.qcow2 exp.raw
    cp ref.raw exp.raw
    # qemu-img's PBKDF benchmark sometimes fails on a loaded machine
    # ("Unable to get accurate CPU usage": its thread CPU clock did not
    # move): try several times, and skip (not fail) if it never succeeds.
    local i
    for i in 1 2 3 4 5 6 7 8; do
        run $QI create -f qcow2 "${sec[@]}" -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10,cluster_size=4k e.qcow2 16M && break
        rm -f e.qcow2
        sleep 0.2
    done
    if [ ! -e e.qcow2 ] && grep -q "Unable to get accurate CPU usage" "$LOG"; then
        skip "qemu-img could not create a LUKS image here (its PBKDF benchmark failed 8 times)"
    elif [ -e e.qcow2 ] &&
       qio "${sec[@]}" --image-opts driver=qcow2,file.filename=e.qcow2,encrypt.key-secret=sec0 &&
       run "$KI" write "${sec[@]}" -f qcow2 -P 0xab e.qcow2 5000 10000 &&
       run $QIO -f raw -c "write -P 0xab 5000 10000" exp.raw &&
       run $QI check "${sec[@]}" --image-opts driver=qcow2,file.filename=e.qcow2,encrypt.key-secret=sec0 &&
       run $QI compare "${sec[@]}" --image-opts driver=raw,file.filename=exp.raw \
           driver=qcow2,file.filename=e.qcow2,encrypt.key-secret=sec0; then pass
    else fail "qemu-img check/compare of the encrypted image after keel-img writes"; fi

    # An encrypted image to open with the wrong passphrase: qemu's, or ours
    # where qemu-img could not make one.
    [ -e e.qcow2 ] || run "$KI" create -f qcow2 "${sec[@]}" \
        -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 e.qcow2 16M
    case_begin "qcow2: LUKS: a wrong passphrase is a clean error"
    if "$KI" info --secret wrong -f qcow2 e.qcow2 > err.txt 2>&1; then fail "opened with a wrong passphrase"
    elif grep -qi "passphrase" err.txt; then pass
    else fail "error does not name the passphrase: $(head -1 err.txt)"; fi
}
