/* vif.c: the xenstore stub's toolstack part for network interfaces: from a boot line's vif=, mac= and fw= it writes the frontend and backend nodes of a vif as libxl does (docs/network.md). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XS_STORE_INTERNAL
#include "vif.h"

/*
 * For every boot domain we remember its id and name and, if its line has
 * vif=BACKEND, the backend's name, the MAC and the firewall rules.  The
 * nodes (devid 0; libxl's layout):
 *
 *   /local/domain/<fe>/device/vif/0/     owner fe, readable by be
 *       backend backend-id handle mac state=1
 *   /local/domain/<be>/backend/vif/<fe>/0/   owner be, readable by fe
 *       frontend frontend-id handle mac online=1 type=vif state=1 firewall
 *
 * Values a boot line names are checked here: a vif whose backend is not a
 * boot domain, whose MAC is not six hex bytes (unicast) or whose rules
 * have characters outside the rule alphabet is not written, and the
 * reason is logged.
 */
struct vifline {
    struct vifline *next;
    unsigned domid;
    char name[64];
    char backend[64];            /* "" : no vif */
    char mac[18];
    char fw[168];
};

static struct vifline *lines;

static void (*log_fn)(const char *fmt, ...);

void xsv_set_log(void (*log)(const char *fmt, ...))
{
    log_fn = log;
}

static struct vifline *by_id(unsigned domid)
{
    for (struct vifline *v = lines; v; v = v->next)
        if (v->domid == domid)
            return v;
    return NULL;
}

static struct vifline *by_name(const char *name)
{
    for (struct vifline *v = lines; v; v = v->next)
        if (!strcmp(v->name, name))
            return v;
    return NULL;
}

/* Xen's prefix 00:16:3e and three bytes of an FNV-1a hash of the name:
 * the same name always gets the same MAC. */
void xsv_default_mac(const char *name, char out[18])
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    snprintf(out, 18, "00:16:3e:%02x:%02x:%02x", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

/* Six hex bytes separated by ':', not multicast (bit 0 of the first). */
bool xsv_mac_ok(const char *m)
{
    if (strlen(m) != 17)
        return false;
    for (int i = 0; i < 17; i++) {
        bool hex = (m[i] >= '0' && m[i] <= '9') || (m[i] >= 'a' && m[i] <= 'f') ||
                   (m[i] >= 'A' && m[i] <= 'F');
        if (i % 3 == 2 ? m[i] != ':' : !hex)
            return false;
    }
    unsigned first = (unsigned)strtoul(m, NULL, 16);
    return !(first & 1);
}

/* The rule alphabet (netback parses the rules themselves). */
static bool fw_chars_ok(const char *f)
{
    for (; *f; f++)
        if (!((*f >= 'a' && *f <= 'z') || (*f >= '0' && *f <= '9') || *f == ':' ||
              *f == '+' || *f == '-' || *f == '.' || *f == '/'))
            return false;
    return true;
}

void xsv_note_line(const char *line)
{
    unsigned id;
    if (sscanf(line, "domain %u", &id) != 1)
        return;
    struct vifline *v = by_id(id);
    if (!v) {
        v = calloc(1, sizeof(*v));
        if (!v)
            return;
        v->domid = id;
        v->next = lines;
        lines = v;
    }
    v->backend[0] = v->mac[0] = v->fw[0] = 0;
    char *copy = strdup(line), *save;
    if (!copy)
        return;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (!strncmp(w, "name=", 5))
            snprintf(v->name, sizeof(v->name), "%s", w + 5);
        else if (!strncmp(w, "vif=", 4))
            snprintf(v->backend, sizeof(v->backend), "%s", w + 4);
        else if (!strncmp(w, "mac=", 4))
            snprintf(v->mac, sizeof(v->mac), "%s", strlen(w + 4) <= 17 ? w + 4 : "(too long)");
        else if (!strncmp(w, "fw=", 3))
            snprintf(v->fw, sizeof(v->fw), "%s", w + 3);
    }
    free(copy);
}

static void put(struct xs_store *s, const char *path, const char *value, unsigned owner,
                unsigned reader)
{
    char perms[32];
    int plen = snprintf(perms, sizeof(perms), "n%u%cr%u", owner, 0, reader) + 1;
    int rc = xs_store_write_internal(s, path, value, strlen(value), owner, perms, (size_t)plen);
    if (rc && log_fn)
        log_fn("cannot write %s: %d", path, rc);
}

/* The backend half of fe's vif (written again when the backend comes back). */
static void write_backend(struct xs_store *s, const struct vifline *fe, unsigned be,
                          const char *mac)
{
    char dir[96], path[160], v[64];
    snprintf(dir, sizeof(dir), "/local/domain/%u/backend/vif/%u/0", be, fe->domid);
    put(s, dir, "", be, fe->domid);
#define B(rel, val) (snprintf(path, sizeof(path), "%s/%s", dir, rel), put(s, path, val, be, fe->domid))
    snprintf(v, sizeof(v), "/local/domain/%u/device/vif/0", fe->domid);
    B("frontend", v);
    snprintf(v, sizeof(v), "%u", fe->domid);
    B("frontend-id", v);
    B("handle", "0");
    B("mac", mac);
    B("online", "1");
    B("type", "vif");
    B("firewall", fe->fw);
    B("state", "1");
#undef B
}

