/* The qcow2 image driver (versions 2 and 3): open, read, write, discard, info, check, create. */
#include "qcow2_int.h"

/* ---- I/O and caches --------------------------------------------------- */

int qc_pread(struct qcow2 *s, void *buf, size_t len, uint64_t off)
{
    return s->io->ops->pread(s->io, buf, len, off);
}

int qc_pwrite(struct qcow2 *s, const void *buf, size_t len, uint64_t off)
{
    int r = s->io->ops->pwrite(s->io, buf, len, off);
    if (r == 0) {
        uint64_t end = (off + len + s->cluster_size - 1) & ~(s->cluster_size - 1);
        if (end > s->file_end)
            s->file_end = end;
    }
    return r;
}

int qc_flush(struct qcow2 *s)
{
    return s->io->ops->flush(s->io);
}

int qc_cache_load(struct qcow2 *s, struct qc_cache_ent *c, int n, uint64_t off, uint8_t **out)
{
    int victim = 0;
    for (int i = 0; i < n; i++) {
        if (c[i].off == off && c[i].data) {
            c[i].lru = ++s->lru_clock;
            *out = c[i].data;
            return 0;
        }
        if (c[i].lru < c[victim].lru)
            victim = i;
    }
    struct qc_cache_ent *e = &c[victim];
    if (!e->data && !(e->data = malloc(s->cluster_size)))
        return -ENOMEM;
    e->off = 0;
    int r = qc_pread(s, e->data, s->cluster_size, off);
    if (r < 0)
        return r;
    e->off = off;
    e->lru = ++s->lru_clock;
    *out = e->data;
    return 0;
}

void qc_cache_drop(struct qc_cache_ent *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c[i].data);
        c[i].data = NULL;
        c[i].off = 0;
    }
}

/* Replaces the cached copy of the cluster at off, if any. */
static void cache_put(struct qcow2 *s, struct qc_cache_ent *c, int n, uint64_t off, const uint8_t *data)
{
    for (int i = 0; i < n; i++)
        if (c[i].off == off && c[i].data)
            memcpy(c[i].data, data, s->cluster_size);
}

/* ---- Probe and open --------------------------------------------------- */

static int qcow2_probe(const uint8_t *buf, size_t len)
{
    if (len >= 8 && be32(buf) == QCOW2_MAGIC && (be32(buf + 4) == 2 || be32(buf + 4) == 3))
        return 100;
    return 0;
}

static void qc_free(struct qcow2 *s)
{
    if (!s)
        return;
    qc_cache_drop(s->l2c, QC_L2_CACHE);
    qc_cache_drop(s->rbc, QC_RB_CACHE);
    qc_luks_free(s);
    free(s->l1);
    free(s->rct);
    free(s->cbuf);
    free(s->cbuf2);
    free(s);
}

static int parse_exts(struct qcow2 *s, const uint8_t *h, uint64_t hlen, uint64_t start, char *err)
{
    uint64_t off = start;
    bool crypt_seen = false;
    for (int n = 0;; n++) {
        if (n > 1024) {
            qc_err(err, "too many header extensions");
            return -EINVAL;
        }
        if (off + 8 > hlen) {
            /* v2 images may end without an end marker. */
            if (s->version == 2)
                break;
            qc_err(err, "header extensions run past the first cluster");
            return -EINVAL;
        }
        uint32_t type = be32(h + off), len = be32(h + off + 4);
        off += 8;
        if (type == QC_EXT_END)
            break;
        if (len > hlen - off) {
            qc_err(err, "header extension 0x%08x has length %u, past the end of the header cluster", type, len);
            return -EINVAL;
        }
        switch (type) {
        case QC_EXT_BACKFMT:
            if (len >= sizeof s->backing_fmt) {
                qc_err(err, "backing format header extension is too long (%u bytes)", len);
                return -EINVAL;
            }
            memcpy(s->backing_fmt, h + off, len);
            s->backing_fmt[len] = 0;
            break;
        case QC_EXT_CRYPT:
            if (len != 16) {
                qc_err(err, "encryption header extension has length %u, not 16", len);
                return -EINVAL;
            }
            s->crypt_hdr_off = be64(h + off);
            s->crypt_hdr_len = be64(h + off + 8);
            crypt_seen = true;
            break;
        case QC_EXT_DATAFILE:
            qc_err(err, "external data files are not supported");
            return -ENOTSUP;
        default:
            break;                      /* feature table, bitmaps, unknown: skip */
        }
        off += ((uint64_t)len + 7) & ~7ull;
    }
    if (crypt_seen && s->crypt_method != 2) {
        qc_err(err, "encryption header extension without LUKS encryption");
        return -EINVAL;
    }
    return 0;
}

