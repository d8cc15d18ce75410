/* Benchmark guest for PV memory (issue 4), in guest TSC ticks under
 * -icount (1 tick = 1 guest instruction).  Runs on Keel and as dom0 of
 * real Xen 4.17; one domain is enough for all of it:
 *   mmu_update    MMU_NORMAL_PT_UPDATE of the L1 entry of a static page, in
 *                 batches of 1, 16 and 128, alternating between a writable
 *                 and a read-only mapping of the page's own frame (so every
 *                 update takes and drops a writable type reference: no
 *                 A/D-only fast path);
 *   grant copy    GNTTABOP_copy of 64, 512 and 4096 bytes from a page
 *                 granted to ourselves (source by reference) to a local
 *                 frame (dest by frame), one op per hypercall, against a
 *                 memcpy of the same size;
 *   map+unmap     GNTTABOP_map_grant_ref (host map at an address whose L1
 *                 slot is empty) + GNTTABOP_unmap_grant_ref of a self grant.
 * Prints "bench: KEY=VALUE" lines. */
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <stdio.h>
#include <string.h>
#include "../tests/common/ptwalk.h"

#define PG    4096
#define PTE_P 1UL
#define PTE_W 2UL
#define PTE_U 4UL
#define PTE_A 0x20UL
#define PTE_D 0x40UL
#define ADDR  0x000FFFFFFFFFF000UL

#define MMU_UPDATES 30720      /* a multiple of 1, 16 and 128 */
#define COPIES      10000
#define MAPS        5000

static char target[PG] __attribute__((aligned(PG)));   /* the rewritten PTE maps this */
static char src[PG] __attribute__((aligned(PG)));
static char dst[PG] __attribute__((aligned(PG)));
static char maparea[PG] __attribute__((aligned(PG)));  /* its L1 slot is emptied */
static int failed;

static inline unsigned long long rdtsc(void)
{
    unsigned lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((unsigned long long)hi << 32) | lo;
}

static unsigned long mfn_of(const void *va)
{
    return minios_gnttab_virt_to_mfn(va);
}

/* Our domain id; 0 (as on Xen's dom0) if it cannot be had. */
static domid_t self_id(void)
{
    domid_t d = minios_domid();
    return d == DOMID_INVALID ? 0 : d;
}

static void fail(const char *what, long v)
{
    printf("bench: mm_bench error: %s (%ld)\n", what, v);
    failed = 1;
}

static void bench_mmu_update(void)
{
    static struct mmu_update req[128];
    unsigned long ma = l1e_maddr((unsigned long)target);
    unsigned long mfn = mfn_of(target);
    const unsigned long rw = mfn << 12 | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
    const unsigned long ro = mfn << 12 | PTE_P | PTE_U | PTE_A;
    static const unsigned batches[] = { 1, 16, 128 };
    target[0] = 1;                               /* present and dirty */
    for (unsigned b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
        unsigned n = batches[b];
        for (unsigned i = 0; i < n; i++) {
            req[i].ptr = ma | MMU_NORMAL_PT_UPDATE;
            req[i].val = (i & 1) ? rw : ro;      /* n even: ends writable */
        }
        if (n == 1)
            req[0].val = ro;
        unsigned long long t0 = rdtsc();
        for (unsigned k = 0; k < MMU_UPDATES / n; k++) {
            unsigned done = 0;
            if (n == 1)
                req[0].val = (k & 1) ? rw : ro;
            long rc = _hypercall4(__HYPERVISOR_mmu_update, req, n, &done, DOMID_SELF);
            if (rc || done != n) {
                fail("mmu_update", rc);
                return;
            }
        }
        unsigned long long t = rdtsc() - t0;
        /* MMU_UPDATES is even: the last update put the writable PTE back. */
        target[1] = 2;
        printf("bench: mmu_update_batch%u_per_Minsn=%.0f (%.1f ticks per update)\n", n,
               (double)MMU_UPDATES * 1e6 / (double)t, (double)t / MMU_UPDATES);
    }
}

