/* virtio_blk.c: the virtio-blk driver (virtio 1.x, 5.2): one request queue, requests checked then split into chains of at most 64 KiB through bounce pages, one in flight at a time. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <minios/blk.h>
#include <minios/console.h>
#include <minios/mm.h>
#include <minios/pci.h>
#include <minios/time.h>
#include "virtio.h"

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4

#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

#define BOUNCE_PAGES 16           /* 64 KiB per request chain */
#define TIMEOUT_NS (30ull * 1000000000ull)

struct req_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

struct minios_blk {
    struct virtio_dev dev;
    uint64_t capacity;
    uint32_t block;                /* logical block size, bytes */
    uint32_t seg_max;              /* data segments per request */
    bool busy;
    uint64_t poll_ns;              /* 0, or look at the used ring this often */
    struct minios_waitq idle;
    struct req_hdr *hdr;           /* in one page with the status byte */
    volatile uint8_t *status;
    uint8_t *bounce[BOUNCE_PAGES];
};

int minios_blk_find(uint16_t *bdf)
{
    uint16_t b[MINIOS_PCI_MAX_OWNED];
    int n = minios_pci_owned(b, MINIOS_PCI_MAX_OWNED);
    for (int i = 0; i < n; i++) {
        uint32_t id = minios_pci_read(b[i], 0, 4);
        uint16_t dev = (uint16_t)(id >> 16);
        if ((uint16_t)id != 0x1af4)
            continue;
        if (dev == 0x1040 + VIRTIO_ID_BLOCK ||
            (dev >= 0x1000 && dev < 0x1040 && minios_pci_read(b[i], 0x2e, 2) == VIRTIO_ID_BLOCK)) {
            *bdf = b[i];
            return 0;
        }
    }
    return -XEN_ENODEV;
}

int minios_blk_open(uint16_t bdf, struct minios_blk **out)
{
    struct minios_blk *b = calloc(1, sizeof(*b));
    if (!b)
        return -XEN_ENOMEM;
    uint64_t want = 1ull << VIRTIO_BLK_F_RO | 1ull << VIRTIO_BLK_F_BLK_SIZE |
                    1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_SEG_MAX;
    int rc = virtio_open(&b->dev, bdf, VIRTIO_ID_BLOCK, want);
    if (rc) {
        free(b);
        return rc;
    }
    if ((rc = virtio_queue_setup(&b->dev, 0, 64)))
        goto fail;
    virtio_cfg_read(&b->dev, 0, &b->capacity, 8);
    b->block = 512;
    if (b->dev.features & (1ull << VIRTIO_BLK_F_BLK_SIZE)) {
        uint32_t bs;
        virtio_cfg_read(&b->dev, 20, &bs, 4);
        if (bs < 512 || bs > 65536 || (bs & (bs - 1))) {
            minios_printk("%s: logical block size %u not supported\n", b->dev.name, bs);
            rc = -XEN_EOPNOTSUPP;
            goto fail;
        }
        b->block = bs;
    }
    b->seg_max = BOUNCE_PAGES;
    if (b->dev.features & (1ull << VIRTIO_BLK_F_SEG_MAX)) {
        uint32_t sm;
        virtio_cfg_read(&b->dev, 12, &sm, 4);
        if (sm && sm < b->seg_max)
            b->seg_max = sm;
    }
    /* A chain is a header, the data segments and the status. */
    if (b->dev.q[0].vq.size < b->seg_max + 2)
        b->seg_max = b->dev.q[0].vq.size - 2u;
    if (b->dev.q[0].vq.size < 3 || b->seg_max * 4096u < b->block) {
        minios_printk("%s: queue of %u too small\n", b->dev.name, b->dev.q[0].vq.size);
        rc = -XEN_EOPNOTSUPP;
        goto fail;
    }
    uint8_t *page = minios_alloc_pages(1);
    if (!page) {
        rc = -XEN_ENOMEM;
        goto fail;
    }
    memset(page, 0, 4096);
    b->hdr = (struct req_hdr *)page;
    b->status = page + 64;
    for (unsigned i = 0; i < BOUNCE_PAGES; i++)
        if (!(b->bounce[i] = minios_alloc_pages(1))) {
            rc = -XEN_ENOMEM;
            goto fail;
        }
    minios_waitq_init(&b->idle);
    virtio_ready(&b->dev);
    minios_printk("%s: %llu sectors of 512 bytes, block size %u%s%s, MSI-X\n", b->dev.name,
                  (unsigned long long)b->capacity, b->block,
                  b->dev.features & (1ull << VIRTIO_BLK_F_RO) ? ", read-only" : "",
                  b->dev.features & (1ull << VIRTIO_BLK_F_FLUSH) ? ", flush" : "");
    *out = b;
    return 0;
fail:
    /* Pages the device may still address stay allocated after the reset. */
    virtio_fail(&b->dev, "set-up failed");
    free(b);
    return rc;
}

uint64_t minios_blk_sectors(const struct minios_blk *b) { return b->capacity; }
uint32_t minios_blk_block_size(const struct minios_blk *b) { return b->block; }
int minios_blk_read_only(const struct minios_blk *b) { return !!(b->dev.features & (1ull << VIRTIO_BLK_F_RO)); }
int minios_blk_has_flush(const struct minios_blk *b) { return !!(b->dev.features & (1ull << VIRTIO_BLK_F_FLUSH)); }

