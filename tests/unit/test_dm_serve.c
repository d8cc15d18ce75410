/* Host unit test of the device model's request dispatch (stubdoms/dm/serve.c),
 * under ASan/UBSan: a request reaches the region holding all of it with a
 * size it takes (a nested region first), others are refused with all ones;
 * requests by pointer (REP INS/OUTS, MMIO moves) copy each element to or
 * from guest memory, upward or downward (df), the port fixed and the MMIO
 * address stepping; an element in memory that cannot be copied stops the
 * request; malformed counts and sizes are refused. */
#include <string.h>
#include "serve.h"
#include "unit.h"

static uint8_t ram[3 * 4096];           /* guest-physical 0x10000.. */
#define RAM_BASE 0x10000u

static int copy(void *ctx, uint64_t gpa, void *buf, unsigned len, bool to_guest)
{
    (void)ctx;
    if (gpa < RAM_BASE || gpa + len > RAM_BASE + sizeof(ram))
        return -1;
    if (to_guest)
        memcpy(ram + (gpa - RAM_BASE), buf, len);
    else
        memcpy(buf, ram + (gpa - RAM_BASE), len);
    return 0;
}

/* A device that counts: reads give 0x100 * reads + off, writes are logged. */
struct dev { unsigned reads, writes; uint64_t last_off, log[64]; };

static uint64_t dev_read(void *ctx, uint64_t off, unsigned size)
{
    struct dev *d = ctx;
    (void)size;
    d->last_off = off;
    return 0x100u * ++d->reads + off;
}

static void dev_write(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    struct dev *d = ctx;
    (void)size;
    d->last_off = off;
    if (d->writes < 64)
        d->log[d->writes] = val;
    d->writes++;
}

static struct dev port_dev, inner_dev, mmio_dev, pci_dev;
static struct dm_region tab[] = {
    { "inner", IOREQ_TYPE_PIO, 0x101, 0x101, 1u << 1, true, &inner_dev, dev_read, dev_write },
    { "port", IOREQ_TYPE_PIO, 0x100, 0x107, (1u << 1) | (1u << 2) | (1u << 4), false, &port_dev,
      dev_read, dev_write },
    { "mmio", IOREQ_TYPE_COPY, 0xfe000000u, 0xfe000fffu, 0x116, false, &mmio_dev, dev_read,
      dev_write },
    { "pci", IOREQ_TYPE_PCI_CONFIG, 8, 9, 0x116, false, &pci_dev, dev_read, dev_write },
};
static const struct dm_guest guest = { copy, NULL };
static struct dm_serve_stats st;

static ioreq_t req(uint8_t type, uint64_t addr, unsigned size, bool read, uint64_t data)
{
    ioreq_t p;
    memset(&p, 0, sizeof(p));
    p.type = type;
    p.addr = addr;
    p.size = size;
    p.count = 1;
    p.dir = read ? IOREQ_READ : IOREQ_WRITE;
    p.data = data;
    return p;
}

static const struct dm_region *serve(ioreq_t *p)
{
    return dm_serve(tab, 4, p, &guest, &st);
}

