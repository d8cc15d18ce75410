/* The VHD (Virtual PC / "vpc") driver: fixed, dynamic and differencing disks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/image.h>

/*
 * Layout (Microsoft's Virtual Hard Disk Image Format Specification; all
 * integers big-endian):
 *
 *   fixed:        [ data ............................ ][ footer 512 ]
 *   dynamic/diff: [ footer copy 512 ][ dyn header 1024 ][ BAT ][ parent
 *                 locator data (diff) ][ block: bitmap | data ] ... [ footer ]
 *
 * A block is a sector bitmap (one bit per sector, MSB first, padded to
 * 512 bytes) followed by block_size bytes of data.  A set bit means the
 * sector lives in this file; a clear bit means it reads from the parent
 * (differencing) or as zeros (dynamic).
 *
 * Virtual size: as qemu's vpc driver decides it, so that both agree on
 * every image: cylinders*heads*sectors*512 from the footer's CHS geometry,
 * except when the creator application is one of "win ", "qem2", "d2v ",
 * "CTXS", "tap\0" or the geometry is the maximum 65535x16x255, where the
 * footer's current_size is used.  Our create rounds the size up to a CHS
 * geometry exactly as qemu-img does and then writes current_size equal to
 * the CHS size, so every reader gets the same size whatever rule it uses.
 *
 * Allocation ordering (a new block goes where the end footer was):
 *   1. the footer at the new end of file (the file stays valid: it ends in
 *      a footer whatever happens next; a crash here only leaks space),
 *   2. the data sectors, 3. the block bitmap, 4. flush,
 *   5. the BAT entry (made durable by the next flush).
 * A write into an allocated block that sets new bitmap bits writes the
 * data, flushes, then writes the bitmap.  So a bitmap bit or BAT entry is
 * never durable before the data it exposes.  In a dynamic disk (no
 * parent) a new block gets an all-ones bitmap, as qemu does: its unwritten
 * sectors lie past the old end of file and read as zeros.
 */

#define SECTOR          512u
#define FOOTER_SIZE     512u
#define DYN_HDR_SIZE    1024u
#define BAT_UNUSED      0xffffffffu

#define TYPE_FIXED      2
#define TYPE_DYNAMIC    3
#define TYPE_DIFF       4

#define MAX_GEOMETRY    (65535ull * 16 * 255)
#define MAX_SECTORS     0xff000000ull           /* 2040 GiB */
#define MAX_BAT_BYTES   (256u << 20)
#define MAX_LOC_LEN     4096u
#define DEF_BLOCK_SIZE  (2u << 20)

/* Footer fields (offsets). */
#define F_COOKIE        0
#define F_FEATURES      8
#define F_VERSION       12
#define F_DATA_OFFSET   16
#define F_TIMESTAMP     24
#define F_CREATOR_APP   28
#define F_CREATOR_VER   32
#define F_CREATOR_OS    36
#define F_ORIG_SIZE     40
#define F_CUR_SIZE      48
#define F_GEOMETRY      56
#define F_TYPE          60
#define F_CHECKSUM      64
#define F_UUID          68

/* Dynamic header fields. */
#define H_COOKIE        0
#define H_DATA_OFFSET   8
#define H_TABLE_OFFSET  16
#define H_VERSION       24
#define H_MAX_ENTRIES   28
#define H_BLOCK_SIZE    32
#define H_CHECKSUM      36
#define H_PARENT_UUID   40
#define H_PARENT_TIME   56
#define H_PARENT_NAME   64
#define H_PARENT_NAME_LEN 512
#define H_LOCATORS      576
#define LOC_SIZE        24
#define NR_LOCATORS     8

/* Parent locator platform codes. */
#define PLAT_NONE       0
#define PLAT_WI2R       0x57693272u     /* "Wi2r": deprecated relative */
#define PLAT_WI2K       0x5769326bu     /* "Wi2k": deprecated absolute */
#define PLAT_W2RU       0x57327275u     /* "W2ru": relative, UTF-16LE */
#define PLAT_W2KU       0x57326b75u     /* "W2ku": absolute, UTF-16LE */
#define PLAT_MAC        0x4d616320u     /* "Mac ": path (UTF-8 here) */
#define PLAT_MACX       0x4d616358u     /* "MacX": file:// URL, UTF-8 */

struct vhd {
    uint8_t footer[FOOTER_SIZE];
    uint8_t header[DYN_HDR_SIZE];
    uint32_t type;
    uint64_t bat_off;
    uint32_t max_entries;
    uint32_t block_size;
    uint32_t spb;                       /* sectors per block */
    uint32_t bitmap_size;               /* bytes, multiple of 512 */
    uint32_t *bat;                      /* host order */
    uint64_t meta_end;                  /* end of header, BAT, locators */
    uint64_t next_alloc;                /* where the end footer sits */
    uint64_t footer_pos;                /* where the end footer was found */
    bool head_footer_bad, tail_footer_bad;
    uint32_t bm_block;                  /* cached bitmap's block, or UNUSED */
    uint8_t *bm;
    char parent_name[1024];             /* the locator that was used */
    uint8_t *zero;                      /* one sector of zeros */
};

/* ---- Byte order and small helpers ------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, v >> 32);
    put32(p + 4, (uint32_t)v);
}

static uint32_t checksum(const uint8_t *p, size_t len, size_t csum_off)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        if (i < csum_off || i >= csum_off + 4)
            sum += p[i];
    return ~sum;
}

static int pread_io(struct img *img, void *buf, size_t len, uint64_t off)
{
    return img->io->ops->pread(img->io, buf, len, off);
}

static int pwrite_io(struct img *img, const void *buf, size_t len, uint64_t off)
{
    return img->io->ops->pwrite(img->io, buf, len, off);
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* CHS geometry for a sector count: the algorithm of the VHD specification
 * (appendix "CHS calculation"), as qemu-img also uses it. */
