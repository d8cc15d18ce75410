/* Connecting the boot domains to the xenstore domain, as Xen's toolstack
 * (libxc's domain builder and init-dom0less) connects a new domain: store
 * and console event channels offered to the xenstore domain, the
 * reserved grant entries seeded, and the list of boot domains that the
 * xenstore domain receives as its boot module (docs/boot-config.md). */
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "event.h"
#include "grant.h"
#include "pv.h"
#include "xsm.h"
#include <xen/xen.h>
#include <xen/hvm/params.h>

static start_info_t *start_info_of(struct domain *d)
{
    if (d->arch.type != GUEST_PV)
        return NULL;
    return d->arch.pv.si_mfn ? pfn_to_virt(d->arch.pv.si_mfn) : NULL;
}

/* Where d's rings and their ports are: start_info for PV; for PVH the
 * HVM params the builder set (the frames are guest frames, as a
 * translated guest's grants and xenstore introduction name them). */
struct rings {
    uint64_t store, console;
    uint32_t store_port, console_port;
};

static bool rings_of(struct domain *d, struct rings *r)
{
    if (d->arch.type == GUEST_PVH) {
        const uint64_t *p = d->arch.hvm.params;
        r->store = p[HVM_PARAM_STORE_PFN];
        r->console = p[HVM_PARAM_CONSOLE_PFN];
        r->store_port = (uint32_t)p[HVM_PARAM_STORE_EVTCHN];
        r->console_port = (uint32_t)p[HVM_PARAM_CONSOLE_EVTCHN];
        return r->store && r->console;
    }
    start_info_t *si = start_info_of(d);
    if (!si)
        return false;
    r->store = si->store_mfn;
    r->console = si->console.domU.mfn;
    r->store_port = si->store_evtchn;
    r->console_port = si->console.domU.evtchn;
    return true;
}

static void set_ports(struct domain *d, uint32_t store, uint32_t console)
{
    if (d->arch.type == GUEST_PVH) {
        __atomic_store_n(&d->arch.hvm.params[HVM_PARAM_STORE_EVTCHN], store, __ATOMIC_RELEASE);
        __atomic_store_n(&d->arch.hvm.params[HVM_PARAM_CONSOLE_EVTCHN], console,
                         __ATOMIC_RELEASE);
        return;
    }
    start_info_t *si = start_info_of(d);
    si->store_evtchn = store;
    si->console.domU.evtchn = console;
}

/* Undoes xs_wire (before d ever ran). */
void xs_unwire(struct domain *d)
{
    struct rings r;
    if (!rings_of(d, &r))
        return;
    if (r.store_port)
        evtchn_close_port(d, r.store_port);
    if (r.console_port)
        evtchn_close_port(d, r.console_port);
    set_ports(d, 0, 0);
    grant_table_unseed(d);
}

/* Offers d's store and console rings to the xenstore domain xs: two
 * unbound ports whose remote is xs (start_info's store_evtchn and
 * console.domU.evtchn), and grant entries 0 and 1.  0, or -1 with the
 * reason in err (and nothing left behind). */
int xs_wire(struct domain *d, struct domain *xs, char *err, size_t errlen)
{
    struct rings r;
    if (!rings_of(d, &r))
        return snprintf(err, errlen, "d%u has no store and console rings", d->id), -1;
    long store = evtchn_alloc_unbound_port(d, xs->id);
    long console = store < 0 ? store : evtchn_alloc_unbound_port(d, xs->id);
    set_ports(d, store > 0 ? (uint32_t)store : 0, console > 0 ? (uint32_t)console : 0);
    if (store < 0 || console < 0) {
        xs_unwire(d);
        return snprintf(err, errlen, "no event channel for d%u (%ld)", d->id,
                        store < 0 ? store : console), -1;
    }
    if (grant_table_seed(d, xs->id, r.console, r.store)) {
        xs_unwire(d);
        return snprintf(err, errlen, "cannot seed the grant table of d%u", d->id), -1;
    }
    return 0;
}

bool xs_wired(struct domain *d)
{
    struct rings r;
    return rings_of(d, &r) && r.store_port;
}

/* The network words of a guest's command line (vif=, mac=, fw=;
 * docs/network.md), appended to its line as " vif=... mac=... fw=...",
 * each once (the first), at most 160 bytes, printable ASCII only: the
 * xenstore domain checks their syntax. */
