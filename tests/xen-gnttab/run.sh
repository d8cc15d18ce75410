#!/usr/bin/env bash
# run.sh: conformance test: tests/gnttab (grant tables v1 in one domain: setup_table, query_size, versions, copy and self-mapping, exact GNTST_* of bad arguments) as dom0 of real Xen 4.17.
#
# Run from the top directory after `make build/tests/gnttab.elf`. Prints the
# guest's output and, last, exactly one line "Test result: ...": the guest's.
set -uo pipefail

app=build/tests/gnttab.elf
out=build/tests/xen-gnttab
mkdir -p "$out"

result() {
    echo "Test result: $1"
    exit 0
}

if [ ! -f /boot/xen-4.17-amd64.gz ]; then
    echo "xen-gnttab: /boot/xen-4.17-amd64.gz is not installed"
    result SKIP
fi
if [ ! -f "$app" ]; then
    echo "xen-gnttab: $app is missing (run: make $app)"
    result ERROR
fi

bash ci/xen-conformance.sh -t 90 -l "$out/xen.log" "$app" name=gnttab \
    >"$out/guest.out" 2>"$out/runner.err"
rc=$?
grep -v '^Test result:' "$out/guest.out"
res=$(grep -o '^Test result: [A-Z]*' "$out/guest.out" | tail -1 | awk '{print $3}')

case $rc in
0|1) ;;
77) cat "$out/runner.err"; result SKIP ;;
*)  cat "$out/runner.err"
    echo "xen-gnttab: Xen did not report dom0's end (log: $out/xen.log)"
    result ERROR ;;
esac
if [ -z "$res" ]; then
    echo "xen-gnttab: the guest printed no Test result line (log: $out/xen.log)"
    result ERROR
fi
if [ $rc -eq 1 ] && [ "$res" = SUCCESS ]; then
    echo "xen-gnttab: dom0 crashed after reporting SUCCESS (log: $out/xen.log)"
    result FAILURE
fi
result "$res"
