/* netinet/in.h: the BSD socket names for minios appliances, from lwIP (see <minios/net.h>). */
#ifndef MINIOS_LWIP_COMPAT_NETINET_IN_H
#define MINIOS_LWIP_COMPAT_NETINET_IN_H

#include <minios/net.h>

#endif /* MINIOS_LWIP_COMPAT_NETINET_IN_H */
