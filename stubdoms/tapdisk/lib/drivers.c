/* The table of image drivers: those built (IMG_HAVE_<FMT> from tapdisk.mk). */
#include <keel/image.h>

#include "lib.h"

extern const struct img_driver img_driver_raw;
#ifdef IMG_HAVE_QCOW2
extern const struct img_driver img_driver_qcow2;
#endif
#ifdef IMG_HAVE_VHD
extern const struct img_driver img_driver_vhd;
#endif
#ifdef IMG_HAVE_VMDK
extern const struct img_driver img_driver_vmdk;
#endif

/* The highest probe score wins, so the order only breaks ties; raw (score
 * 1) is the fallback. */
const struct img_driver *const img_drivers[] = {
#ifdef IMG_HAVE_QCOW2
    &img_driver_qcow2,
#endif
#ifdef IMG_HAVE_VHD
    &img_driver_vhd,
#endif
#ifdef IMG_HAVE_VMDK
    &img_driver_vmdk,
#endif
    &img_driver_raw,
    NULL,
};

const struct img_driver *img_driver_at(unsigned i)
{
    return i < sizeof img_drivers / sizeof img_drivers[0] ? img_drivers[i] : NULL;
}
