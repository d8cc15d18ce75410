/* Unit test of ELF and Xen-note validation (lib/dombuild/elf.c) with crafted
 * images: the good one parses, each kind of damage is refused by name. */
#include "dombuild_elf.h"
#include "unit.h"
#include <elf.h>
#include <string.h>
#include <xen/elfnote.h>

static unsigned char img[16384];
static size_t img_len;

struct note { uint32_t type; const void *desc; uint32_t size; };

static size_t put_note(unsigned char *p, const struct note *n)
{
    uint32_t hdr[3] = { 4, n->size, n->type };
    memcpy(p, hdr, 12);
    memcpy(p + 12, "Xen", 4);
    memcpy(p + 16, n->desc, n->size);
    return 16 + ((n->size + 3) & ~3u);
}

/* A minimal valid image: one PT_LOAD at 0 of 8 KiB, a PT_NOTE. */
static void build(const struct note *extra, int nextra)
{
    memset(img, 0, sizeof(img));
    Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
    memcpy(eh->e_ident, ELFMAG, 4);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_entry = 0x1000;
    eh->e_phoff = sizeof(*eh);
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 2;
    Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
    ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 4096, .p_vaddr = 0,
                          .p_paddr = 0, .p_filesz = 8192, .p_memsz = 12288 };
    unsigned char *n = img + 512;
    uint64_t hc = 0x1000;
    struct note base[] = {
        { XEN_ELFNOTE_XEN_VERSION, "xen-3.0", 8 },
        { XEN_ELFNOTE_LOADER, "generic", 8 },
        { XEN_ELFNOTE_GUEST_OS, "Keel", 5 },
        { XEN_ELFNOTE_HYPERCALL_PAGE, &hc, 8 },
    };
    size_t off = 0;
    for (unsigned i = 0; i < 4; i++)
        off += put_note(n + off, &base[i]);
    for (int i = 0; i < nextra; i++)
        off += put_note(n + off, &extra[i]);
    ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 512, .p_filesz = off };
    img_len = 4096 + 8192;
}

static int refused(const char *want)
{
    struct elf_image_info in;
    char err[160] = "";
    int rc = elf_parse(img, img_len, &in, err, sizeof(err));
    if (rc == 0 || !strstr(err, want)) {
        fprintf(stderr, "  want refusal '%s', got rc=%d '%s'\n", want, rc, err);
        return 0;
    }
    return 1;
}

static int accepted(void)
{
    struct elf_image_info in;
    char err[160] = "";
    if (elf_parse(img, img_len, &in, err, sizeof(err))) {
        fprintf(stderr, "  want acceptance, got '%s'\n", err);
        return 0;
    }
    return 1;
}

static struct elf_image_info parsed(void)
{
    struct elf_image_info in;
    char err[160] = "";
    if (elf_parse(img, img_len, &in, err, sizeof(err)))
        fprintf(stderr, "  parse failed: '%s'\n", err);
    return in;
}

/* FEATURES strings as Linux writes them (no NUL inside descsz) and every
 * name libelf knows, required or not. */
