/* Host unit test of a type=hvm domain's I/O APIC (hv/hvm/vioapic.c), under
 * ASan/UBSan: its page's registers through IOREGSEL/IOWIN (ID, version,
 * arbitration, the redirection table's writable bits, all pins masked at
 * first), the ISA routing (IRQ0 on pin 2, the others on their own pins),
 * delivery of fixed and lowest-priority vectors to the local APIC the
 * entry names, and refusals: other widths and offsets (all ones, dropped,
 * counted), absent and read-only registers, masked pins, ExtINT (the
 * PICs'), NMI/SMI/INIT (counted, not delivered), another destination,
 * addresses outside the page and domains without one; level-triggered
 * pins: remote IRR, shared PCI INTx lines, delivery again after EOI while
 * asserted, on unmasking, and none after the line falls. */
#include <stdlib.h>
#include <string.h>
#include "lib.h"
#include "domain.h"
#include "hvm.h"
#include "../../hv/hvm/hvm_internal.h"
#include "unit.h"

/* What vioapic.c calls: pages from the host, and a local APIC that
 * records what reaches it (APIC ID 0, logical ID 1). */
void *alloc_hv_pages(unsigned order)
{
    return aligned_alloc(4096, 4096ul << order);
}

void free_hv_pages(void *va, unsigned order)
{
    (void)order;
    free(va);
}

static unsigned delivered, last_vec, callbacks;
static bool last_level;

void hvm_callback_level(struct domain *d)
{
    (void)d;
    callbacks++;
}

bool vlapic_match_dest(struct vcpu *v, uint8_t dest, bool logical)
{
    (void)v;
    return logical ? (dest & 1) != 0 : dest == 0 || dest == 0xff;
}

void vlapic_set_irq(struct vcpu *v, uint8_t vec, bool level)
{
    (void)v;
    delivered++;
    last_vec = vec;
    last_level = level;
}

static struct vcpu v0;

static uint64_t rd(uint64_t gpa, unsigned size)
{
    uint64_t val = 0;
    EXPECT(vioapic_mmio(&v0, gpa, size, false, &val));
    return val;
}

static void wr(uint64_t gpa, unsigned size, uint64_t val)
{
    EXPECT(vioapic_mmio(&v0, gpa, size, true, &val));
}

static uint32_t reg(uint32_t sel)
{
    wr(0xfec00000, 4, sel);
    return (uint32_t)rd(0xfec00010, 4);
}

static void set_reg(uint32_t sel, uint32_t val)
{
    wr(0xfec00000, 4, sel);
    wr(0xfec00010, 4, val);
}

