/* Benchmark guest for the xenstore stub domain and the console ring, in guest TSC ticks
 * under -icount (one pCPU: the stub and this guest share it, so a figure includes both
 * domains' work and the switches between them):
 *   xs_read_tsc          XS_READ of a small node, request to reply
 *   xs_write_tsc         XS_WRITE of a small node
 *   xs_transaction_tsc   TRANSACTION_START, READ, WRITE, TRANSACTION_END
 *   console_bytes_per_ktick  lines through the console ring to the serial console */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/console.h>
#include <minios/xenbus.h>

#define ROUNDS 2000

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static int txn(minios_xbt_t t, void *arg)
{
    (void)arg;
    char *v;
    int rc = minios_xs_read(t, "data/b", &v, NULL);
    if (rc)
        return rc;
    free(v);
    return minios_xs_write(t, "data/b", "2");
}

int main(void)
{
    if (!minios_xenbus_available()) {
        printf("xs_bench: no xenstore\n");
        return 1;
    }
    char *v;
    minios_xs_write(MINIOS_XBT_NIL, "data/b", "1");
    for (int i = 0; i < 100; i++) {          /* warm up */
        minios_xs_read(MINIOS_XBT_NIL, "data/b", &v, NULL);
        free(v);
    }
    uint64_t t0 = rdtsc();
    for (int i = 0; i < ROUNDS; i++) {
        if (minios_xs_read(MINIOS_XBT_NIL, "data/b", &v, NULL))
            return 1;
        free(v);
    }
    uint64_t t1 = rdtsc();
    for (int i = 0; i < ROUNDS; i++)
        if (minios_xs_write(MINIOS_XBT_NIL, "data/b", "1"))
            return 1;
    uint64_t t2 = rdtsc();
    for (int i = 0; i < ROUNDS / 4; i++)
        if (minios_xs_transaction_run(txn, NULL, 0))
            return 1;
    uint64_t t3 = rdtsc();

    /* The console: 2,000 lines of 64 bytes, then until the backend took all. */
    minios_console_flush(2000000000ULL);
    char line[65];
    memset(line, 'x', 63);
    line[63] = '\n';
    line[64] = 0;
    uint64_t c0 = rdtsc();
    for (int i = 0; i < 2000; i++)
        fputs(line, stdout);
    fflush(stdout);
    int flushed = minios_console_flush(20000000000ULL);
    uint64_t c1 = rdtsc();

    printf("bench: xs_read_tsc=%lu xs_write_tsc=%lu xs_transaction_tsc=%lu\n",
           (unsigned long)((t1 - t0) / ROUNDS), (unsigned long)((t2 - t1) / ROUNDS),
           (unsigned long)((t3 - t2) / (ROUNDS / 4)));
    printf("bench: console_bytes_per_ktick=%.1f console_ring=%s\n",
           2000.0 * 64 * 1000 / (double)(c1 - c0),
           minios_console_uses_ring() && flushed == 0 ? "yes" : "no");
    return 0;
}
