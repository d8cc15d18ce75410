/* GDT, TSS and IDT; exception and interrupt dispatch; the report of a
 * fault inside the hypervisor; crashing a guest that faults. */
#include "lib.h"
#include "x86.h"
#include "domain.h"
#include "mm.h"
#include "sched.h"
#include "apic.h"
#include "pci.h"
#include "hypercall.h"
#include "pv.h"
#include "timer.h"
#include "iommu.h"

static struct {
    uint64_t lo, hi;
} idt[256] __attribute__((aligned(16)));

struct tss {
    uint32_t rsvd0;
    uint64_t rsp[3];
    uint64_t rsvd1;
    uint64_t ist[7];
    uint64_t rsvd2;
    uint16_t rsvd3;
    uint16_t iomap_base;
} __attribute__((packed));

struct pcpu pcpu0;
struct pcpu *pcpus[NR_CPUS];
unsigned nr_cpus = 1;

void set_guest_stack(unsigned long top)
{
    struct pcpu *pc = this_cpu();
    ((struct tss *)pc->tss)->rsp[0] = top;
    pc->stack_top = top;
}

extern char trap_stubs[];
extern char syscall_entry[], cstar_entry[];
struct extable { unsigned long insn, fixup; };
extern struct extable __extable_start[], __extable_end[];

static void set_gate(unsigned vec, unsigned ist, unsigned dpl)
{
    unsigned long a = (unsigned long)trap_stubs + vec * 16;
    idt[vec].lo = (a & 0xffff) | ((uint64_t)SEL_HV_CS << 16) |
                  ((uint64_t)ist << 32) | ((uint64_t)(0x8e | (dpl << 5)) << 40) |
                  (((a >> 16) & 0xffff) << 48);
    idt[vec].hi = a >> 32;
}

/* The IDT is shared by all CPUs; built once. */
static void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, 0, 0);
    set_gate(2, 2, 0);           /* NMI on IST2 */
    set_gate(8, 1, 0);           /* #DF on IST1 */
    set_gate(18, 3, 0);          /* #MC on IST3 */
    set_gate(3, 0, 3);           /* int3 and into are allowed from guests */
    set_gate(4, 0, 3);
}

/* Per-CPU descriptor tables, TSS and syscall MSRs; %gs = pc. */
void cpu_traps_init(struct pcpu *pc)
{
    BUILD_BUG_ON(PCPU_STACK_TOP != __builtin_offsetof(struct pcpu, stack_top));
    BUILD_BUG_ON(PCPU_SCRATCH != __builtin_offsetof(struct pcpu, scratch));
    BUILD_BUG_ON(PCPU_SELF != __builtin_offsetof(struct pcpu, self));
    BUILD_BUG_ON(sizeof(struct tss) != 104);
    BUILD_BUG_ON(GDT_ENTRIES * 8 > (PAGE_SIZE << 4));

    uint64_t *gdt = alloc_hv_pages(4);
    struct tss *tss = alloc_hv_pages(0);
    uint8_t *ist = alloc_hv_pages(3);        /* 3 IST stacks of 8 KiB */
    if (!gdt || !tss || !ist)
        panic("CPU%u: no memory for descriptor tables", pc->id);
    pc->gdt = gdt;
    pc->tss = tss;
    pc->self = pc;

    gdt[(SEL_HV_CS >> 3)] = 0x00af9a000000ffffULL;
    gdt[(SEL_HV_DS >> 3)] = 0x00cf92000000ffffULL;
    gdt[(SEL_GUEST_CS32 >> 3)] = 0x00cffa000000ffffULL;
    gdt[(SEL_GUEST_DS >> 3)] = 0x00cff2000000ffffULL;
    gdt[(SEL_GUEST_CS64 >> 3)] = 0x00affa000000ffffULL;
    unsigned long t = (unsigned long)tss;
    gdt[SEL_TSS >> 3] = (sizeof(*tss) - 1) | ((t & 0xffffff) << 16) |
                        (0x89ULL << 40) | (((t >> 24) & 0xff) << 56);
    gdt[(SEL_TSS >> 3) + 1] = t >> 32;
    tss->iomap_base = sizeof(*tss);   /* no I/O bitmap: all ports #GP in ring 3 */
    for (int i = 0; i < 3; i++)
        tss->ist[i] = (unsigned long)ist + (i + 1) * STACK_SIZE;

    struct { uint16_t limit; uint64_t base; } __attribute__((packed))
        gp = { GDT_ENTRIES * 8 - 1, (uint64_t)gdt },
        ip = { sizeof(idt) - 1, (uint64_t)idt };
    __asm__ volatile(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "xorl %%eax, %%eax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%ss\n\t"
        "movw %%ax, %%fs\n\t"
        "movw %%ax, %%gs\n\t"
        :: "m"(gp), "i"((uint64_t)SEL_HV_CS) : "rax", "memory");
    __asm__ volatile("ltr %w0" :: "r"(SEL_TSS));
    __asm__ volatile("lidt %0" :: "m"(ip));

    /* Hypercalls: syscall from ring 3 lands in syscall_entry on our CS. */
    wrmsr(MSR_STAR, ((uint64_t)(SEL_GUEST_CS32) << 48) | ((uint64_t)SEL_HV_CS << 32));
    wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
    wrmsr(MSR_CSTAR, (uint64_t)cstar_entry);   /* from compatibility mode */
    wrmsr(MSR_SFMASK, 0x47700);  /* TF IF DF NT AC IOPL cleared on entry */
    wrmsr(MSR_GS_BASE, (uint64_t)pc);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
}

