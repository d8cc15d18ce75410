/* The boot domains: each boot module becomes one domain, built by the
 * shared domain builder (lib/dombuild, which draws the start-of-day
 * layout) on the hypervisor's direct map of the frames it allocates here.
 * Around it, what only the hypervisor does: domains from the same image
 * share its read-only pages, the xenstore domain is built last with the
 * list of the others as its boot module (xs_boot.c), and domains start
 * once all are built. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "dombuild.h"
#include "time.h"
#include "domain.h"
#include "pci.h"
#include "sched.h"
#include "hypercall.h"
#include "timer.h"
#include "boot.h"
#include "pv.h"
#include "hvm.h"
#include "event.h"
#include <xen/xen.h>
#include <xen/hvm/params.h>

extern uint64_t idle_cr3;

/*
 * Page sharing for density: domains booted from the same image share the
 * frames of its read-only segments (text, rodata), owned by OWNER_SHARED
 * and mapped read-only in each; a write faults into the guest like any
 * write to a read-only page.  Only an image that says it never writes
 * them (Keel's note KEEL_ELFNOTE_RO_SHAREABLE, which minios images carry)
 * is shared: any other gets Xen's layout, every page its own and
 * writable, so sharing is invisible.  An image's frames go back when the
 * last domain using them is destroyed.
 */
#define MAX_SHARED_IMAGES 32
struct shared_image {
    uint64_t key;
    uint64_t first_pfn, nr;      /* the shared pfns of the image */
    uint64_t *mfns;              /* hypervisor copy of their frames */
    unsigned order;
    unsigned users;
};
static struct shared_image shared_images[MAX_SHARED_IMAGES];
/* The shared images and their users: the builder (control lock) and the
 * reaper (its own) both change them. */
static spinlock_t images_lock = SPINLOCK_INIT("images", LOCK_ORDER_PAGE_ALLOC);
bool page_sharing = true;

static bool page_read_only(const struct elf_image_info *in, uint64_t va)
{
    bool covered = false;
    for (unsigned i = 0; i < in->nr_loads; i++) {
        const struct elf_segment *s = &in->load[i];
        if (va < s->vaddr + s->memsz && s->vaddr < va + PAGE_SIZE) {
            if (s->writable)
                return false;
            if (s->vaddr <= va && va + PAGE_SIZE <= s->vaddr + s->filesz)
                covered = true;
        }
    }
    return covered;
}

/* The run of read-only pages at the start of the image, and its key. */
static uint64_t ro_run(const struct elf_image_info *in, const uint8_t *img,
                       uint64_t *first, uint64_t *nr)
{
    uint64_t vb = in->virt_base, start = ROUNDDOWN(in->vstart, PAGE_SIZE);
    uint64_t n = 0;
    while (page_read_only(in, start + n * PAGE_SIZE))
        n++;
    *first = (start - vb) >> PAGE_SHIFT;
    *nr = n;
    uint64_t h = 0xcbf29ce484222325ULL ^ n ^ (start << 1);
    for (unsigned i = 0; i < in->nr_loads; i++) {
        const struct elf_segment *s = &in->load[i];
        if (s->writable)
            continue;
        for (uint64_t k = 0; k < s->filesz; k++)
            h = (h ^ img[s->offset + k]) * 0x100000001b3ULL;
    }
    return h;
}

void shared_image_put(int idx)
{
    struct shared_image *si = &shared_images[idx - 1];
    spin_lock(&images_lock);
    if (--si->users == 0) {
        for (uint64_t i = 0; i < si->nr; i++)
            put_page(si->mfns[i]);   /* the image's own reference */
        free_hv_pages(si->mfns, si->order);
        memset(si, 0, sizeof(*si));
    }
    spin_unlock(&images_lock);
}

