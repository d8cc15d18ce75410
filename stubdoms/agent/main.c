/* main.c: the management agent stub domain on minios (role=control): the
 * hypervisor through sysctl/domctl, domain names from the store, entropy
 * from the CPU, and the HTTP server on lwIP (a thread per connection, at
 * most maxconn at once).  Boot line (docs/agent.md):
 *   user=NAME password=PW   the credentials (required; PW is hashed and wiped)
 *   port=N                  TCP port of the API (default 80)
 *   maxconn=N               connections served at once (default 16, at most 48)
 *   session_idle=S          seconds before an unused session ends (default 1800)
 *   kdf_iter=N              PBKDF2 iterations (default 20000, at least 1000)
 *   hostname=NAME           the host's name_label (default "keel")
 *   vif=, ip=, gw=          its network interface (netfront, docs/network.md)
 *   disk=xvda:PATH          its own ext4 disk, mounted at /var: VM records
 *                           persist in /var/vms (persist.c); none: memory only
 *   selftest=crash-on-udp   a UDP datagram to port 57005 saying "agent: crash"
 *                           aborts the agent (test agent-persist, restart=crash) */
#include "ctl.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/net.h>
#include <minios/netfront.h>
#include <minios/startinfo.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <keel/diskfs.h>
#include "agent.h"
#include "build.h"
#include "store.h"
#include "tls.h"
#include "devices_xs.h"

#define MAXCONN_LIMIT 48
#define IDLE_SECONDS 60

static unsigned maxconn = 16, active;
static struct minios_waitq slots = MINIOS_WAITQ_INIT;
static struct agent_api api;

/* ---- the hypervisor ---- */

/* Names read from the store, kept: a domain's name does not change and
 * domids are not reused while the hypervisor runs. */
#define NAME_CACHE 1024
static struct { uint32_t domid; char name[32]; } names[NAME_CACHE];
static unsigned nnames;

static void dom_name(uint32_t domid, char out[32])
{
    for (unsigned i = 0; i < nnames; i++)
        if (names[i].domid == domid) {
            memcpy(out, names[i].name, 32);
            return;
        }
    char path[48], *v = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    if (minios_xs_read(MINIOS_XBT_NIL, path, &v, &len) == 0 && len > 0 && len < 32 &&
        strlen(v) == len) {
        memcpy(out, v, len + 1);
        if (nnames < NAME_CACHE) {
            names[nnames].domid = domid;
            memcpy(names[nnames].name, out, 32);
            nnames++;
        }
    } else {
        snprintf(out, 32, "d%u", domid);
    }
    free(v);
}

static xen_domctl_getdomaininfo_t batch[64];

