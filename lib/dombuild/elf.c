/* ELF64 image validation and Xen ELF notes (<xen/elfnote.h>), in the
 * manner of Xen's libelf: every offset and size checked before use. */
#include "dombuild_elf.h"
#include <xen/xen.h>
#include <xen/elfnote.h>

/* ELF64 file structures (the ELF format, not Xen's ABI). */
struct elf64_ehdr {
    unsigned char ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
#define PT_LOAD 1
#define PT_NOTE 4
#define ET_EXEC 2
#define EM_X86_64 62

#define UNSET ((uint64_t)-1)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool in_guest_space(uint64_t start, uint64_t end)
{
    if (end < start)
        return false;
    if (end <= 0x0000800000000000ULL)
        return true;
    return start >= __HYPERVISOR_VIRT_END;
}

static uint64_t note_num(const uint8_t *desc, uint32_t sz, bool *ok)
{
    uint64_t v = 0;
    if (sz != 1 && sz != 2 && sz != 4 && sz != 8) {
        *ok = false;
        return 0;
    }
    for (uint32_t i = 0; i < sz; i++)
        v |= (uint64_t)desc[i] << (8 * i);
    *ok = true;
    return v;
}

static bool note_str(const uint8_t *desc, uint32_t sz, char *out, size_t outlen)
{
    size_t n = sz ? strnlen((const char *)desc, sz) : 0;
    if (sz == 0 || desc[sz - 1] != 0 || n >= outlen)
        return false;
    memcpy(out, desc, n + 1);
    return true;
}

/* Checks the FEATURES string: '!' marks a feature the kernel requires. */
static int check_features(const char *f, char *err, size_t errlen)
{
    while (*f) {
        const char *s = f;
        while (*f && *f != '|')
            f++;
        if (*s == '!')
            return fail(err, errlen, "image requires unsupported feature '%.*s'",
                        (int)(f - s - 1), s + 1);
        if (*f)
            f++;
    }
    return 0;
}

static int parse_notes(const uint8_t *p, uint64_t len, struct elf_image_info *in,
                       unsigned *nr_xen, uint64_t *virt_base, uint64_t *paddr_off,
                       uint64_t *entry, char *err, size_t errlen)
{
    uint64_t off = 0;
    while (off < len) {
        if (len - off < 12)
            return fail(err, errlen, "truncated ELF note header");
        uint32_t namesz, descsz, type;
        memcpy(&namesz, p + off, 4);
        memcpy(&descsz, p + off + 4, 4);
        memcpy(&type, p + off + 8, 4);
        uint64_t name_off = off + 12;
        uint64_t desc_off = name_off + DB_ROUNDUP((uint64_t)namesz, 4);
        uint64_t next = desc_off + DB_ROUNDUP((uint64_t)descsz, 4);
        if (desc_off > len || next > len || desc_off + descsz > len)
            return fail(err, errlen, "ELF note runs past its segment");
        off = next;
        if (namesz != 4 || memcmp(p + name_off, "Xen", 4))
            continue;
        (*nr_xen)++;
        const uint8_t *d = p + desc_off;
        bool ok = true;
        switch (type) {
        case XEN_ELFNOTE_ENTRY:
            *entry = note_num(d, descsz, &ok);
            break;
        case XEN_ELFNOTE_HYPERCALL_PAGE:
            in->hypercall_page = note_num(d, descsz, &ok);
            in->has_hypercall_page = ok;
            break;
        case XEN_ELFNOTE_VIRT_BASE:
            *virt_base = note_num(d, descsz, &ok);
            break;
        case XEN_ELFNOTE_PADDR_OFFSET:
            *paddr_off = note_num(d, descsz, &ok);
            break;
        case XEN_ELFNOTE_XEN_VERSION:
            ok = note_str(d, descsz, in->xen_version, sizeof(in->xen_version));
            break;
        case XEN_ELFNOTE_GUEST_OS:
            ok = note_str(d, descsz, in->guest_os, sizeof(in->guest_os));
            break;
        case XEN_ELFNOTE_LOADER:
            ok = note_str(d, descsz, in->loader, sizeof(in->loader));
            break;
        case XEN_ELFNOTE_FEATURES: {
            char f[256];
            ok = note_str(d, descsz, f, sizeof(f));
            if (ok && check_features(f, err, errlen))
                return -1;
            break;
        }
        default:
            break;               /* other notes are informational */
        }
        if (!ok)
            return fail(err, errlen, "malformed Xen ELF note type %u (size %u)",
                        type, descsz);
    }
    return 0;
}

int elf_parse(const void *img, size_t len, struct elf_image_info *in,
              char *err, size_t errlen)
{
    const uint8_t *p = img;
    struct elf64_ehdr eh;
    memset(in, 0, sizeof(*in));
    if (len < sizeof(eh))
        return fail(err, errlen, "truncated ELF header (%zu bytes)", len);
    memcpy(&eh, p, sizeof(eh));
    if (memcmp(eh.ident, "\177ELF", 4))
        return fail(err, errlen, "not an ELF file (bad magic)");
    if (eh.ident[4] != 2 || eh.ident[5] != 1 || eh.machine != EM_X86_64)
        return fail(err, errlen, "not a little-endian x86_64 ELF64 image");
    if (eh.type != ET_EXEC)
        return fail(err, errlen, "ELF type %u is not an executable", eh.type);
    if (eh.phentsize != sizeof(struct elf64_phdr) || eh.phnum == 0)
        return fail(err, errlen, "bad program header table (entry size %u, count %u)",
                    eh.phentsize, eh.phnum);
    if (eh.phoff > len || (uint64_t)eh.phnum * sizeof(struct elf64_phdr) > len - eh.phoff)
        return fail(err, errlen, "program headers run past the end of the image");

    uint64_t virt_base = UNSET, paddr_off = UNSET, entry = UNSET;
    uint64_t pstart = UNSET, pend = 0;
    unsigned nr_xen = 0;
    for (unsigned i = 0; i < eh.phnum; i++) {
        struct elf64_phdr ph;
        memcpy(&ph, p + eh.phoff + i * sizeof(ph), sizeof(ph));
        if (ph.type != PT_LOAD && ph.type != PT_NOTE)
            continue;
        if (ph.offset > len || ph.filesz > len - ph.offset)
            return fail(err, errlen, "segment %u: data runs past the end of the image", i);
        if (ph.type == PT_NOTE) {
            if (parse_notes(p + ph.offset, ph.filesz, in, &nr_xen, &virt_base,
                            &paddr_off, &entry, err, errlen))
                return -1;
            continue;
        }
        if (ph.memsz == 0)
            continue;
        if (ph.filesz > ph.memsz)
            return fail(err, errlen, "segment %u: file size larger than memory size", i);
        if (ph.paddr + ph.memsz < ph.paddr)
            return fail(err, errlen, "segment %u: address range wraps", i);
        if (in->nr_loads == ELF_MAX_LOADS)
            return fail(err, errlen, "more than %u loadable segments", ELF_MAX_LOADS);
        in->load[in->nr_loads++] = (struct elf_segment){
            .vaddr = ph.paddr, .memsz = ph.memsz, .offset = ph.offset, .filesz = ph.filesz,
            .writable = (ph.flags & 2) != 0 };
        pstart = DB_MIN(pstart, ph.paddr);
        pend = DB_MAX(pend, ph.paddr + ph.memsz);
    }
    if (in->nr_loads == 0)
        return fail(err, errlen, "no loadable segments");
    if (nr_xen == 0)
        return fail(err, errlen, "no Xen ELF notes (not a Xen PV image)");
    if (strcmp(in->xen_version, "xen-3.0"))
        return fail(err, errlen, "XEN_VERSION note is '%s', expected 'xen-3.0'",
                    in->xen_version[0] ? in->xen_version : "(missing)");
    if (strcmp(in->loader, "generic") && strcmp(in->guest_os, "linux"))
        return fail(err, errlen, "LOADER note is '%s', expected 'generic'",
                    in->loader[0] ? in->loader : "(missing)");

    /* Addresses as Xen's libelf computes them. */
    if (virt_base == UNSET)
        virt_base = 0;
    if (paddr_off == UNSET)
        paddr_off = 0;
    if (virt_base & (DB_PAGE_SIZE - 1))
        return fail(err, errlen, "VIRT_BASE %lx is not page-aligned", (unsigned long)virt_base);
    uint64_t virt_offset = virt_base - paddr_off;
    for (unsigned i = 0; i < in->nr_loads; i++)
        in->load[i].vaddr += virt_offset;
    in->vstart = pstart + virt_offset;
    in->vend = pend + virt_offset;
    if (in->vstart < virt_base)
        return fail(err, errlen, "image starts at %lx, below VIRT_BASE %lx",
                    (unsigned long)in->vstart, (unsigned long)virt_base);
    if (!in_guest_space(virt_base, in->vend) || in->vend < in->vstart)
        return fail(err, errlen, "image %lx-%lx overlaps the hypervisor's reserved range",
                    (unsigned long)in->vstart, (unsigned long)in->vend);
    in->virt_base = virt_base;
    in->paddr_offset = paddr_off;
    in->entry = entry != UNSET ? entry : eh.entry;
    if (in->entry < in->vstart || in->entry >= in->vend)
        return fail(err, errlen, "entry point %lx outside the image %lx-%lx",
                    (unsigned long)in->entry, (unsigned long)in->vstart,
                    (unsigned long)in->vend);
    if (in->has_hypercall_page &&
        ((in->hypercall_page & (DB_PAGE_SIZE - 1)) || in->hypercall_page < in->vstart ||
         in->hypercall_page + DB_PAGE_SIZE > in->vend))
        return fail(err, errlen, "HYPERCALL_PAGE %lx is not a page inside the image",
                    (unsigned long)in->hypercall_page);
    return 0;
}
