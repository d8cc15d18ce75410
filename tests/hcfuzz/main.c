/* Guest test: a seeded hypercall fuzzer (op=fuzz) and the witness domain beside it
 * (op=witness).
 *
 *   op=fuzz seed=<n> calls=<n> witness=<domid> [victim=<domid>] [from=<i>] [trace=<i>]
 *   op=witness peer=<domid of the fuzzer>
 *
 * Call i draws every random number from a generator seeded with (seed, i) alone, so its family
 * and arguments are replayable: `from=i` starts at call i (after the same setup), `trace=i`
 * prints every call from i on (index, family, result).  Progress lines name (seed, index) every
 * PROGRESS calls, and every failure names its (seed, index, family); the state a call meets
 * (frames held, ports open, pins) depends on the calls before it, so a state-dependent failure
 * replays from 0 with trace= near its index.
 *
 * Families (arguments mostly near-valid, about one in five hostile): mmu_update on a private
 * pinned L1, on the L1 of a scratch 2 MiB area, into frames taken from increase_reservation and
 * pinned as tables, and into an unused slot of our own L4; mmuext_op (pins and unpins of every
 * level, flushes, invlpg, new_baseptr with our own L4 or frames that must be refused);
 * update_va_mapping on the scratch area; grant_table_op (self grants mapped host and device
 * only, unmapped, copied; the witness's refs; setup_table, query_size, versions);
 * event_channel_op (all of 2-level, our console-less minios keeps only the timer VIRQ and the
 * witness links, which are never closed); memory_op (reservations on a pool of extra frames,
 * hostile decreases of our live frames, queries); vcpu_op (timers, runstate, vcpu_info,
 * down/up of vCPU 1 with vcpus=2, whose loop hammers the hypervisor meanwhile); sched_op
 * (yield, poll, block with a timer); misc (numbers with no hypercall: -ENOSYS; xen_version,
 * console_io, debug registers); with role=control also domctl and sysctl against the victim
 * domain (paused, unpaused, reconfigured, destroyed late in the run) and domains the fuzzer
 * creates and destroys; never against the witness or itself.
 *
 * Invariants checked here (a FAILURE names the call): a mapping of a frame that is not ours
 * (mmu_update, update_va_mapping) is never accepted; pinning or installing as a base pointer a
 * frame we map writable is refused; giving back a frame we still map is refused; the witness's
 * grant refs and ports cannot be mapped or bound; numbers that are no hypercall return -ENOSYS;
 * unprivileged, no domctl, sysctl or foreign evtchn operation on another domain succeeds; and
 * after cleanup every extra frame can be given back (no reference leaked).  The runner adds the
 * exact free-frame count once all domains are gone ("all returned").
 *
 * The witness checksums 64 KiB of its own memory every 32 ticks, sleeps 1 ms per tick and reports
 * its longest stall (the worst lateness of a 1 ms timer); it ends when the fuzzer closes (or
 * loses, by dying) the channel between them. */
#define __XEN_TOOLS__ 1
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/sched.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <xen/memory.h>
#include <xen/domctl.h>
#include <xen/sysctl.h>
#include <xen/hvm/save.h>
#include "report.h"
#include "rng.h"
#include "args.h"
#include "ptwalk.h"
#include "vcpuctx.h"

#define PG          4096UL
#define PTE_RW      0x67UL       /* present, writable, user, accessed, dirty */
#define PTE_RO      0x65UL
#define GIVE        32           /* frames given back at setup: room for the extra pool */
#define POOL_MAX    64
#define NPORTS      48
#define NMAPS       32
#define NGPAGES     8
#define REF_BASE    100          /* grant refs the fuzzer writes itself */
#define NREFS       32
#define SLOT_L4     255          /* an L4 slot minios never uses */
#define PROGRESS    5000
#define MAX_FAILS   10
#define HV_VA       0xFFFF830000100000UL
#define NODOM       0x7fe0       /* ids up to 0x7fef that no domain gets in a test run */

/* ---- Shared state and reporting. */

static uint64_t seed = 1;
static unsigned long cur_call;
static const char *cur_fam = "setup";
static unsigned nfails;
static domid_t self_id, witness_id, victim_id = DOMID_INVALID;
static int ctl, two_vcpus;
static unsigned long trace_from = ~0UL;

/* With trace=<i>: what a call is about to do, before it does it. */
#define TRACE(...) do {                                                   \
        if (cur_call >= trace_from) {                                     \
            printf("hcfuzz:   " __VA_ARGS__);                             \
            fflush(stdout);                                               \
        }                                                                 \
    } while (0)

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (++nfails <= MAX_FAILS)
        test_fail("hcfuzz seed %#lx index %lu (%s): %s", (unsigned long)seed, cur_call, cur_fam,
                  buf);
    else if (nfails == MAX_FAILS + 1)
        test_fail("hcfuzz: more failures not shown");
}

static uint64_t rs;
static void rng_for_call(unsigned long i)
{
    rs = rng_seed_for(seed, i);
}
static uint64_t rnd(void)
{
    return rng_next(&rs);
}
static unsigned rn(unsigned n) { return (unsigned)(rnd() % n); }
static int chance(unsigned pct) { return rn(100) < pct; }

/* ---- Witness. */

#define W_PAGES 16
static uint64_t wregion[W_PAGES * PG / 8] __attribute__((aligned(PG)));

static uint64_t wsum(void)
{
    uint64_t s = 0;
    for (unsigned k = 0; k < sizeof(wregion) / 8; k++)
        s = s * 31 + wregion[k];
    return s;
}

static int witness(int argc, char **argv)
{
    const char *p = test_arg(argc, argv, "peer");
    domid_t peer = p ? (domid_t)strtoul(p, NULL, 0) : 1;
    for (unsigned k = 0; k < sizeof(wregion) / 8; k++)
        wregion[k] = rng_mix64(k + 0x77);
    uint64_t want = wsum();
    evtchn_port_t port;
    if (minios_evtchn_alloc_unbound(peer, &port)) {
        test_error("witness: cannot offer a port to d%u", peer);
        return test_finish();
    }
    printf("witness: port %u offered to d%u\n", port, peer);
    uint64_t start = minios_monotonic_ns(), worst = 0;
    unsigned long ticks = 0, checks = 0, bad = 0;
    int bound = 0;
    for (;;) {
        uint64_t deadline = minios_monotonic_ns() + 1000000;
        minios_sleep_ns(1000000);
        uint64_t late = minios_monotonic_ns() - deadline;
        if (late > worst)
            worst = late;
        ticks++;
        if (ticks % 5000 == 0)
            printf("witness: %lu ticks, longest stall so far %lu us\n", ticks,
                   (unsigned long)(worst / 1000));
        if (ticks % 32 == 0) {
            checks++;
            if (wsum() != want)
                bad++;
        }
        struct evtchn_status st = { .dom = DOMID_SELF, .port = port };
        long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
        if (rc) {
            test_fail("witness: status of its own port: %ld", rc);
            break;
        }
        if (st.status == EVTCHNSTAT_interdomain)
            bound = 1;
        else if (bound || st.status != EVTCHNSTAT_unbound)
            break;
        if (!bound && minios_monotonic_ns() - start > 60000000000ULL) {
            test_error("witness: d%u never connected", peer);
            break;
        }
    }
    checks++;
    if (wsum() != want)
        bad++;
    printf("witness: %lu ticks, longest stall %lu us, checksum %s (%lu checks)\n", ticks,
           (unsigned long)(worst / 1000), bad ? "BAD" : "ok", checks);
    if (bad)
        test_fail("witness: its memory changed under it (%lu bad checks)", bad);
    return test_finish();
}

/* ---- The fuzzer's resources. */

static char ltab[PG] __attribute__((aligned(PG)));            /* private pinned L1 */
static char giveback[GIVE][PG] __attribute__((aligned(PG)));
static char gpages[NGPAGES][PG] __attribute__((aligned(PG)));  /* granted to ourselves */
static char junk[2 * PG] __attribute__((aligned(PG)));         /* argument buffers */
static char vi1_page[PG] __attribute__((aligned(PG)));         /* vCPU 1's vcpu_info */
/* A page of scratch followed by an unmapped page, for pointers that straddle into a hole. */
static struct { char pad[PG]; char hole[PG]; } edge __attribute__((aligned(PG)));

static unsigned long *p2m;
static unsigned long nr_pages, max_ram;
static unsigned long *own_sorted;         /* our p2m, sorted */
static unsigned long lt_mfn, l4_mfn, si_mfn, l4_slot_maddr;
static unsigned long gnt_mfn[64];       /* grant-table frames (the table may grow) */
static unsigned ngnt;
static unsigned long scratch;             /* 2 MiB area: slots 0..255 mmu, 256..511 grant */
static unsigned long scratch_l1;          /* machine address of its L1 entry 0 */

static unsigned long pool[POOL_MAX];      /* extra frames from increase/populate */
static unsigned npool;

static evtchn_port_t ports[NPORTS];       /* ports we opened */
static unsigned nports;
static evtchn_port_t protect[4];
static unsigned nprotect;

static struct { grant_handle_t h; unsigned long va, bus; unsigned flags; } maps[NMAPS];
static unsigned nmaps;

static domid_t created[4];
static unsigned ncreated, ncreated_total, ndestroyed_created;
static int victim_paused, victim_dead;
static unsigned long kill_after = ~0UL;     /* the victim may be destroyed from this call on */

enum { F_MMU, F_MMUEXT, F_UVA, F_GNT, F_EVT, F_MEM, F_VCPU, F_SCHED, F_MISC, F_DOMCTL,
       F_SYSCTL, NFAM };
static const char *const fam_name[NFAM] = {
    "mmu_update", "mmuext_op", "update_va_mapping", "grant_table_op", "event_channel_op",
    "memory_op", "vcpu_op", "sched_op", "misc", "domctl", "sysctl" };
static unsigned long cnt[NFAM][3];        /* ok, errno, other */
static uint64_t fam_ns[NFAM], fam_worst_ns[NFAM];
static unsigned long fam_worst_call[NFAM];
static unsigned long refused;             /* hostile calls refused as they must be */

static int cmp_ul(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return x < y ? -1 : x > y;
}

static int in_pool(unsigned long m)
{
    for (unsigned k = 0; k < npool; k++)
        if (pool[k] == m)
            return 1;
    return 0;
}

static int is_own(unsigned long m)
{
    if (bsearch(&m, own_sorted, nr_pages, sizeof(m), cmp_ul) || in_pool(m) || m == si_mfn)
        return 1;
    for (unsigned k = 0; k < ngnt; k++)
        if (gnt_mfn[k] == m)
            return 1;
    return 0;
}

static unsigned long own_mfn(void)
{
    for (;;) {
        unsigned long m = p2m[rn((unsigned)nr_pages)];
        if (m != ~0UL)
            return m;
    }
}

/* A frame we map writable and may write freely: a granted page or an argument buffer. */
static unsigned long data_mfn(void)
{
    unsigned k = rn(NGPAGES + 2);
    return minios_virt_to_mfn(k < NGPAGES ? gpages[k] : junk + (k - NGPAGES) * PG);
}