static int hv_list(void *ctx, struct agent_dom *out, unsigned max)
{
    (void)ctx;
    store_reap();
    unsigned n = 0;
    domid_t first = 0;
    for (;;) {
        struct xen_sysctl op;
        sysctl_init(&op, XEN_SYSCTL_getdomaininfolist);
        op.u.getdomaininfolist.first_domain = first;
        op.u.getdomaininfolist.max_domains = 64;
        set_xen_guest_handle(op.u.getdomaininfolist.buffer, batch);
        long rc = do_sysctl(&op);
        if (rc)
            return (int)rc;
        uint32_t got = op.u.getdomaininfolist.num_domains;
        if (got > 64)
            return -XEN_EIO;
        for (uint32_t i = 0; i < got && n < max; i++) {
            const xen_domctl_getdomaininfo_t *g = &batch[i];
            struct agent_dom *d = &out[n++];
            memset(d, 0, sizeof(*d));
            d->domid = g->domain;
            memcpy(d->handle, g->handle, 16);
            d->dying = !!(g->flags & XEN_DOMINF_dying);
            d->shutdown = !!(g->flags & XEN_DOMINF_shutdown);
            d->paused = !!(g->flags & XEN_DOMINF_paused);
            d->blocked = !!(g->flags & XEN_DOMINF_blocked);
            d->running = !!(g->flags & XEN_DOMINF_running);
            d->xs_domain = !!(g->flags & XEN_DOMINF_xs_domain);
            d->shutdown_code = (g->flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
            d->tot_pages = g->tot_pages;
            d->max_pages = g->max_pages;
            d->max_vcpus = g->max_vcpu_id + 1;
            d->online_vcpus = g->nr_online_vcpus;
            d->cpu_time_ns = g->cpu_time;
            dom_name(d->domid, d->name);
        }
        if (got < 64 || n >= max)
            break;
        first = (domid_t)(batch[got - 1].domain + 1);
    }
    return (int)n;
}

static int hv_physinfo(void *ctx, struct agent_hostinfo *h)
{
    (void)ctx;
    struct xen_sysctl op;
    sysctl_init(&op, XEN_SYSCTL_physinfo);
    long rc = do_sysctl(&op);
    if (rc)
        return (int)rc;
    h->nr_cpus = op.u.physinfo.nr_cpus;
    h->cpu_khz = op.u.physinfo.cpu_khz;
    h->total_pages = op.u.physinfo.total_pages;
    h->free_pages = op.u.physinfo.free_pages;
    return 0;
}

static int hv_pause(void *ctx, uint32_t domid)
{
    (void)ctx;
    return (int)domctl_simple(XEN_DOMCTL_pausedomain, (domid_t)domid);
}

static int hv_unpause(void *ctx, uint32_t domid)
{
    (void)ctx;
    return (int)domctl_simple(XEN_DOMCTL_unpausedomain, (domid_t)domid);
}

static int hv_destroy(void *ctx, uint32_t domid)
{
    (void)ctx;
    return (int)domctl_simple(XEN_DOMCTL_destroydomain, (domid_t)domid);
}

static int hv_wait_gone(void *ctx, uint32_t domid, unsigned seconds)
{
    (void)ctx;
    uint64_t end = minios_monotonic_ns() + (uint64_t)seconds * 1000000000ull;
    for (;;) {
        struct xen_domctl_getdomaininfo gi;
        if (getdomaininfo((domid_t)domid, &gi) || gi.domain != domid) {
            store_reap();
            return 0;
        }
        if (minios_monotonic_ns() > end)
            return -1;
        minios_sleep_ns(5 * 1000 * 1000);
    }
}

/* bench=1 (ci/bench-agent.sh): each VM.start logs the TSC at its call
 * and the heap's top (newlib's malloc grows it with sbrk and never lowers
 * it below its high-water mark). */
static int bench_log;
static char *heap_base;

static uint64_t tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* bench=1: a large answer's ticks in the call (parse, dispatch, records,
 * serialisation: http_conn_feed) and in its socket writes, every 16th. */
static void bench_request(uint64_t work, uint64_t send, size_t bytes)
{
    static unsigned long n;
    if (n++ % 16 == 0)
        printf("bench: agent answer of %zu bytes: call_tsc=%llu send_tsc=%llu\n", bytes,
               (unsigned long long)work, (unsigned long long)send);
}

