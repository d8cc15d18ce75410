# disk-powercut's guest and `make test-powercut` (docs/disk-tests.md).
# make test runs tests/disk-powercut-full/run.sh (20 cuts per image
# format on fully written images) and tests/disk-powercut/run.sh (the
# same on empty images that grow);
# test-powercut makes all 20 cuts of both whatever happens, lists every
# problem (KEEP_GOING=1) and fails if either found one.
$(eval $(call minios_elf,$(B)/tests/disk-powercut.elf,tests/disk-powercut/main.c tests/common/report.c,-Itests/common))
all: $(B)/tests/disk-powercut.elf
.PHONY: test-powercut
test-powercut: all
	@mkdir -p $(B)/tests
	KEEP_GOING=1 CUTS=20 IMAGES=empty bash tests/disk-powercut/run.sh | tee $(B)/tests/powercut-empty.log
	KEEP_GOING=1 CUTS=20 IMAGES=full bash tests/disk-powercut/run.sh | tee $(B)/tests/powercut-full.log
	@grep -q '^Test result: SUCCESS' $(B)/tests/powercut-empty.log && \
	    grep -q '^Test result: SUCCESS' $(B)/tests/powercut-full.log
