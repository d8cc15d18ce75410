/* selftest.h: httpd's client self test over loopback (selftest=1). */
#ifndef KEEL_HTTPD_SELFTEST_H
#define KEEL_HTTPD_SELFTEST_H
#include <stdint.h>
/* Runs every check against the server on 127.0.0.1:port; failures go to
 * tests/common/report.c. */
void httpd_selftest(uint16_t port);
/* From main.c: the most connections served at once, and the bound. */
unsigned httpd_active_peak(void);
unsigned httpd_maxconn(void);
#endif
