# journal.mk: the host unit test of the store's jbd2 journal
# (stubdoms/tapdisk/store/journal.c) under ASan/UBSan; it also runs
# mkfs.ext4, e2fsck and debugfs to check that e2fsprogs agrees.
# Included by the top Makefile; alone: make build/tests/unit/test_store_journal

UNIT_SJ_BIN := $(B)/tests/unit/test_store_journal

$(UNIT_SJ_BIN): tests/unit/test_store_journal.c stubdoms/tapdisk/store/journal.c \
		stubdoms/tapdisk/store/journal.h tests/unit/unit.h stubdoms/tapdisk/store/journal.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D_GNU_SOURCE -Istubdoms/tapdisk/store -Itests/unit \
		-o $@ tests/unit/test_store_journal.c stubdoms/tapdisk/store/journal.c

all: $(UNIT_SJ_BIN)
ALL_UNIT_BINS += $(UNIT_SJ_BIN)