static int qcow2_open(struct img *img, char *err)
{
    struct img_io *io = img->io;
    struct qcow2 *s = calloc(1, sizeof *s);
    uint8_t h0[112], *h = NULL;
    int r;

    if (!s)
        return -ENOMEM;
    s->img = img;
    s->io = io;
    s->writable = img->flags & IMG_OPEN_RDWR;
    int64_t fsz = io->ops->size(io);
    if (fsz < 0) {
        r = (int)fsz;
        qc_err(err, "cannot get the file size (error %d)", r);
        goto fail;
    }
    if (fsz < 72) {
        qc_err(err, "file too short for a qcow2 header (%lld bytes)", (long long)fsz);
        r = -EINVAL;
        goto fail;
    }
    memset(h0, 0, sizeof h0);
    if ((r = io->ops->pread(io, h0, sizeof h0, 0)) < 0) {
        qc_err(err, "cannot read the header (error %d)", r);
        goto fail;
    }
    if (be32(h0) != QCOW2_MAGIC) {
        qc_err(err, "bad magic 0x%08x (not a qcow2 image)", be32(h0));
        r = -EINVAL;
        goto fail;
    }
    s->version = be32(h0 + 4);
    if (s->version != 2 && s->version != 3) {
        qc_err(err, "unsupported qcow2 version %u", s->version);
        r = -ENOTSUP;
        goto fail;
    }
    s->cluster_bits = be32(h0 + 20);
    if (s->cluster_bits < 9 || s->cluster_bits > 21) {
        qc_err(err, "cluster_bits %u out of range (9 to 21)", s->cluster_bits);
        r = -EINVAL;
        goto fail;
    }
    s->cluster_size = 1ull << s->cluster_bits;
    s->file_end = ((uint64_t)fsz + s->cluster_size - 1) & ~(s->cluster_size - 1);
    img->size = be64(h0 + 24);
    s->crypt_method = be32(h0 + 32);
    s->l1_size = be32(h0 + 36);
    s->l1_offset = be64(h0 + 40);
    s->rct_offset = be64(h0 + 48);
    s->rct_clusters = be32(h0 + 56);
    s->nb_snapshots = be32(h0 + 60);
    s->snapshots_offset = be64(h0 + 64);
    s->refcount_order = 4;
    s->header_length = 72;
    if (s->version == 3) {
        if (fsz < 104) {
            qc_err(err, "file too short for a version 3 header");
            r = -EINVAL;
            goto fail;
        }
        s->incompat = be64(h0 + 72);
        s->compat = be64(h0 + 80);
        s->autoclear = be64(h0 + 88);
        s->refcount_order = be32(h0 + 96);
        s->header_length = be32(h0 + 100);
        if (s->header_length < 104 || s->header_length > s->cluster_size) {
            qc_err(err, "header_length %u out of range", s->header_length);
            r = -EINVAL;
            goto fail;
        }
        if (s->header_length > 104 && h0[104] != 0) {
            qc_err(err, "unsupported compression type %u (only zlib)", h0[104]);
            r = -ENOTSUP;
            goto fail;
        }
    }
    if (s->incompat & ~QC_INCOMPAT_KNOWN) {
        qc_err(err, "unknown incompatible features 0x%llx",
               (unsigned long long)(s->incompat & ~QC_INCOMPAT_KNOWN));
        r = -ENOTSUP;
        goto fail;
    }
    if ((s->incompat & QC_INCOMPAT_CORRUPT) && s->writable) {
        qc_err(err, "image is marked corrupt; it can only be opened read-only");
        r = -EIO;
        goto fail;
    }
    if (s->refcount_order > 6) {
        qc_err(err, "refcount_order %u out of range (0 to 6)", s->refcount_order);
        r = -EINVAL;
        goto fail;
    }
    s->refcount_max = s->refcount_order == 6 ? UINT64_MAX : (1ull << (1u << s->refcount_order)) - 1;
    s->rb_entries = s->cluster_size * 8 >> s->refcount_order;
    s->ext_l2 = s->incompat & QC_INCOMPAT_EXTL2;
    if (s->ext_l2 && s->cluster_bits < 14) {
        qc_err(err, "extended L2 entries need clusters of at least 16 KiB");
        r = -EINVAL;
        goto fail;
    }
    s->l2_entry_size = s->ext_l2 ? 16 : 8;
    s->l2_entries = s->cluster_size / s->l2_entry_size;
    s->sc_size = s->cluster_size / 32;
    if (s->crypt_method > 2) {
        qc_err(err, "unknown encryption method %u", s->crypt_method);
        r = -EINVAL;
        goto fail;
    }
    if (s->crypt_method == 1) {
        qc_err(err, "legacy AES encryption is not supported (only LUKS)");
        r = -ENOTSUP;
        goto fail;
    }
    /* Sizes. */
    if (img->size > (1ull << 61)) {
        qc_err(err, "virtual size %llu is too large", (unsigned long long)img->size);
        r = -EFBIG;
        goto fail;
    }
    uint64_t per_l2 = s->l2_entries * s->cluster_size;
    uint64_t need_l1 = (img->size + per_l2 - 1) / per_l2;
    if (s->l1_size > (32u << 20) / 8) {
        qc_err(err, "L1 table too large (%u entries)", s->l1_size);
        r = -EFBIG;
        goto fail;
    }
    if (need_l1 > s->l1_size) {
        qc_err(err, "L1 table (%u entries) too small for the virtual size %llu",
               s->l1_size, (unsigned long long)img->size);
        r = -EINVAL;
        goto fail;
    }
    if (s->l1_size && ((s->l1_offset & (s->cluster_size - 1)) ||
                       s->l1_offset > s->file_end || s->l1_size * 8ull > s->file_end - s->l1_offset)) {
        qc_err(err, "L1 table at 0x%llx is misaligned or past the end of the file",
               (unsigned long long)s->l1_offset);
        r = -EINVAL;
        goto fail;
    }
    if (s->rct_clusters == 0 || s->rct_clusters > (8u << 20) / s->cluster_size + 1 ||
        (s->rct_offset & (s->cluster_size - 1)) || s->rct_offset > s->file_end ||
        s->rct_clusters * s->cluster_size > s->file_end - s->rct_offset) {
        qc_err(err, "refcount table (0x%llx, %u clusters) is misaligned, too large or past the end of the file",
               (unsigned long long)s->rct_offset, s->rct_clusters);
        r = -EINVAL;
        goto fail;
    }
    if (s->nb_snapshots > 65536 || (s->nb_snapshots &&
        ((s->snapshots_offset & (s->cluster_size - 1)) || s->snapshots_offset >= s->file_end))) {
        qc_err(err, "snapshot table (%u entries at 0x%llx) is invalid", s->nb_snapshots,
               (unsigned long long)s->snapshots_offset);
        r = -EINVAL;
        goto fail;
    }
    /* The first cluster: extensions and backing file name. */
    h = calloc(1, s->cluster_size);
    if (!h) {
        r = -ENOMEM;
        goto fail;
    }
    if ((r = io->ops->pread(io, h, s->cluster_size, 0)) < 0)
        goto fail;
    if ((r = parse_exts(s, h, s->cluster_size, s->header_length, err)) < 0)
        goto fail;
    uint64_t boff = be64(h0 + 8);
    uint32_t blen = be32(h0 + 16);
    if (boff) {
        if (blen >= sizeof s->backing || boff > s->cluster_size || blen > s->cluster_size - boff) {
            qc_err(err, "backing file name (offset %llu, %u bytes) is too long or outside the header cluster",
                   (unsigned long long)boff, blen);
            r = -EINVAL;
            goto fail;
        }
        memcpy(s->backing, h + boff, blen);
        s->backing[blen] = 0;
    }
    /* Tables. */
    uint8_t *raw = malloc((size_t)s->l1_size * 8 + (size_t)s->rct_clusters * s->cluster_size + 8);
    s->l1 = calloc(s->l1_size + 1, 8);
    s->rct_entries = s->rct_clusters * s->cluster_size / 8;
    s->rct = calloc(s->rct_entries, 8);
    s->cbuf = malloc(s->cluster_size);
    s->cbuf2 = malloc(s->cluster_size + 512);
    if (!raw || !s->l1 || !s->rct || !s->cbuf || !s->cbuf2) {
        free(raw);
        r = -ENOMEM;
        goto fail;
    }
    if ((r = io->ops->pread(io, raw, (size_t)s->l1_size * 8, s->l1_offset)) < 0) {
        free(raw);
        goto fail;
    }
    for (uint32_t i = 0; i < s->l1_size; i++) {
        s->l1[i] = be64(raw + 8 * i);
        uint64_t o = s->l1[i] & QC_OFFSET_MASK;
        if (o && ((o & (s->cluster_size - 1)) || o >= s->file_end)) {
            qc_err(err, "L1 entry %u points to an L2 table at 0x%llx, misaligned or past the end of the file",
                   i, (unsigned long long)o);
            free(raw);
            r = -EINVAL;
            goto fail;
        }
    }
    if ((r = io->ops->pread(io, raw, s->rct_clusters * s->cluster_size, s->rct_offset)) < 0) {
        free(raw);
        goto fail;
    }
    for (uint64_t i = 0; i < s->rct_entries; i++) {
        s->rct[i] = be64(raw + 8 * i);
        uint64_t o = s->rct[i] & QC_OFFSET_MASK;
        if (o && ((o & (s->cluster_size - 1)) || o >= s->file_end)) {
            qc_err(err, "refcount table entry %llu points to a block at 0x%llx, misaligned or past the end of the file",
                   (unsigned long long)i, (unsigned long long)o);
            free(raw);
            r = -EINVAL;
            goto fail;
        }
    }
    free(raw);
    free(h);
    h = NULL;
    /* Encryption. */
    if (s->crypt_method == 2) {
        if (!s->crypt_hdr_len || (s->crypt_hdr_off & (s->cluster_size - 1)) ||
            s->crypt_hdr_off > s->file_end || s->crypt_hdr_len > s->file_end - s->crypt_hdr_off) {
            qc_err(err, "LUKS header extension missing, misaligned or past the end of the file");
            r = -EINVAL;
            goto fail;
        }
        if ((r = qc_luks_open(s, img->secret, err)) < 0)
            goto fail;
    }
    if (s->writable && s->nb_snapshots) {
        qc_err(err, "writing images with internal snapshots is not supported (open read-only)");
        r = -ENOTSUP;
        goto fail;
    }
    img->priv = s;
    /* A dirty image (lazy refcounts, unclean close) gets its refcounts rebuilt. */
    if (s->writable && (s->incompat & QC_INCOMPAT_DIRTY)) {
        struct img_check res;
        if ((r = qc_check(s, &res, QC_REPAIR_ALL)) < 0) {
            qc_err(err, "cannot rebuild the refcounts of a dirty image (error %d)", r);
            img->priv = NULL;
            goto fail;
        }
        uint8_t b[8];
        s->incompat &= ~QC_INCOMPAT_DIRTY;
        put_be64(b, s->incompat);
        if ((r = qc_flush(s)) < 0 || (r = qc_pwrite(s, b, 8, 72)) < 0 || (r = qc_flush(s)) < 0) {
            img->priv = NULL;
            goto fail;
        }
    }
    /* Unknown autoclear features are cleared by a writer (bitmaps are not kept up). */
    if (s->writable && s->autoclear) {
        uint8_t b[8] = { 0 };
        if ((r = qc_pwrite(s, b, 8, 88)) < 0) {
            img->priv = NULL;
            goto fail;
        }
        s->autoclear = 0;
    }
    if (s->backing[0] && !(img->flags & IMG_OPEN_NO_BACKING)) {
        r = img_open_backing(img, s->backing, s->backing_fmt[0] ? s->backing_fmt : NULL,
                             &img->backing, err);
        if (r < 0) {
            img->priv = NULL;
            goto fail;
        }
    }
    return 0;

fail:
    free(h);
    qc_free(s);
    if (r >= 0)
        r = -EIO;
    return r;
}

