# dm.mk: the device model stub domain $(B)/stubdoms/dm.elf (ioreq server,
# 16550A UART; docs/hvm.md) and the host unit test of its UART.

DM_ELF  := $(B)/stubdoms/dm.elf
DM_SRCS := stubdoms/dm/main.c stubdoms/dm/uart.c stubdoms/dm/pci.c stubdoms/dm/fwcfg.c

$(eval $(call minios_elf,$(DM_ELF),$(DM_SRCS),-Istubdoms/dm))

UNIT_DM_UART_BIN := $(B)/tests/unit/test_dm_uart
$(UNIT_DM_UART_BIN): tests/unit/test_dm_uart.c stubdoms/dm/uart.c stubdoms/dm/uart.h \
		tests/unit/unit.h stubdoms/dm/dm.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Istubdoms/dm -Itests/unit \
		-o $@ tests/unit/test_dm_uart.c stubdoms/dm/uart.c
ALL_UNIT_BINS += $(UNIT_DM_UART_BIN)

.PHONY: dm
dm: $(DM_ELF) $(UNIT_DM_UART_BIN)
all: dm

UNIT_DM_PCI_BIN := $(B)/tests/unit/test_dm_pci
$(UNIT_DM_PCI_BIN): tests/unit/test_dm_pci.c stubdoms/dm/pci.c stubdoms/dm/pci.h \
		tests/unit/unit.h stubdoms/dm/dm.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Istubdoms/dm -Itests/unit \
		-o $@ tests/unit/test_dm_pci.c stubdoms/dm/pci.c
ALL_UNIT_BINS += $(UNIT_DM_PCI_BIN)
dm: $(UNIT_DM_PCI_BIN)

UNIT_DM_FWCFG_BIN := $(B)/tests/unit/test_dm_fwcfg
$(UNIT_DM_FWCFG_BIN): tests/unit/test_dm_fwcfg.c stubdoms/dm/fwcfg.c stubdoms/dm/fwcfg.h \
		tests/unit/unit.h stubdoms/dm/dm.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Istubdoms/dm -Itests/unit \
		-o $@ tests/unit/test_dm_fwcfg.c stubdoms/dm/fwcfg.c
ALL_UNIT_BINS += $(UNIT_DM_FWCFG_BIN)
dm: $(UNIT_DM_FWCFG_BIN)
