/* The VMDK driver: monolithicSparse (read/write), monolithicFlat and other
 * flat-extent descriptors (read/write), streamOptimized (read). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/image.h>
#include "vmdk_zlib.h"

/*
 * A hosted sparse extent (VMware "Virtual Disk Format 1.1"; integers are
 * little-endian, offsets and sizes in 512-byte sectors):
 *
 *   [ header "KDMV" ][ embedded descriptor ][ redundant GD ][ redundant GTs ]
 *   [ GD ][ GTs ] ... overhead ... [ grains ... ]
 *
 * The grain directory (GD) holds the sector offsets of the grain tables
 * (GTs); a GT entry is the sector offset of a grain, 0 = not allocated
 * (reads from the parent, or zeros), 1 = a zeroed grain when the header
 * says so.  The redundant GD/GTs are a second copy that every write keeps
 * in step.  streamOptimized extents hold compressed grains, each behind a
 * marker {lba u64, size u32, data}; their GD may sit at the end of the file
 * (gdOffset = -1 in the header, the real one in a footer copy of the
 * header 1024 bytes before the end).
 *
 * Allocating write ordering: the new grain (the whole grain: the parts not
 * written come from the parent or are zeros) goes at the end of the file;
 * flush; then the GT entry in the redundant GT and in the GT.  A missing GT
 * is first written (all zeros, both copies) at the end, flushed, and then
 * linked from both GDs.  A crash therefore leaks at most space at the end,
 * and a GT entry never points at a grain that was not durable first.
 */

#define SECTOR          512u
#define VMDK_MAGIC      0x564d444bu     /* "KDMV" read as little-endian */
#define GD_AT_END       0xffffffffffffffffull
#define FL_NL_TEST      (1u << 0)
#define FL_RGD          (1u << 1)
#define FL_ZERO_GRAIN   (1u << 2)
#define FL_COMPRESSED   (1u << 16)
#define FL_MARKERS      (1u << 17)
#define MAX_GRAIN_SECT  65536u          /* 32 MiB grains */
#define MAX_GTES        65536u
#define MAX_CAPACITY    (1ull << 41)    /* sectors: 1 PiB */
#define MAX_DESC        (1u << 20)
#define MAX_EXTENTS     1024u
#define DESC_SECTORS    20u

/* Header fields (offsets in the packed 512-byte header). */
#define X_MAGIC         0
#define X_VERSION       4
#define X_FLAGS         8
#define X_CAPACITY      12
#define X_GRAIN         20
#define X_DESC_OFF      28
#define X_DESC_SIZE     36
#define X_GTES          44
#define X_RGD_OFF       48
#define X_GD_OFF        56
#define X_OVERHEAD      64
#define X_UNCLEAN       72
#define X_NL            73
#define X_COMPRESS_ALG  77

enum ext_kind { EXT_FLAT, EXT_ZERO };

struct extent {
    enum ext_kind kind;
    uint64_t start, sectors;            /* virtual sectors it covers */
    uint64_t off;                       /* byte offset in its file */
    struct img_io *io;                  /* NULL for EXT_ZERO */
};

struct vmdk {
    bool sparse;                        /* a hosted sparse extent, this file */
    /* sparse */
    uint32_t version, flags;
    uint64_t capacity, grain_sect, grain_bytes, overhead;
    uint32_t gtes, nr_gde, gt_bytes;
    uint64_t gd_off, rgd_off;           /* bytes */
    uint32_t *gd, *rgd;
    uint32_t **gt, **rgt;               /* GT copies, NULL where GD entry is 0 */
    bool compressed, zero_grain, has_rgd;
    uint64_t alloc_end;
    uint8_t *gbuf, *zbuf;               /* grain buffer, compressed buffer */
    uint64_t cached_grain;              /* index of the grain in gbuf, or -1 */
    /* descriptor */
    struct extent *ext;
    unsigned nr_ext;
    char create_type[64];
    char parent[1024];
    uint32_t cid;
};

/* ---- Little-endian helpers --------------------------------------------- */

static uint32_t le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

#define ERR(...) (snprintf(err, IMG_ERR_LEN, "vmdk: " __VA_ARGS__), -EINVAL)

static int pread_io(struct img *img, void *buf, size_t len, uint64_t off)
{
    return img->io->ops->pread(img->io, buf, len, off);
}

static int pwrite_io(struct img *img, const void *buf, size_t len, uint64_t off)
{
    return img->io->ops->pwrite(img->io, buf, len, off);
}

/* ---- Descriptor -------------------------------------------------------- */

/* Finds `key = "value"` (or unquoted) at the start of a line. */
static bool desc_get(const char *d, const char *key, char *out, size_t outsz)
{
    size_t kl = strlen(key);

    for (const char *l = d; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        while (*l == ' ' || *l == '\t')
            l++;
        if (strncmp(l, key, kl))
            continue;
        const char *p = l + kl;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '=')
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        bool q = *p == '"';
        p += q;
        size_t n = 0;
        while (p[n] && p[n] != '\n' && p[n] != '\r' && !(q ? p[n] == '"' : p[n] == ' '))
            n++;
        if (n + 1 > outsz)
            return false;
        memcpy(out, p, n);
        out[n] = 0;
        return true;
    }
    return false;
}

