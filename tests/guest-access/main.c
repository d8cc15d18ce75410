/* Guest test: every implemented hypercall and sub-op that takes a guest
 * pointer (nested ones too), given pointers that are unmapped, read-only,
 * in the hypervisor's range, non-canonical, wrapping, and straddling the
 * end of the lower half: each gives what Xen 4.17 gives (-EFAULT mostly;
 * counts, statuses and *done where Xen says so), never a hypervisor fault,
 * and nothing is written where it must not be.  The domain (role=control,
 * two vCPUs) also runs the sysctl and domctl part against a peer. */
#define __XEN_TOOLS__ 1
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/mm.h>
#include <minios/time.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/memory.h>
#include <xen/vcpu.h>
#include <xen/callback.h>
#include <xen/domctl.h>
#include <xen/sysctl.h>
#include "report.h"
#include "args.h"

#define PTE_P 1UL
#define PTE_W 2UL
#define PTE_U 4UL
#define PTE_A 0x20UL
#define PTE_D 0x40UL
#define MS    1000000ULL

/* The last page of the lower half: mapped by setup_top(), so that a
 * pointer near TOP_END starts valid and runs into the non-canonical hole. */
#define TOP_VA   0x00007FFFFFFFF000UL
#define TOP_END  0x0000800000000000UL

enum kind { UNMAPPED, HV_START, HV_DIRECTMAP, HV_LAST, NONCANON_LO, NONCANON_HI,
            WRAPPING, STRADDLE, NKINDS };
static const char *const kind_name[NKINDS] = {
    "unmapped", "hv-start", "hv-directmap", "hv-last", "non-canonical-low",
    "non-canonical-high", "wrapping", "straddling",
};
/* What Xen's access_ok() refuses outright (guest_handle_okay() fails):
 * the hypervisor's range and the non-canonical hole. */
static bool refused_early(enum kind k)
{
    return k >= HV_START && k <= NONCANON_HI;
}

/* A pointer of kind k to an object of size bytes (for STRADDLE: its
 * first half is in the top page, the rest non-canonical). */
static unsigned long bad_ptr(enum kind k, unsigned long size)
{
    switch (k) {
    case UNMAPPED:     return 0x0000000040000000UL;   /* 1 GiB: past our memory */
    case HV_START:     return 0xFFFF800000000000UL;   /* the read-only M2P */
    case HV_DIRECTMAP: return 0xFFFF830000000000UL;
    case HV_LAST:      return 0xFFFF87FFFFFFFFF8UL;   /* last bytes, runs past the end */
    case NONCANON_LO:  return 0x0000800000000000UL;
    case NONCANON_HI:  return 0x8000000000000000UL;
    case WRAPPING:     return 0xFFFFFFFFFFFFFFF8UL;
    case STRADDLE:     return TOP_END - (size > 1 ? size / 2 : 1);
    default:           return 0;
    }
}

static unsigned calls, mismatches;
static domid_t self, peer;

/* Two read-only pages (a vcpu_guest_context needs more than one), their
 * expected contents, a page-table chain for TOP_VA, and scratch pages. */
static unsigned char ro[2][4096] __attribute__((aligned(4096)));
static unsigned char ro_shadow[2][4096];
#define PAGE_ALIGNED __attribute__((aligned(4096)))
static unsigned char top_l3[4096] PAGE_ALIGNED, top_l2[4096] PAGE_ALIGNED;
static unsigned char top_l1[4096] PAGE_ALIGNED, top[4096] PAGE_ALIGNED;
static unsigned char pg_a[4096] PAGE_ALIGNED, pg_b[4096] PAGE_ALIGNED, pg_c[4096] PAGE_ALIGNED;
#define NBALLOON 6
static unsigned char balloon[NBALLOON][4096] __attribute__((aligned(4096)));
static bool top_ok;

static unsigned long mfn_of(const void *va)
{
    return minios_virt_to_mfn(va);
}

static long uvm(const void *va, unsigned long pte)
{
    return HYPERVISOR_update_va_mapping((unsigned long)va, pte, UVMF_INVLPG);
}

static void alive(const char *call, const char *kind)
{
    if (HYPERVISOR_xen_version(XENVER_version, NULL) != ((4 << 16) | 17))
        test_fail("%s, %s pointer: xen_version fails afterwards", call, kind);
    if (memcmp(ro, ro_shadow, sizeof(ro)))
        test_fail("%s, %s pointer: a read-only page changed", call, kind);
}

#define EXPECT(call, kind, expr, want) do {                                  \
        long _g = (long)(expr), _w = (long)(want);                           \
        calls++;                                                             \
        if (_g != _w) {                                                      \
            mismatches++;                                                    \
            test_fail("%s, %s pointer: got %ld, expected %ld (line %d)",     \
                      (call), (kind), _g, _w, __LINE__);                     \
        }                                                                    \
        alive((call), (kind));                                               \
    } while (0)

/* Loads the read-only pages with src (n bytes at offset 0), then maps
 * them read-only again; returns their address. */
static void *ro_load(const void *src, size_t n)
{
    for (int i = 0; i < 2; i++)
        if (uvm(ro[i], mfn_of(ro[i]) << 12 | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D))
            test_error("cannot make the read-only page writable");
    memset(ro, 0, sizeof(ro));
    if (n)
        memcpy(ro, src, n);
    memcpy(ro_shadow, ro, sizeof(ro));
    for (int i = 0; i < 2; i++)
        if (uvm(ro[i], mfn_of(ro[i]) << 12 | PTE_P | PTE_U | PTE_A))
            test_error("cannot map the read-only page read-only");
    return ro;
}

/* Maps `top` at TOP_VA through three new page tables in L4 slot 255. */
static void setup_top(void)
{
    memset(top_l3, 0, 4096);
    memset(top_l2, 0, 4096);
    memset(top_l1, 0, 4096);
    unsigned long fl = PTE_P | PTE_W | PTE_U | PTE_A;
    ((unsigned long *)top_l1)[511] = mfn_of(top) << 12 | fl | PTE_D;
    ((unsigned long *)top_l2)[511] = mfn_of(top_l1) << 12 | fl;
    ((unsigned long *)top_l3)[511] = mfn_of(top_l2) << 12 | fl;
    unsigned char *t[] = { top_l1, top_l2, top_l3 };
    for (int i = 0; i < 3; i++)
        if (uvm(t[i], mfn_of(t[i]) << 12 | PTE_P | PTE_U | PTE_A)) {
            test_error("cannot map a new page table read-only");
            return;
        }
    unsigned long l4 = mfn_of((void *)minios_start_info->pt_base);
    struct mmu_update u = { .ptr = (l4 << 12) + 255 * 8, .val = mfn_of(top_l3) << 12 | fl };
    if (HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF)) {
        test_error("cannot install the L4 entry for the top page");
        return;
    }
    volatile unsigned long *p = (volatile unsigned long *)(TOP_END - 8);
    *p = 0x1234;
    top_ok = top[4088] == 0x34;
    if (!top_ok)
        test_error("the top page does not alias its frame");
}

