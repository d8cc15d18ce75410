/* Local APIC: timer and end-of-interrupt. */
#ifndef KEEL_APIC_H
#define KEEL_APIC_H
void apic_init(void);
void apic_eoi(void);
void set_guest_stack(unsigned long top);
void traps_init(void);
#endif
