/* Host unit test of the device model's ATA disk (stubdoms/dm/ide.c), under
 * ASan/UBSan: the reset signature, IDENTIFY (geometry, LBA28/48 sizes),
 * READ SECTORS by LBA28, CHS and LBA48, WRITE SECTORS, the absent slave,
 * and refusals: past the end (IDNF), a read-only disk's write, an unknown
 * command (ABRT), data-port accesses out of phase and bad widths counted. */
#include <string.h>
#include <stdlib.h>
#include "ide.h"
#include "unit.h"

static struct ide c;

static void cmd(uint8_t nsect, uint32_t lba, uint8_t dev, uint8_t command)
{
    ide_write(&c, 2, 1, nsect);
    ide_write(&c, 3, 1, lba & 0xff);
    ide_write(&c, 4, 1, (lba >> 8) & 0xff);
    ide_write(&c, 5, 1, (lba >> 16) & 0xff);
    ide_write(&c, 6, 1, dev);
    ide_write(&c, 7, 1, command);
}

static void read_sector(uint8_t *buf)
{
    for (int i = 0; i < 256; i++) {
        uint16_t w = (uint16_t)ide_read(&c, 0, 2);
        buf[2 * i] = (uint8_t)w;
        buf[2 * i + 1] = (uint8_t)(w >> 8);
    }
}

int main(void)
{
    enum { N = 2048 };
    uint8_t *disk = malloc(N * 512);
    for (unsigned s = 0; s < N; s++)
        memset(disk + s * 512, (int)(s & 0xff), 512);
    ide_init(&c, disk, N * 512, false);
    /* signature: ATA */
    EXPECT(ide_read(&c, 2, 1) == 1 && ide_read(&c, 3, 1) == 1 && ide_read(&c, 4, 1) == 0 &&
           ide_read(&c, 5, 1) == 0 && (ide_read(&c, 7, 1) & 0x40));
    /* IDENTIFY */
    cmd(0, 0, 0xa0, 0xec);
    EXPECT(ide_read(&c, 7, 1) & 0x08);
    uint16_t id[256];
    for (int i = 0; i < 256; i++)
        id[i] = (uint16_t)ide_read(&c, 0, 2);
    EXPECT(id[0] == 0x0040 && id[3] == 16 && id[6] == 63 && (id[49] & (1u << 9)));
    EXPECT(id[60] == N && id[61] == 0 && id[100] == N && (id[83] & (1u << 10)));
    EXPECT(id[27] == ('K' << 8 | 'E'));
    EXPECT(!(ide_read(&c, 7, 1) & 0x08));
    /* two sectors by LBA28 */
    uint8_t b[512];
    cmd(2, 5, 0xe0, 0x20);
    read_sector(b);
    EXPECT(b[0] == 5 && b[511] == 5);
    read_sector(b);
    EXPECT(b[0] == 6);
    EXPECT(ide_read(&c, 7, 1) == 0x50);
    /* CHS 0/1/1: sector 63 */
    cmd(1, 0, 0xa1, 0x20);
    ide_write(&c, 3, 1, 1);
    ide_write(&c, 7, 1, 0x20);
    read_sector(b);
    EXPECT(b[0] == 63);
    /* LBA48: 300, high bytes 0 */
    ide_write(&c, 2, 1, 0);
    ide_write(&c, 2, 1, 1);
    ide_write(&c, 3, 1, 0);
    ide_write(&c, 3, 1, 300 & 0xff);
    ide_write(&c, 4, 1, 0);
    ide_write(&c, 4, 1, 300 >> 8);
    ide_write(&c, 5, 1, 0);
    ide_write(&c, 5, 1, 0);
    ide_write(&c, 6, 1, 0xe0);
    ide_write(&c, 7, 1, 0x24);
    read_sector(b);
    EXPECT(b[0] == (300 & 0xff));
    /* a write lands in the disk's bytes */
    cmd(1, 7, 0xe0, 0x30);
    for (int i = 0; i < 256; i++)
        ide_write(&c, 0, 2, 0xabcd);
    EXPECT(disk[7 * 512] == 0xcd && disk[7 * 512 + 1] == 0xab && c.sectors_written == 1);
    EXPECT(ide_read(&c, 7, 1) == 0x50);
    /* refusals */
    cmd(2, N - 1, 0xe0, 0x20);                      /* runs past the end */
    EXPECT((ide_read(&c, 7, 1) & 0x01) && (ide_read(&c, 1, 1) & 0x10));
    cmd(1, 0, 0xe0, 0xa1);                          /* IDENTIFY PACKET: not ATAPI */
    EXPECT((ide_read(&c, 7, 1) & 0x01) && ide_read(&c, 1, 1) == 0x04);
    unsigned long bad = c.bad;
    EXPECT(ide_read(&c, 0, 2) == 0xffff);           /* no data phase */
    ide_write(&c, 0, 2, 1);
    EXPECT(ide_read(&c, 3, 2) == 0xffff);           /* width */
    EXPECT(c.bad == bad + 3);
    /* the absent slave: registers 0, commands ignored */
    ide_write(&c, 6, 1, 0xb0);
    EXPECT(ide_read(&c, 7, 1) == 0 && ide_read(&c, 2, 1) == 0);
    ide_write(&c, 7, 1, 0xec);
    EXPECT(ide_read(&c, 7, 1) == 0);
    /* a software reset gives the signature back */
    ide_write(&c, 6, 1, 0xa0);
    ide_write(&c, 0x206, 1, 0x04);
    ide_write(&c, 0x206, 1, 0x00);
    EXPECT(ide_read(&c, 2, 1) == 1 && ide_read(&c, 3, 1) == 1);
    /* read-only: writes aborted */
    ide_init(&c, disk, N * 512, true);
    cmd(1, 0, 0xe0, 0x30);
    EXPECT((ide_read(&c, 7, 1) & 0x01) && ide_read(&c, 1, 1) == 0x04);
    free(disk);
    UNIT_DONE();
}