static int hv_start(void *ctx, const struct agent_vmdef *vm, int paused, uint32_t *domid,
                    char *err, size_t errlen)
{
    (void)ctx;
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t t0 = ((uint64_t)hi << 32) | lo;
    store_reap();
    /* Built paused, introduced to the store, then let run (unless asked
     * to stay paused): it finds its nodes from its first instruction. */
    struct build_cfg cfg = { .kernel = vm->kernel, .mem_bytes = vm->mem_bytes, .vcpus = vm->vcpus,
                             .args = vm->args, .paused = 1, .store_domid = store_domid() };
    memcpy(cfg.handle, vm->uuid, 16);
    struct build_out out = { 0 };
    int rc = build_start(&cfg, &out, err, errlen);
    if (rc == 0 && cfg.store_domid >= 0 &&
        store_introduce(minios_domid(), vm, &out, err, errlen)) {
        domctl_simple(XEN_DOMCTL_destroydomain, (domid_t)out.domid);
        rc = -1;
    }
    /* Its VIFs' frontend and backend nodes (devices_xs.c), before it runs. */
    if (rc == 0 && (devices_xs_write(vm, out.domid, err, errlen) ||
                    devices_xs_write_vbds(vm, out.domid, err, errlen))) {
        domctl_simple(XEN_DOMCTL_destroydomain, (domid_t)out.domid);
        rc = -1;
    }
    if (rc == 0 && !paused && domctl_simple(XEN_DOMCTL_unpausedomain, (domid_t)out.domid)) {
        snprintf(err, errlen, "unpausedomain d%u failed", out.domid);
        domctl_simple(XEN_DOMCTL_destroydomain, (domid_t)out.domid);
        rc = -1;
    }
    if (rc == 0)
        *domid = out.domid;
    if (rc == 0 && bench_log)
        printf("bench: agent VM.start d%u request_tsc=%llu heap_bytes=%lu\n", *domid,
               (unsigned long long)t0, (unsigned long)((char *)sbrk(0) - heap_base));
    if (rc == 0)
        printf("agent: VM %s started as d%u (%s, %llu KiB%s)\n", vm->name, *domid, vm->kernel,
               (unsigned long long)(vm->mem_bytes >> 10), paused ? ", paused" : "");
    else
        printf("agent: VM %s did not start: %s\n", vm->name, err);
    return rc;
}

/* VM.clean_shutdown: the request written where the domain watches
 * (minios: minios/kernel/shutdown.c), if it has a control node. */
static int hv_control(void *ctx, uint32_t domid, const char *req)
{
    (void)ctx;
    char path[64], *v = NULL;
    snprintf(path, sizeof(path), "/local/domain/%u/control", domid);
    int rc = minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL);
    free(v);
    if (rc)
        return rc == -ENOENT ? -2 : rc;
    snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", domid);
    rc = minios_xs_write(MINIOS_XBT_NIL, path, req);
    if (rc == 0)
        printf("agent: asked d%u to %s through control/shutdown\n", domid, req);
    return rc;
}

static int hv_wait_shutdown(void *ctx, uint32_t domid, unsigned seconds)
{
    (void)ctx;
    uint64_t end = minios_monotonic_ns() + (uint64_t)seconds * 1000000000ull;
    for (;;) {
        struct xen_domctl_getdomaininfo gi;
        if (getdomaininfo((domid_t)domid, &gi) || gi.domain != domid ||
            (gi.flags & (XEN_DOMINF_shutdown | XEN_DOMINF_dying)))
            return 0;
        if (minios_monotonic_ns() > end) {
            printf("agent: d%u did not shut down in %u s: destroying it\n", domid, seconds);
            return -1;
        }
        minios_sleep_ns(20 * 1000 * 1000);
    }
}

static void hv_sleep_ms(void *ctx, unsigned ms)
{
    (void)ctx;
    minios_sleep_ns((uint64_t)ms * 1000 * 1000);
}

/* Async.* calls run in a thread of their own (events.c). */
static int hv_spawn(void (*fn)(void *), void *arg)
{
    return minios_thread_create("task", fn, arg, 64 << 10) ? 0 : -1;
}

/* PV_kernel: an image embedded in the agent, or (with its disk) an ELF
 * file /var/kernels/NAME there, read when the VM starts (build.c). */
static int kernels_on_disk;

static int kernel_known(const char *name)
{
    return build_image_known(name) || (kernels_on_disk && build_kernel_path_ok(name));
}

static struct agent_hv hv = {
    .sleep_ms = hv_sleep_ms, .spawn = hv_spawn,
    .control = hv_control, .wait_shutdown = hv_wait_shutdown,
    .list = hv_list, .physinfo = hv_physinfo,
    .pause = hv_pause, .unpause = hv_unpause, .destroy = hv_destroy,
    .start = hv_start, .wait_gone = hv_wait_gone, .kernel_known = kernel_known,
    .networks = devices_xs_networks, .disk_backend = devices_xs_disk_backend,
};

