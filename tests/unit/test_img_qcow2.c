/* Unit tests of the qcow2 driver: read/write model, refcounts, discard, compression, LUKS, backing, crash ordering, corrupt images. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <keel/image.h>
#include "io_host.h"
#include "unit.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void be64w(uint8_t *p, uint64_t v) { for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v; }
static void be32w(uint8_t *p, uint32_t v) { for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v; }
static uint64_t be64r(const uint8_t *p) { uint64_t v = 0; for (int i = 0; i < 8; i++) v = v << 8 | p[i]; return v; }

/* ---- memory images ----------------------------------------------------- */

struct blob { uint8_t *data; size_t len; };

static struct blob *related_blobs[4];
static const char *related_names[4];

static int related(void *ctx, const char *name, bool writable, struct img_io **out);

static struct img_io *mem_from(const struct blob *b)
{
    struct img_io *io;
    if (img_io_mem_new(&io) < 0)
        abort();
    if (b->len && img_io_mem_load(io, b->data, b->len) < 0)
        abort();
    img_io_mem_set_related(io, related, NULL);
    return io;
}

static int related(void *ctx, const char *name, bool writable, struct img_io **out)
{
    (void)ctx; (void)writable;
    for (int i = 0; i < 4; i++)
        if (related_names[i] && !strcmp(related_names[i], name)) {
            *out = mem_from(related_blobs[i]);
            return 0;
        }
    return -ENOENT;
}

static void save(struct img_io *io, struct blob *b)
{
    uint64_t sz;
    const uint8_t *d = img_io_mem_data(io, &sz);
    free(b->data);
    b->data = malloc(sz ? sz : 1);
    if (sz)
        memcpy(b->data, d, sz);
    b->len = sz;
}

static int create(struct blob *b, const struct img_create_opts *o, char *err)
{
    struct img_io *io;
    img_io_mem_new(&io);
    int r = img_create(io, "qcow2", o, err);
    if (r == 0)
        save(io, b);
    else
        fprintf(stderr, "create: %s\n", err);
    io->ops->close(io);
    return r;
}

/* A memory device that copies its content back into a blob on close. */
struct sio { struct img_io io; struct img_io *in; struct blob *dst; };
static int s_pread(struct img_io *io, void *b, size_t l, uint64_t o)
{ struct sio *c = io->priv; return c->in->ops->pread(c->in, b, l, o); }
static int s_pwrite(struct img_io *io, const void *b, size_t l, uint64_t o)
{ struct sio *c = io->priv; return c->in->ops->pwrite(c->in, b, l, o); }
static int s_flush(struct img_io *io)
{ struct sio *c = io->priv; return c->in->ops->flush(c->in); }
static int64_t s_size(struct img_io *io)
{ struct sio *c = io->priv; return c->in->ops->size(c->in); }
static int s_trunc(struct img_io *io, uint64_t s)
{ struct sio *c = io->priv; return c->in->ops->truncate(c->in, s); }
static int s_related(struct img_io *io, const char *name, bool w, struct img_io **out)
{ (void)io; return related(NULL, name, w, out); }
static void s_close(struct img_io *io)
{
    struct sio *c = io->priv;
    if (c->dst)
        save(c->in, c->dst);
    c->in->ops->close(c->in);
    free(c);
}
static const struct img_io_ops sio_ops = { s_pread, s_pwrite, s_flush, s_size, s_trunc, s_related, s_close, NULL };
static struct img_io *inner(struct img_io *io) { return ((struct sio *)io->priv)->in; }

/* Opens a copy of b; an image opened for writing is saved back into b
 * when it is closed. */
static int open_blob(struct blob *b, unsigned flags, const char *secret, struct img **img, char *err)
{
    struct sio *c = calloc(1, sizeof *c);
    c->io.ops = &sio_ops;
    c->io.priv = c;
    c->in = mem_from(b);
    c->dst = (flags & IMG_OPEN_RDWR) ? b : NULL;
    err[0] = 0;
    *img = NULL;
    return img_open(&c->io, "qcow2", flags, secret, img, err);
}

