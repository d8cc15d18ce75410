/* Local APIC: timer and end-of-interrupt. */
#ifndef KEEL_APIC_H
#define KEEL_APIC_H
#include "lib.h"
void apic_init(void);
void apic_eoi(void);
void apic_oneshot_ns(uint64_t ns);
void set_guest_stack(unsigned long top);
void traps_init(void);
#endif
