/* test_store_journal.c: the store's jbd2 journal (stubdoms/tapdisk/store/journal.c): transactions written, replayed onto a copy, torn ones ignored, escaping, refusals; and e2fsprogs agreeing (e2fsck replays ours, we replay debugfs's). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "unit.h"

/* ---- a device in memory ---- */

struct mem {
    uint8_t *b;
    size_t len;
    unsigned flushes;
};

static int m_read(void *c, uint64_t off, void *buf, size_t len)
{
    struct mem *m = c;
    if (off > m->len || len > m->len - off)
        return -EIO;
    memcpy(buf, m->b + off, len);
    return 0;
}

static int m_write(void *c, uint64_t off, const void *buf, size_t len)
{
    struct mem *m = c;
    if (off > m->len || len > m->len - off)
        return -EIO;
    memcpy(m->b + off, buf, len);
    return 0;
}

static int m_flush(void *c)
{
    ((struct mem *)c)->flushes++;
    return 0;
}

static struct sj_dev mdev(struct mem *m)
{
    return (struct sj_dev){ m, m_read, m_write, m_flush };
}

#define BS      1024u
#define NBLK    512u
#define JSTART  300u
#define JLEN    64u

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A journal superblock as mkfs.ext4 writes one (v2; incompat as given). */
static void make_jsb(struct mem *m, uint32_t incompat)
{
    uint8_t *sb = m->b + (size_t)JSTART * BS;
    memset(sb, 0, BS);
    put32(sb, 0xc03b3998u), put32(sb + 4, 4), put32(sb + 0xc, BS), put32(sb + 0x10, JLEN);
    put32(sb + 0x14, 1), put32(sb + 0x18, 7), put32(sb + 0x28, incompat);
    for (int i = 0; i < 16; i++)
        sb[0x30 + i] = (uint8_t)(0xa0 + i);
    put32(sb + 0x40, 1);
    if (incompat & 0x18) {
        sb[0x50] = 4;
        put32(sb + 0xfc, sj_crc32c(~0u, sb, 0x400));
    }
}

static struct mem new_mem(uint32_t incompat)
{
    struct mem m = { calloc(NBLK, BS), (size_t)NBLK * BS, 0 };
    for (unsigned i = 0; i < NBLK; i++)
        memset(m.b + (size_t)i * BS, (int)(i & 0xff), BS);
    make_jsb(&m, incompat);
    return m;
}

static struct mem copy_mem(const struct mem *m)
{
    struct mem c = { malloc(m->len), m->len, 0 };
    memcpy(c.b, m->b, m->len);
    return c;
}

static uint64_t jmap[JLEN];

static struct sj *open_j(struct mem *m)
{
    char err[200] = "";
    struct sj *j = NULL;
    int rc = sj_open(&(struct sj_dev){ m, m_read, m_write, m_flush }, BS, NBLK, jmap, JLEN, &j, err, sizeof(err));
    if (rc)
        fprintf(stderr, "sj_open: %d %s\n", rc, err);
    return rc ? NULL : j;
}

static uint8_t *blk(struct mem *m, uint64_t b)
{
    return m->b + b * BS;
}

/* The journal's checksum seed: crc32c(~0, its UUID). */
static uint32_t jseed(struct mem *m)
{
    return sj_crc32c(~0u, blk(m, JSTART) + 0x30, 16);
}

static void fill(uint8_t *p, uint8_t v)
{
    memset(p, v, BS);
}

