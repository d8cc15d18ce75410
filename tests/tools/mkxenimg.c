/* Host tool: rewrites a built PV image into the layouts other builders
 * produce, for the loader tests (nothing prebuilt is committed):
 *
 *   mkxenimg IN OUT shtnote          notes only in SHT_NOTE sections (no PT_NOTE)
 *   mkxenimg IN OUT xenguest         no notes; a legacy "__xen_guest" string section
 *   mkxenimg IN OUT nokeel           Keel's own notes removed (renamed)
 *   mkxenimg IN OUT addnote T S|=N   Xen note T (FEATURES, INIT_P2M, ... as
 *                                    <xen/elfnote.h> names them) appended to
 *                                    the PT_NOTE notes: string S without its
 *                                    NUL (the padding zero, as Linux writes
 *                                    them) or =N a 64-bit number; repeatable
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/elfnote.h>

static unsigned char *img;
static size_t len, cap;

static const struct { const char *name; uint32_t type; } note_types[] = {
#define T(n) { #n, XEN_ELFNOTE_##n }
    T(FEATURES), T(INIT_P2M), T(MOD_START_PFN), T(SUSPEND_CANCEL), T(HV_START_LOW),
    T(L1_MFN_VALID), T(PAE_MODE), T(BSD_SYMTAB), T(SUPPORTED_FEATURES), T(GUEST_VERSION),
#undef T
};

static void die(const char *m)
{
    fprintf(stderr, "mkxenimg: %s\n", m);
    exit(1);
}

static Elf64_Ehdr *eh(void) { return (Elf64_Ehdr *)img; }
static Elf64_Phdr *ph(unsigned i) { return (Elf64_Phdr *)(img + eh()->e_phoff) + i; }
static Elf64_Shdr *sh(unsigned i) { return (Elf64_Shdr *)(img + eh()->e_shoff) + i; }

/* Appends n bytes at an 8-aligned offset of the file; returns it. */
static size_t append(const void *p, size_t n)
{
    size_t off = (len + 7) & ~(size_t)7;
    if (off + n > cap) {
        cap = (off + n) * 2;
        img = realloc(img, cap);
        if (!img)
            die("out of memory");
    }
    memset(img + len, 0, off - len);
    memcpy(img + off, p, n);
    len = off + n;
    return off;
}

static Elf64_Phdr *note_segment(void)
{
    for (unsigned i = 0; i < eh()->e_phnum; i++)
        if (ph(i)->p_type == PT_NOTE)
            return ph(i);
    die("no PT_NOTE segment");
    return NULL;
}

/* Calls fn on each note of [off, off + size). */
static void each_note(size_t off, size_t size, void (*fn)(unsigned char *note, void *), void *arg)
{
    for (size_t o = 0; o + 12 <= size; ) {
        uint32_t *h = (uint32_t *)(img + off + o);
        fn(img + off + o, arg);
        o += 12 + ((h[0] + 3) & ~3u) + ((h[1] + 3) & ~3u);
    }
}

struct xen_parms { uint64_t virt_base, paddr_off, entry, hypercall; };

static void read_note(unsigned char *n, void *arg)
{
    struct xen_parms *x = arg;
    uint32_t *h = (uint32_t *)n;
    if (h[0] != 4 || memcmp(n + 12, "Xen", 4) || h[1] != 8)
        return;
    uint64_t v;
    memcpy(&v, n + 16, 8);
    if (h[2] == XEN_ELFNOTE_VIRT_BASE) x->virt_base = v;
    if (h[2] == XEN_ELFNOTE_PADDR_OFFSET) x->paddr_off = v;
    if (h[2] == XEN_ELFNOTE_ENTRY) x->entry = v;
    if (h[2] == XEN_ELFNOTE_HYPERCALL_PAGE) x->hypercall = v;
}

static void rename_keel(unsigned char *n, void *arg)
{
    (void)arg;
    if (((uint32_t *)n)[0] == 5 && !memcmp(n + 12, "Keel", 5))
        memcpy(n + 12, "Nope", 5);
}

