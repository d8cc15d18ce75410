# drivers.mk: the tests of minios's PCI and virtio drivers (minios/drivers/, docs/virtio.md):
# the guests of tests/virtio-blk, virtio-refuse and virtio-net, and the host unit test of the
# split virtqueue ring (test_virtq, ASan/UBSan).  Included by the top Makefile after lwip.mk.

$(eval $(call minios_elf,$(B)/tests/virtio-blk.elf,tests/virtio-blk/main.c tests/common/report.c,-Itests/common))
$(eval $(call minios_elf,$(B)/tests/virtio-net.elf,tests/virtio-net/main.c tests/common/report.c,-Itests/common $(LWIP_CFLAGS),$(LWIP_MINIOS)))
$(B)/tests/virtio-net.elf: $(LWIP_MINIOS)
$(eval $(call minios_elf,$(B)/tests/virtio-frames.elf,tests/virtio-frames/main.c tests/common/report.c,-Itests/common $(LWIP_CFLAGS),$(LWIP_MINIOS)))
$(B)/tests/virtio-frames.elf: $(LWIP_MINIOS)

UNIT_VIRTQ_BIN := $(B)/tests/unit/test_virtq
$(UNIT_VIRTQ_BIN): tests/unit/test_virtq.c minios/drivers/virtq.c minios/drivers/virtq.h \
		minios/drivers/drivers.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Iminios/drivers -o $@ \
		tests/unit/test_virtq.c minios/drivers/virtq.c

all: $(B)/tests/virtio-blk.elf $(B)/tests/virtio-net.elf $(B)/tests/virtio-frames.elf $(UNIT_VIRTQ_BIN)
ALL_UNIT_BINS += $(UNIT_VIRTQ_BIN)