/* One variant of the format: write, commit without checkpoint, replay onto a copy. */
static void roundtrip(uint32_t incompat)
{
    struct mem m = new_mem(incompat);
    struct sj *j = open_j(&m);
    EXPECT(j);
    if (!j)
        return;
    EXPECT(!sj_dirty(j));
    uint8_t a[BS], e[BS], got[BS];
    fill(a, 0x5a);
    fill(e, 0x33);
    put32(e, 0xc03b3998u);               /* begins with the jbd2 magic: escaped */
    EXPECT(sj_write(j, 10 * BS, a, BS) == 0);
    EXPECT(sj_write(j, 11 * BS, e, BS) == 0);
    EXPECT(sj_write(j, 20 * BS + 100, "hello", 5) == 0);   /* a partial block */
    EXPECT(sj_pending(j) == 3);
    /* Read back through the journal: pending content; the device: untouched. */
    EXPECT(sj_read(j, 20 * BS, got, BS) == 0);
    EXPECT(memcmp(got + 100, "hello", 5) == 0 && got[99] == 20 && got[105] == 20);
    EXPECT(sj_read(j, 9 * BS + 1000, got, 100) == 0);
    EXPECT(got[0] == 9 && got[23] == 9 && got[24] == 0x5a && got[99] == 0x5a);
    EXPECT(blk(&m, 10)[0] == 10 && blk(&m, 11)[0] == 11);
    /* Committed, not checkpointed: as a power cut after the commit leaves it. */
    EXPECT(sj_commit_stop(j, SJ_STOP_NO_CHECKPOINT) == 0);
    EXPECT(blk(&m, 10)[0] == 10 && blk(&m, 11)[0] == 11 && blk(&m, 20)[100] == 20);
    EXPECT(get32(blk(&m, JSTART) + 0x1c) == 1);         /* s_start */
    EXPECT(get32(blk(&m, JSTART) + 0x18) == 7);         /* s_sequence */
    sj_close(j);

    struct mem c = copy_mem(&m);
    j = open_j(&c);
    EXPECT(j && sj_dirty(j));
    unsigned t = 0, n = 0;
    char err[200] = "";
    EXPECT(j && sj_replay(j, &t, &n, err, sizeof(err)) == 0);
    EXPECT(t == 1 && n == 3);
    EXPECT(memcmp(blk(&c, 10), a, BS) == 0);
    EXPECT(memcmp(blk(&c, 11), e, BS) == 0);            /* unescaped */
    EXPECT(memcmp(blk(&c, 20) + 100, "hello", 5) == 0 && blk(&c, 20)[0] == 20);
    EXPECT(get32(blk(&c, JSTART) + 0x1c) == 0);         /* empty again */
    EXPECT(get32(blk(&c, JSTART) + 0x18) == 8);
    EXPECT(j && !sj_dirty(j));
    if (incompat & 0x18) {
        uint8_t sbc[0x400];
        memcpy(sbc, blk(&c, JSTART), 0x400);
        put32(sbc + 0xfc, 0);
        EXPECT(sj_crc32c(~0u, sbc, 0x400) == get32(blk(&c, JSTART) + 0xfc));
    }
    /* The escaped block is in the log with its magic zeroed. */
    bool found = false;
    for (unsigned i = 1; i < JLEN; i++)
        if (blk(&m, JSTART + i)[4] == 0x33 && get32(blk(&m, JSTART + i)) == 0)
            found = true;
    EXPECT(found);
    sj_close(j);
    free(c.b);

    /* A full commit: in place, then empty. */
    j = open_j(&m);
    EXPECT(j && sj_dirty(j));
    EXPECT(j && sj_write(j, 30 * BS, a, BS) == 0);
    EXPECT(j && sj_commit(j) == -EBUSY);                /* not replayed yet */
    EXPECT(j && sj_replay(j, &t, &n, err, sizeof(err)) == 0 && t == 1);
    EXPECT(memcmp(blk(&m, 11), e, BS) == 0);
    EXPECT(j && sj_commit(j) == 0);
    EXPECT(memcmp(blk(&m, 30), a, BS) == 0);
    EXPECT(get32(blk(&m, JSTART) + 0x1c) != 0);
    EXPECT(j && sj_empty(j) == 0);
    EXPECT(get32(blk(&m, JSTART) + 0x1c) == 0 && get32(blk(&m, JSTART) + 0x18) == 9);
    sj_close(j);
    free(m.b);
}

