/* blkfront.h: a Xen blkif disk served by a backend domain: its ring set up over grants and an event channel, synchronous reads, writes and flushes from threads, many requests in flight. */
#ifndef MINIOS_BLKFRONT_H
#define MINIOS_BLKFRONT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>

/*
 * Sectors are 512 bytes (blkif's unit).  The frontend owns a ring of
 * 2^order pages (64-bit layout, 32 << order requests) and one request
 * slot per ring entry, each with 11 data pages granted to the backend
 * once, when the slot is first used (the frontend's half of persistent
 * grants): callers' buffers need no alignment, data is copied through
 * the slots.  A read or write longer than a slot's 88 sectors is split
 * into requests of which up to 8 are in flight at once; several
 * threads' requests share the slots, so 32 threads reading at once keep
 * 32 requests in flight.  minios_blkfront_create makes a one-page ring;
 * minios_blkfront_attach negotiates the order: the backend's
 * max-ring-page-order, at most MINIOS_BLKFRONT_MAX_RING_ORDER (4 pages,
 * 128 requests), as Linux's xen-blkfront does, and, if the backend
 * offers feature-max-indirect-segments, slots of that many pages (at
 * most MINIOS_BLKFRONT_MAX_INDIRECT_SEGS: 128 KiB) whose requests of
 * more than 11 segments go as BLKIF_OP_INDIRECT with a descriptor page.
 *
 * Connecting: minios_blkfront_create makes the ring and the unbound
 * event channel and returns what a frontend publishes (in Xen, the
 * xenstore nodes ring-ref and event-channel of device/vbd/N); once the
 * backend has connected, minios_blkfront_connected gives the disk's size
 * and features (its nodes sectors, mode, feature-flush-cache).
 *
 * Errors are negative Xen errnos: -XEN_EINVAL (past the end, empty, no
 * buffer), -XEN_EROFS (write to a read-only disk), -XEN_EOPNOTSUPP
 * (flush without feature-flush-cache, or the backend's EOPNOTSUPP),
 * -XEN_EIO (the backend's BLKIF_RSP_ERROR, or a response that matches no
 * request: the frontend then stops using the ring), -XEN_ETIMEDOUT (no
 * response in 30 s), -XEN_ENOTCONN (not connected).
 */
#define MINIOS_BLKFRONT_SECTOR 512
#define MINIOS_BLKFRONT_MAX_RING_ORDER 2
/* Data pages of one request with indirect descriptors, at most. */
#define MINIOS_BLKFRONT_MAX_INDIRECT_SEGS 32

struct minios_blkfront;

int minios_blkfront_create(domid_t backend, struct minios_blkfront **out,
                           grant_ref_t *ring_ref, evtchn_port_t *port);
int minios_blkfront_connected(struct minios_blkfront *f, uint64_t sectors, bool read_only,
                              bool flush);
/*
 * The xenbus handshake, as Linux's xen-blkfront does it: node is the
 * frontend's directory (e.g. "device/vbd/51712", relative to the
 * domain's home, or absolute) that a toolstack made with backend and
 * backend-id.  Waits for the backend's InitWait, reads its
 * max-ring-page-order, creates the ring, writes ring-ref (one page) or
 * ring-page-order and ring-ref0..N, event-channel and protocol,
 * switches to Initialised, waits (up to 30 s in all) for the
 * backend's Connected, reads sectors, info (read-only) and
 * feature-flush-cache, and switches to Connected.  0, or a negative
 * errno (<errno.h>) with the reason in err (MINIOS_BLKFRONT_ERRLEN).
 * minios_blkfront_detach switches to Closing and waits (up to 30 s) for
 * the backend's Closed; the frontend is unusable afterwards.
 */
#define MINIOS_BLKFRONT_ERRLEN 160
int minios_blkfront_attach(const char *node, struct minios_blkfront **out, char *err);
int minios_blkfront_detach(struct minios_blkfront *f);
uint64_t minios_blkfront_sectors(const struct minios_blkfront *f);
/* Whether the backend serves the disk read-only (info's VDISK_READONLY). */
bool minios_blkfront_read_only(const struct minios_blkfront *f);
int minios_blkfront_read(struct minios_blkfront *f, uint64_t sector, void *buf, size_t count);
int minios_blkfront_write(struct minios_blkfront *f, uint64_t sector, const void *buf,
                          size_t count);
int minios_blkfront_flush(struct minios_blkfront *f);
/*
 * Reconnection (attached frontends, docs/disk-restart.md): a thread
 * polls the backend's state; when the backend goes (its domain died and
 * its nodes went), closes or starts over, the frontend goes Initialising,
 * waits up to 10 s for the backend's InitWait, sets up a new ring and
 * event channel, and, once the backend is Connected again to the same
 * disk, issues again every request that had no response.  Callers just
 * wait longer.  If the backend does not come back in time, every
 * waiting and later request fails with -XEN_ENOTCONN (the frontend is
 * then Closed).  A write the old backend answered is not issued again:
 * as Xen's tapdisk, Keel's answers a write only once it survives the
 * backend's crash (docs/disk-restart.md), so a reconnection never fails
 * a flush.  The number of connections so far (1 after attach):
 */
unsigned minios_blkfront_connections(const struct minios_blkfront *f);
/* The longest time (monotonic ns) that requests were outstanding with no
 * response coming: the stall a backend restart causes. */
uint64_t minios_blkfront_longest_stall_ns(const struct minios_blkfront *f);
/* Requests answered so far, and the most that were in flight at once. */
void minios_blkfront_stats(const struct minios_blkfront *f, uint64_t *done, unsigned *max_inflight);
/* The ring's pages (1 << order) and request slots (its size). */
unsigned minios_blkfront_ring_pages(const struct minios_blkfront *f);
unsigned minios_blkfront_slots(const struct minios_blkfront *f);

#endif /* MINIOS_BLKFRONT_H */
