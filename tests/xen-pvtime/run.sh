#!/usr/bin/env bash
# run.sh: conformance test: tests/pvtime (PV clock, wallclock, timers, VIRQ_TIMER, SCHEDOP_block and SCHEDOP_poll) as dom0 of real Xen 4.17.
#
# Run from the top directory after `make build/tests/pvtime.elf`. Prints the
# guest's output and, last, exactly one line "Test result: ...": the guest's.
set -uo pipefail

app=build/tests/pvtime.elf
out=build/tests/xen-pvtime
mkdir -p "$out"

result() {
    echo "Test result: $1"
    exit 0
}

if [ ! -f /boot/xen-4.17-amd64.gz ]; then
    echo "xen-pvtime: /boot/xen-4.17-amd64.gz is not installed"
    result SKIP
fi
if [ ! -f "$app" ]; then
    echo "xen-pvtime: $app is missing (run: make $app)"
    result ERROR
fi

# Guest time is exact only with -icount (TCG timers otherwise lag by
# milliseconds on a loaded host); the test checks 10 ms sleeps to 1 ms.
export XEN_QEMU_EXTRA="-icount shift=0,sleep=off"
bash ci/xen-conformance.sh -t 90 -l "$out/xen.log" "$app" name=pvtime \
    >"$out/guest.out" 2>"$out/runner.err"
rc=$?
grep -v '^Test result:' "$out/guest.out"
res=$(grep -o '^Test result: [A-Z]*' "$out/guest.out" | tail -1 | awk '{print $3}')

case $rc in
0|1) ;;
77) cat "$out/runner.err"; result SKIP ;;
*)  cat "$out/runner.err"
    echo "xen-pvtime: Xen did not report dom0's end (log: $out/xen.log)"
    result ERROR ;;
esac
if [ -z "$res" ]; then
    echo "xen-pvtime: the guest printed no Test result line (log: $out/xen.log)"
    result ERROR
fi
if [ $rc -eq 1 ] && [ "$res" = SUCCESS ]; then
    echo "xen-pvtime: dom0 crashed after reporting SUCCESS (log: $out/xen.log)"
    result FAILURE
fi
result "$res"
