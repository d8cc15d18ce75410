/* virtq.h: split virtqueues (virtio 1.x, 2.6): the driver's side of the descriptor table, available ring and used ring; no minios dependencies, so that the host unit test builds it too. */
#ifndef MINIOS_VIRTQ_H
#define MINIOS_VIRTQ_H
#include <stdbool.h>
#include <stdint.h>

/* The layouts of the virtio specification (little-endian = x86's). */
struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
#define VIRTQ_DESC_F_NEXT  1
#define VIRTQ_DESC_F_WRITE 2

struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[];
};
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[];
};
#define VIRTQ_USED_F_NO_NOTIFY 1

#define VIRTQ_MAX_SIZE 256       /* the descriptor table fits one page */

/* One buffer of a chain: its DMA address, length and direction. */
struct virtq_buf {
    uint64_t addr;
    uint32_t len;
    bool device_writes;
};

struct virtq {
    uint16_t size;                     /* a power of 2, <= VIRTQ_MAX_SIZE */
    uint16_t num_free;
    uint16_t free_head;
    uint16_t avail_idx;                /* our copy: the device never writes it */
    uint16_t last_used;                /* next used entry to look at */
    uint16_t in_flight;                /* chains given and not yet used */
    volatile struct virtq_desc *desc;
    volatile struct virtq_avail *avail;
    volatile struct virtq_used *used;
    /* The driver's own state, never read back from shared memory: */
    uint16_t next[VIRTQ_MAX_SIZE];     /* free list, and the links of chains */
    uint16_t chain[VIRTQ_MAX_SIZE];    /* a head's chain length, 0 if not in flight */
    void *cookie[VIRTQ_MAX_SIZE];      /* a head's cookie */
};

/* desc: 16 * size bytes, avail: 6 + 2 * size, used: 6 + 8 * size, zeroed
 * by the caller. 0, or -1 if size is not a power of 2 in 1..256. */
int virtq_init(struct virtq *q, unsigned size, void *desc, void *avail, void *used);
/* Places a chain of n buffers (device-readable ones first, as the
 * specification requires of drivers) and makes it available; cookie
 * (not NULL) comes back from virtq_get.  0; -1 if n is 0, a buffer is
 * empty or a readable one follows a writable one; -2 if fewer than n
 * descriptors are free. */
int virtq_add(struct virtq *q, const struct virtq_buf *b, unsigned n, void *cookie);
/* Whether the device asked to be notified (after virtq_add). */
bool virtq_kick_needed(const struct virtq *q);
/* Asks the device for interrupts when it uses a chain (on), or not (2.7.7:
 * a hint it may ignore).  Turning them on is followed by a full fence, so
 * that a caller that checks virtq_has_used next and then sleeps cannot
 * miss a chain used in between. */
void virtq_interrupts(struct virtq *q, bool on);
/* 1 if the device has used a chain we have not taken yet. */
bool virtq_has_used(const struct virtq *q);
/* Takes the next used chain: 1 with *cookie and *len (bytes the device
 * says it wrote), 0 if there is none, -1 if the device reported a chain
 * that is not in flight or an index that ran ahead of what it was given
 * (the queue is then broken: reset the device). */
int virtq_get(struct virtq *q, void **cookie, uint32_t *len);
/* Chains in flight. */
unsigned virtq_in_flight(const struct virtq *q);
#endif /* MINIOS_VIRTQ_H */
