/* Domain lifecycle: creation, frame ownership, shutdown and crash,
 * destruction, and the summary printed when the last domain is gone. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "pci.h"
#include "sched.h"
#include "event.h"
#include "timer.h"
#include "pv.h"
#include "hvm.h"
#include "time.h"
#include "grant.h"
#include "xsm.h"
#include "hypercall.h"
#include <xen/sched.h>

/* The domain table and list, the dying list, the summary and references
 * (domain_get) are under the domain-list lock. */
static spinlock_t domlist_lock = SPINLOCK_INIT("domlist", LOCK_ORDER_DOMLIST);
static struct domain *domain_list;
bool domains_booted;   /* the boot modules have all been built */

/* The list without its lock: for the NMI state dump only. */
struct domain *domain_list_unlocked(void)
{
    return __atomic_load_n(&domain_list, __ATOMIC_ACQUIRE);
}
static struct domain *domain_table[DOMID_FIRST_RESERVED];

/* Without a reference: for callers that know d stays (it is their own, a
 * channel's peer held by the channel, the owner of a frame on its list). */
struct domain *domain_by_id(unsigned id)
{
    return id < DOMID_FIRST_RESERVED ? __atomic_load_n(&domain_table[id], __ATOMIC_ACQUIRE)
                                     : NULL;
}

struct domain *domain_get(unsigned id)
{
    if (id >= DOMID_FIRST_RESERVED)
        return NULL;
    spin_lock(&domlist_lock);
    struct domain *d = domain_table[id];
    if (d)
        __atomic_fetch_add(&d->refcnt, 1, __ATOMIC_ACQUIRE);
    spin_unlock(&domlist_lock);
    return d;
}

/* The last reference is the table's: the reaper lets it go (and frees the
 * structure) only when no other is left. */
void domain_put(struct domain *d)
{
    if (__atomic_fetch_sub(&d->refcnt, 1, __ATOMIC_RELEASE) <= 1)
        panic("d%u: reference count underflow", d->id);
}

void domain_lock2(struct domain *a, struct domain *b)
{
    if (a == b) {
        domain_lock(a);
    } else if (a->id < b->id) {
        domain_lock(a);
        domain_lock(b);
    } else {
        domain_lock(b);
        domain_lock(a);
    }
}

void domain_unlock2(struct domain *a, struct domain *b)
{
    domain_unlock(a);
    if (a != b)
        domain_unlock(b);
}

static unsigned nr_live;
static uint16_t next_domid = 1;

struct summary {
    uint16_t id;
    char name[NAME_LEN];
    char what[24];
    bool clean;
};
static struct summary summary[MAX_DOMAINS];
static unsigned nr_summary;
static bool any_unclean;
static uint64_t free_baseline;
static bool have_baseline;

static const char *const reason_names[] = {
    [SHUTDOWN_poweroff] = "poweroff", [SHUTDOWN_reboot] = "reboot",
    [SHUTDOWN_suspend] = "suspend",   [SHUTDOWN_crash] = "crash",
    [SHUTDOWN_watchdog] = "watchdog",
};

unsigned nr_live_domains(void)
{
    return __atomic_load_n(&nr_live, __ATOMIC_ACQUIRE);
}

/* A dead domain that restart= builds again counts as live from its death
 * until its next life is built (or the restart is given up): the
 * hypervisor must not finish in between. */
void domain_life_release(void)
{
    __atomic_fetch_sub(&nr_live, 1, __ATOMIC_RELEASE);
}

/* Whether d's restart= policy builds it again after this death (not
 * after a destroy by the control domain). */
static bool restart_wanted(const struct domain *d)
{
    if (d->killed || d->restart == RESTART_NEVER)
        return false;
    if (d->restart == RESTART_ALWAYS)
        return true;
    return d->crashed || d->shutdown_reason == SHUTDOWN_crash ||
           d->shutdown_reason == SHUTDOWN_watchdog || d->shutdown_reason == SHUTDOWN_reboot;
}

static void add_summary(uint16_t id, const char *name, const char *what, bool clean)
{
    spin_lock(&domlist_lock);
    if (!clean)
        any_unclean = true;
    if (nr_summary < ARRAY_SIZE(summary)) {
        struct summary *s = &summary[nr_summary++];
        s->id = id;
        strlcpy(s->name, name, sizeof(s->name));
        strlcpy(s->what, what, sizeof(s->what));
        s->clean = clean;
    }
    spin_unlock(&domlist_lock);
}

void domain_note_refused(const char *name, const char *why)
{
    printk("boot: module '%s' refused: %s\n", name, why);
    add_summary(0, name, "refused", false);
}

/* The array of vCPU pointers: whole pages. */
static unsigned vcpu_array_order(const struct domain *d)
{
    unsigned order = 0;
    while (((size_t)PAGE_SIZE << order) < d->nr_vcpus * sizeof(struct vcpu *))
        order++;
    return order;
}

/* The array of vCPU pointers: in the domain structure for a few (the
 * usual appliance costs no extra page), else whole pages. */
static int vcpu_array_alloc(struct domain *d)
{
    if (d->nr_vcpus <= VCPUS_IN_DOMAIN) {
        d->vcpu = d->vcpu_few;
        return 0;
    }
    d->vcpu_order = vcpu_array_order(d);
    d->vcpu = alloc_hv_pages(d->vcpu_order);
    return d->vcpu ? 0 : -1;
}

static void vcpu_array_free(struct domain *d)
{
    if (d->vcpu != d->vcpu_few)
        free_hv_pages(d->vcpu, d->vcpu_order);
    d->vcpu = NULL;
}

