# Format-specific interop cases for vmdk (sourced by tests/img-interop/run.sh,
# which calls cases_vmdk from inside its scratch directory; see run.sh for
# $KI, $QI, $QIO, mkref, qio, case_begin, pass/fail/skip, run).
cases_vmdk() {
    rm -f ./* 2>/dev/null
    truncate -s 16M ref.raw && mkref ref.raw 16M || { echo "cannot make the reference"; return 1; }

    local sub
    for sub in monolithicSparse monolithicFlat streamOptimized; do
        case_begin "vmdk: qemu-img convert -o subformat=$sub reads back identically"
        if run $QI convert -f raw -O vmdk -o subformat=$sub ref.raw q-$sub.vmdk &&
           run "$KI" compare -f vmdk -F raw q-$sub.vmdk ref.raw &&
           run "$KI" check -f vmdk q-$sub.vmdk &&
           "$KI" info -f vmdk q-$sub.vmdk 2>>"$LOG" | grep -q "subformat: $sub"; then pass
        else fail "keel-img reads of a qemu $sub vmdk differ"; fi
    done

    case_begin "vmdk: qemu-io writes into a monolithicFlat image read back identically"
    if run $QI create -f vmdk -o subformat=monolithicFlat qf.vmdk 16M && mkref qf.vmdk 16M vmdk &&
       run "$KI" compare -f vmdk -F raw qf.vmdk ref.raw; then pass
    else fail "flat image written by qemu-io reads wrong"; fi

    case_begin "vmdk: keel-img writes into a monolithicFlat image"
    cp ref.raw exp.raw
    if run "$KI" write -f vmdk -P 0xd1 qf.vmdk 5000 70000 &&
       run $QIO -f raw -c "write -P 0xd1 5000 70000" exp.raw &&
       run $QI check -f vmdk qf.vmdk && run $QI compare -f raw -F vmdk exp.raw qf.vmdk; then pass
    else fail "qemu-img compare after keel-img writes to a flat vmdk"; fi

    case_begin "vmdk: a streamOptimized image is read-only"
    if run "$KI" write -f vmdk -P 0xd2 q-streamOptimized.vmdk 0 4096; then fail "write accepted"
    elif run "$KI" compare -f vmdk -F raw q-streamOptimized.vmdk ref.raw; then pass
    else fail "image changed by a refused write"; fi

    case_begin "vmdk: keel-img writes into qemu-made monolithicSparse keep both GT copies"
    cp ref.raw exp.raw
    if run $QI create -f vmdk s.vmdk 16M && mkref s.vmdk 16M vmdk &&
       run "$KI" write -f vmdk -P 0xd3 s.vmdk 15M 1M && run "$KI" write -f vmdk -P 0xd4 s.vmdk 777 1000 &&
       run $QIO -f raw -c "write -P 0xd3 15M 1M" -c "write -P 0xd4 777 1000" exp.raw &&
       run "$KI" check -f vmdk s.vmdk && run $QI check -f vmdk s.vmdk &&
       run $QI compare -f raw -F vmdk exp.raw s.vmdk; then pass
    else fail "check/compare after keel-img writes"; fi

    case_begin "vmdk: a missing flat extent is a clean error"
    rm -f qf-flat.vmdk
    if run "$KI" info -f vmdk qf.vmdk; then fail "opened without its extent"
    elif grep -q "extent" "$LOG"; then pass
    else fail "error does not name the extent"; fi
}