/* ---- time and entropy ---- */

static uint64_t now_s(void)
{
    return minios_monotonic_ns() / 1000000000ull;
}

static int have_rdrand(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    return !!(c & (1u << 30));
}

/* The CPU's RDRAND (the only entropy source minios has); -1 if it fails. */
static int entropy(void *ctx, unsigned char *out, size_t len, size_t *olen)
{
    (void)ctx;
    size_t done = 0;
    while (done < len) {
        uint64_t v = 0;
        unsigned char ok = 0;
        for (int tries = 0; tries < 10 && !ok; tries++)
            __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
        if (!ok)
            return -1;
        size_t n = len - done < 8 ? len - done : 8;
        memcpy(out + done, &v, n);
        done += n;
    }
    *olen = len;
    return 0;
}

static unsigned long xml_salt(void)
{
    unsigned long s = 0;
    if (auth_random(api.auth, &s, sizeof(s)))
        s = (unsigned long)minios_monotonic_ns();
    return s;
}

/* ---- HTTP ---- */

static int send_all(int fd, const void *p, size_t len)
{
    const char *b = p;
    while (len) {
        ssize_t n = send(fd, b, len > 65536 ? 65536 : len, 0);
        if (n <= 0)
            return -1;
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

/* HTTPS: a handshake must end within this many seconds; failed ones are
 * counted and the first few logged. */
#define HANDSHAKE_SECONDS 10
static unsigned long handshakes_failed;

/* arg: the socket << 1, | 1 for TLS. */
static void conn_thread(void *arg)
{
    int fd = (int)((intptr_t)arg >> 1), tls = (int)((intptr_t)arg & 1);
    struct timeval tv = { .tv_sec = IDLE_SECONDS }, hs = { .tv_sec = HANDSHAKE_SECONDS };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tls ? &hs : &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tls ? &hs : &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct tls_conn *t = NULL;
    struct agent_http *c = NULL;
    char *buf = NULL;
    if (tls) {
        char err[160];
        t = tls_accept(fd, err, sizeof(err));
        if (!t) {
            if (++handshakes_failed <= 10 || handshakes_failed % 1000 == 0)
                printf("agent: HTTPS: %s (%lu failed handshakes)\n", err, handshakes_failed);
            goto out;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    c = malloc(sizeof(*c));
    buf = malloc(4096);
    if (!c || !buf)
        goto out;
    http_conn_init(c, &api);
    for (int open = 1; open;) {
        ssize_t got = t ? tls_read(t, buf, 4096) : recv(fd, buf, 4096, 0);
        if (got <= 0)
            break;
        size_t off = 0;
        while (open && off < (size_t)got) {
            struct agent_http_resp r;
            int ready;
            uint64_t t0 = bench_log ? tsc() : 0;
            size_t used = http_conn_feed(c, buf + off, (size_t)got - off, &r, &ready);
            off += used;
            if (!ready) {
                if (used == 0)
                    open = 0;
                continue;
            }
            uint64_t t1 = bench_log ? tsc() : 0;
            if (t ? tls_write_all(t, r.head, r.head_len) || (r.body_len && tls_write_all(t, r.body, r.body_len))
                  : send_all(fd, r.head, r.head_len) || (r.body_len && send_all(fd, r.body, r.body_len)))
                open = 0;
            if (bench_log && r.body_len > 65536)
                bench_request(t1 - t0, tsc() - t1, r.body_len);
            free(r.body);
            if (r.close)
                open = 0;
        }
    }
    http_conn_free(c);
out:
    if (t)
        tls_close(t);
    free(c);
    free(buf);
    close(fd);
    active--;
    minios_waitq_wake_one(&slots);
}

static void accept_loop(int ls, int tls)
{
    for (;;) {
        MINIOS_WAIT_EVENT(&slots, active < maxconn);
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            minios_sleep_ns(10 * 1000 * 1000);
            continue;
        }
        active++;
        if (!minios_thread_create(tls ? "api-tls" : "api", conn_thread,
                                  (void *)(((intptr_t)fd << 1) | (tls != 0)), 64 << 10)) {
            printf("agent: no memory for a connection thread\n");
            close(fd);
            active--;
        }
    }
}

static int plain_listener = -1;
static void plain_thread(void *arg)
{
    (void)arg;
    accept_loop(plain_listener, 0);
}

static int listen_on(unsigned long port)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 16)) {
        printf("agent: cannot listen on port %lu\n", port);
        return -1;
    }
    return ls;
}