/* Where a vCPU's vcpu_info is when it has registered none: in
 * shared_info for the first XEN_LEGACY_MAX_VCPUS, else its own. */
vcpu_info_t *vcpu_info_default(struct vcpu *v)
{
    if (v->id < XEN_LEGACY_MAX_VCPUS)
        return &v->domain->shared_info->vcpu_info[v->id];
    return &v->dummy_info;
}

/* Under the control lock (domctl, or the boot-time builder): one
 * creation at a time, so the id chosen stays free until it is entered. */
struct domain *domain_create(const struct boot_config *cfg)
{
    BUILD_BUG_ON(sizeof(struct domain) > PAGE_SIZE);
    uint16_t id = cfg->domid;
    if (id) {
        if (id >= DOMID_FIRST_RESERVED || domain_by_id(id))
            return NULL;
    } else {
        while (next_domid < DOMID_FIRST_RESERVED && domain_by_id(next_domid))
            next_domid++;        /* skip ids that DOMCTL_createdomain chose */
        if (next_domid >= DOMID_FIRST_RESERVED)
            return NULL;
        id = next_domid++;
    }
    struct domain *d = alloc_hv_pages(0);
    if (!d)
        return NULL;
    d->id = id;
    d->lock = (spinlock_t)SPINLOCK_INIT("domain", LOCK_ORDER_DOMAIN);
    d->page_alloc_lock = (spinlock_t)SPINLOCK_INIT("page_alloc", LOCK_ORDER_PAGE_ALLOC);
    d->refcnt = 1;               /* the table's */
    d->cap_lock = (spinlock_t)SPINLOCK_INIT("cap", LOCK_ORDER_SCHED_DOM);
    strlcpy(d->name, cfg->name, sizeof(d->name));
    d->roles = cfg->roles;
    d->max_pages = cfg->mem >> PAGE_SHIFT;
    d->page_list = PFN_NONE;
    d->weight = cfg->weight ? cfg->weight : 256;
    d->cap = cfg->cap;
    d->affinity_default = cfg->affinity;
    if (cpumask_empty(&d->affinity_default))
        cpumask_setall(&d->affinity_default);
    d->nr_vcpus = cfg->vcpus;
    d->arch.type = (enum guest_type)cfg->type;   /* before its vCPUs: they depend on it */
    d->restart = (uint8_t)cfg->restart;
    d->con_tokens = CONSOLE_BURST;
    d->con_refill_ns = now_ns();
    if (d->nr_vcpus < 1 || d->nr_vcpus > MAX_VCPUS || vcpu_array_alloc(d)) {
        free_hv_pages(d, 0);
        return NULL;
    }
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        d->vcpu[i] = vcpu_create(d, i);
        if (!d->vcpu[i]) {
            while (i--)
                vcpu_free(d->vcpu[i]);
            vcpu_array_free(d);
            free_hv_pages(d, 0);
            return NULL;
        }
    }
    /* Xen's default for a domain (max_event_channels 1023, plus port 0);
     * the xenstore domain holds two ports per domain it serves, so it
     * gets all that the 2-level ABI offers. */
    d->max_evtchns = (d->roles & ROLE_XENSTORE) ? 4096 : 1024;
    d->event_lock = (spinlock_t)SPINLOCK_INIT("event", LOCK_ORDER_EVENT);
    xsm_domain_init(d, cfg);
    /* shared_info: the domain's own frame, outside its pseudo-physical
     * map, as Xen allocates it when it creates a domain. */
    uint64_t si_mfn;
    if (domain_alloc_shared_page(d, &si_mfn)) {
        for (unsigned i = 0; i < d->nr_vcpus; i++)
            vcpu_free(d->vcpu[i]);
        vcpu_array_free(d);
        free_hv_pages(d, 0);
        return NULL;
    }
    d->shared_info = pfn_to_virt(si_mfn);
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpu[i];
        v->vcpu_info = vcpu_info_default(v);
        v->vcpu_info->evtchn_upcall_mask = 1;
    }
    domain_init_wallclock(d);
    spin_lock(&domlist_lock);
    d->next = domain_list;
    domain_list = d;
    __atomic_store_n(&domain_table[d->id], d, __ATOMIC_RELEASE);
    nr_live++;
    spin_unlock(&domlist_lock);
    return d;
}

/* A frame just allocated to d: zeroed, its allocation reference, on d's list. */
static void adopt_page(struct domain *d, uint64_t pfn)
{
    memset(pfn_to_virt(pfn), 0, PAGE_SIZE);
    struct page_info *pg = &frame_table[pfn];
    __atomic_store_n(&pg->type_info, 0, __ATOMIC_RELAXED);
    spin_lock_key(&d->page_alloc_lock, d->id);
    pg->prev = PFN_NONE;
    pg->next = d->page_list;
    if (d->page_list != PFN_NONE)
        frame_table[d->page_list].prev = (uint32_t)pfn;
    d->page_list = (uint32_t)pfn;
    d->page_count++;
    spin_unlock(&d->page_alloc_lock);
    /* The allocation's own reference: from here on get_page may take more. */
    __atomic_store_n(&pg->count, 1, __ATOMIC_RELEASE);
}

/*
 * The frames of a new domain's pseudo-physical map (the builder): for
 * each i < n outside [skip_first, skip_first + skip_nr) (shared image
 * pages), one zeroed frame owned by d in mfns[i], all linked into d's list
 * under one hold of its page-list lock.  Returns how many of the n were
 * done (n, or the index where host memory ran out; what was allocated is
 * d's, freed with it).
 */
