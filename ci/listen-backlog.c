/*
 * listen-backlog.so: LD_PRELOADed into QEMU by the tests and benchmarks
 * that reach appliances through user networking's hostfwd.
 *
 * libslirp (Debian 12's 4.7, behind QEMU's -netdev user) listens on each
 * forwarded host port with a backlog of 1.  When a client opens many
 * connections at once (redis-benchmark -c 50) and QEMU's main loop is
 * slow to accept them (a loaded 2-core host), the host kernel's accept
 * queue overflows: it drops the handshake's last ACK, the client's
 * request waits on TCP retransmission with exponential backoff (stalls of
 * 3 to 60 s, seen as rps=0), and after the SYN-ACK retries run out the
 * client gets "Connection reset by peer".  None of that reaches the
 * guest.  This raises the backlog of every listen() in the process to
 * SOMAXCONN, as any server would ask; nothing else changes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>

int listen(int fd, int backlog)
{
    static int (*real_listen)(int, int);
    if (!real_listen)
        real_listen = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
    if (!real_listen)
        return -1;
    return real_listen(fd, backlog < SOMAXCONN ? SOMAXCONN : backlog);
}
