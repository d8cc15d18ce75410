/* Unit tests of the vhd driver: fixed, dynamic and differencing disks in
 * memory, write ordering, and a corpus of corrupt images. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <keel/image.h>
#include "io_host.h"
#include "unit.h"

#define MIB (1024 * 1024)

/* The named images a memory device can open as related files. */
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
            return img_io_mem_load(*out, files[i].data, files[i].size);
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

/* Copies out a memory device's content. */
static uint8_t *snapshot(struct img_io *io, uint64_t *size)
{
    const uint8_t *d = img_io_mem_data(io, size);
    uint8_t *c = malloc(*size ? *size : 1);
    memcpy(c, d, *size);
    return c;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, v >> 32);
    put32(p + 4, (uint32_t)v);
}

static void fix_sum(uint8_t *p, size_t len, size_t at)
{
    uint32_t s = 0;
    for (size_t i = 0; i < len; i++)
        if (i < at || i >= at + 4)
            s += p[i];
    put32(p + at, ~s);
}

/* Fixes the checksums of both footers and the dynamic header. */
static void fix_all(uint8_t *d, uint64_t size)
{
    fix_sum(d, 512, 64);
    fix_sum(d + 512, 1024, 36);
    fix_sum(d + size - 512, 512, 64);
}

static void pattern(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

/* Makes a dynamic (or fixed) image of size bytes with two writes in it. */
static uint8_t *make_image(const char *sub, uint64_t size, uint64_t *out_size)
{
    char err[IMG_ERR_LEN];
    struct img_create_opts o = { .size = size, .subformat = sub };
    struct img_io *io = mem_with(NULL, 0);
    struct img *img;
    uint8_t buf[5000];

    EXPECT(img_create(io, "vhd", &o, err) == 0);
    uint8_t *c = snapshot(io, out_size);
    io->ops->close(io);
    io = mem_with(c, *out_size);
    free(c);
    EXPECT(img_open(io, "vhd", IMG_OPEN_RDWR, NULL, &img, err) == 0);
    pattern(buf, sizeof buf, 1);
    EXPECT(img_write(img, 1000, buf, sizeof buf) == 0);
    EXPECT(img_write(img, 2 * MIB + 512, buf, 4096) == 0);
    EXPECT(img_flush(img) == 0);
    c = snapshot(img->io, out_size);
    img_close(img);
    return c;
}

static void test_rw(const char *sub)
{
    char err[IMG_ERR_LEN];
    uint64_t n;
    uint8_t *d = make_image(sub, 5 * MIB, &n);
    struct img *img;
    uint8_t want[5000], got[8192];

    EXPECT(img_open(mem_with(d, n), "vhd", 0, NULL, &img, err) == 0);
    free(d);
    /* rounded up to a CHS geometry, as qemu-img does */
    EXPECT(img->size >= 5 * MIB && img->size % 512 == 0);
    pattern(want, sizeof want, 1);
    EXPECT(img_read(img, 1000, got, 5000) == 0 && memcmp(got, want, 5000) == 0);
    EXPECT(img_read(img, 2 * MIB + 512, got, 4096) == 0 && memcmp(got, want, 4096) == 0);
    memset(want, 0, sizeof want);
    EXPECT(img_read(img, 0, got, 1000) == 0 && memcmp(got, want, 1000) == 0);
    EXPECT(img_read(img, 6000, got, 8192) == 0 && memcmp(got, want, 4096) == 0);
    EXPECT(img_read(img, 2 * MIB - 4096, got, 4096 + 512) == 0 &&
           memcmp(got, want, 4096 + 512) == 0);
    struct img_check ck;
    EXPECT(img_check(img, &ck, false) == 0 && ck.corruptions == 0 && ck.leaks == 0);
    struct img_info info;
    EXPECT(img_info(img, &info) == 0 && strcmp(info.subformat, sub) == 0);
    img_close(img);
}

/* Every allocating write flushes before its BAT entry: no BAT sector is
 * written before the block's bitmap and data. */
static void test_ordering(void)
{
    char err[IMG_ERR_LEN];
    uint64_t n;
    uint8_t *d = make_image("dynamic", 8 * MIB, &n);
    struct img_io *io = mem_with(d, n);
    struct img *img;
    uint8_t buf[512];
    uint64_t w0, f0, w1, f1;

    free(d);
    EXPECT(img_open(io, "vhd", IMG_OPEN_RDWR, NULL, &img, err) == 0);
    img_io_mem_stats(io, &w0, &f0);
    memset(buf, 0xab, sizeof buf);
    EXPECT(img_write(img, 6 * MIB, buf, sizeof buf) == 0);
    img_io_mem_stats(io, &w1, &f1);
    /* footer, data, bitmap, flush, BAT */
    EXPECT(w1 - w0 == 4 && f1 - f0 == 1);
    EXPECT(img_write(img, 6 * MIB + 4096, buf, sizeof buf) == 0);
    img_io_mem_stats(io, &w0, &f0);
    EXPECT(w0 - w1 == 1 && f0 == f1);   /* allocated, all-present block */
    img_close(img);
}

static uint8_t *parent_data;
static uint64_t parent_size;

static void test_differencing(void)
{
    char err[IMG_ERR_LEN];
    struct img_create_opts o = { .backing = "parent.vhd", .backing_format = "vhd" };
    struct img_io *io;
    struct img *img;
    uint8_t want[8192], got[8192], w[700];
    uint64_t n;

    parent_data = make_image("dynamic", 5 * MIB, &parent_size);
    files[0].name = "parent.vhd";
    files[0].data = parent_data;
    files[0].size = parent_size;
    io = mem_with(NULL, 0);
    EXPECT(img_create(io, "vhd", &o, err) == 0);
    uint8_t *c = snapshot(io, &n);
    io->ops->close(io);
    EXPECT(img_open(mem_with(c, n), "vhd", IMG_OPEN_RDWR, NULL, &img, err) == 0);
    free(c);
    if (!img)
        return;
    EXPECT(img->backing != NULL);
    /* Unaligned write inside the parent's data: the partial sectors keep
     * the parent's bytes. */
    memset(w, 0x5a, sizeof w);
    EXPECT(img_write(img, 1300, w, sizeof w) == 0);
    memset(want, 0, sizeof want);
    pattern(want + 1000, 5000, 1);
    memcpy(want + 1300, w, sizeof w);
    EXPECT(img_read(img, 0, got, 8192) == 0 && memcmp(got, want, 8192) == 0);
    /* A second write in the same block sets more bitmap bits. */
    EXPECT(img_write(img, 4000, w, 100) == 0);
    memcpy(want + 4000, w, 100);
    EXPECT(img_read(img, 0, got, 8192) == 0 && memcmp(got, want, 8192) == 0);
    struct img_info info;
    EXPECT(img_info(img, &info) == 0 && strcmp(info.backing, "parent.vhd") == 0 &&
           strcmp(info.subformat, "differencing") == 0);
    c = snapshot(img->io, &n);
    img_close(img);

    /* Reopen: the bitmap decides, sector by sector. */
    EXPECT(img_open(mem_with(c, n), "vhd", 0, NULL, &img, err) == 0);
    if (img) {
        EXPECT(img_read(img, 0, got, 8192) == 0 && memcmp(got, want, 8192) == 0);
        img_close(img);
    }
    /* A parent that is not the one the child was made from. */
    uint64_t n2;
    uint8_t *other = make_image("dynamic", 5 * MIB, &n2);
    files[0].data = other;
    files[0].size = n2;
    EXPECT(img_open(mem_with(c, n), "vhd", 0, NULL, &img, err) == -EINVAL);
    EXPECT(strstr(err, "unique id") != NULL);
    files[0].data = parent_data;
    files[0].size = parent_size;
    free(other);

    /* A child whose parent locator names the child itself: a loop. */
    files[1].name = "self.vhd";
    files[1].data = c;
    files[1].size = n;
    uint64_t loc = (uint64_t)be32(c + 512 + 576 + 16) << 32 | be32(c + 512 + 576 + 20);
    uint32_t len = be32(c + 512 + 576 + 8);
    /* ".\parent.vhd" -> ".\self.vhd" in UTF-16LE */
    const char *nm = ".\\self.vhd";
    memset(c + loc, 0, len);
    for (size_t i = 0; nm[i]; i++)
        c[loc + 2 * i] = (uint8_t)nm[i];
    put32(c + 512 + 576 + 8, (uint32_t)(2 * strlen(nm)));
    fix_sum(c + 512, 1024, 36);
    EXPECT(img_open(mem_with(c, n), "vhd", 0, NULL, &img, err) == -ELOOP);
    EXPECT(strstr(err, "loop") != NULL);
    files[1].name = NULL;
    free(c);
}

/* ---- The corrupt corpus ----------------------------------------------- */

struct corrupt {
    const char *what, *expect;          /* expected words in the error */
    void (*mutate)(uint8_t *d, uint64_t *n);
};

static void m_trunc_small(uint8_t *d, uint64_t *n) { (void)d; *n = 300; }
static void m_trunc_half(uint8_t *d, uint64_t *n) { (void)d; *n = 2048 + 4096; }
static void m_cookies(uint8_t *d, uint64_t *n) { d[0] = 'X'; d[*n - 512] = 'X'; }
static void m_footer_sum(uint8_t *d, uint64_t *n) { d[48] ^= 1; d[*n - 512 + 48] ^= 1; }
static void m_header_sum(uint8_t *d, uint64_t *n) { (void)n; d[512 + 100] ^= 1; }
static void m_header_cookie(uint8_t *d, uint64_t *n) { d[512] = 'X'; fix_all(d, *n); }
static void m_bat_past(uint8_t *d, uint64_t *n) { (void)n; put32(d + 1536, 0x7fffff00); }
static void m_bat_meta(uint8_t *d, uint64_t *n) { (void)n; put32(d + 1536, 2); }
static void m_entries_small(uint8_t *d, uint64_t *n) { put32(d + 512 + 28, 1); fix_all(d, *n); }
static void m_entries_huge(uint8_t *d, uint64_t *n) { put32(d + 512 + 28, 0xffffffff); fix_all(d, *n); }
static void m_block_size(uint8_t *d, uint64_t *n) { put32(d + 512 + 32, 3000); fix_all(d, *n); }
static void m_size_absurd(uint8_t *d, uint64_t *n)
{
    /* maximal CHS: the footer's current size counts; make it 2^62 */
    put32(d + 56, 0xffff10ff);
    put64(d + 48, 1ull << 62);
    memcpy(d + *n - 512, d, 512);
    fix_all(d, *n);
    memcpy(d + *n - 512, d, 512);
}
static void m_type(uint8_t *d, uint64_t *n) { put32(d + 60, 7); memcpy(d + *n - 512, d, 512); fix_all(d, *n); }
static void m_bat_off(uint8_t *d, uint64_t *n) { put64(d + 512 + 16, 1ull << 40); fix_all(d, *n); }
static void m_hdr_off(uint8_t *d, uint64_t *n)
{
    put64(d + 16, 1ull << 50);
    memcpy(d + *n - 512, d, 512);
    fix_all(d, *n);
    memcpy(d + *n - 512, d, 512);
}

static const struct corrupt corpus[] = {
    { "truncated footer", "too short", m_trunc_small },
    { "truncated blocks", "past the end", m_trunc_half },
    { "bad cookies", "cookie", m_cookies },
    { "bad footer checksum", "checksum", m_footer_sum },
    { "bad header checksum", "checksum", m_header_sum },
    { "bad header cookie", "cxsparse", m_header_cookie },
    { "BAT entry past the end", "BAT entry 0 points past the end", m_bat_past },
    { "BAT entry over the metadata", "overlaps", m_bat_meta },
    { "max_table_entries too small", "BAT too small", m_entries_small },
    { "max_table_entries absurd", "absurd BAT", m_entries_huge },
    { "bad block size", "block size", m_block_size },
    { "absurd disk size", "absurd disk size", m_size_absurd },
    { "unknown disk type", "disk type", m_type },
    { "BAT offset past the end", "BAT", m_bat_off },
    { "header offset past the end", "dynamic header offset", m_hdr_off },
};

static void test_corpus(void)
{
    uint64_t n0;
    uint8_t *base = make_image("dynamic", 5 * MIB, &n0);

    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        char err[IMG_ERR_LEN] = "";
        uint8_t *d = malloc(n0);
        uint64_t n = n0;
        struct img *img = NULL;
        memcpy(d, base, n0);
        corpus[i].mutate(d, &n);
        int r = img_open(mem_with(d, n), "vhd", 0, NULL, &img, err);
        if (r >= 0 || !strstr(err, corpus[i].expect)) {
            fprintf(stderr, "corpus '%s': r=%d err='%s' (expected '%s')\n",
                    corpus[i].what, r, err, corpus[i].expect);
            unit_failures++;
        }
        if (img)
            img_close(img);
        free(d);
    }

    /* Two BAT entries on one block: opens, check reports it. */
    {
        char err[IMG_ERR_LEN];
        uint8_t *d = malloc(n0);
        struct img *img;
        struct img_check ck;
        memcpy(d, base, n0);
        memcpy(d + 1536 + 8, d + 1536, 4);
        EXPECT(img_open(mem_with(d, n0), "vhd", 0, NULL, &img, err) == 0);
        EXPECT(img_check(img, &ck, false) == 0 && ck.corruptions == 1 &&
               strstr(ck.first_error, "overlapping"));
        img_close(img);
        free(d);
    }

    /* Random damage to the metadata: never a crash, always clean. */
    uint32_t x = 12345;
    uint8_t *buf = malloc(1 << 20);
    for (int t = 0; t < 200; t++) {
        char err[IMG_ERR_LEN];
        uint8_t *d = malloc(n0);
        struct img *img = NULL;
        memcpy(d, base, n0);
        for (int k = 0; k < 4; k++) {
            x = x * 1103515245 + 12345;
            uint64_t at = (x >> 8) % 2048;
            if (t & 1)
                at = n0 - 512 + at % 512;
            d[at] ^= (uint8_t)(1u << (x & 7));
        }
        if (t % 3 == 0)
            fix_all(d, n0);
        if (img_open(mem_with(d, n0), "vhd", 0, NULL, &img, err) == 0) {
            for (uint64_t off = 0; off + (1 << 20) <= img->size; off += 1 << 20)
                (void)img_read(img, off, buf, 1 << 20);
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

/* Sizes round to the CHS geometry exactly as qemu-img does. */
static void test_sizes(void)
{
    static const struct { uint64_t want, got; } t[] = {
        { 10 * MIB, 10514432 },         /* qemu-img create -f vpc x 10M */
        { 3 * MIB, 3168256 },
        { 100 * MIB, 104865792 },
        { 1024ull * MIB, 1073995776 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char err[IMG_ERR_LEN];
        struct img_create_opts o = { .size = t[i].want };
        struct img_io *io = mem_with(NULL, 0);
        struct img *img;
        EXPECT(img_create(io, "vhd", &o, err) == 0);
        EXPECT(img_open(io, "vhd", 0, NULL, &img, err) == 0);
        if (img) {
            EXPECT(img->size == t[i].got);
            img_close(img);
        }
    }
}

int main(void)
{
    test_rw("dynamic");
    test_rw("fixed");
    test_ordering();
    test_differencing();
    test_corpus();
    test_sizes();
    free(parent_data);
    UNIT_DONE();
}