uint64_t domain_alloc_frames(struct domain *d, uint64_t *mfns, uint64_t n, uint64_t skip_first,
                             uint64_t skip_nr)
{
    uint64_t i;
    for (i = 0; i < n; i++) {
        if (i >= skip_first && i < skip_first + skip_nr)
            continue;
        int64_t pfn = alloc_pages(0, d->id);
        if (pfn < 0)
            break;
        memset(pfn_to_virt((uint64_t)pfn), 0, PAGE_SIZE);
        __atomic_store_n(&frame_table[pfn].type_info, 0, __ATOMIC_RELAXED);
        mfns[i] = (uint64_t)pfn;
    }
    spin_lock_key(&d->page_alloc_lock, d->id);
    for (uint64_t j = 0; j < i; j++) {
        if (j >= skip_first && j < skip_first + skip_nr)
            continue;
        struct page_info *pg = &frame_table[mfns[j]];
        pg->prev = PFN_NONE;
        pg->next = d->page_list;
        if (d->page_list != PFN_NONE)
            frame_table[d->page_list].prev = (uint32_t)mfns[j];
        d->page_list = (uint32_t)mfns[j];
        d->page_count++;
        __atomic_store_n(&pg->count, 1, __ATOMIC_RELEASE);
    }
    spin_unlock(&d->page_alloc_lock);
    return i;
}

/* Allocates one zeroed frame owned by d and links it into d's list. */
int domain_alloc_page(struct domain *d, uint64_t *mfn)
{
    return domain_alloc_pages(d, 0, mfn);
}

/* 2^order contiguous frames for d, each its own page as domain_alloc_page
 * makes it (and each given back on its own): as Xen's, a reservation
 * extent is contiguous, so a PV guest names all of it by its first frame. */
int domain_alloc_pages(struct domain *d, unsigned order, uint64_t *first)
{
    int64_t pfn = alloc_pages(order, d->id);
    if (pfn < 0)
        return -1;
    for (uint64_t i = 0; i < (1ULL << order); i++)
        adopt_page(d, (uint64_t)pfn + i);
    *first = (uint64_t)pfn;
    return 0;
}

/*
 * A hypervisor frame shared with d (shared_info, a grant-table frame), as
 * Xen's share_xen_page_with_guest: owned by d so that d may map it, on d's
 * list so that it goes with d, not counted in d's reservation, and held
 * with a writable type for d's whole life, so that it can never become a
 * page table and decrease_reservation refuses it.
 */
int domain_alloc_shared_page(struct domain *d, uint64_t *mfn)
{
    if (domain_alloc_page(d, mfn))
        return -1;
    struct page_info *pg = &frame_table[*mfn];
    pg->flags |= PGF_HV_SHARED;
    __atomic_store_n(&pg->type_info, PGT_WRITABLE | (1u << PGT_COUNT_SHIFT), __ATOMIC_RELEASE);
    return 0;
}

/* Takes frame mfn off d's list (its last reference went, or d is being
 * destroyed); the caller holds d's page-list lock. */
static void unlink_page_locked(struct domain *d, uint64_t mfn)
{
    struct page_info *pg = &frame_table[mfn];
    if (pg->prev != PFN_NONE)
        frame_table[pg->prev].next = pg->next;
    else
        d->page_list = pg->next;
    if (pg->next != PFN_NONE)
        frame_table[pg->next].prev = pg->prev;
    pg->next = pg->prev = PFN_NONE;
    d->page_count--;
}

void domain_unlink_page(struct domain *d, uint64_t mfn)
{
    spin_lock_key(&d->page_alloc_lock, d->id);
    unlink_page_locked(d, mfn);
    spin_unlock(&d->page_alloc_lock);
}

/*
 * Destroying a domain, in steps that each stop after a time budget
 * (domain_destroy_step), so that the destruction of a large domain never
 * holds a pCPU or a lock for long.  The phases:
 *   0  event channels, grant table, vcpu_info references;
 *   1-4  the entries of every L1, then L2, L3 and L4 table it owns are
 *      dropped and cleared, bottom up, so that no later devalidation
 *      cascades through a whole tree at once (a table may take several
 *      steps: each entry above L1 devalidates a whole, empty, table);
 *   5  pins and base pointers (the tables are empty now);
 *   6  each frame's allocation reference; a frame still referenced from
 *      elsewhere (a grant or foreign mapping) becomes an orphan, freed
 *      when its last reference goes;
 *   7  the accounting check;
 *   8  once no reference but the table's is left (domain_get), the
 *      domain leaves the list and the table; its caller then frees its
 *      vCPUs (up to 8,192) and structure (domain_free), the reaper
 *      once it has taken it off the dying list.
 * The frames of a dead domain keep their allocation reference until
 * phase 6, so the page list cannot change under the cursor before it.
 * Phases 1-6 hold the domain's lock: a foreign mapper or a control
 * domain finds it shut down under that lock and keeps off its tables.
 * Others' puts of its frames may race with phase 6 (release_frame takes
 * the page-list lock).  One CPU reaps at a time (reap_lock).
 */
enum { DESTROY_TABLES = 1, DESTROY_PINS = 5, DESTROY_FRAMES = 6, DESTROY_DONE = 7,
       DESTROY_VCPUS = 8 };

static bool over_budget(uint64_t end)
{
    return end && rdtsc() > end;
}

static bool destroy_frames_step(struct domain *d, uint64_t end);

/* Returns true when d is out of the list and the table and only its
 * structure is left (domain_free). */
