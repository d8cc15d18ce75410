/* vnetif.h: lwIP's interface on the virtio-net device (vnetif.c), started by minios_net_init. */
#ifndef MINIOS_LWIP_VNETIF_H
#define MINIOS_LWIP_VNETIF_H
/* If the domain owns a virtio-net device: opens it, adds the "en"
 * interface as the default route and configures it (ip=/gw= or DHCP,
 * waiting up to 10 s for a lease).  A device the application opened
 * itself (minios_vnet_open) is left to it.  0 (also without a device,
 * or with one the application holds), or a
 * negative Xen errno.  Called once, from a thread, with lwIP running. */
int minios_vnetif_start(void);
#endif