/* ---------------------------------------------------------------- */

static void test_xen_version(void)
{
    static const struct { int cmd; const char *name; unsigned long size; } ops[] = {
        { XENVER_extraversion, "xen_version/extraversion", sizeof(xen_extraversion_t) },
        { XENVER_compile_info, "xen_version/compile_info", sizeof(xen_compile_info_t) },
        { XENVER_capabilities, "xen_version/capabilities", sizeof(xen_capabilities_info_t) },
        { XENVER_changeset, "xen_version/changeset", sizeof(xen_changeset_info_t) },
        { XENVER_platform_parameters, "xen_version/platform_parameters",
          sizeof(xen_platform_parameters_t) },
        { XENVER_get_features, "xen_version/get_features", sizeof(xen_feature_info_t) },
    };
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        for (int k = 0; k < NKINDS; k++)
            EXPECT(ops[i].name, kind_name[k],
                   HYPERVISOR_xen_version(ops[i].cmd, (void *)bad_ptr(k, ops[i].size)),
                   -XEN_EFAULT);
        /* Each writes: refused through a read-only pointer. */
        xen_feature_info_t fi = { .submap_idx = 0 };
        void *p = ro_load(&fi, sizeof(fi));
        EXPECT(ops[i].name, "read-only", HYPERVISOR_xen_version(ops[i].cmd, p), -XEN_EFAULT);
    }
}

static void test_console_io(void)
{
    for (int k = 0; k < NKINDS; k++) {
        EXPECT("console_io/write", kind_name[k],
               HYPERVISOR_console_io(CONSOLEIO_write, 16, (char *)bad_ptr(k, 16)), -XEN_EFAULT);
        /* Xen: no input waiting, so nothing is copied and 0 returned. */
        EXPECT("console_io/read", kind_name[k],
               HYPERVISOR_console_io(CONSOLEIO_read, 16, (char *)bad_ptr(k, 16)), 0);
    }
    static const char msg[] = "guest-access: read-only buffers are fine to write out\n";
    char *p = ro_load(msg, sizeof(msg));
    EXPECT("console_io/write", "read-only (valid)",
           HYPERVISOR_console_io(CONSOLEIO_write, sizeof(msg) - 1, p), 0);
    EXPECT("console_io/read", "read-only", HYPERVISOR_console_io(CONSOLEIO_read, 16, p), 0);
}

/* A port of ours, bound to nothing, masked: pollable and sendable. */
static evtchn_port_t new_port(void)
{
    evtchn_port_t p = 0;
    if (minios_evtchn_alloc_unbound(self, &p))
        test_error("alloc_unbound failed");
    minios_evtchn_mask(p);
    return p;
}

static long evtchn_status_of(evtchn_port_t port)
{
    struct evtchn_status s = { .dom = DOMID_SELF, .port = port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &s);
    return rc ? rc : (long)s.status;
}

static void test_sched_op(void)
{
    for (int k = 0; k < NKINDS; k++) {
        EXPECT("sched_op/shutdown", kind_name[k],
               HYPERVISOR_sched_op(SCHEDOP_shutdown, (void *)bad_ptr(k, sizeof(struct sched_shutdown))),
               -XEN_EFAULT);
        EXPECT("sched_op/poll", kind_name[k],
               HYPERVISOR_sched_op(SCHEDOP_poll, (void *)bad_ptr(k, sizeof(struct sched_poll))),
               -XEN_EFAULT);
    }
    evtchn_port_t port = new_port();
    struct sched_poll sp = { .nr_ports = 1, .timeout = 1 };
    for (int k = 0; k < NKINDS; k++) {
        set_xen_guest_handle(sp.ports, (evtchn_port_t *)bad_ptr(k, sizeof(evtchn_port_t)));
        EXPECT("sched_op/poll.ports", kind_name[k], HYPERVISOR_sched_op(SCHEDOP_poll, &sp),
               -XEN_EFAULT);
    }
    /* Read-only is fine for both (a timeout in the past: returns). */
    evtchn_port_t *rp = ro_load(&port, sizeof(port));
    set_xen_guest_handle(sp.ports, rp);
    EXPECT("sched_op/poll.ports", "read-only (valid)", HYPERVISOR_sched_op(SCHEDOP_poll, &sp), 0);
    static evtchn_port_t ports[1];
    ports[0] = port;
    set_xen_guest_handle(sp.ports, ports);
    EXPECT("sched_op/poll", "read-only (valid)",
           HYPERVISOR_sched_op(SCHEDOP_poll, ro_load(&sp, sizeof(sp))), 0);
    if (top_ok) {
        /* Two ports, the second in the non-canonical hole: Xen reads them
         * one at a time, so a pending first port ends the call first. */
        evtchn_port_t *tp = (evtchn_port_t *)(TOP_END - sizeof(evtchn_port_t));
        *tp = port;
        sp.nr_ports = 2;
        sp.timeout = 0;
        set_xen_guest_handle(sp.ports, tp);
        EXPECT("sched_op/poll.ports[1]", "straddling", HYPERVISOR_sched_op(SCHEDOP_poll, &sp),
               -XEN_EFAULT);
        *tp = 0xFFFFFFF0u;                   /* an invalid first port: -EINVAL */
        EXPECT("sched_op/poll.ports[1] after a bad port", "straddling",
               HYPERVISOR_sched_op(SCHEDOP_poll, &sp), -XEN_EINVAL);
        struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
        HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a);
        struct evtchn_bind_interdomain b = { .remote_dom = DOMID_SELF, .remote_port = a.port };
        if (HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b) == 0) {
            minios_evtchn_mask(a.port);
            minios_evtchn_mask(b.local_port);
            struct evtchn_send s = { .port = b.local_port };
            HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);   /* a.port now pending */
            *tp = a.port;
            EXPECT("sched_op/poll.ports[1] after a pending port", "straddling",
                   HYPERVISOR_sched_op(SCHEDOP_poll, &sp), 0);
            minios_evtchn_close(b.local_port);
        } else {
            test_error("bind_interdomain to ourselves failed");
        }
        minios_evtchn_close(a.port);
    }
    minios_evtchn_close(port);
}

