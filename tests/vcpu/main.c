/* Guest test: VCPUOPs: is_up, get_runstate_info, register_vcpu_info, and a second vCPU's initialise, up and down. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/sched.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <minios/traps.h>
#include "report.h"
#include "vcpuctx.h"

#define MS        1000000ull
#define PAGE_SIZE 4096ul
#define HV_ADDR   0xFFFF830000100000UL
#define NO_VCPU   9000     /* past any domain's vCPUs (Xen's PV limit is 8,192) */

static volatile unsigned long hits;

static void count(evtchn_port_t port, void *data)
{
    (void)port;
    (void)data;
    hits++;
}

static void test_vcpu0(void)
{
    struct vcpu_runstate_info rs;

    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_is_up, 0, NULL), 1);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_is_up, NO_VCPU, NULL), -XEN_ENOENT);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_is_up, 0x7fffffff, NULL), -XEN_ENOENT);
    CHECK_EQ(HYPERVISOR_vcpu_op(99, 0, NULL), -XEN_ENOSYS);

    memset(&rs, 0xff, sizeof(rs));
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 0, &rs), 0);
    CHECK_EQ(rs.state, RUNSTATE_running);
    if (rs.time[RUNSTATE_running] == 0)
        test_fail("runstate: no time spent running");
    if (rs.state_entry_time > minios_monotonic_ns())
        test_fail("runstate: entered its state in the future");
    printf("vcpu0 runstate: running %lu ns, runnable %lu, blocked %lu, offline %lu\n",
           (unsigned long)rs.time[RUNSTATE_running], (unsigned long)rs.time[RUNSTATE_runnable],
           (unsigned long)rs.time[RUNSTATE_blocked], (unsigned long)rs.time[RUNSTATE_offline]);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, NO_VCPU, &rs), -XEN_ENOENT);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 0, (void *)HV_ADDR), -XEN_EFAULT);
}

/* vcpu_info moved out of shared_info: events and time keep working. */
static void test_register_vcpu_info(void)
{
    static char page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
    const xen_pfn_t *p2m = (const xen_pfn_t *)minios_start_info->mfn_list;
    struct vcpu_register_vcpu_info r = {
        .mfn = p2m[(unsigned long)page / PAGE_SIZE], .offset = PAGE_SIZE - 32,
    };
    evtchn_port_t a, b;

    /* An offset that lets vcpu_info cross the page's end (Xen: -ENXIO); a
     * frame that is not ours; one of our page tables (not writable); a
     * vCPU that does not exist; a bad pointer. */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 0, &r), -XEN_ENXIO);
    r.offset = 0;
    r.mfn = ~0ul >> 12;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 0, &r), -XEN_EINVAL);
    r.mfn = p2m[minios_start_info->pt_base / PAGE_SIZE];
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 0, &r), -XEN_EINVAL);
    r.mfn = p2m[(unsigned long)page / PAGE_SIZE];
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, NO_VCPU, &r), -XEN_ENOENT);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 0, (void *)HV_ADDR), -XEN_EFAULT);

    CHECK_EQ(minios_vcpu_info_register(), 0);
    if (minios_vcpu_info() == &minios_shared_info->vcpu_info[0])
        test_fail("vcpu_info did not move");
    /* Once registered, it cannot move again: -EINVAL. */
    r.mfn = p2m[(unsigned long)page / PAGE_SIZE];
    r.offset = 0;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 0, &r), -XEN_EINVAL);

    CHECK_EQ(minios_evtchn_alloc_unbound(DOMID_SELF, &a), 0);
    CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, a, &b), 0);
    CHECK_EQ(minios_evtchn_bind(b, count, NULL), 0);
    CHECK_EQ(minios_evtchn_send(a), 0);
    CHECK_EQ(hits, 1);
    CHECK_EQ(minios_evtchn_close(a), 0);
    CHECK_EQ(minios_evtchn_close(b), 0);

    /* Timer events still arrive through the moved vcpu_info.  A sleep can
     * end without one when the host stalls the emulated CPU past its
     * deadline before it blocks (a loaded machine), so sleep until one
     * arrives, for up to a second. */
    uint64_t t0 = minios_monotonic_ns(), ev = minios_timer_events();
    minios_sleep_ns(2 * MS);
    while (minios_timer_events() == ev && minios_monotonic_ns() - t0 < 1000 * MS)
        minios_sleep_ns(2 * MS);
    if (minios_monotonic_ns() - t0 < 2 * MS || minios_timer_events() == ev)
        test_fail("sleep after register_vcpu_info: %lu ns, %lu timer events",
                  (unsigned long)(minios_monotonic_ns() - t0),
                  (unsigned long)(minios_timer_events() - ev));
}

/* vCPU 1: counts its runs and takes itself down. */
static volatile unsigned long vcpu1_runs;
static char vcpu1_stack[16384] __attribute__((aligned(16)));
static struct vcpu_guest_context ctxt;

