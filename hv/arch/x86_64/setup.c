/* Start of day: the multiboot information, the memory map, the direct map
 * of all RAM, the frame table, then traps, the APIC and the domains. */
#include "lib.h"
#include "x86.h"
#include "xstate.h"
#include "mm.h"
#include "apic.h"
#include "pci.h"
#include "time.h"
#include "domain.h"
#include "sched.h"
#include "timer.h"
#include "pv.h"
#include "hvm.h"
#include "boot.h"

void serial_init(void);

#define MB_BOOT_MAGIC 0x2BADB002
#define MAX_RANGES    64
#define MAX_MODULES   4096

struct range { uint64_t start, end; };          /* [start, end) physical */

static struct range ram[MAX_RANGES];
static unsigned nr_ram;
static struct range reserved[MAX_RANGES + MAX_MODULES];
static unsigned nr_reserved;

struct boot_module boot_modules[MAX_MODULES];
unsigned nr_boot_modules;
static char module_cmdlines[512 * 1024];
static char hv_cmdline[512];

const char *hv_command_line(void)
{
    return hv_cmdline;
}

static uint64_t *idle_l4;
uint64_t idle_cr3;

extern char _image_start[], _end[];
extern uint64_t boot_l4[];

static void reserve(uint64_t start, uint64_t end)
{
    if (nr_reserved == ARRAY_SIZE(reserved))
        panic("too many reserved ranges");
    reserved[nr_reserved++] = (struct range){ start, end };
}

static bool overlaps_reserved(uint64_t s, uint64_t e)
{
    for (unsigned i = 0; i < nr_reserved; i++)
        if (s < reserved[i].end && reserved[i].start < e)
            return true;
    return false;
}

/* Boot-time page allocator: takes pages from the top of RAM regions below
 * `limit`, avoiding everything reserved, before the frame table exists. */
static uint64_t boot_alloc_limit = 1ULL << 30;

static void *boot_alloc(uint64_t pages)
{
    uint64_t size = pages << PAGE_SHIFT;
    for (int i = (int)nr_ram - 1; i >= 0; i--) {
        uint64_t top = MIN(ram[i].end, boot_alloc_limit) & ~0xfffULL;
        while (top >= ram[i].start + size && top - size >= ram[i].start) {
            uint64_t s = top - size;
            if (!overlaps_reserved(s, top)) {
                reserve(s, top);
                memset(VA(s), 0, size);
                return VA(s);
            }
            top -= PAGE_SIZE;
        }
    }
    panic("boot allocator: out of memory for %lu pages", (unsigned long)pages);
}

static void parse_multiboot(uint32_t magic, uint32_t mbi_pa)
{
    if (magic != MB_BOOT_MAGIC)
        panic("not started by a multiboot loader (magic %x)", magic);
    const uint32_t *mbi = VA(mbi_pa);
    uint32_t flags = mbi[0];
    if (!(flags & (1 << 6)))
        panic("boot loader gave no memory map");

    const uint8_t *p = VA((uint64_t)mbi[12]);
    const uint8_t *end = p + mbi[11];
    while (p < end) {
        uint32_t size;
        uint64_t addr, len;
        uint32_t type;
        memcpy(&size, p, 4);
        memcpy(&addr, p + 4, 8);
        memcpy(&len, p + 12, 8);
        memcpy(&type, p + 20, 4);
        printk("  mem %016lx-%016lx %s\n", (unsigned long)addr,
               (unsigned long)(addr + len), type == 1 ? "usable" : "reserved");
        if (type == 1 && nr_ram < MAX_RANGES) {
            uint64_t s = ROUNDUP(addr, PAGE_SIZE), e = ROUNDDOWN(addr + len, PAGE_SIZE);
            if (e > s)
                ram[nr_ram++] = (struct range){ s, e };
        }
        p += size + 4;
    }
    if (nr_ram == 0)
        panic("no usable RAM in the memory map");

    if ((flags & (1 << 2)) && mbi[4])
        strlcpy(hv_cmdline, VA((uint64_t)mbi[4]), sizeof(hv_cmdline));

    size_t used = 0;
    if (flags & (1 << 3)) {
        const uint32_t *mods = VA((uint64_t)mbi[6]);
        for (uint32_t i = 0; i < mbi[5]; i++) {
            if (nr_boot_modules == MAX_MODULES) {
                printk("boot: more than %u modules, ignoring the rest\n", MAX_MODULES);
                break;
            }
            const uint32_t *m = mods + 4 * i;
            const char *cl = m[2] ? (const char *)VA((uint64_t)m[2]) : "";
            size_t n = strnlen(cl, 4096);
            if (used + n + 1 > sizeof(module_cmdlines))
                panic("module command lines too long");
            memcpy(module_cmdlines + used, cl, n);
            module_cmdlines[used + n] = 0;
            struct boot_module *bm = &boot_modules[nr_boot_modules++];
            bm->start = m[0];
            bm->end = m[1];
            bm->cmdline = module_cmdlines + used;
            used += n + 1;
            if (bm->end < bm->start)
                bm->end = bm->start;
            reserve(ROUNDDOWN(bm->start, PAGE_SIZE), ROUNDUP(bm->end, PAGE_SIZE));
        }
    }
}