static void test_vcpu_op(void)
{
    for (int k = 0; k < NKINDS; k++) {
        const char *kn = kind_name[k];
        /* Xen copies the context in before looking at the vCPU: -EFAULT
         * for the running vCPU 0 too. */
        for (unsigned v = 0; v < 2; v++)
            EXPECT(v ? "vcpu_op/initialise(vcpu 1)" : "vcpu_op/initialise(vcpu 0)", kn,
                   HYPERVISOR_vcpu_op(VCPUOP_initialise, v,
                                      (void *)bad_ptr(k, sizeof(struct vcpu_guest_context))),
                   -XEN_EFAULT);
        EXPECT("vcpu_op/get_runstate_info", kn,
               HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 0,
                                  (void *)bad_ptr(k, sizeof(struct vcpu_runstate_info))),
               -XEN_EFAULT);
        EXPECT("vcpu_op/set_periodic_timer", kn,
               HYPERVISOR_vcpu_op(VCPUOP_set_periodic_timer, 1,
                                  (void *)bad_ptr(k, sizeof(struct vcpu_set_periodic_timer))),
               -XEN_EFAULT);
        EXPECT("vcpu_op/set_singleshot_timer", kn,
               HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0,
                                  (void *)bad_ptr(k, sizeof(struct vcpu_set_singleshot_timer))),
               -XEN_EFAULT);
        EXPECT("vcpu_op/register_vcpu_info", kn,
               HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 1,
                                  (void *)bad_ptr(k, sizeof(struct vcpu_register_vcpu_info))),
               -XEN_EFAULT);
        EXPECT("vcpu_op/register_vcpu_time_memory_area", kn,
               HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_time_memory_area, 0,
                                  (void *)bad_ptr(k, sizeof(struct vcpu_register_time_memory_area))),
               -XEN_EFAULT);
    }
    /* Read-only: fine where the op only reads, refused where it writes. */
    static struct vcpu_guest_context ctx;
    memset(&ctx, 0, sizeof(ctx));
    void *p = ro_load(&ctx, sizeof(ctx));
    EXPECT("vcpu_op/initialise(vcpu 0)", "read-only (valid, vCPU up)",
           HYPERVISOR_vcpu_op(VCPUOP_initialise, 0, p), -XEN_EEXIST);
    EXPECT("vcpu_op/get_runstate_info", "read-only",
           HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 0, p), -XEN_EFAULT);
    struct vcpu_set_periodic_timer pt = { .period_ns = 10 * MS };
    p = ro_load(&pt, sizeof(pt));
    EXPECT("vcpu_op/set_periodic_timer", "read-only (valid)",
           HYPERVISOR_vcpu_op(VCPUOP_set_periodic_timer, 1, p), 0);
    EXPECT("vcpu_op/stop_periodic_timer", "none", HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 1, NULL), 0);
    struct vcpu_set_singleshot_timer st = { .timeout_abs_ns = minios_monotonic_ns() + 1 * MS };
    p = ro_load(&st, sizeof(st));
    EXPECT("vcpu_op/set_singleshot_timer", "read-only (valid)",
           HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, p), 0);
    struct vcpu_register_vcpu_info ri = { .mfn = mfn_of(pg_a), .offset = 4095 };
    p = ro_load(&ri, sizeof(ri));
    EXPECT("vcpu_op/register_vcpu_info", "read-only (valid, offset too large)",
           HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 1, p), -XEN_ENXIO);
    struct vcpu_register_time_memory_area ta = { .addr.v = NULL };
    p = ro_load(&ta, sizeof(ta));
    EXPECT("vcpu_op/register_vcpu_time_memory_area", "read-only (valid, none)",
           HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_time_memory_area, 0, p), 0);
    minios_sleep_ns(2 * MS);     /* the singleshot fired; minios re-arms its own */
}