/* Finds or makes the shared frames for image pages [first, first+nr). */
static int shared_image_get(const struct elf_image_info *in, const uint8_t *img,
                            uint64_t key, uint64_t first, uint64_t nr)
{
    int free_slot = -1;
    for (int i = 0; i < MAX_SHARED_IMAGES; i++) {
        struct shared_image *si = &shared_images[i];
        if (si->users && si->key == key && si->first_pfn == first && si->nr == nr) {
            si->users++;
            return i + 1;
        }
        if (!si->users && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return 0;
    struct shared_image *si = &shared_images[free_slot];
    unsigned order = 0;
    while (((uint64_t)PAGE_SIZE << order) < nr * 8)
        order++;
    si->mfns = alloc_hv_pages(order);
    if (!si->mfns)
        return 0;
    const uint64_t vb = in->virt_base;
    for (uint64_t i = 0; i < nr; i++) {
        int64_t mfn = alloc_pages(0, OWNER_SHARED);
        if (mfn < 0) {
            while (i--)
                put_page(si->mfns[i]);
            free_hv_pages(si->mfns, order);
            si->mfns = NULL;
            return 0;
        }
        si->mfns[i] = (uint64_t)mfn;
        frame_table[mfn].count = 1;
        frame_table[mfn].type_info = 0;
        frame_table[mfn].prev = (uint32_t)free_slot;   /* which image */
        memset(pfn_to_virt((uint64_t)mfn), 0, PAGE_SIZE);
        m2p[mfn] = first + i;
    }
    /* Contents: the read-only segments, and the hypercall page if there. */
    for (unsigned k = 0; k < in->nr_loads; k++) {
        const struct elf_segment *s = &in->load[k];
        if (s->writable)
            continue;
        for (uint64_t off = 0; off < s->filesz; ) {
            uint64_t va = s->vaddr + off, pfn = (va - vb) >> PAGE_SHIFT;
            uint64_t in_page = va & (PAGE_SIZE - 1);
            uint64_t n = MIN(PAGE_SIZE - in_page, s->filesz - off);
            if (pfn >= first && pfn < first + nr)
                memcpy((uint8_t *)pfn_to_virt(si->mfns[pfn - first]) + in_page,
                       img + s->offset + off, n);
            off += n;
        }
    }
    if (in->has_hypercall_page) {
        uint64_t hp = (in->hypercall_page - vb) >> PAGE_SHIFT;
        if (hp >= first && hp < first + nr)
            hypercall_page_fill(pfn_to_virt(si->mfns[hp - first]));
    }
    si->key = key;
    si->first_pfn = first;
    si->nr = nr;
    si->order = order;
    si->users = 1;
    return free_slot + 1;
}

/* The builder's view of the new domain's frames: the direct map. */
static void *hv_map(void *ctx, uint64_t pfn)
{
    return pfn_to_virt(((const uint64_t *)ctx)[pfn]);
}

static void hv_l4_slots(void *ctx, uint64_t *l4)
{
    (void)ctx;
    const uint64_t *idle_l4 = pfn_to_virt(idle_cr3 >> PAGE_SHIFT);
    for (unsigned s = HV_L4_FIRST_SLOT; s <= HV_L4_LAST_SLOT; s++)
        l4[s] = idle_l4[s];
}

static int hv_hypercall_page(void *ctx, uint64_t pfn)
{
    hypercall_page_fill(hv_map(ctx, pfn));
    return 0;
}

/* Builds d from image img; mod (mod_len bytes, may be NULL) becomes its
 * boot module, called mod_what in a refusal. */
static int build(struct domain *d, const struct elf_image_info *in, const uint8_t *img,
                 const char *cmdline, const void *mod, uint64_t mod_len,
                 const char *mod_what, char *err, size_t errlen)
{
    /* One at a time, under the control lock (build_boot_domains). */
    static struct vcpu_guest_context ctx;
    struct dombuild_layout l;
    uint64_t nr_pages = d->max_pages;
    if (dombuild_plan(in, nr_pages, mod_len, mod_what, &l, err, errlen))
        return -1;
    /* Keep some frames for the hypervisor's own needs. */
    if (nr_pages + 64 > free_page_count())
        return snprintf(err, errlen, "mem=%luK exceeds the free host memory (%luK)",
                        (unsigned long)(nr_pages * 4),
                        (unsigned long)(free_page_count() * 4)), -1;

    unsigned p2m_order = 0;
    while (((uint64_t)PAGE_SIZE << p2m_order) < nr_pages * 8)
        p2m_order++;
    uint64_t *p2m = alloc_hv_pages(p2m_order);
    if (!p2m)
        return snprintf(err, errlen, "no memory for the p2m of %lu pages",
                        (unsigned long)nr_pages), -1;
    int rc = -1;
    uint64_t sh_first = 0, sh_nr = 0;
    if (page_sharing && in->ro_shareable) {
        uint64_t key = ro_run(in, img, &sh_first, &sh_nr);
        if (sh_nr && sh_first + sh_nr <= nr_pages) {
            spin_lock(&images_lock);
            d->arch.pv.shared_image = shared_image_get(in, img, key, sh_first, sh_nr);
            spin_unlock(&images_lock);
        }
        if (!d->arch.pv.shared_image)
            sh_nr = 0;
    }
    const struct shared_image *shi = d->arch.pv.shared_image ? &shared_images[d->arch.pv.shared_image - 1] : NULL;
#define SHARED(pfn) (shi && (pfn) >= sh_first && (pfn) < sh_first + sh_nr)
    uint64_t got = domain_alloc_frames(d, p2m, nr_pages, sh_first, shi ? sh_nr : 0);
    if (got < nr_pages) {
        snprintf(err, errlen, "out of host memory after %lu of %lu pages", (unsigned long)got,
                 (unsigned long)nr_pages);
        goto out;
    }
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++)
        if (SHARED(pfn))
            p2m[pfn] = shi->mfns[pfn - sh_first];
    d->nr_pages = nr_pages;      /* pseudo-physical size, shared pages included */

    /* shared_info was made with the domain (domain_create); the event
     * channels and grants of the rings are xs_boot.c's, if there is a
     * xenstore domain. */
    const struct dombuild_args args = {
        .info = in, .image = img, .p2m = p2m, .mod = mod, .cmdline = cmdline,
        .shared_info_maddr = virt_to_pfn(d->shared_info) << PAGE_SHIFT,
        .ro_first = sh_first, .ro_nr = shi ? sh_nr : 0,
    };
    const struct dombuild_ops ops = {
        .ctx = p2m, .map = hv_map, .l4_slots = hv_l4_slots,
        .hypercall_page = hv_hypercall_page,
    };
    if (dombuild_build(&l, &args, &ops, &ctx, err, errlen))
        goto out;
    uint64_t l4mfn = p2m[dombuild_l4_pfn(&l)];
    d->arch.pv.cr3 = l4mfn << PAGE_SHIFT;
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++)
        if (!SHARED(pfn))
            m2p[p2m[pfn]] = pfn;
#undef SHARED
    /* Validate the bootstrap tables as the PV MMU would (every entry
     * checked, references taken) and pin the L4, as Xen's builder does;
     * then load vCPU 0 as DOMCTL_setvcpucontext would (it makes the L4
     * the base). */
    if (!get_page(l4mfn, d)) {
        snprintf(err, errlen, "bootstrap L4 not referenceable");
        goto out;
    }
    if (get_page_type(l4mfn, PGT_L4, d)) {
        put_page(l4mfn);
        snprintf(err, errlen, "bootstrap page tables failed validation");
        goto out;
    }
    frame_table[l4mfn].type_info |= PGT_PINNED;
    if (vcpu_set_context(d->vcpu[0], &ctx)) {
        snprintf(err, errlen, "the initial vCPU context was refused");
        goto out;
    }
    d->arch.pv.si_mfn = p2m[dombuild_si_pfn(&l)];
    if (mod_len)
        printk("d%u (%s): %s of %lu bytes at %s %lx\n", d->id, d->name, mod_what,
               (unsigned long)mod_len, l.mod_unmapped ? "pfn" : "virtual address",
               (unsigned long)(l.mod_unmapped ? l.mod_pfn
                               : l.virt_base + (l.mod_pfn << PAGE_SHIFT)));
    if (l.p2m_apart)
        printk("d%u (%s): p2m list mapped at INIT_P2M %lx: pfns %lx-%lx with its %lu tables\n",
               d->id, d->name, (unsigned long)l.p2m_va, (unsigned long)l.p2m_pfn,
               (unsigned long)(l.p2m_pt_pfn + l.p2m_nr_pt - 1), (unsigned long)l.p2m_nr_pt);
    rc = 0;
out:
    free_hv_pages(p2m, p2m_order);
    return rc;
}

