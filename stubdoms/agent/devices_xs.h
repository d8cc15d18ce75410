/* devices_xs.h: a started VM's devices in the store (devices_xs.c, minios). */
#ifndef KEEL_AGENT_DEVICES_XS_H
#define KEEL_AGENT_DEVICES_XS_H
#include <stddef.h>
#include <stdint.h>
struct agent_vmdef;
struct agent_net;

/* agent_hv.networks: the netback domains now. */
int devices_xs_networks(void *ctx, struct agent_net *out, unsigned max);
/* Writes the frontend and backend nodes of vm's VIFs for domain fe
 * (before it runs); 0, or -1 with the reason (what was written removed). */
int devices_xs_write(const struct agent_vmdef *vm, uint32_t fe, char *err, size_t errlen);
/* agent_hv.disk_backend: the domain named tapdisk, or -1. */
long devices_xs_disk_backend(void *ctx);
/* Writes the nodes of vm's VBDs (devices.c) for domain fe, served by
 * tapdisk; 0, or -1 with the reason. */
int devices_xs_write_vbds(const struct agent_vmdef *vm, uint32_t fe, char *err, size_t errlen);
/* Removes the backend directories of domain fe (once it has gone). */
void devices_xs_remove(uint32_t fe);
#endif