static void test_event_channel_op(void)
{
    static const struct { int cmd; const char *name; unsigned long size; } ops[] = {
        { EVTCHNOP_alloc_unbound, "event_channel_op/alloc_unbound", sizeof(struct evtchn_alloc_unbound) },
        { EVTCHNOP_bind_interdomain, "event_channel_op/bind_interdomain", sizeof(struct evtchn_bind_interdomain) },
        { EVTCHNOP_bind_virq, "event_channel_op/bind_virq", sizeof(struct evtchn_bind_virq) },
        { EVTCHNOP_bind_ipi, "event_channel_op/bind_ipi", sizeof(struct evtchn_bind_ipi) },
        { EVTCHNOP_status, "event_channel_op/status", sizeof(struct evtchn_status) },
        { EVTCHNOP_bind_vcpu, "event_channel_op/bind_vcpu", sizeof(struct evtchn_bind_vcpu) },
        { EVTCHNOP_close, "event_channel_op/close", sizeof(struct evtchn_close) },
        { EVTCHNOP_send, "event_channel_op/send", sizeof(struct evtchn_send) },
        { EVTCHNOP_unmask, "event_channel_op/unmask", sizeof(struct evtchn_unmask) },
        { EVTCHNOP_reset, "event_channel_op/reset", sizeof(struct evtchn_reset) },
    };
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        for (int k = 0; k < NKINDS; k++)
            EXPECT(ops[i].name, kind_name[k],
                   HYPERVISOR_event_channel_op(ops[i].cmd, (void *)bad_ptr(k, ops[i].size)),
                   -XEN_EFAULT);

    /* The ops that write back through a read-only pointer: as Xen, the
     * port is made first and the copy back fails (-EFAULT; the port
     * stays, the lowest free one, which the caller must find itself). */
    evtchn_port_t probe = new_port();
    minios_evtchn_close(probe);
    struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    EXPECT("event_channel_op/alloc_unbound", "read-only",
           HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, ro_load(&au, sizeof(au))),
           -XEN_EFAULT);
    EXPECT("event_channel_op/alloc_unbound (port made anyway)", "read-only",
           evtchn_status_of(probe), EVTCHNSTAT_unbound);
    evtchn_port_t unbound = probe;       /* bind_interdomain binds to it */
    probe = new_port();
    minios_evtchn_close(probe);
    struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF, .remote_port = unbound };
    EXPECT("event_channel_op/bind_interdomain", "read-only",
           HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, ro_load(&bi, sizeof(bi))),
           -XEN_EFAULT);
    EXPECT("event_channel_op/bind_interdomain (bound anyway)", "read-only",
           evtchn_status_of(probe), EVTCHNSTAT_interdomain);
    minios_evtchn_close(probe);
    minios_evtchn_close(unbound);
    probe = new_port();
    minios_evtchn_close(probe);
    struct evtchn_bind_virq bv = { .virq = VIRQ_DEBUG, .vcpu = 0 };
    EXPECT("event_channel_op/bind_virq", "read-only",
           HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, ro_load(&bv, sizeof(bv))),
           -XEN_EFAULT);
    EXPECT("event_channel_op/bind_virq (bound anyway)", "read-only",
           evtchn_status_of(probe), EVTCHNSTAT_virq);
    minios_evtchn_close(probe);
    probe = new_port();
    minios_evtchn_close(probe);
    struct evtchn_bind_ipi bp = { .vcpu = 0 };
    EXPECT("event_channel_op/bind_ipi", "read-only",
           HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, ro_load(&bp, sizeof(bp))),
           -XEN_EFAULT);
    EXPECT("event_channel_op/bind_ipi (bound anyway)", "read-only",
           evtchn_status_of(probe), EVTCHNSTAT_ipi);
    minios_evtchn_mask(probe);
    evtchn_port_t ipi = probe;
    struct evtchn_status es = { .dom = DOMID_SELF, .port = ipi };
    EXPECT("event_channel_op/status", "read-only",
           HYPERVISOR_event_channel_op(EVTCHNOP_status, ro_load(&es, sizeof(es))), -XEN_EFAULT);

    /* The ops that only read: a read-only pointer works. */
    evtchn_port_t q = new_port();
    struct evtchn_bind_vcpu bc = { .port = q, .vcpu = 0 };
    EXPECT("event_channel_op/bind_vcpu", "read-only (valid)",
           HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, ro_load(&bc, sizeof(bc))), 0);
    minios_evtchn_close(q);
    struct evtchn_send sn = { .port = ipi };
    EXPECT("event_channel_op/send", "read-only (valid)",
           HYPERVISOR_event_channel_op(EVTCHNOP_send, ro_load(&sn, sizeof(sn))), 0);
    __atomic_and_fetch(&minios_shared_info->evtchn_pending[ipi / 64], ~(1UL << (ipi % 64)),
                       __ATOMIC_SEQ_CST);
    struct evtchn_unmask um = { .port = ipi };
    EXPECT("event_channel_op/unmask", "read-only (valid)",
           HYPERVISOR_event_channel_op(EVTCHNOP_unmask, ro_load(&um, sizeof(um))), 0);
    struct evtchn_close cl = { .port = ipi };
    EXPECT("event_channel_op/close", "read-only (valid)",
           HYPERVISOR_event_channel_op(EVTCHNOP_close, ro_load(&cl, sizeof(cl))), 0);
    EXPECT("event_channel_op/close (closed)", "read-only", evtchn_status_of(ipi),
           EVTCHNSTAT_closed);
    struct evtchn_reset rs = { .dom = 12345 };
    EXPECT("event_channel_op/reset", "read-only (valid, no such domain)",
           HYPERVISOR_event_channel_op(EVTCHNOP_reset, ro_load(&rs, sizeof(rs))), -XEN_ESRCH);
}

static long gnt(unsigned cmd, unsigned long arg, unsigned count)
{
    return _hypercall3(__HYPERVISOR_grant_table_op, cmd, arg, count);
}

