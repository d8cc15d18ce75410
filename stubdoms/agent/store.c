/* store.c: the xenstore introduction of the domains VM.start builds, as
 * libxl makes it (libxl__domain_make, libxl__build_post,
 * xs_introduce_domain): the domain's nodes under /local/domain/<domid>
 * and /vm/<uuid> with libxl's permissions, then XS_INTRODUCE over the
 * agent's own (privileged) store connection; and, once such a domain is
 * dying or gone, XS_RELEASE and its nodes removed (libxl's
 * domain_destroy_domid_cb).  The agent is the toolstack, so it owns the
 * nodes libxl gives to dom0.  docs/agent.md, "The store introduction". */
#include "ctl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/xenbus.h>
#include <xen/io/xs_wire.h>
#include "agent.h"
#include "build.h"
#include "store.h"
#include "devices_xs.h"

/* The xenstore domain (XEN_DOMINF_xs_domain), or -1 if there is none. */
int store_domid(void)
{
    static xen_domctl_getdomaininfo_t b[16];
    domid_t first = 0;
    for (;;) {
        struct xen_sysctl op;
        sysctl_init(&op, XEN_SYSCTL_getdomaininfolist);
        op.u.getdomaininfolist.first_domain = first;
        op.u.getdomaininfolist.max_domains = 16;
        set_xen_guest_handle(op.u.getdomaininfolist.buffer, b);
        if (do_sysctl(&op))
            return -1;
        uint32_t got = op.u.getdomaininfolist.num_domains;
        if (got == 0 || got > 16)
            return -1;
        for (uint32_t i = 0; i < got; i++)
            if ((b[i].flags & XEN_DOMINF_xs_domain) && !(b[i].flags & XEN_DOMINF_dying))
                return b[i].domain;
        if (got < 16)
            return -1;
        first = (domid_t)(b[got - 1].domain + 1);
    }
}

/* The domains introduced here, until their end is noticed. */
#define TRACKED 256
static struct { int used; uint32_t domid; char vm[48]; } tracked[TRACKED];

static int xs_perms(const char *path, uint32_t owner, int read_dom)
{
    char o[16], r[16];
    snprintf(o, sizeof(o), "n%u", owner);
    snprintf(r, sizeof(r), "r%d", read_dom);
    const char *p[2] = { o, r };
    return minios_xs_set_perms(MINIOS_XBT_NIL, path, p, read_dom >= 0 ? 2 : 1);
}

/* A node with a value, or a directory (value NULL), created with perms:
 * owner and, if read_dom >= 0, read access for read_dom. */
static int node(const char *base, const char *rel, const char *value, uint32_t owner,
                int read_dom)
{
    char path[128];
    snprintf(path, sizeof(path), "%s%s%s", base, *rel ? "/" : "", rel);
    int rc = value ? minios_xs_write(MINIOS_XBT_NIL, path, value)
                   : minios_xs_mkdir(MINIOS_XBT_NIL, path);
    if (rc == 0)
        rc = xs_perms(path, owner, read_dom);
    return rc;
}

/* Removes both trees; 1 if neither is left (read back), 0 if not. */
static int remove_nodes(uint32_t domid, const char *vm)
{
    char path[64], *v = NULL;
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    minios_xs_rm(MINIOS_XBT_NIL, path);
    minios_xs_rm(MINIOS_XBT_NIL, vm);
    int gone = minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL) == -ENOENT;
    free(v);
    v = NULL;
    gone = gone && minios_xs_read(MINIOS_XBT_NIL, vm, &v, NULL) == -ENOENT;
    free(v);
    return gone;
}

static int request(unsigned type, const char *body, size_t len)
{
    char *reply = NULL;
    size_t rlen = 0;
    int rc = minios_xs_request(MINIOS_XBT_NIL, type, body, len, &reply, &rlen);
    free(reply);
    return rc;
}

static int track(uint32_t domid, const char *vm)
{
    for (unsigned i = 0; i < TRACKED; i++)
        if (tracked[i].used && tracked[i].domid == domid)
            return 0;
    for (unsigned i = 0; i < TRACKED; i++)
        if (!tracked[i].used) {
            tracked[i].used = 1;
            tracked[i].domid = domid;
            snprintf(tracked[i].vm, sizeof(tracked[i].vm), "%s", vm);
            return 0;
        }
    return -1;
}

