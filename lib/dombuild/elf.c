/* ELF64 image validation and Xen ELF notes (<xen/elfnote.h>), read as
 * Xen 4.17's libelf reads them (PT_NOTE segments, else SHT_NOTE sections,
 * else the legacy "__xen_guest" string), with every offset and size
 * checked before use.  docs/abi.md lists what is read and what is acted on. */
#include "dombuild_elf.h"
#include "keel_elfnote.h"
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
struct elf64_shdr {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
    uint32_t link, info;
    uint64_t addralign, entsize;
};
#define PT_LOAD 1
#define PT_NOTE 4
#define SHT_NOTE 7
#define ET_EXEC 2
#define EM_X86_64 62

#define UNSET ELF_UNSET
/* As libelf: at most this many notes in all. */
#define MAX_NOTES 65536

/* Features a required "!name" may ask for that Keel gives a 64-bit PV
 * guest: writable_page_tables (the guest enables
 * VMASST_TYPE_writable_pagetables, which Keel emulates) and
 * pae_pgdir_above_4gb (page tables may sit anywhere). */
#define KEEL_REQUIRABLE ((1u << XENFEAT_writable_page_tables) | \
                         (1u << XENFEAT_pae_pgdir_above_4gb))

/* The names libelf knows, in its table's order; others are not features
 * to it (ignored, refused only when required). */
static const char *const feature_names[] = {
    [XENFEAT_writable_page_tables]       = "writable_page_tables",
    [XENFEAT_writable_descriptor_tables] = "writable_descriptor_tables",
    [XENFEAT_auto_translated_physmap]    = "auto_translated_physmap",
    [XENFEAT_supervisor_mode_kernel]     = "supervisor_mode_kernel",
    [XENFEAT_pae_pgdir_above_4gb]        = "pae_pgdir_above_4gb",
    [XENFEAT_hvm_callback_vector]        = "hvm_callback_vector",
    [XENFEAT_dom0]                       = "dom0",
};
#define NR_FEATURE_NAMES (sizeof(feature_names) / sizeof(feature_names[0]))

const char *elf_feature_name(unsigned nr)
{
    return nr < NR_FEATURE_NAMES ? feature_names[nr] : NULL;
}

/* What the notes or __xen_guest say, before the addresses are worked out. */
struct parms {
    struct elf_image_info *in;
    uint64_t virt_base, paddr_off, entry, hypercall;
    bool bsd_symtab;
    unsigned nr_notes;
};

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

/* A string note: up to its first NUL or, as Linux writes FEATURES (the
 * string ends at the note padding), to the end of the descriptor.  Only
 * a string too long for out is refused. */
static bool note_str(const uint8_t *desc, uint32_t sz, char *out, size_t outlen)
{
    size_t n = strnlen((const char *)desc, sz);
    if (n >= outlen)
        return false;
    memcpy(out, desc, n);
    out[n] = 0;
    return true;
}

static int feature_index(const char *name, size_t len)
{
    for (unsigned i = 0; i < NR_FEATURE_NAMES; i++)
        if (feature_names[i] && strnlen(feature_names[i], 64) == len &&
            !memcmp(feature_names[i], name, len))
            return (int)i;
    return -1;
}

/* A FEATURES string of len bytes ("a|!b|c", '!' = required), as libelf
 * reads it: known names set their bit, unknown ones are ignored unless
 * required, which refuses the image. */
static int parse_features(const char *f, size_t len, struct elf_image_info *in,
                          char *err, size_t errlen)
{
    size_t pos = 0;
    while (pos < len && f[pos]) {
        size_t s = pos;
        while (pos < len && f[pos] && f[pos] != '|')
            pos++;
        const char *name = f + s;
        size_t n = pos - s;
        if (pos < len && f[pos] == '|')
            pos++;
        bool required = n && name[0] == '!';
        if (required)
            name++, n--;
        int i = feature_index(name, n);
        if (i < 0) {
            if (required)
                return fail(err, errlen, "image requires feature '%.*s', which Xen's "
                            "loader does not know", (int)DB_MIN(n, 64), name);
            continue;
        }
        in->f_supported[i / 32] |= 1u << (i % 32);
        if (required)
            in->f_required[i / 32] |= 1u << (i % 32);
    }
    return 0;
}

