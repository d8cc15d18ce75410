/* The PV domain builder: one boot module becomes one domain, laid out by
 * the x86_64 PV start-of-day conventions of <xen/xen.h>:
 *
 *   virt_base +------------------------------+ pfn 0
 *             | kernel image (ELF PT_LOADs)  |
 *             | boot module (if any)         | mod_start, mod_len
 *             | p2m list (mfn_list)          |
 *             | start_info                   |
 *             | xenstore ring page           |
 *             | console ring page            |
 *             | bootstrap page tables (r/o)  | pt_base, nr_pt_frames
 *             | bootstrap stack              | rsp on entry
 *             | >= 512 KiB padding           |
 *   v_end     +------------------------------+ 4 MiB aligned (or nr_pages)
 *
 * The whole bootstrap region is mapped read-write except the page tables.
 * shared_info is a separate frame, given by machine address.  The only
 * boot module ("initrd") is the xenstore domain's list of boot domains
 * (xs_boot.c), placed as <xen/xen.h> places an initrd. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "pv_elf.h"
#include "time.h"
#include "domain.h"
#include "sched.h"
#include "hypercall.h"
#include "timer.h"
#include "pv.h"
#include <xen/xen.h>

struct boot_module { uint64_t start, end; const char *cmdline; };
extern struct boot_module boot_modules[];
extern unsigned nr_boot_modules;
extern uint64_t idle_cr3;
uint64_t release_boot_modules(void);

struct layout {
    uint64_t nr_pages;
    uint64_t kernel_end_pfn, mod_pfn, mod_pages, p2m_pfn, p2m_pages;
    uint64_t si_pfn, store_pfn, console_pfn;
    uint64_t pt_pfn, nr_pt, stack_pfn, map_pages;
};

static uint64_t span(uint64_t s, uint64_t e, unsigned shift)
{
    return ((e - 1) >> shift) - (s >> shift) + 1;
}

static uint64_t tables_for(uint64_t s, uint64_t e)
{
    return 1 + span(s, e, 39) + span(s, e, 30) + span(s, e, 21);
}

static int plan(const struct elf_image_info *in, uint64_t nr_pages, uint64_t mod_len,
                struct layout *l, char *err, size_t errlen)
{
    const uint64_t vb = in->virt_base;
    memset(l, 0, sizeof(*l));
    l->nr_pages = nr_pages;
    l->kernel_end_pfn = ROUNDUP(in->vend - vb, PAGE_SIZE) >> PAGE_SHIFT;
    l->mod_pfn = l->kernel_end_pfn;
    l->mod_pages = ROUNDUP(mod_len, PAGE_SIZE) >> PAGE_SHIFT;
    l->p2m_pfn = l->mod_pfn + l->mod_pages;
    l->p2m_pages = ROUNDUP(nr_pages * 8, PAGE_SIZE) >> PAGE_SHIFT;
    l->si_pfn = l->p2m_pfn + l->p2m_pages;
    l->store_pfn = l->si_pfn + 1;
    l->console_pfn = l->store_pfn + 1;
    l->pt_pfn = l->console_pfn + 1;
    for (int iter = 0; iter < 16; iter++) {
        l->stack_pfn = l->pt_pfn + l->nr_pt;
        uint64_t stack_end = vb + ((l->stack_pfn + 1) << PAGE_SHIFT);
        uint64_t v_end = ROUNDUP(stack_end, 4ULL << 20);
        if (v_end - stack_end < (512ULL << 10))
            v_end += 4ULL << 20;
        l->map_pages = MIN((v_end - vb) >> PAGE_SHIFT, nr_pages);
        uint64_t need = tables_for(vb, vb + (l->map_pages << PAGE_SHIFT));
        if (need == l->nr_pt)
            break;
        l->nr_pt = need;
    }
    if (l->stack_pfn + 1 > nr_pages && mod_len)
        return snprintf(err, errlen, "mem=%luK is too small: image, boot-domain list "
                        "(%lu bytes) and start-of-day structures need %luK",
                        (unsigned long)(nr_pages * 4), (unsigned long)mod_len,
                        (unsigned long)((l->stack_pfn + 1) * 4)), -1;
    if (l->stack_pfn + 1 > nr_pages)
        return snprintf(err, errlen, "mem=%luK is too small: image and start-of-day "
                        "structures need %luK", (unsigned long)(nr_pages * 4),
                        (unsigned long)((l->stack_pfn + 1) * 4)), -1;
    return 0;
}

/*
 * Page sharing for density: domains booted from the same image share the
 * frames of its read-only segments (text, rodata), owned by OWNER_SHARED
 * and mapped read-only in each; a write faults into the guest like any
 * write to a read-only page.  An image's frames go back when the last
 * domain using them is destroyed.
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
    if (--si->users)
        return;
    for (uint64_t i = 0; i < si->nr; i++)
        put_page(si->mfns[i]);   /* the image's own reference */
    free_hv_pages(si->mfns, si->order);
    memset(si, 0, sizeof(*si));
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