static void test_features(void)
{
    /* Debian's kernel: "!writable_page_tables", descsz 21, the NUL only
     * in the padding (put_note pads with zeros). */
    struct note lin = { XEN_ELFNOTE_FEATURES, "!writable_page_tables", 21 };
    build(&lin, 1);
    struct elf_image_info li = parsed();        /* Keel emulates writable page tables */
    EXPECT(li.f_supported[0] == 1 && li.f_required[0] == 1);
    /* The same without a NUL anywhere in the padding: next note follows. */
    struct note nonul[] = { { XEN_ELFNOTE_FEATURES, "pae_pgdir_above_4gb|!dom", 24 },
                            { XEN_ELFNOTE_GUEST_VERSION, "1", 2 } };
    build(nonul, 2);                               EXPECT(refused("feature 'dom', which Xen's loader does not know"));
    struct note ok = { XEN_ELFNOTE_FEATURES, "writable_descriptor_tables|auto_translated_physmap|"
                       "supervisor_mode_kernel|!pae_pgdir_above_4gb|hvm_callback_vector|dom0|"
                       "writable_page_tables|no_such_feature|", 0 };
    ok.size = (uint32_t)strlen((const char *)ok.desc);
    build(&ok, 1);
    struct elf_image_info in = parsed();
    EXPECT(in.f_supported[0] == 0x91f && in.f_required[0] == 0x10);
    static const char *const refuse[] = {
        "!writable_descriptor_tables", "!auto_translated_physmap",
        "!supervisor_mode_kernel", "!hvm_callback_vector", "!dom0",
    };
    for (unsigned i = 0; i < sizeof(refuse) / sizeof(refuse[0]); i++) {
        struct note r = { XEN_ELFNOTE_FEATURES, refuse[i], (uint32_t)strlen(refuse[i]) };
        char want[96];
        snprintf(want, sizeof(want), "requires feature '%s', which Keel", refuse[i] + 1);
        build(&r, 1);                              EXPECT(refused(want));
    }
    struct note unk = { XEN_ELFNOTE_FEATURES, "!mmu_pt_update_preserve_ad", 26 };
    build(&unk, 1);                                EXPECT(refused("'mmu_pt_update_preserve_ad', which Xen's loader does not know"));
    uint32_t sup = 1u << XENFEAT_dom0 | 1u << 5;
    struct note sf = { XEN_ELFNOTE_SUPPORTED_FEATURES, &sup, 4 };
    build(&sf, 1);
    in = parsed();
    EXPECT(in.f_supported[0] == sup && in.f_required[0] == 0);
    /* String notes end at descsz too. */
    struct note gos = { XEN_ELFNOTE_GUEST_OS, "linuxABC", 5 };
    build(&gos, 1);
    in = parsed();
    EXPECT(!strcmp(in.guest_os, "linux"));
}

/* The notes recorded (and refused) for a 64-bit PV domain. */
static void test_notes(void)
{
    uint64_t p2m = 0x8000000000ULL, one = 1, low = 0xf5800000ULL, inside = 0x2000;
    struct note n[] = {
        { XEN_ELFNOTE_INIT_P2M, &p2m, 8 }, { XEN_ELFNOTE_MOD_START_PFN, &one, 4 },
        { XEN_ELFNOTE_SUSPEND_CANCEL, &one, 4 }, { XEN_ELFNOTE_HV_START_LOW, &low, 8 },
        { XEN_ELFNOTE_L1_MFN_VALID, "", 0 }, { XEN_ELFNOTE_PAE_MODE, "yes", 4 },
        { XEN_ELFNOTE_BSD_SYMTAB, "no", 3 },
    };
    build(n, 7);
    struct elf_image_info in = parsed();
    EXPECT(in.init_p2m == p2m && in.mod_start_pfn && in.suspend_cancel);
    EXPECT(in.hv_start_low == low && in.l1_mfn_valid && !in.ro_shareable);
    EXPECT(in.notes_from == ELF_NOTES_PT_NOTE);
    build(n, 1);
    in = parsed();
    EXPECT(!in.mod_start_pfn && !in.suspend_cancel && !in.l1_mfn_valid && in.hv_start_low == ELF_UNSET);
    struct note bad_p2m = { XEN_ELFNOTE_INIT_P2M, &inside, 8 };
    build(&bad_p2m, 1);                            EXPECT(refused("INIT_P2M 2000 lies inside the image"));
    struct note bsd = { XEN_ELFNOTE_BSD_SYMTAB, "yes", 4 };
    build(&bsd, 1);                                EXPECT(refused("BSD_SYMTAB"));
    struct note po = { XEN_ELFNOTE_PADDR_OFFSET, &(uint64_t){0}, 8 };
    build(&po, 1);                                 EXPECT(refused("ELF_PADDR_OFFSET set, VIRT_BASE unset"));
    /* Keel's own note: name "Keel", type 1, nonzero. */
    build(NULL, 0);
    size_t off = ((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))[1].p_filesz;
    uint32_t keel[4] = { 5, 4, 1, 0 };
    memcpy(img + 512 + off, keel, 12);
    memcpy(img + 512 + off + 12, "Keel\0\0\0\0\1\0\0\0", 12);
    ((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))[1].p_filesz += 24;
    in = parsed();
    EXPECT(in.ro_shareable);
    img[512 + off + 20] = 0;
    in = parsed();
    EXPECT(!in.ro_shareable);
}

