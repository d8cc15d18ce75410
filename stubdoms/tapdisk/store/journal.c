/* journal.c: the store's metadata journal: jbd2 transactions (descriptor, blocks, commit) in the ext4 journal, checkpoints, and replay. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal.h"

/*
 * The on-disk format is jbd2's (Linux include/linux/jbd2.h; docs/disk.md,
 * "The store's journal"): big-endian fields, a 1024-byte superblock in
 * the journal's block 0, a circular log in blocks [s_first, s_maxlen).
 * A transaction is descriptor blocks (a 12-byte header, then one tag per
 * block: its filesystem block number, flags, and with csum v2/v3 a
 * checksum; the first tag of a descriptor is followed by the journal's
 * 16-byte UUID), each followed by the blocks it tags, then a commit
 * block.  With csum v2/v3 a descriptor ends with a 4-byte checksum of
 * itself and the commit block carries one in h_chksum[0].  A block that
 * begins with the jbd2 magic is logged with those 4 bytes zeroed and the
 * ESCAPE flag.
 *
 * Here every transaction is at most half the log, and starts where the
 * one before ended: a transaction never overwrites the log of the one
 * before it, whose checkpoint may not have reached the disk yet; the
 * one before that was checkpointed and flushed before this one's commit.
 */
#define JMAGIC        0xc03b3998u
#define JT_DESC       1
#define JT_COMMIT     2
#define JT_SB_V1      3
#define JT_SB_V2      4
#define JT_REVOKE     5

#define JC_CHECKSUM   0x1u          /* compat: v1 commit checksums (refused) */
#define JI_REVOKE     0x1u
#define JI_64BIT      0x2u
#define JI_ASYNC      0x4u
#define JI_CSUM_V2    0x8u
#define JI_CSUM_V3    0x10u
#define JI_KNOWN      (JI_REVOKE | JI_64BIT | JI_ASYNC | JI_CSUM_V2 | JI_CSUM_V3)

#define TF_ESCAPE     1u
#define TF_SAME_UUID  2u
#define TF_LAST_TAG   8u

/* Journal superblock field offsets. */
#define SB_BLOCKSIZE  0x0c
#define SB_MAXLEN     0x10
#define SB_FIRST      0x14
#define SB_SEQUENCE   0x18
#define SB_START      0x1c
#define SB_ERRNO      0x20
#define SB_COMPAT     0x24
#define SB_INCOMPAT   0x28
#define SB_ROCOMPAT   0x2c
#define SB_UUID       0x30
#define SB_CSUM_TYPE  0x50
#define SB_CHECKSUM   0xfc
#define SB_SIZE       0x400
#define CSUM_CRC32C   4

/* Commit block field offsets (h_chksum_type and _size, at 12 and 13, stay
 * 0: they describe v1 checksums, which are refused). */
#define CB_CHKSUM     16
#define CB_SEC        48
#define CB_NSEC       56

struct pend {
    uint64_t key;           /* the block number + 1; 0: a free slot */
    uint8_t *data;
};

struct sj {
    struct sj_dev dev;
    uint32_t bs;
    uint64_t fs_blocks;
    uint64_t *map;          /* journal block -> filesystem block */
    uint32_t maxlen, first; /* the log is [first, maxlen) */
    uint8_t *sb;            /* the journal superblock's block */
    uint32_t incompat;
    bool csum;              /* v2 or v3 */
    bool csum3;
    uint32_t seed;          /* crc32c(~0, uuid) */
    unsigned tagb;          /* bytes per tag */
    uint32_t seq;           /* the next transaction's sequence */
    uint32_t head;          /* where the next transaction starts */
    bool dirty;             /* s_start != 0 on disk */
    bool unreplayed;        /* found dirty at open, not replayed yet */
    uint64_t last_sec;
    struct pend *pend;      /* open-addressed by block number */
    size_t npend, cap;
};

static void seterr(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8, p[1] = v;
}

