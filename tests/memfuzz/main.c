/* Guest test: a hostile memory fuzzer (op=fuzz peer=<domid> seed=<n> [ops=<n>]).  Two of these
 * run at once, one per pCPU, and attack the frame lifetime guarantees:
 *
 *   - a frame a domain gives back (XENMEM_decrease_reservation) is flushed from every CPU's TLB
 *     before anyone reuses it: the domain unmaps its pages with UVMF_NONE (leaving stale TLB
 *     entries), gives the frames back, and then reads the stale addresses with a #PF handler
 *     installed.  Each such read must fault or show the page as this domain left it; zeroes (a
 *     frame reallocated and cleared), another domain's data or any other data is a FAILURE;
 *   - frames from increase_reservation and populate_physmap are zeroed;
 *   - a frame granted to the peer and mapped there (host mapping, or device-only) cannot be
 *     given back until the peer unmapped it and the grant ended; then it can;
 *   - grant-table frames, shared_info, the registered vcpu_info, page tables, frames still
 *     mapped and frames of others are never given back.
 *
 * Each domain owns a pool of "fuzz pages" in a static array, each tagged with (domid, gen,
 * mfn, va) and a pattern derived from them.  Operation i draws its random numbers from a
 * generator seeded with (seed, domid, i), so a failure names (seed, op index).
 *
 * Grants between the two domains: each grants its control page at reference 8 (the first of a
 * fresh table) and maps the peer's; requests go in the requester's control page (req_seq), the
 * answers in the server's (resp_seq, done_seq).  A domain waiting for an answer serves its
 * peer's requests meanwhile; every wait is bounded. */
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
#include <minios/traps.h>
#include <xen/memory.h>
#include "report.h"
#include "rng.h"
#include "args.h"

#define PG          4096UL
#define WORDS       (PG / 8)
#define POOL        64           /* fuzz pages */
#define GNT_CAP     16           /* grow our grant table up to this many frames */
#define REF_CTL     8
#define TAG_MAGIC   0x6d66ULL    /* "mf" */
#define PTE_RW      0x67UL       /* present, writable, user, accessed, dirty */
#define MAX_FAILS   8
#define WAIT_NS     30000000000ULL

static const unsigned long *const m2p = (const unsigned long *)0xFFFF800000000000UL;

static uint8_t pool[POOL][PG] __attribute__((aligned(PG)));
static char ctl_page[PG] __attribute__((aligned(PG)));
static uint64_t copy_buf[WORDS] __attribute__((aligned(PG)));

enum { S_MAPPED, S_FREED, S_LOST };
static struct slot {
    int state;
    unsigned long mfn;           /* the frame; for S_FREED the one given back */
    uint32_t gen;                /* its tag's generation */
} slots[POOL];

/* One control page per domain, written only by its owner. */
struct ctl {
    /* As requester: a frame of ours granted at req_ref for the peer to map. */
    volatile uint32_t req_seq, req_ref, req_mode, req_gen;
    volatile uint64_t req_mfn, req_va;
    volatile uint32_t rel_seq;   /* the peer may unmap request rel_seq */
    /* As server of the peer's requests. */
    volatile uint32_t resp_seq, resp_status, done_seq;
    volatile uint32_t finished, bye;
};
enum { M_HOST_RW, M_HOST_RO, M_DEV_RW, M_DEV_RO, NR_MODES };
static const char *const mode_name[] = { "host r/w", "host r/o", "device r/w", "device r/o" };
enum { R_OK, R_MAPFAIL, R_BADTAG, R_BADBUS, R_COPYFAIL };

static domid_t self, peer;
static uint64_t seed = 1;
static unsigned nr_ops = 3000;
static unsigned cur_op;
static const char *cur_name = "setup";
static unsigned nfails;
static int peer_ok;
static struct ctl *mine = (struct ctl *)ctl_page;
static const struct ctl *theirs;
static grant_handle_t theirs_h;

static long max_pages, cur_pages;   /* the reservation as we account it */
static unsigned gnt_nr;             /* frames of our grant table */
static xen_pfn_t gnt_frames[64];
static unsigned long si_mfn, vi_mfn, l4_mfn, peer_mfn;
static uint32_t next_gen = 1;

static struct {
    unsigned long freed, allocated, reused_same, at_max, probes, faults, old_seen;
    unsigned long given, served_host, served_dev, refused_granted, refused, grows, hv_allocs;
} st;