/* Parses the extent lines of a descriptor into v->ext.  Sparse extents in
 * a descriptor file (twoGbMaxExtentSparse, ...) are not supported. */
static int parse_extents(struct img *img, struct vmdk *v, const char *d, char *err)
{
    uint64_t start = 0;

    for (const char *l = d; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        char acc[16], type[16], name[1024];
        unsigned long long sectors, off = 0;
        int n = 0;
        if (sscanf(l, "%15s %llu %15s %n", acc, &sectors, type, &n) < 3 || !n)
            continue;
        if (strcmp(acc, "RW") && strcmp(acc, "RDONLY") && strcmp(acc, "NOACCESS"))
            continue;
        const char *p = l + n;
        name[0] = 0;
        if (*p == '"') {
            const char *e = strchr(p + 1, '"');
            const char *nl = strchr(p + 1, '\n');
            if (!e || (nl && nl < e) || (size_t)(e - p - 1) >= sizeof name)
                return ERR("bad extent line (file name not quoted or too long)");
            memcpy(name, p + 1, (size_t)(e - p - 1));
            name[e - p - 1] = 0;
            p = e + 1;
            if (sscanf(p, "%llu", &off) != 1)
                off = 0;
        }
        if (sectors > MAX_CAPACITY || start + sectors > MAX_CAPACITY)
            return ERR("absurd extent size %llu sectors", sectors);
        if (off > MAX_CAPACITY)
            return ERR("absurd extent offset %llu sectors", off);
        if (v->nr_ext >= MAX_EXTENTS)
            return ERR("too many extents (more than %u)", MAX_EXTENTS);
        struct extent e = { .start = start, .sectors = sectors, .off = off * SECTOR };
        if (!strcmp(type, "FLAT") || !strcmp(type, "VMFS")) {
            if (!name[0])
                return ERR("flat extent without a file name");
            if (!img->io->ops->open_related)
                return ERR("cannot open extent '%s': the device cannot open "
                           "related files", name);
            int r = img->io->ops->open_related(img->io, name,
                                               img->flags & IMG_OPEN_RDWR, &e.io);
            if (r < 0) {
                snprintf(err, IMG_ERR_LEN, "vmdk: cannot open extent '%s' (error %d)",
                         name, r);
                return r;
            }
            e.kind = EXT_FLAT;
        } else if (!strcmp(type, "ZERO")) {
            e.kind = EXT_ZERO;
        } else {
            return ERR("extent type %s is not supported (only FLAT, VMFS and ZERO "
                       "extents in a descriptor file)", type);
        }
        struct extent *ne = realloc(v->ext, (v->nr_ext + 1) * sizeof *ne);
        if (!ne) {
            if (e.io)
                e.io->ops->close(e.io);
            return -ENOMEM;
        }
        v->ext = ne;
        v->ext[v->nr_ext++] = e;
        start += sectors;
    }
    if (!v->nr_ext)
        return ERR("descriptor lists no extents");
    img->size = start * SECTOR;
    return 0;
}

static void parse_common(struct vmdk *v, const char *d)
{
    char buf[32];

    desc_get(d, "createType", v->create_type, sizeof v->create_type);
    if (desc_get(d, "CID", buf, sizeof buf))
        v->cid = (uint32_t)strtoul(buf, NULL, 16);
    if (desc_get(d, "parentCID", buf, sizeof buf) && strcmp(buf, "ffffffff"))
        desc_get(d, "parentFileNameHint", v->parent, sizeof v->parent);
}

/* ---- Sparse extent ----------------------------------------------------- */

static int load_tables(struct img *img, struct vmdk *v, uint64_t eof, char *err)
{
    uint64_t gd_bytes = round_up((uint64_t)v->nr_gde * 4, SECTOR);
    int r;

    if (!(v->gd = calloc(1, gd_bytes)) || !(v->gt = calloc(v->nr_gde, sizeof *v->gt)))
        return -ENOMEM;
    if (v->has_rgd && (!(v->rgd = calloc(1, gd_bytes)) ||
                       !(v->rgt = calloc(v->nr_gde, sizeof *v->rgt))))
        return -ENOMEM;
    for (int copy = 0; copy < 1 + v->has_rgd; copy++) {
        uint32_t *gd = copy ? v->rgd : v->gd, **gt = copy ? v->rgt : v->gt;
        uint64_t off = copy ? v->rgd_off : v->gd_off;
        const char *what = copy ? "redundant grain directory" : "grain directory";
        if (off > eof || eof - off < (uint64_t)v->nr_gde * 4)
            return ERR("%s (offset %llu, %u entries) lies past the end of the file",
                       what, (unsigned long long)off, v->nr_gde);
        if ((r = pread_io(img, gd, (size_t)v->nr_gde * 4, off)) < 0)
            return r;
        for (uint32_t i = 0; i < v->nr_gde; i++) {
            gd[i] = le32((uint8_t *)&gd[i]);
            if (!gd[i])
                continue;
            uint64_t to = (uint64_t)gd[i] * SECTOR;
            if (to > eof || eof - to < v->gt_bytes)
                return ERR("%s entry %u points past the end of the file (grain "
                           "table at %llu)", what, i, (unsigned long long)to);
            if (!(gt[i] = malloc(v->gt_bytes)))
                return -ENOMEM;
            if ((r = pread_io(img, gt[i], v->gt_bytes, to)) < 0)
                return r;
            for (uint32_t k = 0; k < v->gtes; k++) {
                uint32_t e = gt[i][k] = le32((uint8_t *)&gt[i][k]);
                if (e == 0 || (e == 1 && v->zero_grain))
                    continue;
                uint64_t go = (uint64_t)e * SECTOR;
                uint64_t need = v->compressed ? 12 : v->grain_bytes;
                if (go > eof || eof - go < need)
                    return ERR("grain table %u entry %u points past the end of the "
                               "file (grain at %llu, file %llu bytes)", i, k,
                               (unsigned long long)go, (unsigned long long)eof);
                if (e < v->overhead && !v->compressed)
                    return ERR("grain table %u entry %u points into the metadata "
                               "(sector %u, overhead %llu)", i, k, e,
                               (unsigned long long)v->overhead);
            }
        }
    }
    return 0;
}