static void chs_for(uint64_t sectors, unsigned *c, unsigned *h, unsigned *s)
{
    uint64_t cth;

    if (sectors > MAX_GEOMETRY)
        sectors = MAX_GEOMETRY;
    if (sectors >= 65535ull * 16 * 63) {
        *s = 255;
        *h = 16;
        cth = sectors / *s;
    } else {
        *s = 17;
        cth = sectors / *s;
        *h = (unsigned)((cth + 1023) / 1024);
        if (*h < 4)
            *h = 4;
        if (cth >= *h * 1024ull || *h > 16) {
            *s = 31;
            *h = 16;
            cth = sectors / *s;
        }
        if (cth >= *h * 1024ull) {
            *s = 63;
            *h = 16;
            cth = sectors / *s;
        }
    }
    *c = (unsigned)(cth / *h);
}

/* The virtual size of a footer, as qemu computes it (see the top). */
static uint64_t footer_vsize(const uint8_t *f)
{
    const uint8_t *app = f + F_CREATOR_APP;
    uint64_t chs = (uint64_t)(f[F_GEOMETRY] << 8 | f[F_GEOMETRY + 1]) *
                   f[F_GEOMETRY + 2] * f[F_GEOMETRY + 3];
    bool use_chs = memcmp(app, "win ", 4) && memcmp(app, "qem2", 4) &&
                   memcmp(app, "d2v ", 4) && memcmp(app, "CTXS", 4) &&
                   memcmp(app, "tap\0", 4);
    if (!use_chs || chs == MAX_GEOMETRY)
        return be64(f + F_CUR_SIZE) / SECTOR * SECTOR;
    return chs * SECTOR;
}

static bool footer_ok(const uint8_t *f)
{
    return memcmp(f + F_COOKIE, "conectix", 8) == 0 &&
           be32(f + F_CHECKSUM) == checksum(f, FOOTER_SIZE, F_CHECKSUM);
}

/* ---- UTF-16 <-> UTF-8 -------------------------------------------------- */

/* Decodes n bytes of UTF-16 (little- or big-endian) into out (UTF-8, NUL
 * terminated).  Stops at a NUL.  Returns 0, or -EINVAL on a bad sequence
 * or a too-long result. */
static int utf16_to_utf8(const uint8_t *in, size_t n, bool le, char *out, size_t outsz)
{
    size_t o = 0;

    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t u = le ? (uint32_t)(in[i] | in[i + 1] << 8)
                        : (uint32_t)(in[i] << 8 | in[i + 1]);
        if (u == 0)
            break;
        if (u >= 0xd800 && u < 0xdc00) {
            if (i + 3 >= n)
                return -EINVAL;
            uint32_t l = le ? (uint32_t)(in[i + 2] | in[i + 3] << 8)
                            : (uint32_t)(in[i + 2] << 8 | in[i + 3]);
            if (l < 0xdc00 || l >= 0xe000)
                return -EINVAL;
            u = 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00);
            i += 2;
        } else if (u >= 0xdc00 && u < 0xe000) {
            return -EINVAL;
        }
        uint8_t b[4];
        size_t k;
        if (u < 0x80) {
            b[0] = (uint8_t)u;
            k = 1;
        } else if (u < 0x800) {
            b[0] = 0xc0 | u >> 6;
            b[1] = 0x80 | (u & 0x3f);
            k = 2;
        } else if (u < 0x10000) {
            b[0] = 0xe0 | u >> 12;
            b[1] = 0x80 | ((u >> 6) & 0x3f);
            b[2] = 0x80 | (u & 0x3f);
            k = 3;
        } else {
            b[0] = 0xf0 | u >> 18;
            b[1] = 0x80 | ((u >> 12) & 0x3f);
            b[2] = 0x80 | ((u >> 6) & 0x3f);
            b[3] = 0x80 | (u & 0x3f);
            k = 4;
        }
        if (o + k >= outsz)
            return -EINVAL;
        memcpy(out + o, b, k);
        o += k;
    }
    out[o] = '\0';
    return 0;
}

/* Encodes a UTF-8 string as UTF-16 into out (at most outsz bytes, no
 * terminator).  Returns the byte length or -EINVAL. */
static int utf8_to_utf16(const char *s, bool le, uint8_t *out, size_t outsz)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t o = 0;

    while (*p) {
        uint32_t u;
        int extra;
        if (*p < 0x80) {
            u = *p;
            extra = 0;
        } else if ((*p & 0xe0) == 0xc0) {
            u = *p & 0x1f;
            extra = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            u = *p & 0x0f;
            extra = 2;
        } else if ((*p & 0xf8) == 0xf0) {
            u = *p & 0x07;
            extra = 3;
        } else {
            return -EINVAL;
        }
        p++;
        for (int k = 0; k < extra; k++, p++) {
            if ((*p & 0xc0) != 0x80)
                return -EINVAL;
            u = u << 6 | (*p & 0x3f);
        }
        uint16_t units[2];
        int nu = 1;
        if (u >= 0x10000) {
            u -= 0x10000;
            units[0] = (uint16_t)(0xd800 + (u >> 10));
            units[1] = (uint16_t)(0xdc00 + (u & 0x3ff));
            nu = 2;
        } else {
            units[0] = (uint16_t)u;
        }
        for (int k = 0; k < nu; k++) {
            if (o + 2 > outsz)
                return -EINVAL;
            out[o + (le ? 0 : 1)] = (uint8_t)units[k];
            out[o + (le ? 1 : 0)] = (uint8_t)(units[k] >> 8);
            o += 2;
        }
    }
    return (int)o;
}

/* ---- Bitmaps ----------------------------------------------------------- */

static bool bit_test(const uint8_t *bm, uint32_t i)
{
    return bm[i >> 3] & (0x80 >> (i & 7));
}

static void bit_set(uint8_t *bm, uint32_t i)
{
    bm[i >> 3] |= (uint8_t)(0x80 >> (i & 7));
}

static uint64_t block_off(const struct vhd *v, uint32_t b)
{
    return (uint64_t)v->bat[b] * SECTOR;
}

static int load_bitmap(struct img *img, uint32_t b)
{
    struct vhd *v = img->priv;

    if (v->bm_block == b)
        return 0;
    v->bm_block = BAT_UNUSED;
    int r = pread_io(img, v->bm, v->bitmap_size, block_off(v, b));
    if (r < 0)
        return r;
    v->bm_block = b;
    return 0;
}

/* ---- Open -------------------------------------------------------------- */