static void close_save(struct img *img, struct blob *b)
{
    (void)b;
    img_close(img);
}

static bool clean(struct img *img)
{
    struct img_check c;
    int r = img_check(img, &c, false);
    if (r < 0 || c.corruptions || c.leaks) {
        fprintf(stderr, "check: r=%d corruptions=%llu leaks=%llu %s\n", r,
                (unsigned long long)c.corruptions, (unsigned long long)c.leaks, c.first_error);
        return false;
    }
    return true;
}

/* ---- a random read/write model ----------------------------------------- */

static void model_run(const struct img_create_opts *o, int ops, bool discard)
{
    struct blob b = { 0 };
    char err[IMG_ERR_LEN];
    struct img *img;
    uint64_t size = o->size;
    uint8_t *model = calloc(1, size), *buf = malloc(300000), *got = malloc(300000);

    EXPECT(create(&b, o, err) == 0);
    EXPECT(open_blob(&b, IMG_OPEN_RDWR, o->encrypt_secret, &img, err) == 0);
    if (!img) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    for (int i = 0; i < ops; i++) {
        uint64_t len = 1 + rnd() % (rnd() % 4 ? 9000 : 300000);
        if (len > size)
            len = size;
        uint64_t off = rnd() % (size - len + 1);
        if (rnd() % 3 == 0)
            off &= ~4095ull;
        int kind = (int)(rnd() % 10);
        if (kind < 6) {
            uint8_t v = (uint8_t)rnd();
            for (uint64_t k = 0; k < len; k++)
                buf[k] = (uint8_t)(v + k / 512);
            EXPECT(img_write(img, off, buf, len) == 0);
            memcpy(model + off, buf, len);
        } else if (kind < 8 || !discard) {
            EXPECT(img_read(img, off, got, len) == 0);
            if (memcmp(got, model + off, len)) {
                fprintf(stderr, "model mismatch at %llu+%llu (cs %u)\n", (unsigned long long)off,
                        (unsigned long long)len, o->cluster_size);
                unit_failures++;
                break;
            }
        } else {
            uint64_t cs = o->cluster_size ? o->cluster_size : 65536;
            EXPECT(img_discard(img, off, len) == 0);
            uint64_t c0 = (off + cs - 1) / cs, c1 = (off + len) / cs;
            for (uint64_t c = c0; c < c1; c++)
                memset(model + c * cs, 0, cs);
        }
    }
    EXPECT(img_flush(img) == 0);
    EXPECT(clean(img));
    close_save(img, &b);
    /* Reopen read-only: everything reads back. */
    EXPECT(open_blob(&b, 0, o->encrypt_secret, &img, err) == 0);
    for (uint64_t off = 0; off < size; off += 262144) {
        uint64_t n = size - off < 262144 ? size - off : 262144;
        EXPECT(img_read(img, off, got, n) == 0);
        if (memcmp(got, model + off, n)) {
            fprintf(stderr, "reopen mismatch at %llu\n", (unsigned long long)off);
            unit_failures++;
            break;
        }
    }
    EXPECT(clean(img));
    img_close(img);
    free(b.data);
    free(model);
    free(buf);
    free(got);
}

static void test_models(void)
{
    static const uint32_t cs[] = { 512, 4096, 65536, 2u << 20 };
    static const unsigned rb[] = { 1, 2, 4, 8, 16, 32, 64 };
    for (unsigned i = 0; i < 4; i++) {
        struct img_create_opts o = { .size = 6 << 20, .cluster_size = cs[i], .compat = 2 };
        model_run(&o, 60, false);
        o.compat = 3;
        model_run(&o, 60, true);
    }
    for (unsigned i = 0; i < 7; i++) {
        struct img_create_opts o = { .size = 3 << 20, .cluster_size = 4096, .refcount_bits = rb[i] };
        model_run(&o, 40, true);
    }
    /* 512-byte clusters with 64-bit refcounts: the refcount table grows. */
    struct img_create_opts g = { .size = 8 << 20, .cluster_size = 512, .refcount_bits = 64 };
    model_run(&g, 40, true);
    struct img_create_opts x = { .size = 4 << 20, .cluster_size = 65536, .extended_l2 = true };
    model_run(&x, 40, true);
    struct img_create_opts l = { .size = 4 << 20, .cluster_size = 4096, .lazy_refcounts = true };
    model_run(&l, 40, true);
    struct img_create_opts e = { .size = 2 << 20, .cluster_size = 4096, .encrypt_format = "luks",
                                 .encrypt_secret = "pw", .encrypt_iter_time_ms = 10 };
    model_run(&e, 40, true);
}