static void start_domain(struct domain *d)
{
    struct vcpu *v0 = d->vcpu[0];
    v0->initialised = true;
    vcpu_bring_up(v0);
    if (d->arch.type == GUEST_PV)
        vcpu_restart_periodic(v0);
}

/* A boot domain the xenstore domain may be told of: a PV domain with its
 * start_info, or a PVH or HVM domain (its rings in HVM params, docs/hvm.md). */
static bool store_client(struct domain *d)
{
    if (d->arch.type == GUEST_PVH)
        return true;
    return d->arch.pv.si_mfn;
}

static void report_built(struct domain *d, const struct elf_image_info *in, uint64_t t0)
{
    uint64_t t1 = rdtsc();
    printk("d%u (%s): %luK, entry %lx, built in %lu TSC ticks\n", d->id, d->name,
           (unsigned long)(d->nr_pages * 4), (unsigned long)in->entry,
           (unsigned long)(t1 - t0));
    printk("bench: domain_build_tsc d%u=%lu\n", d->id, (unsigned long)(t1 - t0));
    static const char *const from[] = {
        [ELF_NOTES_PT_NOTE] = "PT_NOTE segments", [ELF_NOTES_SHT_NOTE] = "SHT_NOTE sections",
        [ELF_NOTES_XEN_GUEST] = "the __xen_guest section",
    };
    printk("d%u (%s): Xen notes from %s, features %#x (required %#x), "
           "read-only pages %s\n", d->id, d->name, from[in->notes_from],
           in->f_supported[0], in->f_required[0],
           d->arch.pv.shared_image ? "shared" : "own (not shared)");
}