static void qcow2_close(struct img *img)
{
    struct qcow2 *s = img->priv;
    if (!s)
        return;
    if (s->writable && s->dirty_written) {
        uint8_t b[8];
        put_be64(b, s->incompat & ~QC_INCOMPAT_DIRTY);
        if (qc_flush(s) == 0 && qc_pwrite(s, b, 8, 72) == 0)
            qc_flush(s);
    } else if (s->writable) {
        qc_flush(s);
    }
    qc_free(s);
    img->priv = NULL;
}

/* ---- Mapping ---------------------------------------------------------- */

struct qc_map {
    uint64_t l1i, l2i;
    uint64_t l2off;                     /* 0: no L2 table */
    uint64_t entry, bitmap;
};

static int lookup(struct qcow2 *s, uint64_t vcl, struct qc_map *m)
{
    memset(m, 0, sizeof *m);
    m->l1i = vcl / s->l2_entries;
    m->l2i = vcl % s->l2_entries;
    if (m->l1i >= s->l1_size)
        return -EIO;
    m->l2off = s->l1[m->l1i] & QC_OFFSET_MASK;
    if (!m->l2off)
        return 0;
    if (m->l2off + s->cluster_size > s->file_end)
        return -EIO;
    uint8_t *l2;
    int r = qc_cache_load(s, s->l2c, QC_L2_CACHE, m->l2off, &l2);
    if (r < 0)
        return r;
    m->entry = be64(l2 + m->l2i * s->l2_entry_size);
    if (s->ext_l2)
        m->bitmap = be64(l2 + m->l2i * s->l2_entry_size + 8);
    return 0;
}

