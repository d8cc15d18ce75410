/* An in-memory img_io (see io_host.h for the whole host I/O API). */
#include "io_host.h"
