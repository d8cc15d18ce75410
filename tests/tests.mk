# Tests: guest tests (tests/<name>/), host unit tests (tests/unit/), and
# the tools they need.  `make test` runs everything via ci/run-tests.sh.

TEST_GUESTS := pci-own pci-msi pci-flr pci-storm restart threads xenbus xs-hostile hypercall guest-access spin priv flood traps evtchn evtchn-fifo pvtime vcpu schedshare hostile debugreg gnttab gnttab-pair gnttab-v2 domctl sysctl xsm pvmmu mmufuzz sharing tlbflush xs-boot vcpu-down tlb-global mem-stale-tlb mem-stale-smp mem-gnt-free mem-devmap mem-vcpuinfo memfuzz preempt hcfuzz sharing-unmarked ramdisk xen-abi lock-stress xen-user hostile-user xen-priv privfuzz xen-seg xen-m2p xstate
$(foreach t,$(TEST_GUESTS),$(eval $(call minios_elf,$(B)/tests/$(t).elf,tests/$(t)/main.c tests/common/report.c,-Itests/common)))

# rtbuild: a control domain that builds apps/hello at run time with the
# shared domain builder; hello's ELF is embedded whole (image.S).
RTBUILD_ELF := $(B)/tests/rtbuild.elf
$(eval $(call minios_elf,$(RTBUILD_ELF),tests/rtbuild/main.c tests/rtbuild/image.S tests/common/report.c $(DOMBUILD_SRCS),-Itests/common $(DOMBUILD_CFLAGS)))
$(call minios_src_obj,$(RTBUILD_ELF),tests/rtbuild/image.S): $(B)/apps/hello.elf

# rtbuild-pvh: the same for a PVH domain, tests/pvh's ELF embedded.
RTBUILD_PVH_ELF := $(B)/tests/rtbuild-pvh.elf
$(eval $(call minios_elf,$(RTBUILD_PVH_ELF),tests/rtbuild-pvh/main.c tests/rtbuild-pvh/image.S tests/common/report.c $(DOMBUILD_SRCS),-Itests/common $(DOMBUILD_CFLAGS)))
$(call minios_src_obj,$(RTBUILD_PVH_ELF),tests/rtbuild-pvh/image.S): $(B)/tests/pvh-test.elf

# apps/hello without its debug information, for the tests that boot
# hundreds of it (QEMU loads every module into guest RAM: at 1,000 copies
# the debug sections alone took 500 MB of accounting-1000's 1 GiB).
$(B)/tests/hello-stripped.elf: $(B)/apps/hello.elf
	$(call msg,STRIP,$@)
	$(Q)mkdir -p $(@D) && llvm-strip -o $@ $<
all: $(B)/tests/hello-stripped.elf

HOST_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HOST_CFLAGS := -g -O1 -std=gnu11 $(WARN) $(HOST_SAN)

UNIT_TESTS := page_alloc elf dombuild dombuild_pvh pagetype vioapic
UNIT_BINS  := $(patsubst %,$(B)/tests/unit/test_%,$(UNIT_TESTS))
UNIT_HV_page_alloc := hv/mm/page_alloc.c
UNIT_HV_elf        := lib/dombuild/elf.c
UNIT_HV_dombuild   := lib/dombuild/dombuild.c
UNIT_HV_dombuild_pvh := lib/dombuild/pvh.c lib/dombuild/acpi.c
UNIT_HV_pagetype   := hv/pv/mm.c hv/mm/page_alloc.c
UNIT_DEFS_pagetype := -DKEEL_HOST_TEST -D__XEN_TOOLS__
UNIT_HV_vioapic    := hv/hvm/vioapic.c
UNIT_DEFS_vioapic  := -DKEEL_HOST_TEST -D__XEN_TOOLS__

