# diskfs.mk: libdiskfs.a (an appliance's own ext4 disk behind newlib's file calls) and its guest test tests/diskfs.
#
# Outputs (under $(B)/):
#   diskfs/libdiskfs.a      lib/diskfs/diskfs.c (link with $(DISKFS_LINK))
#   tests/diskfs.elf        the guest test tests/diskfs/ (run.sh)
#   tests/diskfs-corrupt.elf  the guest test tests/diskfs-corrupt/ (run.sh)

ifndef KEEL_DISKFS_MK
KEEL_DISKFS_MK := 1

DISKFS_CFLAGS := -Ilib/diskfs/include $(STORE_CFLAGS)
DISKFS_LIB    := $(B)/diskfs/libdiskfs.a
DISKFS_LINK   := $(DISKFS_LIB) $(STORE_LINK)

$(B)/diskfs/diskfs.o: lib/diskfs/diskfs.c $(E2FS_STAMP) $(MINIOS_CC) $(NEWLIB_STAMP) lib/diskfs/diskfs.mk | $(XENINC)/xen
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(MINIOS_APP_CFLAGS) $(DISKFS_CFLAGS) -MMD -MP -c -o $@ $<
-include $(B)/diskfs/diskfs.d
$(DISKFS_LIB): $(B)/diskfs/diskfs.o
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $^

$(eval $(call minios_elf,$(B)/tests/diskfs.elf,tests/diskfs/main.c tests/common/report.c,-Itests/common $(DISKFS_CFLAGS),$(DISKFS_LINK)))
$(call minios_src_obj,$(B)/tests/diskfs.elf,tests/diskfs/main.c): $(E2FS_STAMP)
$(B)/tests/diskfs.elf: $(DISKFS_LINK)

# tests/diskfs-corrupt: corrupt disks refused at mount.
$(eval $(call minios_elf,$(B)/tests/diskfs-corrupt.elf,tests/diskfs-corrupt/main.c tests/common/report.c,-Itests/common $(DISKFS_CFLAGS),$(DISKFS_LINK)))
$(call minios_src_obj,$(B)/tests/diskfs-corrupt.elf,tests/diskfs-corrupt/main.c): $(E2FS_STAMP)
$(B)/tests/diskfs-corrupt.elf: $(DISKFS_LINK)

all: $(DISKFS_LIB) $(B)/tests/diskfs.elf $(B)/tests/diskfs-corrupt.elf

endif