int main(void)
{
    static struct domain d;
    struct vcpu *vcpus[1] = { &v0 };
    d.vcpu = vcpus;
    d.nr_vcpus = 1;
    v0.domain = &d;
    uint64_t val;
    /* no I/O APIC (PVH, or before the build): not its access */
    EXPECT(!vioapic_mmio(&v0, 0xfec00000, 4, false, &val));
    vioapic_isa_irq(&d, 1);
    EXPECT(delivered == 0);
    EXPECT(vioapic_init(&d) == 0);
    /* outside its 256 bytes: not its access */
    EXPECT(!vioapic_mmio(&v0, 0xfec00100, 4, false, &val));
    EXPECT(!vioapic_mmio(&v0, 0xfebffffc, 4, false, &val));
    /* ID, version (48 pins, 0x11), arbitration */
    EXPECT(reg(0) == 0 && reg(1) == 0x002f0011 && reg(2) == 0);
    set_reg(0, 0x0f000000 | 0x00ffffff);
    EXPECT(reg(0) == 0x0f000000 && reg(2) == 0x0f000000);
    set_reg(1, 0x12345678);                         /* read-only */
    EXPECT(reg(1) == 0x002f0011);
    EXPECT(reg(0x70) == 0xffffffffu);               /* past pin 47 */
    EXPECT(rd(0xfec00000, 4) == 0x70);              /* IOREGSEL reads back */
    /* every pin masked at first */
    bool masked = true;
    for (unsigned p = 0; p < 48; p++)
        masked = masked && reg(0x10 + 2 * p) == 0x10000 && reg(0x11 + 2 * p) == 0;
    EXPECT(masked);
    /* a masked pin delivers nothing */
    vioapic_isa_irq(&d, 1);
    EXPECT(delivered == 0);
    /* pin 1: vector 0x31, fixed, physical to 0; status and remote IRR read 0 */
    set_reg(0x12, 0x31 | 1u << 12 | 1u << 14);
    set_reg(0x13, 0x00000000);
    EXPECT(reg(0x12) == 0x31);
    vioapic_isa_irq(&d, 1);
    EXPECT(delivered == 1 && last_vec == 0x31);
    /* IRQ0 is pin 2's, not pin 0's */
    set_reg(0x10, 0x30);                            /* pin 0 */
    vioapic_isa_irq(&d, 0);
    EXPECT(delivered == 1);
    set_reg(0x14, 0x32);                            /* pin 2 */
    vioapic_isa_irq(&d, 0);
    EXPECT(delivered == 2 && last_vec == 0x32);
    /* lowest priority, logical to LDR bit 0: delivered; to bit 1: not */
    set_reg(0x18, 0x34 | 1u << 8 | 1u << 11);       /* pin 4 */
    set_reg(0x19, 0x01000000);
    vioapic_isa_irq(&d, 4);
    EXPECT(delivered == 3 && last_vec == 0x34);
    set_reg(0x19, 0x02000000);
    vioapic_isa_irq(&d, 4);
    EXPECT(delivered == 3);
    /* physical to APIC ID 5 (no such vCPU): not delivered; broadcast is */
    set_reg(0x18, 0x34);
    set_reg(0x19, 0x05000000);
    vioapic_isa_irq(&d, 4);
    EXPECT(delivered == 3);
    set_reg(0x19, 0xff000000);
    vioapic_isa_irq(&d, 4);
    EXPECT(delivered == 4);
    /* ExtINT: the PICs'; NMI, SMI, INIT: not emulated */
    set_reg(0x1c, 0x36 | 7u << 8);                  /* pin 6 */
    vioapic_isa_irq(&d, 6);
    set_reg(0x1c, 0x36 | 4u << 8);
    vioapic_isa_irq(&d, 6);
    set_reg(0x1c, 0x36 | 2u << 8);
    vioapic_isa_irq(&d, 6);
    set_reg(0x1c, 0x36 | 5u << 8);
    vioapic_isa_irq(&d, 6);
    EXPECT(delivered == 4 && d.arch.hvm.ioapic != NULL);
    /* other widths and offsets: all ones, writes dropped */
    EXPECT(rd(0xfec00000, 1) == 0xff && rd(0xfec00010, 2) == 0xffff);
    EXPECT(rd(0xfec00010, 8) == ~0ULL && rd(0xfec00020, 4) == 0xffffffffu);
    EXPECT(rd(0xfec00004, 4) == 0xffffffffu);
    wr(0xfec00000, 1, 0x12);
    EXPECT(rd(0xfec00000, 4) == 0x1c);              /* IOREGSEL unchanged */
    wr(0xfec00010, 2, 0);
    EXPECT(reg(0x1c) == (0x36 | 5u << 8));          /* pin 6 unchanged */
    /* IRQs past the pins: nothing */
    vioapic_isa_irq(&d, 24);
    vioapic_isa_irq(&d, 200);
    EXPECT(delivered == 4);
    /* level-triggered: PCI device 1's INTA is GSI 20 (Xen's mapping) */
    EXPECT(vioapic_pci_intx_gsi(1, 0) == 20 && vioapic_pci_intx_gsi(2, 0) == 24 &&
           vioapic_pci_intx_gsi(8, 3) == 20 && vioapic_pci_intx_gsi(31, 3) == 18);
    unsigned before = delivered;
    set_reg(0x10 + 2 * 20, 0x50 | 1u << 15 | 1u << 13);   /* level, active low, vector 0x50 */
    set_reg(0x11 + 2 * 20, 0);
    vioapic_pci_intx(&d, 1, 0, true);
    EXPECT(delivered == before + 1 && last_vec == 0x50 && last_level);
    EXPECT(reg(0x10 + 2 * 20) & (1u << 14));               /* remote IRR */
    vioapic_pci_intx(&d, 8, 3, true);                      /* shares GSI 20: no second */
    EXPECT(delivered == before + 1);
    vioapic_pci_intx(&d, 1, 0, false);                     /* device 8 still holds it */
    vioapic_eoi(&d, 0x50);
    EXPECT(delivered == before + 2 && callbacks == 1);     /* again: still asserted */
    vioapic_pci_intx(&d, 8, 3, false);
    vioapic_eoi(&d, 0x50);
    EXPECT(delivered == before + 2 && !(reg(0x10 + 2 * 20) & (1u << 14)));
    vioapic_eoi(&d, 0x50);                                 /* a stray EOI: nothing */
    EXPECT(delivered == before + 2);
    /* masked while asserted: nothing; unmasked: delivered */
    set_reg(0x10 + 2 * 20, 0x50 | 1u << 15 | 1u << 16);
    vioapic_pci_intx(&d, 1, 0, true);
    EXPECT(delivered == before + 2);
    set_reg(0x10 + 2 * 20, 0x50 | 1u << 15);
    EXPECT(delivered == before + 3);
    /* to edge: remote IRR goes; an ISA line held high on an edge pin
     * delivers once, on a level pin again after each EOI */
    set_reg(0x10 + 2 * 20, 0x50);
    EXPECT(!(reg(0x10 + 2 * 20) & (1u << 14)));
    vioapic_pci_intx(&d, 1, 0, false);
    set_reg(0x10 + 2 * 9, 0x59 | 1u << 15);                /* the SCI's pin: level */
    vioapic_isa_level(&d, 9, true);
    EXPECT(delivered == before + 4 && last_vec == 0x59 && last_level);
    vioapic_eoi(&d, 0x59);
    EXPECT(delivered == before + 5);
    vioapic_isa_level(&d, 9, false);
    vioapic_eoi(&d, 0x59);
    EXPECT(delivered == before + 5);
    set_reg(0x10 + 2 * 9, 0x59);                           /* edge */
    vioapic_isa_level(&d, 9, true);
    vioapic_isa_level(&d, 9, true);
    EXPECT(delivered == before + 6 && !last_level);
    /* bad INTx and GSIs: nothing */
    vioapic_pci_intx(&d, 32, 0, true);
    vioapic_pci_intx(&d, 0, 4, true);
    vioapic_gsi_level(&d, 48, true);
    vioapic_gsi_level(&d, 9, true);                        /* an ISA pin: not through here */
    EXPECT(delivered == before + 6);
    hvm_vioapic_free(&d);
    EXPECT(d.arch.hvm.ioapic == NULL);
    UNIT_DONE();
}
