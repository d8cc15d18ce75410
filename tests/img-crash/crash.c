/* Crash injection: a volatile-write-cache img_io that loses power after N
 * writes, a driver workload, and the checks of every resulting image. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <keel/image.h>
#include "io_host.h"

/* ---- the crash img_io ----------------------------------------------------
 * Every write lands in the volatile view (what reads see) and in a log;
 * flush makes the log durable.  At the cut (the Nth write), the device
 * stops: later I/O fails with -EIO.  The surviving image is the durable
 * state plus a chosen subset of the log (the cache wrote some of it back). */

struct logent { uint64_t off, len; uint8_t *data; bool trunc; };

struct crash_io {
    struct img_io io;
    uint8_t *cur, *dur;
    uint64_t cur_size, dur_size, cap;
    struct logent *log;
    unsigned nlog, logcap;
    long writes, cut_at;                /* cut_at < 0: never */
    bool dead;
};

static struct crash_io *C(struct img_io *io) { return (struct crash_io *)io; }

static void grow(struct crash_io *c, uint64_t need)
{
    if (need <= c->cap)
        return;
    uint64_t cap = c->cap ? c->cap : 1 << 20;
    while (cap < need)
        cap *= 2;
    c->cur = realloc(c->cur, cap);
    c->dur = realloc(c->dur, cap);
    if (!c->cur || !c->dur)
        abort();
    memset(c->cur + c->cap, 0, cap - c->cap);
    memset(c->dur + c->cap, 0, cap - c->cap);
    c->cap = cap;
}

static void apply(uint8_t *buf, uint64_t *size, const struct logent *e)
{
    if (e->trunc) {
        if (e->off < *size)
            memset(buf + e->off, 0, *size - e->off);
        *size = e->off;
        return;
    }
    if (e->off > *size)
        memset(buf + *size, 0, e->off - *size);
    memcpy(buf + e->off, e->data, e->len);
    if (e->off + e->len > *size)
        *size = e->off + e->len;
}

static int c_log(struct crash_io *c, uint64_t off, const void *buf, uint64_t len, bool trunc)
{
    if (c->dead)
        return -EIO;
    if (c->cut_at >= 0 && c->writes >= c->cut_at) {
        c->dead = true;
        return -EIO;
    }
    c->writes++;
    grow(c, off + len);
    if (c->nlog == c->logcap) {
        c->logcap = c->logcap ? c->logcap * 2 : 64;
        c->log = realloc(c->log, c->logcap * sizeof *c->log);
    }
    struct logent *e = &c->log[c->nlog++];
    e->off = off;
    e->len = len;
    e->trunc = trunc;
    e->data = NULL;
    if (!trunc) {
        e->data = malloc(len ? len : 1);
        memcpy(e->data, buf, len);
    }
    apply(c->cur, &c->cur_size, e);
    return 0;
}

static int c_pread(struct img_io *io, void *buf, size_t len, uint64_t off)
{
    struct crash_io *c = C(io);
    if (c->dead)
        return -EIO;
    size_t n = 0;
    if (off < c->cur_size)
        n = c->cur_size - off < len ? (size_t)(c->cur_size - off) : len;
    memcpy(buf, c->cur + off, n);
    memset((uint8_t *)buf + n, 0, len - n);
    return 0;
}

static int c_pwrite(struct img_io *io, const void *buf, size_t len, uint64_t off)
{
    if (off + len > (1ull << 32))
        return -EFBIG;                  /* a test image never gets this big */
    return c_log(C(io), off, buf, len, false);
}

static int c_truncate(struct img_io *io, uint64_t size)
{
    if (size > (1ull << 32))
        return -EFBIG;
    return c_log(C(io), size, NULL, 0, true);
}

static void drop_log(struct crash_io *c)
{
    for (unsigned i = 0; i < c->nlog; i++)
        free(c->log[i].data);
    c->nlog = 0;
}

static int c_flush(struct img_io *io)
{
    struct crash_io *c = C(io);
    if (c->dead)
        return -EIO;
    for (unsigned i = 0; i < c->nlog; i++)
        apply(c->dur, &c->dur_size, &c->log[i]);
    drop_log(c);
    return 0;
}

