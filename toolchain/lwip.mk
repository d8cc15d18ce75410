# lwip.mk: lwIP (TCP/IP stack, BSD sockets) for minios from Debian's source package, and its guest test.
#
# Outputs (all under $(B)/):
#   lwip-minios/liblwip.a    lwIP 2.1.3 (IPv4, IPv6, TCP, UDP, raw, sockets,
#                            loopback) configured by minios/lwip/lwipopts.h,
#                            with minios's port (minios/lwip/*.c)
#   tests/lwip.elf           the guest test tests/lwip/
#
# An appliance that uses sockets compiles with $(LWIP_CFLAGS) and links
# $(LWIP_MINIOS), e.g.
#   $(eval $(call minios_app,web,apps/web/main.c,$(LWIP_CFLAGS),$(LWIP_MINIOS)))
#   $(B)/apps/web.elf: $(LWIP_MINIOS)
#
# The sources are Debian's (with its patches), unpacked by ci/deps.sh into
# $(B)/src/lwip (apt-get source lwip); nothing enters the tree.

ifndef KEEL_LWIP_MK
KEEL_LWIP_MK := 1

LWIP_SRC    := $(B)/src/lwip
LWIP_OUT    := $(B)/lwip-minios
LWIP_MINIOS := $(LWIP_OUT)/liblwip.a

# For appliances: minios's lwipopts.h, arch/ and POSIX names, then lwIP's
# headers (as system headers: their warnings are not ours).
LWIP_CFLAGS := -Iminios/lwip/include -Iminios/lwip -isystem $(LWIP_SRC)/src/include

# Third-party code: its own warnings are not ours to fix (-w).
LWIP_TARGET_CFLAGS := -O2 -g -std=gnu11 -w -Iminios/lwip/include -Iminios/lwip \
                      -I$(LWIP_SRC)/src/include

# lwIP's src/Filelists.mk: COREFILES, CORE4FILES, CORE6FILES, APIFILES and
# the Ethernet layer (for netfront); what lwipopts.h leaves out compiles to
# nothing.
LWIP_FILES := core/init core/def core/dns core/inet_chksum core/ip core/mem \
    core/memp core/netif core/pbuf core/raw core/stats core/sys core/altcp \
    core/altcp_alloc core/altcp_tcp core/tcp core/tcp_in core/tcp_out \
    core/timeouts core/udp \
    core/ipv4/autoip core/ipv4/dhcp core/ipv4/etharp core/ipv4/icmp \
    core/ipv4/igmp core/ipv4/ip4_frag core/ipv4/ip4 core/ipv4/ip4_addr \
    core/ipv6/dhcp6 core/ipv6/ethip6 core/ipv6/icmp6 core/ipv6/inet6 \
    core/ipv6/ip6 core/ipv6/ip6_addr core/ipv6/ip6_frag core/ipv6/mld6 \
    core/ipv6/nd6 \
    api/api_lib api/api_msg api/err api/if_api api/netbuf api/netdb \
    api/netifapi api/sockets api/tcpip \
    netif/ethernet \
    apps/lwiperf/lwiperf
LWIP_OBJS := $(patsubst %,$(LWIP_OUT)/obj/%.o,$(LWIP_FILES))

# minios's port: our code, our warnings.
LWIP_PORT_SRCS := minios/lwip/sys_arch.c minios/lwip/net.c minios/lwip/vnetif.c
LWIP_PORT_OBJS := $(patsubst minios/lwip/%.c,$(LWIP_OUT)/port/%.o,$(LWIP_PORT_SRCS))
LWIP_PORT_HDRS := minios/lwip/lwipopts.h minios/lwip/arch/cc.h minios/lwip/arch/sys_arch.h

$(LWIP_SRC)/src/include/lwip/init.h:
	@echo "missing $@: run ci/deps.sh (it unpacks Debian's lwip source)" >&2; exit 1

$(LWIP_OUT)/obj/%.o: $(LWIP_SRC)/src/include/lwip/init.h $(LWIP_PORT_HDRS) \
		$(MINIOS_CC) $(NEWLIB_STAMP) | $(XENINC)/xen
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(LWIP_TARGET_CFLAGS) -c -o $@ $(LWIP_SRC)/src/$*.c

$(LWIP_OUT)/port/%.o: minios/lwip/%.c $(LWIP_SRC)/src/include/lwip/init.h \
		$(MINIOS_CC) $(NEWLIB_STAMP) | $(XENINC)/xen
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(MINIOS_APP_CFLAGS) $(LWIP_CFLAGS) -MMD -MP -c -o $@ $<
-include $(LWIP_PORT_OBJS:.o=.d)

# The network frontend (docs/network.md): a driver of the lwIP side.
LWIP_PORT_OBJS += $(LWIP_OUT)/port/netfront.o
$(LWIP_OUT)/port/netfront.o: minios/drivers/netfront.c $(LWIP_SRC)/src/include/lwip/init.h \
		$(MINIOS_CC) $(NEWLIB_STAMP) | $(XENINC)/xen
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(MINIOS_APP_CFLAGS) $(LWIP_CFLAGS) -MMD -MP -c -o $@ $<
-include $(LWIP_OUT)/port/netfront.d

$(LWIP_MINIOS): $(LWIP_OBJS) $(LWIP_PORT_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $^

# The guest test: threads and sockets over the loopback interface.
$(eval $(call minios_elf,$(B)/tests/lwip.elf,tests/lwip/main.c tests/common/report.c,-Itests/common $(LWIP_CFLAGS),$(LWIP_MINIOS)))
$(B)/tests/lwip.elf: $(LWIP_MINIOS)

.PHONY: lwip
lwip: $(LWIP_MINIOS) $(B)/tests/lwip.elf
all: lwip

endif
