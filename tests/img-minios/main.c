/* Guest test: the image library in the unikernel — a qcow2 image in memory with compressed and LUKS-encrypted clusters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/image.h>
#include "memio.h"
#include "report.h"

#define IMG_SIZE  (4u << 20)
#define DEV_LIMIT (16u << 20)

/* Entropy for LUKS key creation: RDRAND where the CPU has it, mixed with
 * the TSC.  NOT a vetted source (no health tests, RDRAND trusted as is,
 * the TSC is predictable): good enough for a test, not for real keys. */
static bool have_rdrand(void)
{
    uint32_t a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return c & (1u << 30);
}

static int entropy(void *ctx, void *buf, size_t len)
{
    uint8_t *p = buf;
    bool rd = *(bool *)ctx;
    while (len) {
        uint64_t v = 0, t;
        uint32_t lo, hi;
        unsigned char ok = 0;
        if (rd)
            for (int i = 0; i < 10 && !ok; i++)
                __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        t = (uint64_t)hi << 32 | lo;
        v ^= t * 0x9e3779b97f4a7c15ull;
        size_t n = len < 8 ? len : 8;
        memcpy(p, &v, n);
        p += n;
        len -= n;
    }
    return 0;
}

/* A cluster of compressible data that differs by cluster. */
static void pattern(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)((i / 64) * 7 + seed);
}

static struct img *open_img(struct img_io *io, unsigned flags, const char *secret)
{
    struct img *img;
    char err[IMG_ERR_LEN];
    int r = img_open(io, "qcow2", flags, secret, &img, err);
    if (r < 0) {
        test_fail("open: %s", err);
        return NULL;
    }
    return img;
}

/* Writes nc whole clusters (every other one of the image's first ones),
 * closes, reopens read-only, reads them back and checks the image. */
static void round_trip(const char *what, uint32_t cs, const char *secret, unsigned flags,
                       bool want_compressed)
{
    struct img_io *io = memio_new(DEV_LIMIT, true);
    uint8_t *buf = malloc(cs), *back = malloc(cs);
    char err[IMG_ERR_LEN];
    struct img_create_opts o = { .size = IMG_SIZE, .cluster_size = cs, .compat = 3 };
    const unsigned nc = 8;

    if (!io || !buf || !back) {
        test_error("%s: out of memory", what);
        goto out;
    }
    if (secret) {
        o.encrypt_format = "luks";
        o.encrypt_secret = secret;
        o.encrypt_iter_time_ms = 1;     /* 1000 PBKDF2 iterations */
    }
    if (img_create(io, "qcow2", &o, err) < 0) {
        test_fail("%s: create: %s", what, err);
        goto out;
    }
    struct img *img = open_img(io, IMG_OPEN_RDWR | flags, secret);
    if (!img)
        goto out;
    for (unsigned i = 0; i < nc; i++) {
        pattern(buf, cs, i + 1);
        int r = img_write(img, (uint64_t)(2 * i) * cs, buf, cs);
        if (r < 0)
            test_fail("%s: write of cluster %u: error %d", what, 2 * i, r);
    }
    /* A partial write into an already written cluster. */
    memset(buf, 0xee, 100);
    if (img_write(img, 3 * 512, buf, 100) < 0)
        test_fail("%s: partial write", what);
    if (img_flush(img) < 0)
        test_fail("%s: flush", what);
    img_close(img);

    if (!(img = open_img(io, 0, secret)))
        goto out;
    struct img_info info;
    struct img_check ck;
    if (img_info(img, &info) < 0 || info.encrypted != (secret != NULL))
        test_fail("%s: info says encrypted=%d", what, info.encrypted);
    if (want_compressed && !info.compressed_clusters)
        test_fail("%s: no compressed clusters", what);
    if (img_check(img, &ck, false) < 0 || ck.corruptions)
        test_fail("%s: check: %llu corruptions (%s)", what,
                  (unsigned long long)ck.corruptions, ck.first_error);
    for (unsigned i = 0; i < 2 * nc; i++) {
        if (img_read(img, (uint64_t)i * cs, back, cs) < 0) {
            test_fail("%s: read of cluster %u", what, i);
            continue;
        }
        if (i % 2)
            memset(buf, 0, cs);
        else
            pattern(buf, cs, i / 2 + 1);
        if (i == 0)
            memset(buf + 3 * 512, 0xee, 100);
        if (memcmp(buf, back, cs))
            test_fail("%s: cluster %u reads back wrong", what, i);
    }
    img_close(img);
    if (secret) {
        struct img *bad;
        if (img_open(io, "qcow2", 0, "wrong", &bad, err) == 0) {
            test_fail("%s: opened with a wrong passphrase", what);
            img_close(bad);
        } else {
            printf("%s: wrong passphrase refused: %s\n", what, err);
        }
    }
    printf("%s: ok (device %llu KiB resident)\n", what,
           (unsigned long long)(memio_resident(io) >> 10));
out:
    if (io)
        memio_free(io);
    free(buf);
    free(back);
}

int main(void)
{
    static bool rd;
    rd = have_rdrand();
    img_set_entropy(entropy, &rd);
    printf("img-minios: entropy from %s\n", rd ? "RDRAND and the TSC" : "the TSC only");
    round_trip("compressed, 4 KiB clusters", 4096, NULL, IMG_OPEN_COMPRESS, true);
    round_trip("compressed, 64 KiB clusters", 65536, NULL, IMG_OPEN_COMPRESS, true);
    round_trip("LUKS, 4 KiB clusters", 4096, "keel-pass", 0, false);
    round_trip("LUKS, 64 KiB clusters", 65536, "keel-pass", 0, false);
    return test_finish();
}
