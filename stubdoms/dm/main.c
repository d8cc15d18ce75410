/*
 * The device model stub domain (docs/hvm.md, "The device model and ioreq
 * servers"): a PV minios domain with role=dm for exactly one target, an
 * HVM/PVH domain.  As QEMU does under Xen, it makes an ioreq server for
 * its target (dm_op), maps the server's ioreq page (XENMEM_acquire_resource,
 * then mmu_update with MMU_PT_UPDATE_NO_TRANSLATE), binds each vCPU's
 * event channel, claims the ports of its devices, enables the server and
 * lets the target run (the hypervisor holds it paused until then).  Each
 * ioreq is answered from the event handler.
 *
 * Devices so far: the PCI host (configuration mechanism #1 at 0xcf8/0xcfc:
 * the i440FX host bridge at 00:00.0 and the PIIX3 ISA bridge at 00:01.0,
 * stubdoms/dm/pci.c), QEMU's fw_cfg at 0x510/0x511 (stubdoms/dm/fwcfg.c:
 * the e820 map, CPU counts, no boot menu, boot-fail-wait=MS), QEMU's debug
 * ACPI tables through fw_cfg (stubdoms/dm/acpi.c) and the PM1a control
 * register at 0xb004 (S5: power off), QEMU's debug
 * console at 0x402 (reads 0xe9; SeaBIOS
 * writes its log there: "dm: dN debugcon: ..."), the 16550A UART at 0x3f8
 * (COM1), whose lines are printed
 * as "dm: dN serial: ...", and with uart-mmio=ADDR a second 16550A whose
 * registers are the bytes ADDR..ADDR+7 of guest-physical MMIO (as boards
 * map a memory-mapped UART), printed as "dm: dN mmio serial: ...".
 *
 * Boot line: target=ID (required); uart-mmio=ADDR (hex, page-aligned,
 * outside the guest's RAM); selftest=crash-after:N crashes this domain
 * after N answers (the test of a device model's death); selftest=exit-on:TEXT
 * ('_' for spaces) powers it off once a line of the guest's contains TEXT
 * (tests of firmware that never ends: its guest dies with it).
 */
#define __XEN_TOOLS__ 1
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/blkfront.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/mm.h>
#include <minios/sched.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include <xen/domctl.h>
#include <xen/memory.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include "uart.h"
#include "pci.h"
#include "fwcfg.h"
#include "ide.h"
#include "serve.h"
#include "acpi.h"
#include <minios/startinfo.h>

#define COM1 0x3f8
#define DEBUGCON 0x402                  /* QEMU's isa-debugcon, SeaBIOS's debug port */
#define MAX_VCPUS 128                   /* one ioreq page */
#define LOG_LINES 32
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static domid_t target;
static ioservid_t server;
static shared_iopage_t *iopage;
static unsigned nr_vcpus;
static evtchn_port_t local_port[MAX_VCPUS];
static struct uart com1, mmio_uart, debugcon;
static uint64_t mmio_base;                /* 0: no MMIO UART */
static struct pci_bus pci;
static uint32_t pci_cf8;                  /* the guest's config address register */
static uint8_t rcr;                       /* 0xcf9, the PIIX3's reset control */
static struct fwcfg fwcfg;
static struct ide ide;                    /* the primary channel: xvda or the ramdisk module */
static struct minios_blkfront *disk_front; /* xvda's frontend while the IDE disk is its */
static const char *disk_from = "";
static unsigned long ide_read_n, ide_written_n, ide_errors_n;   /* before the unplug */
static unsigned long boot_fail_wait = 60000;   /* ms, as SeaBIOS's default */
static bool com1_access, com1_line, irq_offered = true;
static unsigned long irq_changes;
static bool reset_asked;
static long reset_rc;
static struct acpi_blobs acpi;            /* the ACPI tables given through fw_cfg */
static uint16_t pm1_cnt = 1;              /* PM1a_CNT: SCI_EN, SLP_TYP */
static bool s5_asked;
static long s5_rc;
static unsigned long sleep_refused;
static unsigned long answered, crash_after;
static struct dm_serve_stats stats;
static char exit_on[64];                  /* selftest=exit-on:TEXT ('_' for spaces) */
static uint16_t unplug_mask, pv_product;  /* the Xen platform device's unplug protocol */
static uint32_t pv_build;
static bool unplug_asked;

