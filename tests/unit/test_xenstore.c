/* Host unit test of the xenstore core (stubdoms/xenstore/xs_*.c): every
 * message type, permissions, watches, transactions, quotas, domains,
 * malformed input, the framer, and a seeded fuzz loop (under ASan/UBSan). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xs_store.h"
#include "unit.h"

/* ---- a client-side view of connections ---- */

struct msg {
    struct xsd_sockmsg h;
    char body[XENSTORE_PAYLOAD_MAX + 1];
};

struct client {
    struct xs_conn *c;
    struct xs_framer fr;
    struct msg *q;
    size_t n, cap;
};

#define MAXCL 16
static struct client cl[MAXCL];
static struct xs_store *S;
static uint32_t next_req = 100;
static struct msg R;                 /* the last reply */
static unsigned rng_state = 12345;

static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) & 0xffffff;
}

static struct client *find_cl(struct xs_conn *c)
{
    int i;
    for (i = 0; i < MAXCL; i++)
        if (cl[i].c == c)
            return &cl[i];
    return NULL;
}

static struct xs_conn *track(struct xs_conn *c)
{
    int i;
    for (i = 0; i < MAXCL; i++)
        if (!cl[i].c) {
            memset(&cl[i], 0, sizeof(cl[i]));
            cl[i].c = c;
            xs_framer_init(&cl[i].fr);
            return c;
        }
    abort();
}

static void untrack(struct xs_conn *c)
{
    struct client *k = find_cl(c);
    if (k) {
        free(k->q);
        memset(k, 0, sizeof(*k));
    }
}

/* Drains a connection's output in random-sized pieces through a framer. */
static void drain(struct client *k)
{
    const void *p;
    size_t n;
    while ((n = xs_conn_peek_output(k->c, &p)) > 0) {
        size_t take = 1 + rnd() % (n < 97 ? n : 97), used = 0;
        while (used < take) {
            size_t u;
            int r = xs_framer_feed(&k->fr, (const char *)p + used,
                                   take - used, &u);
            used += u;
            EXPECT(r != XS_FRAME_ERROR);
            if (r == XS_FRAME_ERROR)
                abort();
            if (r == XS_FRAME_READY) {
                if (k->n == k->cap) {
                    k->cap = k->cap ? k->cap * 2 : 16;
                    k->q = realloc(k->q, k->cap * sizeof(*k->q));
                }
                k->q[k->n].h = k->fr.hdr;
                memcpy(k->q[k->n].body, k->fr.body, k->fr.hdr.len);
                k->q[k->n].body[k->fr.hdr.len] = 0;
                k->n++;
            }
        }
        xs_conn_consume_output(k->c, take);
    }
}

static void drain_all(void)
{
    int i;
    for (i = 0; i < MAXCL; i++)
        if (cl[i].c)
            drain(&cl[i]);
}

static void qdel(struct client *k, size_t i)
{
    memmove(&k->q[i], &k->q[i + 1], (k->n - i - 1) * sizeof(*k->q));
    k->n--;
}

/* Sends one request and returns the reply's type (R holds the reply). */
static uint32_t req(struct xs_conn *c, uint32_t type, uint32_t tx,
                    const void *body, size_t len)
{
    struct xsd_sockmsg h = { type, next_req++, tx, (uint32_t)len };
    struct client *k = find_cl(c);
    size_t i;
    int rc = xs_conn_request(c, &h, body);

    EXPECT(rc == XS_CONN_OK);
    drain_all();
    memset(&R.h, 0, sizeof(R.h));
    R.body[0] = 0;
    for (i = 0; k && i < k->n; i++)
        if (k->q[i].h.type != XS_WATCH_EVENT && k->q[i].h.req_id == h.req_id) {
            R = k->q[i];
            EXPECT(R.h.tx_id == tx);
            qdel(k, i);
            return R.h.type;
        }
    R.h.type = 0xdead;
    return R.h.type;
}

#define Q(c, t, tx, lit) req((c), (t), (tx), (lit), sizeof(lit) - 1)
#define ERR(e) (R.h.type == XS_ERROR && !strcmp(R.body, (e)) && \
                R.h.len == strlen(e) + 1)
#define OK(t) (R.h.type == (t) && R.h.len == 3 && !strcmp(R.body, "OK"))
#define BODY(lit) (R.h.len == sizeof(lit) - 1 && !memcmp(R.body, lit, sizeof(lit) - 1))

/* Sends a request with the body given as a C string plus its NUL. */
static uint32_t reqs(struct xs_conn *c, uint32_t type, uint32_t tx,
                     const char *s)
{
    return req(c, type, tx, s, strlen(s) + 1);
}

/* Pops the first watch event for c; true if it is path/token. */
static bool event(struct xs_conn *c, const char *path, const char *token)
{
    struct client *k = find_cl(c);
    size_t i;
    for (i = 0; i < k->n; i++)
        if (k->q[i].h.type == XS_WATCH_EVENT) {
            struct msg *m = &k->q[i];
            bool ok = !strcmp(m->body, path) &&
                      !strcmp(m->body + strlen(m->body) + 1, token) &&
                      m->h.len == strlen(path) + strlen(token) + 2 &&
                      m->h.req_id == 0 && m->h.tx_id == 0;
            if (!ok)
                fprintf(stderr, "  event %s %s, wanted %s %s\n", m->body,
                        m->body + strlen(m->body) + 1, path, token);
            qdel(k, i);
            return ok;
        }
    fprintf(stderr, "  no event, wanted %s %s\n", path, token);
    return false;
}

static size_t nevents(struct xs_conn *c)
{
    struct client *k = find_cl(c);
    size_t i, n = 0;
    for (i = 0; i < k->n; i++)
        n += k->q[i].h.type == XS_WATCH_EVENT;
    return n;
}

static void clear_events(struct xs_conn *c)
{
    struct client *k = find_cl(c);
    k->n = 0;
}

/* ---- domain ops for INTRODUCE / RELEASE ---- */

static int intro_calls, release_calls, intro_fail;
static struct xs_conn *released;

static int t_introduce(void *opaque, struct xs_store *s, unsigned domid,
                       unsigned long mfn, unsigned port, bool again)
{
    (void)opaque;
    (void)mfn;
    (void)port;
    intro_calls++;
    if (intro_fail)
        return intro_fail;
    if (!again)
        track(xs_conn_new(s, domid, false));
    return 0;
}

static void t_release(void *opaque, struct xs_store *s, unsigned domid,
                      struct xs_conn *c)
{
    (void)opaque;
    (void)s;
    (void)domid;
    release_calls++;
    released = c;
}

static struct xs_conn *D0, *D1, *D2, *D3;

static void setup(const struct xs_config *cfg)
{
    struct xs_domain_ops ops = { t_introduce, t_release, NULL };
    S = xs_store_new(cfg, &ops);
    EXPECT(S != NULL);
    D0 = track(xs_conn_new(S, 0, true));
    D1 = track(xs_conn_new(S, 1, false));
    D2 = track(xs_conn_new(S, 2, false));
    D3 = track(xs_conn_new(S, 3, false));
    EXPECT(!xs_store_write_internal(S, "/local/domain/1", "", 0, 1, NULL, 0));
    EXPECT(!xs_store_write_internal(S, "/local/domain/2", "", 0, 2, NULL, 0));
    EXPECT(!xs_store_write_internal(S, "/local/domain/3", "", 0, 3, NULL, 0));
}

static void teardown(void)
{
    int i;
    for (i = 0; i < MAXCL; i++)
        if (cl[i].c)
            untrack(cl[i].c);
    xs_store_free(S);
    S = NULL;
}

/* ---- tests ---- */