static int vhd_probe(const uint8_t *buf, size_t len)
{
    /* A fixed disk has its only footer at the end: not visible here. */
    if (len >= 8 && memcmp(buf, "conectix", 8) == 0)
        return 100;
    return 0;
}

#define ERR(...) (snprintf(err, IMG_ERR_LEN, "vhd: " __VA_ARGS__), -EINVAL)

/* Reads the footer: the copy at offset 0 first (dynamic disks keep one
 * there and qemu trusts it first), else the one at the end. */
static int read_footer(struct img *img, struct vhd *v, uint64_t eof, char *err)
{
    uint8_t head[FOOTER_SIZE], tail[FOOTER_SIZE];
    int r;

    if (eof < FOOTER_SIZE)
        return ERR("file too short for a footer (%llu bytes)", (unsigned long long)eof);
    if ((r = pread_io(img, head, FOOTER_SIZE, 0)) < 0 ||
        (r = pread_io(img, tail, FOOTER_SIZE, eof - FOOTER_SIZE)) < 0) {
        snprintf(err, IMG_ERR_LEN, "vhd: cannot read the footer (error %d)", r);
        return r;
    }
    bool head_cookie = memcmp(head, "conectix", 8) == 0;
    bool tail_cookie = memcmp(tail, "conectix", 8) == 0;
    /* A 511-byte footer (pre-2004 Virtual PC) is not supported. */
    if (!head_cookie && !tail_cookie)
        return ERR("no footer: bad cookie (expected \"conectix\" at offset 0 "
                   "or at the end of the file)");
    bool head_ok = head_cookie && footer_ok(head);
    bool tail_ok = tail_cookie && footer_ok(tail);
    if (!head_ok && !tail_ok)
        return ERR("footer checksum mismatch (stored 0x%08x, computed 0x%08x)",
                   be32((tail_cookie ? tail : head) + F_CHECKSUM),
                   checksum(tail_cookie ? tail : head, FOOTER_SIZE, F_CHECKSUM));
    memcpy(v->footer, head_ok ? head : tail, FOOTER_SIZE);
    v->footer_pos = tail_ok ? eof - FOOTER_SIZE : eof;
    v->type = be32(v->footer + F_TYPE);
    /* The copy at 0 is only for dynamic disks; a fixed disk has data there. */
    v->head_footer_bad = v->type != TYPE_FIXED &&
                         (!head_ok || memcmp(head, v->footer, FOOTER_SIZE) != 0);
    v->tail_footer_bad = !tail_ok || memcmp(tail, v->footer, FOOTER_SIZE) != 0;
    if (v->type == TYPE_FIXED && !tail_ok)
        return ERR("fixed disk without a valid footer at the end of the file");
    return 0;
}

/* Reads a locator's name into out as a host path; -ENOENT if it has none. */
static int locator_name(struct img *img, struct vhd *v, unsigned i, uint64_t eof,
                        char *out, size_t outsz)
{
    const uint8_t *l = v->header + H_LOCATORS + i * LOC_SIZE;
    uint32_t code = be32(l), len = be32(l + 8);
    uint64_t off = be64(l + 16);
    uint8_t *buf;
    int r;

    if (code == PLAT_NONE || len == 0)
        return -ENOENT;
    if (len > MAX_LOC_LEN || off > eof || len > eof - off)
        return -EINVAL;
    if (!(buf = malloc(len + 1)))
        return -ENOMEM;
    if ((r = pread_io(img, buf, len, off)) < 0)
        goto out;
    buf[len] = 0;
    switch (code) {
    case PLAT_W2RU:
    case PLAT_W2KU:
        r = utf16_to_utf8(buf, len, true, out, outsz);
        break;
    case PLAT_WI2R:
    case PLAT_WI2K:
    case PLAT_MAC:
        if (strlen((char *)buf) + 1 > outsz) {
            r = -EINVAL;
            break;
        }
        memcpy(out, buf, strlen((char *)buf) + 1);
        r = 0;
        break;
    case PLAT_MACX: {
        const char *s = (char *)buf;
        size_t o = 0;
        if (strncmp(s, "file://", 7) == 0)
            s += 7;
        for (; *s && o + 1 < outsz; s++) {
            int hi, lo;
            if (s[0] == '%' && s[1] && s[2] &&
                (hi = s[1] <= '9' ? s[1] - '0' : (s[1] | 0x20) - 'a' + 10) >= 0 && hi < 16 &&
                (lo = s[2] <= '9' ? s[2] - '0' : (s[2] | 0x20) - 'a' + 10) >= 0 && lo < 16) {
                out[o++] = (char)(hi << 4 | lo);
                s += 2;
            } else {
                out[o++] = *s;
            }
        }
        out[o] = 0;
        r = *s ? -EINVAL : 0;
        break;
    }
    default:
        r = -ENOENT;
        break;
    }
    if (r == 0) {
        /* Windows separators; a leading ".\" means "next to the child". */
        for (char *p = out; *p; p++)
            if (*p == '\\')
                *p = '/';
        if (out[0] == '.' && out[1] == '/')
            memmove(out, out + 2, strlen(out + 2) + 1);
        if (!out[0])
            r = -ENOENT;
    }
out:
    free(buf);
    return r;
}

/* Opens the parent: the relative locators first, then the absolute ones,
 * then the parent's name in the header (as blktap/qemu resolve them). */
