/* journal.h: the store's metadata journal: jbd2 transactions in the ext4 journal (inode 8), and their replay. */
#ifndef KEEL_STORE_JOURNAL_H
#define KEEL_STORE_JOURNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The device under the journal, in bytes.  Each returns 0 or a negative
 * errno.  Writes here go in place: the journal layer sits above them.
 */
struct sj_dev {
    void *ctx;
    int (*read)(void *ctx, uint64_t off, void *buf, size_t len);
    int (*write)(void *ctx, uint64_t off, const void *buf, size_t len);
    int (*flush)(void *ctx);
};

struct sj;

/*
 * Opens the journal whose blocks are map[0..nmap) (filesystem block
 * numbers of the journal file's blocks in order; map[0] holds the jbd2
 * superblock) on a filesystem of fs_blocks blocks of bs bytes.  The
 * journal superblock is read and checked: a journal this code cannot
 * write or replay exactly as jbd2 would (an unknown incompat feature,
 * v1 checksums, another block size, a map too short) is refused with a
 * message in err.
 */
int sj_open(const struct sj_dev *dev, uint32_t bs, uint64_t fs_blocks, const uint64_t *map,
            uint32_t nmap, struct sj **out, char *err, size_t errlen);
void sj_close(struct sj *j);               /* frees it; pending blocks are dropped */

/* The journal superblock says the log holds transactions (s_start != 0). */
bool sj_dirty(const struct sj *j);

/*
 * Replays the log as e2fsck and the kernel do: from s_start, every
 * transaction with the expected sequence and a valid commit block, its
 * tagged blocks written in place (unescaped); the first transaction
 * without one ends the log.  Then a device flush and the journal marked
 * empty.  Revoke records (only the kernel writes them) are refused: run
 * e2fsck.  *trans and *blocks count what was replayed.
 */
int sj_replay(struct sj *j, unsigned *trans, unsigned *blocks, char *err, size_t errlen);

/* Metadata between two commits: kept in memory, read back over the device. */
int sj_write(struct sj *j, uint64_t off, const void *buf, size_t len);
int sj_read(struct sj *j, uint64_t off, void *buf, size_t len);
bool sj_holds(const struct sj *j, uint64_t off, size_t len);   /* any of these bytes' blocks pending */
size_t sj_pending(const struct sj *j);     /* blocks waiting for the next commit */
size_t sj_capacity(const struct sj *j);    /* the most one transaction may hold */

/*
 * A commit point: a device flush (the data written below the journal
 * reaches the disk first: ordered mode); the pending blocks as one jbd2
 * transaction (descriptors, blocks, a flush, the commit block and the
 * journal superblock pointing at it, a flush); then the blocks in place.
 * Without pending blocks, a device flush.  stop (tests only) ends early
 * to leave what a power cut leaves: SJ_STOP_NO_COMMIT after the
 * descriptors and blocks, SJ_STOP_NO_CHECKPOINT after the commit.
 */
enum { SJ_STOP_NONE, SJ_STOP_NO_COMMIT, SJ_STOP_NO_CHECKPOINT };
int sj_commit(struct sj *j);
int sj_commit_stop(struct sj *j, int stop);

/* After a commit: the journal marked empty (s_start 0), flushed. */
int sj_empty(struct sj *j);

/* jbd2's crc32c (no final inversion), for tests. */
uint32_t sj_crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* KEEL_STORE_JOURNAL_H */
