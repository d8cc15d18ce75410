/*
 * The x86 instruction emulator (x86_emul.h, docs/hvm.md): decodes the one
 * instruction at RIP (prefixes, REX, ModRM/SIB/displacement, RIP-relative,
 * 16/32/64-bit addressing) and executes the forms firmware and kernels use
 * on MMIO and ports: MOV, MOVZX/MOVSX, MOVS/STOS/LODS/INS/OUTS (REP, DF),
 * the ALU group, TEST, INC/DEC, XCHG, PUSH/POP of memory, BT/BTS/BTR/BTC.
 * Everything else is X86EMUL_UNHANDLED (the caller injects #UD).
 * Freestanding: no libc.
 */
#include "x86_emul.h"

enum { OP_NONE, OP_REG, OP_MEM, OP_IMM };

struct opnd {
    int kind;
    unsigned reg;      /* OP_REG: index; hi8: AH..BH */
    bool hi8;
    int seg;           /* OP_MEM */
    uint64_t ea;       /* OP_MEM: effective address (before the segment) */
    uint64_t val;      /* OP_IMM */
};

struct dec {
    struct x86_emul *e;
    unsigned pos;
    unsigned opbytes, adbytes;
    int seg_ovr;               /* -1: none */
    bool lock, rep, repne, rex_present;
    uint8_t rex;
    bool rip_rel;
    bool base_rsp;             /* the r/m operand's base is RSP */
    uint8_t modrm_mod, modrm_reg, modrm_rm;
    struct opnd rm;            /* the ModRM r/m operand */
};

int x86_emul_raise(struct x86_emul *e, uint8_t vec, bool has_err, uint32_t err, uint64_t cr2)
{
    e->exn_vec = vec;
    e->exn_has_err = has_err;
    e->exn_err = err;
    e->exn_cr2 = cr2;
    return X86EMUL_EXCEPTION;
}

static int refuse(struct x86_emul *e, const char *why)
{
    e->why = why;
    return X86EMUL_UNHANDLED;
}

static uint64_t mask_of(unsigned bytes)
{
    return bytes >= 8 ? ~0ULL : (1ULL << (bytes * 8)) - 1;
}

static uint64_t sext(uint64_t v, unsigned bytes)
{
    if (bytes >= 8)
        return v;
    unsigned sh = 64 - bytes * 8;
    return (uint64_t)((int64_t)(v << sh) >> sh);
}

/* ---- fetch ---------------------------------------------------------- */

static uint64_t code_lin(struct x86_emul *e, unsigned off)
{
    if (e->mode == 64)
        return e->rip + off;
    uint64_t ip = e->mode == 16 ? ((e->rip + off) & 0xffff) : ((e->rip + off) & 0xffffffffULL);
    return (e->seg_base[X86_SEG_CS] + ip) & 0xffffffffULL;
}

/* Byte i of the instruction, fetched page by page on demand. */
static int fetch_byte(struct dec *d, uint8_t *b)
{
    struct x86_emul *e = d->e;
    if (d->pos >= 15)
        return x86_emul_raise(e, 13, true, 0, 0);    /* longer than 15 bytes: #GP(0) */
    if (d->pos >= e->insn_have) {
        uint64_t lin = code_lin(e, e->insn_have);
        unsigned n = 15 - e->insn_have;
        unsigned to_page = 4096 - (unsigned)(lin & 4095);
        if (n > to_page)
            n = to_page;
        int rc = e->ops->fetch(e, lin, e->insn + e->insn_have, n);
        if (rc)
            return rc;
        e->insn_have += n;
    }
    *b = e->insn[d->pos++];
    return X86EMUL_OK;
}

static int fetch_imm(struct dec *d, unsigned bytes, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < bytes; i++) {
        uint8_t b;
        int rc = fetch_byte(d, &b);
        if (rc)
            return rc;
        x |= (uint64_t)b << (8 * i);
    }
    *v = x;
    return X86EMUL_OK;
}

/* ---- registers and operands ----------------------------------------- */

static uint64_t reg_get(struct x86_emul *e, unsigned r, bool hi8, unsigned bytes)
{
    if (hi8)
        return (e->gpr[r] >> 8) & 0xff;
    return e->gpr[r] & mask_of(bytes);
}

static void reg_set(struct x86_emul *e, unsigned r, bool hi8, unsigned bytes, uint64_t v)
{
    if (hi8)
        e->gpr[r] = (e->gpr[r] & ~0xff00ULL) | ((v & 0xff) << 8);
    else if (bytes == 4)
        e->gpr[r] = (uint32_t)v;                     /* 32-bit writes zero-extend */
    else if (bytes == 8)
        e->gpr[r] = v;
    else
        e->gpr[r] = (e->gpr[r] & ~mask_of(bytes)) | (v & mask_of(bytes));
}

