# The HVM test disk (tests/hvm-disk/boot.S): a boot sector and two more,
# padded to 1 MiB, served by the device model as its IDE disk.
$(B)/tests/hvm-disk/boot.o: tests/hvm-disk/boot.S tests/hvm-disk/disk.mk
	$(call msg,AS,$<)
	$(Q)mkdir -p $(@D) && $(CLANG) -target i386-unknown-elf -c $< -o $@

$(B)/tests/hvm-disk.img: $(B)/tests/hvm-disk/boot.o tests/hvm-disk/disk.lds
	$(call msg,LD,$@)
	$(Q)$(LLD) -m elf_i386 -nostdlib -static -T tests/hvm-disk/disk.lds -o $(@:.img=.elf) $<
	$(Q)$(OBJCOPY) -O binary $(@:.img=.elf) $@.tmp
	$(Q)test "$$(stat -c %s $@.tmp)" = 1536 || { echo "$@: boot code past its sector" >&2; exit 1; }
	$(Q)truncate -s 1M $@.tmp && mv $@.tmp $@

all: $(B)/tests/hvm-disk.img
