/* Round-robin vCPU scheduler on the boot CPU, preempted by the local APIC
 * timer every slice; an idle CPU halts.  sched_op lives here too. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "sched.h"
#include "apic.h"
#include "time.h"
#include "hypercall.h"
#include "pv.h"
#include "timer.h"
#include <xen/sched.h>
#include <xen/vcpu.h>
#include "event.h"

extern uint64_t idle_cr3;
extern char ret_from_trap[];
extern uint64_t boot_tsc;
uint64_t first_guest_tsc;

static struct vcpu *rq_head, *rq_tail;
static struct vcpu idle_vcpu0;

static void rq_push(struct vcpu *v)
{
    if (v->on_rq)
        return;
    v->on_rq = true;
    v->rq_next = NULL;
    if (rq_tail)
        rq_tail->rq_next = v;
    else
        rq_head = v;
    rq_tail = v;
}

static struct vcpu *rq_pop(void)
{
    struct vcpu *v = rq_head;
    if (!v)
        return NULL;
    rq_head = v->rq_next;
    if (!rq_head)
        rq_tail = NULL;
    v->on_rq = false;
    return v;
}

static void rq_remove(struct vcpu *v)
{
    if (!v->on_rq)
        return;
    struct vcpu **pp = &rq_head, *prev = NULL;
    while (*pp && *pp != v) {
        prev = *pp;
        pp = &(*pp)->rq_next;
    }
    if (*pp) {
        *pp = v->rq_next;
        if (rq_tail == v)
            rq_tail = prev;
    }
    v->on_rq = false;
}

/* A vCPU's hypervisor stack: the guest frame sits at the top, with room
 * for the (unused in 64-bit mode) es/ds/fs/gs fields above ss. */
struct vcpu *vcpu_create(struct domain *d, unsigned id)
{
    BUILD_BUG_ON(sizeof(struct vcpu) > PAGE_SIZE);
    struct vcpu *v = alloc_hv_pages(0);
    if (!v)
        return NULL;
    v->stack = alloc_hv_pages(STACK_ORDER);
    v->trap_ctxt = alloc_hv_pages(0);
    if (!v->stack || !v->trap_ctxt) {
        free_hv_pages(v->stack, STACK_ORDER);
        free_hv_pages(v->trap_ctxt, 0);
        free_hv_pages(v, 0);
        return NULL;
    }
    v->domain = d;
    v->id = id;
    unsigned long top = (unsigned long)v->stack + STACK_SIZE;
    v->regs = (struct cpu_user_regs *)(top - sizeof(struct cpu_user_regs));
    v->frame_top = (unsigned long)&v->regs->es;
    /* First switch: pop six callee-saved registers, return to the exit path. */
    unsigned long *sp = (unsigned long *)v->regs;
    *--sp = (unsigned long)ret_from_trap;
    for (int i = 0; i < 6; i++)
        *--sp = 0;
    v->ctx_rsp = (unsigned long)sp;
    /* Clean FPU/SSE state: FCW 0x37f, MXCSR 0x1f80. */
    v->fpu[0] = 0x7f;
    v->fpu[1] = 0x03;
    uint32_t mxcsr = 0x1f80;
    memcpy(&v->fpu[24], &mxcsr, 4);
    v->state = VCPU_OFFLINE;
    v->runstate = RUNSTATE_offline;
    v->periodic_period = 10000000ULL;    /* PV guests have a 100 Hz ticker */
    return v;
}

void vcpu_free(struct vcpu *v)
{
    rq_remove(v);
    vcpu_timer_remove(v);
    free_hv_pages(v->trap_ctxt, 0);
    free_hv_pages(v->stack, STACK_ORDER);
    free_hv_pages(v, 0);
}

void sched_init_cpu(struct vcpu *idle)
{
    (void)idle;
}

void vcpu_wake(struct vcpu *v)
{
    if (v->state == VCPU_DEAD || v->state == VCPU_OFFLINE)
        return;
    if (v->state != VCPU_RUNNABLE) {
        v->state = VCPU_RUNNABLE;
        vcpu_set_runstate(v, RUNSTATE_runnable);
    }
    if (v != current_vcpu())
        rq_push(v);
}

