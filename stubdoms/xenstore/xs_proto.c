/* xs_proto.c: the xs_wire.h protocol — one handler per message type behind
 * one dispatch table, error replies, and the incremental input framer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <xen/xen.h>
#define XS_STORE_INTERNAL
#include "xs_store.h"

#define F_PRIV  1u      /* privileged connections only (Xen's XS_FLAG_PRIV) */
#define F_NOTID 2u      /* tx_id ignored (Xen's XS_FLAG_NOTID) */

/* ---- replies ---- */

static void reply(struct xs_conn *c, uint32_t type, const void *data,
                  size_t len);

static void reply_error(struct xs_conn *c, int err)
{
    size_t i, n = sizeof(xsd_errors) / sizeof(xsd_errors[0]);
    for (i = 0; i < n; i++)
        if (xsd_errors[i].errnum == err)
            break;
    if (i == n)
        i = 0;                  /* EINVAL, as Xen for untranslatable errors */
    conn_queue(c, XS_ERROR, c->cur_hdr->req_id, c->cur_hdr->tx_id,
               xsd_errors[i].errstring, strlen(xsd_errors[i].errstring) + 1,
               false);
}

/* Xen's send_reply(): an over-long reply becomes E2BIG. */
static void reply(struct xs_conn *c, uint32_t type, const void *data,
                  size_t len)
{
    if (len > XENSTORE_PAYLOAD_MAX) {
        reply_error(c, E2BIG);
        return;
    }
    conn_queue(c, type, c->cur_hdr->req_id, c->cur_hdr->tx_id, data, len,
               false);
}

static void ack(struct xs_conn *c, uint32_t type)
{
    reply(c, type, "OK", 3);
}

/* ---- argument parsing ---- */

/* Xen's onearg(): the body is exactly one NUL-terminated string. */
static const char *onearg(const char *b, uint32_t len)
{
    if (!len || memchr(b, 0, len) != b + len - 1)
        return NULL;
    return b;
}

static uint32_t count_strings(const char *b, uint32_t len)
{
    uint32_t i, n = 0;
    for (i = 0; i < len; i++)
        n += b[i] == 0;
    return n;
}

/* Strict decimal domid 0..65535.  (Xen uses atoi; Keel rejects garbage.) */
static int parse_domid(const char *s, unsigned *out)
{
    unsigned long v = 0;
    size_t i, l = strlen(s);
    if (!l || l > 5)
        return EINVAL;
    for (i = 0; i < l; i++) {
        if (s[i] < '0' || s[i] > '9')
            return EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 0xffff)
        return EINVAL;
    *out = (unsigned)v;
    return 0;
}

/* atoi-like: leading digits, anything else stops; "-..." means "huge". */
static unsigned long parse_ulong_lenient(const char *s, bool *neg)
{
    unsigned long v = 0;
    *neg = *s == '-';
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (unsigned)(*s - '0');
    return v;
}

/* Canonical absolute path of a one-string body, or NULL (*rc set). */
static char *path_arg(struct xs_conn *c, const char *b, uint32_t len, int *rc)
{
    const char *a = onearg(b, len);
    char *p;
    if (!a) {
        *rc = EINVAL;
        return NULL;
    }
    p = path_canon(c, a, false, NULL);
    *rc = p ? 0 : ENOMEM;
    return p;
}

/* ---- the store operations ---- */

static int op_read(struct xs_conn *c, const char *b, uint32_t len)
{
    struct node *n;
    int rc;
    char *p = path_arg(c, b, len, &rc);
    if (!p)
        return rc;
    rc = get_node(c, p, XS_P_READ, &n);
    free(p);
    if (rc)
        return rc;
    reply(c, XS_READ, n->val, n->vlen);
    return 0;
}

static int op_write(struct xs_conn *c, const char *b, uint32_t len)
{
    const char *nul = memchr(b, 0, len);
    size_t off;
    struct node *n;
    char *p;
    int rc;

    if (!nul)
        return EINVAL;
    off = (size_t)(nul - b) + 1;
    p = path_canon(c, b, false, NULL);
    if (!p)
        return ENOMEM;
    rc = get_node(c, p, XS_P_WRITE, &n);
    if (rc == ENOENT) {
        rc = create_node(c, p, b + off, (uint32_t)(len - off), &n);
    } else if (!rc) {
        if (!c->priv &&
            node_size(n->nperms, len - off, n->kidslen) >
            c->s->cfg.quota_entry_size)
            rc = ENOSPC;
        else
            rc = node_set_value(n, b + off, (uint32_t)(len - off));
        if (!rc)
            view_touch(c, n);
    }
    if (!rc) {
        view_changed(c, p, false, false, NULL, 0);
        ack(c, XS_WRITE);
    }
    free(p);
    return rc;
}