/* Maps [pa, pa + size) uncached at MMIO_BASE + pa (below 4 GiB only). */
void *map_mmio(uint64_t pa, uint64_t size)
{
    uint64_t va = MMIO_BASE + pa;
    for (uint64_t off = 0; off < size; off += PAGE_SIZE) {
        uint64_t a = va + off;
        uint64_t *t = idle_l4;
        for (int level = 3; level >= 1; level--) {
            unsigned idx = (a >> (12 + 9 * level)) & 511;
            if (!(t[idx] & PTE_P)) {
                void *n = alloc_hv_pages(0);
                if (!n)
                    panic("map_mmio: out of memory");
                t[idx] = PA(n) | PTE_P | PTE_W;
            }
            t = VA(t[idx] & PTE_ADDR);
        }
        t[(a >> 12) & 511] = (pa + off) | PTE_P | PTE_W | PTE_PCD | PTE_PWT | PTE_NX;
        invlpg(a);
    }
    return (void *)va;
}

static void build_direct_map(uint64_t max_phys)
{
    if (max_phys > DIRECTMAP_MAX)
        panic("more than %lu GiB of RAM", (unsigned long)(DIRECTMAP_MAX >> 30));
    idle_l4 = boot_alloc(1);
    uint64_t *l3 = boot_alloc(1);
    idle_l4[DIRECTMAP_L4_SLOT] = PA(l3) | PTE_P | PTE_W;
    uint64_t nx = 0;
    uint32_t a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (d & (1u << 20))
        nx = PTE_NX;
    for (unsigned i = 0; i < nr_ram; i++) {
        for (uint64_t pa = ROUNDDOWN(ram[i].start, 1ULL << 21); pa < ram[i].end;
             pa += 1ULL << 21) {
            unsigned i3 = (unsigned)(pa >> 30), i2 = (pa >> 21) & 511;
            if (!(l3[i3] & PTE_P))
                l3[i3] = PA(boot_alloc(1)) | PTE_P | PTE_W;
            uint64_t *l2 = VA(l3[i3] & PTE_ADDR);
            uint64_t flags = PTE_P | PTE_W | PTE_PS | PTE_G;
            /* The hypervisor image is the only executable memory. */
            if (pa + (1ULL << 21) <= PA(_image_start) || pa >= PA(_end))
                flags |= nx;
            l2[i2] = pa | flags;
        }
    }
    idle_cr3 = PA(idle_l4);
    write_cr3(idle_cr3);
}

static void sort_reserved(void)
{
    for (unsigned i = 1; i < nr_reserved; i++) {
        struct range r = reserved[i];
        unsigned j = i;
        for (; j > 0 && reserved[j - 1].start > r.start; j--)
            reserved[j] = reserved[j - 1];
        reserved[j] = r;
    }
}

static void mark_owner(uint64_t start, uint64_t end, uint16_t owner)
{
    for (uint64_t pfn = start >> PAGE_SHIFT; pfn < (end >> PAGE_SHIFT) && pfn < max_pfn; pfn++)
        frame_table[pfn].owner = owner;
}

