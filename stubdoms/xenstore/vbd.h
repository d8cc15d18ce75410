/* vbd.h: guest disks at boot: the backend and frontend nodes of a boot domain's disk= words, written as libxl writes them. */
#ifndef KEEL_XS_VBD_H
#define KEEL_XS_VBD_H
#include "xs_store.h"

/* The domain id named name=tapdisk in the boot-domain list text, or 0. */
unsigned xsv_find_backend(const char *list);

/*
 * For each "xvdX:PATH[:ro]" of a boot domain (as the hypervisor passed
 * and checked them), writes /local/domain/<backend>/backend/vbd/<id>/<dev>
 * (frontend, frontend-id, params, mode, online, state=1; owned by the
 * backend, readable by the guest) and /local/domain/<id>/device/vbd/<dev>
 * (backend, backend-id, virtual-device, device-type, state=1; owned by
 * the guest, readable by the backend), dev = 202 * 256 + 16 * index.  A
 * malformed word or no backend is logged and skipped.
 */
void xsv_boot_disks(struct xs_store *s, unsigned domid, unsigned backend,
                    char *const *disks, unsigned n);

/*
 * The backend domain came back after a restart (its whole home went with
 * its old life): the backend directories of domid's disks are written
 * again (state=1), and the backend gets read access back to the
 * frontend's device/vbd/<dev> and everything below it.  The frontend's
 * nodes are left as they are: its blkfront reconnects (docs/disk.md).
 */
void xsv_vbd_backend_back(struct xs_store *s, unsigned domid, unsigned backend,
                          char *const *disks, unsigned n);

#endif /* KEEL_XS_VBD_H */