static void *guest_page(const uint64_t *p2m, uint64_t pfn)
{
    return pfn_to_virt(p2m[pfn]);
}

/* Maps guest virtual va -> mfn in the bootstrap tables (tables come from
 * consecutive pfns starting at *next_pt). */
static void map_page(const uint64_t *p2m, const struct layout *l, uint64_t *next_pt,
                     uint64_t va, uint64_t mfn, bool writable)
{
    uint64_t *t = guest_page(p2m, l->pt_pfn);
    const uint64_t tflags = PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
    for (int level = 3; level >= 1; level--) {
        unsigned idx = (va >> (12 + 9 * level)) & 511;
        if (!(t[idx] & PTE_P)) {
            if (*next_pt >= l->pt_pfn + l->nr_pt)
                panic("domain builder: page-table budget exceeded");
            t[idx] = (p2m[*next_pt] << PAGE_SHIFT) | tflags;
            (*next_pt)++;
        }
        t = pfn_to_virt((t[idx] & PTE_ADDR) >> PAGE_SHIFT);
    }
    t[(va >> 12) & 511] = (mfn << PAGE_SHIFT) | PTE_P | PTE_U | PTE_A | PTE_D |
                          (writable ? PTE_W : 0);
}

/* Builds d from image img; mod (mod_len bytes, may be NULL) becomes its
 * boot module. */
static int build(struct domain *d, const struct elf_image_info *in, const uint8_t *img,
                 const char *cmdline, const void *mod, uint64_t mod_len,
                 char *err, size_t errlen)
{
    struct layout l;
    const uint64_t vb = in->virt_base;
    uint64_t nr_pages = d->max_pages;
    if (plan(in, nr_pages, mod_len, &l, err, errlen))
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
    if (page_sharing) {
        uint64_t key = ro_run(in, img, &sh_first, &sh_nr);
        if (sh_nr && sh_first + sh_nr <= nr_pages)
            d->arch.pv.shared_image = shared_image_get(in, img, key, sh_first, sh_nr);
        if (!d->arch.pv.shared_image)
            sh_nr = 0;
    }
    const struct shared_image *shi = d->arch.pv.shared_image ? &shared_images[d->arch.pv.shared_image - 1] : NULL;
#define SHARED(pfn) (shi && (pfn) >= sh_first && (pfn) < sh_first + sh_nr)
    uint64_t private = 0;
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++) {
        if (SHARED(pfn)) {
            p2m[pfn] = shi->mfns[pfn - sh_first];
            continue;
        }
        private++;
        if (domain_alloc_page(d, &p2m[pfn])) {
            snprintf(err, errlen, "out of host memory after %lu of %lu pages",
                     (unsigned long)pfn, (unsigned long)nr_pages);
            goto out;
        }
    }
    d->nr_pages = nr_pages;      /* pseudo-physical size, shared pages included */
    (void)private;

    /* Kernel image (its shared pages are filled already). */
    for (unsigned i = 0; i < in->nr_loads; i++) {
        const struct elf_segment *s = &in->load[i];
        for (uint64_t off = 0; off < s->filesz; ) {
            uint64_t va = s->vaddr + off;
            uint64_t pfn = (va - vb) >> PAGE_SHIFT;
            uint64_t in_page = va & (PAGE_SIZE - 1);
            uint64_t n = MIN(PAGE_SIZE - in_page, s->filesz - off);
            if (!SHARED(pfn))
                memcpy((uint8_t *)guest_page(p2m, pfn) + in_page, img + s->offset + off, n);
            off += n;
        }
    }
    if (in->has_hypercall_page && !SHARED((in->hypercall_page - vb) >> PAGE_SHIFT))
        hypercall_page_fill(guest_page(p2m, (in->hypercall_page - vb) >> PAGE_SHIFT));

    /* The boot module, after the image (its pages are private). */
    for (uint64_t off = 0; off < mod_len; off += PAGE_SIZE)
        memcpy(guest_page(p2m, l.mod_pfn + off / PAGE_SIZE), (const uint8_t *)mod + off,
               MIN(PAGE_SIZE, mod_len - off));

    /* p2m list, in the guest's own pages. */
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++)
        ((uint64_t *)guest_page(p2m, l.p2m_pfn + pfn / 512))[pfn % 512] = p2m[pfn];

    /* shared_info was made with the domain (domain_create). */
    uint64_t si_mfn = virt_to_pfn(d->shared_info);

    /* Bootstrap page tables: L4 first, hypervisor slots shared. */
    uint64_t *l4 = guest_page(p2m, l.pt_pfn);
    const uint64_t *idle_l4 = pfn_to_virt(idle_cr3 >> PAGE_SHIFT);
    for (unsigned s = HV_L4_FIRST_SLOT; s <= HV_L4_LAST_SLOT; s++)
        l4[s] = idle_l4[s];
    uint64_t next_pt = l.pt_pfn + 1;
    for (uint64_t pfn = 0; pfn < l.map_pages; pfn++) {
        bool is_pt = pfn >= l.pt_pfn && pfn < l.pt_pfn + l.nr_pt;
        map_page(p2m, &l, &next_pt, vb + (pfn << PAGE_SHIFT), p2m[pfn], !is_pt && !SHARED(pfn));
    }
    d->arch.pv.cr3 = p2m[l.pt_pfn] << PAGE_SHIFT;
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++)
        if (!SHARED(pfn))
            m2p[p2m[pfn]] = pfn;
