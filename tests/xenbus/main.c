/* Guest test: minios's xenbus client against the real xenstore stub domain, end to end
 * over the store rings: reads of the nodes the store wrote at boot, write/mkdir/rm/
 * directory, permissions across domains, errors, watches (also across domains and the
 * special @releaseDomain), transactions with conflicts and retries, the node quota,
 * privileged operations refused to a plain domain and allowed to a control domain.
 *
 *   op=a peer=B ctl=C   the main actor
 *   op=b peer=A         the other plain domain: works on a's shared nodes
 *   op=ctl a=A b=B      the control domain: watches @releaseDomain, introductions
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include <xen/io/xs_wire.h>
#include "report.h"

#define MS 1000000ULL

static unsigned self, peer, ctl_id, a_id, b_id;

static char *rd(const char *path)
{
    char *v = NULL;
    int rc = minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL);
    if (rc) {
        test_fail("read %s: %d", path, rc);
        return strdup("");
    }
    return v;
}

static void expect_value(const char *path, const char *want)
{
    char *v = rd(path);
    if (strcmp(v, want))
        test_fail("%s = '%s', expected '%s'", path, v, want);
    free(v);
}

/* Waits (bounded) until path reads as want. */
static int wait_value(const char *path, const char *want)
{
    for (int i = 0; i < 3000; i++) {
        char *v = NULL;
        if (minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL) == 0) {
            int same = !strcmp(v, want);
            free(v);
            if (same)
                return 0;
        }
        minios_sleep_ns(10 * MS);
    }
    test_fail("timed out waiting for %s = %s", path, want);
    return -1;
}

/* Watch events land here. */
static struct minios_waitq ev_wq = MINIOS_WAITQ_INIT;
static char last_path[128], last_token[64];
static int nevents;

static void on_watch(const char *path, const char *token, void *data)
{
    (void)data;
    snprintf(last_path, sizeof(last_path), "%s", path);
    snprintf(last_token, sizeof(last_token), "%s", token);
    nevents++;
    minios_waitq_wake_all(&ev_wq);
}

static int wait_events(int n)
{
    uint64_t deadline = minios_monotonic_ns() + 5000 * MS;
    unsigned long f = minios_events_save();
    while (nevents < n && minios_waitq_wait(&ev_wq, deadline) == 0)
        ;
    minios_events_restore(f);
    return nevents >= n ? 0 : -1;
}

static int incr(minios_xbt_t t, void *arg)
{
    const char *path = arg;
    char *v;
    int rc = minios_xs_read(t, path, &v, NULL);
    if (rc)
        return rc;
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", atoi(v) + 1);
    free(v);
    minios_thread_yield();       /* widen the window for the other domain */
    return minios_xs_write(t, path, buf);
}