static int64_t c_size(struct img_io *io)
{
    return C(io)->dead ? -EIO : (int64_t)C(io)->cur_size;
}

static void c_close(struct img_io *io)
{
    (void)io;                           /* the harness owns the state */
}

static const struct img_io_ops crash_ops = {
    .pread = c_pread, .pwrite = c_pwrite, .flush = c_flush, .size = c_size,
    .truncate = c_truncate, .close = c_close,
};

static void crash_init(struct crash_io *c, const uint8_t *img, uint64_t size, long cut_at)
{
    memset(c, 0, sizeof *c);
    c->io.ops = &crash_ops;
    c->io.priv = c;
    grow(c, size);
    memcpy(c->cur, img, size);
    memcpy(c->dur, img, size);
    c->cur_size = c->dur_size = size;
    c->cut_at = cut_at;
}

/* The image after the power cut: durable + the log entries mode keeps
 * (0: none, 1: all, 2: a random subset). */
static uint8_t *crash_result(struct crash_io *c, int mode, unsigned seed, uint64_t *size)
{
    uint8_t *out = malloc(c->cap);
    memcpy(out, c->dur, c->cap);
    *size = c->dur_size;
    for (unsigned i = 0; i < c->nlog; i++) {
        seed = seed * 1103515245u + 12345u;
        bool keep = mode == 1 || (mode == 2 && ((seed >> 16) & 1));
        if (keep)
            apply(out, size, &c->log[i]);
    }
    return out;
}

static void crash_free(struct crash_io *c)
{
    drop_log(c);
    free(c->log);
    free(c->cur);
    free(c->dur);
}

/* ---- the workload -------------------------------------------------------
 * Writes of whole 512-byte sectors, each stamped with (write id, sector),
 * so that any sector read back says which write put it there. */

#define SEC 512u
#define NOPS 40

struct wop { uint64_t off, len; bool flush; };
struct wstate { int acked; };           /* per op: 1 if a flush after it completed */

static uint64_t vsize;
static struct wop ops[NOPS];

static void fill_sector(uint8_t *p, unsigned id, uint64_t sector)
{
    uint32_t x = (id + 1) * 2654435761u ^ (uint32_t)sector * 40503u;
    for (unsigned i = 0; i < SEC; i += 4) {
        x = x * 1664525u + 1013904223u;
        memcpy(p + i, &x, 4);
    }
    memcpy(p, &id, 4);
    memcpy(p + 4, &sector, 8);
}

static void make_workload(unsigned seed)
{
    uint64_t nsec = vsize / SEC;
    for (unsigned i = 0; i < NOPS; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        uint64_t len, sector;
        if (i % 7 == 3)
            len = (64 + r % 448) * SEC / 2;            /* 16 KiB .. 128 KiB */
        else
            len = (1 + r % 16) * SEC;                  /* 512 B .. 8 KiB */
        len = (len + SEC - 1) / SEC * SEC;
        if (i > 4 && r % 3 == 0) {
            sector = ops[(r >> 4) % i].off / SEC;      /* overwrite */
        } else {
            seed = seed * 1103515245u + 12345u;
            sector = (seed >> 4) % nsec;
        }
        if ((sector + len / SEC) > nsec)
            sector = nsec - len / SEC;
        ops[i].off = sector * SEC;
        ops[i].len = len;
        ops[i].flush = i % 5 == 4 || i == NOPS - 1;
    }
}

/* Runs the workload until the device dies; marks acknowledged ops. */
static void run_workload(struct img *img, int *acked)
{
    uint8_t *buf = malloc(256 * 1024);
    int done = 0;
    memset(acked, 0, NOPS * sizeof *acked);
    for (unsigned i = 0; i < NOPS; i++) {
        for (uint64_t s = 0; s < ops[i].len / SEC; s++)
            fill_sector(buf + s * SEC, i, ops[i].off / SEC + s);
        if (img_write(img, ops[i].off, buf, ops[i].len) < 0)
            break;
        if (ops[i].flush) {
            if (img_flush(img) < 0)
                break;
            for (unsigned j = done; j <= i; j++)
                acked[j] = 1;
            done = i + 1;
        }
    }
    free(buf);
}

/* Each sector must hold the last acknowledged write to it (zeros if
 * none), or a later write that was not acknowledged. */
