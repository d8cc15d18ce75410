# ext2fs.mk: libext2fs (and its com_err) for minios from Debian's e2fsprogs source, the store's io_channel, and its guest test.
#
# Outputs (all under $(B)/):
#   ext2fs-minios/lib/ext2fs/libext2fs.a   libext2fs, compiled with x86_64-minios-cc
#   ext2fs-minios/lib/et/libcom_err.a      its error-table library
#   ext2fs-minios/libstore.a               stubdoms/tapdisk/store: an io_manager
#                                          over <minios/blk.h> and file helpers
#   tests/store-ext4.elf                   the guest test tests/store-ext4/
#   tests/store-images.elf                 the guest test tests/store-images/
#
# The source is Debian's, unpacked by ci/deps.sh into $(B)/src/e2fsprogs
# (apt-get source e2fsprogs); nothing enters the tree.  e2fsprogs' own
# configure runs once with x86_64-minios-cc as the host compiler (so
# lib/config.h describes newlib), and e2fsprogs' own makefiles generate
# the headers (ext2_err.h, ext2_types.h, crc32c_table.h) and compile the
# library.  The object list leaves out what needs a Unix host (device
# lookup, the Unix/undo/sparse/test io_managers, e2image's
# qcow2 reader, device size and flushing): the store brings its own
# io_manager.  toolchain/ext2fs-shim supplies two headers newlib lacks
# (byte order for the journal code, the types of <dirent.h> for e2p.h).

ifndef KEEL_EXT2FS_MK
KEEL_EXT2FS_MK := 1

E2FS_SRC    := $(B)/src/e2fsprogs
E2FS_OUT    := $(B)/ext2fs-minios
E2FS_LIB    := $(E2FS_OUT)/lib/ext2fs/libext2fs.a
E2FS_ET     := $(E2FS_OUT)/lib/et/libcom_err.a
E2FS_STAMP  := $(E2FS_OUT)/.built
E2FS_LOG    := $(E2FS_OUT)/build.log
E2FS_INC    := -I$(E2FS_OUT)/lib -I$(E2FS_SRC)/lib

E2FS_CONFIG := --host=x86_64-elf --disable-nls --disable-elf-shlibs \
    --disable-uuidd --disable-fuse2fs --disable-defrag --disable-debugfs \
    --disable-imager --disable-resizer --disable-e2initrd-helper \
    --disable-tls --disable-mmp --disable-tdb --disable-bmap-stats \
    --disable-backtrace --disable-fsck

E2FS_OBJS := ext2_err alloc alloc_sb alloc_stats alloc_tables atexit badblocks \
    bb_inode bitmaps bitops blkmap64_ba blkmap64_rb blknum block bmap \
    check_desc closefs crc16 crc32c csum dblist dblist_dir dirblock dirhash \
    dir_iterate expanddir ext_attr extent fallocate fileio freefs gen_bitmap \
    gen_bitmap64 get_num_dirs get_pathname hashmap i_block icount ind_block \
    initialize inline inline_data inode io_manager link lookup mkdir namei \
    native newdir nls_utf8 openfs orphan progress punch read_bb read_bb_file \
    res_gdt rw_bitmaps sha512 swapfs symlink unlink valid_blk version rbtree \
    mkjournal mmp ismounted

# e2fsprogs' make gets only our job-server flags (as newlib's does).
E2FS_MAKE = MAKEFLAGS='$(filter -j% --jobserver%,$(MAKEFLAGS))' $(MAKE) -s

$(E2FS_SRC)/configure:
	@echo "missing $@: run ci/deps.sh (it unpacks Debian's e2fsprogs source)" >&2; exit 1

