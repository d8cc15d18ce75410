/* SMP: CPUs found from ACPI's MADT, started with INIT-SIPI-SIPI through a
 * real-mode trampoline; IPIs for event checks (reschedule) and TLB
 * shootdowns. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "apic.h"
#include "acpi.h"
#include "time.h"
#include "domain.h"
#include "sched.h"
#include "flushtlb.h"
#include "hvm.h"

#define TRAMP_BASE 0x8000

extern char trampoline_start[], trampoline_end[];
extern uint32_t tramp_cr3, tramp_efer;
extern uint64_t tramp_rsp, tramp_entry, tramp_pcpu;
extern uint64_t idle_cr3;
void *map_mmio(uint64_t pa, uint64_t size);
void cpu_traps_init(struct pcpu *pc);
void cpu_features_init(void);

static uint32_t apic_ids[NR_CPUS];
static unsigned nr_found;

static void udelay(uint64_t us)
{
    uint64_t end = rdtsc() + us * tsc_khz / 1000;
    while (rdtsc() < end)
        cpu_relax();
}

/* ---- ACPI: the RSDP, then RSDT/XSDT, then the MADT ("APIC"). */

static const void *acpi_map(uint64_t pa, uint64_t len)
{
    uint64_t base = ROUNDDOWN(pa, PAGE_SIZE);
    uint8_t *va = map_mmio(base, ROUNDUP(pa + len, PAGE_SIZE) - base);
    return va + (pa - base);
}

static bool checksum_ok(const void *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += ((const uint8_t *)p)[i];
    return s == 0;
}

static const uint8_t *find_rsdp(void)
{
    uint16_t ebda_seg = *(const uint16_t *)VA(0x40e);
    uint64_t areas[2][2] = { { (uint64_t)ebda_seg << 4, 1024 }, { 0xe0000, 0x20000 } };
    for (int a = 0; a < 2; a++) {
        const uint8_t *p = acpi_map(areas[a][0], areas[a][1]);
        for (uint64_t off = 0; off + 20 <= areas[a][1]; off += 16)
            if (!memcmp(p + off, "RSD PTR ", 8) && checksum_ok(p + off, 20))
                return p + off;
    }
    return NULL;
}

const struct acpi_header *acpi_find_table(const char *sig)
{
    const uint8_t *rsdp = find_rsdp();
    if (!rsdp)
        return NULL;
    uint64_t sdt;
    unsigned esz;
    if (rsdp[15] >= 2 && *(const uint64_t *)(rsdp + 24)) {
        sdt = *(const uint64_t *)(rsdp + 24);
        esz = 8;
    } else {
        sdt = *(const uint32_t *)(rsdp + 16);
        esz = 4;
    }
    const struct acpi_header *h = acpi_map(sdt, sizeof(*h));
    h = acpi_map(sdt, h->length);
    unsigned n = (h->length - sizeof(*h)) / esz;
    const uint8_t *ents = (const uint8_t *)(h + 1);
    for (unsigned i = 0; i < n; i++) {
        uint64_t pa = esz == 8 ? *(const uint64_t *)(ents + 8 * i) : *(const uint32_t *)(ents + 4 * i);
        const struct acpi_header *t = acpi_map(pa, sizeof(*t));
        if (!memcmp(t->sig, sig, 4))
            return acpi_map(pa, t->length);
    }
    return NULL;
}

static void parse_madt(uint32_t bsp_id)
{
    apic_ids[0] = bsp_id;
    nr_found = 1;
    const struct acpi_header *m = acpi_find_table("APIC");
    if (!m) {
        printk("smp: no MADT, running on the boot CPU only\n");
        return;
    }
    const uint8_t *p = (const uint8_t *)m + sizeof(*m) + 8, *end = (const uint8_t *)m + m->length;
    while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
        uint32_t id = 0, flags = 0;
        bool cpu = false;
        if (p[0] == 0 && p[1] >= 8) {             /* processor local APIC */
            id = p[3];
            memcpy(&flags, p + 4, 4);
            cpu = true;
        } else if (p[0] == 9 && p[1] >= 16) {     /* processor local x2APIC */
            memcpy(&id, p + 4, 4);
            memcpy(&flags, p + 8, 4);
            cpu = true;
        }
        if (cpu && (flags & 1) && id != bsp_id) {
            if (id >= 0xff && !apic_x2apic_mode())
                printk("smp: APIC id %u needs x2APIC mode: CPU ignored\n", id);
            else if (nr_found < NR_CPUS)
                apic_ids[nr_found++] = id;
            else
                printk("smp: more than %u CPUs, ignoring APIC id %u\n", NR_CPUS, id);
        }
        p += p[1];
    }
}

/* ---- IPIs. */

void send_ipi(unsigned cpu, unsigned vector)
{
    if (cpu >= nr_cpus || !pcpus[cpu] || !pcpus[cpu]->online)
        return;
    unsigned long f = irq_save();
    apic_send_ipi(pcpus[cpu]->apic_id, vector);
    irq_restore(f);
}

