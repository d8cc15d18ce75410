/* store_int.h: what the store's two files share: the io_manager over <minios/blk.h>. */
#ifndef KEEL_STORE_INT_H
#define KEEL_STORE_INT_H
#include <stdint.h>
#include <ext2fs/ext2fs.h>
#include <keel/store.h>

extern io_manager store_ext2io_manager;
void store_io_stats(io_channel ch, uint64_t *read, uint64_t *written);

#endif /* KEEL_STORE_INT_H */