/* ---- compression, backing, LUKS, lazy refcounts ------------------------- */

static void test_compressed(void)
{
    struct blob b = { 0 };
    char err[IMG_ERR_LEN];
    struct img *img;
    struct img_create_opts o = { .size = 1 << 20, .cluster_size = 4096, .refcount_bits = 1 };
    uint8_t buf[16384], got[16384];
    struct img_info info;

    EXPECT(create(&b, &o, err) == 0);
    EXPECT(open_blob(&b, IMG_OPEN_RDWR | IMG_OPEN_COMPRESS, NULL, &img, err) == 0);
    for (int i = 0; i < 16384; i++)
        buf[i] = (uint8_t)(i / 100);
    EXPECT(img_write(img, 0, buf, 16384) == 0);
    for (int i = 0; i < 16384; i++)
        buf[i] = (uint8_t)rnd();                /* incompressible: stored plain */
    EXPECT(img_write(img, 65536, buf, 4096) == 0);
    EXPECT(img_info(img, &info) == 0 && info.compressed_clusters);
    EXPECT(clean(img));
    close_save(img, &b);
    EXPECT(open_blob(&b, IMG_OPEN_RDWR, NULL, &img, err) == 0);
    EXPECT(img_read(img, 65536, got, 4096) == 0 && !memcmp(got, buf, 4096));
    EXPECT(img_read(img, 0, got, 16384) == 0 && got[5000] == 50 && got[16383] == 163);
    /* Overwrite part of a compressed cluster: it becomes a plain one. */
    memset(buf, 0x77, 100);
    EXPECT(img_write(img, 4096 + 10, buf, 100) == 0);
    EXPECT(img_read(img, 4096, got, 4096) == 0 && got[9] == 41 && got[10] == 0x77 && got[110] == 42);
    EXPECT(img_discard(img, 8192, 4096) == 0);
    EXPECT(img_read(img, 8192, got, 4096) == 0 && got[0] == 0 && got[4095] == 0);
    EXPECT(clean(img));
    img_close(img);
    free(b.data);
}

