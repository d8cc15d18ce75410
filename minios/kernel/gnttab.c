/* gnttab.c: grant tables v1: the shared table mapped into minios's .bss, grant/end access, map/unmap, copy. */
#include <stddef.h>
#include <stdlib.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/mm.h>
#include <minios/startinfo.h>
#include <xen/memory.h>

#define PAGE_SIZE    4096ul
/* x86 page-table entry bits (architecture, not Xen ABI). */
#define PTE_PRESENT  0x001ul
#define PTE_RW       0x002ul
#define PTE_USER     0x004ul
#define PTE_ACCESSED 0x020ul
#define PTE_DIRTY    0x040ul
#define PTE_FLAGS    (PTE_PRESENT | PTE_RW | PTE_USER | PTE_ACCESSED | PTE_DIRTY)

#define FIRST_REF    8           /* 0..7: GNTTAB_NR_RESERVED_ENTRIES */

/* The table's frames are mapped over these pages (their own frames stay
 * ours, unused). Foreign grants are mapped into empty 2 MiB areas
 * (minios_area_alloc_chunk), taken as needed. */
static char table_area[MINIOS_GNTTAB_FRAMES * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
#define MAP_CHUNKS   128
#define CHUNK_PAGES  512
struct chunk {
    unsigned long va;
    uint64_t used[CHUNK_PAGES / 64];
};
#ifndef MINIOS_PVH
static struct chunk *chunks[MAP_CHUNKS];  /* allocated as they are taken */
static unsigned nr_chunks;
#endif

static grant_entry_v1_t *table;
static uint32_t ref_used[MINIOS_GNTTAB_NR_REFS / 32];
static int last_status;
static unsigned long last_frame;

unsigned long minios_gnttab_virt_to_mfn(const void *va)
{
    return minios_virt_to_mfn(va);
}

int minios_gnttab_init(void)
{
    xen_pfn_t frames[MINIOS_GNTTAB_FRAMES];
    struct gnttab_setup_table op = { .dom = DOMID_SELF, .nr_frames = MINIOS_GNTTAB_FRAMES };
    long rc;

    if (table)
        return 0;
    set_xen_guest_handle(op.frame_list, frames);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &op, 1);
    if (rc < 0)
        return (int)rc;
    if (op.status != GNTST_okay)
        return -XEN_EINVAL;
#ifdef MINIOS_PVH
    /* A PVH domain's table frames go to guest frames of its choice:
     * those of table_area (virtual = physical), whose RAM they hide. */
    for (unsigned i = 0; i < MINIOS_GNTTAB_FRAMES; i++) {
        struct xen_add_to_physmap xatp = {
            .domid = DOMID_SELF,
            .space = XENMAPSPACE_grant_table,
            .idx = i,
            .gpfn = (unsigned long)table_area / PAGE_SIZE + i,
        };
        rc = _hypercall2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &xatp);
        if (rc < 0)
            return (int)rc;
    }
    (void)frames;
#else
    for (unsigned i = 0; i < MINIOS_GNTTAB_FRAMES; i++) {
        unsigned long va = (unsigned long)table_area + i * PAGE_SIZE;
        rc = HYPERVISOR_update_va_mapping(va, ((uint64_t)frames[i] << 12) | PTE_FLAGS,
                                          UVMF_INVLPG);
        if (rc < 0)
            return (int)rc;
    }
#endif
    table = (grant_entry_v1_t *)table_area;
    return 0;
}

grant_entry_v1_t *minios_gnttab_entries(void)
{
    return table;
}

grant_ref_t minios_gnttab_grant_access(domid_t d, unsigned long mfn, int readonly)
{
    if (!table)
        return MINIOS_GNTTAB_INVALID_REF;
    for (grant_ref_t ref = FIRST_REF; ref < MINIOS_GNTTAB_NR_REFS; ref++) {
        if (ref_used[ref / 32] & (1u << (ref % 32)))
            continue;
        ref_used[ref / 32] |= 1u << (ref % 32);
        table[ref].frame = (uint32_t)mfn;
        table[ref].domid = d;
        /* The frame and domid must be visible before the flags. */
        __atomic_store_n(&table[ref].flags,
                         (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)),
                         __ATOMIC_RELEASE);
        return ref;
    }
    return MINIOS_GNTTAB_INVALID_REF;
}

