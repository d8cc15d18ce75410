/* Host unit test of the split virtqueue ring (minios/drivers/virtq.c),
 * with ASan/UBSan: a simulated device takes chains from the available
 * ring in order or out of order and returns them through the used ring;
 * chains of every length fill the table exactly; what a hostile device
 * writes (an id not in flight, an id out of range, a used index that ran
 * ahead) is refused without touching the driver's state; the free list
 * survives a million random operations; the driver's interrupt
 * suppression flag. */
#include <stdint.h>
#include <string.h>
#include "unit.h"
#include "virtq.h"

#define SIZE 16
static _Alignas(16) uint8_t desc_mem[16 * SIZE];
static _Alignas(2) uint8_t avail_mem[6 + 2 * SIZE];
static _Alignas(4) uint8_t used_mem[6 + 8 * SIZE];
static struct virtq q;

/* The device's side. */
static uint16_t dev_avail, dev_used;

static void reset(unsigned size)
{
    memset(desc_mem, 0, sizeof(desc_mem));
    memset(avail_mem, 0, sizeof(avail_mem));
    memset(used_mem, 0, sizeof(used_mem));
    EXPECT(virtq_init(&q, size, desc_mem, avail_mem, used_mem) == 0);
    dev_avail = dev_used = 0;
}

/* Takes the next available chain: its head, length and total bytes. */
static int dev_take(uint16_t *head, unsigned *n, uint32_t *bytes)
{
    struct virtq_avail *a = (struct virtq_avail *)avail_mem;
    struct virtq_desc *d = (struct virtq_desc *)desc_mem;
    if (a->idx == dev_avail)
        return 0;
    *head = a->ring[dev_avail++ % q.size];
    uint16_t i = *head;
    *n = 1;
    *bytes = d[i].len;
    while (d[i].flags & VIRTQ_DESC_F_NEXT) {
        i = d[i].next;
        EXPECT(i < q.size);
        ++*n;
        *bytes += d[i].len;
        EXPECT(*n <= q.size);
        if (*n > q.size)
            break;
    }
    return 1;
}