static unsigned long pool_mfn(void) { return npool ? pool[rn(npool)] : data_mfn(); }

/* A frame that is not ours: below the top of RAM (the hypervisor's, the witness's, free). */
static unsigned long foreign_mfn(void)
{
    for (;;) {
        unsigned long m = rnd() % max_ram;
        if (!is_own(m))
            return m;
    }
}

static unsigned long wild_mfn(void)
{
    switch (rn(3)) {
    case 0: return rnd() & 0xfffffffffUL;
    case 1: return max_ram + rn(1024);
    default: return ~0UL >> rn(20);
    }
}

/* A frame for an argument: mostly our own kinds, sometimes hostile. */
static unsigned long any_mfn(int *hostile)
{
    unsigned r = rn(20);
    *hostile = 0;
    if (r < 8) return pool_mfn();
    if (r < 13) return own_mfn();
    if (r == 13) return lt_mfn;
    if (r == 14) return l4_mfn;
    *hostile = 1;
    return r < 19 ? foreign_mfn() : wild_mfn();
}

/* A bad pointer: the hypervisor, non-canonical, unmapped, misaligned, read-only. */
static void *bad_ptr(void)
{
    switch (rn(6)) {
    case 0: return (void *)(HV_VA + (rnd() & 0xffff));
    case 1: return (void *)(0x0000800000000000UL + (rnd() & 0xffffff));
    case 2: return (void *)(scratch + ((256UL + rn(256)) << 12));   /* grant maps or nothing */
    case 3: return (void *)(edge.hole - 1 - rn(8));                    /* straddles a hole */
    case 4: return (void *)(unsigned long)minios_start_info->pt_base;  /* read-only */
    default: return (void *)(rnd() | 0xffff000000000000UL);
    }
}

/* A bad pointer the hypervisor can neither read nor write. */
static void *bad_ptr_unmapped(void)
{
    switch (rn(3)) {
    case 0: return (void *)(HV_VA + (rnd() & 0xffff));
    case 1: return (void *)(0x0000800000000000UL + (rnd() & 0xffffff));
    default: return (void *)(rnd() | 0xffff000000000000UL);
    }
}

static void *arg_ptr(void *good)
{
    return chance(85) ? good : bad_ptr();
}

static int protected_port(evtchn_port_t p)
{
    for (unsigned k = 0; k < nprotect; k++)
        if (protect[k] == p)
            return 1;
    return p == 0;
}

static evtchn_port_t any_port(void)
{
    unsigned r = rn(10);
    if (r < 6 && nports)
        return ports[rn(nports)];
    if (r < 8)
        return rn(64);
    return (evtchn_port_t)rnd();
}

static void port_add(evtchn_port_t p)
{
    if (nports < NPORTS)
        ports[nports++] = p;
}

static void port_del(evtchn_port_t p)
{
    for (unsigned k = 0; k < nports; k++)
        if (ports[k] == p) {
            ports[k] = ports[--nports];
            return;
        }
}

static unsigned long va_slot(unsigned s) { return scratch + ((unsigned long)s << 12); }

/* ---- Families.  Each returns the result it counts. */

/* Our grant table may have grown behind a call whose frame list we did not see: learn its
 * frames again (query the size, then set up exactly that many: no growth). */
static void refresh_gnt(void)
{
    struct gnttab_query_size q = { .dom = DOMID_SELF };
    if (HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1) || q.status)
        return;
    xen_pfn_t fr[64];
    struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = q.nr_frames };
    if (st.nr_frames > 64)
        return;
    set_xen_guest_handle(st.frame_list, fr);
    if (HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1) || st.status)
        return;
    for (ngnt = 0; ngnt < st.nr_frames; ngnt++)
        gnt_mfn[ngnt] = fr[ngnt];
}

static unsigned long ro_foreign;          /* read-only mappings of frames not ours accepted */

static long mmu_hostile_check(long r, unsigned long ptr, unsigned long val, int foreign,
                              const char *what)
{
    if (foreign == 1 && (val & 1) && r == 0) {
        /* Frames we may map though they are not in our p2m: grant-table frames (the table may
         * have grown unseen) and, read-only, the image pages we share with the other domains
         * built from the same image (our p2m names a private frame for those pages). */
        refresh_gnt();
        if (is_own(val >> 12 & 0xffffffffffUL))
            return r;
        if (!(val & 2)) {
            ro_foreign++;
            return r;
        }
    }
    if (foreign && (val & 1)) {
        if (r == 0)
            fail("%s of a %s accepted: ptr %#lx val %#lx", what,
                 foreign == 2 ? "writable data frame as a table" : "foreign frame", ptr, val);
        else
            refused++;
    }
    return r;
}

static unsigned long any_pte(int *foreign)
{
    int h;
    unsigned long m = any_mfn(&h);
    unsigned long fl = chance(70) ? (chance(50) ? PTE_RW : PTE_RO) : (rnd() & 0xfff);
    if (chance(5))
        fl |= 1UL << 63;
    if (chance(3))
        fl |= rnd() & 0x7ff0000000000000UL;
    *foreign = h && m < max_ram;
    return (m << 12) | fl;
}

static long fam_mmu(void)
{
    struct mmu_update u[8];
    unsigned n = 1 + rn(chance(80) ? 2 : 8);
    int foreign[8] = { 0 };
    for (unsigned k = 0; k < n; k++) {
        unsigned r = rn(10);
        u[k].val = any_pte(&foreign[k]);
        if (r < 4)                                   /* private L1 */
            u[k].ptr = (lt_mfn << 12) + 8 * rn(512);
        else if (r < 7)                              /* the scratch area's live L1 */
            u[k].ptr = scratch_l1 + 8 * rn(256);
        else if (r < 8) {                            /* a pool frame, whatever its type */
            u[k].ptr = (pool_mfn() << 12) + 8 * rn(512);
            foreign[k] = 0;   /* into a frame that is no table, a PTE is only data (Xen) */
        }
        else if (r < 9) {                            /* our L4's spare slot: a pool frame as L3 */
            u[k].ptr = l4_slot_maddr;
            if (chance(60) && npool) {
                u[k].val = (pool_mfn() << 12) | (chance(50) ? PTE_RW : PTE_RO);
                foreign[k] = 0;
            } else if (chance(20)) {
                u[k].val = (l4_mfn << 12) | PTE_RO;  /* linear */
                foreign[k] = 0;
            } else if (chance(20)) {
                u[k].val = (data_mfn() << 12) | PTE_RO;  /* a writable page as L3: refused */
                foreign[k] = 2;
            }
        } else {                                     /* hostile targets */
            switch (rn(5)) {
            case 0: u[k].ptr = (foreign_mfn() << 12) + 8 * rn(512); foreign[k] = 0; break;
            case 1: u[k].ptr = (l4_mfn << 12) + 8 * (256 + rn(16)); break;  /* hv slots */
            case 2: u[k].ptr = (wild_mfn() << 12) | rn(8); break;
            case 3:                                  /* m2p of a pool or foreign frame */
                u[k].ptr = ((chance(50) ? pool_mfn() : foreign_mfn()) << 12) |
                           MMU_MACHPHYS_UPDATE;
                u[k].val = rnd() % (2 * nr_pages);
                foreign[k] = 0;
                break;
            default:                                 /* unknown command bits, misaligned */
                u[k].ptr = (lt_mfn << 12) + rn(4096) + (chance(50) ? 2 : 3);
                foreign[k] = 0;
            }
        }
        /* An m2p update of one of our own live frames would mislead minios's walks. */
        if ((u[k].ptr & 3) == MMU_MACHPHYS_UPDATE && is_own(u[k].ptr >> 12) &&
            !in_pool(u[k].ptr >> 12))
            u[k].ptr = (lt_mfn << 12);
    }
    unsigned done = 0;
    domid_t dom = chance(90) ? DOMID_SELF : (domid_t)(chance(50) ? witness_id : rn(8));
    void *pu = chance(95) ? (void *)u : bad_ptr();
    unsigned cnt_arg = pu == u || chance(50) ? n : (unsigned)rnd();
    long r = _hypercall4(__HYPERVISOR_mmu_update, pu, cnt_arg,
                         chance(90) ? (void *)&done : bad_ptr(), dom);
    if (pu == u && cnt_arg == n && r == 0) {
        int fatal_dom = dom != DOMID_SELF && dom != self_id;
        for (unsigned k = 0; k < n; k++)
            mmu_hostile_check(r, u[k].ptr, u[k].val,
                              !fatal_dom && (u[k].ptr & 3) == MMU_NORMAL_PT_UPDATE ? foreign[k] : 0,
                              "mmu_update");
    }
    if (r == 0 && dom == witness_id && !ctl)
        fail("mmu_update for the witness domain accepted");
    return r;
}

static long fam_uva(void)
{
    int foreign;
    unsigned long val = any_pte(&foreign);
    unsigned s = rn(256);
    unsigned long fl = rn(3);                       /* UVMF_NONE, TLB_FLUSH, INVLPG */
    if (chance(20))
        fl |= UVMF_ALL;
    unsigned long cpumask = 3;
    if (chance(10))
        fl = (fl & ~UVMF_ALL) | UVMF_MULTI | (unsigned long)arg_ptr(&cpumask);
    if (chance(3))
        fl = rnd();
    unsigned long va = va_slot(s);
    if (chance(5))
        va = chance(50) ? HV_VA : 0x0000800000000000UL + (rnd() & ~0xfffUL);
    long r = _hypercall3(__HYPERVISOR_update_va_mapping, va, val, fl);
    if (va == va_slot(s))
        mmu_hostile_check(r, va, val, foreign, "update_va_mapping");
    if (r == 0 && va >= 0x0000800000000000UL)
        fail("update_va_mapping of %#lx accepted", va);
    return r;
}

