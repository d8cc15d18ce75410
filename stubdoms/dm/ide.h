/* ide.h: the primary ATA channel of the PIIX3's IDE function (00:01.1) as
 * the device model presents it (stubdoms/dm, docs/hvm.md): command block
 * 0x1f0-0x1f7 and control 0x3f6, one disk (master) in the device model's
 * memory, PIO only (IDENTIFY, READ/WRITE SECTORS and their EXT forms,
 * SET FEATURES, INITIALIZE DEVICE PARAMETERS, FLUSH CACHE); no DMA and
 * no interrupt (firmware polls with nIEN). */
#ifndef KEEL_DM_IDE_H
#define KEEL_DM_IDE_H
#include <stdint.h>
#include <stdbool.h>

struct ide {
    uint8_t *disk;                  /* its bytes (NULL: no disk) */
    uint64_t sectors;
    bool read_only;
    /* task file: current and previous (LBA48 HOB) values */
    uint8_t feature, nsect, lbal, lbam, lbah, hob_nsect, hob_lbal, hob_lbam, hob_lbah;
    uint8_t select, status, error, control;
    uint8_t cmd;                    /* the data command in progress (0: none) */
    uint64_t lba;                   /* its next sector */
    uint32_t left;                  /* sectors still to move */
    uint16_t buf[256];              /* the sector or IDENTIFY block being moved */
    unsigned pos;                   /* words of buf moved */
    unsigned long bad, sectors_read, sectors_written;
};

void ide_init(struct ide *c, uint8_t *disk, uint64_t bytes, bool read_only);
/* Port accesses: the data port 0x1f0 takes 2 (or 4: two words) bytes,
 * the others 1; offsets relative to 0x1f0, or 0x206 for 0x3f6. */
uint32_t ide_read(struct ide *c, unsigned port, unsigned size);
void ide_write(struct ide *c, unsigned port, unsigned size, uint32_t val);

#endif