uint32_t sj_crc32c(uint32_t crc, const void *buf, size_t len)
{
    static uint32_t table[256];
    static bool ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
            table[i] = c;
        }
        ready = true;
    }
    const uint8_t *p = buf;
    while (len--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

/* ---- the log ---- */

static uint32_t wrap(const struct sj *j, uint32_t p)
{
    return p >= j->maxlen ? p - (j->maxlen - j->first) : p;
}

static int log_rw(struct sj *j, uint32_t p, void *buf, bool write)
{
    uint64_t off = j->map[p] * j->bs;
    return write ? j->dev.write(j->dev.ctx, off, buf, j->bs) : j->dev.read(j->dev.ctx, off, buf, j->bs);
}

/* n blocks of buf into the log from position p, in runs of contiguous filesystem blocks. */
static int log_write(struct sj *j, uint32_t p, const uint8_t *buf, uint32_t n)
{
    while (n) {
        uint32_t run = 1;
        while (run < n && p + run < j->maxlen && j->map[p + run] == j->map[p] + run)
            run++;
        int rc = j->dev.write(j->dev.ctx, j->map[p] * j->bs, buf, (size_t)run * j->bs);
        if (rc)
            return rc;
        buf += (size_t)run * j->bs;
        n -= run;
        p = wrap(j, p + run);
    }
    return 0;
}

static int write_sb(struct sj *j, uint32_t start, uint32_t seq)
{
    put32(j->sb + SB_START, start);
    put32(j->sb + SB_SEQUENCE, seq);
    if (j->csum) {
        put32(j->sb + SB_CHECKSUM, 0);
        put32(j->sb + SB_CHECKSUM, sj_crc32c(~0u, j->sb, SB_SIZE));
    }
    int rc = log_rw(j, 0, j->sb, true);
    if (!rc)
        j->dirty = start != 0;
    return rc;
}

static unsigned tags_per_desc(const struct sj *j)
{
    /* The UUID after the first tag counted once per descriptor. */
    return (j->bs - 12 - (j->csum ? 4 : 0) - 16) / j->tagb;
}

int sj_open(const struct sj_dev *dev, uint32_t bs, uint64_t fs_blocks, const uint64_t *map,
            uint32_t nmap, struct sj **out, char *err, size_t errlen)
{
    if (bs < 1024 || bs > 65536 || (bs & (bs - 1)) || nmap < 2) {
        seterr(err, errlen, "the journal is %u blocks of %u bytes: too small or not a block size", nmap, bs);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < nmap; i++)
        if (!map[i] || map[i] >= fs_blocks) {
            seterr(err, errlen, "journal block %u is filesystem block %llu, outside the filesystem", i,
                   (unsigned long long)map[i]);
            return -EINVAL;
        }
    struct sj *j = calloc(1, sizeof(*j));
    uint8_t *sb = malloc(bs);
    uint64_t *m = malloc(sizeof(*m) * nmap);
    if (!j || !sb || !m) {
        free(j), free(sb), free(m);
        return -ENOMEM;
    }
    memcpy(m, map, sizeof(*m) * nmap);
    j->dev = *dev, j->bs = bs, j->fs_blocks = fs_blocks, j->map = m, j->sb = sb;
    int rc = j->dev.read(j->dev.ctx, map[0] * bs, sb, bs);
    if (rc) {
        seterr(err, errlen, "reading the journal superblock: error %d", rc);
        goto fail;
    }
    rc = -EINVAL;
    uint32_t type = be32(sb + 4);
    if (be32(sb) != JMAGIC || (type != JT_SB_V1 && type != JT_SB_V2)) {
        seterr(err, errlen, "the journal has no jbd2 superblock");
        goto fail;
    }
    j->maxlen = be32(sb + SB_MAXLEN), j->first = be32(sb + SB_FIRST);
    if (be32(sb + SB_BLOCKSIZE) != bs || j->maxlen > nmap || j->first < 1 || j->first >= j->maxlen ||
        j->maxlen - j->first < 16) {
        seterr(err, errlen, "the journal superblock's geometry (block size %u, %u blocks from %u) does "
               "not fit its %u blocks of %u bytes", be32(sb + SB_BLOCKSIZE), j->maxlen, j->first, nmap, bs);
        goto fail;
    }
    if (type == JT_SB_V2) {
        j->incompat = be32(sb + SB_INCOMPAT);
        if (j->incompat & ~JI_KNOWN || be32(sb + SB_ROCOMPAT) || (be32(sb + SB_COMPAT) & JC_CHECKSUM)) {
            seterr(err, errlen, "the journal has features this store cannot journal with (compat %#x "
                   "incompat %#x ro_compat %#x)", be32(sb + SB_COMPAT), j->incompat, be32(sb + SB_ROCOMPAT));
            goto fail;
        }
    }
    j->csum = j->incompat & (JI_CSUM_V2 | JI_CSUM_V3);
    j->csum3 = j->incompat & JI_CSUM_V3;
    if (j->csum) {
        uint32_t want = be32(sb + SB_CHECKSUM);
        put32(sb + SB_CHECKSUM, 0);
        uint32_t got = sj_crc32c(~0u, sb, SB_SIZE);
        put32(sb + SB_CHECKSUM, want);
        if (sb[SB_CSUM_TYPE] != CSUM_CRC32C || got != want) {
            seterr(err, errlen, "the journal superblock's checksum is wrong: run e2fsck");
            goto fail;
        }
        j->seed = sj_crc32c(~0u, sb + SB_UUID, 16);
    }
    if (be32(sb + SB_ERRNO)) {
        seterr(err, errlen, "the journal was aborted (errno %d): run e2fsck", (int)be32(sb + SB_ERRNO));
        goto fail;
    }
    j->tagb = j->csum3 ? 16 : (j->incompat & JI_64BIT ? 12 : 8) + (j->csum ? 2 : 0);
    j->seq = be32(sb + SB_SEQUENCE);
    j->dirty = j->unreplayed = be32(sb + SB_START) != 0;
    j->head = j->first;
    if (j->dirty && (be32(sb + SB_START) < j->first || be32(sb + SB_START) >= j->maxlen)) {
        seterr(err, errlen, "the journal's log starts at %u, outside it: run e2fsck", be32(sb + SB_START));
        goto fail;
    }
    *out = j;
    return 0;
fail:
    free(j->map), free(j->sb), free(j);
    return rc;
}

void sj_close(struct sj *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->cap; i++)
        free(j->pend[i].data);
    free(j->pend), free(j->map), free(j->sb), free(j);
}