/* A register operand from its 4-bit number: without REX, byte registers
 * 4-7 are AH, CH, DH, BH. */
static struct opnd reg_opnd(struct dec *d, unsigned r, unsigned bytes)
{
    struct opnd o = { .kind = OP_REG, .reg = r };
    if (bytes == 1 && !d->rex_present && r >= 4 && r < 8) {
        o.reg = r - 4;
        o.hi8 = true;
    }
    return o;
}

static uint64_t lin_of(struct dec *d, int seg, uint64_t ea)
{
    struct x86_emul *e = d->e;
    ea &= mask_of(d->adbytes);
    if (e->mode == 64)
        return (seg == X86_SEG_FS || seg == X86_SEG_GS) ? e->seg_base[seg] + ea : ea;
    return (e->seg_base[seg] + ea) & 0xffffffffULL;
}

static int opnd_read(struct dec *d, const struct opnd *o, unsigned bytes, uint64_t *v)
{
    struct x86_emul *e = d->e;
    switch (o->kind) {
    case OP_REG:
        *v = reg_get(e, o->reg, o->hi8, bytes);
        return X86EMUL_OK;
    case OP_IMM:
        *v = o->val & mask_of(bytes);
        return X86EMUL_OK;
    case OP_MEM: {
        uint64_t x = 0;
        int rc = e->ops->read(e, o->seg, lin_of(d, o->seg, o->ea), &x, bytes);
        *v = x & mask_of(bytes);
        return rc;
    }
    }
    return refuse(e, "internal: no operand");
}

static int opnd_write(struct dec *d, const struct opnd *o, unsigned bytes, uint64_t v)
{
    struct x86_emul *e = d->e;
    switch (o->kind) {
    case OP_REG:
        reg_set(e, o->reg, o->hi8, bytes, v);
        return X86EMUL_OK;
    case OP_MEM:
        return e->ops->write(e, o->seg, lin_of(d, o->seg, o->ea), v & mask_of(bytes), bytes);
    }
    return refuse(e, "internal: operand not writable");
}

/* ---- ModRM ---------------------------------------------------------- */

/* The displacement that ModRM's mod field asks for after the address
 * registers: none (mod 0), 8 bits (mod 1) or 'wide' bytes (mod 2: 2 with
 * 16-bit addressing, else 4), sign-extended (a 16-bit address is
 * truncated to 16 bits after the sum anyway). */
static int fetch_disp(struct dec *d, unsigned wide, uint64_t *disp)
{
    unsigned n = d->modrm_mod == 1 ? 1 : d->modrm_mod == 2 ? wide : 0;
    if (!n)
        return X86EMUL_OK;
    int rc = fetch_imm(d, n, disp);
    if (!rc)
        *disp = sext(*disp, n);
    return rc;
}

static int decode_modrm(struct dec *d)
{
    struct x86_emul *e = d->e;
    uint8_t m;
    int rc = fetch_byte(d, &m);
    if (rc)
        return rc;
    d->modrm_mod = m >> 6;
    d->modrm_reg = ((m >> 3) & 7) | ((d->rex & 4) ? 8 : 0);
    d->modrm_rm = m & 7;
    struct opnd *o = &d->rm;
    if (d->modrm_mod == 3) {
        o->kind = OP_REG;
        o->reg = d->modrm_rm | ((d->rex & 1) ? 8 : 0);  /* byte form fixed up later */
        return X86EMUL_OK;
    }
    o->kind = OP_MEM;
    o->seg = X86_SEG_DS;
    uint64_t ea = 0, disp = 0;
    if (d->adbytes == 2) {
        static const int8_t base16[8] = { X86_RBX, X86_RBX, X86_RBP, X86_RBP, -1, -1, X86_RBP, X86_RBX };
        static const int8_t idx16[8] = { X86_RSI, X86_RDI, X86_RSI, X86_RDI, X86_RSI, X86_RDI, -1, -1 };
        unsigned rm = d->modrm_rm;
        if (d->modrm_mod == 0 && rm == 6) {
            if ((rc = fetch_imm(d, 2, &disp)))
                return rc;
        } else {
            if (base16[rm] >= 0)
                ea += e->gpr[base16[rm]] & 0xffff;
            if (idx16[rm] >= 0)
                ea += e->gpr[idx16[rm]] & 0xffff;
            if (base16[rm] == X86_RBP)
                o->seg = X86_SEG_SS;
            if ((rc = fetch_disp(d, 2, &disp)))
                return rc;
        }
        o->ea = (ea + disp) & 0xffff;
        return X86EMUL_OK;
    }
    unsigned rm = d->modrm_rm;
    if (rm == 4) {
        uint8_t sib;
        if ((rc = fetch_byte(d, &sib)))
            return rc;
        unsigned scale = sib >> 6;
        unsigned index = ((sib >> 3) & 7) | ((d->rex & 2) ? 8 : 0);
        unsigned base = (sib & 7) | ((d->rex & 1) ? 8 : 0);
        if (index != 4)
            ea += e->gpr[index] << scale;
        if ((base & 7) == 5 && d->modrm_mod == 0) {
            if ((rc = fetch_imm(d, 4, &disp)))
                return rc;
            disp = sext(disp, 4);
        } else {
            ea += e->gpr[base];
            d->base_rsp = base == X86_RSP;
            if ((base & 7) == 4 || (base & 7) == 5)
                o->seg = X86_SEG_SS;
        }
    } else if (rm == 5 && d->modrm_mod == 0) {
        if ((rc = fetch_imm(d, 4, &disp)))
            return rc;
        disp = sext(disp, 4);
        if (e->mode == 64)
            d->rip_rel = true;                       /* + the next RIP, once known */
    } else {
        unsigned base = rm | ((d->rex & 1) ? 8 : 0);
        ea += e->gpr[base];
        if (rm == 5)
            o->seg = X86_SEG_SS;
    }
    if ((rc = fetch_disp(d, 4, &disp)))
        return rc;
    o->ea = ea + disp;
    return X86EMUL_OK;
}

