# The hypervisor: build/hv.elf, loaded by QEMU -kernel (multiboot 1).
HV_SRCS := $(wildcard hv/arch/x86_64/*.S hv/arch/x86_64/*.c hv/common/*.c hv/mm/*.c hv/pv/*.c \
	hv/hvm/*.c hv/hvm/*.S)
# The domain builder library (lib/dombuild), shared with control domains.
HV_LIB_SRCS := $(DOMBUILD_SRCS)
HV_OBJS := $(patsubst %,$(B)/%.o,$(HV_SRCS)) $(patsubst lib/%,$(B)/hv/lib/%.o,$(HV_LIB_SRCS))
HV_CFLAGS := -target x86_64-unknown-elf -ffreestanding -nostdinc \
	-isystem $(CLANG_RES)/include -Ihv/include $(DOMBUILD_CFLAGS) -I$(XENINC) \
	-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ -I$(B)/hv/gen \
	-include hv/include/compiler.h -fpie -fvisibility=hidden -mno-red-zone -mno-sse -mno-sse2 -mno-mmx \
	-mno-avx -fno-stack-protector -fno-omit-frame-pointer -fno-builtin \
	-O2 -g -std=gnu11 $(WARN) -MMD -MP
HV_ASFLAGS := -target x86_64-unknown-elf -Ihv/include -D__ASSEMBLY__ -MMD -MP

all: $(B)/hv.elf

# The PV CPUID policy's default featureset, read from Xen's public header
# (pv/featuremask.awk); pv/emulate.c includes it.
$(B)/hv/gen/pv_featuremask.h: hv/pv/featuremask.awk | $(XENINC)/xen
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D) && awk -f $< $(XENINC)/xen/arch-x86/cpufeatureset.h > $@.tmp && mv $@.tmp $@
$(B)/hv/pv/emulate.c.o $(B)/hv-debug/hv/pv/emulate.c.o: $(B)/hv/gen/pv_featuremask.h

$(B)/hv/%.c.o: hv/%.c hv/hv.mk | $(XENINC)/xen
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D) && $(CLANG) $(HV_CFLAGS) -c $< -o $@

$(B)/hv/lib/%.c.o: lib/%.c hv/hv.mk | $(XENINC)/xen
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D) && $(CLANG) $(HV_CFLAGS) -c $< -o $@

$(B)/hv/%.S.o: hv/%.S hv/hv.mk
	$(call msg,AS,$<)
	$(Q)mkdir -p $(@D) && $(CLANG) $(HV_ASFLAGS) -c $< -o $@

$(B)/hv.elf: $(HV_OBJS) hv/arch/x86_64/hv.lds
	$(call msg,LD,$@)
	$(Q)$(LLD) -nostdlib -static -z max-page-size=4096 -z norelro --no-dynamic-linker \
		-T hv/arch/x86_64/hv.lds -o $@ $(HV_OBJS)

# The debug hypervisor (build/hv-debug.elf): the same sources with
# KEEL_DEBUG, which adds self-checks (docs/testing.md); a test boots it
# with HV=build/hv-debug.elf in its test.cfg.
HV_DEBUG_OBJS := $(patsubst %,$(B)/hv-debug/%.o,$(HV_SRCS) $(HV_LIB_SRCS))

all: $(B)/hv-debug.elf

$(B)/hv-debug/%.c.o: %.c hv/hv.mk | $(XENINC)/xen
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(HV_CFLAGS) -DKEEL_DEBUG -c $< -o $@

$(B)/hv-debug/%.S.o: %.S hv/hv.mk
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(HV_ASFLAGS) -DKEEL_DEBUG -c $< -o $@

$(B)/hv-debug.elf: $(HV_DEBUG_OBJS) hv/arch/x86_64/hv.lds
	$(call msg,LD,$@)
	$(Q)$(LLD) -nostdlib -static -z max-page-size=4096 -z norelro --no-dynamic-linker \
		-T hv/arch/x86_64/hv.lds -o $@ $(HV_DEBUG_OBJS)

-include $(HV_OBJS:.o=.d) $(HV_DEBUG_OBJS:.o=.d)
