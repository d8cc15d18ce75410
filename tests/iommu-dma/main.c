/* Guest test: DMA remapping by the IOMMU (hv/arch/x86_64/iommu.c).
 *
 * op=victim (d1): fills a secret page and a shared page with patterns,
 * offers its control page (grant ref 8), the secret read-only (ref 9) and
 * the shared page writable (ref 10) to its peer, writes the secret's
 * machine frame into the control page, and once the peer is done checks
 * that the secret is intact and that the shared page holds what the
 * peer's device wrote while it had it mapped, and nothing after.
 *
 * op=hostile (d2, owner of QEMU's edu device, dev=BB:DD.F) programs the
 * device's DMA engine (a buffer at device address 0x40000):
 *   - through its own frames (RAM -> device -> RAM): byte-exact;
 *   - into and out of the victim's secret frame, not mapped: blocked;
 *   - the secret grant-mapped read-only: the device reads it, cannot
 *     write it (QEMU logs no fault for that one: see below); unmapped:
 *     cannot read it any more;
 *   - the shared page grant-mapped writable: the device writes it;
 *     unmapped: blocked;
 *   - into one of its own frames after giving it back
 *     (decrease_reservation): blocked;
 *   - into its own L1 page-table frame and its shared_info frame (a
 *     hypervisor frame): blocked, both unchanged.
 * Each blocked transfer is printed as "DMA write to frame F (...)" or
 * "DMA read of frame F (...)"; check.sh matches them one to one with the
 * hypervisor's fault reports.  op=flood (alone, test iommu-fault-log):
 * eight blocked transfers for the fault log's rate limit.  Arguments:
 * op=, peer= (victim, hostile), dev= (hostile, flood). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/events.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <xen/physdev.h>
#include <xen/memory.h>
#include "report.h"
#include "args.h"
#include "peer.h"
#include "ptwalk.h"

#define CHECK(cond) do {                                                 \
        if (!(cond))                                                     \
            test_fail("%s:%d: %s", __FILE__, __LINE__, #cond);          \
    } while (0)

#define PG 4096
enum { REF_CTL = 8, REF_SECRET, REF_SHARED };
#define EDU_BUF 0x40000ul
/* A transfer's length: QEMU 7.2's edu refuses one that ends exactly at the
 * end of its 4 KiB buffer (an off-by-one in its range check), so half. */
#define DMA_LEN 2048

struct ctl {
    volatile uint32_t state;     /* 1: offered, 2: the hostile side is done */
    volatile uint64_t secret_mfn;
};

static char ctl_page[PG] __attribute__((aligned(PG)));
static char secret[PG] __attribute__((aligned(PG)));
static char shared[PG] __attribute__((aligned(PG)));
static char own_a[PG] __attribute__((aligned(PG)));
static char own_b[PG] __attribute__((aligned(PG)));
static char spot[PG] __attribute__((aligned(PG)));
static char gone[PG] __attribute__((aligned(PG)));
static volatile uint32_t *edu = (volatile uint32_t *)spot;
static domid_t peer;

static void fill(char *p, unsigned seed)
{
    for (unsigned i = 0; i < PG; i++)
        p[i] = (char)(i * 7 + seed);
}

static bool same_as_fill_n(const volatile char *p, unsigned seed, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (p[i] != (char)(i * 7 + seed))
            return false;
    return true;
}

static bool same_as_fill(const volatile char *p, unsigned seed)
{
    return same_as_fill_n(p, seed, PG);
}