static void test_basics(void)
{
    char path[64], buf[16];
    CHECK_EQ(minios_xenbus_available(), 1);
    expect_value("name", "a");
    snprintf(buf, sizeof(buf), "%u", self);
    expect_value("domid", buf);
    expect_value("console/type", "xenconsoled");
    char *home;
    CHECK_EQ(minios_xs_get_domain_path(self, &home), 0);
    snprintf(path, sizeof(path), "/local/domain/%u", self);
    if (strcmp(home, path))
        test_fail("domain path '%s'", home);
    free(home);

    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/x", "1"), 0);
    expect_value("data/x", "1");
    snprintf(path, sizeof(path), "/local/domain/%u/data/x", self);
    expect_value(path, "1");
    CHECK_EQ(minios_xs_mkdir(MINIOS_XBT_NIL, "data/dir"), 0);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/dir/c1", "one"), 0);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/dir/c2", "two"), 0);
    char **names;
    unsigned n;
    CHECK_EQ(minios_xs_directory(MINIOS_XBT_NIL, "data/dir", &names, &n), 0);
    CHECK_EQ(n, 2);
    if (n == 2 && !((!strcmp(names[0], "c1") && !strcmp(names[1], "c2")) ||
                    (!strcmp(names[0], "c2") && !strcmp(names[1], "c1"))))
        test_fail("directory: %s %s", names[0], names[1]);
    free(names);
    /* DIRECTORY_PART: "<generation>\0" then names, from offset 0. */
    char req[64];
    size_t rl = (size_t)snprintf(req, sizeof(req), "data/dir%c0", 0) + 1;
    char *rep;
    size_t replen;
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, XS_DIRECTORY_PART, req, rl, &rep, &replen), 0);
    if (replen < 8 || !memchr(rep, 0, replen) || !strstr(rep + strlen(rep) + 1, "c"))
        test_fail("directory_part reply of %zu bytes", replen);
    free(rep);
    CHECK_EQ(minios_xs_rm(MINIOS_XBT_NIL, "data/dir"), 0);
    char *v;
    CHECK_EQ(minios_xs_read(MINIOS_XBT_NIL, "data/dir/c1", &v, NULL), -ENOENT);
    CHECK_EQ(minios_xs_rm(MINIOS_XBT_NIL, "data/dir"), 0);     /* as Xen: parent exists */
    CHECK_EQ(minios_xs_rm(MINIOS_XBT_NIL, "data/dir/c1"), -ENOENT);
    /* Bad paths. */
    CHECK_EQ(minios_xs_read(MINIOS_XBT_NIL, "/bad//path", &v, NULL), -EINVAL);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "/local/domain/x*y", "1"), -EINVAL);
    /* The store's own nodes: readable, not writable. */
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "name", "evil"), -EACCES);
    snprintf(path, sizeof(path), "/local/domain/%u/name", peer);
    CHECK_EQ(minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL), -EACCES);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "/tool/x", "1"), -EACCES);

    /* Permissions: ours by default; then shared with the peer. */
    char **perms;
    CHECK_EQ(minios_xs_get_perms(MINIOS_XBT_NIL, "data/x", &perms, &n), 0);
    snprintf(buf, sizeof(buf), "n%u", self);
    if (n != 1 || strcmp(perms[0], buf))
        test_fail("perms of data/x: %u entries, first %s", n, n ? perms[0] : "-");
    free(perms);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/shared", "0"), 0);
    char p0[16], p1[16];
    snprintf(p0, sizeof(p0), "n%u", self);
    snprintf(p1, sizeof(p1), "b%u", peer);
    const char *pl[] = { p0, p1 };
    CHECK_EQ(minios_xs_set_perms(MINIOS_XBT_NIL, "data/shared", pl, 2), 0);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/private", "secret"), 0);
    const char *bad[] = { "x1" };
    CHECK_EQ(minios_xs_set_perms(MINIOS_XBT_NIL, "data/x", bad, 1), -EINVAL);

    /* Privileged operations. */
    rl = (size_t)snprintf(req, sizeof(req), "%u%c1%c1", peer, 0, 0) + 1;
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, XS_INTRODUCE, req, rl, NULL, NULL), -EACCES);
    rl = (size_t)snprintf(req, sizeof(req), "%u", peer) + 1;
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, XS_RELEASE, req, rl, NULL, NULL), -EACCES);
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, 999, "", 1, NULL, NULL), -ENOSYS);
}

static void test_transactions(void)
{
    minios_xbt_t t1, t2;
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/t", "0"), 0);
    CHECK_EQ(minios_xs_transaction_start(&t1), 0);
    CHECK_EQ(minios_xs_transaction_start(&t2), 0);
    if (t1 == t2)
        test_fail("two transactions with id %u", t1);
    char *v;
    CHECK_EQ(minios_xs_read(t1, "data/t", &v, NULL), 0);
    free(v);
    CHECK_EQ(minios_xs_read(t2, "data/t", &v, NULL), 0);
    free(v);
    CHECK_EQ(minios_xs_write(t1, "data/t", "1"), 0);
    CHECK_EQ(minios_xs_write(t2, "data/t", "2"), 0);
    expect_value("data/t", "0");             /* nothing visible outside yet */
    CHECK_EQ(minios_xs_transaction_end(t1, 0), 0);
    CHECK_EQ(minios_xs_transaction_end(t2, 0), -EAGAIN);
    expect_value("data/t", "1");
    /* Abort leaves nothing behind; an ended transaction is unknown. */
    CHECK_EQ(minios_xs_transaction_start(&t1), 0);
    CHECK_EQ(minios_xs_write(t1, "data/t", "9"), 0);
    CHECK_EQ(minios_xs_transaction_end(t1, 1), 0);
    expect_value("data/t", "1");
    CHECK_EQ(minios_xs_write(t1, "data/t", "9"), -ENOENT);
}

