# minios.mk: builds minios, the library OS for PV appliances: start object, libminios.a, app.mk.
#
#   $(MINIOS_START)  build/minios/start.o    _start, hypercall page, Xen ELF notes
#   $(MINIOS_LIB)    build/minios/libminios.a  start of day, console, heap, newlib glue
#   $(MINIOS_LDS)    minios/arch/x86_64/minios.ld  the appliance linker script
#   $(MINIOS_DEPS)   everything an appliance link needs (wrapper, newlib, the above)
#
# and the same for the PVH build (docs/hvm.md, "minios as a PVH guest"), compiled with
# -DMINIOS_PVH into build/minios/pvh/: $(MINIOS_PVH_START) (entry-pvh.S
# instead of entry.S), $(MINIOS_PVH_LIB) (with arch/x86_64/pvh.c),
# $(MINIOS_PVH_DEPS); `x86_64-minios-cc -minios-pvh` links with them.
#
# Everything is compiled with $(MINIOS_CC) (toolchain/toolchain.mk), so
# minios, newlib and the appliances share one set of target flags.

MINIOS_OUT    := $(B)/minios
MINIOS_LDS    := minios/arch/x86_64/minios.ld
MINIOS_START  := $(MINIOS_OUT)/start.o
MINIOS_LIB    := $(MINIOS_OUT)/libminios.a
MINIOS_CFLAGS := -O2 -g -std=gnu11 $(WARN) -Iminios/kernel -I$(MINIOS_OUT)/include

MINIOS_START_SRCS := minios/arch/x86_64/entry.S minios/arch/x86_64/elfnote.c
MINIOS_LIB_SRCS   := minios/kernel/start.c minios/kernel/console.c \
                     minios/kernel/mm.c minios/kernel/sched.c \
                     minios/kernel/events.c minios/kernel/time.c \
                     minios/kernel/gnttab.c minios/kernel/thread.c \
                     minios/kernel/xenbus.c minios/kernel/shutdown.c \
                     minios/drivers/pci.c minios/drivers/virtq.c \
                     minios/drivers/virtio.c minios/drivers/virtio_net.c \
                     minios/drivers/virtio_blk.c minios/drivers/blkfront.c \
                     minios/arch/x86_64/switch.S \
                     minios/arch/x86_64/traps.c minios/arch/x86_64/trapentry.S \
                     minios/libc/syscalls.c minios/libc/fs.c minios/libc/time.c

minios_obj = $(patsubst minios/%,$(MINIOS_OUT)/%.o,$(basename $(1)))
MINIOS_START_OBJS := $(call minios_obj,$(MINIOS_START_SRCS))
MINIOS_LIB_OBJS   := $(call minios_obj,$(MINIOS_LIB_SRCS))

MINIOS_DEPS := $(MINIOS_CC) $(NEWLIB_STAMP) $(MINIOS_START) $(MINIOS_LIB) $(MINIOS_LDS)

$(MINIOS_OUT)/%.o: minios/%.c $(MINIOS_CC) $(NEWLIB_STAMP) | $(XENINC)/xen
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(MINIOS_CC) $(MINIOS_CFLAGS) -MMD -MP -c -o $@ $<

$(MINIOS_OUT)/%.o: minios/%.S $(MINIOS_CC) $(NEWLIB_STAMP) | $(XENINC)/xen
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(MINIOS_CC) $(MINIOS_CFLAGS) -MMD -MP -c -o $@ $<

# Constants for assembly, taken from C (<xen/...> is not safe in .S files):
# asm-offsets.c compiled with -S leaves "@ASMOFF@ NAME value" lines.
MINIOS_ASM_OFFSETS := $(MINIOS_OUT)/include/asm-offsets.h
$(MINIOS_ASM_OFFSETS): minios/arch/x86_64/asm-offsets.c $(MINIOS_CC) $(NEWLIB_STAMP) | $(XENINC)/xen
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(MINIOS_CC) $(MINIOS_CFLAGS) -MMD -MP -MT $@ -MF $@.d -S -o $@.s $<
	$(Q){ echo '/* asm-offsets.h: generated from minios/arch/x86_64/asm-offsets.c; do not edit. */'; \
	  sed -n 's/.*@ASMOFF@ \([A-Za-z0-9_]*\) \$$\{0,1\}\([-0-9]*\).*/#define \1 \2/p' $@.s; } >$@.tmp
	$(Q)mv $@.tmp $@