/* A torn transaction (no commit block) after a committed one: the first replayed, the torn one not. */
static void torn(void)
{
    struct mem m = new_mem(0x12);
    struct sj *j = open_j(&m);
    EXPECT(j);
    if (!j)
        return;
    uint8_t a[BS], b[BS];
    fill(a, 0x11);
    fill(b, 0x22);
    EXPECT(sj_write(j, 40 * BS, a, BS) == 0);
    EXPECT(sj_commit_stop(j, SJ_STOP_NO_CHECKPOINT) == 0);
    sj_close(j);
    /* The process dies; the next life replays, then writes one it cannot commit. */
    struct mem c = copy_mem(&m);
    {
        /* The next life replays it, then writes one it cannot commit: nothing to replay after. */
        struct mem d = copy_mem(&m);
        struct sj *w = open_j(&d);
        unsigned t, n;
        char err[200];
        EXPECT(w && sj_replay(w, &t, &n, err, sizeof(err)) == 0 && t == 1);
        EXPECT(w && sj_write(w, 41 * BS, b, BS) == 0);
        EXPECT(w && sj_commit_stop(w, SJ_STOP_NO_COMMIT) == 0);
        sj_close(w);
        EXPECT(blk(&d, 41)[0] == 41);
        struct sj *r = open_j(&d);
        EXPECT(r && !sj_dirty(r));                       /* s_start 0: nothing to replay */
        sj_close(r);
        free(d.b);
    }
    /* Torn within one log: a committed transaction followed by one without a commit block. */
    j = open_j(&c);
    unsigned t = 0, n = 0;
    char err[200];
    EXPECT(j && sj_replay(j, &t, &n, err, sizeof(err)) == 0);
    EXPECT(j && sj_write(j, 50 * BS, a, BS) == 0 && sj_commit_stop(j, SJ_STOP_NO_CHECKPOINT) == 0);
    EXPECT(j && sj_write(j, 51 * BS, b, BS) == 0 && sj_commit_stop(j, SJ_STOP_NO_COMMIT) == 0);
    sj_close(j);
    j = open_j(&c);
    EXPECT(j && sj_dirty(j));
    EXPECT(j && sj_replay(j, &t, &n, err, sizeof(err)) == 0);
    EXPECT(t == 1 && n == 1);
    EXPECT(memcmp(blk(&c, 50), a, BS) == 0);
    EXPECT(blk(&c, 51)[0] == 51);                       /* the torn one ignored */
    sj_close(j);
    free(c.b);
    free(m.b);
}

/* Many transactions round the circular log, each committed but only the last not checkpointed. */
static void wraps(void)
{
    struct mem m = new_mem(0x10);
    struct sj *j = open_j(&m);
    EXPECT(j);
    if (!j)
        return;
    uint8_t a[BS];
    size_t cap = sj_capacity(j);
    EXPECT(cap > 4 && cap < JLEN / 2);
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < cap; i++) {
            fill(a, (uint8_t)(round * 7 + i));
            EXPECT(sj_write(j, (60 + i) * BS, a, BS) == 0);
        }
        EXPECT(sj_commit_stop(j, round == 19 ? SJ_STOP_NO_CHECKPOINT : SJ_STOP_NONE) == 0);
    }
    /* One more than a transaction holds is refused at commit. */
    sj_close(j);
    struct mem c = copy_mem(&m);
    j = open_j(&c);
    unsigned t = 0, n = 0;
    char err[200];
    EXPECT(j && sj_replay(j, &t, &n, err, sizeof(err)) == 0 && t == 1 && n == cap);
    for (size_t i = 0; i < cap; i++)
        EXPECT(blk(&c, 60 + i)[0] == (uint8_t)(19 * 7 + i));
    for (size_t i = 0; i <= cap; i++)
        EXPECT(j && sj_write(j, (100 + i) * BS, a, BS) == 0);
    EXPECT(j && sj_commit(j) == -ENOSPC);
    EXPECT(j && sj_write(j, (uint64_t)NBLK * BS, a, BS) == -EINVAL);   /* past the filesystem */
    sj_close(j);
    free(c.b);
    free(m.b);
}

