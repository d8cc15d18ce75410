/* Guest test: consoles, both ends: minios's ring frontend against the xenstore domain's backend
 * (stubdoms/xenstore/console.c, compiled into this image), without the rest of xenstored.
 *
 *   op=xs                  role=xenstore: serves the console of every domain its boot module
 *                          lists (xsc_console_add), removes each one when it is gone
 *                          (VIRQ_DOM_EXC, then xsc_console_remove), ends when all are.
 *                          quit_ms=N: dies after N ms, serving or not; serve=no: binds nothing.
 *   op=burst lines=N       prints N numbered lines as fast as it can, then long lines (longer
 *                          than the ring and than a console line), control characters, a final
 *                          line, its result, and a tail without a newline.
 *   op=hostile             prints a few lines, then writes nonsense into its ring's indices
 *                          and carries on: the backend must report it once and ignore the ring;
 *                          our last lines then reach the console through console_io.
 *   op=crash [wait_ms=N]   prints a line, then faults: minios's exception report is printed,
 *                          named: through the ring from the trap handler if the backend is
 *                          connected by then (it reads the ring after the death), else
 *                          through console_io.
 *   op=slow                prints a line every 100 ms for 4 s; with op=xs quit_ms=N the
 *                          backend dies under it, and what it did not take, and the rest,
 *                          goes to console_io. */
#include "../domctl/ctl.h"      /* first: it asks for the tools' interfaces */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/startinfo.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <xen/io/console.h>
#include "bootlist.h"
#include "report.h"

/* The backend under test, linked in (stubdoms/xenstore/xenstore.mk). */
#include "console.h"

#define MS 1000000ULL
#define MAX_PEERS 8

/* ---- the xenstore domain */

struct peer {
    unsigned id, console_port;
    char name[32];
    int removed;
};
static struct peer peers[MAX_PEERS];
static unsigned nr_peers;

/* The boot module: "domain <id> name=<name> ... console_port=<port> ..." per line
 * (docs/boot-config.md); we need the id, the name and the console port. */
static void parse_module(void)
{
    start_info_t *si = minios_start_info;
    if (!si->mod_start || !si->mod_len) {
        test_fail("no boot module");
        return;
    }
    const char *text = (const char *)si->mod_start;
    size_t len = si->mod_len;
    char line[256];
    for (size_t off = 0;
         nr_peers < MAX_PEERS && bootlist_next(text, len, &off, line, sizeof(line)); ) {
        struct peer *p = &peers[nr_peers];
        const char *cp = strstr(line, " console_port=");
        if (sscanf(line, "domain %u name=%31s", &p->id, p->name) != 2 || !cp ||
            sscanf(cp, " console_port=%u", &p->console_port) != 1) {
            test_fail("bad module line '%s'", line);
            continue;
        }
        nr_peers++;
    }
}

static volatile unsigned dom_exc;
static struct minios_waitq dom_exc_wq = MINIOS_WAITQ_INIT;

static void on_dom_exc(evtchn_port_t port, void *data)
{
    (void)port;
    (void)data;
    dom_exc++;
    minios_waitq_wake_all(&dom_exc_wq);
}

/* Destroyed: getdomaininfo finds the next domain, or none. */
static int gone(unsigned id)
{
    struct xen_domctl_getdomaininfo info;
    long rc = getdomaininfo((domid_t)id, &info);
    return rc || info.domain != id;
}

static int xenstore(unsigned quit_ms, int serve)
{
    evtchn_port_t virq;
    CHECK_EQ(minios_console_uses_ring(), 0);        /* our own console is console_io */
    CHECK_EQ(minios_evtchn_bind_virq(VIRQ_DOM_EXC, 0, &virq), 0);
    CHECK_EQ(minios_evtchn_bind(virq, on_dom_exc, NULL), 0);
    CHECK_EQ(minios_gnttab_init(), 0);
    parse_module();
    if (!nr_peers)
        return test_finish();

    xsc_console_init();
    /* The hypervisor holds the boot domains paused until we let them run
     * (as xenstored does once it has introduced one). This test lets them
     * all run first and connects their consoles a little later: the
     * frontends must cope with a backend that is not there yet. */
    for (unsigned i = 0; i < nr_peers; i++)
        CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, (domid_t)peers[i].id), 0);
    minios_sleep_ns(100 * MS);
    unsigned left = 0;
    for (unsigned i = 0; i < nr_peers; i++) {
        if (!serve) {                /* a xenstore domain that serves no consoles */
            left++;
            continue;
        }
        int rc = xsc_console_add(peers[i].id, peers[i].name, peers[i].console_port);
        if (rc == 0)
            left++;
        else if (gone(peers[i].id))
            peers[i].removed = 1;    /* died before we came (op=crash): its grants are gone */
        else
            test_fail("xsc_console_add(%u) = %d", peers[i].id, rc);
        if (rc == 0)
            CHECK_EQ(xsc_console_add(peers[i].id, peers[i].name, peers[i].console_port),
                     -XEN_EEXIST);
    }
    xsc_log("console test: serving %u domains", left);

    /* As xenstored: on each VIRQ_DOM_EXC, release the domains that are gone. */
    uint64_t quit = quit_ms ? minios_monotonic_ns() + quit_ms * MS : 0;
    while (left) {
        unsigned long f = minios_events_save();
        unsigned seen = dom_exc;
        minios_events_restore(f);
        for (unsigned i = 0; i < nr_peers; i++)
            if (!peers[i].removed && gone(peers[i].id)) {
                if (serve)
                    xsc_console_remove(peers[i].id);
                peers[i].removed = 1;
                left--;
            }
        if (!left)
            break;
        f = minios_events_save();
        while (dom_exc == seen)
            if (minios_waitq_wait(&dom_exc_wq, quit ? quit : minios_monotonic_ns() + 300000 * MS) < 0)
                break;
        minios_events_restore(f);
        if (quit && minios_monotonic_ns() >= quit) {
            /* A backend that dies: nothing drained, nothing released. */
            xsc_log("console test: quitting with %u domains left", left);
            return test_finish();
        }
        if (dom_exc == seen) {
            test_fail("no VIRQ_DOM_EXC in 300 s; %u domains left", left);
            break;
        }
    }
    xsc_console_remove(12345);                      /* not served: nothing */
    xsc_log("console test: all %u domains gone\nsecond\tline\x1b[0m", nr_peers);
    return test_finish();
}

