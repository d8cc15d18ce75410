/* fwcfg.h: QEMU's firmware configuration device as the device model
 * presents it (stubdoms/dm, docs/hvm.md): the selector at port 0x510
 * (16-bit), the data at 0x511 (read a byte at a time, in order), the
 * "QEMU" signature, the traditional interface only (no DMA), the CPU
 * counts, the boot-menu flag, x86's IRQ0-override key (0x8002: 1, the
 * PIT on the I/O APIC's pin 2), and a file directory with named blobs
 * (etc/e820, etc/show-boot-menu, etc/boot-fail-wait, and the ACPI
 * blobs of acpi.c), as SeaBIOS reads them (QEMU's docs/specs/fw_cfg.txt). */
#ifndef KEEL_DM_FWCFG_H
#define KEEL_DM_FWCFG_H
#include <stdint.h>
#include <stddef.h>

#define FWCFG_MAX_FILES 8
#define FWCFG_MAX_ITEM 4096             /* bytes of one item (the ACPI loader script: 2,176) */

struct fwcfg_item {
    uint16_t key;
    char name[56];                      /* files only */
    uint32_t len;
    uint8_t data[FWCFG_MAX_ITEM];
};

struct fwcfg {
    unsigned n;
    struct fwcfg_item items[FWCFG_MAX_FILES + 8];   /* the files and the 8 fixed items */
    uint16_t sel;
    uint32_t off;
    unsigned nfiles;
    unsigned long bad;                  /* accesses refused (width) */
};

/* The fixed items for a guest of ram bytes (below 3 GiB), whose top
 * reserved bytes the e820 map says are reserved, and cpus vCPUs, booting
 * at once (no menu) and retrying a failed boot after fail_wait_ms. */
void fwcfg_init(struct fwcfg *f, uint64_t ram, uint64_t reserved, unsigned cpus,
                uint32_t fail_wait_ms);
/* A named file; 0, or -1 when full or too big. */
int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, uint32_t len);
/* Port accesses: 0x510 selector (2 bytes), 0x511 data (1 byte). */
void fwcfg_write(struct fwcfg *f, unsigned port, unsigned size, uint32_t val);
uint32_t fwcfg_read(struct fwcfg *f, unsigned port, unsigned size);

#endif
