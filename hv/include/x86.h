/* Thin wrappers for x86_64 instructions the hypervisor uses. */
#ifndef KEEL_X86_H
#define KEEL_X86_H

#include "lib.h"

#define X86_CR0_PE   (1UL << 0)
#define X86_CR0_MP   (1UL << 1)
#define X86_CR0_EM   (1UL << 2)
#define X86_CR0_TS   (1UL << 3)
#define X86_CR0_NE   (1UL << 5)
#define X86_CR0_WP   (1UL << 16)
#define X86_CR4_TSD  (1UL << 2)
#define X86_CR4_DE   (1UL << 3)
#define X86_CR4_PGE  (1UL << 7)
#define X86_CR4_OSFXSR (1UL << 9)
#define X86_CR4_OSXMMEXCPT (1UL << 10)
#define X86_CR4_FSGSBASE (1UL << 16)
#define X86_CR4_SMEP (1UL << 20)
#define X86_EFLAGS_IF (1UL << 9)
#define X86_EFLAGS_ZF (1UL << 6)
#define X86_EFLAGS_CF (1UL << 0)
#define X86_EFLAGS_PF (1UL << 2)
#define X86_EFLAGS_SF (1UL << 7)
#define X86_EFLAGS_OF (1UL << 11)
/* #PF error code bits. */
#define PFEC_P      (1u << 0)
#define PFEC_W      (1u << 1)
#define PFEC_RSVD   (1u << 3)
#define PFEC_IFETCH (1u << 4)

#define MSR_EFER          0xC0000080
#define MSR_STAR          0xC0000081
#define MSR_LSTAR         0xC0000082
#define MSR_CSTAR         0xC0000083
#define MSR_SFMASK        0xC0000084
#define MSR_FS_BASE       0xC0000100
#define MSR_GS_BASE       0xC0000101
#define MSR_KERNEL_GS_BASE 0xC0000102
#define MSR_APIC_BASE     0x1B

#define PTE_P    (1UL << 0)
#define PTE_W    (1UL << 1)
#define PTE_U    (1UL << 2)
#define PTE_PWT  (1UL << 3)
#define PTE_PCD  (1UL << 4)
#define PTE_A    (1UL << 5)
#define PTE_D    (1UL << 6)
#define PTE_PS   (1UL << 7)
#define PTE_G    (1UL << 8)
#define PTE_NX   (1UL << 63)
#define PTE_ADDR 0x000FFFFFFFFFF000UL

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
/* RDTSCP or RDPID: the CPU has MSR_TSC_AUX (set in cpu_features_init;
 * every CPU starts with it 0). */
#define MSR_TSC_AUX 0xc0000103
extern bool cpu_has_tsc_aux;
/* The CPU has {RD,WR}{FS,GS}BASE (CR4.FSGSBASE is set only while a PV
 * vCPU that set it in its own CR4 runs: pv.h). */
extern bool cpu_has_fsgsbase;

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
#ifdef KEEL_HOST_TEST
/* Host unit tests run hypervisor logic in a process: no privileged work. */
#define DEFINE_CR(n) \
    static inline uint64_t read_cr##n(void) { return 0; } \
    static inline void write_cr##n(uint64_t v) { (void)v; }
#else
#define DEFINE_CR(n) \
    static inline uint64_t read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
    static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); }
#endif
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void halt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
#ifdef KEEL_HOST_TEST
static inline void invlpg(unsigned long va) { (void)va; }
#else
static inline void invlpg(unsigned long va) { __asm__ volatile("invlpg (%0)" :: "r"(va) : "memory"); }
#endif
static inline unsigned long read_rflags(void) { unsigned long f; __asm__ volatile("pushfq; popq %0" : "=r"(f)); return f; }
static inline unsigned long irq_save(void) { unsigned long f = read_rflags(); cli(); return f; }
static inline void irq_restore(unsigned long f) { if (f & X86_EFLAGS_IF) sti(); }

#endif
