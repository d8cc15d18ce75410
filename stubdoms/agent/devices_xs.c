/* devices_xs.c: the store side of a started VM's devices, as libxl writes
 * them (libxl_device.c's libxl__device_generic_add, libxl_nic.c): for each
 * VIF, the frontend directory /local/domain/<fe>/device/vif/<N> (owned by
 * the domain, readable by the backend) and the backend directory
 * /local/domain/<be>/backend/vif/<fe>/<N> (owned by the backend, readable
 * by the domain), state 1 written last in each; netback (which watches its
 * backend/vif) connects it.  Once the domain has gone, its backend
 * directories are removed (store.c calls devices_xs_remove).  The
 * networks are the netback domains: the backend of the agent's own vif 0,
 * and every domain with a backend/vif directory.  docs/agent-devices.md. */
#include "ctl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include "agent.h"
#include "devices_xs.h"

static int perms(minios_xbt_t t, const char *path, uint32_t owner, uint32_t reader)
{
    char o[16], r[16];
    snprintf(o, sizeof(o), "n%u", owner);
    snprintf(r, sizeof(r), "r%u", reader);
    const char *p[2] = { o, r };
    return minios_xs_set_perms(t, path, p, 2);
}

static int put(minios_xbt_t t, const char *dir, const char *rel, const char *val, uint32_t owner,
               uint32_t reader)
{
    char path[192];
    snprintf(path, sizeof(path), "%s%s%s", dir, rel ? "/" : "", rel ? rel : "");
    int rc = val ? minios_xs_write(t, path, val) : minios_xs_mkdir(t, path);
    return rc ? rc : perms(t, path, owner, reader);
}

static int read_name(uint32_t domid, char out[AGENT_NET_NAME_MAX])
{
    char path[48], *v = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    int rc = minios_xs_read(MINIOS_XBT_NIL, path, &v, &len);
    int ok = rc == 0 && len > 0 && len < AGENT_NET_NAME_MAX && strlen(v) == len;
    for (size_t i = 0; ok && i < len; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
             (v[i] >= '0' && v[i] <= '9') || v[i] == '_' || v[i] == '.' || v[i] == '-';
    if (ok)
        memcpy(out, v, len + 1);
    free(v);
    return ok ? 0 : -1;
}

static int exists(const char *path)
{
    char *v = NULL;
    int rc = minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL);
    free(v);
    return rc == 0;
}

static int add_net(struct agent_net *out, int n, unsigned max, uint32_t domid)
{
    char name[AGENT_NET_NAME_MAX];
    if ((unsigned)n >= max || read_name(domid, name))
        return n;
    for (int i = 0; i < n; i++)
        if (out[i].domid == domid || !strcmp(out[i].name, name))
            return n;
    memcpy(out[n].name, name, sizeof(name));
    out[n].domid = domid;
    return n + 1;
}

int devices_xs_networks(void *ctx, struct agent_net *out, unsigned max)
{
    (void)ctx;
    int n = 0;
    char *v = NULL;
    /* The agent's own network first: the default one. */
    if (minios_xs_read(MINIOS_XBT_NIL, "device/vif/0/backend-id", &v, NULL) == 0) {
        char *end;
        unsigned long id = strtoul(v, &end, 10);
        if (*v && !*end && id < 0x7ff0)
            n = add_net(out, n, max, (uint32_t)id);
    }
    free(v);
    char **names = NULL;
    unsigned cnt = 0;
    if (minios_xs_directory(MINIOS_XBT_NIL, "/local/domain", &names, &cnt))
        return n;
    for (unsigned i = 0; i < cnt; i++) {
        char *end, path[64];
        unsigned long id = strtoul(names[i], &end, 10);
        if (*end || id >= 0x7ff0)
            continue;
        snprintf(path, sizeof(path), "/local/domain/%lu/backend/vif", id);
        if (exists(path))
            n = add_net(out, n, max, (uint32_t)id);
    }
    free(names);
    return n;
}

/* The domain of the network named name now, or -1. */
static long net_domid(const char *name)
{
    struct agent_net nl[AGENT_MAX_NETS];
    int n = devices_xs_networks(NULL, nl, AGENT_MAX_NETS);
    for (int i = 0; i < n; i++)
        if (!strcmp(nl[i].name, name))
            return nl[i].domid;
    return -1;
}

/* One VIF's nodes, written in one transaction as libxl does, so that
 * netback (watching its backend/vif) never sees half a directory. */