static void test_initial_tree(void)
{
    char buf[16];
    struct xs_store *s = xs_store_new(NULL, NULL);
    struct xs_conn *c;

    S = s;
    c = track(xs_conn_new(s, 0, true));
    Q(c, XS_DIRECTORY, 0, "/\0");
    EXPECT(BODY("tool\0"));
    Q(c, XS_DIRECTORY, 0, "/tool\0");
    EXPECT(BODY("xenstored\0"));
    Q(c, XS_GET_PERMS, 0, "/\0");
    EXPECT(BODY("n0\0"));
    Q(c, XS_READ, 0, "/tool/xenstored\0");
    EXPECT(R.h.type == XS_READ && R.h.len == 0);
    EXPECT(xs_store_read_internal(s, "/tool", buf, sizeof(buf)) == 0);
    EXPECT(xs_store_read_internal(s, "/nope", buf, sizeof(buf)) == -ENOENT);
    EXPECT(xs_store_read_internal(s, "bad", buf, sizeof(buf)) == -EINVAL);
    /* INTRODUCE without ops */
    Q(c, XS_INTRODUCE, 0, "5\0" "1234\0" "7\0");
    EXPECT(ERR("ENOSYS"));
    teardown();
}

static void test_basic_rw(void)
{
    char buf[64];

    setup(NULL);
    /* write, read back, with absolute and relative paths */
    Q(D1, XS_WRITE, 0, "/local/domain/1/a/b\0hello");
    EXPECT(OK(XS_WRITE));
    Q(D1, XS_READ, 0, "a/b\0");
    EXPECT(R.h.type == XS_READ && BODY("hello"));
    Q(D1, XS_READ, 0, "/local/domain/1/a\0");
    EXPECT(R.h.type == XS_READ && R.h.len == 0);
    /* binary values with NULs */
    Q(D1, XS_WRITE, 0, "bin\0x\0y\0");
    Q(D1, XS_READ, 0, "bin\0");
    EXPECT(BODY("x\0y\0"));
    /* empty value */
    Q(D1, XS_WRITE, 0, "empty\0");
    EXPECT(OK(XS_WRITE));
    Q(D1, XS_READ, 0, "empty\0");
    EXPECT(R.h.type == XS_READ && R.h.len == 0);
    /* directory lists children in creation order */
    Q(D1, XS_DIRECTORY, 0, "\0");
    EXPECT(ERR("EINVAL"));          /* "" is /local/domain/1/ */
    Q(D1, XS_DIRECTORY, 0, "/local/domain/1\0");
    EXPECT(R.h.type == XS_DIRECTORY && BODY("a\0bin\0empty\0"));
    /* mkdir: existing node unchanged, new node empty */
    Q(D1, XS_MKDIR, 0, "a/b\0");
    EXPECT(OK(XS_MKDIR));
    Q(D1, XS_READ, 0, "a/b\0");
    EXPECT(BODY("hello"));
    Q(D1, XS_MKDIR, 0, "m/n/o\0");
    EXPECT(OK(XS_MKDIR));
    Q(D1, XS_DIRECTORY, 0, "m/n\0");
    EXPECT(BODY("o\0"));
    /* rm */
    Q(D1, XS_RM, 0, "m\0");
    EXPECT(OK(XS_RM));
    Q(D1, XS_READ, 0, "m/n/o\0");
    EXPECT(ERR("ENOENT"));
    Q(D1, XS_RM, 0, "m\0");           /* absent, parent exists: fine */
    EXPECT(OK(XS_RM));
    Q(D1, XS_RM, 0, "m/x/y\0");       /* parent absent too */
    EXPECT(ERR("ENOENT"));
    Q(D0, XS_RM, 0, "/\0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_RM, 0, "/\0");
    EXPECT(ERR("EACCES"));
    /* the internal API */
    EXPECT(xs_store_read_internal(S, "/local/domain/1/a/b", buf, 64) == 5 &&
           !memcmp(buf, "hello", 5));
    EXPECT(xs_store_rm_internal(S, "/local/domain/1/bin") == 0);
    EXPECT(xs_store_rm_internal(S, "/local/domain/1/bin") == ENOENT);
    EXPECT(xs_store_rm_internal(S, "/") == EINVAL);
    EXPECT(xs_store_write_internal(S, "/x/", "", 0, 0, NULL, 0) == EINVAL);
    EXPECT(xs_store_write_internal(S, "/x", "", 0, 0, "q1", 3) == EINVAL);
    EXPECT(xs_store_write_internal(S, "/x", "v", 1, 0, "b5\0r0", 6) == 0);
    Q(D0, XS_GET_PERMS, 0, "/x\0");
    EXPECT(BODY("b5\0r0\0"));
    EXPECT(xs_store_domain_nodes(S, 5) == 1);
    teardown();
}

static void test_paths(void)
{
    static char longp[4000];
    size_t i;

    setup(NULL);
    Q(D0, XS_READ, 0, "/a//b\0");
    EXPECT(ERR("EINVAL"));
    Q(D0, XS_READ, 0, "/a/\0");
    EXPECT(ERR("EINVAL"));
    Q(D0, XS_WRITE, 0, "/a b\0x");
    EXPECT(ERR("EINVAL"));
    Q(D0, XS_WRITE, 0, "/a.b\0x");
    EXPECT(ERR("EINVAL"));
    Q(D0, XS_WRITE, 0, "/ok-_@9\0x");
    EXPECT(OK(XS_WRITE));
    Q(D0, XS_READ, 0, "@introduceDomain\0");  /* relative, like Xen */
    EXPECT(ERR("ENOENT"));
    Q(D1, XS_READ, 0, "//\0");
    EXPECT(ERR("EINVAL"));
    /* relative paths of an unprivileged domain: at most 2048 below home */
    for (i = 0; i < 2048; i++)
        longp[i] = (i % 64 == 62) ? '/' : 'a';
    longp[2048] = 0;
    Q(D1, XS_MKDIR, 0, "x\0");
    EXPECT(reqs(D1, XS_WRITE, 0, longp) == XS_WRITE);
    longp[2048] = 'b';
    longp[2049] = 0;
    EXPECT(reqs(D1, XS_WRITE, 0, longp) == XS_ERROR && ERR("EINVAL"));
    /* a privileged domain is limited only by the absolute maximum */
    memmove(longp + 1, longp, 2050);
    longp[0] = '/';
    EXPECT(reqs(D0, XS_WRITE, 0, longp) == XS_WRITE);
    for (i = 0; i < 3100; i++)
        longp[i] = (i % 64 == 0) ? '/' : 'c';
    longp[3100] = 0;
    EXPECT(reqs(D0, XS_MKDIR, 0, longp) == XS_ERROR && ERR("EINVAL"));
    teardown();
}

static void test_malformed(void)
{
    struct xsd_sockmsg h = { XS_READ, 7, 0, XENSTORE_PAYLOAD_MAX + 1 };
    size_t i;

    setup(NULL);
    /* missing NUL, empty body, extra strings */
    Q(D1, XS_READ, 0, "abc");
    EXPECT(ERR("EINVAL"));
    req(D1, XS_READ, 0, NULL, 0);
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_READ, 0, "a\0b\0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_WRITE, 0, "novalue");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_MKDIR, 0, "a");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_RM, 0, "");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_DIRECTORY, 0, "x");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_GET_PERMS, 0, "x");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_SET_PERMS, 0, "x\0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_SET_PERMS, 0, "x\0b1");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_DIRECTORY_PART, 0, "x\0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_DIRECTORY_PART, 0, "x\0" "0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_WATCH, 0, "x\0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_WATCH, 0, "x\0t\0extra\0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_UNWATCH, 0, "x");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_GET_DOMAIN_PATH, 0, "");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_GET_DOMAIN_PATH, 0, "x1\0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_GET_DOMAIN_PATH, 0, "70000\0");
    EXPECT(ERR("EINVAL"));
    /* unknown and reply-only types */
    Q(D1, 99, 0, "x\0");
    EXPECT(ERR("ENOSYS"));
    Q(D1, XS_TYPE_COUNT, 0, "x\0");
    EXPECT(ERR("ENOSYS"));
    Q(D1, XS_WATCH_EVENT, 0, "x\0t\0");
    EXPECT(ERR("ENOSYS"));
    Q(D1, XS_ERROR, 0, "EINVAL\0");
    EXPECT(ERR("ENOSYS"));
    Q(D1, 20, 0, "\0");     /* the removed XS_RESTRICT */
    EXPECT(ERR("ENOSYS"));
    req(D1, XS_INVALID, 0, "x", 1);
    EXPECT(ERR("ENOSYS"));
    /* privileged-only types */
    Q(D1, XS_CONTROL, 0, "help\0");
    EXPECT(ERR("EACCES"));
    Q(D0, XS_CONTROL, 0, "help\0");
    EXPECT(R.h.type == XS_CONTROL && R.h.len > 0);
    Q(D0, XS_CONTROL, 0, "check\0");
    EXPECT(OK(XS_CONTROL));
    Q(D0, XS_CONTROL, 0, "live-update\0");
    EXPECT(ERR("EINVAL"));
    Q(D0, XS_CONTROL, 0, "");
    EXPECT(ERR("EINVAL"));
    /* errors echo req_id and tx_id (checked in req()), also for bad tx */
    Q(D1, XS_READ, 777, "a\0");
    EXPECT(ERR("ENOENT") && R.h.tx_id == 777);
    /* over-long header: protocol error, then the connection still works */
    EXPECT(xs_conn_request(D1, &h, "") == XS_CONN_PROTOCOL_ERROR);
    Q(D1, XS_WRITE, 0, "still\0ok");
    EXPECT(OK(XS_WRITE));
    /* random garbage bodies get error replies */
    for (i = 0; i < 200; i++) {
        char b[64];
        size_t j, l = rnd() % sizeof(b);
        for (j = 0; j < l; j++)
            b[j] = (char)(rnd() & 0xff);
        EXPECT(req(D1, rnd() % (XS_TYPE_COUNT + 2), 0, b, l) != 0xdead);
    }
    teardown();
}