static void bench_grant_copy(domid_t self)
{
    static const unsigned sizes[] = { 64, 512, 4096 };
    grant_ref_t ref = minios_gnttab_grant_access(self, mfn_of(src), 1);
    if (ref == MINIOS_GNTTAB_INVALID_REF) {
        fail("grant_access", 0);
        return;
    }
    unsigned long dmfn = mfn_of(dst);
    memset(src, 0x5a, PG);
    for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        unsigned len = sizes[s];
        struct gnttab_copy c = { .flags = GNTCOPY_source_gref, .len = (uint16_t)len };
        c.source.domid = DOMID_SELF;
        c.source.u.ref = ref;
        c.dest.domid = DOMID_SELF;
        c.dest.u.gmfn = dmfn;
        memset(dst, 0, PG);
        unsigned long long t0 = rdtsc();
        for (int i = 0; i < COPIES; i++) {
            long rc = minios_gnttab_copy(&c, 1);
            if (rc || c.status != GNTST_okay) {
                fail("grant copy", rc ? rc : c.status);
                return;
            }
        }
        unsigned long long tg = rdtsc() - t0;
        if ((unsigned char)dst[len - 1] != 0x5a || (len < PG && dst[len]))
            fail("grant copy did not copy", len);

        volatile unsigned vlen = len;
        t0 = rdtsc();
        for (int i = 0; i < COPIES; i++) {
            memcpy(dst, src, vlen);
            __asm__ volatile("" ::: "memory");
        }
        unsigned long long tm = rdtsc() - t0;
        double bg = (double)len * COPIES * 1000.0 / (double)tg;
        double bm = (double)len * COPIES * 1000.0 / (double)tm;
        printf("bench: grant_copy_%u_bytes_per_ktick=%.1f memcpy_%u_bytes_per_ktick=%.1f "
               "ratio_%u=%.4f (%.1f / %.1f ticks per copy)\n",
               len, bg, len, bm, len, bg / bm, (double)tg / COPIES, (double)tm / COPIES);
    }
    if (minios_gnttab_end_access(ref))
        fail("end_access", 0);
}

static void bench_map_unmap(domid_t self)
{
    grant_ref_t ref = minios_gnttab_grant_access(self, mfn_of(src), 0);
    if (ref == MINIOS_GNTTAB_INVALID_REF) {
        fail("grant_access", 0);
        return;
    }
    unsigned long va = (unsigned long)maparea;
    unsigned long own = mfn_of(maparea) << 12 | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
    long rc = HYPERVISOR_update_va_mapping(va, 0, UVMF_INVLPG);   /* empty the slot */
    if (rc) {
        fail("update_va_mapping", rc);
        return;
    }
    unsigned long long tmap = 0, tunmap = 0;
    src[7] = 0x77;
    for (int i = 0; i < MAPS + 100; i++) {
        struct gnttab_map_grant_ref m = { .host_addr = va, .flags = GNTMAP_host_map,
                                          .ref = ref, .dom = self };
        unsigned long long t0 = rdtsc();
        rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1);
        unsigned long long t1 = rdtsc();
        if (rc || m.status != GNTST_okay) {
            fail("map_grant_ref", rc ? rc : m.status);
            break;
        }
        if (i == 0 && ((volatile char *)maparea)[7] != 0x77)
            fail("mapping does not show the granted page", 0);
        struct gnttab_unmap_grant_ref u = { .host_addr = va, .handle = m.handle };
        unsigned long long t2 = rdtsc();
        rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
        unsigned long long t3 = rdtsc();
        if (rc || u.status != GNTST_okay) {
            fail("unmap_grant_ref", rc ? rc : u.status);
            break;
        }
        if (i >= 100) {                          /* the first 100 warm up */
            tmap += t1 - t0;
            tunmap += t3 - t2;
        }
    }
    HYPERVISOR_update_va_mapping(va, own, UVMF_INVLPG);
    if (!failed)
        printf("bench: grant_map_unmap_tsc=%.1f (map %.1f, unmap %.1f)\n",
               (double)(tmap + tunmap) / MAPS, (double)tmap / MAPS, (double)tunmap / MAPS);
    if (minios_gnttab_end_access(ref))
        fail("end_access after unmap", 0);
}

int main(void)
{
    char extra[XEN_EXTRAVERSION_LEN] = "";
    HYPERVISOR_xen_version(XENVER_extraversion, extra);
    domid_t self = self_id();
    printf("mm_bench: domain %u on %s\n", self, strstr(extra, "keel") ? "Keel" : "Xen");
    bench_mmu_update();
    if (minios_gnttab_init() || !minios_gnttab_entries()) {
        fail("gnttab_init", 0);
    } else {
        bench_grant_copy(self);
        bench_map_unmap(self);
    }
    printf("bench: mm_bench_%s\n", failed ? "failed" : "done");
    return failed;
}
