# disk-64m's guest (docs/disk-tests.md): 64 MiB per image format.
$(eval $(call minios_elf,$(B)/tests/disk-64m.elf,tests/disk-64m/main.c tests/common/report.c,-Itests/common))
all: $(B)/tests/disk-64m.elf