/* What is refused: damaged superblocks, unknown features, a damaged logged block, a bad revoke block. */
static void refusals(void)
{
    char err[200];
    struct sj *j = NULL;
    struct mem m = new_mem(0x12);
    struct sj_dev d = mdev(&m);
    blk(&m, JSTART)[0x30] ^= 1;                          /* the checksum no longer matches */
    EXPECT(sj_open(&d, BS, NBLK, jmap, JLEN, &j, err, sizeof(err)) == -EINVAL);
    EXPECT(strstr(err, "checksum"));
    make_jsb(&m, 0x12 | 0x20);                           /* fast commit: not ours to write */
    EXPECT(sj_open(&d, BS, NBLK, jmap, JLEN, &j, err, sizeof(err)) == -EINVAL);
    EXPECT(strstr(err, "features"));
    make_jsb(&m, 0x12);
    EXPECT(sj_open(&d, 4096, NBLK * 4, jmap, JLEN, &j, err, sizeof(err)) != 0);     /* block size */
    EXPECT(sj_open(&d, BS, NBLK, jmap, 10, &j, err, sizeof(err)) == -EINVAL);       /* map too short */
    uint64_t bad[JLEN];
    memcpy(bad, jmap, sizeof(bad));
    bad[5] = NBLK;
    EXPECT(sj_open(&d, BS, NBLK, bad, JLEN, &j, err, sizeof(err)) == -EINVAL);      /* outside */
    memset(blk(&m, JSTART), 0, 4);
    EXPECT(sj_open(&d, BS, NBLK, jmap, JLEN, &j, err, sizeof(err)) == -EINVAL);     /* no magic */
    make_jsb(&m, 0x12);

    /* A logged block damaged after its commit: the replay refuses, nothing written. */
    j = open_j(&m);
    uint8_t a[BS];
    fill(a, 0x77);
    EXPECT(j && sj_write(j, 70 * BS, a, BS) == 0 && sj_commit_stop(j, SJ_STOP_NO_CHECKPOINT) == 0);
    sj_close(j);
    struct mem c = copy_mem(&m);
    blk(&c, JSTART + 2)[7] ^= 0xff;                      /* block after the descriptor */
    j = open_j(&c);
    unsigned t, n;
    EXPECT(j && sj_replay(j, &t, &n, err, sizeof(err)) == -ENOTRECOVERABLE);
    EXPECT(strstr(err, "checksum"));
    EXPECT(blk(&c, 70)[0] == 70);
    sj_close(j);
    free(c.b);
    /* A revoke block whose r_count is past the block (its checksum made right): refused. */
    c = copy_mem(&m);
    uint8_t *r = blk(&c, JSTART + 1);                    /* the descriptor becomes a revoke block */
    put32(r + 4, 5);
    put32(r + 12, BS);
    put32(r + BS - 4, 0);
    put32(r + BS - 4, sj_crc32c(jseed(&c), r, BS));
    j = open_j(&c);
    EXPECT(j && sj_replay(j, &t, &n, err, sizeof(err)) == -ENOTRECOVERABLE);
    EXPECT(strstr(err, "revoke"));
    EXPECT(blk(&c, 70)[0] == 70);
    sj_close(j);
    free(c.b);
    /* A damaged descriptor: the transaction is not there (as a torn one). */
    c = copy_mem(&m);
    blk(&c, JSTART + 1)[40] ^= 1;
    j = open_j(&c);
    EXPECT(j && sj_replay(j, &t, &n, err, sizeof(err)) == 0 && t == 0);
    EXPECT(blk(&c, 70)[0] == 70);
    sj_close(j);
    free(c.b);
    free(m.b);
}

/* ---- e2fsprogs on a real ext4 image ---- */

struct file {
    FILE *f;
};

static int f_read(void *c, uint64_t off, void *buf, size_t len)
{
    FILE *f = c;
    return fseeko(f, (off_t)off, SEEK_SET) || fread(buf, 1, len, f) != len ? -EIO : 0;
}

static int f_write(void *c, uint64_t off, const void *buf, size_t len)
{
    FILE *f = c;
    return fseeko(f, (off_t)off, SEEK_SET) || fwrite(buf, 1, len, f) != len ? -EIO : 0;
}

static int f_flush(void *c)
{
    return fflush(c) ? -EIO : 0;
}

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* The journal inode's blocks from debugfs "blocks <8>". */
static uint32_t journal_map(const char *img, uint64_t *map, uint32_t max)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "debugfs -R 'blocks <8>' %s 2>/dev/null", img);
    FILE *p = popen(cmd, "r");
    uint32_t n = 0;
    unsigned long long b;
    while (p && n < max && fscanf(p, "%llu", &b) == 1)
        map[n++] = b;
    if (p)
        pclose(p);
    return n;
}

/* bs: the block size; csum: the journal given csum v3 first (debugfs "jo -c", as Linux's
 * journal_checksum does; mkfs.ext4 1.47 makes journals without checksums). */
