/* Unit tests of the vmdk driver: monolithicSparse read/write and ordering,
 * flat extents, streamOptimized (compressed) reads, and a corrupt corpus. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include <keel/image.h>
#include "io_host.h"
#include "unit.h"

#define MIB (1024 * 1024)
#define S 512

static struct { const char *name; uint8_t *data; uint64_t size; } files[4];

static int related(void *ctx, const char *name, bool writable, struct img_io **out)
{
    (void)ctx;
    (void)writable;
    for (unsigned i = 0; i < 4; i++) {
        if (files[i].name && strcmp(files[i].name, name) == 0) {
            int r = img_io_mem_new(out);
            if (r < 0)
                return r;
            img_io_mem_set_related(*out, related, NULL);
            return files[i].size ? img_io_mem_load(*out, files[i].data, files[i].size) : 0;
        }
    }
    return -ENOENT;
}

static struct img_io *mem_with(const uint8_t *data, uint64_t size)
{
    struct img_io *io;
    if (img_io_mem_new(&io) < 0)
        abort();
    img_io_mem_set_related(io, related, NULL);
    if (data && img_io_mem_load(io, data, size) < 0)
        abort();
    return io;
}

static uint8_t *snapshot(struct img_io *io, uint64_t *size)
{
    const uint8_t *d = img_io_mem_data(io, size);
    uint8_t *c = malloc(*size ? *size : 1);
    memcpy(c, d, *size);
    return c;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void pattern(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

/* A 4 MiB monolithicSparse image (the qemu layout: RGD at sector 21, RGT
 * 22-25, GD 26, GT 27-30, grains from sector 128) with two writes. */
static uint8_t *make_image(uint64_t *n)
{
    char err[IMG_ERR_LEN];
    struct img_create_opts o = { .size = 4 * MIB };
    struct img_io *io = mem_with(NULL, 0);
    struct img *img;
    uint8_t buf[5000];

    EXPECT(img_create(io, "vmdk", &o, err) == 0);
    EXPECT(img_open(io, "vmdk", IMG_OPEN_RDWR, NULL, &img, err) == 0);
    pattern(buf, sizeof buf, 1);
    EXPECT(img_write(img, 1000, buf, sizeof buf) == 0);
    EXPECT(img_write(img, 3 * MIB + 512, buf, 4096) == 0);
    EXPECT(img_flush(img) == 0);
    uint8_t *c = snapshot(img->io, n);
    img_close(img);
    return c;
}

static void test_rw(void)
{
    char err[IMG_ERR_LEN];
    uint64_t n;
    uint8_t *d = make_image(&n);
    struct img *img;
    uint8_t want[5000], got[8192];

    EXPECT(img_open(mem_with(d, n), NULL, IMG_OPEN_RDWR, NULL, &img, err) == 0);
    free(d);
    EXPECT(strcmp(img->drv->name, "vmdk") == 0 && img->size == 4 * MIB);
    pattern(want, sizeof want, 1);
    EXPECT(img_read(img, 1000, got, 5000) == 0 && memcmp(got, want, 5000) == 0);
    EXPECT(img_read(img, 3 * MIB + 512, got, 4096) == 0 && memcmp(got, want, 4096) == 0);
    memset(want, 0, sizeof want);
    EXPECT(img_read(img, 0, got, 1000) == 0 && memcmp(got, want, 1000) == 0);
    EXPECT(img_read(img, 2 * MIB, got, 8192) == 0 && memcmp(got, want, 4096) == 0);
    struct img_check ck;
    EXPECT(img_check(img, &ck, false) == 0 && ck.corruptions == 0);
    struct img_info info;
    EXPECT(img_info(img, &info) == 0 && strcmp(info.subformat, "monolithicSparse") == 0 &&
           info.cluster_size == 65536);

    /* Ordering of an allocating write: grain, flush, RGT entry, GT entry. */
    uint64_t w0, f0, w1, f1;
    img_io_mem_stats(img->io, &w0, &f0);
    EXPECT(img_write(img, 2 * MIB, want, 100) == 0);
    img_io_mem_stats(img->io, &w1, &f1);
    EXPECT(w1 - w0 == 3 && f1 - f0 == 1);
    /* A write covering many grains: one flush for all of them. */
    uint8_t *big = calloc(1, MIB);
    pattern(big, MIB, 3);
    EXPECT(img_write(img, MIB, big, MIB) == 0);
    img_io_mem_stats(img->io, &w0, &f0);
    EXPECT(f0 - f1 == 1 && w0 - w1 == 16 + 2);
    EXPECT(img_read(img, MIB, got, 8192) == 0 && memcmp(got, big, 8192) == 0);
    EXPECT(img_check(img, &ck, false) == 0 && ck.corruptions == 0);
    free(big);
    img_close(img);
}

