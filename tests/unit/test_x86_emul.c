/* The instruction emulator (hv/hvm/x86_emul.c) against known encodings:
 * results, flags, lengths, widths of the MMIO accesses, REP and DF, the
 * three modes, and each refusal (#UD, #GP past 15 bytes, #PF on a fetch
 * or access that is not mapped). */
#include "unit.h"
#include "x86_emul_env.h"

static struct env V;
#define E (V.e)
#define MM (ENV_MMIO)
#define CODE 0x1000u

static uint32_t mm32(unsigned off) { uint32_t x; memcpy(&x, V.mmio + off, 4); return x; }
static uint64_t mm64(unsigned off) { uint64_t x; memcpy(&x, V.mmio + off, 8); return x; }
static void setmm32(unsigned off, uint32_t x) { memcpy(V.mmio + off, &x, 4); }

/* The bytes at CODE, then one emulation. */
static int run_at(uint64_t at, const uint8_t *code, unsigned n)
{
    memcpy(V.ram + at, code, n);
    E.rip = at;
    return x86_emulate(&E);
}
#define RUN(...) ({ static const uint8_t c_[] = { __VA_ARGS__ }; run_at(CODE, c_, sizeof(c_)); })
#define FL(f) ((E.rflags & (f)) != 0)

static void test_mov64(void)
{
    env_init(&V, 64);
    E.gpr[X86_RBX] = MM + 0x10;
    E.gpr[X86_RAX] = 0xffffffffffffffffULL;
    EXPECT(RUN(0x8b, 0x03) == X86EMUL_OK);                       /* mov eax,[rbx] */
    EXPECT(E.gpr[X86_RAX] == 0xa5a5a5a5ULL && E.len == 2 && E.rip == CODE + 2);
    EXPECT(V.mmio_reads == 1 && V.last_width == 4);
    E.gpr[X86_RCX] = 0x1122334455667788ULL;
    EXPECT(RUN(0x48, 0x89, 0x4b, 0x10) == X86EMUL_OK);           /* mov [rbx+0x10],rcx */
    EXPECT(mm64(0x20) == 0x1122334455667788ULL && V.last_width == 8 && E.len == 4);
    E.gpr[X86_RAX] = 0x1234;
    EXPECT(RUN(0x88, 0x63, 0x04) == X86EMUL_OK);                 /* mov [rbx+4],ah */
    EXPECT(V.mmio[0x14] == 0x12 && V.last_width == 1);
    E.gpr[X86_RSP] = 0x77;
    EXPECT(RUN(0x40, 0x88, 0x63, 0x05) == X86EMUL_OK);           /* rex: spl */
    EXPECT(V.mmio[0x15] == 0x77);
    EXPECT(RUN(0x48, 0xc7, 0x43, 0x18, 0xfe, 0xff, 0xff, 0xff) == X86EMUL_OK);
    EXPECT(mm64(0x28) == 0xfffffffffffffffeULL && E.len == 8);  /* imm32 sign-extended */
    EXPECT(RUN(0x66, 0xc7, 0x43, 0x30, 0x34, 0x12) == X86EMUL_OK);
    EXPECT(V.mmio[0x40] == 0x34 && V.mmio[0x41] == 0x12 && V.last_width == 2);
    EXPECT(RUN(0xc6, 0x43, 0x31, 0x99) == X86EMUL_OK);           /* mov byte [rbx+0x31],0x99 */
    EXPECT(V.mmio[0x41] == 0x99 && V.last_width == 1);
    E.gpr[X86_RAX] = 0;
    EXPECT(RUN(0xa1, 0x10, 0x00, 0xe0, 0xfe, 0, 0, 0, 0) == X86EMUL_OK);  /* moffs64 */
    EXPECT(E.gpr[X86_RAX] == 0xa5a5a5a5ULL && E.len == 9);
    E.gpr[X86_RAX] = 0xabcd;
    EXPECT(RUN(0x66, 0xa3, 0x50, 0x00, 0xe0, 0xfe, 0, 0, 0, 0) == X86EMUL_OK);
    EXPECT(V.mmio[0x50] == 0xcd && V.mmio[0x51] == 0xab && V.last_width == 2);
    EXPECT(RUN(0x48, 0x0f, 0xbe, 0x03) == X86EMUL_OK);           /* movsx rax,byte [rbx] */
    EXPECT(E.gpr[X86_RAX] == 0xffffffffffffffa5ULL);
    EXPECT(RUN(0x0f, 0xb7, 0x03) == X86EMUL_OK);                 /* movzx eax,word [rbx] */
    EXPECT(E.gpr[X86_RAX] == 0xa5a5);
    EXPECT(RUN(0x0f, 0xbf, 0x0b) == X86EMUL_OK);                 /* movsx ecx,word [rbx] */
    EXPECT(E.gpr[X86_RCX] == 0xffffa5a5ULL);
    E.gpr[X86_RAX] = 0x1111;
    EXPECT(RUN(0x8a, 0x23) == X86EMUL_OK);                       /* mov ah,[rbx] */
    EXPECT(E.gpr[X86_RAX] == 0xa511);
    /* RIP-relative: next RIP + disp32. */
    memcpy(V.ram + 0x2000, "\x44\x33\x22\x11", 4);
    EXPECT(RUN(0x8b, 0x05, 0xfa, 0x0f, 0, 0) == X86EMUL_OK);    /* 0x1006 + 0xffa */
    EXPECT(E.gpr[X86_RAX] == 0x11223344);
    /* SIB: [rbx + rcx*4 + 8]; [r12] needs a SIB, [r13] a disp8. */
    E.gpr[X86_RCX] = 2;
    setmm32(0x20, 0xdeadbeef);
    EXPECT(RUN(0x8b, 0x44, 0x8b, 0x08) == X86EMUL_OK && E.gpr[X86_RAX] == 0xdeadbeef);
    E.gpr[12] = MM + 0x20;
    EXPECT(RUN(0x41, 0x8b, 0x04, 0x24) == X86EMUL_OK && E.gpr[X86_RAX] == 0xdeadbeef);
    E.gpr[13] = MM + 0x1c;
    EXPECT(RUN(0x41, 0x8b, 0x45, 0x04) == X86EMUL_OK && E.gpr[X86_RAX] == 0xdeadbeef);
    /* A REX before a legacy prefix is void: a 16-bit store. */
    E.gpr[X86_RAX] = 0x12345678;
    EXPECT(RUN(0x48, 0x66, 0x89, 0x43, 0x60) == X86EMUL_OK && V.last_width == 2);
    /* fs override counts, cs is ignored in 64-bit mode. */
    E.seg_base[X86_SEG_FS] = 0x10;
    E.seg_base[X86_SEG_CS] = 0x100;
    EXPECT(RUN(0x64, 0x8b, 0x03) == X86EMUL_OK && E.gpr[X86_RAX] == 0xdeadbeef);
    EXPECT(RUN(0x2e, 0x8b, 0x43, 0x10) == X86EMUL_OK && E.gpr[X86_RAX] == 0xdeadbeef);
}