/* The r/m operand for an operation of this width (byte registers). */
static struct opnd rm_opnd(struct dec *d, unsigned bytes)
{
    if (d->rm.kind == OP_REG)
        return reg_opnd(d, d->rm.reg, bytes);
    struct opnd o = d->rm;
    if (d->seg_ovr >= 0)
        o.seg = d->seg_ovr;
    return o;
}

/* ---- flags ---------------------------------------------------------- */

static uint64_t szp(uint64_t r, unsigned bytes)
{
    uint64_t f = 0;
    r &= mask_of(bytes);
    if (!r)
        f |= X86_FL_ZF;
    if (r >> (bytes * 8 - 1))
        f |= X86_FL_SF;
    uint8_t p = (uint8_t)r;
    p ^= p >> 4;
    p ^= p >> 2;
    p ^= p >> 1;
    if (!(p & 1))
        f |= X86_FL_PF;
    return f;
}

/* The eight ALU operations (the encoding's order): result and flags. */
enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

static uint64_t alu(unsigned op, uint64_t a, uint64_t b, unsigned bytes, uint64_t *rflags)
{
    uint64_t m = mask_of(bytes), sign = 1ULL << (bytes * 8 - 1);
    uint64_t c = (op == ALU_ADC || op == ALU_SBB) ? (*rflags & X86_FL_CF) : 0;
    uint64_t r, f = 0;
    a &= m;
    b &= m;
    switch (op) {
    case ALU_ADD:
    case ALU_ADC:
        r = (a + b + c) & m;
        if (r < a || (c && r == a))
            f |= X86_FL_CF;
        if ((a ^ r) & (b ^ r) & sign)
            f |= X86_FL_OF;
        f |= (a ^ b ^ r) & X86_FL_AF;
        break;
    case ALU_SUB:
    case ALU_SBB:
    case ALU_CMP:
        r = (a - b - c) & m;
        if (a < b || (c && a == b))
            f |= X86_FL_CF;
        if ((a ^ b) & (a ^ r) & sign)
            f |= X86_FL_OF;
        f |= (a ^ b ^ r) & X86_FL_AF;
        break;
    case ALU_OR:
        r = a | b;
        break;
    case ALU_AND:
        r = a & b;
        break;
    default:
        r = a ^ b;
        break;
    }
    f |= szp(r, bytes);
    *rflags = (*rflags & ~(uint64_t)X86_FL_ARITH) | f;
    return r;
}

/* ---- string instructions -------------------------------------------- */

