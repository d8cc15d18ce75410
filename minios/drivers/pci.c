/* pci.c: the PCI devices this domain owns: which ones, configuration space through ports 0xcf8/0xcfc, BAR mappings and MSI-X vectors bound to event channels. */
#include <stdbool.h>
#include <string.h>
#include <minios/console.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/pci.h>
#include <minios/startinfo.h>
#include <xen/physdev.h>

#define PCI_CAP_MSIX 0x11

static bool have_iopl;

static void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static long physdev(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_physdev_op, cmd, arg);
}

/* Port I/O needs I/O privilege: asked once.  Without it the ports would
 * fault, so every access is refused (reads as all ones). */
static bool io_ok(void)
{
    if (!have_iopl) {
        struct physdev_set_iopl io = { .iopl = 1 };
        long rc = physdev(PHYSDEVOP_set_iopl, &io);
        if (rc) {
            minios_printk("pci: PHYSDEVOP_set_iopl refused (%ld): no configuration space\n", rc);
            return false;
        }
        have_iopl = true;
    }
    return true;
}

int minios_pci_parse_bdf(const char *s, uint16_t *bdf)
{
    unsigned v[3] = { 0, 0, 0 };
    const int digits[3] = { 2, 2, 1 };
    const char sep[3] = { ':', '.', '\0' };
    for (int f = 0; f < 3; f++) {
        for (int i = 0; i < digits[f]; i++, s++) {
            char c = *s;
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                       : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                       : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
            if (d > 15)
                return -XEN_EINVAL;
            v[f] = v[f] << 4 | d;
        }
        if (*s != sep[f])
            return -XEN_EINVAL;
        s++;
    }
    if (v[1] > 31 || v[2] > 7)
        return -XEN_EINVAL;
    *bdf = (uint16_t)(v[0] << 8 | v[1] << 3 | v[2]);
    return 0;
}

int minios_pci_owned(uint16_t *bdfs, int max)
{
    const char *p = (const char *)minios_start_info->cmd_line;
    const char *end = p + MAX_GUEST_CMDLINE;
    int n = 0;
    while (p < end && *p) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *w = p;
        while (p < end && *p && *p != ' ' && *p != '\t')
            p++;
        size_t len = (size_t)(p - w);
        if (len < 4 || memcmp(w, "pci=", 4))
            continue;
        char word[16];
        uint16_t bdf;
        bool ok = len - 4 < sizeof(word);
        if (ok) {
            memcpy(word, w + 4, len - 4);
            word[len - 4] = 0;
            ok = minios_pci_parse_bdf(word, &bdf) == 0;
        }
        if (!ok) {
            minios_printk("pci: ignoring malformed %.*s\n", (int)(len > 40 ? 40 : len), w);
            continue;
        }
        bool dup = false;
        for (int i = 0; i < n && i < max; i++)
            dup |= bdfs[i] == bdf;
        if (!dup && n < max)
            bdfs[n++] = bdf;
    }
    return n;
}

int minios_pci_is_owned(uint16_t bdf)
{
    uint16_t b[MINIOS_PCI_MAX_OWNED];
    int n = minios_pci_owned(b, MINIOS_PCI_MAX_OWNED);
    for (int i = 0; i < n; i++)
        if (b[i] == bdf)
            return 1;
    return 0;
}

static bool reg_ok(unsigned reg, unsigned size)
{
    return (size == 1 || size == 2 || size == 4) && reg < 256 && !(reg & (size - 1));
}

uint32_t minios_pci_read(uint16_t bdf, unsigned reg, unsigned size)
{
    if (!reg_ok(reg, size) || !io_ok())
        return size == 2 ? 0xffffu : size == 1 ? 0xffu : 0xffffffffu;
    unsigned long flags = minios_events_save();     /* 0xcf8 then 0xcfc, together */
    outl(0xcf8, 0x80000000u | (uint32_t)bdf << 8 | (reg & 0xfc));
    uint16_t port = (uint16_t)(0xcfc + (reg & 3));
    uint32_t v = size == 4 ? inl(port) : size == 2 ? inw(port) : inb(port);
    minios_events_restore(flags);
    return v;
}

