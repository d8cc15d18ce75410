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

# Run-time build (tests/rtbuild, one round): a control domain builds
# apps/hello mem=2M from its ELF with lib/dombuild; ticks from just before
# its DOMCTL_createdomain to the hypervisor's first switch to the new
# domain, which then runs hello's first instruction.
rtl=build/bench/rtbuild.log
SMP=1 TCG_SINGLE=1 bash ci/qemu-boot.sh "$rtl" 600 256M \
    "build/tests/rtbuild.elf name=ctl role=control mem=8M rounds=1 hello_mem=2048" $ICOUNT
rt0=$(tr -d '\r' < "$rtl" | grep -o 'bench: create_request_tsc d2=[0-9]*' | cut -d= -f2)
rt1=$(tr -d '\r' < "$rtl" | grep -o 'bench: d2 first_instruction_tsc=[0-9]*' | cut -d= -f2)
k_rtbuild=""
[ -n "$rt0" ] && [ -n "$rt1" ] && k_rtbuild=$((rt1 - rt0))
# The same for a PVH domain (tests/rtbuild-pvh, its second round: the
# first also proves refusals): tests/pvh mem=4M built by
# lib/dombuild/pvh.c, started by sethvmcontext; ticks from its
# DOMCTL_createdomain to the hypervisor's first switch to the new domain.
rpl=build/bench/rtbuild-pvh.log
SMP=1 TCG_SINGLE=1 bash ci/qemu-boot.sh "$rpl" 600 256M \
    "build/tests/rtbuild-pvh.elf name=ctl role=control mem=8M rounds=2 pvh_mem=4096" $ICOUNT
rp0=$(tr -d '\r' < "$rpl" | grep -o 'bench: create_request_tsc d3=[0-9]*' | cut -d= -f2)
rp1=$(tr -d '\r' < "$rpl" | grep -o 'bench: d3 first_instruction_tsc=[0-9]*' | cut -d= -f2)
k_rtbuild_pvh=""
[ -n "$rp0" ] && [ -n "$rp1" ] && k_rtbuild_pvh=$((rp1 - rp0))

# PVH exits handled in the hypervisor (tests/pvh mode=bench): CPUID, a
# read of unclaimed MMIO (nested page fault + decode + emulation), an IN
# from an unclaimed port, a hypercall (VMMCALL through the hypercall page).
pvhl=build/bench/pvh-exits.log
SMP=1 TCG_SINGLE=1 bash ci/qemu-boot.sh "$pvhl" 600 256M \
    "build/tests/pvh-test.elf name=pvh mem=4M type=pvh greeting=hi mode=bench" $ICOUNT
pvhv() { tr -d '\r' < "$pvhl" | grep -o "bench: $1=[0-9]*" | head -1 | cut -d= -f2; }
h_cpuid=$(pvhv pvh_cpuid_exit_tsc) h_mmio=$(pvhv pvh_mmio_read_exit_tsc)
h_pio=$(pvhv pvh_port_in_exit_tsc) h_hcall=$(pvhv pvh_hypercall_tsc)

# An ioreq round trip through the device model stub domain (stubdoms/dm):
# the PVH guest (mode=dm) reads COM1's scratch register 1,000 times, each
# an IN exit, an ioreq, the device model's answer and the vCPU resumed; on
# one pCPU, beside the PV event-channel round trip (goal: at most 2x).
dml=build/bench/pvh-ioreq.log
SMP=1 TCG_SINGLE=1 bash ci/qemu-boot.sh "$dml" 600 256M \
    "build/tests/pvh-test.elf name=hvm mem=4M type=pvh greeting=hi mode=dm,build/stubdoms/dm.elf name=dm mem=8M role=dm target=1" $ICOUNT
h_ioreq=$(tr -d '\r' < "$dml" | grep -o "bench: pvh_ioreq_round_trip_tsc=[0-9]*" | head -1 | cut -d= -f2)

# HVM from firmware: Debian's SeaBIOS from the reset vector to its first
# boot attempt (POST: fw_cfg, relocation, PCI through the device model,
# tables, TSC calibration with the PIT, no boot menu), in milliseconds of the
# hypervisor's log clock, which under -icount counts instructions (the
# domain is built, then held until its device model lets it run: from
# the device model's "serving" line).
sbl=build/bench/hvm-seabios.log
SMP=1 TCG_SINGLE=1 bash ci/qemu-boot.sh "$sbl" 600 256M \
    "/usr/share/seabios/bios.bin name=hvm mem=16M type=hvm,build/stubdoms/dm.elf name=dm mem=8M role=dm target=1 selftest=exit-on:Booting_from_Floppy" $ICOUNT
