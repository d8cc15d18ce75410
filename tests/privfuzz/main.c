/* Guest test: a seeded fuzzer of the hypervisor's privileged-instruction
 * and CPUID emulation (hv/pv/emulate.c): RDMSR/WRMSR with random MSRs and
 * values, MOV to/from CR0-CR8 and DR0-DR7 with random values, IN/OUT/
 * INS/OUTS with random ports, counts, directions and buffers aimed at the
 * hypervisor, at unmapped and read-only memory, random I/O privilege and
 * bitmaps, int $n through random trap-table entries, and the forced CPUID
 * with random leaves.  Every fault the guest gets is caught and counted;
 * the hypervisor must stay up and the domain must end cleanly.  seed=N
 * replays a run (the seed is printed). */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/traps.h>
#include <xen/physdev.h>
#include "report.h"
#include "args.h"
#include "rng.h"

#define HV_ADDR      0xFFFF830000100000UL
#define NONCANONICAL 0x0000900000000000UL
#define UNMAPPED     0x0000000040000000UL

volatile unsigned long pf_resume;
static unsigned long faults[32];

static void handler(struct minios_trap_frame *f)
{
    faults[f->vector & 31]++;
    f->rip = pf_resume;
    f->rflags &= ~0x100UL;
}

#define ARM "leaq 1f(%%rip), %%r11\n\tmovq %%r11, pf_resume(%%rip)\n\t"

static uint8_t iobmp[8192];
static uint8_t buf[2048];   /* string I/O lands in its middle, either direction */

static unsigned long pick_addr(uint64_t *s)
{
    switch (rng_next(s) % 5) {
    case 0: return HV_ADDR + (rng_next(s) & 0xffff);
    case 1: return NONCANONICAL;
    case 2: return UNMAPPED + (rng_next(s) & 0xfff);
    case 3: return minios_start_info->pt_base + (rng_next(s) & 0xff8);
    default: return (unsigned long)buf + 1024 + (rng_next(s) & 31);
    }
}

/* MSRs worth hitting: the emulated ones, their neighbours, and junk.
 * Never 0x40000000 (it writes a hypercall page into a frame of ours). */
static uint32_t pick_msr(uint64_t *s)
{
    static const uint32_t near[] = { 0x10, 0x1b, 0x3a, 0x48, 0x49, 0x8b, 0xc1, 0xce, 0xe7,
                                     0x10a, 0x10b, 0x140, 0x174, 0x186, 0x198, 0x19c, 0x1a0,
                                     0x277, 0x345, 0x38d, 0xc0000080, 0xc0000081, 0xc0000082,
                                     0xc0000103, 0xc0010000, 0xc0010015, 0xc001001f,
                                     0xc0010061, 0xc0011029, 0x40000001, 0x400000ff };
    uint32_t m = rng_next(s) % 3 ? near[rng_next(s) % (sizeof(near) / sizeof(near[0]))]
                                 : (uint32_t)rng_next(s);
    return m == 0x40000000 ? 0x40000001 : m;
}

