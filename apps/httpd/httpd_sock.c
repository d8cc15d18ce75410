/* httpd_sock.c: one HTTP connection over a BSD socket (the host's, or
 * lwIP's on minios: the same calls). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/time.h>
#include "httpd.h"

/* A client that sends nothing, or reads nothing, for this long is dropped. */
#define HTTPD_IDLE_SECONDS 30

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

/* Large files go out in pieces of this size, read as they are sent. */
#define HTTPD_PIECE (16u << 10)

/* Sends len bytes read from fd (then closes it); -1 if the file ends
 * early or cannot be read, or the client is gone. */
static int send_file(int sock, int fd, uint64_t len, char **piece)
{
    int rc = 0;
    if (!*piece)
        *piece = malloc(HTTPD_PIECE);
    if (!*piece)
        rc = -1;
    while (rc == 0 && len) {
        ssize_t n = read(fd, *piece, len > HTTPD_PIECE ? HTTPD_PIECE : (size_t)len);
        if (n <= 0 || send_all(sock, *piece, (size_t)n))
            rc = -1;
        else
            len -= (uint64_t)n;
    }
    close(fd);
    return rc;
}

void httpd_serve_fd(int fd, const struct httpd_file *files, size_t nfiles)
{
    struct timeval tv = { .tv_sec = HTTPD_IDLE_SECONDS };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    /* A head and its body go as two sends: do not let Nagle hold the
     * second until the client's delayed ACK of the first. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct httpd_conn *c = malloc(sizeof(*c));
    char *buf = malloc(4096), *piece = NULL;
    if (!c || !buf)
        goto out;
    httpd_conn_init(c, files, nfiles);
    for (;;) {
        ssize_t got = recv(fd, buf, 4096, 0);
        if (got <= 0)
            goto out;
        size_t off = 0;
        while (off < (size_t)got) {
            struct httpd_resp r;
            int ready;
            size_t used = httpd_feed(c, buf + off, (size_t)got - off, &r, &ready);
            off += used;
            if (!ready) {
                if (used == 0)
                    goto out;
                continue;
            }
            if (send_all(fd, r.head, r.head_len)) {
                if (r.body_fd >= 0)
                    close(r.body_fd);
                goto out;
            }
            if (r.body_fd >= 0 ? send_file(fd, r.body_fd, r.body_len, &piece)
                               : send_all(fd, r.body, r.body_len))
                goto out;
            if (r.close) {
                /* Let the response arrive before the close: stop sending,
                 * then read (and drop) what the client still sends for a
                 * while, so that unread data does not turn our close into
                 * a reset that destroys the response. */
                shutdown(fd, SHUT_WR);
                struct timeval drain = { .tv_sec = 2 };
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &drain, sizeof(drain));
                size_t dropped = 0;
                while (dropped < (1u << 20) && (got = recv(fd, buf, 4096, 0)) > 0)
                    dropped += (size_t)got;
                goto out;
            }
        }
    }
out:
    free(piece);
    free(buf);
    free(c);
    close(fd);
}
