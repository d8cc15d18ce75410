/* console.c: minios's early console over the console_io hypercall (CONSOLEIO_write). */
#include <stdarg.h>
#include <stdio.h>
#include <minios/console.h>
#include <minios/hypercall.h>

/* Xen copies a write in chunks itself; keep each hypercall short anyway. */
#define CONSOLE_CHUNK 1024

long minios_console_write(const char *buf, size_t len)
{
    while (len > 0) {
        size_t n = len < CONSOLE_CHUNK ? len : CONSOLE_CHUNK;
        long rc = HYPERVISOR_console_io(CONSOLEIO_write, (int)n, (char *)buf);

        if (rc < 0)
            return rc;
        buf += n;
        len -= n;
    }
    return 0;
}

int minios_printk(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return n;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    minios_console_write(buf, (size_t)n);
    return n;
}