int minios_gnttab_end_access(grant_ref_t ref)
{
    if (!table || ref < FIRST_REF || ref >= MINIOS_GNTTAB_NR_REFS ||
        !(ref_used[ref / 32] & (1u << (ref % 32))))
        return -XEN_EINVAL;
    uint16_t flags = __atomic_load_n(&table[ref].flags, __ATOMIC_ACQUIRE);
    do {
        if (flags & (GTF_reading | GTF_writing))
            return -XEN_EBUSY;
    } while (!__atomic_compare_exchange_n(&table[ref].flags, &flags, 0, 0,
                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    ref_used[ref / 32] &= ~(1u << (ref % 32));
    return 0;
}

#ifdef MINIOS_PVH
/*
 * A PVH domain maps a grant at a guest-physical address of its RAM: the
 * p2m leaf names the granted frame until the unmap puts the RAM frame
 * back. Its slots are allocator pages (virtual = physical), remembered
 * here so that an unmap takes back only what a map gave. The hypervisor
 * holds at most 16 such mappings of a domain at once.
 */
#define PVH_SLOTS 64
static unsigned long pvh_slot[PVH_SLOTS];

static unsigned long take_slots(unsigned n)
{
    unsigned long f = minios_events_save(), va = 0;
    unsigned nfree = 0;

    for (unsigned i = 0; i < PVH_SLOTS; i++)
        nfree += !pvh_slot[i];
    if (nfree >= n && (va = (unsigned long)minios_alloc_pages(n)))
        for (unsigned i = 0, k = 0; k < n; i++)
            if (!pvh_slot[i])
                pvh_slot[i] = va + (unsigned long)k++ * PAGE_SIZE;
    minios_events_restore(f);
    return va;
}

static unsigned long take_slot(void)
{
    return take_slots(1);
}

static int slot_taken(unsigned long va)
{
    for (unsigned i = 0; i < PVH_SLOTS; i++)
        if (va && pvh_slot[i] == va)
            return 1;
    return 0;
}

static void put_slot(unsigned long va)
{
    unsigned long f = minios_events_save();

    for (unsigned i = 0; i < PVH_SLOTS; i++)
        if (va && pvh_slot[i] == va) {
            pvh_slot[i] = 0;
            minios_free_pages((void *)va, 1);
        }
    minios_events_restore(f);
}
#else
/* Map area c: an existing one, or (c == nr_chunks) a new one; NULL if
 * none can be had.  With events off. */
static struct chunk *chunk_at(unsigned c)
{
    if (c < nr_chunks)
        return chunks[c];
    struct chunk *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return NULL;
    ch->va = minios_area_alloc_chunk();
    if (!ch->va) {
        free(ch);
        return NULL;
    }
    chunks[nr_chunks++] = ch;
    return ch;
}

/* A free page of the map areas, marked used; 0 if none can be had. */
static unsigned long take_slot(void)
{
    unsigned long f = minios_events_save(), va = 0;

    for (unsigned c = 0; c <= nr_chunks && c < MAP_CHUNKS && !va; c++) {
        struct chunk *ch = chunk_at(c);
        if (!ch)
            break;
        for (unsigned w = 0; w < CHUNK_PAGES / 64 && !va; w++) {
            if (ch->used[w] == ~0ull)
                continue;
            unsigned b = (unsigned)__builtin_ctzll(~ch->used[w]);
            ch->used[w] |= 1ull << b;
            va = ch->va + (w * 64 + b) * PAGE_SIZE;
        }
    }
    minios_events_restore(f);
    return va;
}

/* n (1..64) consecutive free pages of one map area, marked used; 0 if
 * none can be had. */
static unsigned long take_slots(unsigned n)
{
    unsigned long f = minios_events_save(), va = 0;

    for (unsigned c = 0; c <= nr_chunks && c < MAP_CHUNKS && !va; c++) {
        struct chunk *ch = chunk_at(c);
        if (!ch)
            break;
        unsigned run = 0;
        for (unsigned i = 0; i < CHUNK_PAGES && !va; i++) {
            run = (ch->used[i / 64] >> (i % 64)) & 1 ? 0 : run + 1;
            if (run < n)
                continue;
            for (unsigned j = i + 1 - n; j <= i; j++)
                ch->used[j / 64] |= 1ull << (j % 64);
            va = ch->va + (unsigned long)(i + 1 - n) * PAGE_SIZE;
        }
    }
    minios_events_restore(f);
    return va;
}

/* The slot's bit for va, or NULL if va is not a map-area page. */
static uint64_t *slot_bit(unsigned long va, uint64_t *mask)
{
    if (va % PAGE_SIZE)
        return NULL;
    for (unsigned c = 0; c < nr_chunks; c++) {
        struct chunk *ch = chunks[c];
        if (va < ch->va || va >= ch->va + CHUNK_PAGES * PAGE_SIZE)
            continue;
        unsigned i = (unsigned)((va - ch->va) / PAGE_SIZE);
        *mask = 1ull << (i % 64);
        return &ch->used[i / 64];
    }
    return NULL;
}

static void put_slot(unsigned long va)
{
    uint64_t mask, *w = slot_bit(va, &mask);
    unsigned long f = minios_events_save();

    if (w)
        *w &= ~mask;
    minios_events_restore(f);
}

static int slot_taken(unsigned long va)
{
    uint64_t mask, *w = slot_bit(va, &mask);
    return w && (*w & mask);
}
#endif

void *minios_gnttab_map(domid_t d, grant_ref_t ref, int readonly, grant_handle_t *h)
{
    last_status = GNTST_okay;
    unsigned long va = take_slot();
    if (!va) {
        last_status = GNTST_no_device_space;
        return NULL;
    }
    struct gnttab_map_grant_ref op = {
        .host_addr = va,
        .flags = GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0),
        .ref = ref,
        .dom = d,
    };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &op, 1);
    if (rc < 0 || op.status != GNTST_okay) {
        last_status = rc < 0 ? GNTST_general_error : op.status;
        put_slot(va);
        return NULL;
    }
    *h = op.handle;
    last_frame = (unsigned long)(op.dev_bus_addr >> 12);
    return (void *)va;
}