/* What refuses a type=pvh module before its domain is made: no SVM with
 * nested paging (why, as svm.c found it), no PHYS32 entry, and what PVH
 * domains do not have yet (docs/hvm.md). */
static bool pvh_config_ok(const struct boot_config *cfg, const struct elf_image_info *in,
                          char *err, size_t errlen)
{
    if (!svm_usable)
        return snprintf(err, errlen, "type=pvh needs AMD SVM with nested paging: %s",
                        svm_missing), false;
    if (in->phys32_entry == ELF_UNSET)
        return snprintf(err, errlen, "type=pvh: the image has no XEN_ELFNOTE_PHYS32_ENTRY"),
               false;
    if (cfg->mem < PVH_MIN_MEM || cfg->mem > PVH_MAX_MEM)
        return snprintf(err, errlen, "type=pvh: mem=%luK: between 64K and %luM",
                        (unsigned long)(cfg->mem >> 10), (unsigned long)(PVH_MAX_MEM >> 20)),
               false;
    if (cfg->vcpus != 1)
        return snprintf(err, errlen, "type=pvh: one vCPU for now (vcpus=%u)", cfg->vcpus),
               false;
    if (cfg->roles || cfg->nr_pci)
        return snprintf(err, errlen, "type=pvh: no role= or pci= yet"), false;
    return true;
}

/* Each boot module's configuration, parsed once from its command line. */
struct module_config {
    struct boot_config cfg;
    int rc;                      /* 0, or -1 with the reason in err */
    bool ramdisk;                /* command line exactly "ramdisk" */
    char err[160];
};

/* A module whose command line is exactly "ramdisk" (after its path) is
 * the ramdisk of the domain module before it (docs/boot-config.md). */
static bool is_ramdisk(const char *cmdline)
{
    const char *p = cmdline;
    while (*p == ' ')
        p++;
    while (*p && *p != ' ')
        p++;
    while (*p == ' ')
        p++;
    return !strcmp(p, "ramdisk");
}

static struct module_config *parse_modules(unsigned *order)
{
    *order = 0;
    while (((uint64_t)PAGE_SIZE << *order) < nr_boot_modules * sizeof(struct module_config))
        (*order)++;
    struct module_config *mc = alloc_hv_pages(*order);
    if (!mc)
        panic("no memory for the configuration of %u boot modules", nr_boot_modules);
    for (unsigned m = 0; m < nr_boot_modules; m++) {
        mc[m].ramdisk = is_ramdisk(boot_modules[m].cmdline);
        if (!mc[m].ramdisk)
            mc[m].rc = parse_boot_config(boot_modules[m].cmdline, &mc[m].cfg, mc[m].err,
                                         sizeof(mc[m].err));
    }
    return mc;
}