/* ---- the served domains */

/* A long line: "LONG<k>:" then letters, n bytes in all, then ":END<k>". */
static void long_line(unsigned k, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) {
        test_error("out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    printf("LONG%u:%s:END%u\n", k, s, k);
    free(s);
}

static int burst(const char *name, unsigned lines)
{
    CHECK_EQ(minios_console_uses_ring(), 1);
    uint64_t t0 = minios_monotonic_ns();
    for (unsigned i = 1; i <= lines; i++)
        printf("burst %s %05u the quick brown fox\n", name, i);
    uint64_t t1 = minios_monotonic_ns();
    long_line(1, 300);               /* longer than a console line */
    long_line(2, 5000);              /* longer than the ring */
    /* One write() of it all: newlib's stdio would cut it into 1 KiB writes. */
    static char big[9000];
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)('A' + i % 26);
    big[sizeof(big) - 1] = '\n';
    fflush(stdout);
    memcpy(big, "LONG3:", 6);
    write(1, big, sizeof(big));
    printf("ctl: a\rb\x01" "c\td\x1b[31me\x7f" "f\n");
    printf("crlf line\r\n");
    printf("stderr then stdout: ");
    fflush(stdout);
    fprintf(stderr, "from stderr\n");
    minios_printk("printk line %d\n", 42);
    printf("%s: %u lines in %llu ms\n", name, lines, (unsigned long long)((t1 - t0) / MS));
    printf("final line of %s\n", name);
    int rc = test_finish();
    printf("tail without a newline");
    return rc;
}

static int hostile(void)
{
    start_info_t *si = minios_start_info;
    CHECK_EQ(minios_console_uses_ring(), 1);
    struct xencons_interface *r = (void *)((char *)si + 2 * 4096);
    if (minios_gnttab_virt_to_mfn(r) != si->console.domU.mfn) {
        test_fail("the console ring is not after the store page");
        return test_finish();
    }
    for (int i = 0; i < 5; i++)
        printf("hostile line %d\n", i);
    fflush(stdout);
    CHECK_EQ(minios_console_flush(20000 * MS), 0);      /* the backend took them */
    /* Nonsense: far more unread bytes than the ring holds. */
    __atomic_store_n(&r->out_prod, r->out_cons + 0x40000000u, __ATOMIC_RELEASE);
    minios_evtchn_send(si->console.domU.evtchn);
    minios_sleep_ns(500 * MS);
    /* minios writes on from its own index (out_prod is put right), but nobody reads. */
    printf("hostile: after the scribble\n");
    CHECK_EQ(minios_console_flush(300 * MS), -XEN_ETIMEDOUT);
    printf("hostile final line\n");
    return test_finish();
}

static int crash(unsigned wait_ms)
{
    minios_sleep_ns(wait_ms * MS);
    printf("crash: about to fault\n");
    *(volatile int *)8 = 1;
    printf("crash: still alive?\n");
    return 1;
}

static int slow(void)
{
    for (int i = 0; i < 40; i++) {
        printf("slow line %02d\n", i);
        minios_sleep_ns(100 * MS);
    }
    printf("slow final line\n");
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = "", *name = "?";
    unsigned lines = 1000, quit_ms = 0, wait_ms = 0;
    int serve = 1;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
        else if (!strncmp(argv[i], "name=", 5))
            name = argv[i] + 5;
        else if (!strncmp(argv[i], "lines=", 6))
            lines = (unsigned)atoi(argv[i] + 6);
        else if (!strncmp(argv[i], "wait_ms=", 8))
            wait_ms = (unsigned)atoi(argv[i] + 8);
        else if (!strcmp(argv[i], "serve=no"))
            serve = 0;
        else if (!strncmp(argv[i], "quit_ms=", 8))
            quit_ms = (unsigned)atoi(argv[i] + 8);
    }
    if (!strcmp(op, "xs"))
        return xenstore(quit_ms, serve);
    if (!strcmp(op, "burst"))
        return burst(name, lines);
    if (!strcmp(op, "hostile"))
        return hostile();
    if (!strcmp(op, "crash"))
        return crash(wait_ms);
    if (!strcmp(op, "slow"))
        return slow();
    test_error("unknown op '%s'", op);
    return test_finish();
}