#undef SHARED
    /* Validate the bootstrap tables as the PV MMU would (every entry
     * checked, references taken), pin the L4 and make it vCPU 0's base,
     * as Xen's builder does. */
    uint64_t l4mfn = p2m[l.pt_pfn];
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
    if (pv_set_base(d->vcpu[0], l4mfn)) {
        snprintf(err, errlen, "cannot make the bootstrap L4 the base");
        goto out;
    }

    /* start_info. */
    start_info_t *si = guest_page(p2m, l.si_pfn);
    snprintf(si->magic, sizeof(si->magic), "xen-3.0-x86_64");
    si->nr_pages = nr_pages;
    si->shared_info = si_mfn << PAGE_SHIFT;
    si->flags = 0;
    si->mod_start = mod_len ? vb + (l.mod_pfn << PAGE_SHIFT) : 0;
    si->mod_len = mod_len;
    /* The rings start zeroed (their frames were allocated so); event
     * channels and grants for them are xs_boot.c's, if there is a
     * xenstore domain. */
    memset(guest_page(p2m, l.store_pfn), 0, PAGE_SIZE);
    memset(guest_page(p2m, l.console_pfn), 0, PAGE_SIZE);
    si->store_mfn = p2m[l.store_pfn];
    si->store_evtchn = 0;
    si->console.domU.mfn = p2m[l.console_pfn];
    si->console.domU.evtchn = 0;
    si->pt_base = vb + (l.pt_pfn << PAGE_SHIFT);
    si->nr_pt_frames = l.nr_pt;
    si->mfn_list = vb + (l.p2m_pfn << PAGE_SHIFT);
    strlcpy((char *)si->cmd_line, cmdline, sizeof(si->cmd_line));
    d->arch.pv.si_mfn = p2m[l.si_pfn];

    /* Initial registers. */
    struct cpu_user_regs *r = d->vcpu[0]->arch.regs;
    r->rip = in->entry;
    r->rsp = vb + ((l.stack_pfn + 1) << PAGE_SHIFT);
    r->rsi = vb + (l.si_pfn << PAGE_SHIFT);
    r->rflags = 0x202;
    r->cs = SEL_GUEST_CS64;
    r->ss = SEL_GUEST_DS;
    rc = 0;
out:
    free_hv_pages(p2m, p2m_order);
    return rc;
}