static volatile uint32_t vcpu1_mxcsr;
static volatile bool vcpu1_block;        /* block instead of going down */
static volatile unsigned long vcpu1_nmis;

static void vcpu1_main(void)
{
    uint32_t m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    vcpu1_mxcsr = m;
    for (;;) {
        __atomic_fetch_add(&vcpu1_runs, 1, __ATOMIC_SEQ_CST);
        if (vcpu1_block)
            HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        else
            HYPERVISOR_vcpu_op(VCPUOP_down, 1, NULL);
    }
}

static void vcpu1_nmi(struct minios_trap_frame *f)
{
    (void)f;
    __atomic_fetch_add(&vcpu1_nmis, 1, __ATOMIC_SEQ_CST);
}

static int wait_for(volatile unsigned long *v, unsigned long want)
{
    uint64_t end = minios_monotonic_ns() + 2000 * MS;

    while (*v < want && minios_monotonic_ns() < end)
        minios_yield();
    return *v >= want;
}

/* Waits (2 s at most) until vCPU 1 has asked to go down. */
static void wait_down(void)
{
    uint64_t end = minios_monotonic_ns() + 2000 * MS;
    while (HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL) != 0 && minios_monotonic_ns() < end)
        minios_yield();
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL), 0);
}

/* Waits (2 s at most) until vCPU 1's runstate is state; *rs is the last read. */
static void wait_runstate(int state, struct vcpu_runstate_info *rs)
{
    uint64_t end = minios_monotonic_ns() + 2000 * MS;
    do {
        CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 1, rs), 0);
        if (rs->state == state)
            break;
        minios_yield();
    } while (minios_monotonic_ns() < end);
    CHECK_EQ(rs->state, state);
}

static void test_vcpu1(int required)
{
    long up = HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL);

    if (up == -XEN_ENOENT) {
        if (required)
            test_fail("vcpus=%d given, but there is no vCPU 1", required);
        else
            printf("one vCPU: VCPUOP_initialise/up not tested (give vcpus=2)\n");
        return;
    }
    CHECK_EQ(up, 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), -XEN_EINVAL);   /* not initialised */

    vcpu_ctx_init(&ctxt, vcpu1_main, vcpu1_stack, sizeof(vcpu1_stack));
    /* Its NMI callback: minios's entry for vector 2, events masked. */
    ctxt.trap_ctxt[2] = (struct trap_info){ .vector = 2, .flags = 4, .cs = FLAT_KERNEL_CS,
                                            .address = minios_trap_entry(2) };

    struct vcpu_guest_context bad = ctxt;
    bad.user_regs.rip = 0x0000900000000000UL;       /* non-canonical */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &bad), -XEN_EINVAL);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, (void *)HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, NO_VCPU, &ctxt), -XEN_ENOENT);

    /* An FPU image whose MXCSR has reserved bits set: the CPU would not
     * load it (FXRSTOR/XRSTOR #GP); the hypervisor must not try to. */
    ctxt.flags |= VGCF_i387_valid;
    memset(&ctxt.fpu_ctxt, 0, sizeof(ctxt.fpu_ctxt));
    uint32_t bad_mxcsr = 0xffffffffu;
    memcpy((char *)&ctxt.fpu_ctxt + 24, &bad_mxcsr, 4);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt), -XEN_EEXIST);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
    if (!wait_for(&vcpu1_runs, 1))
        test_fail("vCPU 1 did not run after VCPUOP_up");
    /* On Keel it started with what the CPU accepts of that MXCSR (its
     * reset state otherwise), as Xen falls back to when its restore
     * faults.  Xen only finds out from the fault, which QEMU's TCG does
     * not raise: there it keeps the value, so this is checked on Keel. */
    xen_extraversion_t ev;
    memset(ev, 0, sizeof(ev));
    HYPERVISOR_xen_version(XENVER_extraversion, ev);
    if (strstr(ev, "keel")) {
        static uint8_t img[512] __attribute__((aligned(16)));
        __asm__ volatile("fxsave64 %0" : "=m"(img));
        uint32_t mask;
        memcpy(&mask, img + 28, 4);
        if (!mask)
            mask = 0xffbf;
        CHECK_EQ(vcpu1_mxcsr, bad_mxcsr & mask);
    }
    /* It took itself down: wait until it is. */
    wait_down();

    /* is_up says 0 as soon as it asked to go down; it is offline once the
     * hypervisor has taken it off its pCPU. */
    struct vcpu_runstate_info rs;
    wait_runstate(RUNSTATE_offline, &rs);
    if (rs.time[RUNSTATE_running] == 0)
        test_fail("vCPU 1's runstate shows no running time");

    /* Up again: it returns from its VCPUOP_down and runs once more.  Each
     * up waits until the last run has gone down: an up that comes
     * between its count and its VCPUOP_down finds it still up and does
     * nothing (Xen: up only clears _VPF_down), and it then stays down. */
    for (unsigned long i = 2; i <= 5; i++) {
        wait_down();
        CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
        if (!wait_for(&vcpu1_runs, i)) {
            test_fail("vCPU 1 did not run after up number %lu", i);
            break;
        }
    }
    printf("vCPU 1 ran %lu times\n", vcpu1_runs);

    /* VCPUOP_send_nmi to another vCPU: it waits while that one is down,
     * wakes it from SCHEDOP_block, runs its NMI callback there. */
    minios_set_trap_handler(2, vcpu1_nmi);
    unsigned long runs = vcpu1_runs;
    vcpu1_block = true;
    wait_down();
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
    if (!wait_for(&vcpu1_runs, runs + 1))
        test_fail("vCPU 1 did not run after up (block mode)");
    wait_runstate(RUNSTATE_blocked, &rs);
    CHECK_EQ(vcpu1_nmis, 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_send_nmi, 1, NULL), 0);
    if (!wait_for(&vcpu1_nmis, 1))
        test_fail("vCPU 1 took no NMI");
    if (!wait_for(&vcpu1_runs, runs + 2))
        test_fail("vCPU 1 was not woken from SCHEDOP_block by the NMI");
    /* Still in block mode, it blocks again; only then is it told to go
     * down and sent the second NMI, which must wake it.  (Told first, it
     * could go down before the NMI came: an NMI to a down vCPU waits for
     * its next up, on Xen as here.) */
    wait_runstate(RUNSTATE_blocked, &rs);
    vcpu1_block = false;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_send_nmi, 1, NULL), 0);
    if (!wait_for(&vcpu1_nmis, 2))
        test_fail("vCPU 1 took no second NMI");
    wait_down();
    CHECK_EQ(vcpu1_nmis, 2);
    minios_set_trap_handler(2, NULL);
}