struct vifw {
    const struct agent_vif *f;
    uint32_t fe, be;
    const char *what;
};

static int write_vif(minios_xbt_t t, void *arg)
{
    struct vifw *w = arg;
    const struct agent_vif *f = w->f;
    uint32_t fe = w->fe, be = w->be;
    char fdir[96], bdir[96], v[96], dev[12], mtu[12];
    snprintf(fdir, sizeof(fdir), "/local/domain/%u/device/vif/%u", fe, f->device);
    snprintf(bdir, sizeof(bdir), "/local/domain/%u/backend/vif/%u/%u", be, fe, f->device);
    snprintf(dev, sizeof(dev), "%u", f->device);
    snprintf(mtu, sizeof(mtu), "%u", f->mtu);
    int rc = 0;
    /* The backend's parents, its own. */
    snprintf(v, sizeof(v), "/local/domain/%u/backend", be);
    w->what = "the backend's backend/vif";
    if (!exists(v))
        rc = put(t, v, NULL, NULL, be, be);
    snprintf(v, sizeof(v), "/local/domain/%u/backend/vif", be);
    if (!rc && !exists(v))
        rc = put(t, v, NULL, NULL, be, be);
    snprintf(v, sizeof(v), "/local/domain/%u/backend/vif/%u", be, fe);
    if (!rc)
        rc = put(t, v, NULL, NULL, be, fe);
#define FE(rel, val) if (!rc) rc = put(t, fdir, rel, val, fe, be), w->what = "the frontend directory"
#define BE(rel, val) if (!rc) rc = put(t, bdir, rel, val, be, fe), w->what = "the backend directory"
    FE(NULL, NULL);
    snprintf(v, sizeof(v), "%s", bdir);
    FE("backend", v);
    snprintf(v, sizeof(v), "%u", be);
    FE("backend-id", v);
    FE("handle", dev);
    FE("mac", f->mac);
    FE("mtu", mtu);
    FE("state", "1");
    BE(NULL, NULL);
    snprintf(v, sizeof(v), "%s", fdir);
    BE("frontend", v);
    snprintf(v, sizeof(v), "%u", fe);
    BE("frontend-id", v);
    BE("handle", dev);
    BE("mac", f->mac);
    BE("mtu", mtu);
    BE("online", "1");
    BE("type", "vif");
    BE("firewall", "");
    BE("state", "1");
#undef FE
#undef BE
    return rc;
}

int devices_xs_write(const struct agent_vmdef *vm, uint32_t fe, char *err, size_t errlen)
{
    for (int i = 0; i < AGENT_VM_VIFS; i++) {
        const struct agent_vif *f = &vm->vifs[i];
        if (!f->used)
            continue;
        long be = net_domid(f->network);
        if (be < 0 || (uint32_t)be == fe) {
            snprintf(err, errlen, "VIF %u: network %s: %s", f->device, f->network,
                     be < 0 ? "no netback domain of that name runs" : "that is the VM's own domain");
            devices_xs_remove(fe);
            return -1;
        }
        struct vifw w = { .f = f, .fe = fe, .be = (uint32_t)be, .what = "" };
        int rc = minios_xs_transaction_run(write_vif, &w, 0);
        if (rc) {
            snprintf(err, errlen, "VIF %u: writing %s in the store: errno %d", f->device, w.what, -rc);
            devices_xs_remove(fe);
            return -1;
        }
        printf("agent: d%u: vif %u on network %s (d%ld), mac %s\n", fe, f->device, f->network, be,
               f->mac);
    }
    return 0;
}

long devices_xs_disk_backend(void *ctx)
{
    (void)ctx;
    char **names = NULL;
    unsigned cnt = 0;
    long found = -1;
    if (minios_xs_directory(MINIOS_XBT_NIL, "/local/domain", &names, &cnt))
        return -1;
    for (unsigned i = 0; i < cnt && found < 0; i++) {
        char *end, name[AGENT_NET_NAME_MAX];
        unsigned long id = strtoul(names[i], &end, 10);
        if (!*end && id < 0x7ff0 && !read_name((uint32_t)id, name) && !strcmp(name, "tapdisk"))
            found = (long)id;
    }
    free(names);
    return found;
}

/* One VBD's nodes as libxl (and the xenstore stub's vbd.c) write them,
 * in one transaction: tapdisk starts on the backend's state 1. */
struct vbdw {
    const struct agent_vbd_wire *b;
    uint32_t fe, be;
};

