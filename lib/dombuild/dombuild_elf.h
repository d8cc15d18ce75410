/* ELF64 loading and Xen ELF-note parsing for the PV domain builder
 * (lib/dombuild: the hypervisor at boot, control domains at run time). */
#ifndef KEEL_DOMBUILD_ELF_H
#define KEEL_DOMBUILD_ELF_H
#include "dombuild_env.h"
#include <xen/features.h>

#define ELF_MAX_LOADS 16
#define ELF_UNSET     ((uint64_t)-1)

struct elf_segment {
    uint64_t vaddr, memsz;      /* guest virtual address and size */
    uint64_t offset, filesz;    /* data in the image */
    bool writable;              /* PF_W */
};

/* Where the Xen parameters were found, in the order Xen's libelf looks. */
enum elf_notes_source {
    ELF_NOTES_PT_NOTE = 1,      /* PT_NOTE segments */
    ELF_NOTES_SHT_NOTE,         /* SHT_NOTE sections (no Xen note in a segment) */
    ELF_NOTES_XEN_GUEST,        /* the legacy "__xen_guest" string section */
};

struct elf_image_info {
    uint64_t virt_base, paddr_offset, entry, hypercall_page;
    bool has_hypercall_page;
    uint64_t vstart, vend;      /* lowest and end of loaded virtual range */
    unsigned nr_loads;
    struct elf_segment load[ELF_MAX_LOADS];
    char guest_os[32], loader[32], xen_version[16];
    enum elf_notes_source notes_from;
    /* FEATURES and SUPPORTED_FEATURES, as XENFEAT_* bit maps. */
    uint32_t f_supported[XENFEAT_NR_SUBMAPS], f_required[XENFEAT_NR_SUBMAPS];
    /* Recorded notes (ELF_UNSET when absent); docs/abi.md says which the
     * builder acts on. */
    uint64_t init_p2m;          /* XEN_ELFNOTE_INIT_P2M */
    uint64_t hv_start_low;      /* XEN_ELFNOTE_HV_START_LOW (32-bit only) */
    bool mod_start_pfn;         /* XEN_ELFNOTE_MOD_START_PFN nonzero */
    bool suspend_cancel;        /* XEN_ELFNOTE_SUSPEND_CANCEL nonzero */
    bool l1_mfn_valid;          /* XEN_ELFNOTE_L1_MFN_VALID present */
    bool ro_shareable;          /* Keel's KEEL_ELFNOTE_RO_SHAREABLE */
    uint64_t phys32_entry;      /* XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry (ELF_UNSET) */
};

/* Validates an image and its Xen notes; on failure returns -1 with a
 * message naming what is wrong in err. */
int elf_parse(const void *img, size_t len, struct elf_image_info *info,
              char *err, size_t errlen);

/* The XENFEAT_* name Xen's libelf gives feature nr, or NULL. */
const char *elf_feature_name(unsigned nr);

#endif
