/* qcow2 refcounts: lookup, update, cluster allocation, table growth, check and repair. */
#include "qcow2_int.h"

uint64_t qc_rc_get_entry(const struct qcow2 *s, const uint8_t *blk, uint64_t i)
{
    switch (s->refcount_order) {
    case 0: return (blk[i / 8] >> (i % 8)) & 1;
    case 1: return (blk[i / 4] >> (2 * (i % 4))) & 3;
    case 2: return (blk[i / 2] >> (4 * (i % 2))) & 15;
    case 3: return blk[i];
    case 4: return be16(blk + 2 * i);
    case 5: return be32(blk + 4 * i);
    default: return be64(blk + 8 * i);
    }
}

void qc_rc_set_entry(const struct qcow2 *s, uint8_t *blk, uint64_t i, uint64_t v)
{
    unsigned sh;
    switch (s->refcount_order) {
    case 0: sh = i % 8; blk[i / 8] = (uint8_t)((blk[i / 8] & ~(1u << sh)) | (v << sh)); break;
    case 1: sh = 2 * (i % 4); blk[i / 4] = (uint8_t)((blk[i / 4] & ~(3u << sh)) | (v << sh)); break;
    case 2: sh = 4 * (i % 2); blk[i / 2] = (uint8_t)((blk[i / 2] & ~(15u << sh)) | (v << sh)); break;
    case 3: blk[i] = (uint8_t)v; break;
    case 4: put_be16(blk + 2 * i, (uint16_t)v); break;
    case 5: put_be32(blk + 4 * i, (uint32_t)v); break;
    default: put_be64(blk + 8 * i, v); break;
    }
}

/* Byte range of entry i inside its block (what to write back). */
static void rc_entry_span(const struct qcow2 *s, uint64_t i, uint64_t *boff, size_t *blen)
{
    if (s->refcount_order <= 3) {
        *boff = (i << s->refcount_order) / 8;
        *blen = 1;
    } else {
        *blen = (size_t)1 << (s->refcount_order - 3);
        *boff = i * *blen;
    }
}

static bool rb_missing(const struct qcow2 *s, uint64_t bi)
{
    return bi >= s->rct_entries || (s->rct[bi] & QC_OFFSET_MASK) == 0;
}

static int rb_load(struct qcow2 *s, uint64_t bi, uint8_t **blk)
{
    uint64_t off = s->rct[bi] & QC_OFFSET_MASK;
    if ((off & (s->cluster_size - 1)) || off + s->cluster_size > s->file_end)
        return -EIO;                    /* validated at open; stays true */
    return qc_cache_load(s, s->rbc, QC_RB_CACHE, off, blk);
}

int qc_refcount_get(struct qcow2 *s, uint64_t c, uint64_t *rc)
{
    uint64_t bi = c / s->rb_entries;
    uint8_t *blk;
    if (rb_missing(s, bi)) {
        *rc = 0;
        return 0;
    }
    int r = rb_load(s, bi, &blk);
    if (r < 0)
        return r;
    *rc = qc_rc_get_entry(s, blk, c % s->rb_entries);
    return 0;
}

static int rc_set(struct qcow2 *s, uint64_t c, uint64_t v)
{
    uint64_t bi = c / s->rb_entries, i = c % s->rb_entries, boff;
    size_t blen;
    uint8_t *blk;
    int r = rb_load(s, bi, &blk);
    if (r < 0)
        return r;
    qc_rc_set_entry(s, blk, i, v);
    rc_entry_span(s, i, &boff, &blen);
    return qc_pwrite(s, blk + boff, blen, (s->rct[bi] & QC_OFFSET_MASK) + boff);
}

/* Makes refcount block bi exist.  New blocks (and a new, larger table if
 * bi is past the table) go into a self-describing area at the end of the
 * file; they are written and flushed before anything points to them. */
