/* Library-internal declarations shared by lib/ files. */
#ifndef KEEL_IMG_LIB_H
#define KEEL_IMG_LIB_H
#include <keel/image.h>

#define IMG_NR_SLOTS 5
const struct img_driver *img_driver_at(unsigned i);

#endif
