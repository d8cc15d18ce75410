/* vbd.c: guest disks at boot: the backend and frontend nodes of a boot domain's disk= words, written as libxl writes them. */
#include <stdio.h>
#include <string.h>

#include "vbd.h"
#include "vif.h"

#define xlog(...) do { printf("(xenstore) "); printf(__VA_ARGS__); printf("\n"); } while (0)

unsigned xsv_find_backend(const char *list)
{
    for (const char *l = list; l && *l; ) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        unsigned id;
        const char *nm = strstr(l, " name=tapdisk ");
        if (nm && (size_t)(nm - l) < len && sscanf(l, "domain %u", &id) == 1)
            return id;
        l = end ? end + 1 : NULL;
    }
    return 0;
}

static void node(struct xs_store *s, const char *dir, const char *name, const char *val,
                 unsigned owner, unsigned reader)
{
    char path[320], perms[32];
    if (name)
        snprintf(path, sizeof(path), "%s/%s", dir, name);
    else
        snprintf(path, sizeof(path), "%s", dir);
    int plen = snprintf(perms, sizeof(perms), "n%u%cr%u", owner, 0, reader) + 1;
    int rc = xs_store_write_internal(s, path, val, strlen(val), 0, perms, (size_t)plen);
    if (rc)
        xlog("cannot write %s: %d", path, rc);
}

static void write_disks(struct xs_store *s, unsigned domid, unsigned backend,
                        char *const *disks, unsigned n, bool again);

void xsv_boot_disks(struct xs_store *s, unsigned domid, unsigned backend,
                    char *const *disks, unsigned n)
{
    write_disks(s, domid, backend, disks, n, false);
}

void xsv_vbd_backend_back(struct xs_store *s, unsigned domid, unsigned backend,
                          char *const *disks, unsigned n)
{
    write_disks(s, domid, backend, disks, n, true);
}

/* again: the backend's half only (its old life's went with its home),
 * and the backend's read access to the frontend's directory back. */
static void write_disks(struct xs_store *s, unsigned domid, unsigned backend,
                        char *const *disks, unsigned n, bool again)
{
    for (unsigned i = 0; i < n; i++) {
        const char *w = disks[i];
        /* xvdX:PATH[:ro], as the hypervisor checked it. */
        if (strlen(w) < 6 || strncmp(w, "xvd", 3) || w[3] < 'a' || w[3] > 'z' || w[4] != ':' ||
            w[5] != '/') {
            xlog("d%u: disk=%s: not xvd[a-z]:/PATH[:ro]: skipped", domid, w);
            continue;
        }
        if (!backend) {
            xlog("d%u: disk=%s: no boot domain named tapdisk to serve it: skipped", domid, w);
            continue;
        }
        char params[256];
        snprintf(params, sizeof(params), "%s", w + 5);
        size_t pl = strlen(params);
        bool ro = pl >= 3 && !strcmp(params + pl - 3, ":ro");
        if (ro)
            params[pl - 3] = 0;
        unsigned dev = 202 * 256 + 16 * (unsigned)(w[3] - 'a');
        char be[128], fe[128], v[32];
        snprintf(be, sizeof(be), "/local/domain/%u/backend/vbd/%u/%u", backend, domid, dev);
        snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%u", domid, dev);
        char bdir[96], bvbd[96];
        snprintf(bdir, sizeof(bdir), "/local/domain/%u/backend", backend);
        snprintf(bvbd, sizeof(bvbd), "/local/domain/%u/backend/vbd/%u", backend, domid);
        node(s, bdir, NULL, "", backend, backend);
        node(s, bvbd, NULL, "", backend, backend);
        node(s, be, NULL, "", backend, domid);
        if (!again)
            node(s, fe, NULL, "", domid, backend);
        node(s, be, "frontend", fe, backend, domid);
        snprintf(v, sizeof(v), "%u", domid);
        node(s, be, "frontend-id", v, backend, domid);
        node(s, be, "params", params, backend, domid);
        node(s, be, "mode", ro ? "r" : "w", backend, domid);
        node(s, be, "online", "1", backend, domid);
        node(s, be, "type", "tapdisk", backend, domid);
        if (again) {
            xsv_regrant(s, fe, backend);
            node(s, be, "state", "1", backend, domid);     /* last: tapdisk starts on it */
            xlog("d%u: disk %.4s (%u): backend d%u restarted: its nodes written again", domid,
                 w, dev, backend);
            continue;
        }
        node(s, fe, "backend", be, domid, backend);
        snprintf(v, sizeof(v), "%u", backend);
        node(s, fe, "backend-id", v, domid, backend);
        snprintf(v, sizeof(v), "%u", dev);
        node(s, fe, "virtual-device", v, domid, backend);
        node(s, fe, "device-type", "disk", domid, backend);
        node(s, fe, "state", "1", domid, backend);
        node(s, be, "state", "1", backend, domid);     /* last: tapdisk starts on it */
        xlog("d%u: disk %.4s (%u) = %s%s, served by d%u", domid, w, dev, params,
             ro ? " (read-only)" : "", backend);
    }
}
