/* virtq.c: split virtqueue rings, the driver's side (virtio 1.x, 2.6): placing buffer chains in the descriptor table and available ring, taking them back from the used ring, with every index the device writes checked. */
#include <stddef.h>
#include "virtq.h"

int virtq_init(struct virtq *q, unsigned size, void *desc, void *avail, void *used)
{
    if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
        return -1;
    q->size = (uint16_t)size;
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    q->num_free = (uint16_t)size;
    q->free_head = 0;
    q->avail_idx = 0;
    q->last_used = 0;
    q->in_flight = 0;
    for (unsigned i = 0; i < size; i++) {
        q->next[i] = (uint16_t)((i + 1) % size);
        q->chain[i] = 0;
        q->cookie[i] = NULL;
    }
    return 0;
}

int virtq_add(struct virtq *q, const struct virtq_buf *b, unsigned n, void *cookie)
{
    if (n == 0 || !cookie)
        return -1;
    bool writes = false;
    for (unsigned i = 0; i < n; i++) {
        if (b[i].len == 0 || (writes && !b[i].device_writes))
            return -1;
        writes = b[i].device_writes;
    }
    if (n > q->num_free)
        return -2;
    uint16_t head = q->free_head, d = head;
    for (unsigned i = 0; i < n; i++) {
        q->desc[d].addr = b[i].addr;
        q->desc[d].len = b[i].len;
        q->desc[d].flags = (uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
                                      (b[i].device_writes ? VIRTQ_DESC_F_WRITE : 0));
        q->desc[d].next = i + 1 < n ? q->next[d] : 0;
        if (i + 1 < n)
            d = q->next[d];
    }
    q->free_head = q->next[d];
    q->num_free = (uint16_t)(q->num_free - n);
    q->chain[head] = (uint16_t)n;
    q->cookie[head] = cookie;
    q->in_flight++;
    q->avail->ring[q->avail_idx & (q->size - 1)] = head;
    /* The descriptors and the ring entry before the index (2.7.13). */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    q->avail_idx++;
    q->avail->idx = q->avail_idx;
    /* The index before reading the device's flags (2.7.13.4). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return 0;
}

bool virtq_kick_needed(const struct virtq *q)
{
    return !(q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
}

void virtq_interrupts(struct virtq *q, bool on)
{
    q->avail->flags = on ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT;
    if (on)
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_has_used(const struct virtq *q)
{
    return q->used->idx != q->last_used;
}

int virtq_get(struct virtq *q, void **cookie, uint32_t *len)
{
    uint16_t idx = q->used->idx;
    if (idx == q->last_used)
        return 0;
    /* The device may not have used more than is in flight. */
    if ((uint16_t)(idx - q->last_used) > virtq_in_flight(q))
        return -1;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);      /* the index before the entry */
    struct virtq_used_elem e;
    e.id = q->used->ring[q->last_used & (q->size - 1)].id;
    e.len = q->used->ring[q->last_used & (q->size - 1)].len;
    if (e.id >= q->size || q->chain[e.id] == 0)
        return -1;
    uint16_t head = (uint16_t)e.id, n = q->chain[head], d = head;
    /* Back onto the free list, following our own links. */
    for (uint16_t i = 1; i < n; i++)
        d = q->next[d];
    q->next[d] = q->free_head;
    q->free_head = head;
    q->num_free = (uint16_t)(q->num_free + n);
    q->chain[head] = 0;
    q->in_flight--;
    *cookie = q->cookie[head];
    q->cookie[head] = NULL;
    *len = e.len;
    q->last_used++;
    return 1;
}

unsigned virtq_in_flight(const struct virtq *q)
{
    return q->in_flight;
}