/* ---- start ---- */

static int arg_uint(const char *a, const char *key, unsigned long min, unsigned long max,
                    unsigned long *v)
{
    size_t k = strlen(key);
    if (strncmp(a, key, k) != 0 || a[k] != '=')
        return 0;
    char *end;
    unsigned long x = strtoul(a + k + 1, &end, 10);
    if (a[k + 1] == 0 || *end || x < min || x > max) {
        printf("agent: bad %s (%lu..%lu)\n", a, min, max);
        exit(2);
    }
    *v = x;
    return 1;
}

/* Overwrites every copy of the password we can reach: argv's and the
 * command line in start_info. */
static void wipe_password(char *pw, size_t len)
{
    char *cl = (char *)minios_start_info->cmd_line;
    size_t cn = strnlen(cl, MAX_GUEST_CMDLINE);
    for (size_t i = 0; i + 9 <= cn; i++)
        if (!strncmp(cl + i, "password=", 9) && (i == 0 || cl[i - 1] == ' '))
            for (size_t j = i + 9; j < cn && cl[j] != ' '; j++)
                cl[j] = 'x';
    volatile char *p = pw;
    for (size_t i = 0; i < len; i++)
        p[i] = 0;
}

/* ---- VM records on the agent's own disk ---- */

static void persist_log(const char *msg)
{
    printf("agent: record %s\n", msg);
}

/* The credentials session.change_password saved (api.auth_path), the
 * newest whole copy (persist_read_newest); none: the boot line's stay. */
static int take_credentials(const char *text, size_t len, void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    return auth_import(api.auth, text, len, err, errlen);
}

static void credentials_log(const char *msg)
{
    printf("agent: %s\n", msg);
}

static void load_credentials(void)
{
    char from[200];
    if (!persist_read_newest(api.auth_path, 4096, take_credentials, NULL, credentials_log, from,
                             sizeof(from)))
        printf("agent: credentials from %s (set by session.change_password)\n", from);
}

static void devices_log(const char *msg)
{
    printf("agent: devices: %s\n", msg);
}

/* Mounts the disk= of the boot line at /var and loads /var/vms; 1 with
 * the records on the disk, 0 without a disk (memory only), -1 if the
 * disk named cannot serve (the agent stops: it would forget its VMs). */
static int persist_start(int argc, char **argv)
{
    int has_disk = 0;
    for (int i = 1; i < argc; i++)
        has_disk |= !strncmp(argv[i], "disk=", 5);
    if (!has_disk) {
        printf("agent: no disk= on the boot line: VM records are kept in memory only\n");
        return 0;
    }
    char err[DISKFS_ERRLEN];
    int rc = diskfs_mount_boot(argc, argv, "/var", err);
    if (rc) {
        printf("agent: its disk did not mount at /var (%d): %s\n", rc, err);
        return -1;
    }
    if (mkdir("/var/vms", 0700) && errno != EEXIST) {
        printf("agent: mkdir /var/vms: %s\n", strerror(errno));
        return -1;
    }
    snprintf(api.store_dir, sizeof(api.store_dir), "/var/vms");
    kernels_on_disk = 1;
    int n = persist_load(api.store_dir, api.vms, AGENT_MAX_VMDEFS, kernel_known, persist_log);
    if (n < 0)
        return -1;
    printf("agent: %d VM records loaded from /var/vms (its disk)\n", n);
    snprintf(api.devices_path, sizeof(api.devices_path), "/var/devices.json");
    devices_load(&api, devices_log);
    /* Credentials changed by session.change_password win over the boot
     * line's (whose password was hashed and wiped all the same). */
    snprintf(api.auth_path, sizeof(api.auth_path), "/var/auth.json");
    load_credentials();
    return 1;
}