static void one(uint64_t *s)
{
    uint64_t r = rng_next(s), v = rng_next(s);
    uint32_t m;
    unsigned long a, c;
    switch (r % 12) {
    case 0:
        m = pick_msr(s);
        __asm__ volatile(ARM "rdmsr\n1:" :: "c"(m) : "rax", "rdx", "r11", "memory");
        break;
    case 1:                              /* writes that cannot hurt us */
        m = pick_msr(s);
        if (m == 0xc0000100 || m == 0xc0000101 || m == 0xc0000102)
            m = 0x12345678;
        __asm__ volatile(ARM "wrmsr\n1:" :: "c"(m), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                         : "r11", "memory");
        break;
    case 2:
        switch (v % 6) {
        case 0: __asm__ volatile(ARM "mov %%cr0, %%rax\n1:" ::: "rax", "r11", "memory"); break;
        case 1: __asm__ volatile(ARM "mov %%cr2, %%rax\n1:" ::: "rax", "r11", "memory"); break;
        case 2: __asm__ volatile(ARM "mov %%cr3, %%rax\n1:" ::: "rax", "r11", "memory"); break;
        case 3: __asm__ volatile(ARM "mov %%cr4, %%rax\n1:" ::: "rax", "r11", "memory"); break;
        case 4: __asm__ volatile(ARM "mov %%cr8, %%rax\n1:" ::: "rax", "r11", "memory"); break;
        default: __asm__ volatile(ARM "mov %%dr7, %%rax\n1:" ::: "rax", "r11", "memory"); break;
        }
        break;
    case 3:                              /* random values into CRs/DRs */
        a = rng_next(s);
        switch (v % 5) {
        case 0: __asm__ volatile(ARM "mov %0, %%cr3\n1:" :: "r"(a) : "r11", "memory"); break;
        case 1: __asm__ volatile(ARM "mov %0, %%cr4\n1:" :: "r"(a) : "r11", "memory"); break;
        case 2: __asm__ volatile(ARM "mov %0, %%cr0\n1:" :: "r"(a) : "r11", "memory"); break;
        case 3: __asm__ volatile(ARM "mov %0, %%dr0\n1:" :: "r"(a) : "r11", "memory"); break;
        default: __asm__ volatile(ARM "mov %0, %%dr7\n1:" :: "r"(a & 0xffff0000UL) : "r11", "memory");
            break;
        }
        __asm__ volatile("clts");
        break;
    case 4:
        __asm__ volatile(ARM "inb %%dx, %%al\n1:" :: "d"((uint16_t)v) : "rax", "r11", "memory");
        __asm__ volatile(ARM "inl %%dx, %%eax\n1:" :: "d"((uint16_t)(v >> 16)) : "rax", "r11", "memory");
        break;
    case 5:                              /* never the debug-exit port */
        if ((uint16_t)v >= 0xf0 && (uint16_t)v <= 0xff)
            v = 0x80;
        __asm__ volatile(ARM "outw %%ax, %%dx\n1:" :: "a"(v >> 32), "d"((uint16_t)v) : "r11", "memory");
        break;
    case 6:
        a = pick_addr(s);
        c = rng_next(s) % 600;
        if (v & 1)
            __asm__ volatile("std");
        if (v & 2)
            __asm__ volatile(ARM "rep insb\n1:" : "+D"(a), "+c"(c) : "d"((uint16_t)(v >> 8))
                             : "r11", "memory");
        else
            __asm__ volatile(ARM "rep outsl\n1:" : "+S"(a), "+c"(c) : "d"((uint16_t)(v >> 8) | 0x100)
                             : "r11", "memory");
        __asm__ volatile("cld");
        break;
    case 7: {
        struct physdev_set_iopl p = { .iopl = (uint32_t)(v % 5) };
        _hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, &p);
        break;
    }
    case 8: {
        struct physdev_set_iobitmap b = { .nr_ports = (uint32_t)(rng_next(s) % 70000) };
        set_xen_guest_handle(b.bitmap, (uint8_t *)(v & 1 ? (unsigned long)iobmp : pick_addr(s)));
        _hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iobitmap, &b);
        iobmp[rng_next(s) % sizeof(iobmp)] = (uint8_t)v;
        break;
    }
    case 9: {                            /* int $n through a random entry */
        /* 0x33 always DPL 0, 0x3f never set: both #GP; the random entry
         * exercises set_trap_table (a delivered int would leave its bounce
         * frame on the stack we resume on). */
        uint8_t vec = (uint8_t)(0x30 + v % 15);
        struct trap_info t[3] = {
            { .vector = 0x33, .flags = 0, .cs = FLAT_KERNEL_CS, .address = pick_addr(s) },
            { .vector = vec == 0x33 ? 0x34 : vec, .flags = (uint8_t)(rng_next(s) % 8),
              .cs = FLAT_KERNEL_CS, .address = pick_addr(s) },
        };
        HYPERVISOR_set_trap_table(t);
        if (v & 1)
            __asm__ volatile(ARM "int $0x33\n1:" ::: "rcx", "r11", "memory");
        else
            __asm__ volatile(ARM "int $0x3f\n1:" ::: "rcx", "r11", "memory");
        break;
    }
    case 10:
        __asm__ volatile(ARM ".byte 0x0f, 0x0b\n\t.ascii \"xen\"\n\tcpuid\n1:"
                         : "+a"(v) : "c"(rng_next(s)) : "rbx", "rdx", "r11", "memory");
        break;
    default:                             /* cli/sti, clts, wbinvd, rdtscp */
        __asm__ volatile(ARM "cli\n\tsti\n\tclts\n\twbinvd\n\trdtscp\n1:" ::: "rax", "rcx", "rdx",
                         "r11", "memory");
        break;
    }
}

int main(int argc, char **argv)
{
    const char *a = test_arg(argc, argv, "seed");
    uint64_t seed = a ? strtoull(a, NULL, 0) : 0x5eed;
    const char *n = test_arg(argc, argv, "ops");
    unsigned long ops = n ? strtoul(n, NULL, 0) : 20000;
    printf("privfuzz: seed %#lx, %lu operations\n", (unsigned long)seed, ops);
    if (!minios_traps_available()) {
        test_skip("no trap table");
        return test_finish();
    }
    for (unsigned v = 0; v < MINIOS_NR_TRAPS; v++)
        if (v != 2 && v != 8 && v != 18)
            minios_set_trap_handler(v, handler);
    for (unsigned long i = 0; i < ops; i++) {
        uint64_t s = rng_seed_for(seed, i);
        one(&s);
    }
    struct physdev_set_iopl p = { .iopl = 0 };
    _hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, &p);
    _hypercall2(__HYPERVISOR_set_debugreg, 7, 0);
    printf("privfuzz: faults #GP %lu #PF %lu #UD %lu #DB %lu #NM %lu\n", faults[13], faults[14],
           faults[6], faults[1], faults[7]);
    if (!faults[13] || !faults[14])
        test_fail("the fuzzer raised no #GP or no #PF: it is not reaching the emulator");
    return test_finish();
}