static int op_mkdir(struct xs_conn *c, const char *b, uint32_t len)
{
    struct node *n;
    int rc;
    char *p = path_arg(c, b, len, &rc);
    if (!p)
        return rc;
    rc = get_node(c, p, XS_P_WRITE, &n);
    if (rc == ENOENT) {
        rc = create_node(c, p, NULL, 0, &n);
        if (!rc)
            view_changed(c, p, false, false, NULL, 0);
    }
    if (!rc)
        ack(c, XS_MKDIR);
    free(p);
    return rc;
}

static int op_rm(struct xs_conn *c, const char *b, uint32_t len)
{
    struct node *n;
    int rc;
    char *p = path_arg(c, b, len, &rc);
    if (!p)
        return rc;
    rc = get_node(c, p, XS_P_WRITE, &n);
    if (rc == ENOENT) {
        /* Absent is fine if the parent exists (Xen). */
        char *parent = strdup(p);
        if (!parent) {
            rc = ENOMEM;
        } else {
            path_parent(p, parent);
            rc = view_get(c, parent, &n);
            if (!rc)
                ack(c, XS_RM);
            else if (rc != ENOMEM && rc != ENOSPC)
                rc = ENOENT;
            free(parent);
        }
    } else if (!rc) {
        if (!strcmp(p, "/"))
            rc = EINVAL;
        else
            rc = rm_node(c, p);
        if (!rc)
            ack(c, XS_RM);
    }
    free(p);
    return rc;
}

static int op_directory(struct xs_conn *c, const char *b, uint32_t len)
{
    struct node *n;
    int rc;
    char *p = path_arg(c, b, len, &rc);
    if (!p)
        return rc;
    rc = get_node(c, p, XS_P_READ, &n);
    free(p);
    if (!rc)
        reply(c, XS_DIRECTORY, n->kids, n->kidslen);
    return rc;
}

/* DIRECTORY_PART <path>|<offset>| -> <gencnt>|<children from offset>...,
 * ending with an empty string once the list is complete (Xen's format). */
static int op_directory_part(struct xs_conn *c, const char *b, uint32_t len)
{
    struct node *n;
    char gen[24], *p, *data;
    size_t genlen, maxlen, dl = 0;
    unsigned long off;
    bool neg;
    int rc;

    if (count_strings(b, len) != 2 || b[len - 1])
        return EINVAL;
    p = path_canon(c, b, false, NULL);
    if (!p)
        return ENOMEM;
    rc = get_node(c, p, XS_P_READ, &n);
    free(p);
    if (rc)
        return rc;
    off = parse_ulong_lenient(b + strlen(b) + 1, &neg);
    genlen = (size_t)snprintf(gen, sizeof(gen), "%llu",
                              (unsigned long long)n->gen) + 1;
    if (neg || off >= n->kidslen) {
        char empty[26];
        memcpy(empty, gen, genlen);
        empty[genlen] = 0;
        reply(c, XS_DIRECTORY_PART, empty, genlen + 1);
        return 0;
    }
    maxlen = XENSTORE_PAYLOAD_MAX - genlen - 1;
    while (off + dl < n->kidslen) {
        size_t l = strnlen(n->kids + off + dl, n->kidslen - off - dl);
        if (dl + l >= maxlen)
            break;
        dl += l + 1;
    }
    data = malloc(genlen + dl + 1);
    if (!data)
        return ENOMEM;
    memcpy(data, gen, genlen);
    memcpy(data + genlen, n->kids + off, dl);
    if (off + dl == n->kidslen)
        data[genlen + dl++] = 0;
    reply(c, XS_DIRECTORY_PART, data, genlen + dl);
    free(data);
    return 0;
}

static int op_get_perms(struct xs_conn *c, const char *b, uint32_t len)
{
    const char *a = onearg(b, len);
    const struct xs_perm *perms;
    uint32_t np;
    struct node *n;
    size_t sl;
    char *str, *p;
    int rc;

    if (!a)
        return EINVAL;
    if (a[0] == '@') {
        int sp = special_index(a);
        if (sp < 0)
            return EINVAL;
        perms = c->s->special[sp];
        np = c->s->nspecial[sp];
    } else {
        p = path_canon(c, a, false, NULL);
        if (!p)
            return ENOMEM;
        rc = get_node(c, p, XS_P_READ, &n);
        free(p);
        if (rc)
            return rc;
        perms = n->perms;
        np = n->nperms;
    }
    str = perms_format(perms, np, &sl);
    if (!str)
        return ENOMEM;
    reply(c, XS_GET_PERMS, str, sl);
    free(str);
    return 0;
}

