/* Between the files of hv/hvm/. */
#ifndef KEEL_HVM_INTERNAL_H
#define KEEL_HVM_INTERNAL_H
#include "domain.h"

/* One #VMEXIT of v (current), its registers synced from the VMCB. */
/* After each #VMEXIT: a guest XSETBV the CPU ran without an exit (hvm.c). */
void hvm_xcr0_sync(struct vcpu *v);
void hvm_exit(struct vcpu *v, struct cpu_user_regs *r);

/* Before each VMRUN of v: its callback vector as V_IRQ while its event
 * upcall is pending (hvm.c). */
void hvm_inject_callback(struct vcpu *v);

/* guest virtual -> guest physical through v's page tables (hvm.c); 0 or
 * -1 (not mapped, or a paging mode not walked). */
int hvm_gva_to_gpa(struct vcpu *v, uint64_t gva, bool write, uint64_t *gpa);

/* Ports with no device model (hvm.c): reads all ones, 0xe9 the debug
 * console, other writes dropped. */
uint32_t hvm_port_in(struct vcpu *v, unsigned port, unsigned size);
void hvm_port_out(struct vcpu *v, unsigned port, unsigned size, uint32_t val);

/* A vCPU's first state (pvh_build.c): segments, CR0, RIP. */
struct hvm_boot_segs {
    uint16_t cs, code, ds, data, tr;      /* selectors and VMCB attributes */
    uint32_t limit, tr_limit, dt_limit;
    uint64_t cs_base;
};
void hvm_boot_state(struct vcpu *v, const struct hvm_boot_segs *s, uint64_t cr0, uint64_t rip);
/* A new domain's n frames and their list (pvh_build.c). */
uint64_t *hvm_alloc_frames(struct domain *d, uint64_t n, unsigned *order, char *err,
                           size_t errlen);

/* External interrupts (hvm.c): whether v can take one now (RFLAGS.IF, no
 * STI/MOV SS shadow, no other event being injected); else ask for an exit
 * as soon as it can (V_IRQ with the VINTR intercept). */
bool hvm_intr_ready(struct vcpu *v);
void hvm_intr_window(struct vcpu *v);

/* Ports the hypervisor emulates for a type=hvm domain (rtc.c: 0x70/0x71),
 * before any ioreq server: true if handled (*val in and out). */
bool hvm_rtc_port(struct vcpu *v, unsigned port, unsigned size, bool in, uint32_t *val);
/* isa.c: the PICs (0x20/0x21, 0xa0/0xa1, ELCR 0x4d0/0x4d1), the PIT
 * (0x40-0x43) and port 0x61 of a type=hvm domain; an interrupt from them
 * waiting (HLT), and its injection before VMRUN. */
bool hvm_isa_port(struct vcpu *v, unsigned port, unsigned size, bool in, uint32_t *val);
bool hvm_hv_port(struct vcpu *v, unsigned port, unsigned size, bool in, uint32_t *val);
bool hvm_hv_port_owned(struct domain *d, unsigned port, unsigned size);
bool hvm_isa_pending(struct vcpu *v);
void hvm_isa_inject(struct vcpu *v);
/* pmtimer.c: the ACPI PM timer (0xb008) and PM1a event block (0xb000) of a
 * type=hvm domain: its count started at build; a port access (true if
 * taken), whether one would be taken; TMR_STS and the SCI brought up to
 * date (vCPU 0, before each VMRUN and in HLT). */
void hvm_pm_init(struct domain *d);
bool hvm_pm_port(struct vcpu *v, unsigned port, unsigned size, bool in, uint32_t *val);
bool hvm_pm_port_owned(struct domain *d, unsigned port, unsigned size);
void hvm_pm_check(struct vcpu *v);

/* The instruction emulator on an exit (mmio.c): emulates the instruction
 * at RIP; #UD/#GP/#PF into the guest, or crashes it.  what names the exit. */
void hvm_emulate_insn(struct vcpu *v, struct cpu_user_regs *r, const char *what);

/* A nested page fault (mmio.c): MMIO through the emulator, else a crash. */
void hvm_npf(struct vcpu *v, struct cpu_user_regs *r, uint64_t info1, uint64_t gpa);

/* The local APIC (vlapic.c): reset at build; its MSRs (and IA32_APIC_BASE),
 * false for #GP; the vector it would deliver now (-1: none); injection
 * before each VMRUN, after the callback's; its xAPIC page (vlapic_mmio: true
 * if it took the access). */
void vlapic_reset(struct vcpu *v);
bool vlapic_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);
bool vlapic_msr_write(struct vcpu *v, uint32_t msr, uint64_t val);
bool vlapic_mmio(struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val);
int vlapic_pending(struct vcpu *v);
void vlapic_inject(struct vcpu *v);
/* The vCPU's HVM timer set to the earliest of its LAPIC timer and (a
 * type=hvm vCPU 0) its PIT's next IRQ0 and its PM timer's next TMR_STS. */
void hvm_timer_arm(struct vcpu *v);
/* Whether an interrupt to destination dest (logical: by LDR, else by APIC
 * ID; 0xff: broadcast) reaches v's local APIC; a fixed interrupt to it
 * (IRR, from any pCPU: atomic; v woken or kicked). */
bool vlapic_match_dest(struct vcpu *v, uint8_t dest, bool logical);
void vlapic_set_irq(struct vcpu *v, uint8_t vec, bool level);

/* A type=hvm domain's I/O APIC (vioapic.c): made at build (-1: no
 * memory; hvm_vioapic_free in hvm.h); its page at 0xfec00000 (true: the
 * access was its); an edge on ISA IRQ irq. */
int vioapic_init(struct domain *d);
bool vioapic_mmio(struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val);
void vioapic_isa_irq(struct domain *d, unsigned irq);
/* Inputs that stay (vioapic.c): an ISA line's level (its pin), a PCI
 * INTx line's (device 0-31, intx 0-3: its GSI, vioapic_pci_intx_gsi); the
 * local APIC's EOI of a level-triggered vector; the callback's line
 * (hvm.c: HVM_PARAM_CALLBACK_IRQ via a GSI or PCI INTx follows vCPU 0's
 * evtchn_upcall_pending). */
void vioapic_isa_level(struct domain *d, unsigned irq, bool level);
void vioapic_gsi_level(struct domain *d, unsigned gsi, bool level);   /* 16-47 */
unsigned vioapic_pci_intx_gsi(unsigned device, unsigned intx);
void vioapic_pci_intx(struct domain *d, unsigned device, unsigned intx, bool level);
void vioapic_eoi(struct domain *d, uint8_t vec);
void hvm_callback_level(struct domain *d);
/* An MTRR save record for v (hvm.c): checked (and loaded with PAT if
 * load): 0 or -EINVAL; and v's MTRRs and PAT as one. */
struct hvm_hw_mtrr;
long hvm_mtrr_record(struct vcpu *v, const struct hvm_hw_mtrr *r, bool load);
void hvm_mtrr_save(struct vcpu *v, struct hvm_hw_mtrr *r);

/* vcpu_areas.c: VCPUOP_register_vcpu_info by GFN; the runstate and time
 * areas written before a VMRUN into its kernel. */
long hvm_register_vcpu_info(struct vcpu *curr, unsigned long vcpuid, unsigned long arg);
void hvm_guest_areas(struct vcpu *v);

#endif
