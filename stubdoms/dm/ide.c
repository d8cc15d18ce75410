/* ide.c: an ATA disk behind the legacy primary ports (ATA/ATAPI-6 command
 * set, PIO data-in and data-out protocols), as QEMU's hw/ide presents one
 * to firmware. */
#include "ide.h"
#include <string.h>

#define ST_ERR  0x01
#define ST_DRQ  0x08
#define ST_DSC  0x10
#define ST_DRDY 0x40
#define ST_BSY  0x80
#define ER_ABRT 0x04
#define ER_IDNF 0x10
#define ER_UNC  0x40
#define DEV_SLAVE 0x10
#define DEV_LBA   0x40
#define CTL_SRST  0x04

static bool is_write(uint8_t cmd)
{
    return cmd == 0x30 || cmd == 0x31 || cmd == 0x34;
}

static bool master(const struct ide *c)
{
    return !(c->select & DEV_SLAVE);
}

/* After reset or at power-on: the ATA signature (count 1, LBA 1, 0, 0). */
static void signature(struct ide *c)
{
    c->nsect = 1;
    c->lbal = 1;
    c->lbam = 0;
    c->lbah = 0;
    c->select &= DEV_SLAVE;
    c->error = 0x01;                    /* diagnostic: device 0 passed */
    c->status = ST_DRDY | ST_DSC;
    c->cmd = 0;
}

static int mem_read(void *ctx, uint64_t sector, void *buf, unsigned count)
{
    memcpy(buf, (uint8_t *)ctx + sector * 512, (size_t)count * 512);
    return 0;
}

static int mem_write(void *ctx, uint64_t sector, const void *buf, unsigned count)
{
    memcpy((uint8_t *)ctx + sector * 512, buf, (size_t)count * 512);
    return 0;
}

static int mem_flush(void *ctx)
{
    (void)ctx;
    return 0;
}

const struct ide_backing ide_mem_ops = { mem_read, mem_write, mem_flush, NULL };

void ide_init(struct ide *c, const struct ide_backing *be, uint64_t sectors, bool read_only)
{
    memset(c, 0, sizeof(*c));
    if (be && sectors) {
        c->be = *be;
        c->sectors = sectors;
    }
    c->read_only = read_only;
    signature(c);
}

bool ide_present(const struct ide *c)
{
    return c->be.read != NULL;
}

bool ide_may_wait(const struct ide *c, unsigned port, unsigned size, bool write, uint32_t count)
{
    if (!ide_present(c))
        return false;
    if (port == 7)
        return write;                   /* a command: it may start a transfer */
    if (port != 0 || !c->cmd || c->cmd == 0xec || !(c->status & ST_DRQ))
        return false;
    /* The words this access moves reach the end of the chunk. */
    uint64_t words = (uint64_t)count * (size == 4 ? 2 : 1);
    uint64_t in_chunk = (uint64_t)(c->chunk - c->at) * 256 - c->pos;
    return words >= in_chunk;
}

static void put_string(uint16_t *w, unsigned words, const char *s)
{
    /* ATA strings: two characters a word, the first in the high byte,
     * padded with spaces. */
    for (unsigned i = 0; i < words; i++) {
        char a = *s ? *s++ : ' ';
        char b = *s ? *s++ : ' ';
        w[i] = (uint16_t)((uint8_t)a << 8 | (uint8_t)b);
    }
}

static void identify(struct ide *c)
{
    uint16_t *w = c->buf;
    memset(w, 0, 512);
    uint64_t n = c->sectors;
    uint32_t cyl = (uint32_t)(n / (16 * 63));
    if (cyl > 16383)
        cyl = 16383;
    if (!cyl)
        cyl = 1;
    w[0] = 0x0040;                      /* fixed disk */
    w[1] = (uint16_t)cyl;
    w[3] = 16;
    w[6] = 63;
    put_string(w + 10, 10, "KEEL0001");
    put_string(w + 23, 4, "1.0");
    put_string(w + 27, 20, "KEEL DM DISK");
    w[47] = 0x8001;                     /* READ/WRITE MULTIPLE: 1 sector */
    w[49] = 1u << 9;                    /* LBA */
    w[53] = 0x0001;                     /* words 54-58 valid */
    w[54] = (uint16_t)cyl;
    w[55] = 16;
    w[56] = 63;
    uint32_t chs = cyl * 16 * 63;
    w[57] = (uint16_t)chs;
    w[58] = (uint16_t)(chs >> 16);
    uint32_t lba28 = n > 0x0fffffff ? 0x0fffffff : (uint32_t)n;
    w[60] = (uint16_t)lba28;
    w[61] = (uint16_t)(lba28 >> 16);
    w[80] = 0x007e;                     /* ATA-1 to ATA-6 */
    w[82] = 1u << 14;                   /* NOP */
    w[83] = (1u << 14) | (1u << 10);    /* LBA48 */
    w[86] = 1u << 10;
    w[100] = (uint16_t)n;
    w[101] = (uint16_t)(n >> 16);
    w[102] = (uint16_t)(n >> 32);
}