static int victim(void)
{
    struct ctl *c = (struct ctl *)ctl_page;
    fill(secret, 3);
    fill(shared, 5);
    c->secret_mfn = minios_gnttab_virt_to_mfn(secret);
    CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(ctl_page), 0), REF_CTL);
    CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(secret), 1), REF_SECRET);
    CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(shared), 0), REF_SHARED);
    c->state = 1;
    peer_wait_state(&c->state, 2, 20000000UL);
    CHECK(same_as_fill(secret, 3));
    /* First half: the peer's device wrote its pattern (11) while mapped;
     * second half: its write after the unmap was blocked. */
    CHECK(same_as_fill_n(shared, 11, DMA_LEN));
    bool second_half = true;
    for (unsigned i = DMA_LEN; i < PG; i++)
        second_half &= shared[i] == (char)(i * 7 + 5);
    CHECK(second_half);
    printf("victim: secret frame %lx intact (4096 bytes as written); shared frame written "
           "by the peer's device only while mapped\n", (unsigned long)c->secret_mfn);
    return test_finish();
}

static void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static uint32_t cfg_addr(unsigned bdf, unsigned reg) { return 0x80000000u | bdf << 8 | (reg & 0xfc); }
static uint32_t rd32(unsigned bdf, unsigned reg) { outl(0xcf8, cfg_addr(bdf, reg)); return inl(0xcfc); }
static void wr32(unsigned bdf, unsigned reg, uint32_t v) { outl(0xcf8, cfg_addr(bdf, reg)); outl(0xcfc, v); }
static long physdev(int cmd, void *arg) { return _hypercall2(__HYPERVISOR_physdev_op, cmd, arg); }

static unsigned long pte_of(const void *va)
{
    unsigned long ma = l1e_maddr((unsigned long)va);
    return *(volatile unsigned long *)((m2p[ma >> 12] << 12) + (ma & 4095));
}

static unsigned long maddr_of(const void *va)
{
    return pte_of(va) & 0x000FFFFFFFFFF000UL;
}

/* One transfer of edu's DMA engine: to_ram copies the device's buffer to
 * machine address ram, else ram to the buffer; waits for the engine. */
