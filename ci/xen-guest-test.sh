#!/usr/bin/env bash
# Runs a guest test (build/tests/NAME.elf) as dom0 of real Xen 4.17 and
# prints its output and, last, exactly one "Test result: ..." line: the
# guest's, or SKIP/ERROR/FAILURE if Xen is missing or dom0 did not end well.
#   ci/xen-guest-test.sh [--as TEST] NAME [guest args...]
# TEST (default xen-NAME) names the output directory build/tests/TEST: two
# tests that run the same guest with different arguments need their own, as
# the runner starts them in parallel.
# XEN_QEMU_EXTRA / XEN_APPEND_EXTRA pass through to ci/xen-conformance.sh.
set -uo pipefail
as=
if [ "${1:-}" = --as ]; then
    as=$2
    shift 2
fi
name=$1
shift
app=build/tests/$name.elf
tag=${as:-xen-$name}
out=build/tests/$tag
mkdir -p "$out"

result() {
    echo "Test result: $1"
    exit 0
}

if [ ! -f /boot/xen-4.17-amd64.gz ]; then
    echo "$tag: /boot/xen-4.17-amd64.gz is not installed"
    result SKIP
fi
if [ ! -f "$app" ]; then
    echo "$tag: $app is missing (run: make $app)"
    result ERROR
fi

bash ci/xen-conformance.sh -t 90 -l "$out/xen.log" "$app" "name=$name" "$@" \
    >"$out/guest.out" 2>"$out/runner.err"
rc=$?
grep -v '^Test result:' "$out/guest.out"
res=$(grep -o '^Test result: [A-Z]*' "$out/guest.out" | tail -1 | awk '{print $3}')

case $rc in
0|1) ;;
77) cat "$out/runner.err"; result SKIP ;;
*)  cat "$out/runner.err"
    echo "$tag: Xen did not report dom0's end (log: $out/xen.log)"
    result ERROR ;;
esac
if [ -z "$res" ]; then
    echo "$tag: the guest printed no Test result line (log: $out/xen.log)"
    result ERROR
fi
if [ $rc -eq 1 ] && [ "$res" = SUCCESS ]; then
    echo "$tag: dom0 crashed after reporting SUCCESS (log: $out/xen.log)"
    result FAILURE
fi
result "$res"