static long fam_mmuext(void)
{
    struct mmuext_op op[4];
    unsigned n = 1 + rn(chance(80) ? 1 : 4);
    int must_refuse = 0;
    unsigned long cpumask = 3;
    memset(op, 0, sizeof(op));
    for (unsigned k = 0; k < n; k++) {
        unsigned r = rn(20), hostile;
        int h;
        if (r < 8) {                                /* pin a pool frame (or ours) at a level */
            op[k].cmd = MMUEXT_PIN_L1_TABLE + rn(4);
            op[k].arg1.mfn = any_mfn(&h);
            /* A frame we map writable (our data pages) must never become a table. */
            if (chance(15)) {
                op[k].arg1.mfn = data_mfn();
                if (n == 1)
                    must_refuse = 1;
            }
        } else if (r < 12) {
            op[k].cmd = MMUEXT_UNPIN_TABLE;
            op[k].arg1.mfn = chance(80) ? pool_mfn() : foreign_mfn();
        } else if (r < 16) {
            static const unsigned c[] = { MMUEXT_TLB_FLUSH_LOCAL, MMUEXT_INVLPG_LOCAL,
                                          MMUEXT_TLB_FLUSH_MULTI, MMUEXT_INVLPG_MULTI,
                                          MMUEXT_TLB_FLUSH_ALL, MMUEXT_INVLPG_ALL };
            op[k].cmd = c[rn(6)];
            op[k].arg1.linear_addr = chance(80) ? va_slot(rn(512)) : rnd();
            set_xen_guest_handle(op[k].arg2.vcpumask, (xen_ulong_t *)arg_ptr(&cpumask));
        } else if (r < 18) {                        /* a new base: ours, or one to refuse */
            op[k].cmd = MMUEXT_NEW_BASEPTR;
            hostile = rn(3);
            op[k].arg1.mfn = hostile == 0 ? l4_mfn : hostile == 1 ? foreign_mfn() : data_mfn();
            if (hostile && n == 1)
                must_refuse = 2;
        } else {                                    /* the rest, with frames not ours or pool */
            op[k].cmd = MMUEXT_NEW_USER_BASEPTR + rn(12);
            if (op[k].cmd == MMUEXT_NEW_USER_BASEPTR)
                op[k].arg1.mfn = chance(50) ? 0 : foreign_mfn();
            else
                op[k].arg1.mfn = chance(50) ? pool_mfn() : foreign_mfn();
            op[k].arg2.nr_ents = rn(4);
            if (chance(20))
                op[k].cmd = (unsigned)rnd();
        }
        /* Never unpin the tables we live on or our private L1. */
        if (op[k].cmd == MMUEXT_UNPIN_TABLE &&
            (op[k].arg1.mfn == lt_mfn || op[k].arg1.mfn == l4_mfn))
            op[k].cmd = MMUEXT_TLB_FLUSH_LOCAL;
    }
    unsigned done = 0;
    void *pop = chance(96) ? (void *)op : bad_ptr();
    long r = _hypercall4(__HYPERVISOR_mmuext_op, pop, pop == op || chance(50) ? n : (unsigned)rnd(),
                         chance(90) ? (void *)&done : bad_ptr(),
                         chance(95) ? DOMID_SELF : (domid_t)(chance(50) ? witness_id : rn(8)));
    if (must_refuse && pop == op) {
        if (r == 0)
            fail("%s of our writable data frame %#lx accepted",
                 must_refuse == 1 ? "pin" : "new_baseptr", (unsigned long)op[0].arg1.mfn);
        else
            refused++;
    }
    return r;
}

static grant_entry_v1_t *gtab;

static void grant_write(unsigned ref, domid_t to, unsigned long mfn, uint16_t flags)
{
    grant_entry_v1_t *e = &gtab[ref];
    e->flags = 0;
    __asm__ volatile("" ::: "memory");
    e->domid = to;
    e->frame = (uint32_t)mfn;
    __asm__ volatile("" ::: "memory");
    e->flags = flags;
}

static long fam_gnt(void)
{
    unsigned r = rn(20);
    long rc;
    if (r < 3) {                                    /* (re)write one of our entries */
        unsigned ref = REF_BASE + rn(NREFS);
        unsigned long m = chance(80) ? minios_virt_to_mfn(gpages[rn(NGPAGES)])
                                     : (chance(50) ? pool_mfn() : foreign_mfn());
        uint16_t fl = chance(80) ? (uint16_t)(GTF_permit_access | (chance(30) ? GTF_readonly : 0))
                                 : (uint16_t)rnd();
        if (chance(15))
            fl = 0;
        /* Never rewrite an entry while it is in use: the hypervisor's flags tell. */
        if (gtab[ref].flags & (GTF_reading | GTF_writing))
            return 0;
        domid_t to = chance(90) ? self_id : witness_id;
        TRACE("grant ref %u to d%u frame %#lx flags %#x\n", ref, to, m, fl);
        grant_write(ref, to, m, fl);
        return 0;
    }
    if (r < 8) {                                    /* map */
        struct gnttab_map_grant_ref m = { 0 };
        /* A map over a present entry replaces it (as Xen): never over one
         * of our tracked mappings, which would lose its entry. */
        unsigned s = 256 + rn(256);
        for (unsigned k = 0; k < nmaps; k++)
            if ((maps[k].flags & GNTMAP_host_map) && maps[k].va == va_slot(s)) {
                s = 256 + rn(256);
                k = (unsigned)-1;
            }
        int from_witness = chance(15);
        m.dom = from_witness ? witness_id : chance(95) ? self_id : (domid_t)rnd();
        m.ref = chance(90) ? REF_BASE + rn(NREFS) : (grant_ref_t)rnd();
        m.flags = GNTMAP_host_map | (chance(30) ? GNTMAP_readonly : 0);
        if (chance(25))
            m.flags = GNTMAP_device_map | (chance(50) ? GNTMAP_readonly : 0);
        if (chance(5))
            m.flags = (uint32_t)rnd();
        m.host_addr = (m.flags & GNTMAP_host_map) ? va_slot(s) : 0;
        if (chance(5))              /* a mapped address would be a valid target */
            m.host_addr = (uint64_t)bad_ptr_unmapped();
        if (nmaps == NMAPS)
            return 0;
        void *pm = chance(95) ? (void *)&m : bad_ptr();
        TRACE("map d%u ref %u flags %#x at %#lx\n", m.dom, m.ref, m.flags,
              (unsigned long)m.host_addr);
        rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, pm, 1);
        TRACE("map: %ld status %d handle %u bus %#lx\n", rc, m.status, m.handle,
              (unsigned long)m.dev_bus_addr);
        if (pm == &m && rc == 0 && m.status == GNTST_okay) {
            if (from_witness)
                fail("mapped ref %u of the witness, which grants nothing", m.ref);
            maps[nmaps].h = m.handle;
            maps[nmaps].va = m.host_addr;
            maps[nmaps].bus = m.dev_bus_addr;
            maps[nmaps].flags = m.flags;
            nmaps++;
        } else if (from_witness)
            refused++;
        return rc ? rc : m.status;
    }
    if (r < 11) {                                   /* unmap */
        struct gnttab_unmap_grant_ref u = { 0 };
        unsigned k = nmaps ? rn(nmaps) : 0;
        int real = nmaps && chance(85);
        /* Xen unmaps only the halves whose address is given: a device mapping needs its bus
         * address, else the call succeeds and unmaps nothing. */
        int whole = 1;
        if (real) {
            u.handle = maps[k].h;
            u.host_addr = (maps[k].flags & GNTMAP_host_map) ? maps[k].va : 0;
            u.dev_bus_addr = (maps[k].flags & GNTMAP_device_map) ? maps[k].bus : 0;
            if (chance(10)) {
                u.dev_bus_addr = 0;
                whole = !(maps[k].flags & GNTMAP_device_map);
            }
        } else {
            u.handle = (grant_handle_t)rn(64);
            u.host_addr = va_slot(rn(512));
        }
        rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
        TRACE("unmap handle %u at %#lx: %ld status %d\n", u.handle, (unsigned long)u.host_addr,
              rc, u.status);
        if (real && whole && rc == 0 && u.status == GNTST_okay)
            maps[k] = maps[--nmaps];
        /* As Xen, any entry that maps the frame as the grant was mapped
         * serves to unmap it: the host half of a tracked mapping may go
         * through another slot (its own entry stays, an ordinary one). */
        for (unsigned j = 0; !real && rc == 0 && u.status == GNTST_okay && j < nmaps; j++)
            if (maps[j].h == u.handle && (maps[j].flags & GNTMAP_host_map)) {
                maps[j].flags &= ~GNTMAP_host_map;
                if (!(maps[j].flags & GNTMAP_device_map))
                    maps[j] = maps[--nmaps];
                break;
            }
        return rc ? rc : u.status;
    }
    if (r < 15) {                                   /* copy */
        struct gnttab_copy c[2];
        unsigned n = 1 + rn(2);
        memset(c, 0, sizeof(c));
        for (unsigned k = 0; k < n; k++) {
            for (int side = 0; side < 2; side++) {
                struct { union { grant_ref_t ref; xen_pfn_t gmfn; } u; domid_t domid;
                         uint16_t offset; } *p = side ? (void *)&c[k].dest : (void *)&c[k].source;
                if (chance(50)) {
                    p->u.ref = chance(90) ? REF_BASE + rn(NREFS) : (grant_ref_t)rnd();
                    p->domid = chance(85) ? self_id : witness_id;
                    c[k].flags |= side ? GNTCOPY_dest_gref : GNTCOPY_source_gref;
                } else {
                    unsigned q = rn(10);
                    p->u.gmfn = q < 6 ? minios_virt_to_mfn(gpages[rn(NGPAGES)])
                              : q < 8 ? pool_mfn() : q < 9 ? foreign_mfn() : wild_mfn();
                    p->domid = chance(95) ? DOMID_SELF : witness_id;
                }
                p->offset = (uint16_t)(chance(90) ? rn(4096) : rnd());
            }
            c[k].len = (uint16_t)(chance(90) ? rn(4097) : rnd());
        }
        rc = HYPERVISOR_grant_table_op(GNTTABOP_copy, c, n);
        for (unsigned k = 0; k < n && rc == 0; k++)
            if (c[k].status == GNTST_okay && !(c[k].flags & GNTCOPY_dest_gref) &&
                c[k].dest.domid == DOMID_SELF && !is_own(c[k].dest.u.gmfn))
                fail("copy into foreign frame %#lx accepted", (unsigned long)c[k].dest.u.gmfn);
        return rc ? rc : c[0].status;
    }
    switch (rn(6)) {                                /* table management */
    case 0: {
        struct gnttab_query_size q = { .dom = chance(80) ? DOMID_SELF : witness_id,
                                       .status = 1 };
        void *pq = arg_ptr(&q);
        rc = HYPERVISOR_grant_table_op(GNTTABOP_query_size, pq, 1);
        if (pq == &q && rc == 0 && q.dom == witness_id && q.status == GNTST_okay && !ctl)
            fail("query_size of the witness accepted");
        return rc ? rc : q.status;
    }
    case 1: {
        xen_pfn_t fr[8];
        struct gnttab_setup_table s = { .dom = chance(85) ? DOMID_SELF : witness_id,
                                        .nr_frames = chance(80) ? 1 + rn(8) : (uint32_t)rnd() };
        set_xen_guest_handle(s.frame_list, (xen_pfn_t *)arg_ptr(fr));
        if (s.nr_frames > 8 && s.frame_list.p == fr)
            s.nr_frames = 8;
        rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &s, 1);
        if (rc == 0 && s.status == GNTST_okay && s.frame_list.p == fr && s.dom == DOMID_SELF)
            for (unsigned k = 0; k < s.nr_frames; k++) {
                if (k < ngnt && fr[k] != gnt_mfn[k])
                    fail("grant frame %u moved: %#lx, was %#lx", k, (unsigned long)fr[k],
                         gnt_mfn[k]);
                if (k == ngnt)
                    gnt_mfn[ngnt++] = fr[k];
            }
        if (rc == 0 && s.dom == witness_id && s.status == GNTST_okay && !ctl)
            fail("setup_table of the witness accepted");
        return rc ? rc : s.status;
    }
    case 2: {
        /* Version 2 is offered (then our v1-layout entries read as junk
         * v2 ones, which the hypervisor must take as any hostile entry);
         * mostly back to 1, refused (-EBUSY) while a grant is in use. */
        uint32_t want = chance(70) ? 1 : (uint32_t)rn(4);
        struct gnttab_set_version v = { .version = want };
        rc = HYPERVISOR_grant_table_op(GNTTABOP_set_version, &v, 1);
        if (rc == 0 && v.version != want)
            fail("set_version(%u) succeeded, version now %u", want, v.version);
        if (rc != 0 && (v.version < 1 || v.version > 2))
            fail("set_version(%u) failed (%ld), version now %u", want, rc, v.version);
        return rc;
    }
    case 3: {
        struct gnttab_get_version v = { .dom = chance(80) ? DOMID_SELF : witness_id };
        return HYPERVISOR_grant_table_op(GNTTABOP_get_version, arg_ptr(&v), 1);
    }
    case 4: {
        uint64_t fr[4];
        struct gnttab_get_status_frames g = { .nr_frames = rn(4), .dom = DOMID_SELF };
        set_xen_guest_handle(g.frame_list, (uint64_t *)arg_ptr(fr));
        rc = HYPERVISOR_grant_table_op(GNTTABOP_get_status_frames, &g, 1);
        return rc ? rc : g.status;
    }
    default:                                        /* anything else, on junk */
        return HYPERVISOR_grant_table_op(chance(50) ? rn(16) : (unsigned)rnd(),
                                         chance(70) ? (void *)junk : bad_ptr(), rn(3));
    }
}

