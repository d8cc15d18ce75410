/* console.h: minios's early console, usable before and without newlib's stdio. */
#ifndef MINIOS_CONSOLE_H
#define MINIOS_CONSOLE_H

#include <stddef.h>

/* Writes len bytes to the hypervisor console (console_io CONSOLEIO_write).
 * Returns 0, or a negative Xen errno if the hypervisor refused. */
long minios_console_write(const char *buf, size_t len);

/* printf to the console; output longer than 512 bytes is truncated.
 * Returns the number of characters written. */
int minios_printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* MINIOS_CONSOLE_H */