bool sj_dirty(const struct sj *j)
{
    return j->dirty;
}

/* ---- pending blocks ---- */

static struct pend *find(const struct sj *j, uint64_t blk)
{
    if (!j->cap)
        return NULL;
    size_t i = (size_t)(blk * 0x9e3779b97f4a7c15ull >> 20) & (j->cap - 1);
    while (j->pend[i].key) {
        if (j->pend[i].key == blk + 1)
            return &j->pend[i];
        i = (i + 1) & (j->cap - 1);
    }
    return NULL;
}

static struct pend *slot(struct sj *j, uint64_t blk)
{
    size_t i = (size_t)(blk * 0x9e3779b97f4a7c15ull >> 20) & (j->cap - 1);
    while (j->pend[i].key && j->pend[i].key != blk + 1)
        i = (i + 1) & (j->cap - 1);
    return &j->pend[i];
}

static int grow(struct sj *j)
{
    size_t ncap = j->cap ? j->cap * 2 : 64;
    struct pend *old = j->pend, *np = calloc(ncap, sizeof(*np));
    if (!np)
        return -ENOMEM;
    size_t ocap = j->cap;
    j->pend = np, j->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key)
            *slot(j, old[i].key - 1) = old[i];
    free(old);
    return 0;
}

bool sj_holds(const struct sj *j, uint64_t off, size_t len)
{
    if (!j->npend || !len)
        return false;
    for (uint64_t b = off / j->bs; b <= (off + len - 1) / j->bs; b++)
        if (find(j, b))
            return true;
    return false;
}

