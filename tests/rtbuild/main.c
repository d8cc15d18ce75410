/* Guest test: a control domain builds apps/hello (an ordinary minios ELF,
 * embedded in this image by image.S) at run time with the shared domain
 * builder (lib/dombuild), as a toolstack does, ROUNDS times in a row:
 * createdomain, max_mem, populate_physmap, the builder writing the new
 * domain's memory through a foreign mapping, hypercall_init,
 * setvcpucontext (the hypervisor validates the tables), unpause; hello
 * prints through console_io and powers off, and the hypervisor reaps it.
 * Afterwards the host's free frames and our own are exactly as before.
 *
 * Arguments: rounds=N (default 100), hello_mem=KiB of each hello (default
 * 2048). */
#include "../domctl/ctl.h"
#include <minios/startinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <xen/memory.h>
#include "args.h"
#include "dombuild.h"
#include "ctlwin.h"
#include "report.h"

extern const char hello_image[], hello_image_end[];

#define MAX_PAGES 4096

/* A one-page window in our own address space onto a frame of the new
 * domain (mmu_update with foreigndom, as libxc's foreign mappings). */
static char window[4096] __attribute__((aligned(4096)));
static struct {
    domid_t dom;
    uint64_t shown;              /* the mfn at the window, or 0: our own */
    uint64_t own;                /* our own frame behind the window */
    const xen_pfn_t *p2m;
    long err;
} view;

static long show(uint64_t mfn, domid_t dom)
{
    return ctlwin_show(window, mfn, 0x67, dom);   /* P W U A D */
}

