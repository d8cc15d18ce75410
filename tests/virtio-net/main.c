/* Guest test: lwIP over minios's virtio-net driver (minios/lwip/vnetif.c,
 * minios/drivers/virtio_net.c).  minios_net_init() finds the NIC (pci=),
 * gets an address by DHCP from QEMU's user network (10.0.2.15) and the
 * appliance serves TCP port 80, which run.sh reaches through a host port
 * forward: the first connection is an echo (everything read is written
 * back until the client shuts its side), the second receives 256 KiB of
 * a pattern the host checks and acknowledges with one byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <minios/virtio_net.h>
#include "report.h"

static uint8_t buf[16384];

static int serve_echo(int c)
{
    long total = 0;
    for (;;) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(c, buf + off, (size_t)(n - off), 0);
            if (w <= 0)
                return -1;
            off += w;
        }
        total += n;
    }
    printf("echoed %ld bytes\n", total);
    return 0;
}

static int serve_pattern(int c)
{
    const long total = 256 * 1024;
    for (long off = 0; off < total;) {
        size_t n = sizeof(buf);
        if ((long)n > total - off)
            n = (size_t)(total - off);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)((off + (long)i) * 7 + ((off + (long)i) >> 8));
        for (size_t done = 0; done < n;) {
            ssize_t w = send(c, buf + done, n - done, 0);
            if (w <= 0)
                return -1;
            done += (size_t)w;
        }
        off += (long)n;
    }
    /* Half-close, then wait for the host's one-byte receipt: QEMU's user
     * network acknowledges data before the host has read it, and the
     * machine ends when this domain does. */
    shutdown(c, SHUT_WR);
    char ack;
    if (recv(c, &ack, 1, 0) != 1 || ack != 'k')
        return -1;
    printf("sent %ld bytes of the pattern, receipt taken\n", total);
    return 0;
}

int main(void)
{
    int rc = minios_net_init();
    if (rc) {
        test_fail("minios_net_init: %d", rc);
        return test_finish();
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 4)) {
        test_fail("socket/bind/listen");
        return test_finish();
    }
    printf("listening on port 80\n");
    for (int i = 0; i < 2; i++) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            test_fail("accept");
            break;
        }
        if ((i == 0 ? serve_echo(c) : serve_pattern(c)) != 0)
            test_fail("connection %d broke", i + 1);
        close(c);
    }
    close(s);
    printf("served 2 connections\n");
    return test_finish();
}
