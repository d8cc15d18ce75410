/* store_int.h: what the store's two files share: the io_manager over <minios/blk.h>. */
#ifndef KEEL_STORE_INT_H
#define KEEL_STORE_INT_H
#include <stdint.h>
#include <ext2fs/ext2fs.h>
#include <keel/store.h>

extern io_manager store_ext2io_manager;
void store_io_stats(io_channel ch, uint64_t *read, uint64_t *written);

/* The journal under the io_manager (journal.h; store_journal.c). */
struct sj;
struct sj_dev;
void store_io_sjdev(io_channel ch, struct sj_dev *out);    /* the device, below the journal */
void store_io_set_journal(io_channel ch, struct sj *j);
struct sj *store_io_journal(io_channel ch);
void store_io_allocating(io_channel ch, bool on);           /* all-zero writes dropped (ext2io.c) */
/* Image data, below libext2fs and the journal (store_data.c). */
errcode_t store_io_data_read(io_channel ch, uint64_t off, void *buf, size_t len);
errcode_t store_io_data_write(io_channel ch, uint64_t off, const void *buf, size_t len);
int store_data_pread(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode *inode, void *buf,
                     size_t len, uint64_t off);
int store_data_pwrite(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode *inode, const void *buf,
                      size_t len, uint64_t off);
/* The store's journal: opened (replayed first if a crash left it), closed. */
int store_journal_open(ext2_filsys fs, struct sj **out, bool *replayed, char *err);
/* Whether the store's journal holds transactions (read only: nothing written). */
int store_journal_pending(ext2_filsys fs, bool *pending, char *err);
int store_commit(struct store *s);                             /* ext2fs_flush: a commit point */

/* store.c's internals for store_fs.c. */
ext2_filsys store_ext2fs(struct store *s);
bool store_writable(const struct store *s);
bool store_ino_open(const struct store *s, ext2_ino_t ino);   /* by any name */
ext2_ino_t store_file_ino(struct img_io *io);                 /* a store_file_open file */
struct store *store_file_store(struct img_io *io);
int store_errno(errcode_t e);                                 /* as a negative errno */

#endif /* KEEL_STORE_INT_H */