static bool domain_destroy_step(struct domain *d, uint64_t end)
{
    if (d->destroy_phase == 0) {
        /* No pCPU handles a timer of its (dead) vCPUs from here on: the
         * handler raises VIRQs and writes vcpu_info. */
        domain_timers_kill(d);
        /* Its devices stop before any of its frames can be reused. */
        pci_release_domain(d);
        evtchn_destroy(d);
        grant_table_destroy(d);
        for (unsigned i = 0; i < d->nr_vcpus; i++)
            if (d->vcpu[i])
                vcpu_info_release(d->vcpu[i]);
        d->destroy_phase = DESTROY_TABLES;
        d->destroy_cursor = d->page_list;
    }
    if (d->destroy_phase < DESTROY_DONE) {
        domain_lock(d);
        bool done = destroy_frames_step(d, end);
        domain_unlock(d);
        if (!done)
            return false;
    }
    if (d->destroy_phase == DESTROY_DONE) {
        if (d->page_count != 0)
            panic("d%u: %lu frames unaccounted for", d->id, (unsigned long)d->page_count);
        if (d->destroy_orphans)
            printk("d%u: %lu frames still referenced by other domains\n", d->id,
                   (unsigned long)d->destroy_orphans);
        d->destroy_phase = DESTROY_VCPUS;
    }
    if (d->destroy_phase == DESTROY_VCPUS) {
        /* Out of the table once nobody holds a reference: from then on
         * nobody can find it, and its vCPUs and structure go at once (so
         * that a domain that cannot be found any more has given back
         * every frame). */
        spin_lock(&domlist_lock);
        bool last = __atomic_load_n(&d->refcnt, __ATOMIC_ACQUIRE) == 1;
        if (last) {
            for (struct domain **pp = &domain_list; *pp; pp = &(*pp)->next) {
                if (*pp == d) {
                    *pp = d->next;
                    break;
                }
            }
            __atomic_store_n(&domain_table[d->id], NULL, __ATOMIC_RELEASE);
            d->refcnt = 0;
        }
        spin_unlock(&domlist_lock);
        if (!last)
            return false;        /* a lookup still uses it: next time */
    }
    return true;
}

/* The last of a destruction, once domain_destroy_step said it was done:
 * its vCPUs and structure go.  The reaper takes d off the dying list
 * first (an append there writes the tail's dying_next). */
static void domain_free(struct domain *d)
{
    for (unsigned i = d->nr_vcpus; i--; )
        if (d->vcpu[i])
            vcpu_free(d->vcpu[i]);
    vcpu_array_free(d);
    free_hv_pages(d, 0);
    __atomic_fetch_sub(&nr_live, 1, __ATOMIC_RELEASE);   /* gone only once its last frame is back */
}

/* Phases 1-6, under d's lock; whether they are done. */
static bool destroy_frames_step(struct domain *d, uint64_t end)
{
    if (d->arch.type != GUEST_PV && d->destroy_phase < DESTROY_FRAMES) {
        /* PVH: no PV page tables or pins; its nested page tables go, then
         * its frames as a PV domain's (hv/hvm/p2m.c). */
        hvm_p2m_free(d);
        hvm_ioreq_free(d);
        hvm_vioapic_free(d);
        d->destroy_phase = DESTROY_FRAMES;
    }
    while (d->destroy_phase < DESTROY_PINS) {
        unsigned level = d->destroy_phase;
        while (d->destroy_cursor != PFN_NONE) {
            uint32_t mfn = d->destroy_cursor;
            if (!pv_zap_table(mfn, level, end))
                return false;    /* the rest of this table next time */
            d->destroy_cursor = frame_table[mfn].next;
            if (over_budget(end))
                return false;
        }
        d->destroy_phase++;
        d->destroy_cursor = d->page_list;
    }
    if (d->destroy_phase == DESTROY_PINS) {
        pv_drop_bases(d);
        pv_drop_user_bases(d);
        pv_drop_descriptor_tables(d);
        while (d->destroy_cursor != PFN_NONE) {
            uint32_t mfn = d->destroy_cursor;
            d->destroy_cursor = frame_table[mfn].next;
            pv_unpin_any(d, mfn);
            if (!(mfn & 63) && over_budget(end))
                return false;
        }
        if (d->arch.pv.shared_image) {
            shared_image_put(d->arch.pv.shared_image);
            d->arch.pv.shared_image = 0;
        }
        d->destroy_phase = DESTROY_FRAMES;
    }
    if (d->destroy_phase == DESTROY_FRAMES) {
        for (unsigned n = 0; ; n++) {
            spin_lock_key(&d->page_alloc_lock, d->id);
            uint32_t pfn = d->page_list;
            if (pfn == PFN_NONE) {
                spin_unlock(&d->page_alloc_lock);
                break;
            }
            struct page_info *pg = &frame_table[pfn];
            if (pg->owner != d->id)
                panic("d%u: frame %x on its list is owned by %x", d->id, pfn, pg->owner);
            if (__atomic_load_n(&pg->count, __ATOMIC_ACQUIRE) == 0) {
                /* Its last reference just went elsewhere: release_frame
                 * takes it off the list as soon as we let go. */
                spin_unlock(&d->page_alloc_lock);
                return false;
            }
            /* From here on an orphan: whoever drops its last reference
             * frees it (this put, or another domain's). */
            unlink_page_locked(d, pfn);
            pg->owner = OWNER_ORPHAN;
            spin_unlock(&d->page_alloc_lock);
            if (pg->flags & PGF_HV_SHARED) {
                pg->flags &= (uint8_t)~PGF_HV_SHARED;
                put_page_type(pfn);  /* the hypervisor's writable type */
            }
            if (__atomic_load_n(&pg->count, __ATOMIC_ACQUIRE) > 1)
                d->destroy_orphans++;
            put_page(pfn);
            if (!(n & 63) && over_budget(end))
                return false;
        }
        d->destroy_phase = DESTROY_DONE;
    }
    return true;
}

