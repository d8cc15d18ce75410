/* Domain lifecycle: creation, frame ownership, shutdown and crash,
 * destruction, and the summary printed when the last domain is gone. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "event.h"
#include "timer.h"
#include "pv.h"
#include "time.h"
#include "grant.h"
#include "xsm.h"
#include "hypercall.h"
#include <xen/sched.h>

static struct domain *domain_list;
bool domains_booted;   /* the boot modules have all been built */
static struct domain *domain_table[DOMID_FIRST_RESERVED];

struct domain *domain_by_id(unsigned id)
{
    return id < DOMID_FIRST_RESERVED ? domain_table[id] : NULL;
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
    return nr_live;
}

static void add_summary(uint16_t id, const char *name, const char *what, bool clean)
{
    if (!clean)
        any_unclean = true;
    if (nr_summary == ARRAY_SIZE(summary))
        return;
    struct summary *s = &summary[nr_summary++];
    s->id = id;
    strlcpy(s->name, name, sizeof(s->name));
    strlcpy(s->what, what, sizeof(s->what));
    s->clean = clean;
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

struct domain *domain_create(const struct boot_config *cfg)
{
    BUILD_BUG_ON(sizeof(struct domain) > PAGE_SIZE);
    uint16_t id = cfg->domid;
    if (id) {
        if (id >= DOMID_FIRST_RESERVED || domain_table[id])
            return NULL;
    } else {
        while (next_domid < DOMID_FIRST_RESERVED && domain_table[next_domid])
            next_domid++;        /* skip ids that DOMCTL_createdomain chose */
        if (next_domid >= DOMID_FIRST_RESERVED)
            return NULL;
        id = next_domid++;
    }
    struct domain *d = alloc_hv_pages(0);
    if (!d)
        return NULL;
    d->id = id;
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
    d->event_lock = (spinlock_t)SPINLOCK_INIT("event", LOCK_ORDER_DOMAIN);
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
    d->next = domain_list;
    domain_list = d;
    domain_table[d->id] = d;
    nr_live++;
    return d;
}

/* A frame just allocated to d: zeroed, its allocation reference, on d's list. */
static void adopt_page(struct domain *d, uint64_t pfn)
{
    memset(pfn_to_virt(pfn), 0, PAGE_SIZE);
    struct page_info *pg = &frame_table[pfn];
    pg->count = 1;               /* the allocation's own reference */
    pg->type_info = 0;
    pg->prev = PFN_NONE;
    pg->next = d->page_list;
    if (d->page_list != PFN_NONE)
        frame_table[d->page_list].prev = (uint32_t)pfn;
    d->page_list = (uint32_t)pfn;
    d->page_count++;
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
    pg->type_info = PGT_WRITABLE | (1u << PGT_COUNT_SHIFT);
    pg->flags |= PGF_HV_SHARED;
    return 0;
}

/* Takes frame mfn off d's list (its last reference went). */
void domain_unlink_page(struct domain *d, uint64_t mfn)
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

/*
 * Destroying a domain, in steps that each stop after a time budget
 * (domain_destroy_step), so that the destruction of a large domain never
 * holds a pCPU or the hypervisor lock for long.  The phases:
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
 *   8  the vCPUs, a few per step (up to 8,192); then the domain leaves
 *      the list and the table, and its structure goes.
 * The frames of a dead domain keep their allocation reference until
 * phase 6, so the page list cannot change under the cursor before it.
 */
enum { DESTROY_TABLES = 1, DESTROY_PINS = 5, DESTROY_FRAMES = 6, DESTROY_DONE = 7,
       DESTROY_VCPUS = 8 };

static bool over_budget(uint64_t end)
{
    return end && rdtsc() > end;
}

/* Returns true when d is gone. */
static bool domain_destroy_step(struct domain *d, uint64_t end)
{
    if (d->destroy_phase == 0) {
        /* No pCPU handles a timer of its (dead) vCPUs from here on: the
         * handler raises VIRQs and writes vcpu_info. */
        domain_timers_kill(d);
        evtchn_destroy(d);
        grant_table_destroy(d);
        for (unsigned i = 0; i < d->nr_vcpus; i++)
            if (d->vcpu[i])
                vcpu_info_release(d->vcpu[i]);
        d->destroy_phase = DESTROY_TABLES;
        d->destroy_cursor = d->page_list;
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
        for (unsigned n = 0; d->page_list != PFN_NONE; n++) {
            uint32_t pfn = d->page_list;
            struct page_info *pg = &frame_table[pfn];
            if (pg->owner != d->id)
                panic("d%u: frame %x on its list is owned by %x", d->id, pfn, pg->owner);
            if (pg->flags & PGF_HV_SHARED) {
                pg->flags &= (uint8_t)~PGF_HV_SHARED;
                put_page_type(pfn);  /* the hypervisor's writable type */
            }
            if (pg->count == 1) {
                put_page(pfn);       /* unlinks and frees */
            } else {
                domain_unlink_page(d, pfn);
                pg->owner = OWNER_ORPHAN;
                put_page(pfn);
                d->destroy_orphans++;
            }
            if (!(n & 63) && over_budget(end))
                return false;
        }
        d->destroy_phase = DESTROY_DONE;
    }
    if (d->destroy_phase == DESTROY_DONE) {
        if (d->page_count != 0)
            panic("d%u: %lu frames unaccounted for", d->id, (unsigned long)d->page_count);
        if (d->destroy_orphans)
            printk("d%u: %lu frames still referenced by other domains\n", d->id,
                   (unsigned long)d->destroy_orphans);
        d->destroy_phase = DESTROY_VCPUS;
    }
    /* Its vCPUs (up to 8,192) go a few at a time, from the last: the
     * domain has fewer vCPUs each time, so whoever still finds it (a
     * domctl, the reaper) sees only live ones. */
    while (d->nr_vcpus) {
        struct vcpu *v = d->vcpu[d->nr_vcpus - 1];
        d->vcpu[d->nr_vcpus - 1] = NULL;
        d->nr_vcpus--;
        if (v)
            vcpu_free(v);
        if (!(d->nr_vcpus & 15) && over_budget(end))
            return false;
    }
    for (struct domain **pp = &domain_list; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    domain_table[d->id] = NULL;
    vcpu_array_free(d);
    free_hv_pages(d, 0);
    nr_live--;                   /* gone only once its last frame is back */
    return true;
}

/* At once (a boot domain that could not be built). */
void domain_destroy(struct domain *d)
{
    while (!domain_destroy_step(d, 0))
        ;
}

/* The dead domains (shut down, not yet destroyed), in the order they
 * died: only they are looked at after a context switch. */
static struct domain *dying_head, **dying_tail = &dying_head;

static void add_dying(struct domain *d)
{
    d->dying_next = NULL;
    *dying_tail = d;
    dying_tail = &d->dying_next;
}

static void mark_dead(struct domain *d)
{
    add_dying(d);
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
}

/* The xenstore domain is gone: the boot domains it had not let run yet
 * run without it. */
static void release_xs_holds(struct domain *xs)
{
    if (!(xs->roles & ROLE_XENSTORE))
        return;
    unsigned n = 0;
    for (struct domain *d = domain_list; d; d = d->next)
        if (d->xs_held) {
            d->xs_held = false;
            sched_unpause_domain(d);
            n++;
        }
    if (n)
        printk("d%u (%s) is gone: %u domains it had not introduced run without it\n",
               xs->id, xs->name, n);
}

void domain_shutdown(struct domain *d, unsigned reason)
{
    if (d->shutdown)
        return;
    d->shutdown = true;
    d->shutdown_reason = reason;
    mark_dead(d);
    const char *r = reason < ARRAY_SIZE(reason_names) ? reason_names[reason] : "?";
    printk("d%u (%s) shut down: %s\n", d->id, d->name, r);
    release_xs_holds(d);
    send_global_virq_privileged(VIRQ_DOM_EXC);
    add_summary(d->id, d->name, r, reason == SHUTDOWN_poweroff);
}

/* DOMCTL_destroydomain: the domain stops at once and is reaped like a
 * shut-down one (its frames return when no pCPU runs it any more). */
void domain_kill(struct domain *d)
{
    if (d->shutdown)
        return;
    d->shutdown = true;
    d->killed = true;
    d->shutdown_reason = SHUTDOWN_poweroff;
    mark_dead(d);
    printk("d%u (%s) destroyed by the control domain\n", d->id, d->name);
    release_xs_holds(d);
    send_global_virq_privileged(VIRQ_DOM_EXC);
    add_summary(d->id, d->name, "destroyed", true);
    domain_sleep_sync(d);        /* last use of d: it is reaped meanwhile */
}

void domain_crash(struct domain *d, const char *fmt, ...)
{
    if (d->shutdown)
        return;
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    d->shutdown = true;
    d->crashed = true;
    d->shutdown_reason = SHUTDOWN_crash;
    mark_dead(d);
    printk("d%u (%s) crashed: %s\n", d->id, d->name, buf);
    release_xs_holds(d);
    send_global_virq_privileged(VIRQ_DOM_EXC);
    add_summary(d->id, d->name, "crashed", false);
}

/* Raises a global VIRQ in every live domain with the control or xenstore
 * role (VIRQ_DOM_EXC: a domain shut down, crashed, or is gone). */
void send_global_virq_privileged(unsigned virq)
{
    for (struct domain *d = domain_list; d; d = d->next)
        if (!d->shutdown && (d->roles & (ROLE_CONTROL | ROLE_XENSTORE)))
            send_guest_global_virq(d, virq);
}

/*
 * Destroys shut-down domains none of whose vCPUs is on a pCPU, for at most
 * REAP_BUDGET_US; whether destruction work remains.  Called after context
 * switches and by idle pCPUs, which go on until it is done.
 */
#define REAP_BUDGET_US 100

/* Whether a dead domain waits to be reaped (a hint, read without the
 * hypervisor lock: reap_dead_domains takes it). */
bool reap_pending(void)
{
    return __atomic_load_n(&dying_head, __ATOMIC_RELAXED) != NULL;
}

bool reap_dead_domains(void)
{
    if (!dying_head)
        return false;
    uint64_t end = rdtsc() + REAP_BUDGET_US * tsc_khz / 1000;
    struct domain **pp = &dying_head;
    while (*pp) {
        struct domain *d = *pp;
        if (!domain_off_cpus(d)) {
            pp = &d->dying_next;
            continue;
        }
        struct domain *next = d->dying_next;
        if (!domain_destroy_step(d, end))
            return true;
        *pp = next;
        if (!next)
            dying_tail = pp;
        /* As Xen's domain_kill once the domain is dead: the xenstore
         * domain releases what it holds of a domain that is gone. */
        send_global_virq_privileged(VIRQ_DOM_EXC);
        if (rdtsc() > end)
            return dying_head != NULL;
    }
    return false;
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
 * - architectural_iopl, runstate_update_flag, m2p_strict: recorded; Keel
 *   has no physdev set_iopl, no runstate memory area and no guest user
 *   mode yet, which are what they change;
 * - writable_pagetables: a guest kernel's writes to its own L1 tables,
 *   mapped read-only, are emulated (pv_ptwr_fault, hv/pv/mm.c).
 */
#define PV64_VM_ASSIST_MASK ((1UL << VMASST_TYPE_4gb_segments) |        \
                             (1UL << VMASST_TYPE_4gb_segments_notify) | \
                             (1UL << VMASST_TYPE_writable_pagetables) | \
                             (1UL << VMASST_TYPE_pae_extended_cr3) |    \
                             (1UL << VMASST_TYPE_architectural_iopl) |  \
                             (1UL << VMASST_TYPE_runstate_update_flag) | \
                             (1UL << VMASST_TYPE_m2p_strict))

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
        d->vm_assist |= 1UL << type;
        return 0;
    case VMASST_CMD_disable:
        d->vm_assist &= ~(1UL << type);
        return 0;
    default:
        return -XEN_ENOSYS;
    }
}
