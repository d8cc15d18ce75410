/* A fake guest for the emulator's host tests (test_x86_emul.c and the
 * fuzz target fuzz_x86_emul.c): linear == physical; RAM at 0..ENV_RAM,
 * a device's MMIO page at ENV_MMIO (reads: the register file, whose
 * register 0x10 reads 0xa5 in every byte; writes land in it and are
 * counted), every port reads 0x12345678 masked and writes are logged;
 * anything else is not present (#PF with the address). */
#ifndef KEEL_X86_EMUL_ENV_H
#define KEEL_X86_EMUL_ENV_H
#include <string.h>
#include "../../hv/hvm/x86_emul.h"

#define ENV_RAM  0x10000u
#define ENV_MMIO 0xfee00000ull

struct env {
    struct x86_emul e;
    uint8_t ram[ENV_RAM];
    uint8_t mmio[4096];
    unsigned mmio_reads, mmio_writes, io_ins, io_outs, iters;
    uint16_t last_port;
    uint32_t last_out;
    unsigned last_width;
};

static int env_pf(struct x86_emul *e, uint64_t lin, bool write)
{
    return x86_emul_raise(e, 14, true, write ? 2 : 0, lin);
}

static int env_fetch(struct x86_emul *e, uint64_t lin, uint8_t *buf, unsigned len)
{
    struct env *v = e->priv;
    if (len == 0 || len > 15 || ((lin & 4095) + len) > 4096)
        return X86EMUL_FAILED;                   /* the contract: within a page */
    if (lin > ENV_RAM - len)
        return x86_emul_raise(e, 14, true, 0x10, lin);
    memcpy(buf, v->ram + lin, len);
    return X86EMUL_OK;
}

static int env_read(struct x86_emul *e, int seg, uint64_t lin, uint64_t *val, unsigned len)
{
    struct env *v = e->priv;
    (void)seg;
    if (len != 1 && len != 2 && len != 4 && len != 8)
        return X86EMUL_FAILED;
    uint64_t x = 0;
    if (lin <= ENV_RAM - len) {
        memcpy(&x, v->ram + lin, len);
    } else if (lin >= ENV_MMIO && lin - ENV_MMIO <= 4096 - len) {
        v->mmio_reads++;
        v->last_width = len;
        memcpy(&x, v->mmio + (lin - ENV_MMIO), len);
    } else {
        return env_pf(e, lin, false);
    }
    *val = x;
    return X86EMUL_OK;
}

static int env_write(struct x86_emul *e, int seg, uint64_t lin, uint64_t val, unsigned len)
{
    struct env *v = e->priv;
    (void)seg;
    if (len != 1 && len != 2 && len != 4 && len != 8)
        return X86EMUL_FAILED;
    if (len < 8 && (val >> (8 * len)))
        return X86EMUL_FAILED;                   /* the contract: no bits past the width */
    if (lin <= ENV_RAM - len) {
        memcpy(v->ram + lin, &val, len);
    } else if (lin >= ENV_MMIO && lin - ENV_MMIO <= 4096 - len) {
        v->mmio_writes++;
        v->last_width = len;
        memcpy(v->mmio + (lin - ENV_MMIO), &val, len);
    } else {
        return env_pf(e, lin, true);
    }
    return X86EMUL_OK;
}

static int env_in(struct x86_emul *e, uint16_t port, unsigned size, uint32_t *val)
{
    struct env *v = e->priv;
    if (size != 1 && size != 2 && size != 4)
        return X86EMUL_FAILED;
    v->io_ins++;
    v->last_port = port;
    *val = 0x12345678u & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
    return X86EMUL_OK;
}

static int env_out(struct x86_emul *e, uint16_t port, unsigned size, uint32_t val)
{
    struct env *v = e->priv;
    if (size != 1 && size != 2 && size != 4)
        return X86EMUL_FAILED;
    if (size < 4 && (val >> (8 * size)))
        return X86EMUL_FAILED;
    v->io_outs++;
    v->last_port = port;
    v->last_out = val;
    return X86EMUL_OK;
}

/* A REP iteration done: counted (the caller's point to keep its state). */
static void env_iter_done(struct x86_emul *e)
{
    ((struct env *)e->priv)->iters++;
}

static const struct x86_emul_ops env_ops = {
    .fetch = env_fetch, .read = env_read, .write = env_write, .in = env_in, .out = env_out,
    .iter_done = env_iter_done,
};

static void env_init(struct env *v, unsigned mode)
{
    memset(v, 0, sizeof(*v));
    v->e.ops = &env_ops;
    v->e.priv = v;
    v->e.mode = mode;
    v->e.rflags = 2;
    memset(v->mmio + 0x10, 0xa5, 8);
}
#endif