static int ensure_block(struct qcow2 *s, uint64_t bi)
{
    uint64_t cs = s->cluster_size, rbe = s->rb_entries;
    uint64_t A = s->file_end / cs, T = 0, K = 0, end, maxi;
    uint64_t *list = NULL;
    int r = -EIO;

    for (int iter = 0;; iter++) {
        if (iter > 64)
            return -EIO;
        end = A + T + K;
        uint64_t k = rb_missing(s, bi) ? 1 : 0;
        maxi = bi;
        if (end > A) {
            for (uint64_t j = A / rbe; j <= (end - 1) / rbe; j++)
                if (j != bi && rb_missing(s, j))
                    k++;
            if ((end - 1) / rbe > maxi)
                maxi = (end - 1) / rbe;
        }
        uint64_t t = 0;
        if (maxi >= s->rct_entries) {
            uint64_t want = (maxi + 1) + (maxi + 1) / 2 + 1;
            t = (want * 8 + cs - 1) / cs;
            if (t * cs > (8u << 20))     /* qemu's limit: 8 MiB of table */
                return -EFBIG;
        }
        if (k == K && t <= T)
            break;
        K = k;
        T = t > T ? t : T;
    }
    end = A + T + K;
    list = calloc(K ? K : 1, sizeof *list);
    uint8_t *blk = calloc(1, cs);
    uint64_t *tab = NULL;
    if (!list || !blk)
        goto out_nomem;
    uint64_t n = 0;
    if (rb_missing(s, bi))
        list[n++] = bi;
    for (uint64_t j = A / rbe; end > A && j <= (end - 1) / rbe; j++)
        if (j != bi && rb_missing(s, j))
            list[n++] = j;
    /* New blocks, each counting the area clusters it covers. */
    for (uint64_t k = 0; k < n; k++) {
        memset(blk, 0, cs);
        for (uint64_t c = A; c < end; c++)
            if (c / rbe == list[k])
                qc_rc_set_entry(s, blk, c % rbe, 1);
        if ((r = qc_pwrite(s, blk, cs, (A + T + k) * cs)) < 0)
            goto out;
    }
    s->file_end = end * cs;
    /* Area clusters that fall into blocks that already exist. */
    for (uint64_t c = A; c < end; c++)
        if (!rb_missing(s, c / rbe) && (r = rc_set(s, c, 1)) < 0)
            goto out;
    if (T) {
        uint64_t nent = T * cs / 8;
        tab = calloc(nent, sizeof *tab);
        uint8_t *raw = calloc(T, cs);
        if (!tab || !raw) {
            free(raw);
            goto out_nomem;
        }
        memcpy(tab, s->rct, s->rct_entries * sizeof *tab);
        for (uint64_t k = 0; k < n; k++)
            tab[list[k]] = (A + T + k) * cs;
        for (uint64_t j = 0; j < nent; j++)
            put_be64(raw + 8 * j, tab[j]);
        r = qc_pwrite(s, raw, T * cs, A * cs);
        free(raw);
        if (r < 0 || (r = qc_flush(s)) < 0)
            goto out;
        uint8_t h[12];
        put_be64(h, A * cs);
        put_be32(h + 8, (uint32_t)T);
        if ((r = qc_pwrite(s, h, 12, 48)) < 0 || (r = qc_flush(s)) < 0)
            goto out;
        uint64_t old_off = s->rct_offset, old_cl = s->rct_clusters;
        free(s->rct);
        s->rct = tab;
        tab = NULL;
        s->rct_entries = nent;
        s->rct_offset = A * cs;
        s->rct_clusters = (uint32_t)T;
        r = qc_refcount_add(s, old_off, old_cl * cs, -1);
    } else {
        if ((r = qc_flush(s)) < 0)
            goto out;
        for (uint64_t k = 0; k < n; k++) {
            uint8_t e[8];
            put_be64(e, (A + T + k) * cs);
            if ((r = qc_pwrite(s, e, 8, s->rct_offset + list[k] * 8)) < 0)
                goto out;
            s->rct[list[k]] = (A + T + k) * cs;
        }
        r = qc_flush(s);
    }
out:
    free(tab);
    free(list);
    free(blk);
    return r;
out_nomem:
    r = -ENOMEM;
    goto out;
}