static int parse_xen_note(struct parms *pm, uint32_t type, const uint8_t *d, uint32_t descsz,
                          char *err, size_t errlen)
{
    struct elf_image_info *in = pm->in;
    bool ok = true;
    uint64_t v;
    char s[16];
    switch (type) {
    case XEN_ELFNOTE_ENTRY:
        pm->entry = note_num(d, descsz, &ok);
        break;
    case XEN_ELFNOTE_HYPERCALL_PAGE:
        pm->hypercall = note_num(d, descsz, &ok);
        break;
    case XEN_ELFNOTE_VIRT_BASE:
        pm->virt_base = note_num(d, descsz, &ok);
        break;
    case XEN_ELFNOTE_PADDR_OFFSET:
        pm->paddr_off = note_num(d, descsz, &ok);
        break;
    case XEN_ELFNOTE_INIT_P2M:
        in->init_p2m = note_num(d, descsz, &ok);
        break;
    case XEN_ELFNOTE_HV_START_LOW:
        in->hv_start_low = note_num(d, descsz, &ok);
        break;
    case XEN_ELFNOTE_MOD_START_PFN:
        in->mod_start_pfn = note_num(d, descsz, &ok) != 0;
        break;
    case XEN_ELFNOTE_SUSPEND_CANCEL:
        in->suspend_cancel = note_num(d, descsz, &ok) != 0;
        break;
    case XEN_ELFNOTE_PHYS32_ENTRY:
        in->phys32_entry = note_num(d, descsz, &ok);
        break;
    case XEN_ELFNOTE_L1_MFN_VALID:
        in->l1_mfn_valid = true;      /* only its presence is read */
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
    case XEN_ELFNOTE_BSD_SYMTAB:
        if (note_str(d, descsz, s, sizeof(s)) && !strcmp(s, "yes"))
            pm->bsd_symtab = true;
        break;
    case XEN_ELFNOTE_FEATURES:
        if (parse_features((const char *)d, descsz, in, err, errlen))
            return -1;
        break;
    case XEN_ELFNOTE_SUPPORTED_FEATURES:
        for (unsigned i = 0; i < XENFEAT_NR_SUBMAPS && (i + 1) * 4 <= descsz; i++) {
            v = note_num(d + i * 4, 4, &ok);
            in->f_supported[i] |= (uint32_t)v;
        }
        break;
    default:
        break;               /* GUEST_VERSION, PAE_MODE: not for a 64-bit domain */
    }
    if (!ok)
        return fail(err, errlen, "malformed Xen ELF note type %u (size %u)", type, descsz);
    return 0;
}

/* The notes in [p, p + len): Xen's are counted in *nr_xen. */
static int parse_notes(const uint8_t *p, uint64_t len, struct parms *pm, unsigned *nr_xen,
                       char *err, size_t errlen)
{
    uint64_t off = 0;
    while (off < len) {
        if (len - off < 12)
            return fail(err, errlen, "truncated ELF note header");
        if (++pm->nr_notes > MAX_NOTES)
            return fail(err, errlen, "more than %u ELF notes", MAX_NOTES);
        uint32_t namesz, descsz, type;
        memcpy(&namesz, p + off, 4);
        memcpy(&descsz, p + off + 4, 4);
        memcpy(&type, p + off + 8, 4);
        uint64_t name_off = off + 12;
        uint64_t desc_off = name_off + DB_ROUNDUP((uint64_t)namesz, 4);
        uint64_t next = desc_off + DB_ROUNDUP((uint64_t)descsz, 4);
        if (desc_off > len || next > len || desc_off + descsz > len)
            return fail(err, errlen, "ELF note runs past its segment or section");
        off = next;
        const uint8_t *d = p + desc_off;
        if (namesz == 5 && !memcmp(p + name_off, KEEL_ELFNOTE_NAME, 5)) {
            bool ok;
            if (type == KEEL_ELFNOTE_RO_SHAREABLE)
                pm->in->ro_shareable = note_num(d, descsz, &ok) != 0 && ok;
            continue;
        }
        if (namesz != 4 || memcmp(p + name_off, "Xen", 4))
            continue;
        (*nr_xen)++;
        if (parse_xen_note(pm, type, d, descsz, err, errlen))
            return -1;
    }
    return 0;
}

/* strtoull(s, NULL, 0) for the legacy string: 0x hex, 0 octal, decimal. */
static uint64_t parse_ull(const char *s)
{
    unsigned base = 10;
    uint64_t v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2;
    else if (s[0] == '0')
        base = 8;
    for (;; s++) {
        unsigned dgt;
        if (*s >= '0' && *s <= '9')
            dgt = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            dgt = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            dgt = (unsigned)(*s - 'A' + 10);
        else
            break;
        if (dgt >= base)
            break;
        v = v * base + dgt;
    }
    return v;
}

