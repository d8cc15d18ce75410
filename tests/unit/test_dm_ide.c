/* Host unit test of the device model's ATA disk (stubdoms/dm/ide.c), under
 * ASan/UBSan: the reset signature, IDENTIFY (geometry, LBA28/48 sizes),
 * READ SECTORS by LBA28, CHS and LBA48, WRITE SECTORS, the absent slave,
 * and refusals: past the end (IDNF), a read-only disk's write, an unknown
 * command (ABRT), data-port accesses out of phase and bad widths counted;
 * the backing: 300-sector reads and writes move 128-sector chunks (three
 * calls each; only accesses that reach a chunk's end may wait for the
 * backing), and a backing's failed read, write or flush ends the
 * command with ERR (UNC, ABRT) and the channel serves on. */
#include <string.h>
#include <stdlib.h>
#include "ide.h"
#include "unit.h"

static struct ide c;

/* A backing over memory that counts its calls and fails when asked. */
static uint8_t *mem;
static unsigned reads, writes, flushes, max_count;
static bool fail_io;

static int t_read(void *ctx, uint64_t s, void *buf, unsigned n)
{
    (void)ctx;
    reads++;
    max_count = n > max_count ? n : max_count;
    if (fail_io)
        return -5;
    memcpy(buf, mem + s * 512, (size_t)n * 512);
    return 0;
}

static int t_write(void *ctx, uint64_t s, const void *buf, unsigned n)
{
    (void)ctx;
    writes++;
    max_count = n > max_count ? n : max_count;
    if (fail_io)
        return -5;
    memcpy(mem + s * 512, buf, (size_t)n * 512);
    return 0;
}

static int t_flush(void *ctx)
{
    (void)ctx;
    flushes++;
    return fail_io ? -5 : 0;
}

static const struct ide_backing counting = { t_read, t_write, t_flush, NULL };

static void cmd(uint8_t nsect, uint32_t lba, uint8_t dev, uint8_t command)
{
    ide_write(&c, 2, 1, nsect);
    ide_write(&c, 3, 1, lba & 0xff);
    ide_write(&c, 4, 1, (lba >> 8) & 0xff);
    ide_write(&c, 5, 1, (lba >> 16) & 0xff);
    ide_write(&c, 6, 1, dev);
    ide_write(&c, 7, 1, command);
}

/* The LBA48 task file (previous, then current bytes), without the command. */
static void task48(uint16_t nsect, uint64_t lba)
{
    ide_write(&c, 2, 1, nsect >> 8);
    ide_write(&c, 2, 1, nsect & 0xff);
    for (unsigned r = 3; r <= 5; r++) {
        ide_write(&c, r, 1, (lba >> (8 * (r - 3) + 24)) & 0xff);
        ide_write(&c, r, 1, (lba >> (8 * (r - 3))) & 0xff);
    }
    ide_write(&c, 6, 1, 0xe0);
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
    struct ide_backing be = ide_mem_ops;
    be.ctx = disk;
    ide_init(&c, &be, N, false);
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
    task48(1, 300);
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
    ide_init(&c, &be, N, true);
    cmd(1, 0, 0xe0, 0x30);
    EXPECT((ide_read(&c, 7, 1) & 0x01) && ide_read(&c, 1, 1) == 0x04);
    /* no backing: no disk (status 0, commands ignored) */
    ide_init(&c, NULL, N, false);
    EXPECT(!ide_present(&c) && ide_read(&c, 7, 1) == 0);

    /* chunks: 300 sectors from 1000 by LBA48 read in 128 + 128 + 44 */
    mem = disk;
    ide_init(&c, &counting, N, false);
    task48(300, 1000);
    EXPECT(ide_may_wait(&c, 7, 1, true, 1) && !ide_may_wait(&c, 7, 1, false, 1));
    ide_write(&c, 7, 1, 0x24);
    /* only an access that reaches the chunk's end may call the backing */
    EXPECT(!ide_may_wait(&c, 0, 2, false, 1) && !ide_may_wait(&c, 0, 2, false, 128 * 256 - 1));
    EXPECT(ide_may_wait(&c, 0, 2, false, 128 * 256) && ide_may_wait(&c, 0, 4, false, 128 * 128));
    EXPECT(!ide_may_wait(&c, 2, 1, false, 1) && !ide_may_wait(&c, 0x206, 1, false, 1));
    bool all = true;
    for (unsigned s = 0; s < 300; s++) {
        all = all && (ide_read(&c, 7, 1) & 0x08);
        read_sector(b);
        all = all && b[0] == ((1000 + s) & 0xff) && b[511] == b[0];
    }
    EXPECT(all && reads == 3 && max_count == IDE_CHUNK && c.sectors_read == 300);
    EXPECT(ide_read(&c, 7, 1) == 0x50);
    /* 300 sectors written at 1200 (LBA48), 32-bit data accesses: 3 calls */
    task48(300, 1200);
    ide_write(&c, 7, 1, 0x34);
    for (unsigned s = 0; s < 300; s++)
        for (unsigned i = 0; i < 128; i++)
            ide_write(&c, 0, 4, 0x77777777u ^ s);
    EXPECT(writes == 3 && c.sectors_written == 300 && ide_read(&c, 7, 1) == 0x50);
    EXPECT(disk[1200 * 512] == 0x77 && disk[1499 * 512] == ((0x77 ^ 299) & 0xff) && disk[1500 * 512] == (1500 & 0xff));
    /* FLUSH CACHE reaches the backing */
    cmd(0, 0, 0xe0, 0xe7);
    EXPECT(flushes == 1 && ide_read(&c, 7, 1) == 0x50);
    /* a failed read: ERR, UNC, no data phase; then the channel serves on */
    fail_io = true;
    cmd(4, 10, 0xe0, 0x20);
    EXPECT(ide_read(&c, 7, 1) == 0x41 && ide_read(&c, 1, 1) == 0x40 && c.io_errors == 1);
    /* a failed write: ERR, ABRT once the chunk's last word is given */
    cmd(2, 10, 0xe0, 0x30);
    for (unsigned i = 0; i < 512; i++)
        ide_write(&c, 0, 2, 0x1234);
    EXPECT(ide_read(&c, 7, 1) == 0x41 && ide_read(&c, 1, 1) == 0x04 && c.io_errors == 2);
    EXPECT(disk[10 * 512] == 10 && c.sectors_written == 300);
    cmd(0, 0, 0xe0, 0xea);                          /* a failed flush */
    EXPECT(ide_read(&c, 7, 1) == 0x41 && ide_read(&c, 1, 1) == 0x04 && c.io_errors == 3);
    fail_io = false;
    cmd(1, 10, 0xe0, 0x20);
    read_sector(b);
    EXPECT(b[0] == 10 && ide_read(&c, 7, 1) == 0x50);
    free(disk);
    UNIT_DONE();
}
