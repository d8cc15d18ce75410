/* Host unit test of the device model's 16550A (stubdoms/dm/uart.c), under
 * ASan/UBSan: registers, DLAB, loopback, lines handed on, and accesses of
 * a bad width or offset refused without effect. */
#include <string.h>
#include "uart.h"
#include "unit.h"

static char got[8][UART_LINE_MAX + 1];
static int nlines;

static void emit(void *ctx, const char *line)
{
    (void)ctx;
    if (nlines < 8)
        strcpy(got[nlines], line);
    nlines++;
}

static void puts_uart(struct uart *u, const char *s)
{
    for (; *s; s++)
        uart_write(u, 0, 1, (uint8_t)*s);
}

int main(void)
{
    struct uart u;
    uart_init(&u, emit, NULL);
    /* after reset: THR empty, no interrupt, modem lines up */
    EXPECT(uart_read(&u, 5, 1) == 0x60);
    EXPECT(uart_read(&u, 2, 1) == 0x01);
    EXPECT(uart_read(&u, 6, 1) == 0xb0);
    EXPECT(uart_read(&u, 0, 1) == 0);
    /* scratch, IER (4 bits), LCR, MCR (5 bits) */
    uart_write(&u, 7, 1, 0x5a);
    EXPECT(uart_read(&u, 7, 1) == 0x5a);
    uart_write(&u, 1, 1, 0xff);
    EXPECT(uart_read(&u, 1, 1) == 0x0f);
    uart_write(&u, 4, 1, 0xff);
    EXPECT(uart_read(&u, 4, 1) == 0x1f);
    uart_write(&u, 4, 1, 0);
    /* DLAB: divisor latch in place of RBR/THR and IER */
    uart_write(&u, 3, 1, 0x83);
    EXPECT(uart_read(&u, 0, 1) == 0x0c);
    uart_write(&u, 0, 1, 0x01);
    uart_write(&u, 1, 1, 0x02);
    EXPECT(uart_read(&u, 0, 1) == 0x01 && uart_read(&u, 1, 1) == 0x02);
    uart_write(&u, 3, 1, 0x03);
    EXPECT(uart_read(&u, 1, 1) == 0x0f && nlines == 0);   /* the divisor sent nothing */
    /* THR empty: pending once enabled (as SeaBIOS's detect_serial sees
     * it), gone when IIR shows it, back after a THR write */
    uart_write(&u, 1, 1, 0x02);
    EXPECT(uart_read(&u, 1, 1) == 0x02 && uart_read(&u, 2, 1) == 0x02);
    EXPECT(uart_read(&u, 2, 1) == 0x01);
    uart_write(&u, 0, 1, '!');
    uart_write(&u, 0, 1, '\n');
    EXPECT(uart_read(&u, 2, 1) == 0x02 && uart_read(&u, 2, 1) == 0x01);
    uart_write(&u, 1, 1, 0x00);
    uart_write(&u, 0, 1, '\n');
    EXPECT(uart_read(&u, 2, 1) == 0x01);
    nlines = 0;
    /* FIFO enable shows in IIR; clear bits do not stick */
    uart_write(&u, 2, 1, 0x07);
    EXPECT(uart_read(&u, 2, 1) == 0xc1);
    /* lines: CR dropped, LF ends one, a long one is cut at UART_LINE_MAX */
    puts_uart(&u, "hello\r\nworld\n");
    EXPECT(nlines == 2 && !strcmp(got[0], "hello") && !strcmp(got[1], "world"));
    for (int i = 0; i < UART_LINE_MAX + 5; i++)
        uart_write(&u, 0, 1, 'x');
    EXPECT(nlines == 3 && strlen(got[2]) == UART_LINE_MAX);
    /* loopback: MSR mirrors MCR, nothing transmitted */
    uart_write(&u, 4, 1, 0x10 | 0x0f);
    EXPECT(uart_read(&u, 6, 1) == 0xf0);
    puts_uart(&u, "lost\n");
    EXPECT(nlines == 3);
    uart_write(&u, 4, 1, 0);
    /* bad widths and offsets: refused, counted, nothing changed */
    EXPECT(uart_read(&u, 7, 2) == 0xffff && uart_read(&u, 7, 4) == 0xffffffffu);
    uart_write(&u, 7, 2, 0x1234);
    uart_write(&u, 8, 1, 1);
    EXPECT(uart_read(&u, 9, 1) == 0xff);
    EXPECT(uart_read(&u, 7, 1) == 0x5a && u.bad == 5);
    /* read-only LSR and MSR ignore writes */
    uart_write(&u, 5, 1, 0);
    uart_write(&u, 6, 1, 0);
    EXPECT(uart_read(&u, 5, 1) == 0x60 && uart_read(&u, 6, 1) == 0xb0);
    UNIT_DONE();
}
