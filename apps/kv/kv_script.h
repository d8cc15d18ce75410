/* kv_script.h: request/reply pairs that both the host unit test
 * (test_kv.c, straight into the core) and the guest self test (selftest.c,
 * over lwIP sockets) play on one fresh connection to an empty store. */
#ifndef KEEL_KV_SCRIPT_H
#define KEEL_KV_SCRIPT_H
#include <stddef.h>
struct kv_case {
    const char *req;          /* bytes the client sends */
    const char *want;         /* bytes it must get back, exactly */
};
extern const struct kv_case kv_script[];
extern const size_t kv_script_len;
#endif
