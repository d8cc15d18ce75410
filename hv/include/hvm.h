/*
 * HVM/PVH guests on AMD SVM with nested paging (hv/hvm/, docs/hvm.md):
 * what the rest of the hypervisor calls.
 */
#ifndef KEEL_HVM_H
#define KEEL_HVM_H
#include "lib.h"
#include "domain.h"

struct elf_image_info;

/* SVM and NPT on every pCPU brought up so far (svm_cpu_init); why not, if
 * not. */
extern bool svm_usable;
extern const char *svm_missing;
/* Per pCPU, at boot (setup.c for CPU0, smp.c for the others): detects
 * SVM and NPT and enables them (EFER.SVME, VM_HSAVE_PA). */
void svm_cpu_init(struct pcpu *pc);

/* vCPU life (arch_vcpu_create/destroy for a GUEST_PVH domain). */
int hvm_vcpu_create(struct vcpu *v);
void hvm_vcpu_destroy(struct vcpu *v);
/* A new HVM vCPU's first run (svm_entry.S): the scheduler's lock, then
 * the VMRUN loop, which never returns. */
void hvm_first_entry(void);
noreturn void svm_loop(void);

/* The nested page tables (p2m.c): gfn i maps mfns[i] for i < nr; the
 * lookup gives the mfn of a guest frame or ~0 if it is not RAM. */
int hvm_p2m_build(struct domain *d, const uint64_t *mfns, uint64_t nr);
/* XENMEM_populate_physmap of a PVH domain built at run time (its
 * toolstack, before its vCPUs are set): 2^order new frames of d at gfn,
 * which must continue its RAM (gfn == the RAM so far).  Under d's lock. */
long hvm_p2m_populate(struct domain *d, uint64_t gfn, unsigned order);
/* XEN_DOMCTL_sethvmcontext from buf of size bytes (hv/hvm/hvm_ctxt.c). */
long hvm_set_context(struct domain *d, unsigned long buf, uint32_t size);
/* XEN_DOMCTL_gethvmcontext into buf (0: only the size) of *size bytes;
 * *size the bytes written, or needed. */
long hvm_get_context(struct domain *d, unsigned long buf, uint32_t *size);
/* HVMOP_set_param of a PVH domain by its run-time builder (hvm_ctxt.c). */
long hvm_builder_param(struct domain *d, uint32_t index, uint64_t value);
uint64_t hvm_p2m_lookup(struct domain *d, uint64_t gfn);
int hvm_p2m_map_grant_frame(struct domain *d, unsigned idx, uint64_t gfn, uint64_t mfn);
void hvm_p2m_free(struct domain *d);
/* Another domain's granted frame mfn into d's p2m at gfn (a RAM gfn
 * that holds nothing add_to_physmap or another grant put there),
 * read-only if ro; the caller holds the frame's references, which the
 * unmap (0 if gfn maps mfn by a grant as ro, else -EINVAL: the
 * references match) or hvm_p2m_free gives
 * back as put_page_and_type(mfn, !ro).  Only d's own vCPU calls these. */
int hvm_p2m_map_grant(struct domain *d, uint64_t gfn, uint64_t mfn, bool ro);
int hvm_p2m_unmap_grant(struct domain *d, uint64_t gfn, uint64_t mfn, bool ro);
/* The mfn at gfn for a write (~0 where the p2m maps it read-only). */
uint64_t hvm_p2m_lookup_write(struct domain *d, uint64_t gfn);
/* v2 status frame idx (read-only) at gfn, as the grant frames; all of
 * them out again at the switch back to v1; the GFN of frame idx or ~0
 * (get_status_frames).  p2m.c. */
int hvm_p2m_map_status_frame(struct domain *d, unsigned idx, uint64_t gfn, uint64_t mfn);
void hvm_p2m_unmap_status_frames(struct domain *d);
uint64_t hvm_p2m_status_gfn(struct domain *d, unsigned idx);
/* The GFN where d's grant-table frame idx is mapped by add_to_physmap,
 * or ~0 (Xen's INVALID_GFN) if it is not (setup_table, p2m.c). */
uint64_t hvm_p2m_grant_gfn(struct domain *d, unsigned idx);
/* The mfn of a RAM frame of d at gfn, ~0 if gfn is not RAM or holds a
 * frame add_to_physmap put there (shared_info, a grant frame: p2m.c). */
