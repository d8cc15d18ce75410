/* A host file as an img_io (see io_host.h for the whole host I/O API). */
#include "io_host.h"