static int open_sparse(struct img *img, struct vmdk *v, const uint8_t *h,
                       uint64_t eof, char *err)
{
    uint8_t foot[SECTOR];
    int r;

    v->sparse = true;
    v->version = le32(h + X_VERSION);
    v->flags = le32(h + X_FLAGS);
    if (v->version < 1 || v->version > 3)
        return ERR("unsupported sparse extent version %u", v->version);
    v->gd_off = le64(h + X_GD_OFF);
    if ((v->flags & FL_MARKERS) && v->gd_off == GD_AT_END) {
        /* streamOptimized: the header with the real GD is in the footer. */
        if (eof < 3 * SECTOR)
            return ERR("stream-optimized image too short for its footer");
        if ((r = pread_io(img, foot, SECTOR, eof - 2 * SECTOR)) < 0)
            return r;
        if (le32(foot + X_MAGIC) != VMDK_MAGIC)
            return ERR("stream-optimized image: bad footer magic");
        h = foot;
        v->flags = le32(h + X_FLAGS);
        v->gd_off = le64(h + X_GD_OFF);
    }
    v->capacity = le64(h + X_CAPACITY);
    v->grain_sect = le64(h + X_GRAIN);
    v->gtes = le32(h + X_GTES);
    v->rgd_off = le64(h + X_RGD_OFF);
    v->overhead = le64(h + X_OVERHEAD);
    v->compressed = v->flags & FL_COMPRESSED;
    v->zero_grain = (v->flags & FL_ZERO_GRAIN) && v->version >= 2;
    v->has_rgd = (v->flags & FL_RGD) && v->rgd_off;
    if (!v->grain_sect || v->grain_sect > MAX_GRAIN_SECT ||
        (v->grain_sect & (v->grain_sect - 1)))
        return ERR("bad grain size %llu sectors (a power of two up to %u)",
                   (unsigned long long)v->grain_sect, MAX_GRAIN_SECT);
    if (!v->gtes || v->gtes > MAX_GTES)
        return ERR("bad number of grain table entries %u", v->gtes);
    if (v->capacity > MAX_CAPACITY)
        return ERR("absurd capacity %llu sectors", (unsigned long long)v->capacity);
    if (v->compressed && (!(v->flags & FL_MARKERS) || (h[X_COMPRESS_ALG] | h[X_COMPRESS_ALG + 1] << 8) != 1))
        return ERR("compressed grains without markers, or a compression other "
                   "than deflate, are not supported");
    if (v->compressed && (img->flags & IMG_OPEN_RDWR))
        return ERR("stream-optimized (compressed) images are read-only here");
    if (v->gd_off > eof / SECTOR || v->rgd_off > eof / SECTOR)
        return ERR("grain directory offset past the end of the file");
    v->gd_off *= SECTOR;
    v->rgd_off *= SECTOR;
    v->grain_bytes = v->grain_sect * SECTOR;
    v->gt_bytes = v->gtes * 4;
    uint64_t cover = v->grain_sect * v->gtes;
    uint64_t nr_gde = (v->capacity + cover - 1) / cover;
    if (nr_gde * 4 > eof)
        return ERR("grain directory of %llu entries is larger than the file",
                   (unsigned long long)nr_gde);
    v->nr_gde = (uint32_t)nr_gde;
    img->size = v->capacity * SECTOR;
    if (!(v->gbuf = malloc(v->grain_bytes)))
        return -ENOMEM;
    v->cached_grain = ~0ull;
    if ((r = load_tables(img, v, eof, err)) < 0)
        return r;
    v->alloc_end = round_up(eof, SECTOR);

    /* The embedded descriptor: createType and a parent. */
    uint64_t doff = le64(h + X_DESC_OFF), dsz = le64(h + X_DESC_SIZE);
    if (doff && dsz) {
        if (dsz > MAX_DESC / SECTOR || doff > eof / SECTOR || eof - doff * SECTOR < dsz * SECTOR)
            return ERR("embedded descriptor (sector %llu, %llu sectors) lies past "
                       "the end of the file or is too large",
                       (unsigned long long)doff, (unsigned long long)dsz);
        char *d = malloc(dsz * SECTOR + 1);
        if (!d)
            return -ENOMEM;
        if ((r = pread_io(img, d, dsz * SECTOR, doff * SECTOR)) < 0) {
            free(d);
            return r;
        }
        d[dsz * SECTOR] = 0;
        parse_common(v, d);
        free(d);
    }
    if (!v->create_type[0])
        snprintf(v->create_type, sizeof v->create_type,
                 v->compressed ? "streamOptimized" : "monolithicSparse");
    if (v->parent[0] && !(img->flags & IMG_OPEN_NO_BACKING)) {
        char sub[IMG_ERR_LEN];
        if ((r = img_open_backing(img, v->parent, NULL, &img->backing, sub)) < 0) {
            snprintf(err, IMG_ERR_LEN, "vmdk: parent: %s", sub);
            return r;
        }
    }
    return 0;
}

