/* virtio.h: the modern virtio-pci transport (virtio 1.x, 4.1) for minios's drivers: finding the capabilities, feature negotiation, split virtqueues with one MSI-X vector each, reset. */
#ifndef MINIOS_DRIVERS_VIRTIO_H
#define MINIOS_DRIVERS_VIRTIO_H
#include <stdbool.h>
#include <stdint.h>
#include <minios/events.h>
#include <minios/thread.h>
#include "virtq.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2

#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33   /* DMA through the platform's IOMMU */

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_MAX_QUEUES 4

struct virtio_queue {
    struct virtq vq;
    struct virtio_dev *dev;
    uint16_t index;
    volatile uint16_t *notify;
    evtchn_port_t port;
    void *pages;                  /* desc, avail, used: three pages */
    struct minios_waitq wait;     /* woken by the queue's interrupt */
    uint64_t interrupts;
};

struct virtio_dev {
    uint16_t bdf;
    uint16_t type;                 /* VIRTIO_ID_* */
    char name[24];                 /* "virtio-net 00:03.0", for messages */
    volatile uint8_t *common;
    volatile uint8_t *notify_base;
    uint32_t notify_mult;
    uint32_t notify_len;
    volatile uint8_t *isr;
    volatile uint8_t *devcfg;
    uint32_t devcfg_len;
    uint64_t features;             /* negotiated */
    unsigned nqueues;
    bool broken;                   /* reset after an error: no more requests */
    struct virtio_queue q[VIRTIO_MAX_QUEUES];
};

/*
 * Finds and maps the transport of the device at bdf (owned, a virtio
 * device of the given type, modern), resets it and negotiates:
 * VIRTIO_F_VERSION_1 is required, the others are the intersection with
 * 'want'.  0, or a negative errno with a message naming the device:
 * -XEN_ENODEV (not owned, not virtio or not that type, legacy only),
 * -XEN_EOPNOTSUPP (no VERSION_1, FEATURES_OK refused).
 */
int virtio_open(struct virtio_dev *d, uint16_t bdf, uint16_t type, uint64_t want);
/* Sets queue i up with at most max entries and its MSI-X vector (entry
 * i), bound to an event channel that wakes q->wait. */
int virtio_queue_setup(struct virtio_dev *d, unsigned i, unsigned max);
/* DRIVER_OK: the device is live. */
void virtio_ready(struct virtio_dev *d);
/* Tells the device that queue q has new buffers, if it wants to know. */
void virtio_kick(struct virtio_queue *q);
/* Device configuration, bytes at off (bounded by its length; out of
 * range reads 0), consistent across the generation counter. */
void virtio_cfg_read(struct virtio_dev *d, unsigned off, void *buf, unsigned len);
/* Resets the device (status 0) after an error and marks it broken. */
void virtio_fail(struct virtio_dev *d, const char *why);
/* The DMA address of a byte of minios memory that does not cross a page. */
uint64_t virtio_dma(const void *va);
#endif /* MINIOS_DRIVERS_VIRTIO_H */
