/* Host unit test of the device model's fw_cfg (stubdoms/dm/fwcfg.c), under
 * ASan/UBSan: the signature, ID and CPU count, the file directory (big
 * endian) and a file read through it as SeaBIOS reads them, reads past an
 * item's end, unknown keys, bad widths refused. */
#include <string.h>
#include "fwcfg.h"
#include "unit.h"

static void sel(struct fwcfg *f, uint16_t key)
{
    fwcfg_write(f, 0x510, 2, key);
}

static void rd(struct fwcfg *f, void *buf, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = (uint8_t)fwcfg_read(f, 0x511, 1);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int main(void)
{
    static struct fwcfg f;
    fwcfg_init(&f, 32 << 20, 0, 2, 5000);
    char sig[5] = { 0 };
    sel(&f, 0);
    rd(&f, sig, 4);
    EXPECT(!strcmp(sig, "QEMU"));
    uint8_t b[64];
    sel(&f, 1);
    rd(&f, b, 4);
    EXPECT(b[0] == 1 && b[1] == 0 && b[2] == 0 && b[3] == 0);   /* no DMA */
    sel(&f, 5);
    rd(&f, b, 3);
    EXPECT(b[0] == 2 && b[1] == 0 && b[2] == 0);                /* then past the end: 0 */
    sel(&f, 0x8002);                                            /* IRQ0 override */
    rd(&f, b, 4);
    EXPECT(b[0] == 1 && b[1] == 0 && b[2] == 0 && b[3] == 0);
    /* the directory: three files; find etc/e820 and read it */
    sel(&f, 0x19);
    rd(&f, b, 4);
    uint32_t n = be32(b);
    EXPECT(n == 3);
    uint16_t e820_key = 0;
    uint32_t e820_len = 0;
    for (uint32_t i = 0; i < n; i++) {
        rd(&f, b, 64);
        if (!strcmp((char *)b + 8, "etc/e820")) {
            e820_len = be32(b);
            e820_key = (uint16_t)(b[4] << 8 | b[5]);
        }
    }
    EXPECT(e820_key >= 0x20 && e820_len == 20);
    sel(&f, e820_key);
    rd(&f, b, 20);
    uint64_t len;
    memcpy(&len, b + 8, 8);
    EXPECT(len == 32 << 20 && b[16] == 1);
    /* with pages reserved at the top: two entries, RAM then reserved */
    static struct fwcfg g;
    fwcfg_init(&g, 32 << 20, 8192, 1, 0);
    sel(&g, e820_key);
    uint8_t e[40];
    rd(&g, e, 40);
    uint64_t a1, l1, a2, l2;
    memcpy(&l1, e + 8, 8);
    memcpy(&a2, e + 20, 8);
    memcpy(&l2, e + 28, 8);
    memcpy(&a1, e, 8);
    EXPECT(a1 == 0 && l1 == (32 << 20) - 8192 && e[16] == 1);
    EXPECT(a2 == (32 << 20) - 8192 && l2 == 8192 && e[36] == 2);
    /* the selector rewinds */
    sel(&f, 0);
    rd(&f, sig, 1);
    EXPECT(sig[0] == 'Q');
    /* unknown keys (an arch-local one too) read 0 */
    sel(&f, 0x8003);
    rd(&f, b, 2);
    EXPECT(b[0] == 0 && b[1] == 0);
    /* bad widths and ports: refused, counted */
    EXPECT(fwcfg_read(&f, 0x511, 2) == 0xffff);
    EXPECT(fwcfg_read(&f, 0x510, 1) == 0xff);
    fwcfg_write(&f, 0x511, 1, 0);
    fwcfg_write(&f, 0x510, 1, 0);
    EXPECT(f.bad == 4);
    /* full: no more files; a name too long */
    char name[60];
    memset(name, 'x', sizeof(name) - 1);
    name[59] = 0;
    EXPECT(fwcfg_add_file(&f, name, "a", 1) == -1);
    int added = 0;
    while (fwcfg_add_file(&f, "etc/more", "a", 1) == 0)
        added++;
    EXPECT(added == FWCFG_MAX_FILES - 3);
    UNIT_DONE();
}