/* Starts the defined VMs marked other_config:auto_poweron, but not one
 * whose domain (its handle the VM's uuid) outlived the agent's crash. */
static void autostart(void)
{
    struct agent_dom *doms = malloc(AGENT_MAX_DOMS * sizeof(*doms));
    int nd = doms ? hv_list(NULL, doms, AGENT_MAX_DOMS) : -1;
    if (nd < 0)
        printf("agent: autostart: the domain list failed (%d): no autostart\n", nd);
    for (int i = 0; i < AGENT_MAX_VMDEFS && nd >= 0; i++) {
        struct agent_vmdef *vm = api_vm(&api, i);
        if (!vm || !vm->auto_poweron)
            continue;
        int live = -1;
        for (int k = 0; k < nd && live < 0; k++)
            if (!memcmp(doms[k].handle, vm->uuid, 16))
                live = k;
        if (live >= 0) {
            printf("agent: autostart: VM %s already has domain d%u\n", vm->name,
                   doms[live].domid);
            continue;
        }
        char err[160];
        uint32_t domid;
        printf("agent: autostart of VM %s (other_config:auto_poweron)\n", vm->name);
        hv_start(NULL, vm, 0, &domid, err, sizeof(err));
    }
    free(doms);
}

/* selftest=crash-on-udp: a datagram to 57005 starting "agent: crash". */
static void crash_listener(void *arg)
{
    (void)arg;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(57005),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a))) {
        printf("agent: selftest=crash-on-udp: cannot bind UDP port 57005\n");
        return;
    }
    for (;;) {
        char buf[64];
        ssize_t n = recv(s, buf, sizeof(buf), 0);
        if (n >= 12 && !memcmp(buf, "agent: crash", 12)) {
            printf("agent: selftest=crash-on-udp: the trigger came: crashing\n");
            abort();
        }
    }
}

