/*
 * MMIO and string I/O of HVM/PVH guests (docs/hvm.md, "The instruction
 * emulator"): a nested page fault on a guest frame that is not RAM, and
 * an INS/OUTS exit, run the instruction at RIP through the emulator
 * (x86_emul.c).  Its memory accesses go through the guest's page tables
 * and the p2m: RAM is read and written in place, anything else goes to
 * the MMIO dispatcher (a table of ranges; unclaimed: all ones, writes
 * dropped, as Xen's null handler).  What it cannot emulate is #UD in the
 * guest; what it must not do (fetch from MMIO, page tables in MMIO, an
 * event being delivered) crashes that guest only.
 */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "time.h"
#include "hvm.h"
#include "hvm_mmio.h"
#include "vmcb.h"
#include "hvm_internal.h"
#include "x86_emul.h"
#include "mmio_table.h"
#include <xen/errno.h>
#include <xen/hvm/ioreq.h>

#define CR0_PE   (1ULL << 0)
#define CR0_PG   (1ULL << 31)
#define EFER_LMA (1ULL << 10)
#define RFLAGS_VM (1ULL << 17)

/* ---- the dispatcher --------------------------------------------------- */

static struct mmio_table ranges;

int hvm_mmio_register(uint64_t start, uint64_t len, const struct hvm_mmio_ops *ops)
{
    if (!ops || !ops->read || !ops->write)
        return -XEN_EINVAL;
    return mmio_table_add(&ranges, start, len, ops);
}

/* At most LOG_BURST log lines per second for unclaimed MMIO writes, and
 * as many for refused instructions, over all domains: a guest storming
 * MMIO fills no log. */
#define LOG_BURST 8
struct log_bucket {
    uint64_t window;
    unsigned count;
    const char *what;
};
static struct log_bucket log_writes = { .what = "unclaimed MMIO write" };
static struct log_bucket log_refused = { .what = "not emulated" };