/* ---- Reporting. */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    test_fail("memfuzz d%u seed %#lx op %u (%s): %s", self, (unsigned long)seed, cur_op,
              cur_name, buf);
    nfails++;
}

/* ---- Randomness: operation i draws from a generator seeded with (seed, domid, i). */

static uint64_t rs;

static void rng_for_op(unsigned i)
{
    rs = rng_seed_for(seed ^ ((uint64_t)self << 40), i);
}

static uint64_t rnd(void)
{
    return rng_next(&rs);
}

/* ---- Tags. */

static uint64_t tag_word(unsigned dom, unsigned long va, uint32_t gen, unsigned long mfn,
                         unsigned k)
{
    switch (k) {
    case 0: return TAG_MAGIC << 48 | (uint64_t)dom << 32 | gen;
    case 1: return mfn;
    case 2: return va;
    default: return rng_mix64((uint64_t)dom << 48 ^ (uint64_t)gen << 16 ^ (uint64_t)mfn << 24 ^
                          va ^ k);
    }
}

static unsigned long va_of(unsigned s)
{
    return (unsigned long)pool[s];
}

static void write_tag(unsigned s)
{
    volatile uint64_t *p = (volatile uint64_t *)pool[s];
    for (unsigned k = 0; k < WORDS; k++)
        p[k] = tag_word(self, va_of(s), slots[s].gen, slots[s].mfn, k);
}

/* What a word that should have been word 0 of a tag says it is. */
static const char *whose(uint64_t w0, uint64_t seen, char *buf, size_t n)
{
    if (seen == 0)
        snprintf(buf, n, "zeroes: a frame reused and cleared, still reachable");
    else if (w0 >> 48 == TAG_MAGIC && (unsigned)(w0 >> 32 & 0xffff) != self)
        snprintf(buf, n, "another domain's data (d%u's tag, gen %u)",
                 (unsigned)(w0 >> 32 & 0xffff), (uint32_t)w0);
    else if (w0 >> 48 == TAG_MAGIC)
        snprintf(buf, n, "our own data of another page (gen %u)", (uint32_t)w0);
    else
        snprintf(buf, n, "unknown data");
    return buf;
}

/* ---- Reads that may fault: one instruction the #PF handler knows how to skip. */

extern uint64_t memfuzz_probe_load(const volatile void *p);
extern char memfuzz_probe_end[];
__asm__(".pushsection .text\n"
        ".type memfuzz_probe_load, @function\n"
        "memfuzz_probe_load:\n"
        "\tmovq (%rdi), %rax\n"
        "memfuzz_probe_end:\n"
        "\tret\n"
        ".popsection\n");

static volatile int probe_faulted;

static void pf_handler(struct minios_trap_frame *f)
{
    if (f->rip == (uint64_t)memfuzz_probe_load) {
        probe_faulted = 1;
        f->rax = 0;
        f->rip = (uint64_t)memfuzz_probe_end;
        return;
    }
    printf("memfuzz: d%u seed %#lx op %u (%s): unexpected page fault at rip %#lx cr2 %#lx\n",
           self, (unsigned long)seed, cur_op, cur_name, (unsigned long)f->rip,
           (unsigned long)f->cr2);
    minios_set_trap_handler(14, NULL);   /* faults again: the domain crashes */
}

/* Reads word k of a page; 0 and *faulted = 1 if it faulted. */
static uint64_t load(const volatile void *p, int *faulted)
{
    probe_faulted = 0;
    uint64_t v = memfuzz_probe_load(p);
    *faulted = probe_faulted;
    return v;
}

/* Checks that a mapped page holds a tag; reports what it holds instead. */
static int check_tag(const char *what, const volatile uint64_t *p, unsigned dom, unsigned long va,
                     uint32_t gen, unsigned long mfn)
{
    int f;
    uint64_t w0 = load(p, &f);
    for (unsigned k = 0; k < WORDS; k++) {
        uint64_t v = k ? load(p + k, &f) : w0;
        uint64_t want = tag_word(dom, va, gen, mfn, k);
        if (f) {
            fail("%s: page at %p (mfn %#lx) faulted at word %u", what, (const void *)p, mfn, k);
            return 0;
        }
        if (v != want) {
            char buf[96];
            fail("%s: page at %p (mfn %#lx gen %u of d%u): word %u = %#lx, expected %#lx: %s",
                 what, (const void *)p, mfn, gen, dom, k, (unsigned long)v, (unsigned long)want,
                 whose(w0, v, buf, sizeof(buf)));
            return 0;
        }
    }
    return 1;
}