/* The first module whose configuration has role=xenstore, or -1. */
static int find_xenstore_module(const struct module_config *mc)
{
    for (unsigned m = 0; m < nr_boot_modules; m++)
        if (!mc[m].rc && !mc[m].ramdisk && (mc[m].cfg.roles & ROLE_XENSTORE))
            return (int)m;
    return -1;
}

/*
 * The xenstore domain xs (created in module order) is built after all
 * the other boot domains: each is offered to it (xs_wire), then xs is
 * built with the list of them as its boot module.  If that fails, the
 * offers are withdrawn and xs is refused: the others run without it.
 */
static void build_xenstore(struct domain *xs, const struct boot_module *bm,
                           const struct boot_config *cfg, const struct elf_image_info *in)
{
    uint64_t t0 = rdtsc();
    char err[160];
    int rc = 0;
    for (unsigned id = 1; id < DOMID_FIRST_RESERVED && !rc; id++) {
        struct domain *d = domain_by_id(id);
        if (d && d != xs && store_client(d))
            rc = xs_wire(d, xs, err, sizeof(err));
    }
    size_t len = rc ? 0 : xs_boot_list(NULL, 0);
    unsigned order = 0;
    while (((uint64_t)PAGE_SIZE << order) < len)
        order++;
    void *list = len ? alloc_hv_pages(order) : NULL;
    if (len && !list)
        rc = (snprintf(err, sizeof(err), "no memory for the boot-domain list (%lu bytes)",
                       (unsigned long)len), -1);
    if (!rc) {
        xs_boot_list(list, len);
        rc = build(xs, in, VA(bm->start), cfg->guest_cmdline, list, len, "boot-domain list",
                   err, sizeof(err));
    }
    if (list)
        free_hv_pages(list, order);
    if (rc) {
        for (unsigned id = 1; id < DOMID_FIRST_RESERVED; id++) {
            struct domain *d = domain_by_id(id);
            if (d && d != xs)
                xs_unwire(d);
        }
        domain_destroy(xs);
        domain_note_refused(cfg->name, err);
        return;
    }
    report_built(xs, in, t0);
}

/*
 * restart= (docs/boot-config.md): a boot domain whose policy says so is
 * built again from its boot module (kept for it after boot, with its
 * ramdisk) once its last life is gone, with the same id, configuration
 * and devices, and connected to the xenstore domain as at boot: the same
 * store and console ports (a fresh domain allocates them in the same
 * order), held paused until the xenstore domain introduces it again
 * (it learns of it from VIRQ_DOM_EXC).  At most RESTART_MAX lives within
 * RESTART_WINDOW_NS; after that it stays dead.
 */
#define MAX_RESTART_SLOTS 16
#define RESTART_MAX 5
#define RESTART_WINDOW_NS 10000000000ull
static struct restart_slot {
    uint16_t id;
    uint16_t module;
    bool due;                    /* gone: to be built again */
    unsigned lives;              /* restarts so far */
    unsigned in_window;          /* restarts since window_ns */
    uint64_t window_ns;
} restart_slots[MAX_RESTART_SLOTS];
static unsigned nr_restart_slots;
static bool restart_any_due;

static void restart_slot_add(struct domain *d, unsigned m, bool ramdisk)
{
    if (nr_restart_slots == MAX_RESTART_SLOTS) {
        printk("d%u (%s): restart= ignored: at most %u boot domains may have it\n", d->id,
               d->name, MAX_RESTART_SLOTS);
        d->restart = RESTART_NEVER;
        return;
    }
    restart_slots[nr_restart_slots++] = (struct restart_slot){ .id = d->id, .module = (uint16_t)m };
    boot_modules[m].keep = true;
    if (ramdisk)
        boot_modules[m + 1].keep = true;
}

void domain_restart_queue(uint16_t id)
{
    for (unsigned i = 0; i < nr_restart_slots; i++)
        if (restart_slots[i].id == id) {
            __atomic_store_n(&restart_slots[i].due, true, __ATOMIC_RELEASE);
            __atomic_store_n(&restart_any_due, true, __ATOMIC_RELEASE);
            return;
        }
    domain_life_release();       /* no slot: nothing will build it */
}