size_t sj_pending(const struct sj *j)
{
    return j->npend;
}

size_t sj_capacity(const struct sj *j)
{
    uint32_t half = (j->maxlen - j->first) / 2;
    unsigned tpd = tags_per_desc(j);
    /* n blocks need ceil(n / tpd) descriptors and a commit block. */
    size_t n = (size_t)(half - 1) * tpd / (tpd + 1);
    while (n && n + (n + tpd - 1) / tpd + 1 > half)
        n--;
    return n;
}

int sj_write(struct sj *j, uint64_t off, const void *buf, size_t len)
{
    const uint8_t *src = buf;
    while (len) {
        uint64_t blk = off / j->bs;
        size_t in = (size_t)(off % j->bs), n = j->bs - in < len ? j->bs - in : len;
        if (blk >= j->fs_blocks)
            return -EINVAL;
        struct pend *p = find(j, blk);
        if (!p) {
            if (j->npend + 1 > j->cap / 2) {
                int rc = grow(j);
                if (rc)
                    return rc;
            }
            uint8_t *d = malloc(j->bs);
            if (!d)
                return -ENOMEM;
            if (n < j->bs) {
                int rc = j->dev.read(j->dev.ctx, blk * j->bs, d, j->bs);
                if (rc) {
                    free(d);
                    return rc;
                }
            }
            p = slot(j, blk);
            p->key = blk + 1, p->data = d;
            j->npend++;
        }
        memcpy(p->data + in, src, n);
        src += n, off += n, len -= n;
    }
    return 0;
}

int sj_read(struct sj *j, uint64_t off, void *buf, size_t len)
{
    int rc = j->dev.read(j->dev.ctx, off, buf, len);
    if (rc || !j->npend || !len)
        return rc;
    uint8_t *dst = buf;
    for (uint64_t blk = off / j->bs; blk <= (off + len - 1) / j->bs; blk++) {
        const struct pend *p = find(j, blk);
        if (!p)
            continue;
        uint64_t lo = blk * j->bs > off ? blk * j->bs : off;
        uint64_t hi = (blk + 1) * j->bs < off + len ? (blk + 1) * j->bs : off + len;
        memcpy(dst + (lo - off), p->data + (lo - blk * j->bs), (size_t)(hi - lo));
    }
    return 0;
}

/* ---- commit ---- */

