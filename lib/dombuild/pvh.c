/* The PVH domain builder (dombuild_pvh.h): the layout of
 * docs/misc/pvh.pandoc in a domain's RAM, and its writing through the
 * environment's view of a guest frame. */
#include "dombuild_pvh.h"
#include <xen/arch-x86/hvm/start_info.h>

/* In the start-info page. */
#define SI_MODLIST 64
#define SI_MEMMAP  128
#define SI_CMDLINE 256

int dombuild_pvh_plan(const struct elf_image_info *in, uint64_t nr_pages, uint64_t mod_len,
                      size_t cmdline_len, struct dombuild_pvh_layout *l, char *err,
                      size_t errlen)
{
    memset(l, 0, sizeof(*l));
    if (in->phys32_entry == ELF_UNSET)
        return snprintf(err, errlen, "type=pvh: the image has no XEN_ELFNOTE_PHYS32_ENTRY"), -1;
    if (nr_pages < 16)
        return snprintf(err, errlen, "type=pvh: %lu pages of RAM: at least 16",
                        (unsigned long)nr_pages), -1;
    if (cmdline_len >= DOMBUILD_PVH_CMDLINE_MAX)
        return snprintf(err, errlen, "type=pvh: command line of %lu bytes (at most %lu)",
                        (unsigned long)cmdline_len,
                        (unsigned long)DOMBUILD_PVH_CMDLINE_MAX - 1), -1;
    /* The special pages at the top of its RAM, reserved in its memory
     * map (as Xen's special pages are): the xenstore ring, the console
     * ring, the start info; below them the ACPI page, below that the
     * kernel and the module. */
    l->nr_pages = nr_pages;
    l->si_gpa = (nr_pages - 1) << DB_PAGE_SHIFT;
    l->store_gfn = nr_pages - 3;
    l->console_gfn = nr_pages - 2;
    l->acpi_gpa = (l->store_gfn - 1) << DB_PAGE_SHIFT;
    uint64_t virt_offset = in->virt_base - in->paddr_offset, kend = 0;
    for (unsigned i = 0; i < in->nr_loads; i++) {
        uint64_t pa = in->load[i].vaddr - virt_offset;
        if (pa >= l->acpi_gpa || in->load[i].memsz > l->acpi_gpa - pa)
            return snprintf(err, errlen, "type=pvh: segment %u at %lx-%lx does not fit in "
                            "its RAM below %lx", i, (unsigned long)pa,
                            (unsigned long)(pa + in->load[i].memsz),
                            (unsigned long)l->acpi_gpa), -1;
        kend = DB_MAX(kend, pa + in->load[i].memsz);
    }
    if (in->phys32_entry >= l->acpi_gpa)
        return snprintf(err, errlen, "type=pvh: PHYS32_ENTRY %lx outside its RAM",
                        (unsigned long)in->phys32_entry), -1;
    l->entry = in->phys32_entry;
    l->mod_gpa = DB_ROUNDUP(kend, DB_PAGE_SIZE);
    l->mod_len = mod_len;
    if (mod_len && (l->mod_gpa >= l->acpi_gpa || mod_len > l->acpi_gpa - l->mod_gpa))
        return snprintf(err, errlen, "type=pvh: ramdisk of %lu bytes does not fit above the "
                        "kernel in mem=%luK", (unsigned long)mod_len,
                        (unsigned long)(nr_pages * 4)), -1;
    return 0;
}

/* Copies len bytes to guest-physical gpa through the view. */
static void put_phys(const struct dombuild_ops *ops, uint64_t gpa, const void *src,
                     uint64_t len)
{
    const uint8_t *s = src;
    while (len) {
        uint64_t off = gpa & (DB_PAGE_SIZE - 1);
        uint64_t c = DB_MIN(len, DB_PAGE_SIZE - off);
        memcpy((uint8_t *)ops->map(ops->ctx, gpa >> DB_PAGE_SHIFT) + off, s, c);
        s += c;
        gpa += c;
        len -= c;
    }
}

int dombuild_pvh_build(const struct dombuild_pvh_layout *l, const struct dombuild_pvh_args *a,
                       const struct dombuild_ops *ops, char *err, size_t errlen)
{
    const struct elf_image_info *in = a->info;
    size_t cl = strnlen(a->cmdline, DOMBUILD_PVH_CMDLINE_MAX);
    if (cl >= DOMBUILD_PVH_CMDLINE_MAX || (l->mod_len && !a->mod))
        return snprintf(err, errlen, "type=pvh: arguments differ from the plan"), -1;
    uint64_t virt_offset = in->virt_base - in->paddr_offset;
    for (unsigned i = 0; i < in->nr_loads; i++) {
        const struct elf_segment *s = &in->load[i];
        put_phys(ops, s->vaddr - virt_offset, (const uint8_t *)a->image + s->offset, s->filesz);
    }
    struct hvm_start_info si = {
        .magic = XEN_HVM_START_MAGIC_VALUE,
        .version = 1,
        .cmdline_paddr = l->si_gpa + SI_CMDLINE,
        .memmap_paddr = l->si_gpa + SI_MEMMAP,
        .memmap_entries = 3,
    };
    uint64_t sp_gpa = l->store_gfn << DB_PAGE_SHIFT;
    struct hvm_memmap_table_entry mm[3] = {
        { .addr = 0, .size = l->acpi_gpa, .type = XEN_HVM_MEMMAP_TYPE_RAM },
        { .addr = l->acpi_gpa, .size = DB_PAGE_SIZE, .type = XEN_HVM_MEMMAP_TYPE_ACPI },
        { .addr = sp_gpa, .size = 3 * DB_PAGE_SIZE, .type = XEN_HVM_MEMMAP_TYPE_RESERVED },
    };
    if (l->mod_len) {
        struct hvm_modlist_entry me = { .paddr = l->mod_gpa, .size = l->mod_len };
        put_phys(ops, l->mod_gpa, a->mod, l->mod_len);
        put_phys(ops, l->si_gpa + SI_MODLIST, &me, sizeof(me));
        si.nr_modules = 1;
        si.modlist_paddr = l->si_gpa + SI_MODLIST;
    }
    si.rsdp_paddr = dombuild_pvh_acpi(ops->map(ops->ctx, l->acpi_gpa >> DB_PAGE_SHIFT),
                                      l->acpi_gpa, a->nr_vcpus);
    put_phys(ops, l->si_gpa, &si, sizeof(si));
    put_phys(ops, l->si_gpa + SI_MEMMAP, mm, sizeof(mm));
    put_phys(ops, l->si_gpa + SI_CMDLINE, a->cmdline, cl + 1);
    if (ops->unmap)
        ops->unmap(ops->ctx);
    return 0;
}
