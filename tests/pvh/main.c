/*
 * A tiny PVH guest (docs/hvm.md), in long mode on its own page tables
 * (head.S).  pvh-hello: checks its hvm_start_info (magic, command line,
 * memory map), CPUID 0x40000000's signature and the hypercall MSR of
 * 0x40000002, installs the hypercall page through that MSR, prints with
 * console_io and with port 0xe9, sees an unknown MSR refused with #GP,
 * sleeps once in HLT until its periodic timer's event, and powers off
 * with sched_op.  With mode=quick it powers off once its start info is
 * checked.  With mode=npf on its command line it then jumps to a
 * guest-physical address above its RAM, with mode=insn it executes RDPMC,
 * with mode=triple it triple-faults, with mode=ptmmio it points CR3 above
 * its RAM: each must crash it alone; with
 * mode=outs it makes string I/O (emulated) and powers off; with mode=mmio
 * it runs mmio.c's checks on MMIO above its RAM; with mode=bench it
 * times the exits the hypervisor handles (ci/bench.sh); with mode=clihlt it halts with interrupts
 * off, which powers it off as on Xen; with mode=storm it floods port
 * 0xe9 and powers off; with mode=spin it yields until it is destroyed.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/arch-x86/cpuid.h>
#include <xen/io/console.h>
#include <xen/grant_table.h>
#include <xen/io/xs_wire.h>

extern uint32_t start_info_pa, gp_count, vmmcall32_result, gp_skip;
extern char gp_entry[], cb_entry[], cb_entry_f4[];
extern volatile uint32_t cb_vector;
void mmio_test(void (*puts_fn)(const char *), void (*fail_fn)(const char *));   /* mmio.c */
extern char lapic_entry_40[], lapic_entry_41[];
volatile uint32_t lapic_count, lapic_vector;

static uint8_t hypercall_page[4096] __attribute__((aligned(4096)));

static long hcall(unsigned nr, unsigned long a1, unsigned long a2, unsigned long a3)
{
    long ret;
    __asm__ volatile("call *%[f]"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3)
                     : [f] "r"(hypercall_page + nr * 32)
                     : "memory", "rcx", "r8", "r9", "r10", "r11");
    return ret;
}

static size_t slen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void puts_con(const char *s)
{
    hcall(__HYPERVISOR_console_io, CONSOLEIO_write, slen(s), (unsigned long)s);
}

/* "text" followed by a decimal number and a newline. */
static void put_dec(const char *s, uint64_t v)
{
    char buf[128], d[24];
    size_t n = 0, k = 0;
    while (*s && n < 100)
        buf[n++] = *s++;
    do {
        d[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        buf[n++] = d[--k];
    buf[n++] = '\n';
    buf[n] = 0;
    puts_con(buf);
}

static uint64_t rdtsc_ordered(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
}

/*
 * mode=bench (ci/bench.sh, under -icount: a tick is an instruction): the
 * average ticks of 10,000 of each exit the hypervisor handles itself:
 * CPUID, a 32-bit read of unclaimed MMIO above its RAM (nested page
 * fault, instruction decode and emulation: all ones), an IN from an
 * unclaimed port, and a hypercall through the hypercall page (VMMCALL,
 * xen_version), to set beside a PV guest's null hypercall.
 */
static void bench_exits(void)
{
    enum { N = 10000 };
    uint64_t t0 = rdtsc_ordered();
    for (unsigned i = 0; i < N; i++) {
        uint32_t a = 0, b, c = 0, d;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) :: "memory");
    }
    uint64_t t1 = rdtsc_ordered();
    for (unsigned i = 0; i < N; i++)
        (void)*(volatile uint32_t *)0x3ff00000UL;
    uint64_t t2 = rdtsc_ordered();
    for (unsigned i = 0; i < N; i++) {
        uint8_t v;
        __asm__ volatile("inb $0x80, %0" : "=a"(v) :: "memory");
    }
    uint64_t t3 = rdtsc_ordered();
    for (unsigned i = 0; i < N; i++)
        hcall(__HYPERVISOR_xen_version, XENVER_version, 0, 0);
    uint64_t t4 = rdtsc_ordered();
    put_dec("bench: pvh_cpuid_exit_tsc=", (t1 - t0) / N);
    put_dec("bench: pvh_mmio_read_exit_tsc=", (t2 - t1) / N);
    put_dec("bench: pvh_port_in_exit_tsc=", (t3 - t2) / N);
    put_dec("bench: pvh_hypercall_tsc=", (t4 - t3) / N);
}

static void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port) : "memory");
}

static uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

static void fail(const char *what);
static void outb_e9(const char *s);

static void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port) : "memory");
}

static uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

static uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

static void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port) : "memory");
}

/* The device model's PCI host through configuration mechanism #1: the
 * address register reads back, config cycles of 00:00.0 and 00:01.0 are
 * its i440FX and PIIX3 (IDs, header type, a writable command register,
 * a read-only vendor ID, byte and word cycles at 0xcfd-0xcff), 00:02.0
 * is the Xen platform device (5853:0001), 00:03.0 is absent (all ones,
 * no server claims it), and with the enable bit clear 0xcfc is a plain
 * port nobody claims. */
static void dm_pci_checks(void)
{
    outl(0xcf8, 0x80000000u);
    if (inl(0xcf8) != 0x80000000u)
        fail("dm: the PCI config address did not read back");
    uint32_t id0 = inl(0xcfc);
    outl(0xcf8, 0x80000800u);
    uint32_t id1 = inl(0xcfc);
    outl(0xcf8, 0x8000080cu);
    uint8_t hdr1 = inb(0xcfe);
    outl(0xcf8, 0x80001000u);
    uint32_t id2 = inl(0xcfc);
    outl(0xcf8, 0x80001800u);
    uint32_t id3 = inl(0xcfc);
    if (id0 != 0x12378086u || id1 != 0x70008086u || hdr1 != 0x80 || id2 != 0x00015853u ||
        id3 != 0xffffffffu)
        fail("dm: PCI IDs or header type read wrong");
    outl(0xcf8, 0x80000004u);
    outw(0xcfc, 0x0107);
    uint16_t cmd = inw(0xcfc);
    uint16_t status = inw(0xcfe);
    outl(0xcf8, 0x80000000u);
    outw(0xcfc, 0xdead);
    uint16_t vendor = inw(0xcfc);
    uint8_t dev_hi = inb(0xcff);
    if (cmd != 0x0107 || status != 0x0280 || vendor != 0x8086 || dev_hi != 0x12)
        fail("dm: PCI command, status or vendor ID wrong after writes");
    outl(0xcf8, 0x00000000u);
    if (inl(0xcfc) != 0xffffffffu)
        fail("dm: 0xcfc with config cycles off was not all ones");
    puts_con("pvh-hello: dm: PCI 00:00.0 8086:1237, 00:01.0 8086:7000 and 00:02.0 5853:0001 "
             "through config cycles\n");
}

/*
 * mode=dm: COM1 belongs to the device model stub domain (stubdoms/dm,
 * docs/hvm.md): each access is an ioreq it answers.  A line goes out
 * through THR; LSR, scratch and the divisor latch read back as a 16550A's;
 * 2- and 4-byte accesses are refused by the UART (all ones), one that
 * runs past the claimed range, another UART's ports and port 0xe9 stay
 * the hypervisor's.  Then the average ticks of 1,000 scratch reads (a
 * round trip through the device model each).  With dmloop it then reads
 * on until it is stopped (the device model's death: pvh-dm-crash).
 */
static void dm_checks(bool loop)
{
    if (inb(0x3fd) != 0x60)
        fail("dm: LSR did not read THRE|TEMT");
    static const char line[] = "pvh-hello: a line through the device model's COM1\n";
    for (const char *c = line; *c; c++) {
        while (!(inb(0x3fd) & 0x20))
            ;
        outb(0x3f8, (uint8_t)*c);
    }
    outb(0x3ff, 0x5a);
    uint8_t s1 = inb(0x3ff);
    outb(0x3ff, 0xa5);
    uint8_t s2 = inb(0x3ff);
    if (s1 != 0x5a || s2 != 0xa5)
        fail("dm: the scratch register did not keep its value");
    outb(0x3fb, 0x83);
    outb(0x3f8, 0x01);
    outb(0x3f9, 0x00);
    uint8_t dll = inb(0x3f8);
    outb(0x3fb, 0x03);
    if (dll != 0x01 || inb(0x3fb) != 0x03 || inb(0x3fa) != 0x01)
        fail("dm: the divisor latch, LCR or IIR read wrong");
    dm_pci_checks();
    uint16_t w;
    uint32_t l;
    __asm__ volatile("inw %w1, %0" : "=a"(w) : "d"((uint16_t)0x3fe));
    __asm__ volatile("inl %w1, %0" : "=a"(l) : "d"((uint16_t)0x3fc));
    if (w != 0xffff || l != 0xffffffffu)
        fail("dm: a 2- or 4-byte UART access was not refused");
    __asm__ volatile("inw %w1, %0" : "=a"(w) : "d"((uint16_t)0x3ff));
    if (w != 0xffff || inb(0x2f8) != 0xff)
        fail("dm: a port outside the claimed range did not read all ones");
    /* Its end of the channel to the device model is the hypervisor's:
     * status shows it, but close, send and unmask are refused. */
    uint32_t xp = 0;
    for (uint32_t p = 1; p < 16 && !xp; p++) {
        struct evtchn_status st = { .dom = DOMID_SELF, .port = p };
        if (hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_status, (unsigned long)&st, 0) == 0 &&
            st.status == EVTCHNSTAT_interdomain && st.u.interdomain.dom == 2)
            xp = p;
    }
    struct evtchn_close ec = { .port = xp };
    struct evtchn_send es = { .port = xp };
    struct evtchn_unmask eu = { .port = xp };
    if (!xp)
        fail("dm: no channel bound by the device model");
    if (hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_close, (unsigned long)&ec, 0) != -22 ||
        hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_send, (unsigned long)&es, 0) != -22 ||
        hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_unmask, (unsigned long)&eu, 0) != -22)
        fail("dm: the ioreq channel was not refused to the guest");
    puts_con("pvh-hello: dm: its ioreq channel refused to it (close, send, unmask)\n");
    outb_e9("pvh-hello: port 0xe9 is still the hypervisor's\n");
    /* String I/O through the emulator: each element an ioreq, REP
     * iterations kept across the round trips. */
    static const char sline[] = "pvh-hello: a line by rep outsb\n";
    __asm__ volatile("rep outsb" :: "S"(sline), "c"(sizeof(sline) - 1), "d"((uint16_t)0x3f8)
                     : "memory");
    uint8_t ib[4] = { 0 };
    __asm__ volatile("rep insb" :: "D"(ib), "c"(4), "d"((uint16_t)0x3ff) : "memory");
    if (ib[0] != 0xa5 || ib[1] != 0xa5 || ib[2] != 0xa5 || ib[3] != 0xa5)
        fail("dm: rep insb from the scratch register read wrong");
    puts_con("pvh-hello: dm: rep outsb and rep insb through the device model\n");
    puts_con("pvh-hello: dm: COM1 answers as a 16550A\n");
    enum { N = 1000 };
    uint64_t t0 = rdtsc_ordered();
    for (unsigned i = 0; i < N; i++)
        if (inb(0x3ff) != 0xa5)
            fail("dm: the scratch register changed");
    uint64_t t1 = rdtsc_ordered();
    put_dec("bench: pvh_ioreq_round_trip_tsc=", (t1 - t0) / N);
    while (loop)
        (void)inb(0x3ff);
}

/*
 * mode=dm with dmmmio: the device model's second 16550A is MMIO at
 * 0x3fe00000 (uart-mmio=); each access the instruction emulator makes
 * there is an ioreq: MOV, an OR and an XCHG (read, then write), MOVSB from
 * MMIO to MMIO (two ioreqs in one instruction), REP MOVSB reading three
 * registers into RAM; 2- and 8-byte reads are refused by the UART.
 */
