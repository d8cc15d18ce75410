/* Guest test: console_io is bounded and rate-limited for a domain without
 * a role.  op=flood writes 1 MiB as fast as it can; op=quiet prints a few
 * lines that must all arrive while the flood is dropped. */
#include <minios/hypercall.h>
#include <stdio.h>
#include <string.h>
#include "report.h"

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[2], "op=flood")) {
        static char buf[4096];
        int n = 0;
        for (unsigned i = 0; n + 32 < (int)sizeof(buf); i++)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "flood line %05u\n", i);
        for (int i = 0; i < 256; i++) {
            long rc = HYPERVISOR_console_io(CONSOLEIO_write, n, buf);
            if (rc != 0)
                test_fail("console_io write returned %ld", rc);
        }
        return test_finish();
    }
    for (int r = 0; r < 5; r++) {
        for (volatile unsigned long i = 0; i < 2000000UL; i++)
            ;
        printf("quiet line %d\n", r);
    }
    return test_finish();
}