static bool edu_dma(unsigned long ram, bool to_ram)
{
    volatile uint64_t *r64 = (volatile uint64_t *)spot;
    r64[0x80 / 8] = to_ram ? EDU_BUF : ram;      /* source */
    r64[0x88 / 8] = to_ram ? ram : EDU_BUF;      /* destination */
    r64[0x90 / 8] = DMA_LEN;                     /* count */
    edu[0x98 / 4] = 1 | (to_ram ? 2 : 0);        /* run, direction */
    uint64_t end = minios_monotonic_ns() + 5000000000ULL;
    while (edu[0x98 / 4] & 1) {
        if (minios_monotonic_ns() > end)
            return false;
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    return true;
}

static int hostile(unsigned dev)
{
    struct physdev_set_iopl io = { .iopl = 1 };
    CHECK_EQ(physdev(PHYSDEVOP_set_iopl, &io), 0);
    CHECK_EQ(rd32(dev, 0), 0x11e81234);                       /* QEMU's edu */
    wr32(dev, 4, rd32(dev, 4) | 2 | 4);                       /* memory decoding, bus master */
    uint32_t bar = rd32(dev, 0x10) & ~0xfu;
    unsigned long orig = pte_of(spot);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot,
                                          (unsigned long)bar | 1 | 2 | 4 | 8 | 16 | (1UL << 63),
                                          UVMF_INVLPG), 0);
    CHECK_EQ(edu[0], 0x010000ed);

    /* Its own frames: RAM -> device -> RAM, byte-exact. */
    fill(own_a, 11);
    memset(own_b, 0, PG);
    CHECK(edu_dma(maddr_of(own_a), false));
    CHECK(edu_dma(maddr_of(own_b), true));
    CHECK(same_as_fill_n(own_b, 11, DMA_LEN));
    printf("hostile: DMA through its own frames %lx -> device -> %lx: %u bytes byte-exact\n",
           maddr_of(own_a) >> 12, maddr_of(own_b) >> 12, DMA_LEN);

    /* The victim's frames. */
    grant_handle_t hc, hs, hh;
    struct ctl *c = NULL;
    for (unsigned long i = 0; !c; i++) {
        c = minios_gnttab_map(peer, REF_CTL, 0, &hc);
        if (!c)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        if (i == 20000000UL) {
            test_error("cannot map the victim's control page (status %d)",
                       minios_gnttab_last_status());
            return test_finish();
        }
    }
    peer_wait_state(&c->state, 1, 20000000UL);
    unsigned long vmfn = c->secret_mfn;
    /* Not mapped: neither written nor read.  (The device's buffer holds
     * own_a's pattern, 11, from the first copy.) */
    printf("hostile: DMA write to frame %lx (the victim's secret, not mapped)\n", vmfn);
    CHECK(edu_dma(vmfn << 12, true));
    printf("hostile: DMA read of frame %lx (the victim's secret, not mapped)\n", vmfn);
    CHECK(edu_dma(vmfn << 12, false));
    memset(own_b, 0, PG);
    CHECK(edu_dma(maddr_of(own_b), true));
    CHECK(!same_as_fill_n(own_b, 3, DMA_LEN));    /* whatever the device got, not the secret */

    /* Grant-mapped read-only: readable by the device, not writable. */
    const volatile char *sec = minios_gnttab_map(peer, REF_SECRET, 1, &hs);
    CHECK(sec != NULL);
    CHECK(sec && maddr_of((const void *)sec) == vmfn << 12);
    CHECK(edu_dma(vmfn << 12, false));
    memset(own_b, 0, PG);
    CHECK(edu_dma(maddr_of(own_b), true));
    CHECK(same_as_fill_n(own_b, 3, DMA_LEN));     /* the secret, as granted */
    CHECK(edu_dma(maddr_of(own_a), false));       /* its pattern (11) in the buffer again */
    /* Blocked too, but QEMU 7.2 reports no fault for it: the read just
     * before left a read-only translation in its IOTLB model, and a write
     * that hits it is refused without a fault record (real VT-d records
     * one).  So this one is not among check.sh's faults. */
    CHECK(edu_dma(vmfn << 12, true));
    CHECK(sec && same_as_fill(sec, 3));
    printf("hostile: DMA write to the read-only mapped secret %lx: blocked\n", vmfn);
    CHECK(minios_gnttab_unmap((void *)sec, hs) == 0);
    printf("hostile: DMA read of frame %lx (the victim's secret, unmapped)\n", vmfn);
    CHECK(edu_dma(vmfn << 12, false));
    CHECK(edu_dma(maddr_of(own_a), false));       /* its pattern again */

    /* Grant-mapped writable: the device writes it; unmapped, it cannot. */
    volatile char *sh = minios_gnttab_map(peer, REF_SHARED, 0, &hh);
    CHECK(sh != NULL);
    unsigned long shm = sh ? maddr_of((const void *)sh) : 0;
    CHECK(edu_dma(shm, true));
    CHECK(sh && same_as_fill_n(sh, 11, DMA_LEN));
    CHECK(minios_gnttab_unmap((void *)sh, hh) == 0);
    printf("hostile: DMA write to frame %lx (the victim's shared page, unmapped)\n", shm >> 12);
    CHECK(edu_dma(shm + DMA_LEN, true));

    /* One of its own frames, given back (decrease_reservation): out of
     * the IOMMU before the allocator can hand it to anyone. */
    unsigned long gm = maddr_of(gone);
    CHECK(edu_dma(gm, true));
    CHECK(same_as_fill_n(gone, 11, DMA_LEN));     /* reachable while its own */
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)gone, 0, UVMF_INVLPG), 0);
    xen_pfn_t ext = gm >> 12;
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0,
                                        .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, &ext);
    CHECK_EQ(HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r), 1);
    printf("hostile: DMA write to frame %lx (its own, given back)\n", gm >> 12);
    CHECK(edu_dma(gm, true));

    /* Its own L1 page table: a DMA write there would be a way out. */
    unsigned long l1 = l1e_maddr((unsigned long)own_a) & ~4095UL;
    const volatile char *l1v = (const volatile char *)(m2p[l1 >> 12] << 12);
    static char l1_before[PG];
    memcpy(l1_before, (const char *)l1v, PG);
    printf("hostile: DMA write to frame %lx (its own L1 page table)\n", l1 >> 12);
    CHECK(edu_dma(l1, true));
    CHECK(memcmp(l1_before, (const char *)l1v, PG) == 0);

    /* Its shared_info: a hypervisor frame shared with it.  The DMA would
     * write the pattern (11) over the page's second half; the last 512
     * bytes (past the structure) are compared before and after. */
    unsigned long si = minios_start_info->shared_info & ~4095UL;
    const volatile char *tail = (const volatile char *)minios_shared_info + PG - 512;
    static char tail_before[512];
    memcpy(tail_before, (const char *)tail, 512);
    printf("hostile: DMA write to frame %lx (its shared_info)\n", si >> 12);
    CHECK(edu_dma(si + PG - DMA_LEN, true));
    CHECK(memcmp(tail_before, (const char *)tail, 512) == 0);
    bool written = true;
    for (unsigned i = 0; i < 512; i++)
        written &= tail[i] == (char)((DMA_LEN - 512 + i) * 7 + 11);
    CHECK(!written);

    /* Still its own frames work. */
    memset(own_b, 0, PG);
    CHECK(edu_dma(maddr_of(own_b), true));
    CHECK(same_as_fill_n(own_b, 11, DMA_LEN));
    printf("hostile: blocked transfers changed nothing; its own frames still reachable\n");

    c->state = 2;
    minios_gnttab_unmap(c, hc);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);
    return test_finish();
}

