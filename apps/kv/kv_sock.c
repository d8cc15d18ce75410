/* kv_sock.c: one RESP connection over a BSD socket (the host's, or lwIP's
 * on minios: the same calls). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/time.h>
#include "kv.h"

/* A client that reads nothing for this long is dropped; one that sends
 * nothing, after the store's timeout (none by default: Redis clients may
 * idle forever). */
#define KV_SEND_SECONDS 30
#define KV_RECV_CHUNK   16384

static int send_out(int fd, struct kv_conn *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = send(fd, c->out + off, c->out_len - off, 0);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    c->out_len = 0;
    return 0;
}

void kv_serve_fd(int fd, struct kv_store *s)
{
    struct timeval tv = { .tv_sec = KV_SEND_SECONDS };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (kv_store_timeout(s)) {
        struct timeval idle = { .tv_sec = kv_store_timeout(s) };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
    }
    int one = 1;              /* replies go out at once, as Redis sends them */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct kv_conn *c = malloc(sizeof(*c));
    char *buf = malloc(KV_RECV_CHUNK);
    if (!c || !buf || kv_conn_init(c, s)) {
        free(c);
        free(buf);
        close(fd);
        return;
    }
    for (;;) {
        ssize_t got = recv(fd, buf, KV_RECV_CHUNK, 0);
        if (got <= 0 || kv_feed(c, buf, (size_t)got))
            break;
        int r;
        while ((r = kv_run(c)) == 1)
            if (send_out(fd, c))
                goto out;
        if (send_out(fd, c) || r < 0)
            break;
    }
out:
    kv_conn_free(c);
    free(c);
    free(buf);
    close(fd);
}