/* At once (a boot domain that could not be built). */
void domain_destroy(struct domain *d)
{
    while (!domain_destroy_step(d, 0))
        ;
    domain_free(d);
}

/* The dead domains (shut down, not yet destroyed), in the order they
 * died (under the domain-list lock): only they are looked at after a
 * context switch. */
static struct domain *dying_head, **dying_tail = &dying_head;
/* A domain died: the control and xenstore domains get VIRQ_DOM_EXC, and
 * if it was the xenstore domain, the boot domains it held run.  Done by
 * the reaper (reap_dead_domains), which holds no lock, so that a domain
 * may die wherever its death is found (with its own or another lock). */
static bool dom_exc_pending, xs_gone_pending, dm_gone_pending;
static spinlock_t reap_lock = SPINLOCK_INIT("reap", LOCK_ORDER_REAP);

static void add_dying(struct domain *d)
{
    spin_lock(&domlist_lock);
    d->dying_next = NULL;
    *dying_tail = d;
    dying_tail = &d->dying_next;
    spin_unlock(&domlist_lock);
}

/* The first step of any death: true for the one caller that makes it. */
static bool claim_death(struct domain *d)
{
    return !__atomic_exchange_n(&d->shutdown, true, __ATOMIC_ACQ_REL);
}

static void mark_dead(struct domain *d)
{
    if (restart_wanted(d)) {
        d->restart_due = true;
        __atomic_fetch_add(&nr_live, 1, __ATOMIC_ACQ_REL);   /* its next life */
    }
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i]) {
            vcpu_set_dead(d->vcpu[i]);
            vcpu_timer_remove(d->vcpu[i]);
            vcpu_kick(d->vcpu[i]);   /* a pCPU running it must let go */
        }
    console_flush_domain(d);
    if (d->con_dropped)
        printk("d%u (%s): %lu bytes of console output dropped\n", d->id, d->name,
               (unsigned long)d->con_dropped);
    if (d->roles & ROLE_XENSTORE)
        __atomic_store_n(&xs_gone_pending, true, __ATOMIC_RELEASE);
    if (d->roles & ROLE_DM)
        __atomic_store_n(&dm_gone_pending, true, __ATOMIC_RELEASE);
    __atomic_store_n(&dom_exc_pending, true, __ATOMIC_RELEASE);
    add_dying(d);                /* last: the reaper may take it from here */
}

/* The xenstore domain is gone: the boot domains it had not let run yet
 * run without it.  One at a time, with a reference, holding no lock while
 * each is unpaused. */
static void release_xs_holds(void)
{
    unsigned n = 0;
    for (;;) {
        struct domain *held = NULL;
        spin_lock(&domlist_lock);
        for (struct domain *d = domain_list; d; d = d->next)
            if (__atomic_exchange_n(&d->xs_held, false, __ATOMIC_ACQ_REL)) {
                held = d;
                __atomic_fetch_add(&d->refcnt, 1, __ATOMIC_ACQUIRE);
                break;
            }
        spin_unlock(&domlist_lock);
        if (!held)
            break;
        sched_unpause_domain(held);
        domain_put(held);
        n++;
    }
    if (n)
        printk("the xenstore domain is gone: %u domains it had not introduced run "
               "without it\n", n);
}

void domain_shutdown(struct domain *d, unsigned reason)
{
    if (!claim_death(d))
        return;
    d->shutdown_reason = reason;
    const char *r = reason < ARRAY_SIZE(reason_names) ? reason_names[reason] : "?";
    printk("d%u (%s) shut down: %s\n", d->id, d->name, r);
    add_summary(d->id, d->name, r, reason == SHUTDOWN_poweroff);
    mark_dead(d);
}

/* DOMCTL_destroydomain: the domain stops at once and is reaped like a
 * shut-down one (its frames return when no pCPU runs it any more).  The
 * caller waits, holding no lock, until none of its vCPUs runs
 * (domain_sleep_sync). */
void domain_kill(struct domain *d)
{
    if (!claim_death(d))
        return;
    d->killed = true;
    d->shutdown_reason = SHUTDOWN_poweroff;
    printk("d%u (%s) destroyed by the control domain\n", d->id, d->name);
    add_summary(d->id, d->name, "destroyed", true);
    mark_dead(d);
}

void domain_crash(struct domain *d, const char *fmt, ...)
{
    if (!claim_death(d))
        return;
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    d->crashed = true;
    d->shutdown_reason = SHUTDOWN_crash;
    printk("d%u (%s) crashed: %s\n", d->id, d->name, buf);
    add_summary(d->id, d->name, "crashed", false);
    mark_dead(d);
}

/* Raises a global VIRQ in every live domain with the control or xenstore
 * role (VIRQ_DOM_EXC: a domain shut down, crashed, or is gone): each
 * found with a reference under the list lock, raised without it. */
void send_global_virq_privileged(unsigned virq)
{
    struct domain *batch[16];
    unsigned from = 0;           /* ids below are done */
    for (;;) {
        /* The (at most 16) lowest ids from `from` on, in order. */
        unsigned n = 0;
        spin_lock(&domlist_lock);
        for (struct domain *d = domain_list; d; d = d->next) {
            if (d->id < from || d->shutdown || !(d->roles & (ROLE_CONTROL | ROLE_XENSTORE)))
                continue;
            unsigned i = n;
            while (i && batch[i - 1]->id > d->id)
                i--;
            if (i == ARRAY_SIZE(batch))
                continue;
            if (n == ARRAY_SIZE(batch))
                n--;             /* the highest falls out */
            memmove(&batch[i + 1], &batch[i], (n - i) * sizeof(batch[0]));
            batch[i] = d;
            n++;
        }
        for (unsigned i = 0; i < n; i++)
            __atomic_fetch_add(&batch[i]->refcnt, 1, __ATOMIC_ACQUIRE);
        spin_unlock(&domlist_lock);
        if (n)
            from = batch[n - 1]->id + 1u;
        for (unsigned i = 0; i < n; i++) {
            send_guest_global_virq(batch[i], virq);
            domain_put(batch[i]);
        }
        if (n < ARRAY_SIZE(batch))
            return;
    }
}

