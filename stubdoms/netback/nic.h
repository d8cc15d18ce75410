/* nic.h: netback's physical uplink, the owned virtio-net device as switch port nic0 (nic.c). */
#ifndef NETBACK_NIC_H
#define NETBACK_NIC_H
#include <stdbool.h>
#include <stdint.h>
#include "switch.h"

/* Opens the first virtio-net device the domain owns (pci=) and adds it to
 * the switch; wake_main is called (from the device's thread) when frames
 * wait.  0 also when the domain owns no NIC; negative when it has one that
 * would not open. */
int nic_start(struct sw *sw, void (*wake_main)(void));
/* Whether received frames wait for nic_poll. */
bool nic_pending(void);
/* Switches the frames received since the last call (main loop only). */
void nic_poll(struct sw *sw, uint64_t now_ns);
/* Prints the uplink's counters. */
void nic_report(void);
#endif
