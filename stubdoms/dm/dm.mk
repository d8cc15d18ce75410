# dm.mk: the device model stub domain $(B)/stubdoms/dm.elf (ioreq server; the
# PCI host, fw_cfg, UARTs, debug console; docs/hvm.md) and the host unit tests
# of its devices.

DM_ELF  := $(B)/stubdoms/dm.elf
DM_SRCS := stubdoms/dm/main.c stubdoms/dm/serve.c stubdoms/dm/uart.c stubdoms/dm/pci.c stubdoms/dm/fwcfg.c \
           stubdoms/dm/ide.c stubdoms/dm/acpi.c

$(eval $(call minios_elf,$(DM_ELF),$(DM_SRCS),-Istubdoms/dm))

# dm_unit NAME: the host unit test tests/unit/test_dm_NAME.c of
# stubdoms/dm/NAME.c, under ASan/UBSan.
define dm_unit
$(B)/tests/unit/test_dm_$(1): tests/unit/test_dm_$(1).c stubdoms/dm/$(1).c stubdoms/dm/$(1).h \
		tests/unit/unit.h stubdoms/dm/dm.mk | $(XENINC)/xen
	$$(call msg,HOSTCC,$$@)
	$$(Q)mkdir -p $$(@D) && $$(HOSTCC) $$(HOST_CFLAGS) -Istubdoms/dm -Itests/unit -I$(XENINC) \
		-o $$@ tests/unit/test_dm_$(1).c stubdoms/dm/$(1).c
ALL_UNIT_BINS += $(B)/tests/unit/test_dm_$(1)
dm: $(B)/tests/unit/test_dm_$(1)
endef

.PHONY: dm
dm: $(DM_ELF)
all: dm
$(foreach u,uart pci fwcfg ide serve acpi,$(eval $(call dm_unit,$(u))))
