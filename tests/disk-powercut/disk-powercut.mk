# disk-powercut's guest and `make test-powercut` (docs/disk-tests.md):
# make test runs tests/disk-powercut/run.sh (20 cuts per image format,
# stopping at the first cut with a problem); test-powercut makes all 20
# whatever happens and lists every problem (KEEP_GOING=1).
$(eval $(call minios_elf,$(B)/tests/disk-powercut.elf,tests/disk-powercut/main.c tests/common/report.c,-Itests/common))
all: $(B)/tests/disk-powercut.elf
.PHONY: test-powercut
test-powercut: all
	KEEP_GOING=1 CUTS=20 bash tests/disk-powercut/run.sh
