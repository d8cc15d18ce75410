/* xs_store.c: the xenstore tree, permissions, transactions, quotas, domain
 * bookkeeping and connections with their output queues (OS-independent).
 * The request handlers live in xs_proto.c, watches in xs_watch.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XS_STORE_INTERNAL
#include "xs_store.h"

/* ---- hash table of nodes keyed by path ---- */

uint32_t xs_hash(const char *s)
{
    uint32_t h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

struct node *htab_find(const struct htab *t, const char *path, uint32_t h)
{
    struct node *n;
    if (!t->nb)
        return NULL;
    for (n = t->b[h & (t->nb - 1)]; n; n = n->hnext)
        if (n->hash == h && !strcmp(n->path, path))
            return n;
    return NULL;
}

static int htab_grow(struct htab *t)
{
    uint32_t nb = t->nb ? t->nb * 2 : 64, i;
    struct node **b = calloc(nb, sizeof(*b));
    if (!b)
        return ENOMEM;
    for (i = 0; i < t->nb; i++) {
        struct node *n = t->b[i], *next;
        for (; n; n = next) {
            next = n->hnext;
            n->hnext = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
    return 0;
}

int htab_insert(struct htab *t, struct node *n)
{
    if (t->n + 1 > t->nb && htab_grow(t))
        return ENOMEM;
    n->hnext = t->b[n->hash & (t->nb - 1)];
    t->b[n->hash & (t->nb - 1)] = n;
    t->n++;
    return 0;
}

void htab_remove(struct htab *t, struct node *n)
{
    struct node **pp = &t->b[n->hash & (t->nb - 1)];
    for (; *pp; pp = &(*pp)->hnext)
        if (*pp == n) {
            *pp = n->hnext;
            t->n--;
            return;
        }
}

void htab_destroy(struct htab *t)
{
    uint32_t i;
    for (i = 0; i < t->nb; i++) {
        struct node *n = t->b[i], *next;
        for (; n; n = next) {
            next = n->hnext;
            node_free(n);
        }
    }
    free(t->b);
    t->b = NULL;
    t->nb = t->n = 0;
}

/* ---- nodes ---- */

struct node *node_alloc(const char *path)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->path = strdup(path);
    if (!n->path) {
        free(n);
        return NULL;
    }
    n->hash = xs_hash(path);
    return n;
}

void node_clear(struct node *n)
{
    free(n->val);
    free(n->perms);
    free(n->kids);
    n->val = NULL;
    n->perms = NULL;
    n->kids = NULL;
    n->vlen = n->nperms = n->kidslen = 0;
}

void node_free(struct node *n)
{
    if (!n)
        return;
    node_clear(n);
    free(n->oldp);
    free(n->path);
    free(n);
}

static void *memdup0(const void *p, size_t len)
{
    void *q;
    if (!len)
        return NULL;
    q = malloc(len);
    if (q)
        memcpy(q, p, len);
    return q;
}

/* Copies value, perms and children of src into dst (which is cleared). */
int node_copy_content(struct node *dst, const struct node *src)
{
    char *val = memdup0(src->val, src->vlen);
    struct xs_perm *perms = memdup0(src->perms, src->nperms * sizeof(*perms));
    char *kids = memdup0(src->kids, src->kidslen);
    if ((src->vlen && !val) || (src->nperms && !perms) ||
        (src->kidslen && !kids)) {
        free(val);
        free(perms);
        free(kids);
        return ENOMEM;
    }
    node_clear(dst);
    dst->val = val;
    dst->vlen = src->vlen;
    dst->perms = perms;
    dst->nperms = src->nperms;
    dst->kids = kids;
    dst->kidslen = src->kidslen;
    return 0;
}

int node_set_value(struct node *n, const void *val, uint32_t len)
{
    char *v = memdup0(val, len);
    if (len && !v)
        return ENOMEM;
    free(n->val);
    n->val = v;
    n->vlen = len;
    return 0;
}

int node_set_perms(struct node *n, const struct xs_perm *p, uint32_t np)
{
    struct xs_perm *q = memdup0(p, np * sizeof(*p));
    if (np && !q)
        return ENOMEM;
    free(n->perms);
    n->perms = q;
    n->nperms = np;
    return 0;
}

/* Xen's record size: header, perms, data and the children list. */
size_t node_size(uint32_t nperms, size_t vlen, size_t kidslen)
{
    return XS_REC_HDR + (size_t)nperms * XS_REC_PERM + vlen + kidslen;
}

int kids_add(struct node *n, const char *base)
{
    size_t bl = strlen(base) + 1;
    char *k = realloc(n->kids, n->kidslen + bl);
    if (!k)
        return ENOMEM;
    memcpy(k + n->kidslen, base, bl);
    n->kids = k;
    n->kidslen += bl;
    return 0;
}

void kids_del(struct node *n, const char *base)
{
    uint32_t off = 0;
    while (off < n->kidslen) {
        size_t l = strlen(n->kids + off) + 1;
        if (!strcmp(n->kids + off, base)) {
            memmove(n->kids + off, n->kids + off + l, n->kidslen - off - l);
            n->kidslen -= l;
            return;
        }
        off += l;
    }
}

const char *path_base(const char *path)
{
    return strrchr(path, '/') + 1;
}

/* Writes the parent of path into out (which holds strlen(path)+1). */
void path_parent(const char *path, char *out)
{
    const char *slash = strrchr(path, '/');
    size_t l = slash == path ? 1 : (size_t)(slash - path);
    memcpy(out, path, l);
    out[l] = 0;
}

bool path_is_child(const char *child, const char *parent)
{
    size_t l = strlen(parent);
    if (!strcmp(parent, "/"))
        return child[0] == '/';
    if (strncmp(child, parent, l))
        return false;
    return child[l] == '/' || child[l] == 0;
}

/* ---- domains ---- */

struct dom *dom_find(struct xs_store *s, unsigned domid, bool create)
{
    struct dom **pp = &s->doms[domid % XS_DOM_BUCKETS], *d;
    for (d = *pp; d; d = d->next)
        if (d->domid == domid)
            return d;
    if (!create)
        return NULL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->domid = domid;
    d->target = XS_NO_DOMID;
    d->next = *pp;
    *pp = d;
    return d;
}

void dom_account(struct xs_store *s, unsigned domid, int delta)
{
    struct dom *d = dom_find(s, domid, delta > 0);
    if (!d)
        return;
    if (delta < 0 && d->nodes < (unsigned)-delta)
        d->nodes = 0;
    else
        d->nodes += delta;
}

unsigned xs_store_domain_nodes(struct xs_store *s, unsigned domid)
{
    struct dom *d = dom_find(s, domid, false);
    return d ? d->nodes : 0;
}

unsigned xs_store_node_count(struct xs_store *s)
{
    return s->tree.n;
}

bool dom_introduced(struct xs_store *s, unsigned domid)
{
    struct dom *d = dom_find(s, domid, false);
    return d && d->conn && !d->conn->gone;
}

/* ---- permissions ---- */

unsigned perm_for(const struct xs_conn *c, const struct xs_perm *p,
                  uint32_t np)
{
    unsigned tgt = XS_NO_DOMID, i;
    struct dom *d;

    if (c->priv)
        return XS_P_ALL;
    if (!np)
        return 0;
    d = dom_find(c->s, c->domid, false);
    if (d)
        tgt = d->target;
    if (p[0].id == c->domid || p[0].id == tgt)
        return XS_P_ALL;
    for (i = 1; i < np; i++)
        if (p[i].id == c->domid || p[i].id == tgt)
            return p[i].p;
    return p[0].p;
}

/* Parses num wire strings "<r|w|b|n><domid>" from s into a new array. */
int perms_parse(const char *s, size_t len, uint32_t num, struct xs_perm **out)
{
    struct xs_perm *p;
    uint32_t i;
    size_t off = 0;

    if (!num)
        return EINVAL;
    p = calloc(num, sizeof(*p));
    if (!p)
        return ENOMEM;
    for (i = 0; i < num; i++) {
        const char *e = s + off;
        size_t l = strnlen(e, len - off), j;
        unsigned long id = 0;
        if (l == len - off || l < 2)
            goto inval;
        switch (e[0]) {
        case 'r': p[i].p = XS_P_READ; break;
        case 'w': p[i].p = XS_P_WRITE; break;
        case 'b': p[i].p = XS_P_READ | XS_P_WRITE; break;
        case 'n': p[i].p = 0; break;
        default: goto inval;
        }
        if (l > 6)
            goto inval;
        for (j = 1; j < l; j++) {
            if (e[j] < '0' || e[j] > '9')
                goto inval;
            id = id * 10 + (unsigned)(e[j] - '0');
        }
        if (id > 0xffff)
            goto inval;
        p[i].id = (uint16_t)id;
        off += l + 1;
    }
    *out = p;
    return 0;
inval:
    free(p);
    return EINVAL;
}

/* Formats perms as wire strings; returns a malloc'd buffer and its length. */
char *perms_format(const struct xs_perm *p, uint32_t np, size_t *len)
{
    char *buf = malloc((size_t)np * 8 + 1), *w = buf;
    uint32_t i;
    if (!buf)
        return NULL;
    for (i = 0; i < np; i++) {
        char c = p[i].p == (XS_P_READ | XS_P_WRITE) ? 'b' :
                 p[i].p == XS_P_READ ? 'r' : p[i].p == XS_P_WRITE ? 'w' : 'n';
        w += snprintf(w, 8, "%c%u", c, (unsigned)p[i].id) + 1;
    }
    *len = (size_t)(w - buf);
    return buf;
}

/* ---- paths ---- */

/* Xen's is_valid_nodename plus the absolute limit of xs_wire.h. */
bool path_valid(const struct xs_conn *c, const char *p)
{
    size_t len = strlen(p), local = 0, i;

    if (p[0] != '/')
        return false;
    if (len > 1 && p[len - 1] == '/')
        return false;
    if (strstr(p, "//"))
        return false;
    if (len > XENSTORE_ABS_PATH_MAX)
        return false;
    if (!strncmp(p, "/local/domain/", 14)) {
        for (i = 14; i < len && i < 19 && p[i] >= '0' && p[i] <= '9'; i++)
            ;
        if (i > 14 && p[i] == '/')
            local = i + 1;
    }
    if (!c->priv && len - local > c->s->cfg.quota_path_len)
        return false;
    for (i = 0; i < len; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '/' ||
              ch == '_' || ch == '@'))
            return false;
    }
    return true;
}