static void compressed_span(const struct qcow2 *s, uint64_t e, uint64_t *off, uint64_t *len)
{
    unsigned x = 62 - (s->cluster_bits - 8);
    *off = e & ((1ull << x) - 1);
    uint64_t nsec = ((e & ~(QC_OFLAG_COPIED | QC_OFLAG_COMPRESSED)) >> x) + 1;
    *len = nsec * 512 - (*off & 511);
}

/* Reads host data at hoff (a data cluster) into buf, decrypting. */
static int read_host(struct qcow2 *s, uint64_t hoff, uint8_t *buf, size_t len)
{
    if (hoff + len > s->file_end)
        return -EIO;
    if (!s->luks)
        return qc_pread(s, buf, len, hoff);
    uint64_t a = hoff & ~511ull, e = (hoff + len + 511) & ~511ull;
    while (a < e) {
        size_t n = e - a > s->cluster_size ? s->cluster_size : (size_t)(e - a);
        int r = qc_pread(s, s->cbuf2, n, a);
        if (r < 0 || (r = qc_luks_crypt(s, false, a / 512, s->cbuf2, n)) < 0)
            return r;
        uint64_t from = hoff > a ? hoff : a, to = hoff + len < a + n ? hoff + len : a + n;
        memcpy(buf + (from - hoff), s->cbuf2 + (from - a), to - from);
        a += n;
    }
    return 0;
}

/* Reads [o, o+n) of guest cluster vcl, whose mapping is m. */
static int read_in_cluster(struct qcow2 *s, uint64_t vcl, const struct qc_map *m,
                           uint64_t o, size_t n, uint8_t *buf)
{
    uint64_t cs = s->cluster_size, e = m->entry, voff = vcl * cs + o;
    if (e & QC_OFLAG_COMPRESSED) {
        uint64_t coff, clen;
        compressed_span(s, e, &coff, &clen);
        if (s->luks || coff >= s->file_end || clen > s->file_end - coff || clen > 2 * cs + 512)
            return -EIO;
        uint8_t *in = malloc(clen), *out = malloc(cs);
        int r = -ENOMEM;
        if (in && out && (r = qc_pread(s, in, clen, coff)) == 0 &&
            (r = qc_inflate(in, clen, out, cs)) == 0)
            memcpy(buf, out + o, n);
        free(in);
        free(out);
        return r;
    }
    uint64_t hoff = e & QC_OFFSET_MASK;
    if (!s->ext_l2) {
        if (s->version >= 3 && (e & QC_OFLAG_ZERO)) {
            memset(buf, 0, n);
            return 0;
        }
        if (!hoff)
            return img_read_backing(s->img, voff, buf, n);
        if (hoff & (cs - 1))
            return -EIO;
        return read_host(s, hoff + o, buf, n);
    }
    /* Extended L2: per subcluster. */
    while (n) {
        unsigned sc = (unsigned)(o / s->sc_size);
        size_t k = (size_t)((sc + 1) * s->sc_size - o);
        if (k > n)
            k = n;
        int r;
        if (m->bitmap & (1ull << sc)) {
            if (!hoff || (hoff & (cs - 1)))
                return -EIO;
            r = read_host(s, hoff + o, buf, k);
        } else if (m->bitmap & (1ull << (32 + sc))) {
            memset(buf, 0, k);
            r = 0;
        } else {
            r = img_read_backing(s->img, vcl * cs + o, buf, k);
        }
        if (r < 0)
            return r;
        buf += k;
        o += k;
        n -= k;
    }
    return 0;
}

static int qcow2_read(struct img *img, uint64_t off, void *vbuf, size_t len)
{
    struct qcow2 *s = img->priv;
    uint8_t *buf = vbuf;
    uint64_t cs = s->cluster_size;
    /* A run of contiguous plain host clusters, read with one request. */
    uint64_t run_host = 0;
    uint8_t *run_buf = NULL;
    size_t run_len = 0;
    int r;

    while (len) {
        uint64_t vcl = off / cs, o = off % cs;
        size_t n = cs - o < len ? (size_t)(cs - o) : len;
        struct qc_map m;
        if ((r = lookup(s, vcl, &m)) < 0)
            return r;
        uint64_t hoff = m.entry & QC_OFFSET_MASK;
        bool plain = !s->luks && !s->ext_l2 && !(m.entry & QC_OFLAG_COMPRESSED) && hoff &&
                     !(s->version >= 3 && (m.entry & QC_OFLAG_ZERO)) && !(hoff & (cs - 1)) &&
                     hoff + cs <= s->file_end;
        if (plain && run_len && run_host + run_len == hoff + o) {
            run_len += n;
        } else {
            if (run_len && (r = qc_pread(s, run_buf, run_len, run_host)) < 0)
                return r;
            run_len = 0;
            if (plain) {
                run_host = hoff + o;
                run_buf = buf;
                run_len = n;
            } else if ((r = read_in_cluster(s, vcl, &m, o, n, buf)) < 0) {
                return r;
            }
        }
        buf += n;
        off += n;
        len -= n;
    }
    if (run_len && (r = qc_pread(s, run_buf, run_len, run_host)) < 0)
        return r;
    return 0;
}

