/* pvh.c: the PVH build's start of day: the hypercall page, then a start_info made from hvm_start_info and the HVM params. */
#include <stdint.h>
#include <string.h>
#include <minios/hypercall.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <minios/console.h>
#include <minios/hypercall.h>
#include <minios/sched.h>
#include "../../kernel/kernel.h"

/*
 * A PVH domain has no start_info_t: Xen hands it hvm_start_info (command
 * line, modules, memory map) and names its xenstore and console rings in
 * HVM params. The rest of minios reads a start_info_t, so one is filled
 * in here from those, as a PV builder would have for a domain whose
 * pseudo-physical frames are its guest frames: nr_pages is the RAM from
 * guest frame 0 on, the ring frames are guest frames, mfn_list is 0 (no
 * p2m list: frame = pfn), a module is named by pfn (SIF_MOD_START_PFN).
 * shared_info, the page tables and the callbacks are set up later by the
 * code that owns them (events.c, mm.c, traps.c), each its PVH way.
 */
static start_info_t pvh_si;

struct minios_pvh_range minios_pvh_ranges[MINIOS_PVH_MAX_RANGES];
unsigned minios_pvh_nr_ranges;
unsigned long minios_pvh_free_pfn;

extern char _end[];

#define PAGE_SHIFT 12
#define PAGE_SIZE  4096ul
#define FOUR_GIB   0x100000000ull

static void cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                         : "a"(leaf), "c"(0));
}

/*
 * Xen's CPUID leaves are at 0x40000000 or, beside another hypervisor's,
 * a multiple of 0x100 above; base + 2 names the MSR that takes the
 * hypercall page's guest-physical address (here = its virtual one).
 */
static int hypercall_page_init(void)
{
    for (uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
        uint32_t r[4];
        cpuid(base, r);
        if (r[1] != 0x566e6558 || r[2] != 0x65584d4d || r[3] != 0x4d4d566e ||
            r[0] < base + 2)                       /* "XenVMMXenVMM" */
            continue;
        cpuid(base + 2, r);
        uint64_t pa = (uint64_t)(uintptr_t)hypercall_page;
        __asm__ __volatile__("wrmsr" : : "c"(r[1]), "a"((uint32_t)pa),
                             "d"((uint32_t)(pa >> 32)));
        return 1;
    }
    return 0;
}

static uint64_t hvm_param(uint32_t index)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };

    return _hypercall2(__HYPERVISOR_hvm_op, HVMOP_get_param, &p) == 0 ? p.value : 0;
}

static void refuse(const char *why)
{
    minios_printk("minios: PVH start: %s\n", why);
    minios_shutdown(SHUTDOWN_crash);
}

void minios_pvh_start(uint32_t si_pa) __attribute__((noreturn));

void minios_pvh_start(uint32_t si_pa)
{
    const struct hvm_start_info *h = (const struct hvm_start_info *)(uintptr_t)si_pa;
    unsigned long ram_end = 0, free = (unsigned long)_end;

    /* Without Xen's CPUID leaves there is no way to say anything. */
    if (!hypercall_page_init())
        for (;;)
            __asm__ __volatile__("cli; hlt");
    if (h->magic != XEN_HVM_START_MAGIC_VALUE)
        refuse("EBX does not point at an hvm_start_info (bad magic)");
    if (h->version < 1 || !h->memmap_paddr || !h->memmap_entries)
        refuse("hvm_start_info has no memory map (version 0)");

    /*
     * Every entry below 4 GiB is mapped (RAM, ACPI tables and the special
     * pages the builder reserves: rings, start info); RAM contiguous from
     * 0 is what minios allocates. RAM above 4 GiB is not used (a PVH
     * domain on Keel has at most 3 GiB).
     */
    const struct hvm_memmap_table_entry *m =
        (const struct hvm_memmap_table_entry *)(uintptr_t)h->memmap_paddr;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < h->memmap_entries; i++) {
            uint64_t s = m[i].addr, e = m[i].addr + m[i].size;
            if (pass == 0) {
                if (m[i].type == XEN_HVM_MEMMAP_TYPE_RAM && s <= ram_end && e > ram_end)
                    ram_end = e < FOUR_GIB ? e : FOUR_GIB;
                continue;
            }
            if (s >= FOUR_GIB || e <= s)
                continue;
            if (minios_pvh_nr_ranges == MINIOS_PVH_MAX_RANGES)
                refuse("more memory-map entries below 4 GiB than minios maps");
            minios_pvh_ranges[minios_pvh_nr_ranges++] = (struct minios_pvh_range){
                .start_pfn = s >> PAGE_SHIFT,
                .end_pfn = ((e < FOUR_GIB ? e : FOUR_GIB) + PAGE_SIZE - 1) >> PAGE_SHIFT,
            };
        }
    if (ram_end < free)
        refuse("the memory map has no RAM under the image");

    memcpy(pvh_si.magic, "xen-3.0-x86_64", sizeof("xen-3.0-x86_64"));
    pvh_si.nr_pages = ram_end >> PAGE_SHIFT;
    if (h->cmdline_paddr)
        strncpy((char *)pvh_si.cmd_line, (const char *)(uintptr_t)h->cmdline_paddr,
                MAX_GUEST_CMDLINE - 1);
    if (h->nr_modules && h->modlist_paddr) {
        const struct hvm_modlist_entry *mod =
            (const struct hvm_modlist_entry *)(uintptr_t)h->modlist_paddr;
        if (mod->paddr % PAGE_SIZE == 0 && mod->size && mod->paddr + mod->size <= ram_end) {
            pvh_si.flags |= SIF_MOD_START_PFN;
            pvh_si.mod_start = mod->paddr >> PAGE_SHIFT;
            pvh_si.mod_len = mod->size;
            if (mod->paddr + mod->size > free)
                free = mod->paddr + mod->size;
        }
    }
    minios_pvh_free_pfn = (free + PAGE_SIZE - 1) >> PAGE_SHIFT;
    pvh_si.store_mfn = hvm_param(HVM_PARAM_STORE_PFN);
    pvh_si.store_evtchn = (uint32_t)hvm_param(HVM_PARAM_STORE_EVTCHN);
    pvh_si.console.domU.mfn = hvm_param(HVM_PARAM_CONSOLE_PFN);
    pvh_si.console.domU.evtchn = (uint32_t)hvm_param(HVM_PARAM_CONSOLE_EVTCHN);
    minios_start(&pvh_si);
}
