/* The hypervisor console: timestamped printk, panic, and guest output
 * (console_io) prefixed with the domain's name (except the xenstore
 * domain's, which names its lines itself), rate-limited for guests
 * without a role. */
#include "lib.h"
#include "spinlock.h"
#include "time.h"
#include "x86.h"
#include "domain.h"
#include "xsm.h"
#include "hypercall.h"
#include <xen/xen.h>

void serial_putc(char c);

static spinlock_t console_lock = SPINLOCK_INIT("console", LOCK_ORDER_CONSOLE);

void console_puts_raw(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            serial_putc('\r');
        serial_putc(s[i]);
    }
}

/* ---- The console ring (XEN_SYSCTL_readconsole in sysctl.c): the
 * hypervisor's own output, as printed, with Xen's free-running producer
 * and consumer indexes (conringp, conringc). */
#define CONRING_SIZE (16 * 1024)   /* a power of two */
static char conring[CONRING_SIZE];
static uint32_t conringp, conringc;

static void conring_put(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        conring[conringp++ & (CONRING_SIZE - 1)] = s[i];
    if (conringp - conringc > CONRING_SIZE)
        __atomic_store_n(&conringc, conringp - CONRING_SIZE, __ATOMIC_RELEASE);
}

const char *console_ring(uint32_t *size, uint32_t *c, uint32_t *p)
{
    *size = CONRING_SIZE;
    *c = __atomic_load_n(&conringc, __ATOMIC_ACQUIRE);
    *p = __atomic_load_n(&conringp, __ATOMIC_ACQUIRE);
    return conring;
}

/* readconsole's clear: consume up to c (as Xen, never past the ring). */
void console_ring_clear(uint32_t c)
{
    unsigned long f = irq_save();
    spin_lock(&console_lock);
    conringc = conringp - c > CONRING_SIZE ? conringp - CONRING_SIZE : c;
    spin_unlock(&console_lock);
    irq_restore(f);
}
/* ---- end of the console ring */

static void put_stamp(bool ring)
{
    char b[32];
    uint64_t ns = now_ns();
    int n = snprintf(b, sizeof(b), "[%5lu.%06lu] ", (unsigned long)(ns / 1000000000),
                     (unsigned long)(ns / 1000 % 1000000));
    console_puts_raw(b, (size_t)n);
    if (ring)
        conring_put(b, (size_t)n);
}

static bool at_line_start = true;

static void vprintk_locked(const char *fmt, va_list ap)
{
    char buf[512];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    if (n >= (int)sizeof(buf))
        n = sizeof(buf) - 1;
    for (int i = 0; i < n; i++) {
        if (at_line_start) {
            put_stamp(true);
            at_line_start = false;
        }
        console_puts_raw(&buf[i], 1);
        conring_put(&buf[i], 1);
        if (buf[i] == '\n')
            at_line_start = true;
    }
}

void printk(const char *fmt, ...)
{
    va_list ap;
    unsigned long f = irq_save();
    spin_lock(&console_lock);
    va_start(ap, fmt);
    vprintk_locked(fmt, ap);
    va_end(ap);
    spin_unlock(&console_lock);
    irq_restore(f);
}

/* One guest line: "[time] (name) text".  The xenstore domain is the
 * console backend: its lines arrive named already ("(name) text", its
 * own as "(xenstore) text") and are printed as they are. */
static void guest_line(struct domain *d, const char *s, size_t n)
{
    if (!at_line_start)
        console_puts_raw("\n", 1);
    put_stamp(false);
    if (!(d->roles & ROLE_XENSTORE)) {
        console_puts_raw("(", 1);
        console_puts_raw(d->name, strlen(d->name));
        console_puts_raw(") ", 2);
    }
    console_puts_raw(s, n);
    console_puts_raw("\n", 1);
    at_line_start = true;
}

static void guest_flush(struct domain *d)
{
    if (d->con_len) {
        guest_line(d, d->con_buf, d->con_len);
        d->con_len = 0;
    }
}

static void guest_putc(struct domain *d, char c)
{
    if (c == '\n') {
        guest_line(d, d->con_buf, d->con_len);
        d->con_len = 0;
        return;
    }
    if (c == '\r' || c == 0)
        return;
    if ((unsigned char)c < 0x20 && c != '\t')
        c = '?';                 /* no escape sequences from guests */
    if (d->con_len == sizeof(d->con_buf))
        guest_flush(d);
    d->con_buf[d->con_len++] = c;
}

