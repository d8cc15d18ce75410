# The IOMMU's guest tests (docs/iommu.md): iommu-dma's two domains.
$(eval $(call minios_elf,$(B)/tests/iommu-dma.elf,tests/iommu-dma/main.c tests/common/report.c,-Itests/common))
all: $(B)/tests/iommu-dma.elf