static void e2fsprogs(unsigned bs, bool csum)
{
    if (sh("command -v mkfs.ext4 >/dev/null && command -v e2fsck >/dev/null && command -v debugfs >/dev/null")) {
        printf("e2fsprogs: not installed: skipped\n");
        return;
    }
    char img[] = "/tmp/sj-test-XXXXXX", cmd[700];
    int fd = mkstemp(img);
    EXPECT(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F -b %u %s 16M", bs, img);
    EXPECT(sh(cmd) == 0);
    if (csum) {
        snprintf(cmd, sizeof(cmd), "printf 'jo -c\\njc\\n' | debugfs -w -f - %s >/dev/null 2>&1 && "
                 "dumpe2fs -h %s 2>/dev/null | grep -q '^Journal features:.*journal_checksum_v3'", img, img);
        EXPECT(sh(cmd) == 0);
    }
    static uint64_t map[8192];
    uint32_t n = journal_map(img, map, 8192);
    EXPECT(n >= 1024);
    uint64_t fsblocks = (16u << 20) / bs;
    FILE *f = fopen(img, "r+b");
    struct sj_dev d = { f, f_read, f_write, f_flush };
    struct sj *j = NULL;
    char err[200] = "";
    EXPECT(sj_open(&d, bs, fsblocks, map, n, &j, err, sizeof(err)) == 0);
    if (!j) {
        fprintf(stderr, "%s\n", err);
        fclose(f);
        return;
    }
    /* Ours: two free blocks near the end, one beginning with the magic; committed, not in place. */
    uint8_t *a = malloc(bs), *e = malloc(bs), *got = malloc(bs);
    memset(a, 0xa5, bs);
    memset(e, 0x3c, bs);
    put32(e, 0xc03b3998u);
    uint64_t b1 = fsblocks - 20, b2 = fsblocks - 19;
    EXPECT(sj_write(j, b1 * bs, a, bs) == 0 && sj_write(j, b2 * bs, e, bs) == 0);
    EXPECT(sj_commit_stop(j, SJ_STOP_NO_CHECKPOINT) == 0);
    EXPECT(sj_write(j, (b1 + 5) * bs, a, bs) == 0 && sj_commit_stop(j, SJ_STOP_NO_COMMIT) == 0);
    sj_close(j);
    /* needs_recovery in the ext4 superblock (incompat at 0x60), as a mounted store has it. */
    uint8_t sb[1024];
    EXPECT(f_read(f, 1024, sb, 1024) == 0);
    sb[0x60] |= 0x4;
    if (sb[0x65] & 0x4) {   /* metadata_csum (ro_compat 0x400): the superblock's crc32c, little-endian, at 0x3fc */
        uint32_t c = sj_crc32c(~0u, sb, 0x3fc);
        sb[0x3fc] = (uint8_t)c, sb[0x3fd] = (uint8_t)(c >> 8), sb[0x3fe] = (uint8_t)(c >> 16), sb[0x3ff] = (uint8_t)(c >> 24);
    }
    EXPECT(f_write(f, 1024, sb, 1024) == 0);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "e2fsck -fy -E journal_only %s >/dev/null 2>&1", img);
    int rc = sh(cmd);
    EXPECT(rc == 0 || rc == 1);
    snprintf(cmd, sizeof(cmd), "e2fsck -fn %s > %s.log 2>&1 || cat %s.log", img, img, img);
    EXPECT(sh(cmd) == 0);
    f = fopen(img, "r+b");
    EXPECT(f_read(f, b1 * bs, got, bs) == 0 && memcmp(got, a, bs) == 0);
    EXPECT(f_read(f, b2 * bs, got, bs) == 0 && memcmp(got, e, bs) == 0);
    EXPECT(f_read(f, (b1 + 5) * bs, got, bs) == 0 && memcmp(got, a, bs) != 0);   /* torn: not replayed */
    fclose(f);

    /* Theirs: debugfs writes a transaction (journal_write), we replay it. */
    char data[] = "/tmp/sj-data-XXXXXX";
    fd = mkstemp(data);
    EXPECT(fd >= 0 && write(fd, e, bs) == (ssize_t)bs);
    close(fd);
    uint64_t b3 = fsblocks - 30;
    snprintf(cmd, sizeof(cmd), "printf 'jo\\njw -b %llu %s\\njc\\n' | debugfs -w -f - %s >/dev/null 2>&1",
             (unsigned long long)b3, data, img);
    EXPECT(sh(cmd) == 0);
    f = fopen(img, "r+b");
    EXPECT(f_read(f, b3 * bs, got, bs) == 0 && memcmp(got, e, bs) != 0);          /* logged, not in place */
    n = journal_map(img, map, 8192);
    d.ctx = f;
    j = NULL;
    EXPECT(sj_open(&d, bs, fsblocks, map, n, &j, err, sizeof(err)) == 0);
    EXPECT(j && sj_dirty(j));
    unsigned t = 0, nb = 0;
    EXPECT(j && sj_replay(j, &t, &nb, err, sizeof(err)) == 0);
    EXPECT(t >= 1 && nb >= 1);
    EXPECT(f_read(f, b3 * bs, got, bs) == 0 && memcmp(got, e, bs) == 0);
    sj_close(j);
    fclose(f);
    /* Theirs with a revoke record: debugfs logs b4 and b5, then revokes b4 in a later
     * transaction; e2fsck replays a copy, we replay the image: the same bytes, b4 left
     * as it was, b5 replayed. */
    uint8_t *two = malloc(2 * bs), *before = malloc(bs), *theirs = malloc(2 * bs);
    memset(two, 0x6e, 2 * bs);
    memset(two + bs, 0x91, bs);
    fd = open(data, O_WRONLY | O_TRUNC);
    EXPECT(fd >= 0 && write(fd, two, 2 * bs) == (ssize_t)(2 * bs));
    close(fd);
    uint64_t b4 = fsblocks - 40, b5 = fsblocks - 39;
    f = fopen(img, "rb");
    EXPECT(f_read(f, b4 * bs, before, bs) == 0);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "printf 'jo\\njw -b %llu,%llu %s\\njc\\njo\\njw -r %llu\\njc\\n' | "
             "debugfs -w -f - %s >/dev/null 2>&1 && debugfs -R logdump %s 2>/dev/null | grep -q 'revoke table'",
             (unsigned long long)b4, (unsigned long long)b5, data, (unsigned long long)b4, img, img);
    EXPECT(sh(cmd) == 0);
    snprintf(cmd, sizeof(cmd), "cp %s %s.e2 && e2fsck -fy -E journal_only %s.e2 >/dev/null 2>&1; "
             "e2fsck -fn %s.e2 >/dev/null 2>&1", img, img, img, img);
    EXPECT(sh(cmd) == 0);
    snprintf(cmd, sizeof(cmd), "%s.e2", img);
    f = fopen(cmd, "rb");
    EXPECT(f && f_read(f, b4 * bs, theirs, bs) == 0 && f_read(f, b5 * bs, theirs + bs, bs) == 0);
    if (f)
        fclose(f);
    unlink(cmd);
    f = fopen(img, "r+b");
    n = journal_map(img, map, 8192);
    d.ctx = f;
    j = NULL;
    unsigned t2 = 0, nb2 = 0;
    EXPECT(sj_open(&d, bs, fsblocks, map, n, &j, err, sizeof(err)) == 0);
    EXPECT(j && sj_replay(j, &t2, &nb2, err, sizeof(err)) == 0);
    EXPECT(t2 == 2 && nb2 == 1);
    EXPECT(f_read(f, b4 * bs, got, bs) == 0 && memcmp(got, before, bs) == 0);      /* revoked */
    EXPECT(memcmp(got, theirs, bs) == 0);
    EXPECT(f_read(f, b5 * bs, got, bs) == 0 && memcmp(got, two + bs, bs) == 0);    /* replayed */
    EXPECT(memcmp(got, theirs + bs, bs) == 0);
    if (j)
        sj_close(j);
    fclose(f);
    free(two), free(before), free(theirs);
    printf("e2fsprogs %u-byte blocks%s: e2fsck replayed ours, we replayed debugfs's (%u transaction(s), "
           "%u block(s)), and with a revoke record as e2fsck did (%u transactions, %u block)\n",
           bs, csum ? ", csum v3" : "", t, nb, t2, nb2);
    unlink(data);
    snprintf(cmd, sizeof(cmd), "%s.log", img);
    unlink(cmd);
    unlink(img);
    free(a), free(e), free(got);
}

int main(void)
{
    for (unsigned i = 0; i < JLEN; i++)
        jmap[i] = JSTART + i;
    roundtrip(0x10 | 0x2);   /* csum v3, 64-bit: mkfs.ext4's with metadata_csum */
    roundtrip(0x8);          /* csum v2, 32-bit tags */
    roundtrip(0x0);          /* no checksums */
    roundtrip(0x2);          /* 64-bit tags */
    torn();
    wraps();
    refusals();
    e2fsprogs(1024, false);
    e2fsprogs(4096, false);
    e2fsprogs(1024, true);
    e2fsprogs(4096, true);
    UNIT_DONE();
}