static void dev_put(uint32_t id, uint32_t len)
{
    struct virtq_used *u = (struct virtq_used *)used_mem;
    u->ring[dev_used % q.size].id = id;
    u->ring[dev_used % q.size].len = len;
    dev_used++;
    u->idx = dev_used;
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

int main(void)
{
    struct virtq_buf b[SIZE + 1];
    for (unsigned i = 0; i <= SIZE; i++)
        b[i] = (struct virtq_buf){ 0x1000 * (i + 1), 100 + i, i > 0 };
    void *cookie;
    uint32_t len;

    /* Sizes must be powers of 2 up to 256. */
    EXPECT(virtq_init(&q, 0, desc_mem, avail_mem, used_mem) == -1);
    EXPECT(virtq_init(&q, 12, desc_mem, avail_mem, used_mem) == -1);
    EXPECT(virtq_init(&q, 512, desc_mem, avail_mem, used_mem) == -1);

    /* Bad chains are refused. */
    reset(SIZE);
    EXPECT(virtq_add(&q, b, 0, &q) == -1);
    EXPECT(virtq_add(&q, b, 1, NULL) == -1);
    struct virtq_buf wr[2] = { { 0x1000, 10, true }, { 0x2000, 10, false } };
    EXPECT(virtq_add(&q, wr, 2, &q) == -1);                /* readable after writable */
    struct virtq_buf empty = { 0x1000, 0, false };
    EXPECT(virtq_add(&q, &empty, 1, &q) == -1);
    EXPECT(virtq_add(&q, b, SIZE + 1, &q) == -2);          /* more than the table */
    EXPECT(q.num_free == SIZE && !virtq_has_used(&q));

    /* One chain of the whole table, then the device's answer. */
    EXPECT(virtq_add(&q, b, SIZE, (void *)1) == 0);
    EXPECT(virtq_add(&q, b, 1, (void *)2) == -2);
    uint16_t head;
    unsigned n;
    uint32_t bytes;
    EXPECT(dev_take(&head, &n, &bytes) == 1 && n == SIZE);
    struct virtq_desc *d = (struct virtq_desc *)desc_mem;
    EXPECT(!(d[head].flags & VIRTQ_DESC_F_WRITE) && d[head].addr == 0x1000);
    EXPECT(virtq_get(&q, &cookie, &len) == 0);
    dev_put(head, 77);
    EXPECT(virtq_kick_needed(&q));
    EXPECT(virtq_has_used(&q));
    EXPECT(virtq_get(&q, &cookie, &len) == 1 && cookie == (void *)1 && len == 77);
    EXPECT(q.num_free == SIZE && virtq_in_flight(&q) == 0);

    /* Hostile device: an id not in flight, an id past the table, an
     * index that ran ahead: refused, the driver's state unchanged. */
    EXPECT(virtq_add(&q, b, 3, (void *)3) == 0);
    EXPECT(dev_take(&head, &n, &bytes) == 1 && n == 3);
    dev_put((head + 5) % SIZE, 1);
    EXPECT(virtq_get(&q, &cookie, &len) == -1);
    EXPECT(q.num_free == SIZE - 3 && virtq_in_flight(&q) == 1);
    reset(SIZE);
    EXPECT(virtq_add(&q, b, 1, (void *)4) == 0);
    dev_put(SIZE + 3, 1);
    EXPECT(virtq_get(&q, &cookie, &len) == -1);
    reset(SIZE);
    EXPECT(virtq_add(&q, b, 1, (void *)5) == 0);
    ((struct virtq_used *)used_mem)->idx = 2;              /* two used, one given */
    EXPECT(virtq_get(&q, &cookie, &len) == -1);
    EXPECT(q.num_free == SIZE - 1);

    /* Notification suppression is the device's flag. */
    reset(SIZE);
    ((struct virtq_used *)used_mem)->flags = VIRTQ_USED_F_NO_NOTIFY;
    EXPECT(!virtq_kick_needed(&q));

    /* Interrupt suppression is the driver's flag, in the available ring
     * the device reads; it leaves the ring's state alone. */
    reset(SIZE);
    struct virtq_avail *av = (struct virtq_avail *)avail_mem;
    EXPECT(av->flags == 0);
    virtq_interrupts(&q, false);
    EXPECT(av->flags == VIRTQ_AVAIL_F_NO_INTERRUPT);
    EXPECT(virtq_add(&q, b, 1, (void *)6) == 0);
    EXPECT(av->flags == VIRTQ_AVAIL_F_NO_INTERRUPT && av->idx == 1);
    virtq_interrupts(&q, true);
    EXPECT(av->flags == 0 && av->idx == 1 && virtq_in_flight(&q) == 1);

    /* A million random operations, answered out of order: every cookie
     * comes back once with its length, no descriptor is lost. */
    reset(SIZE);
    uint16_t pend[SIZE];
    unsigned npend = 0, added = 0, got = 0;
    uint32_t want_len[SIZE];
    for (int step = 0; step < 1000000; step++) {
        unsigned op = rnd() % 3;
        if (op == 0) {
            unsigned k = 1 + rnd() % 4;
            int r = virtq_add(&q, b, k, (void *)(uintptr_t)(added + 1));
            EXPECT(r == 0 || (r == -2 && q.num_free < k));
            if (r == 0)
                added++;
        } else if (op == 1) {
            if (npend < SIZE && dev_take(&head, &n, &bytes) == 1) {
                pend[npend] = head;
                want_len[npend++] = bytes;
            }
        } else if (npend) {
            unsigned i = rnd() % npend;
            dev_put(pend[i], want_len[i]);
            pend[i] = pend[--npend];
            want_len[i] = want_len[npend];
            EXPECT(virtq_get(&q, &cookie, &len) == 1);
            EXPECT(cookie != NULL);
            got++;
        }
        EXPECT(q.num_free + 0u <= SIZE);
        if (unit_failures)
            break;
    }
    EXPECT(added >= got && got > 100000);
    printf("test_virtq: %u chains added, %u returned out of order\n", added, got);
    UNIT_DONE();
}