sbt() { tr -d '\r' < "$sbl" | grep -m1 "$1" | sed -E 's/^\[ *([0-9.]+)\].*/\1/'; }
sb0=$(sbt 'dm: serving d1') sb1=$(sbt 'debugcon: Booting from Floppy')
h_seabios=""
[ -n "$sb0" ] && [ -n "$sb1" ] && h_seabios=$(awk -v a="$sb0" -v b="$sb1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')

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

# The xenstore stub domain and the console ring (bench/xs_bench.c): request
# round trips through the stub, and console throughput to the serial line.
XS="build/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M exit=idle"
xsl=build/bench/xs.log
SMP=1 TCG_SINGLE=1 bash ci/qemu-boot.sh "$xsl" 600 256M "$XS,build/bench/xs.elf name=xs mem=8M" $ICOUNT
xsv() { tr -d '\r' < "$xsl" | grep -o "[ :]$1=[0-9.]*" | head -1 | cut -d= -f2; }
k_xsr=$(xsv xs_read_tsc)
k_xsw=$(xsv xs_write_tsc)
k_xst=$(xsv xs_transaction_tsc)
k_con=$(xsv console_bytes_per_ktick)

# PV memory (bench/mm_bench.c): batched mmu_update, grant copy against
# memcpy, grant map+unmap; one domain, so it also runs as dom0 of Xen.
kmm=build/bench/mm.log
xmm=build/bench/xen-mm.log
bash ci/qemu-boot.sh "$kmm" 600 256M "build/bench/mm.elf name=mm mem=8M" $ICOUNT
mmv() {   # log key: the value of "bench: ... key=V" (several per line)
    tr -d '\r' < "$1" | grep '^.*bench: ' | grep -o "[ :]$2=[0-9.]*" | head -1 | cut -d= -f2
}

# Preemption (bench/stall_bench.c): the worst timer lateness of a witness
# on the same pCPU while another domain runs (a) one mmu_update of
# 1,000,000 requests, (b) one grant copy of 100,000 ops and one map and one
# unmap of 32,000 device mappings, (c) its own destruction with 4 GiB.
ST=build/bench/stall.elf
stall() {   # name loader-op mem qemu-mem witness-ms loader-ms
    SMP=1 TCG_SINGLE=1 bash ci/qemu-boot.sh "build/bench/stall-$1.log" 900 "$4" \
        "$ST name=w op=witness dur=$5 cpus=0,$ST name=$1 op=$2 mem=$3 dur=$6 cpus=0" $ICOUNT
    tr -d '\r' < "build/bench/stall-$1.log" | grep -o 'stall_worst_timer_lateness_ns=[0-9]*' |
        head -1 | cut -d= -f2
}
k_st_mmu=$(stall mmu mmu 40M 256M 2000 2000)
k_st_gnt=$(stall grant grant 40M 256M 2000 2000)
k_st_dst=$(stall destroy idle 4G 4400M 4000 300)

# Real Xen: the same null-hypercall and mm guests as dom0.
x_null=""
: > "$xmm"
if [ -f /boot/xen-4.17-amd64.gz ]; then
    XEN_QEMU_EXTRA="$ICOUNT" bash ci/xen-conformance.sh -t 300 -l "$xlog" \
        build/bench/null.elf >/dev/null 2>&1
    x_null=$(tr -d '\r' < "$xlog" | grep -o 'bench: null_hypercall_tsc=[0-9.]*' | cut -d= -f2)
    XEN_QEMU_EXTRA="$ICOUNT" bash ci/xen-conformance.sh -t 300 -l "$xmm" \
        build/bench/mm.elf >/dev/null 2>&1
fi
for w in k x; do
    [ $w = k ] && f=$kmm || f=$xmm
    for n in 1 16 128; do eval "${w}_mmu$n=\$(mmv $f mmu_update_batch${n}_per_Minsn)"; done
    for n in 64 512 4096; do
        eval "${w}_gc$n=\$(mmv $f grant_copy_${n}_bytes_per_ktick)"
        eval "${w}_mc$n=\$(mmv $f memcpy_${n}_bytes_per_ktick)"
        eval "${w}_gr$n=\$(mmv $f ratio_$n)"
    done
    eval "${w}_map=\$(mmv $f grant_map_unmap_tsc)"
done

# Density (no -icount: plain TCG): the most stripped hello appliances that
# all boot, greet and power off on a 1 GiB host, for a few mem= sizes; each
# size climbs a ladder of counts until one fails.  QEMU loads every module
# into guest RAM, so the image is stripped.
HS=build/bench/hello-stripped.elf
llvm-strip -o "$HS" build/apps/hello.elf
density() {   # N MEM: 0 if all N said hello, powered off and all frames returned
    local n=$1 m=$2 log=build/bench/density-$1-$2.log mods="" i
    for ((i = 0; i < n; i++)); do mods+="${mods:+,}$HS mem=$m"; done
    bash ci/qemu-boot.sh "$log" 600 1G "$mods"
    local rc=$?
    sed -i 's/\r$//' "$log"
    d_last=$log
    [ $rc -eq 33 ] && [ "$(grep -c ') Hello, world$' "$log")" -eq "$n" ] &&
        grep -q 'all returned' "$log"
}
# The smallest mem= the builder accepts for hello (it says what it needs).
bash ci/qemu-boot.sh build/bench/density-probe.log 60 64M "$HS mem=4K"
d_min=$(tr -d '\r' < build/bench/density-probe.log | grep -o 'need [0-9]*K' | head -1 | grep -o '[0-9]*K')
d_sizes="512K 384K"
[ -n "$d_min" ] && [ "${d_min%K}" -lt 384 ] && d_sizes="$d_sizes $d_min"
d_json="" d_rows=()
for m in $d_sizes; do
    best=0 why="every step up to N=2500 passed"
    for n in 1000 1100 1500 2000 2500; do
        if density $n $m; then best=$n; continue; fi
        if grep -q 'more than [0-9]* modules' "$d_last"; then
            why="module limit: $(grep -o 'more than [0-9]* modules' "$d_last" | head -1) at N=$n"
        elif grep -q 'exceeds the free host memory' "$d_last"; then
            why="host memory at N=$n"
        else
            why="failed at N=$n ($d_last)"
        fi
        break
    done
    d_json="$d_json${d_json:+, }\"$m\": { \"max_booted\": $best, \"stopped_by\": \"$why\" }"
    d_rows+=("$m|$best|$why")
done
# Hypervisor memory per domain: the frames in use once the domains are
# built (the hypervisor's "mm: domains built" line, when it prints one),
# less the domains' own memory and the shared image pages, over the
# domains; else fill the host with mem=1M domains and take the free frames
# at boot, less what the builder says is left and the domains' memory.
d_over="" d_how=""
d_ref=build/bench/density-1000-512K.log
if grep -q 'mm: domains built: [0-9]* frames in use' "$d_ref" 2>/dev/null; then
    d_used=$(grep -o 'domains built: [0-9]* frames' "$d_ref" | head -1 | grep -o '[0-9]*')
    d_shared=$(grep -o '[0-9]* of them shared image pages' "$d_ref" | head -1 | cut -d' ' -f1)
    d_sum=$(grep -o '^\[[ 0-9.]*\] d[0-9]* ([^)]*): [0-9]*K, entry' "$d_ref" |
            grep -o '[0-9]*K, entry' | sed 's/K.*//' | awk '{ s += $1; n++ } END { print s " " n }')
    # Each domain's mem= counts the shared pages, which exist only once.
    d_over=$(echo "$d_used ${d_shared:-0} $d_sum" | awk '$4 > 0 { printf "%.1f", ($1 * 4 - $2 * 4 - ($3 - $4 * $2 * 4)) / $4 }')
    d_how="mm: domains built, 1000 x mem=512K"
else
    density 1100 1M
    d_free0=$(grep -o '[0-9]* frames free' "$d_last" | head -1 | cut -d' ' -f1)
    d_left=$(grep -o 'exceeds the free host memory ([0-9]*K)' "$d_last" | head -1 | grep -o '[0-9]*K' | tr -d K)
    d_sum=$(grep -o '^\[[ 0-9.]*\] d[0-9]* ([^)]*): [0-9]*K, entry' "$d_last" |
            grep -o '[0-9]*K, entry' | sed 's/K.*//' | awk '{ s += $1; n++ } END { print s " " n }')
    [ -n "$d_free0" ] && [ -n "$d_left" ] &&
        d_over=$(echo "$d_free0 $d_left $d_sum" | awk '$4 > 0 { printf "%.1f", ($1 * 4 - $2 - $3) / $4 }')
    d_how="fill run, 1100 x mem=1M"
fi

# Debian's Linux as a PV guest (ci/bench-linux.sh, 2 vCPUs on one host
# CPU): machine start -> /init's first instruction, and inside the guest
# the ticks of one getpid() and of one fork + execve(/bin/true) + wait4.
lx=$(bash ci/bench-linux.sh)
lxv() { grep "^$1 " <<<"$lx" | grep -o " $2=[0-9.]*" | cut -d= -f2; }
k_linux=$(lxv linux_pv_start_to_init_tsc keel) x_linux=$(lxv linux_pv_start_to_init_tsc xen)
k_lgetpid=$(lxv linux_pv_getpid_tsc keel) x_lgetpid=$(lxv linux_pv_getpid_tsc xen)
k_lfork=$(lxv linux_pv_fork_exec_wait_tsc keel) x_lfork=$(lxv linux_pv_fork_exec_wait_tsc xen)
h_linux=$(lxv linux_pvh_start_to_init_tsc pvh) p1_linux=$(lxv linux_pvh_start_to_init_tsc pv)
h_lgetpid=$(lxv linux_pvh_getpid_tsc pvh) p1_lgetpid=$(lxv linux_pvh_getpid_tsc pv)
h_lfork=$(lxv linux_pvh_fork_exec_wait_tsc pvh) p1_lfork=$(lxv linux_pvh_fork_exec_wait_tsc pv)
v_linux=$(lxv linux_hvm_start_to_init_tsc hvm) v_lgetpid=$(lxv linux_hvm_getpid_tsc hvm)
v_lfork=$(lxv linux_hvm_fork_exec_wait_tsc hvm)

j() { [ -n "$1" ] && echo "$1" || echo null; }
cat > bench/results.json <<JSON
{
  "units": "guest TSC ticks under QEMU TCG -icount shift=0 (1 tick = 1 instruction)",
  "hv_entry_to_first_guest_instruction": $(j "$k_entry"),
  "domain_build_hello_2M": $(j "$k_build"),
  "runtime_build_hello_2M_create_to_first_instruction": $(j "$k_rtbuild"),
  "runtime_build_pvh_4M_create_to_first_instruction": $(j "$k_rtbuild_pvh"),
  "null_hypercall_round_trip": { "keel": $(j "$k_null"), "xen-4.17": $(j "$x_null") },
  "pvh_exit_round_trip": { "cpuid": $(j "$h_cpuid"), "mmio_read_unclaimed": $(j "$h_mmio"),
                           "port_in_unclaimed": $(j "$h_pio"), "hypercall_xen_version": $(j "$h_hcall") },
  "pvh_ioreq_round_trip_one_pcpu": $(j "$h_ioreq"),
  "hvm_seabios_reset_to_first_boot_attempt_ms": $(j "$h_seabios"),
  "evtchn_round_trip_one_pcpu": $(j "$k_evt1"),
  "evtchn_round_trip_two_pcpus": $(j "$k_evt2"),
  "domain_switch_by_yield": $(j "$k_yield"),
  "timer_deadline_to_upcall_ns": $(j "$k_timer"),
  "mmu_update_pte_updates_per_million_instructions": {
    "batch_1": { "keel": $(j "$k_mmu1"), "xen-4.17": $(j "$x_mmu1") },
    "batch_16": { "keel": $(j "$k_mmu16"), "xen-4.17": $(j "$x_mmu16") },
    "batch_128": { "keel": $(j "$k_mmu128"), "xen-4.17": $(j "$x_mmu128") }
  },
  "grant_copy_bytes_per_1000_ticks": {
    "64": { "keel": $(j "$k_gc64"), "xen-4.17": $(j "$x_gc64") },
    "512": { "keel": $(j "$k_gc512"), "xen-4.17": $(j "$x_gc512") },
    "4096": { "keel": $(j "$k_gc4096"), "xen-4.17": $(j "$x_gc4096") }
  },
  "memcpy_bytes_per_1000_ticks": {
    "64": { "keel": $(j "$k_mc64"), "xen-4.17": $(j "$x_mc64") },
    "512": { "keel": $(j "$k_mc512"), "xen-4.17": $(j "$x_mc512") },
    "4096": { "keel": $(j "$k_mc4096"), "xen-4.17": $(j "$x_mc4096") }
  },
  "grant_copy_to_memcpy_ratio": {
    "64": { "keel": $(j "$k_gr64"), "xen-4.17": $(j "$x_gr64") },
    "512": { "keel": $(j "$k_gr512"), "xen-4.17": $(j "$x_gr512") },
    "4096": { "keel": $(j "$k_gr4096"), "xen-4.17": $(j "$x_gr4096") }
  },
  "grant_map_unmap_pair": { "keel": $(j "$k_map"), "xen-4.17": $(j "$x_map") },
  "xenstore_read_round_trip": $(j "$k_xsr"),
  "xenstore_write_round_trip": $(j "$k_xsw"),
  "xenstore_transaction_read_write_commit": $(j "$k_xst"),
  "console_ring_to_serial_bytes_per_1000_ticks": $(j "$k_con"),
  "worst_timer_lateness_ns_of_a_witness_beside": {
    "mmu_update_1000000": $(j "$k_st_mmu"),
    "grant_copy_100000_and_map_unmap_32000": $(j "$k_st_gnt"),
    "destruction_of_a_4GiB_domain": $(j "$k_st_dst")
  },
  "linux_pv_machine_start_to_init_one_host_cpu": { "keel": $(j "$k_linux"), "xen-4.17": $(j "$x_linux") },
  "linux_pv_getpid_round_trip": { "keel": $(j "$k_lgetpid"), "xen-4.17": $(j "$x_lgetpid") },
  "linux_pv_fork_execve_true_wait4_round_trip": { "keel": $(j "$k_lfork"), "xen-4.17": $(j "$x_lfork") },
  "linux_one_vcpu_machine_start_to_init_on_keel": { "pvh": $(j "$h_linux"), "pv": $(j "$p1_linux"), "hvm_seabios_grub": $(j "$v_linux") },
  "linux_one_vcpu_getpid_round_trip_on_keel": { "pvh": $(j "$h_lgetpid"), "pv": $(j "$p1_lgetpid"), "hvm": $(j "$v_lgetpid") },
  "linux_one_vcpu_fork_execve_true_wait4_round_trip_on_keel": { "pvh": $(j "$h_lfork"), "pv": $(j "$p1_lfork"), "hvm": $(j "$v_lfork") },
  "density_hello_stripped_host_1G_plain_tcg": {
    "per_mem": { $d_json },
    "hv_overhead_per_domain_kib": $(j "$d_over"),
    "hv_overhead_measured_by": "$d_how"
  }
}
JSON
printf '%-44s %14s %14s\n' "benchmark (TSC ticks unless noted)" "Keel" "Xen 4.17"
printf '%-44s %14s %14s\n' "hypervisor entry -> first guest instruction" "${k_entry:-?}" "-"
printf '%-44s %14s %14s\n' "domain build, hello mem=2M" "${k_build:-?}" "-"
printf '%-44s %14s %14s\n' "run-time build of hello mem=2M by ctl domain" "${k_rtbuild:-?}" "-"
printf '    (%s)\n' "DOMCTL_createdomain request -> hello's first instruction"
printf '%-44s %14s %14s\n' "run-time build of PVH tests/pvh mem=4M" "${k_rtbuild_pvh:-?}" "-"
printf '%-44s %14s %14s\n' "null hypercall round trip (avg of 100k)" "${k_null:-?}" "${x_null:-n/a}"
printf '%-44s %14s %14s\n' "event channel round trip, one pCPU" "${k_evt1:-?}" "-"
printf '%-44s %14s %14s\n' "event channel round trip, two pCPUs" "${k_evt2:-?}" "-"
printf '%-44s %14s %14s\n' "domain switch (SCHEDOP_yield ping-pong)" "${k_yield:-?}" "-"
printf '%-44s %14s %14s\n' "timer deadline -> guest upcall (ns)" "${k_timer:-?}" "-"
printf '%-44s %14s %14s\n' "mmu_update PTE updates/Minsn, batch 1" "${k_mmu1:-?}" "${x_mmu1:-n/a}"
printf '%-44s %14s %14s\n' "mmu_update PTE updates/Minsn, batch 16" "${k_mmu16:-?}" "${x_mmu16:-n/a}"
printf '%-44s %14s %14s\n' "mmu_update PTE updates/Minsn, batch 128" "${k_mmu128:-?}" "${x_mmu128:-n/a}"
for n in 64 512 4096; do
    eval "kg=\${k_gc$n:-?} km=\${k_mc$n:-?} kr=\${k_gr$n:-?} xg=\${x_gc$n:-n/a} xm=\${x_mc$n:-n/a} xr=\${x_gr$n:-n/a}"
    printf '%-44s %14s %14s\n' "grant copy $n B, bytes/1000 ticks" "$kg" "$xg"
    printf '%-44s %14s %14s\n' "memcpy $n B, bytes/1000 ticks" "$km" "$xm"
    printf '%-44s %14s %14s\n' "grant copy / memcpy, $n B" "$kr" "$xr"
done
printf '%-44s %14s %14s\n' "grant map+unmap pair (self grant)" "${k_map:-?}" "${x_map:-n/a}"
printf '%-44s %14s %14s\n' "xenstore read round trip (stub domain)" "${k_xsr:-?}" "-"
printf '%-44s %14s %14s\n' "xenstore write round trip" "${k_xsw:-?}" "-"
printf '%-44s %14s %14s\n' "xenstore transaction (start,rd,wr,commit)" "${k_xst:-?}" "-"
printf '%-44s %14s %14s\n' "console ring -> serial, bytes/1000 ticks" "${k_con:-?}" "-"
printf '%-44s %14s %14s\n' "witness timer lateness (ns) beside:" "" ""
printf '%-44s %14s %14s\n' "  mmu_update of 1,000,000" "${k_st_mmu:-?}" "-"
printf '%-44s %14s %14s\n' "  grant copy 100,000, map+unmap 32,000" "${k_st_gnt:-?}" "-"
printf '%-44s %14s %14s\n' "  destruction of a 4 GiB domain" "${k_st_dst:-?}" "-"
printf '%-44s %14s %14s\n' "PVH exit: CPUID" "${h_cpuid:-?}" "-"
printf '%-44s %14s %14s\n' "PVH exit: MMIO read (NPF, decode, emulate)" "${h_mmio:-?}" "-"
printf '%-44s %14s %14s\n' "PVH exit: IN from a port" "${h_pio:-?}" "-"
printf '%-44s %14s %14s\n' "PVH hypercall (VMMCALL, xen_version)" "${h_hcall:-?}" "-"
printf '%-44s %14s %14s\n' "Linux PV machine start -> /init" "${k_linux:-?}" "${x_linux:-n/a}"
printf '    (%s)\n' "Debian 12 kernel, 2 vCPUs on one host CPU; Xen: as dom0"
printf '%-44s %14s %14s\n' "Linux getpid() round trip (avg of 100k)" "${k_lgetpid:-?}" "${x_lgetpid:-n/a}"
printf '%-44s %14s %14s\n' "Linux fork+execve(true)+wait4 (avg of 50)" "${k_lfork:-?}" "${x_lfork:-n/a}"
printf '%-44s %14s %14s\n' "Keel, 1 vCPU:" "PVH" "PV"
printf '%-44s %14s %14s\n' "  Linux machine start -> /init" "${h_linux:-?}" "${p1_linux:-?}"
printf '%-44s %14s %14s\n' "  Linux getpid() round trip" "${h_lgetpid:-?}" "${p1_lgetpid:-?}"
printf '%-44s %14s %14s\n' "  Linux fork+execve(true)+wait4" "${h_lfork:-?}" "${p1_lfork:-?}"
printf '%-44s %14s %14s\n' "Keel, 1 vCPU, HVM (SeaBIOS -> GRUB -> Linux):" "HVM" "-"
printf '%-44s %14s %14s\n' "  Linux machine start -> /init" "${v_linux:-?}" "-"
printf '%-44s %14s %14s\n' "  Linux getpid() round trip" "${v_lgetpid:-?}" "-"
printf '%-44s %14s %14s\n' "  Linux fork+execve(true)+wait4" "${v_lfork:-?}" "-"
for r in "${d_rows[@]}"; do
    IFS='|' read -r m best why <<< "$r"
    printf '%-44s %14s %14s\n' "hello appliances at once, -m 1G, mem=$m" "$best" "-"
    printf '    (%s)\n' "$why"
done
printf '%-44s %14s %14s\n' "hypervisor memory per domain (KiB)" "${d_over:-?}" "-"
printf '    (%s)\n' "$d_how"
echo "wrote bench/results.json"
[ -n "$k_entry" ] && [ -n "$k_build" ] && [ -n "$k_null" ] && [ -n "$k_mmu1" ] && [ -n "$k_map" ]