/* A read of a slot whose frame we gave back (its mapping gone, a stale TLB entry perhaps
 * left): it must fault, or show the page exactly as we left it. */
static void probe(unsigned s)
{
    const volatile uint64_t *p = (const volatile uint64_t *)pool[s];
    int f;
    st.probes++;
    uint64_t w0 = load(p, &f);
    if (f) {
        st.faults++;
        return;
    }
    for (unsigned k = 0; k < WORDS; k++) {
        uint64_t v = k ? load(p + k, &f) : w0;
        if (f) {                 /* flushed under us: by a reuse on the other CPU */
            st.faults++;
            return;
        }
        uint64_t want = tag_word(self, va_of(s), slots[s].gen, slots[s].mfn, k);
        if (v != want) {
            char buf[96];
            fail("saw another's data: stale read of %#lx (gave back mfn %#lx gen %u): word %u "
                 "= %#lx, expected %#lx or a fault: %s", va_of(s), slots[s].mfn, slots[s].gen,
                 k, (unsigned long)v, (unsigned long)want, whose(w0, v, buf, sizeof(buf)));
            return;
        }
    }
    st.old_seen++;
}

/* ---- Hypercall helpers. */

static long reservation(unsigned cmd, xen_pfn_t *f)
{
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, f);
    return HYPERVISOR_memory_op(cmd, &r);
}

static long give_back(unsigned long mfn)
{
    xen_pfn_t f = mfn;
    return reservation(XENMEM_decrease_reservation, &f);
}

static void check_reservation(void)
{
    domid_t d = DOMID_SELF;
    long n = HYPERVISOR_memory_op(XENMEM_current_reservation, &d);
    if (n != cur_pages) {
        fail("current_reservation %ld, expected %ld", n, cur_pages);
        cur_pages = n;
    }
}

static long gnt_setup(unsigned n, xen_pfn_t *frames)
{
    struct gnttab_setup_table s = { .dom = DOMID_SELF, .nr_frames = n };
    set_xen_guest_handle(s.frame_list, frames);
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &s, 1);
    return rc ? rc : s.status;
}

static unsigned pick(int state)
{
    unsigned n = 0;
    for (unsigned s = 0; s < POOL; s++)
        n += slots[s].state == state;
    if (!n)
        return POOL;
    unsigned k = (unsigned)(rnd() % n);
    for (unsigned s = 0; s < POOL; s++)
        if (slots[s].state == state && !k--)
            return s;
    return POOL;
}

static unsigned long rand_flush(void)
{
    static const unsigned long f[] = { UVMF_NONE, UVMF_INVLPG, UVMF_TLB_FLUSH };
    return f[rnd() % 3];
}

/* ---- Serving the peer's requests (never blocks). */

static struct {
    int active;
    uint32_t seq;
    unsigned mode;
    void *va;
    grant_handle_t h;
    uint64_t bus;
} held;
static uint32_t served_seq;

static void respond(uint32_t seq, uint32_t status, int done)
{
    mine->resp_status = status;
    __atomic_store_n(&mine->resp_seq, seq, __ATOMIC_RELEASE);
    if (done)
        __atomic_store_n(&mine->done_seq, seq, __ATOMIC_RELEASE);
}

