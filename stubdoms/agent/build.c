/* build.c: VM.start on minios: builds a domain from a kernel image
 * embedded in the agent (images.S), or an ELF file in /var/kernels on
 * its disk, with the shared builder (lib/dombuild),
 * as tests/rtbuild does: createdomain (the VM's uuid as its handle),
 * max_mem, populate_physmap, the builder writing through a one-page
 * foreign window, hypercall_init, setvcpucontext, unpause. */
#include "ctl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <minios/startinfo.h>
#include <xen/memory.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include "dombuild.h"
#include "ptwalk.h"
#include "agent.h"
#include "build.h"

extern const char hello_image[], hello_image_end[];
extern const char httpd_image[], httpd_image_end[];

static const struct { const char *name; const char *start, *end; } images[] = {
    { "hello", hello_image, hello_image_end },
    { "httpd", httpd_image, httpd_image_end },
};

const char *build_image_names = "hello, httpd";

int build_image_known(const char *name)
{
    for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
        if (!strcmp(images[i].name, name))
            return 1;
    return 0;
}

int build_kernel_path_ok(const char *name)
{
    size_t dl = strlen(BUILD_KERNEL_DIR);
    if (strncmp(name, BUILD_KERNEL_DIR, dl))
        return 0;
    const char *f = name + dl;
    size_t n = strlen(f);
    if (n < 1 || n > 40 || f[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = f[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* The kernel file path (build_kernel_path_ok) read whole into a buffer
 * the caller frees; NULL with the reason (naming the file). */
static char *read_kernel(const char *path, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errlen, "PV_kernel %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st)) {
        snprintf(err, errlen, "PV_kernel %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > BUILD_KERNEL_FILE_MAX) {
        snprintf(err, errlen, "PV_kernel %s: %s", path,
                 !S_ISREG(st.st_mode) ? "not a regular file" :
                 st.st_size <= 0 ? "empty" : "larger than 16 MiB");
        goto out;
    }
    size_t n = (size_t)st.st_size, have = 0;
    if (!(buf = malloc(n))) {
        snprintf(err, errlen, "PV_kernel %s: no memory for %zu bytes", path, n);
        goto out;
    }
    while (have < n) {
        ssize_t r = read(fd, buf + have, n - have);
        if (r <= 0) {
            snprintf(err, errlen, "PV_kernel %s: %s", path, r < 0 ? strerror(errno) : "short read");
            free(buf);
            buf = NULL;
            goto out;
        }
        have += (size_t)r;
    }
    *len = n;
out:
    close(fd);
    return buf;
}

/* The window: one page of ours that shows a frame of the domain built. */
static char window[4096] __attribute__((aligned(4096)));
static struct {
    domid_t dom;
    uint64_t shown, own;
    const xen_pfn_t *p2m;
    long err;
} view;

static long show(uint64_t mfn, domid_t dom)
{
    struct mmu_update u = { .ptr = l1e_maddr((unsigned long)window) | MMU_NORMAL_PT_UPDATE,
                            .val = mfn << 12 | 0x67 };
    long rc = mmu_update_foreign(&u, 1, dom);
    struct mmuext_op f = { .cmd = MMUEXT_INVLPG_LOCAL };
    f.arg1.linear_addr = (unsigned long)window;
    if (!rc)
        rc = HYPERVISOR_mmuext_op(&f, 1, NULL, DOMID_SELF);
    return rc;
}

static void *b_map(void *ctx, uint64_t pfn)
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

static void b_unmap(void *ctx)
{
    (void)ctx;
    if (view.shown) {
        long rc = show(view.own, DOMID_SELF);
        if (rc && !view.err)
            view.err = rc;
        view.shown = 0;
    }
}

static int b_hypercall_page(void *ctx, uint64_t pfn)
{
    (void)ctx;
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_hypercall_init, view.dom);
    op.u.hypercall_init.gmfn = view.p2m[pfn];
    return (int)do_domctl(&op);
}

static const struct dombuild_ops ops = {
    .map = b_map, .unmap = b_unmap, .hypercall_page = b_hypercall_page,
};

/* The store connection, as libxc's builder and xc_dom_gnttab_seed make
 * it: an unbound port of the new domain that the xenstore domain may bind,
 * and grant entry GNTTAB_RESERVED_XENSTORE of its table naming its store
 * ring frame for the xenstore domain (the xenstore stub maps rings by
 * that grant only, docs/xenstore.md); the same for the console ring, in
 * entry GNTTAB_RESERVED_CONSOLE (the xenstore stub is its backend).  The table's first frame is found
 * with setup_table on the domain (a control domain may) and written
 * through the window.  0 or a negative Xen errno. */
static long seed_store(domid_t d, domid_t xs, uint64_t ring_mfn, uint64_t console_mfn)
{
    if ((uint32_t)ring_mfn != ring_mfn || (uint32_t)console_mfn != console_mfn)
        return -XEN_EINVAL;
    xen_pfn_t frame = 0;
    struct gnttab_setup_table st = { .dom = d, .nr_frames = 1 };
    set_xen_guest_handle(st.frame_list, &frame);
    long rc = _hypercall3(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, &st, 1);
    if (rc)
        return rc;
    if (st.status != GNTST_okay || !frame)
        return -XEN_EINVAL;
    if ((rc = show(frame, d)))
        return rc;
    view.shown = frame;
    grant_entry_v1_t *e = (grant_entry_v1_t *)window + GNTTAB_RESERVED_XENSTORE;
    e->frame = (uint32_t)ring_mfn;
    e->domid = xs;
    __atomic_store_n(&e->flags, (uint16_t)GTF_permit_access, __ATOMIC_RELEASE);
    e = (grant_entry_v1_t *)window + GNTTAB_RESERVED_CONSOLE;
    e->frame = (uint32_t)console_mfn;
    e->domid = xs;
    __atomic_store_n(&e->flags, (uint16_t)GTF_permit_access, __ATOMIC_RELEASE);
    b_unmap(NULL);
    return view.err;
}

static xen_pfn_t p2m[BUILD_MAX_PAGES];
static struct vcpu_guest_context vctx;

static int build_image(const struct build_cfg *cfg, const char *img, const char *img_end,
                       struct build_out *out, char *err, size_t errlen);

int build_start(const struct build_cfg *cfg, struct build_out *out, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
        if (!strcmp(images[i].name, cfg->kernel))
            return build_image(cfg, images[i].start, images[i].end, out, err, errlen);
    if (!build_kernel_path_ok(cfg->kernel)) {
        snprintf(err, errlen, "bad configuration");
        return -1;
    }
    size_t len;
    char *img = read_kernel(cfg->kernel, &len, err, errlen);
    if (!img)
        return -1;
    int rc = build_image(cfg, img, img + len, out, err, errlen);
    free(img);                   /* the domain's frames hold what it needs */
    return rc;
}

static int build_image(const struct build_cfg *cfg, const char *img, const char *img_end,
                       struct build_out *out, char *err, size_t errlen)
{
    uint64_t nr_pages = cfg->mem_bytes / 4096;
    if (nr_pages == 0 || nr_pages > BUILD_MAX_PAGES || cfg->vcpus < 1 || cfg->vcpus > 32) {
        snprintf(err, errlen, "bad configuration");
        return -1;
    }
    if (!view.own)
        view.own = ((unsigned long *)minios_start_info->mfn_list)[(unsigned long)window >> 12];
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_createdomain, 0);
    op.u.createdomain.max_vcpus = cfg->vcpus;
    op.u.createdomain.max_evtchn_port = 1023;
    op.u.createdomain.grant_opts = XEN_DOMCTL_GRANT_version(1);
    memcpy(op.u.createdomain.handle, cfg->handle, 16);
    long rc = do_domctl(&op);
    if (rc) {
        snprintf(err, errlen, "createdomain: Xen errno %ld", -rc);
        return -1;
    }
    domid_t d = op.domain;
    const char *step = "max_mem";
    domctl_init(&op, XEN_DOMCTL_max_mem, d);
    op.u.max_mem.max_memkb = nr_pages * 4;
    if ((rc = do_domctl(&op)))
        goto fail_rc;
    struct elf_image_info info;
    struct dombuild_layout l;
    char berr[120];
    if (elf_parse(img, (size_t)(img_end - img), &info, berr, sizeof(berr)) ||
        dombuild_plan(&info, nr_pages, 0, NULL, &l, berr, sizeof(berr))) {
        snprintf(err, errlen, "%s: %s", cfg->kernel, berr);
        goto destroy;
    }
    for (uint64_t pfn = 0; pfn < nr_pages; pfn++)
        p2m[pfn] = pfn;
    struct xen_memory_reservation r = { .nr_extents = nr_pages, .domid = d };
    set_xen_guest_handle(r.extent_start, p2m);
    rc = _hypercall2(__HYPERVISOR_memory_op, XENMEM_populate_physmap, &r);
    if (rc != (long)nr_pages) {
        snprintf(err, errlen, "populate_physmap gave %ld of %llu frames", rc,
                 (unsigned long long)nr_pages);
        goto destroy;
    }
    struct xen_domctl_getdomaininfo di;
    step = "getdomaininfo";
    if ((rc = getdomaininfo(d, &di)))
        goto fail_rc;
    view.dom = d;
    view.p2m = p2m;
    view.err = 0;
    uint32_t store_port = 0, console_port = 0;
    if (cfg->store_domid >= 0) {
        struct evtchn_alloc_unbound au = { .dom = d, .remote_dom = (domid_t)cfg->store_domid };
        step = "evtchn_alloc_unbound";
        if ((rc = _hypercall2(__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, &au)))
            goto fail_rc;
        store_port = au.port;
        if ((rc = _hypercall2(__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, &au)))
            goto fail_rc;
        console_port = au.port;
    }
    struct dombuild_args a = {
        .info = &info, .image = img, .p2m = (const uint64_t *)p2m,
        .cmdline = cfg->args, .shared_info_maddr = (uint64_t)di.shared_info_frame << 12,
        .store_evtchn = store_port, .console_evtchn = console_port,
    };
    int brc = dombuild_build(&l, &a, &ops, &vctx, berr, sizeof(berr));
    b_unmap(NULL);
    if (brc || view.err) {
        snprintf(err, errlen, "build: %s", view.err ? "a foreign mapping failed" : berr);
        goto destroy;
    }
    if (cfg->store_domid >= 0) {
        step = "grant table seed";
        if ((rc = seed_store(d, (domid_t)cfg->store_domid, p2m[l.store_pfn],
                             p2m[l.console_pfn])))
            goto fail_rc;
        out->store_mfn = p2m[l.store_pfn];
        out->store_port = store_port;
        out->console_mfn = p2m[l.console_pfn];
        out->console_port = console_port;
    }
    step = "setvcpucontext";
    domctl_init(&op, XEN_DOMCTL_setvcpucontext, d);
    op.u.vcpucontext.vcpu = 0;
    set_xen_guest_handle(op.u.vcpucontext.ctxt, &vctx);
    if ((rc = do_domctl(&op)))
        goto fail_rc;
    /* Created paused once by its creator (as Xen): unpause unless asked
     * to start paused. */
    step = "unpausedomain";
    if (!cfg->paused && (rc = domctl_simple(XEN_DOMCTL_unpausedomain, d)))
        goto fail_rc;
    out->domid = d;
    return 0;
fail_rc:
    snprintf(err, errlen, "%s: Xen errno %ld", step, -rc);
destroy:
    domctl_simple(XEN_DOMCTL_destroydomain, d);
    return -1;
}
