/* libFuzzer target of the instruction emulator (hv/hvm/x86_emul.c):
 * the input is the instruction bytes, the mode, RFLAGS and a register
 * file (each register raw, or pointed into the fake RAM or MMIO page of
 * x86_emul_env.h, so accesses land somewhere); run under ASan/UBSan.
 * Beyond "no crash", each result must keep the contract: a known code,
 * a length of 1..15, RIP moved by exactly it (or kept by a REP with
 * iterations left, or on a fault), callbacks only ever asked for
 * 1/2/4/8-byte accesses with no bits past the width (the env's
 * X86EMUL_FAILED would say otherwise), #GP or #PF as the only exceptions. */
#include <stdlib.h>
#include <stdio.h>
#include "x86_emul_env.h"

static struct env V;

static uint64_t take(const uint8_t **p, size_t *n, unsigned bytes)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
        x |= (uint64_t)**p << (8 * i);
    return x;
}

static void fail(const char *what)
{
    fprintf(stderr, "contract broken: %s (rc of mode %u, why %s)\n", what, V.e.mode,
            V.e.why ? V.e.why : "-");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data;
    size_t n = size;
    uint8_t code[16] = { 0 };
    for (unsigned i = 0; i < 16; i++)
        code[i] = (uint8_t)take(&p, &n, 1);
    static const unsigned modes[] = { 64, 32, 16, 64 };
    env_init(&V, modes[take(&p, &n, 1) & 3]);
    V.e.rflags = 2 | (take(&p, &n, 2) & (X86_FL_ARITH | X86_FL_DF));
    uint64_t rip = take(&p, &n, 2) & 0xffff;
    for (unsigned r = 0; r < 16; r++) {
        unsigned sel = (unsigned)take(&p, &n, 1);
        uint64_t v = take(&p, &n, 8);
        switch (sel & 3) {
        case 0: V.e.gpr[r] = v; break;
        case 1: V.e.gpr[r] = ENV_MMIO + (v & 0xfff); break;
        case 2: V.e.gpr[r] = v & 0xffff; break;
        default: V.e.gpr[r] = v & 0x3ff; break;
        }
    }
    if (take(&p, &n, 1) & 1)
        for (unsigned s = 0; s < 6; s++)
            V.e.seg_base[s] = take(&p, &n, 4) & 0xffff;
    /* The code at rip (as much as fits in RAM; past it, #PF). */
    if (V.e.mode != 64) {
        uint64_t lin = (V.e.seg_base[X86_SEG_CS] + rip) & 0xffffffffULL;
        if (lin >= ENV_RAM)
            lin = 0, V.e.seg_base[X86_SEG_CS] = 0;
        rip = lin - V.e.seg_base[X86_SEG_CS];
        for (unsigned i = 0; i < 16 && lin + i < ENV_RAM; i++)
            V.ram[lin + i] = code[i];
    } else {
        for (unsigned i = 0; i < 16 && rip + i < ENV_RAM; i++)
            V.ram[rip + i] = code[i];
    }
    /* The rest of the input: RAM data behind the code. */
    for (size_t i = 0; i < n && i < 4096; i++)
        V.ram[(0x8000 + i) % ENV_RAM] = p[i];
    V.e.rip = rip;
    for (int round = 0; round < 3; round++) {
        uint64_t before = V.e.rip;
        int rc = x86_emulate(&V.e);
        if (V.e.insn_have > 15)
            fail("fetched past 15 bytes");
        switch (rc) {
        case X86EMUL_OK: {
            if (V.e.len < 1 || V.e.len > 15)
                fail("bad length");
            uint64_t want = before + V.e.len;
            if (V.e.mode == 16)
                want &= 0xffff;
            else if (V.e.mode == 32)
                want &= 0xffffffffULL;
            if (V.e.rip != want && V.e.rip != before)
                fail("RIP not moved by the length");
            if (V.e.rip == want)
                return 0;
            break;                                   /* a REP with iterations left */
        }
        case X86EMUL_UNHANDLED:
            if (!V.e.why)
                fail("refused without a reason");
            if (V.e.rip != before)
                fail("refused but RIP moved");
            return 0;
        case X86EMUL_EXCEPTION:
            if (V.e.exn_vec != 13 && V.e.exn_vec != 14)
                fail("an exception other than #GP/#PF");
            return 0;
        default:
            fail("a callback saw a contract violation (X86EMUL_FAILED) or an unknown code");
        }
    }
    return 0;
}