int qc_refcount_add(struct qcow2 *s, uint64_t off, uint64_t len, int delta)
{
    if (!len)
        return 0;
    uint64_t c0 = off / s->cluster_size, c1 = (off + len - 1) / s->cluster_size;
    for (uint64_t c = c0; c <= c1; c++) {
        uint64_t rc;
        int r;
        if (rb_missing(s, c / s->rb_entries)) {
            if (delta < 0)
                return -EIO;
            if ((r = ensure_block(s, c / s->rb_entries)) < 0)
                return r;
        }
        if ((r = qc_refcount_get(s, c, &rc)) < 0)
            return r;
        if (delta > 0 && rc + (uint64_t)delta > s->refcount_max)
            return -ERANGE;
        if (delta < 0 && rc < (uint64_t)-delta)
            return -EIO;
        rc += (uint64_t)(int64_t)delta;
        if ((r = rc_set(s, c, rc)) < 0)
            return r;
        if (rc == 0 && c < s->free_hint)
            s->free_hint = c;
    }
    return 0;
}

/* Reserves n contiguous free clusters (refcount 0, blocks present) and
 * returns their offset; the caller writes them and then adds the
 * refcounts (data before refcount before the mapping). */
int qc_alloc_clusters(struct qcow2 *s, uint64_t n, uint64_t *off)
{
    uint64_t cs = s->cluster_size;
    for (int tries = 0; tries < 16; tries++) {
        uint64_t start = s->free_hint, c = start, run = 0;
        while (run < n) {
            uint64_t rc = 0;
            if (c >= s->file_end / cs) {
                run = n;
                break;
            }
            int r = qc_refcount_get(s, c, &rc);
            if (r < 0)
                return r;
            c++;
            if (rc) {
                run = 0;
                start = c;
            } else {
                run++;
            }
        }
        bool grew = false;
        for (uint64_t k = 0; k < n; k++) {
            uint64_t bi = (start + k) / s->rb_entries;
            if (rb_missing(s, bi)) {
                /* The new area goes past the end of the file, beyond
                 * the reserved run. */
                if (s->file_end < (start + n) * cs)
                    s->file_end = (start + n) * cs;
                int r = ensure_block(s, bi);
                if (r < 0)
                    return r;
                grew = true;
                break;
            }
        }
        if (grew)
            continue;
        if ((start + n) >> (56 - s->cluster_bits))
            return -EFBIG;
        *off = start * cs;
        s->free_hint = start + n;
        if (s->file_end < (start + n) * cs)
            s->file_end = (start + n) * cs;
        return 0;
    }
    return -EIO;
}

/* ---- check ---------------------------------------------------------- */

struct qc_chk {
    struct qcow2 *s;
    uint32_t *ref;
    uint64_t n;                         /* clusters tracked */
    struct img_check *res;
};

static void chk_err(struct qc_chk *k, const char *msg, uint64_t v)
{
    k->res->corruptions++;
    if (!k->res->first_error[0])
        snprintf(k->res->first_error, IMG_ERR_LEN, "qcow2: %s (0x%llx)", msg, (unsigned long long)v);
}

static void chk_add(struct qc_chk *k, uint64_t off, uint64_t len, const char *what)
{
    if (!len)
        return;
    uint64_t c0 = off / k->s->cluster_size, c1 = (off + len - 1) / k->s->cluster_size;
    if (c1 >= k->n || c1 < c0) {
        chk_err(k, what, off);
        return;
    }
    for (uint64_t c = c0; c <= c1; c++)
        if (k->ref[c] != UINT32_MAX)
            k->ref[c]++;
}

