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

# PV core: event-channel round trips (one pCPU, two pCPUs), yield switch,
# timer deadline to upcall.
pv() {   # smp metric modules
    SMP=$1 TCG_SINGLE=1 bash ci/qemu-boot.sh "build/bench/$2.log" 600 256M "$3" $ICOUNT
    tr -d '\r' < "build/bench/$2.log" | grep -o "bench: $2=[0-9.]*" | head -1 | cut -d= -f2
}
PV=build/bench/pv.elf
k_evt1=$(pv 1 evtchn_round_trip_same_cpu_tsc "$PV name=ping op=ping peer=2 cpus=0,$PV name=pong op=pong peer=1 cpus=0" | tail -1)
k_evt2=$(pv 2 evtchn_round_trip_cross_cpu_tsc "$PV name=ping op=ping peer=2 cpus=0 tag=cross_cpu,$PV name=pong op=pong peer=1 cpus=1" | tail -1)
k_yield=$(pv 1 yield_switch_tsc "$PV name=y1 op=yield,$PV name=y2 op=yield" | tail -1)
k_timer=$(pv 1 timer_to_upcall_ns "$PV name=t op=timer" | tail -1)

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
  "null_hypercall_round_trip": { "keel": $(j "$k_null"), "xen-4.17": $(j "$x_null") },
  "evtchn_round_trip_one_pcpu": $(j "$k_evt1"),
  "evtchn_round_trip_two_pcpus": $(j "$k_evt2"),
  "domain_switch_by_yield": $(j "$k_yield"),
  "timer_deadline_to_upcall_ns": $(j "$k_timer")
}
JSON
printf '%-44s %14s %14s\n' "benchmark (TSC ticks, -icount)" "Keel" "Xen 4.17"
printf '%-44s %14s %14s\n' "hypervisor entry -> first guest instruction" "${k_entry:-?}" "-"
printf '%-44s %14s %14s\n' "domain build, hello mem=2M" "${k_build:-?}" "-"
printf '%-44s %14s %14s\n' "null hypercall round trip (avg of 100k)" "${k_null:-?}" "${x_null:-n/a}"
printf '%-44s %14s %14s\n' "event channel round trip, one pCPU" "${k_evt1:-?}" "-"
printf '%-44s %14s %14s\n' "event channel round trip, two pCPUs" "${k_evt2:-?}" "-"
printf '%-44s %14s %14s\n' "domain switch (SCHEDOP_yield ping-pong)" "${k_yield:-?}" "-"
printf '%-44s %14s %14s\n' "timer deadline -> guest upcall (ns)" "${k_timer:-?}" "-"
echo "wrote bench/results.json"
[ -n "$k_entry" ] && [ -n "$k_build" ] && [ -n "$k_null" ]