static void abort_cmd(struct ide *c)
{
    c->error = ER_ABRT;
    c->status = ST_DRDY | ST_ERR;
    c->cmd = 0;
}

/* A failed transfer ends the command: ERR with UNC for a read (a medium
 * error), ABRT for a write or flush. */
static void io_error(struct ide *c, bool read)
{
    c->io_errors++;
    c->error = read ? ER_UNC : ER_ABRT;
    c->status = ST_DRDY | ST_ERR;
    c->cmd = 0;
}

/* The next chunk of a read (from c->lba) into buf, or the end of the
 * command. */
static void next_read(struct ide *c)
{
    if (!c->left) {
        c->cmd = 0;
        c->status = ST_DRDY | ST_DSC;
        return;
    }
    unsigned n = c->left < IDE_CHUNK ? c->left : IDE_CHUNK;
    if (c->be.read(c->be.ctx, c->lba, c->buf, n)) {
        io_error(c, true);
        return;
    }
    c->chunk = n;
    c->at = 0;
    c->pos = 0;
    c->status = ST_DRDY | ST_DSC | ST_DRQ;
    c->sectors_read += n;
}

static uint64_t lba_of(const struct ide *c, bool ext)
{
    if (ext)
        return (uint64_t)c->hob_lbah << 40 | (uint64_t)c->hob_lbam << 32 |
               (uint64_t)c->hob_lbal << 24 | (uint64_t)c->lbah << 16 |
               (uint64_t)c->lbam << 8 | c->lbal;
    if (c->select & DEV_LBA)
        return (uint64_t)(c->select & 0x0f) << 24 | (uint64_t)c->lbah << 16 |
               (uint64_t)c->lbam << 8 | c->lbal;
    /* CHS with the geometry of IDENTIFY (16 heads, 63 sectors) */
    uint32_t cyl = (uint32_t)c->lbah << 8 | c->lbam;
    unsigned head = c->select & 0x0f, sec = c->lbal;
    if (!sec)
        return ~0ULL;
    return ((uint64_t)cyl * 16 + head) * 63 + sec - 1;
}

static void command(struct ide *c, uint8_t cmd)
{
    if (!master(c) || !ide_present(c)) {
        c->bad++;                       /* no device there: nothing answers */
        return;
    }
    c->error = 0;
    switch (cmd) {
    case 0xec:                          /* IDENTIFY DEVICE */
        identify(c);
        c->chunk = 1;
        c->at = 0;
        c->pos = 0;
        c->left = 0;
        c->cmd = cmd;
        c->status = ST_DRDY | ST_DSC | ST_DRQ;
        return;
    case 0x20: case 0x21: case 0x24:    /* READ SECTORS (EXT) */
    case 0x30: case 0x31: case 0x34: {  /* WRITE SECTORS (EXT) */
        bool ext = cmd == 0x24 || cmd == 0x34;
        uint32_t n = ext ? ((uint32_t)c->hob_nsect << 8 | c->nsect) : c->nsect;
        if (!n)
            n = ext ? 65536 : 256;
        uint64_t lba = lba_of(c, ext);
        if (lba == ~0ULL || lba >= c->sectors || n > c->sectors - lba) {
            c->error = ER_IDNF | ER_ABRT;
            c->status = ST_DRDY | ST_ERR;
            c->cmd = 0;
            return;
        }
        bool write = is_write(cmd);
        if (write && c->read_only) {
            abort_cmd(c);
            return;
        }
        c->cmd = cmd;
        c->lba = lba;
        c->left = n;
        c->at = 0;
        c->pos = 0;
        if (write) {
            c->chunk = n < IDE_CHUNK ? n : IDE_CHUNK;
            c->status = ST_DRDY | ST_DSC | ST_DRQ;
        } else {
            next_read(c);
        }
        return;
    }
    case 0xe7: case 0xea:               /* FLUSH CACHE (EXT) */
        if (c->be.flush(c->be.ctx)) {
            io_error(c, false);
            return;
        }
        c->status = ST_DRDY | ST_DSC;
        c->cmd = 0;
        return;
    case 0xef:                          /* SET FEATURES: taken, no effect */
    case 0x91:                          /* INITIALIZE DEVICE PARAMETERS */
    case 0x10: case 0x70:               /* RECALIBRATE, SEEK */
        c->status = ST_DRDY | ST_DSC;
        c->cmd = 0;
        return;
    default:                            /* IDENTIFY PACKET and the rest */
        abort_cmd(c);
        return;
    }
}

