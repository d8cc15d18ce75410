/* Host unit test of the device model's PCI config space (stubdoms/dm/pci.c),
 * under ASan/UBSan: IDs and header types, write masks, absent functions,
 * and accesses of a bad width, alignment or offset refused without effect. */
#include "pci.h"
#include "unit.h"

int main(void)
{
    struct pci_bus b;
    pci_bus_init_i440fx(&b);
    EXPECT(pci_cfg_read(&b, 0, 0, 4) == 0x12378086u);
    EXPECT(pci_cfg_read(&b, 8, 0, 4) == 0x70008086u);
    EXPECT(pci_cfg_read(&b, 0, 0x0e, 1) == 0x00 && pci_cfg_read(&b, 8, 0x0e, 1) == 0x80);
    EXPECT(pci_cfg_read(&b, 0, 0x08, 4) == 0x06000002u);      /* class 06/00/00, rev 2 */
    EXPECT(pci_cfg_read(&b, 8, 0x0a, 2) == 0x0601);
    /* absent functions: all ones, not counted as bad */
    EXPECT(pci_cfg_read(&b, 1, 0, 4) == 0xffffffffu && pci_cfg_read(&b, 16, 0, 2) == 0xffff);
    EXPECT(b.bad == 0);
    /* IDs, class and header are read-only; command takes its bits only */
    pci_cfg_write(&b, 0, 0, 4, 0xdeadbeef);
    pci_cfg_write(&b, 0, 0x08, 4, 0);
    EXPECT(pci_cfg_read(&b, 0, 0, 4) == 0x12378086u && pci_cfg_read(&b, 0, 0x08, 4) == 0x06000002u);
    pci_cfg_write(&b, 0, 0x04, 2, 0xffff);
    EXPECT(pci_cfg_read(&b, 0, 0x04, 2) == 0x0147);
    EXPECT(pci_cfg_read(&b, 0, 0x06, 2) == 0x0280);           /* status kept */
    /* device-specific registers and the interrupt line are kept */
    pci_cfg_write(&b, 0, 0x59, 1, 0x30);                      /* i440FX PAM0 */
    pci_cfg_write(&b, 8, 0x3c, 1, 0x0b);
    EXPECT(pci_cfg_read(&b, 0, 0x58, 4) == 0x3000u && pci_cfg_read(&b, 8, 0x3c, 1) == 0x0b);
    /* bad accesses: counted, nothing changed, all ones */
    EXPECT(pci_cfg_read(&b, 0, 0x01, 2) == 0xffff);           /* misaligned */
    EXPECT(pci_cfg_read(&b, 0, 0xfe, 4) == 0xffffffffu);      /* misaligned, past the end */
    EXPECT(pci_cfg_read(&b, 0, 0x100, 1) == 0xff);            /* past 256 */
    EXPECT(pci_cfg_read(&b, 0, 0, 3) == 0xffffff);            /* width */
    pci_cfg_write(&b, 0, 0x59, 2, 0xffff);
    pci_cfg_write(&b, 0, 0x300, 1, 0);
    EXPECT(pci_cfg_read(&b, 0, 0x59, 1) == 0x30);
    EXPECT(b.bad == 6);
    /* the Xen platform device at 00:02.0: IDs, class, and its BARs' sizes
     * as firmware probes them (all ones written, the mask read back) */
    pci_bus_add_xen_platform(&b);
    EXPECT(pci_cfg_read(&b, 0x10, 0, 4) == 0x00015853);
    EXPECT(pci_cfg_read(&b, 0x10, 8, 4) == 0xff800001);
    EXPECT(pci_cfg_read(&b, 0x10, 0x2c, 4) == 0x00015853 && pci_cfg_read(&b, 0x10, 0x3d, 1) == 1);
    pci_cfg_write(&b, 0x10, 0x10, 4, 0xffffffff);
    EXPECT(pci_cfg_read(&b, 0x10, 0x10, 4) == 0xffffff01);         /* 256 bytes of I/O */
    pci_cfg_write(&b, 0x10, 0x14, 4, 0xffffffff);
    EXPECT(pci_cfg_read(&b, 0x10, 0x14, 4) == 0xff000008);         /* 16 MiB, prefetchable */
    pci_cfg_write(&b, 0x10, 0x14, 4, 0xf0000000);
    EXPECT(pci_cfg_read(&b, 0x10, 0x14, 4) == 0xf0000008);
    pci_cfg_write(&b, 0x10, 0x00, 4, 0);                            /* IDs read-only */
    EXPECT(pci_cfg_read(&b, 0x10, 0, 4) == 0x00015853);
    UNIT_DONE();
}