/* Makes a relative path absolute below /local/domain/<domid>.  Returns a
 * malloc'd string; *rel_off is the prefix length to strip for events. */
char *path_canon(const struct xs_conn *c, const char *in, bool allow_special,
                 size_t *rel_off)
{
    char *out;
    size_t l = strlen(in);
    int pl;

    if (rel_off)
        *rel_off = 0;
    if (in[0] == '/' || (allow_special && in[0] == '@'))
        return strdup(in);
    out = malloc(l + 32);
    if (!out)
        return NULL;
    pl = snprintf(out, 32, "/local/domain/%u/", c->domid);
    memcpy(out + pl, in, l + 1);
    if (rel_off)
        *rel_off = (size_t)pl;
    return out;
}

/* ---- the view of the tree a request sees: the store or a transaction ---- */

static struct node *tx_entry(struct xs_conn *c, const char *path, uint32_t h)
{
    return htab_find(&c->cur_tx->nodes, path, h);
}

/* Looks path up; inside a transaction the first access copies the node (or
 * records its absence) into the transaction.  0, ENOENT, ENOSPC, ENOMEM. */
int view_get(struct xs_conn *c, const char *path, struct node **out)
{
    struct xs_store *s = c->s;
    struct tx *t = c->cur_tx;
    uint32_t h = xs_hash(path);
    struct node *n, *m;

    *out = NULL;
    m = t ? tx_entry(c, path, h) : NULL;
    if (!t) {
        n = htab_find(&s->tree, path, h);
        if (!n)
            return ENOENT;
        *out = n;
        return 0;
    }
    n = m;
    if (!n) {
        if (!c->priv && t->nnodes >= s->cfg.quota_trans_nodes)
            return ENOSPC;
        m = htab_find(&s->tree, path, h);
        n = node_alloc(path);
        if (!n)
            return ENOMEM;
        if (m && (node_copy_content(n, m) ||
                  (m->nperms && !(n->oldp = memdup0(m->perms,
                                      m->nperms * sizeof(*m->perms)))))) {
            node_free(n);
            return ENOMEM;
        }
        if (m)
            n->noldp = m->nperms;
        if (htab_insert(&t->nodes, n)) {
            node_free(n);
            return ENOMEM;
        }
        n->exists = m != NULL;
        n->gen = m ? m->gen : XS_NO_GEN;
        n->orig_gen = n->gen;
        if (m ? m->gen > t->start_gen : s->last_delete_gen > t->start_gen)
            t->stale = true;
        *t->otail = n;
        t->otail = &n->onext;
        t->nnodes++;
    }
    if (!n->exists)
        return ENOENT;
    *out = n;
    return 0;
}

