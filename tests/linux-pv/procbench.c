/*
 * procbench: two process figures inside the Linux PV guest, timed with RDTSC (under QEMU -icount
 * shift=0 the TSC counts instructions): N getpid() system calls (each a user -> kernel -> user
 * round trip, which on PV goes through the hypervisor both ways) and N fork + execve("/bin/true")
 * + wait4 round trips (busybox's true applet), all on the first vCPU (sched_setaffinity).  A
 * static Linux program with no libc, like tsc.c;
 * /init runs it, and then powers off, only when the kernel command line holds "procbench"
 * (ci/bench-linux.sh).
 *
 *   procbench [GETPID_N [FORK_N]]     defaults 100000 and 50
 *
 * Prints, each op's ticks as an average with one decimal:
 *   linux-pv: bench getpid n=N ticks_per_op=T
 *   linux-pv: bench fork_exec_wait n=N ticks_per_op=T
 * or "linux-pv: bench ... failed: ..." when a call does not do what it should, and exits 1.
 */
#define SYS_write 1
#define SYS_getpid 39
#define SYS_fork 57
#define SYS_execve 59
#define SYS_exit 60
#define SYS_wait4 61
#define SYS_sched_setaffinity 203

static long sys0(long n)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
    return r;
}

static long sys4(long n, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}

static unsigned long rdtsc(void)
{
    unsigned lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return (unsigned long)hi << 32 | lo;
}

static unsigned long slen(const char *s)
{
    unsigned long n = 0;
    while (s[n])
        n++;
    return n;
}

static void put(const char *s)
{
    sys4(SYS_write, 1, (long)s, (long)slen(s), 0);
}

/* Appends v in decimal at *p. */
static char *dec(char *p, unsigned long v)
{
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        *p++ = tmp[--i];
    return p;
}

static char *cat(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

/* "linux-pv: bench NAME n=N ticks_per_op=T.D" */
static void report(const char *name, unsigned long n, unsigned long ticks)
{
    char line[128], *p = line;
    unsigned long tenths = ticks * 10 / n;
    p = cat(p, "linux-pv: bench ");
    p = cat(p, name);
    p = cat(p, " n=");
    p = dec(p, n);
    p = cat(p, " ticks_per_op=");
    p = dec(p, tenths / 10);
    *p++ = '.';
    *p++ = (char)('0' + tenths % 10);
    *p++ = '\n';
    *p = 0;
    put(line);
}

static void fail(const char *name, const char *why, long v)
{
    char line[128], *p = line;
    p = cat(p, "linux-pv: bench ");
    p = cat(p, name);
    p = cat(p, " failed: ");
    p = cat(p, why);
    p = cat(p, " ");
    if (v < 0) {
        *p++ = '-';
        v = -v;
    }
    p = dec(p, (unsigned long)v);
    *p++ = '\n';
    *p = 0;
    put(line);
    sys4(SYS_exit, 1, 0, 0, 0);
}

static unsigned long num(const char *s, unsigned long dflt)
{
    unsigned long v = 0;
    if (!s || !*s)
        return dflt;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return dflt;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    return v ? v : dflt;
}

/* One fork + execve("/bin/true") + wait4; the child's exit status must be 0. */
static void fork_exec_wait(void)
{
    static char *const argv[] = { "true", 0 };
    static char *const envp[] = { 0 };
    long pid = sys0(SYS_fork);
    if (pid == 0) {
        sys4(SYS_execve, (long)"/bin/true", (long)argv, (long)envp, 0);
        sys4(SYS_exit, 127, 0, 0, 0);
        for (;;)
            ;
    }
    if (pid < 0)
        fail("fork_exec_wait", "fork returned", pid);
    int status = -1;
    long r = sys4(SYS_wait4, pid, (long)&status, 0, 0);
    if (r != pid)
        fail("fork_exec_wait", "wait4 returned", r);
    if (status != 0)
        fail("fork_exec_wait", "child status", status);
}

void run(long *sp);

__attribute__((used)) void run(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    unsigned long ngp = num(argc > 1 ? argv[1] : 0, 100000);
    unsigned long nfk = num(argc > 2 ? argv[2] : 0, 50);

    /* All on the first vCPU (children inherit it): each round trip is then one vCPU's work,
     * not also a cross-vCPU wake-up whose cost depends on how the hypervisor schedules two
     * vCPUs on one host CPU (on Xen that made the fork figure vary by 2x between runs). */
    unsigned long cpu0 = 1;
    long r0 = sys4(SYS_sched_setaffinity, 0, sizeof(cpu0), (long)&cpu0, 0);
    if (r0)
        fail("affinity", "sched_setaffinity returned", r0);

    /* getpid: a warm-up call, then N timed ones, each giving our pid. */
    long me = sys0(SYS_getpid);
    if (me <= 0)
        fail("getpid", "getpid returned", me);
    unsigned long t0 = rdtsc();
    for (unsigned long i = 0; i < ngp; i++) {
        long r = sys0(SYS_getpid);
        if (r != me)
            fail("getpid", "getpid returned", r);
    }
    unsigned long t1 = rdtsc();
    report("getpid", ngp, t1 - t0);

    /* fork + exec + exit + wait: one untimed round (busybox's pages cached), then N. */
    fork_exec_wait();
    t0 = rdtsc();
    for (unsigned long i = 0; i < nfk; i++)
        fork_exec_wait();
    t1 = rdtsc();
    report("fork_exec_wait", nfk, t1 - t0);
    sys4(SYS_exit, 0, 0, 0, 0);
}

/* The entry: the initial stack holds argc, argv[], envp[]; pass its address on, aligned. */
__attribute__((naked)) void _start(void)
{
    __asm__ volatile("mov %rsp, %rdi\n\t"
                     "and $-16, %rsp\n\t"
                     "call run\n\t"
                     "ud2");
}