/* ---- Block status ----------------------------------------------------- */

enum { QS_DATA, QS_ZERO, QS_BELOW };

/* The state of the first *k bytes of [o, o+n) in a cluster mapped by m,
 * decided exactly as read_in_cluster reads it. */
static int cluster_state(const struct qcow2 *s, const struct qc_map *m, uint64_t o,
                         uint64_t n, uint64_t *k)
{
    uint64_t e = m->entry;
    *k = n;
    if (e & QC_OFLAG_COMPRESSED)
        return QS_DATA;
    if (!s->ext_l2) {
        if (s->version >= 3 && (e & QC_OFLAG_ZERO))
            return QS_ZERO;
        return (e & QC_OFFSET_MASK) ? QS_DATA : QS_BELOW;
    }
    unsigned sc = (unsigned)(o / s->sc_size);
    int st = (m->bitmap & (1ull << sc)) ? QS_DATA :
             (m->bitmap & (1ull << (32 + sc))) ? QS_ZERO : QS_BELOW;
    uint64_t end = o + n;
    uint64_t p = (sc + 1) * s->sc_size;
    while (p < end) {
        unsigned t = (unsigned)(p / s->sc_size);
        int st2 = (m->bitmap & (1ull << t)) ? QS_DATA :
                  (m->bitmap & (1ull << (32 + t))) ? QS_ZERO : QS_BELOW;
        if (st2 != st)
            break;
        p += s->sc_size;
    }
    *k = (p < end ? p : end) - o;
    return st;
}

/* From the L1/L2 tables without reading data: unallocated ranges take the
 * backing image's status (zero without one), zero clusters are ZERO, data
 * and compressed clusters DATA. */
static int qcow2_block_status(struct img *img, uint64_t off, uint64_t len, uint64_t *pnum)
{
    struct qcow2 *s = img->priv;
    uint64_t cs = s->cluster_size, done = 0;
    int state = -1;

    while (done < len) {
        uint64_t vcl = (off + done) / cs, o = (off + done) % cs;
        uint64_t n = cs - o < len - done ? cs - o : len - done;
        struct qc_map m;
        int r = lookup(s, vcl, &m);
        if (r < 0)
            return r;
        while (n) {
            uint64_t k;
            int st = cluster_state(s, &m, o, n, &k);
            if (state < 0)
                state = st;
            else if (st != state)
                goto out;
            done += k;
            o += k;
            n -= k;
        }
    }
out:
    if (state == QS_BELOW)
        return img_backing_status(img, off, done, pnum);
    *pnum = done;
    return state == QS_DATA ? IMG_BS_DATA : IMG_BS_ZERO;
}

/* ---- Writing ---------------------------------------------------------- */

static int mark_dirty(struct qcow2 *s)
{
    if (s->dirty_written || !(s->compat & QC_COMPAT_LAZY) || s->version < 3)
        return 0;
    uint8_t b[8];
    put_be64(b, s->incompat | QC_INCOMPAT_DIRTY);
    int r = qc_pwrite(s, b, 8, 72);
    if (r == 0)
        r = qc_flush(s);
    if (r == 0)
        s->dirty_written = true;
    return r;
}

/* Host clusters an L2 entry holds (for freeing). */
static void entry_span(const struct qcow2 *s, uint64_t e, uint64_t *off, uint64_t *len)
{
    *off = *len = 0;
    if (e & QC_OFLAG_COMPRESSED) {
        compressed_span(s, e, off, len);
    } else if (e & QC_OFFSET_MASK) {
        *off = e & QC_OFFSET_MASK;
        *len = s->cluster_size;
    }
}

/* Points guest cluster m at a new entry whose data (dlen bytes at doff,
 * already written) needs one more reference: flush, refcounts, flush,
 * then the mapping (a new L2 table is written and counted before the L1
 * entry points to it), then the old clusters are released. */
static int install(struct qcow2 *s, struct qc_map *m, uint64_t entry, uint64_t bitmap,
                   uint64_t doff, uint64_t dlen)
{
    uint64_t cs = s->cluster_size, old = m->entry;
    uint8_t ent[16];
    int r;
    put_be64(ent, entry);
    put_be64(ent + 8, bitmap);
    if (!m->l2off) {
        uint64_t l2off;
        if ((r = qc_alloc_clusters(s, 1, &l2off)) < 0)
            return r;
        uint8_t *t = calloc(1, cs);
        if (!t)
            return -ENOMEM;
        memcpy(t + m->l2i * s->l2_entry_size, ent, s->l2_entry_size);
        r = qc_pwrite(s, t, cs, l2off);
        if (r == 0)
            cache_put(s, s->l2c, QC_L2_CACHE, l2off, t);
        free(t);
        if (r < 0 || (r = qc_flush(s)) < 0 ||
            (r = qc_refcount_add(s, doff, dlen, 1)) < 0 ||
            (r = qc_refcount_add(s, l2off, cs, 1)) < 0 || (r = qc_flush(s)) < 0)
            return r;
        uint8_t l1e[8];
        put_be64(l1e, l2off | QC_OFLAG_COPIED);
        if ((r = qc_pwrite(s, l1e, 8, s->l1_offset + m->l1i * 8)) < 0)
            return r;
        s->l1[m->l1i] = l2off | QC_OFLAG_COPIED;
        m->l2off = l2off;
    } else {
        if ((r = qc_flush(s)) < 0 || (r = qc_refcount_add(s, doff, dlen, 1)) < 0 ||
            (r = qc_flush(s)) < 0)
            return r;
        uint8_t *l2;
        if ((r = qc_cache_load(s, s->l2c, QC_L2_CACHE, m->l2off, &l2)) < 0)
            return r;
        memcpy(l2 + m->l2i * s->l2_entry_size, ent, s->l2_entry_size);
        if ((r = qc_pwrite(s, ent, s->l2_entry_size, m->l2off + m->l2i * s->l2_entry_size)) < 0)
            return r;
    }
    m->entry = entry;
    m->bitmap = bitmap;
    uint64_t ooff, olen;
    entry_span(s, old, &ooff, &olen);
    if (olen) {
        if ((r = qc_flush(s)) < 0)
            return r;
        return qc_refcount_add(s, ooff, olen, -1);
    }
    return 0;
}