bool restart_pending(void)
{
    return __atomic_load_n(&restart_any_due, __ATOMIC_ACQUIRE);
}

/* The live xenstore domain, with a reference, or NULL. */
static struct domain *xenstore_domain(void)
{
    for (unsigned id = 1; id < DOMID_FIRST_RESERVED; id++) {
        struct domain *d = domain_get(id);
        if (!d)
            continue;
        if ((d->roles & ROLE_XENSTORE) && !d->shutdown)
            return d;
        domain_put(d);
    }
    return NULL;
}

/* Builds slot's domain again (under the control lock); whether the
 * xenstore domain was given it. */
static bool restart_one(struct restart_slot *slot)
{
    const struct boot_module *bm = &boot_modules[slot->module];
    const struct boot_module *rd = slot->module + 1u < nr_boot_modules &&
                                   boot_modules[slot->module + 1].keep &&
                                   is_ramdisk(boot_modules[slot->module + 1].cmdline)
                                   ? &boot_modules[slot->module + 1] : NULL;
    struct boot_config cfg;
    struct elf_image_info info;
    char err[160];
    uint64_t t0 = rdtsc();
    uint64_t now = now_ns();
    if (!slot->in_window || now - slot->window_ns > RESTART_WINDOW_NS) {
        slot->window_ns = now;
        slot->in_window = 0;
    }
    if (slot->in_window == RESTART_MAX) {
        printk("d%u: restarted %u times within %lu s: not restarted again\n", slot->id,
               RESTART_MAX, (unsigned long)(RESTART_WINDOW_NS / 1000000000ull));
        return false;
    }
    slot->in_window++;
    /* Parsed and built once already: only memory can be short now. */
    if (parse_boot_config(bm->cmdline, &cfg, err, sizeof(err)) ||
        elf_parse(VA(bm->start), bm->end - bm->start, &info, err, sizeof(err))) {
        printk("d%u: cannot restart: %s\n", slot->id, err);
        return false;
    }
    cfg.domid = slot->id;
    struct domain *d = domain_create(&cfg);
    if (!d) {
        printk("d%u (%s): cannot restart: no memory for the domain\n", slot->id, cfg.name);
        return false;
    }
    d->boot_cmdline = cfg.guest_cmdline;
    int rc = 0;
    for (unsigned k = 0; k < cfg.nr_pci && !rc; k++)
        rc = pci_assign(d, cfg.pci[k], err, sizeof(err));
    if (!rc && cfg.type == GUEST_PVH) {
        /* Offered to the store below, as a PV domain. */
        rc = pvh_build(d, &info, VA(bm->start), cfg.guest_cmdline, rd ? VA(rd->start) : NULL,
                       rd ? rd->end - rd->start : 0, err, sizeof(err));
    } else if (!rc)
        rc = build(d, &info, VA(bm->start), cfg.guest_cmdline, rd ? VA(rd->start) : NULL,
                   rd ? rd->end - rd->start : 0, "ramdisk", err, sizeof(err));
    struct domain *xs = rc ? NULL : xenstore_domain();
    if (xs && xs_wire(d, xs, err, sizeof(err)))
        rc = -1;
    if (rc) {
        if (xs)
            domain_put(xs);
        domain_destroy(d);
        printk("d%u (%s): cannot restart: %s\n", slot->id, cfg.name, err);
        return false;
    }
    slot->lives++;
    if (d->arch.type == GUEST_PV)
        report_built(d, &info, t0);     /* pvh_build reported its own */
    printk("d%u (%s): restarted (restart=%s), life %u\n", d->id, d->name,
           cfg.restart == RESTART_ALWAYS ? "always" : "crash", slot->lives + 1);
    if (xs) {
        d->xs_held = true;
        sched_pause_domain(d);
        domain_put(xs);
    }
    start_domain(d);
    return xs != NULL;
}

/* The idle loop's: builds the domains whose restart is due, holding no
 * lock but the control lock, as the boot builder. */