static int chk_l1(struct qc_chk *k, uint64_t l1_off, uint32_t l1_size, bool active)
{
    struct qcow2 *s = k->s;
    uint64_t cs = s->cluster_size;
    uint64_t *l1 = s->l1;
    uint8_t *raw = NULL;
    if (!active) {
        if ((uint64_t)l1_size * 8 > s->file_end) {
            chk_err(k, "snapshot L1 table size is past the end of the file", l1_size);
            return 0;
        }
        raw = malloc((size_t)l1_size * 8 + 1);
        if (!raw)
            return -ENOMEM;
        int r = qc_pread(s, raw, (size_t)l1_size * 8, l1_off);
        if (r < 0) {
            free(raw);
            return r;
        }
    }
    chk_add(k, l1_off, (uint64_t)l1_size * 8, "L1 table is past the end of the file");
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t e = active ? l1[i] : be64(raw + 8 * i);
        uint64_t l2off = e & QC_OFFSET_MASK;
        if (!l2off)
            continue;
        if (l2off & (cs - 1)) {
            chk_err(k, "L2 table offset is not cluster aligned", l2off);
            continue;
        }
        if (l2off / cs >= k->n) {
            chk_err(k, "L2 table is past the end of the file", l2off);
            continue;
        }
        chk_add(k, l2off, cs, "L2 table");
        uint64_t rc;
        if (active && !s->nb_snapshots && qc_refcount_get(s, l2off / cs, &rc) == 0 &&
            (rc == 1) != !!(e & QC_OFLAG_COPIED))
            chk_err(k, "L1 entry's copied flag does not match the L2 table's refcount", l2off);
        uint8_t *l2;
        int r = qc_cache_load(s, s->l2c, QC_L2_CACHE, l2off, &l2);
        if (r < 0) {
            free(raw);
            return r;
        }
        for (uint64_t j = 0; j < s->l2_entries; j++) {
            uint64_t le = be64(l2 + j * s->l2_entry_size);
            if (le & QC_OFLAG_COMPRESSED) {
                unsigned x = 62 - (s->cluster_bits - 8);
                uint64_t coff = le & ((1ull << x) - 1);
                uint64_t nsec = ((le & ~QC_OFLAG_COPIED & ~QC_OFLAG_COMPRESSED) >> x) + 1;
                uint64_t clen = nsec * 512 - (coff & 511);
                chk_add(k, coff, clen, "compressed cluster is past the end of the file");
            } else if (le & QC_OFFSET_MASK) {
                uint64_t doff = le & QC_OFFSET_MASK;
                if (doff & (cs - 1))
                    chk_err(k, "data cluster offset is not cluster aligned", doff);
                else
                    chk_add(k, doff, cs, "data cluster is past the end of the file");
                if (active && !s->nb_snapshots && qc_refcount_get(s, doff / cs, &rc) == 0 &&
                    (rc == 1) != !!(le & QC_OFLAG_COPIED))
                    chk_err(k, "L2 entry's copied flag does not match the data cluster's refcount", doff);
            }
        }
    }
    free(raw);
    return 0;
}

static int chk_count(struct qc_chk *k)
{
    struct qcow2 *s = k->s;
    uint64_t cs = s->cluster_size;
    memset(k->ref, 0, k->n * sizeof *k->ref);
    chk_add(k, 0, cs, "header");
    int r = chk_l1(k, s->l1_offset, s->l1_size, true);
    if (r < 0)
        return r;
    chk_add(k, s->rct_offset, (uint64_t)s->rct_clusters * cs, "refcount table is past the end of the file");
    for (uint64_t i = 0; i < s->rct_entries; i++)
        if (s->rct[i] & QC_OFFSET_MASK)
            chk_add(k, s->rct[i] & QC_OFFSET_MASK, cs, "refcount block is past the end of the file");
    if (s->crypt_hdr_len)
        chk_add(k, s->crypt_hdr_off, s->crypt_hdr_len, "encryption header is past the end of the file");
    /* Internal snapshots: the table and each snapshot's L1 and L2s. */
    uint64_t off = s->snapshots_offset;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        uint8_t h[40];
        if (off + 40 > s->file_end) {
            chk_err(k, "snapshot table is past the end of the file", off);
            break;
        }
        if ((r = qc_pread(s, h, 40, off)) < 0)
            return r;
        uint64_t len = 40 + be32(h + 36) + be16(h + 12) + be16(h + 14);
        len = (len + 7) & ~7ull;
        if ((r = chk_l1(k, be64(h), be32(h + 8), false)) < 0)
            return r;
        off += len;
    }
    if (s->nb_snapshots && off > s->snapshots_offset)
        chk_add(k, s->snapshots_offset, off - s->snapshots_offset, "snapshot table");
    return 0;
}

