/* Guest test: set_debugreg/get_debugreg.  A write watchpoint in DR0/DR7
 * raises #DB in the guest's handler with DR6 showing B0; addresses outside
 * the guest, general detect and I/O breakpoints are refused; nothing is
 * changed by a refused call. */
#include <minios/hypercall.h>
#include <minios/traps.h>
#include <stdio.h>
#include "report.h"

static volatile unsigned long watched;
static volatile int db_hits;

static void on_db(struct minios_trap_frame *f)
{
    (void)f;
    db_hits++;
}

static long setdr(int reg, unsigned long v)
{
    return _hypercall2(__HYPERVISOR_set_debugreg, reg, v);
}

static long getdr(int reg)
{
    return _hypercall1(__HYPERVISOR_get_debugreg, reg);
}

int main(void)
{
    CHECK_EQ(minios_set_trap_handler(1, on_db), 0);
    CHECK_EQ(setdr(0, (unsigned long)&watched), 0);
    CHECK_EQ(getdr(0), (long)&watched);
    /* L0, R/W0 = 01 (writes), LEN0 = 11 (8 bytes). */
    unsigned long dr7 = 1 | (1UL << 16) | (3UL << 18);
    CHECK_EQ(setdr(7, dr7), 0);
    CHECK_EQ(getdr(7) & 0xffff0003UL, (long)(dr7 & 0xffff0003UL));
    watched = 1;
    if (db_hits != 1)
        test_fail("write watchpoint: %d #DB, expected 1", db_hits);
    if (!(getdr(6) & 1))
        test_fail("DR6 %#lx does not show B0", getdr(6));
    (void)watched;                 /* a read does not trigger it */
    if (db_hits != 1)
        test_fail("read triggered the write watchpoint");

    /* Refused, and the old values stay. */
    CHECK_EQ(setdr(0, 0xFFFF830000100000UL), -XEN_EPERM);
    CHECK_EQ(setdr(1, 0x0000900000000000UL), -XEN_EPERM);
    CHECK_EQ(getdr(0), (long)&watched);
    CHECK_EQ(setdr(7, dr7 | (1UL << 13)), -XEN_EPERM);        /* GD */
    CHECK_EQ(setdr(7, 1 | (2UL << 16)), -XEN_EPERM);          /* I/O */
    /* As Xen: DR4/DR5 are DR6/DR7 (CR4.DE clear); past DR7 -ENODEV. */
    CHECK_EQ(getdr(4), getdr(6));
    CHECK_EQ(getdr(5), getdr(7));
    CHECK_EQ(setdr(8, 0), -XEN_ENODEV);
    CHECK_EQ(getdr(8), -XEN_ENODEV);
    CHECK_EQ(setdr(99, 0), -XEN_ENODEV);
    CHECK_EQ(setdr(7, 0), 0);
    watched = 2;
    if (db_hits != 1)
        test_fail("watchpoint still armed after DR7=0");
    printf("debugreg: %d #DB, DR6 %#lx\n", db_hits, getdr(6));
    return test_finish();
}
