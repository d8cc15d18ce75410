#!/usr/bin/env bash
# make bench: deterministic figures under QEMU -icount (the guest TSC
# counts instructions), on Keel and, where the guest can run there, on
# real Xen 4.17 in the same QEMU.  Writes bench/results.json and a table.
set -u
cd "$(dirname "$0")/.."
mkdir -p build/bench bench
ICOUNT="-icount shift=0,sleep=off"
klog=build/bench/keel.log
xlog=build/bench/xen.log

# Keel: a hello (domain build time) and the null-hypercall guest.
bash ci/qemu-boot.sh "$klog" 600 256M \
    "build/apps/hello.elf name=hello mem=2M,build/bench/null.elf name=null mem=4M" $ICOUNT
sed -i 's/\r$//' "$klog"
k_entry=$(grep -o 'bench: hv_entry_to_first_guest_tsc=[0-9]*' "$klog" | cut -d= -f2)
k_build=$(grep -o 'bench: domain_build_tsc d1=[0-9]*' "$klog" | cut -d= -f2)
k_null=$(grep -o 'bench: null_hypercall_tsc=[0-9.]*' "$klog" | cut -d= -f2)

# Real Xen: the same null-hypercall guest as dom0.
x_null=""
if [ -f /boot/xen-4.17-amd64.gz ]; then
    XEN_QEMU_EXTRA="$ICOUNT" bash ci/xen-conformance.sh -t 300 -l "$xlog" \
        build/bench/null.elf >/dev/null 2>&1
    x_null=$(tr -d '\r' < "$xlog" | grep -o 'bench: null_hypercall_tsc=[0-9.]*' | cut -d= -f2)
fi

j() { [ -n "$1" ] && echo "$1" || echo null; }
cat > bench/results.json <<JSON
{
  "units": "guest TSC ticks under QEMU TCG -icount shift=0 (1 tick = 1 instruction)",
  "hv_entry_to_first_guest_instruction": $(j "$k_entry"),
  "domain_build_hello_2M": $(j "$k_build"),
  "null_hypercall_round_trip": { "keel": $(j "$k_null"), "xen-4.17": $(j "$x_null") }
}
JSON
printf '%-44s %14s %14s\n' "benchmark (TSC ticks, -icount)" "Keel" "Xen 4.17"
printf '%-44s %14s %14s\n' "hypervisor entry -> first guest instruction" "${k_entry:-?}" "-"
printf '%-44s %14s %14s\n' "domain build, hello mem=2M" "${k_build:-?}" "-"
printf '%-44s %14s %14s\n' "null hypercall round trip (avg of 100k)" "${k_null:-?}" "${x_null:-n/a}"
echo "wrote bench/results.json"
[ -n "$k_entry" ] && [ -n "$k_build" ] && [ -n "$k_null" ]
