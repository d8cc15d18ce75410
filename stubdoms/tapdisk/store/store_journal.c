/* store_journal.c: the store's ext4 journal (inode 8) found, replayed when a crash left transactions in it, and opened for journal.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2_err.h>
#include <keel/store.h>

#include "journal.h"
#include "store_int.h"

struct jmap {
    uint64_t *map;
    uint32_t n, cap;
    bool bad;
};

static int map_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref_blk,
                     int ref_offset, void *priv)
{
    struct jmap *m = priv;
    (void)fs, (void)ref_blk, (void)ref_offset;
    if (blockcnt < 0)
        return 0;               /* the extent tree's own blocks */
    if ((uint64_t)blockcnt != m->n || m->n == m->cap) {
        m->bad = true;          /* a hole, or more blocks than i_size says */
        return BLOCK_ABORT;
    }
    m->map[m->n++] = *blocknr;
    return 0;
}

/* The journal file's blocks in order, and journal.c's view of it opened
 * (*out NULL: the store has none).  An internal journal only
 * (s_journal_inum; no external journal device). */
static int journal_find(ext2_filsys fs, struct sj **out, char *err)
{
    *out = NULL;
    struct ext2_super_block *sb = fs->super;
    if (!ext2fs_has_feature_journal(sb))
        return 0;
    if (ext2fs_has_feature_journal_dev(sb) || !sb->s_journal_inum || sb->s_journal_inum > sb->s_inodes_count) {
        snprintf(err, STORE_ERRLEN, "the store's journal is not an internal one (inode %u): not supported",
                 sb->s_journal_inum);
        return -EINVAL;
    }
    struct ext2_inode in;
    errcode_t e = ext2fs_read_inode(fs, sb->s_journal_inum, &in);
    if (e) {
        snprintf(err, STORE_ERRLEN, "reading the journal's inode: %s", error_message(e));
        return store_errno(e);
    }
    uint64_t size = EXT2_I_SIZE(&in);
    if (size / fs->blocksize < 1024 || size / fs->blocksize > (1u << 22)) {
        snprintf(err, STORE_ERRLEN, "the store's journal is %llu bytes: not a journal mkfs.ext4 makes: run e2fsck",
                 (unsigned long long)size);
        return -EINVAL;
    }
    struct jmap m = { malloc(sizeof(uint64_t) * (size / fs->blocksize)), 0,
                      (uint32_t)(size / fs->blocksize), false };
    if (!m.map)
        return -ENOMEM;
    e = ext2fs_block_iterate3(fs, sb->s_journal_inum, BLOCK_FLAG_READ_ONLY, NULL, map_block, &m);
    if (e || m.bad || m.n != m.cap) {
        snprintf(err, STORE_ERRLEN, "the store's journal file is damaged (%s): run e2fsck",
                 e ? error_message(e) : "holes or blocks past its size");
        free(m.map);
        return e ? store_errno(e) : -EINVAL;
    }
    struct sj_dev dev;
    store_io_sjdev(fs->io, &dev);
    int rc = sj_open(&dev, fs->blocksize, ext2fs_blocks_count(sb), m.map, m.n, out, err, STORE_ERRLEN);
    free(m.map);
    return rc;
}

/*
 * The journal opened; if the superblock says the store was in use
 * (needs_recovery) and the log holds transactions, they are replayed and
 * reported (*replayed): the caller reopens the filesystem, whose metadata
 * just changed under libext2fs.
 */
int store_journal_open(ext2_filsys fs, struct sj **out, bool *replayed, char *err)
{
    *replayed = false;
    struct sj *j;
    int rc = journal_find(fs, &j, err);
    *out = NULL;
    if (rc || !j)
        return rc;
    struct ext2_super_block *sb = fs->super;
    if (sj_dirty(j)) {
        if (!ext2fs_has_feature_journal_needs_recovery(sb)) {
            snprintf(err, STORE_ERRLEN, "the store's journal holds transactions but the store does not "
                     "say it needs recovery: run e2fsck");
            sj_close(j);
            return -ENOTRECOVERABLE;
        }
        unsigned t, b;
        rc = sj_replay(j, &t, &b, err, STORE_ERRLEN);
        if (rc) {
            sj_close(j);
            return rc;
        }
        printf("store: journal replayed: %u transaction(s), %u block(s)\n", t, b);
        sj_close(j);
        *replayed = true;
        return 0;
    }
    *out = j;
    return 0;
}

int store_journal_pending(ext2_filsys fs, bool *pending, char *err)
{
    struct sj *j;
    *pending = false;
    int rc = journal_find(fs, &j, err);
    if (!rc && j) {
        *pending = sj_dirty(j);
        sj_close(j);
    }
    return rc;
}