void *minios_gnttab_map_n(domid_t d, const grant_ref_t *refs, unsigned n, int readonly,
                          grant_handle_t *h)
{
    last_status = GNTST_okay;
    if (n == 0 || n > MINIOS_GNTTAB_MAP_N_MAX) {
        last_status = GNTST_general_error;
        return NULL;
    }
    unsigned long va = take_slots(n);
    if (!va) {
        last_status = GNTST_no_device_space;
        return NULL;
    }
    struct gnttab_map_grant_ref op[MINIOS_GNTTAB_MAP_N_MAX];
    for (unsigned i = 0; i < n; i++)
        op[i] = (struct gnttab_map_grant_ref){
            .host_addr = va + (unsigned long)i * PAGE_SIZE,
            .flags = GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0),
            .ref = refs[i],
            .dom = d,
        };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, op, n);
    int bad = rc < 0 ? GNTST_general_error : GNTST_okay;
    for (unsigned i = 0; i < n && bad == GNTST_okay; i++)
        if (op[i].status != GNTST_okay)
            bad = op[i].status;
    if (bad != GNTST_okay) {
        /* Undo the pages that did map; every slot goes back. */
        for (unsigned i = 0; i < n; i++) {
            if (rc >= 0 && op[i].status == GNTST_okay) {
                struct gnttab_unmap_grant_ref u = {
                    .host_addr = op[i].host_addr, .dev_bus_addr = 0, .handle = op[i].handle,
                };
                HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
            }
            put_slot(va + (unsigned long)i * PAGE_SIZE);
        }
        last_status = bad;
        return NULL;
    }
    for (unsigned i = 0; i < n; i++)
        h[i] = op[i].handle;
    return (void *)va;
}

unsigned long minios_gnttab_last_frame(void)
{
    return last_frame;
}

int minios_gnttab_unmap(void *p, grant_handle_t h)
{
    unsigned long va = (unsigned long)p;
    last_status = GNTST_okay;
    if (!slot_taken(va))
        return -XEN_EINVAL;
    struct gnttab_unmap_grant_ref op = { .host_addr = va, .dev_bus_addr = 0, .handle = h };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &op, 1);
    if (rc < 0)
        return (int)rc;
    last_status = op.status;
    if (op.status != GNTST_okay)
        return -XEN_EINVAL;
    put_slot(va);
    return 0;
}

int minios_gnttab_last_status(void)
{
    return last_status;
}

int minios_gnttab_copy(struct gnttab_copy *ops, unsigned int count)
{
    return (int)HYPERVISOR_grant_table_op(GNTTABOP_copy, ops, count);
}
