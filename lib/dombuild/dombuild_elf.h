/* ELF64 loading and Xen ELF-note parsing for the PV domain builder
 * (lib/dombuild: the hypervisor at boot, control domains at run time). */
#ifndef KEEL_DOMBUILD_ELF_H
#define KEEL_DOMBUILD_ELF_H
#include "dombuild_env.h"

#define ELF_MAX_LOADS 16

struct elf_segment {
    uint64_t vaddr, memsz;      /* guest virtual address and size */
    uint64_t offset, filesz;    /* data in the image */
    bool writable;              /* PF_W */
};

struct elf_image_info {
    uint64_t virt_base, paddr_offset, entry, hypercall_page;
    bool has_hypercall_page;
    uint64_t vstart, vend;      /* lowest and end of loaded virtual range */
    unsigned nr_loads;
    struct elf_segment load[ELF_MAX_LOADS];
    char guest_os[32], loader[32], xen_version[16];
};

/* Validates an image and its Xen notes; on failure returns -1 with a
 * message naming what is wrong in err. */
int elf_parse(const void *img, size_t len, struct elf_image_info *info,
              char *err, size_t errlen);

#endif