void minios_pci_write(uint16_t bdf, unsigned reg, unsigned size, uint32_t val)
{
    if (!reg_ok(reg, size) || !io_ok())
        return;
    unsigned long flags = minios_events_save();
    outl(0xcf8, 0x80000000u | (uint32_t)bdf << 8 | (reg & 0xfc));
    uint16_t port = (uint16_t)(0xcfc + (reg & 3));
    if (size == 4)
        outl(port, val);
    else if (size == 2)
        outw(port, (uint16_t)val);
    else
        outb(port, (uint8_t)val);
    minios_events_restore(flags);
}

unsigned minios_pci_find_cap(uint16_t bdf, uint8_t cap_id, unsigned after)
{
    if (!(minios_pci_read(bdf, 0x06, 2) & 0x10))        /* no capability list */
        return 0;
    unsigned cap = after ? minios_pci_read(bdf, after + 1, 1) : minios_pci_read(bdf, 0x34, 1);
    /* At most 48 capabilities fit in 0x40-0xff: a loop is a broken list. */
    for (int n = 0; n < 48; n++) {
        cap &= 0xfc;
        if (cap < 0x40)
            return 0;
        if (minios_pci_read(bdf, cap, 1) == cap_id)
            return cap;
        cap = minios_pci_read(bdf, cap + 1, 1);
    }
    return 0;
}

int minios_pci_bar(uint16_t bdf, unsigned n, uint64_t *addr, uint64_t *size, int *is_io)
{
    if (n > 5)
        return -XEN_EINVAL;
    if (minios_pci_read(bdf, 0, 4) == 0xffffffffu)
        return -XEN_ENODEV;
    /* The upper half of a 64-bit BAR is no BAR of its own. */
    for (unsigned i = 0; i < n; i++) {
        uint32_t b = minios_pci_read(bdf, 0x10 + 4 * i, 4);
        if (!(b & 1) && ((b >> 1) & 3) == 2) {
            if (i + 1 == n)
                return -XEN_EINVAL;
            i++;
        }
    }
    unsigned reg = 0x10 + 4 * n;
    uint32_t lo = minios_pci_read(bdf, reg, 4);
    bool io = lo & 1, is64 = !io && ((lo >> 1) & 3) == 2;
    if (is64 && n == 5)
        return -XEN_EINVAL;
    uint32_t hi = is64 ? minios_pci_read(bdf, reg + 4, 4) : 0;
    minios_pci_write(bdf, reg, 4, 0xffffffffu);
    uint32_t mlo = minios_pci_read(bdf, reg, 4);
    minios_pci_write(bdf, reg, 4, lo);
    uint32_t mhi = 0xffffffffu;
    if (is64) {
        minios_pci_write(bdf, reg + 4, 4, 0xffffffffu);
        mhi = minios_pci_read(bdf, reg + 4, 4);
        minios_pci_write(bdf, reg + 4, 4, hi);
    }
    uint64_t mask = (uint64_t)mhi << 32 | (mlo & (io ? ~3u : ~15u));
    if (io)
        mask |= 0xffffffffffff0000ull;
    if (!(mlo & (io ? ~3u : ~15u)))
        return -XEN_EINVAL;                              /* not implemented */
    *addr = ((uint64_t)hi << 32 | lo) & (io ? ~3ull : ~15ull);
    *size = ~mask + 1;
    *is_io = io;
    return 0;
}

void minios_pci_enable(uint16_t bdf)
{
    uint16_t cmd = (uint16_t)minios_pci_read(bdf, 4, 2);
    minios_pci_write(bdf, 4, 2, cmd | 1 | 2 | 4);
}

/* Device memory goes into map areas (2 MiB each), filled upwards. */
static unsigned long map_next, map_end;

