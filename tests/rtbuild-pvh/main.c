/* Guest test: a control domain builds tests/pvh's ELF (embedded by
 * image.S) as a PVH domain at run time, as libxl and libxenguest build a
 * PVH domU, ROUNDS times in a row: createdomain (CDF_hvm|CDF_hap, the
 * LAPIC its only emulator), max_mem, populate_physmap of its guest
 * frames, the shared PVH builder (lib/dombuild/pvh.c) writing its memory
 * through foreign mappings by guest frame, the ring params, its vCPU's
 * start state by XEN_DOMCTL_sethvmcontext (HEADER, CPU, END), unpause.
 * Round 1 takes the HEADER from XEN_DOMCTL_gethvmcontext first, as
 * libxenguest's vcpu_hvm does, and reads the start state back.
 * The guest checks its start info, memory map and ACPI tables
 * (mode=quick) and powers off; the hypervisor reaps it.  Each round the
 * host's free frames are exactly as before the first: p2m tables, RAM,
 * VMCBs and all come back.  The first round also proves the refusals.
 *
 * Arguments: rounds=N (default 100), pvh_mem=KiB of each guest (4096). */
#include "../domctl/ctl.h"
#include <minios/startinfo.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <xen/memory.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/hvm/save.h>
#include "args.h"
#include "dombuild_pvh.h"
#include "ctlwin.h"
#include "report.h"

extern const char pvh_image[], pvh_image_end[];

#define MAX_PAGES 4096
#define CMDLINE "greeting=hi mode=quick"

/* A one-page window onto a guest frame of the new domain (mmu_update
 * with foreigndom: for a PVH domain the entry names a guest frame). */
static char window[4096] __attribute__((aligned(4096)));
static struct {
    domid_t dom;
    uint64_t shown;              /* gfn + 1 at the window, or 0: our own */
    uint64_t own;                /* our own frame behind the window */
    long err;
} view;

static long show(uint64_t frame, domid_t dom)
{
    return ctlwin_show(window, frame, 0x67, dom);   /* P W U A D */
}

static void *ctl_map(void *ctx, uint64_t gfn)
{
    (void)ctx;
    if (view.shown != gfn + 1) {
        long rc = show(gfn, view.dom);
        if (rc && !view.err)
            view.err = rc;
        view.shown = gfn + 1;
    }
    return window;
}

static void ctl_unmap(void *ctx)
{
    (void)ctx;
    if (view.shown) {
        long rc = show(view.own, DOMID_SELF);
        if (rc && !view.err)
            view.err = rc;
        view.shown = 0;
    }
}

static const struct dombuild_ops ctl_ops = { .map = ctl_map, .unmap = ctl_unmap };

static long set_param(domid_t d, uint32_t index, uint64_t value)
{
    struct xen_hvm_param p = { .domid = d, .index = index, .value = value };
    return _hypercall2(__HYPERVISOR_hvm_op, HVMOP_set_param, &p);
}

/* Xen's save format: HEADER, CPU for vCPU 0, END (as vcpu_hvm); every
 * part a multiple of 8 bytes, so the struct has no padding. */
static struct {
    struct hvm_save_descriptor hd;
    struct hvm_save_header h;
    struct hvm_save_descriptor cd;
    struct hvm_hw_cpu c;
    struct hvm_save_descriptor ed;
} rec;
_Static_assert(sizeof(rec) == 3 * sizeof(struct hvm_save_descriptor) +
               sizeof(struct hvm_save_header) + sizeof(struct hvm_hw_cpu), "padding");

/* As gethvmcontext gives it, and as libxenguest's vcpu_hvm sends it back:
 * HEADER, CPU, MTRR, END. */
static struct {
    struct hvm_save_descriptor hd;
    struct hvm_save_header h;
    struct hvm_save_descriptor cd;
    struct hvm_hw_cpu c;
    struct hvm_save_descriptor md;
    struct hvm_hw_mtrr m;
    struct hvm_save_descriptor ed;
} full;
_Static_assert(sizeof(full) == 4 * sizeof(struct hvm_save_descriptor) +
               sizeof(struct hvm_save_header) + sizeof(struct hvm_hw_cpu) +
               sizeof(struct hvm_hw_mtrr), "padding");