static void test_grant_table_op(void)
{
    static const struct { unsigned cmd; const char *name; unsigned long size; } ops[] = {
        { GNTTABOP_setup_table, "grant_table_op/setup_table", sizeof(struct gnttab_setup_table) },
        { GNTTABOP_query_size, "grant_table_op/query_size", sizeof(struct gnttab_query_size) },
        { GNTTABOP_set_version, "grant_table_op/set_version", sizeof(struct gnttab_set_version) },
        { GNTTABOP_get_version, "grant_table_op/get_version", sizeof(struct gnttab_get_version) },
        { GNTTABOP_get_status_frames, "grant_table_op/get_status_frames",
          sizeof(struct gnttab_get_status_frames) },
        { GNTTABOP_map_grant_ref, "grant_table_op/map_grant_ref", sizeof(struct gnttab_map_grant_ref) },
        { GNTTABOP_unmap_grant_ref, "grant_table_op/unmap_grant_ref",
          sizeof(struct gnttab_unmap_grant_ref) },
        { GNTTABOP_unmap_and_replace, "grant_table_op/unmap_and_replace",
          sizeof(struct gnttab_unmap_and_replace) },
        { GNTTABOP_copy, "grant_table_op/copy", sizeof(struct gnttab_copy) },
    };
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        for (int k = 0; k < NKINDS; k++)
            EXPECT(ops[i].name, kind_name[k], gnt(ops[i].cmd, bad_ptr(k, ops[i].size), 1),
                   -XEN_EFAULT);

    /* setup_table.frame_list and get_status_frames.frame_list: Xen checks
     * only where the list starts; a frame that cannot be written is
     * GNTST_bad_virt_addr in the status, and the call returns 0. */
    for (int k = 0; k < NKINDS; k++) {
        struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 1, .status = 99 };
        set_xen_guest_handle(st.frame_list, (xen_pfn_t *)bad_ptr(k, sizeof(xen_pfn_t)));
        long rc = gnt(GNTTABOP_setup_table, (unsigned long)&st, 1);
        EXPECT("grant_table_op/setup_table.frame_list", kind_name[k], rc,
               refused_early(k) ? -XEN_EFAULT : 0);
        if (!refused_early(k))
            EXPECT("grant_table_op/setup_table.frame_list status", kind_name[k], st.status,
                   GNTST_bad_virt_addr);
        struct gnttab_get_status_frames gs = { .dom = DOMID_SELF, .nr_frames = 1, .status = 99 };
        set_xen_guest_handle(gs.frame_list, (uint64_t *)bad_ptr(k, sizeof(uint64_t)));
        rc = gnt(GNTTABOP_get_status_frames, (unsigned long)&gs, 1);
        EXPECT("grant_table_op/get_status_frames.frame_list", kind_name[k], rc,
               refused_early(k) ? -XEN_EFAULT : 0);
        if (!refused_early(k))       /* v1: no status frames */
            EXPECT("grant_table_op/get_status_frames.frame_list status", kind_name[k],
                   gs.status, GNTST_general_error);
    }
    xen_pfn_t frames[2] = { 0, 0 };
    ro_load(frames, sizeof(frames));
    struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 1, .status = 99 };
    set_xen_guest_handle(st.frame_list, (xen_pfn_t *)ro);
    EXPECT("grant_table_op/setup_table.frame_list", "read-only",
           gnt(GNTTABOP_setup_table, (unsigned long)&st, 1), 0);
    EXPECT("grant_table_op/setup_table.frame_list status", "read-only", st.status,
           GNTST_bad_virt_addr);
    if (top_ok) {
        /* Two frames, the second in the non-canonical hole: the first is
         * written, the status says bad_virt_addr. */
        xen_pfn_t *tf = (xen_pfn_t *)(TOP_END - sizeof(xen_pfn_t));
        *tf = 0;
        st.nr_frames = 2;
        st.status = 99;
        set_xen_guest_handle(st.frame_list, tf);
        EXPECT("grant_table_op/setup_table.frame_list[1]", "straddling",
               gnt(GNTTABOP_setup_table, (unsigned long)&st, 1), 0);
        EXPECT("grant_table_op/setup_table.frame_list[1] status", "straddling", st.status,
               GNTST_bad_virt_addr);
        if (*tf == 0)
            test_fail("setup_table: frame 0 not written before the bad frame 1");
    }
    /* The whole op read-only: the frames are written, the status is not. */
    st.nr_frames = 1;
    set_xen_guest_handle(st.frame_list, frames);
    void *p = ro_load(&st, sizeof(st));
    EXPECT("grant_table_op/setup_table", "read-only", gnt(GNTTABOP_setup_table, (unsigned long)p, 1),
           -XEN_EFAULT);
    if (frames[0] == 0)
        test_fail("setup_table through a read-only op: frame list not written");
    struct gnttab_query_size qs = { .dom = DOMID_SELF };
    EXPECT("grant_table_op/query_size", "read-only",
           gnt(GNTTABOP_query_size, (unsigned long)ro_load(&qs, sizeof(qs)), 1), -XEN_EFAULT);
    struct gnttab_set_version sv = { .version = 1 };
    EXPECT("grant_table_op/set_version", "read-only",
           gnt(GNTTABOP_set_version, (unsigned long)ro_load(&sv, sizeof(sv)), 1), -XEN_EFAULT);
    struct gnttab_get_version gv = { .dom = DOMID_SELF };
    EXPECT("grant_table_op/get_version", "read-only",
           gnt(GNTTABOP_get_version, (unsigned long)ro_load(&gv, sizeof(gv)), 1), -XEN_EFAULT);
    struct gnttab_get_status_frames gs = { .dom = DOMID_SELF, .nr_frames = 0 };
    EXPECT("grant_table_op/get_status_frames", "read-only",
           gnt(GNTTABOP_get_status_frames, (unsigned long)ro_load(&gs, sizeof(gs)), 1), -XEN_EFAULT);

    /* Batches: a bad array start is -EFAULT (count 1 above, count 2 here
     * from the early-refused kinds); a read-only op is processed and its
     * status cannot be written back (-EFAULT); an array that runs into
     * the non-canonical hole does its first op, then -EFAULT. */
    for (int k = 0; k < NKINDS; k++) {
        if (k == STRADDLE)
            continue;
        EXPECT("grant_table_op/map_grant_ref[2]", kind_name[k],
               gnt(GNTTABOP_map_grant_ref, bad_ptr(k, 0), 2), -XEN_EFAULT);
        EXPECT("grant_table_op/unmap_grant_ref[2]", kind_name[k],
               gnt(GNTTABOP_unmap_grant_ref, bad_ptr(k, 0), 2), -XEN_EFAULT);
        EXPECT("grant_table_op/copy[2]", kind_name[k], gnt(GNTTABOP_copy, bad_ptr(k, 0), 2),
               -XEN_EFAULT);
    }
    struct gnttab_map_grant_ref mo = { .host_addr = (unsigned long)pg_c, .flags = GNTMAP_host_map,
                                       .ref = 60000, .dom = self, .status = 99 };
    EXPECT("grant_table_op/map_grant_ref", "read-only",
           gnt(GNTTABOP_map_grant_ref, (unsigned long)ro_load(&mo, sizeof(mo)), 1), -XEN_EFAULT);
    struct gnttab_unmap_grant_ref uo = { .host_addr = (unsigned long)pg_c, .handle = 60000,
                                         .status = 99 };
    EXPECT("grant_table_op/unmap_grant_ref", "read-only",
           gnt(GNTTABOP_unmap_grant_ref, (unsigned long)ro_load(&uo, sizeof(uo)), 1), -XEN_EFAULT);
    grant_ref_t ref = minios_gnttab_grant_access(self, mfn_of(pg_a), 1);
    if (ref == MINIOS_GNTTAB_INVALID_REF) {
        test_error("grant_access failed");
        return;
    }
    memset(pg_a, 0x5a, 4096);
    memset(pg_b, 0, 4096);
    struct gnttab_copy co = { .flags = GNTCOPY_source_gref, .len = 64, .status = 99 };
    co.source.domid = DOMID_SELF;
    co.source.u.ref = ref;
    co.dest.domid = DOMID_SELF;
    co.dest.u.gmfn = mfn_of(pg_b);
    EXPECT("grant_table_op/copy", "read-only",
           gnt(GNTTABOP_copy, (unsigned long)ro_load(&co, sizeof(co)), 1), -XEN_EFAULT);
    if (pg_b[0] != 0x5a || pg_b[63] != 0x5a || pg_b[64] != 0)
        test_fail("grant copy through a read-only op: not copied before the status write");
    if (top_ok) {
        /* Two ops, the second in the non-canonical hole. */
        struct gnttab_map_grant_ref *tm = (void *)(TOP_END - sizeof(*tm));
        mo.status = 99;
        *tm = mo;
        EXPECT("grant_table_op/map_grant_ref[1]", "straddling",
               gnt(GNTTABOP_map_grant_ref, (unsigned long)tm, 2), -XEN_EFAULT);
        EXPECT("grant_table_op/map_grant_ref[0] status", "straddling", tm->status,
               GNTST_bad_gntref);
        struct gnttab_unmap_grant_ref *tu = (void *)(TOP_END - sizeof(*tu));
        uo.status = 99;
        *tu = uo;
        EXPECT("grant_table_op/unmap_grant_ref[1]", "straddling",
               gnt(GNTTABOP_unmap_grant_ref, (unsigned long)tu, 2), -XEN_EFAULT);
        EXPECT("grant_table_op/unmap_grant_ref[0] status", "straddling", tu->status,
               GNTST_bad_handle);
        struct gnttab_copy *tc = (void *)(TOP_END - sizeof(*tc));
        memset(pg_b, 0, 4096);
        co.status = 99;
        *tc = co;
        EXPECT("grant_table_op/copy[1]", "straddling",
               gnt(GNTTABOP_copy, (unsigned long)tc, 2), -XEN_EFAULT);
        EXPECT("grant_table_op/copy[0] status", "straddling", tc->status, GNTST_okay);
        if (pg_b[0] != 0x5a)
            test_fail("grant copy: op 0 not done before the bad op 1");
    }
    minios_gnttab_end_access(ref);
}