/* Runs fn(arg) on pCPU cpu and waits until it has run there, or until
 * timeout_us passed (0: wait for ever); returns whether it ran.  A call
 * that timed out still runs when the CPU takes the IPI, so arg must stay
 * valid.  The call runs in interrupt context, or in the target's wait for
 * a lock (whatever it holds): fn must only touch per-CPU or its own state. */
bool on_cpu(unsigned cpu, void (*fn)(void *), void *arg, uint64_t timeout_us)
{
    struct pcpu *o = cpu < nr_cpus ? pcpus[cpu] : NULL;
    if (!o || !o->online)
        return false;
    if (o == this_cpu()) {
        fn(arg);
        return true;
    }
    if (__atomic_load_n(&o->call_fn, __ATOMIC_ACQUIRE))
        return false;            /* an earlier call has not run yet */
    o->call_arg = arg;
    __atomic_store_n(&o->call_fn, fn, __ATOMIC_RELEASE);
    send_ipi(cpu, VEC_CALL);
    uint64_t end = rdtsc() + timeout_us * tsc_khz / 1000;
    while (__atomic_load_n(&o->call_fn, __ATOMIC_ACQUIRE)) {
        if (timeout_us && rdtsc() > end)
            return false;
        tlb_flush_poll();        /* and answer anyone calling us */
    }
    return true;
}

/* A CPU waiting for a lock still answers flush requests and remote calls. */
void tlb_flush_poll(void)
{
    struct pcpu *pc = this_cpu();
    void (*fn)(void *) = __atomic_load_n(&pc->call_fn, __ATOMIC_ACQUIRE);
    if (fn) {
        fn(pc->call_arg);
        __atomic_store_n(&pc->call_fn, NULL, __ATOMIC_RELEASE);
    }
    if (__atomic_load_n(&pc->tlb_flush_req, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&pc->tlb_flush_req, 0, __ATOMIC_RELEASE);
        flush_tlb_local();
        __atomic_fetch_add(&pc->tlb_flushes, 1, __ATOMIC_RELEASE);
    }
}

static bool all_answered = true;    /* every other CPU answered smp_init's remote call */

static void record_cpu(void *arg)
{
    *(volatile unsigned *)arg = this_cpu()->id;
}

/* The local APIC timer on one CPU: armed for 100 us, twice.  The second
 * interrupt comes only if the first was acknowledged, so this proves the
 * timer's vector, the one-shot count and the EOI in whichever mode
 * (xAPIC or x2APIC) the APIC runs. */
static void arm_probe(void *arg)
{
    (void)arg;
    apic_oneshot_ns(100000);
}

static bool timer_fires(unsigned cpu)
{
    struct pcpu *pc = pcpus[cpu];
    for (int round = 0; round < 2; round++) {
        uint64_t before = __atomic_load_n(&pc->apic_timer_irqs, __ATOMIC_ACQUIRE);
        uint64_t end = rdtsc() + 1000ULL * tsc_khz;      /* 1 s */
        if (cpu == 0) {
            arm_probe(NULL);
            while (__atomic_load_n(&pc->apic_timer_irqs, __ATOMIC_ACQUIRE) == before &&
                   rdtsc() < end)
                __asm__ volatile("sti; hlt; cli" ::: "memory");
        } else {
            if (!on_cpu(cpu, arm_probe, NULL, 1000000))
                return false;
            while (__atomic_load_n(&pc->apic_timer_irqs, __ATOMIC_ACQUIRE) == before &&
                   rdtsc() < end)
                tlb_flush_poll();
        }
        if (__atomic_load_n(&pc->apic_timer_irqs, __ATOMIC_ACQUIRE) == before)
            return false;
    }
    return true;
}

/* ---- Bringing up the APs. */

static volatile bool ap_ready;

static noreturn void ap_entry(struct pcpu *pc)
{
    /* Per-CPU data first: anything that takes a lock (a printk, an
     * allocation) finds this CPU through %gs. */
    pc->self = pc;
    wrmsr(MSR_GS_BASE, (uint64_t)pc);
    cpu_features_init();
    cpu_traps_init(pc);
    svm_cpu_init(pc);            /* HVM/PVH vCPUs may run here (hv/hvm/svm.c) */
    apic_init_ap();
    sched_init_cpu(pc);
    __atomic_store_n(&pc->online, true, __ATOMIC_RELEASE);
    ap_ready = true;
    idle_loop();
}