static void dm_mmio_checks(void)
{
    volatile uint8_t *u = (volatile uint8_t *)0x3fe00000UL;
    if (u[5] != 0x60)
        fail("dm: the MMIO UART's LSR read wrong");
    static const char line[] = "pvh-hello: a line through the MMIO UART\n";
    for (const char *c = line; *c; c++)
        u[0] = (uint8_t)*c;
    u[7] = 0x3c;
    if (u[7] != 0x3c)
        fail("dm: the MMIO scratch register did not keep its value");
    __asm__ volatile("orb $0x03, %0" : "+m"(u[7]) :: "memory");
    uint8_t x = 0x11;
    __asm__ volatile("xchgb %0, %1" : "+q"(x), "+m"(u[7]) :: "memory");
    if (x != 0x3f || u[7] != 0x11)
        fail("dm: OR or XCHG on the MMIO UART went wrong");
    u[3] = 0x03;                                   /* LCR */
    __asm__ volatile("movsb" :: "S"(u + 3), "D"(u + 7) : "memory");
    if (u[7] != 0x03)
        fail("dm: MOVSB from MMIO to MMIO went wrong");
    uint8_t regs[3] = { 0 };
    __asm__ volatile("rep movsb" :: "S"(u + 5), "D"(regs), "c"(3) : "memory");
    if (regs[0] != 0x60 || regs[1] != 0xb0 || regs[2] != 0x03)
        fail("dm: REP MOVSB from the MMIO UART read wrong");
    if (*(volatile uint16_t *)(u + 6) != 0xffff || *(volatile uint64_t *)u != ~0ULL)
        fail("dm: a 2- or 8-byte MMIO UART read was not refused");
    puts_con("pvh-hello: dm: the MMIO UART answers mov, or, xchg, movsb, rep movsb\n");
}

/* "text" followed by a hex number and a newline. */
static void put_hex(const char *s, uint64_t v)
{
    char buf[128];
    size_t n = 0;
    while (*s && n < 100)
        buf[n++] = *s++;
    buf[n++] = '0';
    buf[n++] = 'x';
    int started = 0;
    for (int i = 60; i >= 0; i -= 4) {
        unsigned d = (v >> i) & 15;
        if (d || started || i == 0) {
            buf[n++] = "0123456789abcdef"[d];
            started = 1;
        }
    }
    buf[n++] = '\n';
    buf[n] = 0;
    puts_con(buf);
}

static void poweroff(unsigned reason)
{
    struct sched_shutdown s = { .reason = reason };
    hcall(__HYPERVISOR_sched_op, SCHEDOP_shutdown, (unsigned long)&s, 0);
}

static void fail(const char *what)
{
    puts_con("pvh-hello: FAIL ");
    puts_con(what);
    puts_con("\n");
    poweroff(SHUTDOWN_crash);
    for (;;)
        ;
}

static int same(const uint8_t *p, const char *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (p[i] != (uint8_t)w[i])
            return 0;
    return 1;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t acpi_sum(const uint8_t *p, unsigned len)
{
    uint8_t v = 0;
    while (len--)
        v = (uint8_t)(v + *p++);
    return v;
}

/* The ACPI tables (docs/hvm.md): an RSDP at rsdp, in the ACPI page, whose
 * XSDT names a hardware-reduced FADT and a MADT with one enabled LAPIC
 * (APIC ID 0), each with a correct checksum. */
static uint64_t rdmsr64(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
    return (uint64_t)hi << 32 | lo;
}

static void wrmsr64(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* Waits in HLT, interrupts on, until lapic_count reaches n. */
static void hlt_until(uint32_t n)
{
    while (lapic_count < n)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
}

/*
 * The LAPIC timer (docs/hvm.md, "Local APIC"): no TSC-deadline mode in
 * CPUID; a one-shot timer of 50 ms (divide by 1: 50,000,000 bus clocks)
 * counts down, wakes the vCPU from HLT with its vector once and then
 * reads 0; a periodic one of 10 ms comes 5 times with its own vector
 * and stops at an initial count of 0; a masked one runs out without an
 * interrupt or an IRR bit; a new divide configuration keeps the current
 * count, which then goes down at the new rate.
 */
static void check_lapic_timer(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (c & (1u << 24))
        fail("CPUID 1 offers the TSC-deadline timer");
    wrmsr64(0x80f, 0x1ff);
    wrmsr64(0x808, 0);
    wrmsr64(0x83e, 0xb);                         /* divide by 1 */
    wrmsr64(0x832, 0x40);                        /* one-shot, vector 0x40 */
    uint32_t n = lapic_count;
    wrmsr64(0x838, 50000000);
    uint64_t cur = rdmsr64(0x839);
    if (rdmsr64(0x838) != 50000000 || !cur || cur > 50000000)
        fail("the one-shot timer's initial and current counts");
    hlt_until(n + 1);
    if (lapic_vector != 0x40 || rdmsr64(0x839) != 0)
        fail("the one-shot timer: vector 0x40, then a current count of 0");
    wrmsr64(0x832, 0x20041);                     /* periodic, vector 0x41 */
    wrmsr64(0x838, 10000000);
    hlt_until(n + 6);
    wrmsr64(0x838, 0);                           /* stopped */
    if (lapic_vector != 0x41 || rdmsr64(0x839) != 0)
        fail("the periodic timer: vector 0x41, stopped by a count of 0");
    __asm__ volatile("sti; nop; nop; cli" ::: "memory");
    uint32_t after = lapic_count;
    wrmsr64(0x832, 0x10040);                     /* masked */
    wrmsr64(0x838, 2000000);
    while (rdmsr64(0x839))
        __asm__ volatile("pause");
    __asm__ volatile("sti; nop; nop; cli" ::: "memory");
    if (lapic_count != after || (rdmsr64(0x822) & 1))
        fail("a masked timer interrupted or set its IRR bit");
    /* The same busy loop by 1 and then by 16: the count keeps its value
     * across the change and goes down about 16 times slower after it. */
    wrmsr64(0x838, 0xffffffffu);                 /* about 4.3 s by 1 */
    uint64_t c0 = rdmsr64(0x839);
    for (volatile unsigned i = 0; i < 200000; i++)
        __asm__ volatile("pause");
    uint64_t c1 = rdmsr64(0x839);
    wrmsr64(0x83e, 0x3);                         /* by 16 */
    uint64_t c2 = rdmsr64(0x839);
    for (volatile unsigned i = 0; i < 200000; i++)
        __asm__ volatile("pause");
    uint64_t c3 = rdmsr64(0x839);
    wrmsr64(0x838, 0);
    if (c1 >= c0 || c2 > c1 || c1 - c2 > (c0 - c1) / 2 || c3 >= c2 || (c2 - c3) * 4 > c0 - c1)
        fail("a new divide configuration did not keep the count and slow it down");
    puts_con("pvh-hello: LAPIC timer: one-shot, 5 periodic ticks, masked and a new divide work\n");
}

/*
 * The x2APIC (docs/hvm.md): in x2APIC mode from the start, ID 0, Xen's
 * version; a self-IPI (SELF_IPI and a fixed ICR to itself) comes once its
 * interrupts are on, held back while TPR's class is not below it, and its
 * EOI empties ISR; what the CPU refuses raises #GP and changes nothing.
 */
static void check_x2apic(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c & (1u << 21)) || !(d & (1u << 9)) || (b >> 24) != 0 || (d & (1u << 14)))
        fail("CPUID 1: APIC and x2APIC, APIC ID 0, no MCA expected");
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000004), "c"(0));
    if (!(a & XEN_HVM_CPUID_X2APIC_VIRT) || !(a & XEN_HVM_CPUID_VCPU_ID_PRESENT) || b != 0)
        fail("CPUID 0x40000004: x2APIC virtualized, vCPU id 0 expected");
    if (rdmsr64(0x1b) != 0xfee00d00ULL)
        fail("IA32_APIC_BASE is not 0xfee00d00 (enabled, x2APIC, BSP)");
    if (rdmsr64(0x802) != 0 || rdmsr64(0x803) != 0x50014 || rdmsr64(0x80d) != 1)
        fail("x2APIC ID 0, version 0x50014, LDR 1 expected");
    wrmsr64(0x80f, 0x1ff);                       /* software-enabled, spurious 0xff */
    wrmsr64(0x808, 0);
    uint32_t n = lapic_count;
    __asm__ volatile("cli" ::: "memory");
    wrmsr64(0x83f, 0x40);                        /* SELF_IPI */
    if (lapic_count != n || !(rdmsr64(0x822) & 1))
        fail("a self-IPI came with interrupts off, or is not in IRR");
    __asm__ volatile("sti; nop; nop; cli" ::: "memory");
    if (lapic_count != n + 1 || lapic_vector != 0x40 || rdmsr64(0x822) || rdmsr64(0x812))
        fail("the self-IPI did not come once, or IRR/ISR not empty after its EOI");
    wrmsr64(0x808, 0x50);                        /* TPR class 5 holds back 0x41 */
    wrmsr64(0x830, 0x41);                        /* ICR: fixed, physical, to APIC ID 0 */
    __asm__ volatile("sti; nop; nop; cli" ::: "memory");
    if (lapic_count != n + 1 || rdmsr64(0x80a) != 0x50)
        fail("an IPI below TPR's class came (or PPR is not TPR)");
    wrmsr64(0x808, 0);
    __asm__ volatile("sti; nop; nop; cli" ::: "memory");
    if (lapic_count != n + 2 || lapic_vector != 0x41)
        fail("the IPI held back by TPR did not come when TPR went down");
    wrmsr64(0x830, 0xc0041);                     /* all but itself: nobody else */
    __asm__ volatile("sti; nop; nop; cli" ::: "memory");
    if (lapic_count != n + 2)
        fail("an all-but-self IPI reached itself");
    puts_con("pvh-hello: x2APIC self-IPIs, TPR and EOI work\n");
    static const struct { uint32_t msr; uint64_t val; const char *what; } bad[] = {
        { 0x80b, 1, "a non-zero EOI" },
        { 0x802, 5, "a write to the x2APIC ID" },
        { 0x1b, 0xfee00900ULL, "leaving x2APIC mode" },
        { 0x808, 0x100, "TPR with reserved bits" },
        { 0x830, 0x41ULL | (1ULL << 13), "ICR with a reserved bit" },
        { 0x832, 1u << 18, "the TSC-deadline timer mode" },
        { 0x82f, 0, "the CMCI LVT (not offered)" },
        { 0x828, 1, "a non-zero ESR write" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t before = gp_count;
        wrmsr64(bad[i].msr, bad[i].val);
        if (gp_count != before + 1)
            fail(bad[i].what);
    }
    uint32_t before = gp_count;
    (void)rdmsr64(0x80b);                        /* EOI is write-only */
    (void)rdmsr64(0x83f);                        /* SELF_IPI too */
    if (gp_count != before + 2 || rdmsr64(0x1b) != 0xfee00d00ULL || rdmsr64(0x808))
        fail("a read of EOI/SELF_IPI did not #GP, or a refused write changed a register");
    puts_con("pvh-hello: bad x2APIC accesses raised #GP\n");
}

static void check_acpi(uint64_t rsdp, uint64_t page)
{
    const uint8_t *r = (const uint8_t *)(uintptr_t)rsdp;
    if (rsdp != page || !same(r, "RSD PTR ", 8) || r[15] != 2 || acpi_sum(r, 20) ||
        acpi_sum(r, 36))
        fail("ACPI: no valid revision-2 RSDP at the start of the ACPI page");
    uint64_t xa;
    xa = rd64(r + 24);
    const uint8_t *x = (const uint8_t *)(uintptr_t)xa;
    uint32_t xl;
    xl = rd32(x + 4);
    if (xa < page || xa >= page + 4096 || !same(x, "XSDT", 4) || xl != 52 || acpi_sum(x, xl))
        fail("ACPI: bad XSDT");
    uint64_t fa, ma;
    fa = rd64(x + 36);
    ma = rd64(x + 44);
    const uint8_t *f = (const uint8_t *)(uintptr_t)fa, *m = (const uint8_t *)(uintptr_t)ma;
    uint32_t fl, ml, flags;
    fl = rd32(f + 4);
    ml = rd32(m + 4);
    flags = rd32(f + 112);
    if (!same(f, "FACP", 4) || fl != 268 || acpi_sum(f, fl) || !(flags & (1u << 20)))
        fail("ACPI: bad FADT (or not hardware-reduced)");
    if (!same(m, "APIC", 4) || ml != 52 || acpi_sum(m, ml) || m[44] != 0 || m[45] != 8 ||
        m[47] != 0 || !(m[48] & 1))
        fail("ACPI: bad MADT (one enabled LAPIC, ID 0, expected)");
    puts_con("pvh-hello: ACPI RSDP, XSDT, FADT (hardware-reduced), MADT (1 LAPIC) valid\n");
}