static void start_domain(struct domain *d)
{
    struct vcpu *v0 = d->vcpu[0];
    v0->initialised = true;
    v0->state = VCPU_BLOCKED;
    vcpu_wake(v0);
    v0->periodic_next = now_ns() + v0->periodic_period;
    vcpu_timer_update(v0);
}

static void report_built(struct domain *d, const struct elf_image_info *in, uint64_t t0)
{
    uint64_t t1 = rdtsc();
    printk("d%u (%s): %luK, entry %lx, built in %lu TSC ticks\n", d->id, d->name,
           (unsigned long)(d->nr_pages * 4), (unsigned long)in->entry,
           (unsigned long)(t1 - t0));
    printk("bench: domain_build_tsc d%u=%lu\n", d->id, (unsigned long)(t1 - t0));
}

/* The first module whose configuration has role=xenstore, or -1. */
static int find_xenstore_module(char *name, size_t len)
{
    for (unsigned m = 0; m < nr_boot_modules; m++) {
        struct boot_config cfg;
        char err[160];
        if (!parse_boot_config(boot_modules[m].cmdline, &cfg, err, sizeof(err)) &&
            (cfg.roles & ROLE_XENSTORE)) {
            strlcpy(name, cfg.name, len);
            return (int)m;
        }
    }
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
        if (d && d != xs && d->arch.pv.si_mfn)
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
        rc = build(xs, in, VA(bm->start), cfg->guest_cmdline, list, len, err, sizeof(err));
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

void build_boot_domains(void)
{
    uint64_t baseline = free_page_count();
    /* Other CPUs already run the domains we wake: build under the lock. */
    hv_lock_acquire();
    /* With a xenstore domain, no boot domain starts before it is built. */
    char xs_name[NAME_LEN];
    int xs_m = find_xenstore_module(xs_name, sizeof(xs_name));
    struct domain *xs = NULL;
    struct boot_config xs_cfg;
    struct elf_image_info xs_info;
    for (unsigned m = 0; m < nr_boot_modules; m++) {
        struct boot_module *bm = &boot_modules[m];
        struct boot_config cfg;
        struct elf_image_info info;
        char err[160];
        uint64_t t0 = rdtsc();
        if (parse_boot_config(bm->cmdline, &cfg, err, sizeof(err))) {
            domain_note_refused(cfg.name[0] ? cfg.name : "?", err);
            continue;
        }
        if ((cfg.roles & ROLE_XENSTORE) && (int)m != xs_m) {
            snprintf(err, sizeof(err), "a second domain with role=xenstore ('%s' has it; "
                     "at most one)", xs_name);
            domain_note_refused(cfg.name, err);
            continue;
        }
        if (elf_parse(VA(bm->start), bm->end - bm->start, &info, err, sizeof(err))) {
            domain_note_refused(cfg.name, err);
            continue;
        }
        struct domain *d = domain_create(&cfg);
        if (!d) {
            domain_note_refused(cfg.name, "cannot allocate the domain");
            continue;
        }
        if ((int)m == xs_m) {
            xs = d;              /* its id in module order; built last */
            xs_cfg = cfg;
            xs_info = info;
            continue;
        }
        if (build(d, &info, VA(bm->start), cfg.guest_cmdline, NULL, 0, err, sizeof(err))) {
            domain_destroy(d);
            domain_note_refused(cfg.name, err);
            continue;
        }
        report_built(d, &info, t0);
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
            if (d && d->arch.pv.si_mfn && !d->vcpu[0]->initialised) {
                if (xs && d != xs && xs_wired(d)) {
                    d->xs_held = true;
                    sched_pause_domain(d);
                }
                start_domain(d);
            }
        }
    uint64_t shared = 0, used = baseline - free_page_count();
    for (int i = 0; i < MAX_SHARED_IMAGES; i++)
        if (shared_images[i].users)
            shared += shared_images[i].nr;
    printk("mm: domains built: %lu frames in use (%lu KiB), %lu of them shared image pages%s\n",
           (unsigned long)used, (unsigned long)(used * 4), (unsigned long)shared,
           page_sharing ? "" : " (sharing off)");
    uint64_t released = release_boot_modules();
    domains_set_baseline(baseline + released);
    domains_booted = true;
    hv_lock_release();
}