int main(int argc, char **argv)
{
    unsigned long port = 80, mc = maxconn, idle = SESSION_DEFAULT_IDLE, iter = AUTH_DEFAULT_ITER;
    unsigned long https_port = 443, http = 0, bench = 0;
    heap_base = sbrk(0);
    const char *user = NULL, *hostname = "keel";
    char *password = NULL;
    char address[48] = "";
    for (int i = 1; i < argc; i++) {
        if (arg_uint(argv[i], "port", 1, 65535, &port) ||
            arg_uint(argv[i], "maxconn", 1, MAXCONN_LIMIT, &mc) ||
            arg_uint(argv[i], "session_idle", 1, 30ul * 86400, &idle) ||
            arg_uint(argv[i], "kdf_iter", 1000, 10000000, &iter) ||
            arg_uint(argv[i], "https_port", 1, 65535, &https_port) ||
            arg_uint(argv[i], "http", 0, 1, &http) ||
            arg_uint(argv[i], "bench", 0, 1, &bench))
            continue;
        if (!strncmp(argv[i], "user=", 5))
            user = argv[i] + 5;
        else if (!strncmp(argv[i], "password=", 9))
            password = argv[i] + 9;
        else if (!strncmp(argv[i], "hostname=", 9))
            hostname = argv[i] + 9;
        else if (!strncmp(argv[i], "ip=", 3))
            snprintf(address, sizeof(address), "%.*s", (int)strcspn(argv[i] + 3, "/"), argv[i] + 3);
        /* other words (name=, mem=, role=, vif=, gw= ...) are the boot
         * configuration's or netfront's */
    }
    maxconn = (unsigned)mc;
    bench_log = (int)bench;
    if (!user || !password) {
        printf("agent: user= and password= are required on the boot line\n");
        return 2;
    }
    if (!*hostname || strlen(hostname) >= sizeof(api.hostname)) {
        printf("agent: hostname= must be 1 to %zu bytes\n", sizeof(api.hostname) - 1);
        return 2;
    }
    if (!have_rdrand()) {
        printf("agent: the CPU has no RDRAND: no entropy for sessions (refusing to start)\n");
        return 1;
    }
    char err[120];
    size_t plen = strlen(password);
    uint64_t t0 = minios_monotonic_ns();
    struct agent_auth *auth = auth_create(user, password, (unsigned)iter, idle, entropy, NULL,
                                          err, sizeof(err));
    wipe_password(password, plen);
    if (!auth) {
        printf("agent: credentials: %s\n", err);
        return 1;
    }
    printf("agent: password for %s hashed (PBKDF2-HMAC-SHA256, %lu iterations, %llu ms) and wiped\n",
           user, iter, (unsigned long long)((minios_monotonic_ns() - t0) / 1000000));
    hv.self = minios_domid();
    static char knames[160];     /* what PV_kernel may name: set once the disk is known */
    hv.kernel_names = knames;
    api_init(&api, &hv, auth, now_s, hostname, address);
    rpc_salt = xml_salt;
    unsigned long seed;
    auth_random(auth, &seed, sizeof(seed));
    json_object_seed((size_t)seed);

    struct xen_sysctl probe;
    sysctl_init(&probe, XEN_SYSCTL_physinfo);
    long prc = do_sysctl(&probe);
    if (prc) {
        printf("agent: sysctl refused (%ld): the agent needs role=control\n", prc);
        return 1;
    }
    int crash_on_udp = 0;
    for (int i = 1; i < argc; i++)
        crash_on_udp |= !strcmp(argv[i], "selftest=crash-on-udp");
    int persisted = persist_start(argc, argv);
    if (persisted < 0)
        return 1;
    snprintf(knames, sizeof(knames),
             kernels_on_disk ? "the images embedded in it (%s) and the ELF files " BUILD_KERNEL_DIR
                               "NAME on its disk"
                             : "only the images embedded in it: %s",
             build_image_names);
    if (minios_net_init()) {
        printf("agent: lwIP did not start\n");
        return 1;
    }
    int nf = minios_netfront_start(argc, argv);
    if (nf && nf != -ENODEV) {
        printf("agent: the vif did not start (%d)\n", nf);
        return 1;
    }
    char terr[200];
    if (tls_init(auth, persisted ? "/var/tls" : NULL, hostname, terr, sizeof(terr))) {
        printf("agent: HTTPS: %s\n", terr);
        return 1;
    }
    int ls = listen_on(https_port);
    if (ls < 0)
        return 1;
    if (http) {
        plain_listener = listen_on(port);
        if (plain_listener < 0 || !minios_thread_create("api-listen", plain_thread, NULL, 16 << 10))
            return 1;
    }
    printf("agent: XenAPI (JSON-RPC /jsonrpc, XML-RPC /xmlrpc) over HTTPS on port %lu%s, host %s (%s), "
           "at most %u connections, %zu methods\n",
           https_port, http ? ", plain HTTP too (http=1)" : " (plain HTTP off: no http=1)", hostname,
           api.host_uuid, maxconn, api_method_count());
    if (http)
        printf("agent: plain HTTP on port %lu (http=1)\n", port);
    if (crash_on_udp && !minios_thread_create("agent-crash", crash_listener, NULL, 16 << 10))
        printf("agent: selftest=crash-on-udp: no thread\n");
    store_adopt(minios_domid());
    store_reap();
    autostart();
    accept_loop(ls, 1);
    return 0;
}
