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
#include <minios/console.h>
#include <minios/events.h>
#include <minios/mm.h>
#include <minios/sched.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <xen/domctl.h>
#include <xen/memory.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/hvm_op.h>
#include "uart.h"
#include "pci.h"
#include "fwcfg.h"
#include "ide.h"
#include <minios/startinfo.h>

#define COM1 0x3f8
#define DEBUGCON 0x402                  /* QEMU's isa-debugcon, SeaBIOS's debug port */
#define MAX_VCPUS 128                   /* one ioreq page */
#define LOG_LINES 32

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
static struct ide ide;                    /* the primary channel: a disk if we have a ramdisk */
static unsigned long boot_fail_wait = 60000;   /* ms, as SeaBIOS's default */
static bool com1_access, com1_line, irq_offered = true;
static unsigned long irq_changes;
static bool reset_asked;
static long reset_rc;
static unsigned long answered, refused, crash_after;
static char exit_on[64];                  /* selftest=exit-on:TEXT ('_' for spaces) */

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

/* One request, as QEMU's cpu_ioreq_pio and cpu_ioreq_move: a port access
 * of 1, 2 or 4 bytes, or an MMIO one of 1 to 8, inside a device; anything
 * else (another type, data by pointer, a count, a range we did not claim)
 * is refused (a read gets all ones) and counted, and the server goes on. */
static void serve(ioreq_t *p)
{
    bool read = p->dir == IOREQ_READ;
    struct uart *u = NULL;
    uint64_t base = 0;
    if (p->data_is_ptr || p->count != 1 || !p->size || p->size > 8 ||
        (p->size & (p->size - 1)))
        u = NULL;
    else if (p->type == IOREQ_TYPE_PIO && p->size <= 4 && p->addr >= COM1 &&
             p->addr + p->size - 1 <= COM1 + 7)
        u = &com1, base = COM1;
    else if (p->type == IOREQ_TYPE_COPY && mmio_base && p->addr >= mmio_base &&
             p->addr + p->size - 1 <= mmio_base + 7)
        u = &mmio_uart, base = mmio_base;
    if (!u && !p->data_is_ptr && p->count == 1 && p->type == IOREQ_TYPE_PIO &&
        p->addr == DEBUGCON && p->size == 1) {
        if (read)                        /* QEMU's debugcon reads back 0xe9 */
            p->data = 0xe9;
        else
            uart_write(&debugcon, 0, 1, (uint32_t)p->data);
        return;
    }
    if (!u && !p->data_is_ptr && p->count == 1 && p->type == IOREQ_TYPE_PIO &&
        ((p->addr >= 0x1f0 && p->addr <= 0x1f7) || p->addr == 0x3f6)) {
        unsigned off = (unsigned)(p->addr - 0x1f0);
        if (read)
            p->data = ide_read(&ide, off, p->size);
        else
            ide_write(&ide, off, p->size, (uint32_t)p->data);
        return;
    }
    if (!u && !p->data_is_ptr && p->count == 1 && p->type == IOREQ_TYPE_PIO &&
        (p->addr == 0x510 || p->addr == 0x511)) {
        if (read)
            p->data = fwcfg_read(&fwcfg, (unsigned)p->addr, p->size);
        else
            fwcfg_write(&fwcfg, (unsigned)p->addr, p->size, (uint32_t)p->data);
        return;
    }
    if (!u && !p->data_is_ptr && p->count == 1 && p->type == IOREQ_TYPE_PIO &&
        p->addr == 0xcf9 && p->size == 1) {
        /* The PIIX3's reset control register: a reset (bit 2) reboots
         * the guest, as QEMU asks Xen with DMOP_remote_shutdown. */
        if (read)
            p->data = rcr;
        else {
            rcr = (uint8_t)p->data & 0x0e;
            if (p->data & 4) {
                struct xen_dm_op sd = { .op = XEN_DMOP_remote_shutdown };
                sd.u.remote_shutdown.reason = SHUTDOWN_reboot;
                reset_rc = dm_op(&sd, sizeof(sd));
                reset_asked = true;
            }
        }
        return;
    }
    if (!u && !p->data_is_ptr && p->count == 1 && p->type == IOREQ_TYPE_PIO &&
        p->addr == 0xcf8 && p->size == 4) {
        if (read)                        /* configuration mechanism #1's address */
            p->data = pci_cf8;
        else
            pci_cf8 = (uint32_t)p->data & 0x80fffffcu;
        return;
    }
    if (!u && !p->data_is_ptr && p->count == 1 && p->type == IOREQ_TYPE_PCI_CONFIG) {
        uint32_t sbdf = (uint32_t)(p->addr >> 32);
        unsigned reg = (unsigned)(p->addr & 0xfff);
        if (read)
            p->data = pci_cfg_read(&pci, sbdf, reg, p->size);
        else
            pci_cfg_write(&pci, sbdf, reg, p->size, (uint32_t)p->data);
        return;
    }
    if (!u) {
        refused++;
        if (read)
            p->data = ~0ULL;
        return;
    }
    unsigned off = (unsigned)(p->addr - base);
    if (u == &com1)
        com1_access = true;
    if (read && p->size == 8) {
        u->bad++;                        /* wider than any register */
        p->data = ~0ULL;
    } else if (read)
        p->data = uart_read(u, off, p->size);
    else
        uart_write(u, off, p->size, (uint32_t)p->data);
}