void restart_domains(void)
{
    if (!__atomic_exchange_n(&restart_any_due, false, __ATOMIC_ACQ_REL))
        return;
    bool tell_xs = false;
    control_lock_acquire();
    for (unsigned i = 0; i < nr_restart_slots; i++)
        if (__atomic_exchange_n(&restart_slots[i].due, false, __ATOMIC_ACQ_REL)) {
            tell_xs |= restart_one(&restart_slots[i]);
            domain_life_release();   /* built (a live domain now) or given up */
        }
    control_lock_release();
    /* As for a death: the xenstore domain looks at the domains again and
     * introduces the new life. */
    if (tell_xs)
        send_global_virq_privileged(VIRQ_DOM_EXC);
}

/* Whether a role=dm boot module names d as its target (by name or id):
 * then d is held paused until that device model unpauses it (domctl.c),
 * as a toolstack starts an HVM guest once its device model is up. */
static bool dm_wanted(const struct module_config *mc, const struct domain *d)
{
    char id[8];
    snprintf(id, sizeof(id), "%u", d->id);
    for (unsigned k = 0; k < nr_boot_modules; k++)
        if (!mc[k].rc && !mc[k].ramdisk && (mc[k].cfg.roles & ROLE_DM) &&
            (!strcmp(mc[k].cfg.target, d->name) || !strcmp(mc[k].cfg.target, id)))
            return true;
    return false;
}