static void start_record(uint64_t entry, uint64_t si_gpa)
{
    memset(&rec, 0, sizeof(rec));
    rec.hd = (struct hvm_save_descriptor){ HVM_SAVE_CODE(HEADER), 0, sizeof(rec.h) };
    rec.h.magic = HVM_FILE_MAGIC;
    rec.h.version = HVM_FILE_VERSION;
    rec.cd = (struct hvm_save_descriptor){ HVM_SAVE_CODE(CPU), 0, sizeof(rec.c) };
    rec.ed = (struct hvm_save_descriptor){ HVM_SAVE_CODE(END), 0, 0 };
    struct hvm_hw_cpu *c = &rec.c;
    /* 32-bit flat protected mode, paging off (docs/misc/pvh.pandoc). */
    c->cr0 = 0x11;                                /* PE | ET */
    c->rip = entry;
    c->rbx = si_gpa;
    c->rflags = 2;
    c->dr6 = 0xffff0ff0;
    c->dr7 = 0x400;
    c->cs_sel = 0x08, c->ds_sel = c->es_sel = c->fs_sel = c->gs_sel = c->ss_sel = 0x10;
    c->tr_sel = 0x18;
    c->cs_limit = c->ds_limit = c->es_limit = c->fs_limit = c->gs_limit = c->ss_limit = ~0u;
    c->tr_limit = 0x67;
    c->cs_arbytes = 0xc9b;
    c->ds_arbytes = c->es_arbytes = c->fs_arbytes = c->gs_arbytes = c->ss_arbytes = 0xc93;
    c->tr_arbytes = 0x8b;
    c->ldtr_arbytes = 0x82, c->ldtr_limit = 0xffff;
}

static long set_context(domid_t d, const void *buf, uint32_t size)
{
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_sethvmcontext, d);
    op.u.hvmcontext.size = size;
    set_xen_guest_handle(op.u.hvmcontext.buffer, (uint8_t *)buf);
    return do_domctl(&op);
}

static long get_context(domid_t d, void *buf, uint32_t *size)
{
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_gethvmcontext, d);
    op.u.hvmcontext.size = *size;
    set_xen_guest_handle(op.u.hvmcontext.buffer, (uint8_t *)buf);
    long rc = do_domctl(&op);
    *size = op.u.hvmcontext.size;
    return rc;
}

#define CHECK(cond) CHECK_EQ(!!(cond), 1)

static uint8_t got[2 * sizeof(full)];

/* Round 1, as libxenguest's vcpu_hvm: the size of the whole context, the
 * context (HEADER, CPU, MTRR, END), and from it the HEADER and the MTRR
 * record (its default type made write-back, as vcpu_hvm does for PVH) for
 * the start state; the refusals around it. */
static void from_get(domid_t d)
{
    uint32_t size = 0;
    CHECK_EQ(get_context(d, NULL, &size), 0);
    CHECK_EQ(size, (uint32_t)sizeof(full));
    uint32_t small = size - 1;
    CHECK_EQ(get_context(d, got, &small), -XEN_ENOSPC);
    CHECK_EQ(small, size - 1);                                      /* as Xen: left */
    uint32_t n = sizeof(got);
    CHECK_EQ(get_context(self_domid(), got, &n), -XEN_EINVAL);     /* oneself, a PV domain */
    n = sizeof(got);
    CHECK_EQ(get_context(d, (void *)0x3ff00000UL, &n), -XEN_EFAULT);
    n = sizeof(got);
    memset(got, 0xa5, sizeof(got));
    CHECK_EQ(get_context(d, got, &n), 0);
    CHECK_EQ(n, size);
    memcpy(&full, got, sizeof(full));
    CHECK(full.hd.typecode == HVM_SAVE_CODE(HEADER) && full.hd.length == sizeof(full.h));
    CHECK(full.h.magic == HVM_FILE_MAGIC && full.h.version == HVM_FILE_VERSION &&
          full.h.cpuid != 0 && full.h.gtsc_khz != 0);
    CHECK(full.cd.typecode == HVM_SAVE_CODE(CPU) && full.cd.instance == 0 &&
          full.cd.length == sizeof(full.c));
    CHECK(full.md.typecode == HVM_SAVE_CODE(MTRR) && full.md.instance == 0 &&
          full.md.length == sizeof(full.m));
    CHECK(full.m.msr_mtrr_cap == 0x508 && full.m.msr_mtrr_def_type == 0 &&
          full.m.msr_pat_cr == 0x0007040600070406ULL);
    CHECK(full.ed.typecode == HVM_SAVE_CODE(END) && full.ed.length == 0);
    /* HEADER from here, our start CPU record, MTRR default WB enabled */
    rec.h = full.h;
    full.c = rec.c;
    full.m.msr_mtrr_def_type = 6 | (1u << 11);
    /* an MTRR record with a reserved type, or another MTRRCAP: refused */
    full.m.msr_mtrr_def_type = 2 | (1u << 11);
    CHECK_EQ(set_context(d, &full, sizeof(full)), -XEN_EINVAL);
    full.m.msr_mtrr_def_type = 6 | (1u << 11);
    full.m.msr_mtrr_cap = 0x50a;
    CHECK_EQ(set_context(d, &full, sizeof(full)), -XEN_EINVAL);
    full.m.msr_mtrr_cap = 0x508;
}