static uint16_t data_in(struct ide *c)
{
    if (!(c->status & ST_DRQ) || !c->cmd || is_write(c->cmd)) {
        c->bad++;
        return 0xffff;
    }
    uint16_t v = c->buf[c->at * 256 + c->pos++];
    if (c->pos == 256) {
        c->pos = 0;
        if (c->cmd == 0xec) {
            c->cmd = 0;
            c->status = ST_DRDY | ST_DSC;
        } else if (++c->at == c->chunk) {
            c->lba += c->chunk;
            c->left -= c->chunk;
            next_read(c);
        }
    }
    return v;
}

static void data_out(struct ide *c, uint16_t v)
{
    if (!(c->status & ST_DRQ) || !is_write(c->cmd)) {
        c->bad++;
        return;
    }
    c->buf[c->at * 256 + c->pos++] = v;
    if (c->pos == 256) {
        c->pos = 0;
        if (++c->at < c->chunk)
            return;
        if (c->be.write(c->be.ctx, c->lba, c->buf, c->chunk)) {
            io_error(c, false);
            return;
        }
        c->sectors_written += c->chunk;
        c->lba += c->chunk;
        c->left -= c->chunk;
        c->at = 0;
        c->chunk = c->left < IDE_CHUNK ? c->left : IDE_CHUNK;
        if (!c->left) {
            c->cmd = 0;
            c->status = ST_DRDY | ST_DSC;
        }
    }
}

uint32_t ide_read(struct ide *c, unsigned port, unsigned size)
{
    if (port == 0) {
        if (size == 2)
            return data_in(c);
        if (size == 4)
            return data_in(c) | (uint32_t)data_in(c) << 16;
        c->bad++;
        return 0xff;
    }
    if (size != 1) {
        c->bad++;
        return size == 2 ? 0xffff : 0xffffffffu;
    }
    bool hob = c->control & 0x80;
    if (!master(c) && port != 6)
        return 0;                        /* the absent slave: registers read 0 */
    switch (port) {
    case 1: return c->error;
    case 2: return hob ? c->hob_nsect : c->nsect;
    case 3: return hob ? c->hob_lbal : c->lbal;
    case 4: return hob ? c->hob_lbam : c->lbam;
    case 5: return hob ? c->hob_lbah : c->lbah;
    case 6: return c->select | 0xa0;
    case 7:
    case 0x206:                          /* alternate status */
        return master(c) && ide_present(c) ? c->status : 0;
    default:
        c->bad++;
        return 0xff;
    }
}

void ide_write(struct ide *c, unsigned port, unsigned size, uint32_t val)
{
    if (port == 0) {
        if (size == 2)
            data_out(c, (uint16_t)val);
        else if (size == 4) {
            data_out(c, (uint16_t)val);
            data_out(c, (uint16_t)(val >> 16));
        } else
            c->bad++;
        return;
    }
    if (size != 1) {
        c->bad++;
        return;
    }
    uint8_t v = (uint8_t)val;
    c->control &= 0x7f;                  /* a task-file write clears HOB */
    switch (port) {
    case 1: c->feature = v; return;
    case 2: c->hob_nsect = c->nsect; c->nsect = v; return;
    case 3: c->hob_lbal = c->lbal; c->lbal = v; return;
    case 4: c->hob_lbam = c->lbam; c->lbam = v; return;
    case 5: c->hob_lbah = c->lbah; c->lbah = v; return;
    case 6: c->select = v & 0x5f; return;
    case 7: command(c, v); return;
    case 0x206:
        if ((v & CTL_SRST) && !(c->control & CTL_SRST))
            signature(c);                 /* a software reset */
        c->control = v;
        return;
    default:
        c->bad++;
        return;
    }
}