static int cmp_pend(const void *a, const void *b)
{
    const struct pend *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

static void drop_pending(struct sj *j)
{
    for (size_t i = 0; i < j->cap; i++) {
        free(j->pend[i].data);
        j->pend[i] = (struct pend){ 0, NULL };
    }
    j->npend = 0;
}

int sj_commit(struct sj *j)
{
    return sj_commit_stop(j, SJ_STOP_NONE);
}

int sj_commit_stop(struct sj *j, int stop)
{
    if (!j->npend)
        return j->dev.flush(j->dev.ctx);
    if (j->unreplayed)
        return -EBUSY;   /* a log not replayed: sj_replay first */
    size_t n = j->npend;
    if (n > sj_capacity(j))
        return -ENOSPC;
    if (!(j->incompat & JI_64BIT))
        for (size_t i = 0; i < j->cap; i++)
            if (j->pend[i].key && (j->pend[i].key - 1) >> 32)
                return -EFBIG;
    struct pend *list = malloc(n * sizeof(*list));
    unsigned tpd = tags_per_desc(j);
    uint32_t nd = (uint32_t)((n + tpd - 1) / tpd), total = nd + (uint32_t)n;
    uint8_t *log = calloc(total, j->bs), *cb = calloc(1, j->bs);
    int rc = -ENOMEM;
    if (!list || !log || !cb)
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < j->cap; i++)
        if (j->pend[i].key)
            list[k++] = j->pend[i];
    qsort(list, n, sizeof(*list), cmp_pend);

    /* Descriptors, each followed by its blocks. */
    uint8_t *b = log;
    uint8_t seqbe[4];
    put32(seqbe, j->seq);
    for (size_t i = 0; i < n;) {
        uint8_t *d = b;
        put32(d, JMAGIC), put32(d + 4, JT_DESC), put32(d + 8, j->seq);
        uint8_t *t = d + 12;
        size_t end = i + tpd < n ? i + tpd : n;
        b += j->bs;
        for (size_t first = i; i < end; i++, b += j->bs) {
            memcpy(b, list[i].data, j->bs);
            uint32_t flags = first == i ? 0 : TF_SAME_UUID;
            if (be32(b) == JMAGIC) {
                put32(b, 0);
                flags |= TF_ESCAPE;
            }
            if (i + 1 == end)
                flags |= TF_LAST_TAG;
            uint32_t c = j->csum ? sj_crc32c(sj_crc32c(j->seed, seqbe, 4), b, j->bs) : 0;
            put32(t, (uint32_t)(list[i].key - 1));
            if (j->csum3) {
                put32(t + 4, flags);
                put32(t + 8, (uint32_t)((list[i].key - 1) >> 32));
                put32(t + 12, c);
            } else {
                put16(t + 4, j->csum ? (uint16_t)c : 0);
                put16(t + 6, (uint16_t)flags);
                if (j->incompat & JI_64BIT)
                    put32(t + 8, (uint32_t)((list[i].key - 1) >> 32));
            }
            t += j->tagb;
            if (first == i) {
                memcpy(t, j->sb + SB_UUID, 16);
                t += 16;
            }
        }
        if (j->csum)
            put32(d + j->bs - 4, sj_crc32c(j->seed, d, j->bs));
    }

    /* Commit block. */
    put32(cb, JMAGIC), put32(cb + 4, JT_COMMIT), put32(cb + 8, j->seq);
    struct timespec ts = { 0, 0 };
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t sec = (uint64_t)ts.tv_sec > j->last_sec ? (uint64_t)ts.tv_sec : j->last_sec;
    j->last_sec = sec;
    put32(cb + CB_SEC, (uint32_t)(sec >> 32)), put32(cb + CB_SEC + 4, (uint32_t)sec);
    put32(cb + CB_NSEC, (uint32_t)ts.tv_nsec);
    if (j->csum)
        put32(cb + CB_CHKSUM, sj_crc32c(j->seed, cb, j->bs));

    /* Log, flush (with the data before it: ordered), commit + superblock, flush. */
    uint32_t start = j->head;
    rc = log_write(j, start, log, total);
    if (!rc)
        rc = j->dev.flush(j->dev.ctx);
    if (rc || stop == SJ_STOP_NO_COMMIT)
        goto out;
    rc = log_rw(j, wrap(j, start + total), cb, true);
    if (!rc)
        rc = write_sb(j, start, j->seq);
    if (!rc)
        rc = j->dev.flush(j->dev.ctx);
    if (rc)
        goto out;
    j->head = wrap(j, start + total + 1);
    j->seq++;
    if (stop == SJ_STOP_NO_CHECKPOINT)
        goto out;

    /* Checkpoint, in runs of consecutive blocks; flushed by the next commit or sj_empty. */
    for (size_t i = 0; i < n && !rc;) {
        size_t r = 1;
        while (i + r < n && list[i + r].key == list[i].key + r && r < 256)
            r++;
        if (r == 1) {
            rc = j->dev.write(j->dev.ctx, (list[i].key - 1) * j->bs, list[i].data, j->bs);
        } else {
            uint8_t *run = malloc(r * j->bs);
            if (!run) {
                rc = -ENOMEM;
                break;
            }
            for (size_t q = 0; q < r; q++)
                memcpy(run + q * j->bs, list[i + q].data, j->bs);
            rc = j->dev.write(j->dev.ctx, (list[i].key - 1) * j->bs, run, r * j->bs);
            free(run);
        }
        i += r;
    }
    if (!rc)
        drop_pending(j);
out:
    free(list), free(log), free(cb);
    return rc;
}

