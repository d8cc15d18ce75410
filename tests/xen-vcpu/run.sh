#!/usr/bin/env bash
# run.sh: conformance test: tests/vcpu (VCPUOPs, a second vCPU brought up and down) as dom0 of real Xen 4.17.
#
# Run from the top directory after `make build/tests/vcpu.elf`. Prints the
# guest's output and, last, exactly one line "Test result: ...": the guest's.
set -uo pipefail

app=build/tests/vcpu.elf
out=build/tests/xen-vcpu
mkdir -p "$out"

result() {
    echo "Test result: $1"
    exit 0
}

if [ ! -f /boot/xen-4.17-amd64.gz ]; then
    echo "xen-vcpu: /boot/xen-4.17-amd64.gz is not installed"
    result SKIP
fi
if [ ! -f "$app" ]; then
    echo "xen-vcpu: $app is missing (run: make $app)"
    result ERROR
fi

# dom0 gets two vCPUs (QEMU -smp 2, Xen dom0_max_vcpus=2).
export XEN_QEMU_EXTRA="-smp 2" XEN_APPEND_EXTRA="dom0_max_vcpus=2"
bash ci/xen-conformance.sh -t 90 -l "$out/xen.log" "$app" name=vcpu vcpus=2 \
    >"$out/guest.out" 2>"$out/runner.err"
rc=$?
grep -v '^Test result:' "$out/guest.out"
res=$(grep -o '^Test result: [A-Z]*' "$out/guest.out" | tail -1 | awk '{print $3}')

case $rc in
0|1) ;;
77) cat "$out/runner.err"; result SKIP ;;
*)  cat "$out/runner.err"
    echo "xen-vcpu: Xen did not report dom0's end (log: $out/xen.log)"
    result ERROR ;;
esac
if [ -z "$res" ]; then
    echo "xen-vcpu: the guest printed no Test result line (log: $out/xen.log)"
    result ERROR
fi
if [ $rc -eq 1 ] && [ "$res" = SUCCESS ]; then
    echo "xen-vcpu: dom0 crashed after reporting SUCCESS (log: $out/xen.log)"
    result FAILURE
fi
result "$res"
