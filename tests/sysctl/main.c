/* Guest test: sysctl from a control domain: physinfo, getdomaininfolist
 * (batches from first_domain), readconsole (index/count/incremental/clear
 * semantics of Xen's console ring), and the errors for a bad interface
 * version, unknown commands and bad buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/time.h>
#include "report.h"
#include "../domctl/ctl.h"

#define HV_ADDR 0xFFFF830000100000UL

static void test_physinfo(void)
{
    struct xen_sysctl op;
    sysctl_init(&op, XEN_SYSCTL_physinfo);
    op.interface_version = XEN_SYSCTL_INTERFACE_VERSION + 1;
    CHECK_EQ(do_sysctl(&op), -XEN_EACCES);
    sysctl_init(&op, XEN_SYSCTL_physinfo);
    CHECK_EQ(do_sysctl(&op), 0);
    struct xen_sysctl_physinfo *pi = &op.u.physinfo;
    printf("physinfo: %u CPUs (%u threads/core, %u cores/socket), %u kHz, "
           "%lu pages, %lu free, max_mfn %#lx, caps %#x\n", pi->nr_cpus,
           pi->threads_per_core, pi->cores_per_socket, pi->cpu_khz,
           (unsigned long)pi->total_pages, (unsigned long)pi->free_pages,
           (unsigned long)pi->max_mfn, pi->capabilities);
    CHECK_EQ(pi->nr_cpus, 2);                /* SMP=2 */
    CHECK_EQ(pi->max_cpu_id, 1);
    CHECK_EQ(pi->threads_per_core * pi->cores_per_socket, 2);
    CHECK_EQ(pi->capabilities & (XEN_SYSCTL_PHYSCAP_pv | XEN_SYSCTL_PHYSCAP_hvm),
             XEN_SYSCTL_PHYSCAP_pv);
    if (pi->cpu_khz < 100000)
        test_fail("cpu_khz %u", pi->cpu_khz);
    /* MEM=256M: RAM less what firmware keeps. */
    if (pi->total_pages < 60000 || pi->total_pages > 65536)
        test_fail("total_pages %lu for 256 MiB", (unsigned long)pi->total_pages);
    if (pi->free_pages == 0 || pi->free_pages >= pi->total_pages)
        test_fail("free_pages %lu of %lu", (unsigned long)pi->free_pages,
                  (unsigned long)pi->total_pages);
    if (!(pi->hw_cap[0] & (1u << 25)))       /* SSE, which minios uses */
        test_fail("hw_cap[0] %#x lacks SSE", pi->hw_cap[0]);

    sysctl_init(&op, 12345);
    CHECK_EQ(do_sysctl(&op), -XEN_ENOSYS);
    sysctl_init(&op, XEN_SYSCTL_sched_id);   /* not offered */
    CHECK_EQ(do_sysctl(&op), -XEN_ENOSYS);
    CHECK_EQ(_hypercall1(__HYPERVISOR_sysctl, HV_ADDR), -XEN_EFAULT);
}

static long infolist(domid_t first, uint32_t max, struct xen_domctl_getdomaininfo *buf,
                     uint32_t *num)
{
    struct xen_sysctl op;
    sysctl_init(&op, XEN_SYSCTL_getdomaininfolist);
    op.u.getdomaininfolist.first_domain = first;
    op.u.getdomaininfolist.max_domains = max;
    set_xen_guest_handle(op.u.getdomaininfolist.buffer, buf);
    op.u.getdomaininfolist.num_domains = 0xdead;
    long rc = do_sysctl(&op);
    *num = op.u.getdomaininfolist.num_domains;
    return rc;
}