static int open_parent(struct img *img, struct vhd *v, uint64_t eof, char *err)
{
    static const uint32_t order[] = { PLAT_W2RU, PLAT_WI2R, PLAT_MACX, PLAT_MAC,
                                      PLAT_W2KU, PLAT_WI2K };
    char name[1024], sub[IMG_ERR_LEN];
    int last = -ENOENT;
    bool tried = false;

    sub[0] = 0;
    for (unsigned k = 0; k <= sizeof order / sizeof order[0]; k++) {
        for (unsigned i = 0; i < NR_LOCATORS; i++) {
            int r;
            if (k < sizeof order / sizeof order[0]) {
                if (be32(v->header + H_LOCATORS + i * LOC_SIZE) != order[k])
                    continue;
                r = locator_name(img, v, i, eof, name, sizeof name);
                if (r == -EINVAL)
                    return ERR("parent locator %u (%.4s) is corrupt (offset or "
                               "length past the end of the file, or a bad name)",
                               i, (const char *)(v->header + H_LOCATORS + i * LOC_SIZE));
                if (r < 0)
                    continue;
            } else {
                if (i > 0)
                    break;
                if (utf16_to_utf8(v->header + H_PARENT_NAME, H_PARENT_NAME_LEN,
                                  false, name, sizeof name) < 0 || !name[0])
                    continue;
            }
            tried = true;
            memcpy(v->parent_name, name, sizeof name);
            if (img->flags & IMG_OPEN_NO_BACKING)
                return 0;
            r = img_open_backing(img, name, "vhd", &img->backing, sub);
            if (r == 0)
                return 0;
            last = r;
            if (r != -ENOENT) {
                snprintf(err, IMG_ERR_LEN, "vhd: parent: %s", sub);
                return r;
            }
        }
    }
    if (!tried)
        return ERR("differencing disk without a usable parent locator");
    snprintf(err, IMG_ERR_LEN, "vhd: cannot open the parent (last tried '%s'): %s",
             v->parent_name, sub);
    return last;
}

static int open_dynamic(struct img *img, struct vhd *v, uint64_t eof, char *err)
{
    uint64_t hoff = be64(v->footer + F_DATA_OFFSET);
    int r;

    if (hoff % SECTOR || hoff > eof || eof - hoff < DYN_HDR_SIZE)
        return ERR("dynamic header offset %llu is past the end of the file "
                   "(%llu bytes) or unaligned", (unsigned long long)hoff,
                   (unsigned long long)eof);
    if ((r = pread_io(img, v->header, DYN_HDR_SIZE, hoff)) < 0) {
        snprintf(err, IMG_ERR_LEN, "vhd: cannot read the dynamic header (error %d)", r);
        return r;
    }
    if (memcmp(v->header + H_COOKIE, "cxsparse", 8))
        return ERR("bad dynamic header cookie (expected \"cxsparse\")");
    if (be32(v->header + H_CHECKSUM) != checksum(v->header, DYN_HDR_SIZE, H_CHECKSUM))
        return ERR("dynamic header checksum mismatch (stored 0x%08x, computed 0x%08x)",
                   be32(v->header + H_CHECKSUM),
                   checksum(v->header, DYN_HDR_SIZE, H_CHECKSUM));
    v->bat_off = be64(v->header + H_TABLE_OFFSET);
    v->max_entries = be32(v->header + H_MAX_ENTRIES);
    v->block_size = be32(v->header + H_BLOCK_SIZE);
    if (v->block_size < SECTOR || v->block_size > (256u << 20) ||
        (v->block_size & (v->block_size - 1)))
        return ERR("bad block size %u (must be a power of two from 512 B to 256 MiB)",
                   v->block_size);
    v->spb = v->block_size / SECTOR;
    v->bitmap_size = (uint32_t)round_up((v->spb + 7) / 8, SECTOR);
    if ((uint64_t)v->max_entries * v->block_size < img->size)
        return ERR("BAT too small for the disk size: %u entries of %u bytes "
                   "cover less than %llu bytes", v->max_entries, v->block_size,
                   (unsigned long long)img->size);
    uint64_t bat_bytes = round_up((uint64_t)v->max_entries * 4, SECTOR);
    if (bat_bytes > MAX_BAT_BYTES)
        return ERR("absurd BAT size: %u entries", v->max_entries);
    if (v->bat_off % SECTOR || v->bat_off > eof || eof - v->bat_off < bat_bytes)
        return ERR("BAT (offset %llu, %llu bytes) lies past the end of the file "
                   "(%llu bytes) or is unaligned", (unsigned long long)v->bat_off,
                   (unsigned long long)bat_bytes, (unsigned long long)eof);
    if (v->bat_off < hoff + DYN_HDR_SIZE && hoff < v->bat_off + bat_bytes)
        return ERR("BAT overlaps the dynamic header");
    if (!(v->bat = malloc(bat_bytes ? bat_bytes : 4)) ||
        !(v->bm = malloc(v->bitmap_size)) || !(v->zero = calloc(1, SECTOR)))
        return -ENOMEM;
    v->bm_block = BAT_UNUSED;
    if ((r = pread_io(img, v->bat, bat_bytes, v->bat_off)) < 0) {
        snprintf(err, IMG_ERR_LEN, "vhd: cannot read the BAT (error %d)", r);
        return r;
    }
    v->meta_end = hoff + DYN_HDR_SIZE;
    if (v->bat_off + bat_bytes > v->meta_end)
        v->meta_end = v->bat_off + bat_bytes;
    for (unsigned i = 0; i < NR_LOCATORS; i++) {
        const uint8_t *l = v->header + H_LOCATORS + i * LOC_SIZE;
        uint64_t loff = be64(l + 16), llen = be32(l + 8);
        if (be32(l) != PLAT_NONE && llen && loff <= eof && llen <= eof - loff &&
            round_up(loff + llen, SECTOR) > v->meta_end)
            v->meta_end = round_up(loff + llen, SECTOR);
    }
    /* Every allocated block must lie inside the file, after the metadata. */
    uint64_t blk_total = (uint64_t)v->bitmap_size + v->block_size;
    uint64_t data_end = v->meta_end;
    for (uint32_t i = 0; i < v->max_entries; i++) {
        v->bat[i] = be32((uint8_t *)&v->bat[i]);
        if (v->bat[i] == BAT_UNUSED)
            continue;
        uint64_t bo = block_off(v, i);
        if (bo + blk_total > v->footer_pos)
            return ERR("BAT entry %u points past the end of the file (block at "
                       "offset %llu, file %llu bytes)", i, (unsigned long long)bo,
                       (unsigned long long)eof);
        if (bo < hoff + DYN_HDR_SIZE && hoff < bo + blk_total)
            return ERR("BAT entry %u overlaps the dynamic header", i);
        if (bo < v->bat_off + bat_bytes && v->bat_off < bo + blk_total)
            return ERR("BAT entry %u overlaps the BAT", i);
        if (bo < FOOTER_SIZE)
            return ERR("BAT entry %u overlaps the footer copy at offset 0", i);
        if (bo + blk_total > data_end)
            data_end = bo + blk_total;
    }
    v->next_alloc = round_up(v->footer_pos > data_end ? v->footer_pos : data_end, SECTOR);
    if (v->type == TYPE_DIFF)
        return open_parent(img, v, eof, err);
    return 0;
}

