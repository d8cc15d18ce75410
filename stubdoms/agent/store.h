/* store.h: the xenstore introduction of the domains the agent starts
 * (store.c, minios only). */
#ifndef KEEL_AGENT_STORE_H
#define KEEL_AGENT_STORE_H
#include <stdint.h>
#include <stddef.h>
struct agent_vmdef;
struct build_out;

/* The xenstore domain's id, or -1 if there is none. */
int store_domid(void);
/* Writes the new domain's nodes (the agent, self, owning libxl's dom0
 * ones) and sends XS_INTRODUCE; 0, or -1 with the reason (nodes removed). */
int store_introduce(uint32_t self, const struct agent_vmdef *vm, const struct build_out *o,
                    char *err, size_t errlen);
/* After a restart of the agent: follows again the domains whose
 * /local/domain/N it wrote (those with a vm node naming /vm/...). */
void store_adopt(uint32_t self);
/* For each domain introduced that is dying or gone: XS_RELEASE and its
 * nodes removed. */
void store_reap(void);
#endif