/* Round 1, after the start state is set: gethvmcontext gives it back. */
static void check_get(domid_t d, const struct dombuild_pvh_layout *l)
{
    uint32_t n = sizeof(got);
    CHECK_EQ(get_context(d, got, &n), 0);
    __typeof__(full) g;
    memcpy(&g, got, sizeof(g));
    const struct hvm_hw_cpu *c = &g.c;
    CHECK(c->rip == l->entry && c->rbx == l->si_gpa && c->cr0 == 0x11 && c->cr3 == 0 &&
          c->msr_efer == 0 && c->cs_sel == 0x08 && c->cs_arbytes == 0xc9b &&
          c->cs_limit == ~0u && c->tr_arbytes == 0x8b && c->dr7 == 0x400 &&
          (c->rflags & ~2ULL) == 0);
    CHECK(c->flags == 0 && c->tsc == 0 && c->pending_event == 0);   /* it has not run */
    CHECK(g.m.msr_mtrr_def_type == (6 | (1u << 11)));
    printf("gethvmcontext: the size, the context (HEADER, CPU, MTRR, END), the start state "
           "and MTRRs back; refusals\n");
}

static xen_pfn_t gfns[MAX_PAGES + 1];

/* What the builder may not do (round 1): each refused, nothing changed. */
static void refusals(domid_t d, const struct dombuild_pvh_layout *l)
{
    struct hvm_hw_cpu good = rec.c;
    /* No END, no HEADER first, a bad magic, a CPU record for a vCPU it
     * has not: -EINVAL. */
    CHECK_EQ(set_context(d, &rec, sizeof(rec) - sizeof(rec.ed)), -XEN_EINVAL);
    CHECK_EQ(set_context(d, &rec.ed, sizeof(rec.ed)), -XEN_EINVAL);
    CHECK_EQ(set_context(d, &rec.cd, sizeof(rec) - offsetof(__typeof__(rec), cd)), -XEN_EINVAL);
    rec.h.magic ^= 1;
    CHECK_EQ(set_context(d, &rec, sizeof(rec)), -XEN_EINVAL);
    rec.h.magic ^= 1;
    rec.cd.instance = 1;
    CHECK_EQ(set_context(d, &rec, sizeof(rec)), -XEN_EINVAL);
    rec.cd.instance = 0;
    /* States VMRUN would refuse: paging without protection, a reserved
     * RFLAGS bit, EFER.LMA without long mode, a 13-bit attribute. */
    rec.c.cr0 = 0x80000010;
    CHECK_EQ(set_context(d, &rec, sizeof(rec)), -XEN_EINVAL);
    rec.c = good;
    rec.c.rflags = 2 | (1u << 15);
    CHECK_EQ(set_context(d, &rec, sizeof(rec)), -XEN_EINVAL);
    rec.c = good;
    rec.c.msr_efer = 1u << 10;
    CHECK_EQ(set_context(d, &rec, sizeof(rec)), -XEN_EINVAL);
    rec.c = good;
    rec.c.cs_arbytes = 0x1c9b;
    CHECK_EQ(set_context(d, &rec, sizeof(rec)), -XEN_EINVAL);
    /* Saved state Keel cannot restore yet: -EOPNOTSUPP, not half loaded. */
    rec.c = good;
    rec.c.tsc = 12345;
    CHECK_EQ(set_context(d, &rec, sizeof(rec)), -XEN_EOPNOTSUPP);
    rec.c = good;
    rec.cd.typecode = 5;                         /* LAPIC */
    CHECK_EQ(set_context(d, &rec, sizeof(rec)), -XEN_EOPNOTSUPP);
    rec.cd.typecode = HVM_SAVE_CODE(MTRR);       /* an MTRR record of a CPU record's length */
    CHECK_EQ(set_context(d, &rec, sizeof(rec)), -XEN_EINVAL);
    rec.cd.typecode = HVM_SAVE_CODE(CPU);
    /* Ring params outside its RAM, or one the builder does not set. */
    CHECK_EQ(set_param(d, HVM_PARAM_STORE_PFN, l->nr_pages), -XEN_EINVAL);
    CHECK_EQ(set_param(d, HVM_PARAM_CALLBACK_IRQ, 0), -XEN_EPERM);
    /* populate_physmap past the end of its RAM (a hole): nothing done. */
    xen_pfn_t far = l->nr_pages + 16;
    struct xen_memory_reservation r = { .nr_extents = 1, .domid = d };
    set_xen_guest_handle(r.extent_start, &far);
    CHECK_EQ(_hypercall2(__HYPERVISOR_memory_op, XENMEM_populate_physmap, &r), 0);
    /* Our own (PV) domain has no HVM context. */
    CHECK_EQ(set_context(self_domid(), &rec, sizeof(rec)), -XEN_EINVAL);
}

