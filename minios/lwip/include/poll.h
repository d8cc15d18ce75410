/* poll.h: the BSD socket names for minios appliances, from lwIP (see <minios/net.h>). */
#ifndef MINIOS_LWIP_COMPAT_POLL_H
#define MINIOS_LWIP_COMPAT_POLL_H

#include <minios/net.h>

#endif /* MINIOS_LWIP_COMPAT_POLL_H */
