/* netdemo: an appliance that uses what minios offers: xenstore (its name, a status node),
 * threads, and lwIP sockets: a TCP echo server thread and a client over loopback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/net.h>
#include <minios/thread.h>
#include <minios/xenbus.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define PORT 7

static void echo_server(void *arg)
{
    int ls = *(int *)arg;
    int c = accept(ls, NULL, NULL);
    if (c < 0) {
        printf("accept failed\n");
        return;
    }
    char buf[512];
    ssize_t n;
    while ((n = recv(c, buf, sizeof(buf), 0)) > 0)
        send(c, buf, (size_t)n, 0);
    close(c);
}

int main(void)
{
    char *name = NULL;
    if (minios_xenbus_available() && minios_xs_read(MINIOS_XBT_NIL, "name", &name, NULL) == 0)
        printf("netdemo: xenstore says my name is '%s'\n", name);
    else
        printf("netdemo: no xenstore\n");
    free(name);

    if (minios_net_init()) {
        printf("netdemo: lwIP did not start\n");
        return 1;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1)) {
        printf("netdemo: cannot listen\n");
        return 1;
    }
    minios_thread_create("echo", echo_server, &ls, 0);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) {
        printf("netdemo: cannot connect\n");
        return 1;
    }
    const char *msg = "hello over loopback";
    char back[64] = "";
    send(s, msg, strlen(msg), 0);
    size_t got = 0;
    while (got < strlen(msg)) {
        ssize_t n = recv(s, back + got, sizeof(back) - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(s);
    close(ls);
    printf("netdemo: echo server sent back '%s'\n", back);
    if (minios_xenbus_available())
        minios_xs_write(MINIOS_XBT_NIL, "data/status", "echo ok");
    return strcmp(back, msg) ? 1 : 0;
}
