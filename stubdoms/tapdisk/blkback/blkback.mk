# blkback.mk: the blkif backend's core (ring handling, request checks) and its host unit test under ASan/UBSan.
# Included by the top Makefile; alone: make build/tests/unit/test_blkif

BLKIF_CORE_SRCS := stubdoms/tapdisk/blkback/blkif_core.c
UNIT_BLKIF_BIN := $(B)/tests/unit/test_blkif

$(UNIT_BLKIF_BIN): tests/unit/test_blkif.c $(BLKIF_CORE_SRCS) stubdoms/tapdisk/blkback/blkif_core.h \
		tests/unit/unit.h stubdoms/tapdisk/blkback/blkback.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Istubdoms/tapdisk/blkback -Itests/unit \
		-o $@ tests/unit/test_blkif.c $(BLKIF_CORE_SRCS)

all: $(UNIT_BLKIF_BIN)
ALL_UNIT_BINS += $(UNIT_BLKIF_BIN)

.PHONY: unit-blkif
unit-blkif: $(UNIT_BLKIF_BIN)
	$(Q)$(UNIT_BLKIF_BIN)