static bool log_allowed(struct log_bucket *b)
{
    uint64_t now = now_ns(), w = __atomic_load_n(&b->window, __ATOMIC_RELAXED);
    if (now - w >= 1000000000ULL &&
        __atomic_compare_exchange_n(&b->window, &w, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
    unsigned c = __atomic_fetch_add(&b->count, 1, __ATOMIC_RELAXED);
    if (c == LOG_BURST)
        printk("hvm: more \"%s\" lines this second not logged\n", b->what);
    return c < LOG_BURST;
}

void hvm_mmio_access(struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
    const struct hvm_mmio_ops *ops = mmio_table_find(&ranges, gpa, size);
    if (ops) {
        if (write)
            ops->write(v, gpa, size, *val);
        else
            ops->read(v, gpa, size, val);
        return;
    }
    /* Unclaimed, as on a PC and as Xen's null handler: all ones; a write
     * is dropped. */
    if (!write) {
        *val = size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
        return;
    }
    if (log_allowed(&log_writes))
        printk("d%u (%s): unclaimed MMIO write of %u bytes at GPA %lx dropped\n",
               v->domain->id, v->domain->name, size, (unsigned long)gpa);
}

/* ---- the emulator's callbacks ------------------------------------------ */

struct emul_ctx {
    struct x86_emul e;
    struct vcpu *v;
    const char *fail;          /* why X86EMUL_FAILED */
    bool snap;                 /* a REP iteration is done: its registers */
    uint64_t sgpr[16], srip, srflags;
};

static int failed(struct x86_emul *e, const char *why)
{
    ((struct emul_ctx *)e->priv)->fail = why;
    return X86EMUL_FAILED;
}

/* lin -> gpa, or #PF (an error code without P: the guest walks again). */
static int translate(struct x86_emul *e, uint64_t lin, bool write, bool fetch, uint64_t *gpa)
{
    struct emul_ctx *c = e->priv;
    const uint8_t *vmcb = c->v->arch.hvm.vmcb;
    if ((vmcb_rd(vmcb, VMCB_CR0) & CR0_PG) && !(vmcb_rd(vmcb, VMCB_EFER) & EFER_LMA))
        return failed(e, "32-bit paging is not walked by the emulator");
    if ((vmcb_rd(vmcb, VMCB_EFER) & EFER_LMA) && (uint64_t)((int64_t)(lin << 16) >> 16) != lin)
        return x86_emul_raise(e, 13, true, 0, 0);      /* not canonical: #GP(0) */
    if (hvm_gva_to_gpa(c->v, lin, write, gpa) == 0)
        return X86EMUL_OK;
    uint32_t err = (write ? 2 : 0) | (fetch ? 0x10 : 0) | (vmcb[VMCB_CPL] == 3 ? 4 : 0);
    return x86_emul_raise(e, 14, true, err, lin);
}

static int em_fetch(struct x86_emul *e, uint64_t lin, uint8_t *buf, unsigned len)
{
    struct emul_ctx *c = e->priv;
    uint64_t gpa;
    int rc = translate(e, lin, false, true, &gpa);
    if (rc)
        return rc;
    uint64_t mfn = hvm_p2m_lookup(c->v->domain, gpa >> PAGE_SHIFT);
    if (mfn == ~0ULL)
        return failed(e, "instruction bytes in MMIO");
    memcpy(buf, (uint8_t *)pfn_to_virt(mfn) + (gpa & (PAGE_SIZE - 1)), len);
    return X86EMUL_OK;
}

/* What an access sent toward an ioreq server gives the emulator:
 * X86EMUL_OK (answered), RETRY (sent), FAILED (the guest crashed), or -1
 * when no server claims it. */
static int ioreq_rc(struct x86_emul *e, int r)
{
    switch (r) {
    case HVM_IO_DONE:
        return X86EMUL_OK;
    case HVM_IO_SENT:
        return X86EMUL_RETRY;
    case HVM_IO_FAILED:
        return failed(e, "device model access");
    default:
        return -1;
    }
}

/* One access within a page: RAM in place, else the dispatcher. */
static int access(struct x86_emul *e, uint64_t lin, uint64_t *val, unsigned len, bool write)
{
    struct emul_ctx *c = e->priv;
    uint64_t gpa;
    int rc = translate(e, lin, write, false, &gpa);
    if (rc)
        return rc;
    uint64_t mfn = hvm_p2m_lookup(c->v->domain, gpa >> PAGE_SHIFT);
    if (mfn == ~0ULL) {
        /* The hypervisor's devices first (the xAPIC page, the I/O APIC, the table), then
         * an ioreq server's range. */
        if (vlapic_mmio(c->v, gpa, len, write, val) || vioapic_mmio(c->v, gpa, len, write, val))
            return X86EMUL_OK;
        if (!mmio_table_find(&ranges, gpa, len)) {
            int r = ioreq_rc(e, hvm_ioreq_emul(c->v, IOREQ_TYPE_COPY, gpa, len, write, val));
            if (r >= 0)
                return r;
        }
        hvm_mmio_access(c->v, gpa, len, write, val);
        return X86EMUL_OK;
    }
    uint8_t *p = (uint8_t *)pfn_to_virt(mfn) + (gpa & (PAGE_SIZE - 1));
    if (write)
        memcpy(p, val, len);
    else
        memcpy(val, p, len);
    return X86EMUL_OK;
}

/* An access across a page boundary is made byte by byte (each byte's page
 * translated on its own, so a fault names the right address). */
static int em_rw(struct x86_emul *e, uint64_t lin, uint64_t *val, unsigned len, bool write)
{
    if ((lin & (PAGE_SIZE - 1)) + len <= PAGE_SIZE)
        return access(e, lin, val, len, write);
    uint8_t *b = (uint8_t *)val;
    for (unsigned i = 0; i < len; i++) {
        uint64_t x = b[i];
        int rc = access(e, lin + i, &x, 1, write);
        if (rc)
            return rc;
        b[i] = (uint8_t)x;
    }
    return X86EMUL_OK;
}

static int em_read(struct x86_emul *e, int seg, uint64_t lin, uint64_t *val, unsigned len)
{
    (void)seg;
    *val = 0;
    return em_rw(e, lin, val, len, false);
}

static int em_write(struct x86_emul *e, int seg, uint64_t lin, uint64_t val, unsigned len)
{
    (void)seg;
    return em_rw(e, lin, &val, len, true);
}

/* Port access from the emulator: CPL above IOPL is #GP (the TSS bitmap is
 * not looked at), else the ports of hvm.c. */
static bool io_allowed(struct x86_emul *e)
{
    struct emul_ctx *c = e->priv;
    unsigned iopl = (e->rflags >> 12) & 3;
    return c->v->arch.hvm.vmcb[VMCB_CPL] <= iopl && !(e->rflags & RFLAGS_VM);
}

/* A port an ioreq server claims (not 0xe9): X86EMUL_OK with *val, or
 * RETRY/FAILED; -1 when no server claims it. */
static int em_port_ioreq(struct x86_emul *e, uint16_t port, unsigned size, bool write,
                         uint64_t *val)
{
    if (port == 0xe9)
        return -1;
    uint32_t hv_val = (uint32_t)*val;
    struct vcpu *v = ((struct emul_ctx *)e->priv)->v;
    if (hvm_hv_port(v, port, size, !write, &hv_val)) {
        *val = hv_val;
        return X86EMUL_OK;
    }
    return ioreq_rc(e, hvm_ioreq_emul(v, IOREQ_TYPE_PIO, port, size, write, val));
}

static int em_in(struct x86_emul *e, uint16_t port, unsigned size, uint32_t *val)
{
    if (!io_allowed(e))
        return x86_emul_raise(e, 13, true, 0, 0);
    uint64_t v = 0;
    int rc = em_port_ioreq(e, port, size, false, &v);
    if (rc >= 0) {
        *val = (uint32_t)v;
        return rc;
    }
    *val = hvm_port_in(((struct emul_ctx *)e->priv)->v, port, size);
    return X86EMUL_OK;
}

static int em_out(struct x86_emul *e, uint16_t port, unsigned size, uint32_t val)
{
    if (!io_allowed(e))
        return x86_emul_raise(e, 13, true, 0, 0);
    uint64_t v = val;
    int rc = em_port_ioreq(e, port, size, true, &v);
    if (rc >= 0)
        return rc;
    hvm_port_out(((struct emul_ctx *)e->priv)->v, port, size, val);
    return X86EMUL_OK;
}

/* A REP iteration is done: what a retry keeps, and the device answers it
 * used are spent. */
static void em_iter_done(struct x86_emul *e)
{
    struct emul_ctx *c = e->priv;
    memcpy(c->sgpr, e->gpr, sizeof(c->sgpr));
    c->srip = e->rip;
    c->srflags = e->rflags;
    c->snap = true;
    hvm_ioreq_emul_done(c->v);
}

/*
 * REP INS/OUTS whose memory is RAM and whose port a device model claims:
 * the elements within the page at lin go in one ioreq by pointer (the
 * device model copies them to or from the guest's memory), as Xen sends
 * them, instead of one exit and one ioreq per element.  Anything else
 * (the hypervisor's ports, 0xe9, PCI config, MMIO, an element across a
 * page, a single element) is left to the element-by-element path.
 */
static int em_rep_io(struct x86_emul *e, uint16_t port, unsigned size, bool in, int seg,
                     uint64_t lin, uint64_t count, bool df, uint64_t *done)
{
    (void)seg;
    struct vcpu *v = ((struct emul_ctx *)e->priv)->v;
    *done = 0;
    if (!io_allowed(e))
        return x86_emul_raise(e, 13, true, 0, 0);
    if (port == 0xe9 || (port & ~7u) == 0xcf8 || hvm_hv_port_owned(v->domain, port, size))
        return X86EMUL_OK;
    unsigned off = (unsigned)(lin & (PAGE_SIZE - 1));
    if (off + size > PAGE_SIZE)
        return X86EMUL_OK;
    uint64_t fit = df ? off / size + 1 : (PAGE_SIZE - off) / size;
    if (count > fit)
        count = fit;
    if (count < 2)
        return X86EMUL_OK;
    uint64_t gpa;
    int rc = translate(e, lin, in, false, &gpa);
    if (rc)
        return rc;
    if (hvm_p2m_ram(v->domain, gpa >> PAGE_SHIFT) == ~0ULL)
        return X86EMUL_OK;
    int r = ioreq_rc(e, hvm_ioreq_emul_rep(v, port, size, in, gpa, (uint32_t)count, df));
    if (r < 0)
        return X86EMUL_OK;                   /* unclaimed: one by one */
    if (r == X86EMUL_OK)
        *done = count;
    return r;
}

static const struct x86_emul_ops emul_ops = {
    .fetch = em_fetch, .read = em_read, .write = em_write, .in = em_in, .out = em_out,
    .iter_done = em_iter_done, .rep_io = em_rep_io,
};

/* ---- on an exit ----------------------------------------------------------- */

static uint64_t seg_base(const uint8_t *vmcb, unsigned seg)
{
    return vmcb_rd(vmcb, VMCB_ES + 16 * seg + 8);
}

void hvm_emulate_insn(struct vcpu *v, struct cpu_user_regs *r, const char *what)
{
    uint8_t *vmcb = v->arch.hvm.vmcb;
    struct domain *d = v->domain;
    if (vmcb_rd(vmcb, VMCB_EVENTINJ) & EVENTINJ_V) {
        domain_crash(d, "%s exit while an event was being delivered, rip %lx", what,
                     (unsigned long)r->rip);
        return;
    }
    struct emul_ctx c = { .v = v };
    struct x86_emul *e = &c.e;
    e->ops = &emul_ops;
    e->priv = &c;
    uint16_t cs_attr;
    memcpy(&cs_attr, vmcb + VMCB_CS + 2, 2);
    if (!(vmcb_rd(vmcb, VMCB_CR0) & CR0_PE) || (r->rflags & RFLAGS_VM))
        e->mode = 16;
    else if ((vmcb_rd(vmcb, VMCB_EFER) & EFER_LMA) && (cs_attr & (1u << 9)))
        e->mode = 64;
    else
        e->mode = (cs_attr & (1u << 10)) ? 32 : 16;
    for (unsigned s = 0; s < 6; s++)
        e->seg_base[s] = seg_base(vmcb, s);
    uint64_t *g = e->gpr;
    g[0] = r->rax; g[1] = r->rcx; g[2] = r->rdx; g[3] = r->rbx;
    g[4] = r->rsp; g[5] = r->rbp; g[6] = r->rsi; g[7] = r->rdi;
    g[8] = r->r8; g[9] = r->r9; g[10] = r->r10; g[11] = r->r11;
    g[12] = r->r12; g[13] = r->r13; g[14] = r->r14; g[15] = r->r15;
    e->rip = r->rip;
    e->rflags = r->rflags;
    v->arch.hvm.io.pos = 0;              /* device answers replay from the start */
    int rc = x86_emulate(e);
    if (rc == X86EMUL_RETRY) {
        /* An access went to a device model: the instruction runs again
         * once it is answered (ioreq.c), from before it, or from after the
         * last REP iteration done. */
        if (c.snap) {
            memcpy(g, c.sgpr, sizeof(c.sgpr));
            e->rip = c.srip;
            e->rflags = c.srflags;
        } else {
            return;
        }
    } else {
        hvm_ioreq_emul_done(v);
    }
    if (rc == X86EMUL_FAILED) {
        domain_crash(d, "%s emulation at rip %lx: %s", what, (unsigned long)r->rip,
                     c.fail ? c.fail : "a callback failed");
        return;
    }
    /* Also after an exception: a REP's finished iterations stay done. */
    r->rax = g[0]; r->rcx = g[1]; r->rdx = g[2]; r->rbx = g[3];
    r->rsp = g[4]; r->rbp = g[5]; r->rsi = g[6]; r->rdi = g[7];
    r->r8 = g[8]; r->r9 = g[9]; r->r10 = g[10]; r->r11 = g[11];
    r->r12 = g[12]; r->r13 = g[13]; r->r14 = g[14]; r->r15 = g[15];
    r->rip = e->rip;
    r->rflags = e->rflags;
    if (rc == X86EMUL_EXCEPTION) {
        if (e->exn_vec == 14)
            vmcb_wr(vmcb, VMCB_CR2, e->exn_cr2);
        uint64_t ev = e->exn_vec | EVENTINJ_EXC | EVENTINJ_V;
        if (e->exn_has_err)
            ev |= EVENTINJ_EV | ((uint64_t)e->exn_err << 32);
        vmcb_wr(vmcb, VMCB_EVENTINJ, ev);
    } else if (rc == X86EMUL_UNHANDLED) {
        if (log_allowed(&log_refused)) {
            char hex[3 * 15 + 1];
            unsigned n = 0;
            for (unsigned i = 0; i < e->len && i < e->insn_have && i < 15; i++) {
                hex[n++] = "0123456789abcdef"[e->insn[i] >> 4];
                hex[n++] = "0123456789abcdef"[e->insn[i] & 15];
                hex[n++] = ' ';
            }
            hex[n ? n - 1 : 0] = 0;
            printk("d%u (%s): %s at rip %lx not emulated (%s; bytes %s): #UD\n", d->id, d->name,
                   what, (unsigned long)r->rip, e->why ? e->why : "?", hex);
        }
        vmcb_wr(vmcb, VMCB_EVENTINJ, 6 | EVENTINJ_EXC | EVENTINJ_V);
    }
}

/* EXITINFO1 of a nested page fault. */
#define NPF_FETCH     (1ULL << 4)
#define NPF_IN_WALK   (1ULL << 33)

void hvm_npf(struct vcpu *v, struct cpu_user_regs *r, uint64_t info1, uint64_t gpa)
{
    struct domain *d = v->domain;
    if (hvm_p2m_lookup(d, gpa >> PAGE_SHIFT) != ~0ULL) {
        /* Its RAM is mapped read/write/execute: never expected. */
        domain_crash(d, "nested page fault on its RAM at GPA %lx (error %lx), rip %lx",
                     (unsigned long)gpa, (unsigned long)info1, (unsigned long)r->rip);
        return;
    }
    if (info1 & NPF_IN_WALK) {
        domain_crash(d, "its page tables at GPA %lx are not RAM (nested page fault), rip %lx",
                     (unsigned long)gpa, (unsigned long)r->rip);
        return;
    }
    if (info1 & NPF_FETCH) {
        domain_crash(d, "instruction fetch from GPA %lx (not RAM), rip %lx",
                     (unsigned long)gpa, (unsigned long)r->rip);
        return;
    }
    hvm_emulate_insn(v, r, "MMIO");
}