static void vhd_close(struct img *img)
{
    struct vhd *v = img->priv;

    if (!v)
        return;
    free(v->bat);
    free(v->bm);
    free(v->zero);
    free(v);
    img->priv = NULL;
}

static int vhd_open(struct img *img, char *err)
{
    struct vhd *v = calloc(1, sizeof *v);
    int r;

    if (!v)
        return -ENOMEM;
    img->priv = v;
    int64_t eof = img->io->ops->size(img->io);
    if (eof < 0) {
        snprintf(err, IMG_ERR_LEN, "vhd: cannot get the file size (error %d)", (int)eof);
        r = (int)eof;
        goto fail;
    }
    if ((r = read_footer(img, v, (uint64_t)eof, err)) < 0)
        goto fail;
    img->size = footer_vsize(v->footer);
    if (img->size / SECTOR > MAX_SECTORS) {
        r = ERR("absurd disk size %llu bytes (the format's limit is 2040 GiB)",
                (unsigned long long)img->size);
        goto fail;
    }
    switch (v->type) {
    case TYPE_FIXED:
        if (img->size > v->footer_pos) {
            r = ERR("fixed disk of %llu bytes but only %llu bytes of data in the file",
                    (unsigned long long)img->size, (unsigned long long)v->footer_pos);
            goto fail;
        }
        break;
    case TYPE_DYNAMIC:
    case TYPE_DIFF:
        if ((r = open_dynamic(img, v, (uint64_t)eof, err)) < 0)
            goto fail;
        break;
    default:
        r = ERR("unknown disk type %u (expected 2 fixed, 3 dynamic or 4 differencing)",
                v->type);
        goto fail;
    }
    if (v->type == TYPE_DIFF && img->backing) {
        /* The parent must be the very image this one was made from. */
        struct vhd *p = img->backing->drv == img->drv ? img->backing->priv : NULL;
        if (p && memcmp(p->footer + F_UUID, v->header + H_PARENT_UUID, 16)) {
            r = ERR("parent '%s' is not the image this disk was made from "
                    "(unique id mismatch)", v->parent_name);
            goto fail;
        }
    }
    return 0;
fail:
    vhd_close(img);
    return r < 0 ? r : -EINVAL;
}

/* ---- Read -------------------------------------------------------------- */

static int vhd_read(struct img *img, uint64_t off, void *buf, size_t len)
{
    struct vhd *v = img->priv;
    uint8_t *p = buf;
    int r;

    if (v->type == TYPE_FIXED)
        return pread_io(img, buf, len, off);
    while (len) {
        uint32_t b = (uint32_t)(off / v->block_size);
        uint64_t in = off % v->block_size;
        size_t n = v->block_size - in < len ? (size_t)(v->block_size - in) : len;
        if (b >= v->max_entries)
            return -EIO;
        if (v->bat[b] == BAT_UNUSED) {
            if ((r = img_read_backing(img, off, p, n)) < 0)
                return r;
        } else {
            if ((r = load_bitmap(img, b)) < 0)
                return r;
            uint64_t data = block_off(v, b) + v->bitmap_size;
            size_t done = 0;
            while (done < n) {
                uint32_t s = (uint32_t)((in + done) / SECTOR);
                bool set = bit_test(v->bm, s);
                uint32_t e = s + 1;
                while (e < v->spb && bit_test(v->bm, e) == set &&
                       (uint64_t)e * SECTOR < in + n)
                    e++;
                uint64_t run_end = (uint64_t)e * SECTOR;
                size_t k = (size_t)((run_end < in + n ? run_end : in + n) - (in + done));
                if (set)
                    r = pread_io(img, p + done, k, data + in + done);
                else
                    r = img_read_backing(img, off + done, p + done, k);
                if (r < 0)
                    return r;
                done += k;
            }
        }
        off += n;
        p += n;
        len -= n;
    }
    return 0;
}

/* From the BAT and the sector bitmaps: sectors not present here take the
 * parent's status (zero without one); a fixed VHD is all data. */
static int vhd_block_status(struct img *img, uint64_t off, uint64_t len, uint64_t *pnum)
{
    struct vhd *v = img->priv;
    uint64_t done = 0;
    int state = -1, r;              /* 1: here (data), 0: below */

    *pnum = len;
    if (v->type == TYPE_FIXED)
        return IMG_BS_DATA;
    while (done < len) {
        uint64_t o = off + done;
        uint32_t b = (uint32_t)(o / v->block_size);
        uint64_t in = o % v->block_size;
        uint64_t n = v->block_size - in < len - done ? v->block_size - in : len - done;
        if (b >= v->max_entries)
            return -EIO;
        if (v->bat[b] == BAT_UNUSED) {
            if (state == 1)
                break;
            state = 0;
            done += n;
            continue;
        }
        if ((r = load_bitmap(img, b)) < 0)
            return r;
        uint64_t k = 0;
        while (k < n) {
            uint32_t sec = (uint32_t)((in + k) / SECTOR);
            int st = bit_test(v->bm, sec) ? 1 : 0;
            if (state < 0) {
                state = st;
            } else if (st != state) {
                done += k;
                goto out;
            }
            uint64_t next = (uint64_t)(sec + 1) * SECTOR - in;
            k = next < n ? next : n;
        }
        done += n;
    }
out:
    if (done == 0)                  /* cannot happen: the first unit is taken */
        return -EIO;
    if (state == 0)
        return img_backing_status(img, off, done, pnum);
    *pnum = done;
    return IMG_BS_DATA;
}

/* ---- Write ------------------------------------------------------------- */

static int write_bat_entry(struct img *img, uint32_t b)
{
    struct vhd *v = img->priv;
    uint8_t sec[SECTOR];
    uint32_t first = b / (SECTOR / 4) * (SECTOR / 4);

    for (uint32_t i = 0; i < SECTOR / 4; i++)
        put32(sec + 4 * i, first + i < v->max_entries ? v->bat[first + i] : BAT_UNUSED);
    return pwrite_io(img, sec, SECTOR, v->bat_off + (uint64_t)first * 4);
}