static int op_set_perms(struct xs_conn *c, const char *b, uint32_t len)
{
    uint32_t num = count_strings(b, len), oldnp;
    struct xs_perm *perms = NULL, *old = NULL;
    struct node *n;
    size_t pl;
    char *p;
    int rc;

    if (num < 2 || b[len - 1])
        return EINVAL;
    num--;
    if (!c->priv && num > c->s->cfg.quota_perms)
        return ENOSPC;
    pl = strlen(b) + 1;
    rc = perms_parse(b + pl, len - pl, num, &perms);
    if (rc)
        return rc;
    if (b[0] == '@') {
        int sp = special_index(b);
        if (sp < 0) {
            rc = EINVAL;
        } else if ((perm_for(c, c->s->special[sp], c->s->nspecial[sp]) &
                    (XS_P_WRITE | XS_P_OWNER)) != (XS_P_WRITE | XS_P_OWNER)) {
            rc = EACCES;
        } else {
            free(c->s->special[sp]);
            c->s->special[sp] = perms;
            c->s->nspecial[sp] = num;
            perms = NULL;
            ack(c, XS_SET_PERMS);
        }
        free(perms);
        return rc;
    }
    p = path_canon(c, b, false, NULL);
    if (!p) {
        free(perms);
        return ENOMEM;
    }
    rc = get_node(c, p, XS_P_WRITE | XS_P_OWNER, &n);
    if (!rc && !c->priv && perms[0].id != n->perms[0].id)
        rc = EPERM;     /* unprivileged domains may not change the owner */
    if (!rc && !c->priv &&
        node_size(num, n->vlen, n->kidslen) > c->s->cfg.quota_entry_size)
        rc = ENOSPC;
    if (!rc) {
        oldnp = n->nperms;
        old = n->perms;
        n->perms = NULL;
        rc = node_set_perms(n, perms, num);
        if (rc) {
            n->perms = old;
            old = NULL;
        } else {
            if (!c->cur_tx) {
                if (oldnp)
                    dom_account(c->s, old[0].id, -1);
                dom_account(c->s, perms[0].id, 1);
            }
            view_touch(c, n);
            view_changed(c, p, false, true, old, oldnp);
            ack(c, XS_SET_PERMS);
        }
    }
    free(old);
    free(perms);
    free(p);
    return rc;
}

/* ---- transactions ---- */

static int op_transaction_start(struct xs_conn *c, const char *b, uint32_t len)
{
    char id[16];
    uint32_t tid;
    int rc;

    (void)b;
    (void)len;
    if (c->cur_tx)
        return EBUSY;   /* no nested transactions */
    /* Xen 4.17 checks "count > quota" before adding. */
    if (!c->priv && c->ntx > c->s->cfg.quota_transactions)
        return ENOSPC;
    rc = tx_start(c, &tid);
    if (rc)
        return rc;
    reply(c, XS_TRANSACTION_START, id,
          (size_t)snprintf(id, sizeof(id), "%u", (unsigned)tid) + 1);
    return 0;
}

static int op_transaction_end(struct xs_conn *c, const char *b, uint32_t len)
{
    const char *a = onearg(b, len);
    struct tx *t = c->cur_tx;
    int rc = 0;

    if (!t)
        return ENOENT;
    if (!a || (strcmp(a, "T") && strcmp(a, "F")))
        return EINVAL;
    c->cur_tx = NULL;
    if (a[0] == 'T')
        rc = tx_commit(c, t);
    tx_free(c, t);
    if (!rc)
        ack(c, XS_TRANSACTION_END);
    return rc;
}

/* ---- watches ---- */

static int op_watch_w(struct xs_conn *c, const char *b, uint32_t len)
{
    return op_watch(c, b, len);
}

static int op_unwatch_w(struct xs_conn *c, const char *b, uint32_t len)
{
    return op_unwatch(c, b, len);
}

static int op_reset_watches(struct xs_conn *c, const char *b, uint32_t len)
{
    (void)b;
    (void)len;
    c->cur_tx = NULL;
    conn_drop_state(c);
    ack(c, XS_RESET_WATCHES);
    return 0;
}

/* ---- domains ---- */

static int domid_arg(const char *b, uint32_t len, unsigned *domid)
{
    const char *a = onearg(b, len);
    return a ? parse_domid(a, domid) : EINVAL;
}