static int contains(const char *s, const char *w)
{
    size_t n = slen(w);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] == w[i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

static void cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static void outb_e9(const char *s)
{
    for (; *s; s++)
        __asm__ volatile("outb %0, $0xe9" :: "a"(*s));
}

/* Four bytes per OUT (a 32-bit OUT to port 0xe9 is four characters). */
static void outl_e9(const char *s)
{
    size_t n = slen(s);
    for (size_t i = 0; i < n; i += 4) {
        uint32_t w = 0;
        for (size_t k = 0; k < 4 && i + k < n; k++)
            w |= (uint32_t)(uint8_t)s[i + k] << (8 * k);
        __asm__ volatile("outl %0, $0xe9" :: "a"(w));
    }
}

/* An IDT with vector 13 (gp_entry) and the callback vector CB_VECTOR
 * (cb_entry), both in head.S. */
#define CB_VECTOR 0xf3
static uint64_t idt[2 * 256] __attribute__((aligned(16)));

static void idt_set(unsigned vec, const char *entry)
{
    uint64_t a = (uint64_t)entry;
    idt[2 * vec] = (a & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) | (((a >> 16) & 0xffff) << 48);
    idt[2 * vec + 1] = a >> 32;
}

static void idt_init(void)
{
    idt_set(13, gp_entry);
    idt_set(CB_VECTOR, cb_entry);
    idt_set(0xf4, cb_entry_f4);
    idt_set(0x40, lapic_entry_40);
    idt_set(0x41, lapic_entry_41);
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d = { sizeof(idt) - 1,
                                                                          (uint64_t)idt };
    __asm__ volatile("lidt %0" :: "m"(d));
}

static long hvm_param(unsigned op, uint16_t domid, uint32_t index, uint64_t *value)
{
    struct xen_hvm_param p = { .domid = domid, .index = index, .value = *value };
    long rc = hcall(__HYPERVISOR_hvm_op, op, (unsigned long)&p, 0);
    *value = p.value;
    return rc;
}

/* shared_info, mapped over this page of its RAM by add_to_physmap. */
static volatile shared_info_t shinfo __attribute__((aligned(4096)));

/* The callback vector's handler (cb_entry): counted; it clears the
 * upcall and the pending ports as a guest's event handler does, or the
 * vector, asserted while the upcall is pending, would come again. */
static volatile unsigned cb_count;
static volatile uint64_t cb_seen;      /* ports 0..63 found pending by it */

void cb_handler(void)
{
    cb_count++;
    cb_seen |= shinfo.evtchn_pending[0];
    shinfo.vcpu_info[0].evtchn_upcall_pending = 0;
    __atomic_store_n(&shinfo.vcpu_info[0].evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < 8; i++)
        __atomic_store_n(&shinfo.evtchn_pending[i], 0, __ATOMIC_SEQ_CST);
}

/* Waits (yielding) until *a == *b, or fails after many tries. */
static void wait_equal(volatile uint32_t *a, volatile uint32_t *b, const char *what)
{
    for (unsigned long i = 0; *a != *b; i++) {
        if (i > 2000000)
            fail(what);
        hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}

static void notify(uint32_t port)
{
    struct evtchn_send send = { .port = port };
    if (hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_send, (unsigned long)&send, 0))
        fail("EVTCHNOP_send to the xenstore domain");
}

/* One xenstore request over the store ring (docs/xenstore.md): the
 * header and payload in, the answer's header and up to max-1 bytes of
 * its payload (NUL-terminated) out. */
static uint32_t store_port;
static uint64_t xs_ring_gpa;
static struct xsd_sockmsg xs_request(uint32_t type, uint32_t id, const char *p1, size_t l1,
                                     const char *p2, size_t l2, char *out, size_t max)
{
    volatile struct xenstore_domain_interface *x = (void *)(uintptr_t)xs_ring_gpa;
    struct xsd_sockmsg h = { .type = type, .req_id = id, .tx_id = 0, .len = (uint32_t)(l1 + l2) };
    const char *parts[3] = { (const char *)&h, p1, p2 };
    size_t lens[3] = { sizeof(h), l1, l2 };
    XENSTORE_RING_IDX prod = x->req_prod;
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < lens[k]; i++)
            x->req[MASK_XENSTORE_IDX(prod++)] = parts[k][i];
    __atomic_thread_fence(__ATOMIC_RELEASE);
    x->req_prod = prod;
    notify(store_port);
    struct xsd_sockmsg r = { 0 };
    char *rp = (char *)&r;
    for (size_t i = 0; i < sizeof(r) + r.len || i < sizeof(r); i++) {
        for (unsigned long t = 0; x->rsp_cons == x->rsp_prod; t++) {
            if (t > 200000)
                fail("no xenstore answer");
            /* Sleep until an event's vector (the store port's, or a
             * fallback single-shot timer's so a lost event cannot hang). */
            struct vcpu_set_singleshot_timer st = {
                .timeout_abs_ns = shinfo.vcpu_info[0].time.system_time + 20000000ULL };
            hcall(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, (unsigned long)&st);
            if (x->rsp_cons == x->rsp_prod)
                __asm__ volatile("sti; hlt; cli" ::: "memory");
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        char c = x->rsp[MASK_XENSTORE_IDX(x->rsp_cons)];
        __atomic_thread_fence(__ATOMIC_RELEASE);
        x->rsp_cons = x->rsp_cons + 1;
        if (i < sizeof(r)) {
            rp[i] = c;
            if (i == sizeof(r) - 1 && r.len > XENSTORE_PAYLOAD_MAX)
                fail("xenstore answer longer than a payload");
        } else if (i - sizeof(r) < max - 1) {
            out[i - sizeof(r)] = c;
        }
    }
    size_t n = r.len < max - 1 ? r.len : max - 1;
    out[n] = 0;
    notify(store_port);
    return r;
}

#define GT_FRAMES_MAX 64           /* Xen 4.17's default max_nr_frames */

/* Grant frames past the first four: 5 and the last (63) mapped over
 * pages of ours; setup_table names each where it is (or ~0), query_size
 * counts the table grown to 64 frames; the frame is shared with the
 * hypervisor (an entry written there reads back through setup_table's
 * GFN). */
static void gnt_more_frames(volatile grant_entry_v1_t *f0, volatile uint8_t *p5,
                            volatile uint8_t *p63, struct gnttab_setup_table *st,
                            xen_pfn_t *gfl, struct gnttab_query_size *qs)
{
    static const unsigned idx[] = { 5, GT_FRAMES_MAX - 1 };
    volatile uint8_t *pg[] = { p5, p63 };
    for (unsigned i = 0; i < 2; i++) {
        pg[i][0] = 0x55;
        struct xen_add_to_physmap x = { .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table,
                                        .idx = idx[i], .gpfn = (uint64_t)pg[i] >> 12 };
        if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&x, 0))
            fail("add_to_physmap of grant frame 5 or 63");
        if (pg[i][0] != 0)
            fail("a new grant frame mapped over a page was not zeroed");
    }
    st->nr_frames = GT_FRAMES_MAX;
    for (unsigned i = 0; i < GT_FRAMES_MAX; i++)
        gfl[i] = 0x1234;
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, (unsigned long)st, 1) ||
        st->status != GNTST_okay)
        fail("GNTTABOP_setup_table of 64 frames");
    for (unsigned i = 0; i < GT_FRAMES_MAX; i++) {
        xen_pfn_t want = i == 0 ? (uint64_t)f0 >> 12 : i == 5 ? (uint64_t)p5 >> 12 :
                         i == GT_FRAMES_MAX - 1 ? (uint64_t)p63 >> 12 : ~(xen_pfn_t)0;
        if (gfl[i] != want)
            fail("GNTTABOP_setup_table did not name each frame by its GFN (or ~0)");
    }
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_query_size, (unsigned long)qs, 1) ||
        qs->nr_frames != GT_FRAMES_MAX)
        fail("query_size after mapping frame 63 did not count 64 frames");
    puts_con("pvh-hello: grant frames 5 and 63 mapped, setup_table names them by GFN\n");
}

/* A GFN this far up is where Linux puts its grant table: above its RAM,
 * inside head.S's identity-mapped first GiB, clear of mmio.c's page. */
#define ABOVE_GFN 0x30000UL

static volatile uint64_t *gfn_va(uint64_t gfn)
{
    return (volatile uint64_t *)(gfn << 12);
}

/*
 * Grant frame 1 placed above its RAM, where the p2m maps nothing (as
 * Linux does): it reads as a zeroed frame, holds what is written, and
 * setup_table names it there; moved one page up, its contents go with
 * it and the first GFN is a hole again (reads all ones, as unclaimed
 * MMIO).  Then moved a GiB at a time: each move needs new NPT pages,
 * which the hypervisor bounds (HVM_P2M_EXTRA_TABLES, 64): -ENOMEM
 * within 40 moves, the frame left where it was, which still works;
 * past the physical width -EINVAL.  Back at ABOVE_GFN for the rest.
 */
static void gnt_above_ram(struct gnttab_setup_table *st, xen_pfn_t *gfl)
{
    struct xen_add_to_physmap x = { .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table,
                                    .idx = 1, .gpfn = ABOVE_GFN };
    if (gfn_va(ABOVE_GFN)[0] != ~0ULL)
        fail("the GFN above its RAM did not read all ones before the mapping");
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&x, 0))
        fail("add_to_physmap of grant frame 1 above its RAM");
    if (gfn_va(ABOVE_GFN)[0] != 0)
        fail("grant frame 1 above its RAM does not read as a zeroed frame");
    gfn_va(ABOVE_GFN)[1] = 0x1122334455667788ULL;
    st->nr_frames = 2;
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, (unsigned long)st, 1) ||
        st->status != GNTST_okay || gfl[1] != ABOVE_GFN)
        fail("setup_table did not name grant frame 1 at its GFN above its RAM");
    x.gpfn = ABOVE_GFN + 1;
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&x, 0))
        fail("add_to_physmap of grant frame 1, moved up a page");
    if (gfn_va(ABOVE_GFN + 1)[1] != 0x1122334455667788ULL)
        fail("grant frame 1 moved without its contents");
    if (gfn_va(ABOVE_GFN)[1] != ~0ULL)
        fail("the GFN grant frame 1 left is not a hole again");
    puts_con("pvh-hello: grant frame 1 above its RAM: mapped, moved, its old GFN a hole again\n");
    long rc = 0;
    unsigned moves = 0;
    for (uint64_t g = 1; g <= 40 && !rc; g++, moves++) {
        x.gpfn = g << 18;                      /* g GiB */
        rc = hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&x, 0);
    }
    put_hex("pvh-hello: moves a GiB apart before a refusal: ", moves);
    if (rc != -12)
        fail("moving grant frame 1 a GiB at a time was never refused with -ENOMEM");
    st->nr_frames = 2;
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, (unsigned long)st, 1) ||
        st->status != GNTST_okay || gfl[1] != (uint64_t)(moves - 1) << 18)
        fail("the refused move did not leave grant frame 1 where it was");
    uint32_t r[4];
    cpuid(0x80000008, r);
    x.gpfn = 1ULL << ((r[0] & 0xff) - 12);
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&x, 0) != -22)
        fail("grant frame 1 past the physical width was not -EINVAL");
    x.gpfn = ABOVE_GFN;
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&x, 0) ||
        gfn_va(ABOVE_GFN)[1] != 0x1122334455667788ULL)
        fail("grant frame 1 did not come back above its RAM with its contents");
    puts_con("pvh-hello: NPT pages for frames above its RAM bounded (-ENOMEM), "
             "the physical width too (-EINVAL)\n");
}