static bool resolve(const struct vifline *fe, unsigned *be, char mac[18], bool quiet)
{
    void (*vlog)(const char *fmt, ...) = quiet ? NULL : log_fn;
    const struct vifline *b = by_name(fe->backend);
    if (!b) {
        if (vlog)
            vlog("d%u: vif=%s: no boot domain has that name; no vif", fe->domid, fe->backend);
        return false;
    }
    if (b->domid == fe->domid) {
        if (vlog)
            vlog("d%u: vif=%s names itself; no vif", fe->domid, fe->backend);
        return false;
    }
    if (fe->mac[0]) {
        if (!xsv_mac_ok(fe->mac)) {
            if (vlog)
                vlog("d%u: mac=%s: not six hex bytes of a unicast address; no vif", fe->domid,
                     fe->mac);
            return false;
        }
        snprintf(mac, 18, "%s", fe->mac);
    } else {
        xsv_default_mac(fe->name, mac);
    }
    if (!fw_chars_ok(fe->fw)) {
        if (vlog)
            vlog("d%u: fw=%s: characters outside a-z 0-9 : + - . /; no vif", fe->domid, fe->fw);
        return false;
    }
    *be = b->domid;
    return true;
}

/* A backend that died lost its read permission on every node that named
 * it (xs_domain_gone drops such entries, where Xen's generation count
 * would ignore them): its new life gets it back on the frontend's vif
 * directory and everything below (nodes the frontend wrote itself). */
static void regrant(struct xs_store *s, const char *path, unsigned reader, unsigned depth)
{
    struct node *n = htab_find(&s->tree, path, xs_hash(path));
    if (!n || depth > 4)
        return;
    bool has = false;
    for (uint32_t i = 0; i < n->nperms; i++)
        has |= n->perms[i].id == reader;
    if (!has && n->nperms < 8) {
        struct xs_perm p[9];
        memcpy(p, n->perms, n->nperms * sizeof(*p));
        p[n->nperms].id = (uint16_t)reader;
        p[n->nperms].p = XS_P_READ;
        node_set_perms(n, p, n->nperms + 1);
    }
    for (uint32_t off = 0; off < n->kidslen; off += (uint32_t)strlen(n->kids + off) + 1) {
        char child[256];
        if ((size_t)snprintf(child, sizeof(child), "%s/%s", path, n->kids + off) < sizeof(child))
            regrant(s, child, reader, depth + 1);
    }
}

void xsv_regrant(struct xs_store *s, const char *path, unsigned reader)
{
    regrant(s, path, reader, 0);
}

void xsv_domain_up(struct xs_store *s, unsigned domid)
{
    char mac[18], dir[64], path[128], v[64];
    unsigned be;
    /* Its own vif, both halves. */
    struct vifline *fe = by_id(domid);
    if (fe && fe->backend[0] && resolve(fe, &be, mac, false)) {
        snprintf(dir, sizeof(dir), "/local/domain/%u/device/vif/0", domid);
        put(s, dir, "", domid, be);
#define F(rel, val) (snprintf(path, sizeof(path), "%s/%s", dir, rel), put(s, path, val, domid, be))
        snprintf(v, sizeof(v), "/local/domain/%u/backend/vif/%u/0", be, domid);
        F("backend", v);
        snprintf(v, sizeof(v), "%u", be);
        F("backend-id", v);
        F("handle", "0");
        F("mac", mac);
        F("state", "1");
#undef F
        write_backend(s, fe, be, mac);
        if (log_fn)
            log_fn("d%u: vif 0 on d%u (%s), mac %s%s%s", domid, be, fe->backend, mac,
                 fe->fw[0] ? ", fw=" : "", fe->fw);
    }
    /* The vifs it serves, when it is a backend that came (back). */
    for (struct vifline *f = lines; f; f = f->next) {
        if (f == fe || !f->backend[0] || !resolve(f, &be, mac, true) || be != domid)
            continue;
        snprintf(path, sizeof(path), "/local/domain/%u", f->domid);
        char tmp[1];
        if (xs_store_read_internal(s, path, tmp, 0) < 0)
            continue;            /* the frontend is not there (now) */
        write_backend(s, f, be, mac);
        snprintf(path, sizeof(path), "/local/domain/%u/device/vif/0", f->domid);
        regrant(s, path, be, 0);
    }
}

void xsv_domain_gone(struct xs_store *s, unsigned domid)
{
    char mac[18], path[96];
    unsigned be;
    struct vifline *fe = by_id(domid);
    if (fe && fe->backend[0] && resolve(fe, &be, mac, true)) {
        /* As libxl's device removal: the backend's half goes too. */
        snprintf(path, sizeof(path), "/local/domain/%u/backend/vif/%u", be, domid);
        xs_store_rm_internal(s, path);
    }
}
