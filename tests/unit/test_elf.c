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
    build(NULL, 0); memcpy(img + 512 + 16, "xen-3.0!", 8); EXPECT(refused("malformed Xen ELF note"));
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
    build(&f, 1);                                  EXPECT(refused("requires unsupported feature 'pae_pgdir_above_4gb'"));
    struct note odd = { XEN_ELFNOTE_VIRT_BASE, "abc", 3 };
    build(&odd, 1);                                EXPECT(refused("malformed Xen ELF note type 3"));

    /* Every truncation of the good image is handled without overreads. */
    build(NULL, 0);
    for (size_t l = 0; l < img_len; l += 7)
        (void)elf_parse(img, l, &in, err, sizeof(err));
    UNIT_DONE();
}