/* Creates path in the view (the caller has checked it is absent). */
static int view_create(struct xs_conn *c, const char *path, struct node **out)
{
    struct node *n;
    int rc;

    if (c->cur_tx) {
        rc = view_get(c, path, &n);
        if (rc != ENOENT)
            return rc ? rc : EEXIST;
        n = tx_entry(c, path, xs_hash(path));
        n->exists = true;
        node_clear(n);
    } else {
        n = node_alloc(path);
        if (!n)
            return ENOMEM;
        if (htab_insert(&c->s->tree, n)) {
            node_free(n);
            return ENOMEM;
        }
    }
    *out = n;
    return 0;
}

/* Marks n (from view_get/view_create) as changed. */
void view_touch(struct xs_conn *c, struct node *n)
{
    if (c->cur_tx)
        n->modified = true;
    else
        n->gen = ++c->s->gen;
}

static void view_delete(struct xs_conn *c, struct node *n)
{
    if (c->cur_tx) {
        node_clear(n);
        n->exists = false;
        n->modified = true;
        return;
    }
    if (n->nperms)
        dom_account(c->s, n->perms[0].id, -1);
    htab_remove(&c->s->tree, n);
    node_free(n);
    c->s->last_delete_gen = ++c->s->gen;
}

/* Nodes accounted to domid as the current request sees them. */
static unsigned view_domain_nodes(struct xs_conn *c, unsigned domid)
{
    long cnt = (long)xs_store_domain_nodes(c->s, domid);
    struct node *n;

    if (c->cur_tx)
        for (n = c->cur_tx->ofirst; n; n = n->onext) {
            struct node *m;
            if (!n->modified)
                continue;
            m = htab_find(&c->s->tree, n->path, n->hash);
            if (m && m->nperms && m->perms[0].id == domid)
                cnt--;
            if (n->exists && n->nperms && n->perms[0].id == domid)
                cnt++;
        }
    return cnt < 0 ? 0 : (unsigned)cnt;
}

