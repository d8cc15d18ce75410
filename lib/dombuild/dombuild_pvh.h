/* The PVH domain builder (docs/hvm.md, "PVH"), one library for two users
 * as dombuild.h is for PV: the hypervisor builds type=pvh boot domains
 * with it (hv/hvm/pvh_build.c) and a control domain builds a PVH domain
 * at run time through foreign mappings of its guest frames.  As Xen 4.17
 * starts a PVH domU (docs/misc/pvh.pandoc, libxenguest's xc_dom_hvmloader
 * and xc_dom_x86 for PVH):
 *
 *   gfn 0      +-------------------------------+
 *              | kernel (ELF PT_LOADs at their |
 *              |  physical addresses)          |
 *              | boot module (page aligned)    | modlist_paddr
 *              | ...                           |
 *   acpi_gpa   | ACPI tables (one page, ACPI)  | rsdp_paddr
 *   store_gfn  | xenstore ring    \            |
 *   console_gfn| console ring      > reserved  |
 *   si_gpa     | hvm_start_info   /            | EBX at entry
 *   nr_pages   +-------------------------------+
 *
 * The start info page holds the module list, the memory map and the
 * command line beside struct hvm_start_info.  vCPU 0 starts at the
 * image's XEN_ELFNOTE_PHYS32_ENTRY in 32-bit flat protected mode, paging
 * off, EBX the start info's address: the environment sets that state. */
#ifndef KEEL_DOMBUILD_PVH_H
#define KEEL_DOMBUILD_PVH_H
#include "dombuild.h"

struct dombuild_pvh_layout {
    uint64_t nr_pages;               /* RAM: guest frames 0..nr_pages-1 */
    uint64_t entry;                  /* PHYS32_ENTRY */
    uint64_t si_gpa, store_gfn, console_gfn, acpi_gpa;
    uint64_t mod_gpa, mod_len;
};

struct dombuild_pvh_args {
    const struct elf_image_info *info;
    const void *image;               /* the ELF file */
    const void *mod;                 /* boot module, or NULL */
    const char *cmdline;
    unsigned nr_vcpus;               /* processors in the MADT */
};

/* The largest command line the start info page holds, with its NUL. */
#define DOMBUILD_PVH_CMDLINE_MAX (DB_PAGE_SIZE - 256)

/* Plans an image with a boot module of mod_len bytes and a command line
 * of cmdline_len bytes in nr_pages of RAM; -1 with the reason in err
 * ("type=pvh: ...") if it does not fit. */
int dombuild_pvh_plan(const struct elf_image_info *in, uint64_t nr_pages, uint64_t mod_len,
                      size_t cmdline_len, struct dombuild_pvh_layout *l, char *err,
                      size_t errlen);
/* Writes the guest's memory as planned through ops->map (a guest frame
 * number): the segments, the module, the ACPI page, the start info page.
 * Frames it does not write must be zeroed.  0, or -1 with err. */
int dombuild_pvh_build(const struct dombuild_pvh_layout *l, const struct dombuild_pvh_args *a,
                       const struct dombuild_ops *ops, char *err, size_t errlen);
/* The ACPI tables (acpi.c) in page, which will be at guest address gpa:
 * the RSDP's address. */
uint64_t dombuild_pvh_acpi(uint8_t page[DB_PAGE_SIZE], uint64_t gpa, unsigned nr_vcpus);
#endif
