/* fwcfg.c: the traditional fw_cfg interface (QEMU's docs/specs/fw_cfg.txt):
 * a write of a key to the selector rewinds; each data read gives the next
 * byte of the selected item, 0 past its end or for an unknown key.  The
 * file directory (key 0x19) is big-endian as the spec says; the items'
 * own values are little-endian. */
#include "fwcfg.h"
#include <string.h>

#define KEY_SIGNATURE 0x0000
#define KEY_ID        0x0001
#define KEY_RAM_SIZE  0x0003
#define KEY_NB_CPUS   0x0005
#define KEY_BOOT_MENU 0x000e
#define KEY_MAX_CPUS  0x000f
#define KEY_FILE_DIR  0x0019
#define KEY_FILE_FIRST 0x0020
#define KEY_IRQ0_OVERRIDE 0x8002         /* x86's arch-local key */

static struct fwcfg_item *add(struct fwcfg *f, uint16_t key, const void *data, uint32_t len)
{
    if (f->n == sizeof(f->items) / sizeof(f->items[0]) || len > FWCFG_MAX_ITEM)
        return NULL;
    struct fwcfg_item *it = &f->items[f->n++];
    memset(it, 0, sizeof(*it));
    it->key = key;
    it->len = len;
    memcpy(it->data, data, len);
    return it;
}

static void le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* The directory item, rebuilt whenever a file is added. */
static void update_dir(struct fwcfg *f)
{
    uint8_t dir[4 + FWCFG_MAX_FILES * 64];
    memset(dir, 0, sizeof(dir));
    be(dir, f->nfiles, 4);
    unsigned k = 0;
    for (unsigned i = 0; i < f->n; i++) {
        const struct fwcfg_item *it = &f->items[i];
        if (it->key < KEY_FILE_FIRST || it->key >= KEY_FILE_FIRST + FWCFG_MAX_FILES)
            continue;                    /* not a file (the arch-local keys are above) */
        uint8_t *e = dir + 4 + 64 * k++;
        be(e, it->len, 4);
        be(e + 4, it->key, 2);
        memcpy(e + 8, it->name, 56);
    }
    for (unsigned i = 0; i < f->n; i++)
        if (f->items[i].key == KEY_FILE_DIR) {
            f->items[i].len = 4 + 64 * f->nfiles;
            memcpy(f->items[i].data, dir, f->items[i].len);
        }
}

int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, uint32_t len)
{
    if (f->nfiles == FWCFG_MAX_FILES || strlen(name) >= 56)
        return -1;
    struct fwcfg_item *it = add(f, (uint16_t)(KEY_FILE_FIRST + f->nfiles), data, len);
    if (!it)
        return -1;
    strcpy(it->name, name);
    f->nfiles++;
    update_dir(f);
    return 0;
}

void fwcfg_init(struct fwcfg *f, uint64_t ram, uint64_t reserved, unsigned cpus,
                uint32_t fail_wait_ms)
{
    memset(f, 0, sizeof(*f));
    uint8_t b[24];
    add(f, KEY_SIGNATURE, "QEMU", 4);
    le(b, 1, 4);                         /* the traditional interface, no DMA */
    add(f, KEY_ID, b, 4);
    le(b, ram, 8);
    add(f, KEY_RAM_SIZE, b, 8);
    le(b, cpus, 2);
    add(f, KEY_NB_CPUS, b, 2);
    add(f, KEY_MAX_CPUS, b, 2);
    le(b, 0, 2);
    add(f, KEY_BOOT_MENU, b, 2);
    /* The PIT's IRQ0 reaches the I/O APIC on pin 2 (the hypervisor's
     * vioapic.c, as QEMU's and Xen's): SeaBIOS's MP table then says so
     * (its "etc/irq0-override"). */
    le(b, 1, 4);
    add(f, KEY_IRQ0_OVERRIDE, b, 4);
    add(f, KEY_FILE_DIR, b, 4);          /* filled by update_dir */
    update_dir(f);
    /* etc/e820: its RAM (QEMU's e820 table format: addr, length, type 1),
     * below the PCI hole, and the top `reserved` bytes of it as reserved
     * (type 2: the builder's xenstore and console rings). */
    if (reserved > ram)
        reserved = ram;
    uint8_t e[40];
    le(e, 0, 8);
    le(e + 8, ram - reserved, 8);
    le(e + 16, 1, 4);
    le(e + 20, ram - reserved, 8);
    le(e + 28, reserved, 8);
    le(e + 36, 2, 4);
    fwcfg_add_file(f, "etc/e820", e, reserved ? 40 : 20);
    le(b, 0, 8);
    fwcfg_add_file(f, "etc/show-boot-menu", b, 8);
    le(b, fail_wait_ms, 8);
    fwcfg_add_file(f, "etc/boot-fail-wait", b, 8);
}

void fwcfg_write(struct fwcfg *f, unsigned port, unsigned size, uint32_t val)
{
    if (port != 0x510 || size != 2) {
        f->bad++;                        /* the data port is read-only here */
        return;
    }
    f->sel = (uint16_t)val;
    f->off = 0;
}

uint32_t fwcfg_read(struct fwcfg *f, unsigned port, unsigned size)
{
    if (port != 0x511 || size != 1) {
        f->bad++;
        return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
    }
    uint16_t key = f->sel;               /* the arch-local keys (bit 15) too */
    for (unsigned i = 0; i < f->n; i++) {
        const struct fwcfg_item *it = &f->items[i];
        if (it->key == key)
            return f->off < it->len ? it->data[f->off++] : 0;
    }
    return 0;
}