/* op=flood: blocked DMA writes (into its own L1 page table) as fast as
 * the device does them, six, then one more after 1.2 s and another after
 * 1.2 s more, for the fault log's rate limit (test iommu-fault-log). */
static int flood(unsigned dev)
{
    struct physdev_set_iopl io = { .iopl = 1 };
    CHECK_EQ(physdev(PHYSDEVOP_set_iopl, &io), 0);
    CHECK_EQ(rd32(dev, 0), 0x11e81234);
    wr32(dev, 4, rd32(dev, 4) | 2 | 4);
    uint32_t bar = rd32(dev, 0x10) & ~0xfu;
    unsigned long orig = pte_of(spot);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot,
                                          (unsigned long)bar | 1 | 2 | 4 | 8 | 16 | (1UL << 63),
                                          UVMF_INVLPG), 0);
    unsigned long l1 = l1e_maddr((unsigned long)own_a) & ~4095UL;
    unsigned n = 0;
    for (unsigned i = 0; i < 8; i++) {
        if (i >= 6) {
            uint64_t until = minios_monotonic_ns() + 1200000000ULL;
            while (minios_monotonic_ns() < until)
                HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        }
        CHECK(edu_dma(l1, true));
        n++;
    }
    printf("flood: %u blocked DMA writes to frame %lx\n", n, l1 >> 12);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);
    return test_finish();
}

static unsigned parse_bdf(const char *s)
{
    unsigned b, d, f;
    if (!s || sscanf(s, "%x:%x.%x", &b, &d, &f) != 3)
        return ~0u;
    return b << 8 | d << 3 | f;
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op");
    const char *p = test_arg(argc, argv, "peer");
    if (!op || !p) {
        test_error("needs op= and peer=");
        return test_finish();
    }
    peer = (domid_t)atoi(p);
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    if (!strcmp(op, "victim"))
        return victim();
    unsigned dev = parse_bdf(test_arg(argc, argv, "dev"));
    if ((strcmp(op, "hostile") && strcmp(op, "flood")) || dev == ~0u) {
        test_error("op=victim, or op=hostile or op=flood with dev=");
        return test_finish();
    }
    return strcmp(op, "flood") ? hostile(dev) : flood(dev);
}
