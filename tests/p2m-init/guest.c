/* Test guest (freestanding, not minios: minios runs at VIRT_BASE 0, and a
 * domU builder honours XEN_ELFNOTE_INIT_P2M only below VIRT_BASE): the p2m
 * list mapped where the note asks, outside the initial mapping, as
 * libxenguest builds a domU (Keel) and as Xen 4.17 builds its dom0
 * (xen-p2m-init).  Linked at VIRT_BASE 1 GiB with INIT_P2M 512 MiB.  It
 * checks start_info.mfn_list, first_p2m_pfn and nr_p2m_frames, every
 * entry of the list at that address against the M2P, that the list is
 * writable there, and that the tables which map it (below the bootstrap
 * L4 and its tables) are among the p2m frames; prints "Test result:". */
#include <stdint.h>
#include <stddef.h>
#include <xen/xen.h>
#include <xen/elfnote.h>
#include <xen/sched.h>

#define VIRT_BASE 0x40000000UL
#define INIT_P2M  0x20000000UL
#define M2P ((const volatile uint64_t *)MACH2PHYS_VIRT_START)

extern char hypercall_page[];
extern char _start[];

__asm__(".section .text.entry, \"ax\"\n"
        ".globl _start\n"
        "_start:\n"
        "    movq %rsi, %rdi\n"
        "    andq $-16, %rsp\n"
        "    call guest_main\n"
        "    ud2\n"
        ".section .text.hypercall_page, \"ax\"\n"
        ".globl hypercall_page\n"
        ".balign 4096\n"
        "hypercall_page:\n"
        "    .fill 4096, 1, 0xcc\n"
        ".text\n");

/* The notes, one packed block in .note.Xen (a PT_NOTE segment). */
#define NOTE_ALIGN4(n) (((n) + 3) & ~3u)
#define STR_NOTE(f, s) struct __attribute__((packed)) { uint32_t namesz, descsz, type; \
                                                        char name[4];                  \
                                                        char desc[NOTE_ALIGN4(sizeof(s))]; } f
#define NUM_NOTE(f) struct __attribute__((packed)) { uint32_t namesz, descsz, type; \
                                                     char name[4]; uint64_t desc; } f
static const struct __attribute__((packed, aligned(4))) {
    STR_NOTE(guest_os, "Keel-p2m-init");
    STR_NOTE(xen_version, "xen-3.0");
    STR_NOTE(loader, "generic");
    NUM_NOTE(virt_base);
    NUM_NOTE(paddr_offset);
    NUM_NOTE(entry);
    NUM_NOTE(hypercall_page);
    NUM_NOTE(init_p2m);
} notes __attribute__((used, section(".note.Xen"))) = {
#define STR(t, s) { 4, sizeof(s), (t), "Xen", s }
#define NUM(t, v) { 4, sizeof(uint64_t), (t), "Xen", (v) }
    .guest_os = STR(XEN_ELFNOTE_GUEST_OS, "Keel-p2m-init"),
    .xen_version = STR(XEN_ELFNOTE_XEN_VERSION, "xen-3.0"),
    .loader = STR(XEN_ELFNOTE_LOADER, "generic"),
    .virt_base = NUM(XEN_ELFNOTE_VIRT_BASE, VIRT_BASE),
    .paddr_offset = NUM(XEN_ELFNOTE_PADDR_OFFSET, VIRT_BASE),
    .entry = NUM(XEN_ELFNOTE_ENTRY, (uint64_t)(uintptr_t)_start),
    .hypercall_page = NUM(XEN_ELFNOTE_HYPERCALL_PAGE, (uint64_t)(uintptr_t)hypercall_page),
    .init_p2m = NUM(XEN_ELFNOTE_INIT_P2M, INIT_P2M),
#undef STR
#undef NUM
};

static long hypercall2(unsigned nr, unsigned long a1, unsigned long a2)
{
    long ret;
    register unsigned long rdi __asm__("rdi") = a1, rsi __asm__("rsi") = a2;
    __asm__ volatile("call *%[stub]"
                     : "=a"(ret), "+r"(rdi), "+r"(rsi)
                     : [stub] "r"(hypercall_page + nr * 32)
                     : "rcx", "r11", "rdx", "memory");
    return ret;
}

static long hypercall3(unsigned nr, unsigned long a1, unsigned long a2, unsigned long a3)
{
    long ret;
    register unsigned long rdi __asm__("rdi") = a1, rsi __asm__("rsi") = a2;
    register unsigned long rdx __asm__("rdx") = a3;
    __asm__ volatile("call *%[stub]"
                     : "=a"(ret), "+r"(rdi), "+r"(rsi), "+r"(rdx)
                     : [stub] "r"(hypercall_page + nr * 32)
                     : "rcx", "r11", "memory");
    return ret;
}

static size_t slen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void puts_(const char *s)
{
    hypercall3(__HYPERVISOR_console_io, CONSOLEIO_write, slen(s), (unsigned long)s);
}

