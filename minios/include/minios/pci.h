/* pci.h: the PCI devices this domain owns (pci= on its module line): configuration space, BAR mappings, MSI-X vectors as event channels. */
#ifndef MINIOS_PCI_H
#define MINIOS_PCI_H
#include <stddef.h>
#include <stdint.h>
#include <minios/events.h>
/*
 * A device is named by its BDF, bus << 8 | device << 3 | function, as
 * lspci's "BB:DD.F".  The hypervisor gives a domain the devices that its
 * module line names with pci=BB:DD.F (docs/pci.md); minios learns them
 * from that line.  Configuration space is reached through ports
 * 0xcf8/0xcfc (the hypervisor filters it as Xen's pciback would); the
 * first call asks for I/O privilege (PHYSDEVOP_set_iopl).
 *
 * Errors are negative Xen errnos (-XEN_ENODEV ...).
 */
#define MINIOS_PCI_MAX_OWNED 8
/* Fills bdfs[0..max) with the devices the command line gives this domain
 * (malformed pci= words are skipped with a message); returns how many. */
int minios_pci_owned(uint16_t *bdfs, int max);
/* 1 if bdf is among them. */
int minios_pci_is_owned(uint16_t bdf);
/* Parses "BB:DD.F" (hex); 0 and *bdf, or -XEN_EINVAL. */
int minios_pci_parse_bdf(const char *s, uint16_t *bdf);
/* Configuration space, the first 256 bytes; size 1, 2 or 4, reg aligned
 * to it.  A register out of range or misaligned reads as all ones and is
 * not written.  A device not owned reads as absent (all ones). */
uint32_t minios_pci_read(uint16_t bdf, unsigned reg, unsigned size);
void minios_pci_write(uint16_t bdf, unsigned reg, unsigned size, uint32_t val);
/* Offset of the first capability with id cap_id after offset 'after'
 * (0: from the start of the list), or 0 if none (the walk is bounded). */
unsigned minios_pci_find_cap(uint16_t bdf, uint8_t cap_id, unsigned after);
/* BAR n (0-5): its bus address, size (sized as firmware does) and
 * whether it is I/O space; 0, or -XEN_EINVAL (no such BAR, or the upper
 * half of a 64-bit one), -XEN_ENODEV (not owned). */
int minios_pci_bar(uint16_t bdf, unsigned n, uint64_t *addr, uint64_t *size, int *is_io);
/* Maps len bytes of device memory at bus (= machine) address maddr,
 * uncached, writable; the address of maddr's byte, or NULL (more than
 * 2 MiB, no virtual space, or the hypervisor refused: not our BAR). */
volatile void *minios_pci_map(uint64_t maddr, size_t len);
/* Turns on memory (and I/O) decoding and bus mastering. */
void minios_pci_enable(uint16_t bdf);
/*
 * MSI-X entry 'entry' of the device as an event channel: mapped to a
 * PIRQ (PHYSDEVOP_map_pirq), bound (EVTCHNOP_bind_pirq), and h(port,
 * data) called for each interrupt (in event context: never block).  The
 * hypervisor programs the table and enables MSI-X.  0 and *port, or a
 * negative errno (-XEN_ENODEV: no MSI-X; the hypervisor's otherwise).
 */
int minios_pci_msix_bind(uint16_t bdf, unsigned entry, minios_evtchn_handler h, void *data,
                         evtchn_port_t *port);
/* Undoes minios_pci_msix_bind (the port closed, the PIRQ unmapped). */
void minios_pci_msix_unbind(uint16_t bdf, evtchn_port_t port);
/* Number of MSI-X table entries, 0 without MSI-X. */
unsigned minios_pci_msix_entries(uint16_t bdf);
#endif /* MINIOS_PCI_H */