static void test_alu(void)
{
    env_init(&V, 64);
    E.gpr[X86_RBX] = MM + 0x10;
    EXPECT(RUN(0x81, 0x23, 0x00, 0xff, 0x00, 0x00) == X86EMUL_OK);  /* and dword [rbx],0xff00 */
    EXPECT(mm32(0x10) == 0xa500 && !FL(X86_FL_ZF) && !FL(X86_FL_CF) && !FL(X86_FL_SF));
    EXPECT(FL(X86_FL_PF));                                          /* low byte 0: even */
    unsigned w = V.mmio_writes;
    setmm32(0x10, 3);
    EXPECT(RUN(0x83, 0x3b, 0x05) == X86EMUL_OK);                    /* cmp dword [rbx],5 */
    EXPECT(FL(X86_FL_CF) && FL(X86_FL_SF) && !FL(X86_FL_ZF) && V.mmio_writes == w);
    EXPECT(mm32(0x10) == 3);
    V.mmio[0x10] = 0xa5;
    EXPECT(RUN(0x80, 0x3b, 0xa5) == X86EMUL_OK && FL(X86_FL_ZF) && !FL(X86_FL_CF));
    setmm32(0x10, 0x80000000);
    E.gpr[X86_RAX] = 1;
    EXPECT(RUN(0x29, 0x03) == X86EMUL_OK);                          /* sub [rbx],eax */
    EXPECT(mm32(0x10) == 0x7fffffff && FL(X86_FL_OF) && !FL(X86_FL_CF) && FL(X86_FL_AF));
    setmm32(0x10, 0xffffffff);
    EXPECT(RUN(0x01, 0x03) == X86EMUL_OK);                          /* add [rbx],eax */
    EXPECT(mm32(0x10) == 0 && FL(X86_FL_CF) && FL(X86_FL_ZF) && !FL(X86_FL_OF));
    EXPECT(RUN(0x11, 0x03) == X86EMUL_OK);                          /* adc: 0 + 1 + CF */
    EXPECT(mm32(0x10) == 2 && !FL(X86_FL_CF));
    EXPECT(RUN(0x0b, 0x03) == X86EMUL_OK);                          /* or eax,[rbx] */
    EXPECT(E.gpr[X86_RAX] == 3 && FL(X86_FL_PF));
    EXPECT(RUN(0x33, 0x03) == X86EMUL_OK);                          /* xor eax,[rbx] */
    EXPECT(E.gpr[X86_RAX] == 1 && !FL(X86_FL_PF));
    EXPECT(RUN(0x85, 0x03) == X86EMUL_OK && FL(X86_FL_ZF));         /* test [rbx],eax: 2&1 */
    V.mmio[0x10] = 0x80;
    EXPECT(RUN(0xf6, 0x03, 0x80) == X86EMUL_OK && !FL(X86_FL_ZF) && FL(X86_FL_SF));
    E.rflags |= X86_FL_CF;
    setmm32(0x10, 0x7fffffff);
    EXPECT(RUN(0xff, 0x03) == X86EMUL_OK);                          /* inc keeps CF */
    EXPECT(mm32(0x10) == 0x80000000 && FL(X86_FL_CF) && FL(X86_FL_OF));
    EXPECT(RUN(0xf0, 0x83, 0x2b, 0x01) == X86EMUL_OK);              /* lock sub [rbx],1 */
    EXPECT(mm32(0x10) == 0x7fffffff);
    E.gpr[X86_RAX] = 0x55;
    EXPECT(RUN(0x87, 0x03) == X86EMUL_OK);                          /* xchg [rbx],eax */
    EXPECT(mm32(0x10) == 0x55 && E.gpr[X86_RAX] == 0x7fffffff);
    /* BT family: a register offset addresses past the dword. */
    setmm32(0x14, 2);
    E.gpr[X86_RCX] = 33;
    EXPECT(RUN(0x0f, 0xa3, 0x0b) == X86EMUL_OK && FL(X86_FL_CF));   /* bt [rbx],ecx */
    EXPECT(RUN(0x0f, 0xb3, 0x0b) == X86EMUL_OK && FL(X86_FL_CF) && mm32(0x14) == 0);  /* btr */
    E.gpr[X86_RCX] = (uint32_t)-1;                                  /* bit -1: the dword before */
    setmm32(0x0c, 0);
    EXPECT(RUN(0x0f, 0xab, 0x0b) == X86EMUL_OK && !FL(X86_FL_CF) && mm32(0x0c) == 0x80000000u);
    EXPECT(RUN(0x0f, 0xba, 0x2b, 0x05) == X86EMUL_OK && mm32(0x10) == 0x75);  /* bts [rbx],5 */
    /* bit offset INT64_MIN (the fuzzer's find: its floor division negated
     * it, undefined): 2^57 qwords below, far outside the MMIO page */
    E.gpr[X86_RCX] = 0x8000000000000000ULL;
    EXPECT(RUN(0x48, 0x0f, 0xa3, 0x0b) == X86EMUL_EXCEPTION);       /* bt [rbx],rcx */
}

