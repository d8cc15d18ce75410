/* uart.h: a 16550A UART as the device model presents it to its guest
 * (stubdoms/dm, docs/hvm.md): the eight registers at a port base, DLAB,
 * scratch, loopback MSR, the THR-empty interrupt as IIR shows it; what
 * the guest transmits is handed on a line at a time.  No receive path and
 * no interrupt line to the guest yet. */
#ifndef KEEL_DM_UART_H
#define KEEL_DM_UART_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define UART_LINE_MAX 120

struct uart {
    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
    bool thre;                      /* the THR-empty interrupt is pending */
    char line[UART_LINE_MAX + 1];
    size_t len;
    unsigned long bad;              /* accesses refused (width, offset) */
    /* a whole line (or UART_LINE_MAX bytes) the guest wrote; NUL-ended */
    void (*emit)(void *ctx, const char *line);
    void *ctx;
};

void uart_init(struct uart *u, void (*emit)(void *ctx, const char *line), void *ctx);
/* One access at register offset off (0..7) of size bytes: a read's value
 * (all ones for a width other than 1, counted in bad), or a write. */
uint32_t uart_read(struct uart *u, unsigned off, unsigned size);
void uart_write(struct uart *u, unsigned off, unsigned size, uint32_t val);
/* Its interrupt line: an enabled source pending (THR empty) and OUT2 set,
 * which gates the line on a PC. */
bool uart_irq(const struct uart *u);

#endif
