/* The disk image library: one driver interface (raw, qcow2, vhd, vmdk)
 * over a small byte-addressed I/O interface to the underlying device.
 * Portable C: no operating system, no libc beyond <string.h>/<stdlib.h>-
 * style helpers, so that it builds for the host and for the tapdisk stub
 * domain (minios + newlib). */
#ifndef KEEL_IMAGE_H
#define KEEL_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- The underlying device --------------------------------------------- */

struct img_io;

struct img_io_ops {
    /* Reads len bytes at off.  Bytes past the end of the device read as
     * zero.  Returns 0 or a negative errno. */
    int (*pread)(struct img_io *io, void *buf, size_t len, uint64_t off);
    /* Writes len bytes at off, growing the device if needed. */
    int (*pwrite)(struct img_io *io, const void *buf, size_t len, uint64_t off);
    /* Makes every completed write durable (a write barrier). */
    int (*flush)(struct img_io *io);
    /* Current size in bytes, or a negative errno. */
    int64_t (*size)(struct img_io *io);
    /* Sets the size (shrink or grow with zeros). */
    int (*truncate)(struct img_io *io, uint64_t size);
    /* Opens another device named relative to this one (a backing file or
     * a parent, as the image names it).  NULL ops member: not supported. */
    int (*open_related)(struct img_io *io, const char *name, bool writable,
                        struct img_io **out);
    /* Releases the device. */
    void (*close)(struct img_io *io);
    /* Optional (NULL: nothing is ever held back).  Makes every completed
     * write survive a crash of this program while the device below lives
     * on (not a power cut: that is flush's): writes out what this layer
     * still holds in memory about the writes (a filesystem's allocation
     * metadata: the store commits its journal transaction).  1 when it
     * wrote something out, 0 when nothing was held (and it costs
     * nothing), or a negative errno. */
    int (*persist)(struct img_io *io);
};

struct img_io {
    const struct img_io_ops *ops;
    void *priv;
};

/* ---- Images ------------------------------------------------------------ */

#define IMG_OPEN_RDWR      (1u << 0)   /* else read-only */
#define IMG_OPEN_NO_BACKING (1u << 1)  /* do not open backing files */
/* Write whole clusters compressed where the format can (convert -c): set
 * by the opener of a freshly created, written-once target.  Drivers that
 * cannot compress ignore it. */
#define IMG_OPEN_COMPRESS   (1u << 2)

#define IMG_ERR_LEN 256

struct img;                            /* an open image (opaque) */

struct img_info {
    const char *format;                /* "raw", "qcow2", "vhd", "vmdk" */
    uint64_t virtual_size;             /* bytes the guest sees */
    uint64_t allocated;                /* bytes of the file in use (approx.) */
    uint32_t cluster_size;             /* allocation unit, 0 if none */
    char backing[1024];                /* backing file name, "" if none */
    char backing_format[16];
    char subformat[32];                /* e.g. "dynamic", "monolithicSparse" */
    bool encrypted, dirty, compressed_clusters;
    unsigned nr_snapshots;             /* internal snapshots (qcow2) */
    char snapshot_names[16][64];       /* the first 16 */
    unsigned version;                  /* format version where it has one */
};

struct img_check {
    uint64_t corruptions;              /* metadata errors */
    uint64_t leaks;                    /* allocated but unreferenced units */
    uint64_t repaired;
    char first_error[IMG_ERR_LEN];
};

/* Options for create (keel-img create -o ...). */
struct img_create_opts {
    uint64_t size;                     /* virtual size in bytes */
    uint32_t cluster_size;             /* 0: format default */
    const char *backing;               /* NULL: none */
    const char *backing_format;
    const char *subformat;             /* vhd: "fixed"/"dynamic"; vmdk: ... */
    unsigned compat;                   /* qcow2: 2 or 3; 0: default */
    unsigned refcount_bits;            /* qcow2: 0 = 16 */
    bool lazy_refcounts;
    bool extended_l2;
    const char *encrypt_format;        /* "luks" or NULL */
    const char *encrypt_secret;        /* passphrase */
    uint64_t encrypt_iter_time_ms;
};

/* What a driver implements.  All return 0 or a negative errno and, where
 * an err buffer is given, a message naming the problem. */
