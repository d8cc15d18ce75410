/* COM1 (16550) output. */
#include "lib.h"
#include "x86.h"

#define COM1 0x3f8

void serial_init(void)
{
    outb(COM1 + 1, 0x00);    /* no interrupts */
    outb(COM1 + 3, 0x80);    /* DLAB */
    outb(COM1 + 0, 0x01);    /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);    /* 8n1 */
    outb(COM1 + 2, 0xc7);    /* FIFO */
    outb(COM1 + 4, 0x03);
}

void serial_putc(char c)
{
    for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
        ;
    outb(COM1, (uint8_t)c);
}