int main(void)
{
    /* one access, and the nested region first */
    ioreq_t p = req(IOREQ_TYPE_PIO, 0x102, 2, true, 0);
    EXPECT(serve(&p) == &tab[1] && p.data == 0x102 && port_dev.last_off == 2);
    p = req(IOREQ_TYPE_PIO, 0x101, 1, false, 0x5a);
    EXPECT(serve(&p) == &tab[0] && inner_dev.writes == 1 && inner_dev.log[0] == 0x5a);
    p = req(IOREQ_TYPE_PIO, 0x101, 2, true, 0);             /* not a size inner takes */
    EXPECT(serve(&p) == &tab[1] && port_dev.last_off == 1);
    /* refusals: no region, past its end, a size it does not take, a bad size,
     * a count without a pointer, PCI config by pointer */
    unsigned long refused = st.refused;
    p = req(IOREQ_TYPE_PIO, 0x200, 1, true, 0);
    EXPECT(!serve(&p) && p.data == ~0ULL);
    p = req(IOREQ_TYPE_PIO, 0x106, 4, true, 0);
    EXPECT(!serve(&p) && p.data == ~0ULL);
    p = req(IOREQ_TYPE_PIO, 0x100, 8, true, 0);
    EXPECT(!serve(&p));
    p = req(IOREQ_TYPE_PIO, 0x100, 3, true, 0);
    EXPECT(!serve(&p));
    p = req(IOREQ_TYPE_PIO, 0x100, 1, true, 0);
    p.count = 2;
    EXPECT(!serve(&p));
    p = req(IOREQ_TYPE_PCI_CONFIG, (8ULL << 32) | 4, 4, true, RAM_BASE);
    p.data_is_ptr = 1;
    EXPECT(!serve(&p));
    EXPECT(st.refused == refused + 6);
    /* PCI config by SBDF: the handler sees the whole address */
    p = req(IOREQ_TYPE_PCI_CONFIG, (9ULL << 32) | 0x10, 4, false, 7);
    EXPECT(serve(&p) == &tab[3] && pci_dev.last_off == ((9ULL << 32) | 0x10));
    p = req(IOREQ_TYPE_PCI_CONFIG, (10ULL << 32), 4, true, 0);
    EXPECT(!serve(&p) && p.data == ~0ULL);

    /* REP INSW by pointer, upward: each element read from the same port */
    port_dev.reads = 0;
    memset(ram, 0xcc, sizeof(ram));
    p = req(IOREQ_TYPE_PIO, 0x100, 2, true, RAM_BASE + 0x10);
    p.data_is_ptr = 1;
    p.count = 4;
    EXPECT(serve(&p) == &tab[1] && st.by_ptr == 1);
    for (unsigned i = 0; i < 4; i++) {
        uint16_t w;
        memcpy(&w, ram + 0x10 + 2 * i, 2);
        EXPECT(w == 0x100 * (i + 1));
    }
    EXPECT(ram[0x0f] == 0xcc && ram[0x18] == 0xcc);
    /* downward (df): the first element at data, the next below it */
    port_dev.reads = 0;
    p = req(IOREQ_TYPE_PIO, 0x104, 4, true, RAM_BASE + 0x100);
    p.data_is_ptr = 1;
    p.df = 1;
    p.count = 3;
    EXPECT(serve(&p) == &tab[1]);
    uint32_t d[3];
    memcpy(d, ram + 0x100 - 8, 12);
    EXPECT(d[2] == 0x104 && d[1] == 0x204 && d[0] == 0x304);
    /* REP OUTSB by pointer across a page boundary of guest memory */
    for (unsigned i = 0; i < 8; i++)
        ram[4096 - 4 + i] = (uint8_t)(0xa0 + i);
    port_dev.writes = 0;
    p = req(IOREQ_TYPE_PIO, 0x100, 1, false, RAM_BASE + 4096 - 4);
    p.data_is_ptr = 1;
    p.count = 8;
    EXPECT(serve(&p) == &tab[1] && port_dev.writes == 8);
    for (unsigned i = 0; i < 8; i++)
        EXPECT(port_dev.log[i] == 0xa0 + i);
    /* an MMIO move by pointer: the device address steps too */
    p = req(IOREQ_TYPE_COPY, 0xfe000010u, 4, true, RAM_BASE);
    p.data_is_ptr = 1;
    p.count = 4;
    EXPECT(serve(&p) == &tab[2] && mmio_dev.last_off == 0x1c);
    /* ... and may not run past the region */
    p.addr = 0xfe000ff8u;
    EXPECT(!serve(&p));
    /* memory that cannot be copied stops the request where it is */
    port_dev.writes = 0;
    unsigned long bad = st.ptr_bad;
    p = req(IOREQ_TYPE_PIO, 0x100, 4, false, RAM_BASE + sizeof(ram) - 8);
    p.data_is_ptr = 1;
    p.count = 5;
    EXPECT(serve(&p) == &tab[1] && port_dev.writes == 2 && st.ptr_bad == bad + 1);
    /* counts: 0, and past the most one request may name */
    p.count = 0;
    EXPECT(!serve(&p));
    p.count = DM_PTR_COUNT_MAX + 1;
    EXPECT(!serve(&p));
    /* a request by pointer needs a guest to copy with */
    p = req(IOREQ_TYPE_PIO, 0x100, 1, true, RAM_BASE);
    p.data_is_ptr = 1;
    EXPECT(!dm_serve(tab, 4, &p, NULL, &st));
    UNIT_DONE();
}
