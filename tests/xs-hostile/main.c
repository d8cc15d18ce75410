/* Guest test: hostile store rings against the real xenstore stub domain. Every domain
 * drives its store ring by hand (no minios client):
 *   op=toolong   a request header whose len exceeds XENSTORE_PAYLOAD_MAX: the stub stops
 *                serving this domain and says why in the ring (XENSTORE_ERROR_PROTO)
 *   op=badidx    request indices that claim more than the ring holds (XENSTORE_ERROR_RINGIDX)
 *   op=garbage   well-framed nonsense: an unknown type, a read without its NUL, a path full
 *                of junk: each gets an XS_ERROR reply, and the ring stays in service
 *   op=good      reads its own name, before and after the others did their worst */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include <xen/io/xs_wire.h>
#include "report.h"

#define MS 1000000ULL

/* This test drives the store ring itself. */
const int minios_store_client = 0;

static struct xenstore_domain_interface *ring;
static evtchn_port_t port;
static uint32_t next_id = 1;

static void put(const void *p, size_t n)
{
    const char *c = p;
    for (size_t i = 0; i < n; i++)
        ring->req[MASK_XENSTORE_IDX(ring->req_prod + i)] = c[i];
    __atomic_store_n(&ring->req_prod, ring->req_prod + (uint32_t)n, __ATOMIC_RELEASE);
}

static void send(uint32_t type, const void *body, uint32_t len)
{
    struct xsd_sockmsg h = { .type = type, .req_id = next_id++, .len = len };
    put(&h, sizeof(h));
    put(body, len);
    minios_evtchn_send(port);
}

/* Waits (bounded) for one whole reply; its type, and body into buf. */
static int reply(char *buf, size_t cap, uint32_t *type)
{
    struct xsd_sockmsg h;
    for (int i = 0; i < 500; i++) {
        uint32_t avail = __atomic_load_n(&ring->rsp_prod, __ATOMIC_ACQUIRE) - ring->rsp_cons;
        if (avail >= sizeof(h)) {
            for (size_t k = 0; k < sizeof(h); k++)
                ((char *)&h)[k] = ring->rsp[MASK_XENSTORE_IDX(ring->rsp_cons + k)];
            if (avail >= sizeof(h) + h.len) {
                for (size_t k = 0; k < h.len && k < cap - 1; k++)
                    buf[k] = ring->rsp[MASK_XENSTORE_IDX(ring->rsp_cons + sizeof(h) + k)];
                buf[h.len < cap - 1 ? h.len : cap - 1] = 0;
                __atomic_store_n(&ring->rsp_cons, ring->rsp_cons + sizeof(h) + h.len,
                                 __ATOMIC_RELEASE);
                minios_evtchn_send(port);
                *type = h.type;
                return 0;
            }
        }
        minios_sleep_ns(10 * MS);
    }
    return -1;
}

static void read_name(const char *want)
{
    char buf[64];
    uint32_t type;
    send(XS_READ, "name", 5);
    if (reply(buf, sizeof(buf), &type))
        test_fail("no reply to XS_READ name");
    else if (type != XS_READ || strcmp(buf, want))
        test_fail("XS_READ name: type %u '%s'", type, buf);
}

static int wait_error(uint32_t want)
{
    for (int i = 0; i < 500; i++) {
        if (__atomic_load_n(&ring->error, __ATOMIC_ACQUIRE) == want)
            return 0;
        minios_sleep_ns(10 * MS);
    }
    test_fail("ring error %u, expected %u", ring->error, want);
    return -1;
}

int main(int argc, char **argv)
{
    const char *op = "", *name = "";
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
        else if (!strncmp(argv[i], "name=", 5))
            name = argv[i] + 5;
    }
    const start_info_t *si = minios_start_info;
    if (!si->store_evtchn) {
        test_fail("no store");
        return test_finish();
    }
    ring = (struct xenstore_domain_interface *)(machine_to_phys_mapping[si->store_mfn] << 12);
    port = si->store_evtchn;

    if (!strcmp(op, "good")) {
        read_name(name);
        minios_sleep_ns(1000 * MS);          /* the others have done their worst */
        read_name(name);
        printf("good: served before and after\n");
    } else if (!strcmp(op, "toolong")) {
        read_name(name);
        struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 99, .len = XENSTORE_PAYLOAD_MAX + 1 };
        put(&h, sizeof(h));
        minios_evtchn_send(port);
        if (wait_error(XENSTORE_ERROR_PROTO) == 0)
            printf("toolong: refused (XENSTORE_ERROR_PROTO)\n");
    } else if (!strcmp(op, "badidx")) {
        read_name(name);
        __atomic_store_n(&ring->req_prod, ring->req_cons + 5000, __ATOMIC_RELEASE);
        minios_evtchn_send(port);
        if (wait_error(XENSTORE_ERROR_RINGIDX) == 0)
            printf("badidx: refused (XENSTORE_ERROR_RINGIDX)\n");
    } else if (!strcmp(op, "garbage")) {
        char buf[64];
        uint32_t type;
        send(12345, "x", 1);                                 /* unknown type */
        CHECK_EQ(reply(buf, sizeof(buf), &type), 0);
        CHECK_EQ(type, XS_ERROR);
        send(XS_READ, "name", 4);                            /* no NUL */
        CHECK_EQ(reply(buf, sizeof(buf), &type), 0);
        CHECK_EQ(type, XS_ERROR);
        send(XS_READ, "/a\x01\x7f//b", 9);                   /* junk path */
        CHECK_EQ(reply(buf, sizeof(buf), &type), 0);
        CHECK_EQ(type, XS_ERROR);
        if (strcmp(buf, "EINVAL"))
            test_fail("junk path: %s", buf);
        send(XS_TRANSACTION_END, "T", 2);                    /* no transaction */
        CHECK_EQ(reply(buf, sizeof(buf), &type), 0);
        CHECK_EQ(type, XS_ERROR);
        read_name(name);                                     /* still served */
        CHECK_EQ(ring->error, XENSTORE_ERROR_NONE);
        printf("garbage: every bad request answered with XS_ERROR\n");
    } else {
        test_error("no op= given");
    }
    return test_finish();
}