int qc_check(struct qcow2 *s, struct img_check *res, int mode)
{
    struct qc_chk k = { .s = s, .res = res };
    uint8_t *seen = NULL;
    int r = 0;
    for (int pass = 0; pass < 4; pass++) {
        k.n = s->file_end / s->cluster_size;
        free(k.ref);
        k.ref = calloc(k.n ? k.n : 1, sizeof *k.ref);
        if (!k.ref) {
            r = -ENOMEM;
            goto out;
        }
        memset(res, 0, sizeof *res);
        if ((r = chk_count(&k)) < 0)
            break;
        uint64_t fixes = 0, lim = k.n;
        /* Refcounts past the end of the file are leaks too. */
        for (uint64_t bi = 0; bi < s->rct_entries; bi++)
            if (!rb_missing(s, bi) && (bi + 1) * s->rb_entries > lim)
                lim = (bi + 1) * s->rb_entries;
        /* Past the end of the file, each refcount block is scanned once:
         * a corrupt table can point many entries at one block, and
         * scanning them all is (entries x block size) work. */
        free(seen);
        seen = calloc(k.n ? k.n : 1, 1);
        if (!seen) {
            r = -ENOMEM;
            goto out;
        }
        for (uint64_t c = 0; c < lim; c++) {
            uint64_t rc;
            uint32_t ref = c < k.n ? k.ref[c] : 0;
            if (c >= k.n && (c == k.n || c % s->rb_entries == 0)) {
                uint64_t bi = c / s->rb_entries, bc;
                if (rb_missing(s, bi) ||
                    (bc = (s->rct[bi] & QC_OFFSET_MASK) / s->cluster_size) >= k.n || seen[bc]) {
                    c = (bi + 1) * s->rb_entries - 1;
                    continue;
                }
                seen[bc] = 1;
            }
            if ((r = qc_refcount_get(s, c, &rc)) < 0)
                goto out;
            if (rc == ref)
                continue;
            if (rc < ref) {
                res->corruptions++;
                if (!res->first_error[0])
                    snprintf(res->first_error, IMG_ERR_LEN,
                             "qcow2: cluster %llu has refcount %llu but %u references",
                             (unsigned long long)c, (unsigned long long)rc, ref);
            } else {
                res->leaks++;
            }
            if (mode == QC_REPAIR_ALL || (mode == QC_REPAIR_LEAKS && rc > ref)) {
                uint64_t want = ref > s->refcount_max ? s->refcount_max : ref;
                if (rb_missing(s, c / s->rb_entries) && (r = ensure_block(s, c / s->rb_entries)) < 0)
                    goto out;
                if ((r = rc_set(s, c, want)) < 0)
                    goto out;
                if (want == 0 && c < s->free_hint)
                    s->free_hint = c;
                fixes++;
            }
        }
        if (!fixes)
            break;
        if ((r = qc_flush(s)) < 0)
            break;
        uint64_t rep = fixes;
        /* Count again: a repair may have grown the refcount structures. */
        struct img_check again;
        k.res = &again;
        k.n = s->file_end / s->cluster_size;
        free(k.ref);
        k.ref = calloc(k.n ? k.n : 1, sizeof *k.ref);
        if (!k.ref) {
            r = -ENOMEM;
            goto out;
        }
        memset(&again, 0, sizeof again);
        if ((r = chk_count(&k)) < 0)
            break;
        bool clean = true;
        free(seen);
        if (!(seen = calloc(k.n ? k.n : 1, 1))) {
            r = -ENOMEM;
            goto out;
        }
        for (uint64_t c = 0; c < lim && clean; c++) {
            uint64_t rc;
            uint32_t ref = c < k.n ? k.ref[c] : 0;
            if (c >= k.n && (c == k.n || c % s->rb_entries == 0)) {
                uint64_t bi = c / s->rb_entries, bc;
                if (rb_missing(s, bi) ||
                    (bc = (s->rct[bi] & QC_OFFSET_MASK) / s->cluster_size) >= k.n || seen[bc]) {
                    c = (bi + 1) * s->rb_entries - 1;
                    continue;
                }
                seen[bc] = 1;
            }
            if ((r = qc_refcount_get(s, c, &rc)) < 0)
                goto out;
            if (rc != ref && (mode == QC_REPAIR_ALL || rc > ref))
                clean = false;
        }
        uint64_t corr = res->corruptions, leaks = res->leaks;
        k.res = res;
        res->repaired = rep;
        if (mode == QC_REPAIR_LEAKS) {
            res->leaks = leaks;          /* found; now repaired */
            res->corruptions = corr;
        }
        if (clean)
            break;
    }
out:
    free(k.ref);
    free(seen);
    return r;
}
