/* Guest test: console_io, xen_version and sched_op with valid arguments
 * and with bad ones (pointers into the hypervisor, unmapped, non-canonical,
 * read-only, wrapping; unknown commands and hypercall numbers). */
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <stdio.h>
#include <string.h>
#include "report.h"

#define HV_ADDR      0xFFFF830000100000UL   /* inside the hypervisor */
#define UNMAPPED     0x0000000040000000UL   /* 1 GiB: past the bootstrap map */
#define NONCANONICAL 0x0000900000000000UL
#define WRAPPING     0xFFFFFFFFFFFFFFF8UL

/* Calls hypercall nr with the syscall instruction directly, for numbers
 * that have no entry in the hypercall page. */
static long raw_syscall(unsigned long nr)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr) : "rcx", "r11", "memory");
    return ret;
}

static void test_version(void)
{
    long v = HYPERVISOR_xen_version(XENVER_version, NULL);
    CHECK_EQ(v, (4 << 16) | 17);
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_pagesize, NULL), 4096);

    xen_extraversion_t ev;
    memset(ev, 0xff, sizeof(ev));
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_extraversion, ev), 0);
    if (memchr(ev, 0, sizeof(ev)) == NULL)
        test_fail("extraversion not terminated");

    xen_compile_info_t ci;
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_compile_info, &ci), 0);
    if (!memchr(ci.compiler, 0, sizeof(ci.compiler)) || ci.compiler[0] == 0)
        test_fail("compile_info.compiler empty or unterminated");

    static xen_capabilities_info_t caps;
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_capabilities, caps), 0);
    if (!strstr(caps, "xen-3.0-x86_64"))
        test_fail("capabilities '%s' lack xen-3.0-x86_64", caps);

    xen_feature_info_t fi = { .submap_idx = 0, .submap = 0xdeadbeef };
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_get_features, &fi), 0);
    fi.submap_idx = 1000;
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_get_features, &fi), -XEN_EINVAL);

    printf("xen %ld.%ld%s, caps '%s'\n", v >> 16, v & 0xffff, ev, caps);

    /* Bad pointers: -EFAULT and nothing written. */
    unsigned long bad[] = { HV_ADDR, UNMAPPED, NONCANONICAL, WRAPPING, 0xFFFF800000000000UL };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_extraversion, (void *)bad[i]), -XEN_EFAULT);
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_compile_info, (void *)bad[i]), -XEN_EFAULT);
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_get_features, (void *)bad[i]), -XEN_EFAULT);
    }
    /* A read-only page (the bootstrap L4): refused, and left unchanged. */
    unsigned char *l4 = (unsigned char *)minios_start_info->pt_base;
    unsigned char before[64];
    memcpy(before, l4, sizeof(before));
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_compile_info, l4), -XEN_EFAULT);
    if (memcmp(before, l4, sizeof(before)))
        test_fail("hypervisor wrote into a read-only page table");
    CHECK_EQ(HYPERVISOR_xen_version(12345, NULL), -XEN_ENOSYS);
}

static void test_console(void)
{
    char msg[] = "console_io write from the hypercall test\n";
    CHECK_EQ(HYPERVISOR_console_io(CONSOLEIO_write, sizeof(msg) - 1, msg), 0);
    CHECK_EQ(HYPERVISOR_console_io(CONSOLEIO_write, 16, (char *)HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_console_io(CONSOLEIO_write, 16, (char *)UNMAPPED), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_console_io(CONSOLEIO_write, 16, (char *)NONCANONICAL), -XEN_EFAULT);
    CHECK_EQ(_hypercall3(__HYPERVISOR_console_io, CONSOLEIO_write, 64, WRAPPING), -XEN_EFAULT);
    /* Anything but a write is the control role's, as Xen's domU gets -EPERM. */
    CHECK_EQ(HYPERVISOR_console_io(99, 0, NULL), -XEN_EPERM);
    CHECK_EQ(HYPERVISOR_console_io(CONSOLEIO_read, 0, NULL), -XEN_EPERM);
}

static void test_sched(void)
{
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_yield, NULL), 0);
    CHECK_EQ(HYPERVISOR_sched_op(99, NULL), -XEN_ENOSYS);
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_shutdown, (void *)HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_shutdown, (void *)UNMAPPED), -XEN_EFAULT);
    struct sched_shutdown s = { .reason = 99 };
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_shutdown, &s), -XEN_EINVAL);
}

static void test_unknown(void)
{
    /* Numbers Xen 4.17 has nothing behind, and numbers past the table. */
    unsigned nrs[] = { 11, 43, 63, 127 };
    for (unsigned i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++)
        CHECK_EQ(_hypercall5(nrs[i], 1, 2, 3, 4, 5), -XEN_ENOSYS);
    CHECK_EQ(raw_syscall(128), -XEN_ENOSYS);
    CHECK_EQ(raw_syscall(100000), -XEN_ENOSYS);
    CHECK_EQ(raw_syscall(~0UL), -XEN_ENOSYS);
}

int main(void)
{
    test_version();
    test_console();
    test_sched();
    test_unknown();
    return test_finish();
}