static void frame_table_init(uint64_t max_phys)
{
    uint64_t frames = max_phys >> PAGE_SHIFT;
    uint64_t bytes = frames * sizeof(struct page_info);
    boot_alloc_limit = max_phys;
    struct page_info *ft = boot_alloc(ROUNDUP(bytes, PAGE_SIZE) >> PAGE_SHIFT);
    page_alloc_init(ft, frames);

    /* Free every RAM frame outside the reserved ranges (sorted walk). */
    sort_reserved();
    for (unsigned i = 0; i < nr_ram; i++) {
        uint64_t s = ram[i].start;
        for (unsigned r = 0; r < nr_reserved && s < ram[i].end; r++) {
            if (reserved[r].end <= s || reserved[r].start >= ram[i].end)
                continue;
            if (reserved[r].start > s)
                page_free_range(s >> PAGE_SHIFT, (reserved[r].start - s) >> PAGE_SHIFT);
            s = MAX(s, reserved[r].end);
        }
        if (s < ram[i].end)
            page_free_range(s >> PAGE_SHIFT, (ram[i].end - s) >> PAGE_SHIFT);
    }
    for (unsigned r = 0; r < nr_reserved; r++)
        mark_owner(reserved[r].start, reserved[r].end, OWNER_HV);
    mark_owner(0, 0x100000, OWNER_RESERVED);
    for (unsigned m = 0; m < nr_boot_modules; m++)
        mark_owner(ROUNDDOWN(boot_modules[m].start, PAGE_SIZE),
                   ROUNDUP(boot_modules[m].end, PAGE_SIZE), OWNER_RESERVED);
}

/* Gives the frames of the boot modules back to the allocator. */
uint64_t release_boot_modules(void)
{
    uint64_t n = 0;
    for (unsigned m = 0; m < nr_boot_modules; m++) {
        if (boot_modules[m].keep)
            continue;
        uint64_t s = ROUNDDOWN(boot_modules[m].start, PAGE_SIZE) >> PAGE_SHIFT;
        uint64_t e = ROUNDUP(boot_modules[m].end, PAGE_SIZE) >> PAGE_SHIFT;
        for (uint64_t pfn = s; pfn < e && pfn < max_pfn; pfn++) {
            if (frame_table[pfn].owner == OWNER_RESERVED) {
                frame_table[pfn].owner = OWNER_HV;
                free_pages(pfn, 0);
                n++;
            }
        }
    }
    return n;
}

void *alloc_hv_pages(unsigned order)
{
    int64_t pfn = alloc_pages(order, OWNER_HV);
    if (pfn < 0)
        return NULL;
    void *va = pfn_to_virt((uint64_t)pfn);
    memset(va, 0, PAGE_SIZE << order);
    return va;
}

void free_hv_pages(void *va, unsigned order)
{
    if (va && free_pages(virt_to_pfn(va), order))
        panic("free_hv_pages: bad free of %p", va);
}

noreturn void hv_exit(unsigned status)
{
    cli();
    outl(0xf4, status);          /* isa-debug-exit, if present */
    for (;;)
        halt();
}

bool cpu_has_tsc_aux;
bool cpu_has_fsgsbase;

void cpu_features_init(void)
{
    uint32_t a, b, c, d, e;
    uint64_t cr4 = read_cr4() | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | X86_CR4_PGE;
    cpuid(7, 0, &a, &b, &c, &d);
    if (b & (1u << 7))
        cr4 |= X86_CR4_SMEP;     /* never execute guest pages */
    cpu_has_fsgsbase = b & 1u;   /* CR4.FSGSBASE stays clear until a guest's needs it */
    cr4 &= ~X86_CR4_FSGSBASE;
    cpuid(0x80000001, 0, &a, &b, &e, &d);
    if ((d & (1u << 27)) || (c & (1u << 22))) {   /* RDTSCP, RDPID */
        cpu_has_tsc_aux = true;
        wrmsr(MSR_TSC_AUX, 0);   /* as pcpu->tsc_aux says */
    }
    write_cr4(cr4);
    xstate_cpu_init();           /* CR4.OSXSAVE, XCR0 x87|SSE, if the CPU has XSAVE */
    uint64_t cr0 = read_cr0();
    cr0 |= X86_CR0_MP | X86_CR0_NE | X86_CR0_WP;
    cr0 &= ~(X86_CR0_EM | X86_CR0_TS);
    write_cr0(cr0);
    __asm__ volatile("fninit");
    /* Xen's PAT (WB, WT, UC-, UC, WC, WP, UC, UC): a PV guest's PTE cache
     * bits mean what they mean on Xen, and RDMSR of the PAT says so. */
    __asm__ volatile("wbinvd" ::: "memory");
    wrmsr(0x277, 0x0000050100070406UL);
}

