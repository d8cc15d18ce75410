/* ide.h: the primary ATA channel of the PIIX3's IDE function (00:01.1) as
 * the device model presents it (stubdoms/dm, docs/hvm.md): command block
 * 0x1f0-0x1f7 and control 0x3f6, one disk (master), PIO only (IDENTIFY,
 * READ/WRITE SECTORS and their EXT forms, SET FEATURES, INITIALIZE DEVICE
 * PARAMETERS, FLUSH CACHE); no DMA and no interrupt (firmware polls with
 * nIEN).  The sectors are behind a backing (the device model's memory,
 * or its blkfront to the tapdisk domain), moved IDE_CHUNK sectors at a
 * time: a read command fetches its first chunk when it starts and the
 * next when the guest has taken the last word of one; a write stores a
 * chunk when the guest has given its last word, and the command's end. */
#ifndef KEEL_DM_IDE_H
#define KEEL_DM_IDE_H
#include <stdint.h>
#include <stdbool.h>

#define IDE_CHUNK 128                  /* sectors: 64 KiB */

/* Where the sectors are.  Each returns 0 or a negative errno (an I/O
 * error: the command ends with ERR, as a disk's medium error). */
struct ide_backing {
    int (*read)(void *ctx, uint64_t sector, void *buf, unsigned count);
    int (*write)(void *ctx, uint64_t sector, const void *buf, unsigned count);
    int (*flush)(void *ctx);
    void *ctx;
};

/* A backing of bytes in memory (ctx: the first byte; flush does nothing). */
extern const struct ide_backing ide_mem_ops;

struct ide {
    struct ide_backing be;          /* .read NULL: no disk */
    uint64_t sectors;
    bool read_only;
    /* task file: current and previous (LBA48 HOB) values */
    uint8_t feature, nsect, lbal, lbam, lbah, hob_nsect, hob_lbal, hob_lbam, hob_lbah;
    uint8_t select, status, error, control;
    uint8_t cmd;                    /* the data command in progress (0: none) */
    uint64_t lba;                   /* the first sector of the chunk in buf */
    uint32_t left;                  /* sectors still to move, from lba */
    unsigned chunk;                 /* sectors in buf (IDENTIFY: 1) */
    unsigned at;                    /* the sector of buf being moved ... */
    unsigned pos;                   /* ... and its words moved */
    unsigned long bad, sectors_read, sectors_written, io_errors;
    uint16_t buf[IDE_CHUNK * 256];  /* the chunk or IDENTIFY block being moved */
};

/* A disk of the given sectors behind be (NULL: no disk). */
void ide_init(struct ide *c, const struct ide_backing *be, uint64_t sectors, bool read_only);
bool ide_present(const struct ide *c);
/* Whether an access of count elements of size bytes to port may call
 * the backing (a command, or data that ends a chunk): the device model
 * serves those where it can wait. */
bool ide_may_wait(const struct ide *c, unsigned port, unsigned size, bool write, uint32_t count);
/* Port accesses: the data port 0x1f0 takes 2 (or 4: two words) bytes,
 * the others 1; offsets relative to 0x1f0, or 0x206 for 0x3f6. */
uint32_t ide_read(struct ide *c, unsigned port, unsigned size);
void ide_write(struct ide *c, unsigned port, unsigned size, uint32_t val);

#endif