/* Writes one whole guest cluster compressed (convert -c).  Returns 1 if
 * the data does not compress and must be written normally. */
static int write_compressed(struct qcow2 *s, struct qc_map *m, const uint8_t *data)
{
    uint64_t cs = s->cluster_size;
    long clen = qc_deflate(data, cs, s->cbuf2, cs - 1);
    if (clen == -ENOSPC)
        return 1;
    if (clen < 0)
        return (int)clen;
    uint64_t off, rc = 0;
    int r;
    if (s->comp_off && (s->comp_off % cs) + (uint64_t)clen <= cs &&
        qc_refcount_get(s, s->comp_off / cs, &rc) == 0 && rc >= 1 && rc < s->refcount_max) {
        off = s->comp_off;
    } else if ((r = qc_alloc_clusters(s, 1, &off)) < 0) {
        return r;
    }
    if ((r = qc_pwrite(s, s->cbuf2, (size_t)clen, off)) < 0)
        return r;
    unsigned x = 62 - (s->cluster_bits - 8);
    uint64_t extra = ((off + (uint64_t)clen - 1) >> 9) - (off >> 9);
    uint64_t entry = QC_OFLAG_COMPRESSED | extra << x | off;
    if ((r = install(s, m, entry, 0, off, (uint64_t)clen)) < 0)
        return r;
    s->comp_off = (off + (uint64_t)clen) % cs ? off + (uint64_t)clen : 0;
    return 0;
}

static int write_in_cluster(struct qcow2 *s, uint64_t vcl, uint64_t o, size_t n, const uint8_t *data)
{
    uint64_t cs = s->cluster_size;
    struct qc_map m;
    int r;
    if ((r = lookup(s, vcl, &m)) < 0)
        return r;
    uint64_t e = m.entry, hoff = e & QC_OFFSET_MASK;
    bool inplace = hoff && (e & QC_OFLAG_COPIED) && !(e & QC_OFLAG_COMPRESSED) &&
                   !(s->version >= 3 && !s->ext_l2 && (e & QC_OFLAG_ZERO)) &&
                   (!s->ext_l2 || (uint32_t)m.bitmap == 0xffffffffu);
    if (inplace) {
        if (hoff & (cs - 1) || hoff + cs > s->file_end)
            return -EIO;
        if (!s->luks)
            return qc_pwrite(s, data, n, hoff + o);
        uint64_t a = o & ~511ull, b = (o + n + 511) & ~511ull;
        if ((r = read_host(s, hoff + a, s->cbuf, b - a)) < 0)
            return r;
        memcpy(s->cbuf + (o - a), data, n);
        if ((r = qc_luks_crypt(s, true, (hoff + a) / 512, s->cbuf, b - a)) < 0)
            return r;
        return qc_pwrite(s, s->cbuf, b - a, hoff + a);
    }
    /* Allocate: the whole cluster, with what lies under it around the write. */
    if (n < cs && (r = read_in_cluster(s, vcl, &m, 0, cs, s->cbuf)) < 0)
        return r;
    memcpy(s->cbuf + o, data, n);
    if ((s->img->flags & IMG_OPEN_COMPRESS) && !s->luks && n == cs && !(e & ~QC_OFLAG_ZERO) &&
        !m.bitmap) {
        r = write_compressed(s, &m, s->cbuf);
        if (r <= 0)
            return r;
    }
    uint64_t doff;
    if ((r = qc_alloc_clusters(s, 1, &doff)) < 0)
        return r;
    if (s->luks && (r = qc_luks_crypt(s, true, doff / 512, s->cbuf, cs)) < 0)
        return r;
    if ((r = qc_pwrite(s, s->cbuf, cs, doff)) < 0)
        return r;
    return install(s, &m, doff | QC_OFLAG_COPIED, s->ext_l2 ? 0xffffffffull : 0, doff, cs);
}

static int qcow2_write(struct img *img, uint64_t off, const void *vbuf, size_t len)
{
    struct qcow2 *s = img->priv;
    const uint8_t *buf = vbuf;
    int r;
    if (!s->writable)
        return -EROFS;
    if ((r = mark_dirty(s)) < 0)
        return r;
    while (len) {
        uint64_t vcl = off / s->cluster_size, o = off % s->cluster_size;
        size_t n = s->cluster_size - o < len ? (size_t)(s->cluster_size - o) : len;
        if ((r = write_in_cluster(s, vcl, o, n, buf)) < 0)
            return r;
        buf += n;
        off += n;
        len -= n;
    }
    return 0;
}

static int qcow2_flush(struct img *img)
{
    struct qcow2 *s = img->priv;
    return qc_flush(s);
}