static void serve_map(uint32_t seq)
{
    unsigned ref = theirs->req_ref, mode = theirs->req_mode % NR_MODES;
    uint32_t gen = theirs->req_gen;
    unsigned long mfn = theirs->req_mfn, va = theirs->req_va;
    int ro = mode == M_HOST_RO || mode == M_DEV_RO;
    const char *saved = cur_name;
    cur_name = "serving the peer";
    served_seq = seq;
    peer_mfn = mfn;
    if (mode == M_HOST_RW || mode == M_HOST_RO) {
        grant_handle_t h;
        void *p = minios_gnttab_map(peer, ref, ro, &h);
        if (!p) {
            fail("map of d%u's ref %u (%s) failed: status %d", peer, ref, mode_name[mode],
                 minios_gnttab_last_status());
            respond(seq, R_MAPFAIL, 1);
            cur_name = saved;
            return;
        }
        held = (typeof(held)){ .active = 1, .seq = seq, .mode = mode, .va = p, .h = h };
        if (!check_tag("the peer's granted page", p, peer, va, gen, mfn)) {
            respond(seq, R_BADTAG, 0);
            cur_name = saved;
            return;
        }
        if (mode == M_HOST_RW)   /* the granter must see this */
            ((volatile uint64_t *)p)[WORDS - 1] = 0xfeed000000000000ULL | (uint64_t)self << 32 | seq;
        st.served_host++;
    } else {
        struct gnttab_map_grant_ref m = { .flags = GNTMAP_device_map | (ro ? GNTMAP_readonly : 0),
                                          .ref = ref, .dom = peer };
        long rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1);
        if (rc || m.status != GNTST_okay) {
            fail("device map of d%u's ref %u (%s) failed: rc %ld status %d", peer, ref,
                 mode_name[mode], rc, m.status);
            respond(seq, R_MAPFAIL, 1);
            cur_name = saved;
            return;
        }
        held = (typeof(held)){ .active = 1, .seq = seq, .mode = mode, .h = m.handle,
                               .bus = m.dev_bus_addr };
        if (m.dev_bus_addr != (uint64_t)mfn << 12) {
            fail("device map of d%u's ref %u: bus address %#lx, expected %#lx", peer, ref,
                 (unsigned long)m.dev_bus_addr, mfn << 12);
            respond(seq, R_BADBUS, 0);
            cur_name = saved;
            return;
        }
        /* Its contents, through a copy from the grant. */
        struct gnttab_copy c = { .flags = GNTCOPY_source_gref, .len = PG };
        c.source.u.ref = ref;
        c.source.domid = peer;
        c.dest.u.gmfn = minios_virt_to_mfn(copy_buf);
        c.dest.domid = DOMID_SELF;
        memset(copy_buf, 0, sizeof(copy_buf));
        if (minios_gnttab_copy(&c, 1) || c.status != GNTST_okay) {
            fail("copy from d%u's ref %u failed: status %d", peer, ref, c.status);
            respond(seq, R_COPYFAIL, 0);
            cur_name = saved;
            return;
        }
        if (!check_tag("the peer's granted page (copied)", copy_buf, peer, va, gen, mfn)) {
            respond(seq, R_BADTAG, 0);
            cur_name = saved;
            return;
        }
        st.served_dev++;
    }
    /* Not ours to give back. */
    if (give_back(mfn) != 0)
        fail("decrease_reservation of d%u's granted frame %#lx succeeded", peer, mfn);
    respond(seq, R_OK, 0);
    cur_name = saved;
}

static void serve_unmap(void)
{
    const char *saved = cur_name;
    cur_name = "serving the peer";
    if (held.mode == M_HOST_RW || held.mode == M_HOST_RO) {
        if (minios_gnttab_unmap(held.va, held.h))
            fail("unmap of the peer's grant (request %u) failed: status %d", held.seq,
                 minios_gnttab_last_status());
    } else {
        struct gnttab_unmap_grant_ref u = { .dev_bus_addr = held.bus, .handle = held.h };
        long rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
        if (rc || u.status != GNTST_okay)
            fail("device unmap of the peer's grant (request %u): rc %ld status %d", held.seq,
                 rc, u.status);
    }
    held.active = 0;
    __atomic_store_n(&mine->done_seq, held.seq, __ATOMIC_RELEASE);
    cur_name = saved;
}

static void serve(void)
{
    if (!theirs)
        return;
    uint32_t rq = __atomic_load_n(&theirs->req_seq, __ATOMIC_ACQUIRE);
    if (held.active && __atomic_load_n(&theirs->rel_seq, __ATOMIC_ACQUIRE) == held.seq)
        serve_unmap();
    if (!held.active && rq != served_seq)
        serve_map(rq);
}