/* MOVS, STOS, LODS, INS, OUTS, with REP and DF. */
static int string_op(struct dec *d, uint8_t op)
{
    struct x86_emul *e = d->e;
    unsigned bytes = (op & 1) ? d->opbytes : 1;
    uint64_t am = mask_of(d->adbytes);
    int src_seg = d->seg_ovr >= 0 ? d->seg_ovr : X86_SEG_DS;
    int64_t step = (e->rflags & X86_FL_DF) ? -(int64_t)bytes : (int64_t)bytes;
    bool rep = d->rep || d->repne;
    if ((op == 0x6c || op == 0x6d || op == 0x6e || op == 0x6f) && bytes == 8)
        bytes = 4;                                   /* INS/OUTS: at most 32 bits */
    if (op == 0x6d || op == 0x6f)
        step = (e->rflags & X86_FL_DF) ? -(int64_t)bytes : (int64_t)bytes;
    for (unsigned n = 0; ; n++) {
        if (rep && !(e->gpr[X86_RCX] & am))
            break;                                   /* a REP with count 0 does nothing */
        if (rep && n >= X86EMUL_REP_MAX)
            return X86EMUL_OK;                       /* more later: RIP stays */
        uint64_t si = e->gpr[X86_RSI] & am, di = e->gpr[X86_RDI] & am, v = 0;
        uint32_t v32 = 0;
        int rc = X86EMUL_OK;
        bool uses_si = false, uses_di = false;
        if (rep && op >= 0x6c && op <= 0x6f && e->ops->rep_io) {
            /* REP INS/OUTS: as many iterations as the callback makes at once */
            bool in = op <= 0x6d, df = e->rflags & X86_FL_DF;
            int seg = in ? X86_SEG_ES : src_seg;
            uint64_t idx = in ? di : si, cnt = e->gpr[X86_RCX] & am;
            uint64_t room = (df ? idx : am - idx) / bytes + 1;     /* before the index wraps */
            if (cnt > X86EMUL_REP_MAX)
                cnt = X86EMUL_REP_MAX;           /* (of the registers alone: a rerun asks the same) */
            if (cnt > room)
                cnt = room;
            uint64_t done = 0;
            rc = e->ops->rep_io(e, (uint16_t)e->gpr[X86_RDX], bytes, in, seg,
                                lin_of(d, seg, idx), cnt, df, &done);
            if (rc)
                return rc;
            if (done > cnt)
                return X86EMUL_FAILED;
            if (done) {
                uint64_t moved = done * bytes;
                uint64_t nidx = (df ? idx - moved : idx + moved) & am;
                int r = in ? X86_RDI : X86_RSI;
                e->gpr[r] = d->adbytes == 4 ? nidx : (e->gpr[r] & ~am) | nidx;
                uint64_t cx = ((e->gpr[X86_RCX] & am) - done) & am;
                e->gpr[X86_RCX] = d->adbytes == 4 ? cx : (e->gpr[X86_RCX] & ~am) | cx;
                n += (unsigned)done - 1;
                if (e->ops->iter_done)
                    e->ops->iter_done(e);
                continue;
            }
        }
        switch (op) {
        case 0xa4: case 0xa5:                        /* MOVS */
            rc = e->ops->read(e, src_seg, lin_of(d, src_seg, si), &v, bytes);
            if (!rc)
                rc = e->ops->write(e, X86_SEG_ES, lin_of(d, X86_SEG_ES, di), v & mask_of(bytes), bytes);
            uses_si = uses_di = true;
            break;
        case 0xaa: case 0xab:                        /* STOS */
            rc = e->ops->write(e, X86_SEG_ES, lin_of(d, X86_SEG_ES, di),
                               e->gpr[X86_RAX] & mask_of(bytes), bytes);
            uses_di = true;
            break;
        case 0xac: case 0xad:                        /* LODS */
            rc = e->ops->read(e, src_seg, lin_of(d, src_seg, si), &v, bytes);
            if (!rc)
                reg_set(e, X86_RAX, false, bytes, v);
            uses_si = true;
            break;
        case 0x6c: case 0x6d:                        /* INS */
            rc = e->ops->in(e, (uint16_t)e->gpr[X86_RDX], bytes, &v32);
            if (!rc)
                rc = e->ops->write(e, X86_SEG_ES, lin_of(d, X86_SEG_ES, di), v32 & mask_of(bytes), bytes);
            uses_di = true;
            break;
        default:                                     /* OUTS */
            rc = e->ops->read(e, src_seg, lin_of(d, src_seg, si), &v, bytes);
            if (!rc)
                rc = e->ops->out(e, (uint16_t)e->gpr[X86_RDX], bytes, (uint32_t)(v & mask_of(bytes)));
            uses_si = true;
            break;
        }
        if (rc)
            return rc;                               /* iterations done so far stay done */
        if (uses_si)
            e->gpr[X86_RSI] = (e->gpr[X86_RSI] & ~am) | ((si + (uint64_t)step) & am);
        if (uses_di)
            e->gpr[X86_RDI] = (e->gpr[X86_RDI] & ~am) | ((di + (uint64_t)step) & am);
        if (d->adbytes == 4) {                       /* 32-bit address writes zero-extend */
            if (uses_si)
                e->gpr[X86_RSI] &= am;
            if (uses_di)
                e->gpr[X86_RDI] &= am;
        }
        if (!rep)
            break;
        uint64_t cx = ((e->gpr[X86_RCX] & am) - 1) & am;
        e->gpr[X86_RCX] = d->adbytes == 4 ? cx : (e->gpr[X86_RCX] & ~am) | cx;
        if (e->ops->iter_done)
            e->ops->iter_done(e);
    }
    e->rip += e->len;
    return X86EMUL_OK;
}