static void test_backing(void)
{
    static struct blob base, top;
    char err[IMG_ERR_LEN];
    struct img *img;
    uint8_t buf[8192], got[80000];

    struct img_create_opts ob = { .size = 1 << 20, .cluster_size = 512, .compat = 2 };
    EXPECT(create(&base, &ob, err) == 0);
    EXPECT(open_blob(&base, IMG_OPEN_RDWR, NULL, &img, err) == 0);
    memset(buf, 0xb0, sizeof buf);
    EXPECT(img_write(img, 0, buf, 8192) == 0);
    EXPECT(img_write(img, 65536, buf, 8192) == 0);
    close_save(img, &base);
    related_names[0] = "base.qcow2";
    related_blobs[0] = &base;

    struct img_create_opts ot = { .size = 2 << 20, .cluster_size = 65536, .backing = "base.qcow2",
                                  .backing_format = "qcow2" };
    EXPECT(create(&top, &ot, err) == 0);
    EXPECT(open_blob(&top, IMG_OPEN_RDWR, NULL, &img, err) == 0);
    if (!img) {
        fprintf(stderr, "open top: %s\n", err);
        return;
    }
    struct img_info info;
    EXPECT(img_info(img, &info) == 0 && !strcmp(info.backing, "base.qcow2") &&
           !strcmp(info.backing_format, "qcow2"));
    memset(buf, 0x70, 100);
    EXPECT(img_write(img, 1000, buf, 100) == 0);          /* COW: rest of the cluster from base */
    EXPECT(img_read(img, 0, got, 80000) == 0);
    EXPECT(got[999] == 0xb0 && got[1000] == 0x70 && got[1100] == 0xb0 && got[8192] == 0 &&
           got[65536] == 0xb0 && got[65536 + 8192] == 0);
    /* Past the end of the smaller backing file: zeros. */
    EXPECT(img_read(img, (1 << 20) + 100, got, 1000) == 0 && got[0] == 0);
    /* Discard in v3 with a backing file: reads zero, not the backing data. */
    EXPECT(img_discard(img, 65536, 65536) == 0);
    EXPECT(img_read(img, 65536, got, 100) == 0 && got[0] == 0);
    EXPECT(clean(img));
    close_save(img, &top);

    /* A backing chain that loops: the image names itself. */
    static struct blob loop;
    struct img_create_opts ol = { .size = 1 << 20, .backing = "loop.qcow2" };
    EXPECT(create(&loop, &ol, err) == 0);
    related_names[1] = "loop.qcow2";
    related_blobs[1] = &loop;
    EXPECT(open_blob(&loop, 0, NULL, &img, err) == -ELOOP);
    EXPECT(strstr(err, "loop") != NULL);
    /* A missing backing file is an error naming it; NO_BACKING opens. */
    struct img_create_opts om = { .size = 1 << 20, .backing = "missing.qcow2" };
    struct blob miss = { 0 };
    EXPECT(create(&miss, &om, err) == 0);
    EXPECT(open_blob(&miss, 0, NULL, &img, err) < 0 && strstr(err, "missing.qcow2"));
    EXPECT(open_blob(&miss, IMG_OPEN_NO_BACKING, NULL, &img, err) == 0);
    img_close(img);
    free(miss.data);
}

static void test_luks(void)
{
    struct blob b = { 0 };
    char err[IMG_ERR_LEN];
    struct img *img;
    struct img_create_opts o = { .size = 1 << 20, .encrypt_format = "luks", .encrypt_secret = "s3cret",
                                 .encrypt_iter_time_ms = 10 };
    uint8_t buf[4096], got[4096];
    EXPECT(create(&b, &o, err) == 0);
    EXPECT(open_blob(&b, IMG_OPEN_RDWR, "s3cret", &img, err) == 0);
    memset(buf, 0x3c, sizeof buf);
    EXPECT(img_write(img, 12345, buf, sizeof buf) == 0);
    struct img_info info;
    EXPECT(img_info(img, &info) == 0 && info.encrypted);
    close_save(img, &b);
    /* The plaintext is nowhere in the file. */
    bool found = false;
    for (size_t i = 0; i + 64 <= b.len && !found; i += 64) {
        size_t k = 0;
        while (k < 64 && b.data[i + k] == 0x3c)
            k++;
        found = k == 64;
    }
    EXPECT(!found);
    EXPECT(open_blob(&b, 0, "s3cret", &img, err) == 0);
    EXPECT(img_read(img, 12345, got, sizeof got) == 0 && !memcmp(got, buf, sizeof got));
    img_close(img);
    EXPECT(open_blob(&b, 0, "wrong", &img, err) == -EACCES && strstr(err, "passphrase"));
    EXPECT(open_blob(&b, 0, NULL, &img, err) == -EACCES && strstr(err, "passphrase"));
    free(b.data);
}

