# Host tools: keel-img (the image tool, sanitized like the library it links).
KI_SRCS := tools/keel-img/main.c
KEEL_IMG := $(B)/tools/keel-img
KEEL_IMG_OPT := $(B)/tools/keel-img-opt

$(KEEL_IMG): $(KI_SRCS) tools/keel-img/io_host.h $(TD_LIB) $(TD_LIB_HOST)
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D_GNU_SOURCE $(TD_INC) \
		-o $@ $(KI_SRCS) $(TD_LINK)

# Unsanitized -O2 build for benchmarks (make bench-img).
$(KEEL_IMG_OPT): $(KI_SRCS) tools/keel-img/io_host.h $(TD_LIB_OPT) $(TD_LIB_HOST_OPT)
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(TD_OPT_CFLAGS) -D_GNU_SOURCE $(TD_INC) \
		-o $@ $(KI_SRCS) $(TD_LINK_OPT)

all: $(KEEL_IMG)