/* Writes the data of [in, in+n) of block b (a partial first or last
 * sector is completed from what lies there now) at data offset 'data'. */
static int write_sectors(struct img *img, uint32_t b, uint64_t off, uint64_t in,
                         const uint8_t *p, size_t n, uint64_t data, bool fresh)
{
    struct vhd *v = img->priv;
    uint64_t s0 = in / SECTOR * SECTOR, s1 = round_up(in + n, SECTOR);
    int r;

    if (s0 == in && s1 == in + n)
        return pwrite_io(img, p, n, data + in);
    uint8_t *tmp = malloc(s1 - s0);
    if (!tmp)
        return -ENOMEM;
    /* The partial sectors' old content: this file's if the sector is
     * present, else the parent's (or zeros). */
    uint64_t edges[2] = { s0, s1 - SECTOR };
    for (int k = 0; k < 2; k++) {
        uint64_t e = edges[k];
        if (k == 1 && e == s0)
            break;
        uint8_t *dst = tmp + (e - s0);
        bool present = !fresh && bit_test(v->bm, (uint32_t)(e / SECTOR));
        if (present)
            r = pread_io(img, dst, SECTOR, data + e);
        else if ((off - in) + e + SECTOR <= img->size)
            r = img_read_backing(img, (off - in) + e, dst, SECTOR);
        else
            r = (memset(dst, 0, SECTOR), 0);
        if (r < 0)
            goto out;
    }
    (void)b;
    memcpy(tmp + (in - s0), p, n);
    r = pwrite_io(img, tmp, s1 - s0, data + s0);
out:
    free(tmp);
    return r;
}

static int alloc_block(struct img *img, uint32_t b, uint64_t off, uint64_t in,
                       const uint8_t *p, size_t n)
{
    struct vhd *v = img->priv;
    uint64_t bo = v->next_alloc;
    uint64_t end = bo + v->bitmap_size + v->block_size;
    int r;

    if (bo / SECTOR > 0xfffffffeull)
        return -EFBIG;
    /* 1. The footer at the new end: the file always ends in a footer. */
    if ((r = pwrite_io(img, v->footer, FOOTER_SIZE, end)) < 0)
        return r;
    v->next_alloc = end;        /* even if what follows fails: never reuse */
    /* 2. The data. */
    v->bm_block = BAT_UNUSED;
    memset(v->bm, 0, v->bitmap_size);
    if ((r = write_sectors(img, b, off, in, p, n, bo + v->bitmap_size, true)) < 0)
        return r;
    /* 3. The bitmap: all present in a dynamic disk (the rest of the block
     * is fresh zeros), else just the sectors written. */
    if (!img->backing && v->type == TYPE_DYNAMIC) {
        memset(v->bm, 0xff, (v->spb + 7) / 8);
    } else {
        for (uint64_t s = in / SECTOR; s < round_up(in + n, SECTOR) / SECTOR; s++)
            bit_set(v->bm, (uint32_t)s);
    }
    if ((r = pwrite_io(img, v->bm, v->bitmap_size, bo)) < 0)
        return r;
    /* 4. Flush: data, bitmap and footer are durable before the BAT. */
    if ((r = img->io->ops->flush(img->io)) < 0)
        return r;
    /* 5. The BAT entry. */
    v->bat[b] = (uint32_t)(bo / SECTOR);
    if ((r = write_bat_entry(img, b)) < 0) {
        v->bat[b] = BAT_UNUSED;
        return r;
    }
    v->bm_block = b;
    return 0;
}

static int write_in_block(struct img *img, uint32_t b, uint64_t off, uint64_t in,
                          const uint8_t *p, size_t n)
{
    struct vhd *v = img->priv;
    uint64_t data = block_off(v, b) + v->bitmap_size;
    uint32_t s0 = (uint32_t)(in / SECTOR), s1 = (uint32_t)(round_up(in + n, SECTOR) / SECTOR);
    bool need = false;
    int r;

    if ((r = load_bitmap(img, b)) < 0)
        return r;
    for (uint32_t s = s0; s < s1 && !need; s++)
        need = !bit_test(v->bm, s);
    if ((r = write_sectors(img, b, off, in, p, n, data, false)) < 0)
        return r;
    if (!need)
        return 0;
    /* Data durable before the bits that expose it. */
    if ((r = img->io->ops->flush(img->io)) < 0)
        return r;
    for (uint32_t s = s0; s < s1; s++)
        bit_set(v->bm, s);
    uint32_t first = s0 / (SECTOR * 8), last = (s1 - 1) / (SECTOR * 8);
    r = pwrite_io(img, v->bm + first * SECTOR, (last - first + 1) * SECTOR,
                  block_off(v, b) + first * SECTOR);
    if (r < 0)
        v->bm_block = BAT_UNUSED;
    return r;
}

static int vhd_write(struct img *img, uint64_t off, const void *buf, size_t len)
{
    struct vhd *v = img->priv;
    const uint8_t *p = buf;
    int r;

    if (v->type == TYPE_FIXED)
        return pwrite_io(img, buf, len, off);
    while (len) {
        uint32_t b = (uint32_t)(off / v->block_size);
        uint64_t in = off % v->block_size;
        size_t n = v->block_size - in < len ? (size_t)(v->block_size - in) : len;
        if (b >= v->max_entries)
            return -EIO;
        if (v->bat[b] == BAT_UNUSED)
            r = alloc_block(img, b, off, in, p, n);
        else
            r = write_in_block(img, b, off, in, p, n);
        if (r < 0)
            return r;
        off += n;
        p += n;
        len -= n;
    }
    return 0;
}

static int vhd_flush(struct img *img)
{
    return img->io->ops->flush(img->io);
}

/* ---- Info and check ---------------------------------------------------- */