/* A child with a parent: reads fall through, a partial write copies the
 * rest of the grain from the parent. */
static void test_backing(void)
{
    char err[IMG_ERR_LEN];
    uint64_t pn, n;
    uint8_t *p = make_image(&pn);
    struct img_create_opts o = { .backing = "base.vmdk" };
    struct img_io *io = mem_with(NULL, 0);
    struct img *img;
    uint8_t want[8192], got[8192];

    files[0].name = "base.vmdk";
    files[0].data = p;
    files[0].size = pn;
    EXPECT(img_create(io, "vmdk", &o, err) == 0);
    uint8_t *c = snapshot(io, &n);
    io->ops->close(io);
    EXPECT(img_open(mem_with(c, n), "vmdk", IMG_OPEN_RDWR, NULL, &img, err) == 0);
    free(c);
    if (img) {
        EXPECT(img->backing && img->size == 4 * MIB);
        memset(want, 0, sizeof want);
        pattern(want + 1000, 5000, 1);
        memset(want + 3000, 0xee, 10);
        EXPECT(img_write(img, 3000, want + 3000, 10) == 0);
        EXPECT(img_read(img, 0, got, 8192) == 0 && memcmp(got, want, 8192) == 0);
        img_close(img);
    }
    files[0].name = NULL;
    free(p);
}

/* monolithicFlat: a descriptor file and a flat extent, opened as related. */
static void test_flat(void)
{
    char err[IMG_ERR_LEN];
    static const char desc[] =
        "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
        "createType=\"monolithicFlat\"\n\n# Extent description\n"
        "RW 2048 FLAT \"x-flat.vmdk\" 0\nRW 1024 ZERO\nRW 2048 FLAT \"x-flat.vmdk\" 2048\n";
    uint8_t *flat = calloc(1, 2 * MIB);
    struct img *img;
    uint8_t got[4096], want[4096];

    pattern(flat, 2 * MIB, 9);
    files[0].name = "x-flat.vmdk";
    files[0].data = flat;
    files[0].size = 2 * MIB;
    EXPECT(img_open(mem_with((const uint8_t *)desc, sizeof desc - 1), NULL, 0, NULL,
                    &img, err) == 0);
    if (img) {
        EXPECT(img->size == 5120ull * S);
        EXPECT(img_read(img, MIB - 2048, got, 4096) == 0);
        memcpy(want, flat + MIB - 2048, 2048);
        memset(want + 2048, 0, 2048);
        EXPECT(memcmp(got, want, 4096) == 0);
        EXPECT(img_read(img, 3072ull * S, got, 4096) == 0 && memcmp(got, flat + MIB, 4096) == 0);
        img_close(img);
    }
    /* Missing extent file; unsupported extent type. */
    files[0].name = "other";
    EXPECT(img_open(mem_with((const uint8_t *)desc, sizeof desc - 1), NULL, 0, NULL,
                    &img, err) < 0 && strstr(err, "x-flat.vmdk"));
    static const char bad[] = "# Disk DescriptorFile\nRW 100 SPARSE \"a.vmdk\"\n";
    EXPECT(img_open(mem_with((const uint8_t *)bad, sizeof bad - 1), "vmdk", 0, NULL,
                    &img, err) == -EINVAL && strstr(err, "SPARSE"));
    static const char none[] = "# Disk DescriptorFile\nversion=1\n";
    EXPECT(img_open(mem_with((const uint8_t *)none, sizeof none - 1), "vmdk", 0, NULL,
                    &img, err) == -EINVAL && strstr(err, "no extents"));
    files[0].name = NULL;
    free(flat);
}

/* A hand-made streamOptimized extent: 2 grains of 64 KiB, grain 0
 * compressed behind a marker, grain 1 absent. */