static void test_lazy_dirty(void)
{
    struct blob b = { 0 };
    char err[IMG_ERR_LEN];
    struct img *img;
    struct img_create_opts o = { .size = 1 << 20, .cluster_size = 4096, .lazy_refcounts = true };
    uint8_t buf[4096] = { 1 };
    EXPECT(create(&b, &o, err) == 0);
    EXPECT(open_blob(&b, IMG_OPEN_RDWR, NULL, &img, err) == 0);
    EXPECT(img_write(img, 0, buf, sizeof buf) == 0);
    /* Copy the file while open: the dirty bit is set. */
    struct blob snap = { 0 };
    save(inner(img->io), &snap);
    EXPECT(snap.len > 80 && (snap.data[79] & 1));
    close_save(img, &b);
    EXPECT(!(b.data[79] & 1));                          /* cleared on close */
    /* Dirty and with a wrong refcount: opening it for writing repairs it. */
    uint64_t rct = be64r(snap.data + 48), blk = be64r(snap.data + rct) & ~511ull;
    snap.data[blk + 2 * 5 + 1] = 7;                     /* cluster 5: refcount 7 */
    EXPECT(open_blob(&snap, 0, NULL, &img, err) == 0);
    struct img_info info;
    EXPECT(img_info(img, &info) == 0 && info.dirty);
    struct img_check c;
    EXPECT(img_check(img, &c, false) == 0 && c.leaks >= 1);
    img_close(img);
    EXPECT(open_blob(&snap, IMG_OPEN_RDWR, NULL, &img, err) == 0);
    EXPECT(clean(img));
    img_close(img);
    free(b.data);
    free(snap.data);
}

static void test_leak_repair(void)
{
    struct blob b = { 0 };
    char err[IMG_ERR_LEN];
    struct img *img;
    struct img_create_opts o = { .size = 1 << 20, .cluster_size = 4096 };
    EXPECT(create(&b, &o, err) == 0);
    uint64_t rct = be64r(b.data + 48), blk = be64r(b.data + rct) & ~511ull;
    b.data[blk + 2 * 40 + 1] = 1;                       /* cluster 40: leaked */
    b.data[blk + 2 * 41 + 1] = 1;
    EXPECT(open_blob(&b, IMG_OPEN_RDWR, NULL, &img, err) == 0);
    struct img_check c;
    EXPECT(img_check(img, &c, false) == 0 && c.leaks == 2 && c.corruptions == 0);
    EXPECT(img_check(img, &c, true) == 0 && c.repaired == 2);
    EXPECT(clean(img));
    img_close(img);
    free(b.data);
}

/* Regression (found by make fuzz): a refcount table whose every entry
 * points at the one refcount block made check scan (entries x block)
 * refcounts past the end of the file: 33 s for a 220 KB input.  Each
 * block past the end is now scanned once. */
