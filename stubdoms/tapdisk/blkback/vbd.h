/* vbd.h: a guest disk's xenbus side in the tapdisk domain: the backend nodes a toolstack wrote, the image they name on the store, the handshake with the frontend as Xen's blkback runs it. */
#ifndef KEEL_VBD_H
#define KEEL_VBD_H
#include <stdbool.h>
#include <keel/store.h>

#define VBD_ERRLEN 200

struct vbd;

/* Whether feature-persistent is offered (tapdisk's persistent=0 turns it
 * off, for comparison); read when a disk connects. */
extern bool vbd_offer_persistent;
/* What the backend offers: max-ring-page-order (0: the node is not
 * written, one-page rings only) and feature-max-indirect-segments (0:
 * not written, no indirect requests); BLKIF_MAX_RING_ORDER and
 * BLKIF_MAX_SEGS unless tapdisk's command line says less. */
extern unsigned vbd_max_ring_order, vbd_max_indirect;

/*
 * bepath is the backend directory a toolstack made
 * (/local/domain/<us>/backend/vbd/<frontend-id>/<device>) with frontend,
 * frontend-id, params (the image's absolute path on the store) and mode
 * ("w" or "r").  Writes the features (feature-flush-cache 1,
 * feature-discard 1 on writable disks; feature-persistent 1 unless
 * vbd_offer_persistent is false; feature-max-indirect-segments
 * BLKIF_MAX_SEGS; no barrier: its node is absent), switches to InitWait,
 * waits (as long as the frontend exists and has not closed) for the
 * frontend's Initialised with ring-ref, event-channel, protocol (absent
 * or "x86_64-abi") and feature-persistent (persistent grants are used
 * when both sides say 1); only then opens the image (format probed,
 * backing files relative to its directory; a device model's disk and its
 * guest's name one image, connected one after the other) and writes
 * sectors, info, sector-size, discard-granularity and discard-alignment;
 * connects blkback and switches to Connected.  0, or a negative errno with the reason in
 * err and the backend's state Closed.
 */
int vbd_connect(const char *bepath, struct store *st, struct vbd **out, char *err);
/* The frontend's state node (XenbusState*), or -1 if unreadable. */
int vbd_frontend_state(struct vbd *v);
/* Waits, woken by a watch on the frontend's state node, until the
 * frontend closes (Closing or beyond) or its node goes (-1); returns
 * that state. */
int vbd_wait_frontend_closing(struct vbd *v);
/* Disconnects blkback, closes the image, switches to Closed, frees v. */
void vbd_close(struct vbd *v);

#endif /* KEEL_VBD_H */