static long fam_evt(void)
{
    long rc;
    domid_t other = witness_id;
    switch (rn(14)) {
    case 0: case 1: {
        if (nports >= NPORTS - 4)
            goto close;
        struct evtchn_alloc_unbound a = { .dom = DOMID_SELF,
            .remote_dom = chance(50) ? DOMID_SELF : chance(50) ? witness_id : (domid_t)rn(8) };
        int foreign = chance(5);
        if (foreign)
            a.dom = other;
        rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a);
        if (rc == 0 && !foreign)
            port_add(a.port);
        if (foreign && !ctl) {
            if (rc == 0)
                fail("allocated a port in the witness");
            else
                refused++;
        }
        return rc;
    }
    case 2: {                                       /* loop back to our own unbound ports */
        if (nports >= NPORTS - 4)
            goto close;
        int to_w = chance(15);
        struct evtchn_bind_interdomain b = { .remote_dom = to_w ? witness_id : DOMID_SELF,
                                             .remote_port = any_port() };
        if (!to_w)
            b.remote_dom = self_id;
        rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b);
        if (rc == 0)
            port_add(b.local_port);
        if (to_w && !ctl) {   /* a control domain may have made the witness offer one */
            if (rc == 0)
                fail("bound port %u of the witness, which offers us none", b.remote_port);
            else
                refused++;
        }
        return rc;
    }
    case 3: {
        if (nports >= NPORTS - 4)
            goto close;
        struct evtchn_bind_virq v = { .virq = chance(80) ? rn(NR_VIRQS) : (uint32_t)rnd(),
                                      .vcpu = chance(80) ? rn(2) : (uint32_t)rnd() };
        rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &v);
        if (rc == 0)
            port_add(v.port);
        return rc;
    }
    case 4: {
        if (nports >= NPORTS - 4)
            goto close;
        struct evtchn_bind_ipi b = { .vcpu = chance(80) ? rn(2) : (uint32_t)rnd() };
        rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &b);
        if (rc == 0)
            port_add(b.port);
        return rc;
    }
    case 5: {
        struct evtchn_bind_pirq b = { .pirq = rn(64), .flags = rn(2) };
        rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_pirq, &b);
        if (rc == 0 && !ctl) {
            fail("bound pirq %u without the hardware role", b.pirq);
            port_add(b.port);
        } else if (rc)
            refused++;
        return rc;
    }
    case 6: case 7: {
        struct evtchn_send s = { .port = any_port() };
        return HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
    }
    case 8: close: {
        struct evtchn_close c = { .port = any_port() };
        if (protected_port(c.port))
            return 0;
        rc = HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
        if (rc == 0)
            port_del(c.port);
        return rc;
    }
    case 9: {
        int foreign = chance(30);
        struct evtchn_status s = { .dom = foreign ? other : DOMID_SELF, .port = any_port() };
        void *ps = arg_ptr(&s);
        rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, ps);
        if (foreign && !ctl && ps == &s) {
            if (rc == 0)
                fail("status of the witness's port %u accepted", s.port);
            else
                refused++;
        }
        return rc;
    }
    case 10: {
        struct evtchn_bind_vcpu b = { .port = any_port(), .vcpu = chance(80) ? rn(2) : rnd() };
        if (protected_port(b.port))
            return 0;
        return HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &b);
    }
    case 11: {
        struct evtchn_unmask u = { .port = any_port() };
        return HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &u);
    }
    case 12: {                                      /* reset: never our own or the witness's */
        struct evtchn_reset e = { .dom = chance(50) ? other : (domid_t)(NODOM + rn(16)) };
        if (ctl && e.dom == other)
            e.dom = (domid_t)(NODOM + rn(16));
        rc = HYPERVISOR_event_channel_op(EVTCHNOP_reset, &e);
        if (!ctl) {
            if (rc == 0)
                fail("reset the event channels of d%u", e.dom);
            else
                refused++;
        }
        return rc;
    }
    default:                                        /* unknown or FIFO commands, junk */
        return HYPERVISOR_event_channel_op(chance(50) ? 11 + rn(10) : (int)rnd(),
                                           chance(70) ? (void *)junk : bad_ptr());
    }
}

static long fam_mem(void)
{
    xen_pfn_t list[64];   /* a hostile count may make the hypervisor write up to GIVE */
    struct xen_memory_reservation res = { .domid = DOMID_SELF };
    long rc;
    unsigned r = rn(20);
    if (r < 7) {                                    /* take frames into the pool */
        res.nr_extents = 1 + rn(chance(80) ? 1 : 4);
        res.extent_order = chance(85) ? 0 : rn(3);
        if (chance(5))
            res.extent_order = 9 + rn(20);
        for (unsigned k = 0; k < 4; k++)
            list[k] = rnd() % (nr_pages + 64);      /* gpfns for populate */
        /* Never a list the hypervisor could write to: we must learn every frame we get. */
        set_xen_guest_handle(res.extent_start, (xen_pfn_t *)(chance(90) ? (void *)list
                                                                       : bad_ptr_unmapped()));
        if (chance(5))
            res.nr_extents = (xen_ulong_t)rnd();
        int foreign = chance(5);
        if (foreign)
            res.domid = witness_id;
        if (npool + 4 * (res.nr_extents > 4 ? 4 : res.nr_extents) > POOL_MAX)
            return 0;
        unsigned cmd = chance(50) ? XENMEM_increase_reservation : XENMEM_populate_physmap;
        rc = _hypercall2(__HYPERVISOR_memory_op, cmd, &res);
        if (foreign && !ctl && rc > 0)
            fail("memory_op %u for the witness gave %ld extents", cmd, rc);
        if (rc > 0 && res.extent_start.p == list && !foreign)
            for (long k = 0; k < rc && k < 64; k++)
                for (unsigned j = 0; j < (1u << res.extent_order) && npool < POOL_MAX; j++)
                    pool[npool++] = list[k] + j;
        return rc;
    }
    if (r < 12) {                                   /* give frames back */
        unsigned q = rn(10);
        int live = 0;
        unsigned idx = 0;
        res.nr_extents = 1;
        if (q < 6 && npool) {
            idx = rn(npool);
            list[0] = pool[idx];
        } else if (q < 8) {
            list[0] = data_mfn();                   /* mapped by us: must stay */
            live = 1;
        } else
            list[0] = chance(50) ? foreign_mfn() : wild_mfn();
        if (q >= 6 && chance(10))
            res.extent_order = rn(10);
        set_xen_guest_handle(res.extent_start, (xen_pfn_t *)arg_ptr(list));
        unsigned long pfn_before = list[0] < max_ram ? m2p[list[0]] : ~0UL;
        unsigned long pte_before = 0;
        if (live && pfn_before < nr_pages) {
            unsigned long ma = l1e_maddr(pfn_before << 12);
            pte_before = *(unsigned long *)((m2p[ma >> 12] << 12) + (ma & 0xfff));
        }
        rc = _hypercall2(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, &res);
        if (rc == 1 && res.extent_order && res.extent_start.p == list)
            fail("gave back %u frames from %#lx, which is %s", 1u << res.extent_order,
                 (unsigned long)list[0], live ? "ours and mapped" : "not ours");
        else if (rc == 1 && res.extent_start.p == list) {
            if (q < 6 && npool)
                pool[idx] = pool[--npool];
            else
                fail("gave back frame %#lx (pfn %#lx, pte %#lx), which is %s",
                     (unsigned long)list[0], pfn_before, pte_before,
                     live ? "ours and mapped" : "not ours");
        } else if (q >= 6 && rc == 0)
            refused++;
        return rc;
    }
    switch (rn(7)) {
    case 0: case 1: {
        domid_t d = chance(70) ? DOMID_SELF : chance(50) ? witness_id : (domid_t)rnd();
        void *pd = arg_ptr(&d);
        rc = _hypercall2(__HYPERVISOR_memory_op,
                         chance(50) ? XENMEM_current_reservation : XENMEM_maximum_reservation,
                         pd);
        if (pd == &d && rc >= 0 && d == witness_id && !ctl)
            fail("read the reservation of the witness");
        return rc;
    }
    case 2:
        return _hypercall2(__HYPERVISOR_memory_op, XENMEM_maximum_ram_page, NULL);
    case 3: {
        uint64_t e[4 * 3];   /* four e820 entries of 20 bytes */
        struct xen_memory_map m = { .nr_entries = chance(80) ? rn(5) : rnd() };
        set_xen_guest_handle(m.buffer, arg_ptr(e));
        if (m.buffer.p == e && m.nr_entries > 4)
            m.nr_entries = 4;
        return _hypercall2(__HYPERVISOR_memory_op, XENMEM_memory_map, arg_ptr(&m));
    }
    case 4: {
        struct xen_add_to_physmap a = { .domid = DOMID_SELF, .space = rn(5), .idx = rn(8),
                                        .gpfn = rnd() % nr_pages };
        return _hypercall2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &a);
    }
    default: {                                      /* any other command on junk */
        unsigned cmd = chance(50) ? rn(40) : (unsigned)rnd();
        if ((cmd & 0x3f) <= XENMEM_populate_physmap || (cmd & 0x3f) == XENMEM_exchange)
            cmd = XENMEM_maximum_ram_page;          /* junk lists could name live frames */
        return _hypercall2(__HYPERVISOR_memory_op, cmd, chance(70) ? (void *)junk : bad_ptr());
    }
    }
}

/* vCPU 1: a loop of calls that touch shared state while vCPU 0 fuzzes. */
static char v1_stack[16384] __attribute__((aligned(16)));
static struct vcpu_guest_context v1_ctx;
static volatile unsigned long v1_calls;
static evtchn_port_t v1_port;
static int v1_initialised, v1_vi_registered;