/* GNTTABOP_copy with GFN operands: a page of ours to another by gmfn,
 * then (with self=d1 on the command line: a guest cannot ask its own
 * id) from grant 12 (ours, to ourselves) by reference; a GFN past its
 * RAM is GNTST_bad_page, a copy past the page GNTST_bad_copy_arg. */
static void gnt_copy_self(uint32_t si_pa, volatile grant_entry_v1_t *gframe, bool self_d1)
{
    static volatile uint8_t a[4096] __attribute__((aligned(4096)));
    static volatile uint8_t b[4096] __attribute__((aligned(4096)));
    for (unsigned i = 0; i < 4096; i++) {
        a[i] = (uint8_t)(i * 3 + 5);
        b[i] = 0;
    }
    struct gnttab_copy c[4] = {
        { .source = { .u.gmfn = (uint64_t)a >> 12, .domid = DOMID_SELF, .offset = 16 },
          .dest = { .u.gmfn = (uint64_t)b >> 12, .domid = DOMID_SELF, .offset = 32 },
          .len = 100 },
        { .source = { .u.gmfn = (uint64_t)a >> 12, .domid = DOMID_SELF },
          .dest = { .u.gmfn = (si_pa >> 12) + 100, .domid = DOMID_SELF }, .len = 8 },
        { .source = { .u.gmfn = (1ULL << 40), .domid = DOMID_SELF },
          .dest = { .u.gmfn = (uint64_t)b >> 12, .domid = DOMID_SELF }, .len = 8 },
        { .source = { .u.gmfn = (uint64_t)a >> 12, .domid = DOMID_SELF, .offset = 4000 },
          .dest = { .u.gmfn = (uint64_t)b >> 12, .domid = DOMID_SELF }, .len = 200 },
    };
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_copy, (unsigned long)c, 4))
        fail("GNTTABOP_copy batch");
    if (c[0].status != GNTST_okay || c[1].status != GNTST_bad_page ||
        c[2].status != GNTST_bad_page || c[3].status != GNTST_bad_copy_arg)
        fail("GNTTABOP_copy statuses by GFN");
    for (unsigned i = 0; i < 4096; i++)
        if (b[i] != (i >= 32 && i < 132 ? (uint8_t)((i - 16) * 3 + 5) : 0))
            fail("GNTTABOP_copy by GFN copied the wrong bytes");
    if (!self_d1) {
        puts_con("pvh-hello: GNTTABOP_copy by GFN; bad GFNs GNTST_bad_page\n");
        return;
    }
    gframe[12].frame = (uint32_t)((uint64_t)b >> 12);
    gframe[12].domid = 1;
    __atomic_store_n(&gframe[12].flags, (uint16_t)GTF_permit_access, __ATOMIC_RELEASE);
    struct gnttab_copy g = {
        .source = { .u.ref = 12, .domid = DOMID_SELF, .offset = 32 },
        .dest = { .u.gmfn = (uint64_t)a >> 12, .domid = DOMID_SELF }, .len = 4,
        .flags = GNTCOPY_source_gref };
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_copy, (unsigned long)&g, 1) ||
        g.status != GNTST_okay || a[0] != b[32] || a[3] != b[35])
        fail("GNTTABOP_copy from our own grant 12");
    if (gframe[12].flags & (GTF_reading | GTF_writing))
        fail("the copy left grant 12 in use");
    gframe[12].frame = (uint32_t)((si_pa >> 12) + 100);
    g.status = 0;
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_copy, (unsigned long)&g, 1) ||
        g.status != GNTST_bad_page)
        fail("GNTTABOP_copy from a grant naming a GFN past our RAM was not GNTST_bad_page");
    __atomic_store_n(&gframe[12].flags, (uint16_t)0, __ATOMIC_RELEASE);
    puts_con("pvh-hello: GNTTABOP_copy by GFN and by our own grant; bad GFNs GNTST_bad_page\n");
}

/* set_version 2 and back: the reserved entries (the rings' GFNs when a
 * xenstore domain seeded them) carried over in each format; a bad
 * version -EINVAL; in v2 its status frame 0 mapped by add_to_physmap
 * (the store ring's mapping by the xenstore domain seen there), gone
 * from the p2m again in v1. */
static void gnt_versions(volatile grant_entry_v1_t *gframe, uint64_t store_pfn,
                         uint64_t con_pfn, bool seeded)
{
    struct gnttab_set_version sv = { .version = 2 };
    struct gnttab_get_version gv = { .dom = DOMID_SELF };
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_set_version, (unsigned long)&sv, 1) ||
        hcall(__HYPERVISOR_grant_table_op, GNTTABOP_get_version, (unsigned long)&gv, 1) ||
        gv.version != 2)
        fail("GNTTABOP_set_version 2");
    volatile grant_entry_v2_t *v2 = (volatile grant_entry_v2_t *)gframe;
    if (seeded && (v2[GNTTAB_RESERVED_XENSTORE].full_page.frame != store_pfn ||
                   v2[GNTTAB_RESERVED_CONSOLE].full_page.frame != con_pfn ||
                   (v2[GNTTAB_RESERVED_XENSTORE].hdr.flags & GTF_type_mask) != GTF_permit_access))
        fail("the reserved entries were not carried into v2");
    /* Its status frame 0 read-only over a page of ours: get_status_frames
     * names it by GFN; frame 8 (past the 8 of 64 grant frames) and a
     * hypercall writing there refused. */
    static volatile uint16_t spage[2048] __attribute__((aligned(4096)));
    spage[0] = 0x4444;
    struct xen_add_to_physmap xs = { .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table,
                                     .idx = XENMAPIDX_grant_table_status | 8,
                                     .gpfn = (uint64_t)spage >> 12 };
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&xs, 0) != -22)
        fail("add_to_physmap of status frame 8 was not -EINVAL");
    xs.idx = XENMAPIDX_grant_table_status | 0;
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&xs, 0))
        fail("add_to_physmap of status frame 0");
    static uint64_t sfl[2];
    struct gnttab_get_status_frames gsf = { .nr_frames = 1, .dom = DOMID_SELF };
    set_xen_guest_handle(gsf.frame_list, sfl);
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_get_status_frames, (unsigned long)&gsf, 1) ||
        gsf.status != GNTST_okay || sfl[0] != (uint64_t)spage >> 12)
        fail("get_status_frames did not name status frame 0 by GFN");
    if (seeded ? !(spage[GNTTAB_RESERVED_XENSTORE] & GTF_reading) : spage[0] != 0)
        fail("the status frame does not show the store ring's mapping (or is not empty)");
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_query_size, (unsigned long)(spage + 64),
              1) != -14)
        fail("a hypercall writing into the status frame was not -EFAULT");
    sv.version = 3;
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_set_version, (unsigned long)&sv, 1) != -22 ||
        sv.version != 2)
        fail("GNTTABOP_set_version 3 was not -EINVAL");
    sv.version = 1;
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_set_version, (unsigned long)&sv, 1) ||
        hcall(__HYPERVISOR_grant_table_op, GNTTABOP_get_version, (unsigned long)&gv, 1) ||
        gv.version != 1)
        fail("GNTTABOP_set_version 1");
    if (seeded && (gframe[GNTTAB_RESERVED_XENSTORE].frame != store_pfn ||
                   gframe[GNTTAB_RESERVED_CONSOLE].frame != con_pfn))
        fail("the reserved entries were not carried back into v1");
    /* Back in v1 the status frame left our p2m: our page is back. */
    if (spage[0] != 0x4444 ||
        hcall(__HYPERVISOR_grant_table_op, GNTTABOP_get_status_frames, (unsigned long)&gsf, 1) ||
        gsf.status != GNTST_general_error ||
        hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&xs, 0) != -22)
        fail("the status frame was still there after the switch back to v1");
    puts_con("pvh-hello: grant table v2 (status frame by GFN) and back, reserved entries kept\n");
}

/* mode=fifo: the FIFO event ABI with its pages named by GFN (docs/hvm.md).
 * Refused: a control block past its RAM, on shared_info or a grant frame,
 * crossing the page, for a vCPU it does not have, twice; an array page
 * before the control block, past its RAM or on shared_info.  Then a port
 * bound to itself, at priority 3, is linked on queue 3 by a send (ready
 * bit, head, word bits) and its event comes through the callback vector;
 * masked in its word, a send leaves it pending and unlinked, and
 * EVTCHNOP_unmask links it and brings the vector again. */
static void fifo_checks(uint32_t si_pa, volatile grant_entry_v1_t *gframe)
{
    static volatile uint8_t cbpage[4096] __attribute__((aligned(4096)));
    static volatile event_word_t words[1024] __attribute__((aligned(4096)));
    volatile evtchn_fifo_control_block_t *fcb = (volatile void *)(cbpage + 64);
    const unsigned long ev = __HYPERVISOR_event_channel_op;
    struct evtchn_expand_array ea = { .array_gfn = (uint64_t)words >> 12 };
    if (hcall(ev, EVTCHNOP_expand_array, (unsigned long)&ea, 0) != -95)
        fail("expand_array before init_control was not -EOPNOTSUPP");
    static const struct { uint64_t gfn; uint32_t off, vcpu; long rc; } bad[] = {
        { 0, 0, 0, -22 }, { 1, 0, 0, -22 }, { 2, 0, 0, -22 }, { 3, 4095, 0, -22 },
        { 3, 4, 0, -22 }, { 3, 64, 1, -2 }, { 4, 0, 0, -22 },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t g = bad[i].gfn == 0 ? (si_pa >> 12) + 100 :
                     bad[i].gfn == 1 ? (uint64_t)&shinfo >> 12 :
                     bad[i].gfn == 2 ? (uint64_t)gframe >> 12 :
                     bad[i].gfn == 3 ? (uint64_t)cbpage >> 12 : 1ULL << 40;
        struct evtchn_init_control ic = { .control_gfn = g, .offset = bad[i].off,
                                          .vcpu = bad[i].vcpu };
        if (hcall(ev, EVTCHNOP_init_control, (unsigned long)&ic, 0) != bad[i].rc)
            fail("a bad EVTCHNOP_init_control was not refused");
    }
    struct evtchn_init_control ic = { .control_gfn = (uint64_t)cbpage >> 12, .offset = 64 };
    if (hcall(ev, EVTCHNOP_init_control, (unsigned long)&ic, 0) ||
        ic.link_bits != EVTCHN_FIFO_LINK_BITS)
        fail("EVTCHNOP_init_control by GFN");
    if (hcall(ev, EVTCHNOP_init_control, (unsigned long)&ic, 0) != -22)
        fail("a second control block for vCPU 0 was not -EINVAL");
    uint64_t bad_arr[] = { (si_pa >> 12) + 100, (uint64_t)&shinfo >> 12 };
    for (unsigned i = 0; i < 2; i++) {
        struct evtchn_expand_array b = { .array_gfn = bad_arr[i] };
        if (hcall(ev, EVTCHNOP_expand_array, (unsigned long)&b, 0) != -22)
            fail("a bad EVTCHNOP_expand_array was not -EINVAL");
    }
    if (hcall(ev, EVTCHNOP_expand_array, (unsigned long)&ea, 0))
        fail("EVTCHNOP_expand_array by GFN");
    struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    if (hcall(ev, EVTCHNOP_alloc_unbound, (unsigned long)&au, 0))
        fail("alloc_unbound to ourselves");
    struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF, .remote_port = au.port };
    if (hcall(ev, EVTCHNOP_bind_interdomain, (unsigned long)&bi, 0))
        fail("bind_interdomain to ourselves");
    uint32_t a = au.port;
    if (a >= 1024)
        fail("our port is past the first array page");
    struct evtchn_set_priority sp = { .port = a, .priority = EVTCHN_FIFO_PRIORITY_MIN + 1 };
    if (hcall(ev, EVTCHNOP_set_priority, (unsigned long)&sp, 0) != -22)
        fail("a priority past the lowest was not -EINVAL");
    sp.priority = 3;
    if (hcall(ev, EVTCHNOP_set_priority, (unsigned long)&sp, 0))
        fail("EVTCHNOP_set_priority");
    for (int round = 0; round < 2; round++) {
        unsigned before = cb_count;
        if (round == 1)
            __atomic_or_fetch(&words[a], 1u << EVTCHN_FIFO_MASKED, __ATOMIC_SEQ_CST);
        struct evtchn_send snd = { .port = bi.local_port };
        if (hcall(ev, EVTCHNOP_send, (unsigned long)&snd, 0))
            fail("EVTCHNOP_send to ourselves");
        uint32_t w = words[a];
        if (round == 1) {
            if (!(w & (1u << EVTCHN_FIFO_PENDING)) || (w & (1u << EVTCHN_FIFO_LINKED)) ||
                (fcb->ready & (1u << 3)))
                fail("a masked FIFO port was linked, or not left pending");
            __atomic_and_fetch(&words[a], ~(1u << EVTCHN_FIFO_MASKED), __ATOMIC_SEQ_CST);
            struct evtchn_unmask um = { .port = a };
            if (hcall(ev, EVTCHNOP_unmask, (unsigned long)&um, 0))
                fail("EVTCHNOP_unmask of a FIFO port");
            w = words[a];
        }
        if (!(w & (1u << EVTCHN_FIFO_PENDING)) || !(w & (1u << EVTCHN_FIFO_LINKED)) ||
            !(fcb->ready & (1u << 3)) || fcb->head[3] != a)
            fail("the sent FIFO event is not linked at the head of queue 3");
        for (unsigned n = 0; cb_count == before; n++) {
            __asm__ volatile("sti; hlt; cli" ::: "memory");
            if (n == 1000)
                fail("the FIFO event did not bring the callback vector");
        }
        /* Consumed as a guest does: head taken, word's bits cleared. */
        __atomic_and_fetch(&fcb->ready, ~(1u << 3), __ATOMIC_SEQ_CST);
        fcb->head[3] = words[a] & EVTCHN_FIFO_LINK_MASK;
        __atomic_and_fetch(&words[a], ~((1u << EVTCHN_FIFO_PENDING) | (1u << EVTCHN_FIFO_LINKED)),
                           __ATOMIC_SEQ_CST);
        if (fcb->head[3] != 0)
            fail("queue 3 held more than our port");
    }
    struct evtchn_close cl = { .port = bi.local_port };
    if (hcall(ev, EVTCHNOP_close, (unsigned long)&cl, 0))
        fail("close");
    cl.port = a;
    if (hcall(ev, EVTCHNOP_close, (unsigned long)&cl, 0))
        fail("close");
    puts_con("pvh-hello: FIFO events by GFN: linked on queue 3, vector taken, masked and "
             "unmasked, refusals checked\n");
}

