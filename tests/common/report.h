/* XTF-style result reporting for guest tests: the worst outcome wins and
 * exactly one "Test result:" line is printed at the end. */
#ifndef KEEL_TEST_REPORT_H
#define KEEL_TEST_REPORT_H

void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the result line; returns the exit status for main(). */
int test_finish(void);

/* Checks that an expression equals the expected value, else fails. */
#define CHECK_EQ(expr, want) do {                                        \
        long _got = (long)(expr), _want = (long)(want);                  \
        if (_got != _want)                                               \
            test_fail("%s:%d: %s = %ld, expected %ld", __FILE__,         \
                      __LINE__, #expr, _got, _want);                     \
    } while (0)

#endif
