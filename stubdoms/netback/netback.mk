# netback.mk: the network driver domain $(B)/stubdoms/netback.elf (netif backend,
# learning switch, per-vif firewall; docs/network.md), its host unit test, and the
# net-* guest tests' appliance.

NETBACK_ELF  := $(B)/stubdoms/netback.elf
NETBACK_SRCS := stubdoms/netback/main.c stubdoms/netback/switch.c stubdoms/netback/fw.c stubdoms/netback/nic.c

$(eval $(call minios_elf,$(NETBACK_ELF),$(NETBACK_SRCS),-Istubdoms/netback))

# The appliance of the net-* tests (tests/net-common/main.c: lwIP + netfront)
# and the hostile frontend (tests/net-hostile/main.c: raw rings).
$(eval $(call minios_elf,$(B)/tests/net-app.elf,tests/net-common/main.c tests/common/report.c,-Itests/common $(LWIP_CFLAGS),$(LWIP_MINIOS)))
$(B)/tests/net-app.elf: $(LWIP_MINIOS)
$(eval $(call minios_elf,$(B)/tests/net-hostile.elf,tests/net-hostile/main.c tests/common/report.c,-Itests/common))

# Host unit test of the switch and the firewall, under ASan/UBSan.
UNIT_NETBACK_BIN := $(B)/tests/unit/test_netback
$(UNIT_NETBACK_BIN): tests/unit/test_netback.c stubdoms/netback/switch.c stubdoms/netback/fw.c \
		stubdoms/netback/switch.h stubdoms/netback/fw.h tests/unit/unit.h stubdoms/netback/netback.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Istubdoms/netback -Itests/unit \
		-o $@ tests/unit/test_netback.c stubdoms/netback/switch.c stubdoms/netback/fw.c
ALL_UNIT_BINS += $(UNIT_NETBACK_BIN)

.PHONY: netback
netback: $(NETBACK_ELF) $(B)/tests/net-app.elf $(B)/tests/net-hostile.elf $(UNIT_NETBACK_BIN)
all: netback

# Host unit test of the xenstore stub's vif wiring (stubdoms/xenstore/vif.c) on the
# real store core, under ASan/UBSan.
UNIT_XSVIF_BIN := $(B)/tests/unit/test_xsvif
XSVIF_CORE_SRCS := $(filter-out stubdoms/xenstore/main.c,$(wildcard stubdoms/xenstore/xs_*.c))
$(UNIT_XSVIF_BIN): tests/unit/test_xsvif.c stubdoms/xenstore/vif.c stubdoms/xenstore/vif.h \
		$(XSVIF_CORE_SRCS) stubdoms/xenstore/xs_store.h tests/unit/unit.h stubdoms/netback/netback.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Istubdoms/xenstore -Itests/unit \
		-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ \
		-o $@ tests/unit/test_xsvif.c stubdoms/xenstore/vif.c $(XSVIF_CORE_SRCS)
ALL_UNIT_BINS += $(UNIT_XSVIF_BIN)
netback: $(UNIT_XSVIF_BIN)