static void test_domaininfolist(void)
{
    static struct xen_domctl_getdomaininfo info[8];
    uint32_t n;
    /* Domains 1 and 2 (blocked sleepers), 3 (us). */
    CHECK_EQ(infolist(0, 8, info, &n), 0);
    CHECK_EQ(n, 3);
    CHECK_EQ(info[0].domain, 1);
    CHECK_EQ(info[1].domain, 2);
    CHECK_EQ(info[2].domain, 3);
    CHECK_EQ(info[2].flags & XEN_DOMINF_running, XEN_DOMINF_running);
    CHECK_EQ(info[0].flags & XEN_DOMINF_blocked, XEN_DOMINF_blocked);
    CHECK_EQ(info[0].tot_pages, 1024);
    CHECK_EQ(info[2].tot_pages, 4096);
    for (unsigned i = 0; i < n; i++)
        printf("d%u: flags %#x tot_pages %lu vcpus %u\n", info[i].domain, info[i].flags,
               (unsigned long)info[i].tot_pages, info[i].nr_online_vcpus);
    /* Batches. */
    CHECK_EQ(infolist(2, 1, info, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(info[0].domain, 2);
    CHECK_EQ(infolist(3, 8, info, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(info[0].domain, 3);
    CHECK_EQ(infolist(4, 8, info, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(infolist(0, 0, info, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(infolist(0, 8, (struct xen_domctl_getdomaininfo *)HV_ADDR, &n), -XEN_EFAULT);
    /* The same as getdomaininfo. */
    struct xen_domctl_getdomaininfo one;
    CHECK_EQ(infolist(2, 1, info, &n), 0);
    CHECK_EQ(getdomaininfo(2, &one), 0);
    CHECK_EQ(one.tot_pages, info[0].tot_pages);
    CHECK_EQ(one.shared_info_frame, info[0].shared_info_frame);
}

static long readconsole(char *buf, uint32_t *count, uint32_t *index, int incremental,
                        int clear)
{
    struct xen_sysctl op;
    sysctl_init(&op, XEN_SYSCTL_readconsole);
    set_xen_guest_handle(op.u.readconsole.buffer, buf);
    op.u.readconsole.count = *count;
    op.u.readconsole.index = *index;
    op.u.readconsole.incremental = incremental;
    op.u.readconsole.clear = clear;
    long rc = do_sysctl(&op);
    *count = op.u.readconsole.count;
    *index = op.u.readconsole.index;
    return rc;
}

static char big[20000];

static void test_readconsole(void)
{
    uint32_t count = sizeof(big) - 1, index = 0;
    CHECK_EQ(readconsole(big, &count, &index, 0, 0), 0);
    big[count] = 0;
    printf("readconsole: %u bytes, index %u\n", count, index);
    if (count == 0 || index < count)
        test_fail("readconsole count %u index %u", count, index);
    /* The hypervisor's boot messages are there, and guests' output is not. */
    if (!strstr(big, "d3 (sysctl): "))
        test_fail("no domain build message in the ring");
    if (strstr(big, "(sysctl) readconsole"))
        test_fail("guest output in the hypervisor's ring");
    uint32_t end = index;

    /* Small reads continue where the last ended (incremental). */
    uint32_t c2 = 10, i2 = index - 25;
    char small[16];
    CHECK_EQ(readconsole(small, &c2, &i2, 1, 0), 0);
    CHECK_EQ(c2, 10);
    CHECK_EQ(i2, end - 15);
    CHECK_EQ(memcmp(small, big + count - 25, 10), 0);
    /* An index outside the ring's contents is ignored (read from the start). */
    c2 = 10, i2 = end + 1000;
    CHECK_EQ(readconsole(small, &c2, &i2, 1, 0), 0);
    CHECK_EQ(c2, 10);
    CHECK_EQ(memcmp(small, big, 10), 0);
    /* count 0 reads nothing. */
    c2 = 0, i2 = 0;
    CHECK_EQ(readconsole(small, &c2, &i2, 0, 0), 0);
    CHECK_EQ(c2, 0);
    /* Bad buffer. */
    c2 = 10, i2 = 0;
    CHECK_EQ(readconsole((char *)HV_ADDR, &c2, &i2, 0, 0), -XEN_EFAULT);

    /* Clear: what was read is consumed; new output appears after it. */
    count = sizeof(big) - 1, index = 0;
    CHECK_EQ(readconsole(big, &count, &index, 0, 1), 0);
    uint32_t after = index;
    count = sizeof(big) - 1, index = 0;
    CHECK_EQ(readconsole(big, &count, &index, 0, 0), 0);
    CHECK_EQ(count, 0);
    CHECK_EQ(index, after);
    /* New hypervisor output after the clear: we destroy d2, and the
     * hypervisor says so ("d2 (sleeper2) destroyed by the control domain"). */
    CHECK_EQ(domctl_simple(XEN_DOMCTL_destroydomain, 2), 0);
    count = sizeof(big) - 1, index = 0;
    CHECK_EQ(readconsole(big, &count, &index, 0, 0), 0);
    big[count] = 0;
    printf("after clear: %u new bytes\n", count);
    if (!strstr(big, "d2 (sleeper2) destroyed by the control domain"))
        test_fail("new hypervisor output not in the ring after clear: '%s'", big);
    CHECK_EQ(index, after + count);
}

/* The other domains block until the control domain destroys them: what
 * it sees of them must not depend on how fast the host runs. */
static int sleeper(void)
{
    for (;;)
        minios_sleep_ns(3600ULL * 1000000000ULL);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "sleeper"))
            return sleeper();
    test_physinfo();
    test_domaininfolist();
    test_readconsole();
    CHECK_EQ(domctl_simple(XEN_DOMCTL_destroydomain, 1), 0);
    return test_finish();
}