static int op_introduce(struct xs_conn *c, const char *b, uint32_t len)
{
    const char *v[3];
    unsigned domid, port;
    unsigned long mfn;
    bool neg, again;
    uint32_t off = 0, i;
    int rc;

    for (i = 0; i < 3; i++) {
        const char *nul = off < len ? memchr(b + off, 0, len - off) : NULL;
        if (!nul)
            return EINVAL;
        v[i] = b + off;
        off = (uint32_t)(nul - b) + 1;
    }
    if (parse_domid(v[0], &domid) || domid >= DOMID_FIRST_RESERVED)
        return EINVAL;
    mfn = parse_ulong_lenient(v[1], &neg);
    port = (unsigned)parse_ulong_lenient(v[2], &neg);
    if (neg || port == 0)
        return EINVAL;
    if (!c->s->ops.introduce)
        return ENOSYS;
    again = dom_introduced(c->s, domid);
    rc = c->s->ops.introduce(c->s->ops.opaque, c->s, domid, mfn, port, again);
    if (rc)
        return rc;
    if (!again)
        watch_fire(c->s, "@introduceDomain", true, NULL, 0);
    ack(c, XS_INTRODUCE);
    return 0;
}

static int op_release(struct xs_conn *c, const char *b, uint32_t len)
{
    struct dom *d;
    unsigned domid;
    int rc = domid_arg(b, len, &domid);

    if (rc)
        return rc;
    d = dom_find(c->s, domid, false);
    if (!d || !d->conn || d->conn->gone)
        return ENOENT;
    /* Reply first: the releasing connection may be the released one. */
    ack(c, XS_RELEASE);
    conn_mark_gone(d->conn);
    if (c->s->ops.release)
        c->s->ops.release(c->s->ops.opaque, c->s, domid, d->conn);
    watch_fire(c->s, "@releaseDomain", true, NULL, 0);
    return 0;
}

static int op_is_domain_introduced(struct xs_conn *c, const char *b,
                                   uint32_t len)
{
    unsigned domid;
    int rc = domid_arg(b, len, &domid);
    if (rc)
        return rc;
    reply(c, XS_IS_DOMAIN_INTRODUCED,
          dom_introduced(c->s, domid) ? "T" : "F", 2);
    return 0;
}

static int op_get_domain_path(struct xs_conn *c, const char *b, uint32_t len)
{
    char path[32];
    unsigned domid;
    int rc = domid_arg(b, len, &domid);
    if (rc)
        return rc;
    reply(c, XS_GET_DOMAIN_PATH, path,
          (size_t)snprintf(path, sizeof(path), "/local/domain/%u", domid) + 1);
    return 0;
}

static int op_resume(struct xs_conn *c, const char *b, uint32_t len)
{
    unsigned domid;
    int rc = domid_arg(b, len, &domid);
    if (rc)
        return rc;
    if (!dom_introduced(c->s, domid))
        return ENOENT;
    ack(c, XS_RESUME);
    return 0;
}

static int op_set_target(struct xs_conn *c, const char *b, uint32_t len)
{
    unsigned domid, tdomid;
    struct dom *d;

    if (count_strings(b, len) < 2)
        return EINVAL;
    if (parse_domid(b, &domid) || parse_domid(b + strlen(b) + 1, &tdomid))
        return EINVAL;
    if (!dom_introduced(c->s, domid) || !dom_introduced(c->s, tdomid))
        return ENOENT;
    d = dom_find(c->s, domid, false);
    d->target = tdomid;
    ack(c, XS_SET_TARGET);
    return 0;
}

/* CONTROL: only "check" and "help"; Xen's other commands (logging, live
 * update, quotas at run time) have no meaning here. */
static int op_control(struct xs_conn *c, const char *b, uint32_t len)
{
    static const char help[] = "check\nhelp\n";
    if (!count_strings(b, len))
        return EINVAL;
    if (!strcmp(b, "check")) {
        ack(c, XS_CONTROL);
        return 0;
    }
    if (!strcmp(b, "help")) {
        reply(c, XS_CONTROL, help, sizeof(help));
        return 0;
    }
    return EINVAL;
}

/* ---- dispatch ---- */

