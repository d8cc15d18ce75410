# tests/disk-restart: a guest's disk while its tapdisk domain crashes and
# restarts (docs/disk-restart.md); also used by tests/disk-restart-limit.
$(eval $(call minios_elf,$(B)/tests/disk-restart.elf,tests/disk-restart/main.c tests/common/report.c,-Itests/common))
all: $(B)/tests/disk-restart.elf