/* Section headers after the notes: [1] SHT_NOTE over the notes, [2] the
 * section names, [3] a __xen_guest string (the PT_NOTE removed). */
static void add_sections(const char *guest)
{
    Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
    Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
    static const char names[] = "\0.note.Xen\0.shstrtab\0__xen_guest";
    memcpy(img + 2048, names, sizeof(names));
    strcpy((char *)img + 2816, guest);
    Elf64_Shdr *sh = (Elf64_Shdr *)(img + 2304);
    sh[1] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_NOTE, .sh_offset = 512, .sh_size = ph[1].p_filesz };
    sh[2] = (Elf64_Shdr){ .sh_name = 11, .sh_type = SHT_STRTAB, .sh_offset = 2048, .sh_size = sizeof(names) };
    sh[3] = (Elf64_Shdr){ .sh_name = 21, .sh_type = SHT_PROGBITS, .sh_offset = 2816, .sh_size = strlen(guest) };
    eh->e_shoff = 2304;
    eh->e_shnum = 4;
    eh->e_shentsize = sizeof(Elf64_Shdr);
    eh->e_shstrndx = 2;
    ph[1].p_type = PT_NULL;
}

static void test_sections(void)
{
    Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
    Elf64_Shdr *sh = (Elf64_Shdr *)(img + 2304);
    uint64_t entry = 0x2000;
    struct note e = { XEN_ELFNOTE_ENTRY, &entry, 8 };
    build(&e, 1);
    add_sections("");
    struct elf_image_info in = parsed();
    EXPECT(in.notes_from == ELF_NOTES_SHT_NOTE && in.entry == 0x2000 && in.has_hypercall_page);
    /* A PT_NOTE with notes of others only: the sections are read. */
    build(&e, 1);
    add_sections("");
    ((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))[1].p_type = PT_NOTE;
    put_note(img + 1536, &(struct note){ 1, "abc", 4 });
    memcpy(img + 1536 + 12, "GNU", 4);
    ((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))[1].p_offset = 1536;
    ((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))[1].p_filesz = 20;
    in = parsed();
    EXPECT(in.notes_from == ELF_NOTES_SHT_NOTE && in.entry == 0x2000);
    /* No Xen note anywhere, no __xen_guest: not a Xen image. */
    build(NULL, 0); add_sections(""); sh[1].sh_type = SHT_PROGBITS; sh[3].sh_name = 12;
    EXPECT(refused("no Xen ELF notes and no __xen_guest section"));
    /* An empty __xen_guest: found, but says nothing. */
    build(NULL, 0); add_sections(""); sh[1].sh_type = SHT_PROGBITS;
    EXPECT(refused("LOADER is '(missing)'"));
    build(NULL, 0); add_sections(""); sh[1].sh_size = 1ULL << 40;
    EXPECT(refused("section 1: notes run past the end"));
    build(NULL, 0); add_sections(""); eh->e_shoff = img_len - 8;
    EXPECT(refused("section headers run past the end"));
    /* Refused as libelf refuses it even when the notes are in a segment. */
    build(NULL, 0); add_sections(""); eh->e_shoff = img_len - 8;
    ((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))[1].p_type = PT_NOTE;
    EXPECT(refused("section headers run past the end"));
    build(NULL, 0); add_sections(""); sh[1].sh_size -= 3;
    EXPECT(refused("ELF note runs past its segment or section"));

    /* __xen_guest when no section holds a Xen note. */
    build(NULL, 0);
    add_sections("GUEST_OS=Keel,XEN_VER=xen-3.0,LOADER=generic,VIRT_BASE=0x0,"
                 "ELF_PADDR_OFFSET=0,HYPERCALL_PAGE=0x1,VIRT_ENTRY=0x1000,"
                 "FEATURES=writable_page_tables|!pae_pgdir_above_4gb,PAE=yes");
    sh[1].sh_type = SHT_PROGBITS;
    in = parsed();
    EXPECT(in.notes_from == ELF_NOTES_XEN_GUEST && in.hypercall_page == 0x1000);
    EXPECT(in.entry == 0x1000 && !strcmp(in.guest_os, "Keel") && !strcmp(in.loader, "generic"));
    EXPECT(in.f_supported[0] == 0x11 && in.f_required[0] == 0x10);
    /* VIRT_BASE without an offset: paddr taken as virtual (offset = VIRT_BASE). */
    build(NULL, 0);
    add_sections("GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0x400000,HYPERCALL_PAGE=1");
    sh[1].sh_type = SHT_PROGBITS;
    ((Elf64_Ehdr *)img)->e_entry = 0x400000;
    ((Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)))[0].p_paddr = 0x400000;
    in = parsed();
    EXPECT(in.vstart == 0x400000 && in.paddr_offset == 0x400000 && in.hypercall_page == 0x401000);
    build(NULL, 0);
    add_sections("GUEST_OS=Keel,XEN_VER=xen-3.0,LOADER=generic,FEATURES=!dom0");
    sh[1].sh_type = SHT_PROGBITS;
    EXPECT(refused("requires feature 'dom0'"));
    build(NULL, 0);
    add_sections("GUEST_OS=Keel,XEN_VER=xen-2.0,LOADER=generic");
    sh[1].sh_type = SHT_PROGBITS;
    EXPECT(refused("XEN_VERSION note is 'xen-2.0'"));
    build(NULL, 0);
    add_sections("GUEST_OS=Keel,XEN_VER=xen-3.0,LOADER=generic,BSD_SYMTAB");
    sh[1].sh_type = SHT_PROGBITS;
    EXPECT(refused("BSD_SYMTAB"));
    /* A __xen_guest without its NUL ends at the section's end. */
    build(NULL, 0);
    add_sections("GUEST_OS=Keel,XEN_VER=xen-3.0,LOADER=genericXXXX");
    sh[1].sh_type = SHT_PROGBITS;
    sh[3].sh_size -= 4;
    EXPECT(accepted());
    /* Truncations of the sectioned image are handled without overreads. */
    for (size_t l = 0; l < 4096; l += 5) {
        img_len = l;
        (void)elf_parse(img, l, &in, (char[160]){0}, 160);
    }
}

