/*
 * mode=mmio of the PVH test guest (pvh-mmio, docs/hvm.md): accesses to a
 * guest-physical address above its RAM that no device claims go through
 * the hypervisor's instruction emulator and answer as on a PC without a
 * device there (all ones; writes dropped): MOV of each width, MOVZX/MOVSX,
 * REP MOVS/STOS forwards and backwards, LODS, AND/OR/XOR/CMP/TEST with
 * their flags, XCHG, a SIB address; REP OUTS/INS on ports; and an
 * instruction the emulator does not know there (NOT, FLD) gets #UD; a
 * copy from it to an address its page tables do not map gets #PF, to a
 * non-canonical one #GP.
 */
#include <stdint.h>
#include <stddef.h>

#define MMIO 0x3ff00000UL      /* identity-mapped by head.S, above its RAM */

uint32_t ud_count, ud_skip;
extern char ud_entry[];
/* #UD: counted, and the instruction (ud_skip bytes) skipped. */
__asm__(".globl ud_entry\n"
        "ud_entry:\n"
        "    incl ud_count(%rip)\n"
        "    pushq %rax\n"
        "    movl ud_skip(%rip), %eax\n"
        "    addq %rax, 8(%rsp)\n"
        "    popq %rax\n"
        "    iretq\n");

extern uint32_t gp_count, gp_skip;   /* head.S's #GP handler */
/* What head.S read from MMIO in 32-bit protected mode. */
uint32_t mmio32_read, mmio32_cmp, mmio32_movzw;
uint32_t pf_count, pf_skip;
uint64_t pf_cr2, pf_err;
extern char pf_entry[];
/* #PF: CR2 and the error code kept, the instruction (pf_skip bytes)
 * skipped. */
__asm__(".globl pf_entry\n"
        "pf_entry:\n"
        "    incl pf_count(%rip)\n"
        "    pushq %rax\n"
        "    movq 8(%rsp), %rax\n"
        "    movq %rax, pf_err(%rip)\n"
        "    movq %cr2, %rax\n"
        "    movq %rax, pf_cr2(%rip)\n"
        "    movl pf_skip(%rip), %eax\n"
        "    addq %rax, 16(%rsp)\n"
        "    popq %rax\n"
        "    addq $8, %rsp\n"
        "    iretq\n");

static void (*say)(const char *);
static void (*bad)(const char *);

static void check(int ok, const char *what)
{
    if (!ok)
        bad(what);
}

/*
 * Self-modifying code at an MMIO access: a function in RAM is rewritten
 * between calls, each time to an instruction that reads MMIO (the
 * emulator decodes the bytes at RIP when the access exits, so it must see
 * the new ones): a 32-bit MOV (all ones), then MOVZX of a byte (0xff),
 * then a 16-bit MOV into AX with the upper bytes kept, then NOT on MMIO
 * (not emulated: #UD, and the guest goes on).
 */
static uint8_t smc_code[64] __attribute__((aligned(64)));

static uint64_t smc_call(const uint8_t *bytes, unsigned n, uint64_t rax)
{
    for (unsigned i = 0; i < n; i++)
        ((volatile uint8_t *)smc_code)[i] = bytes[i];
    ((volatile uint8_t *)smc_code)[n] = 0xc3;                  /* ret */
    __asm__ volatile("call *%[f]" : "+a"(rax) : [f] "r"(smc_code), "D"(MMIO + 0x40)
                     : "memory", "cc");
    return rax;
}

static void smc_test(void)
{
    static const uint8_t mov32[] = { 0x8b, 0x07 },             /* mov (%rdi), %eax */
                         movzb[] = { 0x0f, 0xb6, 0x07 },       /* movzbl (%rdi), %eax */
                         mov16[] = { 0x66, 0x8b, 0x07 },       /* mov (%rdi), %ax */
                         notm[] = { 0xf7, 0x17 };              /* notl (%rdi) */
    check(smc_call(mov32, sizeof(mov32), 0x1234) == 0xffffffffULL,
          "smc: the first instruction did not read all ones");
    check(smc_call(movzb, sizeof(movzb), 0x1234) == 0xff,
          "smc: the rewritten instruction (movzbl) was not the one emulated");
    check(smc_call(mov16, sizeof(mov16), 0x1122334455667788ULL) == 0x112233445566ffffULL,
          "smc: the 16-bit mov rewritten in did not keep the upper bytes");
    uint32_t uds = ud_count;
    ud_skip = 2;
    smc_call(notm, sizeof(notm), 0);
    ud_skip = 0;
    check(ud_count == uds + 1, "smc: NOT rewritten in did not get #UD");
    say("pvh-hello: mmio: code rewritten between MMIO accesses: each new instruction emulated\n");
}