int store_introduce(uint32_t self, const struct agent_vmdef *vm, const struct build_out *o,
                    char *err, size_t errlen)
{
    const uint8_t *u = vm->uuid;
    char uuid[37], vmp[48], dom[32], v[64];
    snprintf(uuid, sizeof(uuid),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
    snprintf(vmp, sizeof(vmp), "/vm/%s", uuid);
    snprintf(dom, sizeof(dom), "/local/domain/%u", o->domid);
    int d = (int)o->domid, rc = 0;
    const char *what = dom;
    /* libxl's roperm (the toolstack owns, the domain reads) and rwperm
     * (the domain owns: only it and privileged connections see it). */
#define RO(rel, val) if (!rc) rc = node(dom, rel, val, self, d), what = rel
#define RW(rel, val) if (!rc) rc = node(dom, rel, val, o->domid, -1), what = rel
    if (!(rc = node(vmp, "", NULL, self, d)))
        rc = node(vmp, "uuid", uuid, self, d);
    if (!rc)
        rc = node(vmp, "name", vm->name, self, d);
    RO("", NULL);
    RO("vm", vmp);
    RO("name", vm->name);
    snprintf(v, sizeof(v), "%u", o->domid);
    RO("domid", v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)(vm->mem_bytes >> 10));
    RO("memory", NULL);
    RO("memory/static-max", v);
    RO("memory/target", v);
    RO("cpu", NULL);
    for (unsigned i = 0; i < vm->vcpus && !rc; i++) {
        char c[32];
        snprintf(c, sizeof(c), "cpu/%u/availability", i);
        RO(c, "online");
    }
    RO("device", NULL);
    RO("control", NULL);
    RW("control/shutdown", "");
    RW("control/feature-poweroff", "");
    RW("control/feature-reboot", "");
    RW("control/sysrq", "");
    RW("data", NULL);
    RW("drivers", NULL);
    RW("feature", NULL);
    RW("attr", NULL);
    RW("error", NULL);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)o->store_mfn);
    RO("store", NULL);
    RO("store/ring-ref", v);
    snprintf(v, sizeof(v), "%u", o->store_port);
    RO("store/port", v);
    /* The console: the xenstore stub serves it once introduced. */
    snprintf(v, sizeof(v), "%llu", (unsigned long long)o->console_mfn);
    RO("console", NULL);
    RO("console/ring-ref", v);
    RO("console/mfn", v);
    snprintf(v, sizeof(v), "%u", o->console_port);
    RO("console/port", v);
    RO("console/type", "xenconsoled");
#undef RO
#undef RW
    if (rc) {
        snprintf(err, errlen, "writing %s%s%s in the store: errno %d", dom, *what ? "/" : "", what,
                 -rc);
        remove_nodes(o->domid, vmp);
        return -1;
    }
    char body[64];
    int n = snprintf(body, sizeof(body), "%u%c%llu%c%u", o->domid, 0,
                     (unsigned long long)o->store_mfn, 0, o->store_port);
    rc = request(XS_INTRODUCE, body, (size_t)n + 1);
    if (rc) {
        snprintf(err, errlen, "XS_INTRODUCE of d%u: errno %d", o->domid, -rc);
        remove_nodes(o->domid, vmp);
        return -1;
    }
    if (track(o->domid, vmp))
        printf("agent: d%u: more than %u introduced domains: its nodes will stay when it goes\n",
               o->domid, TRACKED);
    printf("agent: d%u introduced to the store (ring mfn %llu, port %u)\n", o->domid,
           (unsigned long long)o->store_mfn, o->store_port);
    return 0;
}

void store_adopt(uint32_t self)
{
    char **names = NULL;
    unsigned n = 0;
    if (minios_xs_directory(MINIOS_XBT_NIL, "/local/domain", &names, &n))
        return;
    for (unsigned i = 0; i < n; i++) {
        char *end, path[64], *vm = NULL;
        unsigned long id = strtoul(names[i], &end, 10);
        if (*end || id >= 0x7ff0 || id == self)
            continue;
        /* Only the trees the agent wrote: they name a /vm/ path (the
         * xenstore stub writes none for boot domains).  Their owner is
         * no help: the store gave the dead agent's nodes to domain 0. */
        snprintf(path, sizeof(path), "/local/domain/%lu/vm", id);
        if (!minios_xs_read(MINIOS_XBT_NIL, path, &vm, NULL) && !strncmp(vm, "/vm/", 4) &&
            strlen(vm) < 48 && !track((uint32_t)id, vm))
            printf("agent: d%lu's store nodes (written before a restart) are followed again\n", id);
        free(vm);
    }
    free(names);
}

void store_reap(void)
{
    for (unsigned i = 0; i < TRACKED; i++) {
        if (!tracked[i].used)
            continue;
        uint32_t domid = tracked[i].domid;
        struct xen_domctl_getdomaininfo gi;
        if (!getdomaininfo((domid_t)domid, &gi) && gi.domain == domid &&
            !(gi.flags & XEN_DOMINF_dying))
            continue;
        char vm[48];
        memcpy(vm, tracked[i].vm, sizeof(vm));
        tracked[i].used = 0;   /* before the calls, which let other threads run */
        char body[16];
        int n = snprintf(body, sizeof(body), "%u", domid);
        int rc = request(XS_RELEASE, body, (size_t)n + 1);
        /* Its backend directories first (devices_xs.c): the backends
         * then see their directory go, not the frontend's. */
        devices_xs_remove(domid);
        int gone = remove_nodes(domid, vm);
        printf("agent: d%u is gone: released from the store (%s), %s\n", domid,
               rc == 0 ? "done" : rc == -ENOENT ? "already" : "failed",
               gone ? "its nodes removed" : "its nodes could not all be removed");
    }
}
