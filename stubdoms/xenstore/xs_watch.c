/* xs_watch.c: WATCH / UNWATCH and delivery of XS_WATCH_EVENT messages,
 * with Xen 4.17's permission filter and special (@...) events. */
#include <stdlib.h>
#include <string.h>
#define XS_STORE_INTERNAL
#include "xs_store.h"

/* 0 for @introduceDomain, 1 for @releaseDomain, -1 otherwise. */
int special_index(const char *name)
{
    if (!strcmp(name, "@introduceDomain"))
        return 0;
    if (!strcmp(name, "@releaseDomain"))
        return 1;
    return -1;
}

/* Xen's watch_permitted(): the watcher may read the node (or, with oldp,
 * could read it before the change), or may read its parent. */
static bool watch_permitted(struct xs_conn *w, const char *path,
                            const struct xs_perm *oldp, uint32_t noldp)
{
    struct xs_store *s = w->s;
    struct node *n;
    char *parent;
    bool ok;

    if (oldp && (perm_for(w, oldp, noldp) & XS_P_READ))
        return true;
    n = htab_find(&s->tree, path, xs_hash(path));
    if (!n)
        return false;
    if (perm_for(w, n->perms, n->nperms) & XS_P_READ)
        return true;
    if (!strcmp(path, "/"))
        return false;
    parent = strdup(path);
    if (!parent)
        return false;
    path_parent(path, parent);
    n = htab_find(&s->tree, parent, xs_hash(parent));
    ok = n && (perm_for(w, n->perms, n->nperms) & XS_P_READ);
    free(parent);
    return ok;
}

static void send_event(struct xs_conn *c, const struct watch *w,
                       const char *path)
{
    const char *p = path + w->rel_off;
    size_t pl = strlen(p), tl = strlen(w->token);
    char *buf;
    unsigned cap = c->s->cfg.quota_queued_events;

    if (pl + tl + 2 > XENSTORE_PAYLOAD_MAX)
        return;                 /* Xen: don't send over-long events */
    if (!c->priv && cap && c->queued_events >= cap)
        return;                 /* Keel: bound what a reader can pile up */
    buf = malloc(pl + tl + 2);
    if (!buf)
        return;
    memcpy(buf, p, pl + 1);
    memcpy(buf + pl + 1, w->token, tl + 1);
    conn_queue(c, XS_WATCH_EVENT, 0, 0, buf, pl + tl + 2, true);
    free(buf);
}

void watch_fire(struct xs_store *s, const char *path, bool exact,
                const struct xs_perm *oldp, uint32_t noldp)
{
    int sp = path[0] == '@' ? special_index(path) : -1;
    struct xs_conn *c;
    struct watch *w;

    for (c = s->conns; c; c = c->next) {
        if (c->gone)
            continue;
        if (path[0] == '@' &&
            (sp < 0 || !(perm_for(c, s->special[sp], s->nspecial[sp]) &
                         XS_P_READ)))
            continue;
        for (w = c->watches; w; w = w->next) {
            if (exact ? strcmp(path, w->path) : !path_is_child(path, w->path))
                continue;
            if (path[0] != '@' && !watch_permitted(c, path, oldp, noldp))
                continue;
            send_event(c, w, path);
        }
    }
}

void watch_drop_all(struct xs_conn *c)
{
    struct watch *w, *next;
    for (w = c->watches; w; w = next) {
        next = w->next;
        free(w->path);
        free(w->token);
        free(w);
    }
    c->watches = NULL;
    c->nwatches = 0;
}

/* Splits exactly two NUL-terminated strings (Xen's get_strings == 2). */
static bool two_strings(const char *body, uint32_t len, const char **a,
                        const char **b)
{
    uint32_t i, n = 0;
    for (i = 0; i < len; i++)
        n += body[i] == 0;
    if (n != 2 || !len || body[len - 1])
        return false;
    *a = body;
    *b = body + strlen(body) + 1;
    return true;
}

/* Canonical watch path; EINVAL for a bad one. */
static int watch_path(struct xs_conn *c, const char *in, char **out,
                      size_t *rel_off)
{
    *out = NULL;
    if (in[0] == '@') {
        *rel_off = 0;
        if (strlen(in) > XENSTORE_REL_PATH_MAX)
            return EINVAL;
        *out = strdup(in);
        return *out ? 0 : ENOMEM;
    }
    *out = path_canon(c, in, false, rel_off);
    if (!*out)
        return ENOMEM;
    if (!path_valid(c, *out)) {
        free(*out);
        *out = NULL;
        return EINVAL;
    }
    return 0;
}

int op_watch(struct xs_conn *c, const char *body, uint32_t len)
{
    const char *p, *tok;
    struct watch *w;
    size_t rel;
    char *path;
    int rc;

    if (!two_strings(body, len, &p, &tok))
        return EINVAL;
    rc = watch_path(c, p, &path, &rel);
    if (rc)
        return rc;
    for (w = c->watches; w; w = w->next)
        if (!strcmp(w->path, path) && !strcmp(w->token, tok)) {
            free(path);
            return EEXIST;
        }
    /* Xen 4.17 checks "count > quota" before adding. */
    if (!c->priv && c->nwatches > c->s->cfg.quota_watches) {
        free(path);
        return E2BIG;
    }
    w = calloc(1, sizeof(*w));
    if (!w || !(w->token = strdup(tok))) {
        free(w);
        free(path);
        return ENOMEM;
    }
    w->path = path;
    w->rel_off = rel;
    /* Append: events for several watches go out in registration order. */
    {
        struct watch **pp = &c->watches;
        while (*pp)
            pp = &(*pp)->next;
        *pp = w;
    }
    c->nwatches++;
    conn_queue(c, XS_WATCH, c->cur_hdr->req_id, c->cur_hdr->tx_id, "OK", 3,
               false);
    /* Fires once straight away (no permission check, as Xen). */
    send_event(c, w, w->path);
    return 0;
}

int op_unwatch(struct xs_conn *c, const char *body, uint32_t len)
{
    const char *p, *tok;
    struct watch **pp;
    size_t rel;
    char *path;
    int rc;

    if (!two_strings(body, len, &p, &tok))
        return EINVAL;
    rc = watch_path(c, p, &path, &rel);
    if (rc)
        return rc;
    for (pp = &c->watches; *pp; pp = &(*pp)->next) {
        struct watch *w = *pp;
        if (!strcmp(w->path, path) && !strcmp(w->token, tok)) {
            *pp = w->next;
            free(w->path);
            free(w->token);
            free(w);
            c->nwatches--;
            free(path);
            conn_queue(c, XS_UNWATCH, c->cur_hdr->req_id, c->cur_hdr->tx_id,
                       "OK", 3, false);
            return 0;
        }
    }
    free(path);
    return ENOENT;
}
