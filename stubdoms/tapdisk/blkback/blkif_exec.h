/* blkif_exec.h: carrying out a checked blkif request on an image: the guest's pages copied through grants, the image read, written, flushed or discarded. */
#ifndef KEEL_BLKIF_EXEC_H
#define KEEL_BLKIF_EXEC_H
#include <keel/image.h>

#include "blkif_core.h"

/*
 * Copies len bytes between buf and bytes [off, off+len) of the page the
 * frontend granted as gref (to_guest: into the guest's page).  0, or a
 * negative errno if the grant is bad (not granted, to someone else, or
 * read-only for a read request).  The stub domain's is a grant copy
 * (GNTTABOP_copy); tests give a fake one.
 */
typedef int (*blkif_copy_fn)(void *ctx, grant_ref_t gref, uint16_t off, void *buf,
                             uint16_t len, bool to_guest);

/* Bytes of bounce buffer blkif_exec needs: one request's data. */
#define BLKIF_EXEC_BOUNCE (BLKIF_MAX_SEGS * 4096u)

/*
 * An indirect request (q from blkif_check with nind pages): copies its
 * segment descriptors out of the frontend's indirect pages (a private
 * copy) and checks them (blkif_check_indirect).  BLKIF_RSP_OKAY with q
 * complete, or BLKIF_RSP_ERROR: an indirect page's grant that cannot be
 * read, a bad segment, a range past the disk.  A request with nind 0 is
 * returned OKAY unchanged.
 */
int blkif_fetch_indirect(const struct blkif_disk *d, struct blkif_req *q, blkif_copy_fn copy,
                         void *ctx, char *why, size_t whylen);

/*
 * Carries out q (from blkif_check, BLKIF_RSP_OKAY) on img, with bounce a
 * buffer of BLKIF_EXEC_BOUNCE bytes.  Writes copy every segment in
 * before writing anything, so a bad grant leaves the disk untouched.
 * A flush with segments writes them, then flushes.  An indirect request
 * must have been through blkif_fetch_indirect (else BLKIF_RSP_ERROR).  BLKIF_RSP_OKAY, or
 * BLKIF_RSP_ERROR with the reason in why (a bad grant, an image error).
 */
int blkif_exec(struct img *img, const struct blkif_req *q, blkif_copy_fn copy, void *ctx,
               uint8_t *bounce, char *why, size_t whylen);

#endif /* KEEL_BLKIF_EXEC_H */