static void copy_str(char *dst, size_t dstlen, const char *src)
{
    size_t n = strnlen(src, dstlen - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* The legacy "__xen_guest" section: "KEY=VALUE,KEY=VALUE,...", up to its
 * NUL or the section's end, keys as libelf knows them. */
static int parse_xen_guest(const char *g, uint64_t len, struct parms *pm,
                           char *err, size_t errlen)
{
    struct elf_image_info *in = pm->in;
    uint64_t pos = 0;
    while (pos < len && g[pos]) {
        char name[32] = "", value[128] = "";
        size_t n = 0;
        while (pos < len && g[pos] && g[pos] != ',' && g[pos] != '=') {
            if (n < sizeof(name) - 1)
                name[n++] = g[pos];
            pos++;
        }
        if (pos < len && g[pos] == '=') {
            pos++;
            n = 0;
            while (pos < len && g[pos] && g[pos] != ',') {
                if (n < sizeof(value) - 1)
                    value[n++] = g[pos];
                pos++;
            }
        }
        if (pos < len && g[pos] == ',')
            pos++;
        if (!strcmp(name, "LOADER"))
            copy_str(in->loader, sizeof(in->loader), value);
        else if (!strcmp(name, "GUEST_OS"))
            copy_str(in->guest_os, sizeof(in->guest_os), value);
        else if (!strcmp(name, "XEN_VER"))
            copy_str(in->xen_version, sizeof(in->xen_version), value);
        else if (!strcmp(name, "BSD_SYMTAB"))
            pm->bsd_symtab = true;
        else if (!strcmp(name, "VIRT_BASE"))
            pm->virt_base = parse_ull(value);
        else if (!strcmp(name, "VIRT_ENTRY"))
            pm->entry = parse_ull(value);
        else if (!strcmp(name, "ELF_PADDR_OFFSET"))
            pm->paddr_off = parse_ull(value);
        else if (!strcmp(name, "HYPERCALL_PAGE"))
            pm->hypercall = parse_ull(value) << DB_PAGE_SHIFT;   /* a page number */
        else if (!strcmp(name, "FEATURES") &&
                 parse_features(value, sizeof(value), in, err, errlen))
            return -1;
    }
    /* The page number is relative to VIRT_BASE. */
    if (pm->virt_base != UNSET && pm->hypercall != UNSET)
        pm->hypercall += pm->virt_base;
    return 0;
}

/* Notes from SHT_NOTE sections, or failing those the __xen_guest string
 * (libelf's fallbacks when no PT_NOTE segment holds a Xen note). */
static int parse_sections(const uint8_t *p, size_t len, const struct elf64_ehdr *eh,
                          struct parms *pm, unsigned *nr_xen, char *err, size_t errlen)
{
    if (eh->shoff == 0 || eh->shnum == 0)
        return 0;
    if (eh->shentsize != sizeof(struct elf64_shdr))
        return fail(err, errlen, "bad section header table (entry size %u)", eh->shentsize);
    struct elf64_shdr sh;
    for (unsigned i = 1; i < eh->shnum; i++) {
        memcpy(&sh, p + eh->shoff + i * sizeof(sh), sizeof(sh));
        if (sh.type != SHT_NOTE)
            continue;
        if (sh.offset > len || sh.size > len - sh.offset)
            return fail(err, errlen, "section %u: notes run past the end of the image", i);
        if (parse_notes(p + sh.offset, sh.size, pm, nr_xen, err, errlen))
            return -1;
    }
    if (*nr_xen) {
        pm->in->notes_from = ELF_NOTES_SHT_NOTE;
        return 0;
    }
    /* __xen_guest, found by name in the section-name table. */
    if (eh->shstrndx == 0 || eh->shstrndx >= eh->shnum)
        return 0;
    struct elf64_shdr strs;
    memcpy(&strs, p + eh->shoff + eh->shstrndx * sizeof(strs), sizeof(strs));
    if (strs.offset > len || strs.size > len - strs.offset)
        return fail(err, errlen, "section-name table runs past the end of the image");
    static const char want[] = "__xen_guest";
    for (unsigned i = 1; i < eh->shnum; i++) {
        memcpy(&sh, p + eh->shoff + i * sizeof(sh), sizeof(sh));
        if (sh.name >= strs.size || strs.size - sh.name < sizeof(want) ||
            memcmp(p + strs.offset + sh.name, want, sizeof(want)))
            continue;
        if (sh.offset > len || sh.size > len - sh.offset)
            return fail(err, errlen, "section __xen_guest runs past the end of the image");
        pm->in->notes_from = ELF_NOTES_XEN_GUEST;
        return parse_xen_guest((const char *)p + sh.offset, sh.size, pm, err, errlen);
    }
    return 0;
}

/* Refuses a required feature Keel does not give, naming it. */
static int check_required(const struct elf_image_info *in, char *err, size_t errlen)
{
    for (unsigned i = 0; i < XENFEAT_NR_SUBMAPS * 32; i++) {
        if (!(in->f_required[i / 32] & (1u << (i % 32))))
            continue;
        if (i < 32 && (KEEL_REQUIRABLE & (1u << i)))
            continue;
        const char *name = elf_feature_name(i);
        return fail(err, errlen, "image requires feature '%s', which Keel does not "
                    "provide (XENFEAT %u)", name ? name : "?", i);
    }
    return 0;
}

int elf_parse(const void *img, size_t len, struct elf_image_info *in,
              char *err, size_t errlen)
{
    const uint8_t *p = img;
    struct elf64_ehdr eh;
    memset(in, 0, sizeof(*in));
    in->init_p2m = in->hv_start_low = in->phys32_entry = UNSET;
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

    /* As libelf, a section table past the end refuses the image even
     * when its sections are not needed. */
    if (eh.shoff && eh.shnum &&
        (eh.shoff > len || (uint64_t)eh.shnum * sizeof(struct elf64_shdr) > len - eh.shoff))
        return fail(err, errlen, "section headers run past the end of the image");

    struct parms pm = { .in = in, .virt_base = UNSET, .paddr_off = UNSET,
                        .entry = UNSET, .hypercall = UNSET };
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
            /* As libelf: some binutils leave a note segment's offset 0. */
            if (ph.offset && parse_notes(p + ph.offset, ph.filesz, &pm, &nr_xen, err, errlen))
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
    if (nr_xen)
        in->notes_from = ELF_NOTES_PT_NOTE;
    else if (parse_sections(p, len, &eh, &pm, &nr_xen, err, errlen))
        return -1;
    if (in->nr_loads == 0)
        return fail(err, errlen, "no loadable segments");
    if (!in->notes_from)
        return fail(err, errlen, "no Xen ELF notes and no __xen_guest section "
                    "(not a Xen PV image)");
    /* The content checks of libelf, prefixes as it compares them. */
    if (strncmp(in->loader, "generic", 7) && strncmp(in->guest_os, "linux", 5))
        return fail(err, errlen, "LOADER is '%s', expected 'generic' (or GUEST_OS 'linux')",
                    in->loader[0] ? in->loader : "(missing)");
    if (strncmp(in->xen_version, "xen-3.0", 7))
        return fail(err, errlen, "XEN_VERSION note is '%s', expected 'xen-3.0'",
                    in->xen_version[0] ? in->xen_version : "(missing)");
    if (check_required(in, err, errlen))
        return -1;
    if (pm.bsd_symtab)
        return fail(err, errlen, "BSD_SYMTAB asks for the symbol table to be loaded "
                    "after the image; Keel does not load it");

    /* Addresses as Xen's libelf computes them. */
    if (pm.paddr_off != UNSET && pm.virt_base == UNSET)
        return fail(err, errlen, "ELF_PADDR_OFFSET set, VIRT_BASE unset");
    if (pm.virt_base == UNSET)
        pm.virt_base = 0;
    /* Default offset: 0 with notes; VIRT_BASE with __xen_guest (older
     * hypervisors took the ELF paddr as virtual there). */
    if (pm.paddr_off == UNSET)
        pm.paddr_off = in->notes_from == ELF_NOTES_XEN_GUEST ? pm.virt_base : 0;
    uint64_t virt_base = pm.virt_base, paddr_off = pm.paddr_off;
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
    in->entry = pm.entry != UNSET ? pm.entry : eh.entry;
    if (in->entry < in->vstart || in->entry >= in->vend)
        return fail(err, errlen, "entry point %lx outside the image %lx-%lx",
                    (unsigned long)in->entry, (unsigned long)in->vstart,
                    (unsigned long)in->vend);
    if (in->init_p2m != UNSET && in->init_p2m >= in->vstart && in->init_p2m < in->vend)
        return fail(err, errlen, "INIT_P2M %lx lies inside the image %lx-%lx",
                    (unsigned long)in->init_p2m, (unsigned long)in->vstart,
                    (unsigned long)in->vend);
    in->has_hypercall_page = pm.hypercall != UNSET;
    in->hypercall_page = in->has_hypercall_page ? pm.hypercall : 0;
    if (in->has_hypercall_page &&
        ((in->hypercall_page & (DB_PAGE_SIZE - 1)) || in->hypercall_page < in->vstart ||
         in->hypercall_page + DB_PAGE_SIZE > in->vend))
        return fail(err, errlen, "HYPERCALL_PAGE %lx is not a page inside the image",
                    (unsigned long)in->hypercall_page);
    return 0;
}
