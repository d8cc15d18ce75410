# Legacy INTx guest tests (docs/pci.md): pci-intx's three domains.
$(eval $(call minios_elf,$(B)/tests/pci-intx.elf,tests/pci-intx/main.c tests/common/report.c,-Itests/common))
all: $(B)/tests/pci-intx.elf