static long memop(unsigned cmd, unsigned long arg)
{
    return _hypercall2(__HYPERVISOR_memory_op, cmd, arg);
}

static long cur_pages(void)
{
    domid_t d = DOMID_SELF;
    return memop(XENMEM_current_reservation, (unsigned long)&d);
}

static void test_memory_op(void)
{
    static const struct { unsigned cmd; const char *name; } res[] = {
        { XENMEM_increase_reservation, "memory_op/increase_reservation" },
        { XENMEM_decrease_reservation, "memory_op/decrease_reservation" },
        { XENMEM_populate_physmap, "memory_op/populate_physmap" },
    };
    long pages = cur_pages();
    /* Xen: these return the number of extents done, so a bad pointer to
     * the reservation, or a bad extent_start, gives 0, not -EFAULT. */
    for (unsigned i = 0; i < 3; i++)
        for (int k = 0; k < NKINDS; k++) {
            EXPECT(res[i].name, kind_name[k],
                   memop(res[i].cmd, bad_ptr(k, sizeof(struct xen_memory_reservation))), 0);
        }
    for (int k = 0; k < NKINDS; k++) {
        EXPECT("memory_op/current_reservation", kind_name[k],
               memop(XENMEM_current_reservation, bad_ptr(k, sizeof(domid_t))), -XEN_EFAULT);
        EXPECT("memory_op/maximum_reservation", kind_name[k],
               memop(XENMEM_maximum_reservation, bad_ptr(k, sizeof(domid_t))), -XEN_EFAULT);
        EXPECT("memory_op/memory_map", kind_name[k],
               memop(XENMEM_memory_map, bad_ptr(k, sizeof(struct xen_memory_map))), -XEN_EFAULT);
        struct xen_memory_map mm = { .nr_entries = 4 };
        set_xen_guest_handle(mm.buffer, (void *)bad_ptr(k, 20));
        EXPECT("memory_op/memory_map.buffer", kind_name[k],
               memop(XENMEM_memory_map, (unsigned long)&mm), -XEN_EFAULT);
    }
    domid_t me = DOMID_SELF;
    EXPECT("memory_op/current_reservation", "read-only (valid)",
           memop(XENMEM_current_reservation, (unsigned long)ro_load(&me, sizeof(me))), pages);
    struct xen_memory_map mm = { .nr_entries = 4 };
    set_xen_guest_handle(mm.buffer, (void *)pg_a);
    EXPECT("memory_op/memory_map", "read-only",
           memop(XENMEM_memory_map, (unsigned long)ro_load(&mm, sizeof(mm))), -XEN_EFAULT);
    set_xen_guest_handle(mm.buffer, (void *)ro);
    EXPECT("memory_op/memory_map.buffer", "read-only",
           memop(XENMEM_memory_map, (unsigned long)&mm), -XEN_EFAULT);

    /* Give four frames back (read-only list: reading is fine). */
    xen_pfn_t list[NBALLOON];
    for (int i = 0; i < NBALLOON; i++) {
        list[i] = mfn_of(balloon[i]);
        uvm(balloon[i], 0);
    }
    struct xen_memory_reservation r = { .nr_extents = NBALLOON, .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, (xen_pfn_t *)ro_load(list, sizeof(list)));
    EXPECT("memory_op/decrease_reservation.extent_start", "read-only (valid)",
           memop(XENMEM_decrease_reservation, (unsigned long)&r), NBALLOON);
    EXPECT("memory_op/current_reservation after giving frames back", "none", cur_pages(),
           pages - NBALLOON);
    /* Room for new extents now.  A list Xen refuses at its start: no
     * extent is made. */
    r.nr_extents = 1;
    for (int k = 0; k < NKINDS; k++) {
        set_xen_guest_handle(r.extent_start, (xen_pfn_t *)bad_ptr(k, sizeof(xen_pfn_t)));
        for (unsigned i = 0; i < 3; i++) {
            long before = cur_pages();
            long rc = memop(res[i].cmd, (unsigned long)&r);
            /* Xen: a list it accepts at its start gets an extent for
             * increase_reservation (made, then the write fails: it stays
             * the domain's); populate and decrease read first: nothing. */
            long made = (res[i].cmd == XENMEM_increase_reservation && !refused_early(k)) ? 1 : 0;
            EXPECT(res[i].name, kind_name[k], rc, 0);
            EXPECT("memory_op/current_reservation afterwards", kind_name[k], cur_pages(),
                   before + made);
        }
    }
    /* populate_physmap through a read-only list: the gpfn is read, the
     * extent made, the machine frame cannot be written: 0, and it stays. */
    if (cur_pages() < pages) {
        xen_pfn_t gpfn = (unsigned long)balloon[3] >> 12;
        set_xen_guest_handle(r.extent_start, (xen_pfn_t *)ro_load(&gpfn, sizeof(gpfn)));
        long before = cur_pages();
        EXPECT("memory_op/populate_physmap.extent_start", "read-only",
               memop(XENMEM_populate_physmap, (unsigned long)&r), 0);
        EXPECT("memory_op/current_reservation afterwards", "read-only", cur_pages(), before + 1);
    }
    if (cur_pages() < pages) {
        xen_pfn_t z = 0;
        set_xen_guest_handle(r.extent_start, (xen_pfn_t *)ro_load(&z, sizeof(z)));
        long before = cur_pages();
        EXPECT("memory_op/increase_reservation.extent_start", "read-only",
               memop(XENMEM_increase_reservation, (unsigned long)&r), 0);
        EXPECT("memory_op/current_reservation afterwards", "read-only", cur_pages(), before + 1);
    }
}