static size_t net_words(struct domain *d, const char *line, size_t max, char *out, size_t size)
{
    static const char *const keys[] = { "vif=", "mac=", "fw=" };
    size_t len = 0;
    out[0] = 0;
    for (unsigned k = 0; k < ARRAY_SIZE(keys); k++) {
        size_t kl = strlen(keys[k]);
        const char *p = line;
        const char *end = p + strnlen(p, max);
        while (p < end) {
            while (p < end && *p == ' ')
                p++;
            const char *w = p;
            while (p < end && *p != ' ')
                p++;
            size_t n = (size_t)(p - w);
            if (n <= kl || memcmp(w, keys[k], kl))
                continue;
            bool ok = n <= 160;
            for (size_t i = 0; ok && i < n; i++)
                ok = w[i] > ' ' && w[i] < 0x7f;
            if (!ok || len + 1 + n >= size) {
                printk("d%u (%s): '%.*s...' left out of the xenstore list: longer than "
                       "160 bytes or not printable\n", d->id, d->name, (int)kl, w);
                break;
            }
            out[len++] = ' ';
            memcpy(out + len, w, n);
            len += n;
            out[len] = 0;
            break;
        }
    }
    return len;
}

/* The disk= words of d's command line (checked by parse_boot_config:
 * at most 4 of at most 210 characters), each with a leading space. */
static int list_disks(struct domain *d, char *buf, size_t size)
{
    int n = 0;
    for (const char *p = d->boot_cmdline; p && *p; ) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        if (p - w > 5 && !memcmp(w, "disk=", 5))
            n += snprintf(buf + MIN((size_t)n, size), size - MIN((size_t)n, size), " %.*s",
                          (int)(p - w), w);
    }
    return n;
}

/* One line of the list, with its "\n": disk= words, then the network's. */
static int list_line(struct domain *d, char *buf, size_t size)
{
    const start_info_t *si = start_info_of(d);
    struct rings r = { 0 };
    rings_of(d, &r);
    char roles[40] = "";
    static const struct { unsigned bit; const char *name; } names[] = {
        { ROLE_CONTROL, "control" }, { ROLE_XENSTORE, "xenstore" },
        { ROLE_HARDWARE, "hardware" }, { ROLE_DM, "dm" },
    };
    size_t rl = 0;
    for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
        if (d->roles & names[i].bit)
            rl += (size_t)snprintf(roles + rl, sizeof(roles) - rl, "%s%s", rl ? "," : "",
                                   names[i].name);
    static const char *const restart[] = { "never", "crash", "always" };
    char net[3 * 162];
    if (si)
        net_words(d, (const char *)si->cmd_line, sizeof(si->cmd_line), net, sizeof(net));
    else
        net_words(d, d->boot_cmdline ? d->boot_cmdline : "", 1024, net, sizeof(net));
    int n = snprintf(buf, size, "domain %u name=%s mem_kb=%lu vcpus=%u store_mfn=%lu "
                     "store_port=%u console_mfn=%lu console_port=%u roles=%s restart=%s",
                     d->id, d->name, (unsigned long)(d->max_pages * (PAGE_SIZE / 1024)),
                     d->nr_vcpus, (unsigned long)r.store, r.store_port,
                     (unsigned long)r.console, r.console_port,
                     rl ? roles : "-", restart[d->restart]);
    /* A device model's disks are its type=hvm target's (as libxl gives a
     * stub domain its guest's disks): it is their frontend for the
     * emulated disk until the guest's PV drivers unplug it. */
    struct domain *t = (d->roles & ROLE_DM) ? xsm_dm_target(d) : NULL;
    bool emul = t && t->arch.type == GUEST_PVH && t->arch.hvm.firmware;
    n += list_disks(emul ? t : d, buf + MIN((size_t)n, size), size - MIN((size_t)n, size));
    return n + snprintf(buf + MIN((size_t)n, size), size - MIN((size_t)n, size), "%s\n", net);
}

/* The xenstore domain's boot module: one line per wired domain, in
 * ascending domid order.  Writes at most size bytes of it to buf (no
 * terminating NUL) and returns its whole length. */
size_t xs_boot_list(char *buf, size_t size)
{
    size_t len = 0;
    for (unsigned id = 1; id < DOMID_FIRST_RESERVED; id++) {
        struct domain *d = domain_by_id(id);
        if (!d || !xs_wired(d))
            continue;
        static char line[1792];      /* boot time, one caller at a time; too big for the stack */
        int n = list_line(d, line, sizeof(line));
        if (n >= (int)sizeof(line))
            panic("xenstore boot list: line of d%u too long", d->id);
        if (len < size)
            memcpy(buf + len, line, MIN((size_t)n, size - len));
        len += (size_t)n;
    }
    return len;
}