static int verify(struct img *img, const int *acked, char *why, size_t whylen)
{
    uint8_t got[SEC], want[SEC];
    static const uint8_t zero[SEC];
    for (uint64_t s = 0; s < vsize / SEC; s++) {
        int last = -1;
        bool touched = false;
        for (int i = 0; i < NOPS; i++)
            if (s >= ops[i].off / SEC && s < (ops[i].off + ops[i].len) / SEC) {
                touched = true;
                if (acked[i])
                    last = i;
            }
        if (img_read(img, s * SEC, got, SEC) < 0) {
            snprintf(why, whylen, "read of sector %" PRIu64 " failed", s);
            return -1;
        }
        if (!touched) {
            if (memcmp(got, zero, SEC)) {
                snprintf(why, whylen, "sector %" PRIu64 " was never written but is not zero", s);
                return -1;
            }
            continue;
        }
        bool ok = false;
        if (last < 0)
            ok = !memcmp(got, zero, SEC);
        else {
            fill_sector(want, last, s);
            ok = !memcmp(got, want, SEC);
        }
        for (int i = last + 1; i < NOPS && !ok; i++) {
            if (acked[i] || s < ops[i].off / SEC || s >= (ops[i].off + ops[i].len) / SEC)
                continue;
            fill_sector(want, i, s);
            ok = !memcmp(got, want, SEC);
        }
        if (!ok) {
            uint32_t id;
            memcpy(&id, got, 4);
            snprintf(why, whylen, "sector %" PRIu64 " holds neither its last acknowledged "
                     "write (%d) nor a later one (first word %#x)", s, last, id);
            return -1;
        }
    }
    return 0;
}

/* ---- qemu-img check ------------------------------------------------------ */

static const char *qemu_img = "qemu-img";
static char tmp_path[256];

/* Images already checked (FNV-1a hashes): many cuts leave the same image. */
static uint64_t seen[8192];
static unsigned nseen, nqemu;

static bool seen_before(const uint8_t *img, uint64_t size)
{
    uint64_t h = 1469598103934665603ull ^ size;
    for (uint64_t i = 0; i + 8 <= size; i += 8) {
        uint64_t w;
        memcpy(&w, img + i, 8);
        h = (h ^ w) * 1099511628211ull;
    }
    for (unsigned i = 0; i < nseen; i++)
        if (seen[i] == h)
            return true;
    if (nseen < 8192)
        seen[nseen++] = h;
    return false;
}