/* One request of at most seg_max pages (the data already in the bounce
 * pages for a write); 0 or a negative errno.  Called with b->busy held. */
static int one_request(struct minios_blk *b, uint32_t type, uint64_t sector, size_t bytes)
{
    struct virtio_queue *q = &b->dev.q[0];
    struct virtq_buf bufs[BOUNCE_PAGES + 2];
    unsigned n = 0;
    b->hdr->type = type;
    b->hdr->reserved = 0;
    b->hdr->sector = sector;
    *b->status = 0xff;
    bufs[n++] = (struct virtq_buf){ virtio_dma(b->hdr), sizeof(*b->hdr), false };
    for (size_t off = 0; off < bytes; off += 4096) {
        size_t len = bytes - off < 4096 ? bytes - off : 4096;
        bufs[n++] = (struct virtq_buf){ virtio_dma(b->bounce[off / 4096]), (uint32_t)len,
                                        type == T_IN };
    }
    bufs[n++] = (struct virtq_buf){ virtio_dma((const void *)b->status), 1, true };
    if (virtq_add(&q->vq, bufs, n, b) != 0) {
        virtio_fail(&b->dev, "request does not fit the queue");
        return -XEN_EIO;
    }
    uint64_t deadline = minios_monotonic_ns() + TIMEOUT_NS;
    unsigned long f = minios_events_save();
    virtio_kick(q);
    while (!virtq_has_used(&q->vq) && minios_monotonic_ns() < deadline) {
        uint64_t until = deadline;
        if (b->poll_ns && minios_monotonic_ns() + b->poll_ns < deadline)
            until = minios_monotonic_ns() + b->poll_ns;
        minios_waitq_wait(&q->wait, until);
    }
    minios_events_restore(f);
    void *cookie;
    uint32_t len;
    int r = virtq_get(&q->vq, &cookie, &len);
    if (r == 0) {
        virtio_fail(&b->dev, "no answer within 30 s");
        return -XEN_ETIMEDOUT;
    }
    if (r < 0 || cookie != b) {
        virtio_fail(&b->dev, "used ring names a request not in flight");
        return -XEN_EIO;
    }
    switch (*b->status) {
    case S_OK:
        return 0;
    case S_UNSUPP:
        return -XEN_EOPNOTSUPP;
    case S_IOERR:
        return -XEN_EIO;
    default:
        virtio_fail(&b->dev, "request completed without a valid status");
        return -XEN_EIO;
    }
}

static void take(struct minios_blk *b)
{
    unsigned long f = minios_events_save();
    while (b->busy)
        minios_waitq_wait(&b->idle, 0);
    b->busy = true;
    minios_events_restore(f);
}

static void give(struct minios_blk *b)
{
    b->busy = false;
    minios_waitq_wake_one(&b->idle);
}

static int check(const struct minios_blk *b, uint64_t sector, const void *buf, size_t count)
{
    uint64_t per = b->block / 512;
    if (!buf || count == 0 || sector >= b->capacity || count > b->capacity - sector ||
        sector % per || count % per)
        return -XEN_EINVAL;
    if (b->dev.broken)
        return -XEN_EIO;
    return 0;
}

static int rw(struct minios_blk *b, uint32_t type, uint64_t sector, uint8_t *buf, size_t count)
{
    int rc = check(b, sector, buf, count);
    if (rc)
        return rc;
    if (type == T_OUT && minios_blk_read_only(b))
        return -XEN_EROFS;
    take(b);
    /* Chunks of whole logical blocks that fit the bounce pages. */
    size_t chunk = (size_t)b->seg_max * 4096 / b->block * b->block / 512;
    while (count && !rc) {
        size_t n = count < chunk ? count : chunk;
        size_t bytes = n * 512;
        if (type == T_OUT)
            for (size_t off = 0; off < bytes; off += 4096)
                memcpy(b->bounce[off / 4096], buf + off, bytes - off < 4096 ? bytes - off : 4096);
        rc = one_request(b, type, sector, bytes);
        if (!rc && type == T_IN)
            for (size_t off = 0; off < bytes; off += 4096)
                memcpy(buf + off, b->bounce[off / 4096], bytes - off < 4096 ? bytes - off : 4096);
        sector += n;
        buf += bytes;
        count -= n;
    }
    give(b);
    return rc;
}

int minios_blk_read(struct minios_blk *b, uint64_t sector, void *buf, size_t count)
{
    return rw(b, T_IN, sector, buf, count);
}

int minios_blk_write(struct minios_blk *b, uint64_t sector, const void *buf, size_t count)
{
    return rw(b, T_OUT, sector, (uint8_t *)(uintptr_t)buf, count);
}

int minios_blk_flush(struct minios_blk *b)
{
    if (b->dev.broken)
        return -XEN_EIO;
    if (!minios_blk_has_flush(b))
        return 0;
    take(b);
    int rc = one_request(b, T_FLUSH, 0, 0);
    give(b);
    return rc;
}

void minios_blk_set_poll_ns(struct minios_blk *b, uint64_t ns)
{
    b->poll_ns = ns;
}