static uint8_t *make_stream(uint64_t *n, uint8_t *grain)
{
    uLongf clen = compressBound(65536);
    uint8_t *c = malloc(clen);
    pattern(grain, 65536, 5);
    compress2(c, &clen, grain, 65536, 6);
    *n = (6 * S + 12 + clen + S - 1) / S * S + 3 * S;
    uint8_t *d = calloc(1, *n);
    put32(d, 0x564d444b);
    put32(d + 4, 3);
    put32(d + 8, 1 | (1u << 16) | (1u << 17));
    put64(d + 12, 256);                 /* capacity */
    put64(d + 20, 128);                 /* grain */
    put32(d + 44, 512);
    put64(d + 56, 1);                   /* GD at sector 1 */
    put64(d + 64, 6);
    d[77] = 1;                          /* deflate */
    put32(d + S, 2);                    /* GT at sector 2 */
    put32(d + 2 * S, 6);                /* grain 0 at sector 6 */
    put64(d + 6 * S, 0);                /* marker: lba 0 */
    put32(d + 6 * S + 8, (uint32_t)clen);
    memcpy(d + 6 * S + 12, c, clen);
    free(c);
    return d;
}

static void test_stream(void)
{
    char err[IMG_ERR_LEN];
    uint8_t *grain = malloc(65536), *got = malloc(2 * 65536);
    uint64_t n;
    uint8_t *d = make_stream(&n, grain);
    struct img *img;

    EXPECT(img_open(mem_with(d, n), NULL, 0, NULL, &img, err) == 0);
    if (img) {
        EXPECT(img_read(img, 0, got, 2 * 65536) == 0 && memcmp(got, grain, 65536) == 0);
        memset(grain, 0, 65536);
        EXPECT(memcmp(got + 65536, grain, 65536) == 0);
        struct img_info info;
        EXPECT(img_info(img, &info) == 0 && info.compressed_clusters);
        img_close(img);
    }
    EXPECT(img_open(mem_with(d, n), "vmdk", IMG_OPEN_RDWR, NULL, &img, err) == -EINVAL &&
           strstr(err, "read-only"));
    /* Wrong marker LBA, corrupt deflate data: the read fails cleanly. */
    put64(d + 6 * S, 128);
    EXPECT(img_open(mem_with(d, n), "vmdk", 0, NULL, &img, err) == 0);
    if (img) {
        EXPECT(img_read(img, 0, got, 4096) == -EIO);
        img_close(img);
    }
    put64(d + 6 * S, 0);
    memset(d + 6 * S + 20, 0x55, 64);
    EXPECT(img_open(mem_with(d, n), "vmdk", 0, NULL, &img, err) == 0);
    if (img) {
        EXPECT(img_read(img, 0, got, 4096) == -EIO);
        img_close(img);
    }
    put32(d + 6 * S + 8, 0x7ffffff0);   /* compressed size past the end */
    EXPECT(img_open(mem_with(d, n), "vmdk", 0, NULL, &img, err) == 0);
    if (img) {
        EXPECT(img_read(img, 0, got, 4096) == -EIO);
        img_close(img);
    }
    free(d);
    free(grain);
    free(got);
}

/* ---- The corrupt corpus ----------------------------------------------- */

struct corrupt {
    const char *what, *expect;
    void (*mutate)(uint8_t *d, uint64_t *n);
};

static void m_magic(uint8_t *d, uint64_t *n) { (void)n; d[0] = 'X'; }
static void m_trunc(uint8_t *d, uint64_t *n) { (void)d; *n = 100; }
static void m_trunc_meta(uint8_t *d, uint64_t *n) { (void)d; *n = 26 * S + 100; }
static void m_trunc_grains(uint8_t *d, uint64_t *n) { (void)d; *n = 150 * S; }
static void m_version(uint8_t *d, uint64_t *n) { (void)n; put32(d + 4, 9); }
static void m_grain(uint8_t *d, uint64_t *n) { (void)n; put64(d + 20, 3); }
static void m_grain_huge(uint8_t *d, uint64_t *n) { (void)n; put64(d + 20, 1ull << 40); }
static void m_gtes(uint8_t *d, uint64_t *n) { (void)n; put32(d + 44, 0); }
static void m_capacity(uint8_t *d, uint64_t *n) { (void)n; put64(d + 12, 1ull << 60); }
static void m_capacity_gd(uint8_t *d, uint64_t *n) { (void)n; put64(d + 12, 1ull << 40); }
static void m_gd_past(uint8_t *d, uint64_t *n) { (void)n; put32(d + 26 * S, 0x7fffff00); }
static void m_rgd_past(uint8_t *d, uint64_t *n) { (void)n; put32(d + 21 * S, 0x7fffff00); }
static void m_gt_past(uint8_t *d, uint64_t *n) { (void)n; put32(d + 27 * S, 0x7fffff00); }
static void m_gt_meta(uint8_t *d, uint64_t *n) { (void)n; put32(d + 27 * S, 2); }
static void m_gd_off(uint8_t *d, uint64_t *n) { (void)n; put64(d + 56, 1ull << 40); }
static void m_desc(uint8_t *d, uint64_t *n) { (void)n; put64(d + 28, 1ull << 30); }
static void m_nomarkers(uint8_t *d, uint64_t *n) { (void)n; d[10] |= 1; }