/* ---- Open / close ------------------------------------------------------ */

static int vmdk_probe(const uint8_t *buf, size_t len)
{
    if (len >= 4 && le32(buf) == VMDK_MAGIC)
        return 100;
    if (len >= 21 && memcmp(buf, "# Disk DescriptorFile", 21) == 0)
        return 100;
    return 0;
}

static void vmdk_close(struct img *img)
{
    struct vmdk *v = img->priv;

    if (!v)
        return;
    for (uint32_t i = 0; v->gt && i < v->nr_gde; i++)
        free(v->gt[i]);
    for (uint32_t i = 0; v->rgt && i < v->nr_gde; i++)
        free(v->rgt[i]);
    for (unsigned i = 0; i < v->nr_ext; i++)
        if (v->ext[i].io)
            v->ext[i].io->ops->close(v->ext[i].io);
    free(v->gt);
    free(v->rgt);
    free(v->gd);
    free(v->rgd);
    free(v->gbuf);
    free(v->zbuf);
    free(v->ext);
    free(v);
    img->priv = NULL;
}

static int vmdk_open(struct img *img, char *err)
{
    struct vmdk *v = calloc(1, sizeof *v);
    uint8_t h[SECTOR];
    char *d = NULL;
    int r;

    if (!v)
        return -ENOMEM;
    img->priv = v;
    int64_t eof = img->io->ops->size(img->io);
    if (eof < 0) {
        r = (int)eof;
        snprintf(err, IMG_ERR_LEN, "vmdk: cannot get the file size (error %d)", r);
        goto fail;
    }
    memset(h, 0, sizeof h);
    if ((r = pread_io(img, h, SECTOR, 0)) < 0)
        goto fail;
    if (le32(h) == VMDK_MAGIC) {
        if (eof < SECTOR) {
            r = ERR("truncated sparse extent header (%lld bytes)", (long long)eof);
            goto fail;
        }
        r = open_sparse(img, v, h, (uint64_t)eof, err);
    } else if (memcmp(h, "# Disk DescriptorFile", 21) == 0) {
        if (eof > MAX_DESC) {
            r = ERR("descriptor file too large (%lld bytes)", (long long)eof);
            goto fail;
        }
        if (!(d = malloc((size_t)eof + 1))) {
            r = -ENOMEM;
            goto fail;
        }
        if ((r = pread_io(img, d, (size_t)eof, 0)) < 0)
            goto fail;
        d[eof] = 0;
        parse_common(v, d);
        if (v->parent[0]) {
            r = ERR("descriptor files with a parent are not supported");
            goto fail;
        }
        r = parse_extents(img, v, d, err);
    } else {
        r = ERR("bad magic (neither a sparse extent \"KDMV\" nor a descriptor file)");
    }
    if (r < 0)
        goto fail;
    free(d);
    return 0;
fail:
    free(d);
    vmdk_close(img);
    return r < 0 ? r : -EINVAL;
}

/* ---- Read -------------------------------------------------------------- */

/* Reads compressed grain g (at sector e) into v->gbuf. */
static int load_compressed(struct img *img, struct vmdk *v, uint64_t g, uint32_t e)
{
    uint8_t m[12];
    int r;

    if (v->cached_grain == g)
        return 0;
    v->cached_grain = ~0ull;
    if ((r = pread_io(img, m, sizeof m, (uint64_t)e * SECTOR)) < 0)
        return r;
    uint32_t size = le32(m + 8);
    int64_t eof = img->io->ops->size(img->io);
    if (le64(m) != g * v->grain_sect || size == 0 || size > 2 * v->grain_bytes + 1024 ||
        eof < 0 || (uint64_t)e * SECTOR + 12 + size > (uint64_t)eof)
        return -EIO;                    /* a corrupt grain marker */
    if (!v->zbuf && !(v->zbuf = malloc(2 * v->grain_bytes + 1024)))
        return -ENOMEM;
    if ((r = pread_io(img, v->zbuf, size, (uint64_t)e * SECTOR + 12)) < 0)
        return r;
    long n = vmdk_inflate(v->zbuf, size, v->gbuf, v->grain_bytes);
    if (n < 0)
        return -EIO;                    /* corrupt compressed data */
    memset(v->gbuf + n, 0, v->grain_bytes - (uint64_t)n);
    v->cached_grain = g;
    return 0;
}