static void test_perms(void)
{
    setup(NULL);
    Q(D1, XS_WRITE, 0, "p\0v");
    Q(D1, XS_GET_PERMS, 0, "p\0");
    EXPECT(BODY("b1\0") || BODY("n1\0"));
    /* created by an unprivileged domain: parent's perms, owner = creator */
    EXPECT(!xs_store_write_internal(S, "/shared", "", 0, 0, "n0\0b1\0b2\0", 9));
    Q(D1, XS_WRITE, 0, "/shared/one\0x");
    EXPECT(OK(XS_WRITE));
    Q(D1, XS_GET_PERMS, 0, "/shared/one\0");
    EXPECT(BODY("n1\0b1\0b2\0"));
    Q(D2, XS_WRITE, 0, "/shared/one/two\0y");    /* via the b2 entry */
    Q(D2, XS_GET_PERMS, 0, "/shared/one/two\0");
    EXPECT(BODY("n2\0b1\0b2\0"));
    Q(D3, XS_READ, 0, "/shared/one\0");
    EXPECT(ERR("EACCES"));
    Q(D3, XS_READ, 0, "/shared/none\0");         /* parent unreadable */
    EXPECT(ERR("EACCES"));
    Q(D1, XS_READ, 0, "/shared/none\0");         /* parent readable */
    EXPECT(ERR("ENOENT"));
    Q(D3, XS_WRITE, 0, "/shared/three\0z");
    EXPECT(ERR("EACCES"));
    /* a privileged creator keeps the parent's owner */
    Q(D0, XS_WRITE, 0, "/shared/zero\0z");
    Q(D0, XS_GET_PERMS, 0, "/shared/zero\0");
    EXPECT(BODY("n0\0b1\0b2\0"));

    /* owner sets perms; first entry is the default for others */
    Q(D1, XS_SET_PERMS, 0, "p\0n1\0r2\0");
    EXPECT(OK(XS_SET_PERMS));
    Q(D2, XS_READ, 0, "/local/domain/1/p\0");
    EXPECT(BODY("v"));
    Q(D2, XS_WRITE, 0, "/local/domain/1/p\0w");
    EXPECT(ERR("EACCES"));
    Q(D3, XS_READ, 0, "/local/domain/1/p\0");
    EXPECT(ERR("EACCES"));
    Q(D1, XS_SET_PERMS, 0, "p\0r1\0");            /* others may read */
    Q(D3, XS_READ, 0, "/local/domain/1/p\0");
    EXPECT(BODY("v"));
    Q(D1, XS_SET_PERMS, 0, "p\0n1\0w3\0");        /* write-only for 3 */
    Q(D3, XS_WRITE, 0, "/local/domain/1/p\0w3");
    EXPECT(OK(XS_WRITE));
    Q(D3, XS_READ, 0, "/local/domain/1/p\0");
    EXPECT(ERR("EACCES"));
    /* the owner always has full access, whatever its entry says */
    Q(D1, XS_SET_PERMS, 0, "p\0n1\0n1\0");
    Q(D1, XS_READ, 0, "p\0");
    EXPECT(BODY("w3"));
    /* only the owner (or privileged) sets perms; owner change is EPERM */
    Q(D1, XS_SET_PERMS, 0, "p\0n1\0b2\0");
    Q(D2, XS_SET_PERMS, 0, "/local/domain/1/p\0b2\0");
    EXPECT(ERR("EACCES"));
    Q(D1, XS_SET_PERMS, 0, "p\0n2\0");
    EXPECT(ERR("EPERM"));
    Q(D0, XS_SET_PERMS, 0, "/local/domain/1/p\0n2\0");
    EXPECT(OK(XS_SET_PERMS));
    EXPECT(xs_store_domain_nodes(S, 2) >= 2);
    Q(D1, XS_READ, 0, "p\0");
    EXPECT(ERR("EACCES"));
    /* parse errors and the perms quota */
    Q(D2, XS_SET_PERMS, 0, "/local/domain/1/p\0x2\0");
    EXPECT(ERR("EINVAL"));
    Q(D2, XS_SET_PERMS, 0, "/local/domain/1/p\0r\0");
    EXPECT(ERR("EINVAL"));
    Q(D2, XS_SET_PERMS, 0, "/local/domain/1/p\0r2x\0");
    EXPECT(ERR("EINVAL"));
    Q(D2, XS_SET_PERMS, 0, "/local/domain/1/p\0r99999\0");
    EXPECT(ERR("EINVAL"));
    Q(D2, XS_SET_PERMS, 0, "/local/domain/1/p\0n2\0r1\0r3\0r4\0r5\0");
    EXPECT(OK(XS_SET_PERMS));
    Q(D2, XS_SET_PERMS, 0, "/local/domain/1/p\0n2\0r1\0r3\0r4\0r5\0r6\0");
    EXPECT(ERR("ENOSPC"));
    Q(D0, XS_SET_PERMS, 0, "/local/domain/1/p\0n2\0r1\0r3\0r4\0r5\0r6\0");
    EXPECT(OK(XS_SET_PERMS));
    Q(D2, XS_GET_PERMS, 0, "/local/domain/1/p\0");
    EXPECT(BODY("n2\0r1\0r3\0r4\0r5\0r6\0"));
    Q(D2, XS_SET_PERMS, 0, "/local/domain/1/nope\0n2\0");
    EXPECT(ERR("EACCES"));                 /* parent not writable for 2 */
    Q(D1, XS_SET_PERMS, 0, "nope\0n1\0");
    EXPECT(ERR("ENOENT"));
    /* special nodes */
    Q(D1, XS_GET_PERMS, 0, "@introduceDomain\0");
    EXPECT(BODY("n0\0"));
    Q(D1, XS_GET_PERMS, 0, "@other\0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_SET_PERMS, 0, "@releaseDomain\0r1\0");
    EXPECT(ERR("EACCES"));
    Q(D0, XS_SET_PERMS, 0, "@bogus\0r1\0");
    EXPECT(ERR("EINVAL"));
    teardown();
}

static void test_watches(void)
{
    int i, ok;

    setup(NULL);
    Q(D1, XS_WATCH, 0, "/local/domain/1/w\0tokA\0");
    EXPECT(OK(XS_WATCH));
    EXPECT(event(D1, "/local/domain/1/w", "tokA"));     /* fires at once */
    Q(D1, XS_WATCH, 0, "w\0rel\0");                     /* relative */
    EXPECT(event(D1, "w", "rel"));
    Q(D1, XS_WATCH, 0, "w\0rel\0");
    EXPECT(ERR("EEXIST"));
    Q(D1, XS_WATCH, 99, "w\0rel2\0");                   /* tx_id ignored */
    EXPECT(OK(XS_WATCH) && event(D1, "w", "rel2"));
    Q(D1, XS_UNWATCH, 0, "w\0rel2\0");
    EXPECT(OK(XS_UNWATCH));

    Q(D0, XS_WRITE, 0, "/local/domain/1/w/x/y\0v");
    EXPECT(event(D1, "/local/domain/1/w/x/y", "tokA"));
    EXPECT(event(D1, "w/x/y", "rel"));
    EXPECT(nevents(D1) == 0);
    Q(D0, XS_WRITE, 0, "/local/domain/1/wx\0v");        /* not a child */
    EXPECT(nevents(D1) == 0);
    Q(D1, XS_WRITE, 0, "w\0v");                         /* own change */
    EXPECT(event(D1, "/local/domain/1/w", "tokA") && event(D1, "w", "rel"));

    /* rm of a parent fires each removed watched node */
    Q(D1, XS_WATCH, 0, "/local/domain/1/w/x/y\0deep\0");
    EXPECT(event(D1, "/local/domain/1/w/x/y", "deep"));
    Q(D1, XS_RM, 0, "w/x\0");
    /* the removed node for watches above it, then each removed node
     * exactly (Xen 4.17 fires descendants with exact matching) */
    EXPECT(event(D1, "/local/domain/1/w/x", "tokA"));
    EXPECT(event(D1, "w/x", "rel"));
    EXPECT(event(D1, "/local/domain/1/w/x/y", "deep"));
    EXPECT(nevents(D1) == 0);

    /* permission filter: D2 watches D1's node it cannot read */
    Q(D2, XS_WATCH, 0, "/local/domain/1/w\0spy\0");
    EXPECT(OK(XS_WATCH) && event(D2, "/local/domain/1/w", "spy"));
    Q(D1, XS_WRITE, 0, "w\0secret");
    EXPECT(nevents(D2) == 0);
    clear_events(D1);
    /* made readable: the change of perms itself is seen */
    Q(D1, XS_SET_PERMS, 0, "w\0n1\0r2\0");
    EXPECT(event(D2, "/local/domain/1/w", "spy"));
    clear_events(D1);
    /* taking read access away: the event still goes out (old perms) */
    Q(D1, XS_SET_PERMS, 0, "w\0n1\0");
    EXPECT(event(D2, "/local/domain/1/w", "spy"));
    Q(D1, XS_WRITE, 0, "w\0again");
    EXPECT(nevents(D2) == 0);
    clear_events(D1);
    /* readable parent is enough (Xen's rule) */
    Q(D1, XS_SET_PERMS, 0, "/local/domain/1\0n1\0r2\0");
    Q(D1, XS_WRITE, 0, "w\0more");
    EXPECT(event(D2, "/local/domain/1/w", "spy"));
    clear_events(D1);

    /* special watches */
    Q(D1, XS_WATCH, 0, "@introduceDomain\0in\0");
    EXPECT(OK(XS_WATCH) && event(D1, "@introduceDomain", "in"));
    Q(D0, XS_WATCH, 0, "@introduceDomain\0in0\0");
    EXPECT(event(D0, "@introduceDomain", "in0"));
    Q(D0, XS_WATCH, 0, "@releaseDomain\0rel0\0");
    EXPECT(event(D0, "@releaseDomain", "rel0"));
    Q(D0, XS_WATCH, 0, "/\0root\0");
    EXPECT(event(D0, "/", "root"));
    Q(D0, XS_INTRODUCE, 0, "9\0" "4096\0" "3\0");
    EXPECT(OK(XS_INTRODUCE));
    EXPECT(event(D0, "@introduceDomain", "in0"));
    EXPECT(nevents(D0) == 0);             /* "/" does not match "@..." */
    EXPECT(nevents(D1) == 0);             /* no read on @introduceDomain */
    Q(D0, XS_SET_PERMS, 0, "@introduceDomain\0n0\0r1\0");
    EXPECT(OK(XS_SET_PERMS));
    Q(D0, XS_GET_PERMS, 0, "@introduceDomain\0");
    EXPECT(BODY("n0\0r1\0"));
    Q(D0, XS_INTRODUCE, 0, "10\0" "4096\0" "3\0");
    EXPECT(event(D1, "@introduceDomain", "in"));
    EXPECT(event(D0, "@introduceDomain", "in0"));
    xs_store_fire_special(S, "@releaseDomain");
    drain_all();
    EXPECT(event(D0, "@releaseDomain", "rel0"));
    xs_store_fire_special(S, "@nothing");
    drain_all();
    EXPECT(nevents(D0) == 0);
    Q(D1, XS_WATCH, 0, "@anything-goes\0x\0");      /* any @ syntax */
    EXPECT(OK(XS_WATCH) && event(D1, "@anything-goes", "x"));
    Q(D1, XS_WATCH, 0, "/bad//path\0x\0");
    EXPECT(ERR("EINVAL"));

    /* unwatch / reset */
    Q(D1, XS_UNWATCH, 0, "w\0nope\0");
    EXPECT(ERR("ENOENT"));
    Q(D1, XS_UNWATCH, 0, "/local/domain/1/w\0tokA\0");
    EXPECT(OK(XS_UNWATCH));
    Q(D1, XS_WRITE, 0, "w\0again");
    EXPECT(event(D1, "w", "rel") && nevents(D1) == 0);
    Q(D1, XS_TRANSACTION_START, 0, "\0");
    EXPECT(xs_conn_transaction_count(D1) == 1);
    Q(D1, XS_RESET_WATCHES, 0, "\0");
    EXPECT(OK(XS_RESET_WATCHES));
    EXPECT(xs_conn_watch_count(D1) == 0 && xs_conn_transaction_count(D1) == 0);
    Q(D1, XS_WRITE, 0, "w\0again");
    EXPECT(nevents(D1) == 0);

    /* watch quota: Xen checks count > 128 before adding, so 129 fit */
    ok = 0;
    for (i = 0; i < 140; i++) {
        char b[32];
        int l = snprintf(b, sizeof(b), "q%d", i);
        memcpy(b + l + 1, "t", 2);
        if (req(D3, XS_WATCH, 0, b, (size_t)l + 3) == XS_WATCH)
            ok++;
        else
            EXPECT(ERR("E2BIG"));
    }
    EXPECT(ok == 129);
    clear_events(D3);
    ok = 0;
    for (i = 0; i < 140; i++) {              /* privileged: no quota */
        char b[32];
        int l = snprintf(b, sizeof(b), "/q%d", i);
        memcpy(b + l + 1, "t", 2);
        ok += req(D0, XS_WATCH, 0, b, (size_t)l + 3) == XS_WATCH;
    }
    EXPECT(ok == 140);
    clear_events(D0);

    /* too-long events are not sent */
    {
        static char b[4096];
        size_t l;
        memset(b, 0, sizeof(b));
        memcpy(b, "/local/domain/2/t", 17);
        memset(b + 18, 'k', 4060);
        l = 18 + 4060 + 1;
        EXPECT(Q(D2, XS_WRITE, 0, "t\0") == XS_WRITE);
        EXPECT(req(D2, XS_WATCH, 0, b, l) == XS_WATCH);
        clear_events(D2);
        EXPECT(Q(D2, XS_WRITE, 0, "t\0") == XS_WRITE);
        EXPECT(nevents(D2) == 1);           /* 4079 bytes: sent */
        clear_events(D2);
        EXPECT(Q(D2, XS_WRITE, 0, "t/abcdefghijklmnopqrstuvwxyz\0") ==
               XS_WRITE);
        EXPECT(nevents(D2) == 0);           /* over 4096: dropped */
    }
    teardown();
}

static void test_transactions(void)
{
    char id[16], b[64];
    uint32_t t1, t2;
    int i, ok;

    setup(NULL);
    Q(D1, XS_WRITE, 0, "x\0one");
    Q(D2, XS_WATCH, 0, "/local/domain/1\0w2\0");
    clear_events(D2);
    Q(D1, XS_SET_PERMS, 0, "/local/domain/1\0n1\0r2\0");
    Q(D1, XS_SET_PERMS, 0, "x\0n1\0r2\0");
    clear_events(D2);

    Q(D1, XS_TRANSACTION_START, 0, "\0");
    EXPECT(R.h.type == XS_TRANSACTION_START && R.h.len >= 2 &&
           R.body[R.h.len - 1] == 0);
    t1 = (uint32_t)strtoul(R.body, NULL, 10);
    EXPECT(t1 != 0);
    Q(D1, XS_TRANSACTION_START, t1, "\0");
    EXPECT(ERR("EBUSY"));
    Q(D1, XS_WRITE, t1, "x\0two");
    EXPECT(OK(XS_WRITE) && R.h.tx_id == t1);
    Q(D1, XS_WRITE, t1, "y/z\0new");
    Q(D1, XS_READ, t1, "x\0");
    EXPECT(BODY("two"));
    Q(D1, XS_READ, 0, "x\0");
    EXPECT(BODY("one"));
    Q(D1, XS_READ, 0, "y/z\0");
    EXPECT(ERR("ENOENT"));
    Q(D1, XS_DIRECTORY, t1, "/local/domain/1\0");
    EXPECT(BODY("x\0y\0"));
    EXPECT(nevents(D2) == 0);                 /* nothing until commit */
    Q(D1, XS_TRANSACTION_END, t1, "X\0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_TRANSACTION_END, t1, "T\0");
    EXPECT(OK(XS_TRANSACTION_END));
    Q(D1, XS_READ, 0, "x\0");
    EXPECT(BODY("two"));
    Q(D1, XS_READ, 0, "y/z\0");
    EXPECT(BODY("new"));
    EXPECT(event(D2, "/local/domain/1/x", "w2"));
    EXPECT(event(D2, "/local/domain/1/y/z", "w2"));
    EXPECT(nevents(D2) == 0);
    Q(D1, XS_READ, t1, "x\0");                /* gone now */
    EXPECT(ERR("ENOENT"));
    Q(D1, XS_TRANSACTION_END, 0, "T\0");
    EXPECT(ERR("ENOENT"));

    /* abort */
    Q(D1, XS_TRANSACTION_START, 0, "\0");
    t1 = (uint32_t)strtoul(R.body, NULL, 10);
    Q(D1, XS_WRITE, t1, "x\0aborted");
    Q(D1, XS_RM, t1, "y\0");
    Q(D1, XS_READ, t1, "y/z\0");
    EXPECT(ERR("ENOENT"));
    Q(D1, XS_TRANSACTION_END, t1, "F\0");
    EXPECT(OK(XS_TRANSACTION_END));
    Q(D1, XS_READ, 0, "x\0");
    EXPECT(BODY("two"));
    Q(D1, XS_READ, 0, "y/z\0");
    EXPECT(BODY("new"));
    EXPECT(nevents(D2) == 0);

    /* conflict: another writer changes a node the tx read */
    Q(D1, XS_TRANSACTION_START, 0, "\0");
    t1 = (uint32_t)strtoul(R.body, NULL, 10);
    Q(D1, XS_READ, t1, "x\0");
    Q(D1, XS_WRITE, t1, "other\0v");
    Q(D0, XS_WRITE, 0, "/local/domain/1/x\0changed");
    clear_events(D2);
    Q(D1, XS_TRANSACTION_END, t1, "T\0");
    EXPECT(ERR("EAGAIN"));
    Q(D1, XS_READ, 0, "other\0");
    EXPECT(ERR("ENOENT"));
    EXPECT(xs_conn_transaction_count(D1) == 0);
    EXPECT(nevents(D2) == 0);

    /* no conflict: unrelated writes elsewhere */
    Q(D1, XS_TRANSACTION_START, 0, "\0");
    t1 = (uint32_t)strtoul(R.body, NULL, 10);
    Q(D1, XS_READ, t1, "x\0");
    Q(D1, XS_WRITE, t1, "x\0mine");
    Q(D2, XS_WRITE, 0, "elsewhere\0v");
    Q(D1, XS_TRANSACTION_END, t1, "T\0");
    EXPECT(OK(XS_TRANSACTION_END));
    Q(D1, XS_READ, 0, "x\0");
    EXPECT(BODY("mine"));
    clear_events(D2);

    /* conflict on a node changed after start but first read later */
    Q(D1, XS_TRANSACTION_START, 0, "\0");
    t1 = (uint32_t)strtoul(R.body, NULL, 10);
    Q(D0, XS_WRITE, 0, "/local/domain/1/x\0later");
    Q(D1, XS_READ, t1, "x\0");
    EXPECT(BODY("later"));
    Q(D1, XS_TRANSACTION_END, t1, "T\0");
    EXPECT(ERR("EAGAIN"));
    /* conflict: a node the tx found absent was created meanwhile */
    Q(D1, XS_TRANSACTION_START, 0, "\0");
    t1 = (uint32_t)strtoul(R.body, NULL, 10);
    Q(D1, XS_READ, t1, "fresh\0");
    EXPECT(ERR("ENOENT"));
    Q(D1, XS_WRITE, 0, "fresh\0v");
    Q(D1, XS_TRANSACTION_END, t1, "T\0");
    EXPECT(ERR("EAGAIN"));
    /* two transactions of one connection, one commits */
    Q(D1, XS_TRANSACTION_START, 0, "\0");
    t1 = (uint32_t)strtoul(R.body, NULL, 10);
    Q(D1, XS_TRANSACTION_START, 0, "\0");
    t2 = (uint32_t)strtoul(R.body, NULL, 10);
    EXPECT(t1 != t2);
    Q(D1, XS_WRITE, t1, "c\0t1");
    Q(D1, XS_WRITE, t2, "c\0t2");
    Q(D1, XS_TRANSACTION_END, t2, "T\0");
    EXPECT(OK(XS_TRANSACTION_END));
    Q(D1, XS_TRANSACTION_END, t1, "T\0");
    EXPECT(ERR("EAGAIN"));
    Q(D1, XS_READ, 0, "c\0");
    EXPECT(BODY("t2"));
    /* rm / mkdir / set_perms / directory_part inside a tx */
    Q(D1, XS_TRANSACTION_START, 0, "\0");
    t1 = (uint32_t)strtoul(R.body, NULL, 10);
    Q(D1, XS_RM, t1, "y\0");
    EXPECT(OK(XS_RM));
    Q(D1, XS_MKDIR, t1, "d/e\0");
    Q(D1, XS_SET_PERMS, t1, "d\0n1\0b2\0");
    Q(D1, XS_DIRECTORY_PART, t1, "d\0" "0\0");
    EXPECT(R.h.type == XS_DIRECTORY_PART);
    Q(D1, XS_GET_PERMS, 0, "d\0");
    EXPECT(ERR("ENOENT"));
    clear_events(D2);
    Q(D1, XS_TRANSACTION_END, t1, "T\0");
    EXPECT(OK(XS_TRANSACTION_END));
    Q(D1, XS_GET_PERMS, 0, "d\0");
    EXPECT(BODY("n1\0b2\0"));
    Q(D1, XS_READ, 0, "y\0");
    EXPECT(ERR("ENOENT"));
    EXPECT(event(D2, "/local/domain/1/y", "w2"));
    EXPECT(event(D2, "/local/domain/1/d/e", "w2"));
    EXPECT(event(D2, "/local/domain/1/d", "w2"));
    EXPECT(nevents(D2) == 0);
    clear_events(D2);

    /* transaction quota: Xen checks count > 10 before adding: 11 fit */
    ok = 0;
    for (i = 0; i < 15; i++) {
        if (Q(D3, XS_TRANSACTION_START, 0, "\0") == XS_TRANSACTION_START)
            ok++;
        else
            EXPECT(ERR("ENOSPC"));
    }
    EXPECT(ok == 11);
    Q(D3, XS_RESET_WATCHES, 0, "\0");
    for (i = 0; i < 15; i++)
        EXPECT(Q(D0, XS_TRANSACTION_START, 0, "\0") == XS_TRANSACTION_START);
    EXPECT(xs_conn_transaction_count(D0) == 15);
    snprintf(id, sizeof(id), "%u", 1u);
    (void)id;
    (void)b;
    teardown();
}

static void test_directory_part(void)
{
    static char all[32768];
    size_t alllen = 0, got = 0;
    char b[128], gen0[32] = "";
    int i, rounds = 0;
    unsigned long off = 0;

    setup(NULL);
    for (i = 0; i < 200; i++) {
        int l = snprintf(b, sizeof(b),
                         "/big/child-with-a-rather-long-name-%04d", i);
        EXPECT(req(D0, XS_WRITE, 0, b, (size_t)l + 1) == XS_WRITE);
        l = snprintf(all + alllen, sizeof(all) - alllen,
                     "child-with-a-rather-long-name-%04d", i);
        alllen += (size_t)l + 1;
    }
    EXPECT(alllen > XENSTORE_PAYLOAD_MAX);
    Q(D0, XS_DIRECTORY, 0, "/big\0");
    EXPECT(ERR("E2BIG"));
    for (;;) {
        int l = snprintf(b, sizeof(b), "/big%c%lu", 0, off);
        size_t gl, dl;
        EXPECT(req(D0, XS_DIRECTORY_PART, 0, b, (size_t)l + 1) ==
               XS_DIRECTORY_PART);
        EXPECT(R.h.len <= XENSTORE_PAYLOAD_MAX);
        gl = strlen(R.body) + 1;
        if (!gen0[0])
            strcpy(gen0, R.body);
        EXPECT(!strcmp(gen0, R.body));
        dl = R.h.len - gl;
        if (dl == 1 && R.body[gl] == 0)
            break;                          /* end marker only */
        if (R.body[R.h.len - 1] == 0 && R.body[R.h.len - 2] == 0 &&
            got + dl - 1 == alllen) {
            memcpy(b, R.body + gl, 0);
            EXPECT(!memcmp(all + got, R.body + gl, dl - 1));
            got += dl - 1;
            break;
        }
        EXPECT(!memcmp(all + got, R.body + gl, dl));
        got += dl;
        off += dl;
        if (++rounds > 20)
            break;
    }
    EXPECT(got == alllen);
    EXPECT(rounds >= 1);
    /* offset past the end: generation and an empty string */
    Q(D0, XS_DIRECTORY_PART, 0, "/big\0" "999999\0");
    EXPECT(R.h.len == strlen(gen0) + 2 && R.body[R.h.len - 1] == 0);
    Q(D0, XS_DIRECTORY_PART, 0, "/big\0" "-1\0");
    EXPECT(R.h.len == strlen(gen0) + 2);
    /* a change moves the generation */
    Q(D0, XS_WRITE, 0, "/big/another\0");
    Q(D0, XS_DIRECTORY_PART, 0, "/big\0" "0\0");
    EXPECT(strcmp(gen0, R.body) != 0);
    /* small directory in one go, and permission checks */
    Q(D1, XS_WRITE, 0, "k1\0");
    Q(D1, XS_WRITE, 0, "k2\0");
    Q(D1, XS_DIRECTORY_PART, 0, "/local/domain/1\0" "0\0");
    EXPECT(R.h.type == XS_DIRECTORY_PART &&
           !memcmp(R.body + strlen(R.body) + 1, "k1\0k2\0\0", 7));
    Q(D2, XS_DIRECTORY_PART, 0, "/local/domain/1\0" "0\0");
    EXPECT(ERR("EACCES"));
    teardown();
}

static void test_quotas(void)
{
    static char big[2100];
    struct xs_config cfg;
    int i, ok;

    setup(NULL);
    /* nodes: 1000 owned by the domain in all (its home is one) */
    ok = 0;
    for (i = 0; i < 1100; i++) {
        char b[32];
        int l = snprintf(b, sizeof(b), "d%d/n%d", i / 50, i % 50);
        if (req(D3, XS_WRITE, 0, b, (size_t)l + 1) == XS_WRITE)
            ok++;
        else
            EXPECT(ERR("ENOSPC"));
    }
    EXPECT(xs_store_domain_nodes(S, 3) == 1000);
    EXPECT(ok == 999 - 20);             /* 20 directories d0..d19 */
    Q(D3, XS_RM, 0, "d0/n5\0");
    EXPECT(xs_store_domain_nodes(S, 3) == 999);
    /* a parent's children list counts against the entry size, too */
    for (i = 0, ok = 0; i < 1000; i++) {
        char b[32];
        int l = snprintf(b, sizeof(b), "/local/domain/2/n%d", i);
        if (req(D2, XS_WRITE, 0, b, (size_t)l + 1) != XS_WRITE) {
            EXPECT(ERR("ENOSPC"));
            break;
        }
        ok++;
    }
    EXPECT(ok > 400 && ok < 450);
    Q(D3, XS_WRITE, 0, "again\0");
    EXPECT(OK(XS_WRITE));
    Q(D3, XS_WRITE, 0, "more/than/one\0");
    EXPECT(ERR("ENOSPC"));
    /* privileged creators are exempt */
    Q(D0, XS_WRITE, 0, "/local/domain/3/by0\0");
    EXPECT(OK(XS_WRITE));
    /* entry size: 24 + 8 per perm + data (+ children list) <= 2048 */
    memcpy(big, "e\0", 2);
    memset(big + 2, 'x', 2016);
    EXPECT(req(D1, XS_WRITE, 0, big, 2 + 2016) == XS_WRITE);   /* 2048 */
    EXPECT(req(D1, XS_WRITE, 0, big, 2 + 2017) == XS_ERROR && ERR("ENOSPC"));
    EXPECT(req(D0, XS_WRITE, 0, "/e\0", 3) == XS_WRITE);
    memcpy(big, "/e\0", 3);
    memset(big + 3, 'x', 2090);
    EXPECT(req(D0, XS_WRITE, 0, big, 3 + 2090) == XS_WRITE);
    /* outstanding requests: the 21st waits until a reply is read */
    for (i = 0; i < 20; i++) {
        struct xsd_sockmsg h = { XS_READ, 1, 0, 2 };
        EXPECT(xs_conn_can_accept(D2));
        EXPECT(xs_conn_request(D2, &h, "e") == XS_CONN_OK);
    }
    EXPECT(!xs_conn_can_accept(D2) && xs_conn_outstanding(D2) == 20);
    {
        const void *p;
        size_t n = xs_conn_peek_output(D2, &p);
        EXPECT(n > 0);
        xs_conn_consume_output(D2, n - 1);
        EXPECT(!xs_conn_can_accept(D2));
        xs_conn_consume_output(D2, 1);
        EXPECT(xs_conn_can_accept(D2) && xs_conn_outstanding(D2) == 19);
    }
    drain_all();
    clear_events(D2);
    find_cl(D2)->n = 0;
    EXPECT(xs_conn_outstanding(D2) == 0);
    for (i = 0; i < 30; i++) {
        struct xsd_sockmsg h = { XS_READ, 1, 0, 2 };
        xs_conn_request(D0, &h, "e");
    }
    EXPECT(xs_conn_can_accept(D0));             /* privileged */
    drain_all();
    find_cl(D0)->n = 0;
    teardown();

    /* small quotas: transaction nodes and queued events */
    xs_config_default(&cfg);
    cfg.quota_trans_nodes = 4;
    cfg.quota_queued_events = 3;
    cfg.quota_path_len = 10;
    setup(&cfg);
    Q(D1, XS_TRANSACTION_START, 0, "\0");
    {
        uint32_t t = (uint32_t)strtoul(R.body, NULL, 10);
        /* each write touches the node; the first also its parent */
        EXPECT(Q(D1, XS_WRITE, t, "a\0") == XS_WRITE);
        EXPECT(Q(D1, XS_WRITE, t, "b\0") == XS_WRITE);
        EXPECT(Q(D1, XS_WRITE, t, "c\0") == XS_WRITE);
        EXPECT(Q(D1, XS_WRITE, t, "d\0") == XS_ERROR && ERR("ENOSPC"));
        EXPECT(Q(D1, XS_WRITE, t, "a\0") == XS_WRITE);    /* known */
        EXPECT(Q(D0, XS_TRANSACTION_START, 0, "\0") == XS_TRANSACTION_START);
        t = (uint32_t)strtoul(R.body, NULL, 10);
        for (i = 0; i < 10; i++) {
            char b[32];
            int l = snprintf(b, sizeof(b), "/p%d", i);
            EXPECT(req(D0, XS_WRITE, t, b, (size_t)l + 1) == XS_WRITE);
        }
    }
    Q(D1, XS_WRITE, 0, "0123456789\0");
    EXPECT(OK(XS_WRITE));
    Q(D1, XS_WRITE, 0, "0123456789a\0");
    EXPECT(ERR("EINVAL"));
    /* D2 may read D1's home; pile up events without reading them */
    Q(D1, XS_SET_PERMS, 0, "/local/domain/1\0n1\0r2\0");
    {
        struct xsd_sockmsg h = { XS_WATCH, 1, 0, 19 };
        xs_conn_request(D2, &h, "/local/domain/1\0t\0");
        for (i = 0; i < 10; i++)
            Q(D1, XS_WRITE, 0, "q\0");
        /* ack + 3 events; D2's drain happened in Q: check counts */
    }
    EXPECT(nevents(D2) <= 4);
    teardown();
}

static void test_domains(void)
{
    setup(NULL);
    Q(D1, XS_INTRODUCE, 0, "5\0" "1\0" "2\0");
    EXPECT(ERR("EACCES"));
    Q(D0, XS_INTRODUCE, 0, "5\0" "1\0");
    EXPECT(ERR("EINVAL"));
    Q(D0, XS_INTRODUCE, 0, "5\0" "1\0" "0\0");
    EXPECT(ERR("EINVAL"));
    Q(D0, XS_INTRODUCE, 0, "32752\0" "1\0" "3\0");   /* DOMID_SELF */
    EXPECT(ERR("EINVAL"));
    Q(D0, XS_INTRODUCE, 0, "x\0" "1\0" "3\0");
    EXPECT(ERR("EINVAL"));
    intro_fail = ENOMEM;
    Q(D0, XS_INTRODUCE, 0, "5\0" "1\0" "3\0");
    EXPECT(ERR("ENOMEM"));
    intro_fail = 0;
    Q(D0, XS_IS_DOMAIN_INTRODUCED, 0, "5\0");
    EXPECT(BODY("F\0"));
    Q(D0, XS_WATCH, 0, "@introduceDomain\0i\0");
    Q(D0, XS_WATCH, 0, "@releaseDomain\0r\0");
    clear_events(D0);
    Q(D0, XS_INTRODUCE, 0, "5\0" "1\0" "3\0");
    EXPECT(OK(XS_INTRODUCE) && event(D0, "@introduceDomain", "i"));
    Q(D0, XS_INTRODUCE, 0, "5\0" "1\0" "4\0");       /* rebind only */
    EXPECT(OK(XS_INTRODUCE) && nevents(D0) == 0);
    Q(D0, XS_IS_DOMAIN_INTRODUCED, 0, "5\0");
    EXPECT(R.h.type == XS_IS_DOMAIN_INTRODUCED && BODY("T\0"));
    Q(D1, XS_IS_DOMAIN_INTRODUCED, 0, "5\0");
    EXPECT(ERR("EACCES"));
    Q(D0, XS_IS_DOMAIN_INTRODUCED, 0, "x\0");
    EXPECT(ERR("EINVAL"));
    Q(D1, XS_GET_DOMAIN_PATH, 0, "5\0");
    EXPECT(R.h.type == XS_GET_DOMAIN_PATH && BODY("/local/domain/5\0"));
    Q(D0, XS_RESUME, 0, "5\0");
    EXPECT(OK(XS_RESUME));
    Q(D0, XS_RESUME, 0, "6\0");
    EXPECT(ERR("ENOENT"));
    Q(D1, XS_RESUME, 0, "5\0");
    EXPECT(ERR("EACCES"));

    /* SET_TARGET: domain 3 acts for domain 1 */
    Q(D1, XS_WRITE, 0, "priv\0p");
    Q(D3, XS_READ, 0, "/local/domain/1/priv\0");
    EXPECT(ERR("EACCES"));
    Q(D1, XS_SET_TARGET, 0, "3\0" "1\0");
    EXPECT(ERR("EACCES"));
    Q(D0, XS_SET_TARGET, 0, "3\0");
    EXPECT(ERR("EINVAL"));
    Q(D0, XS_SET_TARGET, 0, "3\0" "77\0");
    EXPECT(ERR("ENOENT"));
    Q(D0, XS_SET_TARGET, 0, "3\0" "1\0");
    EXPECT(OK(XS_SET_TARGET));
    Q(D3, XS_READ, 0, "/local/domain/1/priv\0");
    EXPECT(BODY("p"));
    Q(D3, XS_WRITE, 0, "/local/domain/1/priv\0q");
    EXPECT(OK(XS_WRITE));

    /* RELEASE */
    {
        struct xs_conn *d5 = NULL;
        int i;
        for (i = 0; i < MAXCL; i++)
            if (cl[i].c && xs_conn_domid(cl[i].c) == 5)
                d5 = cl[i].c;
        EXPECT(d5 != NULL);
        Q(d5, XS_WATCH, 0, "/\0x\0");
        Q(D0, XS_RELEASE, 0, "5\0");
        EXPECT(OK(XS_RELEASE) && event(D0, "@releaseDomain", "r"));
        EXPECT(release_calls == 1 && released == d5 && xs_conn_is_gone(d5));
        EXPECT(!xs_conn_has_output(d5) && !xs_conn_can_accept(d5));
        {
            struct xsd_sockmsg h = { XS_READ, 1, 0, 2 };
            EXPECT(xs_conn_request(d5, &h, "/") == XS_CONN_GONE);
        }
        untrack(d5);
        xs_conn_free(d5);
        Q(D0, XS_IS_DOMAIN_INTRODUCED, 0, "5\0");
        EXPECT(BODY("F\0"));
        Q(D0, XS_RELEASE, 0, "5\0");
        EXPECT(ERR("ENOENT"));
        Q(D0, XS_RELEASE, 0, "\0");
        EXPECT(ERR("EINVAL"));
        Q(D1, XS_RELEASE, 0, "2\0");
        EXPECT(ERR("EACCES"));
    }

    /* the domain dies: ownership and perms entries cleaned up */
    Q(D1, XS_SET_PERMS, 0, "priv\0n1\0r2\0r3\0");
    Q(D2, XS_WATCH, 0, "/local/domain/2\0z\0");
    EXPECT(xs_domain_gone(S, 1));
    drain_all();
    EXPECT(xs_conn_is_gone(D1));
    EXPECT(event(D0, "@releaseDomain", "r"));
    EXPECT(xs_store_domain_nodes(S, 1) == 0);
    Q(D0, XS_GET_PERMS, 0, "/local/domain/1/priv\0");
    EXPECT(BODY("n0\0r2\0r3\0"));
    EXPECT(!xs_domain_gone(S, 1));
    EXPECT(!xs_domain_gone(S, 4242));
    untrack(D1);
    xs_conn_free(D1);
    /* a privileged domain releases itself: reply dropped, no crash */
    {
        struct xs_conn *p = track(xs_conn_new(S, 7, true));
        Q(p, XS_RELEASE, 0, "7\0");
        EXPECT(xs_conn_is_gone(p));
        untrack(p);
        xs_conn_free(p);
    }
    teardown();
}

static void test_framer(void)
{
    static char stream[8192];
    struct xs_framer f;
    size_t len = 0, i, pos, used, nmsg = 0;
    int r, round;
    const char *bodies[] = { "/a\0", "", "/local/domain/1/x\0value", "z" };
    size_t blen[] = { 3, 0, 23, 1 };

    for (i = 0; i < 4; i++) {
        struct xsd_sockmsg h = { XS_WRITE, (uint32_t)i, 5, (uint32_t)blen[i] };
        memcpy(stream + len, &h, sizeof(h));
        len += sizeof(h);
        memcpy(stream + len, bodies[i], blen[i]);
        len += blen[i];
    }
    for (round = 0; round < 300; round++) {
        xs_framer_init(&f);
        pos = 0;
        nmsg = 0;
        while (pos < len) {
            size_t chunk = round == 0 ? 1 : 1 + rnd() % 40;
            size_t end = pos + chunk > len ? len : pos + chunk;
            while (pos < end) {
                r = xs_framer_feed(&f, stream + pos, end - pos, &used);
                pos += used;
                EXPECT(r != XS_FRAME_ERROR);
                if (r == XS_FRAME_READY) {
                    EXPECT(f.hdr.req_id == nmsg && f.hdr.tx_id == 5 &&
                           f.hdr.len == blen[nmsg] &&
                           !memcmp(f.body, bodies[nmsg], blen[nmsg]));
                    nmsg++;
                } else {
                    EXPECT(pos == end);
                }
            }
        }
        EXPECT(nmsg == 4);
    }
    /* an over-long header is a sticky error */
    {
        struct xsd_sockmsg h = { XS_READ, 1, 0, XENSTORE_PAYLOAD_MAX + 1 };
        xs_framer_init(&f);
        r = xs_framer_feed(&f, &h, 10, &used);
        EXPECT(r == XS_FRAME_MORE && used == 10);
        r = xs_framer_feed(&f, (char *)&h + 10, 6, &used);
        EXPECT(r == XS_FRAME_ERROR);
        r = xs_framer_feed(&f, "x", 1, &used);
        EXPECT(r == XS_FRAME_ERROR && used == 0);
        h.len = XENSTORE_PAYLOAD_MAX;
        xs_framer_init(&f);
        r = xs_framer_feed(&f, &h, sizeof(h), &used);
        EXPECT(r == XS_FRAME_MORE);
    }
    /* xs_conn_input with arbitrary splits, then a protocol error */
    setup(NULL);
    len = 0;
    for (i = 0; i < 30; i++) {
        char b[32];
        int l = snprintf(b, sizeof(b), "k%zu", i);
        struct xsd_sockmsg h = { XS_WRITE, 1000 + (uint32_t)i, 0,
                                 (uint32_t)l + 2 };
        memcpy(stream + len, &h, sizeof(h));
        len += sizeof(h);
        memcpy(stream + len, b, (size_t)l + 1);
        stream[len + (size_t)l + 1] = 'v';
        len += (size_t)l + 2;
    }
    pos = 0;
    while (pos < len) {
        size_t chunk = 1 + rnd() % 50, u;
        if (chunk > len - pos)
            chunk = len - pos;
        r = xs_conn_input(D1, stream + pos, chunk, &u);
        EXPECT(r == XS_CONN_OK);
        pos += u;
        drain_all();
        find_cl(D1)->n = 0;
    }
    Q(D1, XS_READ, 0, "k29\0");
    EXPECT(BODY("v"));
    {
        struct xsd_sockmsg h = { XS_READ, 1, 0, 5000 };
        size_t u;
        EXPECT(xs_conn_input(D1, &h, sizeof(h), &u) == XS_CONN_PROTOCOL_ERROR);
    }
    /* the outstanding quota stops the input loop */
    {
        size_t u;
        len = 0;
        for (i = 0; i < 25; i++) {
            struct xsd_sockmsg h = { XS_READ, (uint32_t)i, 0, 4 };
            memcpy(stream + len, &h, sizeof(h));
            memcpy(stream + len + sizeof(h), "k1\0", 4);
            len += sizeof(h) + 4;
        }
        r = xs_conn_input(D2, stream, len, &u);
        EXPECT(r == XS_CONN_OK && u == 20 * (sizeof(struct xsd_sockmsg) + 4));
        EXPECT(xs_conn_outstanding(D2) == 20);
    }
    teardown();
}

static void test_fuzz(void)
{
    static const char *frag[] = { "/", "a", "b", "local", "domain", "1", "2",
                                  "@introduceDomain", "@releaseDomain", "x",
                                  "T", "F", "n1", "r2", "b0", "w3", "0",
                                  "/local/domain/1", "/local/domain/2",
                                  "", "//", "tok", "-1", "12", "@" };
    struct xs_conn *c[6];
    unsigned long fz_ok = 0, fz_err = 0, fz_ev = 0;
    int i, n;

    setup(NULL);
    c[0] = D0;
    c[1] = D1;
    c[2] = D2;
    c[3] = D3;
    c[4] = track(xs_conn_new(S, 4, false));
    c[5] = track(xs_conn_new(S, 1, false));
    for (i = 0; i < 6000; i++) {
        char body[600];
        size_t len = 0;
        int k = (int)(rnd() % 6), parts = (int)(rnd() % 5), j;
        uint32_t type = rnd() % (XS_TYPE_COUNT + 1);
        uint32_t tx = rnd() % 4 ? 0 : rnd() % 6;
        struct xsd_sockmsg h;

        if (xs_conn_is_gone(c[k]))
            continue;
        for (j = 0; j < parts; j++) {
            const char *f = frag[rnd() % (sizeof(frag) / sizeof(frag[0]))];
            size_t fl = strlen(f);
            if (len + fl + 2 >= sizeof(body))
                break;
            if (rnd() % 3 && j && len && body[len - 1] != '/' && f[0] != '/') {
                body[len++] = '/';
            } else if (j) {
                body[len++] = 0;
            }
            memcpy(body + len, f, fl);
            len += fl;
        }
        if (rnd() % 4)
            body[len++] = 0;
        if (rnd() % 16 == 0) {
            n = (int)(rnd() % 64);
            while (n-- && len < sizeof(body))
                body[len++] = (char)rnd();
        }
        h.type = type;
        h.req_id = (uint32_t)i;
        h.tx_id = tx;
        h.len = (uint32_t)len;
        EXPECT(xs_conn_request(c[k], &h, body) == XS_CONN_OK);
        if (rnd() % 3 == 0) {
            drain_all();
            for (j = 0; j < MAXCL; j++) {
                size_t m;
                for (m = 0; cl[j].c && m < cl[j].n; m++) {
                    uint32_t t = cl[j].q[m].h.type;
                    fz_err += t == XS_ERROR;
                    fz_ok += t != XS_ERROR && t != XS_WATCH_EVENT;
                    fz_ev += t == XS_WATCH_EVENT;
                }
                cl[j].n = 0;
            }
        }
        if (rnd() % 500 == 0) {
            /* replace a connection */
            int v = 4 + (int)(rnd() % 2);
            unsigned d = xs_conn_domid(c[v]);
            untrack(c[v]);
            if (rnd() % 2)
                xs_domain_gone(S, d);
            xs_conn_free(c[v]);
            c[v] = track(xs_conn_new(S, d, false));
        }
    }
    drain_all();
    printf("fuzz: %lu ok, %lu errors, %lu events, %u nodes\n", fz_ok, fz_err,
           fz_ev, xs_store_node_count(S));
    EXPECT(fz_ok > 300 && fz_err > 300 && fz_ev > 10);
    teardown();
}

int main(void)
{
    test_initial_tree();
    test_basic_rw();
    test_paths();
    test_malformed();
    test_perms();
    test_watches();
    test_transactions();
    test_directory_part();
    test_quotas();
    test_domains();
    test_framer();
    test_fuzz();
    UNIT_DONE();
}
