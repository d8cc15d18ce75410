# app.mk: make functions that build a minios appliance or guest from one or more C files.
#
#   $(eval $(call minios_elf,OUT,SOURCES[,CFLAGS[,LDFLAGS]]))
#       Builds the guest image OUT (a path ending in .elf, under $(B)/) from
#       SOURCES (.c or .S files, relative to the top directory). Each source
#       is compiled with x86_64-minios-cc into $(basename OUT).obj/SOURCE.o
#       with $(MINIOS_APP_CFLAGS) and CFLAGS, then all are linked with minios
#       and newlib, adding LDFLAGS (-Wl,..., objects, libraries).
#       main()'s argv[0] is OUT's file name without directories and ".elf".
#       Example:
#         $(eval $(call minios_elf,$(B)/tests/foo.elf,tests/foo/main.c tests/common/report.c,-Itests/common))
#
#       With -minios-pvh in LDFLAGS, OUT is the PVH build of the guest
#       (docs/hvm.md, "minios as a PVH guest"): boot it with type=pvh.
#
#   $(eval $(call minios_app,NAME,SOURCES[,CFLAGS[,LDFLAGS]]))
#       The same for OUT = $(B)/apps/NAME.elf. Example:
#         $(eval $(call minios_app,hello,apps/hello/hello.c))

MINIOS_APP_CFLAGS := -O2 -g -std=gnu11 $(WARN)

# minios_src_obj OUT SOURCE: the object that SOURCE compiles to for OUT.
minios_src_obj = $(basename $(1)).obj/$(basename $(2)).o

# minios_elf_obj OBJ SOURCE CFLAGS: the rule for one object.
define minios_elf_obj
$(1): $(2) minios/app.mk $$(MINIOS_CC) $$(NEWLIB_STAMP) | $$(XENINC)/xen
	$$(call msg,CC,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(MINIOS_CC) $$(MINIOS_APP_CFLAGS) $(3) -MMD -MP -c -o $$@ $$<
-include $(1:.o=.d)
endef

define minios_elf
$$(foreach s,$(2),$$(eval $$(call minios_elf_obj,$$(call minios_src_obj,$(1),$$(s)),$$(s),$(3))))
$(1): $$(foreach s,$(2),$$(call minios_src_obj,$(1),$$(s))) $(if $(filter -minios-pvh,$(4)),$$(MINIOS_PVH_DEPS),$$(MINIOS_DEPS))
	$$(call msg,LD,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(MINIOS_CC) -o $$@ $$(foreach s,$(2),$$(call minios_src_obj,$(1),$$(s))) $(4)
endef

define minios_app
$(call minios_elf,$(B)/apps/$(1).elf,$(2),$(3),$(4))
endef
