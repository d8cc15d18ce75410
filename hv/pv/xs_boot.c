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
#include <xen/xen.h>

static start_info_t *start_info_of(struct domain *d)
{
    if (d->arch.type != GUEST_PV)   /* PVH: no store connection yet (docs/hvm.md) */
        return NULL;
    return d->arch.pv.si_mfn ? pfn_to_virt(d->arch.pv.si_mfn) : NULL;
}

/* Undoes xs_wire (before d ever ran). */
void xs_unwire(struct domain *d)
{
    start_info_t *si = start_info_of(d);
    if (!si)
        return;
    if (si->store_evtchn)
        evtchn_close_port(d, si->store_evtchn);
    if (si->console.domU.evtchn)
        evtchn_close_port(d, si->console.domU.evtchn);
    si->store_evtchn = 0;
    si->console.domU.evtchn = 0;
    grant_table_unseed(d);
}

/* Offers d's store and console rings to the xenstore domain xs: two
 * unbound ports whose remote is xs (start_info's store_evtchn and
 * console.domU.evtchn), and grant entries 0 and 1.  0, or -1 with the
 * reason in err (and nothing left behind). */
int xs_wire(struct domain *d, struct domain *xs, char *err, size_t errlen)
{
    start_info_t *si = start_info_of(d);
    if (!si)
        return snprintf(err, errlen, "d%u has no start_info", d->id), -1;
    long store = evtchn_alloc_unbound_port(d, xs->id);
    long console = store < 0 ? store : evtchn_alloc_unbound_port(d, xs->id);
    if (store > 0)
        si->store_evtchn = (uint32_t)store;
    if (console > 0)
        si->console.domU.evtchn = (uint32_t)console;
    if (store < 0 || console < 0) {
        xs_unwire(d);
        return snprintf(err, errlen, "no event channel for d%u (%ld)", d->id,
                        store < 0 ? store : console), -1;
    }
    if (grant_table_seed(d, xs->id, si->console.domU.mfn, si->store_mfn)) {
        xs_unwire(d);
        return snprintf(err, errlen, "cannot seed the grant table of d%u", d->id), -1;
    }
    return 0;
}

bool xs_wired(struct domain *d)
{
    start_info_t *si = start_info_of(d);
    return si && si->store_evtchn;
}

/* The network words of a guest's command line (vif=, mac=, fw=;
 * docs/network.md), appended to its line as " vif=... mac=... fw=...",
 * each once (the first), at most 160 bytes, printable ASCII only: the
 * xenstore domain checks their syntax. */
static size_t net_words(struct domain *d, const start_info_t *si, char *out, size_t size)
{
    static const char *const keys[] = { "vif=", "mac=", "fw=" };
    size_t len = 0;
    out[0] = 0;
    for (unsigned k = 0; k < ARRAY_SIZE(keys); k++) {
        size_t kl = strlen(keys[k]);
        const char *p = (const char *)si->cmd_line;
        const char *end = p + strnlen(p, sizeof(si->cmd_line));
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
    net_words(d, si, net, sizeof(net));
    int n = snprintf(buf, size, "domain %u name=%s mem_kb=%lu vcpus=%u store_mfn=%lu "
                     "store_port=%u console_mfn=%lu console_port=%u roles=%s restart=%s",
                     d->id, d->name, (unsigned long)(d->max_pages * (PAGE_SIZE / 1024)),
                     d->nr_vcpus, (unsigned long)si->store_mfn, si->store_evtchn,
                     (unsigned long)si->console.domU.mfn, si->console.domU.evtchn,
                     rl ? roles : "-", restart[d->restart]);
    n += list_disks(d, buf + MIN((size_t)n, size), size - MIN((size_t)n, size));
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