static const struct {
    int (*fn)(struct xs_conn *c, const char *body, uint32_t len);
    unsigned flags;
} ops[XS_TYPE_COUNT] = {
    [XS_CONTROL]              = { op_control, F_PRIV },
    [XS_DIRECTORY]            = { op_directory, 0 },
    [XS_READ]                 = { op_read, 0 },
    [XS_GET_PERMS]            = { op_get_perms, 0 },
    [XS_WATCH]                = { op_watch_w, F_NOTID },
    [XS_UNWATCH]              = { op_unwatch_w, F_NOTID },
    [XS_TRANSACTION_START]    = { op_transaction_start, 0 },
    [XS_TRANSACTION_END]      = { op_transaction_end, 0 },
    [XS_INTRODUCE]            = { op_introduce, F_PRIV },
    [XS_RELEASE]              = { op_release, F_PRIV },
    [XS_GET_DOMAIN_PATH]      = { op_get_domain_path, 0 },
    [XS_WRITE]                = { op_write, 0 },
    [XS_MKDIR]                = { op_mkdir, 0 },
    [XS_RM]                   = { op_rm, 0 },
    [XS_SET_PERMS]            = { op_set_perms, 0 },
    [XS_IS_DOMAIN_INTRODUCED] = { op_is_domain_introduced, F_PRIV },
    [XS_RESUME]               = { op_resume, F_PRIV },
    [XS_SET_TARGET]           = { op_set_target, F_PRIV },
    [XS_RESET_WATCHES]        = { op_reset_watches, 0 },
    [XS_DIRECTORY_PART]       = { op_directory_part, 0 },
};

int xs_conn_request(struct xs_conn *c, const struct xsd_sockmsg *hdr,
                    const void *body)
{
    uint32_t type = hdr->type;
    int rc;

    if (c->gone)
        return XS_CONN_GONE;
    if (hdr->len > XENSTORE_PAYLOAD_MAX)
        return XS_CONN_PROTOCOL_ERROR;
    c->outstanding++;
    c->cur_hdr = hdr;
    c->cur_tx = NULL;
    if (type >= XS_TYPE_COUNT || !ops[type].fn) {
        rc = ENOSYS;            /* Xen: unknown operation */
    } else if ((ops[type].flags & F_PRIV) && !c->priv) {
        rc = EACCES;
    } else {
        rc = 0;
        if (!(ops[type].flags & F_NOTID) && hdr->tx_id) {
            c->cur_tx = tx_find(c, hdr->tx_id);
            if (!c->cur_tx)
                rc = ENOENT;
        }
        if (!rc)
            rc = ops[type].fn(c, hdr->len ? body : "", hdr->len);
    }
    if (rc)
        reply_error(c, rc);
    c->cur_tx = NULL;
    c->cur_hdr = NULL;
    return XS_CONN_OK;
}

/* ---- framer ---- */

void xs_framer_init(struct xs_framer *f)
{
    f->have = 0;
    f->error = false;
}

int xs_framer_feed(struct xs_framer *f, const void *data, size_t len,
                   size_t *used)
{
    const char *d = data;
    size_t hs = sizeof(f->hdr);

    *used = 0;
    if (f->error)
        return XS_FRAME_ERROR;
    if (f->have >= hs && f->have == hs + f->hdr.len)
        f->have = 0;            /* the previous message was delivered */
    while (*used < len) {
        size_t want, take;
        if (f->have < hs) {
            want = hs - f->have;
            take = len - *used < want ? len - *used : want;
            memcpy((char *)&f->hdr + f->have, d + *used, take);
        } else {
            want = hs + f->hdr.len - f->have;
            take = len - *used < want ? len - *used : want;
            memcpy(f->body + (f->have - hs), d + *used, take);
        }
        f->have += take;
        *used += take;
        if (f->have == hs && f->hdr.len > XENSTORE_PAYLOAD_MAX) {
            f->error = true;
            return XS_FRAME_ERROR;
        }
        if (f->have >= hs && f->have == hs + f->hdr.len)
            return XS_FRAME_READY;
    }
    return XS_FRAME_MORE;
}

int xs_conn_input(struct xs_conn *c, const void *data, size_t len,
                  size_t *used)
{
    const char *d = data;
    *used = 0;
    while (*used < len) {
        size_t u;
        int r;
        if (c->gone)
            return XS_CONN_GONE;
        if (!xs_conn_can_accept(c))
            break;
        r = xs_framer_feed(&c->fr, d + *used, len - *used, &u);
        *used += u;
        if (r == XS_FRAME_ERROR)
            return XS_CONN_PROTOCOL_ERROR;
        if (r == XS_FRAME_READY) {
            struct xsd_sockmsg h = c->fr.hdr;
            r = xs_conn_request(c, &h, c->fr.body);
            if (r == XS_CONN_GONE)
                return r;
        }
    }
    return c->gone ? XS_CONN_GONE : XS_CONN_OK;
}