static void test_quota(void)
{
    /* Xen's default: 1000 nodes per domain; the next is refused (spread
     * over directories: a directory's child list counts towards its own
     * entry size, 2048 bytes). */
    char path[64];
    int made = 0, rc = 0;
    for (int i = 0; i < 1100 && !rc; i++) {
        snprintf(path, sizeof(path), "data/q/%d/%d", i / 50, i % 50);
        rc = minios_xs_write(MINIOS_XBT_NIL, path, "");
        if (!rc)
            made++;
    }
    printf("node quota: %d nodes made, then %d\n", made, rc);
    CHECK_EQ(rc, -ENOSPC);
    if (made < 900 || made > 1000)
        test_fail("quota after %d nodes", made);
    CHECK_EQ(minios_xs_rm(MINIOS_XBT_NIL, "data/q"), 0);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/q2", ""), 0);
}

static void actor_a(void)
{
    char path[96];
    test_basics();
    test_transactions();

    /* Watches: the first event comes at once. */
    CHECK_EQ(minios_xs_watch("data/w", "tokA", on_watch, NULL), 0);
    CHECK_EQ(wait_events(1), 0);
    if (strcmp(last_path, "data/w") || strcmp(last_token, "tokA"))
        test_fail("first event: %s %s", last_path, last_token);
    CHECK_EQ(minios_xs_watch("data/w", "tokA", on_watch, NULL), -EEXIST);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/w/sub", "x"), 0);
    CHECK_EQ(wait_events(2), 0);
    if (strcmp(last_path, "data/w/sub"))
        test_fail("event for %s", last_path);

    /* Hand over to b: it increments the shared counter and writes data/w,
     * which we share with it now. */
    char p0[16], p1[16];
    snprintf(p0, sizeof(p0), "n%u", self);
    snprintf(p1, sizeof(p1), "b%u", peer);
    const char *pl[] = { p0, p1 };
    CHECK_EQ(minios_xs_set_perms(MINIOS_XBT_NIL, "data/w", pl, 2), 0);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/ready", "1"), 0);
    CHECK_EQ(minios_xs_set_perms(MINIOS_XBT_NIL, "data/ready", pl, 2), 0);
    snprintf(path, sizeof(path), "/local/domain/%u/data/shared", self);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(minios_xs_transaction_run(incr, path, 0), 0);
    snprintf(path, sizeof(path), "/local/domain/%u/data/b-done", peer);
    wait_value(path, "1");
    expect_value("data/shared", "40");
    /* b waits for this before it exits (its nodes go with it). */
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/ack", "1"), 0);
    CHECK_EQ(minios_xs_set_perms(MINIOS_XBT_NIL, "data/ack", pl, 2), 0);
    if (wait_events(3) || strcmp(last_path, "data/w"))
        test_fail("no event for b's write to data/w (%d events, last %s)", nevents, last_path);
    CHECK_EQ(minios_xs_unwatch("data/w", "tokA"), 0);
    CHECK_EQ(minios_xs_unwatch("data/w", "tokA"), -ENOENT);
    int before = nevents;
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/w", "after"), 0);
    minios_sleep_ns(50 * MS);
    CHECK_EQ(nevents, before);

    test_quota();
    printf("a: done\n");
}

static volatile int go;

static void on_go(evtchn_port_t port, void *data)
{
    (void)port, (void)data;
    go = 1;
}

