/* net.h: minios's TCP/IP stack (lwIP): start-up, and the BSD socket API for appliances. */
#ifndef MINIOS_NET_H
#define MINIOS_NET_H

/*
 * Appliances that use the network compile with $(LWIP_CFLAGS) and link
 * $(LWIP_MINIOS) (toolchain/lwip.mk). This header is also what the
 * <sys/socket.h>, <netinet/in.h>, <arpa/inet.h> and <poll.h> of
 * minios/lwip/include give.
 *
 * Sockets are lwIP's: socket(), bind(), listen(), accept(), connect(),
 * send(), recv(), sendto(), recvfrom(), shutdown(), getsockopt(),
 * setsockopt(), select(), poll(), inet_pton() ... are macros for lwip_*()
 * (LWIP_COMPAT_SOCKETS). Socket descriptors start at 3 (LWIP_SOCKET_OFFSET);
 * read(), write() and close() below go to lwIP for those and to newlib
 * for 0, 1 and 2. Define MINIOS_NET_NO_IO_NAMES before including this
 * header to keep read/write/close as they are.
 */

#include <sys/types.h>
#include <lwip/sockets.h>
#include <lwip/inet.h>

/*
 * Starts lwIP: the tcpip thread (a minios thread) and the loopback
 * interface "lo" with 127.0.0.1/8 (and ::1). Call it once from a thread,
 * before any socket call; later calls return at once. Returns 0, or a
 * negative Xen errno (-XEN_ENOMEM).
 */
int minios_net_init(void);

/* read/write/close for sockets and newlib's descriptors alike. */
ssize_t minios_net_read(int fd, void *buf, size_t len);
ssize_t minios_net_write(int fd, const void *buf, size_t len);
int minios_net_close(int fd);

/*
 * connect() and getsockopt(): lwIP's, except that a reset while
 * connecting (the peer had no listener) is ECONNREFUSED as on BSD and
 * Linux, where lwIP 2.1.3 says ECONNRESET: from a blocking connect(), and
 * from SO_ERROR after a non-blocking one.
 */
int minios_net_connect(int fd, const struct sockaddr *name, socklen_t namelen);
int minios_net_getsockopt(int fd, int level, int optname, void *optval,
                          socklen_t *optlen);
#undef connect
#define connect(s, name, namelen) minios_net_connect(s, name, namelen)
#undef getsockopt
#define getsockopt(s, level, optname, opval, optlen) \
        minios_net_getsockopt(s, level, optname, opval, optlen)

#ifndef MINIOS_NET_NO_IO_NAMES
#define read(fd, buf, len)  minios_net_read(fd, buf, len)
#define write(fd, buf, len) minios_net_write(fd, buf, len)
#define close(fd)           minios_net_close(fd)
#endif

#endif /* MINIOS_NET_H */
