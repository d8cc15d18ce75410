/* Guest test: the frame-level API of minios's virtio-net driver
 * (<minios/virtio_net.h>), without lwIP.  op=frames: the domain's NIC on
 * QEMU's user network is opened by BDF; an ARP request for the gateway
 * 10.0.2.2, sent as a raw frame in three pieces, is answered, and the
 * reply arrives through the receive callback, byte-checked.  Refused
 * with -EINVAL: frames shorter than 14 or longer than 1518 bytes (whole
 * or in pieces), a piece without data; a second open -EBUSY.  Without a
 * callback frames are dropped and counted.  minios_net_init() then
 * leaves the NIC to the application.  op=badip: minios_net_init() with a
 * malformed ip= is refused (-EINVAL). */
#include <stdio.h>
#include <string.h>
#include <minios/net.h>
#include <minios/pci.h>
#include <minios/time.h>
#include <minios/virtio_net.h>
#include "report.h"
#include "args.h"

#define CHECK(cond) do {                                                 \
        if (!(cond))                                                     \
            test_fail("%s:%d: %s", __FILE__, __LINE__, #cond);          \
    } while (0)

static const uint8_t gw_ip[4] = { 10, 0, 2, 2 }, my_ip[4] = { 10, 0, 2, 15 };
static uint8_t reply[64];
static volatile int got_reply;
static volatile unsigned frames_seen;

static void rx(void *arg, const void *frame, size_t len)
{
    (void)arg;
    const uint8_t *f = frame;
    frames_seen++;
    /* ARP (0x0806), reply (2), from 10.0.2.2, for us. */
    if (len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[20] == 0 && f[21] == 2 &&
        !memcmp(f + 28, gw_ip, 4) && !memcmp(f + 38, my_ip, 4) && !got_reply) {
        memcpy(reply, f, 42);
        got_reply = 1;
    }
}

static void op_frames(int argc, char **argv)
{
    uint16_t bdf, found;
    const char *s = test_arg(argc, argv, "nic");
    if (!s || minios_pci_parse_bdf(s, &bdf)) {
        test_error("needs nic=BB:DD.F");
        return;
    }
    CHECK_EQ(minios_vnet_find(&found), 0);
    CHECK_EQ(found, bdf);
    struct minios_vnet *n, *again;
    int rc = minios_vnet_open(bdf, &n);
    if (rc) {
        test_fail("open: %d", rc);
        return;
    }
    CHECK_EQ(minios_vnet_open(bdf, &again), -XEN_EBUSY);
    uint8_t mac[6];
    minios_vnet_mac(n, mac);
    CHECK_EQ(mac[0] & 1, 0);                              /* unicast */

    uint8_t f[MINIOS_VNET_MAX_FRAME + 1];
    memset(f, 0, sizeof(f));
    CHECK_EQ(minios_vnet_send(n, f, 13), -XEN_EINVAL);
    CHECK_EQ(minios_vnet_send(n, f, MINIOS_VNET_MAX_FRAME + 1), -XEN_EINVAL);

    /* ARP who-has 10.0.2.2, padded to the 60-byte minimum. */
    memset(f, 0xff, 6);
    memcpy(f + 6, mac, 6);
    f[12] = 0x08, f[13] = 0x06;
    const uint8_t arp[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };
    memcpy(f + 14, arp, 8);
    memcpy(f + 22, mac, 6);
    memcpy(f + 28, my_ip, 4);
    memset(f + 32, 0, 6);
    memcpy(f + 38, gw_ip, 4);
    memset(f + 42, 0, 18);

    /* Without a callback frames are dropped, and counted. */
    struct minios_vnet_stats st;
    uint64_t end = minios_monotonic_ns() + 10000000000ull;
    do {
        CHECK_EQ(minios_vnet_send(n, f, 60), 0);
        minios_sleep_ns(100000000);
        minios_vnet_stats(n, &st);
    } while (st.rx_dropped == 0 && minios_monotonic_ns() < end);
    CHECK(st.rx_dropped >= 1 && st.rx_frames >= 1);
    CHECK_EQ(got_reply, 0);

    /* Frames in pieces: the same checks on the total. */
    struct minios_vnet_part parts[3] = { { f, 14 }, { f + 14, 28 }, { f + 42, 18 } };
    struct minios_vnet_part nulldata[2] = { { f, 14 }, { NULL, 46 } };
    struct minios_vnet_part big[2] = { { f, 1000 }, { f, 519 } };
    struct minios_vnet_part small[2] = { { f, 6 }, { f, 7 } };
    CHECK_EQ(minios_vnet_sendv(n, nulldata, 2), -XEN_EINVAL);
    CHECK_EQ(minios_vnet_sendv(n, big, 2), -XEN_EINVAL);
    CHECK_EQ(minios_vnet_sendv(n, small, 2), -XEN_EINVAL);
    CHECK_EQ(minios_vnet_sendv(n, parts, 0), -XEN_EINVAL);

    minios_vnet_set_rx(n, rx, NULL);
    end = minios_monotonic_ns() + 10000000000ull;
    while (!got_reply && minios_monotonic_ns() < end) {
        CHECK_EQ(minios_vnet_sendv(n, parts, 3), 0);
        minios_sleep_ns(100000000);
    }
    if (!got_reply) {
        test_fail("no ARP reply from 10.0.2.2 (%u frames seen)", frames_seen);
        return;
    }
    CHECK(!memcmp(reply, mac, 6));                        /* to us */
    CHECK(!memcmp(reply + 32, mac, 6));                   /* target hardware address */
    minios_vnet_stats(n, &st);
    printf("ARP reply from 10.0.2.2: %02x:%02x:%02x:%02x:%02x:%02x; %llu frames sent, "
           "%llu received\n", reply[22], reply[23], reply[24], reply[25], reply[26], reply[27],
           (unsigned long long)st.tx_frames, (unsigned long long)st.rx_frames);
    CHECK(st.tx_frames >= 2 && st.interrupts >= 1);
    /* lwIP leaves a NIC the application holds alone. */
    CHECK_EQ(minios_net_init(), 0);
}

static void op_badip(void)
{
    CHECK_EQ(minios_net_init(), -XEN_EINVAL);
    printf("malformed ip= refused\n");
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op");
    if (op && !strcmp(op, "frames"))
        op_frames(argc, argv);
    else if (op && !strcmp(op, "badip"))
        op_badip();
    else
        test_error("op=frames|badip");
    return test_finish();
}