/* One map_grant_ref from d2; its status (and handle). */
static int16_t map_peer(uint32_t ref, uint64_t gpa, uint32_t flags, grant_handle_t *h)
{
    struct gnttab_map_grant_ref m = { .host_addr = gpa, .flags = flags, .ref = ref, .dom = 2,
                                      .status = 99 };
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_map_grant_ref, (unsigned long)&m, 1))
        fail("GNTTABOP_map_grant_ref");
    *h = m.handle;
    return m.status;
}

static int16_t unmap_peer(uint64_t gpa, grant_handle_t h, uint64_t new_addr)
{
    if (new_addr) {
        struct gnttab_unmap_and_replace u = { .host_addr = gpa, .new_addr = new_addr,
                                              .handle = h, .status = 99 };
        if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_unmap_and_replace, (unsigned long)&u, 1))
            fail("GNTTABOP_unmap_and_replace");
        return u.status;
    }
    struct gnttab_unmap_grant_ref u = { .host_addr = gpa, .handle = h, .status = 99 };
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_unmap_grant_ref, (unsigned long)&u, 1))
        fail("GNTTABOP_unmap_grant_ref");
    return u.status;
}

/* pvh-gnt, the other way: d2's grant ref (its page, i*5+3) mapped into
 * our p2m by GPA, as a translated guest maps grants (docs/hvm.md).
 * Refused (GNTST_general_error): a GPA past our RAM, shared_info's GPA,
 * a device mapping, GNTMAP_contains_pte; a ref past d2's table
 * GNTST_bad_gntref.  Mapped writable over one page (its bytes seen) and read-only over another (a hypercall writing there is
 * -EFAULT, the hypercall MSR naming it #GP); an unmap at a GPA with no grant, at the other mapping (rw,
 * the handle's is ro) and unmap_and_replace refused, the
 * right ones bring our pages back; a second unmap GNTST_bad_handle;
 * 16 mappings at once are the most (the 17th GNTST_general_error).  A
 * last mapping, through which 0x5a is written, is left for our death to
 * undo (d2's grant ends only then). */
static void gnt_map_peer(uint32_t si_pa, uint32_t ref)
{
    static volatile uint8_t mp[4096] __attribute__((aligned(4096)));
    static volatile uint8_t mp2[4096] __attribute__((aligned(4096)));
    for (unsigned i = 0; i < 4096; i++)
        mp[i] = mp2[i] = 0x11;
    uint64_t a1 = (uint64_t)mp, a2 = (uint64_t)mp2;
    grant_handle_t h1, h2, hx;
    if (map_peer(ref, ((uint64_t)si_pa + 100 * 4096), GNTMAP_host_map, &hx) != GNTST_general_error ||
        map_peer(ref, (uint64_t)&shinfo, GNTMAP_host_map, &hx) != GNTST_general_error ||
        map_peer(ref, a1, GNTMAP_host_map | GNTMAP_device_map, &hx) != GNTST_general_error ||
        map_peer(ref, a1, GNTMAP_host_map | GNTMAP_contains_pte, &hx) != GNTST_general_error ||
        map_peer(100000, a1, GNTMAP_host_map, &hx) != GNTST_bad_gntref)
        fail("a bad grant map into the p2m was not refused");
    if (mp[0] != 0x11)
        fail("a refused grant map changed our page");
    if (map_peer(ref, a1, GNTMAP_host_map, &h1) != GNTST_okay)
        fail("mapping d2's grant into our p2m");
    for (unsigned i = 0; i < 4096; i++)
        if (mp[i] != (uint8_t)(i * 5 + 3))
            fail("the grant mapped into our p2m does not show d2's page");
    if (map_peer(ref, a1, GNTMAP_host_map, &hx) != GNTST_general_error)
        fail("a second grant over the same GPA was not refused");
    if (map_peer(ref, a2, GNTMAP_host_map | GNTMAP_readonly, &h2) != GNTST_okay ||
        mp2[7] != (uint8_t)(7 * 5 + 3))
        fail("mapping d2's grant read-only");
    uint32_t gp_before = gp_count;     /* no hypercall page over a grant */
    __asm__ volatile("wrmsr" :: "c"(0x40000000u), "a"((uint32_t)a2), "d"((uint32_t)(a2 >> 32))
                     : "memory");
    if (gp_count != gp_before + 1 || mp2[0] != (uint8_t)3)
        fail("the hypercall MSR on a read-only grant mapping did not raise #GP");
    struct gnttab_query_size *qs = (void *)(mp2 + 64);
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_query_size, (unsigned long)qs, 1) != -14)
        fail("a hypercall writing into a read-only grant mapping was not -EFAULT");
    static volatile uint8_t mp3[4096] __attribute__((aligned(4096)));
    mp3[0] = 0x33;
    if (unmap_peer((uint64_t)mp3, h2, 0) != GNTST_general_error ||
        unmap_peer(a1, h2, 0) != GNTST_general_error ||      /* rw there, h2 is ro */
        unmap_peer(a2, h2, a1) != GNTST_general_error || mp3[0] != 0x33 ||
        mp[3] != (uint8_t)(3 * 5 + 3))
        fail("an unmap at the wrong GPA or unmap_and_replace was not refused");
    if (unmap_peer(a2, h2, 0) != GNTST_okay || mp2[7] != 0x11)
        fail("the read-only unmap did not bring our page back");
    if (unmap_peer(a1, h1, 0) != GNTST_okay || mp[0] != 0x11 || mp[1] != 0x11)
        fail("the unmap did not bring our page back");
    if (unmap_peer(a1, h1, 0) != GNTST_bad_handle)
        fail("a second unmap was not GNTST_bad_handle");
    /* Left mapped when we power off: our death gives it back. */
    if (map_peer(ref, (uint64_t)mp3, GNTMAP_host_map, &hx) != GNTST_okay ||
        mp3[1] != (uint8_t)(1 * 5 + 3))
        fail("mapping d2's grant to leave it mapped");
    /* 16 grant mappings at once (HVM_GNT_MAPS): the 17th is refused. */
    static volatile uint8_t many[16][4096] __attribute__((aligned(4096)));
    grant_handle_t hm[16];
    for (unsigned i = 0; i < 15; i++)
        if (map_peer(ref, (uint64_t)many[i], GNTMAP_host_map | GNTMAP_readonly, &hm[i]) !=
            GNTST_okay)
            fail("mapping d2's grant 16 times");
    if (map_peer(ref, (uint64_t)many[15], GNTMAP_host_map, &hx) != GNTST_general_error)
        fail("a 17th grant mapping into the p2m was not refused");
    for (unsigned i = 0; i < 15; i++)
        if (many[i][9] != (uint8_t)(9 * 5 + 3) ||
            unmap_peer((uint64_t)many[i], hm[i], 0) != GNTST_okay)
            fail("the 15 extra grant mappings");
    mp3[0] = 0x5a;          /* d2 waits for this, then for our death */
    puts_con("pvh-hello: mapped d2's grant into our p2m (rw and ro), refusals checked, "
             "unmapped\n");
}

