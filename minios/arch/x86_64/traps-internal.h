/* traps-internal.h: what minios's trap entry code and its C side share (not public). */
#ifndef MINIOS_TRAPS_INTERNAL_H
#define MINIOS_TRAPS_INTERNAL_H

/* Pseudo vectors that the event and failsafe callback entries put in the
 * frame, so that one common entry path serves all three. */
#define MINIOS_VEC_EVENT    256
#define MINIOS_VEC_FAILSAFE 257

#endif /* MINIOS_TRAPS_INTERNAL_H */