static int read_sparse(struct img *img, uint64_t off, uint8_t *p, size_t len)
{
    struct vmdk *v = img->priv;
    int r;

    while (len) {
        uint64_t g = off / v->grain_bytes, in = off % v->grain_bytes;
        size_t n = v->grain_bytes - in < len ? (size_t)(v->grain_bytes - in) : len;
        uint32_t gde = (uint32_t)(g / v->gtes), gte = (uint32_t)(g % v->gtes);
        uint32_t e = gde < v->nr_gde && v->gt[gde] ? v->gt[gde][gte] : 0;
        if (e == 0)
            r = img_read_backing(img, off, p, n);
        else if (e == 1 && v->zero_grain)
            r = (memset(p, 0, n), 0);
        else if (v->compressed) {
            if ((r = load_compressed(img, v, g, e)) == 0)
                memcpy(p, v->gbuf + in, n);
        } else
            r = pread_io(img, p, n, (uint64_t)e * SECTOR + in);
        if (r < 0)
            return r;
        off += n;
        p += n;
        len -= n;
    }
    return 0;
}

static struct extent *find_extent(struct vmdk *v, uint64_t sector)
{
    for (unsigned i = 0; i < v->nr_ext; i++)
        if (sector >= v->ext[i].start && sector - v->ext[i].start < v->ext[i].sectors)
            return &v->ext[i];
    return NULL;
}

static int rw_flat(struct img *img, uint64_t off, uint8_t *p, size_t len, bool wr)
{
    struct vmdk *v = img->priv;
    int r;

    while (len) {
        struct extent *e = find_extent(v, off / SECTOR);
        if (!e)
            return -EIO;
        uint64_t in = off - e->start * SECTOR;
        uint64_t left = e->sectors * SECTOR - in;
        size_t n = left < len ? (size_t)left : len;
        if (e->kind == EXT_ZERO)
            r = wr ? -EROFS : (memset(p, 0, n), 0);
        else if (wr)
            r = e->io->ops->pwrite(e->io, p, n, e->off + in);
        else
            r = e->io->ops->pread(e->io, p, n, e->off + in);
        if (r < 0)
            return r;
        off += n;
        p += n;
        len -= n;
    }
    return 0;
}

static int vmdk_read(struct img *img, uint64_t off, void *buf, size_t len)
{
    struct vmdk *v = img->priv;

    return v->sparse ? read_sparse(img, off, buf, len) : rw_flat(img, off, buf, len, false);
}

/* From the grain directory and tables (sparse) or the extent list
 * (flat): unallocated grains take the parent's status (zero without one),
 * zero grains and ZERO extents are ZERO, the rest DATA. */
static int vmdk_block_status(struct img *img, uint64_t off, uint64_t len, uint64_t *pnum)
{
    struct vmdk *v = img->priv;
    uint64_t done = 0;
    int state = -1;                 /* IMG_BS_DATA, IMG_BS_ZERO, or 0: below */

    while (done < len) {
        uint64_t o = off + done, n;
        int st;
        if (v->sparse) {
            uint64_t g = o / v->grain_bytes, in = o % v->grain_bytes;
            n = v->grain_bytes - in < len - done ? v->grain_bytes - in : len - done;
            uint32_t gde = (uint32_t)(g / v->gtes), gte = (uint32_t)(g % v->gtes);
            uint32_t e = gde < v->nr_gde && v->gt[gde] ? v->gt[gde][gte] : 0;
            st = e == 0 ? 0 : (e == 1 && v->zero_grain) ? IMG_BS_ZERO : IMG_BS_DATA;
        } else {
            struct extent *e = find_extent(v, o / SECTOR);
            if (!e)
                return -EIO;
            uint64_t left = (e->start + e->sectors) * SECTOR - o;
            n = left < len - done ? left : len - done;
            st = e->kind == EXT_ZERO ? IMG_BS_ZERO : IMG_BS_DATA;
        }
        if (state < 0)
            state = st;
        else if (st != state)
            break;
        done += n;
    }
    if (state == 0)
        return img_backing_status(img, off, done, pnum);
    *pnum = done;
    return state;
}

/* ---- Write ------------------------------------------------------------- */

/* Writes the sector of a table (GD or GT, at byte offset base) that holds
 * entry i, from the in-memory copy t. */
static int write_entry_sector(struct img *img, const uint32_t *t, uint32_t nr,
                              uint64_t base, uint32_t i)
{
    uint8_t sec[SECTOR];
    uint32_t first = i / (SECTOR / 4) * (SECTOR / 4);

    memset(sec, 0, sizeof sec);
    for (uint32_t k = 0; k < SECTOR / 4 && first + k < nr; k++)
        put32(sec + 4 * k, t[first + k]);
    uint32_t cnt = nr - first < SECTOR / 4 ? nr - first : SECTOR / 4;
    return pwrite_io(img, sec, cnt * 4, base + (uint64_t)first * 4);
}