static int write_vbd(minios_xbt_t t, void *arg)
{
    struct vbdw *w = arg;
    uint32_t fe = w->fe, be = w->be;
    unsigned dev = 202 * 256 + 16 * w->b->userdevice;
    char fdir[96], bdir[96], v[96];
    snprintf(fdir, sizeof(fdir), "/local/domain/%u/device/vbd/%u", fe, dev);
    snprintf(bdir, sizeof(bdir), "/local/domain/%u/backend/vbd/%u/%u", be, fe, dev);
    int rc = 0;
    snprintf(v, sizeof(v), "/local/domain/%u/backend", be);
    if (!exists(v))
        rc = put(t, v, NULL, NULL, be, be);
    snprintf(v, sizeof(v), "/local/domain/%u/backend/vbd", be);
    if (!rc && !exists(v))
        rc = put(t, v, NULL, NULL, be, be);
    snprintf(v, sizeof(v), "/local/domain/%u/backend/vbd/%u", be, fe);
    if (!rc)
        rc = put(t, v, NULL, NULL, be, fe);
#define FE(rel, val) if (!rc) rc = put(t, fdir, rel, val, fe, be)
#define BE(rel, val) if (!rc) rc = put(t, bdir, rel, val, be, fe)
    FE(NULL, NULL);
    FE("backend", bdir);
    snprintf(v, sizeof(v), "%u", be);
    FE("backend-id", v);
    snprintf(v, sizeof(v), "%u", dev);
    FE("virtual-device", v);
    FE("device-type", "disk");
    FE("state", "1");
    BE(NULL, NULL);
    BE("frontend", fdir);
    snprintf(v, sizeof(v), "%u", fe);
    BE("frontend-id", v);
    BE("params", w->b->location);
    BE("mode", w->b->ro ? "r" : "w");
    BE("online", "1");
    BE("type", "tapdisk");
    BE("state", "1");
#undef FE
#undef BE
    return rc;
}

int devices_xs_write_vbds(const struct agent_vmdef *vm, uint32_t fe, char *err, size_t errlen)
{
    struct agent_vbd_wire b[16];
    unsigned n = devices_vbds_of(vm->uuid, b, 16);
    if (!n)
        return 0;
    long be = devices_xs_disk_backend(NULL);
    if (be < 0 || (uint32_t)be == fe) {
        snprintf(err, errlen, "its disks: no tapdisk domain runs");
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        struct vbdw w = { .b = &b[i], .fe = fe, .be = (uint32_t)be };
        int rc = minios_xs_transaction_run(write_vbd, &w, 0);
        if (rc) {
            snprintf(err, errlen, "VBD xvd%c: writing its nodes in the store: errno %d",
                     'a' + b[i].userdevice, -rc);
            devices_xs_remove(fe);
            return -1;
        }
        printf("agent: d%u: disk xvd%c (%u) = %s%s on tapdisk (d%ld)\n", fe, 'a' + b[i].userdevice,
               202 * 256 + 16 * b[i].userdevice, b[i].location, b[i].ro ? " (read-only)" : "", be);
    }
    return 0;
}

void devices_xs_remove(uint32_t fe)
{
    char **names = NULL;
    unsigned cnt = 0;
    if (minios_xs_directory(MINIOS_XBT_NIL, "/local/domain", &names, &cnt))
        return;
    for (unsigned i = 0; i < cnt; i++) {
        char *end;
        unsigned long id = strtoul(names[i], &end, 10);
        if (*end || id >= 0x7ff0 || id == fe)
            continue;
        for (int k = 0; k < 2; k++) {
            char path[80];
            snprintf(path, sizeof(path), "/local/domain/%lu/backend/%s/%u", id, k ? "vbd" : "vif", fe);
            if (!exists(path))
                continue;
            /* The backend may write its state once more as it notices the
             * frontend gone, creating the directory again (the store makes
             * missing parents): removed again until it stays gone (at most
             * 40 times 50 ms). */
            int left = 1;
            for (int tries = 0; tries < 40 && left; tries++) {
                minios_xs_rm(MINIOS_XBT_NIL, path);
                minios_sleep_ns(50 * 1000 * 1000);   /* gone, and still gone 50 ms later */
                left = exists(path);
            }
            printf("agent: d%u is gone: %s removed%s\n", fe, path,
                   left ? " (but it is still there)" : "");
        }
    }
    free(names);
}