static domid_t build_and_run(unsigned round, unsigned long mem_kb)
{
    char err[160];
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_createdomain, 0);
    op.u.createdomain.flags = XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap;
    uint64_t t0 = ctlwin_rdtsc();
    op.u.createdomain.max_vcpus = 1;
    op.u.createdomain.max_evtchn_port = 1023;
    op.u.createdomain.grant_opts = XEN_DOMCTL_GRANT_version(1);
    if (round == 0) {
        /* A full PC (all emulators) is the boot configuration's only;
         * HVM without HAP (shadow paging) does not exist. */
        op.u.createdomain.arch.emulation_flags = XEN_X86_EMU_ALL & ~XEN_X86_EMU_VPCI;
        CHECK_EQ(do_domctl(&op), -XEN_EOPNOTSUPP);
        op.u.createdomain.arch.emulation_flags = XEN_X86_EMU_LAPIC;
        op.u.createdomain.flags = XEN_DOMCTL_CDF_hvm;
        CHECK_EQ(do_domctl(&op), -XEN_EINVAL);
        /* One vCPU (the p2m's one writer), no xenstore role. */
        op.u.createdomain.flags = XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap;
        op.u.createdomain.max_vcpus = 2;
        CHECK_EQ(do_domctl(&op), -XEN_EINVAL);
        op.u.createdomain.max_vcpus = 1;
        op.u.createdomain.flags |= XEN_DOMCTL_CDF_xs_domain;
        CHECK_EQ(do_domctl(&op), -XEN_EOPNOTSUPP);
        op.u.createdomain.flags = XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap;
    }
    op.u.createdomain.arch.emulation_flags = XEN_X86_EMU_LAPIC;
    long rc = do_domctl(&op);
    if (rc) {
        test_fail("round %u: createdomain: %ld", round, rc);
        return 0;
    }
    domid_t d = op.domain;
    uint64_t nr_pages = mem_kb / 4;
    domctl_init(&op, XEN_DOMCTL_max_mem, d);
    op.u.max_mem.max_memkb = mem_kb;
    if ((rc = do_domctl(&op)))
        goto fail_rc;

    struct elf_image_info info;
    struct dombuild_pvh_layout l;
    if (elf_parse(pvh_image, (size_t)(pvh_image_end - pvh_image), &info, err, sizeof(err)) ||
        dombuild_pvh_plan(&info, nr_pages, 0, sizeof(CMDLINE) - 1, &l, err, sizeof(err))) {
        test_fail("round %u: %s", round, err);
        goto destroy;
    }
    if (round == 0) {
        /* No memory yet: no state to start from. */
        start_record(l.entry, l.si_gpa);
        CHECK_EQ(set_context(d, &rec, sizeof(rec)), -XEN_EINVAL);
    }

    /* Its RAM: guest frames 0..nr_pages-1, named by the caller.  The
     * first time one more than max_mem allows: exactly nr_pages come. */
    uint64_t ask = nr_pages + (round == 0);
    for (uint64_t gfn = 0; gfn < ask; gfn++)
        gfns[gfn] = gfn;
    struct xen_memory_reservation r = { .nr_extents = ask, .domid = d };
    set_xen_guest_handle(r.extent_start, gfns);
    rc = _hypercall2(__HYPERVISOR_memory_op, XENMEM_populate_physmap, &r);
    if (rc != (long)nr_pages || gfns[0] != 0 || gfns[nr_pages - 1] != nr_pages - 1) {
        test_fail("round %u: populate_physmap gave %ld of %lu frames", round, rc,
                  (unsigned long)nr_pages);
        goto destroy;
    }

    view.dom = d;
    view.err = 0;
    struct dombuild_pvh_args a = { .info = &info, .image = pvh_image, .cmdline = CMDLINE,
                                   .nr_vcpus = 1 };
    if (dombuild_pvh_build(&l, &a, &ctl_ops, err, sizeof(err)) || view.err) {
        test_fail("round %u: build: %s (window: %ld)", round, view.err ? "mapping failed" : err,
                  view.err);
        goto destroy;
    }
    if ((rc = set_param(d, HVM_PARAM_STORE_PFN, l.store_gfn)) ||
        (rc = set_param(d, HVM_PARAM_CONSOLE_PFN, l.console_gfn)))
        goto fail_rc;
    start_record(l.entry, l.si_gpa);
    if (round == 0) {
        refusals(d, &l);
        from_get(d);
        rc = set_context(d, &full, sizeof(full));     /* as libxenguest */
    } else {
        rc = set_context(d, &rec, sizeof(rec));
    }
    if (rc)
        goto fail_rc;
    if (round == 0) {
        check_get(d, &l);
        /* Its vCPU has a state now: its p2m and params are fixed. */
        xen_pfn_t next = nr_pages;
        struct xen_memory_reservation r1 = { .nr_extents = 1, .domid = d };
        set_xen_guest_handle(r1.extent_start, &next);
        CHECK_EQ(_hypercall2(__HYPERVISOR_memory_op, XENMEM_populate_physmap, &r1), 0);
        CHECK_EQ(set_param(d, HVM_PARAM_STORE_PFN, l.store_gfn), -XEN_EPERM);
    }
    if ((rc = domctl_simple(XEN_DOMCTL_unpausedomain, d)))
        goto fail_rc;
    /* The start of the run-time build figure (ci/bench.sh; the
     * hypervisor prints the end), printed now so that printing is not
     * in it.  Round 2's: round 1 also proves the refusals. */
    if (ctlwin_wait_gone(d)) {
        if (round == 1)
            printf("bench: create_request_tsc d%u=%llu\n", d, (unsigned long long)t0);
        return d;
    }
    test_fail("round %u: d%u never went away", round, d);
    return 0;