static void vcpu1_main(void)
{
    minios_shared_info->vcpu_info[1].evtchn_upcall_mask = 1;
    ((vcpu_info_t *)vi1_page)->evtchn_upcall_mask = 1;
    uint64_t x = 0x1234567 + v1_calls;
    for (;;) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        switch (x % 6) {
        case 0: HYPERVISOR_sched_op(SCHEDOP_yield, NULL); break;
        case 1: {
            struct vcpu_runstate_info ri;
            HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 1, &ri);
            break;
        }
        case 2: {
            struct mmuext_op op = { .cmd = (x & 8) ? MMUEXT_TLB_FLUSH_ALL : MMUEXT_INVLPG_ALL };
            op.arg1.linear_addr = scratch + ((x >> 8) % 512) * PG;
            _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF);
            break;
        }
        case 3: {
            struct evtchn_send s = { .port = v1_port };
            HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
            break;
        }
        case 4: {
            struct gnttab_copy c = { .flags = GNTCOPY_source_gref, .len = 64 };
            c.source.u.ref = REF_BASE + (unsigned)((x >> 8) % NREFS);
            c.source.domid = self_id;
            c.dest.u.gmfn = minios_virt_to_mfn(gpages[NGPAGES - 1]);
            c.dest.domid = DOMID_SELF;
            c.dest.offset = (uint16_t)((x >> 20) % 4000);
            HYPERVISOR_grant_table_op(GNTTABOP_copy, &c, 1);
            break;
        }
        default:
            _hypercall3(__HYPERVISOR_update_va_mapping, scratch + ((x >> 8) % 256) * PG,
                        0, UVMF_INVLPG | UVMF_ALL);
        }
        v1_calls++;
    }
}

static long v1_init(void)
{
    vcpu_ctx_init(&v1_ctx, vcpu1_main, v1_stack, sizeof(v1_stack));
    v1_ctx.user_regs.rflags = 0;
    long rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &v1_ctx);
    if (rc == 0)
        v1_initialised = 1;
    return rc;
}

static long fam_vcpu(void)
{
    unsigned id = chance(70) ? 0 : chance(70) ? 1 : (unsigned)rnd();
    long rc;
    switch (rn(11)) {
    case 0:
        return HYPERVISOR_vcpu_op(VCPUOP_is_up, id, NULL);
    case 1: {
        struct vcpu_runstate_info ri;
        return HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, id, arg_ptr(&ri));
    }
    case 2: {
        struct vcpu_set_periodic_timer p = { .period_ns = chance(80) ? 1000000 + rn(10000000)
                                                                      : rnd() };
        return HYPERVISOR_vcpu_op(VCPUOP_set_periodic_timer, id, arg_ptr(&p));
    }
    case 3:
        return HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, id, NULL);
    case 4: {
        struct vcpu_set_singleshot_timer s = {
            .timeout_abs_ns = minios_monotonic_ns() - 100000 + rn(1000000),
            .flags = chance(30) ? VCPU_SSHOTTMR_future : 0 };
        if (chance(10))
            s.timeout_abs_ns = rnd();
        return HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, id, arg_ptr(&s));
    }
    case 5:
        return HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, id, NULL);
    case 6: {                                       /* vcpu_info: vCPU 0's is registered */
        struct vcpu_register_vcpu_info r = { .mfn = any_mfn(&(int){ 0 }),
                                             .offset = (uint32_t)(rn(64) * 64) };
        if (chance(20))
            r.offset = (uint32_t)rnd();
        unsigned v = id;
        if (v == 1 && two_vcpus && !v1_vi_registered && chance(50)) {
            /* Down, and only on its own page, whatever it was given. */
            if (HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL) == 0) {
                r.mfn = minios_virt_to_mfn(vi1_page);
                r.offset = 0;
                rc = HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 1, &r);
                v1_vi_registered = rc == 0;
                return rc;
            }
        }
        if (v == 1 && two_vcpus && !v1_vi_registered)
            v = 0;
        rc = HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, v, arg_ptr(&r));
        if (rc == 0)
            fail("vcpu_info of vCPU %u registered again (mfn %#lx)", v, (unsigned long)r.mfn);
        else
            refused++;
        return rc;
    }
    case 7: case 8:                                 /* vCPU 1 down and up */
        if (!two_vcpus)
            return HYPERVISOR_vcpu_op(chance(50) ? VCPUOP_up : VCPUOP_down, 1 + rn(4), NULL);
        if (HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL) == 1) {
            rc = HYPERVISOR_vcpu_op(VCPUOP_down, 1, NULL);
            if (rc == 0 && HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL) != 0)
                fail("vCPU 1 up after VCPUOP_down");
            return rc;
        }
        if (!v1_initialised || chance(20))
            v1_init();
        return HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL);
    case 9: {                                       /* initialise: refused unless down */
        struct vcpu_guest_context c;
        memcpy(&c, junk, sizeof(c));
        unsigned v = chance(50) ? 0 : 2 + rn(8);
        if (two_vcpus && v == 0 && chance(50) && HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL) == 1)
            v = 1;
        rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, v, arg_ptr(&c));
        if (rc == 0)
            fail("initialise of running or absent vCPU %u accepted", v);
        else
            refused++;
        return rc;
    }
    default:
        return HYPERVISOR_vcpu_op(14 + rn(20), id, chance(70) ? (void *)junk : bad_ptr());
    }
}

static long fam_sched(void)
{
    switch (rn(8)) {
    case 0: case 1:
        return HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    case 2: case 3: {
        evtchn_port_t pl[4];
        unsigned n = 1 + rn(4);
        for (unsigned k = 0; k < n; k++)
            pl[k] = any_port();
        struct sched_poll p = { .nr_ports = n,
                                .timeout = minios_monotonic_ns() + 1000 + rn(200000) };
        if (chance(10))
            p.nr_ports = (unsigned)rnd();
        if (chance(40) && nports) {                 /* one is pending: returns at once */
            struct evtchn_send s = { .port = pl[0] };
            HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
        }
        set_xen_guest_handle(p.ports, (evtchn_port_t *)(chance(90) ? (void *)pl : bad_ptr()));
        unsigned long fl = minios_events_save();
        TRACE("poll %u ports (%u ...) timeout +%lu ns\n", p.nr_ports, pl[0],
              (unsigned long)(p.timeout - minios_monotonic_ns()));
        long rc = HYPERVISOR_sched_op(SCHEDOP_poll, &p);
        minios_events_restore(fl);
        return rc;
    }
    case 4: {                                       /* block, with a timer to end it */
        /* Masked first: a timer that fires before the block stays pending and the block
         * returns at once (unmasked, its upcall would consume it and the block last forever). */
        unsigned long fl = minios_events_save();
        struct vcpu_set_singleshot_timer s = { .timeout_abs_ns = minios_monotonic_ns() +
                                                                 20000 + rn(200000) };
        long rc = HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &s);
        TRACE("block, timer %ld\n", rc);
        rc = HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        minios_events_restore(fl);
        return rc;
    }
    case 5: {                                       /* shutdown of others */
        struct sched_remote_shutdown r = { .domain_id = ctl ? (domid_t)(NODOM + rn(16))
                                                            : witness_id,
                                           .reason = SHUTDOWN_poweroff };
        long rc = HYPERVISOR_sched_op(SCHEDOP_remote_shutdown, &r);
        if (!ctl) {
            if (rc == 0)
                fail("shut down the witness");
            else
                refused++;
        }
        return rc;
    }
    case 6: {
        struct sched_shutdown s = { .reason = rn(8) };
        return HYPERVISOR_sched_op(SCHEDOP_shutdown_code, &s);
    }
    default: {
        int cmd = chance(50) ? 5 + rn(10) : (int)rnd();
        if (cmd == SCHEDOP_remote_shutdown || cmd == SCHEDOP_shutdown || cmd == SCHEDOP_block ||
            cmd == SCHEDOP_watchdog)
            cmd = SCHEDOP_yield;
        if (cmd == SCHEDOP_poll)
            cmd = 64;
        return HYPERVISOR_sched_op(cmd, chance(70) ? (void *)junk : bad_ptr());
    }
    }
}

/* A hypercall number no stub of the hypercall page has. */
static long raw_syscall(unsigned long nr)
{
    long ret;
    __asm__ __volatile__("syscall" : "=a"(ret) : "a"(nr), "D"(rnd()), "S"(rnd())
                         : "rcx", "r11", "rdx", "r8", "r10", "memory", "cc");
    return ret;
}

static long fam_misc(void)
{
    long rc;
    switch (rn(8)) {
    case 0: case 1: {                               /* no such hypercall */
        unsigned nr = chance(50) ? 39 + rn(25) : 64 + rn(1000);
        if (nr < 64) {                              /* numbers we know nothing behind */
            static const unsigned none[] = { 38, 39, 43, 44, 45, 46, 47, 50, 51, 52, 53, 54,
                                             55, 56, 57, 58, 59, 60, 61, 62, 63 };
            nr = none[rn(sizeof(none) / sizeof(none[0]))];
        }
        if (nr >= 128) {                            /* beyond the page: syscall directly */
            unsigned long big = chance(50) ? nr : rnd();
            rc = raw_syscall(big);
            if (rc != -XEN_ENOSYS)
                fail("hypercall %#lx returned %ld, not -ENOSYS", big, rc);
            return rc;
        }
        rc = minios_hypercall(nr, rnd(), rnd(), rnd(), rnd(), rnd());
        if (rc != -XEN_ENOSYS)
            fail("hypercall %u returned %ld, not -ENOSYS", nr, rc);
        return rc;
    }
    case 2: {
        /* Numbers Xen has, some answered by Keel as Xen does with nothing behind
         * (mca, xenoprof, dm_op, ...: xen-abi checks their results), with junk. */
        static const unsigned safe[] = { __HYPERVISOR_multicall, __HYPERVISOR_physdev_op_compat,
                                         __HYPERVISOR_vm_assist, __HYPERVISOR_nmi_op,
                                         __HYPERVISOR_hvm_op, __HYPERVISOR_kexec_op,
                                         __HYPERVISOR_tmem_op, __HYPERVISOR_xenpmu_op,
                                         __HYPERVISOR_platform_op, __HYPERVISOR_xsm_op,
                                         __HYPERVISOR_argo_op, __HYPERVISOR_dm_op,
                                         __HYPERVISOR_hypfs_op, 48 /* mca */, 49,
                                         __HYPERVISOR_xenoprof_op, __HYPERVISOR_physdev_op,
                                         __HYPERVISOR_set_gdt, __HYPERVISOR_update_descriptor,
                                         __HYPERVISOR_sysctl + 100 };
        unsigned nr = safe[rn(sizeof(safe) / sizeof(safe[0]))];
        if (nr >= 64)
            nr = 63;
        return minios_hypercall(nr, rn(4), (unsigned long)(chance(70) ? (void *)junk : bad_ptr()),
                                rn(4), 0, 0);
    }
    case 3: {
        char buf[1100];
        memset(buf, 0, sizeof(buf));
        *(uint32_t *)buf = (uint32_t)rn(1024);    /* xen_build_id's len */
        return HYPERVISOR_xen_version(chance(80) ? rn(16) : (int)rnd(), arg_ptr(buf));
    }
    case 4: {                                       /* console: reads, empty and bad writes */
        int cmd = chance(50) ? CONSOLEIO_read : chance(50) ? CONSOLEIO_write : (int)rn(8);
        /* Writes are rate-limited per domain: big counts would starve our own output. */
        int count = chance(50) ? 0 : cmd == CONSOLEIO_write ? (int)rn(8) : (int)rnd();
        static const unsigned long unreadable[] = { HV_VA, 0x0000800000000000UL,
                                                    0xdead000000000000UL, 0x40000000000UL };
        char *p = (char *)unreadable[rn(4)];
        if (chance(50)) {                       /* a good buffer, never written past */
            p = junk;
            count = cmd == CONSOLEIO_write ? 0 : (int)rn(sizeof(junk) + 1);
        }
        return HYPERVISOR_console_io(cmd, count, p);
    }
    case 5: {                                       /* debug registers aimed at the hypervisor */
        unsigned reg = rn(8);
        unsigned long v = reg < 4 ? (chance(70) ? HV_VA + (rnd() & 0xffff) : rnd()) :
                          reg == 7 ? (chance(50) ? 0 : (rnd() & 0xffff0000UL) | 0xff) : rnd();
        rc = _hypercall2(__HYPERVISOR_set_debugreg, reg, v);
        if (reg == 7 && rc == 0 && (v & 0xff))
            _hypercall2(__HYPERVISOR_set_debugreg, 7, 0);
        if (rc == 0 && reg < 4 && v >= 0x0000800000000000UL)
            fail("debug register %u set to %#lx", reg, v);
        return rc;
    }
    case 6:
        return _hypercall1(__HYPERVISOR_get_debugreg, chance(80) ? rn(8) : rnd());
    default:
        return HYPERVISOR_set_timer_op(chance(50) ? 0 : minios_monotonic_ns() + rn(1000000));
    }
}

