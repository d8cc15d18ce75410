/* uart.c: the 16550A registers (the layout of the National Semiconductor
 * PC16550D data sheet, as QEMU's serial.c presents them). */
#include "uart.h"
#include <string.h>

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

void uart_init(struct uart *u, void (*emit)(void *ctx, const char *line), void *ctx)
{
    memset(u, 0, sizeof(*u));
    u->dll = 0x0c;                      /* 9600 baud, as a PC's UART after reset */
    u->emit = emit;
    u->ctx = ctx;
}

static void flush(struct uart *u)
{
    u->line[u->len] = 0;
    if (u->emit)
        u->emit(u->ctx, u->line);
    u->len = 0;
}

static void tx(struct uart *u, uint8_t c)
{
    if (c == '\n') {
        flush(u);
        return;
    }
    if (c == '\r')
        return;
    u->line[u->len++] = (char)c;
    if (u->len == UART_LINE_MAX)
        flush(u);
}

uint32_t uart_read(struct uart *u, unsigned off, unsigned size)
{
    if (size != 1 || off > 7) {
        u->bad++;
        return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
    }
    bool dlab = u->lcr & LCR_DLAB;
    switch (off) {
    case RBR_THR:
        return dlab ? u->dll : 0;       /* nothing is ever received */
    case IER:
        return dlab ? u->dlm : u->ier;
    case IIR_FCR: {
        /* THR empty (it always is) is the only source: pending once the
         * guest enables it or writes THR, gone when IIR shows it. */
        uint8_t fifo = (u->fcr & 1) ? 0xc0 : 0;
        if ((u->ier & 0x02) && u->thre) {
            u->thre = false;
            return 0x02 | fifo;
        }
        return 0x01 | fifo;                      /* no interrupt pending */
    }
    case LCR:
        return u->lcr;
    case MCR:
        return u->mcr;
    case LSR:
        return LSR_THRE | LSR_TEMT;     /* transmits at once */
    case MSR:
        if (u->mcr & MCR_LOOP)          /* DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
            return ((u->mcr & 1) ? MSR_DSR : 0) | ((u->mcr & 2) ? MSR_CTS : 0) |
                   ((u->mcr & 4) ? MSR_RI : 0) | ((u->mcr & 8) ? MSR_DCD : 0);
        return MSR_DCD | MSR_DSR | MSR_CTS;
    default:
        return u->scr;
    }
}

void uart_write(struct uart *u, unsigned off, unsigned size, uint32_t val)
{
    if (size != 1 || off > 7) {
        u->bad++;
        return;
    }
    uint8_t v = (uint8_t)val;
    bool dlab = u->lcr & LCR_DLAB;
    switch (off) {
    case RBR_THR:
        if (dlab)
            u->dll = v;
        else {
            if (!(u->mcr & MCR_LOOP))    /* in loopback nothing leaves */
                tx(u, v);
            u->thre = true;              /* sent at once: empty again */
        }
        return;
    case IER:
        if (dlab)
            u->dlm = v;
        else {
            if ((v & 0x02) && !(u->ier & 0x02))
                u->thre = true;          /* enabled while THR is empty */
            u->ier = v & 0x0f;
        }
        return;
    case IIR_FCR:
        u->fcr = v & 0xc9;               /* clear bits (1, 2) self-clear */
        return;
    case LCR:
        u->lcr = v;
        return;
    case MCR:
        u->mcr = v & 0x1f;
        return;
    case SCR:
        u->scr = v;
        return;
    default:
        return;                          /* LSR and MSR: read-only */
    }
}

bool uart_irq(const struct uart *u)
{
    return (u->ier & 0x02) && u->thre && (u->mcr & 0x08);
}