void schedule(void)
{
    struct pcpu *pc = this_cpu();
    struct vcpu *prev = pc->curr;
    pc->need_resched = false;
    if (prev->domain && prev->state == VCPU_RUNNABLE)
        rq_push(prev);
    struct vcpu *next;
    do
        next = rq_pop();
    while (next && next->state != VCPU_RUNNABLE);
    if (!next)
        next = pc->idle;
    if (next == prev)
        return;

    uint64_t now = now_ns();
    __asm__ volatile("clts");
    if (prev->domain) {
        prev->runtime_ns += now - prev->slice_start_ns;
        __asm__ volatile("fxsave64 %0" : "=m"(prev->fpu));
        if (prev->dr[7] & 0xff)
            __asm__ volatile("mov %0, %%db7" :: "r"(0UL));
    }
    if (next->domain) {
        __asm__ volatile("fxrstor64 %0" :: "m"(next->fpu));
        wrmsr(MSR_FS_BASE, next->fs_base);
        wrmsr(MSR_KERNEL_GS_BASE, next->gs_base);
        if (next->dr[7] & 0xff)
            load_debugregs(next);
        if (next->fpu_ts)
            write_cr0(read_cr0() | X86_CR0_TS);
        write_cr3(next->domain->cr3);
        set_guest_stack(next->frame_top);
        next->slice_start_ns = now;
        this_cpu()->slice_end = now + SLICE_NS;
        update_vcpu_time(next);
        if (!first_guest_tsc) {
            first_guest_tsc = rdtsc();
            printk("bench: hv_entry_to_first_guest_tsc=%lu\n",
                   (unsigned long)(first_guest_tsc - boot_tsc));
        }
    } else {
        write_cr3(idle_cr3);
    }
    pc->curr = next;
    timer_reprogram();
    context_switch(&prev->ctx_rsp, next->ctx_rsp);
    /* Back on prev's stack, now running again. */
    reap_dead_domains();
}

/* From the timer interrupt: end the slice if someone else can run. */
void sched_tick(void)
{
    struct pcpu *pc = this_cpu();
    if (!pc->curr->domain) {
        if (rq_head)
            pc->need_resched = true;
        return;
    }
    uint64_t now = now_ns();
    if (now >= pc->slice_end) {
        if (rq_head)
            pc->need_resched = true;
        else
            pc->slice_end = now + SLICE_NS;
    }
}

noreturn void idle_loop(void)
{
    struct pcpu *pc = this_cpu();
    idle_vcpu0.state = VCPU_RUNNABLE;
    pc->idle = pc->curr = &idle_vcpu0;
    for (;;) {
        cli();
        reap_dead_domains();
        if (rq_head) {
            schedule();
            continue;
        }
        if (nr_live_domains() == 0)
            domains_finish();
        __asm__ volatile("sti; hlt" ::: "memory");
    }
}

static long sched_shutdown(unsigned long arg)
{
    struct sched_shutdown s;
    if (copy_from_guest(&s, arg, sizeof(s)))
        return -XEN_EFAULT;
    switch (s.reason) {
    case SHUTDOWN_poweroff:
    case SHUTDOWN_reboot:
    case SHUTDOWN_crash:
    case SHUTDOWN_watchdog:
        break;
    default:
        return -XEN_EINVAL;
    }
    domain_shutdown(current_domain(), s.reason);
    schedule();
    panic("shut-down vCPU rescheduled");
}

/* SCHEDOP_poll, as Xen does it: return at once if a polled port is
 * pending; otherwise block once, until a polled port becomes pending, an
 * event upcall is raised, or the timeout (absolute system time, 0 = none)
 * passes. */
static long sched_poll(unsigned long arg)
{
    struct vcpu *v = current_vcpu();
    struct domain *d = v->domain;
    struct sched_poll p;
    evtchn_port_t ports[128];
    if (copy_from_guest(&p, arg, sizeof(p)))
        return -XEN_EFAULT;
    if (p.nr_ports > 128)
        return -XEN_EINVAL;
    if (copy_from_guest(ports, (unsigned long)p.ports.p, p.nr_ports * sizeof(ports[0])))
        return -XEN_EFAULT;
    for (unsigned i = 0; i < p.nr_ports; i++) {
        if (ports[i] >= d->max_evtchns)
            return -XEN_EINVAL;
        if (evtchn_port_pending(d, ports[i]))
            return 0;
    }
    if (p.timeout && now_ns() >= p.timeout)
        return 0;
    v->polling = true;
    v->poll_port = p.nr_ports == 1 ? (int)ports[0] : -1;
    v->poll_deadline = p.timeout;
    v->state = VCPU_BLOCKED;
    vcpu_timer_update(v);
    schedule();
    v->polling = false;
    v->poll_deadline = 0;
    vcpu_timer_update(v);
    return 0;
}

long do_sched_op(unsigned long cmd, unsigned long arg, unsigned long a3,
                 unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    switch (cmd) {
    case SCHEDOP_yield:
        this_cpu()->need_resched = true;
        schedule();
        return 0;
    case SCHEDOP_block:
        /* Enable event delivery and sleep until an event is pending. */
        v->vcpu_info->evtchn_upcall_mask = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (v->vcpu_info->evtchn_upcall_pending)
            return 0;
        v->state = VCPU_BLOCKED;
        schedule();
        return 0;
    case SCHEDOP_shutdown:
        return sched_shutdown(arg);
    case SCHEDOP_poll:
        return sched_poll(arg);
    default:
        return -XEN_ENOSYS;
    }
}
