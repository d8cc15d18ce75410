/* The xenstore domain's boot module (docs/boot-config.md) for guest tests: its lines, one
 * at a time. */
#ifndef KEEL_TEST_BOOTLIST_H
#define KEEL_TEST_BOOTLIST_H

#include <stddef.h>
#include <string.h>

/* Copies the line at *off of text[0..len) (without its newline, cut to cap - 1 bytes)
 * into line and moves *off past it; 0 when no whole line is left. */
static inline int bootlist_next(const char *text, size_t len, size_t *off, char *line,
                                size_t cap)
{
    if (*off >= len)
        return 0;
    const char *nl = memchr(text + *off, '\n', len - *off);
    if (!nl)
        return 0;
    size_t ll = (size_t)(nl - text) - *off;
    if (ll > cap - 1)
        ll = cap - 1;
    memcpy(line, text + *off, ll);
    line[ll] = 0;
    *off = (size_t)(nl - text) + 1;
    return 1;
}

#endif
