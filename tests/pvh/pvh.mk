# The PVH test guest (docs/hvm.md): a freestanding ELF with its own
# 32-bit entry (head.S) and C (main.c); pvh-hello, pvh-npf and
# pvh-nosvm boot it with different command lines.
PVH_TEST_CFLAGS := -target x86_64-unknown-elf -ffreestanding -nostdinc \
	-isystem $(CLANG_RES)/include -I$(XENINC) \
	-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ \
	-fno-pic -mcmodel=kernel -mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mno-avx \
	-fno-stack-protector -fno-builtin -O2 -g -std=gnu11 $(WARN)

$(B)/tests/pvh/%.o: tests/pvh/% tests/pvh/pvh.mk | $(XENINC)/xen
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D) && $(CLANG) $(PVH_TEST_CFLAGS) -c $< -o $@

$(B)/tests/pvh-test.elf: $(B)/tests/pvh/head.S.o $(B)/tests/pvh/main.c.o $(B)/tests/pvh/mmio.c.o tests/pvh/pvh.lds
	$(call msg,LD,$@)
	$(Q)$(LLD) -nostdlib -static -z max-page-size=4096 -z norelro --no-dynamic-linker \
		-T tests/pvh/pvh.lds -o $@ $(B)/tests/pvh/head.S.o $(B)/tests/pvh/main.c.o $(B)/tests/pvh/mmio.c.o

all: $(B)/tests/pvh-test.elf

# pvh-ctl's control domain (a minios test guest).
$(eval $(call minios_elf,$(B)/tests/pvh-ctl.elf,tests/pvh-ctl/main.c tests/common/report.c,-Itests/common -Itests/domctl))
all: $(B)/tests/pvh-ctl.elf

# pvh-gnt's PV peer (a minios test guest).
$(eval $(call minios_elf,$(B)/tests/pvh-gnt.elf,tests/pvh-gnt/main.c tests/common/report.c,-Itests/common))
all: $(B)/tests/pvh-gnt.elf

# dm-refuse: the refusals around ioreq servers (a minios test guest).
$(eval $(call minios_elf,$(B)/tests/dm-refuse.elf,tests/dm-refuse/main.c tests/common/report.c,-Itests/common -Itests/domctl))
all: $(B)/tests/dm-refuse.elf
