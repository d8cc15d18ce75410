/* Guest test: page sharing.  Two domains booted from this image share its
 * read-only pages; a write to them faults into the guest (here caught by
 * a #PF handler that skips the instruction), and the page is unchanged. */
#include <minios/traps.h>
#include <stdio.h>
#include "report.h"

static volatile int faults;
static volatile unsigned long fault_cr2;

static void on_pf(struct minios_trap_frame *f)
{
    faults++;
    fault_cr2 = f->cr2;
    f->rip += 3;                 /* movb $1, (%rax) is 3 bytes: c6 00 01 */
}

int main(void)
{
    unsigned char *text = (unsigned char *)main;
    unsigned char before = text[0];
    CHECK_EQ(minios_set_trap_handler(14, on_pf), 0);
    __asm__ volatile(".byte 0xc6, 0x00, 0x01" :: "a"(text) : "memory");
    minios_set_trap_handler(14, NULL);
    if (faults != 1 || fault_cr2 != (unsigned long)text)
        test_fail("write to text: %d faults, cr2 %#lx", faults, fault_cr2);
    if (text[0] != before)
        test_fail("text changed");
    printf("sharing: write to text faulted at %#lx\n", fault_cr2);
    return test_finish();
}
