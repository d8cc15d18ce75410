/* The PV domain builder, one library for two users (in the spirit of
 * libxenguest's xc_dom_*): the hypervisor builds the boot domains with it
 * (hv/pv/dom_build.c), and a control domain links the same code through
 * minios to build a domain at run time (domctl and foreign mappings).
 *
 * It parses the image (elf.h), plans the start-of-day layout of
 * <xen/xen.h>, and writes the guest's memory: image, boot module, p2m
 * list, start_info, ring pages, bootstrap page tables; and it fills the
 * first vCPU's context.  Where memory comes from, how a guest frame is
 * reached, and who validates the tables are the environment's, through
 * struct dombuild_ops.
 *
 *   virt_base +------------------------------+ pfn 0
 *             | kernel image (ELF PT_LOADs)  |
 *             | boot module (if any, unless  | mod_start, mod_len
 *             |  the image has MOD_START_PFN)|
 *             | p2m list (mfn_list)          |
 *             | start_info                   |
 *             | xenstore ring page           |
 *             | console ring page            |
 *             | bootstrap page tables (r/o)  | pt_base, nr_pt_frames
 *             | bootstrap stack              | rsp on entry
 *             | >= 512 KiB padding           |
 *   v_end     +------------------------------+ 4 MiB aligned (or nr_pages)
 *             | boot module with the note     | mod_start = its pfn,
 *             |  MOD_START_PFN (not mapped)   | SIF_MOD_START_PFN
 *             | p2m list with the note        | mapped at INIT_P2M only:
 *             |  INIT_P2M, then the tables    | mfn_list, first_p2m_pfn,
 *             |  that map it there            | nr_p2m_frames
 *
 * The whole bootstrap region is mapped read-write except the page
 * tables (and pages the environment asks to keep read-only).
 * Tables are laid out by level: the L4, then the L3s, L2s and L1s, each
 * level in address order. */
#ifndef KEEL_DOMBUILD_H
#define KEEL_DOMBUILD_H
#include "dombuild_env.h"
#include "dombuild_elf.h"
#include <xen/xen.h>

/* Where everything goes, in pfns from virt_base (dombuild_plan). */
struct dombuild_layout {
    uint64_t virt_base, nr_pages, mod_len;
    uint64_t kernel_end_pfn, mod_pfn, mod_pages, p2m_pfn, p2m_pages;
    uint64_t si_pfn, store_pfn, console_pfn;
    uint64_t pt_pfn, nr_pt, stack_pfn, map_pages;
    bool mod_unmapped;           /* module after map_pages (MOD_START_PFN) */
    /* INIT_P2M honoured (as libxenguest for a domU: page aligned, below
     * virt_base): the p2m list is not in the bootstrap region but after
     * it (and after an unmapped module), at p2m_pfn, mapped at p2m_va by
     * p2m_nr_pt tables of its own from p2m_pt_pfn (those the bootstrap
     * tables do not provide; the L4 is the bootstrap one). */
    bool p2m_apart;
    uint64_t p2m_va, p2m_pt_pfn, p2m_nr_pt;
};

/* How the builder reaches the new domain's memory. */
struct dombuild_ops {
    void *ctx;
    /* A writable view of guest frame pfn, valid until the next call of
     * map or unmap (the builder never holds two). */
    void *(*map)(void *ctx, uint64_t pfn);
    /* Optional: the builder is done with the last view. */
    void (*unmap)(void *ctx);
    /* Optional: fills the hypervisor's slots of the new L4 (l4, already
     * mapped); at run time the hypervisor does it when it validates. */
    void (*l4_slots)(void *ctx, uint64_t *l4);
    /* Writes the hypercall page into guest frame pfn (the hypervisor's
     * own format); 0 or a negative error. */
    int (*hypercall_page)(void *ctx, uint64_t pfn);
};

/* What to build (all but the image read from the environment). */
struct dombuild_args {
    const struct elf_image_info *info;
    const void *image;             /* the ELF file */
    const uint64_t *p2m;           /* the mfn of each of nr_pages pfns */
    const void *mod;               /* boot module ("initrd"), or NULL */
    const char *cmdline;           /* start_info.cmd_line */
    uint64_t shared_info_maddr;    /* start_info.shared_info */
    uint32_t si_flags;             /* start_info.flags (SIF_*) */
    uint32_t store_evtchn, console_evtchn;
    /* Pages [ro_first, ro_first + ro_nr) hold the image's read-only run
     * already (shared between domains): not written, mapped read-only. */
    uint64_t ro_first, ro_nr;
};

/* Plans the layout of an image in nr_pages with a boot module of
 * mod_len bytes (mod_what names it in a refusal: "ramdisk", ...); -1 with
 * the reason in err if it does not fit. */
int dombuild_plan(const struct elf_image_info *in, uint64_t nr_pages, uint64_t mod_len,
                  const char *mod_what, struct dombuild_layout *l, char *err, size_t errlen);

/* Writes the new domain's memory as planned and fills ctx, its first
 * vCPU's initial context (rip = entry, rsp = top of the boot stack, rsi =
 * start_info, cr3 = the bootstrap L4).  The frames must be zeroed or
 * hold nothing the guest may see: pages the builder does not write are
 * not cleared.  0, or -1 with the reason in err. */
int dombuild_build(const struct dombuild_layout *l, const struct dombuild_args *a,
                   const struct dombuild_ops *ops, struct vcpu_guest_context *ctx,
                   char *err, size_t errlen);

/* The bootstrap L4's pfn and the start_info's, from the layout. */
static inline uint64_t dombuild_l4_pfn(const struct dombuild_layout *l) { return l->pt_pfn; }
static inline uint64_t dombuild_si_pfn(const struct dombuild_layout *l) { return l->si_pfn; }

#endif
