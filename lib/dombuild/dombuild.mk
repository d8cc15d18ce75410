# The domain builder library (lib/dombuild): compiled into the hypervisor
# (hv/hv.mk) and into control domains linked with minios (their own list
# of sources adds $(DOMBUILD_SRCS) and $(DOMBUILD_CFLAGS)).
DOMBUILD_SRCS   := lib/dombuild/elf.c lib/dombuild/dombuild.c lib/dombuild/pvh.c lib/dombuild/acpi.c
DOMBUILD_CFLAGS := -Ilib/dombuild
