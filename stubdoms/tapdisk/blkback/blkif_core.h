/* blkif_core.h: the blkif backend's ring handling and request checks, apart from grants and event channels (so the host can test them). */
#ifndef KEEL_BLKIF_CORE_H
#define KEEL_BLKIF_CORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Xen's ring macros need the memory barriers (x86_64: a compiler barrier
 * orders stores against stores and loads against loads; mb() fences). */
#ifndef mb
#define mb()  __asm__ volatile("mfence" ::: "memory")
#define rmb() __asm__ volatile("" ::: "memory")
#define wmb() __asm__ volatile("" ::: "memory")
#endif
#ifndef xen_mb
#define xen_mb()  mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()
#endif
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/blkif.h>

/*
 * The disk a frontend sees: its size in 512-byte sectors (blkif counts
 * 512-byte sectors whatever "sector-size" says), whether it is
 * read-only, and the features the backend advertised (a request for an
 * unadvertised one is answered BLKIF_RSP_EOPNOTSUPP, as Linux's blkback
 * does).  Only the 64-bit ring layout (x86_64's native one) is served.
 */
struct blkif_disk {
    uint64_t sectors;
    bool read_only;
    bool flush;         /* feature-flush-cache */
    bool discard;       /* feature-discard */
    unsigned max_indirect;  /* feature-max-indirect-segments (0: not offered;
                             * at most BLKIF_MAX_SEGS) */
};

/* The most segments one request can carry: an indirect request's
 * (feature-max-indirect-segments, as Linux's xen-blkfront's default). */
#define BLKIF_MAX_SEGS 32u
/* Segment descriptors in one indirect page. */
#define BLKIF_SEGS_PER_INDIRECT_PAGE (4096u / sizeof(struct blkif_request_segment))

#define BLKIF_PAGE_SECTORS 8u       /* 4096 / 512 */

/* One segment: bytes [off, off+len) of the page granted by gref. */
struct blkif_seg {
    grant_ref_t gref;
    uint16_t off, len;
};

/* A checked request: op, the frontend's id, the disk range in bytes
 * (sector * 512, total of the segments; discard: its range) and the
 * segments, in disk order.  An indirect request's op is its
 * indirect_op (what the response names, as Xen's blkback answers);
 * until blkif_check_indirect has read its segment descriptors from the
 * nind pages granted as ind[], nind is not 0 and seg[] is empty. */
struct blkif_req {
    uint64_t id;
    uint8_t op;
    unsigned nseg;
    uint64_t off, bytes;
    uint64_t sector;
    unsigned nind;
    grant_ref_t ind[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    struct blkif_seg seg[BLKIF_MAX_SEGS];
};

/*
 * Checks a request (a private copy: the frontend can change the ring
 * under us) against the disk.  BLKIF_RSP_OKAY and *out, or
 * BLKIF_RSP_ERROR / BLKIF_RSP_EOPNOTSUPP with the reason in why (out->id
 * and out->op are set in every case, for the response).  Refused: an
 * unknown or unadvertised operation (barrier, indirect, discard or
 * flush without the feature), reads and writes with no segment or more
 * than BLKIF_MAX_SEGMENTS_PER_REQUEST, a segment whose sectors are not
 * 0 <= first <= last < 8, a range past the disk's end (or overflowing),
 * writes, flushes and discards on a read-only disk.  An indirect
 * request (when offered) is checked here as far as its header goes:
 * indirect_op READ or WRITE, 1..max_indirect segments; its segments are
 * checked by blkif_check_indirect once read from its pages.
 */
int blkif_check(const struct blkif_disk *d, const blkif_request_t *r,
                struct blkif_req *out, char *why, size_t whylen);

/*
 * The second half of an indirect request's check: segs are its nseg
 * descriptors (a private copy of the frontend's indirect pages); each
 * must be 0 <= first <= last < 8 and the whole range inside the disk.
 * BLKIF_RSP_OKAY with q's segments and range filled, or BLKIF_RSP_ERROR.
 */
int blkif_check_indirect(const struct blkif_disk *d, struct blkif_req *q,
                         const struct blkif_request_segment *segs, char *why, size_t whylen);

/* Multi-page rings: the backend offers max-ring-page-order
 * BLKIF_MAX_RING_ORDER (Xen's XENBUS_MAX_RING_GRANT_ORDER). */
#define BLKIF_MAX_RING_ORDER 4u
#define BLKIF_MAX_RING_PAGES (1u << BLKIF_MAX_RING_ORDER)

/*
 * The frontend's ring-page-order (its text, NULL if the node is absent:
 * a one-page ring) against the max-ring-page-order offered: the number
 * of pages (then ring-ref0..N-1 name them), or -EINVAL with the reason
 * (not a number, above the offered order).
 */
int blkif_ring_pages(const char *order, unsigned max_order, char *why, size_t whylen);

/*
 * The next request from the ring into *out: 1, 0 if there is none (or
 * the frontend already has a full ring of requests outstanding), or
 * -EPROTO if the frontend's producer index is impossible (more requests
 * than the ring holds): the caller cuts that frontend off.
 */
int blkif_ring_next(blkif_back_ring_t *ring, blkif_request_t *out);

/* Queues a response; 1 if the frontend must be notified. */
int blkif_ring_respond(blkif_back_ring_t *ring, uint64_t id, uint8_t op, int16_t status);

/* After the ring looked empty: re-arms the frontend's notification and
 * says (1) whether requests arrived meanwhile. */
int blkif_ring_final_check(blkif_back_ring_t *ring);

#endif /* KEEL_BLKIF_CORE_H */