/* Waits (serving the peer) until *p == want; 0 after WAIT_NS. */
static int wait_for(const volatile uint32_t *p, uint32_t want, const char *what)
{
    uint64_t end = minios_monotonic_ns() + WAIT_NS;
    while (__atomic_load_n(p, __ATOMIC_ACQUIRE) != want) {
        serve();
        if (minios_monotonic_ns() > end) {
            test_error("memfuzz d%u op %u: timed out waiting for the peer (%s)", self, cur_op,
                       what);
            peer_ok = 0;
            return 0;
        }
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    return 1;
}

/* ---- Operations. */

/* Gives a mapped slot's frame back after unmapping it with a random (local) flush. */
static int free_slot(unsigned s, unsigned long flags)
{
    check_tag("before giving it back", (volatile uint64_t *)pool[s], self, va_of(s),
              slots[s].gen, slots[s].mfn);         /* and leaves a TLB entry */
    long rc = HYPERVISOR_update_va_mapping(va_of(s), 0, flags);
    if (rc) {
        fail("update_va_mapping(%#lx, 0, %lu) = %ld", va_of(s), flags, rc);
        slots[s].state = S_LOST;
        return 0;
    }
    rc = give_back(slots[s].mfn);
    if (rc != 1) {
        fail("decrease_reservation of our unmapped frame %#lx = %ld, expected 1", slots[s].mfn, rc);
        slots[s].state = S_LOST;
        return 0;
    }
    slots[s].state = S_FREED;
    cur_pages--;
    st.freed++;
    if (rnd() % 4 == 0 && give_back(slots[s].mfn) != 0)
        fail("decrease_reservation of frame %#lx, already given back, succeeded", slots[s].mfn);
    return 1;
}

/* A new frame (increase_reservation or populate_physmap) into freed slot s: zeroed, then
 * tagged.  `just_freed` is the frame given back just before, if any. */
static void alloc_into(unsigned s, unsigned long just_freed)
{
    xen_pfn_t f = va_of(s) >> 12;
    int populate = rnd() % 2;
    long rc = reservation(populate ? XENMEM_populate_physmap : XENMEM_increase_reservation, &f);
    if (cur_pages >= max_pages) {
        if (rc != 0)
            fail("%s at the maximum reservation (%ld) = %ld, expected 0",
                 populate ? "populate_physmap" : "increase_reservation", max_pages, rc);
        st.at_max++;
        return;
    }
    if (rc != 1) {
        fail("%s = %ld, expected 1 (%ld of %ld pages)",
             populate ? "populate_physmap" : "increase_reservation", rc, cur_pages, max_pages);
        return;
    }
    cur_pages++;
    st.allocated++;
    unsigned long mfn = f;
    if (mfn == just_freed)
        st.reused_same++;
    if (populate && m2p[mfn] != va_of(s) >> 12)
        fail("populate_physmap: m2p[%#lx] = %#lx, expected %#lx", mfn, m2p[mfn], va_of(s) >> 12);
    if (!populate) {
        struct mmu_update u = { .ptr = (uint64_t)mfn << 12 | MMU_MACHPHYS_UPDATE,
                                .val = va_of(s) >> 12 };
        if (HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF) || m2p[mfn] != va_of(s) >> 12)
            fail("MMU_MACHPHYS_UPDATE of our new frame %#lx failed", mfn);
    }
    /* The slot's address may still reach the frame it had: stale, or gone. */
    probe(s);
    rc = HYPERVISOR_update_va_mapping(va_of(s), (uint64_t)mfn << 12 | PTE_RW, UVMF_INVLPG);
    if (rc) {
        fail("update_va_mapping of our new frame %#lx at %#lx = %ld", mfn, va_of(s), rc);
        if (give_back(mfn) == 1)
            cur_pages--;
        return;
    }
    const volatile uint64_t *p = (const volatile uint64_t *)pool[s];
    int fl;
    uint64_t w0 = load(p, &fl);
    for (unsigned k = 0; k < WORDS; k++) {
        uint64_t v = k ? load(p + k, &fl) : w0;
        if (fl || v) {
            char buf[96];
            fail("new frame %#lx (from %s) at %#lx: word %u = %#lx%s, expected zero: %s", mfn,
                 populate ? "populate_physmap" : "increase_reservation", va_of(s), k,
                 (unsigned long)v, fl ? " (faulted)" : "", whose(w0, v, buf, sizeof(buf)));
            break;
        }
    }
    slots[s].state = S_MAPPED;
    slots[s].mfn = mfn;
    slots[s].gen = next_gen++;
    write_tag(s);
}

/* Grows the grant table by a frame (a hypervisor allocation), or asks its size. */
static void gnttab_op(void)
{
    if (gnt_nr < GNT_CAP && rnd() % 2) {
        xen_pfn_t fr[64];
        long rc = gnt_setup(gnt_nr + 1, fr);
        if (rc) {
            fail("setup_table(%u) = %ld", gnt_nr + 1, rc);
            return;
        }
        for (unsigned i = 0; i < gnt_nr; i++)
            if (fr[i] != gnt_frames[i])
                fail("setup_table: frame %u is %#lx, was %#lx", i, (unsigned long)fr[i],
                     (unsigned long)gnt_frames[i]);
        gnt_frames[gnt_nr] = fr[gnt_nr];
        gnt_nr++;
        st.grows++;
    } else {
        struct gnttab_query_size q = { .dom = DOMID_SELF };
        long rc = HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1);
        if (rc || q.status != GNTST_okay || q.nr_frames != gnt_nr || q.max_nr_frames < GNT_CAP)
            fail("query_size: rc %ld status %d, %u of %u frames (expected %u)", rc, q.status,
                 q.nr_frames, q.max_nr_frames, gnt_nr);
    }
    st.hv_allocs++;
}