static void on_ioreq(evtchn_port_t port, void *data)
{
    (void)port;
    unsigned i = (unsigned)(uintptr_t)data;
    ioreq_t *p = &iopage->vcpu_ioreq[i];
    if (__atomic_load_n((uint8_t *)p + 30, __ATOMIC_ACQUIRE) % 16 != STATE_IOREQ_READY)
        return;
    p->state = STATE_IOREQ_INPROCESS;
    com1_access = false;
    serve(p);
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

static int setup(void)
{
    struct xen_domctl dc;
    long rc = domctl(XEN_DOMCTL_getdomaininfo, &dc);
    if (rc) {
        dlog("target d%u: getdomaininfo: %ld", target, rc);
        return -1;
    }
    nr_vcpus = dc.u.getdomaininfo.max_vcpu_id + 1;
    fwcfg_init(&fwcfg, (uint64_t)dc.u.getdomaininfo.max_pages << 12, nr_vcpus,
               (uint32_t)boot_fail_wait);
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
    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_map_io_range_to_ioreq_server;
    op.u.map_io_range_to_ioreq_server = (struct xen_dm_op_ioreq_server_range){
        .id = server, .type = XEN_DMOP_IO_RANGE_PORT, .start = COM1, .end = COM1 + 7 };
    if ((rc = dm_op(&op, sizeof(op)))) {
        dlog("map_io_range 0x%x-0x%x: %ld", COM1, COM1 + 7, rc);
        return -1;
    }
    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_map_io_range_to_ioreq_server;
    op.u.map_io_range_to_ioreq_server = (struct xen_dm_op_ioreq_server_range){
        .id = server, .type = XEN_DMOP_IO_RANGE_PORT, .start = DEBUGCON, .end = DEBUGCON };
    if ((rc = dm_op(&op, sizeof(op)))) {
        dlog("map_io_range 0x%x: %ld", DEBUGCON, rc);
        return -1;
    }
    op.u.map_io_range_to_ioreq_server = (struct xen_dm_op_ioreq_server_range){
        .id = server, .type = XEN_DMOP_IO_RANGE_PORT, .start = 0x510, .end = 0x511 };
    if ((rc = dm_op(&op, sizeof(op)))) {
        dlog("map_io_range 0x510: %ld", rc);
        return -1;
    }
    /* The PCI host: the config address port, and the functions' SBDFs
     * (config cycles come as IOREQ_TYPE_PCI_CONFIG). */
    pci_bus_init_i440fx(&pci);
    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_map_io_range_to_ioreq_server;
    op.u.map_io_range_to_ioreq_server = (struct xen_dm_op_ioreq_server_range){
        .id = server, .type = XEN_DMOP_IO_RANGE_PORT, .start = 0xcf8, .end = 0xcfb };
    /* (0xcf9, inside it: the reset control register, 1-byte accesses) */
    if ((rc = dm_op(&op, sizeof(op)))) {
        dlog("map_io_range 0xcf8: %ld", rc);
        return -1;
    }
    op.u.map_io_range_to_ioreq_server = (struct xen_dm_op_ioreq_server_range){
        .id = server, .type = XEN_DMOP_IO_RANGE_PCI, .start = XEN_DMOP_PCI_SBDF(0, 0, 0, 0),
        .end = XEN_DMOP_PCI_SBDF(0, 0, 1, 1) };
    if ((rc = dm_op(&op, sizeof(op)))) {
        dlog("map_io_range PCI 00:00.0-00:01.1: %ld", rc);
        return -1;
    }
    /* The IDE primary channel: its command block and control port; the
     * disk is our ramdisk module, if we have one. */
    const start_info_t *si = minios_start_info;
    if (si->mod_start && si->mod_len >= 512)
        ide_init(&ide, (uint8_t *)si->mod_start, si->mod_len, false);
    else
        ide_init(&ide, NULL, 0, true);
    op.u.map_io_range_to_ioreq_server = (struct xen_dm_op_ioreq_server_range){
        .id = server, .type = XEN_DMOP_IO_RANGE_PORT, .start = 0x1f0, .end = 0x1f7 };
    long rc2 = dm_op(&op, sizeof(op));
    op.u.map_io_range_to_ioreq_server = (struct xen_dm_op_ioreq_server_range){
        .id = server, .type = XEN_DMOP_IO_RANGE_PORT, .start = 0x3f6, .end = 0x3f6 };
    if (rc2 || (rc2 = dm_op(&op, sizeof(op)))) {
        dlog("map_io_range IDE: %ld", rc2);
        return -1;
    }
    if (ide.disk)
        dlog("IDE primary master: %lu sectors from the ramdisk module",
             (unsigned long)ide.sectors);
    if (mmio_base) {
        memset(&op, 0, sizeof(op));
        op.op = XEN_DMOP_map_io_range_to_ioreq_server;
        op.u.map_io_range_to_ioreq_server = (struct xen_dm_op_ioreq_server_range){
            .id = server, .type = XEN_DMOP_IO_RANGE_MEMORY, .start = mmio_base,
            .end = mmio_base + 7 };
        if ((rc = dm_op(&op, sizeof(op)))) {
            dlog("map_io_range MMIO %lx: %ld", (unsigned long)mmio_base, rc);
            return -1;
        }
    }
    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_set_ioreq_server_state;
    op.u.set_ioreq_server_state.id = server;
    op.u.set_ioreq_server_state.enabled = 1;
    if ((rc = dm_op(&op, sizeof(op)))) {
        dlog("set_ioreq_server_state: %ld", rc);
        return -1;
    }
    rc = domctl(XEN_DOMCTL_unpausedomain, &dc);
    dlog("serving d%u: ioreq server %u, %u vCPU(s), COM1 at 0x%x%s", target, server,
         nr_vcpus, COM1, rc ? " (it was not held)" : "");
    if (mmio_base)
        dlog("a 16550A at MMIO %lx", (unsigned long)mmio_base);
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
        if (reset_asked) {
            reset_asked = false;
            dlog("d%u reset through 0xcf9: remote_shutdown(reboot) %ld", target, reset_rc);
        }
        if (!target_alive())
            break;
    }
    dlog("d%u is gone: %lu lines dropped, %lu requests refused, %lu bad UART accesses, "
         "%lu bad PCI config accesses, %lu IRQ4 changes", target, lines_dropped, refused,
         com1.bad + mmio_uart.bad, pci.bad, irq_changes);
    if (ide.disk)
        dlog("IDE: %lu sectors read, %lu written, %lu bad accesses", ide.sectors_read,
             ide.sectors_written, ide.bad);
    return 0;
}
