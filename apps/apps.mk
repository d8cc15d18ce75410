# apps.mk: the appliances, each one C file built against minios by one line.
# (Included after toolchain/lwip.mk, whose LWIP_CFLAGS and LWIP_MINIOS apps use.)

$(eval $(call minios_app,hello,apps/hello/hello.c))
# The same appliance as a PVH guest (type=pvh; docs/hvm.md, "minios as a PVH guest").
$(eval $(call minios_app,hello-pvh,apps/hello/hello.c,,-minios-pvh))

# netdemo: xenstore, threads and lwIP sockets over loopback.
$(eval $(call minios_app,netdemo,apps/netdemo/netdemo.c,$(LWIP_CFLAGS),$(LWIP_MINIOS)))
$(B)/apps/netdemo.elf: $(LWIP_MINIOS)

all: $(B)/apps/hello.elf $(B)/apps/hello-pvh.elf $(B)/apps/netdemo.elf

# The network appliances (docs/appliances.md), each with its own fragment.
include apps/httpd/httpd.mk
include apps/kv/kv.mk

# iperf: lwIP's iperf 2 server and client (lwiperf), and the grant-copy
# bound (make bench's guest-to-guest figure, docs/appliances.md).
$(eval $(call minios_app,iperf,apps/iperf/iperf.c,$(LWIP_CFLAGS),$(LWIP_MINIOS)))
$(B)/apps/iperf.elf: $(LWIP_MINIOS)
all: $(B)/apps/iperf.elf