/* Frames that must never go back: each decrease_reservation must return 0. */
static void nofree_op(void)
{
    unsigned long mfn;
    const char *what;
    unsigned s;
    switch (rnd() % 7) {
    case 0: mfn = si_mfn; what = "shared_info"; break;
    case 1: mfn = vi_mfn; what = "the registered vcpu_info page"; break;
    case 2: mfn = gnt_frames[rnd() % gnt_nr]; what = "a grant-table frame"; break;
    case 3: mfn = l4_mfn; what = "our L4 table"; break;
    case 4:
        s = pick(S_MAPPED);
        if (s == POOL)
            return;
        mfn = slots[s].mfn;
        what = "a mapped fuzz page";
        break;
    case 5: mfn = peer_mfn ? peer_mfn : 0x100; what = "a frame of the peer or hypervisor"; break;
    default: mfn = minios_virt_to_mfn(ctl_page); what = "our granted control page"; break;
    }
    long rc = give_back(mfn);
    if (rc != 0) {
        fail("decrease_reservation of %s (mfn %#lx) = %ld, expected 0", what, mfn, rc);
        return;
    }
    st.refused++;
}

/* Grants a page to the peer; while the peer has it mapped we cannot give it back; once it
 * unmapped and the grant ended, we can. */
static void grant_op(void)
{
    unsigned s = pick(S_MAPPED);
    if (s == POOL || !peer_ok)
        return;
    unsigned mode = (unsigned)(rnd() % NR_MODES);
    int ro = mode == M_HOST_RO || mode == M_DEV_RO;
    if (!check_tag("before granting it", (volatile uint64_t *)pool[s], self, va_of(s),
                   slots[s].gen, slots[s].mfn))
        return;
    grant_ref_t ref = minios_gnttab_grant_access(peer, slots[s].mfn, ro);
    if (ref == MINIOS_GNTTAB_INVALID_REF) {
        fail("no grant reference free");
        return;
    }
    uint32_t seq = mine->req_seq + 1;
    mine->req_ref = ref;
    mine->req_mode = mode;
    mine->req_gen = slots[s].gen;
    mine->req_mfn = slots[s].mfn;
    mine->req_va = va_of(s);
    __atomic_store_n(&mine->req_seq, seq, __ATOMIC_RELEASE);
    st.given++;
    if (!wait_for(&theirs->resp_seq, seq, "a map")) {
        slots[s].state = S_LOST;
        return;
    }
    uint32_t status = theirs->resp_status;
    if (status != R_OK)
        fail("the peer could not use our %s grant of mfn %#lx (ref %u): reason %u",
             mode_name[mode], slots[s].mfn, ref, status);
    volatile uint64_t *p = (volatile uint64_t *)pool[s];
    if (status == R_OK && mode == M_HOST_RW) {
        uint64_t want = 0xfeed000000000000ULL | (uint64_t)peer << 32 | seq;
        if (p[WORDS - 1] != want)
            fail("the peer's write through its mapping: %#lx, expected %#lx",
                 (unsigned long)p[WORDS - 1], (unsigned long)want);
        p[WORDS - 1] = tag_word(self, va_of(s), slots[s].gen, slots[s].mfn, WORDS - 1);
    }
    if (status == R_OK || status == R_BADTAG || status == R_BADBUS || status == R_COPYFAIL) {
        /* Mapped there: the grant cannot end, the frame cannot go back. */
        if (minios_gnttab_end_access(ref) != -XEN_EBUSY)
            fail("end_access of ref %u while the peer has it mapped did not fail", ref);
        unsigned long flags = rand_flush();
        if (rnd() % 2 && give_back(slots[s].mfn) != 0)
            fail("decrease_reservation of our granted, mapped frame %#lx succeeded",
                 slots[s].mfn);
        if (HYPERVISOR_update_va_mapping(va_of(s), 0, flags))
            fail("update_va_mapping(%#lx, 0) failed", va_of(s));
        long rc = give_back(slots[s].mfn);
        if (rc != 0) {
            fail("decrease_reservation of frame %#lx while the peer maps it (%s) = %ld, "
                 "expected 0", slots[s].mfn, mode_name[mode], rc);
            slots[s].state = S_LOST;
            cur_pages -= rc;
        } else {
            st.refused_granted++;
        }
        __atomic_store_n(&mine->rel_seq, seq, __ATOMIC_RELEASE);
        if (!wait_for(&theirs->done_seq, seq, "an unmap")) {
            slots[s].state = S_LOST;
            return;
        }
        if (slots[s].state == S_LOST)
            return;
    }
    int rc = minios_gnttab_end_access(ref);
    if (rc) {
        fail("end_access of ref %u after the peer unmapped = %d", ref, rc);
        slots[s].state = S_LOST;
        return;
    }
    if (status != R_OK) {
        slots[s].state = S_LOST;
        return;
    }
    if (rnd() % 2) {             /* give it back now: that must work */
        long r = give_back(slots[s].mfn);
        if (r != 1) {
            fail("decrease_reservation of frame %#lx after the grant ended = %ld, expected 1",
                 slots[s].mfn, r);
            slots[s].state = S_LOST;
            return;
        }
        slots[s].state = S_FREED;
        cur_pages--;
        st.freed++;
    } else {                     /* or map it again: still ours, as we left it */
        if (HYPERVISOR_update_va_mapping(va_of(s), (uint64_t)slots[s].mfn << 12 | PTE_RW,
                                         UVMF_INVLPG)) {
            fail("remapping frame %#lx at %#lx failed", slots[s].mfn, va_of(s));
            slots[s].state = S_LOST;
            return;
        }
        check_tag("after the grant", p, self, va_of(s), slots[s].gen, slots[s].mfn);
    }
}

