/* virtio.c: the modern virtio-pci transport (virtio 1.x, 4.1): the vendor capabilities mapped, reset, feature negotiation with VERSION_1 required, split virtqueues in minios pages with one MSI-X vector each as an event channel. */
#include <stdio.h>
#include <string.h>
#include <minios/console.h>
#include <minios/mm.h>
#include <minios/pci.h>
#include <minios/time.h>
#include "virtio.h"

/* Vendor capability (4.1.4): cfg_type values. */
#define CAP_VENDOR 0x09
#define CFG_COMMON 1
#define CFG_NOTIFY 2
#define CFG_ISR 3
#define CFG_DEVICE 4

/* Common configuration (4.1.4.3), byte offsets. */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_MSIX 0x10
#define C_NUMQ 0x12
#define C_STATUS 0x14
#define C_CFGGEN 0x15
#define C_QSELECT 0x16
#define C_QSIZE 0x18
#define C_QMSIX 0x1a
#define C_QENABLE 0x1c
#define C_QNOFF 0x1e
#define C_QDESC 0x20
#define C_QDRIVER 0x28
#define C_QDEVICE 0x30
#define C_LEN 0x38

#define NO_VECTOR 0xffff

static inline uint8_t r8(struct virtio_dev *d, unsigned o) { return *(volatile uint8_t *)(d->common + o); }
static inline uint16_t r16(struct virtio_dev *d, unsigned o) { return *(volatile uint16_t *)(d->common + o); }
static inline uint32_t r32(struct virtio_dev *d, unsigned o) { return *(volatile uint32_t *)(d->common + o); }
static inline void w8(struct virtio_dev *d, unsigned o, uint8_t v) { *(volatile uint8_t *)(d->common + o) = v; }
static inline void w16(struct virtio_dev *d, unsigned o, uint16_t v) { *(volatile uint16_t *)(d->common + o) = v; }
static inline void w32(struct virtio_dev *d, unsigned o, uint32_t v) { *(volatile uint32_t *)(d->common + o) = v; }
static void w64(struct virtio_dev *d, unsigned o, uint64_t v)
{
    w32(d, o, (uint32_t)v);
    w32(d, o + 4, (uint32_t)(v >> 32));
}

uint64_t virtio_dma(const void *va)
{
    return (uint64_t)minios_virt_to_mfn(va) << 12 | ((unsigned long)va & 4095);
}

static const char *type_name(uint16_t type)
{
    return type == VIRTIO_ID_NET ? "virtio-net" : type == VIRTIO_ID_BLOCK ? "virtio-blk" : "virtio";
}

/* Resets and waits for the device to say it is reset (4.1.4.3.2). */
static bool reset(struct virtio_dev *d)
{
    w8(d, C_STATUS, 0);
    uint64_t end = minios_monotonic_ns() + 1000000000ull;
    while (r8(d, C_STATUS) != 0) {
        if (minios_monotonic_ns() > end)
            return false;
        minios_thread_yield();
    }
    return true;
}

void virtio_fail(struct virtio_dev *d, const char *why)
{
    minios_printk("%s: %s: device reset, no more requests\n", d->name, why);
    d->broken = true;
    if (d->common)
        reset(d);
}

/* Maps the region a vendor capability names; NULL if it cannot be. */
static volatile uint8_t *map_cap(struct virtio_dev *d, unsigned cap, uint32_t *len_out)
{
    unsigned bar = minios_pci_read(d->bdf, cap + 4, 1);
    uint32_t off = minios_pci_read(d->bdf, cap + 8, 4);
    uint32_t len = minios_pci_read(d->bdf, cap + 12, 4);
    uint64_t addr, size;
    int io;
    if (bar > 5 || minios_pci_bar(d->bdf, bar, &addr, &size, &io) || io || !addr ||
        len == 0 || off >= size || len > size - off) {
        minios_printk("%s: capability at %02x names BAR%u +%x len %x: not a memory region "
                      "of the device\n", d->name, cap, bar, off, len);
        return NULL;
    }
    *len_out = len;
    return (volatile uint8_t *)minios_pci_map(addr + off, len);
}