static int vhd_info(struct img *img, struct img_info *info)
{
    struct vhd *v = img->priv;

    info->format = "vhd";
    info->version = be32(v->footer + F_VERSION) >> 16;
    switch (v->type) {
    case TYPE_FIXED:
        snprintf(info->subformat, sizeof info->subformat, "fixed");
        break;
    case TYPE_DYNAMIC:
        snprintf(info->subformat, sizeof info->subformat, "dynamic");
        info->cluster_size = v->block_size;
        break;
    default:
        snprintf(info->subformat, sizeof info->subformat, "differencing");
        info->cluster_size = v->block_size;
        snprintf(info->backing, sizeof info->backing, "%s", v->parent_name);
        snprintf(info->backing_format, sizeof info->backing_format, "vhd");
        break;
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

#define CORRUPT(...) do {                                                   \
        if (!res->corruptions++)                                            \
            snprintf(res->first_error, IMG_ERR_LEN, __VA_ARGS__);           \
    } while (0)

static int vhd_check(struct img *img, struct img_check *res, bool repair)
{
    struct vhd *v = img->priv;
    int64_t eof = img->io->ops->size(img->io);

    (void)repair;                       /* nothing is repaired */
    if (eof < 0)
        return (int)eof;
    if (v->head_footer_bad)
        CORRUPT("the footer copy at offset 0 is missing or differs from the footer");
    if (v->tail_footer_bad)
        CORRUPT("the footer at the end of the file is missing or differs from the copy");
    if (v->type == TYPE_FIXED)
        return 0;
    /* Open already refused entries past the end or over the metadata;
     * here: blocks that overlap each other, and unreferenced space. */
    uint32_t *offs = malloc(((size_t)v->max_entries + 1) * 4);
    uint32_t n = 0;
    if (!offs)
        return -ENOMEM;
    for (uint32_t i = 0; i < v->max_entries; i++)
        if (v->bat[i] != BAT_UNUSED)
            offs[n++] = v->bat[i];
    qsort(offs, n, 4, cmp_u32);
    uint64_t blk_total = (uint64_t)v->bitmap_size + v->block_size;
    uint64_t pos = round_up(v->meta_end, SECTOR), leaked = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t bo = (uint64_t)offs[i] * SECTOR;
        if (i > 0 && bo < (uint64_t)offs[i - 1] * SECTOR + blk_total)
            CORRUPT("two BAT entries point at overlapping blocks (offsets %llu and %llu)",
                    (unsigned long long)offs[i - 1] * SECTOR, (unsigned long long)bo);
        if (bo > pos)
            leaked += (bo - pos) / blk_total;   /* whole abandoned blocks */
        if (bo + blk_total > pos)
            pos = bo + blk_total;
    }
    if (v->footer_pos > pos)
        leaked += (v->footer_pos - pos) / blk_total;
    res->leaks = leaked;
    free(offs);
    return 0;
}

/* ---- Create ------------------------------------------------------------ */

/* A version-4 UUID without an OS: splitmix64 over addresses and a counter. */
static void make_uuid(uint8_t *u, const void *salt, uint64_t size)
{
    static uint64_t counter;
    uint64_t x = (uint64_t)(uintptr_t)salt ^ (uint64_t)(uintptr_t)&x ^
                 (uint64_t)(uintptr_t)u ^ size * 0x9e3779b97f4a7c15ull ^ ++counter << 40;
    for (int i = 0; i < 16; i += 8) {
        x += 0x9e3779b97f4a7c15ull;
        uint64_t z = x;
        z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ z >> 27) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        put64(u + i, z);
    }
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
}

static void make_footer(uint8_t *f, uint32_t type, uint64_t size, unsigned c,
                        unsigned h, unsigned s, const void *salt)
{
    memset(f, 0, FOOTER_SIZE);
    memcpy(f + F_COOKIE, "conectix", 8);
    put32(f + F_FEATURES, 2);
    put32(f + F_VERSION, 0x00010000);
    put64(f + F_DATA_OFFSET, type == TYPE_FIXED ? ~0ull : FOOTER_SIZE);
    put32(f + F_TIMESTAMP, 0);          /* no clock without an OS */
    memcpy(f + F_CREATOR_APP, "keel", 4);
    put32(f + F_CREATOR_VER, 0x00010000);
    memcpy(f + F_CREATOR_OS, "Wi2k", 4);
    put64(f + F_ORIG_SIZE, size);
    put64(f + F_CUR_SIZE, size);
    f[F_GEOMETRY] = (uint8_t)(c >> 8);
    f[F_GEOMETRY + 1] = (uint8_t)c;
    f[F_GEOMETRY + 2] = (uint8_t)h;
    f[F_GEOMETRY + 3] = (uint8_t)s;
    put32(f + F_TYPE, type);
    make_uuid(f + F_UUID, salt, size);
    put32(f + F_CHECKSUM, checksum(f, FOOTER_SIZE, F_CHECKSUM));
}

/* Size and geometry for a requested size, exactly as qemu-img rounds. */
static int size_geometry(uint64_t want, uint64_t *size, unsigned *c, unsigned *h,
                         unsigned *s, char *err)
{
    uint64_t sectors = round_up(want, SECTOR) / SECTOR;
    uint64_t t = sectors < MAX_GEOMETRY ? sectors : MAX_GEOMETRY;

    *c = *h = *s = 0;
    for (uint64_t i = 0; t > (uint64_t)*c * *h * *s; i++)
        chs_for(t + i, c, h, s);
    if ((uint64_t)*c * *h * *s == MAX_GEOMETRY) {
        if (sectors > MAX_SECTORS)
            return ERR("disk size %llu is too large (the format's limit is 2040 GiB)",
                       (unsigned long long)want);
        *size = sectors * SECTOR;
    } else {
        *size = (uint64_t)*c * *h * *s * SECTOR;
    }
    return 0;
}

static int io_err(char *err, const char *what, int r)
{
    snprintf(err, IMG_ERR_LEN, "vhd: cannot %s (error %d)", what, r);
    return r;
}

