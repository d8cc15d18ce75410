/* lwipopts.h: lwIP's configuration for minios appliances (threads, sockets, loopback and Ethernet netifs, DHCP, IPv4 and IPv6, TCP, UDP). */
#ifndef MINIOS_LWIPOPTS_H
#define MINIOS_LWIPOPTS_H

/* ---- OS: minios threads (sys_arch.c), tcpip thread, core lock ---- */
#define NO_SYS                          0
#define SYS_LIGHTWEIGHT_PROT            1
#define LWIP_TCPIP_CORE_LOCKING         1   /* API calls lock the core instead of messaging */
#define TCPIP_THREAD_NAME               "tcpip"
#define TCPIP_THREAD_STACKSIZE          (32 * 1024)
#define TCPIP_THREAD_PRIO               0   /* minios threads have no priorities */
#define TCPIP_MBOX_SIZE                 128
#define DEFAULT_THREAD_STACKSIZE        (32 * 1024)
#define DEFAULT_TCP_RECVMBOX_SIZE       64
#define DEFAULT_UDP_RECVMBOX_SIZE       16
#define DEFAULT_RAW_RECVMBOX_SIZE       8
#define DEFAULT_ACCEPTMBOX_SIZE         64

/* ---- memory: lwIP's own heap and pools, all static (.bss), ~1.5 MiB ---- */
#define MEM_LIBC_MALLOC                 0
#define MEMP_MEM_MALLOC                 0
#define MEM_ALIGNMENT                   8
#define MEM_SIZE                        (512 * 1024)
#define MEMP_NUM_PBUF                   256
#define MEMP_NUM_RAW_PCB                4
#define MEMP_NUM_UDP_PCB                16
#define MEMP_NUM_TCP_PCB                128  /* a burst of new connections while others close: see lwip.md */
#define MEMP_NUM_TCP_PCB_LISTEN         16
#define MEMP_NUM_TCP_SEG                512  /* >= TCP_SND_QUEUELEN, shared by all PCBs */
#define MEMP_NUM_REASSDATA              4
#define MEMP_NUM_FRAG_PBUF              8
#define MEMP_NUM_NETBUF                 64
#define MEMP_NUM_NETCONN                253  /* = the number of sockets: + 3 = FD_SETSIZE (the minios cc) */
#define MEMP_NUM_TCPIP_MSG_API          64
#define MEMP_NUM_TCPIP_MSG_INPKT        256
#define MEMP_NUM_SYS_TIMEOUT            (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 8)
#define PBUF_POOL_SIZE                  256

/* ---- protocols ---- */
#define LWIP_IPV4                       1
#define LWIP_IPV6                       1
#define LWIP_ARP                        1
#define LWIP_ETHERNET                   1
#define LWIP_ICMP                       1
#define LWIP_RAW                        1
#define LWIP_UDP                        1
#define LWIP_TCP                        1
#define LWIP_DHCP                       1
#define LWIP_AUTOIP                     0
#define LWIP_IGMP                       0
#define LWIP_DNS                        0
#define IP_REASSEMBLY                   1
#define IP_FRAG                         1
#define IP_DEFAULT_TTL                  64
#define LWIP_IPV6_DHCP6                 0
/* IPv6 reassembly keeps its bookkeeping in a copy of the fragment header
 * when a pointer does not fit in the 8-byte header (64-bit): lwIP asserts
 * this when the first IPv6 fragment arrives (seen once under load). */
#define IPV6_FRAG_COPYHEADER            1

#define TCP_MSS                         1460
#define TCP_WND                         (44 * TCP_MSS)   /* 64240: the most without window scaling */
#define TCP_SND_BUF                     (44 * TCP_MSS)
#define TCP_SND_QUEUELEN                ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
#define TCP_QUEUE_OOSEQ                 1
#define LWIP_TCP_KEEPALIVE              1
#define TCP_LISTEN_BACKLOG              1
#define TCP_DEFAULT_LISTEN_BACKLOG      64
#define SO_REUSE                        1

/* ---- loopback: 127.0.0.1 and ::1 on "lo", and traffic to our own addresses ---- */
#define LWIP_HAVE_LOOPIF                1
#define LWIP_NETIF_LOOPBACK             1
#define LWIP_LOOPBACK_MAX_PBUFS         64
#define LWIP_NETIF_STATUS_CALLBACK      1
#define LWIP_NETIF_LINK_CALLBACK        1

/* ---- APIs: netconn and BSD sockets ---- */
#define LWIP_NETCONN                    1
#define LWIP_SOCKET                     1
#define LWIP_COMPAT_SOCKETS             1   /* socket(), bind(), ... as macros for lwip_*() */
#define LWIP_POSIX_SOCKETS_IO_NAMES     0   /* read/write/close: <minios/net.h> dispatches by fd */
#define LWIP_SOCKET_OFFSET              3   /* after stdin, stdout, stderr */
#define LWIP_SOCKET_SELECT              1
#define LWIP_SOCKET_POLL                1
#define LWIP_SO_RCVTIMEO                1
#define LWIP_SO_SNDTIMEO                1
#define LWIP_SO_RCVBUF                  1
#define LWIP_SO_LINGER                  1
#define LWIP_TCP_PCB_NUM_EXT_ARGS       0
#define LWIP_NETIF_API                  0
#define LWIP_NETCONN_FULLDUPLEX         0
#define LWIP_NETCONN_SEM_PER_THREAD     0
#define LWIP_FIONREAD_LINUXMODE         1
#define RECV_BUFSIZE_DEFAULT            INT_MAX

/* ---- checks and statistics (lwip_stats: used by tests to find leaks) ---- */
#define LWIP_STATS                      1
#define LWIP_STATS_DISPLAY              0
#define MEM_STATS                       1
#define MEMP_STATS                      1
/* LWIP_DEBUG (lwIP tests #ifdef) stays undefined: no debug output. */

#endif /* MINIOS_LWIPOPTS_H */
