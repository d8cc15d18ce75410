/* selftest.h: kv's client self test over loopback (selftest=1). */
#ifndef KEEL_KV_SELFTEST_H
#define KEEL_KV_SELFTEST_H
#include <stdint.h>
#include "kv.h"
/* Runs every check against the server on 127.0.0.1:port (whose store is
 * s, empty); failures go to tests/common/report.c. */
void kv_selftest(uint16_t port, struct kv_store *s);
/* From main.c: the most connections served at once, and the bound. */
unsigned kv_active_peak(void);
unsigned kv_maxconn(void);
#endif