struct img_driver {
    const char *name;
    /* Confidence (0 = not this format) that the first bytes are ours. */
    int (*probe)(const uint8_t *buf, size_t len);
    int (*open)(struct img *img, char *err);
    void (*close)(struct img *img);
    int (*read)(struct img *img, uint64_t off, void *buf, size_t len);
    int (*write)(struct img *img, uint64_t off, const void *buf, size_t len);
    int (*flush)(struct img *img);
    int (*discard)(struct img *img, uint64_t off, uint64_t len);
    int (*info)(struct img *img, struct img_info *info);
    int (*check)(struct img *img, struct img_check *res, bool repair);
    int (*create)(struct img_io *io, const struct img_create_opts *o, char *err);
    /* Optional (NULL: everything reads as data).  The status of the
     * first *pnum bytes (0 < *pnum <= len) of [off, off+len): IMG_BS_ZERO
     * if they read as zeros without being stored here or in a backing
     * image (unallocated, zero clusters), else IMG_BS_DATA.  Lets convert
     * and compare skip holes without reading them. */
    int (*block_status)(struct img *img, uint64_t off, uint64_t len,
                        uint64_t *pnum);
    /* Optional: img_persist for an image on several devices (vmdk's
     * extents); NULL: img->io's persist. */
    int (*persist)(struct img *img);
};

#define IMG_BS_DATA 1
#define IMG_BS_ZERO 2

/* The state every open image has; drivers keep theirs behind priv. */
struct img {
    const struct img_driver *drv;
    struct img_io *io;
    unsigned flags;
    uint64_t size;                     /* virtual size */
    struct img *backing;               /* opened backing image, or NULL */
    unsigned depth;                    /* position in a backing chain */
    const char *secret;                /* passphrase for encrypted images */
    void *priv;
};

/* ---- The library API --------------------------------------------------- */

extern const struct img_driver *const img_drivers[];   /* NULL-terminated */
const struct img_driver *img_find_driver(const char *name);

/* Opens an image on io, probing the format when fmt is NULL.  Takes
 * ownership of io (closed by img_close, also on failure). */
int img_open(struct img_io *io, const char *fmt, unsigned flags,
             const char *secret, struct img **out, char *err);
/* Opens name relative to parent's device as a backing image (chains are
 * limited in depth; a loop is an error). */
int img_open_backing(struct img *parent, const char *name, const char *fmt,
                     struct img **out, char *err);
void img_close(struct img *img);
int img_read(struct img *img, uint64_t off, void *buf, size_t len);
int img_write(struct img *img, uint64_t off, const void *buf, size_t len);
int img_flush(struct img *img);
/* Every completed write survives a crash of this program (the device
 * lives on; no device flush implied): the drivers write their metadata
 * through to the device before a write returns, so this is the
 * device's persist (io_ops), or each device's for an image on several
 * (the driver's persist).  1 if something was written out, 0 if
 * nothing was held, or a negative errno. */
int img_persist(struct img *img);
int img_discard(struct img *img, uint64_t off, uint64_t len);
int img_info(struct img *img, struct img_info *info);
int img_check(struct img *img, struct img_check *res, bool repair);
int img_create(struct img_io *io, const char *fmt,
               const struct img_create_opts *o, char *err);
/* IMG_BS_DATA or IMG_BS_ZERO for the first *pnum bytes of [off, off+len)
 * (the driver's block_status, or DATA for the whole range without one). */
int img_block_status(struct img *img, uint64_t off, uint64_t len,
                     uint64_t *pnum);

#define IMG_MAX_CHAIN 16

/* A source of random bytes for creating encrypted images (LUKS master
 * keys, salts): fills buf with len bytes, returns 0 or a negative errno.
 * The host build also has the crypto library's platform source
 * (/dev/urandom); the unikernel has only this one, so creating an
 * encrypted image there fails until the embedder sets it.  The source
 * must be a good one: the keys are only as secret as it is. */
typedef int (*img_entropy_fn)(void *ctx, void *buf, size_t len);
void img_set_entropy(img_entropy_fn fn, void *ctx);

/* ---- Helpers for drivers ----------------------------------------------- */

/* Reads what lies under img at [off, off+len): its backing image where it
 * has one (zeros past the backing image's end), else zeros. */
int img_read_backing(struct img *img, uint64_t off, void *buf, size_t len);
/* Whether an entropy source was set, and bytes from it (-ENOSYS if not). */
bool img_have_entropy(void);
int img_get_entropy(void *buf, size_t len);
/* The block status of what lies under img at [off, off+len) (for a
 * driver's block_status on its unallocated ranges): the backing image's
 * status, IMG_BS_ZERO past its end or without one. */
int img_backing_status(struct img *img, uint64_t off, uint64_t len,
                       uint64_t *pnum);

#endif