int sj_empty(struct sj *j)
{
    if (j->npend)
        return -EBUSY;
    int rc = j->dev.flush(j->dev.ctx);
    if (!rc && j->dirty)
        rc = write_sb(j, 0, j->seq);
    if (!rc)
        rc = j->dev.flush(j->dev.ctx);
    if (!rc)
        j->head = j->first;
    return rc;
}

/* ---- replay ---- */

/*
 * As jbd2's recovery (Linux fs/jbd2/recovery.c) and e2fsck's: a scan
 * finds the committed transactions, from the superblock's start and
 * sequence up to the first block that does not continue the log (no
 * magic, another sequence, a bad descriptor or commit checksum, no
 * commit); then their revoke records are collected; then every block
 * they log is written in place unless a revoke record in the same or a
 * later committed transaction names it.  A revoke block is the 12-byte
 * header, r_count (the bytes used, header included) and 4- or 8-byte
 * (64bit) block numbers, with csum v2/v3 a 4-byte checksum at the end.
 */
struct tag {
    uint64_t blk;
    uint32_t pos;           /* its block in the log */
    uint32_t flags;
    uint32_t csum;
    uint32_t seq;           /* its transaction */
};

struct revoke {
    uint64_t blk;
    uint32_t seq;
};

/* jbd2's tid_geq: sequence numbers wrap. */
static bool seq_geq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}

static int cmp_revoke(const void *x, const void *y)
{
    const struct revoke *a = x, *b = y;
    return a->blk < b->blk ? -1 : a->blk > b->blk;
}

/* Whether a committed revoke record names blk in transaction seq or a later one. */
static bool revoked(const struct revoke *rv, size_t n, uint64_t blk, uint32_t seq)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rv[mid].blk < blk)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && rv[lo].blk == blk; lo++)
        if (seq_geq(rv[lo].seq, seq))
            return true;
    return false;
}

static int grow_array(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, nc * size);
    if (!q)
        return -ENOMEM;
    *p = q, *cap = nc;
    return 0;
}