int main(void)
{
    struct elf_image_info in;
    char err[160];

    build(NULL, 0);
    EXPECT(elf_parse(img, img_len, &in, err, sizeof(err)) == 0);
    EXPECT(in.entry == 0x1000 && in.virt_base == 0 && in.has_hypercall_page);
    EXPECT(in.vstart == 0 && in.vend == 12288 && in.nr_loads == 1);

    uint64_t entry = 0x2000, vb = 0xffffffff80000000ULL;
    struct note e = { XEN_ELFNOTE_ENTRY, &entry, 8 };
    build(&e, 1);
    EXPECT(elf_parse(img, img_len, &in, err, sizeof(err)) == 0 && in.entry == 0x2000);

    build(NULL, 0); img_len = 10;                  EXPECT(refused("truncated ELF header"));
    build(NULL, 0); img[1] = 'X';                  EXPECT(refused("not an ELF file"));
    build(NULL, 0); img[EI_CLASS] = ELFCLASS32;    EXPECT(refused("ELF64"));
    build(NULL, 0); ((Elf64_Ehdr *)img)->e_type = ET_DYN; EXPECT(refused("not an executable"));
    build(NULL, 0); ((Elf64_Ehdr *)img)->e_phoff = ~0ULL - 8; EXPECT(refused("program headers run past"));
    build(NULL, 0); ((Elf64_Ehdr *)img)->e_phnum = 0; EXPECT(refused("bad program header table"));
    Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr));
    build(NULL, 0); ph[0].p_offset = ~0ULL;        EXPECT(refused("data runs past the end"));
    build(NULL, 0); ph[0].p_filesz = 1ULL << 62;   EXPECT(refused("data runs past the end"));
    build(NULL, 0); ph[0].p_memsz = 4096;          EXPECT(refused("file size larger"));
    build(NULL, 0); ph[0].p_paddr = ~0ULL - 100;   EXPECT(refused("wraps"));
    build(NULL, 0); ph[0].p_type = PT_NULL;        EXPECT(refused("no loadable segments"));
    build(NULL, 0); ph[1].p_type = PT_NULL;        EXPECT(refused("no Xen ELF notes"));
    build(NULL, 0); ph[1].p_filesz += 7;           EXPECT(refused("truncated ELF note header"));
    build(NULL, 0); memcpy(img + 512 + 4, "\xff\xff\xff\x0f", 4); EXPECT(refused("runs past its segment"));
    build(NULL, 0); memcpy(img + 512 + 16, "xen-2.0", 8); EXPECT(refused("XEN_VERSION note is 'xen-2.0'"));
    /* Compared as libelf does, by prefix ("xen-3.0" then anything). */
    build(NULL, 0); memcpy(img + 512 + 16, "xen-3.0!", 8);
    EXPECT(elf_parse(img, img_len, &in, err, sizeof(err)) == 0);
    build(NULL, 0); ((Elf64_Ehdr *)img)->e_entry = 0x10000; EXPECT(refused("entry point"));
    uint64_t badhc = 0x1010;
    struct note h = { XEN_ELFNOTE_HYPERCALL_PAGE, &badhc, 8 };
    build(&h, 1);                                  EXPECT(refused("HYPERCALL_PAGE"));
    struct note v[] = { { XEN_ELFNOTE_VIRT_BASE, &vb, 8 }, { XEN_ELFNOTE_PADDR_OFFSET, &vb, 8 } };
    build(v, 2);                                   EXPECT(refused("below VIRT_BASE"));
    build(v, 1);                                   /* paddr-relative: moved up */
    EXPECT(elf_parse(img, img_len, &in, err, sizeof(err)) == -1 && strstr(err, "entry point"));
    uint64_t hvbase = 0xFFFF830000000000ULL;
    struct note v2[] = { { XEN_ELFNOTE_VIRT_BASE, &hvbase, 8 }, { XEN_ELFNOTE_PADDR_OFFSET, &(uint64_t){0}, 8 } };
    build(v2, 2);                                  EXPECT(refused("reserved range"));
    struct note f = { XEN_ELFNOTE_FEATURES, "writable_page_tables|!pae_pgdir_above_4gb", 42 };
    build(&f, 1);
    EXPECT(elf_parse(img, img_len, &in, err, sizeof(err)) == 0);
    EXPECT(in.f_supported[0] == (1u << XENFEAT_writable_page_tables | 1u << XENFEAT_pae_pgdir_above_4gb));
    EXPECT(in.f_required[0] == 1u << XENFEAT_pae_pgdir_above_4gb);
    struct note odd = { XEN_ELFNOTE_VIRT_BASE, "abc", 3 };
    build(&odd, 1);                                EXPECT(refused("malformed Xen ELF note type 3"));

    test_features();
    test_notes();
    test_sections();

    /* Every truncation of the good image is handled without overreads. */
    build(NULL, 0);
    for (size_t l = 0; l < img_len; l += 7)
        (void)elf_parse(img, l, &in, err, sizeof(err));
    UNIT_DONE();
}
