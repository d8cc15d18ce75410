# apps.mk: the appliances, each one C file built against minios by one line.

$(eval $(call minios_app,hello,apps/hello/hello.c))

all: $(B)/apps/hello.elf