static void test_stack(void)
{
    env_init(&V, 64);
    E.gpr[X86_RBX] = MM + 0x10;
    E.gpr[X86_RSP] = 0x8000;
    EXPECT(RUN(0xff, 0x33) == X86EMUL_OK);                          /* push qword [rbx] */
    uint64_t x;
    memcpy(&x, V.ram + 0x7ff8, 8);
    EXPECT(E.gpr[X86_RSP] == 0x7ff8 && x == 0xa5a5a5a5a5a5a5a5ULL);
    memcpy(V.ram + 0x7ff8, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    EXPECT(RUN(0x8f, 0x43, 0x08) == X86EMUL_OK);                    /* pop qword [rbx+8] */
    EXPECT(E.gpr[X86_RSP] == 0x8000 && mm64(0x18) == 0x0807060504030201ULL);
    /* pop [rsp]: the address uses RSP after the pop. */
    E.gpr[X86_RSP] = 0x7ff0;
    memcpy(V.ram + 0x7ff0, "\x11\x11\x11\x11\x11\x11\x11\x11", 8);
    EXPECT(RUN(0x8f, 0x04, 0x24) == X86EMUL_OK && E.gpr[X86_RSP] == 0x7ff8);
    memcpy(&x, V.ram + 0x7ff8, 8);
    EXPECT(x == 0x1111111111111111ULL);
}

static void test_string(void)
{
    env_init(&V, 64);
    E.gpr[X86_RSI] = MM + 0x10;
    E.gpr[X86_RDI] = 0x3000;
    E.gpr[X86_RCX] = 8;
    EXPECT(RUN(0xf3, 0xa4) == X86EMUL_OK);                          /* rep movsb */
    EXPECT(E.gpr[X86_RCX] == 0 && E.gpr[X86_RSI] == MM + 0x18 && E.gpr[X86_RDI] == 0x3008);
    EXPECT(V.ram[0x3000] == 0xa5 && V.ram[0x3007] == 0xa5 && V.mmio_reads == 8);
    EXPECT(E.rip == CODE + 2);
    E.rflags |= X86_FL_DF;
    E.gpr[X86_RDI] = MM + 0x108;
    E.gpr[X86_RCX] = 2;
    E.gpr[X86_RAX] = 0x0102030405060708ULL;
    EXPECT(RUN(0xf3, 0x48, 0xab) == X86EMUL_OK);                    /* std; rep stosq */
    EXPECT(mm64(0x108) == 0x0102030405060708ULL && mm64(0x100) == 0x0102030405060708ULL);
    EXPECT(E.gpr[X86_RDI] == MM + 0xf8 && E.gpr[X86_RCX] == 0 && V.last_width == 8);
    E.rflags &= ~(uint64_t)X86_FL_DF;
    /* More than X86EMUL_REP_MAX: RIP stays until RCX is 0. */
    E.gpr[X86_RDI] = 0x4000;
    E.gpr[X86_RCX] = X86EMUL_REP_MAX + 44;
    EXPECT(RUN(0xf3, 0xaa) == X86EMUL_OK && E.gpr[X86_RCX] == 44 && E.rip == CODE);
    EXPECT(x86_emulate(&E) == X86EMUL_OK && E.gpr[X86_RCX] == 0 && E.rip == CODE + 2);
    EXPECT(E.gpr[X86_RDI] == 0x4000 + X86EMUL_REP_MAX + 44);
    EXPECT(RUN(0xf3, 0xaa) == X86EMUL_OK && E.rip == CODE + 2 && E.gpr[X86_RDI] == 0x4000 + X86EMUL_REP_MAX + 44);
    /* lods, ins, outs; a fault midway keeps the iterations done. */
    E.gpr[X86_RSI] = MM + 0x10;
    EXPECT(RUN(0xad) == X86EMUL_OK && E.gpr[X86_RAX] == 0xa5a5a5a5 && E.gpr[X86_RSI] == MM + 0x14);
    E.gpr[X86_RDX] = 0x80;
    E.gpr[X86_RDI] = 0x5000;
    EXPECT(RUN(0x66, 0x6d) == X86EMUL_OK && V.ram[0x5000] == 0x78 && V.ram[0x5001] == 0x56);
    EXPECT(E.gpr[X86_RDI] == 0x5002 && V.last_port == 0x80);
    E.gpr[X86_RSI] = 0x5000;
    E.gpr[X86_RDX] = 0xe9;
    E.gpr[X86_RCX] = 2;
    V.iters = 0;
    EXPECT(RUN(0xf3, 0x6e) == X86EMUL_OK && V.io_outs == 2 && V.last_out == 0x56 && V.last_port == 0xe9);
    EXPECT(V.iters == 2);                       /* iter_done after each REP iteration */
    V.iters = 0;
    EXPECT(RUN(0x6e) == X86EMUL_OK && V.iters == 0);   /* none without REP */
    E.gpr[X86_RSI] = ENV_RAM - 2;
    E.gpr[X86_RDI] = MM;
    E.gpr[X86_RCX] = 4;
    EXPECT(RUN(0xf3, 0xa4) == X86EMUL_EXCEPTION && E.exn_vec == 14 && E.exn_cr2 == ENV_RAM);
    EXPECT(E.gpr[X86_RCX] == 2 && E.gpr[X86_RSI] == ENV_RAM && E.rip == CODE);
    /* 32-bit addresses (67): RSI/RDI/RCX as 32-bit registers. */
    E.gpr[X86_RSI] = 0xffffffff00005000ULL;
    E.gpr[X86_RDI] = 0x6000;
    E.gpr[X86_RCX] = 0xffffffff00000001ULL;
    EXPECT(RUN(0x67, 0xf3, 0xa4) == X86EMUL_OK && E.gpr[X86_RCX] == 0 && E.gpr[X86_RSI] == 0x5001);
}

static void test_modes(void)
{
    env_init(&V, 32);
    E.seg_base[X86_SEG_DS] = 0x100;
    E.gpr[X86_RBX] = 0x2000;
    memcpy(V.ram + 0x2100, "\x78\x56\x34\x12", 4);
    EXPECT(RUN(0x8b, 0x03) == X86EMUL_OK && E.gpr[X86_RAX] == 0x12345678);
    EXPECT(RUN(0x66, 0x8b, 0x0b) == X86EMUL_OK && E.gpr[X86_RCX] == 0x5678);
    EXPECT(RUN(0xa1, 0x00, 0x20, 0, 0) == X86EMUL_OK && E.gpr[X86_RAX] == 0x12345678 && E.len == 5);
    EXPECT(RUN(0x67, 0x8b, 0x07) == X86EMUL_OK && E.gpr[X86_RAX] == 0x12345678);  /* [bx] */
    EXPECT(RUN(0x40) == X86EMUL_UNHANDLED);                          /* inc eax, not REX */
    /* 32-bit mode: a CS base, EIP wraps at 4G. */
    E.seg_base[X86_SEG_CS] = 0x800;
    E.rip = 0x800;
    memcpy(V.ram + 0x1000, "\x8b\x03", 2);
    EXPECT(x86_emulate(&E) == X86EMUL_OK && E.rip == 0x802);
    E.seg_base[X86_SEG_CS] = 0;
    /* Flat 32-bit MMIO via a disp32. */
    E.seg_base[X86_SEG_DS] = 0;
    EXPECT(RUN(0xc7, 0x05, 0x40, 0x00, 0xe0, 0xfe, 0x11, 0x22, 0x33, 0x44) == X86EMUL_OK);
    EXPECT(mm32(0x40) == 0x44332211);
    /* 16-bit real mode: ds:bx, bp defaults to ss, 66 makes it 32-bit. */
    env_init(&V, 16);
    E.seg_base[X86_SEG_DS] = 0x2000;
    E.seg_base[X86_SEG_SS] = 0x3000;
    E.gpr[X86_RBX] = 0x10;
    E.gpr[X86_RBP] = 0x20;
    memcpy(V.ram + 0x2010, "\x34\x12\xcd\xab", 4);
    memcpy(V.ram + 0x3020, "\x99\x88", 2);
    EXPECT(RUN(0x8b, 0x07) == X86EMUL_OK && E.gpr[X86_RAX] == 0x1234 && E.len == 2);
    EXPECT(RUN(0x66, 0x8b, 0x07) == X86EMUL_OK && E.gpr[X86_RAX] == 0xabcd1234);
    EXPECT(RUN(0x8b, 0x46, 0x00) == X86EMUL_OK && E.gpr[X86_RAX] == 0xabcd8899);
    EXPECT(RUN(0x8b, 0x0e, 0x10, 0x00) == X86EMUL_OK && E.gpr[X86_RCX] == 0x1234);  /* [disp16] */
}

static void test_refusals(void)
{
    env_init(&V, 64);
    E.gpr[X86_RBX] = MM;
    EXPECT(RUN(0x0f, 0x0b) == X86EMUL_UNHANDLED && E.why);          /* ud2 */
    EXPECT(RUN(0xf4) == X86EMUL_UNHANDLED);                          /* hlt */
    EXPECT(RUN(0xf0, 0x89, 0x03) == X86EMUL_UNHANDLED);              /* lock mov */
    EXPECT(RUN(0xf0, 0x39, 0x03) == X86EMUL_UNHANDLED);              /* lock cmp */
    EXPECT(RUN(0xf0, 0x01, 0xc3) == X86EMUL_UNHANDLED);              /* lock add reg,reg */
    EXPECT(RUN(0xf7, 0x13) == X86EMUL_UNHANDLED && E.len == 2);      /* not: not emulated */
    EXPECT(RUN(0xd9, 0x00) == X86EMUL_UNHANDLED && E.len == 1);      /* fld */
    EXPECT(RUN(0xc7, 0xf8, 0, 0, 0, 0) == X86EMUL_UNHANDLED);        /* xbegin */
    unsigned r = V.mmio_reads, w = V.mmio_writes;
    /* 15 prefixes and an opcode: 16 bytes, #GP(0). */
    EXPECT(RUN(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
               0x66, 0x66, 0x66, 0x8b, 0x03) == X86EMUL_EXCEPTION);
    EXPECT(E.exn_vec == 13 && E.exn_has_err && E.exn_err == 0 && E.rip == CODE);
    /* A fetch into the page after RAM: #PF with that address. */
    static const uint8_t tail[] = { 0x8b, 0x83 };
    EXPECT(run_at(ENV_RAM - 2, tail, 2) == X86EMUL_EXCEPTION);
    EXPECT(E.exn_vec == 14 && E.exn_cr2 == ENV_RAM && E.rip == ENV_RAM - 2);
    /* A data access outside everything: #PF, registers untouched. */
    E.gpr[X86_RBX] = 0x500000;
    E.gpr[X86_RAX] = 7;
    EXPECT(RUN(0x8b, 0x03) == X86EMUL_EXCEPTION && E.exn_vec == 14 && E.exn_cr2 == 0x500000);
    EXPECT(E.gpr[X86_RAX] == 7 && E.rip == CODE);
    EXPECT(RUN(0x89, 0x03) == X86EMUL_EXCEPTION && (E.exn_err & 2));
    EXPECT(V.mmio_reads == r && V.mmio_writes == w);
    /* An unknown mode is refused. */
    E.mode = 8;
    EXPECT(RUN(0x8b, 0x03) == X86EMUL_UNHANDLED);
}

/* REP INS/OUTS in batches (rep_io): the count asked depends on the
 * registers alone, stops short of the index wrapping, and a batch of 0
 * falls back to one by one; a RETRY comes back to the caller. */
static struct { unsigned calls, limit; int rc; uint64_t lin, count, first; bool in, df; } B;

static int batch_io(struct x86_emul *e, uint16_t port, unsigned size, bool in, int seg,
                    uint64_t lin, uint64_t count, bool df, uint64_t *done)
{
    (void)e, (void)port, (void)size, (void)seg;
    if (!B.calls++)
        B.first = count;
    B.lin = lin, B.count = count, B.in = in, B.df = df;
    *done = count < B.limit ? count : B.limit;
    return B.rc;
}

static void test_rep_io(void)
{
    static struct x86_emul_ops ops;
    env_init(&V, 64);
    ops = *E.ops;
    ops.rep_io = batch_io;
    E.ops = &ops;
    memset(&B, 0, sizeof(B));
    B.limit = 100;
    E.gpr[X86_RDX] = 0x1f0;
    E.gpr[X86_RDI] = 0x5000;
    E.gpr[X86_RCX] = 300;
    EXPECT(RUN(0xf3, 0x66, 0x6d) == X86EMUL_OK);                  /* rep insw */
    EXPECT(B.calls == 3 && B.in && !B.df && B.lin == 0x5000 + 400 && B.count == 100);
    EXPECT(E.gpr[X86_RCX] == 0 && E.gpr[X86_RDI] == 0x5000 + 600 && E.rip == CODE + 3);
    EXPECT(V.iters == 3 && V.io_ins == 0);
    /* the first batch asks at most X86EMUL_REP_MAX; past it RIP stays */
    B.calls = 0;
    B.limit = 1000;
    E.gpr[X86_RSI] = 0x6000;
    E.gpr[X86_RCX] = 1000;
    EXPECT(RUN(0xf3, 0x6f) == X86EMUL_OK && B.calls == 1 && !B.in);  /* rep outsd */
    EXPECT(B.count == X86EMUL_REP_MAX && E.gpr[X86_RCX] == 1000 - X86EMUL_REP_MAX);
    EXPECT(E.rip == CODE && E.gpr[X86_RSI] == 0x6000 + 4 * X86EMUL_REP_MAX);
    /* 16-bit addresses going down: no more than reach 0 */
    env_init(&V, 16);
    E.ops = &ops;
    B.calls = 0;
    E.rflags |= X86_FL_DF;
    E.gpr[X86_RDI] = 4;
    E.gpr[X86_RCX] = 10;
    E.gpr[X86_RDX] = 0x1f0;
    EXPECT(RUN(0xf3, 0x6d) == X86EMUL_OK && B.first == 3 && B.df);   /* rep insw */
    EXPECT(B.calls == 2 && B.count == 7 && B.lin == 0xfffe);         /* then from the top */
    EXPECT((E.gpr[X86_RDI] & 0xffff) == 0xfff0 && (E.gpr[X86_RCX] & 0xffff) == 0);
    /* done 0: element by element through in() */
    env_init(&V, 64);
    E.ops = &ops;
    B.limit = 0;
    E.gpr[X86_RDI] = 0x5000;
    E.gpr[X86_RCX] = 3;
    EXPECT(RUN(0xf3, 0x6c) == X86EMUL_OK && V.io_ins == 3 && E.gpr[X86_RCX] == 0);
    /* RETRY from the batch: nothing moves */
    B.limit = 5;
    B.rc = X86EMUL_RETRY;
    E.gpr[X86_RCX] = 8;
    EXPECT(RUN(0xf3, 0x6c) == X86EMUL_RETRY && E.gpr[X86_RCX] == 8 && E.gpr[X86_RDI] == 0x5003);
}

int main(void)
{
    test_mov64();
    test_alu();
    test_stack();
    test_string();
    test_rep_io();
    test_modes();
    test_refusals();
    UNIT_DONE();
}
