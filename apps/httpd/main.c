/* main.c: httpd on minios. Listens on INADDR_ANY (every netif lwIP has),
 * a minios thread per connection, at most maxconn at once (the others wait
 * in the listen backlog).
 *   port=N       TCP port (default 80)
 *   maxconn=N    connections served at once (default 32, at most 248)
 *   selftest=1   also run the client self test over loopback, print its
 *                "Test result:" line and power off (tests/httpd)
 *   root=PATH    serve the files under PATH (/disk or below it) of the
 *                ext4 filesystem on the first disk= of the boot line,
 *                mounted read-only at /disk (keel/diskfs.h), instead of
 *                the compiled-in site.  A disk that does not mount is
 *                reported and every request gets 503 (httpd.h). */
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/net.h>
#include <minios/netfront.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "lwip/opt.h"
#include <sys/stat.h>
#include <keel/diskfs.h>
#include "httpd.h"
#include "selftest.h"
#include "report.h"

/* lwIP has MEMP_NUM_NETCONN sockets (253): keep some for the listener and
 * the self test. */
#define MAXCONN_LIMIT (MEMP_NUM_NETCONN - 5)

static unsigned maxconn = 32;
static unsigned active, peak;
static struct minios_waitq slots = MINIOS_WAITQ_INIT;

static char root[HTTPD_ROOT_MAX];
static char root_error[DISKFS_ERRLEN + 64];

/* root=PATH: mounts the disk at /disk and checks PATH there; on failure
 * the reason is printed and kept for the 503s. */
static void root_setup(int argc, char **argv)
{
    char err[DISKFS_ERRLEN];
    httpd_root = root;
    int rc = diskfs_mount_boot_ro(argc, argv, "/disk", err);
    if (rc) {
        snprintf(root_error, sizeof(root_error), "the disk did not mount: %s", err);
    } else {
        struct stat st;
        if (stat(root, &st))
            snprintf(root_error, sizeof(root_error), "%s: not found on the disk (errno %d)",
                     root, errno);
        else if (!S_ISDIR(st.st_mode))
            snprintf(root_error, sizeof(root_error), "%s: not a directory", root);
    }
    if (root_error[0]) {
        httpd_root_error = root_error;
        printf("httpd: root=%s: %s; every request gets 503\n", root, root_error);
    } else {
        printf("httpd: root=%s: serving the files of the disk's filesystem (read-only)\n", root);
    }
}

static void conn_thread(void *arg)
{
    httpd_serve_fd((int)(intptr_t)arg, httpd_www, (size_t)httpd_www_count);
    active--;
    minios_waitq_wake_one(&slots);
}

static void accept_loop(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        MINIOS_WAIT_EVENT(&slots, active < maxconn);
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            minios_sleep_ns(10 * 1000 * 1000);   /* out of sockets: let some close */
            continue;
        }
        active++;
        if (active > peak)
            peak = active;
        if (!minios_thread_create("http", conn_thread, (void *)(intptr_t)fd, 32 << 10)) {
            printf("httpd: no memory for a connection thread\n");
            close(fd);
            active--;
        }
    }
}

static int arg_uint(const char *a, const char *key, unsigned long max, unsigned long *v)
{
    size_t k = strlen(key);
    if (strncmp(a, key, k) != 0 || a[k] != '=')
        return 0;
    char *end;
    unsigned long x = strtoul(a + k + 1, &end, 10);
    if (a[k + 1] == 0 || *end || x > max) {
        printf("httpd: bad %s (0..%lu)\n", a, max);
        exit(2);
    }
    *v = x;
    return 1;
}

/* The PV wall clock (shared_info's wallclock plus system time). */
static int64_t wall_clock(void)
{
    uint64_t sec;
    uint32_t nsec;
    if (minios_wallclock(&sec, &nsec) || sec > INT64_MAX)
        return -1;
    return (int64_t)sec;
}

unsigned httpd_active_peak(void)
{
    return peak;
}

unsigned httpd_maxconn(void)
{
    return maxconn;
}

int main(int argc, char **argv)
{
    unsigned long port = 80, mc = maxconn, selftest = 0;
    for (int i = 1; i < argc; i++) {
        if (arg_uint(argv[i], "port", 65535, &port) ||
            arg_uint(argv[i], "maxconn", MAXCONN_LIMIT, &mc) ||
            arg_uint(argv[i], "selftest", 1, &selftest))
            continue;
        if (!strncmp(argv[i], "root=", 5)) {
            const char *r = argv[i] + 5;
            size_t n = strlen(r);
            while (n > 1 && r[n - 1] == '/')
                n--;
            if (n >= sizeof(root) || strncmp(r, "/disk", 5) || (n > 5 && r[5] != '/')) {
                printf("httpd: bad %s (/disk or a directory below it, shorter than %zu bytes)\n",
                       argv[i], sizeof(root));
                return 2;
            }
            memcpy(root, r, n);
            root[n] = 0;
        }
        /* other words (name=, mem=, ...) are the boot configuration's */
    }
    if (mc == 0 || port == 0) {
        printf("httpd: port and maxconn must not be 0\n");
        return 2;
    }
    maxconn = (unsigned)mc;
    httpd_clock = wall_clock;
    if (root[0])
        root_setup(argc, argv);
    if (minios_net_init()) {
        printf("httpd: lwIP did not start\n");
        return 1;
    }
    /* A vif from the boot line (vif=): lwIP's xn0, ip=/gw= or DHCP. */
    int nf = minios_netfront_start(argc, argv);
    if (nf && nf != -ENODEV) {
        printf("httpd: the vif did not start (%d)\n", nf);
        return 1;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 64)) {
        printf("httpd: cannot listen on port %lu\n", port);
        return 1;
    }
    if (root[0])
        printf("httpd: serving %s on port %lu, at most %u connections\n", root, port, maxconn);
    else
        printf("httpd: serving %llu files on port %lu, at most %u connections\n",
               (unsigned long long)httpd_www_count, port, maxconn);
    if (!selftest) {
        accept_loop((void *)(intptr_t)ls);
        return 0;
    }
    if (!minios_thread_create("accept", accept_loop, (void *)(intptr_t)ls, 0)) {
        printf("httpd: no memory for the accept thread\n");
        return 1;
    }
    httpd_selftest((uint16_t)port);
    return test_finish();
}