/* Records (tx) or fires (no tx) the watch event for a change of path. */
void view_changed(struct xs_conn *c, const char *path, bool exact,
                  bool use_old, const struct xs_perm *oldp, uint32_t noldp)
{
    if (c->cur_tx) {
        struct node *n = tx_entry(c, path, xs_hash(path));
        if (n) {
            n->fire = true;
            n->fire_exact = exact;
            n->fire_old = n->fire_old || use_old;
        }
        return;
    }
    watch_fire(c->s, path, exact, use_old ? oldp : NULL, use_old ? noldp : 0);
}

/* Xen's get_node(): path must be valid; the node must grant perm.  An
 * absent or forbidden node reports ENOENT only if the nearest existing
 * ancestor grants perm, else EACCES (so nothing leaks). */
int get_node(struct xs_conn *c, const char *path, unsigned perm,
             struct node **out)
{
    int rc;
    char *anc;

    *out = NULL;
    if (!path_valid(c, path))
        return EINVAL;
    rc = view_get(c, path, out);
    if (!rc && (perm_for(c, (*out)->perms, (*out)->nperms) & perm) != perm) {
        rc = EACCES;
        *out = NULL;
    }
    if (!rc || rc == ENOMEM || rc == ENOSPC)
        return rc;
    anc = strdup(path);
    if (!anc)
        return ENOMEM;
    while (strcmp(anc, "/")) {
        struct node *a;
        int r2;
        path_parent(anc, anc);
        r2 = view_get(c, anc, &a);
        if (!r2) {
            if (!(perm_for(c, a->perms, a->nperms) & perm))
                rc = EACCES;
            break;
        }
        if (r2 != ENOENT) {
            rc = r2;
            break;
        }
    }
    free(anc);
    return rc;
}

/* Creates path (and missing parents) holding val, as Xen's create_node:
 * new nodes inherit their parent's perms; an unprivileged creator becomes
 * the owner.  Node-count and entry-size quotas apply.  *out = new node. */
