/* Private state and helpers shared by the qcow2 driver's files. */
#ifndef QCOW2_INT_H
#define QCOW2_INT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <keel/image.h>

#define QCOW2_MAGIC 0x514649fbu

#define QC_INCOMPAT_DIRTY    (1ull << 0)
#define QC_INCOMPAT_CORRUPT  (1ull << 1)
#define QC_INCOMPAT_DATAFILE (1ull << 2)
#define QC_INCOMPAT_COMPR    (1ull << 3)
#define QC_INCOMPAT_EXTL2    (1ull << 4)
#define QC_INCOMPAT_KNOWN    (QC_INCOMPAT_DIRTY | QC_INCOMPAT_CORRUPT | QC_INCOMPAT_EXTL2 | \
                              QC_INCOMPAT_COMPR)
#define QC_COMPAT_LAZY       (1ull << 0)

#define QC_OFLAG_COPIED     (1ull << 63)
#define QC_OFLAG_COMPRESSED (1ull << 62)
#define QC_OFLAG_ZERO       (1ull << 0)
#define QC_OFFSET_MASK      0x00fffffffffffe00ull
#define QC_L1_RESERVED      0x7f000000000001ffull
#define QC_L2_RESERVED      0x3f000000000001feull

#define QC_EXT_END       0x00000000u
#define QC_EXT_BACKFMT   0xe2792acau
#define QC_EXT_FEATURES  0x6803f857u
#define QC_EXT_CRYPT     0x0537be77u
#define QC_EXT_BITMAPS   0x23852875u
#define QC_EXT_DATAFILE  0x44415441u

#define QC_L2_CACHE 16
#define QC_RB_CACHE 4

struct qc_cache_ent {
    uint64_t off;                       /* host offset, 0 = empty */
    uint64_t lru;
    uint8_t *data;
};

struct qc_luks;                         /* qcow2_crypto.c */

struct qcow2 {
    struct img *img;
    struct img_io *io;
    unsigned version;
    unsigned cluster_bits;
    uint64_t cluster_size;
    uint64_t incompat, compat, autoclear;
    uint32_t header_length;
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_offset;
    uint64_t *l1;                       /* host byte order */
    uint64_t rct_offset;
    uint32_t rct_clusters;
    uint64_t rct_entries;
    uint64_t *rct;                      /* host byte order */
    unsigned refcount_order;
    uint64_t rb_entries;                /* refcounts per block */
    uint64_t refcount_max;
    bool ext_l2;
    unsigned l2_entry_size;             /* 8 or 16 */
    uint64_t l2_entries;                /* entries per L2 table */
    uint64_t sc_size;                   /* subcluster size (ext_l2) */
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    char backing[1024], backing_fmt[32];
    uint64_t crypt_hdr_off, crypt_hdr_len;
    struct qc_luks *luks;
    uint64_t file_end;                  /* host size rounded to clusters */
    uint64_t free_hint;                 /* first cluster that may be free */
    uint64_t comp_off;                  /* next free byte in the compressed cluster */
    uint64_t lru_clock;
    struct qc_cache_ent l2c[QC_L2_CACHE];
    struct qc_cache_ent rbc[QC_RB_CACHE];
    uint8_t *cbuf, *cbuf2;              /* cluster-sized scratch */
    bool dirty_written;
    bool writable;
};

static inline uint64_t be64(const void *p)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}
static inline uint32_t be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static inline uint16_t be16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] << 8 | b[1]);
}
static inline void put_be64(void *p, uint64_t v)
{
    uint8_t *b = p;
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}
static inline void put_be32(void *p, uint32_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)(v >> 24); b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8); b[3] = (uint8_t)v;
}
static inline void put_be16(void *p, uint16_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v;
}

#define qc_err(err, ...) \
    do { if (err) snprintf((err), IMG_ERR_LEN, "qcow2: " __VA_ARGS__); } while (0)

/* I/O helpers (qcow2.c). */
int qc_pread(struct qcow2 *s, void *buf, size_t len, uint64_t off);
int qc_pwrite(struct qcow2 *s, const void *buf, size_t len, uint64_t off);
int qc_flush(struct qcow2 *s);
/* A cluster-sized metadata cache (L2 tables, refcount blocks). */
int qc_cache_load(struct qcow2 *s, struct qc_cache_ent *c, int n, uint64_t off, uint8_t **out);
void qc_cache_drop(struct qc_cache_ent *c, int n);

/* Refcounts (qcow2_refcount.c). */
uint64_t qc_rc_get_entry(const struct qcow2 *s, const uint8_t *blk, uint64_t i);
void qc_rc_set_entry(const struct qcow2 *s, uint8_t *blk, uint64_t i, uint64_t v);
int qc_refcount_get(struct qcow2 *s, uint64_t cluster, uint64_t *rc);
/* Adds delta to the refcounts of the clusters covering [off, off+len). */
int qc_refcount_add(struct qcow2 *s, uint64_t off, uint64_t len, int delta);
/* Allocates n contiguous fresh clusters with refcount 1 (written and
 * flushed before returning); returns the host offset. */
int qc_alloc_clusters(struct qcow2 *s, uint64_t n, uint64_t *off);
int qc_check(struct qcow2 *s, struct img_check *res, int mode);
#define QC_CHECK_ONLY 0
#define QC_REPAIR_LEAKS 1
#define QC_REPAIR_ALL 2

/* zlib (qcow2_zlib.c). */
int qc_inflate(const void *in, size_t in_len, void *out, size_t out_len);
/* Returns the compressed length, or a negative errno / -ENOSPC when the
 * data does not compress below out_len. */
long qc_deflate(const void *in, size_t in_len, void *out, size_t out_len);

/* LUKS (qcow2_crypto.c). */
int qc_luks_open(struct qcow2 *s, const char *secret, char *err);
void qc_luks_free(struct qcow2 *s);
/* En/decrypts len bytes (multiple of 512) in place; sector = host offset / 512. */
int qc_luks_crypt(struct qcow2 *s, bool enc, uint64_t sector, uint8_t *buf, size_t len);
/* Builds a LUKS header region of *len bytes for create: *hdr (malloc'd)
 * holds its first *used bytes; the rest of the region is zeros. */
int qc_luks_create(const char *secret, uint64_t iter_ms, uint8_t **hdr, uint64_t *len,
                   uint64_t *used, char *err);

#endif