void main(uint32_t si_pa)
{
    const struct hvm_start_info *si = (const void *)(uintptr_t)si_pa;
    uint32_t r[4];

    /* Before the hypercall page: CPUID and the MSR it names. */
    cpuid(0x40000000, r);
    if (r[1] != XEN_CPUID_SIGNATURE_EBX || r[2] != XEN_CPUID_SIGNATURE_ECX ||
        r[3] != XEN_CPUID_SIGNATURE_EDX || r[0] < 0x40000002) {
        outb_e9("pvh-hello: FAIL no XenVMMXenVMM signature\n");
        return;
    }
    cpuid(0x40000002, r);
    uint32_t msr = r[1];
    if (r[0] != 1) {
        outb_e9("pvh-hello: FAIL leaf 0x40000002 offers no hypercall page\n");
        return;
    }
    uint64_t gpa = (uint64_t)hypercall_page;
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)gpa), "d"((uint32_t)(gpa >> 32)));
    puts_con("pvh-hello: hypercall page installed, CPUID 0x40000000 says XenVMMXenVMM\n");

    /* Prefixed forms: their length is the hypervisor's to decode (QEMU
     * gives no next RIP); a wrong length would land inside them. */
    uint32_t pa, pb, pc, pd;
    __asm__ volatile(".byte 0x48; cpuid" : "=a"(pa), "=b"(pb), "=c"(pc), "=d"(pd)
                     : "a"(0x40000000), "c"(0));
    if (pb != XEN_CPUID_SIGNATURE_EBX)
        fail("rex.W cpuid");
    __asm__ volatile(".byte 0x66, 0x2e; cpuid" : "=a"(pa), "=b"(pb), "=c"(pc), "=d"(pd)
                     : "a"(0x40000000), "c"(0));
    if (pc != XEN_CPUID_SIGNATURE_ECX)
        fail("66 2e cpuid");
    __asm__ volatile(".byte 0x48; rdmsr" : "=a"(pa), "=d"(pd) : "c"(0xc0000080u));
    if (!(pa & 0x400))
        fail("rex.W rdmsr of EFER");
    long pv = 0;
    __asm__ volatile("call 1f; jmp 2f\n1: mov $17, %%eax\n .byte 0x48, 0x0f, 0x01, 0xd9\n ret\n2:"
                     : "=a"(pv) : "D"(0UL), "S"(0UL) : "memory", "rcx", "rdx", "r8", "r9", "r10", "r11");
    if ((pv >> 16) != 4)
        fail("rex.W vmmcall");
    puts_con("pvh-hello: prefixed CPUID, RDMSR and VMMCALL decoded\n");

    if (si->magic != XEN_HVM_START_MAGIC_VALUE)
        fail("start info magic");
    put_hex("pvh-hello: start info at ", si_pa);
    const char *cmdline = (const char *)(uintptr_t)si->cmdline_paddr;
    puts_con("pvh-hello: cmdline '");
    puts_con(cmdline);
    puts_con("'\n");
    if (!contains(cmdline, "greeting=hi"))
        fail("cmdline has no greeting=hi");
    const struct hvm_memmap_table_entry *mm = (const void *)(uintptr_t)si->memmap_paddr;
    if (si->version < 1 || si->memmap_entries != 3)
        fail("memmap: version 1 with three entries expected");
    /* The ACPI page, then the special pages: xenstore ring, console ring,
     * start info. */
    uint64_t sp_pa = si_pa - 2 * 4096, acpi_pa = sp_pa - 4096;
    if (mm[0].addr != 0 || mm[0].size != acpi_pa || mm[0].type != XEN_HVM_MEMMAP_TYPE_RAM)
        fail("memmap[0] is not the RAM below the ACPI page");
    if (mm[1].addr != acpi_pa || mm[1].size != 4096 || mm[1].type != XEN_HVM_MEMMAP_TYPE_ACPI)
        fail("memmap[1] is not the ACPI page");
    if (mm[2].addr != sp_pa || mm[2].size != 3 * 4096 ||
        mm[2].type != XEN_HVM_MEMMAP_TYPE_RESERVED)
        fail("memmap[2] is not the reserved special pages");
    check_acpi(si->rsdp_paddr, acpi_pa);
    put_hex("pvh-hello: memmap RAM 0 size ", mm[0].size);

    /* A ramdisk is module 0 (pvh-ramdisk boots it with tests/pvh/pvh.lds). */
    if (si->nr_modules) {
        const struct hvm_modlist_entry *me = (const void *)(uintptr_t)si->modlist_paddr;
        const char *m = (const char *)(uintptr_t)me->paddr;
        if (si->nr_modules != 1 || (me->paddr & 4095) || me->paddr + me->size > si_pa ||
            me->size < 16)
            fail("module list");
        char head[16];
        for (int i = 0; i < 15; i++)
            head[i] = m[i];
        head[15] = 0;
        put_hex("pvh-hello: module 0 of size ", me->size);
        puts_con("pvh-hello: module 0 starts '");
        puts_con(head);
        puts_con("'\n");
    } else {
        puts_con("pvh-hello: no modules\n");
    }
    if (contains(cmdline, "mode=quick")) {
        /* Built at run time (tests/rtbuild-pvh): the builder's start
         * info, memory map and ACPI tables were checked above. */
        puts_con("pvh-hello: start info, memory map and ACPI checked; powering off\n");
        poweroff(SHUTDOWN_poweroff);
    }

    long v = hcall(__HYPERVISOR_xen_version, XENVER_version, 0, 0);
    put_hex("pvh-hello: xen_version ", (uint64_t)v);
    if ((v >> 16) != 4)
        fail("xen_version major is not 4");

    outb_e9("pvh-hello: via port e9\n");

    /* An MSR the policy does not know: #GP. */
    idt_init();
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x1234u));
    if (gp_count != 1)
        fail("rdmsr 0x1234 did not raise #GP");
    puts_con("pvh-hello: rdmsr of an unknown MSR raised #GP\n");

    /* What the MSR policy refuses: #GP, the value unchanged. */
    static const struct { uint32_t msr; uint64_t val; const char *what; } bad[] = {
        { 0x40000000, 0x200001, "hypercall MSR with page index 1" },
        { 0x40000000, 0x3ff00000, "hypercall MSR outside its RAM" },
        { 0xc0000080, 0xd01 | (1u << 14), "EFER with a bit it may not set" },
        { 0xc0000080, 0xd01 & ~0x100u, "EFER.LME cleared with paging on" },
        { 0x277, 0x0007040600070402ULL, "PAT with memory type 2" },
        { 0x10, 0, "TSC write" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t before = gp_count;
        __asm__ volatile("wrmsr" :: "c"(bad[i].msr), "a"((uint32_t)bad[i].val),
                         "d"((uint32_t)(bad[i].val >> 32)) : "memory");
        if (gp_count != before + 1)
            fail(bad[i].what);
    }
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
    put_hex("pvh-hello: EFER ", lo);
    if ((lo & 0x500) != 0x500 || (lo & (1u << 12)))
        fail("EFER: LME|LMA expected, SVME hidden");
    puts_con("pvh-hello: bad MSR writes raised #GP\n");
    check_x2apic();

    /* XSETBV: what the policy allows (x87, SSE, AVX if offered) is set
     * and reads back; an invalid XCR0 and XCR1 raise #GP. */
    uint64_t xcr0 = 0;
    cpuid(1, r);
    if (r[2] & (1u << 26)) {
        uint64_t cr4;
        __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
        __asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | (1u << 18)));   /* OSXSAVE */
        uint32_t d[4];
        __asm__ volatile("cpuid" : "=a"(d[0]), "=b"(d[1]), "=c"(d[2]), "=d"(d[3])
                         : "a"(0xd), "c"(0));
        xcr0 = d[0] & 7;
        __asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)xcr0), "d"(0));
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if (lo != xcr0)
            fail("XCR0 does not read back what XSETBV set");
        gp_skip = 3;
        uint32_t before = gp_count;
        __asm__ volatile("xsetbv" :: "c"(0), "a"(0u), "d"(0) : "memory");   /* no x87 */
        __asm__ volatile("xsetbv" :: "c"(1), "a"(1u), "d"(0) : "memory");   /* XCR1 */
        gp_skip = 2;
        if (gp_count != before + 2)
            fail("a bad XSETBV did not raise #GP");
        put_hex("pvh-hello: XSETBV set XCR0 ", xcr0);
    } else {
        puts_con("pvh-hello: no XSAVE offered\n");
    }

    /* Hypercalls it may not make. */
    if ((int32_t)vmmcall32_result != -38)
        fail("a hypercall from 32-bit mode was not -ENOSYS");
    if (hcall(__HYPERVISOR_mmu_update, 0, 0, 0) != -38 ||
        hcall(__HYPERVISOR_grant_table_op, GNTTABOP_transfer, 0, 0) != -38 ||
        hcall(__HYPERVISOR_vcpu_op, VCPUOP_initialise, 0, 0) != -38 ||
        hcall(63, 0, 0, 0) != -38)
        fail("a PV-only or unknown hypercall was not -ENOSYS");
    puts_con("pvh-hello: 32-bit, PV-only and unknown hypercalls: -ENOSYS\n");

    /* No device model: an unclaimed port reads all ones, writes vanish. */
    uint8_t b;
    __asm__ volatile("outb %0, $0x80" :: "a"((uint8_t)0x55));
    __asm__ volatile("inb $0x80, %0" : "=a"(b));
    uint32_t l;
    __asm__ volatile("inl %w1, %0" : "=a"(l) : "d"((uint16_t)0xcfc));
    if (b != 0xff || l != 0xffffffffu)
        fail("an unclaimed port did not read all ones");
    puts_con("pvh-hello: unclaimed ports read all ones\n");

    if (contains(cmdline, "mode=dmstorm")) {
        /* An ioreq flood: 1,000 lines through the device model's COM1,
         * far more than it queues for printing; it drops the rest and
         * goes on serving. */
        static const char l[] = "pvh-hello: storm line 0123456789abcdef0123456789abcdef\n";
        for (int i = 0; i < 1000; i++)
            for (const char *c = l; *c; c++)
                outb(0x3f8, (uint8_t)*c);
        outb(0x3ff, 0x42);
        if (inb(0x3ff) != 0x42)
            fail("dm: the device model stopped answering after the storm");
        puts_con("pvh-hello: dm: storm over, the device model still answers\n");
        poweroff(SHUTDOWN_poweroff);
    }
    if (contains(cmdline, "mode=dm")) {
        if (contains(cmdline, "dmmmio"))
            dm_mmio_checks();
        dm_checks(contains(cmdline, "dmloop"));
        poweroff(SHUTDOWN_poweroff);
    }
    if (contains(cmdline, "mode=bench")) {
        bench_exits();
        poweroff(SHUTDOWN_poweroff);
    }
    if (contains(cmdline, "mode=mmio")) {
        mmio_test(puts_con, fail);
        puts_con("pvh-hello: mmio: all answers as expected\n");
        poweroff(SHUTDOWN_poweroff);
    }
    if (contains(cmdline, "mode=npf")) {
        /* Above its RAM is unclaimed MMIO (reads all ones, as Xen); but
         * code there cannot run. */
        puts_con("pvh-hello: jumping to GPA 0x3ff00000, above its RAM\n");
        ((void (*)(void))0x3ff00000UL)();
        fail("survived executing above its RAM");
    }
    if (contains(cmdline, "mode=ptmmio")) {
        /* Page tables in MMIO: the walk itself faults. */
        puts_con("pvh-hello: CR3 at GPA 0x3ff00000, above its RAM\n");
        __asm__ volatile("mov %0, %%cr3; nop" :: "r"(0x3ff00000UL) : "memory");
        fail("survived page tables in MMIO");
    }
    if (contains(cmdline, "mode=insn")) {
        puts_con("pvh-hello: executing RDPMC\n");
        __asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(0) : "memory");
        fail("survived RDPMC");
    }

    if (contains(cmdline, "mode=lapictimer")) {
        check_lapic_timer();
        poweroff(SHUTDOWN_poweroff);
    }
    if (contains(cmdline, "mode=lapicnmi")) {
        puts_con("pvh-hello: an NMI IPI to itself\n");
        wrmsr64(0x830, 0x40400);
        fail("survived an NMI IPI to itself");
    }
    if (contains(cmdline, "mode=triple")) {
        puts_con("pvh-hello: an empty IDT and int3: a triple fault\n");
        struct { uint16_t limit; uint64_t base; } __attribute__((packed)) z = { 0, 0 };
        __asm__ volatile("lidt %0; int3" :: "m"(z) : "memory");
        fail("survived a triple fault");
    }
    if (contains(cmdline, "mode=outs")) {
        puts_con("pvh-hello: outsb to port 0xe9\n");
        static const char msg[] = "pvh-hello: outs ok\n";
        __asm__ volatile("rep outsb" :: "S"(msg), "c"(sizeof(msg) - 1), "d"((uint16_t)0xe9) : "memory");
        poweroff(SHUTDOWN_poweroff);
    }
    if (contains(cmdline, "mode=storm")) {
        /* 2000 lines of 118 bytes on port 0xe9: far more than the
         * console's 32 KiB burst and its 16 KiB/s, so the hypervisor
         * drops the rest. */
        for (int i = 0; i < 2000; i++)
            outl_e9("pvh-hello: storm line 0123456789abcdef0123456789abcdef"
                    "0123456789abcdef0123456789abcdef0123456789abcdef0123456\n");
        puts_con("pvh-hello: storm over\n");
        poweroff(SHUTDOWN_poweroff);
    }
    if (contains(cmdline, "mode=spin")) {
        /* Until a control domain destroys it (pvh-ctl). */
        puts_con("pvh-hello: spinning\n");
        for (;;)
            hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
    }
    if (contains(cmdline, "mode=clihlt")) {
        puts_con("pvh-hello: HLT with interrupts off\n");
        __asm__ volatile("cli; hlt" ::: "memory");
        fail("ran on after HLT with interrupts off");
    }

    /* HLT until the periodic timer's event. */
    struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = 0 };
    if (hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, (unsigned long)&bv, 0))
        fail("bind_virq");
    struct vcpu_set_periodic_timer pt = { .period_ns = 10000000 };
    if (hcall(__HYPERVISOR_vcpu_op, VCPUOP_set_periodic_timer, 0, (unsigned long)&pt))
        fail("set_periodic_timer");
    /* DR0 is the CPU's, not the VMCB's: its own value must survive the
     * other vCPUs that run while it sleeps (pvh-smp runs 34). */
    uint64_t dr0 = 0x1000;
    for (const char *c = cmdline; *c; c++)
        dr0 = dr0 * 31 + (uint8_t)*c;
    dr0 &= 0x7ffffffff000ULL;
    __asm__ volatile("mov %0, %%db0" :: "r"(dr0));
    puts_con("pvh-hello: halting until the timer\n");
    __asm__ volatile("sti; hlt; cli" ::: "memory");
    puts_con("pvh-hello: woken from HLT by the timer event\n");
    for (int i = 0; i < 20; i++)
        hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
    uint64_t dr0_now;
    __asm__ volatile("mov %%db0, %0" : "=r"(dr0_now));
    if (dr0_now != dr0)
        fail("DR0 changed while other vCPUs ran");
    if (xcr0) {
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if (lo != xcr0)
            fail("XCR0 changed while other vCPUs ran");
    }
    puts_con("pvh-hello: DR0 kept across switches\n");

    /* hvm_op params: what a guest may not set, and bad values. */
    uint64_t val = 0x1234;
    if (hvm_param(HVMOP_set_param, DOMID_SELF, HVM_PARAM_STORE_PFN, &val) != -1 ||
        hvm_param(HVMOP_set_param, DOMID_SELF, HVM_PARAM_CONSOLE_EVTCHN, &val) != -1 ||
        hvm_param(HVMOP_set_param, DOMID_SELF, HVM_PARAM_TIMER_MODE, &val) != -1)
        fail("setting a builder's or an unknown param was not -EPERM");
    val = 0;
    if (hvm_param(HVMOP_get_param, DOMID_IO, HVM_PARAM_STORE_PFN, &val) != -1)
        fail("get_param of another domain (DOMID_IO) was not -EPERM");
    if (hvm_param(HVMOP_get_param, DOMID_SELF, HVM_NR_PARAMS, &val) != -22 ||
        hvm_param(HVMOP_set_param, DOMID_SELF, 1000000, &val) != -22)
        fail("a param past HVM_NR_PARAMS was not -EINVAL");
    static const uint64_t bad_cb[] = {
        5,                                                    /* GSI 5 */
        (1ULL << 56) | 0x1234,                                /* PCI INTx */
        (2ULL << 56) | 0x0f,                                  /* an exception's vector */
        (2ULL << 56) | 0x1f3,                                 /* bits past the vector */
        (9ULL << 56) | 0xf3,                                  /* no such type */
    };
    for (unsigned i = 0; i < sizeof(bad_cb) / sizeof(bad_cb[0]); i++) {
        val = bad_cb[i];
        if (hvm_param(HVMOP_set_param, DOMID_SELF, HVM_PARAM_CALLBACK_IRQ, &val) != -22)
            fail("a bad callback was not -EINVAL");
    }
    val = 1;
    if (hvm_param(HVMOP_get_param, DOMID_SELF, HVM_PARAM_CALLBACK_IRQ, &val) || val != 0)
        fail("a refused callback was kept");
    if (hcall(__HYPERVISOR_hvm_op, HVMOP_set_param, 0x3ff00000UL, 0) != -14)
        fail("hvm_op with its argument above its RAM was not -EFAULT");
    puts_con("pvh-hello: hvm_op refused the builder's params, bad indices and bad callbacks\n");

    /* shared_info by add_to_physmap: first the refusals, then over the
     * page of shinfo, where the timer's event is found still pending. */
    if (hcall(__HYPERVISOR_vcpu_op, VCPUOP_stop_periodic_timer, 0, 0))
        fail("stop_periodic_timer");
    uint32_t pw[4];
    cpuid(0x80000008, pw);
    uint64_t past_width = 1ULL << ((pw[0] & 0xff) - 12);
    static const struct { uint16_t domid; unsigned space; uint64_t idx, gpfn; long rc; } bad_x[] = {
        { DOMID_SELF, XENMAPSPACE_shared_info, 0, 0, -22 },          /* gpfn set below */
        { DOMID_SELF, XENMAPSPACE_shared_info, 0, 1ULL << 40, -22 }, /* far outside */
        { DOMID_SELF, XENMAPSPACE_shared_info, 1, 0x100, -22 },      /* no second page */
        { DOMID_SELF, XENMAPSPACE_gmfn, 0x101, 0x100, -95 },         /* not offered */
        { DOMID_IO, XENMAPSPACE_shared_info, 0, 0x100, -1 },         /* another domain */
    };
    for (unsigned i = 0; i < sizeof(bad_x) / sizeof(bad_x[0]); i++) {
        struct xen_add_to_physmap x = { .domid = bad_x[i].domid, .space = bad_x[i].space,
                                        .idx = bad_x[i].idx,
                                        .gpfn = i == 0 ? past_width : bad_x[i].gpfn };
        if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&x, 0) !=
            bad_x[i].rc)
            fail("a bad add_to_physmap was not refused as expected");
    }
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, 0x3ff00000UL, 0) != -14)
        fail("add_to_physmap with its argument above its RAM was not -EFAULT");
    puts_con("pvh-hello: add_to_physmap refused a GFN past the physical width, a bad idx, space and domain\n");
    /* First at another page (then moved: that page's RAM comes back). */
    static volatile uint8_t spare[4096] __attribute__((aligned(4096)));
    spare[0] = 0x5a;
    struct xen_add_to_physmap xs = { .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info,
                                     .idx = 0, .gpfn = (uint64_t)spare >> 12 };
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&xs, 0))
        fail("add_to_physmap of shared_info");
    if (spare[0] != 1)          /* vcpu_info[0].evtchn_upcall_pending */
        fail("the spare page was not replaced by shared_info");
    xs.gpfn = (uint64_t)&shinfo >> 12;
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&xs, 0))
        fail("add_to_physmap of shared_info moved");
    if (spare[0] != 0x5a)
        fail("the spare page's RAM did not come back");
    if (!shinfo.vcpu_info[0].evtchn_upcall_pending ||
        !(shinfo.evtchn_pending[0] & (1UL << bv.port)))
        fail("shared_info does not show the timer's pending event");
    puts_con("pvh-hello: shared_info mapped: the timer's event is pending there\n");

    /* VCPUOP_register_vcpu_info names a GFN: past its RAM, shared_info's
     * (not its RAM frame), an offset that crosses the page and a vCPU it
     * does not have are refused (linux-pvh proves a registration). */
    {
        static const struct { unsigned vcpu; uint64_t gfn; uint32_t off; long rc; } rv[] = {
            { 0, 0x3ff00, 0, -22 },            /* past its RAM (-EINVAL) */
            { 0, 1ULL << 40, 0, -22 },         /* far past */
            { 0, 0x100, 4090, -6 },            /* crosses the page (-ENXIO) */
            { 5, 0x100, 0, -2 },               /* no vCPU 5 (-ENOENT) */
            { 0, 0, 0, -22 },                  /* shared_info's GFN (set below) */
        };
        for (unsigned i = 0; i < sizeof(rv) / sizeof(rv[0]); i++) {
            struct vcpu_register_vcpu_info r = { .mfn = rv[i].gfn, .offset = rv[i].off };
            if (i == 4)
                r.mfn = (uint64_t)&shinfo >> 12;
            long rc = hcall(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, rv[i].vcpu,
                            (unsigned long)&r);
            if (rc != rv[i].rc) {
                put_hex("pvh-hello: register_vcpu_info case ", i);
                put_hex("pvh-hello: returned ", (uint64_t)rc);
                fail("a bad VCPUOP_register_vcpu_info was not refused as expected");
            }
        }
    }
    puts_con("pvh-hello: register_vcpu_info refused bad GFNs, offset and vCPU\n");

    /* The callback vector: the upcall is still pending, so the vector is
     * asserted; with interrupts off it waits, at STI it comes once (the
     * handler clears the upcall). */
    val = (2ULL << 56) | CB_VECTOR;
    if (hvm_param(HVMOP_set_param, DOMID_SELF, HVM_PARAM_CALLBACK_IRQ, &val))
        fail("set_param of the callback vector");
    val = 0;
    if (hvm_param(HVMOP_get_param, DOMID_SELF, HVM_PARAM_CALLBACK_IRQ, &val) ||
        val != ((2ULL << 56) | CB_VECTOR))
        fail("get_param of the callback vector");
    for (int i = 0; i < 5; i++)
        hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
    if (cb_count != 0)
        fail("the callback vector came with interrupts off");
    /* STI, then a hypercall with interrupts on: whether the CPU takes the
     * pending V_IRQ at once or the next VMRUN injects it, it has come by
     * the time the hypercall returns. */
    __asm__ volatile("sti; nop; nop" ::: "memory");
    hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
    __asm__ volatile("cli" ::: "memory");
    if (cb_count != 1 || shinfo.vcpu_info[0].evtchn_upcall_pending)
        fail("the callback vector did not come once at STI");
    /* A single-shot timer: HLT sleeps until its event, whose vector wakes
     * it and runs the handler. */
    struct vcpu_set_singleshot_timer st = { .timeout_abs_ns = 0, .flags = 0 };
    st.timeout_abs_ns = shinfo.vcpu_info[0].time.system_time + 5000000;
    if (hcall(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, (unsigned long)&st))
        fail("set_singleshot_timer");
    for (unsigned n = 0; cb_count == 1; n++) {
        __asm__ volatile("sti; hlt; cli" ::: "memory");
        if (n == 1000) {
            put_hex("pvh-hello: HLT loop: upcall/sel/pending0 ",
                    ((uint64_t)shinfo.vcpu_info[0].evtchn_upcall_pending << 32) |
                    ((uint64_t)(shinfo.vcpu_info[0].evtchn_pending_sel & 0xff) << 16) |
                    (shinfo.evtchn_pending[0] & 0xffff));
            fail("the timer's vector did not come in 1000 HLTs");
        }
    }
    /* The PV clock in shared_info is kept for it: past the timeout now. */
    if (shinfo.vcpu_info[0].time.system_time < st.timeout_abs_ns)
        fail("vcpu_time_info's system time is behind the timer that fired");
    if (cb_count != 2)
        fail("the timer's vector did not wake HLT once");
    /* A masked port: its event is pending in shared_info but raises no
     * upcall; EVTCHNOP_unmask then raises it and the vector comes. */
    struct evtchn_unmask um = { .port = 5000 };
    if (hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_unmask, (unsigned long)&um, 0) != -22)
        fail("unmask of a port it does not have was not -EINVAL");
    __atomic_or_fetch(&shinfo.evtchn_mask[0], 1UL << bv.port, __ATOMIC_SEQ_CST);
    st.timeout_abs_ns = shinfo.vcpu_info[0].time.system_time;   /* now or past: at once */
    if (hcall(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, (unsigned long)&st))
        fail("set_singleshot_timer (masked)");
    for (unsigned n = 0; !(shinfo.evtchn_pending[0] & (1UL << bv.port)); n++) {
        __asm__ volatile("sti; nop; nop; cli" ::: "memory");
        hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
        if (n == 1000000)
            fail("the masked timer's event never became pending");
    }
    __asm__ volatile("sti; nop; nop" ::: "memory");
    hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
    __asm__ volatile("cli" ::: "memory");
    if (cb_count != 2 || shinfo.vcpu_info[0].evtchn_upcall_pending)
        fail("a masked port raised the upcall");
    um.port = bv.port;
    if (hcall(__HYPERVISOR_event_channel_op, EVTCHNOP_unmask, (unsigned long)&um, 0))
        fail("unmask");
    __asm__ volatile("sti; nop; nop" ::: "memory");
    hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
    __asm__ volatile("cli" ::: "memory");
    if (cb_count != 3 || (shinfo.evtchn_mask[0] & (1UL << bv.port)))
        fail("unmask of a pending port did not bring the vector once");
    puts_con("pvh-hello: a masked port raised no upcall; EVTCHNOP_unmask brought the vector\n");

    /* HVMOP_set_evtchn_upcall_vector: vCPU 0's own vector (0xf4) before
     * the domain's callback (0xf3); a low vector and a vCPU it does not
     * have are refused. */
    struct xen_hvm_evtchn_upcall_vector uv = { .vcpu = 0, .vector = 0x0f };
    if (hcall(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, (unsigned long)&uv, 0) != -22)
        fail("an upcall vector below 0x10 was not -EINVAL");
    uv.vcpu = 1;
    uv.vector = 0xf4;
    if (hcall(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, (unsigned long)&uv, 0) != -2)
        fail("an upcall vector for a vCPU it does not have was not -ENOENT");
    uv.vcpu = 0;
    if (hcall(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, (unsigned long)&uv, 0))
        fail("set_evtchn_upcall_vector");
    if (cb_vector != CB_VECTOR)
        fail("the domain's callback did not come on its vector");
    st.timeout_abs_ns = shinfo.vcpu_info[0].time.system_time;
    if (hcall(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, (unsigned long)&st))
        fail("set_singleshot_timer (per-vCPU vector)");
    for (unsigned n = 0; cb_count == 3; n++) {
        __asm__ volatile("sti; hlt; cli" ::: "memory");
        if (n == 1000)
            fail("the per-vCPU vector did not come in 1000 HLTs");
    }
    if (cb_count != 4 || cb_vector != 0xf4)
        fail("the event did not come once on the per-vCPU vector");
    puts_con("pvh-hello: the per-vCPU upcall vector is used before the callback\n");
    puts_con("pvh-hello: callback vector delivered once interrupts were on\n");
    if (hcall(__HYPERVISOR_vcpu_op, VCPUOP_stop_periodic_timer, 0, 0))
        fail("stop_periodic_timer");

    /* A bad pointer is refused, not a crash. */
    if (hcall(__HYPERVISOR_console_io, CONSOLEIO_write, 8, 0x3ff00000UL) != -14)
        fail("console_io of a buffer above its RAM was not -EFAULT");
    puts_con("pvh-hello: console_io of a buffer above its RAM: -EFAULT\n");

    /* The builder's rings (docs/hvm.md): the special pages below the
     * start info, in params the guest cannot set (checked above). */
    uint64_t store_pfn, con_pfn, sport, cport;
    if (hvm_param(HVMOP_get_param, DOMID_SELF, HVM_PARAM_STORE_PFN, &store_pfn) ||
        hvm_param(HVMOP_get_param, DOMID_SELF, HVM_PARAM_CONSOLE_PFN, &con_pfn) ||
        hvm_param(HVMOP_get_param, DOMID_SELF, HVM_PARAM_STORE_EVTCHN, &sport) ||
        hvm_param(HVMOP_get_param, DOMID_SELF, HVM_PARAM_CONSOLE_EVTCHN, &cport))
        fail("get_param of the ring params");
    if (store_pfn != (si_pa >> 12) - 2 || con_pfn != (si_pa >> 12) - 1)
        fail("store and console pfns are not the special pages");
    put_hex("pvh-hello: store ring at pfn ", store_pfn);

    /* Its grant table: query_size, then frame 0 by add_to_physmap over a
     * page of its own (refused: frame 4 and past, a status frame, a GFN
     * past its RAM, shared_info's GFN; then moved, the first page's RAM
     * back); the xenstore domain's reserved entries are seen there. */
    struct gnttab_query_size qs = { .dom = DOMID_SELF };
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_query_size, (unsigned long)&qs, 1) ||
        qs.status != GNTST_okay || qs.max_nr_frames != 64)
        fail("GNTTABOP_query_size");
    /* No status frames in v1. */
    static uint64_t sfl[2];
    struct gnttab_get_status_frames gsf = { .nr_frames = 1, .dom = DOMID_SELF };
    set_xen_guest_handle(gsf.frame_list, sfl);
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_get_status_frames, (unsigned long)&gsf, 1) ||
        gsf.status != GNTST_general_error)
        fail("get_status_frames in v1 was not GNTST_general_error");
    /* setup_table: frame numbers are GFNs, ~0 for a frame not mapped. */
    static xen_pfn_t gfl[GT_FRAMES_MAX + 2];
    struct gnttab_setup_table gst = { .dom = DOMID_SELF, .nr_frames = 1 };
    set_xen_guest_handle(gst.frame_list, gfl);
    gfl[0] = 0;
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, (unsigned long)&gst, 1) ||
        gst.status != GNTST_okay || gfl[0] != ~(xen_pfn_t)0)
        fail("GNTTABOP_setup_table of an unmapped frame did not give ~0");
    gst.nr_frames = GT_FRAMES_MAX + 1;
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, (unsigned long)&gst, 1) ||
        gst.status != GNTST_general_error)
        fail("GNTTABOP_setup_table past max_nr_frames was not GNTST_general_error");
    gst.nr_frames = 1;
    set_xen_guest_handle(gst.frame_list, (xen_pfn_t *)((si_pa + 100 * 4096ULL)));
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, (unsigned long)&gst, 1) ||
        gst.status != GNTST_bad_virt_addr)      /* as Xen: per frame */
        fail("GNTTABOP_setup_table with a list above its RAM was not GNTST_bad_virt_addr");
    set_xen_guest_handle(gst.frame_list, gfl);
    static volatile grant_entry_v1_t gframe[512] __attribute__((aligned(4096)));
    static volatile uint8_t gspare[4096] __attribute__((aligned(4096)));
    static volatile uint8_t gspare5[4096] __attribute__((aligned(4096)));
    static volatile uint8_t gspare63[4096] __attribute__((aligned(4096)));
    gspare[0] = 0x77;
    static const struct { uint64_t idx, gpfn; } bad_g[] = {
        { GT_FRAMES_MAX, 0 }, { 1000, 0 }, { XENMAPIDX_grant_table_status, 0 },
        { 0, 1ULL << 40 }, { 0, 1 },
    };
    for (unsigned i = 0; i < sizeof(bad_g) / sizeof(bad_g[0]); i++) {
        struct xen_add_to_physmap x = { .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table,
                                        .idx = bad_g[i].idx,
                                        .gpfn = i == 4 ? (uint64_t)&shinfo >> 12 :
                                                bad_g[i].gpfn ? bad_g[i].gpfn :
                                                (uint64_t)gframe >> 12 };
        if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&x, 0) != -22)
            fail("a bad grant-table add_to_physmap was not -EINVAL");
    }
    struct xen_add_to_physmap xg = { .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table,
                                     .idx = 0, .gpfn = (uint64_t)gspare >> 12 };
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&xg, 0))
        fail("add_to_physmap of grant frame 0");
    xg.gpfn = (uint64_t)gframe >> 12;
    if (hcall(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (unsigned long)&xg, 0))
        fail("add_to_physmap of grant frame 0, moved");
    if (gspare[0] != 0x77)
        fail("the page under grant frame 0 did not come back");
    if (hcall(__HYPERVISOR_grant_table_op, GNTTABOP_query_size, (unsigned long)&qs, 1) ||
        qs.nr_frames < 1)
        fail("GNTTABOP_query_size after the mapping");
    gnt_more_frames(gframe, gspare5, gspare63, &gst, gfl, &qs);
    gnt_above_ram(&gst, gfl);
    gnt_copy_self(si_pa, gframe, contains(cmdline, "self=d1"));
    gnt_versions(gframe, store_pfn, con_pfn, sport != 0);
    if (sport) {
        if (gframe[GNTTAB_RESERVED_XENSTORE].frame != store_pfn ||
            gframe[GNTTAB_RESERVED_CONSOLE].frame != con_pfn ||
            (gframe[GNTTAB_RESERVED_XENSTORE].flags & GTF_type_mask) != GTF_permit_access ||
            gframe[GNTTAB_RESERVED_XENSTORE].domid == 0)
            fail("the reserved grant entries do not name the rings by GFN");
        puts_con("pvh-hello: grant frame 0 mapped: the reserved entries name the rings\n");
    } else {
        if (gframe[GNTTAB_RESERVED_XENSTORE].flags || gframe[GNTTAB_RESERVED_CONSOLE].flags)
            fail("reserved grant entries without a xenstore domain");
        puts_con("pvh-hello: grant frame 0 mapped (empty table), refusals checked\n");
    }
    if (contains(cmdline, "mode=gnt")) {
        /* pvh-gnt: the PV peer d2 maps grant 8 (a page of ours, by GFN),
         * is refused 9 (a GFN past our RAM) and 10 (granted to d7), and
         * writes 0xee at the start of the page before it unmaps. */
        static volatile uint8_t gpage[4096] __attribute__((aligned(4096)));
        for (unsigned i = 0; i < 4096; i++)
            gpage[i] = (uint8_t)(i * 7 + 1);
        static const struct { unsigned ref; uint16_t domid; int past; } g[] = {
            { 8, 2, 0 }, { 9, 2, 1 }, { 10, 7, 0 },
        };
        for (unsigned i = 0; i < 3; i++) {
            gframe[g[i].ref].frame = g[i].past ? (si_pa >> 12) + 100 : (uint64_t)gpage >> 12;
            gframe[g[i].ref].domid = g[i].domid;
            __atomic_store_n(&gframe[g[i].ref].flags, (uint16_t)GTF_permit_access,
                             __ATOMIC_RELEASE);
        }
        for (unsigned long t = 0; gpage[0] != 0xee; t++) {
            if (t > 5000000)
                fail("the PV peer did not write through its mapping of grant 8");
            hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
        }
        for (unsigned long t = 0; gframe[8].flags & (GTF_reading | GTF_writing); t++) {
            if (t > 5000000)
                fail("the PV peer's mapping of grant 8 did not go");
            hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
        }
        if (gpage[1] != 8)
            fail("the rest of the granted page changed");
        if ((gframe[9].flags | gframe[10].flags) & (GTF_reading | GTF_writing))
            fail("a refused map or copy left grant 9 or 10 in use");
        for (unsigned i = 0; i < 3; i++)
            __atomic_store_n(&gframe[g[i].ref].flags, (uint16_t)0, __ATOMIC_RELEASE);
        puts_con("pvh-hello: a PV peer mapped our grant 8 and wrote through it, then unmapped\n");
        uint32_t ref = gpage[2] | gpage[3] << 8 | (uint32_t)gpage[4] << 16 |
                       (uint32_t)gpage[5] << 24;
        gnt_map_peer(si_pa, ref);
    }
    if (contains(cmdline, "mode=xs")) {
        /* Introduced by the xenstore domain before it ran. */
        if (!sport || !cport || sport == cport)
            fail("no store or console event channel");
        volatile struct xencons_interface *c = (void *)(uintptr_t)(con_pfn << 12);
        static const char line[] = "pvh-hello: this line came through the console ring\n";
        XENCONS_RING_IDX prod = c->out_prod;
        for (size_t i = 0; i < sizeof(line) - 1; i++)
            c->out[MASK_XENCONS_IDX(prod++, c->out)] = line[i];
        __atomic_thread_fence(__ATOMIC_RELEASE);
        c->out_prod = prod;
        notify((uint32_t)cport);
        wait_equal(&c->out_cons, &c->out_prod, "the console ring was not read");

        store_port = (uint32_t)sport;
        xs_ring_gpa = store_pfn << 12;
        char ans[64];
        cb_seen = 0;
        static const char path[] = "data/pvh";   /* relative: our own node */
        static const char val[] = "written by a PVH guest";
        struct xsd_sockmsg r = xs_request(XS_WRITE, 7, path, sizeof(path), val, sizeof(val) - 1,
                                          ans, sizeof(ans));
        if (r.type != XS_WRITE || r.req_id != 7 || !contains(ans, "OK"))
            fail("xenstore write of data/pvh");
        r = xs_request(XS_READ, 8, path, sizeof(path), NULL, 0, ans, sizeof(ans));
        if (r.type != XS_READ || r.req_id != 8 || r.len != sizeof(val) - 1 ||
            !contains(ans, val))
            fail("xenstore read of data/pvh");
        static const char other[] = "/local/domain/2/data/x";
        r = xs_request(XS_WRITE, 9, other, sizeof(other), "no", 2, ans, sizeof(ans));
        if (r.type != XS_ERROR || !contains(ans, "EACCES"))
            fail("xenstore write into another domain's node was not EACCES");
        /* Its answers' events came through the vector while it slept,
         * or (answered before it slept) are pending and come now. */
        __asm__ volatile("sti; nop; nop" ::: "memory");
        hcall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0);
        __asm__ volatile("cli" ::: "memory");
        if (!(cb_seen & (1ULL << sport)))
            fail("the store port's event never came through the callback vector");
        puts_con("pvh-hello: xenstore: wrote and read data/pvh over the store ring, "
                 "another domain's node EACCES\n");
    }

    if (contains(cmdline, "mode=fifo"))
        fifo_checks(si_pa, gframe);
    puts_con("pvh-hello: all checks passed\n");
    poweroff(SHUTDOWN_poweroff);
    fail("still running after poweroff");
}