int sj_replay(struct sj *j, unsigned *trans, unsigned *blocks, char *err, size_t errlen)
{
    *trans = *blocks = 0;
    if (!j->dirty)
        return 0;
    uint32_t p = be32(j->sb + SB_START), seq = be32(j->sb + SB_SEQUENCE), seq0 = seq;
    uint8_t *b = malloc(j->bs), *d = malloc(j->bs);
    struct tag *tags = NULL;
    struct revoke *rv = NULL;
    size_t ntags = 0, captags = 0, nrv = 0, caprv = 0;
    uint32_t scanned = 0, loglen = j->maxlen - j->first;
    int rc = -ENOMEM;
    if (!b || !d)
        goto out;
    /* Scan: the committed transactions' tags and revoke records. */
    for (;;) {
        /* One transaction: descriptors and their blocks, revoke blocks, up to a commit block. */
        size_t tag0 = ntags, rv0 = nrv;
        bool committed = false;
        for (;;) {
            if (scanned++ > loglen)
                break;          /* went all the way round: no commit */
            rc = log_rw(j, p, b, false);
            if (rc) {
                seterr(err, errlen, "reading journal block %u: error %d", p, rc);
                goto out;
            }
            if (be32(b) != JMAGIC || be32(b + 8) != seq)
                break;
            uint32_t type = be32(b + 4);
            if (type == JT_COMMIT) {
                if (j->csum) {
                    uint32_t want = be32(b + CB_CHKSUM);
                    put32(b + CB_CHKSUM, 0);
                    if (sj_crc32c(j->seed, b, j->bs) != want)
                        break;
                }
                p = wrap(j, p + 1);
                committed = true;
                break;
            }
            if (type != JT_DESC && type != JT_REVOKE)
                break;
            if (j->csum) {
                uint32_t want = be32(b + j->bs - 4);
                put32(b + j->bs - 4, 0);
                if (sj_crc32c(j->seed, b, j->bs) != want)
                    break;
            }
            p = wrap(j, p + 1);
            size_t limit = j->bs - (j->csum ? 4 : 0);
            if (type == JT_REVOKE) {
                uint32_t used = be32(b + 12), rsize = j->incompat & JI_64BIT ? 8 : 4;
                if (used < 16 || used > limit) {
                    seterr(err, errlen, "transaction %u: a revoke block says it uses %u bytes: run e2fsck",
                           seq, used);
                    rc = -ENOTRECOVERABLE;
                    goto out;
                }
                for (uint32_t o = 16; o + rsize <= used; o += rsize) {
                    if (grow_array((void **)&rv, &caprv, nrv, sizeof(*rv))) {
                        rc = -ENOMEM;
                        goto out;
                    }
                    rv[nrv++] = (struct revoke){ rsize == 8 ? (uint64_t)be32(b + o) << 32 | be32(b + o + 4)
                                                            : be32(b + o), seq };
                }
                continue;
            }
            for (size_t t = 12; t + j->tagb <= limit;) {
                const uint8_t *tg = b + t;
                uint32_t flags = be16(tg + 6);
                uint64_t blk = be32(tg);
                if (j->incompat & JI_64BIT)
                    blk |= (uint64_t)be32(tg + 8) << 32;
                if (grow_array((void **)&tags, &captags, ntags, sizeof(*tags))) {
                    rc = -ENOMEM;
                    goto out;
                }
                tags[ntags++] = (struct tag){ blk, p, flags, j->csum3 ? be32(tg + 12) : be16(tg + 4), seq };
                p = wrap(j, p + 1);
                scanned++;
                t += j->tagb + (flags & TF_SAME_UUID ? 0 : 16);
                if (flags & TF_LAST_TAG)
                    break;
            }
        }
        if (!committed) {
            ntags = tag0, nrv = rv0;    /* torn: not there */
            break;
        }
        seq++;
    }
    if (nrv)
        qsort(rv, nrv, sizeof(*rv), cmp_revoke);
    /* Replay: the committed transactions' blocks in place, oldest first,
     * but for those a revoke record names. */
    for (size_t i = 0; i < ntags; i++) {
        if (revoked(rv, nrv, tags[i].blk, tags[i].seq))
            continue;
        if (tags[i].blk >= j->fs_blocks) {
            seterr(err, errlen, "transaction %u logs block %llu, outside the filesystem: run e2fsck",
                   tags[i].seq, (unsigned long long)tags[i].blk);
            rc = -ENOTRECOVERABLE;
            goto out;
        }
        rc = log_rw(j, tags[i].pos, d, false);
        if (rc) {
            seterr(err, errlen, "reading journal block %u: error %d", tags[i].pos, rc);
            goto out;
        }
        if (j->csum) {
            uint8_t seqbe[4];
            put32(seqbe, tags[i].seq);
            uint32_t c = sj_crc32c(sj_crc32c(j->seed, seqbe, 4), d, j->bs);
            if ((j->csum3 ? c : (c & 0xffff)) != tags[i].csum) {
                seterr(err, errlen, "transaction %u: block %llu's checksum is wrong: run e2fsck",
                       tags[i].seq, (unsigned long long)tags[i].blk);
                rc = -ENOTRECOVERABLE;
                goto out;
            }
        }
        if (tags[i].flags & TF_ESCAPE)
            put32(d, JMAGIC);
        rc = j->dev.write(j->dev.ctx, tags[i].blk * j->bs, d, j->bs);
        if (rc) {
            seterr(err, errlen, "writing block %llu: error %d", (unsigned long long)tags[i].blk, rc);
            goto out;
        }
        (*blocks)++;
    }
    *trans = seq - seq0;
    j->seq = seq;
    j->unreplayed = false;
    rc = j->dev.flush(j->dev.ctx);
    if (!rc)
        rc = write_sb(j, 0, seq);
    if (!rc)
        rc = j->dev.flush(j->dev.ctx);
    if (rc)
        seterr(err, errlen, "marking the replayed journal empty: error %d", rc);
    j->head = j->first;
out:
    free(b), free(d), free(tags), free(rv);
    return rc;
}
