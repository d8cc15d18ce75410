# The HVM GRUB disk (tests/hvm-grub/mkdisk.sh): Debian's GRUB 2 from
# grub-pc-bin laid out as grub-install would, served by the device model.
$(B)/tests/hvm-grub.img: tests/hvm-grub/mkdisk.sh tests/hvm-grub/grub.mk
	$(call msg,GRUB,$@)
	$(Q)mkdir -p $(@D) && bash tests/hvm-grub/mkdisk.sh $@

all: $(B)/tests/hvm-grub.img