fail_rc:
    test_fail("round %u: d%u: hypercall failed: %ld", round, d, rc);
destroy:
    domctl_simple(XEN_DOMCTL_destroydomain, d);
    ctlwin_wait_gone(d);
    return 0;
}

int main(int argc, char **argv)
{
    const char *a = test_arg(argc, argv, "rounds");
    unsigned rounds = a ? (unsigned)strtoul(a, NULL, 0) : 100;
    a = test_arg(argc, argv, "pvh_mem");
    unsigned long mem_kb = a ? strtoul(a, NULL, 0) : 4096;
    if (mem_kb / 4 > MAX_PAGES || mem_kb % 4 || mem_kb < 64) {
        test_error("pvh_mem=%lu: 64 to %u KiB, in pages", mem_kb, MAX_PAGES * 4);
        return test_finish();
    }
    view.own = ((unsigned long *)minios_start_info->mfn_list)[(unsigned long)window >> 12];

    uint64_t host0 = ctlwin_host_free_pages();
    unsigned done = 0;
    for (unsigned i = 0; i < rounds; i++) {
        domid_t d = build_and_run(i, mem_kb);
        if (!d)
            break;
        done++;
        if (i == 0 || i + 1 == rounds)
            printf("round %u: d%u built as PVH from pvh-test's ELF, ran and is gone\n", i + 1, d);
        uint64_t host = ctlwin_host_free_pages();
        if (host != host0) {
            test_fail("round %u: host free pages %llu, before the first %llu", i + 1,
                      (unsigned long long)host, (unsigned long long)host0);
            break;
        }
    }
    if (done == rounds)
        printf("built and ran a PVH guest %u times, all frames returned (host free pages "
               "%llu)\n", done, (unsigned long long)host0);
    return test_finish();
}