/*
 * Destroys shut-down domains none of whose vCPUs is on a pCPU, for at most
 * REAP_BUDGET_US, after sending what deaths owe (dom_exc_pending); whether
 * destruction work remains.  Called with no lock held after context
 * switches and by idle pCPUs, which go on until it is done.  One CPU at a
 * time: another finds the reap lock taken and goes on.
 */
#define REAP_BUDGET_US 100

/* Whether a dead domain waits to be reaped (a hint, read without lock). */
bool reap_pending(void)
{
    return __atomic_load_n(&dying_head, __ATOMIC_RELAXED) != NULL ||
           __atomic_load_n(&dom_exc_pending, __ATOMIC_RELAXED);
}

bool reap_dead_domains(void)
{
    if (!spin_trylock(&reap_lock))
        return false;
    if (__atomic_exchange_n(&xs_gone_pending, false, __ATOMIC_ACQ_REL))
        release_xs_holds();
    if (__atomic_exchange_n(&dm_gone_pending, false, __ATOMIC_ACQ_REL))
        hvm_ioreq_emulators_check();
    if (__atomic_exchange_n(&dom_exc_pending, false, __ATOMIC_ACQ_REL))
        send_global_virq_privileged(VIRQ_DOM_EXC);
    uint64_t end = rdtsc() + REAP_BUDGET_US * tsc_khz / 1000;
    bool more = false;
    struct domain *prev = NULL;
    spin_lock(&domlist_lock);
    struct domain *d = dying_head;
    spin_unlock(&domlist_lock);
    while (d) {
        spin_lock(&domlist_lock);
        struct domain *next = d->dying_next;
        spin_unlock(&domlist_lock);
        if (!domain_off_cpus(d)) {
            more = true;
            prev = d;
            d = next;
            continue;
        }
        bool again = d->restart_due;
        uint16_t id = d->id;
        if (!domain_destroy_step(d, end)) {
            more = true;
            break;
        }
        /* Gone: off the dying list (others only append to it), before
         * its structure is freed: an append after d, or a new domain
         * reusing its memory, must not be lost with it (the restart
         * test hung with a dead domain left off the list). */
        spin_lock(&domlist_lock);
        struct domain **pp = prev ? &prev->dying_next : &dying_head;
        *pp = next = d->dying_next;
        if (!next)
            dying_tail = pp;
        spin_unlock(&domlist_lock);
        domain_free(d);
        if (again)
            domain_restart_queue(id);   /* d is freed: by id */
        /* As Xen's domain_kill once the domain is dead: the xenstore
         * domain releases what it holds of a domain that is gone. */
        send_global_virq_privileged(VIRQ_DOM_EXC);
        d = next;
        if (rdtsc() > end) {
            more = d != NULL;
            break;
        }
    }
    spin_unlock(&reap_lock);
    return more;
}

void domains_set_baseline(uint64_t free_frames)
{
    free_baseline = free_frames;
    have_baseline = true;
}

noreturn void domains_finish(void)
{
    unsigned status = any_unclean ? EXIT_UNCLEAN : EXIT_CLEAN;
    printk("all domains have shut down; summary:\n");
    for (unsigned i = 0; i < nr_summary; i++) {
        struct summary *s = &summary[i];
        if (s->id)
            printk("  d%-4u %-20s %s\n", s->id, s->name, s->what);
        else
            printk("  -     %-20s %s\n", s->name, s->what);
    }
#ifdef KEEL_DEBUG
    uint64_t switches = 0, flushes = 0;
    for (unsigned i = 0; i < nr_cpus; i++)
        if (pcpus[i]) {
            switches += pcpus[i]->domain_switches;
            flushes += pcpus[i]->global_flushes;
        }
    printk("debug: %lu switches between domains, each checked to flush global "
           "entries (%lu global flushes in all)\n",
           (unsigned long)switches, (unsigned long)flushes);
#endif
    uint64_t now = free_page_count();
    if (have_baseline) {
        printk("mm: free frames before domains %lu, after %lu: %s\n",
               (unsigned long)free_baseline, (unsigned long)now,
               now == free_baseline ? "all returned" : "LEAK");
        if (now != free_baseline)
            status = EXIT_LEAK;
    }
    printk("exit status %#x (%s)\n", status,
           status == EXIT_CLEAN ? "all powered off" : "not all clean");
    hv_exit(status);
}

static bool word_is(const char *w, size_t n, const char *key, const char **val, size_t *vlen)
{
    size_t k = strlen(key);
    if (n < k || memcmp(w, key, k))
        return false;
    *val = w + k;
    *vlen = n - k;
    return true;
}

/* disk=xvdX:PATH[:ro] (docs/disk.md): a guest disk the tapdisk domain
 * serves, PATH absolute on its store.  Only checked here; the xenstore
 * domain gets the words in its boot list and writes the nodes. */