# configure links test programs with the minios wrapper, which links start.o
# and libminios.a: they must exist first (order-only, as they change often).
$(E2FS_STAMP): $(E2FS_SRC)/configure $(MINIOS_CC) $(NEWLIB_STAMP) toolchain/ext2fs.mk \
		$(wildcard toolchain/ext2fs-shim/*/*.h) | $(MINIOS_START) $(MINIOS_LIB) $(MINIOS_LDS)
	$(call msg,E2FS,$(E2FS_OUT))
	$(Q)rm -rf $(E2FS_OUT) && mkdir -p $(E2FS_OUT)
	$(Q)cd $(E2FS_OUT) && $(TOP)/$(E2FS_SRC)/configure $(E2FS_CONFIG) \
	    CC=$(TOP)/$(MINIOS_CC) AR=$(TARGET_AR) RANLIB=llvm-ranlib \
	    >$(TOP)/$(E2FS_LOG) 2>&1 || { tail -30 $(TOP)/$(E2FS_LOG); exit 1; }
	$(Q)$(E2FS_MAKE) -C $(E2FS_OUT)/lib/et compile_et libcom_err.a >>$(E2FS_LOG) 2>&1 \
	  || { tail -30 $(E2FS_LOG); exit 1; }
	$(Q)$(E2FS_MAKE) -C $(E2FS_OUT)/lib/ext2fs ext2_err.h ext2_types.h crc32c_table.h \
	    >>$(E2FS_LOG) 2>&1 || { tail -30 $(E2FS_LOG); exit 1; }
	$(Q)$(E2FS_MAKE) -C $(E2FS_OUT)/lib/ext2fs libext2fs.a \
	    OBJS='$(addsuffix .o,$(E2FS_OBJS))' \
	    CFLAGS_STLIB='-O2 -g -w -I$(TOP)/toolchain/ext2fs-shim' >>$(E2FS_LOG) 2>&1 \
	  || { tail -30 $(E2FS_LOG); exit 1; }
	$(Q)test -f $(E2FS_LIB) && test -f $(E2FS_ET)
	$(Q)touch $@
$(E2FS_LIB) $(E2FS_ET): $(E2FS_STAMP)

# The store library: our code, our warnings.
STORE_SRCS := stubdoms/tapdisk/store/ext2io.c stubdoms/tapdisk/store/store.c \
              stubdoms/tapdisk/store/store_fs.c stubdoms/tapdisk/store/journal.c \
              stubdoms/tapdisk/store/store_journal.c stubdoms/tapdisk/store/store_data.c
STORE_OBJS := $(patsubst %.c,$(E2FS_OUT)/obj/%.o,$(STORE_SRCS))
STORE_LIB  := $(E2FS_OUT)/libstore.a
STORE_CFLAGS := -Istubdoms/tapdisk/include $(E2FS_INC:-I%=-isystem %)
$(E2FS_OUT)/obj/%.o: %.c $(E2FS_STAMP) $(MINIOS_CC) $(NEWLIB_STAMP) | $(XENINC)/xen
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(MINIOS_APP_CFLAGS) $(STORE_CFLAGS) -MMD -MP -c -o $@ $<
-include $(STORE_OBJS:.o=.d)
$(STORE_LIB): $(STORE_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $^

STORE_LINK := $(STORE_LIB) $(E2FS_LIB) $(E2FS_ET)

# The guest test (tests/store-ext4/run.sh).
$(eval $(call minios_elf,$(B)/tests/store-ext4.elf,tests/store-ext4/main.c tests/common/report.c,-Itests/common $(STORE_CFLAGS),$(STORE_LINK)))
$(call minios_src_obj,$(B)/tests/store-ext4.elf,tests/store-ext4/main.c): $(E2FS_STAMP)
$(B)/tests/store-ext4.elf: $(STORE_LINK)
# tests/store-images: the image library (toolchain/libs.mk) on store files.
STORE_IMG_LINK := $(STORE_LINK) $(TD_MINIOS) $(ZLIB_MINIOS) $(MBEDTLS_MINIOS)
$(eval $(call minios_elf,$(B)/tests/store-images.elf,tests/store-images/main.c tests/common/report.c,-Itests/common $(STORE_CFLAGS),$(STORE_IMG_LINK)))
$(call minios_src_obj,$(B)/tests/store-images.elf,tests/store-images/main.c): $(E2FS_STAMP)
$(B)/tests/store-images.elf: $(STORE_IMG_LINK)

.PHONY: ext2fs-minios
ext2fs-minios: $(STORE_LINK) $(B)/tests/store-ext4.elf $(B)/tests/store-images.elf
all: ext2fs-minios

endif
