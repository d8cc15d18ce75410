/* net.c: starts lwIP on minios (tcpip thread, loopback interface) and dispatches read/write/close between sockets and newlib. */
#include <errno.h>
#include <unistd.h>

#define MINIOS_NET_NO_IO_NAMES
#include <minios/net.h>
#include <minios/hypercall.h>

#include "lwip/netif.h"
#include "lwip/sys.h"
#include "lwip/tcpip.h"
#include "vnetif.h"

static int net_up;

static void tcpip_ready(void *arg)
{
    sys_sem_signal((sys_sem_t *)arg);
}

int minios_net_init(void)
{
    sys_sem_t ready;

    if (net_up)
        return 0;
    if (sys_sem_new(&ready, 0) != ERR_OK)
        return -XEN_ENOMEM;
    /* lwip_init (in the tcpip thread) adds "lo" (LWIP_HAVE_LOOPIF) and
     * brings it up. */
    tcpip_init(tcpip_ready, &ready);
    sys_sem_wait(&ready);
    sys_sem_free(&ready);
    net_up = 1;
    /* The NIC, if the domain owns one (pci= with a virtio-net device). */
    return minios_vnetif_start();
}

static int is_socket(int fd)
{
    /* Above lwIP's sockets: files (minios/fs.h, MINIOS_FS_FD_BASE). */
    return fd >= LWIP_SOCKET_OFFSET && fd < LWIP_SOCKET_OFFSET + MEMP_NUM_NETCONN;
}

ssize_t minios_net_read(int fd, void *buf, size_t len)
{
    return is_socket(fd) ? lwip_read(fd, buf, len) : read(fd, buf, len);
}

ssize_t minios_net_write(int fd, const void *buf, size_t len)
{
    return is_socket(fd) ? lwip_write(fd, buf, len) : write(fd, buf, len);
}

/* Sockets whose non-blocking connect() is in progress: a reset on them
 * means "refused". */
static unsigned char connecting[MEMP_NUM_NETCONN];

static unsigned char *connecting_flag(int fd)
{
    unsigned i = (unsigned)(fd - LWIP_SOCKET_OFFSET);
    return i < MEMP_NUM_NETCONN ? &connecting[i] : NULL;
}

int minios_net_close(int fd)
{
    unsigned char *c = connecting_flag(fd);

    if (c)
        *c = 0;
    return is_socket(fd) ? lwip_close(fd) : close(fd);
}

int minios_net_connect(int fd, const struct sockaddr *name, socklen_t namelen)
{
    unsigned char *c = connecting_flag(fd);
    int r = lwip_connect(fd, name, namelen);

    if (c)
        *c = 0;
    if (r < 0 && errno == ECONNRESET)
        errno = ECONNREFUSED;
    else if (r < 0 && errno == EINPROGRESS && c)
        *c = 1;
    return r;
}

int minios_net_getsockopt(int fd, int level, int optname, void *optval,
                          socklen_t *optlen)
{
    unsigned char *c = connecting_flag(fd);
    int r = lwip_getsockopt(fd, level, optname, optval, optlen);

    if (r == 0 && c && *c && level == SOL_SOCKET && optname == SO_ERROR &&
        optlen && *optlen >= sizeof(int)) {
        int *e = optval;
        if (*e == ECONNRESET)
            *e = ECONNREFUSED;
        if (*e != 0)
            *c = 0;
    }
    return r;
}
