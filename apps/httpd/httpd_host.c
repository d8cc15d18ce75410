/* httpd_host.c: httpd as a host program (for tests with real clients):
 * the same protocol core and socket loop, a POSIX thread per connection.
 *   httpd-host [PORT [MAXCONN [ROOT]]]   PORT 0 (default): a free port;
 *                 ROOT: serve that directory (httpd_root), not the table
 * Prints "httpd: listening on port N" once it accepts. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "httpd.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot = PTHREAD_COND_INITIALIZER;
static unsigned active, maxconn = 64;

static int64_t wall_clock(void)
{
    return (int64_t)time(NULL);
}

static void *conn_thread(void *arg)
{
    httpd_serve_fd((int)(intptr_t)arg, httpd_www, (size_t)httpd_www_count);
    pthread_mutex_lock(&lock);
    active--;
    pthread_cond_signal(&slot);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 2)
        maxconn = (unsigned)atoi(argv[2]);
    if (argc > 3) {
        size_t n = strlen(argv[3]);
        while (n > 1 && argv[3][n - 1] == '/')
            argv[3][--n] = 0;
        httpd_root = argv[3];
    }
    if (port < 0 || port > 65535 || maxconn == 0 || argc > 4 ||
        (httpd_root && (httpd_root[0] != '/' || strlen(httpd_root) >= HTTPD_ROOT_MAX))) {
        fprintf(stderr, "usage: %s [PORT [MAXCONN [ROOT]]]  (ROOT absolute)\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    httpd_clock = wall_clock;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 128) ||
        getsockname(ls, (struct sockaddr *)&a, &alen)) {
        perror("httpd: listen");
        return 1;
    }
    printf("httpd: listening on port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        pthread_mutex_lock(&lock);
        while (active >= maxconn)
            pthread_cond_wait(&slot, &lock);
        pthread_mutex_unlock(&lock);
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t t;
        pthread_mutex_lock(&lock);
        active++;
        pthread_mutex_unlock(&lock);
        if (pthread_create(&t, NULL, conn_thread, (void *)(intptr_t)fd)) {
            close(fd);
            pthread_mutex_lock(&lock);
            active--;
            pthread_mutex_unlock(&lock);
            continue;
        }
        pthread_detach(t);
    }
}