static int qemu_check(const char *qfmt, const uint8_t *img, uint64_t size, char *why, size_t wl)
{
    if (seen_before(img, size))
        return 0;
    nqemu++;
    FILE *f = fopen(tmp_path, "wb");
    if (!f || fwrite(img, 1, size, f) != size || fclose(f)) {
        snprintf(why, wl, "cannot write %s", tmp_path);
        return -1;
    }
    /* posix_spawn: fork() of a sanitized process is slow. */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *args[] = { (char *)qemu_img, "check", "-f", (char *)qfmt, tmp_path, NULL };
    pid_t pid;
    int st = 0;
    if (posix_spawnp(&pid, qemu_img, &fa, NULL, args, environ) != 0) {
        snprintf(why, wl, "cannot run %s", qemu_img);
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    waitpid(pid, &st, 0);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (rc == 0 || rc == 3 || rc == 63)          /* ok, leaks, no check */
        return 0;
    snprintf(why, wl, "qemu-img check exit %d (%s)", rc,
             rc == 2 ? "corruptions" : rc == 1 ? "could not check" : "?");
    return -1;
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *fmt = argc > 1 ? argv[1] : NULL;
    const char *opts = argc > 2 && strcmp(argv[2], "-") ? argv[2] : "";
    unsigned seed = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
    char err[IMG_ERR_LEN], why[512];
    if (!fmt) {
        fprintf(stderr, "usage: crash FMT [cluster_size=N|subformat=S|compat=N|lazy] [SEED]\n");
        return 2;
    }
    if (getenv("QEMU_IMG"))
        qemu_img = getenv("QEMU_IMG");
    if (!img_find_driver(fmt)) {
        printf("SKIP %s: driver not built\n", fmt);
        return 77;
    }
    const char *qfmt = strcmp(fmt, "vhd") == 0 ? "vpc" : fmt;
    snprintf(tmp_path, sizeof tmp_path, "/tmp/img-crash.%d.%s", (int)getpid(), qfmt);

    /* Create the image once, durably, on a memory device. */
    struct img_create_opts o = { .size = 8 << 20 };
    if (!strncmp(opts, "cluster_size=", 13))
        o.cluster_size = (uint32_t)atoi(opts + 13);
    else if (!strncmp(opts, "subformat=", 10))
        o.subformat = opts + 10;
    else if (!strcmp(opts, "lazy"))
        o.lazy_refcounts = true, o.compat = 3;
    else if (!strncmp(opts, "compat=", 7))
        o.compat = (unsigned)atoi(opts + 7);
    struct img_io *mio;
    struct img *img;
    if (img_io_mem_new(&mio) < 0 || img_create(mio, fmt, &o, err) < 0) {
        fprintf(stderr, "FAIL %s: create: %s\n", fmt, err);
        return 1;
    }
    uint64_t base_size;
    const uint8_t *base = img_io_mem_data(mio, &base_size);
    uint8_t *base_copy = malloc(base_size ? base_size : 1);
    memcpy(base_copy, base, base_size);
    mio->ops->close(mio);

    /* A run without a cut counts the writes. */
    struct crash_io c;
    int acked[NOPS];
    crash_init(&c, base_copy, base_size, -1);
    if (img_open(&c.io, fmt, IMG_OPEN_RDWR, NULL, &img, err) < 0) {
        fprintf(stderr, "FAIL %s: open: %s\n", fmt, err);
        return 1;
    }
    vsize = img->size;
    make_workload(seed * 7919u);
    run_workload(img, acked);
    img_close(img);
    long total = c.writes;
    crash_free(&c);

    unsigned fails = 0, runs = 0;
    for (long n = 0; n <= total; n++) {
        for (int mode = 0; mode < 3; mode++) {
            crash_init(&c, base_copy, base_size, n);
            if (img_open(&c.io, fmt, IMG_OPEN_RDWR, NULL, &img, err) < 0) {
                fprintf(stderr, "FAIL %s: open before the workload: %s\n", fmt, err);
                return 1;
            }
            run_workload(img, acked);
            img_close(img);
            uint64_t size;
            uint8_t *res = crash_result(&c, mode, (unsigned)(n * 31 + mode), &size);
            crash_free(&c);
            runs++;

            /* (a) our driver reads back every acknowledged write. */
            struct img_io *rio;
            int bad = 0;
            why[0] = '\0';
            img_io_mem_new(&rio);
            img_io_mem_load(rio, res, size);
            if (img_open(rio, fmt, 0, NULL, &img, err) < 0) {
                snprintf(why, sizeof why, "reopen failed: %s", err);
                bad = 1;
            } else {
                struct img_check ck;
                if (verify(img, acked, why, sizeof why) < 0)
                    bad = 1;
                else if (img_check(img, &ck, false) < 0 || ck.corruptions) {
                    snprintf(why, sizeof why, "keel check: %" PRIu64 " corruptions: %s",
                             ck.corruptions, ck.first_error);
                    bad = 1;
                }
                img_close(img);
            }
            /* (b) qemu-img check: no corruptions (leaks are fine). */
            if (!bad && qemu_check(qfmt, res, size, why, sizeof why) < 0)
                bad = 1;
            if (bad) {
                fails++;
                if (fails <= 10)
                    fprintf(stderr, "FAIL %s%s%s: cut after %ld of %ld writes, %s: %s\n", fmt,
                            opts[0] ? " " : "", opts, n, total,
                            mode == 0 ? "flushed only" : mode == 1 ? "all written" : "random subset",
                            why);
                if (fails == 10)
                    fprintf(stderr, "(further failures not shown)\n");
            }
            free(res);
        }
    }
    unlink(tmp_path);
    free(base_copy);
    printf("%s %s%s%s: %ld writes, %u power cuts (%u distinct images checked by "
           "qemu-img), %u failed\n", fails ? "FAIL" : "PASS", fmt,
           opts[0] ? " " : "", opts, total, runs, nqemu, fails);
    return fails ? 1 : 0;
}