static void test_shared_refblock(void)
{
    struct blob b = { 0 };
    char err[IMG_ERR_LEN];
    struct img *img;
    struct img_create_opts o = { .size = 1 << 20, .cluster_size = 65536, .compat = 3 };
    EXPECT(create(&b, &o, err) == 0);
    uint64_t rct = be64r(b.data + 48), blk = be64r(b.data + rct);
    for (uint64_t i = 1; i < 65536 / 8; i++)
        be64w(b.data + rct + 8 * i, blk);
    clock_t t0 = clock();
    EXPECT(open_blob(&b, 0, NULL, &img, err) == 0);
    struct img_check c;
    if (img) {
        EXPECT(img_check(img, &c, false) == 0 && c.corruptions > 0);
        img_close(img);
    }
    EXPECT((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
    free(b.data);
}

/* ---- crash ordering: the device stops after N writes ---------------------- */

struct cio { struct img_io io; struct img_io *in; long left; };
static int c_pread(struct img_io *io, void *b, size_t l, uint64_t o)
{ struct cio *c = io->priv; return c->in->ops->pread(c->in, b, l, o); }
static int c_pwrite(struct img_io *io, const void *b, size_t l, uint64_t o)
{ struct cio *c = io->priv; if (c->left <= 0) return -EIO; c->left--; return c->in->ops->pwrite(c->in, b, l, o); }
static int c_flush(struct img_io *io)
{ struct cio *c = io->priv; return c->left <= 0 ? -EIO : c->in->ops->flush(c->in); }
static int64_t c_size(struct img_io *io)
{ struct cio *c = io->priv; return c->in->ops->size(c->in); }
static int c_trunc(struct img_io *io, uint64_t s)
{ struct cio *c = io->priv; return c->in->ops->truncate(c->in, s); }
static void c_close(struct img_io *io) { (void)io; }
static const struct img_io_ops cio_ops = { c_pread, c_pwrite, c_flush, c_size, c_trunc, NULL, c_close, NULL };

static void test_crash(unsigned cs, bool ext, unsigned rbits, uint64_t stride, size_t wlen, long step)
{
    struct blob b = { 0 };
    char err[IMG_ERR_LEN];
    struct img_create_opts o = { .size = 6 * stride + 10000, .cluster_size = cs, .extended_l2 = ext,
                                 .refcount_bits = rbits };
    EXPECT(create(&b, &o, err) == 0);
    uint8_t *buf = malloc(wlen), *got = malloc(wlen);
    int completed = 0;
    for (long n = 0; n < 100000 && !completed; n += step) {
        struct img_io *mem = mem_from(&b);
        struct cio c = { .io = { &cio_ops, &c }, .in = mem, .left = n };
        struct img *img;
        EXPECT(img_open(&c.io, "qcow2", IMG_OPEN_RDWR, NULL, &img, err) == 0);
        int acked = 0, r = 0;
        for (int w = 0; w < 6 && r == 0; w++) {
            memset(buf, 0x10 + w, wlen);
            r = img_write(img, (uint64_t)w * stride + 333, buf, wlen);
            if (r == 0 && (r = img_flush(img)) == 0)
                acked = w + 1;
        }
        completed = r == 0;
        /* The crashed image: no corruption; flushed writes read back. */
        struct blob after = { 0 };
        img_close(img);                     /* its late writes fail too */
        save(mem, &after);
        mem->ops->close(mem);
        struct img *chk;
        EXPECT(open_blob(&after, 0, NULL, &chk, err) == 0);
        struct img_check res;
        EXPECT(img_check(chk, &res, false) == 0 && res.corruptions == 0);
        for (int w = 0; w < acked; w++) {
            EXPECT(img_read(chk, (uint64_t)w * stride + 333, got, wlen) == 0);
            EXPECT(got[0] == 0x10 + w && got[wlen - 1] == 0x10 + w);
        }
        /* Unacknowledged writes read as old (zero) or new, nothing else. */
        for (int w = acked; w < 6; w++) {
            EXPECT(img_read(chk, (uint64_t)w * stride + 333, got, wlen) == 0);
            for (size_t k = 0; k < wlen; k++)
                if (got[k] != 0 && got[k] != 0x10 + w) {
                    fprintf(stderr, "crash n=%ld: stale byte %#x\n", n, got[k]);
                    unit_failures++;
                    break;
                }
        }
        img_close(chk);
        free(after.data);
    }
    EXPECT(completed);
    free(b.data);
    free(buf);
    free(got);
}

/* ---- corrupt images ------------------------------------------------------ */

static struct blob good;

static void corrupt(const char *what, void (*mut)(struct blob *), int want, const char *msg)
{
    struct blob b = { malloc(good.len), good.len };
    char err[IMG_ERR_LEN];
    struct img *img = NULL;
    memcpy(b.data, good.data, good.len);
    mut(&b);
    int r = open_blob(&b, 0, NULL, &img, err);
    if (r != want || (msg && !strstr(err, msg))) {
        fprintf(stderr, "corrupt image '%s': got %d '%s', want %d '%s'\n", what, r, err, want, msg ? msg : "");
        unit_failures++;
    }
    if (r == 0) {
        /* Opened: reading everything and checking must not crash. */
        uint8_t *buf = malloc(1 << 20);
        (void)img_read(img, 0, buf, 1 << 20);
        struct img_check c;
        (void)img_check(img, &c, false);
        img_close(img);
        free(buf);
    }
    free(b.data);
}

static uint64_t l1off(struct blob *b) { return be64r(b->data + 40); }
static uint64_t l2off(struct blob *b) { return be64r(b->data + l1off(b)) & 0x00fffffffffffe00ull; }

static void m_trunc(struct blob *b) { b->len = 50; }
static void m_magic(struct blob *b) { b->data[0] = 'X'; }
static void m_version(struct blob *b) { be32w(b->data + 4, 4); }
static void m_cbits(struct blob *b) { be32w(b->data + 20, 31); }
static void m_cbits_lo(struct blob *b) { be32w(b->data + 20, 8); }
static void m_l1_past(struct blob *b) { be64w(b->data + 40, 1ull << 40); }
static void m_rct_past(struct blob *b) { be64w(b->data + 48, 1ull << 40); }
static void m_rct_huge(struct blob *b) { be32w(b->data + 56, 0xffffffffu); }
static void m_rcorder(struct blob *b) { be32w(b->data + 96, 7); }
static void m_size(struct blob *b) { be64w(b->data + 24, ~0ull); }
static void m_l1_small(struct blob *b) { be64w(b->data + 24, 1ull << 40); }
static void m_l1_huge(struct blob *b) { be32w(b->data + 36, 0x10000000u); }
static void m_incompat(struct blob *b) { b->data[79] |= 0x80; }
static void m_ext_len(struct blob *b) { be32w(b->data + 112, 0x12345678u); be32w(b->data + 116, 0xfffffff0u); }
static void m_l1_entry(struct blob *b) { be64w(b->data + l1off(b), (1ull << 40) | (1ull << 63)); }
static void m_l1_misal(struct blob *b) { be64w(b->data + l1off(b), l2off(b) + 512); }
static void m_rct_entry(struct blob *b) { uint64_t r = be64r(b->data + 48); be64w(b->data + r, 1ull << 45); }
static void m_l2_entry(struct blob *b) { be64w(b->data + l2off(b), (1ull << 63) | (1ull << 44)); }
static void m_compr(struct blob *b) { be64w(b->data + l2off(b) + 8, (1ull << 62) | (3ull << 54) | (b->len + 100)); }
static void m_compr_bad(struct blob *b) { be64w(b->data + l2off(b) + 8, (1ull << 62) | 4096); }
static void m_backname(struct blob *b) { be64w(b->data + 8, 60000); be32w(b->data + 16, 9000); }
static void m_crypt(struct blob *b) { be32w(b->data + 32, 2); }
static void m_crypt_aes(struct blob *b) { be32w(b->data + 32, 1); }
static void m_hdrlen(struct blob *b) { be32w(b->data + 100, 1u << 30); }
static void m_shared(struct blob *b) { be64w(b->data + l1off(b) + 8, be64r(b->data + l1off(b))); }
static void m_rc_over(struct blob *b)
{
    /* refcount_bits=1 cannot count a cluster that two L1 entries share. */
    be32w(b->data + 96, 0);
    m_shared(b);
}

static void test_corrupt(void)
{
    char err[IMG_ERR_LEN];
    struct img *img;
    /* 4 KiB clusters, 1 MiB: L1 has one entry (needs 2 for m_shared: use 2 MiB). */
    struct img_create_opts o = { .size = 4 << 20, .cluster_size = 4096 };
    EXPECT(create(&good, &o, err) == 0);
    EXPECT(open_blob(&good, IMG_OPEN_RDWR, NULL, &img, err) == 0);
    uint8_t buf[8192];
    memset(buf, 0x5e, sizeof buf);
    EXPECT(img_write(img, 0, buf, sizeof buf) == 0);
    EXPECT(img_write(img, 2 << 20, buf, 4096) == 0);
    close_save(img, &good);

    corrupt("truncated header", m_trunc, -EINVAL, "too short");
    corrupt("bad magic", m_magic, -EINVAL, "magic");
    corrupt("unsupported version", m_version, -ENOTSUP, "version");
    corrupt("cluster_bits too large", m_cbits, -EINVAL, "cluster_bits");
    corrupt("cluster_bits too small", m_cbits_lo, -EINVAL, "cluster_bits");
    corrupt("L1 table past the end", m_l1_past, -EINVAL, "L1 table");
    corrupt("refcount table past the end", m_rct_past, -EINVAL, "refcount table");
    corrupt("refcount table absurdly large", m_rct_huge, -EINVAL, "refcount table");
    corrupt("refcount_order out of range", m_rcorder, -EINVAL, "refcount_order");
    corrupt("size overflow", m_size, -EFBIG, "virtual size");
    corrupt("L1 too small for the size", m_l1_small, -EINVAL, "too small");
    corrupt("L1 size absurd", m_l1_huge, -EFBIG, "L1 table too large");
    corrupt("unknown incompatible feature", m_incompat, -ENOTSUP, "incompatible");
    corrupt("bad header extension length", m_ext_len, -EINVAL, "header extension");
    corrupt("L1 entry past the end", m_l1_entry, -EINVAL, "L1 entry");
    corrupt("L1 entry misaligned", m_l1_misal, -EINVAL, "L1 entry");
    corrupt("refcount block past the end", m_rct_entry, -EINVAL, "refcount table entry");
    corrupt("backing name outside the header", m_backname, -EINVAL, "backing file name");
    corrupt("LUKS without its header extension", m_crypt, -EINVAL, "LUKS header");
    corrupt("legacy AES", m_crypt_aes, -ENOTSUP, "AES");
    corrupt("header_length absurd", m_hdrlen, -EINVAL, "header_length");
    /* These open; the damage shows on read and in check. */
    corrupt("L2 entry past the end", m_l2_entry, 0, NULL);
    corrupt("compressed cluster past the end", m_compr, 0, NULL);
    corrupt("compressed cluster with garbage", m_compr_bad, 0, NULL);
    corrupt("shared L2 table", m_shared, 0, NULL);
    corrupt("refcount overflow (1-bit refcounts, shared cluster)", m_rc_over, 0, NULL);

    struct blob b = { malloc(good.len), good.len };
    struct img_check c;
    uint8_t got[4096];
    memcpy(b.data, good.data, good.len);
    m_l2_entry(&b);
    EXPECT(open_blob(&b, 0, NULL, &img, err) == 0);
    EXPECT(img_read(img, 0, got, 4096) == -EIO);
    EXPECT(img_check(img, &c, false) == 0 && c.corruptions >= 1 && strstr(c.first_error, "past the end"));
    img_close(img);
    memcpy(b.data, good.data, good.len);
    m_compr_bad(&b);
    EXPECT(open_blob(&b, 0, NULL, &img, err) == 0);
    EXPECT(img_read(img, 4096, got, 4096) == -EIO);
    img_close(img);
    memcpy(b.data, good.data, good.len);
    m_rc_over(&b);
    EXPECT(open_blob(&b, 0, NULL, &img, err) == 0);
    EXPECT(img_check(img, &c, false) == 0 && c.corruptions >= 1);
    img_close(img);
    free(b.data);

    /* Random damage to the metadata clusters: never a crash. */
    for (int i = 0; i < 1500; i++) {
        struct blob d = { malloc(good.len), good.len };
        memcpy(d.data, good.data, good.len);
        int flips = 1 + (int)(rnd() % 8);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)(rnd() % (i % 2 ? 128 : (d.len < 65536 ? d.len : 65536)));
            d.data[at] ^= (uint8_t)(1u << (rnd() % 8));
        }
        if (open_blob(&d, IMG_OPEN_RDWR, NULL, &img, err) == 0) {
            uint8_t *big = malloc(1 << 16);
            (void)img_read(img, rnd() % (1 << 20), big, 1 << 16);
            (void)img_write(img, rnd() % (1 << 20), got, 4096);
            (void)img_check(img, &c, false);
            img_close(img);
            free(big);
        }
        free(d.data);
    }
}

int main(void)
{
    test_models();
    test_compressed();
    test_backing();
    test_luks();
    test_lazy_dirty();
    test_leak_repair();
    test_shared_refblock();
    test_crash(4096, false, 16, 150000, 9000, 1);
    test_crash(512, false, 16, 150000, 9000, 1);
    test_crash(65536, true, 16, 150000, 9000, 1);
    /* 64-bit refcounts on 512-byte clusters: more than 2 MiB of file needs
     * new refcount blocks and a larger refcount table (every 29th N). */
    test_crash(512, false, 64, 700000, 450000, 29);
    test_corrupt();
    free(good.data);
    UNIT_DONE();
}