#define DISK_PATH_MAX 200
#define DISKS_MAX     4
static bool disk_word_ok(const char *v, size_t vl, char *err, size_t errlen)
{
    if (vl < 6 || memcmp(v, "xvd", 3) || v[3] < 'a' || v[3] > 'z' || v[4] != ':') {
        snprintf(err, errlen, "disk=%.*s: xvd[a-z]:PATH[:ro]", (int)MIN(vl, 64u), v);
        return false;
    }
    const char *path = v + 5;
    size_t pl = vl - 5;
    if (pl >= 3 && !memcmp(path + pl - 3, ":ro", 3))
        pl -= 3;
    if (pl == 0 || path[0] != '/' || pl > DISK_PATH_MAX) {
        snprintf(err, errlen, "disk=%.*s: the path must be absolute and at most %u characters",
                 (int)MIN(vl, 64u), v, DISK_PATH_MAX);
        return false;
    }
    for (size_t i = 0; i < pl; i++)
        if (path[i] == ':' || (unsigned char)path[i] < 0x21 || (unsigned char)path[i] > 0x7e) {
            snprintf(err, errlen, "disk=%.*s: a path of printable characters without ':'",
                     (int)MIN(vl, 64u), v);
            return false;
        }
    return true;
}

int parse_boot_config(const char *cmdline, struct boot_config *cfg,
                      char *err, size_t errlen)
{
    const char *p = cmdline;
    while (*p == ' ')
        p++;
    /* First word: the image's path; its basename is the default name. */
    const char *path = p;
    while (*p && *p != ' ')
        p++;
    const char *base = path;
    for (const char *q = path; q < p; q++)
        if (*q == '/')
            base = q + 1;
    size_t bl = (size_t)(p - base);
    if (bl > 4 && !memcmp(p - 4, ".elf", 4))
        bl -= 4;
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->name, base, MIN(bl, sizeof(cfg->name) - 1));
    if (!cfg->name[0])
        strlcpy(cfg->name, "domain", sizeof(cfg->name));
    cfg->mem = 4ULL << 20;
    cfg->vcpus = 1;
    while (*p == ' ')
        p++;
    cfg->guest_cmdline = p;
    unsigned disks = 0;

    while (*p) {
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        size_t n = (size_t)(p - w);
        const char *v;
        size_t vl;
        if (word_is(w, n, "name=", &v, &vl)) {
            if (vl == 0 || vl >= NAME_LEN) {
                snprintf(err, errlen, "name= must be 1 to %u characters", NAME_LEN - 1);
                return -1;
            }
            memset(cfg->name, 0, sizeof(cfg->name));
            memcpy(cfg->name, v, vl);
        } else if (word_is(w, n, "mem=", &v, &vl)) {
            if (!parse_size(v, vl, &cfg->mem) || cfg->mem < PAGE_SIZE) {
                snprintf(err, errlen, "bad mem= value '%.*s'", (int)vl, v);
                return -1;
            }
        } else if (word_is(w, n, "vcpus=", &v, &vl)) {
            uint64_t nv;
            if (!parse_size(v, vl, &nv) || nv < 1 || nv > MAX_VCPUS) {
                snprintf(err, errlen, "vcpus=%.*s: must be 1 to %u", (int)vl, v, MAX_VCPUS);
                return -1;
            }
            cfg->vcpus = (unsigned)nv;
        } else if (word_is(w, n, "weight=", &v, &vl)) {
            uint64_t x;
            if (!parse_size(v, vl, &x) || x < 1 || x > 65535) {
                snprintf(err, errlen, "weight=%.*s: must be 1 to 65535", (int)vl, v);
                return -1;
            }
            cfg->weight = (unsigned)x;
        } else if (word_is(w, n, "cap=", &v, &vl)) {
            uint64_t x;
            if (!parse_size(v, vl, &x) || x > 100 * NR_CPUS) {
                snprintf(err, errlen, "cap=%.*s: a percentage of one pCPU", (int)vl, v);
                return -1;
            }
            cfg->cap = (unsigned)x;
        } else if (word_is(w, n, "cpus=", &v, &vl)) {
            /* Hard affinity: CPU numbers and ranges, "0-3:5" (':' separates,
             * since ',' separates boot modules). */
            cpumask_t mask;
            cpumask_clear(&mask);
            size_t i = 0;
            while (i < vl) {
                uint64_t a = 0, b;
                size_t st = i;
                while (i < vl && v[i] >= '0' && v[i] <= '9')
                    a = a * 10 + (uint64_t)(v[i++] - '0');
                if (i == st || a >= NR_CPUS)
                    goto bad_cpus;
                b = a;
                if (i < vl && v[i] == '-') {
                    st = ++i;
                    b = 0;
                    while (i < vl && v[i] >= '0' && v[i] <= '9')
                        b = b * 10 + (uint64_t)(v[i++] - '0');
                    if (i == st || b >= NR_CPUS || b < a)
                        goto bad_cpus;
                }
                for (uint64_t c = a; c <= b; c++)
                    cpumask_set_cpu((unsigned)c, &mask);
                if (i < vl && v[i] != ':')
                    goto bad_cpus;
                i++;
            }
            if (cpumask_empty(&mask)) {
bad_cpus:
                snprintf(err, errlen, "cpus=%.*s: a list of CPUs like 0-3:5", (int)vl, v);
                return -1;
            }
            cfg->affinity = mask;
        } else if (word_is(w, n, "target=", &v, &vl)) {
            /* role=dm: the domain it serves, by id or by name (resolved
             * when first needed, so it may name a later module). */
            if (vl == 0 || vl >= NAME_LEN) {
                snprintf(err, errlen, "target= must be a domain id or a name of 1 to %u "
                         "characters", NAME_LEN - 1);
                return -1;
            }
            memset(cfg->target, 0, sizeof(cfg->target));
            memcpy(cfg->target, v, vl);
        } else if (word_is(w, n, "pci=", &v, &vl)) {
            /* A PCI device it owns (role=hardware; pci.c decides). */
            uint16_t bdf;
            if (!pci_parse_bdf(v, vl, &bdf)) {
                snprintf(err, errlen, "pci=%.*s: a device as BB:DD.F (hex bus and device, "
                         "function 0-7)", (int)vl, v);
                return -1;
            }
            if (cfg->nr_pci == PCI_MAX_ASSIGN) {
                snprintf(err, errlen, "more than %u pci= devices", PCI_MAX_ASSIGN);
                return -1;
            }
            for (unsigned k = 0; k < cfg->nr_pci; k++)
                if (cfg->pci[k] == bdf) {
                    snprintf(err, errlen, "pci=%.*s named twice", (int)vl, v);
                    return -1;
                }
            cfg->pci[cfg->nr_pci++] = bdf;
        } else if (word_is(w, n, "disk=", &v, &vl)) {
            if (!disk_word_ok(v, vl, err, errlen))
                return -1;
            if (++disks > DISKS_MAX) {
                snprintf(err, errlen, "more than %u disk= words", DISKS_MAX);
                return -1;
            }
        } else if (word_is(w, n, "type=", &v, &vl)) {
            if (vl == 2 && !memcmp(v, "pv", 2))
                cfg->type = GUEST_PV;
            else if (vl == 3 && !memcmp(v, "pvh", 3))
                cfg->type = GUEST_PVH;
            else if (vl == 3 && !memcmp(v, "hvm", 3)) {
                cfg->type = GUEST_PVH;   /* the same container, from firmware */
                cfg->firmware = true;
            } else {
                snprintf(err, errlen, "type=%.*s: pv, pvh or hvm", (int)MIN(vl, 16), v);
                return -1;
            }
        } else if (word_is(w, n, "restart=", &v, &vl)) {
            if (vl == 5 && !memcmp(v, "never", 5))
                cfg->restart = RESTART_NEVER;
            else if (vl == 5 && !memcmp(v, "crash", 5))
                cfg->restart = RESTART_CRASH;
            else if (vl == 6 && !memcmp(v, "always", 6))
                cfg->restart = RESTART_ALWAYS;
            else {
                snprintf(err, errlen, "restart=%.*s: never, crash or always", (int)vl, v);
                return -1;
            }
        } else if (word_is(w, n, "role=", &v, &vl)) {
            while (vl) {
                size_t l = 0;
                while (l < vl && v[l] != ',')
                    l++;
                if (l == 7 && !memcmp(v, "control", 7))
                    cfg->roles |= ROLE_CONTROL;
                else if (l == 8 && !memcmp(v, "xenstore", 8))
                    cfg->roles |= ROLE_XENSTORE;
                else if (l == 8 && !memcmp(v, "hardware", 8))
                    cfg->roles |= ROLE_HARDWARE;
                else if (l == 2 && !memcmp(v, "dm", 2))
                    cfg->roles |= ROLE_DM;
                else {
                    snprintf(err, errlen, "unknown role '%.*s'", (int)l, v);
                    return -1;
                }
                v += l;
                vl -= l;
                if (vl) {
                    v++;
                    vl--;
                }
            }
        }
        while (*p == ' ')
            p++;
    }
    if (cfg->target[0] && !(cfg->roles & ROLE_DM)) {
        snprintf(err, errlen, "target= is only for a domain with role=dm");
        return -1;
    }
    if (cfg->restart != RESTART_NEVER && (cfg->roles & ROLE_XENSTORE)) {
        snprintf(err, errlen, "restart= is not for the xenstore domain (the store "
                 "would be lost with it)");
        return -1;
    }
    return 0;
}