/* ---- Control: domctl and sysctl (role=control), or their refusal. */

static long domctl(struct xen_domctl *d)
{
    return _hypercall1(__HYPERVISOR_domctl, d);
}

static domid_t ctl_target(int *victim)
{
    *victim = 0;
    unsigned r = rn(10);
    if (r < 5 && victim_id != DOMID_INVALID && !victim_dead) {
        *victim = 1;
        return victim_id;
    }
    if (r < 8 && ncreated)
        return created[rn(ncreated)];
    domid_t d = (domid_t)(chance(50) ? NODOM + rn(16) : rnd());
    if (d == self_id || d == witness_id || d == victim_id || d == DOMID_SELF)
        d = NODOM;
    for (unsigned k = 0; k < ncreated; k++)
        if (d == created[k])
            d = NODOM;
    return d;
}

static long fam_domctl(void)
{
    struct xen_domctl d;
    memset(&d, 0, sizeof(d));
    d.interface_version = chance(97) ? XEN_DOMCTL_INTERFACE_VERSION : (uint32_t)rnd();
    int victim;
    d.domain = ctl_target(&victim);
    long rc;
    if (!ctl) {                                     /* every one refused for the witness */
        d.domain = witness_id;
        d.cmd = rn(80);
        if (d.cmd == XEN_DOMCTL_createdomain)
            d.cmd = XEN_DOMCTL_pausedomain;
        memcpy(&d.u, junk, sizeof(d.u));
        rc = domctl(&d);
        if (rc == 0)
            fail("domctl %u on the witness accepted without the control role", d.cmd);
        else
            refused++;
        return rc;
    }
    switch (rn(18)) {
    case 0:
        d.cmd = XEN_DOMCTL_getdomaininfo;
        if (chance(30))
            d.domain = chance(50) ? witness_id : self_id;
        return domctl(&d);
    case 1:
        d.cmd = XEN_DOMCTL_pausedomain;
        rc = domctl(&d);
        if (rc == 0 && d.domain == victim_id)
            victim_paused++;
        return rc;
    case 2: case 3:                                 /* never a created domain: it has no context */
        d.cmd = XEN_DOMCTL_unpausedomain;
        if (!victim)
            d.domain = NODOM;
        rc = domctl(&d);
        if (rc == 0 && victim && victim_paused)
            victim_paused--;
        return rc;
    case 4:                                         /* the victim dies in the last fifth */
        d.cmd = XEN_DOMCTL_destroydomain;
        if (victim && (cur_call < kill_after || !chance(30)))
            d.domain = (domid_t)(NODOM + rn(16));
        rc = domctl(&d);
        if (rc == 0 && d.domain == victim_id)
            victim_dead = 1;
        if (rc == 0 && !victim)
            for (unsigned k = 0; k < ncreated; k++)
                if (created[k] == d.domain) {
                    created[k] = created[--ncreated];
                    ndestroyed_created++;
                }
        return rc;
    case 5:
        if (ncreated == 4)
            return 0;
        d.cmd = XEN_DOMCTL_createdomain;
        d.domain = chance(80) ? 0 : (domid_t)rnd();
        d.u.createdomain.max_vcpus = chance(80) ? 1 + rn(2) : (uint32_t)rnd();
        d.u.createdomain.max_evtchn_port = rn(2048);
        d.u.createdomain.max_grant_frames = rn(8);
        d.u.createdomain.max_maptrack_frames = rn(8);
        d.u.createdomain.grant_opts = chance(90) ? XEN_DOMCTL_GRANT_version(1) : (uint32_t)rnd();
        if (chance(20))
            d.u.createdomain.flags = (uint32_t)rnd();
        else if (chance(30)) {                      /* PVH (docs/hvm.md): mostly valid */
            d.u.createdomain.flags = XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap;
            d.u.createdomain.arch.emulation_flags = chance(90) ? XEN_X86_EMU_LAPIC
                                                                : (uint32_t)rn(0x800);
        }
        rc = domctl(&d);
        if (rc == 0) {
            if (d.domain == self_id || d.domain == witness_id || d.domain == victim_id) {
                fail("createdomain returned existing domain d%u", d.domain);
                return rc;
            }
            created[ncreated++] = d.domain;
            ncreated_total++;
        }
        return rc;
    case 6:
        d.cmd = XEN_DOMCTL_max_mem;
        d.u.max_mem.max_memkb = chance(50) ? rn(65536) : rnd();
        return domctl(&d);
    case 7:
        d.cmd = XEN_DOMCTL_max_vcpus;
        d.u.max_vcpus.max = rn(4);
        return domctl(&d);
    case 8: {
        d.cmd = chance(50) ? XEN_DOMCTL_getvcpuinfo : XEN_DOMCTL_getvcpuaffinity;
        static uint8_t map[4096];
        d.u.vcpuaffinity.vcpu = chance(80) ? 0 : (uint32_t)rnd();
        d.u.vcpuaffinity.flags = XEN_VCPUAFFINITY_HARD;
        set_xen_guest_handle(d.u.vcpuaffinity.cpumap_hard.bitmap, (uint8_t *)arg_ptr(map));
        d.u.vcpuaffinity.cpumap_hard.nr_bits = chance(80) ? 64 : (uint32_t)rnd();
        if (d.u.vcpuaffinity.cpumap_hard.bitmap.p == map)
            d.u.vcpuaffinity.cpumap_hard.nr_bits %= 8 * sizeof(map) + 1;
        return domctl(&d);
    }
    case 9: {
        d.cmd = XEN_DOMCTL_setvcpuaffinity;
        static uint8_t map[4096];
        map[0] = (uint8_t)rnd();
        d.u.vcpuaffinity.vcpu = chance(80) ? 0 : (uint32_t)rnd();
        d.u.vcpuaffinity.flags = chance(90) ? XEN_VCPUAFFINITY_HARD : (uint32_t)rnd();
        set_xen_guest_handle(d.u.vcpuaffinity.cpumap_hard.bitmap, (uint8_t *)arg_ptr(map));
        d.u.vcpuaffinity.cpumap_hard.nr_bits = chance(80) ? 8 : (uint32_t)rnd();
        if (d.u.vcpuaffinity.cpumap_hard.bitmap.p == map)
            d.u.vcpuaffinity.cpumap_hard.nr_bits %= 8 * sizeof(map) + 1;
        return domctl(&d);
    }
    case 10: {
        struct vcpu_guest_context c;
        d.cmd = XEN_DOMCTL_getvcpucontext;
        d.u.vcpucontext.vcpu = chance(80) ? 0 : (uint32_t)rnd();
        set_xen_guest_handle(d.u.vcpucontext.ctxt, (struct vcpu_guest_context *)arg_ptr(&c));
        return domctl(&d);
    }
    case 11: {                                      /* a context for a created domain only */
        struct vcpu_guest_context c;
        memcpy(&c, junk, sizeof(c));
        d.cmd = XEN_DOMCTL_setvcpucontext;
        if (victim)
            d.u.vcpucontext.vcpu = 100 + rn(100);   /* refused: no such vCPU */
        set_xen_guest_handle(d.u.vcpucontext.ctxt, (struct vcpu_guest_context *)arg_ptr(&c));
        return domctl(&d);
    }
    case 12:
        d.cmd = XEN_DOMCTL_scheduler_op;
        d.u.scheduler_op.sched_id = XEN_SCHEDULER_CREDIT;
        d.u.scheduler_op.cmd = chance(50) ? XEN_DOMCTL_SCHEDOP_getinfo : XEN_DOMCTL_SCHEDOP_putinfo;
        d.u.scheduler_op.u.credit.weight = (uint16_t)rn(1024);
        d.u.scheduler_op.u.credit.cap = (uint16_t)rn(200);
        if (chance(20) && d.u.scheduler_op.cmd == XEN_DOMCTL_SCHEDOP_getinfo)
            d.domain = self_id;
        return domctl(&d);
    case 13: {
        unsigned w = rn(3);
        d.cmd = w == 0 ? XEN_DOMCTL_ioport_permission : w == 1 ? XEN_DOMCTL_iomem_permission
                                                                : XEN_DOMCTL_irq_permission;
        d.u.ioport_permission.first_port = rnd();
        d.u.ioport_permission.nr_ports = chance(50) ? rn(16) : (uint32_t)rnd();
        d.u.ioport_permission.allow_access = (uint8_t)rn(2);
        if (w == 1) {
            d.u.iomem_permission.first_mfn = rnd();
            d.u.iomem_permission.nr_mfns = chance(50) ? rn(16) : rnd();
            d.u.iomem_permission.allow_access = (uint8_t)rn(2);
        } else if (w == 2) {
            d.u.irq_permission.pirq = rnd();
            d.u.irq_permission.allow_access = (uint8_t)rn(2);
        }
        return domctl(&d);
    }
    case 14:
        d.cmd = XEN_DOMCTL_set_target;
        d.u.set_target.target = chance(50) ? witness_id : (domid_t)rnd();
        if (victim && chance(50))
            d.domain = (domid_t)(NODOM + rn(16));
        return domctl(&d);
    case 15: {                                      /* a builder's populate_physmap */
        static xen_pfn_t gfns[8];
        struct xen_domctl_getdomaininfo gi = { 0 };
        struct xen_domctl q;
        memset(&q, 0, sizeof(q));
        q.cmd = XEN_DOMCTL_getdomaininfo;
        q.interface_version = XEN_DOMCTL_INTERFACE_VERSION;
        q.domain = d.domain;
        if (domctl(&q) == 0)
            gi = q.u.getdomaininfo;
        struct xen_memory_reservation r = { .nr_extents = 1 + rn(8), .extent_order = rn(3),
                                            .domid = d.domain };
        for (unsigned k = 0; k < 8; k++)    /* mostly where its RAM goes on, or anywhere */
            gfns[k] = chance(70) ? gi.tot_pages + (k << r.extent_order) : rnd();
        set_xen_guest_handle(r.extent_start, (xen_pfn_t *)arg_ptr(gfns));
        if (victim)
            r.domid = (domid_t)(NODOM + rn(16));    /* the victim's memory stays ours to check */
        return _hypercall2(__HYPERVISOR_memory_op, XENMEM_populate_physmap, &r);
    }
    case 16: {                                      /* a PVH start state, often bent */
        static struct {
            struct hvm_save_descriptor hd;
            struct hvm_save_header h;
            struct hvm_save_descriptor cd;
            struct hvm_hw_cpu c;
            struct hvm_save_descriptor ed;
        } rec;
        memset(&rec, 0, sizeof(rec));
        rec.hd = (struct hvm_save_descriptor){ HVM_SAVE_CODE(HEADER), 0, sizeof(rec.h) };
        rec.h.magic = HVM_FILE_MAGIC;
        rec.h.version = HVM_FILE_VERSION;
        rec.cd = (struct hvm_save_descriptor){ HVM_SAVE_CODE(CPU), 0, sizeof(rec.c) };
        rec.c.cr0 = 0x11;
        rec.c.rflags = 2;
        rec.c.cs_limit = rec.c.ds_limit = rec.c.ss_limit = ~0u;
        rec.c.cs_arbytes = 0xc9b;
        rec.c.ds_arbytes = rec.c.ss_arbytes = 0xc93;
        rec.c.tr_arbytes = 0x8b;
        for (unsigned k = rn(4); k; k--)            /* bend a few bytes */
            ((uint8_t *)&rec)[rn(sizeof(rec))] = (uint8_t)rnd();
        d.cmd = XEN_DOMCTL_sethvmcontext;
        d.u.hvmcontext.size = chance(80) ? sizeof(rec) : (uint32_t)rn(2 * sizeof(rec) + 64);
        set_xen_guest_handle(d.u.hvmcontext.buffer, (uint8_t *)arg_ptr(&rec));
        return domctl(&d);
    }
    default:                                        /* anything else, on junk */
        d.cmd = 20 + rn(80);
        memcpy(&d.u, junk, sizeof(d.u));
        if (d.cmd == XEN_DOMCTL_createdomain || d.cmd == XEN_DOMCTL_destroydomain ||
            d.cmd == XEN_DOMCTL_setvcpucontext || d.cmd == XEN_DOMCTL_pausedomain ||
            d.cmd == XEN_DOMCTL_max_mem)
            d.cmd = XEN_DOMCTL_getdomaininfo;
        return domctl(&d);
    }
}

