/* sys/dirent.h: directory streams for newlib's <dirent.h> (opendir/readdir/closedir over minios/fs.h's mount). */
#ifndef MINIOS_SYS_DIRENT_H
#define MINIOS_SYS_DIRENT_H
#include <sys/types.h>

typedef struct minios_dir DIR;

#define DT_UNKNOWN 0
#define DT_FIFO 1
#define DT_CHR 2
#define DT_DIR 4
#define DT_BLK 6
#define DT_REG 8
#define DT_LNK 10
#define DT_SOCK 12

struct dirent {
    ino_t d_ino;
    unsigned char d_type;   /* DT_* */
    char d_name[256];
};

#endif /* MINIOS_SYS_DIRENT_H */