void mmio_test(void (*puts_fn)(const char *), void (*fail_fn)(const char *))
{
    say = puts_fn;
    bad = fail_fn;
    /* #UD into this guest's IDT (the one main.c loaded). */
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d;
    __asm__ volatile("sidt %0" : "=m"(d));
    uint64_t *idt = (uint64_t *)d.base, a = (uint64_t)ud_entry;
    idt[12] = (a & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) | (((a >> 16) & 0xffff) << 48);
    idt[13] = a >> 32;
    a = (uint64_t)pf_entry;
    idt[28] = (a & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) | (((a >> 16) & 0xffff) << 48);
    idt[29] = a >> 32;

    check(mmio32_read == 0xffffffffu && mmio32_cmp == 1 && mmio32_movzw == 0xffff,
          "mmio: 32-bit protected mode mov/cmp/movzx");
    say("pvh-hello: mmio: in 32-bit protected mode mov, cmp and movzx read all ones\n");

    volatile uint8_t *m = (volatile uint8_t *)MMIO;
    uint64_t q;
    uint32_t l;
    uint16_t w;
    uint8_t b;
    __asm__ volatile("movl (%1), %0" : "=r"(l) : "r"(m) : "memory");
    __asm__ volatile("movw 2(%1), %0" : "=r"(w) : "r"(m) : "memory");
    __asm__ volatile("movb 0x7(%1), %0" : "=q"(b) : "r"(m) : "memory");
    __asm__ volatile("movq 0x18(%1), %0" : "=r"(q) : "r"(m) : "memory");
    check(l == 0xffffffffu && w == 0xffff && b == 0xff && q == ~0ULL, "mmio: mov reads");
    __asm__ volatile("movl $0x12345678, 0x10(%0)" :: "r"(m) : "memory");
    __asm__ volatile("movl 0x10(%1), %0" : "=r"(l) : "r"(m) : "memory");
    check(l == 0xffffffffu, "mmio: a dropped write read back");
    __asm__ volatile("movzbl 0x20(%1), %0" : "=r"(l) : "r"(m) : "memory");
    check(l == 0xff, "mmio: movzbl");
    __asm__ volatile("movsbl 0x20(%1), %0" : "=r"(l) : "r"(m) : "memory");
    check(l == 0xffffffffu, "mmio: movsbl");
    uint64_t idx = 3;
    __asm__ volatile("movl 8(%1,%2,4), %0" : "=r"(l) : "r"(m), "r"(idx) : "memory");
    check(l == 0xffffffffu, "mmio: a SIB address");
    say("pvh-hello: mmio: mov, movzx, movsx read all ones, writes dropped\n");

    /* REP MOVSB from it, REP STOSL and STD; REP STOSB to it, LODSL. */
    uint8_t buf[16] = { 0 };
    void *src = (void *)(MMIO + 0x40), *dst = buf;
    uint64_t cnt = sizeof(buf);
    __asm__ volatile("rep movsb" : "+S"(src), "+D"(dst), "+c"(cnt) :: "memory");
    int all = 1;
    for (unsigned i = 0; i < sizeof(buf); i++)
        all &= buf[i] == 0xff;
    check(all && cnt == 0 && src == (void *)(MMIO + 0x50) && dst == buf + 16, "mmio: rep movsb");
    dst = (void *)(MMIO + 0x80);
    cnt = 4;
    __asm__ volatile("rep stosl" : "+D"(dst), "+c"(cnt) : "a"(0x5a5a5a5au) : "memory");
    check(cnt == 0 && dst == (void *)(MMIO + 0x90), "mmio: rep stosl");
    dst = (void *)(MMIO + 0x102);
    cnt = 3;
    __asm__ volatile("std; rep stosb; cld" : "+D"(dst), "+c"(cnt) : "a"(0) : "memory");
    check(cnt == 0 && dst == (void *)(MMIO + 0xff), "mmio: std; rep stosb");
    src = (void *)(MMIO + 0x200);
    __asm__ volatile("lodsl" : "=a"(l), "+S"(src) :: "memory");
    check(l == 0xffffffffu && src == (void *)(MMIO + 0x204), "mmio: lodsl");
    say("pvh-hello: mmio: rep movs, rep stos (both directions), lods\n");

    /* ALU on it: flags as of all ones. */
    uint8_t z1, z2, z3, nz, c1;
    __asm__ volatile("andl $0, 0x30(%1); setz %0" : "=q"(z1) : "r"(m) : "memory", "cc");
    __asm__ volatile("cmpl $-1, 0x30(%1); setz %0" : "=q"(z2) : "r"(m) : "memory", "cc");
    __asm__ volatile("cmpb $0, 0x30(%1); setz %0" : "=q"(z3) : "r"(m) : "memory", "cc");
    __asm__ volatile("testl $0x80, 0x30(%1); setnz %0" : "=q"(nz) : "r"(m) : "memory", "cc");
    __asm__ volatile("cmpw $1, 0x30(%1); setc %0" : "=q"(c1) : "r"(m) : "memory", "cc");
    check(z1 == 1 && z2 == 1 && z3 == 0 && nz == 1 && c1 == 0, "mmio: and/cmp/test flags");
    uint8_t zo, zx;
    __asm__ volatile("orl $1, 0x34(%1); setz %0" : "=q"(zo) : "r"(m) : "memory", "cc");
    __asm__ volatile("xorl $-1, 0x34(%1); setz %0" : "=q"(zx) : "r"(m) : "memory", "cc");
    check(zo == 0 && zx == 1, "mmio: or/xor flags");
    l = 7;
    __asm__ volatile("xchgl %0, 0x38(%1)" : "+r"(l) : "r"(m) : "memory");
    check(l == 0xffffffffu, "mmio: xchg");
    say("pvh-hello: mmio: and, or, xor, cmp, test flags and xchg as of all ones\n");

    /* What the emulator does not do: #UD in the guest, skipped here. */
    ud_skip = 2;
    __asm__ volatile("notl (%0)" :: "a"(m) : "memory");       /* f7 10 */
    __asm__ volatile("flds (%0)" :: "a"(m) : "memory");       /* d9 00 */
    ud_skip = 0;
    check(ud_count == 2, "mmio: an instruction not emulated did not get #UD");
    say("pvh-hello: mmio: not and fld on MMIO got #UD\n");

    /* REP MOVSB from MMIO to a linear address its page tables do not map
     * (above the 1 GiB head.S maps): #PF with that address, nothing
     * copied (RCX, RSI, RDI as before). */
    src = (void *)(MMIO + 0x300);
    dst = (void *)0x40000000UL;
    cnt = 4;
    pf_skip = 2;                                              /* f3 a4 */
    __asm__ volatile("rep movsb" : "+S"(src), "+D"(dst), "+c"(cnt) :: "memory");
    pf_skip = 0;
    check(pf_count == 1 && pf_cr2 == 0x40000000UL && (pf_err & 2) && !(pf_err & 1),
          "mmio: a write to an unmapped address did not get #PF with its CR2");
    check(cnt == 4 && src == (void *)(MMIO + 0x300) && dst == (void *)0x40000000UL,
          "mmio: a faulting rep movsb moved its registers");
    say("pvh-hello: mmio: rep movsb to an unmapped address got #PF, CR2 0x40000000\n");
    /* ... and to a non-canonical address: #GP(0). */
    uint32_t gps = gp_count, skip = gp_skip;
    src = (void *)(MMIO + 0x300);
    dst = (void *)0x8000000000000000UL;
    cnt = 4;
    gp_skip = 2;
    __asm__ volatile("rep movsb" : "+S"(src), "+D"(dst), "+c"(cnt) :: "memory");
    gp_skip = skip;
    check(gp_count == gps + 1 && pf_count == 1 && cnt == 4,
          "mmio: a write to a non-canonical address did not get #GP");
    say("pvh-hello: mmio: rep movsb to a non-canonical address got #GP\n");

    /* String I/O. */
    static const char line[] = "pvh-hello: rep outsb through the emulator\n";
    src = (void *)line;
    cnt = sizeof(line) - 1;
    __asm__ volatile("rep outsb" : "+S"(src), "+c"(cnt) : "d"((uint16_t)0xe9) : "memory");
    check(cnt == 0 && src == (void *)(line + sizeof(line) - 1), "outs: registers after rep outsb");
    uint16_t in[4] = { 0, 0, 0, 0 };
    dst = in;
    cnt = 4;
    __asm__ volatile("rep insw" : "+D"(dst), "+c"(cnt) : "d"((uint16_t)0x80) : "memory");
    check(cnt == 0 && in[0] == 0xffff && in[3] == 0xffff && dst == in + 4, "ins: rep insw");
    say("pvh-hello: rep insw read all ones\n");
    smc_test();
}