/* Returns the value of key=value on the hypervisor's command line. */
bool hv_option(const char *key, const char **val, size_t *len)
{
    size_t k = strlen(key);
    for (const char *p = hv_cmdline; *p; ) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - w) > k && !memcmp(w, key, k) && w[k] == '=') {
            *val = w + k + 1;
            *len = (size_t)(p - w) - k - 1;
            return true;
        }
    }
    return false;
}

/* selftest=pagefault|divide: a deliberate fault inside the hypervisor, to
 * test the fault report (registers, stack trace, then halt).  In the
 * debug build, selftest=lockorder takes two locks against the order
 * (it must panic, naming both) and selftest=lockhold holds one for 5 ms
 * (it must be reported; boot goes on). */
static void __attribute__((noinline)) selftest(void)
{
    const char *v;
    size_t n;
    if (!hv_option("selftest", &v, &n))
        return;
    static spinlock_t outer = SPINLOCK_INIT("selftest-outer", LOCK_ORDER_TEST);
    static spinlock_t inner = SPINLOCK_INIT("selftest-inner", LOCK_ORDER_DOMAIN);
    if (n == 9 && !memcmp(v, "lockorder", 9)) {
        printk("selftest: taking %s after %s\n", inner.name, outer.name);
        spin_lock(&outer);
        spin_lock(&inner);
        spin_unlock(&inner);
        spin_unlock(&outer);
        printk("selftest: no lock order check (not the debug build)\n");
        return;
    }
    if (n == 8 && !memcmp(v, "lockhold", 8)) {
        printk("selftest: holding %s for 5 ms\n", outer.name);
        spin_lock(&outer);
        uint64_t end = rdtsc() + 5 * tsc_khz;
        while (rdtsc() < end)
            cpu_relax();
        spin_unlock(&outer);
        return;
    }
    printk("selftest: provoking a hypervisor fault (%.*s)\n", (int)n, v);
    if (n == 9 && !memcmp(v, "pagefault", 9))
        *(volatile uint64_t *)0x10 = 1;          /* unmapped in the idle map */
    else if (n == 6 && !memcmp(v, "divide", 6)) {
        volatile unsigned zero = 0;
        printk("%u\n", 1 / zero);
    }
}

void hv_main(uint32_t magic, uint32_t mbi_pa)
{
    extern struct pcpu pcpu0;
    pcpu0.self = &pcpu0;
    wrmsr(MSR_GS_BASE, (uint64_t)&pcpu0);
    serial_init();
    printk("Keel hypervisor starting\n");
    reserve(0, 0x100000);                         /* firmware, real mode */
    reserve(PA(_image_start), PA(_end));
    parse_multiboot(magic, mbi_pa);

    uint64_t max_phys = 0;
    for (unsigned i = 0; i < nr_ram; i++)
        max_phys = MAX(max_phys, ram[i].end);
    build_direct_map(max_phys);
    frame_table_init(max_phys);
    printk("mm: %lu MiB of RAM up to %lx, %lu frames free\n",
           (unsigned long)(free_page_count() >> 8), (unsigned long)max_phys,
           (unsigned long)free_page_count());

    cpu_features_init();
    m2p_init();
    traps_init();
    svm_cpu_init(this_cpu());    /* SVM and NPT for HVM/PVH (hv/hvm/svm.c) */
    sched_init_cpu(this_cpu());
    apic_init();
    pvtime_init();
    smp_init();
    apic_check_timers();
    pci_init();
    printk("cmdline: '%s'\n", hv_cmdline);
    const char *v;
    size_t n;
    if (hv_option("sharing", &v, &n) && n == 3 && !memcmp(v, "off", 3))
        page_sharing = false;
    selftest();
    pv_policy_init();
    build_boot_domains();
    idle_loop();
}