static int qcow2_discard(struct img *img, uint64_t off, uint64_t len)
{
    struct qcow2 *s = img->priv;
    uint64_t cs = s->cluster_size;
    int r;
    if (!s->writable)
        return -EROFS;
    uint64_t c0 = (off + cs - 1) / cs, c1 = (off + len) / cs;
    if (off + len == img->size)
        c1 = (off + len + cs - 1) / cs;  /* the tail cluster of the disk */
    if ((r = mark_dirty(s)) < 0)
        return r;
    for (uint64_t c = c0; c < c1; c++) {
        struct qc_map m;
        if ((r = lookup(s, c, &m)) < 0)
            return r;
        if (!m.l2off)
            continue;
        bool zero = s->version >= 3 && img->backing;
        uint64_t ne = 0, nb = 0;
        if (zero && s->ext_l2)
            nb = 0xffffffffull << 32;
        else if (zero)
            ne = QC_OFLAG_ZERO;
        if (ne == m.entry && nb == m.bitmap)
            continue;
        uint8_t ent[16], *l2;
        put_be64(ent, ne);
        put_be64(ent + 8, nb);
        if ((r = qc_cache_load(s, s->l2c, QC_L2_CACHE, m.l2off, &l2)) < 0)
            return r;
        memcpy(l2 + m.l2i * s->l2_entry_size, ent, s->l2_entry_size);
        if ((r = qc_pwrite(s, ent, s->l2_entry_size, m.l2off + m.l2i * s->l2_entry_size)) < 0)
            return r;
        uint64_t ooff, olen;
        entry_span(s, m.entry, &ooff, &olen);
        if (olen && ((r = qc_flush(s)) < 0 || (r = qc_refcount_add(s, ooff, olen, -1)) < 0))
            return r;
    }
    return 0;
}

/* ---- Info and check --------------------------------------------------- */

static int qcow2_info(struct img *img, struct img_info *info)
{
    struct qcow2 *s = img->priv;
    info->format = "qcow2";
    info->cluster_size = (uint32_t)s->cluster_size;
    snprintf(info->backing, sizeof info->backing, "%s", s->backing);
    snprintf(info->backing_format, sizeof info->backing_format, "%s", s->backing_fmt);
    snprintf(info->subformat, sizeof info->subformat, "%s", s->version == 2 ? "0.10" : "1.1");
    info->version = s->version;
    info->encrypted = s->crypt_method != 0;
    info->dirty = (s->incompat & QC_INCOMPAT_DIRTY) || s->dirty_written;
    info->nr_snapshots = s->nb_snapshots;
    /* Snapshot names. */
    uint64_t off = s->snapshots_offset;
    for (uint32_t i = 0; i < s->nb_snapshots && i < 16; i++) {
        uint8_t h[40];
        if (off + 40 > s->file_end || qc_pread(s, h, 40, off) < 0)
            break;
        uint32_t extra = be32(h + 36);
        uint16_t idl = be16(h + 12), nl = be16(h + 14);
        uint64_t noff = off + 40 + extra + idl;
        size_t cp = nl < 63 ? nl : 63;
        if (noff + cp > s->file_end || qc_pread(s, info->snapshot_names[i], cp, noff) < 0)
            break;
        info->snapshot_names[i][cp] = 0;
        off += (40ull + extra + idl + nl + 7) & ~7ull;
    }
    /* Compressed clusters anywhere in the active table? */
    for (uint32_t i = 0; i < s->l1_size && !info->compressed_clusters; i++) {
        uint64_t l2off = s->l1[i] & QC_OFFSET_MASK;
        uint8_t *l2;
        if (!l2off || qc_cache_load(s, s->l2c, QC_L2_CACHE, l2off, &l2) < 0)
            continue;
        for (uint64_t j = 0; j < s->l2_entries; j++)
            if (be64(l2 + j * s->l2_entry_size) & QC_OFLAG_COMPRESSED) {
                info->compressed_clusters = true;
                break;
            }
    }
    return 0;
}

static int qcow2_check(struct img *img, struct img_check *res, bool repair)
{
    struct qcow2 *s = img->priv;
    return qc_check(s, res, repair ? QC_REPAIR_LEAKS : QC_CHECK_ONLY);
}

/* ---- Create ----------------------------------------------------------- */

/* Extends the device from size from to size to with zeros. */
static int grow_zero(struct img_io *io, uint64_t from, uint64_t to)
{
    if (io->ops->truncate)
        return io->ops->truncate(io, to);
    static const uint8_t z[4096];
    for (; from < to; from += sizeof z) {
        size_t n = to - from < sizeof z ? (size_t)(to - from) : sizeof z;
        int r = io->ops->pwrite(io, z, n, from);
        if (r < 0)
            return r;
    }
    return 0;
}

