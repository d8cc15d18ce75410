/* Result bookkeeping for guest tests (see report.h). */
#include "report.h"
#include <stdarg.h>
#include <stdio.h>

enum result { RES_SUCCESS, RES_SKIP, RES_FAILURE, RES_ERROR };
static enum result worst = RES_SUCCESS;
static const char *const names[] = { "SUCCESS", "SKIP", "FAILURE", "ERROR" };

static void note(enum result r, const char *fmt, va_list ap)
{
    if (r > worst)
        worst = r;
    printf("%s: ", names[r]);
    vprintf(fmt, ap);
    printf("\n");
}

void test_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note(RES_FAILURE, fmt, ap);
    va_end(ap);
}

void test_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note(RES_ERROR, fmt, ap);
    va_end(ap);
}

void test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note(RES_SKIP, fmt, ap);
    va_end(ap);
}

int test_finish(void)
{
    printf("Test result: %s\n", names[worst]);
    fflush(stdout);
    return worst == RES_SUCCESS || worst == RES_SKIP ? 0 : 1;
}