uint64_t hvm_p2m_ram(struct domain *d, uint64_t gfn);
/* XENMEM_add_to_physmap of shared_info at gfn (p2m.c). */
int hvm_p2m_map_shared_info(struct domain *d, uint64_t gfn);
/* v takes a fresh ASID (no stale TLB entries) at its next VMRUN (svm.c). */
void hvm_vcpu_tlb_flush(struct vcpu *v);

/* Guest-memory access for the running HVM vCPU (guest_access.h): guest
 * virtual through its own page tables, then the p2m.  0 or -XEN_EFAULT. */
long hvm_copy_from_guest(void *dst, unsigned long src, size_t n);
long hvm_copy_to_guest(unsigned long dst, const void *src, size_t n);
long hvm_clear_guest(unsigned long dst, size_t n);

/* A PVH domain's RAM: its 32-bit entry reaches all of it, below the PCI
 * hole. */
#define PVH_MIN_MEM (64ULL << 10)
#define PVH_MAX_MEM (3ULL << 30)

/* Builds a type=pvh boot domain (pvh_build.c); -1 with the reason. */
int pvh_build(struct domain *d, const struct elf_image_info *in, const uint8_t *img,
              const char *cmdline, const void *mod, uint64_t mod_len,
              char *err, size_t errlen);

/* ioreq servers (ioreq.c, docs/hvm.md): dm_op is in hypercall.h. */
long hvm_acquire_resource(unsigned long arg);
/* A port access sent to the server claiming it (v then waits: true). */
bool hvm_ioreq_pio(struct vcpu *v, unsigned port, unsigned size, bool in, uint32_t val,
                   uint64_t next_rip);
/* An access of the instruction emulator (mmio.c): a server's answer kept
 * from an earlier run (DONE), sent to a server (SENT: the emulator stops
 * with X86EMUL_RETRY), no server's (UNCLAIMED), or the guest crashed. */
enum { HVM_IO_UNCLAIMED, HVM_IO_DONE, HVM_IO_SENT, HVM_IO_FAILED };
int hvm_ioreq_emul(struct vcpu *v, uint8_t type, uint64_t addr, unsigned size, bool write,
                   uint64_t *val);
int hvm_ioreq_emul_rep(struct vcpu *v, unsigned port, unsigned size, bool in, uint64_t gpa,
                       uint32_t count, bool df);
void hvm_ioreq_emul_done(struct vcpu *v);
/* Before v runs with an I/O outstanding: its answer taken, or v waits. */
bool hvm_ioreq_complete(struct vcpu *v, struct cpu_user_regs *r);
/* The device model sent on its end of d's port (event_channel.c). */
void hvm_ioreq_notify(struct domain *d, unsigned port);
void hvm_ioreq_free(struct domain *d);
/* The reaper, d dead: its I/O APIC's page (hv/hvm/vioapic.c). */
void hvm_vioapic_free(struct domain *d);
/* A role=dm domain died: the domains it served die (the reaper). */
void hvm_ioreq_emulators_check(void);

/* Builds a type=hvm boot domain from its firmware image (hvm_build.c);
 * -1 with the reason.  fw_config_ok checks the boot line first. */
int hvm_fw_build(struct domain *d, const uint8_t *img, uint64_t len, char *err, size_t errlen);
bool hvm_fw_config_ok(uint64_t mem, unsigned vcpus, uint64_t len, char *err, size_t errlen);
/* XEN_DMOP_set_isa_irq_level on a type=hvm domain (isa.c). */
void hvm_isa_irq_level(struct domain *d, unsigned irq, bool level);
/* Its CMOS as QEMU's pc machine fills it (rtc.c). */
void hvm_rtc_init(struct domain *d, uint64_t ram_bytes, unsigned nr_vcpus);
/* At build: frames mapped above its RAM (the firmware's alias below 4G). */
int hvm_p2m_build_extra(struct domain *d, uint64_t gfn, const uint64_t *mfns, uint64_t n);

/* v's own CR4, from its VMCB. */
uint64_t hvm_guest_cr4(struct vcpu *v);
/* What a PVH vCPU's CPUID adds to the common policy (hv/hvm/vlapic.c):
 * its x2APIC (leaf 1) and Xen's HVM leaf 0x40000004. */
void hvm_cpuid_adjust(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t out[4]);

/* The CPUID policy (pv/emulate.c), shared by PV and HVM vCPUs. */
void guest_cpuid(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t out[4]);
/* XSETBV by the policy's XCR0 (pv/emulate.c): false for #GP. */
bool guest_xsetbv(struct vcpu *v, uint32_t xcr, uint64_t x);

#endif