/* ---- the instruction ------------------------------------------------ */

static int finish(struct dec *d)
{
    struct x86_emul *e = d->e;
    e->len = d->pos;
    if (d->rip_rel)
        d->rm.ea += e->rip + d->pos;
    return X86EMUL_OK;
}

static void next_rip(struct x86_emul *e)
{
    e->rip += e->len;
    if (e->mode != 64)
        e->rip &= e->mode == 16 ? 0xffff : 0xffffffffULL;
}

static int emulate(struct dec *dp)
{
    struct x86_emul *e = dp->e;
    e->insn_have = 0;
    e->len = 0;
    e->why = 0;
    if (e->mode != 16 && e->mode != 32 && e->mode != 64)
        return refuse(e, "unknown mode");
    unsigned def = e->mode == 16 ? 2 : 4;
    bool opsz = false, adsz = false;
    uint8_t b;
    int rc;
    /* Prefixes; a REX counts only right before the opcode. */
    for (;;) {
        if ((rc = fetch_byte(dp, &b)))
            return rc;
        if (e->mode == 64 && (b & 0xf0) == 0x40) {
            dp->rex = b;
            dp->rex_present = true;
            continue;
        }
        bool legacy = true;
        switch (b) {
        case 0x66: opsz = true; break;
        case 0x67: adsz = true; break;
        case 0xf0: dp->lock = true; break;
        case 0xf2: dp->repne = true; dp->rep = false; break;
        case 0xf3: dp->rep = true; dp->repne = false; break;
        case 0x26: dp->seg_ovr = X86_SEG_ES; break;
        case 0x2e: dp->seg_ovr = X86_SEG_CS; break;
        case 0x36: dp->seg_ovr = X86_SEG_SS; break;
        case 0x3e: dp->seg_ovr = X86_SEG_DS; break;
        case 0x64: dp->seg_ovr = X86_SEG_FS; break;
        case 0x65: dp->seg_ovr = X86_SEG_GS; break;
        default: legacy = false; break;
        }
        if (!legacy)
            break;
        dp->rex = 0;
        dp->rex_present = false;
    }
    if (e->mode == 64) {
        /* ES/CS/SS/DS overrides are ignored in 64-bit mode. */
        if (dp->seg_ovr >= 0 && dp->seg_ovr != X86_SEG_FS && dp->seg_ovr != X86_SEG_GS)
            dp->seg_ovr = -1;
        dp->opbytes = (dp->rex & 8) ? 8 : opsz ? 2 : 4;
        dp->adbytes = adsz ? 4 : 8;
    } else {
        dp->opbytes = opsz ? 6 - def : def;
        dp->adbytes = adsz ? 6 - def : def;
    }
    uint8_t op = b;
    bool two = false;
    if (op == 0x0f) {
        two = true;
        if ((rc = fetch_byte(dp, &op)))
            return rc;
    }
    unsigned ob = dp->opbytes;

    if (!two) {
        /* ALU r/m,r and r,r/m and AL/eAX,imm: 00-3d except the column 6/7 ones. */
        if (op < 0x40 && (op & 7) < 6) {
            unsigned aop = op >> 3, form = op & 7;
            unsigned bytes = (form & 1) ? ob : 1;
            struct opnd dst, src;
            if (form < 4) {
                if ((rc = decode_modrm(dp)))
                    return rc;
                finish(dp);
                struct opnd r = reg_opnd(dp, dp->modrm_reg, bytes);
                struct opnd m = rm_opnd(dp, bytes);
                dst = form < 2 ? m : r;
                src = form < 2 ? r : m;
            } else {
                uint64_t imm;
                if ((rc = fetch_imm(dp, bytes == 8 ? 4 : bytes, &imm)))
                    return rc;
                finish(dp);
                dst = reg_opnd(dp, X86_RAX, bytes);
                src = (struct opnd){ .kind = OP_IMM, .val = sext(imm, bytes == 8 ? 4 : bytes) };
            }
            if (dp->lock && (dst.kind != OP_MEM || aop == ALU_CMP))
                return refuse(e, "LOCK on an instruction without a memory destination");
            uint64_t a, s;
            if ((rc = opnd_read(dp, &dst, bytes, &a)) || (rc = opnd_read(dp, &src, bytes, &s)))
                return rc;
            uint64_t fl = e->rflags;
            uint64_t r = alu(aop, a, s, bytes, &fl);
            if (aop != ALU_CMP && (rc = opnd_write(dp, &dst, bytes, r)))
                return rc;
            e->rflags = fl;
            next_rip(e);
            return X86EMUL_OK;
        }
        switch (op) {
        case 0x80: case 0x81: case 0x83: {           /* group 1: r/m, imm */
            unsigned bytes = op == 0x80 ? 1 : ob;
            if ((rc = decode_modrm(dp)))
                return rc;
            unsigned isz = op == 0x81 ? (bytes == 8 ? 4 : bytes) : 1;
            uint64_t imm;
            if ((rc = fetch_imm(dp, isz, &imm)))
                return rc;
            unsigned aop = dp->modrm_reg & 7;
            finish(dp);
            struct opnd dst = rm_opnd(dp, bytes);
            if (dp->lock && (dst.kind != OP_MEM || aop == ALU_CMP))
                return refuse(e, "LOCK on an instruction without a memory destination");
            uint64_t a;
            if ((rc = opnd_read(dp, &dst, bytes, &a)))
                return rc;
            uint64_t fl = e->rflags;
            uint64_t r = alu(aop, a, sext(imm, isz), bytes, &fl);
            if (aop != ALU_CMP && (rc = opnd_write(dp, &dst, bytes, r)))
                return rc;
            e->rflags = fl;
            next_rip(e);
            return X86EMUL_OK;
        }
        case 0x84: case 0x85: {                      /* TEST r/m, r */
            unsigned bytes = op == 0x84 ? 1 : ob;
            if (dp->lock)
                return refuse(e, "LOCK TEST");
            if ((rc = decode_modrm(dp)))
                return rc;
            finish(dp);
            struct opnd m = rm_opnd(dp, bytes), r = reg_opnd(dp, dp->modrm_reg, bytes);
            uint64_t a, s;
            if ((rc = opnd_read(dp, &m, bytes, &a)) || (rc = opnd_read(dp, &r, bytes, &s)))
                return rc;
            alu(ALU_AND, a, s, bytes, &e->rflags);
            next_rip(e);
            return X86EMUL_OK;
        }
        case 0x86: case 0x87: {                      /* XCHG r/m, r (locked anyway) */
            unsigned bytes = op == 0x86 ? 1 : ob;
            if ((rc = decode_modrm(dp)))
                return rc;
            finish(dp);
            struct opnd m = rm_opnd(dp, bytes), r = reg_opnd(dp, dp->modrm_reg, bytes);
            if (dp->lock && m.kind != OP_MEM)
                return refuse(e, "LOCK XCHG between registers");
            uint64_t a, s;
            if ((rc = opnd_read(dp, &m, bytes, &a)) || (rc = opnd_read(dp, &r, bytes, &s)))
                return rc;
            if ((rc = opnd_write(dp, &m, bytes, s)))
                return rc;
            opnd_write(dp, &r, bytes, a);
            next_rip(e);
            return X86EMUL_OK;
        }
        case 0x88: case 0x89: case 0x8a: case 0x8b: {   /* MOV */
            unsigned bytes = (op & 1) ? ob : 1;
            if (dp->lock)
                return refuse(e, "LOCK MOV");
            if ((rc = decode_modrm(dp)))
                return rc;
            finish(dp);
            struct opnd m = rm_opnd(dp, bytes), r = reg_opnd(dp, dp->modrm_reg, bytes);
            const struct opnd *src = op < 0x8a ? &r : &m, *dst = op < 0x8a ? &m : &r;
            uint64_t v;
            if ((rc = opnd_read(dp, src, bytes, &v)) || (rc = opnd_write(dp, dst, bytes, v)))
                return rc;
            next_rip(e);
            return X86EMUL_OK;
        }
        case 0x8f: {                                 /* POP r/m */
            if (dp->lock)
                return refuse(e, "LOCK POP");
            if ((rc = decode_modrm(dp)))
                return rc;
            if ((dp->modrm_reg & 7) != 0)
                return refuse(e, "8f with reg != 0 (XOP)");
            unsigned bytes = e->mode == 64 ? (opsz ? 2 : 8) : ob;
            unsigned sb = e->mode == 64 ? 8 : e->mode == 32 ? 4 : 2;  /* SS.B as the mode's */
            finish(dp);
            uint64_t sp = e->gpr[X86_RSP] & mask_of(sb), v;
            struct opnd s = { .kind = OP_MEM, .seg = X86_SEG_SS, .ea = sp };
            unsigned save = dp->adbytes;
            dp->adbytes = sb;
            rc = opnd_read(dp, &s, bytes, &v);
            dp->adbytes = save;
            if (rc)
                return rc;
            /* The address of a POP's memory operand uses the RSP after it. */
            uint64_t old = e->gpr[X86_RSP];
            e->gpr[X86_RSP] = (old & ~mask_of(sb)) | ((sp + bytes) & mask_of(sb));
            struct opnd dst = rm_opnd(dp, bytes);
            if (dst.kind == OP_MEM && dp->base_rsp)
                dst.ea += bytes;
            if ((rc = opnd_write(dp, &dst, bytes, v))) {
                e->gpr[X86_RSP] = old;
                return rc;
            }
            next_rip(e);
            return X86EMUL_OK;
        }
        case 0xa0: case 0xa1: case 0xa2: case 0xa3: {   /* MOV AL/eAX <-> moffs */
            unsigned bytes = (op & 1) ? ob : 1;
            if (dp->lock)
                return refuse(e, "LOCK MOV");
            uint64_t off;
            if ((rc = fetch_imm(dp, dp->adbytes, &off)))
                return rc;
            finish(dp);
            struct opnd m = { .kind = OP_MEM, .seg = dp->seg_ovr >= 0 ? dp->seg_ovr : X86_SEG_DS, .ea = off };
            struct opnd r = { .kind = OP_REG, .reg = X86_RAX };
            uint64_t v;
            if (op < 0xa2)
                rc = opnd_read(dp, &m, bytes, &v) ?: opnd_write(dp, &r, bytes, v);
            else
                rc = opnd_read(dp, &r, bytes, &v) ?: opnd_write(dp, &m, bytes, v);
            if (rc)
                return rc;
            next_rip(e);
            return X86EMUL_OK;
        }
        case 0xa4: case 0xa5: case 0xaa: case 0xab: case 0xac: case 0xad:
        case 0x6c: case 0x6d: case 0x6e: case 0x6f:
            if (dp->lock)
                return refuse(e, "LOCK on a string instruction");
            finish(dp);
            rc = string_op(dp, op);
            if (!rc && e->mode != 64)
                e->rip &= e->mode == 16 ? 0xffff : 0xffffffffULL;
            return rc;
        case 0xc6: case 0xc7: {                      /* MOV r/m, imm */
            unsigned bytes = op == 0xc6 ? 1 : ob;
            if (dp->lock)
                return refuse(e, "LOCK MOV");
            if ((rc = decode_modrm(dp)))
                return rc;
            if ((dp->modrm_reg & 7) != 0)
                return refuse(e, "c6/c7 with reg != 0 (XABORT/XBEGIN)");
            unsigned isz = bytes == 8 ? 4 : bytes;
            uint64_t imm;
            if ((rc = fetch_imm(dp, isz, &imm)))
                return rc;
            finish(dp);
            struct opnd m = rm_opnd(dp, bytes);
            if ((rc = opnd_write(dp, &m, bytes, sext(imm, isz))))
                return rc;
            next_rip(e);
            return X86EMUL_OK;
        }
        case 0xf6: case 0xf7: {                      /* TEST r/m, imm (group 3 /0 and /1) */
            unsigned bytes = op == 0xf6 ? 1 : ob;
            if ((rc = decode_modrm(dp)))
                return rc;
            if ((dp->modrm_reg & 7) > 1)
                return refuse(e, "group 3 other than TEST");
            if (dp->lock)
                return refuse(e, "LOCK TEST");
            unsigned isz = bytes == 8 ? 4 : bytes;
            uint64_t imm;
            if ((rc = fetch_imm(dp, isz, &imm)))
                return rc;
            finish(dp);
            struct opnd m = rm_opnd(dp, bytes);
            uint64_t a;
            if ((rc = opnd_read(dp, &m, bytes, &a)))
                return rc;
            alu(ALU_AND, a, sext(imm, isz), bytes, &e->rflags);
            next_rip(e);
            return X86EMUL_OK;
        }
        case 0xfe: case 0xff: {                      /* INC, DEC, PUSH r/m */
            unsigned bytes = op == 0xfe ? 1 : ob;
            if ((rc = decode_modrm(dp)))
                return rc;
            unsigned sub = dp->modrm_reg & 7;
            if (sub <= 1) {
                finish(dp);
                struct opnd m = rm_opnd(dp, bytes);
                if (dp->lock && m.kind != OP_MEM)
                    return refuse(e, "LOCK INC/DEC of a register");
                uint64_t a, fl = e->rflags;
                if ((rc = opnd_read(dp, &m, bytes, &a)))
                    return rc;
                uint64_t r = alu(sub ? ALU_SUB : ALU_ADD, a, 1, bytes, &fl);
                if ((rc = opnd_write(dp, &m, bytes, r)))
                    return rc;
                e->rflags = (fl & ~(uint64_t)X86_FL_CF) | (e->rflags & X86_FL_CF);
                next_rip(e);
                return X86EMUL_OK;
            }
            if (op == 0xff && sub == 6) {
                if (dp->lock)
                    return refuse(e, "LOCK PUSH");
                bytes = e->mode == 64 ? (opsz ? 2 : 8) : ob;
                unsigned sb = e->mode == 64 ? 8 : e->mode == 32 ? 4 : 2;
                finish(dp);
                struct opnd m = rm_opnd(dp, bytes);
                uint64_t v;
                if ((rc = opnd_read(dp, &m, bytes, &v)))
                    return rc;
                uint64_t sp = (e->gpr[X86_RSP] - bytes) & mask_of(sb);
                struct opnd s = { .kind = OP_MEM, .seg = X86_SEG_SS, .ea = sp };
                unsigned save = dp->adbytes;
                dp->adbytes = sb;
                rc = opnd_write(dp, &s, bytes, v);
                dp->adbytes = save;
                if (rc)
                    return rc;
                e->gpr[X86_RSP] = (e->gpr[X86_RSP] & ~mask_of(sb)) | sp;
                next_rip(e);
                return X86EMUL_OK;
            }
            return refuse(e, "group 4/5 other than INC, DEC, PUSH");
        }
        }
        return refuse(e, "opcode not emulated");
    }

    /* Two-byte opcodes. */
    switch (op) {
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {   /* MOVZX, MOVSX */
        unsigned sbytes = (op & 1) ? 2 : 1;
        if (dp->lock)
            return refuse(e, "LOCK MOVZX/MOVSX");
        if ((rc = decode_modrm(dp)))
            return rc;
        finish(dp);
        struct opnd m = rm_opnd(dp, sbytes);
        struct opnd r = reg_opnd(dp, dp->modrm_reg, ob);
        uint64_t v;
        if ((rc = opnd_read(dp, &m, sbytes, &v)))
            return rc;
        if (op >= 0xbe)
            v = sext(v, sbytes);
        opnd_write(dp, &r, ob, v);
        next_rip(e);
        return X86EMUL_OK;
    }
    case 0xa3: case 0xab: case 0xb3: case 0xbb: case 0xba: {   /* BT, BTS, BTR, BTC */
        if ((rc = decode_modrm(dp)))
            return rc;
        unsigned kind;                               /* 0 BT, 1 BTS, 2 BTR, 3 BTC */
        uint64_t bit;
        bool imm_form = op == 0xba;
        if (imm_form) {
            if ((dp->modrm_reg & 7) < 4)
                return refuse(e, "0f ba with reg < 4");
            kind = (dp->modrm_reg & 7) - 4;
            if ((rc = fetch_imm(dp, 1, &bit)))
                return rc;
        } else {
            kind = op == 0xa3 ? 0 : op == 0xab ? 1 : op == 0xb3 ? 2 : 3;
            bit = reg_get(e, dp->modrm_reg, false, ob);
        }
        finish(dp);
        struct opnd m = rm_opnd(dp, ob);
        if (dp->lock && (kind == 0 || m.kind != OP_MEM))
            return refuse(e, "LOCK BT, or of a register");
        unsigned bits = ob * 8;
        if (m.kind == OP_MEM && !imm_form) {
            /* A register bit offset addresses a bit string: signed. */
            int64_t off = (int64_t)sext(bit, ob);
            /* floor(off / bits) by an arithmetic shift (bits is 16, 32 or
             * 64): no negation, so INT64_MIN is fine too */
            unsigned shift = ob == 2 ? 4 : ob == 4 ? 5 : 6;
            int64_t word = off >> shift;
            m.ea += (uint64_t)word * ob;
            bit = (uint64_t)off & (bits - 1);
        } else {
            bit &= bits - 1;
        }
        uint64_t v;
        if ((rc = opnd_read(dp, &m, ob, &v)))
            return rc;
        bool cf = (v >> bit) & 1;
        if (kind) {
            uint64_t nv = kind == 1 ? v | (1ULL << bit) : kind == 2 ? v & ~(1ULL << bit) : v ^ (1ULL << bit);
            if ((rc = opnd_write(dp, &m, ob, nv)))
                return rc;
        }
        e->rflags = (e->rflags & ~(uint64_t)X86_FL_CF) | (cf ? X86_FL_CF : 0);
        next_rip(e);
        return X86EMUL_OK;
    }
    }
    return refuse(e, "two-byte opcode not emulated");
}

int x86_emulate(struct x86_emul *e)
{
    struct dec d = { .e = e, .seg_ovr = -1 };
    int rc = emulate(&d);
    if (rc == X86EMUL_UNHANDLED)
        e->len = d.pos;                              /* the bytes it looked at */
    return rc;
}