void traps_init(void)
{
    idt_init();
    pcpu0.id = 0;
    pcpu0.online = true;
    pcpus[0] = &pcpu0;
    cpu_traps_init(&pcpu0);
}

static const char *const exc_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO",
    "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
    "#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC",
    "#SX", "#31",
};

static void dump_regs(const struct cpu_user_regs *r)
{
    printk("rip %016lx  cs %04x  rflags %016lx\n", r->rip, r->cs, r->rflags);
    printk("rsp %016lx  ss %04x  err %08x  cr2 %016lx\n", r->rsp, r->ss,
           r->error_code, read_cr2());
    printk("rax %016lx  rbx %016lx  rcx %016lx\n", r->rax, r->rbx, r->rcx);
    printk("rdx %016lx  rsi %016lx  rdi %016lx\n", r->rdx, r->rsi, r->rdi);
    printk("rbp %016lx  r8  %016lx  r9  %016lx\n", r->rbp, r->r8, r->r9);
    printk("r10 %016lx  r11 %016lx  r12 %016lx\n", r->r10, r->r11, r->r12);
    printk("r13 %016lx  r14 %016lx  r15 %016lx\n", r->r13, r->r14, r->r15);
    printk("cr0 %016lx  cr3 %016lx  cr4 %016lx\n", read_cr0(), read_cr3(), read_cr4());
}

extern char _image_start[], _end[];

static void stack_trace(unsigned long rbp, unsigned long rip)
{
    printk("stack trace:\n  [<%016lx>]\n", rip);
    for (int depth = 0; depth < 32; depth++) {
        if (rbp < DIRECTMAP_BASE || rbp >= HV_VIRT_END || (rbp & 7))
            break;
        unsigned long *fp = (unsigned long *)rbp;
        unsigned long ret = fp[1];
        if (ret < (unsigned long)_image_start || ret >= (unsigned long)_end)
            break;
        printk("  [<%016lx>]\n", ret);
        if (fp[0] <= rbp)
            break;
        rbp = fp[0];
    }
}

static noreturn void fatal_trap(struct cpu_user_regs *r)
{
    unsigned v = r->entry_vector;
    cli();
    console_unlock_for_panic();
    printk("*** hypervisor fault: %s (vector %u) on CPU%u\n",
           v < 32 ? exc_names[v] : "irq", v, this_cpu()->id);
    dump_regs(r);
    stack_trace(r->rbp, r->rip);
    panic("fatal exception in the hypervisor");
}

static volatile unsigned long nmis_seen;
void nmi_dump(void);

static bool fixup(struct cpu_user_regs *r)
{
    for (struct extable *e = __extable_start; e < __extable_end; e++) {
        if (e->insn == r->rip) {
            r->rip = e->fixup;
            return true;
        }
    }
    return false;
}

void trap_dispatch(struct cpu_user_regs *r)
{
    unsigned v = r->entry_vector;
    bool from_guest = (r->cs & 3) == 3;

    if (v == VEC_TLB_FLUSH || v == VEC_CALL) {
        /* Never takes the lock: the sender holds it while it waits. */
        tlb_flush_poll();
        apic_eoi();
        return;
    }
    if (v == 2) {
        /* NMI: the hypervisor's, never a guest's (Xen forwards none to a
         * domU); counted, and otherwise ignored in any context unless the
         * command line says nmi=dump (nmi_dump.c). */
        nmis_seen++;
        nmi_dump();
        return;
    }
    if (!from_guest && v == 1) {
        /* A guest's data breakpoint hit by the hypervisor's own access to
         * that guest's memory (copy_to_guest): as Xen, noted and dropped;
         * the access completed (a data breakpoint is a trap). */
        __asm__ volatile("mov %0, %%db6" :: "r"(0xffff0ff0UL));
        return;
    }
    if (!from_guest && v < 32) {
        /* A fault inside the hypervisor (which may hold the lock). */
        if ((v == 14 || v == 13 || v == 11) && fixup(r))   /* #NP: a selector load */
            return;
        fatal_trap(r);
    }
    if (v == VEC_EVENT_CHECK) {
        apic_eoi();
        if (sched_work_pending())
            this_cpu()->need_resched = true;
    } else if (v == VEC_APIC_TIMER) {
        apic_eoi();
        __atomic_fetch_add(&this_cpu()->apic_timer_irqs, 1, __ATOMIC_RELAXED);
        this_cpu()->apic_armed_for = 0;  /* it fired: timer_reprogram re-arms */
        timers_run();
        if (pci_work_pending())
            pci_irq_poll();      /* storm limits whose window ended */
        sched_tick();
        timer_reprogram();
    } else if (v == VEC_SPURIOUS) {
        /* nothing */
    } else if (v == VEC_IOMMU_FAULT) {
        apic_eoi();
        iommu_fault_interrupt();
    } else if (v >= VEC_DYN_FIRST && v <= VEC_DYN_LAST) {
        pci_msi_interrupt(v);    /* EOIs: at once for MSI, after masking for INTx */
    } else if (v < 32) {
        pv_guest_exception(r, v);
    } else {
        printk("unexpected interrupt vector %u\n", v);
        apic_eoi();
    }
    /* No lock held from here: the scheduler may switch away. */
    if (from_guest)
        pv_exit_to_guest();
    else if (!current_vcpu()->domain && this_cpu()->need_resched)
        schedule();              /* woken from the idle loop's hlt */
}