static void *ctl_map(void *ctx, uint64_t pfn)
{
    (void)ctx;
    uint64_t mfn = view.p2m[pfn];
    if (view.shown != mfn) {
        long rc = show(mfn, view.dom);
        if (rc && !view.err)
            view.err = rc;
        view.shown = mfn;
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

/* The hypercall page is the hypervisor's to write (XEN_DOMCTL_hypercall_init). */
static int ctl_hypercall_page(void *ctx, uint64_t pfn)
{
    (void)ctx;
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_hypercall_init, view.dom);
    op.u.hypercall_init.gmfn = view.p2m[pfn];
    return (int)do_domctl(&op);
}

static const struct dombuild_ops ctl_ops = {
    .map = ctl_map, .unmap = ctl_unmap, .hypercall_page = ctl_hypercall_page,
};

static uint64_t own_pages(void)
{
    struct xen_domctl_getdomaininfo info;
    if (getdomaininfo(self_domid(), &info))
        return 0;
    return info.tot_pages;
}

static xen_pfn_t p2m[MAX_PAGES + 1];
static struct vcpu_guest_context ctx;

/* One run: build hello as a new domain, start it, wait until it is gone.
 * Returns its domain id, or 0 after reporting what failed. */
static domid_t build_and_run(unsigned round, unsigned long mem_kb, bool report)
{
    char err[160];
    uint64_t t0 = ctlwin_rdtsc();
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_createdomain, 0);
    op.u.createdomain.max_vcpus = 1;
    op.u.createdomain.max_evtchn_port = 1023;
    op.u.createdomain.grant_opts = XEN_DOMCTL_GRANT_version(1);
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

    /* The image, parsed from the ELF file every time, and its layout. */
    struct elf_image_info info;
    struct dombuild_layout l;
    if (elf_parse(hello_image, (size_t)(hello_image_end - hello_image), &info, err, sizeof(err)) ||
        dombuild_plan(&info, nr_pages, 0, NULL, &l, err, sizeof(err))) {
        test_fail("round %u: %s", round, err);
        goto destroy;
    }

    /* Its memory: pfns 0..nr_pages-1, the frames come back in p2m.  The
     * first time, one more than max_mem allows: exactly nr_pages come. */
    uint64_t ask = nr_pages + (round == 0);
    for (uint64_t pfn = 0; pfn < ask; pfn++)
        p2m[pfn] = pfn;
    struct xen_memory_reservation r = { .nr_extents = ask, .domid = d };
    set_xen_guest_handle(r.extent_start, p2m);
    rc = _hypercall2(__HYPERVISOR_memory_op, XENMEM_populate_physmap, &r);
    if (rc != (long)nr_pages) {
        test_fail("round %u: populate_physmap gave %ld of %lu frames", round, rc,
                  (unsigned long)nr_pages);
        goto destroy;
    }

    /* The builder writes it all through the window. */
    view.dom = d;
    view.p2m = p2m;
    view.err = 0;
    struct dombuild_args a = {
        .info = &info, .image = hello_image, .p2m = (const uint64_t *)p2m,
        .cmdline = "",
    };
    /* shared_info: the hypervisor's frame for d, which the guest maps by
     * this machine address; getdomaininfo tells it. */
    struct xen_domctl_getdomaininfo di;
    if ((rc = getdomaininfo(d, &di)))
        goto fail_rc;
    a.shared_info_maddr = (uint64_t)di.shared_info_frame << 12;
    if (dombuild_build(&l, &a, &ctl_ops, &ctx, err, sizeof(err)) || view.err) {
        test_fail("round %u: build: %s (window: %ld)", round, view.err ? "mapping failed" : err,
                  view.err);
        goto destroy;
    }
    domctl_init(&op, XEN_DOMCTL_setvcpucontext, d);
    op.u.vcpucontext.vcpu = 0;
    set_xen_guest_handle(op.u.vcpucontext.ctxt, &ctx);
    if (round == 0) {
        /* While we map one of its tables writable, the hypervisor cannot
         * validate them: refused. */
        ctl_map(NULL, dombuild_l4_pfn(&l) + 1);     /* its first L3 */
        CHECK_EQ(do_domctl(&op), -XEN_EINVAL);
        ctl_unmap(NULL);
        CHECK_EQ(view.err, 0);
    }
    if ((rc = do_domctl(&op)))
        goto fail_rc;
    if (round == 0) {
        /* hypercall_init writes only a frame of d's that is no page table. */
        struct xen_domctl h;
        domctl_init(&h, XEN_DOMCTL_hypercall_init, d);
        h.u.hypercall_init.gmfn = p2m[dombuild_l4_pfn(&l)];
        CHECK_EQ(do_domctl(&h), -XEN_EINVAL);
        h.u.hypercall_init.gmfn = view.own;
        CHECK_EQ(do_domctl(&h), -XEN_EINVAL);
    }
    if ((rc = domctl_simple(XEN_DOMCTL_unpausedomain, d)))
        goto fail_rc;

    /* It says hello and powers off; the hypervisor reaps it.  Then the
     * start of the run-time build figure (ci/bench.sh; the hypervisor
     * prints the end), printed now so that printing is not in it. */
    if (ctlwin_wait_gone(d)) {
        if (report)
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
    a = test_arg(argc, argv, "hello_mem");
    unsigned long mem_kb = a ? strtoul(a, NULL, 0) : 2048;
    if (mem_kb / 4 > MAX_PAGES || mem_kb % 4) {
        test_error("hello_mem=%lu: at most %u KiB, in pages", mem_kb, MAX_PAGES * 4);
        return test_finish();
    }
    view.own = ((unsigned long *)minios_start_info->mfn_list)[(unsigned long)window >> 12];

    uint64_t host0 = ctlwin_host_free_pages(), own0 = own_pages();
    unsigned done = 0;
    for (unsigned i = 0; i < rounds; i++) {
        domid_t d = build_and_run(i, mem_kb, i == 0 || i + 1 == rounds);
        if (!d)
            break;
        done++;
        if (i == 0 || i + 1 == rounds)
            printf("round %u: d%u built from hello's ELF, ran and is gone\n", i + 1, d);
        uint64_t host = ctlwin_host_free_pages();
        if (host != host0) {
            test_fail("round %u: host free pages %llu, before the first %llu", i + 1,
                      (unsigned long long)host, (unsigned long long)host0);
            break;
        }
    }
    uint64_t host1 = ctlwin_host_free_pages(), own1 = own_pages();
    if (host1 != host0 || own1 != own0)
        test_fail("after %u builds: host free pages %llu -> %llu, ours %llu -> %llu", done,
                  (unsigned long long)host0, (unsigned long long)host1,
                  (unsigned long long)own0, (unsigned long long)own1);
    else if (done == rounds)
        printf("built and ran hello %u times, all frames returned (host free pages %llu, "
               "ours %llu)\n", done, (unsigned long long)host1, (unsigned long long)own1);
    return test_finish();
}