static long fam_sysctl(void)
{
    struct xen_sysctl s;
    memset(&s, 0, sizeof(s));
    s.interface_version = chance(97) ? XEN_SYSCTL_INTERFACE_VERSION : (uint32_t)rnd();
    long rc;
    switch (rn(5)) {
    case 0:
        s.cmd = XEN_SYSCTL_physinfo;
        break;
    case 1: {
        static struct xen_domctl_getdomaininfo info[8];
        s.cmd = XEN_SYSCTL_getdomaininfolist;
        s.u.getdomaininfolist.first_domain = chance(80) ? (domid_t)rn(8) : (domid_t)rnd();
        s.u.getdomaininfolist.max_domains = chance(80) ? rn(9) : (uint32_t)rnd();
        set_xen_guest_handle(s.u.getdomaininfolist.buffer,
                             (struct xen_domctl_getdomaininfo *)arg_ptr(info));
        if (s.u.getdomaininfolist.buffer.p == info && s.u.getdomaininfolist.max_domains > 8)
            s.u.getdomaininfolist.max_domains = 8;
        break;
    }
    case 2: {
        static char buf[512];
        s.cmd = XEN_SYSCTL_readconsole;
        s.u.readconsole.incremental = (uint8_t)rn(2);
        s.u.readconsole.count = chance(80) ? rn(512) : (uint32_t)rnd();
        set_xen_guest_handle(s.u.readconsole.buffer, (char *)arg_ptr(buf));
        if (s.u.readconsole.buffer.p == buf && s.u.readconsole.count > 512)
            s.u.readconsole.count = 512;
        break;
    }
    default:
        s.cmd = rn(100);
        memcpy(&s.u, junk, sizeof(s.u));
    }
    void *ps = chance(97) ? (void *)&s : bad_ptr();
    rc = _hypercall1(__HYPERVISOR_sysctl, ps);
    if (!ctl) {
        if (rc == 0)
            fail("sysctl %u accepted without the control role", s.cmd);
        else
            refused++;
    }
    return rc;
}

/* ---- Setup, the loop, cleanup. */

static evtchn_port_t link_to(domid_t d)
{
    for (int tries = 0; tries < 2000; tries++) {
        for (evtchn_port_t p = 1; p < 64; p++) {
            struct evtchn_bind_interdomain b = { .remote_dom = d, .remote_port = p };
            if (HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b) == 0)
                return b.local_port;
        }
        minios_sleep_ns(10000000);
    }
    return 0;
}

static int setup(void)
{
    const start_info_t *si = minios_start_info;
    p2m = (unsigned long *)si->mfn_list;
    nr_pages = si->nr_pages;
    max_ram = (unsigned long)_hypercall2(__HYPERVISOR_memory_op, XENMEM_maximum_ram_page, NULL);
    l4_mfn = p2m[si->pt_base >> 12];
    si_mfn = si->shared_info >> 12;
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return -1;
    }
    gtab = minios_gnttab_entries();
    xen_pfn_t fr[MINIOS_GNTTAB_FRAMES];
    struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = MINIOS_GNTTAB_FRAMES };
    set_xen_guest_handle(st.frame_list, fr);
    if (HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1) || st.status) {
        test_error("setup_table");
        return -1;
    }
    for (unsigned k = 0; k < MINIOS_GNTTAB_FRAMES; k++)
        gnt_mfn[ngnt++] = fr[k];
    /* vCPU 0's vcpu_info, so that no fuzzed registration lands on our data. */
    long rc = minios_vcpu_info_register();
    if (rc && rc != -XEN_EEXIST) {
        test_error("register vcpu_info: %ld", rc);
        return -1;
    }
    /* The private L1: unmapped, pinned, linked nowhere. */
    lt_mfn = minios_virt_to_mfn(ltab);
    memset(ltab, 0, PG);
    if (HYPERVISOR_update_va_mapping((unsigned long)ltab, 0, UVMF_INVLPG)) {
        test_error("unmap ltab");
        return -1;
    }
    struct mmuext_op pin = { .cmd = MMUEXT_PIN_L1_TABLE };
    pin.arg1.mfn = lt_mfn;
    if ((rc = _hypercall4(__HYPERVISOR_mmuext_op, &pin, 1, NULL, DOMID_SELF))) {
        test_error("pin the private L1: %ld", rc);
        return -1;
    }
    /* Room for the pool: give back GIVE frames. */
    for (unsigned k = 0; k < GIVE; k++) {
        xen_pfn_t m = minios_virt_to_mfn(giveback[k]);
        struct xen_memory_reservation res = { .nr_extents = 1, .domid = DOMID_SELF };
        set_xen_guest_handle(res.extent_start, &m);
        if (HYPERVISOR_update_va_mapping((unsigned long)giveback[k], 0, UVMF_INVLPG) ||
            _hypercall2(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, &res) != 1) {
            test_error("give back frame %u", k);
            return -1;
        }
        p2m[(unsigned long)giveback[k] >> 12] = ~0UL;
    }
    /* An extent of order 2 is four contiguous frames, each of which goes back on its own (the
     * hypervisor once gave four scattered frames and reported the first). */
    {
        xen_pfn_t first = 0;
        struct xen_memory_reservation res = { .nr_extents = 1, .extent_order = 2,
                                              .domid = DOMID_SELF };
        set_xen_guest_handle(res.extent_start, &first);
        if (_hypercall2(__HYPERVISOR_memory_op, XENMEM_increase_reservation, &res) != 1) {
            test_error("increase_reservation of order 2");
            return -1;
        }
        unsigned back = 0;
        for (unsigned k = 0; k < 4; k++) {
            xen_pfn_t m = first + k;
            struct xen_memory_reservation dec = { .nr_extents = 1, .domid = DOMID_SELF };
            set_xen_guest_handle(dec.extent_start, &m);
            back += _hypercall2(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, &dec) == 1;
        }
        if (back != 4)
            test_fail("an order-2 extent from %#lx: %u of its 4 frames could be given back",
                      (unsigned long)first, back);
        else
            printf("hcfuzz: an order-2 extent is 4 contiguous frames\n");
    }
    own_sorted = malloc(nr_pages * sizeof(unsigned long));
    memcpy(own_sorted, p2m, nr_pages * sizeof(unsigned long));
    qsort(own_sorted, nr_pages, sizeof(unsigned long), cmp_ul);
    if (HYPERVISOR_update_va_mapping((unsigned long)edge.hole, 0, UVMF_INVLPG)) {
        test_error("unmap the hole");
        return -1;
    }
    /* The scratch area. */
    scratch = minios_area_alloc_chunk();
    if (!scratch) {
        test_error("no scratch area");
        return -1;
    }
    scratch_l1 = l1e_maddr(scratch);
    l4_slot_maddr = (l4_mfn << 12) + 8 * SLOT_L4;
    if (((unsigned long *)si->pt_base)[SLOT_L4]) {
        test_error("L4 slot %u in use", SLOT_L4);
        return -1;
    }
    for (unsigned k = 0; k < sizeof(junk); k++)
        junk[k] = (char)rng_mix64(k + seed);
    for (unsigned k = 0; k < NGPAGES; k++)
        memset(gpages[k], (int)k, PG);
    for (unsigned k = 0; k < NREFS; k++)
        grant_write(REF_BASE + k, self_id, minios_virt_to_mfn(gpages[k % NGPAGES]),
                    GTF_permit_access);
    /* Ports never to close: the timer, and the links to the witness and the victim. */
    protect[nprotect++] = minios_timer_port();
    if (si->store_evtchn)
        protect[nprotect++] = si->store_evtchn;
    if (si->console.domU.evtchn)
        protect[nprotect++] = si->console.domU.evtchn;
    return 0;
}