/* Gives GD entry gde a new, empty grain table (both copies). */
static int alloc_gt(struct img *img, struct vmdk *v, uint32_t gde)
{
    uint64_t size = round_up(v->gt_bytes, SECTOR);
    uint32_t *t = NULL, *rt = NULL;
    uint64_t pos = v->alloc_end, rpos = 0;
    int r;

    if (!(t = calloc(1, size)) || (v->has_rgd && !(rt = calloc(1, size)))) {
        free(t);
        return -ENOMEM;
    }
    if (v->has_rgd) {
        rpos = pos;
        pos += size;
    }
    if ((pos + size) / SECTOR > 0xffffffffull) {
        r = -EFBIG;
        goto fail;
    }
    if ((v->has_rgd && (r = pwrite_io(img, rt, size, rpos)) < 0) ||
        (r = pwrite_io(img, t, size, pos)) < 0)
        goto fail;
    v->alloc_end = pos + size;
    if ((r = img->io->ops->flush(img->io)) < 0)
        goto fail;
    if (v->has_rgd) {
        v->rgd[gde] = (uint32_t)(rpos / SECTOR);
        free(v->rgt[gde]);
        v->rgt[gde] = rt;
        rt = NULL;
        if ((r = write_entry_sector(img, v->rgd, v->nr_gde, v->rgd_off, gde)) < 0)
            goto fail;
    }
    v->gd[gde] = (uint32_t)(pos / SECTOR);
    v->gt[gde] = t;
    t = NULL;
    if ((r = write_entry_sector(img, v->gd, v->nr_gde, v->gd_off, gde)) < 0)
        goto fail;
    return 0;
fail:
    free(t);
    free(rt);
    return r;
}

struct pending {
    uint64_t g;
    uint32_t sector;
};

static int write_sparse(struct img *img, uint64_t off, const uint8_t *p, size_t len)
{
    struct vmdk *v = img->priv;
    size_t max = len / v->grain_bytes + 2, np = 0;
    struct pending *pend = malloc(max * sizeof *pend);
    int r = 0;

    if (!pend)
        return -ENOMEM;
    /* 1. Data: in place for allocated grains, whole new grains at the end. */
    while (len) {
        uint64_t g = off / v->grain_bytes, in = off % v->grain_bytes;
        size_t n = v->grain_bytes - in < len ? (size_t)(v->grain_bytes - in) : len;
        uint32_t gde = (uint32_t)(g / v->gtes), gte = (uint32_t)(g % v->gtes);
        if (gde >= v->nr_gde) {
            r = -EIO;
            goto out;
        }
        if (!v->gt[gde] && (r = alloc_gt(img, v, gde)) < 0)
            goto out;
        uint32_t e = v->gt[gde][gte];
        if (e > 1 || (e == 1 && !v->zero_grain)) {
            if ((r = pwrite_io(img, p, n, (uint64_t)e * SECTOR + in)) < 0)
                goto out;
        } else {
            uint64_t pos = v->alloc_end;
            if ((pos + v->grain_bytes) / SECTOR > 0xffffffffull) {
                r = -EFBIG;
                goto out;
            }
            const uint8_t *src = p;
            if (n != v->grain_bytes) {
                uint64_t gstart = g * v->grain_bytes;
                size_t glen = img->size - gstart < v->grain_bytes ?
                              (size_t)(img->size - gstart) : (size_t)v->grain_bytes;
                memset(v->gbuf, 0, v->grain_bytes);
                if (e == 0 && (r = img_read_backing(img, gstart, v->gbuf, glen)) < 0)
                    goto out;
                memcpy(v->gbuf + in, p, n);
                v->cached_grain = ~0ull;
                src = v->gbuf;
            }
            if ((r = pwrite_io(img, src, v->grain_bytes, pos)) < 0)
                goto out;
            v->alloc_end = pos + v->grain_bytes;
            pend[np].g = g;
            pend[np++].sector = (uint32_t)(pos / SECTOR);
        }
        off += n;
        p += n;
        len -= n;
    }
    if (!np)
        goto out;
    /* 2. The grains are durable before any GT entry points at them. */
    if ((r = img->io->ops->flush(img->io)) < 0)
        goto out;
    /* 3. The GT entries: the redundant copy, then the primary one. */
    for (size_t i = 0; i < np; i++) {
        uint32_t gde = (uint32_t)(pend[i].g / v->gtes), gte = (uint32_t)(pend[i].g % v->gtes);
        v->gt[gde][gte] = pend[i].sector;
        if (v->has_rgd && v->rgt[gde])
            v->rgt[gde][gte] = pend[i].sector;
    }
    for (int copy = v->has_rgd ? 1 : 0; copy >= 0; copy--) {
        for (size_t i = 0; i < np; i++) {
            uint32_t gde = (uint32_t)(pend[i].g / v->gtes), gte = (uint32_t)(pend[i].g % v->gtes);
            uint32_t *const *gt = copy ? v->rgt : v->gt;
            const uint32_t *gd = copy ? v->rgd : v->gd;
            /* One write per table sector touched. */
            if (i + 1 < np && pend[i + 1].g / v->gtes == gde &&
                (pend[i + 1].g % v->gtes) / (SECTOR / 4) == gte / (SECTOR / 4))
                continue;
            if (!gt[gde])
                continue;
            r = write_entry_sector(img, gt[gde], v->gtes, (uint64_t)gd[gde] * SECTOR, gte);
            if (r < 0)
                goto out;
        }
    }
out:
    free(pend);
    return r;
}