static void xenguest(void)
{
    Elf64_Phdr *p = note_segment();
    struct xen_parms x = { 0 };
    each_note(p->p_offset, p->p_filesz, read_note, &x);
    if (!x.hypercall)
        die("no HYPERCALL_PAGE note to carry over");
    char s[512];
    int n = snprintf(s, sizeof(s), "GUEST_OS=Keel-minios,XEN_VER=xen-3.0,LOADER=generic,"
                     "VIRT_BASE=0x%llx,ELF_PADDR_OFFSET=0x%llx,VIRT_ENTRY=0x%llx,"
                     "HYPERCALL_PAGE=0x%llx",
                     (unsigned long long)x.virt_base, (unsigned long long)x.paddr_off,
                     (unsigned long long)x.entry,
                     (unsigned long long)((x.hypercall - x.virt_base) >> 12));
    /* No notes left anywhere. */
    p->p_type = PT_NULL;
    for (unsigned i = 0; i < eh()->e_shnum; i++)
        if (sh(i)->sh_type == SHT_NOTE)
            sh(i)->sh_type = SHT_PROGBITS;
    /* The string, a longer section-name table, a longer header table. */
    size_t str = append(s, (size_t)n + 1);
    Elf64_Shdr strtab = *sh(eh()->e_shstrndx);
    unsigned char *names = malloc(strtab.sh_size + 12);
    memcpy(names, img + strtab.sh_offset, strtab.sh_size);
    memcpy(names + strtab.sh_size, "__xen_guest", 12);
    size_t names_off = append(names, strtab.sh_size + 12);
    free(names);
    unsigned nsh = eh()->e_shnum;
    Elf64_Shdr *shdrs = calloc(nsh + 1, sizeof(*shdrs));
    memcpy(shdrs, img + eh()->e_shoff, nsh * sizeof(*shdrs));
    shdrs[eh()->e_shstrndx].sh_offset = names_off;
    shdrs[eh()->e_shstrndx].sh_size = strtab.sh_size + 12;
    shdrs[nsh] = (Elf64_Shdr){ .sh_name = (uint32_t)strtab.sh_size, .sh_type = SHT_PROGBITS,
                               .sh_offset = str, .sh_size = (uint64_t)n + 1, .sh_addralign = 1 };
    size_t shoff = append(shdrs, (nsh + 1) * sizeof(*shdrs));
    free(shdrs);
    eh()->e_shoff = shoff;
    eh()->e_shnum = (uint16_t)(nsh + 1);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        die("usage: mkxenimg IN OUT shtnote|xenguest|nokeel|addnote TYPE VALUE...");
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        die("cannot open the input");
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    cap = len;
    img = malloc(cap);
    if (!img || fread(img, 1, len, f) != len)
        die("cannot read the input");
    fclose(f);
    const char *op = argv[3];
    if (!strcmp(op, "shtnote")) {
        note_segment()->p_type = PT_NULL;
    } else if (!strcmp(op, "xenguest")) {
        xenguest();
    } else if (!strcmp(op, "nokeel")) {
        Elf64_Phdr *p = note_segment();
        each_note(p->p_offset, p->p_filesz, rename_keel, NULL);
    } else if (!strcmp(op, "addnote")) {
        Elf64_Phdr *p = note_segment();
        size_t old = p->p_offset, oldsz = p->p_filesz;
        unsigned char notes[8192];
        if (oldsz > sizeof(notes))
            die("notes too large");
        memcpy(notes, img + old, oldsz);
        size_t sz = oldsz;
        for (int a = 4; a + 1 < argc; a += 2) {
            uint32_t h[3] = { 4, 0, ~0u };
            for (size_t t = 0; t < sizeof(note_types) / sizeof(note_types[0]); t++)
                if (!strcmp(argv[a], note_types[t].name))
                    h[2] = note_types[t].type;
            if (h[2] == ~0u)
                die("unknown note name");
            const char *v = argv[a + 1];
            uint64_t num;
            const void *desc;
            if (v[0] == '=') {
                num = strtoull(v + 1, NULL, 0);
                desc = &num;
                h[1] = 8;
            } else {
                desc = v;
                h[1] = (uint32_t)strlen(v);
            }
            size_t padded = (h[1] + 3) & ~3u;
            if (sz + 16 + padded + 4 > sizeof(notes))
                die("too many notes");
            memcpy(notes + sz, h, 12);
            memcpy(notes + sz + 12, "Xen", 4);
            memset(notes + sz + 16, 0, padded);
            memcpy(notes + sz + 16, desc, h[1]);
            sz += 16 + padded;
        }
        /* Four zero bytes after the notes, outside the segment: a string
         * that fills its descriptor then ends there for Xen's libelf too
         * (which reads on to the next NUL in the file). */
        memset(notes + sz, 0, 4);
        size_t off = append(notes, sz + 4);
        p = note_segment();
        p->p_offset = off;
        p->p_filesz = p->p_memsz = sz;
    } else {
        die("unknown operation");
    }
    f = fopen(argv[2], "wb");
    if (!f || fwrite(img, 1, len, f) != len || fclose(f))
        die("cannot write the output");
    return 0;
}