/* Lines the handler produced, printed by the main thread. */
static char lines[LOG_LINES][UART_LINE_MAX + 18];
static unsigned line_head, line_tail;
static unsigned long lines_dropped;
static struct minios_waitq wq = MINIOS_WAITQ_INIT;

static void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dlog(const char *fmt, ...)
{
    char buf[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    printf("dm: %s\n", buf);
    fflush(stdout);
}

static long dm_op(void *arg, size_t size)
{
    xen_dm_op_buf_t b = { .size = size };
    set_xen_guest_handle(b.h, arg);
    return _hypercall3(__HYPERVISOR_dm_op, target, 1, &b);
}

/* One of the target's HVM params (HVMOP_get_param); 0 if it cannot be read. */
static uint64_t hvm_param(unsigned idx)
{
    struct xen_hvm_param p = { .domid = target, .index = idx };
    return _hypercall2(__HYPERVISOR_hvm_op, HVMOP_get_param, &p) ? 0 : p.value;
}

static long domctl(unsigned cmd, struct xen_domctl *op)
{
    memset(op, 0, sizeof(*op));
    op->cmd = cmd;
    op->interface_version = XEN_DOMCTL_INTERFACE_VERSION;
    op->domain = target;
    return _hypercall1(__HYPERVISOR_domctl, op);
}

/* From a UART, in the handler: queued for the main thread, with the
 * UART's name (ctx) before it. */
static void serial_line(void *ctx, const char *line)
{
    if (line_head - line_tail == LOG_LINES) {
        lines_dropped++;
        return;
    }
    char *d = lines[line_head % LOG_LINES];
    size_t i = 0;
    for (const char *t = ctx; *t && i < 16; t++)
        d[i++] = *t;
    for (const char *c = line; *c && i < sizeof(lines[0]) - 1; c++)
        d[i++] = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
    d[i] = 0;
    line_head++;
    minios_waitq_wake_all(&wq);
}

/* ---- the guest's memory, for requests by pointer ---- */

/* A direct-mapped cache of the target's pages, mapped into one area of
 * ours (update_va_mapping_otherdomain names them by guest frame). */
#define MAPC_SLOTS 512
static unsigned long mapc_va;
static uint64_t mapc_tag[MAPC_SLOTS];     /* gfn + 1 mapped in each slot; 0: none */
static unsigned long mapc_maps;

static uint8_t *guest_page(uint64_t gfn)
{
    unsigned s = (unsigned)(gfn % MAPC_SLOTS);
    unsigned long va = mapc_va + (unsigned long)s * 4096;
    if (mapc_tag[s] != gfn + 1) {
        mapc_tag[s] = 0;
        if (minios_map_foreign_at(va, target, gfn))
            return NULL;
        mapc_tag[s] = gfn + 1;
        mapc_maps++;
    }
    return (uint8_t *)va;
}

static int guest_copy(void *ctx, uint64_t gpa, void *buf, unsigned len, bool to_guest)
{
    (void)ctx;
    uint8_t *b = buf;
    while (len) {
        unsigned in_page = 4096 - (unsigned)(gpa & 4095);
        unsigned n = len < in_page ? len : in_page;
        uint8_t *pg = guest_page(gpa >> 12);
        if (!pg)
            return -1;
        if (to_guest)
            memcpy(pg + (gpa & 4095), b, n);
        else
            memcpy(b, pg + (gpa & 4095), n);
        gpa += n, b += n, len -= n;
    }
    return 0;
}

static const struct dm_guest guest_mem = { guest_copy, NULL };

/* ---- the devices' regions (serve.c answers each request from them) ---- */

static uint64_t com1_read(void *ctx, uint64_t off, unsigned size)
{
    com1_access = true;
    return uart_read(ctx, (unsigned)off, size);
}

static void com1_write(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    com1_access = true;
    uart_write(ctx, (unsigned)off, size, (uint32_t)val);
}

/* The MMIO UART also sees 8-byte accesses: wider than any register. */
static uint64_t uart_read8(void *ctx, uint64_t off, unsigned size)
{
    struct uart *u = ctx;
    if (size == 8) {
        u->bad++;
        return ~0ULL;
    }
    return uart_read(u, (unsigned)off, size);
}

static void uart_write8(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    uart_write(ctx, (unsigned)off, size, (uint32_t)val);
}

static uint64_t debugcon_read(void *ctx, uint64_t off, unsigned size)
{
    (void)ctx, (void)off, (void)size;
    return 0xe9;                         /* QEMU's debugcon reads back 0xe9 */
}

static void debugcon_write(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    (void)off;
    uart_write(ctx, 0, size, (uint32_t)val);
}

/* The IDE command block (0x1f0-0x1f7) and control port (0x3f6 = 0x1f0 + 0x206). */
static uint64_t ide_cmd_read(void *ctx, uint64_t off, unsigned size)
{
    return ide_read(ctx, (unsigned)off, size);
}

static void ide_cmd_write(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    ide_write(ctx, (unsigned)off, size, (uint32_t)val);
}

static uint64_t ide_ctl_read(void *ctx, uint64_t off, unsigned size)
{
    return ide_read(ctx, (unsigned)off + 0x206, size);
}

static void ide_ctl_write(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    ide_write(ctx, (unsigned)off + 0x206, size, (uint32_t)val);
}

static uint64_t fwcfg_rd(void *ctx, uint64_t off, unsigned size)
{
    return fwcfg_read(ctx, 0x510 + (unsigned)off, size);
}

static void fwcfg_wr(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    fwcfg_write(ctx, 0x510 + (unsigned)off, size, (uint32_t)val);
}

/* The PIIX3's reset control register (0xcf9): a reset (bit 2) reboots the
 * guest, as QEMU asks Xen with DMOP_remote_shutdown. */
static uint64_t rcr_read(void *ctx, uint64_t off, unsigned size)
{
    (void)ctx, (void)off, (void)size;
    return rcr;
}

static void rcr_write(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    (void)ctx, (void)off, (void)size;
    rcr = (uint8_t)val & 0x0e;
    if (val & 4) {
        struct xen_dm_op sd = { .op = XEN_DMOP_remote_shutdown };
        sd.u.remote_shutdown.reason = SHUTDOWN_reboot;
        reset_rc = dm_op(&sd, sizeof(sd));
        reset_asked = true;
    }
}

/* ACPI's PM1a control register (ACPI_PM1A_CNT_BLK_ADDRESS_V1, 0xb004, 16
 * bits; the hypervisor has the event block and the timer around it), as
 * QEMU's PIIX4 PM: SCI_EN reads 1 (the FADT names no SMI command port:
 * always in ACPI mode), SLP_TYP is kept, SLP_EN with SLP_TYP 0 (the DSDT's
 * \_S5) powers the guest off (remote_shutdown, as QEMU asks Xen).  The
 * DSDT offers no other sleep state: SLP_EN with another type is refused
 * (counted, nothing happens). */
static uint64_t pm1cnt_read(void *ctx, uint64_t off, unsigned size)
{
    (void)ctx;
    uint32_t v = (uint32_t)pm1_cnt >> (8 * off);
    return size == 1 ? (v & 0xff) : (v & 0xffff);
}

static void pm1cnt_write(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    (void)ctx;
    uint16_t v = pm1_cnt;
    for (unsigned i = 0; i < size && off + i < 2; i++) {
        unsigned sh = 8 * (unsigned)(off + i);
        v = (uint16_t)((v & ~(0xffu << sh)) | ((val >> (8 * i)) & 0xff) << sh);
    }
    pm1_cnt = (uint16_t)((v & 0x1c00) | 1);       /* SLP_TYP; SCI_EN; the rest write-only */
    if (!(v & 0x2000))
        return;
    if ((v >> 10 & 7) != 0) {
        sleep_refused++;
        return;
    }
    struct xen_dm_op sd = { .op = XEN_DMOP_remote_shutdown };
    sd.u.remote_shutdown.reason = SHUTDOWN_poweroff;
    s5_rc = dm_op(&sd, sizeof(sd));
    s5_asked = true;
}

/* Configuration mechanism #1's address register (0xcf8, 32 bits). */
static uint64_t cf8_read(void *ctx, uint64_t off, unsigned size)
{
    (void)ctx, (void)off, (void)size;
    return pci_cf8;
}

static void cf8_write(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    (void)ctx, (void)off, (void)size;
    pci_cf8 = (uint32_t)val & 0x80fffffcu;
}

static uint64_t pci_read(void *ctx, uint64_t addr, unsigned size)
{
    return pci_cfg_read(ctx, (uint32_t)(addr >> 32), (unsigned)(addr & 0xfff), size);
}

static void pci_write(void *ctx, uint64_t addr, unsigned size, uint64_t val)
{
    pci_cfg_write(ctx, (uint32_t)(addr >> 32), (unsigned)(addr & 0xfff), size, (uint32_t)val);
}

/* The Xen platform device's fixed ports 0x10-0x1f, the emulated-device
 * unplug protocol (Xen's docs/misc/hvm-emulated-unplug.pandoc, as QEMU's
 * xen-platform): 0x10 reads the magic 0x49d2 (2 bytes) and the flags (1
 * byte, 0), 0x12 the protocol version 1; a 2-byte write to 0x12 names the
 * drivers' product, a 4-byte one to 0x10 their build, a 2-byte one to
 * 0x10 the devices to unplug: bit 0 all IDE disks (ours goes: the guest
 * uses blkfront). */
static uint64_t platform_read(void *ctx, uint64_t off, unsigned size)
{
    (void)ctx;
    if (off == 0 && size == 2)
        return 0x49d2;
    if (off == 0 && size == 1)
        return 0;
    if (off == 2 && size == 1)
        return 1;
    return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static void platform_write(void *ctx, uint64_t off, unsigned size, uint64_t val)
{
    (void)ctx;
    if (off == 0 && size == 2) {
        unplug_mask |= (uint16_t)val;
        unplug_asked = true;
        if ((val & 1) && ide_present(&ide)) {
            ide_read_n = ide.sectors_read;
            ide_written_n = ide.sectors_written;
            ide_errors_n = ide.io_errors;
            ide_init(&ide, NULL, 0, true);
            /* The disk goes back to the tapdisk domain, which serves it
             * to the guest's blkfront next (from the disk thread: this
             * waits for the backend). */
            if (disk_front) {
                minios_blkfront_flush(disk_front);
                minios_blkfront_detach(disk_front);
                disk_front = NULL;
            }
        }
    } else if (off == 2 && size == 2) {
        pv_product = (uint16_t)val;
    } else if (off == 0 && size == 4) {
        pv_build = (uint32_t)val;
    }
}

#define SZ(n) (1u << (n))
#define SZ_ANY (SZ(1) | SZ(2) | SZ(4) | SZ(8))

/* The regions, in the order they are looked up (0xcf9 before 0xcf8-0xcfb,
 * which holds it); the MMIO UART's only with uart-mmio=. */
static struct dm_region regions[] = {
    { "COM1", IOREQ_TYPE_PIO, COM1, COM1 + 7, SZ(1) | SZ(2) | SZ(4), false, &com1,
      com1_read, com1_write },
    { "debugcon", IOREQ_TYPE_PIO, DEBUGCON, DEBUGCON, SZ(1), false, &debugcon, debugcon_read,
      debugcon_write },
    { "IDE", IOREQ_TYPE_PIO, 0x1f0, 0x1f7, SZ_ANY, false, &ide, ide_cmd_read, ide_cmd_write },
    { "IDE control", IOREQ_TYPE_PIO, 0x3f6, 0x3f6, SZ_ANY, false, &ide, ide_ctl_read,
      ide_ctl_write },
    { "fw_cfg", IOREQ_TYPE_PIO, 0x510, 0x511, SZ_ANY, false, &fwcfg, fwcfg_rd, fwcfg_wr },
    { "reset control", IOREQ_TYPE_PIO, 0xcf9, 0xcf9, SZ(1), true, NULL, rcr_read, rcr_write },
    { "ACPI PM1a control", IOREQ_TYPE_PIO, ACPI_PM1A_CNT_BLK_ADDRESS_V1,
      ACPI_PM1A_CNT_BLK_ADDRESS_V1 + 1, SZ(1) | SZ(2), false, NULL, pm1cnt_read, pm1cnt_write },
    { "PCI config address", IOREQ_TYPE_PIO, 0xcf8, 0xcfb, SZ(4), false, NULL, cf8_read,
      cf8_write },
    { "PCI 00:00.0-00:02.0", IOREQ_TYPE_PCI_CONFIG, XEN_DMOP_PCI_SBDF(0, 0, 0, 0),
      XEN_DMOP_PCI_SBDF(0, 0, 2, 0), SZ_ANY, false, &pci, pci_read, pci_write },
    { "Xen platform", IOREQ_TYPE_PIO, 0x10, 0x1f, SZ(1) | SZ(2) | SZ(4), false, NULL,
      platform_read, platform_write },
    { "MMIO UART", IOREQ_TYPE_COPY, 0, 0, SZ_ANY, false, &mmio_uart, uart_read8, uart_write8 },
};
static unsigned nr_regions = ARRAY_SIZE(regions) - 1;     /* the MMIO UART: with uart-mmio= */

/* Answers vCPU i's request (in the handler, or in the disk thread). */
static void serve(unsigned i)
{
    ioreq_t *p = &iopage->vcpu_ioreq[i];
    com1_access = false;
    dm_serve(regions, nr_regions, p, &guest_mem, &stats);
    /* COM1's interrupt is ISA IRQ4: its line follows the UART (an HVM
     * guest's PICs; a PVH guest has none: -EOPNOTSUPP once, then left). */
    if (com1_access && irq_offered && uart_irq(&com1) != com1_line) {
        com1_line = !com1_line;
        struct xen_dm_op op = { .op = XEN_DMOP_set_isa_irq_level };
        op.u.set_isa_irq_level.isa_irq = 4;
        op.u.set_isa_irq_level.level = com1_line;
        if (dm_op(&op, sizeof(op)) == -XEN_EOPNOTSUPP)
            irq_offered = false;
        else
            irq_changes++;
    }
    if (crash_after && ++answered >= crash_after) {
        dlog("selftest: crashing after %lu answers", answered);
        minios_shutdown(SHUTDOWN_crash);
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    p->state = STATE_IORESP_READY;
    minios_evtchn_send(local_port[i]);
}

/*
 * Requests that may wait for the disk (while xvda's blkfront is the IDE
 * disk's backing: IDE commands, data accesses that end a chunk, and the
 * platform's unplug) cannot be answered in the event handler: they go
 * to the disk thread, and while it works every
 * other request queues behind them (one at a time, in order: the map
 * cache and the devices are never used from two places at once).
 */
static unsigned slow_q[MAX_VCPUS], slow_head, slow_tail;
static bool slow_busy;
static struct minios_waitq slow_wq = MINIOS_WAITQ_INIT;

static bool may_wait(const struct dm_region *r, const ioreq_t *p)
{
    if (!disk_front || !r)
        return false;
    if (r->write == platform_write)
        return p->dir == IOREQ_WRITE;
    if (r->write == ide_cmd_write)
        return ide_may_wait(&ide, (unsigned)(p->addr - r->start), p->size,
                            p->dir == IOREQ_WRITE, p->count);
    return false;
}

static void on_ioreq(evtchn_port_t port, void *data)
{
    (void)port;
    unsigned i = (unsigned)(uintptr_t)data;
    ioreq_t *p = &iopage->vcpu_ioreq[i];
    if (__atomic_load_n((uint8_t *)p + 30, __ATOMIC_ACQUIRE) % 16 != STATE_IOREQ_READY)
        return;
    p->state = STATE_IOREQ_INPROCESS;
    if (slow_busy || may_wait(dm_find(regions, nr_regions, p, true), p)) {
        slow_busy = true;
        slow_q[slow_head++ % MAX_VCPUS] = i;    /* one request per vCPU at a time */
        minios_waitq_wake_all(&slow_wq);
        return;
    }
    serve(i);
}

static void disk_thread(void *arg)
{
    (void)arg;
    for (;;) {
        unsigned long f = minios_events_save();
        while (slow_tail == slow_head) {
            slow_busy = false;
            minios_waitq_wait(&slow_wq, 0);
        }
        unsigned i = slow_q[slow_tail++ % MAX_VCPUS];
        minios_events_restore(f);
        serve(i);
    }
}

static int bf_read(void *ctx, uint64_t s, void *buf, unsigned n)
{
    return minios_blkfront_read(ctx, s, buf, n);
}

static int bf_write(void *ctx, uint64_t s, const void *buf, unsigned n)
{
    return minios_blkfront_write(ctx, s, buf, n);
}

static int bf_flush(void *ctx)
{
    int rc = minios_blkfront_flush(ctx);
    return rc == -XEN_EOPNOTSUPP ? 0 : rc;
}

/* The IDE primary master: the target's first disk (xvda, written for us
 * by the xenstore domain, served by the tapdisk domain) if we have one,
 * else our ramdisk module, else none. */
static void disk_setup(void)
{
    char *v = NULL;
    if (minios_xenbus_available() &&
        !minios_xs_read(MINIOS_XBT_NIL, "device/vbd/51712/backend-id", &v, NULL)) {
        free(v);
        char err[MINIOS_BLKFRONT_ERRLEN];
        int rc = minios_gnttab_init();
        if (rc) {
            dlog("xvda: no grant table (%d): no IDE disk", rc);
            return;
        }
        rc = minios_blkfront_attach("device/vbd/51712", &disk_front, err);
        if (rc) {
            dlog("xvda: %s (%d): no IDE disk", err, rc);
            disk_front = NULL;
            return;
        }
        if (!minios_thread_create("disk", disk_thread, NULL, 0)) {
            dlog("xvda: no memory for the disk thread: no IDE disk");
            minios_blkfront_detach(disk_front);
            disk_front = NULL;
            return;
        }
        struct ide_backing be = { bf_read, bf_write, bf_flush, disk_front };
        ide_init(&ide, &be, minios_blkfront_sectors(disk_front),
                 minios_blkfront_read_only(disk_front));
        disk_from = "xvda through blkfront";
        return;
    }
    const start_info_t *si = minios_start_info;
    if (si->mod_start && si->mod_len >= 512) {
        struct ide_backing be = ide_mem_ops;
        be.ctx = (void *)si->mod_start;
        ide_init(&ide, &be, si->mod_len / 512, false);
        disk_from = "the ramdisk module";
    } else {
        ide_init(&ide, NULL, 0, true);
    }
}

static int setup(void)
{
    struct xen_domctl dc;
    long rc = domctl(XEN_DOMCTL_getdomaininfo, &dc);
    if (rc) {
        dlog("target d%u: getdomaininfo: %ld", target, rc);
        return -1;
    }
    nr_vcpus = dc.u.getdomaininfo.max_vcpu_id + 1;
    /* The builder's xenstore and console rings at the top of its RAM:
     * reserved in the e820 map (as Xen's special pages are). */
    uint64_t ram = (uint64_t)dc.u.getdomaininfo.max_pages << 12, reserved = 0;
    uint64_t store = hvm_param(HVM_PARAM_STORE_PFN), console = hvm_param(HVM_PARAM_CONSOLE_PFN);
    uint64_t low = store && console ? (store < console ? store : console) << 12 : ram;
    if (low < ram)
        reserved = ram - low;
    fwcfg_init(&fwcfg, ram, reserved, nr_vcpus, (uint32_t)boot_fail_wait);
    /* The ACPI tables; without them the firmware makes its own or none
     * (the guest still boots: the MP table describes the same PC). */
    if (acpi_build(&acpi, ram, nr_vcpus) ||
        fwcfg_add_file(&fwcfg, ACPI_RSDP_FILE, acpi.rsdp, sizeof(acpi.rsdp)) ||
        fwcfg_add_file(&fwcfg, ACPI_TABLES_FILE, acpi.tables, acpi.tables_len) ||
        fwcfg_add_file(&fwcfg, ACPI_LOADER_FILE, acpi.loader, acpi.loader_len))
        dlog("target d%u: no ACPI tables for %lu KiB of RAM and %u vCPUs", target,
             (unsigned long)(ram >> 10), nr_vcpus);
    if (nr_vcpus > MAX_VCPUS) {
        dlog("target d%u: %u vCPUs, at most %u served", target, nr_vcpus, MAX_VCPUS);
        return -1;
    }
    struct xen_dm_op op = { .op = XEN_DMOP_create_ioreq_server };
    op.u.create_ioreq_server.handle_bufioreq = HVM_IOREQSRV_BUFIOREQ_OFF;
    if ((rc = dm_op(&op, sizeof(op)))) {
        dlog("target d%u: create_ioreq_server: %ld", target, rc);
        return -1;
    }
    server = op.u.create_ioreq_server.id;
    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_get_ioreq_server_info;
    op.u.get_ioreq_server_info.id = server;
    op.u.get_ioreq_server_info.flags = XEN_DMOP_no_gfns;
    if ((rc = dm_op(&op, sizeof(op)))) {
        dlog("get_ioreq_server_info: %ld", rc);
        return -1;
    }
    xen_pfn_t mfn;
    struct xen_mem_acquire_resource ar = {
        .domid = target, .type = XENMEM_resource_ioreq_server, .id = server,
        .nr_frames = 1, .frame = XENMEM_resource_ioreq_server_frame_ioreq(0) };
    set_xen_guest_handle(ar.frame_list, &mfn);
    if ((rc = HYPERVISOR_memory_op(XENMEM_acquire_resource, &ar))) {
        dlog("acquire_resource: %ld", rc);
        return -1;
    }
    unsigned long f = mfn;
    iopage = minios_map_foreign(target, &f, 1, 1, &rc);
    if (!iopage) {
        dlog("cannot map the ioreq page: %ld", rc);
        return -1;
    }
    for (unsigned i = 0; i < nr_vcpus; i++) {
        evtchn_port_t rport = iopage->vcpu_ioreq[i].vp_eport;
        if ((rc = minios_evtchn_bind_interdomain(target, rport, &local_port[i])) ||
            (rc = minios_evtchn_bind(local_port[i], on_ioreq, (void *)(uintptr_t)i))) {
            dlog("vCPU %u: cannot bind port %u: %ld", i, rport, rc);
            return -1;
        }
    }
    uart_init(&com1, serial_line, "serial: ");
    uart_init(&mmio_uart, serial_line, "mmio serial: ");
    uart_init(&debugcon, serial_line, "debugcon: ");
    pci_bus_init_i440fx(&pci);
    pci_bus_add_xen_platform(&pci);
    disk_setup();
    /* The boot order, as QEMU's "bootorder" file gives it: OpenFirmware
     * device paths, one a line, NUL-terminated (SeaBIOS matches its own
     * device patterns against each): the IDE primary master, the one boot
     * device this PC has. */
    static const char order[] = "/pci@i0cf8/ide@1,1/drive@0/disk@0";
    if (ide_present(&ide) && fwcfg_add_file(&fwcfg, "bootorder", order, sizeof(order)))
        dlog("no room for the boot order in fw_cfg");
    if (mmio_base) {
        regions[nr_regions].start = mmio_base;
        regions[nr_regions].end = mmio_base + 7;
        nr_regions++;
    }
    /* Each region's range is claimed (PCI functions by SBDF: their config
     * cycles come as IOREQ_TYPE_PCI_CONFIG). */
    for (unsigned i = 0; i < nr_regions; i++) {
        const struct dm_region *r = &regions[i];
        if (r->nested)
            continue;
        memset(&op, 0, sizeof(op));
        op.op = XEN_DMOP_map_io_range_to_ioreq_server;
        op.u.map_io_range_to_ioreq_server = (struct xen_dm_op_ioreq_server_range){
            .id = server, .start = r->start, .end = r->end,
            .type = r->type == IOREQ_TYPE_PIO    ? XEN_DMOP_IO_RANGE_PORT
                    : r->type == IOREQ_TYPE_COPY ? XEN_DMOP_IO_RANGE_MEMORY
                                                 : XEN_DMOP_IO_RANGE_PCI };
        if ((rc = dm_op(&op, sizeof(op)))) {
            dlog("map_io_range %s %lx-%lx: %ld", r->name, (unsigned long)r->start,
                 (unsigned long)r->end, rc);
            return -1;
        }
    }
    if (ide_present(&ide))
        dlog("IDE primary master: %lu sectors from %s%s", (unsigned long)ide.sectors, disk_from,
             ide.read_only ? " (read-only)" : "");
    if (!(mapc_va = minios_area_alloc_chunk())) {
        dlog("no room to map the guest's memory");
        return -1;
    }
    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_set_ioreq_server_state;
    op.u.set_ioreq_server_state.id = server;
    op.u.set_ioreq_server_state.enabled = 1;
    if ((rc = dm_op(&op, sizeof(op)))) {
        dlog("set_ioreq_server_state: %ld", rc);
        return -1;
    }
    /* Said before the target runs: once it does, the ioreq thread may
     * answer (and a selftest crash) before this thread prints again. */
    dlog("serving d%u: ioreq server %u, %u vCPU(s), COM1 at 0x%x", target, server,
         nr_vcpus, COM1);
    if (mmio_base)
        dlog("a 16550A at MMIO %lx", (unsigned long)mmio_base);
    rc = domctl(XEN_DOMCTL_unpausedomain, &dc);
    if (rc)
        dlog("d%u was not held for us (unpause: %ld)", target, rc);
    return 0;
}

/* Whether the target is still there (not shut down). */
static bool target_alive(void)
{
    struct xen_domctl dc;
    if (domctl(XEN_DOMCTL_getdomaininfo, &dc) || dc.u.getdomaininfo.domain != target)
        return false;
    return !(dc.u.getdomaininfo.flags & (XEN_DOMINF_shutdown | XEN_DOMINF_dying));
}

int main(int argc, char **argv)
{
    bool have_target = false;
    for (int i = 1; i < argc; i++) {
        unsigned long v;
        if (sscanf(argv[i], "target=%lu", &v) == 1 && v < DOMID_FIRST_RESERVED) {
            target = (domid_t)v;
            have_target = true;
        } else if (sscanf(argv[i], "uart-mmio=%lx", &v) == 1 && v && !(v & 4095)) {
            mmio_base = v;
        } else if (sscanf(argv[i], "boot-fail-wait=%lu", &v) == 1 && v <= 3600000) {
            boot_fail_wait = v;
        } else if (!strncmp(argv[i], "selftest=exit-on:", 17)) {
            snprintf(exit_on, sizeof(exit_on), "%s", argv[i] + 17);
            for (char *c = exit_on; *c; c++)
                if (*c == '_')
                    *c = ' ';
        } else if (sscanf(argv[i], "selftest=crash-after:%lu", &v) == 1) {
            crash_after = v;
        }
    }
    if (!have_target) {
        dlog("no target=ID on the boot line: nothing to serve");
        return 1;
    }
    if (setup())
        return 1;
    for (;;) {
        unsigned long f = minios_events_save();
        if (line_head == line_tail)
            minios_waitq_wait(&wq, minios_monotonic_ns() + 500000000ull);
        while (line_tail != line_head) {
            char l[sizeof(lines[0])];
            memcpy(l, lines[line_tail % LOG_LINES], sizeof(l));
            line_tail++;
            minios_events_restore(f);
            dlog("d%u %s", target, l);
            if (exit_on[0] && strstr(l, exit_on)) {
                dlog("selftest: \"%s\" seen: powering off", exit_on);
                minios_shutdown(SHUTDOWN_poweroff);
            }
            f = minios_events_save();
        }
        minios_events_restore(f);
        if (unplug_asked) {
            unplug_asked = false;
            dlog("d%u unplugs emulated devices %#x (PV drivers: product %u, build %u)%s", target,
                 unplug_mask, pv_product, pv_build,
                 (unplug_mask & 1) ? ": the IDE disk is gone" : "");
            static bool told;
            if ((unplug_mask & 1) && disk_from[0] && !told && (told = true))
                dlog("IDE: %lu sectors read, %lu written, %lu I/O errors from %s before the "
                     "unplug", ide_read_n, ide_written_n, ide_errors_n, disk_from);
        }
        if (s5_asked) {
            s5_asked = false;
            dlog("d%u powers off through ACPI (PM1a_CNT, S5): remote_shutdown(poweroff) %ld",
                 target, s5_rc);
        }
        if (reset_asked) {
            reset_asked = false;
            dlog("d%u reset through 0xcf9: remote_shutdown(reboot) %ld", target, reset_rc);
        }
        if (!target_alive())
            break;
    }
    dlog("d%u is gone: %lu lines dropped, %lu requests refused, %lu bad UART accesses, "
         "%lu bad PCI config accesses, %lu IRQ4 changes, %lu sleep states refused", target,
         lines_dropped, stats.refused, com1.bad + mmio_uart.bad, pci.bad, irq_changes,
         sleep_refused);
    dlog("d%u: %lu requests by pointer (%lu stopped at memory it could not map), "
         "%lu guest pages mapped", target, stats.by_ptr, stats.ptr_bad, mapc_maps);
    if (ide_present(&ide))
        dlog("IDE: %lu sectors read, %lu written, %lu bad accesses, %lu I/O errors",
             ide.sectors_read, ide.sectors_written, ide.bad, ide.io_errors);
    return 0;
}