/* A vCPU past shared_info's XEN_LEGACY_MAX_VCPUS (32) vcpu_info slots:
 * it exists, takes a vcpu_info of its own while down, receives events
 * there, is brought up, runs, and reads its time from that vcpu_info. */
static unsigned hi_id;
static volatile unsigned long hi_runs;
static volatile uint64_t hi_seen_time;
static char hi_stack[16384] __attribute__((aligned(16)));
static char hi_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static void hi_main(void)
{
    for (;;) {
        volatile struct vcpu_info *vi = (volatile struct vcpu_info *)hi_page;
        hi_seen_time = vi->time.system_time;
        __atomic_fetch_add(&hi_runs, 1, __ATOMIC_SEQ_CST);
        HYPERVISOR_vcpu_op(VCPUOP_down, hi_id, NULL);
    }
}

static void test_high_vcpu(unsigned id, unsigned nr)
{
    static struct vcpu_guest_context c;
    const xen_pfn_t *p2m = (const xen_pfn_t *)minios_start_info->mfn_list;
    struct vcpu_register_vcpu_info r = { .mfn = p2m[(unsigned long)hi_page / PAGE_SIZE] };
    volatile struct vcpu_info *vi = (volatile struct vcpu_info *)hi_page;
    evtchn_port_t port;

    hi_id = id;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_is_up, id, NULL), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_is_up, nr, NULL), -XEN_ENOENT);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, id, &r), 0);
    /* An event for it lands in its own vcpu_info (it is down: no upcall). */
    struct evtchn_bind_ipi b = { .vcpu = id };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &b), 0);
    port = b.port;
    struct evtchn_unmask um = { .port = port };   /* minios starts with all masked */
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &um), 0);
    vi->evtchn_upcall_pending = 0;
    vi->evtchn_pending_sel = 0;
    struct evtchn_send snd = { .port = port };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_send, &snd), 0);
    CHECK_EQ(vi->evtchn_upcall_pending, 1);
    CHECK_EQ(vi->evtchn_pending_sel, 1UL << (port / 64));
    struct evtchn_close cl = { .port = port };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_close, &cl), 0);

    vcpu_ctx_init(&c, hi_main, hi_stack, sizeof(hi_stack));
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, id, &c), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, id, NULL), 0);
    if (!wait_for(&hi_runs, 1))
        test_fail("vCPU %u did not run after VCPUOP_up", id);
    if (hi_seen_time == 0)
        test_fail("vCPU %u saw no system time in its registered vcpu_info", id);
    printf("vCPU %u of %u: ran %lu time(s), events and time in its own vcpu_info\n", id, nr,
           hi_runs);
}

int main(int argc, char **argv)
{
    int vcpus = 0, hi = 0;

    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "vcpus=", 6) == 0)
            vcpus = atoi(argv[i] + 6);
        if (strncmp(argv[i], "hi=", 3) == 0)
            hi = atoi(argv[i] + 3);
    }
    if (!minios_events_available()) {
        test_skip("no events (shared_info or callbacks refused)");
        return test_finish();
    }
    test_vcpu0();
    test_vcpu1(vcpus >= 2 ? vcpus : 0);
    test_register_vcpu_info();
    if (hi)
        test_high_vcpu((unsigned)hi, (unsigned)vcpus);
    return test_finish();
}
