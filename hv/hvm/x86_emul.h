/*
 * The x86 instruction emulator for MMIO and port I/O exits (docs/hvm.md,
 * "The instruction emulator").  Freestanding: no libc, built into the
 * hypervisor and on the host (tests/unit/test_x86_emul.c, the fuzz
 * target tests/unit/fuzz_x86_emul.c).  Everything outside the register
 * file goes through the callbacks.
 */
#ifndef KEEL_X86_EMUL_H
#define KEEL_X86_EMUL_H
#include <stdint.h>
#include <stdbool.h>

/* Results of x86_emulate and of every callback. */
#define X86EMUL_OK         0   /* done (or a REP made progress and runs again) */
#define X86EMUL_UNHANDLED  1   /* not an instruction it knows, or illegal: #UD */
#define X86EMUL_EXCEPTION  2   /* e->exn_* says which exception to inject */
#define X86EMUL_FAILED     3   /* a callback could not do it: the caller decides (crash) */
#define X86EMUL_RETRY      4   /* a callback's access is away (an ioreq): the caller runs the
                                  instruction again once it is answered; the registers are as
                                  before it, or as after the last iter_done of a REP */

/* Segment registers, in the encoding's order. */
enum { X86_SEG_ES, X86_SEG_CS, X86_SEG_SS, X86_SEG_DS, X86_SEG_FS, X86_SEG_GS };

/* GPRs in the encoding's order. */
enum { X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI };

#define X86_FL_CF 0x001u
#define X86_FL_PF 0x004u
#define X86_FL_AF 0x010u
#define X86_FL_ZF 0x040u
#define X86_FL_SF 0x080u
#define X86_FL_DF 0x400u
#define X86_FL_OF 0x800u
#define X86_FL_ARITH (X86_FL_CF | X86_FL_PF | X86_FL_AF | X86_FL_ZF | X86_FL_SF | X86_FL_OF)

/* Most iterations one call of a REP string instruction makes; with RCX
 * left, RIP stays and the guest executes it again (interrupts between). */
#define X86EMUL_REP_MAX 256

struct x86_emul;

struct x86_emul_ops {
    /* Instruction bytes at a linear address, never crossing a page (the
     * emulator asks page by page, at most 15 bytes in all). */
    int (*fetch)(struct x86_emul *e, uint64_t lin, uint8_t *buf, unsigned len);
    /* Data by linear address, len 1, 2, 4 or 8; the caller translates
     * and hands MMIO (by physical address and width) to its devices. */
    int (*read)(struct x86_emul *e, int seg, uint64_t lin, uint64_t *val, unsigned len);
    int (*write)(struct x86_emul *e, int seg, uint64_t lin, uint64_t val, unsigned len);
    /* Ports, size 1, 2 or 4. */
    int (*in)(struct x86_emul *e, uint16_t port, unsigned size, uint32_t *val);
    int (*out)(struct x86_emul *e, uint16_t port, unsigned size, uint32_t val);
    /* Optional: a string instruction finished one iteration (its registers
     * in e are as after it). */
    void (*iter_done)(struct x86_emul *e);
    /* Optional: up to count iterations of a REP INS (in) or REP OUTS at
     * once, elements of size bytes between port and the memory at linear
     * lin of segment seg, going down with df; *done the iterations made
     * (0: the emulator makes them one by one).  The emulator bounds count
     * so the index register does not wrap. */
    int (*rep_io)(struct x86_emul *e, uint16_t port, unsigned size, bool in, int seg,
                  uint64_t lin, uint64_t count, bool df, uint64_t *done);
};

struct x86_emul {
    /* In and out: the register file. */
    uint64_t gpr[16];
    uint64_t rip, rflags;
    /* In: segment bases (ES..GS; only FS and GS count in 64-bit mode),
     * the mode (16, 32 or 64: CS.D/CS.L), the callbacks and their data. */
    uint64_t seg_base[6];
    unsigned mode;
    const struct x86_emul_ops *ops;
    void *priv;
    /* Out: the instruction's bytes as fetched, its length once decoded,
     * the exception to inject (X86EMUL_EXCEPTION), why it was refused
     * (X86EMUL_UNHANDLED) and what the instruction was. */
    uint8_t insn[15];
    unsigned insn_have, len;
    uint8_t exn_vec;
    bool exn_has_err;
    uint32_t exn_err;
    uint64_t exn_cr2;
    const char *why;
};

/* Emulates the one instruction at rip.  On X86EMUL_OK the registers hold
 * its result (RIP past it, unless a REP has iterations left). */
int x86_emulate(struct x86_emul *e);

/* For callbacks: record an exception and return X86EMUL_EXCEPTION. */
int x86_emul_raise(struct x86_emul *e, uint8_t vec, bool has_err, uint32_t err, uint64_t cr2);

#endif