# A unit test rebuilds when the hypervisor sources it compiles, or the
# makefile that sets its flags, change.
.SECONDEXPANSION:
$(B)/tests/unit/test_%: tests/unit/test_%.c tests/unit/hostlib.c tests/unit/unit.h hv/include/*.h lib/dombuild/*.h \
		$$(UNIT_HV_$$*) tests/tests.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Ihv/include -Ilib/dombuild -Itests/unit \
		-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ $(UNIT_DEFS_$*) \
		-o $@ $< $(UNIT_HV_$*) tests/unit/hostlib.c

$(B)/tests/tools/mkbadelf: tests/tools/mkbadelf.c
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D_GNU_SOURCE -o $@ $<

BAD_ELF_STAMP := $(B)/tests/bad/.stamp
$(BAD_ELF_STAMP): $(B)/tests/tools/mkbadelf $(B)/apps/hello.elf
	$(call msg,GEN,$(B)/tests/bad)
	$(Q)mkdir -p $(@D) && $(B)/tests/tools/mkbadelf $(B)/apps/hello.elf $(@D) && touch $@

$(B)/tests/tools/mkxenimg: tests/tools/mkxenimg.c
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ -o $@ $<

# Images in the layouts other builders make, from apps/hello (the loader
# tests load-notes and load-refuse, docs/abi.md), the image of
# sharing-unmarked without Keel's note, and the ramdisk guest with the
# MOD_START_PFN note.
LOAD_DIR := $(B)/tests/load
LOAD_ELF_STAMP := $(LOAD_DIR)/.stamp
MKXENIMG = $(B)/tests/tools/mkxenimg $(B)/apps/hello.elf $(LOAD_DIR)/$(1).elf
$(LOAD_ELF_STAMP): $(B)/tests/tools/mkxenimg $(B)/apps/hello.elf $(B)/tests/sharing-unmarked.elf \
		$(B)/tests/ramdisk.elf tests/tests.mk
	$(call msg,GEN,$(LOAD_DIR))
	$(Q)mkdir -p $(LOAD_DIR)
	$(Q)$(call MKXENIMG,shtnote) shtnote
	$(Q)$(call MKXENIMG,xenguest) xenguest
	$(Q)$(call MKXENIMG,features) addnote \
		FEATURES 'writable_page_tables|writable_descriptor_tables|auto_translated_physmap|supervisor_mode_kernel|hvm_callback_vector|dom0|no_such_feature' \
		FEATURES 'pae_pgdir_above_4gb|!pae_pgdir_above_4gb'
	$(Q)$(call MKXENIMG,linuxfeat) addnote FEATURES '!writable_page_tables'
	$(Q)$(call MKXENIMG,notes) addnote INIT_P2M =0x8000000000 \
		MOD_START_PFN =1 SUSPEND_CANCEL =1 \
		HV_START_LOW =0xf5800000 L1_MFN_VALID '' \
		PAE_MODE yes BSD_SYMTAB no SUPPORTED_FEATURES =0x800
	$(Q)$(call MKXENIMG,notes-xen) addnote MOD_START_PFN =1 SUSPEND_CANCEL =1 \
		HV_START_LOW =0xf5800000 L1_MFN_VALID '' \
		PAE_MODE yes BSD_SYMTAB no SUPPORTED_FEATURES =0x800
	$(Q)for f in writable_descriptor_tables auto_translated_physmap supervisor_mode_kernel \
		hvm_callback_vector dom0 no_such_feature; do \
		$(call MKXENIMG,req-$$f) addnote FEATURES "!$$f" || exit 1; done
	$(Q)$(call MKXENIMG,bsdsymtab) addnote BSD_SYMTAB yes
	$(Q)$(call MKXENIMG,p2minside) addnote INIT_P2M =0x2000
	$(Q)$(B)/tests/tools/mkxenimg $(B)/tests/sharing-unmarked.elf $(LOAD_DIR)/unshared.elf nokeel
	$(Q)$(B)/tests/tools/mkxenimg $(B)/tests/ramdisk.elf $(LOAD_DIR)/ramdisk-pfn.elf addnote MOD_START_PFN =1
	$(Q)touch $@

# The ramdisk test's module: random bytes, its cksum taken by the test.
$(B)/tests/ramdisk.img:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D) && head -c 300001 /dev/urandom > $@

TEST_DEPS := $(B)/hv.elf $(B)/hv-debug.elf $(patsubst %,$(B)/tests/%.elf,$(TEST_GUESTS)) $(RTBUILD_ELF) $(RTBUILD_PVH_ELF) \
	$(UNIT_BINS) $(BAD_ELF_STAMP) $(LOAD_ELF_STAMP) $(B)/tests/ramdisk.img $(B)/apps/hello.elf

all: $(TEST_DEPS)

# Every unit test the tree declares (UNIT_BINS here; the grant, xenstore
# and image tests add theirs): `make unit` runs them all, and the test
# runner takes its list from `make -s unit-list`, not from whatever
# binaries lie in build/.
ALL_UNIT_BINS += $(UNIT_BINS)

.PHONY: unit-list
unit: $$(ALL_UNIT_BINS)
	$(Q)for t in $(ALL_UNIT_BINS); do $$t || exit 1; done

unit-list:
	@echo $(ALL_UNIT_BINS)

test: all
	$(Q)bash ci/run-tests.sh

# p2m-init: a freestanding guest (not minios, which runs at VIRT_BASE 0)
# linked at 1 GiB with XEN_ELFNOTE_INIT_P2M below it (tests/p2m-init).
P2M_INIT_CFLAGS := -target x86_64-unknown-elf -ffreestanding -nostdinc -isystem $(CLANG_RES)/include \
	-I$(XENINC) -D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ -fno-pic -fno-pie \
	-mcmodel=small -mno-red-zone -mno-sse -mno-mmx -fno-stack-protector -fno-builtin -O2 -g \
	-std=gnu11 $(WARN)
$(B)/tests/p2m-init.elf: tests/p2m-init/guest.c tests/p2m-init/guest.ld tests/tests.mk | $(XENINC)/xen
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(P2M_INIT_CFLAGS) -c -o $(@:.elf=.o) $<
	$(Q)$(LLD) -nostdlib -static -z max-page-size=4096 -z norelro --no-dynamic-linker \
		-T tests/p2m-init/guest.ld -o $@ $(@:.elf=.o)
TEST_DEPS += $(B)/tests/p2m-init.elf
all: $(B)/tests/p2m-init.elf