int virtio_open(struct virtio_dev *d, uint16_t bdf, uint16_t type, uint64_t want)
{
    memset(d, 0, sizeof(*d));
    d->bdf = bdf;
    d->type = type;
    snprintf(d->name, sizeof(d->name), "%s %02x:%02x.%x", type_name(type), bdf >> 8,
             (bdf >> 3) & 31, bdf & 7);
    if (!minios_pci_is_owned(bdf)) {
        minios_printk("%s: not this domain's device (no pci=)\n", d->name);
        return -XEN_ENODEV;
    }
    uint32_t id = minios_pci_read(bdf, 0, 4);
    uint16_t vendor = (uint16_t)id, device = (uint16_t)(id >> 16);
    if (id == 0xffffffffu || vendor != 0x1af4 || device < 0x1000 || device > 0x107f) {
        minios_printk("%s: %04x:%04x is not a virtio device\n", d->name, vendor, device);
        return -XEN_ENODEV;
    }
    /* Modern IDs are 0x1040 + type; transitional ones (0x1000-0x103f)
     * name the type in the subsystem ID. */
    uint16_t dtype = device >= 0x1040 ? (uint16_t)(device - 0x1040)
                                      : (uint16_t)minios_pci_read(bdf, 0x2e, 2);
    if (dtype != type) {
        minios_printk("%s: %04x:%04x is virtio device type %u, not %u\n", d->name, vendor,
                      device, dtype, type);
        return -XEN_ENODEV;
    }
    unsigned common = 0, notify = 0, isr = 0, devcfg = 0;
    for (unsigned cap = minios_pci_find_cap(bdf, CAP_VENDOR, 0); cap;
         cap = minios_pci_find_cap(bdf, CAP_VENDOR, cap)) {
        unsigned t = minios_pci_read(bdf, cap + 3, 1);
        unsigned clen = minios_pci_read(bdf, cap + 2, 1);
        if (clen < 16)
            continue;
        if (t == CFG_COMMON && !common)
            common = cap;
        else if (t == CFG_NOTIFY && !notify && clen >= 20)
            notify = cap;
        else if (t == CFG_ISR && !isr)
            isr = cap;
        else if (t == CFG_DEVICE && !devcfg)
            devcfg = cap;
    }
    if (!common || !notify || !isr) {
        minios_printk("%s: %04x:%04x is a legacy-only device (no virtio 1.x capabilities): "
                      "refused, minios drives modern virtio-pci only\n", d->name, vendor, device);
        return -XEN_ENODEV;
    }
    minios_pci_enable(bdf);
    uint32_t len;
    d->common = map_cap(d, common, &len);
    if (d->common && len < C_LEN) {
        minios_printk("%s: common configuration of %u bytes is too short\n", d->name, len);
        d->common = NULL;
    }
    d->notify_base = map_cap(d, notify, &d->notify_len);
    d->notify_mult = minios_pci_read(bdf, notify + 16, 4);
    d->isr = map_cap(d, isr, &len);
    if (devcfg)
        d->devcfg = map_cap(d, devcfg, &d->devcfg_len);
    if (!d->common || !d->notify_base || !d->isr) {
        d->common = NULL;
        return -XEN_ENODEV;
    }
    if (!reset(d)) {
        minios_printk("%s: does not come out of reset\n", d->name);
        d->common = NULL;
        return -XEN_EIO;
    }
    w8(d, C_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    w8(d, C_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    w32(d, C_DFSELECT, 0);
    uint64_t offered = r32(d, C_DF);
    w32(d, C_DFSELECT, 1);
    offered |= (uint64_t)r32(d, C_DF) << 32;
    if (!(offered & (1ull << VIRTIO_F_VERSION_1))) {
        minios_printk("%s: does not offer VIRTIO_F_VERSION_1 (features %llx): refused\n",
                      d->name, (unsigned long long)offered);
        virtio_fail(d, "no VERSION_1");
        return -XEN_EOPNOTSUPP;
    }
    /* ACCESS_PLATFORM: the device's DMA goes through the IOMMU, which the
     * hypervisor programs to map this domain's frames at their machine
     * addresses, the addresses the rings carry: accepted when offered
     * (QEMU's iommu_platform=on); without it QEMU's device bypasses the
     * IOMMU. */
    d->features = offered & (want | 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_ACCESS_PLATFORM);
    w32(d, C_GFSELECT, 0);
    w32(d, C_GF, (uint32_t)d->features);
    w32(d, C_GFSELECT, 1);
    w32(d, C_GF, (uint32_t)(d->features >> 32));
    w8(d, C_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    if (!(r8(d, C_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
        virtio_fail(d, "features not accepted (FEATURES_OK cleared)");
        return -XEN_EOPNOTSUPP;
    }
    w16(d, C_MSIX, NO_VECTOR);             /* no configuration-change interrupts */
    d->nqueues = r16(d, C_NUMQ);
    return 0;
}

static void queue_event(evtchn_port_t port, void *data)
{
    (void)port;
    struct virtio_queue *q = data;
    q->interrupts++;
    minios_waitq_wake_all(&q->wait);
}

int virtio_queue_setup(struct virtio_dev *d, unsigned i, unsigned max)
{
    if (i >= VIRTIO_MAX_QUEUES || i >= d->nqueues) {
        minios_printk("%s: no queue %u (the device has %u)\n", d->name, i, d->nqueues);
        return -XEN_ENODEV;
    }
    struct virtio_queue *q = &d->q[i];
    w16(d, C_QSELECT, (uint16_t)i);
    unsigned size = r16(d, C_QSIZE);
    if (size == 0) {
        minios_printk("%s: queue %u not available\n", d->name, i);
        return -XEN_ENODEV;
    }
    if (max > VIRTQ_MAX_SIZE)
        max = VIRTQ_MAX_SIZE;
    if (size > max)
        size = max;
    while (size & (size - 1))            /* a power of 2 (2.6) */
        size &= size - 1;
    q->pages = minios_alloc_pages(3);
    if (!q->pages)
        return -XEN_ENOMEM;
    memset(q->pages, 0, 3 * 4096);
    char *p = q->pages;
    virtq_init(&q->vq, size, p, p + 4096, p + 8192);
    q->dev = d;
    q->index = (uint16_t)i;
    minios_waitq_init(&q->wait);
    w16(d, C_QSIZE, (uint16_t)size);
    w64(d, C_QDESC, virtio_dma(p));
    w64(d, C_QDRIVER, virtio_dma(p + 4096));
    w64(d, C_QDEVICE, virtio_dma(p + 8192));
    uint64_t noff = (uint64_t)r16(d, C_QNOFF) * d->notify_mult;
    if (noff + 2 > d->notify_len) {
        minios_printk("%s: queue %u's notification address is outside the region\n", d->name, i);
        return -XEN_EIO;
    }
    q->notify = (volatile uint16_t *)(d->notify_base + noff);
    int rc = minios_pci_msix_bind(d->bdf, i, queue_event, q, &q->port);
    if (rc) {
        minios_printk("%s: MSI-X entry %u for queue %u: %d\n", d->name, i, i, rc);
        return rc;
    }
    w16(d, C_QMSIX, (uint16_t)i);
    if (r16(d, C_QMSIX) != i) {
        minios_printk("%s: queue %u: the device refused MSI-X vector %u\n", d->name, i, i);
        return -XEN_EIO;
    }
    w16(d, C_QENABLE, 1);
    return 0;
}

void virtio_ready(struct virtio_dev *d)
{
    w8(d, C_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

void virtio_kick(struct virtio_queue *q)
{
    if (virtq_kick_needed(&q->vq))
        *q->notify = q->index;
}

void virtio_cfg_read(struct virtio_dev *d, unsigned off, void *buf, unsigned len)
{
    uint8_t *b = buf;
    memset(b, 0, len);
    if (!d->devcfg || off > d->devcfg_len || len > d->devcfg_len - off)
        return;
    /* Fields are read at their width (4.1.3.1): 16-bit ones as such,
     * 32- and 64-bit ones as 32-bit words, bytes otherwise. */
    for (int tries = 0; tries < 100; tries++) {
        uint8_t gen = r8(d, C_CFGGEN);
        if (len == 2 && !(off & 1)) {
            uint16_t v = *(volatile uint16_t *)(d->devcfg + off);
            memcpy(b, &v, 2);
        } else if (len % 4 == 0 && !(off & 3)) {
            for (unsigned i = 0; i < len; i += 4) {
                uint32_t v = *(volatile uint32_t *)(d->devcfg + off + i);
                memcpy(b + i, &v, 4);
            }
        } else {
            for (unsigned i = 0; i < len; i++)
                b[i] = d->devcfg[off + i];
        }
        if (r8(d, C_CFGGEN) == gen)
            return;
    }
}