/* Undo what the run left and check that every extra frame can go back. */
static void cleanup(void)
{
    cur_fam = "cleanup";
    for (unsigned k = 0; k < nmaps; k++) {
        struct gnttab_unmap_grant_ref u = { .handle = maps[k].h,
            .host_addr = (maps[k].flags & GNTMAP_host_map) ? maps[k].va : 0,
            .dev_bus_addr = (maps[k].flags & GNTMAP_device_map) ? maps[k].bus : 0 };
        long rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
        if (rc || u.status)
            fail("unmap of handle %u at %#lx: %ld/%d", maps[k].h, maps[k].va, rc, u.status);
    }
    nmaps = 0;
    for (unsigned k = 0; k < NREFS; k++)
        gtab[REF_BASE + k].flags = 0;
    struct mmu_update u = { .ptr = l4_slot_maddr, .val = 0 };
    long rc = _hypercall4(__HYPERVISOR_mmu_update, &u, 1, NULL, DOMID_SELF);
    if (rc)
        fail("clearing L4 slot %u: %ld", SLOT_L4, rc);
    for (unsigned s = 0; s < 512; s++) {
        u.ptr = scratch_l1 + 8 * s;
        if ((rc = _hypercall4(__HYPERVISOR_mmu_update, &u, 1, NULL, DOMID_SELF)))
            fail("clearing scratch slot %u: %ld", s, rc);
    }
    struct mmuext_op op = { .cmd = MMUEXT_UNPIN_TABLE };
    op.arg1.mfn = lt_mfn;
    if ((rc = _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF)))
        fail("unpin the private L1: %ld", rc);
    /* Clear every entry of every pool frame (tables among them may point at each other, even
     * at themselves, which no unpin undoes; in a frame that is no table this writes zeroes). */
    static struct mmu_update z[256];
    for (unsigned k = 0; k < npool; k++)
        for (unsigned half = 0; half < 2; half++) {
            for (unsigned e = 0; e < 256; e++)
                z[e] = (struct mmu_update){ .ptr = (pool[k] << 12) + 8 * (half * 256 + e) };
            /* An L4's hypervisor slots (256..271) refuse the write and end the batch. */
            unsigned from_e = 0;
            while (from_e < 256) {
                unsigned done = 0;
                _hypercall4(__HYPERVISOR_mmu_update, z + from_e, 256 - from_e, &done, DOMID_SELF);
                from_e += done + 1;
            }
        }
    for (int pass = 0; pass < 2; pass++)
        for (unsigned k = 0; k < npool; k++) {
            op.arg1.mfn = pool[k];
            _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF);
        }
    unsigned back = 0;
    for (unsigned k = 0; k < npool; k++) {
        xen_pfn_t m = pool[k];
        struct xen_memory_reservation res = { .nr_extents = 1, .domid = DOMID_SELF };
        set_xen_guest_handle(res.extent_start, &m);
        if (_hypercall2(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, &res) == 1)
            back++;
        else
            fail("extra frame %#lx cannot be given back after cleanup", pool[k]);
    }
    printf("hcfuzz: cleanup: %u extra frames given back\n", back);
    npool = 0;
}

static long one_call(unsigned fam)
{
    switch (fam) {
    case F_MMU: return fam_mmu();
    case F_MMUEXT: return fam_mmuext();
    case F_UVA: return fam_uva();
    case F_GNT: return fam_gnt();
    case F_EVT: return fam_evt();
    case F_MEM: return fam_mem();
    case F_VCPU: return fam_vcpu();
    case F_SCHED: return fam_sched();
    case F_MISC: return fam_misc();
    case F_DOMCTL: return fam_domctl();
    default: return fam_sysctl();
    }
}

/* Family weights, out of 100. */
static unsigned pick_family(void)
{
    static const unsigned w[NFAM] = { 16, 10, 8, 14, 12, 8, 8, 6, 6, 8, 4 };
    unsigned r = rn(100), acc = 0;
    for (unsigned f = 0; f < NFAM; f++) {
        acc += w[f];
        if (r < acc)
            return f;
    }
    return F_MISC;
}

static int fuzz(int argc, char **argv)
{
    const char *a;
    unsigned long calls = 20000, from = 0;
    if ((a = test_arg(argc, argv, "seed")))
        seed = strtoull(a, NULL, 0);
    if ((a = test_arg(argc, argv, "calls")))
        calls = strtoul(a, NULL, 0);
    if ((a = test_arg(argc, argv, "from")))
        from = strtoul(a, NULL, 0);
    if ((a = test_arg(argc, argv, "trace")))
        trace_from = strtoul(a, NULL, 0);
    if ((a = test_arg(argc, argv, "self")))
        self_id = (domid_t)strtoul(a, NULL, 0);
    if ((a = test_arg(argc, argv, "witness")))
        witness_id = (domid_t)strtoul(a, NULL, 0);
    if ((a = test_arg(argc, argv, "victim")))
        victim_id = (domid_t)strtoul(a, NULL, 0);
    ctl = (a = test_arg(argc, argv, "role")) && !strcmp(a, "control");
    two_vcpus = (a = test_arg(argc, argv, "vcpus")) && !strcmp(a, "2");
    if (!self_id || !witness_id) {
        test_error("need self= and witness=");
        return test_finish();
    }
    if (setup())
        return test_finish();
    evtchn_port_t wl = link_to(witness_id), vl = 0;
    if (!wl) {
        test_error("no channel to the witness d%u", witness_id);
        return test_finish();
    }
    protect[nprotect++] = wl;
    if (victim_id != DOMID_INVALID) {
        if (!(vl = link_to(victim_id))) {
            test_error("no channel to the victim d%u", victim_id);
            return test_finish();
        }
        protect[nprotect++] = vl;
    }
    if (two_vcpus) {
        struct evtchn_bind_ipi b = { .vcpu = 0 };
        if (HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &b) == 0)
            v1_port = b.port;
        long rc = v1_init();
        if (rc || HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL))
            test_error("cannot start vCPU 1: %ld", rc);
    }
    cur_call = from;
    TRACE("private L1 %#lx, L4 %#lx, scratch L1 entry 0 at %#lx, max_ram %#lx\n", lt_mfn,
          l4_mfn, scratch_l1, max_ram);
    printf("hcfuzz: seed %#lx, calls %lu from %lu, %s, %s vCPU%s, witness d%u%s\n",
           (unsigned long)seed, calls, from, ctl ? "role=control" : "unprivileged",
           two_vcpus ? "2" : "1", two_vcpus ? "s" : "", witness_id,
           victim_id != DOMID_INVALID ? ", victim" : "");
    kill_after = from + calls - calls / 5;
    uint64_t t0 = minios_monotonic_ns();
    for (cur_call = from; cur_call < from + calls; cur_call++) {
        rng_for_call(cur_call);
        unsigned fam = pick_family();
        if ((fam == F_DOMCTL || fam == F_SYSCTL) && !ctl && chance(75))
            fam = F_MISC;
        cur_fam = fam_name[fam];
        if (cur_call % PROGRESS == 0)
            printf("hcfuzz: seed %#lx index %lu\n", (unsigned long)seed, cur_call);
        if (cur_call >= trace_from) {
            printf("hcfuzz: call %lu %s\n", cur_call, cur_fam);
            fflush(stdout);
        }
        uint64_t c0 = minios_monotonic_ns();
        long r = one_call(fam);
        uint64_t cns = minios_monotonic_ns() - c0;
        fam_ns[fam] += cns;
        if (cns > fam_worst_ns[fam]) {
            fam_worst_ns[fam] = cns;
            fam_worst_call[fam] = cur_call;
        }
        if (cur_call >= trace_from)
            printf("hcfuzz: call %lu = %ld\n", cur_call, r);
        if (r >= 0)
            cnt[fam][0]++;
        else if (r >= -200)
            cnt[fam][1]++;
        else {
            cnt[fam][2]++;
            fail("result %ld is neither a count nor an errno", r);
        }
    }
    uint64_t ns = minios_monotonic_ns() - t0;
    cur_fam = "end";
    if (two_vcpus && HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL) == 1)
        HYPERVISOR_vcpu_op(VCPUOP_down, 1, NULL);
    HYPERVISOR_set_timer_op(0);
    HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
    if (ctl) {
        struct xen_domctl d;
        for (unsigned k = 0; k < ncreated; k++) {
            memset(&d, 0, sizeof(d));
            d.interface_version = XEN_DOMCTL_INTERFACE_VERSION;
            d.cmd = XEN_DOMCTL_destroydomain;
            d.domain = created[k];
            long rc = domctl(&d);
            if (rc)
                fail("destroying created d%u: %ld", created[k], rc);
            else
                ndestroyed_created++;
        }
        /* Whatever we counted, the victim runs again if it lives (so that it can end). */
        for (int k = 0; k < 300; k++) {
            memset(&d, 0, sizeof(d));
            d.interface_version = XEN_DOMCTL_INTERFACE_VERSION;
            d.cmd = XEN_DOMCTL_getdomaininfo;
            d.domain = victim_id;
            if (domctl(&d) || !(d.u.getdomaininfo.flags & XEN_DOMINF_paused))
                break;
            memset(&d, 0, sizeof(d));
            d.interface_version = XEN_DOMCTL_INTERFACE_VERSION;
            d.cmd = XEN_DOMCTL_unpausedomain;
            d.domain = victim_id;
            if (domctl(&d))
                break;
        }
        printf("hcfuzz: %u domains created, %u destroyed; victim %s\n", ncreated_total,
               ndestroyed_created, victim_dead ? "destroyed" : "alive");
        if (ncreated_total != ndestroyed_created)
            fail("%u created domains left", ncreated_total - ndestroyed_created);
    }
    cleanup();
    unsigned long tot[3] = { 0 };
    for (unsigned f = 0; f < NFAM; f++)
        for (unsigned k = 0; k < 3; k++)
            tot[k] += cnt[f][k];
    printf("hcfuzz: %lu calls, seed %#lx: %lu ok, %lu errno, %lu other; %lu hostile refused\n",
           calls, (unsigned long)seed, tot[0], tot[1], tot[2], refused);
    printf("hcfuzz: %lu read-only mappings of frames outside our p2m accepted (shared image "
           "pages)\n", ro_foreign);
    for (unsigned f = 0; f < NFAM; f++)
        if (cnt[f][0] + cnt[f][1] + cnt[f][2])
            printf("hcfuzz:   %-18s %7lu ok %7lu errno %6lu ms, slowest %lu us (index %lu)\n",
                   fam_name[f], cnt[f][0], cnt[f][1], (unsigned long)(fam_ns[f] / 1000000),
                   (unsigned long)(fam_worst_ns[f] / 1000), fam_worst_call[f]);
    if (two_vcpus)
        printf("hcfuzz: vCPU 1 made %lu calls meanwhile\n", v1_calls);
    printf("hcfuzz: %lu calls/s (guest time %lu ms)\n",
           ns ? (unsigned long)(calls * 1000000000ULL / ns) : 0, (unsigned long)(ns / 1000000));
    /* Let the witness and the victim go: close our end of the links. */
    struct evtchn_close c = { .port = wl };
    HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
    if (vl) {
        c.port = vl;
        HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
    }
    printf("hcfuzz: done\n");
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op");
    if (op && !strcmp(op, "witness"))
        return witness(argc, argv);
    if (op && !strcmp(op, "fuzz"))
        return fuzz(argc, argv);
    test_error("unknown op '%s'", op ? op : "");
    return test_finish();
}