int create_node(struct xs_conn *c, const char *path, const void *val,
                uint32_t vlen, struct node **out)
{
    const struct xs_config *cfg = &c->s->cfg;
    size_t depth = 1, k = 0, i;
    char **missing = NULL, *cur;
    struct node *anc = NULL, *parent, *n = NULL;
    int rc = 0;

    for (cur = (char *)path; *cur; cur++)
        depth += *cur == '/';
    missing = calloc(depth + 1, sizeof(*missing));
    if (!missing)
        return ENOMEM;
    missing[k] = strdup(path);
    if (!missing[k])
        goto nomem;
    k++;
    for (;;) {
        char *p = strdup(missing[k - 1]);
        if (!p)
            goto nomem;
        path_parent(missing[k - 1], p);
        rc = view_get(c, p, &anc);
        if (!rc) {
            free(p);
            break;
        }
        if (rc != ENOENT || !strcmp(p, "/")) {
            free(p);
            goto out;
        }
        missing[k++] = p;
    }
    rc = 0;
    if (!c->priv) {
        uint32_t np = anc->nperms;
        if (view_domain_nodes(c, c->domid) + k > cfg->quota_nodes) {
            rc = ENOSPC;
            goto out;
        }
        if (node_size(anc->nperms, anc->vlen, anc->kidslen +
                      strlen(path_base(missing[k - 1])) + 1) >
            cfg->quota_entry_size ||
            node_size(np, vlen, 0) > cfg->quota_entry_size) {
            rc = ENOSPC;
            goto out;
        }
        for (i = 1; i < k; i++)
            if (node_size(np, 0, strlen(path_base(missing[i - 1])) + 1) >
                cfg->quota_entry_size) {
                rc = ENOSPC;
                goto out;
            }
    }
    parent = anc;
    for (i = k; i-- > 0;) {
        rc = view_create(c, missing[i], &n);
        if (rc)
            goto out;
        if (node_set_perms(n, parent->perms, parent->nperms) ||
            (i == 0 && node_set_value(n, val, vlen)) ||
            kids_add(parent, path_base(missing[i]))) {
            rc = ENOMEM;
            goto out;
        }
        if (!c->priv && n->nperms)
            n->perms[0].id = (uint16_t)c->domid;
        if (!c->cur_tx && n->nperms)
            dom_account(c->s, n->perms[0].id, 1);
        view_touch(c, parent);
        view_touch(c, n);
        parent = n;
    }
    *out = n;
    goto out;
nomem:
    rc = ENOMEM;
out:
    for (i = 0; i <= depth; i++)
        free(missing[i]);
    free(missing);
    return rc;
}

/* Collects path and all its descendants (in the view) in post-order. */
static int collect(struct xs_conn *c, const char *path, char ***list,
                   size_t *num, size_t *cap)
{
    struct node *n;
    uint32_t off = 0;
    int rc = view_get(c, path, &n);

    if (rc)
        return rc == ENOENT ? 0 : rc;
    while (off < n->kidslen) {
        const char *base = n->kids + off;
        size_t pl = strlen(path), bl = strlen(base);
        char *child = malloc(pl + bl + 2);
        if (!child)
            return ENOMEM;
        snprintf(child, pl + bl + 2, "%s/%s", strcmp(path, "/") ? path : "",
                 base);
        rc = collect(c, child, list, num, cap);
        free(child);
        if (rc)
            return rc;
        off += (uint32_t)bl + 1;
    }
    if (*num == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **l = realloc(*list, nc * sizeof(*l));
        if (!l)
            return ENOMEM;
        *list = l;
        *cap = nc;
    }
    (*list)[*num] = strdup(path);
    if (!(*list)[*num])
        return ENOMEM;
    (*num)++;
    return 0;
}

/* Removes n (at path, not "/") and its subtree; fires watches as Xen does:
 * the node itself (and so its ancestors' watches), then every removed
 * descendant exactly, all while the nodes are still readable. */
int rm_node(struct xs_conn *c, const char *path)
{
    char **list = NULL, *ppath;
    size_t num = 0, cap = 0, i;
    struct node *parent, *n;
    int rc = collect(c, path, &list, &num, &cap);

    if (rc)
        goto out;
    ppath = strdup(path);
    if (!ppath) {
        rc = ENOMEM;
        goto out;
    }
    path_parent(path, ppath);
    rc = view_get(c, ppath, &parent);
    free(ppath);
    if (rc) {
        rc = rc == ENOENT ? EINVAL : rc;
        goto out;
    }
    if (!c->cur_tx) {
        watch_fire(c->s, path, false, NULL, 0);
        for (i = 0; i + 1 < num; i++)
            watch_fire(c->s, list[i], true, NULL, 0);
    }
    for (i = 0; i < num; i++) {
        if (view_get(c, list[i], &n))
            continue;
        view_delete(c, n);
        if (c->cur_tx)
            view_changed(c, list[i], i + 1 < num, true, NULL, 0);
    }
    kids_del(parent, path_base(path));
    view_touch(c, parent);
out:
    for (i = 0; i < num; i++)
        free(list[i]);
    free(list);
    return rc;
}

/* ---- transactions ---- */