/*
 * vm_assist: the VMASST types Xen 4.17 lets a 64-bit PV guest enable or
 * disable (its PV64 mask); any other type is -EINVAL and, for a valid
 * type, any command but enable and disable -ENOSYS, as Xen.  Recorded in
 * d->vm_assist.  What each means on Keel:
 * - 4gb_segments, 4gb_segments_notify, pae_extended_cr3: no effect on a
 *   64-bit guest (as on Xen); pae_extended_cr3 adds
 *   XENFEAT_pae_pgdir_above_4gb to get_features, as Xen does;
 * - architectural_iopl: the I/O emulation's view of the kernel's ring
 *   (hv/pv/emulate.c); runstate_update_flag: the runstate area
 *   (common/vcpu.c); m2p_strict: the read-only M2P slot of user base
 *   tables (pv_ro_m2p_fill/zap, hv/pv/mm.c);
 * - writable_pagetables: a guest kernel's writes to its own L1 tables,
 *   mapped read-only, are emulated (pv_ptwr_fault, hv/pv/mm.c).
 */
long do_vm_assist(unsigned long cmd_arg, unsigned long type_arg, unsigned long a3,
                  unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct domain *d = current_domain();
    unsigned cmd = (unsigned)cmd_arg, type = (unsigned)type_arg;   /* Xen's types */
    if (type >= 64 || !(PV64_VM_ASSIST_MASK & (1UL << type)))
        return -XEN_EINVAL;
    switch (cmd) {
    case VMASST_CMD_enable:
        __atomic_fetch_or(&d->vm_assist, 1UL << type, __ATOMIC_ACQ_REL);
        return 0;
    case VMASST_CMD_disable:
        __atomic_fetch_and(&d->vm_assist, ~(1UL << type), __ATOMIC_ACQ_REL);
        return 0;
    default:
        return -XEN_ENOSYS;
    }
}