static void test_mmu(void)
{
    /* A request that changes nothing: the M2P entry of our own frame. */
    unsigned long mfn = mfn_of(pg_a);
    struct mmu_update mu = { .ptr = mfn << 12 | MMU_MACHPHYS_UPDATE,
                             .val = (unsigned long)pg_a >> 12 };
    struct mmuext_op me = { .cmd = MMUEXT_TLB_FLUSH_LOCAL };
    for (int k = 0; k < NKINDS; k++) {
        const char *kn = kind_name[k];
        unsigned int done = 0xdeadbeef;
        /* Xen writes *done unless it refused the list at its start. */
        unsigned want_done = refused_early(k) ? 0xdeadbeef : 0;
        EXPECT("mmu_update", kn,
               HYPERVISOR_mmu_update((void *)bad_ptr(k, sizeof(mu)), 1, &done, DOMID_SELF),
               -XEN_EFAULT);
        EXPECT("mmu_update *done", kn, done, want_done);
        done = 0xdeadbeef;
        EXPECT("mmuext_op", kn,
               HYPERVISOR_mmuext_op((void *)bad_ptr(k, sizeof(me)), 1, &done, DOMID_SELF),
               -XEN_EFAULT);
        EXPECT("mmuext_op *done", kn, done, want_done);
        /* A *done that cannot be written: Xen ignores it. */
        EXPECT("mmu_update.done", kn,
               HYPERVISOR_mmu_update(&mu, 1, (unsigned *)bad_ptr(k, 4), DOMID_SELF), 0);
        EXPECT("mmuext_op.done", kn,
               HYPERVISOR_mmuext_op(&me, 1, (unsigned *)bad_ptr(k, 4), DOMID_SELF), 0);
    }
    EXPECT("mmu_update.done", "read-only",
           HYPERVISOR_mmu_update(&mu, 1, (unsigned *)ro_load(NULL, 0), DOMID_SELF), 0);
    EXPECT("mmuext_op.done", "read-only",
           HYPERVISOR_mmuext_op(&me, 1, (unsigned *)ro, DOMID_SELF), 0);
    unsigned int done = 0;
    EXPECT("mmu_update", "read-only (valid)",
           HYPERVISOR_mmu_update(ro_load(&mu, sizeof(mu)), 1, &done, DOMID_SELF), 0);
    EXPECT("mmu_update *done", "read-only (valid)", done, 1);
    done = 0;
    EXPECT("mmuext_op", "read-only (valid)",
           HYPERVISOR_mmuext_op(ro_load(&me, sizeof(me)), 1, &done, DOMID_SELF), 0);
    EXPECT("mmuext_op *done", "read-only (valid)", done, 1);
    if (top_ok) {
        /* Two requests, the second in the non-canonical hole: one done. */
        struct mmu_update *tu = (void *)(TOP_END - sizeof(*tu));
        *tu = mu;
        done = 0xdeadbeef;
        EXPECT("mmu_update[1]", "straddling", HYPERVISOR_mmu_update(tu, 2, &done, DOMID_SELF),
               -XEN_EFAULT);
        EXPECT("mmu_update[1] *done", "straddling", done, 1);
        struct mmuext_op *te = (void *)(TOP_END - sizeof(*te));
        *te = me;
        done = 0xdeadbeef;
        EXPECT("mmuext_op[1]", "straddling", HYPERVISOR_mmuext_op(te, 2, &done, DOMID_SELF),
               -XEN_EFAULT);
        EXPECT("mmuext_op[1] *done", "straddling", done, 1);
    }
}

static void test_traps_and_callbacks(void)
{
    for (int k = 0; k < NKINDS; k++) {
        EXPECT("set_trap_table", kind_name[k],
               HYPERVISOR_set_trap_table((void *)bad_ptr(k, sizeof(struct trap_info))), -XEN_EFAULT);
        EXPECT("callback_op/register", kind_name[k],
               HYPERVISOR_callback_op(CALLBACKOP_register,
                                      (void *)bad_ptr(k, sizeof(struct callback_register))),
               -XEN_EFAULT);
        EXPECT("callback_op/unregister", kind_name[k],
               HYPERVISOR_callback_op(CALLBACKOP_unregister,
                                      (void *)bad_ptr(k, sizeof(struct callback_unregister))),
               -XEN_EFAULT);
    }
    struct trap_info end = { 0 };       /* an empty table: changes nothing */
    EXPECT("set_trap_table", "read-only (valid)",
           HYPERVISOR_set_trap_table(ro_load(&end, sizeof(end))), 0);
    struct callback_unregister cu = { .type = CALLBACKTYPE_event };
    EXPECT("callback_op/unregister", "read-only (valid, event cannot go)",
           HYPERVISOR_callback_op(CALLBACKOP_unregister, ro_load(&cu, sizeof(cu))), -XEN_EINVAL);
}

/* ------------------------------------------------ control domain part */

static long domctl(unsigned long arg)
{
    return _hypercall1(__HYPERVISOR_domctl, arg);
}

static long sysctl(unsigned long arg)
{
    return _hypercall1(__HYPERVISOR_sysctl, arg);
}

static void domctl_init(struct xen_domctl *op, unsigned cmd, domid_t dom)
{
    memset(op, 0, sizeof(*op));
    op->cmd = cmd;
    op->interface_version = XEN_DOMCTL_INTERFACE_VERSION;
    op->domain = dom;
}

static void sysctl_init(struct xen_sysctl *op, unsigned cmd)
{
    memset(op, 0, sizeof(*op));
    op->cmd = cmd;
    op->interface_version = XEN_SYSCTL_INTERFACE_VERSION;
}