struct tx *tx_find(struct xs_conn *c, uint32_t id)
{
    struct tx *t;
    for (t = c->txs; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

int tx_start(struct xs_conn *c, uint32_t *id)
{
    struct tx *t = calloc(1, sizeof(*t));
    if (!t)
        return ENOMEM;
    do {
        t->id = c->next_txid++;
    } while (!t->id || tx_find(c, t->id));
    t->start_gen = c->s->gen;
    t->otail = &t->ofirst;
    t->next = c->txs;
    c->txs = t;
    c->ntx++;
    *id = t->id;
    return 0;
}

void tx_free(struct xs_conn *c, struct tx *t)
{
    struct tx **pp;
    for (pp = &c->txs; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            c->ntx--;
            break;
        }
    htab_destroy(&t->nodes);
    free(t);
}

/* Commits t: EAGAIN if anything it touched changed since it began, ENOSPC
 * if the creator would exceed its node quota; else applies and fires. */
int tx_commit(struct xs_conn *c, struct tx *t)
{
    struct xs_store *s = c->s;
    struct node *n, *m;

    if (t->stale)
        return EAGAIN;
    for (n = t->ofirst; n; n = n->onext) {
        m = htab_find(&s->tree, n->path, n->hash);
        if ((m ? m->gen : XS_NO_GEN) != n->orig_gen)
            return EAGAIN;
    }
    if (!c->priv) {
        struct tx *saved = c->cur_tx;
        unsigned cnt;
        c->cur_tx = t;
        cnt = view_domain_nodes(c, c->domid);
        c->cur_tx = saved;
        if (cnt > xs_store_domain_nodes(s, c->domid) &&
            cnt > s->cfg.quota_nodes)
            return ENOSPC;
    }
    /* Apply in access order: parents are accessed before new children. */
    for (n = t->ofirst; n; n = n->onext) {
        if (!n->modified)
            continue;
        m = htab_find(&s->tree, n->path, n->hash);
        if (m && m->nperms)
            dom_account(s, m->perms[0].id, -1);
        if (n->exists) {
            if (!m) {
                m = node_alloc(n->path);
                if (!m || htab_insert(&s->tree, m)) {
                    node_free(m);
                    continue;   /* out of memory: node lost */
                }
            }
            if (node_copy_content(m, n)) {
                node_clear(m);
            }
            if (m->nperms)
                dom_account(s, m->perms[0].id, 1);
            m->gen = ++s->gen;
        } else if (m) {
            htab_remove(&s->tree, m);
            node_free(m);
            s->last_delete_gen = ++s->gen;
        }
    }
    for (n = t->ofirst; n; n = n->onext)
        if (n->modified && n->fire)
            watch_fire(s, n->path, n->fire_exact,
                       n->fire_old ? n->oldp : NULL,
                       n->fire_old ? n->noldp : 0);
    return 0;
}

/* ---- connections and output ---- */

static void out_drop_all(struct xs_conn *c)
{
    struct outbuf *o, *next;
    for (o = c->out; o; o = next) {
        next = o->next;
        free(o);
    }
    c->out = NULL;
    c->out_tail = &c->out;
    c->queued_events = 0;
}

/* Queues one message; replies count against the outstanding quota. */
void conn_queue(struct xs_conn *c, uint32_t type, uint32_t req_id,
                uint32_t tx_id, const void *data, size_t len, bool event)
{
    struct outbuf *o;
    struct xsd_sockmsg h;

    if (c->gone || !c->s)
        return;
    o = malloc(sizeof(*o) + sizeof(h) + len);
    if (!o) {
        if (!event && c->outstanding)
            c->outstanding--;   /* the reply is lost; do not wedge */
        return;
    }
    h.type = type;
    h.req_id = req_id;
    h.tx_id = tx_id;
    h.len = (uint32_t)len;
    memcpy(o->data, &h, sizeof(h));
    if (len)
        memcpy(o->data + sizeof(h), data, len);
    o->len = sizeof(h) + len;
    o->off = 0;
    o->event = event;
    o->next = NULL;
    *c->out_tail = o;
    c->out_tail = &o->next;
    if (event)
        c->queued_events++;
}

bool xs_conn_has_output(const struct xs_conn *c)
{
    return c->out != NULL;
}

size_t xs_conn_peek_output(const struct xs_conn *c, const void **p)
{
    if (!c->out) {
        *p = NULL;
        return 0;
    }
    *p = c->out->data + c->out->off;
    return c->out->len - c->out->off;
}

void xs_conn_consume_output(struct xs_conn *c, size_t n)
{
    while (n && c->out) {
        struct outbuf *o = c->out;
        size_t take = o->len - o->off < n ? o->len - o->off : n;
        o->off += take;
        n -= take;
        if (o->off < o->len)
            break;
        c->out = o->next;
        if (!c->out)
            c->out_tail = &c->out;
        if (o->event)
            c->queued_events--;
        else if (c->outstanding)
            c->outstanding--;
        free(o);
    }
}

unsigned xs_conn_outstanding(const struct xs_conn *c)
{
    return c->outstanding;
}

bool xs_conn_can_accept(const struct xs_conn *c)
{
    if (c->gone)
        return false;
    return c->priv || c->outstanding < c->s->cfg.quota_outstanding;
}

unsigned xs_conn_domid(const struct xs_conn *c)
{
    return c->domid;
}

bool xs_conn_is_gone(const struct xs_conn *c)
{
    return c->gone;
}

unsigned xs_conn_watch_count(const struct xs_conn *c)
{
    return c->nwatches;
}

unsigned xs_conn_transaction_count(const struct xs_conn *c)
{
    return c->ntx;
}

void conn_drop_state(struct xs_conn *c)
{
    while (c->txs)
        tx_free(c, c->txs);
    watch_drop_all(c);
}

/* Ends a connection's life: no more requests, no output. */
void conn_mark_gone(struct xs_conn *c)
{
    conn_drop_state(c);
    out_drop_all(c);
    c->outstanding = 0;
    c->gone = true;
}

struct xs_conn *xs_conn_new(struct xs_store *s, unsigned domid,
                            bool privileged)
{
    struct xs_conn *c = calloc(1, sizeof(*c));
    struct dom *d = dom_find(s, domid, true);

    if (!c || !d) {
        free(c);
        return NULL;
    }
    c->s = s;
    c->domid = domid;
    c->priv = privileged;
    c->next_txid = 1;
    c->out_tail = &c->out;
    xs_framer_init(&c->fr);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    d->conn = c;
    return c;
}

void xs_conn_free(struct xs_conn *c)
{
    struct dom *d;
    if (!c)
        return;
    conn_drop_state(c);
    out_drop_all(c);
    d = dom_find(c->s, c->domid, false);
    if (d && d->conn == c)
        d->conn = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else if (c->s->conns == c)
        c->s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/* ---- store ---- */

void xs_config_default(struct xs_config *cfg)
{
    cfg->quota_nodes = 1000;
    cfg->quota_entry_size = 2048;
    cfg->quota_watches = 128;
    cfg->quota_transactions = 10;
    cfg->quota_outstanding = 20;
    cfg->quota_perms = 5;
    cfg->quota_trans_nodes = 1024;
    cfg->quota_path_len = XENSTORE_REL_PATH_MAX;
    cfg->quota_queued_events = 1024;
    cfg->special_owner = 0;
}

static int manual_node(struct xs_store *s, const char *path)
{
    struct node *n = node_alloc(path), *p;
    struct xs_perm perm = { .id = 0, .p = 0 };
    char *pp;

    if (!n || node_set_perms(n, &perm, 1) || htab_insert(&s->tree, n)) {
        node_free(n);
        return ENOMEM;
    }
    n->gen = ++s->gen;
    dom_account(s, 0, 1);
    if (!strcmp(path, "/"))
        return 0;
    pp = strdup(path);
    if (!pp)
        return ENOMEM;
    path_parent(path, pp);
    p = htab_find(&s->tree, pp, xs_hash(pp));
    free(pp);
    return p ? kids_add(p, path_base(path)) : EINVAL;
}

struct xs_store *xs_store_new(const struct xs_config *cfg,
                              const struct xs_domain_ops *ops)
{
    struct xs_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (cfg)
        s->cfg = *cfg;
    else
        xs_config_default(&s->cfg);
    if (ops)
        s->ops = *ops;
    s->special[0] = calloc(1, sizeof(struct xs_perm));
    s->special[1] = calloc(1, sizeof(struct xs_perm));
    s->actor = calloc(1, sizeof(*s->actor));
    if (!s->actor || !s->special[0] || !s->special[1] || manual_node(s, "/") || manual_node(s, "/tool") ||
        manual_node(s, "/tool/xenstored")) {
        xs_store_free(s);
        return NULL;
    }
    s->special[0]->id = (uint16_t)s->cfg.special_owner;
    s->special[1]->id = (uint16_t)s->cfg.special_owner;
    s->nspecial[0] = s->nspecial[1] = 1;
    s->actor->s = s;
    s->actor->priv = true;
    s->actor->out_tail = &s->actor->out;
    return s;
}

void xs_store_free(struct xs_store *s)
{
    unsigned i;
    if (!s)
        return;
    while (s->conns)
        xs_conn_free(s->conns);
    if (s->actor) {
        out_drop_all(s->actor);
        free(s->actor);
    }
    htab_destroy(&s->tree);
    free(s->special[0]);
    free(s->special[1]);
    for (i = 0; i < XS_DOM_BUCKETS; i++) {
        struct dom *d = s->doms[i], *next;
        for (; d; d = next) {
            next = d->next;
            free(d);
        }
    }
    free(s);
}

/* ---- internal actor ---- */

int xs_store_write_internal(struct xs_store *s, const char *path,
                            const void *value, size_t len,
                            unsigned owner_domid, const char *perms,
                            size_t perms_len)
{
    struct xs_conn *c = s->actor;
    struct xs_perm *p = NULL;
    struct node *n;
    uint32_t np = 0;
    size_t i;
    int rc;

    c->cur_tx = NULL;
    c->domid = owner_domid;
    if (!path_valid(c, path) || len > XENSTORE_PAYLOAD_MAX)
        return EINVAL;
    if (perms) {
        for (i = 0; i < perms_len; i++)
            np += perms[i] == 0;
        if (!perms_len || perms[perms_len - 1])
            return EINVAL;
        rc = perms_parse(perms, perms_len, np, &p);
        if (rc)
            return rc;
    }
    rc = view_get(c, path, &n);
    if (rc == ENOENT) {
        rc = create_node(c, path, value, (uint32_t)len, &n);
        if (!rc && !p) {
            struct xs_perm own = { .id = (uint16_t)owner_domid, .p = 0 };
            if (n->nperms)
                dom_account(s, n->perms[0].id, -1);
            rc = node_set_perms(n, &own, 1);
            dom_account(s, owner_domid, 1);
        }
    } else if (!rc) {
        rc = node_set_value(n, value, (uint32_t)len);
    }
    if (!rc && p) {
        if (n->nperms)
            dom_account(s, n->perms[0].id, -1);
        rc = node_set_perms(n, p, np);
        if (n->nperms)
            dom_account(s, n->perms[0].id, 1);
    }
    free(p);
    if (rc)
        return rc;
    view_touch(c, n);
    watch_fire(s, path, false, NULL, 0);
    return 0;
}

long xs_store_read_internal(struct xs_store *s, const char *path, void *buf,
                            size_t cap)
{
    struct node *n;
    s->actor->cur_tx = NULL;
    if (!path_valid(s->actor, path))
        return -EINVAL;
    n = htab_find(&s->tree, path, xs_hash(path));
    if (!n)
        return -ENOENT;
    if (n->vlen && cap)
        memcpy(buf, n->val, n->vlen < cap ? n->vlen : cap);
    return (long)n->vlen;
}

int xs_store_rm_internal(struct xs_store *s, const char *path)
{
    s->actor->cur_tx = NULL;
    if (!path_valid(s->actor, path) || !strcmp(path, "/"))
        return EINVAL;
    if (!htab_find(&s->tree, path, xs_hash(path)))
        return ENOENT;
    return rm_node(s->actor, path);
}

bool xs_domain_gone(struct xs_store *s, unsigned domid)
{
    struct dom *d = dom_find(s, domid, false);
    bool had = d && d->conn && !d->conn->gone;
    uint32_t i;

    if (had)
        conn_mark_gone(d->conn);
    /* Nodes it owned pass to dom0; entries naming it are dropped. */
    for (i = 0; i < s->tree.nb; i++) {
        struct node *n;
        for (n = s->tree.b[i]; n; n = n->hnext) {
            uint32_t j, w = 1;
            bool changed = false;
            if (!n->nperms)
                continue;
            if (n->perms[0].id == domid) {
                n->perms[0].id = 0;
                dom_account(s, domid, -1);
                dom_account(s, 0, 1);
                changed = true;
            }
            for (j = 1; j < n->nperms; j++) {
                if (n->perms[j].id == domid) {
                    changed = true;
                    continue;
                }
                n->perms[w++] = n->perms[j];
            }
            n->nperms = w;
            if (changed)
                n->gen = ++s->gen;
        }
    }
    if (d)
        d->target = XS_NO_DOMID;
    for (i = 0; i < XS_DOM_BUCKETS; i++) {
        struct dom *o;
        for (o = s->doms[i]; o; o = o->next)
            if (o->target == domid)
                o->target = XS_NO_DOMID;
    }
    if (had)
        watch_fire(s, "@releaseDomain", true, NULL, 0);
    return had;
}

void xs_store_fire_special(struct xs_store *s, const char *name)
{
    if (!strcmp(name, "@introduceDomain") || !strcmp(name, "@releaseDomain"))
        watch_fire(s, name, true, NULL, 0);
}
