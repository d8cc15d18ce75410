/* blkback.h: serving one frontend's blkif ring from an image in the tapdisk domain: ring mapping, event channel, a service thread. */
#ifndef KEEL_BLKBACK_H
#define KEEL_BLKBACK_H
#include <stdbool.h>
#include <stdint.h>
#include <keel/image.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>

#define BLKBACK_WHY_LEN 160

struct blkback;

/* What blkback_connect needs from the frontend (in Xen read from its
 * xenstore nodes ring-ref and event-channel) and the disk it serves. */
struct blkback_conf {
    domid_t frontend;
    grant_ref_t ring_ref;           /* one page: a blkif_sring_t, 64-bit layout */
    unsigned ring_pages;            /* 0 or 1: ring_ref; 2..BLKIF_MAX_RING_PAGES
                                     * (a power of 2): ring_refs[], one ring */
    grant_ref_t ring_refs[16];
    evtchn_port_t port;             /* the frontend's unbound port */
    struct img *img;                /* not owned: the caller closes it */
    bool read_only;
    bool flush, discard;            /* the features advertised */
    unsigned max_indirect;          /* feature-max-indirect-segments offered
                                     * (0: none; at most BLKIF_MAX_SEGS) */
    bool persistent;                /* feature-persistent, offered and taken: the
                                     * frontend's pages stay mapped (up to
                                     * BLKIF_PGRANTS_MAX) until disconnect */
};

/*
 * Maps the ring, binds the event channel and starts a thread serving
 * requests: each is copied off the ring, checked (blkif_check), carried
 * out (blkif_exec, grant copies) and answered.  A frontend whose ring
 * indices are impossible is cut off: its ring is unmapped, its channel
 * closed, and nothing of it is served again; the reason is kept.
 * Requests of all frontends are carried out one at a time (the image
 * library and the store are not reentrant); the caller takes
 * blkback_lock to use the images or the store itself meanwhile.
 * 0, or a negative Xen errno with the reason in err.
 */
int blkback_connect(const struct blkback_conf *c, struct blkback **out, char *err);
/* Whether the frontend was cut off (and why, into why if not NULL). */
bool blkback_cut_off(struct blkback *b, char *why);
/* Requests answered OKAY / with an error (ERROR or EOPNOTSUPP). */
void blkback_counts(struct blkback *b, uint64_t *ok, uint64_t *failed);
/* The lock that serialises requests: held by whoever else uses the
 * store or an image while frontends are connected (opening, closing). */
void blkback_lock(void);
void blkback_unlock(void);
/* Tests only: the domain aborts after carrying out its n-th write
 * request (of any frontend) and before answering it (0: never). */
void blkback_selftest_crash_after_writes(unsigned long n);
/* Stops the thread, unmaps the ring, closes the channel, frees b. */
void blkback_disconnect(struct blkback *b);

#endif /* KEEL_BLKBACK_H */