static int qcow2_create(struct img_io *io, const struct img_create_opts *o, char *err)
{
    uint64_t cs = o->cluster_size ? o->cluster_size : 65536;
    unsigned version = o->compat ? o->compat : 3;
    unsigned rbits = o->refcount_bits ? o->refcount_bits : 16;
    unsigned cbits = 0, rorder = 0;
    uint8_t *luks = NULL, *buf = NULL;
    uint64_t luks_len = 0, luks_used = 0;
    int r;

    while ((1ull << cbits) < cs)
        cbits++;
    if ((1ull << cbits) != cs || cbits < 9 || cbits > 21) {
        qc_err(err, "cluster size %llu must be a power of two from 512 to 2M", (unsigned long long)cs);
        return -EINVAL;
    }
    while ((1u << rorder) < rbits)
        rorder++;
    if ((1u << rorder) != rbits || rorder > 6) {
        qc_err(err, "refcount_bits %u must be a power of two up to 64", rbits);
        return -EINVAL;
    }
    if (version != 2 && version != 3) {
        qc_err(err, "compat must be 0.10 (version 2) or 1.1 (version 3)");
        return -EINVAL;
    }
    if (version == 2 && (rbits != 16 || o->lazy_refcounts || o->extended_l2)) {
        qc_err(err, "compat=0.10 allows neither refcount_bits other than 16, lazy_refcounts nor extended_l2");
        return -EINVAL;
    }
    if (o->extended_l2 && cs < 16384) {
        qc_err(err, "extended_l2 needs a cluster size of at least 16K");
        return -EINVAL;
    }
    if (o->size > (1ull << 61)) {
        qc_err(err, "size too large");
        return -EFBIG;
    }
    if (o->encrypt_format && strcmp(o->encrypt_format, "luks") != 0) {
        qc_err(err, "encryption format '%s' is not supported (only luks)", o->encrypt_format);
        return -ENOTSUP;
    }
    if (o->encrypt_format) {
        if (!o->encrypt_secret) {
            qc_err(err, "LUKS encryption needs a passphrase");
            return -EINVAL;
        }
        if ((r = qc_luks_create(o->encrypt_secret, o->encrypt_iter_time_ms, &luks, &luks_len, &luks_used, err)) < 0)
            return r;
    }
    uint64_t l2e = cs / (o->extended_l2 ? 16 : 8);
    uint64_t l1_size = (o->size + l2e * cs - 1) / (l2e * cs);
    uint64_t L = (l1_size * 8 + cs - 1) / cs, Lk = (luks_len + cs - 1) / cs;
    uint64_t rbe = cs * 8 / rbits, K = 1, T = 1, N;
    for (;;) {
        N = 1 + T + K + L + Lk;
        uint64_t k = (N + rbe - 1) / rbe, t = (k * 8 + cs - 1) / cs;
        if (k == K && t == T)
            break;
        K = k > K ? k : K;
        T = t > T ? t : T;
    }
    if (N * cs > (64ull << 20) + 64 * cs) {
        free(luks);
        qc_err(err, "metadata for this size would be too large");
        return -EFBIG;
    }
    /* The buffer ends where the LUKS region's non-zero part does. */
    uint64_t lk_off = (1 + T + K + L) * cs, buf_len = luks ? lk_off + luks_used : N * cs;
    buf = calloc(1, buf_len);
    if (!buf) {
        free(luks);
        return -ENOMEM;
    }
    struct qcow2 tmp = { .refcount_order = rorder };
    uint64_t rct = cs, rb = (1 + T) * cs, l1 = (1 + T + K) * cs, lk = (1 + T + K + L) * cs;
    for (uint64_t k = 0; k < K; k++)
        put_be64(buf + rct + 8 * k, rb + k * cs);
    for (uint64_t c = 0; c < N; c++)
        qc_rc_set_entry(&tmp, buf + rb, c, 1);   /* blocks are contiguous */
    if (luks)
        memcpy(buf + lk, luks, luks_used);
    /* Header. */
    uint8_t *h = buf;
    uint32_t hl = version == 3 ? 112 : 72;
    put_be32(h, QCOW2_MAGIC);
    put_be32(h + 4, version);
    put_be32(h + 20, cbits);
    put_be64(h + 24, o->size);
    put_be32(h + 32, luks ? 2 : 0);
    put_be32(h + 36, (uint32_t)l1_size);
    put_be64(h + 40, l1);
    put_be64(h + 48, rct);
    put_be32(h + 56, (uint32_t)T);
    if (version == 3) {
        put_be64(h + 72, o->extended_l2 ? QC_INCOMPAT_EXTL2 : 0);
        put_be64(h + 80, o->lazy_refcounts ? QC_COMPAT_LAZY : 0);
        put_be32(h + 96, rorder);
        put_be32(h + 100, hl);
    }
    uint64_t p = hl;
    size_t bflen = o->backing_format ? strlen(o->backing_format) : 0;
    size_t blen = o->backing ? strlen(o->backing) : 0;
    if (bflen + blen + 256 > cs || blen > 1023) {
        qc_err(err, "backing file name too long for the header cluster");
        r = -EINVAL;
        goto out;
    }
    if (o->backing && bflen) {
        put_be32(h + p, QC_EXT_BACKFMT);
        put_be32(h + p + 4, (uint32_t)bflen);
        memcpy(h + p + 8, o->backing_format, bflen);
        p += 8 + ((bflen + 7) & ~7ull);
    }
    if (luks) {
        put_be32(h + p, QC_EXT_CRYPT);
        put_be32(h + p + 4, 16);
        put_be64(h + p + 8, lk);
        put_be64(h + p + 16, luks_len);
        p += 24;
    }
    p += 8;                             /* end of extensions */
    if (o->backing) {
        memcpy(h + p, o->backing, blen);
        put_be64(h + 8, p);
        put_be32(h + 16, (uint32_t)blen);
    }
    /* Everything but the header's first sector, then the header. */
    if (io->ops->truncate && (r = io->ops->truncate(io, 0)) < 0) {
        qc_err(err, "cannot truncate the file (error %d)", r);
        goto out;
    }
    if ((r = io->ops->pwrite(io, buf + 512, buf_len - 512, 512)) < 0 ||
        (buf_len < N * cs && (r = grow_zero(io, buf_len, N * cs)) < 0) ||
        (r = io->ops->flush(io)) < 0 || (r = io->ops->pwrite(io, buf, 512, 0)) < 0 ||
        (r = io->ops->flush(io)) < 0) {
        qc_err(err, "cannot write the new image (error %d)", r);
        goto out;
    }
out:
    free(buf);
    free(luks);
    return r;
}

const struct img_driver img_driver_qcow2 = {
    .name = "qcow2",
    .probe = qcow2_probe,
    .open = qcow2_open,
    .close = qcow2_close,
    .read = qcow2_read,
    .write = qcow2_write,
    .flush = qcow2_flush,
    .discard = qcow2_discard,
    .info = qcow2_info,
    .check = qcow2_check,
    .create = qcow2_create,
    .block_status = qcow2_block_status,
};