void console_flush_domain(struct domain *d)
{
    unsigned long f = irq_save();
    spin_lock(&console_lock);
    guest_flush(d);
    spin_unlock(&console_lock);
    irq_restore(f);
}

/* Token bucket: CONSOLE_BURST bytes, refilled at CONSOLE_RATE bytes/s.
 * Bulk output belongs on the console ring; console_io is for debugging. */
#define CONSOLE_RATE  (16 * 1024)

static uint64_t console_allow(struct domain *d, uint64_t want)
{
    if (d->roles)
        return want;
    uint64_t now = now_ns();
    uint64_t add = (now - d->con_refill_ns) * CONSOLE_RATE / 1000000000ULL;
    if (add) {
        d->con_tokens = MIN(d->con_tokens + add, (uint64_t)CONSOLE_BURST);
        d->con_refill_ns = now;
    }
    uint64_t n = MIN(want, d->con_tokens);
    d->con_tokens -= n;
    return n;
}

long do_console_io(unsigned long cmd, unsigned long count, unsigned long buf,
                   unsigned long a4, unsigned long a5)
{
    (void)a4, (void)a5;
    struct domain *d = current_domain();
    /* Xen's dummy XSM lets no domain but a privileged one (on x86 none is
     * is_console) use console_io; Keel lets every domain write, as a Xen
     * built with CONFIG_VERBOSE_DEBUG does, and keeps the rest, reads and
     * unknown commands, to the control role: -EPERM as Xen's domU gets. */
    if (cmd != CONSOLEIO_write) {
        long rc = xsm_default_action(XSM_PRIV, d, NULL);
        if (rc)
            return rc;
    }
    switch (cmd) {
    case CONSOLEIO_write: {
        if (count > 0xffffffffUL)
            return -XEN_EINVAL;
        if (!guest_range_ok(buf, count))
            return -XEN_EFAULT;
        unsigned long fl = irq_save();
        spin_lock(&console_lock);    /* d's buffer and tokens: any of its vCPUs */
        uint64_t allowed = console_allow(d, count);
        spin_unlock(&console_lock);
        irq_restore(fl);
        char chunk[256];
        for (uint64_t off = 0; off < allowed; ) {
            size_t n = (size_t)MIN(allowed - off, sizeof(chunk));
            if (copy_from_guest(chunk, buf + off, n))
                return -XEN_EFAULT;
            unsigned long f = irq_save();
            spin_lock(&console_lock);
            for (size_t i = 0; i < n; i++)
                guest_putc(d, chunk[i]);
            spin_unlock(&console_lock);
            irq_restore(f);
            off += n;
        }
        if (allowed < count) {
            /* Drop the rest, and the partial line, so lines stay whole. */
            unsigned long f = irq_save();
            spin_lock(&console_lock);
            d->con_dropped += count - allowed + d->con_len;
            d->con_len = 0;
            spin_unlock(&console_lock);
            irq_restore(f);
            if (!__atomic_exchange_n(&d->con_drop_noted, true, __ATOMIC_RELAXED)) {
                printk("d%u (%s): console output rate-limited, dropping\n",
                       d->id, d->name);
            }
        }
        return 0;
    }
    case CONSOLEIO_read:
        return 0;                /* no input to guests yet */
    default:
        return -XEN_ENOSYS;
    }
}

/* The debug port of an HVM/PVH guest (hv/hvm/hvm.c, Xen's hvm_print_line):
 * one line of it, charged to the same token bucket as console_io; false
 * if it was dropped. */
bool console_guest_line_allowed(struct domain *d, size_t n)
{
    unsigned long f = irq_save();
    spin_lock(&console_lock);
    uint64_t allowed = console_allow(d, n);
    bool ok = allowed == n;
    if (!ok)
        d->con_dropped += n;
    spin_unlock(&console_lock);
    irq_restore(f);
    return ok;
}

void console_unlock_for_panic(void)
{
    spin_lock_break(&console_lock);
}

noreturn void panic(const char *fmt, ...)
{
    va_list ap;
    cli();
    spin_lock_break(&console_lock);   /* a fault inside printk must still report */
    printk("*** PANIC: ");
    va_start(ap, fmt);
    vprintk_locked(fmt, ap);
    va_end(ap);
    printk("\n");
    hv_exit(EXIT_PANIC);
}
