/* The boot modules the loader passed (setup.c), one per boot domain or
 * ramdisk, and their configuration (docs/boot-config.md). */
#ifndef KEEL_BOOT_H
#define KEEL_BOOT_H
#include "lib.h"

struct boot_module {
    uint64_t start, end;         /* physical range of the image */
    const char *cmdline;         /* "PATH key=value ... words" (setup.c's copy) */
    bool keep;                   /* kept after boot: a restart= domain's image or ramdisk */
};

extern struct boot_module boot_modules[];
extern unsigned nr_boot_modules;

/* Gives the modules' frames to the page allocator; returns how many. */
uint64_t release_boot_modules(void);

/* Builds and starts the boot domains (pv/dom_build.c). */
void build_boot_domains(void);

/* The hypervisor's own command line, as the boot loader gave it. */
const char *hv_command_line(void);
bool hv_option(const char *key, const char **val, size_t *len);

#endif