static char *hex(char *p, uint64_t v)
{
    *p++ = '0';
    *p++ = 'x';
    int i = 60;
    while (i > 0 && !((v >> i) & 0xf))
        i -= 4;
    for (; i >= 0; i -= 4)
        *p++ = "0123456789abcdef"[(v >> i) & 0xf];
    return p;
}

/* Prints text with each '%' replaced by the next number, in hex. */
static void say(const char *fmt, uint64_t a, uint64_t b, uint64_t c)
{
    char buf[200], *p = buf;
    uint64_t args[3] = { a, b, c };
    unsigned n = 0;
    for (; *fmt && p < buf + 160; fmt++) {
        if (*fmt == '%' && n < 3)
            p = hex(p, args[n++]);
        else
            *p++ = *fmt;
    }
    *p++ = '\n';
    *p = 0;
    puts_(buf);
}

static unsigned failures;

static void check(int ok, const char *what, uint64_t a, uint64_t b)
{
    if (!ok) {
        failures++;
        say(what, a, b, 0);
    }
}

static void shutdown(unsigned reason)
{
    struct sched_shutdown s = { .reason = reason };
    hypercall2(__HYPERVISOR_sched_op, SCHEDOP_shutdown, (unsigned long)&s);
}

void guest_main(start_info_t *si);

void guest_main(start_info_t *si)
{
    uint64_t nr = si->nr_pages, first = si->first_p2m_pfn, nframes = si->nr_p2m_frames;
    uint64_t list_pages = (nr * 8 + 4095) / 4096;
    uint64_t pt_end = (si->pt_base - VIRT_BASE) / 4096 + si->nr_pt_frames;
    say("p2m-init: nr_pages %, mfn_list %, bootstrap tables end at pfn %", nr, si->mfn_list,
        pt_end);
    say("p2m-init: first_p2m_pfn %, nr_p2m_frames %", first, nframes, 0);
    check(si->mfn_list == INIT_P2M, "FAILURE: mfn_list % is not INIT_P2M %", si->mfn_list,
          INIT_P2M);
    check(first >= pt_end, "FAILURE: first_p2m_pfn % inside the bootstrap region (to %)", first,
          pt_end);
    check(nframes >= list_pages, "FAILURE: nr_p2m_frames % < the list's % pages", nframes,
          list_pages);
    if (si->mfn_list != INIT_P2M) {
        puts_("Test result: FAILURE\n");
        shutdown(SHUTDOWN_poweroff);
        return;
    }
    /* Every entry names a frame the M2P gives back as its pfn. */
    volatile uint64_t *p2m = (volatile uint64_t *)INIT_P2M;
    uint64_t bad = 0;
    for (uint64_t pfn = 0; pfn < nr; pfn++)
        if (M2P[p2m[pfn]] != pfn && !bad++)
            say("FAILURE: p2m[%] = %, whose M2P entry is %", pfn, p2m[pfn], M2P[p2m[pfn]]);
    check(!bad, "FAILURE: % p2m entries disagree with the M2P%", bad, 0);
    /* The list's frames are p2m frames: the one at INIT_P2M's last page. */
    uint64_t last = M2P[p2m[first]];
    check(last == first, "FAILURE: pfn % maps back to %", first, last);
    /* Writable at that address (the guest maintains its p2m there). */
    uint64_t v = p2m[nr - 1];
    p2m[nr - 1] = ~v;
    check(p2m[nr - 1] == ~v, "FAILURE: the list is not writable at %%", INIT_P2M, 0);
    p2m[nr - 1] = v;
    /* The tables below the bootstrap ones that map INIT_P2M are p2m
     * frames: walk from the L4 (mapped read-only in the bootstrap region)
     * while the tables are mapped there. */
    const uint64_t *t = (const uint64_t *)si->pt_base;
    unsigned own = 0;
    for (int level = 4; level >= 1; level--) {
        uint64_t e = t[(INIT_P2M >> (12 + 9 * (level - 1))) & 511];
        check(e & 1, "FAILURE: INIT_P2M not mapped at level %%", (uint64_t)level, 0);
        if (!(e & 1))
            break;
        uint64_t pfn = M2P[(e & 0x000ffffffffff000UL) >> 12];
        if (level == 1) {
            check(pfn >= first && pfn < first + nframes,
                  "FAILURE: INIT_P2M's page is pfn %, not a p2m frame (%...)", pfn, first);
            break;
        }
        if (pfn >= first && pfn < first + nframes) {
            own++;
            break;                 /* not mapped: the walk stops here */
        }
        check(pfn < pt_end, "FAILURE: a table of pfn % is neither bootstrap nor p2m (%)", pfn,
              first);
        t = (const uint64_t *)(VIRT_BASE + pfn * 4096);
    }
    check(own == 1, "FAILURE: % tables of INIT_P2M's own among the p2m frames%", own, 0);
    say("p2m-init: % entries checked against the M2P, % failures", nr, failures, 0);
    puts_(failures ? "Test result: FAILURE\n" : "Test result: SUCCESS\n");
    shutdown(SHUTDOWN_poweroff);
}