static const struct corrupt corpus[] = {
    { "bad magic", "magic", m_magic },
    { "truncated header", "truncated", m_trunc },
    { "truncated tables", "past the end", m_trunc_meta },
    { "truncated grains", "points past the end", m_trunc_grains },
    { "bad version", "version", m_version },
    { "bad grain size", "grain size", m_grain },
    { "absurd grain size", "grain size", m_grain_huge },
    { "no GT entries", "grain table entries", m_gtes },
    { "absurd capacity", "absurd capacity", m_capacity },
    { "capacity larger than the GD", "grain directory", m_capacity_gd },
    { "GD entry past the end", "grain directory entry 0 points past the end", m_gd_past },
    { "RGD entry past the end", "redundant grain directory entry 0", m_rgd_past },
    { "GT entry past the end", "grain table 0 entry 0 points past the end", m_gt_past },
    { "GT entry into the metadata", "metadata", m_gt_meta },
    { "GD offset past the end", "past the end", m_gd_off },
    { "descriptor past the end", "descriptor", m_desc },
    { "compressed without markers", "markers", m_nomarkers },
};

static void test_corpus(void)
{
    uint64_t n0;
    uint8_t *base = make_image(&n0);

    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        char err[IMG_ERR_LEN] = "";
        uint8_t *d = malloc(n0);
        uint64_t n = n0;
        struct img *img = NULL;
        memcpy(d, base, n0);
        corpus[i].mutate(d, &n);
        int r = img_open(mem_with(d, n), "vmdk", 0, NULL, &img, err);
        if (r >= 0 || !strstr(err, corpus[i].expect)) {
            fprintf(stderr, "corpus '%s': r=%d err='%s' (expected '%s')\n",
                    corpus[i].what, r, err, corpus[i].expect);
            unit_failures++;
        }
        if (img)
            img_close(img);
        free(d);
    }

    /* The two GT copies disagree: opens, check reports it. */
    {
        char err[IMG_ERR_LEN];
        uint8_t *d = malloc(n0);
        struct img *img;
        struct img_check ck;
        memcpy(d, base, n0);
        put32(d + 22 * S, 256);         /* another valid grain */
        EXPECT(img_open(mem_with(d, n0), "vmdk", 0, NULL, &img, err) == 0);
        EXPECT(img_check(img, &ck, false) == 0 && ck.corruptions == 1 &&
               strstr(ck.first_error, "redundant"));
        img_close(img);
        free(d);
    }

    /* Random damage to the header and tables: never a crash. */
    uint32_t x = 777;
    uint8_t *buf = malloc(MIB);
    for (int t = 0; t < 200; t++) {
        char err[IMG_ERR_LEN];
        uint8_t *d = malloc(n0);
        struct img *img = NULL;
        memcpy(d, base, n0);
        for (int k = 0; k < 4; k++) {
            x = x * 1103515245 + 12345;
            uint64_t at = (x >> 8) % (t & 1 ? 96 : 31 * S);
            d[at] ^= (uint8_t)(1u << (x & 7));
        }
        if (img_open(mem_with(d, n0), "vmdk", 0, NULL, &img, err) == 0) {
            for (uint64_t off = 0; off + MIB <= img->size && off < 8 * MIB; off += MIB)
                (void)img_read(img, off, buf, MIB);
            struct img_check ck;
            (void)img_check(img, &ck, false);
            img_close(img);
        } else {
            EXPECT(err[0] != 0);
        }
        free(d);
    }
    free(buf);
    free(base);
}

int main(void)
{
    test_rw();
    test_backing();
    test_flat();
    test_stream();
    test_corpus();
    UNIT_DONE();
}