static int vmdk_write(struct img *img, uint64_t off, const void *buf, size_t len)
{
    struct vmdk *v = img->priv;

    if (v->sparse)
        return v->compressed ? -EROFS : write_sparse(img, off, buf, len);
    return rw_flat(img, off, (uint8_t *)(uintptr_t)buf, len, true);
}

static int vmdk_flush(struct img *img)
{
    struct vmdk *v = img->priv;
    int r = img->io->ops->flush(img->io);

    for (unsigned i = 0; r == 0 && i < v->nr_ext; i++)
        if (v->ext[i].io)
            r = v->ext[i].io->ops->flush(v->ext[i].io);
    return r;
}

/* The descriptor's device and every extent's: each may hold metadata back. */
static int vmdk_persist(struct img *img)
{
    struct vmdk *v = img->priv;
    int r = img->io->ops->persist ? img->io->ops->persist(img->io) : 0, any = r > 0;

    for (unsigned i = 0; r >= 0 && i < v->nr_ext; i++)
        if (v->ext[i].io && v->ext[i].io->ops->persist &&
            (r = v->ext[i].io->ops->persist(v->ext[i].io)) > 0)
            any = 1;
    return r < 0 ? r : any;
}

/* ---- Info and check ---------------------------------------------------- */

static int vmdk_info(struct img *img, struct img_info *info)
{
    struct vmdk *v = img->priv;

    info->format = "vmdk";
    snprintf(info->subformat, sizeof info->subformat, "%s", v->create_type);
    if (v->sparse) {
        info->version = v->version;
        info->cluster_size = (uint32_t)v->grain_bytes;
        info->compressed_clusters = v->compressed;
        if (v->parent[0]) {
            snprintf(info->backing, sizeof info->backing, "%s", v->parent);
            if (img->backing)
                snprintf(info->backing_format, sizeof info->backing_format, "%s",
                         img->backing->drv->name);
        }
    }
    return 0;
}

#define CORRUPT(...) do {                                                   \
        if (!res->corruptions++)                                            \
            snprintf(res->first_error, IMG_ERR_LEN, __VA_ARGS__);           \
    } while (0)

static int vmdk_check(struct img *img, struct img_check *res, bool repair)
{
    struct vmdk *v = img->priv;

    (void)repair;                       /* nothing is repaired */
    if (!v->sparse)
        return 0;
    /* Open refused entries past the end; here the two copies must agree.
     * A power cut between the writes of the two copies leaves one entry
     * set and the other zero: that only leaks space (the primary copy
     * decides).  Two different non-zero entries are a corruption. */
    for (uint32_t i = 0; v->has_rgd && i < v->nr_gde; i++) {
        if (!v->gt[i] || !v->rgt[i]) {
            res->leaks += !v->gt[i] != !v->rgt[i];
            continue;
        }
        for (uint32_t k = 0; k < v->gtes; k++) {
            uint32_t a = v->gt[i][k], b = v->rgt[i][k];
            if (a == b)
                continue;
            if (a && b)
                CORRUPT("grain table %u entry %u differs from its redundant copy "
                        "(%u, %u)", i, k, a, b);
            else
                res->leaks++;
        }
    }
    return 0;
}

/* ---- Create ------------------------------------------------------------ */

static uint32_t make_cid(const void *salt, uint64_t size)
{
    static uint64_t counter;
    uint64_t x = (uint64_t)(uintptr_t)salt ^ (uint64_t)(uintptr_t)&counter ^
                 size * 0x9e3779b97f4a7c15ull ^ ++counter << 32;
    x = (x ^ x >> 30) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ x >> 27) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    uint32_t c = (uint32_t)x;
    return c == 0xffffffffu ? 1 : c;
}

/* The layout qemu-img uses for monolithicSparse: 64 KiB grains, 512-entry
 * GTs, all GTs preallocated (redundant ones first), overhead rounded to a
 * grain. */
