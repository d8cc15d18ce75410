/* sys/dirent.h: the types newlib's <dirent.h> needs, so that e2fsprogs' headers (e2p.h) parse; minios has no directories to list, and nothing of libext2fs calls opendir. */
#ifndef KEEL_E2FS_SHIM_SYS_DIRENT_H
#define KEEL_E2FS_SHIM_SYS_DIRENT_H
#include <sys/types.h>
typedef struct keel_no_dir DIR;
struct dirent {
    ino_t d_ino;
    char d_name[256];
};
#endif