-include $(MINIOS_ASM_OFFSETS).d
$(MINIOS_OUT)/arch/x86_64/trapentry.o: $(MINIOS_ASM_OFFSETS)

$(MINIOS_START): $(MINIOS_START_OBJS)
	$(call msg,LD,$@)
	$(Q)$(LLD) -r -o $@ $^

# Only the public API stays global: the symbols the public headers name and
# those minios/exports.txt lists. The objects are linked into one, whose
# other symbols objcopy makes local, and that one object is the library.
MINIOS_EXPORTS := $(MINIOS_OUT)/exports.syms
$(MINIOS_EXPORTS): $(wildcard minios/include/minios/*.h) minios/exports.txt
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q){ grep -v '^#' minios/exports.txt; \
	  grep -ohE '\bminios_[A-Za-z0-9_]+' minios/include/minios/*.h; } | sort -u >$@.tmp
	$(Q)mv $@.tmp $@

$(MINIOS_LIB): $(MINIOS_LIB_OBJS) $(MINIOS_EXPORTS)
	$(call msg,AR,$@)
	$(Q)$(LLD) -r -o $(MINIOS_OUT)/minios.o $(MINIOS_LIB_OBJS)
	$(Q)$(OBJCOPY) --keep-global-symbols=$(MINIOS_EXPORTS) $(MINIOS_OUT)/minios.o
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $(MINIOS_OUT)/minios.o

.PHONY: minios
minios: $(MINIOS_START) $(MINIOS_LIB)

-include $(MINIOS_START_OBJS:.o=.d) $(MINIOS_LIB_OBJS:.o=.d)

# The PVH build: the same sources but the entry, plus pvh.c.
MINIOS_PVH_OUT   := $(MINIOS_OUT)/pvh
MINIOS_PVH_START := $(MINIOS_PVH_OUT)/start.o
MINIOS_PVH_LIB   := $(MINIOS_PVH_OUT)/libminios.a
MINIOS_PVH_START_SRCS := minios/arch/x86_64/entry-pvh.S minios/arch/x86_64/elfnote.c
MINIOS_PVH_LIB_SRCS   := $(MINIOS_LIB_SRCS) minios/arch/x86_64/pvh.c
minios_pvh_obj = $(patsubst minios/%,$(MINIOS_PVH_OUT)/%.o,$(basename $(1)))
MINIOS_PVH_START_OBJS := $(call minios_pvh_obj,$(MINIOS_PVH_START_SRCS))
MINIOS_PVH_LIB_OBJS   := $(call minios_pvh_obj,$(MINIOS_PVH_LIB_SRCS))
MINIOS_PVH_DEPS := $(MINIOS_CC) $(NEWLIB_STAMP) $(MINIOS_PVH_START) $(MINIOS_PVH_LIB) $(MINIOS_LDS)

$(MINIOS_PVH_OUT)/%.o: minios/%.c $(MINIOS_CC) $(NEWLIB_STAMP) | $(XENINC)/xen
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(MINIOS_CC) $(MINIOS_CFLAGS) -DMINIOS_PVH -MMD -MP -c -o $@ $<

$(MINIOS_PVH_OUT)/%.o: minios/%.S $(MINIOS_CC) $(NEWLIB_STAMP) | $(XENINC)/xen
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(MINIOS_CC) $(MINIOS_CFLAGS) -DMINIOS_PVH -MMD -MP -c -o $@ $<

$(MINIOS_PVH_OUT)/arch/x86_64/trapentry.o: $(MINIOS_ASM_OFFSETS)

$(MINIOS_PVH_START): $(MINIOS_PVH_START_OBJS)
	$(call msg,LD,$@)
	$(Q)$(LLD) -r -o $@ $^

$(MINIOS_PVH_LIB): $(MINIOS_PVH_LIB_OBJS) $(MINIOS_EXPORTS)
	$(call msg,AR,$@)
	$(Q)$(LLD) -r -o $(MINIOS_PVH_OUT)/minios.o $(MINIOS_PVH_LIB_OBJS)
	$(Q)$(OBJCOPY) --keep-global-symbols=$(MINIOS_EXPORTS) $(MINIOS_PVH_OUT)/minios.o
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $(MINIOS_PVH_OUT)/minios.o

minios: $(MINIOS_PVH_START) $(MINIOS_PVH_LIB)

-include $(MINIOS_PVH_START_OBJS:.o=.d) $(MINIOS_PVH_LIB_OBJS:.o=.d)

include minios/app.mk