/* Unmap without a flush, give back, then a reuse (ours, or the hypervisor's), then read the
 * stale address: with the flush on reuse it faults. */
static void reuse_op(void)
{
    unsigned s = pick(S_MAPPED);
    if (s == POOL)
        return;
    unsigned long old = slots[s].mfn;
    if (!free_slot(s, rnd() % 4 ? UVMF_NONE : rand_flush()))
        return;
    unsigned t = pick(S_FREED);          /* may be s itself */
    switch (rnd() % 4) {
    case 0:
        if (gnt_nr < GNT_CAP) {
            gnttab_op();
            break;
        }
        /* fall through */
    case 1: case 2: {
        /* A frame into another freed slot first, then the stale read. */
        if (t == s)
            break;
        alloc_into(t, old);
        break;
    }
    default:
        break;
    }
    probe(s);
    if (t == s && rnd() % 2)
        alloc_into(s, old);
}

static void one_op(unsigned i)
{
    rng_for_op(i);
    cur_op = i;
    unsigned k = (unsigned)(rnd() % 100);
    unsigned s;
    if (k < 14) {
        cur_name = "free";
        s = pick(S_MAPPED);
        if (s != POOL)
            free_slot(s, rand_flush());
    } else if (k < 40) {
        cur_name = "alloc";
        s = pick(S_FREED);
        if (s != POOL) {
            alloc_into(s, 0);
        } else if (cur_pages >= max_pages) {   /* every page ours: no more */
            xen_pfn_t f = va_of(0) >> 12;
            long rc = reservation(rnd() % 2 ? XENMEM_populate_physmap
                                            : XENMEM_increase_reservation, &f);
            if (rc != 0)
                fail("a new frame at the maximum reservation (%ld): %ld, expected 0",
                     max_pages, rc);
            st.at_max++;
        }
    } else if (k < 50) {
        cur_name = "probe";
        s = pick(S_FREED);
        if (s != POOL)
            probe(s);
    } else if (k < 64) {
        cur_name = "reuse";
        reuse_op();
    } else if (k < 76) {
        cur_name = "grant";
        grant_op();
    } else if (k < 80) {
        cur_name = "gnttab";
        gnttab_op();
    } else if (k < 88) {
        cur_name = "nofree";
        nofree_op();
    } else {
        cur_name = "verify";
        s = pick(S_MAPPED);
        if (s != POOL)
            check_tag("a mapped page", (volatile uint64_t *)pool[s], self, va_of(s),
                      slots[s].gen, slots[s].mfn);
    }
    check_reservation();
    serve();
}

/* ---- Set-up and the end. */

