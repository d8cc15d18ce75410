# The type=hvm test firmware (tests/hvm-fw/fw.S): 64 KiB of real-mode code.
$(B)/tests/hvm-fw/fw.o: tests/hvm-fw/fw.S tests/hvm-fw/fw.mk
	$(call msg,AS,$<)
	$(Q)mkdir -p $(@D) && $(CLANG) -target i386-unknown-elf -c $< -o $@

$(B)/tests/hvm-fw.bin: $(B)/tests/hvm-fw/fw.o tests/hvm-fw/fw.lds
	$(call msg,LD,$@)
	$(Q)$(LLD) -m elf_i386 -nostdlib -static -T tests/hvm-fw/fw.lds -o $(@:.bin=.elf) $<
	$(Q)$(OBJCOPY) -O binary $(@:.bin=.elf) $@
	$(Q)test "$$(stat -c %s $@)" = 65536 || { echo "$@ is not 64 KiB" >&2; rm -f $@; exit 1; }

all: $(B)/tests/hvm-fw.bin
