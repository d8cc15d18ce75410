/* store_int.h: what the store's two files share: the io_manager over <minios/blk.h>. */
#ifndef KEEL_STORE_INT_H
#define KEEL_STORE_INT_H
#include <stdint.h>
#include <ext2fs/ext2fs.h>
#include <keel/store.h>

extern io_manager store_ext2io_manager;
void store_io_stats(io_channel ch, uint64_t *read, uint64_t *written);

/* store.c's internals for store_fs.c. */
ext2_filsys store_ext2fs(struct store *s);
bool store_writable(const struct store *s);
bool store_ino_open(const struct store *s, ext2_ino_t ino);   /* by any name */
ext2_ino_t store_file_ino(struct img_io *io);                 /* a store_file_open file */
struct store *store_file_store(struct img_io *io);
int store_errno(errcode_t e);                                 /* as a negative errno */

#endif /* KEEL_STORE_INT_H */
