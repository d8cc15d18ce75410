# toolchain.mk: builds newlib for x86_64-elf with clang, and the x86_64-minios-cc wrapper.
#
# Outputs (all under $(B)/):
#   newlib/install/x86_64-elf/{include,lib}   newlib headers, libc.a, libm.a
#   newlib/.stamp                             newlib is built and installed
#   toolchain/bin/x86_64-minios-cc            compile/link wrapper for appliances
#
# Third-party sources are unpacked under $(B)/src/ and never enter the tree.

NEWLIB_TARBALL := /usr/src/newlib/newlib-3.3.0.tar.xz
NEWLIB_SRC     := $(TOP)/$(B)/src/newlib-3.3.0
NEWLIB_OBJ     := $(TOP)/$(B)/newlib/build
NEWLIB_PREFIX  := $(TOP)/$(B)/newlib/install
NEWLIB_INC     := $(NEWLIB_PREFIX)/x86_64-elf/include
NEWLIB_LIB     := $(NEWLIB_PREFIX)/x86_64-elf/lib
NEWLIB_STAMP   := $(B)/newlib/.stamp
NEWLIB_LOG     := $(B)/newlib/build.log

# The one code-generation flag set for everything that runs in a PV guest:
# newlib, minios and the appliances. SSE is allowed because the hypervisor
# saves FPU/SSE state per vCPU.
MINIOS_TARGET_FLAGS := -target x86_64-unknown-elf -ffreestanding -mno-red-zone \
                       -fno-pic -mcmodel=small -fno-stack-protector

# make predefines AR=ar, so the top Makefile's `AR ?= llvm-ar` keeps `ar`;
# the target's archives are made with llvm-ar unless AR was set explicitly.
TARGET_AR := $(if $(filter default,$(origin AR)),llvm-ar,$(AR))

NEWLIB_CONFIG := --target=x86_64-elf --prefix=$(NEWLIB_PREFIX) \
                 --disable-multilib --disable-libgloss \
                 --disable-newlib-supplied-syscalls \
                 --enable-newlib-io-long-long --enable-newlib-io-c99-formats \
                 --enable-newlib-retargetable-locking

# Rebuild newlib only when its configuration changes, not whenever this
# file does: $(NEWLIB_ID) records the configuration it was built with.
NEWLIB_ID    := $(B)/newlib/config
NEWLIB_IDSTR := $(NEWLIB_CONFIG) CC=$(CLANG) $(MINIOS_TARGET_FLAGS)
$(shell mkdir -p $(B)/newlib && { echo '$(NEWLIB_IDSTR)' | cmp -s - $(NEWLIB_ID) \
          || echo '$(NEWLIB_IDSTR)' >$(NEWLIB_ID); })

# newlib's own make gets only our job-server flags: -B, -k, -n and the like
# would make it regenerate its autotools files.
NEWLIB_MAKE = MAKEFLAGS='$(filter -j% --jobserver%,$(MAKEFLAGS))' $(MAKE) -s -C $(NEWLIB_OBJ)

$(NEWLIB_STAMP): $(NEWLIB_TARBALL) $(NEWLIB_ID)
	$(call msg,NEWLIB,$(B)/newlib/install)
	$(Q)rm -f $@ && rm -rf $(NEWLIB_SRC) $(NEWLIB_OBJ) $(NEWLIB_PREFIX) && mkdir -p $(NEWLIB_SRC) $(NEWLIB_OBJ)
	$(Q)tar -xJf $< -C $(NEWLIB_SRC) --strip-components=1
	$(Q)cd $(NEWLIB_OBJ) && \
	  $(NEWLIB_SRC)/configure $(NEWLIB_CONFIG) \
	    CC_FOR_TARGET="$(CLANG) $(MINIOS_TARGET_FLAGS)" \
	    AR_FOR_TARGET=$(TARGET_AR) RANLIB_FOR_TARGET=llvm-ranlib \
	    >$(TOP)/$(NEWLIB_LOG) 2>&1 || { tail -30 $(TOP)/$(NEWLIB_LOG); exit 1; }
	$(Q)$(NEWLIB_MAKE) all-target-newlib >>$(TOP)/$(NEWLIB_LOG) 2>&1 \
	  || { tail -30 $(TOP)/$(NEWLIB_LOG); exit 1; }
	$(Q)$(NEWLIB_MAKE) install-target-newlib >>$(TOP)/$(NEWLIB_LOG) 2>&1 \
	  || { tail -30 $(TOP)/$(NEWLIB_LOG); exit 1; }
	$(Q)test -f $(NEWLIB_LIB)/libc.a && test -f $(NEWLIB_LIB)/libm.a
	$(Q)touch $@

.PHONY: newlib
newlib: $(NEWLIB_STAMP)

# The wrapper: absolute paths are substituted into the template so that it
# works from any directory. Directories of minios outputs come from minios.mk.
MINIOS_CC := $(B)/toolchain/bin/x86_64-minios-cc

$(MINIOS_CC): toolchain/x86_64-minios-cc.in toolchain/toolchain.mk minios/minios.mk
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|@CLANG@|$(shell command -v $(CLANG))|g' \
	    -e 's|@LLD@|$(shell command -v $(LLD))|g' \
	    -e 's|@TARGET_FLAGS@|$(MINIOS_TARGET_FLAGS)|g' \
	    -e 's|@CLANG_RES@|$(CLANG_RES)|g' \
	    -e 's|@NEWLIB_INC@|$(NEWLIB_INC)|g' \
	    -e 's|@NEWLIB_LIB@|$(NEWLIB_LIB)|g' \
	    -e 's|@MINIOS_INC@|$(TOP)/minios/include|g' \
	    -e 's|@XENINC@|$(TOP)/$(XENINC)|g' \
	    -e 's|@MINIOS_OUT@|$(TOP)/$(MINIOS_OUT)|g' \
	    -e 's|@MINIOS_SRC@|$(TOP)/minios|g' \
	    $< >$@.tmp && chmod +x $@.tmp && mv $@.tmp $@