static void actor_b(void)
{
    char path[96];
    expect_value("name", "b");
    snprintf(path, sizeof(path), "/local/domain/%u/data/ready", peer);
    if (wait_value(path, "1"))
        return;
    /* a's private node: no access; the shared one: read and write. */
    char *v;
    snprintf(path, sizeof(path), "/local/domain/%u/data/private", peer);
    CHECK_EQ(minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL), -EACCES);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, path, "mine"), -EACCES);
    snprintf(path, sizeof(path), "/local/domain/%u/data/shared", peer);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(minios_xs_transaction_run(incr, path, 0), 0);
    /* a shared its watched node with us: a's watch fires for our write. */
    snprintf(path, sizeof(path), "/local/domain/%u/data/w", peer);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, path, "b"), 0);
    /* The control domain will release and re-introduce our connection:
     * no request of ours may be on the way meanwhile (one the store has
     * half read when RELEASE comes goes with the old connection, as in
     * Xen's xenstored), so we wait for its word on an event channel of
     * our own, not in the store.  Its port goes with our "done". */
    evtchn_port_t go_port;
    char pbuf[16];
    CHECK_EQ(minios_evtchn_alloc_unbound((domid_t)ctl_id, &go_port), 0);
    CHECK_EQ(minios_evtchn_bind(go_port, on_go, NULL), 0);
    snprintf(pbuf, sizeof(pbuf), "%u", go_port);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/b-port", pbuf), 0);
    /* Done: our own node, readable by a. */
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, "data/b-done", "1"), 0);
    char p0[16], p1[16];
    snprintf(p0, sizeof(p0), "n%u", self);
    snprintf(p1, sizeof(p1), "r%u", peer);
    const char *pl[] = { p0, p1 };
    CHECK_EQ(minios_xs_set_perms(MINIOS_XBT_NIL, "data/b-done", pl, 2), 0);
    /* The control domain now releases us and introduces us again. */
    for (int i = 0; i < 6000 && !go; i++)
        minios_sleep_ns(10 * MS);
    if (!go)
        test_fail("no word from the control domain after RELEASE and INTRODUCE");
    if (wait_value("data/continue", "1") == 0)
        printf("b: served again after RELEASE and INTRODUCE\n");
    /* a reads our nodes: they go when we do, so wait for its word. */
    snprintf(path, sizeof(path), "/local/domain/%u/data/ack", peer);
    wait_value(path, "1");
    printf("b: done\n");
}

