# blkback.mk: the blkif backend's core (ring handling, request checks, carrying requests out on an image) and its host unit test under ASan/UBSan (with the host image library and its memory img_io).
# Included by the top Makefile; alone: make build/tests/unit/test_blkif

BLKIF_CORE_SRCS := stubdoms/tapdisk/blkback/blkif_core.c stubdoms/tapdisk/blkback/blkif_exec.c \
	stubdoms/tapdisk/blkback/blkif_pgrant.c
UNIT_BLKIF_BIN := $(B)/tests/unit/test_blkif

$(UNIT_BLKIF_BIN): tests/unit/test_blkif.c $(BLKIF_CORE_SRCS) stubdoms/tapdisk/blkback/blkif_core.h \
		stubdoms/tapdisk/blkback/blkif_exec.h stubdoms/tapdisk/blkback/blkif_pgrant.h tests/unit/unit.h stubdoms/tapdisk/blkback/blkback.mk \
		$(TD_LIB) $(TD_LIB_HOST)
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Istubdoms/tapdisk/blkback -Itests/unit $(TD_INC) \
		-o $@ tests/unit/test_blkif.c $(BLKIF_CORE_SRCS) $(TD_LINK)

all: $(UNIT_BLKIF_BIN)
ALL_UNIT_BINS += $(UNIT_BLKIF_BIN)

.PHONY: unit-blkif
unit-blkif: $(UNIT_BLKIF_BIN)
	$(Q)$(UNIT_BLKIF_BIN)

# tests/blkif-pair: the backend (store, image library, blkback) and a
# frontend driving the ring, two minios domains (toolchain/ext2fs.mk's store).
BLKBACK_MINIOS_SRCS := stubdoms/tapdisk/blkback/blkback.c $(BLKIF_CORE_SRCS)
$(eval $(call minios_elf,$(B)/tests/blkif-pair.elf,tests/blkif-pair/main.c $(BLKBACK_MINIOS_SRCS) tests/common/report.c,-Itests/common -Istubdoms/tapdisk/blkback $(STORE_CFLAGS),$(STORE_IMG_LINK)))
$(call minios_src_obj,$(B)/tests/blkif-pair.elf,tests/blkif-pair/main.c): $(E2FS_STAMP)
$(B)/tests/blkif-pair.elf: $(STORE_IMG_LINK)
all: $(B)/tests/blkif-pair.elf

# tests/blkif-xenbus: the frontend and the toolstack of a guest disk
# served by the tapdisk stub domain over xenbus.
$(eval $(call minios_elf,$(B)/tests/blkif-xenbus.elf,tests/blkif-xenbus/main.c tests/common/report.c,-Itests/common))
all: $(B)/tests/blkif-xenbus.elf

# The tapdisk stub domain (stubdoms/tapdisk/main.c): build/stubdoms/tapdisk.elf.
TAPDISK_ELF := $(B)/stubdoms/tapdisk.elf
$(eval $(call minios_elf,$(TAPDISK_ELF),stubdoms/tapdisk/main.c stubdoms/tapdisk/blkback/vbd.c $(BLKBACK_MINIOS_SRCS),-Istubdoms/tapdisk/blkback $(STORE_CFLAGS),$(STORE_IMG_LINK)))
$(call minios_src_obj,$(TAPDISK_ELF),stubdoms/tapdisk/main.c): $(E2FS_STAMP)
$(call minios_src_obj,$(TAPDISK_ELF),stubdoms/tapdisk/blkback/vbd.c): $(E2FS_STAMP)
$(TAPDISK_ELF): $(STORE_IMG_LINK)
all: $(TAPDISK_ELF)

# tests/disk-fs: an appliance's own ext4 on its disk (libext2fs over blkfront).
$(eval $(call minios_elf,$(B)/tests/disk-fs.elf,tests/disk-fs/main.c tests/common/report.c,-Itests/common $(STORE_CFLAGS),$(STORE_LINK)))
$(call minios_src_obj,$(B)/tests/disk-fs.elf,tests/disk-fs/main.c): $(E2FS_STAMP)
$(B)/tests/disk-fs.elf: $(STORE_LINK)
all: $(B)/tests/disk-fs.elf
