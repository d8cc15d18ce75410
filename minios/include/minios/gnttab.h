/* gnttab.h: minios's grant tables (v1): granting our frames to other domains, mapping and copying theirs. */
#ifndef MINIOS_GNTTAB_H
#define MINIOS_GNTTAB_H

#include <stdint.h>
#include <minios/hypercall.h>
#include <xen/grant_table.h>

/* cmd: GNTTABOP_*; arg: an array of count structures that cmd names. */
static inline long HYPERVISOR_grant_table_op(unsigned int cmd, void *arg, unsigned int count)
{
    return _hypercall3(__HYPERVISOR_grant_table_op, cmd, arg, count);
}

/* Frames of the grant table minios sets up (MINIOS_GNTTAB_FRAMES * 512
 * references; 0..7 are reserved, as in Xen's toolstack convention). */
#define MINIOS_GNTTAB_FRAMES   4
#define MINIOS_GNTTAB_NR_REFS  (MINIOS_GNTTAB_FRAMES * 4096 / sizeof(grant_entry_v1_t))
#define MINIOS_GNTTAB_INVALID_REF ((grant_ref_t)0)

/*
 * GNTTABOP_setup_table for MINIOS_GNTTAB_FRAMES frames, each mapped
 * (update_va_mapping) over a page of minios's .bss.  0, or a negative Xen
 * errno (-XEN_EINVAL if the hypervisor refused the size).  Called again,
 * it does nothing.
 */
int minios_gnttab_init(void);

/* The shared entries (NULL before minios_gnttab_init) and their number. */
grant_entry_v1_t *minios_gnttab_entries(void);

/*
 * Grants domain d access to frame mfn (read-only if readonly); returns the
 * reference, or MINIOS_GNTTAB_INVALID_REF if none is free or there is no
 * table.  On a fresh table references are handed out lowest first from 8.
 */
grant_ref_t minios_gnttab_grant_access(domid_t d, unsigned long mfn, int readonly);

/* Ends a grant: 0, -XEN_EBUSY while the other side has it mapped (or is
 * copying: GTF_reading/GTF_writing set), -XEN_EINVAL for a reference we
 * did not hand out. */
int minios_gnttab_end_access(grant_ref_t ref);

/* Maps domain d's grant ref at a free page of the map areas (empty
 * virtual pages far above minios's memory, up to 65,536 at once); the
 * address, or NULL (minios_gnttab_last_status() says why: the
 * hypervisor's GNTST_*, or GNTST_no_device_space when no page was free).
 * *h gets the handle. */
void *minios_gnttab_map(domid_t d, grant_ref_t ref, int readonly, grant_handle_t *h);
/* Maps n (1..MINIOS_GNTTAB_MAP_N_MAX) of domain d's grants at n
 * consecutive pages (a multi-page ring), all or none; h[i] gets each
 * page's handle.  The address, or NULL (minios_gnttab_last_status(): the
 * first page's failure, GNTST_no_device_space, or GNTST_general_error
 * for a bad n).  Each page is unmapped with minios_gnttab_unmap. */
#define MINIOS_GNTTAB_MAP_N_MAX 16
void *minios_gnttab_map_n(domid_t d, const grant_ref_t *refs, unsigned n, int readonly,
                          grant_handle_t *h);
/* The machine frame of the page the last successful minios_gnttab_map
 * mapped (the hypervisor's dev_bus_addr >> 12). */
unsigned long minios_gnttab_last_frame(void);
/* Undoes minios_gnttab_map: 0, or -XEN_EINVAL (bad address or handle). */
int minios_gnttab_unmap(void *va, grant_handle_t h);
/* The GNTST_* status of the last map or unmap (GNTST_okay if it was
 * refused before reaching the hypervisor). */
int minios_gnttab_last_status(void);

/* GNTTABOP_copy of count operations: the hypercall's result (0 or a
 * negative errno); each op's status says how it went (GNTST_*). */
int minios_gnttab_copy(struct gnttab_copy *ops, unsigned int count);

/* The machine frame behind a virtual address of minios's own image. */
unsigned long minios_gnttab_virt_to_mfn(const void *va);

#endif /* MINIOS_GNTTAB_H */