void smp_init(void)
{
    uint32_t bsp_id = apic_id();
    pcpus[0]->apic_id = bsp_id;
    parse_madt(bsp_id);
    if (nr_found == 1) {
        printk("smp: 1 CPU\n");
        return;
    }
    /* Identity-map the first 2 MiB while the APs pass through low memory. */
    uint64_t *l4 = pfn_to_virt(idle_cr3 >> PAGE_SHIFT);
    uint64_t *l3 = alloc_hv_pages(0), *l2 = alloc_hv_pages(0);
    if (!l3 || !l2)
        panic("smp: no memory for the trampoline mapping");
    l2[0] = 0 | PTE_P | PTE_W | PTE_PS;
    l3[0] = PA(l2) | PTE_P | PTE_W;
    l4[0] = PA(l3) | PTE_P | PTE_W;
    write_cr3(idle_cr3);

    memcpy(VA(TRAMP_BASE), trampoline_start, (size_t)(trampoline_end - trampoline_start));
#define SLOT(sym) ((void *)((char *)VA(TRAMP_BASE) + ((char *)&sym - trampoline_start)))
    *(uint32_t *)SLOT(tramp_cr3) = (uint32_t)idle_cr3;
    *(uint32_t *)SLOT(tramp_efer) = (uint32_t)rdmsr(MSR_EFER) & ~0x400u;   /* not LMA */
    *(uint64_t *)SLOT(tramp_entry) = (uint64_t)ap_entry;

    unsigned up = 1;
    BUILD_BUG_ON(sizeof(struct pcpu) > PAGE_SIZE);
    for (unsigned i = 1; i < nr_found; i++) {
        struct pcpu *pc = alloc_hv_pages(0);
        void *stack = alloc_hv_pages(STACK_ORDER + 1);
        if (!pc || !stack)
            panic("smp: no memory for CPU%u", i);
        pc->id = i;
        pc->apic_id = apic_ids[i];
        pcpus[i] = pc;
        nr_cpus = i + 1;
        *(uint64_t *)SLOT(tramp_rsp) = (uint64_t)stack + (STACK_SIZE << 1);
        *(uint64_t *)SLOT(tramp_pcpu) = (uint64_t)pc;
        ap_ready = false;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        apic_send_init(apic_ids[i]);
        udelay(10000);
        for (int s = 0; s < 2 && !ap_ready; s++) {
            apic_send_sipi(apic_ids[i], TRAMP_BASE >> 12);
            udelay(200);
        }
        uint64_t deadline = rdtsc() + tsc_khz * 1000;   /* 1 s */
        while (!ap_ready && rdtsc() < deadline)
            cpu_relax();
        if (!ap_ready) {
            printk("smp: CPU%u (APIC id %u) did not start\n", i, apic_ids[i]);
            pcpus[i] = NULL;
            nr_cpus = i;
            break;
        }
        up++;
    }
#undef SLOT
    l4[0] = 0;
    write_cr3(idle_cr3);
    printk("smp: %u CPUs online\n", up);
    /* Check the remote-call IPI on every CPU. */
    /* Bounded: with one host thread for all CPUs (TCG round robin, as
     * -icount needs) another CPU may not run while we spin. */
    static unsigned seen[NR_CPUS];
    unsigned answered = 0;
    for (unsigned i = 1; i < nr_cpus; i++) {
        seen[i] = ~0u;
        if (on_cpu(i, record_cpu, &seen[i], 50000) && seen[i] == i)
            answered++;
    }
    /* If others answered, the host runs CPUs side by side, and a CPU that
     * did not was only descheduled by a busy host (64 vCPUs on a few
     * cores): give its call (still pending) up to 5 s more (1 s was once
     * not enough with a second QEMU on the host).  A call that timed out
     * above and ran meanwhile counts. */
    if (answered) {
        answered = 0;
        for (unsigned i = 1; i < nr_cpus; i++) {
            uint64_t end = rdtsc() + 5000ULL * tsc_khz;
            while (__atomic_load_n(&seen[i], __ATOMIC_ACQUIRE) != i && rdtsc() < end)
                tlb_flush_poll();
            if (__atomic_load_n(&seen[i], __ATOMIC_ACQUIRE) == i)
                answered++;
            else
                printk("smp: CPU%u did not answer a remote call\n", i);
        }
    }
    printk("smp: remote calls answered by %u of %u other CPUs\n", answered, nr_cpus - 1);
    all_answered = answered == nr_cpus - 1;
}

/* Every online CPU's APIC timer interrupts (timer_fires); a CPU whose
 * timer does not fire would never preempt a guest, so that is fatal.
 * Only the boot CPU's when the others did not all answer a remote call:
 * a host that runs every CPU on one thread (TCG under -icount) may not
 * run them while we wait. */
void apic_check_timers(void)
{
    unsigned ok = 0, n = all_answered ? nr_cpus : 1;
    for (unsigned i = 0; i < n; i++) {
        if (!pcpus[i] || !pcpus[i]->online)
            continue;
        if (timer_fires(i))
            ok++;
        else
            panic("apic: CPU%u's timer did not interrupt", i);
    }
    if (n < nr_cpus)
        printk("apic: timer interrupts and EOI on the boot CPU (%s); the other %u not "
               "checked (not all answered a remote call)\n",
               apic_x2apic_mode() ? "x2APIC" : "xAPIC", nr_cpus - 1);
    else
        printk("apic: timer interrupts and EOI on %u of %u CPUs (%s)\n", ok, nr_cpus,
               apic_x2apic_mode() ? "x2APIC" : "xAPIC");
}