volatile void *minios_pci_map(uint64_t maddr, size_t len)
{
    const unsigned long chunk = 2ul << 20;
    unsigned long off = maddr & 4095;
    unsigned long pages = (off + len + 4095) >> 12;
    if (!len || len > chunk || off + len > chunk || maddr >> 52)
        return NULL;
    if (map_next + pages * 4096 > map_end) {
        unsigned long va = minios_area_alloc_chunk();
        if (!va)
            return NULL;
        map_next = va;
        map_end = va + chunk;
    }
    unsigned long va = map_next;
    for (unsigned long i = 0; i < pages; i++) {
        /* Present, writable, user (ring 3 kernel), PWT + PCD: uncached; NX. */
        uint64_t pte = ((maddr >> 12) + i) << 12 | 1 | 2 | 4 | 8 | 16 | 1ull << 63;
        long rc = HYPERVISOR_update_va_mapping(va + i * 4096, pte, UVMF_INVLPG);
        if (rc) {
            minios_printk("pci: mapping device memory %lx refused (%ld)\n",
                          (unsigned long)(maddr + i * 4096), rc);
            for (unsigned long j = 0; j < i; j++)
                HYPERVISOR_update_va_mapping(va + j * 4096, 0, UVMF_INVLPG);
            return NULL;
        }
    }
    map_next += pages * 4096;
    return (volatile void *)(va + off);
}

unsigned minios_pci_msix_entries(uint16_t bdf)
{
    unsigned cap = minios_pci_find_cap(bdf, PCI_CAP_MSIX, 0);
    return cap ? (minios_pci_read(bdf, cap + 2, 2) & 0x7ff) + 1 : 0;
}

/* Which PIRQ each bound port came from, to undo it. */
#define MAX_BINDS 32
static struct { bool used; evtchn_port_t port; int pirq; } binds[MAX_BINDS];

int minios_pci_msix_bind(uint16_t bdf, unsigned entry, minios_evtchn_handler h, void *data,
                         evtchn_port_t *port)
{
    unsigned cap = minios_pci_find_cap(bdf, PCI_CAP_MSIX, 0);
    if (!cap)
        return -XEN_ENODEV;
    if (entry >= (minios_pci_read(bdf, cap + 2, 2) & 0x7ff) + 1)
        return -XEN_EINVAL;
    int slot = -1;
    for (int i = 0; i < MAX_BINDS && slot < 0; i++)
        if (!binds[i].used)
            slot = i;
    if (slot < 0)
        return -XEN_ENOSPC;
    /* table_base: the address of the BAR holding the table, as Xen's
     * pciback passes it. */
    uint32_t t = minios_pci_read(bdf, cap + 4, 4);
    uint64_t bar, size;
    int io;
    int rc = minios_pci_bar(bdf, t & 7, &bar, &size, &io);
    if (rc || io || !bar)
        return rc ? rc : -XEN_ENODEV;
    struct physdev_map_pirq m = { .domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_MSI, .index = -1,
                                  .pirq = -1, .bus = bdf >> 8, .devfn = bdf & 0xff,
                                  .entry_nr = (int)entry, .table_base = bar };
    long r = physdev(PHYSDEVOP_map_pirq, &m);
    if (r)
        return (int)r;
    struct evtchn_bind_pirq b = { .pirq = (uint32_t)m.pirq };
    r = HYPERVISOR_event_channel_op(EVTCHNOP_bind_pirq, &b);
    if (!r) {
        r = minios_evtchn_bind(b.port, h, data);
        if (r)
            minios_evtchn_close(b.port);
    }
    if (r) {
        struct physdev_unmap_pirq u = { .domid = DOMID_SELF, .pirq = m.pirq };
        physdev(PHYSDEVOP_unmap_pirq, &u);
        return (int)r;
    }
    binds[slot].used = true;
    binds[slot].port = b.port;
    binds[slot].pirq = m.pirq;
    *port = b.port;
    return 0;
}

void minios_pci_msix_unbind(uint16_t bdf, evtchn_port_t port)
{
    (void)bdf;
    for (int i = 0; i < MAX_BINDS; i++) {
        if (binds[i].used && binds[i].port == port) {
            minios_evtchn_close(port);
            struct physdev_unmap_pirq u = { .domid = DOMID_SELF, .pirq = binds[i].pirq };
            physdev(PHYSDEVOP_unmap_pirq, &u);
            binds[i].used = false;
            return;
        }
    }
}