static int connect_peer(void)
{
    if (minios_gnttab_grant_access(peer, minios_virt_to_mfn(ctl_page), 0) != REF_CTL) {
        test_error("memfuzz: our control page did not get reference %u", REF_CTL);
        return 0;
    }
    uint64_t end = minios_monotonic_ns() + WAIT_NS;
    while (!(theirs = minios_gnttab_map(peer, REF_CTL, 1, &theirs_h))) {
        if (minios_monotonic_ns() > end) {
            test_error("memfuzz: cannot map d%u's control page (status %d)", peer,
                       minios_gnttab_last_status());
            return 0;
        }
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    return 1;
}

static void disconnect_peer(void)
{
    mine->finished = 1;
    if (peer_ok)
        wait_for(&theirs->finished, 1, "its last operation");
    if (held.active)
        serve_unmap();
    mine->bye = 1;
    if (peer_ok)
        wait_for(&theirs->bye, 1, "its goodbye");
    if (minios_gnttab_unmap((void *)theirs, theirs_h))
        fail("unmap of the peer's control page failed");
    theirs = NULL;
    uint64_t end = minios_monotonic_ns() + WAIT_NS;
    while (minios_gnttab_end_access(REF_CTL)) {
        if (!peer_ok || minios_monotonic_ns() > end) {
            test_error("memfuzz: the peer kept our control page mapped");
            return;
        }
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op"), *v;
    if ((v = test_arg(argc, argv, "peer")))
        peer = (domid_t)atoi(v);
    if ((v = test_arg(argc, argv, "seed")))
        seed = strtoull(v, NULL, 0);
    if ((v = test_arg(argc, argv, "ops")))
        nr_ops = (unsigned)atoi(v);
    self = minios_domid();
    if (!op || strcmp(op, "fuzz")) {
        test_error("op=fuzz expected");
        return test_finish();
    }
    printf("memfuzz: d%u seed %#lx, %u ops, peer d%u\n", self, (unsigned long)seed, nr_ops, peer);
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    if (minios_vcpu_info_register()) {
        test_error("cannot register vcpu_info");
        return test_finish();
    }
    minios_set_trap_handler(14, pf_handler);

    const unsigned long *p2m = (const unsigned long *)minios_start_info->mfn_list;
    si_mfn = minios_start_info->shared_info >> 12;
    vi_mfn = minios_virt_to_mfn(minios_vcpu_info());
    l4_mfn = p2m[minios_start_info->pt_base >> 12];
    gnt_nr = MINIOS_GNTTAB_FRAMES;
    if (gnt_setup(gnt_nr, gnt_frames)) {
        test_error("setup_table(%u) failed", gnt_nr);
        return test_finish();
    }
    domid_t d = DOMID_SELF;
    cur_pages = HYPERVISOR_memory_op(XENMEM_current_reservation, &d);
    max_pages = HYPERVISOR_memory_op(XENMEM_maximum_reservation, &d);
    for (unsigned s = 0; s < POOL; s++) {
        slots[s] = (struct slot){ .state = S_MAPPED, .mfn = minios_virt_to_mfn(pool[s]),
                                  .gen = next_gen++ };
        write_tag(s);
    }
    peer_ok = peer != 0 && peer != self && connect_peer();

    for (unsigned i = 0; i < nr_ops && nfails < MAX_FAILS; i++)
        one_op(i);
    cur_name = "the end";
    if (nfails >= MAX_FAILS)
        test_fail("memfuzz d%u: stopped after %u failures", self, nfails);
    /* Every mapped page still holds its tag. */
    for (unsigned s = 0; s < POOL; s++)
        if (slots[s].state == S_MAPPED)
            check_tag("at the end", (volatile uint64_t *)pool[s], self, va_of(s), slots[s].gen,
                      slots[s].mfn);
    if (peer_ok)
        disconnect_peer();

    printf("memfuzz: %u ops: %lu frames given back, %lu taken (%lu the frame just given back), "
           "%lu refused at the maximum\n", cur_op + 1, st.freed, st.allocated, st.reused_same,
           st.at_max);
    printf("memfuzz: stale probes: %lu, %lu faulted, %lu showed our old data\n", st.probes,
           st.faults, st.old_seen);
    printf("memfuzz: grants: %lu given, %lu mapped for the peer (%lu host, %lu device), "
           "%lu frees refused while mapped\n", st.given, st.served_host + st.served_dev,
           st.served_host, st.served_dev, st.refused_granted);
    printf("memfuzz: %lu frees of unfreeable frames refused, grant table %u frames (%lu "
           "setup/query calls)\n", st.refused, gnt_nr, st.hv_allocs);
    return test_finish();
}
