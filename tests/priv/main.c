/* Guest test: one privileged action per domain (op=...).  Each must fault
 * into the hypervisor and crash only its own domain; the witness domain
 * keeps running before and after, and reports. */
#include <minios/startinfo.h>
#include <stdio.h>
#include <string.h>
#include "report.h"

static void do_op(const char *op)
{
    printf("executing %s\n", op);
    fflush(stdout);
    if (!strcmp(op, "cli"))
        __asm__ volatile("cli");
    else if (!strcmp(op, "hlt"))
        __asm__ volatile("hlt");
    else if (!strcmp(op, "movcr3"))
        __asm__ volatile("mov %0, %%cr3" :: "r"(0UL));
    else if (!strcmp(op, "wrmsr"))
        __asm__ volatile("wrmsr" :: "c"(0xc0000082), "a"(0), "d"(0));
    else if (!strcmp(op, "in"))
        __asm__ volatile("inb $0x60, %%al" ::: "eax");
    else if (!strcmp(op, "out"))
        __asm__ volatile("outb %%al, $0xf4" :: "a"(0x10));
    else if (!strcmp(op, "lgdt")) {
        struct { unsigned short l; unsigned long b; } __attribute__((packed)) g = { 0, 0 };
        __asm__ volatile("lgdt %0" :: "m"(g));
    } else if (!strcmp(op, "invlpg"))
        __asm__ volatile("invlpg (%0)" :: "r"(0UL) : "memory");
    else if (!strcmp(op, "wrhv"))
        *(volatile unsigned long *)0xFFFF830000100000UL = 0;
    else if (!strcmp(op, "wrpt"))
        *(volatile unsigned long *)minios_start_info->pt_base = 0;
    else {
        test_error("unknown op %s", op);
        return;
    }
    test_fail("%s did not fault", op);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "op=", 3)) {
            if (!strcmp(argv[i] + 3, "witness")) {
                /* Run across many slices while the others crash. */
                for (int r = 0; r < 4; r++) {
                    for (volatile unsigned long n = 0; n < 10000000UL; n++)
                        ;
                    printf("witness alive, round %d\n", r);
                }
                return test_finish();
            }
            do_op(argv[i] + 3);
            return test_finish();
        }
    }
    test_error("no op= argument");
    return test_finish();
}