static int vmdk_create(struct img_io *io, const struct img_create_opts *o, char *err)
{
    struct img *parent = NULL;
    uint8_t *buf = NULL;
    char *desc = NULL;
    uint64_t size = o->size;
    uint32_t parent_cid = 0xffffffffu;
    int r;

    if (o->encrypt_format)
        return ERR("the format has no encryption");
    if (o->subformat && strcmp(o->subformat, "monolithicSparse"))
        return ERR("cannot create subformat '%s' (only monolithicSparse)", o->subformat);
    if (o->backing) {
        struct img_io *pio;
        char sub[IMG_ERR_LEN];
        if (!io->ops->open_related)
            return ERR("cannot open the parent '%s'", o->backing);
        if ((r = io->ops->open_related(io, o->backing, false, &pio)) < 0) {
            snprintf(err, IMG_ERR_LEN, "vmdk: cannot open the parent '%s' (error %d)",
                     o->backing, r);
            return r;
        }
        if ((r = img_open(pio, o->backing_format, IMG_OPEN_NO_BACKING, NULL,
                          &parent, sub)) < 0) {
            snprintf(err, IMG_ERR_LEN, "vmdk: parent '%s': %s", o->backing, sub);
            return r;
        }
        if (strcmp(parent->drv->name, "vmdk")) {
            r = ERR("the parent of a vmdk must be a vmdk, not %s", parent->drv->name);
            goto out;
        }
        parent_cid = ((struct vmdk *)parent->priv)->cid;
        if (!size)
            size = parent->size;
    }
    uint64_t cap = round_up(size, SECTOR) / SECTOR;
    uint64_t grain = o->cluster_size ? o->cluster_size / SECTOR : 128;
    if (o->cluster_size && (o->cluster_size % SECTOR || !grain || grain > MAX_GRAIN_SECT ||
                            (grain & (grain - 1)))) {
        r = ERR("bad grain size %u", o->cluster_size);
        goto out;
    }
    if (!cap || cap > MAX_CAPACITY / 1024) {
        r = ERR("bad size %llu", (unsigned long long)size);
        goto out;
    }
    uint32_t gtes = 512;
    uint64_t nr_gde = (cap + grain * gtes - 1) / (grain * gtes);
    uint64_t gd_sect = round_up(nr_gde * 4, SECTOR) / SECTOR;
    uint64_t gt_sect = gtes * 4 / SECTOR;
    uint64_t rgd = 1 + DESC_SECTORS, rgt = rgd + gd_sect;
    uint64_t gd = rgt + nr_gde * gt_sect, gt = gd + gd_sect;
    uint64_t overhead = round_up(gt + nr_gde * gt_sect, grain);
    if (overhead > (64ull << 20) / SECTOR) {
        r = ERR("size %llu needs too much metadata for grain size %llu",
                (unsigned long long)size, (unsigned long long)grain * SECTOR);
        goto out;
    }
    if (!(buf = calloc(1, overhead * SECTOR)) || !(desc = calloc(1, DESC_SECTORS * SECTOR))) {
        r = -ENOMEM;
        goto out;
    }
    uint8_t *h = buf;
    put32(h + X_MAGIC, VMDK_MAGIC);
    put32(h + X_VERSION, 1);
    put32(h + X_FLAGS, FL_NL_TEST | FL_RGD);
    put64(h + X_CAPACITY, cap);
    put64(h + X_GRAIN, grain);
    put64(h + X_DESC_OFF, 1);
    put64(h + X_DESC_SIZE, DESC_SECTORS);
    put32(h + X_GTES, gtes);
    put64(h + X_RGD_OFF, rgd);
    put64(h + X_GD_OFF, gd);
    put64(h + X_OVERHEAD, overhead);
    h[X_NL] = '\n';
    h[X_NL + 1] = ' ';
    h[X_NL + 2] = '\r';
    h[X_NL + 3] = '\n';
    for (uint64_t i = 0; i < nr_gde; i++) {
        put32(buf + rgd * SECTOR + i * 4, (uint32_t)(rgt + i * gt_sect));
        put32(buf + gd * SECTOR + i * 4, (uint32_t)(gt + i * gt_sect));
    }
    /* The extent's file name is not known here (the library sees only a
     * device); qemu and we ignore it in a monolithicSparse file. */
    uint64_t cyl = cap / (16 * 63);
    int dl = snprintf(desc, DESC_SECTORS * SECTOR,
        "# Disk DescriptorFile\nversion=1\nCID=%08x\nparentCID=%08x\n"
        "createType=\"monolithicSparse\"\n%s%s%s\n"
        "# Extent description\nRW %llu SPARSE \"disk.vmdk\"\n\n"
        "# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n"
        "ddb.geometry.cylinders = \"%llu\"\nddb.geometry.heads = \"16\"\n"
        "ddb.geometry.sectors = \"63\"\nddb.adapterType = \"ide\"\n",
        make_cid(io, size), parent_cid, o->backing ? "parentFileNameHint=\"" : "",
        o->backing ? o->backing : "", o->backing ? "\"\n" : "",
        (unsigned long long)cap, (unsigned long long)(cyl > 16383 ? 16383 : cyl));
    if (dl < 0 || dl >= (int)(DESC_SECTORS * SECTOR)) {
        r = ERR("descriptor too long (backing file name?)");
        goto out;
    }
    memcpy(buf + SECTOR, desc, (size_t)dl);
    if ((r = io->ops->truncate(io, 0)) < 0 ||
        (r = io->ops->pwrite(io, buf, overhead * SECTOR, 0)) < 0 ||
        (r = io->ops->flush(io)) < 0) {
        snprintf(err, IMG_ERR_LEN, "vmdk: cannot write the image (error %d)", r);
        goto out;
    }
out:
    free(buf);
    free(desc);
    if (parent)
        img_close(parent);
    return r;
}

const struct img_driver img_driver_vmdk = {
    .name = "vmdk",
    .probe = vmdk_probe,
    .open = vmdk_open,
    .close = vmdk_close,
    .read = vmdk_read,
    .write = vmdk_write,
    .flush = vmdk_flush,
    .persist = vmdk_persist,
    .info = vmdk_info,
    .check = vmdk_check,
    .create = vmdk_create,
    .block_status = vmdk_block_status,
};
