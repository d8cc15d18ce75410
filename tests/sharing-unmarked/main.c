/* Guest test: an image without Keel's RO_SHAREABLE note gets Xen's layout.
 * Built like any minios guest, then stripped of the note (mkxenimg
 * nokeel); three domains boot from it.  Each finds its read-only data
 * as the image has it, writes it without a fault (every page its own and
 * writable, as Xen maps a PV kernel), and after the others have run
 * still reads back its own write: nothing is shared. */
#include <minios/time.h>
#include <minios/traps.h>
#include <stdio.h>
#include "report.h"

static const unsigned char ro_byte[64] = { 0x5a };
static volatile int faults;

static void on_pf(struct minios_trap_frame *f)
{
    faults++;
    f->rip += 3;                 /* movb $0xa5, (%rax) is 3 bytes: c6 00 a5 */
}

int main(void)
{
    volatile const unsigned char *p = ro_byte;
    if (p[0] != 0x5a)
        test_fail("read-only byte is %#x before the write, not the image's 0x5a (shared?)", p[0]);
    CHECK_EQ(minios_set_trap_handler(14, on_pf), 0);
    __asm__ volatile(".byte 0xc6, 0x00, 0xa5" :: "a"(p) : "memory");
    minios_set_trap_handler(14, NULL);
    if (faults)
        test_fail("write to read-only data faulted (%d faults): image mapped read-only", faults);
    if (p[0] != 0xa5)
        test_fail("write to read-only data did not land (%#x)", p[0]);
    minios_sleep_ns(200000000ULL);   /* the other domains write theirs meanwhile */
    if (p[0] != 0xa5)
        test_fail("own write lost (%#x)", p[0]);
    printf("sharing-unmarked: wrote read-only data without a fault\n");
    return test_finish();
}
