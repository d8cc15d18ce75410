/* Local APIC: timer and end-of-interrupt. */
#ifndef KEEL_APIC_H
#define KEEL_APIC_H
#include "lib.h"
struct domain;
void apic_init(void);
void apic_eoi(void);
void apic_oneshot_ns(uint64_t ns);
uint32_t apic_id(void);
bool apic_x2apic_mode(void);
void apic_send_ipi(uint32_t dest, unsigned vector);
void apic_send_nmi(uint32_t dest);
void apic_send_init(uint32_t dest);
void apic_send_sipi(uint32_t dest, unsigned page);
void apic_init_ap(void);
void smp_init(void);
void apic_check_timers(void);
void flush_tlb_domain(struct domain *d);
void tlb_flush_poll(void);
void send_ipi(unsigned cpu, unsigned vector);
bool on_cpu(unsigned cpu, void (*fn)(void *), void *arg, uint64_t timeout_us);
void set_guest_stack(unsigned long top);
void traps_init(void);
#endif
