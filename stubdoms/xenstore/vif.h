/* vif.h: the xenstore stub's vif wiring from the boot lines (vif.c; docs/network.md). */
#ifndef XS_VIF_H
#define XS_VIF_H

#include <stdbool.h>
#include "xs_store.h"

void xsv_set_log(void (*log)(const char *fmt, ...));
/* Remembers a boot line's domid, name, vif=, mac=, fw= (call for every
 * line before the first xsv_domain_up). */
void xsv_note_line(const char *line);
/* domid was introduced (at boot or again after a restart): writes its own
 * vif's frontend and backend nodes, and the backend nodes of every present
 * frontend whose vif= names it. */
void xsv_domain_up(struct xs_store *s, unsigned domid);
/* domid is gone: the backend half of its vif is removed. */
void xsv_domain_gone(struct xs_store *s, unsigned domid);
/* Gives reader back read access to path and the nodes below it (a
 * restarted backend lost its entries when its old life died). */
void xsv_regrant(struct xs_store *s, const char *path, unsigned reader);
/* The MAC a domain of this name gets without mac=; syntax check of mac=. */
void xsv_default_mac(const char *name, char out[18]);
bool xsv_mac_ok(const char *mac);

#endif