static int vhd_create(struct img_io *io, const struct img_create_opts *o, char *err)
{
    uint8_t footer[FOOTER_SIZE], hdr[DYN_HDR_SIZE];
    struct img *parent = NULL;
    uint8_t *bat = NULL, *loc = NULL;
    uint32_t type = TYPE_DYNAMIC;
    uint64_t want = o->size, size;
    unsigned c, h, s;
    int r, loc_len = 0;

    if (o->encrypt_format)
        return ERR("the format has no encryption");
    if (o->subformat && strcmp(o->subformat, "fixed") == 0)
        type = TYPE_FIXED;
    else if (o->subformat && strcmp(o->subformat, "dynamic") &&
             strcmp(o->subformat, "differencing"))
        return ERR("unknown subformat '%s' (fixed, dynamic)", o->subformat);
    if (o->backing) {
        if (type == TYPE_FIXED)
            return ERR("a fixed disk cannot have a parent");
        if (o->backing_format && strcmp(o->backing_format, "vhd") &&
            strcmp(o->backing_format, "vpc"))
            return ERR("the parent of a differencing disk must be a vhd, not %s",
                       o->backing_format);
        struct img_io *pio;
        if (!io->ops->open_related)
            return ERR("cannot open the parent '%s': the device cannot open "
                       "related files", o->backing);
        if ((r = io->ops->open_related(io, o->backing, false, &pio)) < 0) {
            snprintf(err, IMG_ERR_LEN, "vhd: cannot open the parent '%s' (error %d)",
                     o->backing, r);
            return r;
        }
        char sub[IMG_ERR_LEN];
        if ((r = img_open(pio, "vhd", IMG_OPEN_NO_BACKING, NULL, &parent, sub)) < 0) {
            snprintf(err, IMG_ERR_LEN, "vhd: parent '%s': %s", o->backing, sub);
            return r;
        }
        type = TYPE_DIFF;
        if (!want)
            want = parent->size;
    }
    if ((r = size_geometry(want, &size, &c, &h, &s, err)) < 0)
        goto out;
    make_footer(footer, type, size, c, h, s, io);
    if (type == TYPE_FIXED) {
        if ((r = io->ops->truncate(io, 0)) < 0 ||
            (r = io->ops->truncate(io, size + FOOTER_SIZE)) < 0 ||
            (r = io->ops->pwrite(io, footer, FOOTER_SIZE, size)) < 0 ||
            (r = io->ops->flush(io)) < 0)
            r = io_err(err, "write the image", r);
        goto out;
    }
    uint32_t bs = o->cluster_size ? o->cluster_size : DEF_BLOCK_SIZE;
    if (bs < SECTOR || bs > (256u << 20) || (bs & (bs - 1))) {
        r = ERR("bad block size %u (a power of two from 512 B to 256 MiB)", bs);
        goto out;
    }
    uint64_t entries = (size + bs - 1) / bs;
    uint64_t bat_bytes = round_up(entries * 4, SECTOR);
    if (bat_bytes > MAX_BAT_BYTES) {
        r = ERR("too many blocks (%llu) for block size %u",
                (unsigned long long)entries, bs);
        goto out;
    }
    uint64_t bat_off = 3 * SECTOR, pos = bat_off + bat_bytes;
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr + H_COOKIE, "cxsparse", 8);
    put64(hdr + H_DATA_OFFSET, ~0ull);
    put64(hdr + H_TABLE_OFFSET, bat_off);
    put32(hdr + H_VERSION, 0x00010000);
    put32(hdr + H_MAX_ENTRIES, (uint32_t)entries);
    put32(hdr + H_BLOCK_SIZE, bs);
    if (type == TYPE_DIFF) {
        struct vhd *pv = parent->priv;
        const char *name = o->backing, *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        memcpy(hdr + H_PARENT_UUID, pv->footer + F_UUID, 16);
        memcpy(hdr + H_PARENT_TIME, pv->footer + F_TIMESTAMP, 4);
        if (utf8_to_utf16(base, false, hdr + H_PARENT_NAME, H_PARENT_NAME_LEN) < 0) {
            r = ERR("parent name '%s' is not valid UTF-8 or too long", name);
            goto out;
        }
        /* One locator: W2ku for an absolute name, else W2ru. */
        char win[1024];
        if (strlen(name) + 3 > sizeof win) {
            r = ERR("parent name too long");
            goto out;
        }
        bool abs = name[0] == '/';
        snprintf(win, sizeof win, "%s%s", abs ? "" : ".\\", name);
        for (char *q = win; *q; q++)
            if (*q == '/' && !abs)
                *q = '\\';
        if (!(loc = calloc(1, MAX_LOC_LEN)) ||
            (loc_len = utf8_to_utf16(win, true, loc, MAX_LOC_LEN)) < 0) {
            r = loc ? ERR("parent name '%s' is not valid UTF-8 or too long", name)
                    : -ENOMEM;
            goto out;
        }
        uint8_t *l = hdr + H_LOCATORS;
        put32(l, abs ? PLAT_W2KU : PLAT_W2RU);
        put32(l + 4, (uint32_t)(round_up((uint64_t)loc_len, SECTOR) / SECTOR));
        put32(l + 8, (uint32_t)loc_len);
        put64(l + 16, pos);
    }
    put32(hdr + H_CHECKSUM, checksum(hdr, DYN_HDR_SIZE, H_CHECKSUM));
    if (!(bat = malloc(bat_bytes))) {
        r = -ENOMEM;
        goto out;
    }
    memset(bat, 0xff, bat_bytes);
    if ((r = io->ops->truncate(io, 0)) < 0 ||
        (r = io->ops->pwrite(io, footer, FOOTER_SIZE, 0)) < 0 ||
        (r = io->ops->pwrite(io, hdr, DYN_HDR_SIZE, FOOTER_SIZE)) < 0 ||
        (r = io->ops->pwrite(io, bat, bat_bytes, bat_off)) < 0) {
        r = io_err(err, "write the image", r);
        goto out;
    }
    if (loc_len) {
        uint64_t ll = round_up((uint64_t)loc_len, SECTOR);
        if ((r = io->ops->pwrite(io, loc, ll, pos)) < 0) {
            r = io_err(err, "write the parent locator", r);
            goto out;
        }
        pos += ll;
    }
    if ((r = io->ops->pwrite(io, footer, FOOTER_SIZE, pos)) < 0 ||
        (r = io->ops->flush(io)) < 0)
        r = io_err(err, "write the footer", r);
out:
    free(bat);
    free(loc);
    if (parent)
        img_close(parent);
    return r;
}

const struct img_driver img_driver_vhd = {
    .name = "vhd",
    .probe = vhd_probe,
    .open = vhd_open,
    .close = vhd_close,
    .read = vhd_read,
    .write = vhd_write,
    .flush = vhd_flush,
    .info = vhd_info,
    .check = vhd_check,
    .create = vhd_create,
    .block_status = vhd_block_status,
};