static void actor_ctl(void)
{
    char req[32];
    size_t rl;
    char *rep;
    /* A control domain is privileged: IS_DOMAIN_INTRODUCED answers. */
    rl = (size_t)snprintf(req, sizeof(req), "%u", a_id) + 1;
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, XS_IS_DOMAIN_INTRODUCED, req, rl, &rep, NULL), 0);
    if (strcmp(rep, "T"))
        test_fail("a introduced: %s", rep);
    free(rep);
    rl = (size_t)snprintf(req, sizeof(req), "%u", 999) + 1;
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, XS_IS_DOMAIN_INTRODUCED, req, rl, &rep, NULL), 0);
    if (strcmp(rep, "F"))
        test_fail("d999 introduced: %s", rep);
    free(rep);
    /* INTRODUCE of a domain that has no grant for us fails cleanly. */
    rl = (size_t)snprintf(req, sizeof(req), "999%c1%c1", 0, 0) + 1;
    if (minios_xs_request(MINIOS_XBT_NIL, XS_INTRODUCE, req, rl, NULL, NULL) == 0)
        test_fail("INTRODUCE of a domain that does not exist succeeded");
    /* The control domain may read anyone's nodes. */
    char path[64];
    snprintf(path, sizeof(path), "/local/domain/%u/name", b_id);
    expect_value(path, "b");

    /* RELEASE and INTRODUCE of b once it is done with a (as a toolstack
     * would after a restore): its ring and port come from its nodes. */
    snprintf(path, sizeof(path), "/local/domain/%u/data/b-done", b_id);
    wait_value(path, "1");
    char *mfn, *port, *bport;
    snprintf(path, sizeof(path), "/local/domain/%u/data/b-port", b_id);
    bport = rd(path);
    evtchn_port_t to_b = 0;
    CHECK_EQ(minios_evtchn_bind_interdomain((domid_t)b_id, (evtchn_port_t)atoi(bport), &to_b), 0);
    free(bport);
    snprintf(path, sizeof(path), "/local/domain/%u/store/ring-ref", b_id);
    mfn = rd(path);
    snprintf(path, sizeof(path), "/local/domain/%u/store/port", b_id);
    port = rd(path);
    rl = (size_t)snprintf(req, sizeof(req), "%u", b_id) + 1;
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, XS_RELEASE, req, rl, NULL, NULL), 0);
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, XS_IS_DOMAIN_INTRODUCED, req, rl, &rep, NULL), 0);
    if (strcmp(rep, "F"))
        test_fail("b introduced after RELEASE: %s", rep);
    free(rep);
    rl = (size_t)snprintf(req, sizeof(req), "%u%c%s%c%s", b_id, 0, mfn, 0, port) + 1;
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, XS_INTRODUCE, req, rl, NULL, NULL), 0);
    free(mfn);
    free(port);
    rl = (size_t)snprintf(req, sizeof(req), "%u", b_id) + 1;
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, XS_IS_DOMAIN_INTRODUCED, req, rl, &rep, NULL), 0);
    if (strcmp(rep, "T"))
        test_fail("b not introduced after INTRODUCE: %s", rep);
    free(rep);
    snprintf(path, sizeof(path), "/local/domain/%u/data/continue", b_id);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, path, "1"), 0);
    const char *bperms[] = { "n0", NULL };
    char rb[16];
    snprintf(rb, sizeof(rb), "r%u", b_id);
    bperms[1] = rb;
    CHECK_EQ(minios_xs_set_perms(MINIOS_XBT_NIL, path, bperms, 2), 0);
    CHECK_EQ(minios_evtchn_send(to_b), 0);   /* b may talk to the store again */

    /* @releaseDomain: fires once when set, then when a and b have gone. */
    CHECK_EQ(minios_xs_watch("@releaseDomain", "rel", on_watch, NULL), 0);
    CHECK_EQ(wait_events(1), 0);
    for (int i = 0; i < 2400; i++) {
        int gone = 0;
        for (unsigned id = a_id; id <= b_id; id++) {
            rl = (size_t)snprintf(req, sizeof(req), "%u", id) + 1;
            if (minios_xs_request(MINIOS_XBT_NIL, XS_IS_DOMAIN_INTRODUCED, req, rl, &rep,
                                  NULL) == 0) {
                gone += !strcmp(rep, "F");
                free(rep);
            }
        }
        if (gone == 2)
            break;
        minios_sleep_ns(50 * MS);
    }
    printf("ctl: %d @releaseDomain events\n", nevents);
    if (nevents < 2)
        test_fail("@releaseDomain did not fire for a and b");
    rl = (size_t)snprintf(req, sizeof(req), "%u", a_id) + 1;
    CHECK_EQ(minios_xs_request(MINIOS_XBT_NIL, XS_IS_DOMAIN_INTRODUCED, req, rl, &rep, NULL), 0);
    if (strcmp(rep, "F"))
        test_fail("a still introduced after it died: %s", rep);
    free(rep);
    /* The store removed the nodes it wrote for a boot domain that died. */
    char *v;
    snprintf(path, sizeof(path), "/local/domain/%u/name", a_id);
    CHECK_EQ(minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL), -ENOENT);
    snprintf(path, sizeof(path), "/local/domain/%u", a_id);
    CHECK_EQ(minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL), -ENOENT);
}

int main(int argc, char **argv)
{
    const char *op = "";
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
        else if (!strncmp(argv[i], "peer=", 5))
            peer = (unsigned)atoi(argv[i] + 5);
        else if (!strncmp(argv[i], "self=", 5))
            self = (unsigned)atoi(argv[i] + 5);
        else if (!strncmp(argv[i], "ctl=", 4))
            ctl_id = (unsigned)atoi(argv[i] + 4);
        else if (!strncmp(argv[i], "a=", 2))
            a_id = (unsigned)atoi(argv[i] + 2);
        else if (!strncmp(argv[i], "b=", 2))
            b_id = (unsigned)atoi(argv[i] + 2);
    }
    if (!minios_xenbus_available()) {
        test_fail("no xenstore connection");
        return test_finish();
    }
    if (!strcmp(op, "a"))
        actor_a();
    else if (!strcmp(op, "b"))
        actor_b();
    else if (!strcmp(op, "ctl"))
        actor_ctl();
    else
        test_error("no op= given");
    return test_finish();
}
