/* Host tool: writes malformed variants of a good PV image, one per kind of
 * damage, for the badelf guest test (the domain builder must refuse each
 * with a message naming the problem). */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *img;
static size_t len;

static void out(const char *dir, const char *name, const unsigned char *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.elf", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static unsigned char *scratch;

/* A fresh copy of the good image to damage (one buffer, reused). */
static unsigned char *copy(void)
{
    if (!scratch)
        scratch = malloc(len);
    memcpy(scratch, img, len);
    return scratch;
}

static Elf64_Phdr *phdr(unsigned char *p, unsigned type)
{
    Elf64_Ehdr *eh = (Elf64_Ehdr *)p;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr *ph = (Elf64_Phdr *)(p + eh->e_phoff + i * sizeof(Elf64_Phdr));
        if (ph->p_type == type)
            return ph;
    }
    fprintf(stderr, "mkbadelf: no segment of type %u\n", type);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mkbadelf GOOD.elf OUTDIR\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    img = malloc(len);
    if (fread(img, 1, len, f) != len) {
        perror("read");
        return 1;
    }
    fclose(f);
    const char *d = argv[2];
    unsigned char *c;

    out(d, "empty", img, 0);
    out(d, "trunc", img, 40);
    c = copy(); c[0] = 0; out(d, "magic", c, len);
    c = copy(); ((Elf64_Ehdr *)c)->e_machine = EM_386; out(d, "machine", c, len);
    c = copy(); ((Elf64_Ehdr *)c)->e_phoff = len - 8; out(d, "phoff", c, len);
    c = copy(); phdr(c, PT_LOAD)->p_filesz = 1ULL << 40; out(d, "segsize", c, len);
    c = copy();
    {
        /* No notes in a segment, none in a section (no __xen_guest either). */
        Elf64_Ehdr *eh = (Elf64_Ehdr *)c;
        phdr(c, PT_NOTE)->p_type = PT_NULL;
        for (unsigned i = 0; i < eh->e_shnum; i++) {
            Elf64_Shdr *sh = (Elf64_Shdr *)(c + eh->e_shoff) + i;
            if (sh->sh_type == SHT_NOTE)
                sh->sh_type = SHT_PROGBITS;
        }
        out(d, "nonotes", c, len);
    }
    c = copy();
    {
        Elf64_Phdr *ph = phdr(c, PT_NOTE);
        unsigned char *v = memmem(c + ph->p_offset, ph->p_filesz, "xen-3.0", 8);
        if (!v) {
            fprintf(stderr, "mkbadelf: no xen-3.0 note\n");
            return 1;
        }
        v[4] = '2';
        out(d, "version", c, len);
    }
    c = copy();
    {
        Elf64_Phdr *ph = phdr(c, PT_NOTE);
        uint32_t big = 0x00ffffff;
        memcpy(c + ph->p_offset + 4, &big, 4);   /* first note's descsz */
        out(d, "notelen", c, len);
    }
    c = copy(); phdr(c, PT_LOAD)->p_memsz = 1ULL << 30; out(d, "bigbss", c, len);
    c = copy(); ((Elf64_Ehdr *)c)->e_shoff = len - 8; out(d, "shoff", c, len);
    free(scratch);
    free(img);
    return 0;
}