static void test_sysctl(void)
{
    struct xen_sysctl op;
    for (int k = 0; k < NKINDS; k++) {
        EXPECT("sysctl", kind_name[k], sysctl(bad_ptr(k, sizeof(op))), -XEN_EFAULT);
        sysctl_init(&op, XEN_SYSCTL_readconsole);
        op.u.readconsole.count = 64;
        set_xen_guest_handle(op.u.readconsole.buffer, (char *)bad_ptr(k, 64));
        EXPECT("sysctl/readconsole.buffer", kind_name[k], sysctl((unsigned long)&op), -XEN_EFAULT);
        sysctl_init(&op, XEN_SYSCTL_getdomaininfolist);
        op.u.getdomaininfolist.max_domains = 4;
        set_xen_guest_handle(op.u.getdomaininfolist.buffer,
                             (void *)bad_ptr(k, sizeof(struct xen_domctl_getdomaininfo)));
        EXPECT("sysctl/getdomaininfolist.buffer", kind_name[k], sysctl((unsigned long)&op),
               -XEN_EFAULT);
    }
    /* Read-only: the op runs, its result cannot be copied back. */
    sysctl_init(&op, XEN_SYSCTL_physinfo);
    EXPECT("sysctl/physinfo", "read-only", sysctl((unsigned long)ro_load(&op, sizeof(op))),
           -XEN_EFAULT);
    sysctl_init(&op, XEN_SYSCTL_readconsole);
    op.u.readconsole.count = 64;
    set_xen_guest_handle(op.u.readconsole.buffer, (char *)ro_load(NULL, 0));
    EXPECT("sysctl/readconsole.buffer", "read-only", sysctl((unsigned long)&op), -XEN_EFAULT);
    sysctl_init(&op, XEN_SYSCTL_getdomaininfolist);
    op.u.getdomaininfolist.max_domains = 4;
    set_xen_guest_handle(op.u.getdomaininfolist.buffer, (void *)ro);
    EXPECT("sysctl/getdomaininfolist.buffer", "read-only", sysctl((unsigned long)&op),
           -XEN_EFAULT);
}

static void test_domctl(void)
{
    struct xen_domctl op;
    for (int k = 0; k < NKINDS; k++) {
        const char *kn = kind_name[k];
        EXPECT("domctl", kn, domctl(bad_ptr(k, sizeof(op))), -XEN_EFAULT);
        domctl_init(&op, XEN_DOMCTL_getvcpucontext, peer);
        set_xen_guest_handle(op.u.vcpucontext.ctxt,
                             (void *)bad_ptr(k, sizeof(struct vcpu_guest_context)));
        EXPECT("domctl/getvcpucontext.ctxt", kn, domctl((unsigned long)&op), -XEN_EFAULT);
        domctl_init(&op, XEN_DOMCTL_getvcpuaffinity, peer);
        op.u.vcpuaffinity.flags = XEN_VCPUAFFINITY_HARD;
        op.u.vcpuaffinity.cpumap_hard.nr_bits = 64;
        set_xen_guest_handle(op.u.vcpuaffinity.cpumap_hard.bitmap, (uint8_t *)bad_ptr(k, 8));
        EXPECT("domctl/getvcpuaffinity.cpumap_hard", kn, domctl((unsigned long)&op), -XEN_EFAULT);
        op.cmd = XEN_DOMCTL_setvcpuaffinity;
        EXPECT("domctl/setvcpuaffinity.cpumap_hard", kn, domctl((unsigned long)&op), -XEN_EFAULT);
    }
    /* setvcpucontext on the paused peer: nothing is loaded. */
    domctl_init(&op, XEN_DOMCTL_pausedomain, peer);
    if (domctl((unsigned long)&op))
        test_error("cannot pause the peer");
    for (int k = 0; k < NKINDS; k++) {
        domctl_init(&op, XEN_DOMCTL_setvcpucontext, peer);
        set_xen_guest_handle(op.u.vcpucontext.ctxt,
                             (void *)bad_ptr(k, sizeof(struct vcpu_guest_context)));
        EXPECT("domctl/setvcpucontext.ctxt", kind_name[k], domctl((unsigned long)&op),
               -XEN_EFAULT);
    }
    domctl_init(&op, XEN_DOMCTL_unpausedomain, peer);
    if (domctl((unsigned long)&op))
        test_error("cannot unpause the peer");
    domctl_init(&op, XEN_DOMCTL_getdomaininfo, peer);
    EXPECT("domctl/getdomaininfo", "read-only", domctl((unsigned long)ro_load(&op, sizeof(op))),
           -XEN_EFAULT);
    domctl_init(&op, XEN_DOMCTL_getvcpucontext, peer);
    set_xen_guest_handle(op.u.vcpucontext.ctxt, (void *)ro_load(NULL, 0));
    EXPECT("domctl/getvcpucontext.ctxt", "read-only", domctl((unsigned long)&op), -XEN_EFAULT);
    domctl_init(&op, XEN_DOMCTL_getvcpuaffinity, peer);
    op.u.vcpuaffinity.flags = XEN_VCPUAFFINITY_HARD;
    op.u.vcpuaffinity.cpumap_hard.nr_bits = 64;
    set_xen_guest_handle(op.u.vcpuaffinity.cpumap_hard.bitmap, (uint8_t *)ro);
    EXPECT("domctl/getvcpuaffinity.cpumap_hard", "read-only", domctl((unsigned long)&op),
           -XEN_EFAULT);
    /* The peer still works: it is alive and running. */
    domctl_init(&op, XEN_DOMCTL_getdomaininfo, peer);
    if (domctl((unsigned long)&op) || op.u.getdomaininfo.domain != peer ||
        (op.u.getdomaininfo.flags & (XEN_DOMINF_dying | XEN_DOMINF_shutdown)))
        test_fail("the peer d%u is not well after the domctl calls", peer);
}

static int idle(void)
{
    /* The peer: sleeps until the control domain destroys it. */
    uint64_t end = minios_monotonic_ns() + 120000 * MS;
    while (minios_monotonic_ns() < end)
        minios_sleep_ns(10 * MS);
    test_fail("peer was never destroyed");
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op");
    if (op && !strcmp(op, "idle"))
        return idle();
    const char *p = test_arg(argc, argv, "peer");
    peer = p ? (domid_t)atoi(p) : 0;
    self = minios_domid();
    uint64_t t0 = minios_monotonic_ns();
    if (minios_gnttab_init())
        test_error("no grant table");
    ro_load(NULL, 0);
    setup_top();
    test_xen_version();
    test_console_io();
    test_sched_op();
    test_vcpu_op();
    test_event_channel_op();
    test_grant_table_op();
    test_memory_op();
    test_mmu();
    test_traps_and_callbacks();
    if (peer) {
        test_sysctl();
        test_domctl();
        struct xen_domctl d;
        domctl_init(&d, XEN_DOMCTL_destroydomain, peer);
        if (domctl((unsigned long)&d))
            test_error("cannot destroy the peer");
    } else {
        test_error("no peer= argument: sysctl and domctl not run");
    }
    if (mismatches)
        printf("guest-access: %u of %u calls with bad pointers not as Xen does\n", mismatches, calls);
    else
        printf("guest-access: %u calls with bad pointers, all refused as Xen does (%lu ms)\n",
               calls, (unsigned long)((minios_monotonic_ns() - t0) / MS));
    return test_finish();
}
