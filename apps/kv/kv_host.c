/* kv_host.c: kv as a host program (for tests with redis-cli and
 * redis-benchmark): the same core and socket loop, a POSIX thread per
 * connection, one lock around the store.
 *   kv-host [PORT [MAXCONN]]   PORT 0 (default): a free port
 * Prints "kv: listening on port N" once it accepts. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "kv.h"

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot = PTHREAD_COND_INITIALIZER;
static unsigned active, maxconn = 128;
static struct kv_store *store;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void do_lock(void *m)
{
    pthread_mutex_lock(m);
}

static void do_unlock(void *m)
{
    pthread_mutex_unlock(m);
}

static void *conn_thread(void *arg)
{
    kv_serve_fd((int)(intptr_t)arg, store);
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
    if (port < 0 || port > 65535 || maxconn == 0) {
        fprintf(stderr, "usage: %s [PORT [MAXCONN]]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    store = kv_store_new(now_ms, (uint64_t)t.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(),
                         256u << 20);
    if (!store)
        return 1;
    kv_store_set_lock(store, do_lock, do_unlock, &store_lock);
    kv_store_set_clients(store, maxconn, 0);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 128) ||
        getsockname(ls, (struct sockaddr *)&a, &alen)) {
        perror("kv: listen");
        return 1;
    }
    printf("kv: listening on port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        pthread_mutex_lock(&lock);
        while (active >= maxconn)
            pthread_cond_wait(&slot, &lock);
        pthread_mutex_unlock(&lock);
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t th;
        pthread_mutex_lock(&lock);
        active++;
        pthread_mutex_unlock(&lock);
        if (pthread_create(&th, NULL, conn_thread, (void *)(intptr_t)fd)) {
            close(fd);
            pthread_mutex_lock(&lock);
            active--;
            pthread_mutex_unlock(&lock);
            continue;
        }
        pthread_detach(th);
    }
}