void build_boot_domains(void)
{
    uint64_t baseline = free_page_count();
    /* Other CPUs already run the domains we wake (a control domain among
     * them): build under the control lock, as a domctl would. */
    control_lock_acquire();
    /* With a xenstore domain, no boot domain starts before it is built. */
    unsigned mc_order;
    struct module_config *mc = parse_modules(&mc_order);
    int xs_m = find_xenstore_module(mc);
    struct domain *xs = NULL;
    struct boot_config xs_cfg;
    struct elf_image_info xs_info;
    for (unsigned m = 0; m < nr_boot_modules; m++) {
        struct boot_module *bm = &boot_modules[m];
        const struct boot_config cfg = mc[m].cfg;
        struct elf_image_info info;
        char err[160];
        uint64_t t0 = rdtsc();
        if (mc[m].ramdisk) {
            /* Taken with the module before it; alone it is refused. */
            if (m == 0 || mc[m - 1].ramdisk)
                domain_note_refused("ramdisk", "no domain module before it (a module "
                                    "'PATH ramdisk' is the ramdisk of the module before it)");
            continue;
        }
        const struct boot_module *rd = m + 1 < nr_boot_modules && mc[m + 1].ramdisk
                                       ? &boot_modules[m + 1] : NULL;
        if (mc[m].rc) {
            domain_note_refused(cfg.name[0] ? cfg.name : "?", mc[m].err);
            continue;
        }
        if (rd && (cfg.roles & ROLE_XENSTORE)) {
            domain_note_refused(cfg.name, "the xenstore domain's boot module is the "
                                "boot-domain list: it takes no ramdisk");
            continue;
        }
        if ((cfg.roles & ROLE_XENSTORE) && (int)m != xs_m) {
            snprintf(err, sizeof(err), "a second domain with role=xenstore ('%s' has it; "
                     "at most one)", mc[xs_m].cfg.name);
            domain_note_refused(cfg.name, err);
            continue;
        }
        if (cfg.firmware) {
            /* type=hvm: the module is a firmware image, not an ELF. */
            if (!hvm_fw_config_ok(cfg.mem, cfg.vcpus, bm->end - bm->start, err, sizeof(err))) {
                domain_note_refused(cfg.name, err);
                continue;
            }
            if (rd || cfg.roles || cfg.nr_pci || cfg.restart != RESTART_NEVER) {
                domain_note_refused(cfg.name, "type=hvm: no ramdisk, role=, pci= or restart= "
                                    "yet");
                continue;
            }
        } else if (elf_parse(VA(bm->start), bm->end - bm->start, &info, err, sizeof(err))) {
            domain_note_refused(cfg.name, err);
            continue;
        }
        if (cfg.type == GUEST_PVH && !cfg.firmware &&
            !pvh_config_ok(&cfg, &info, err, sizeof(err))) {
            domain_note_refused(cfg.name, err);
            continue;
        }
        struct domain *d = domain_create(&cfg);
        if (!d) {
            domain_note_refused(cfg.name, "cannot allocate the domain");
            continue;
        }
        d->boot_cmdline = cfg.guest_cmdline;
        bool pci_ok = true;
        for (unsigned k = 0; k < cfg.nr_pci && pci_ok; k++)
            if (pci_assign(d, cfg.pci[k], err, sizeof(err))) {
                domain_destroy(d);
                domain_note_refused(cfg.name, err);
                pci_ok = false;
            }
        if (!pci_ok)
            continue;
        if ((int)m == xs_m) {
            xs = d;              /* its id in module order; built last */
            xs_cfg = cfg;
            xs_info = info;
            continue;
        }
        if (cfg.type == GUEST_PVH) {
            /* Offered to the xenstore domain as a PV one is (docs/hvm.md);
             * a type=hvm one starts from its firmware. */
            if (cfg.firmware ? hvm_fw_build(d, VA(bm->start), bm->end - bm->start, err,
                                            sizeof(err))
                             : pvh_build(d, &info, VA(bm->start), cfg.guest_cmdline,
                                         rd ? VA(rd->start) : NULL, rd ? rd->end - rd->start : 0,
                                         err, sizeof(err))) {
                domain_destroy(d);
                domain_note_refused(cfg.name, err);
                continue;
            }
            if (cfg.restart != RESTART_NEVER)
                restart_slot_add(d, m, rd != NULL);
            if (dm_wanted(mc, d)) {
                d->dm_held = true;
                sched_pause_domain(d);
                printk("d%u (%s): held until its device model lets it run\n", d->id, d->name);
            }
            if (xs_m < 0)
                start_domain(d);
            continue;
        }
        if (build(d, &info, VA(bm->start), cfg.guest_cmdline, rd ? VA(rd->start) : NULL,
                  rd ? rd->end - rd->start : 0, "ramdisk", err, sizeof(err))) {
            domain_destroy(d);
            domain_note_refused(cfg.name, err);
            continue;
        }
        report_built(d, &info, t0);
        if (cfg.restart != RESTART_NEVER)
            restart_slot_add(d, m, rd != NULL);
        if (xs_m < 0)
            start_domain(d);
    }
    if (xs)
        build_xenstore(xs, &boot_modules[xs_m], &xs_cfg, &xs_info);
    /* As a toolstack does, the domains the xenstore domain was told of
     * stay paused until it has introduced them (it unpauses each; if it
     * dies first, domain.c lets them go). */
    if (xs_m >= 0)
        for (unsigned id = 1; id < DOMID_FIRST_RESERVED; id++) {
            struct domain *d = domain_by_id(id);
            if (d && store_client(d) && d->vcpu[0]->state == VCPU_OFFLINE) {
                if (xs && d != xs && xs_wired(d)) {
                    d->xs_held = true;
                    sched_pause_domain(d);
                }
                start_domain(d);
            }
        }
    /* A type=hvm domain no xenstore domain took keeps its ring pages but
     * is not told of them: a PV-on-HVM kernel finding a store page with
     * no channel would wait on it for ever (a PVH one is always told). */
    for (unsigned id = 1; id < DOMID_FIRST_RESERVED; id++) {
        struct domain *d = domain_by_id(id);
        if (d && d->arch.type == GUEST_PVH && d->arch.hvm.firmware && !xs_wired(d)) {
            d->arch.hvm.params[HVM_PARAM_STORE_PFN] = 0;
            d->arch.hvm.params[HVM_PARAM_CONSOLE_PFN] = 0;
        }
    }
    free_hv_pages(mc, mc_order);
    uint64_t shared = 0, used = baseline - free_page_count();
    for (int i = 0; i < MAX_SHARED_IMAGES; i++)
        if (shared_images[i].users)
            shared += shared_images[i].nr;
    printk("mm: domains built: %lu frames in use (%lu KiB), %lu of them shared image pages%s\n",
           (unsigned long)used, (unsigned long)(used * 4), (unsigned long)shared,
           page_sharing ? "" : " (sharing off)");
    uint64_t released = release_boot_modules();
    domains_set_baseline(baseline + released);
    __atomic_store_n(&domains_booted, true, __ATOMIC_RELEASE);
    control_lock_release();
}
