/* shutdown.c: minios honours control/shutdown as a Xen PV guest does
 * (docs/agent.md, "Clean shutdown"): a toolstack writes "poweroff",
 * "halt" or "reboot" to /local/domain/<id>/control/shutdown; the guest
 * acknowledges by writing "" back and shuts down with that reason, its
 * output flushed.  Anything else written there is said on the console
 * and ignored.  Set up at start (an init_array entry, after the store
 * client) in every application that has a store, by a short-lived thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/sched.h>
#include <minios/console.h>
#include <minios/sched.h>
#include <minios/thread.h>
#include <minios/xenbus.h>

static void control_shutdown(const char *path, const char *token, void *data)
{
    (void)path, (void)token, (void)data;
    char *v = NULL;
    size_t len = 0;
    if (minios_xs_read(MINIOS_XBT_NIL, "control/shutdown", &v, &len) || !len) {
        free(v);
        return;
    }
    unsigned reason;
    if (!strcmp(v, "poweroff") || !strcmp(v, "halt")) {
        reason = SHUTDOWN_poweroff;
    } else if (!strcmp(v, "reboot")) {
        reason = SHUTDOWN_reboot;
    } else {
        minios_printk("minios: control/shutdown \"%.32s\" is not supported; ignored\n", v);
        free(v);
        return;
    }
    minios_printk("minios: control/shutdown asks for %s\n", v);
    free(v);
    /* The acknowledgement a toolstack waits for, as Linux gives it. */
    minios_xs_write(MINIOS_XBT_NIL, "control/shutdown", "");
    fflush(NULL);
    minios_shutdown(reason);
}

static void set_watch(void *arg)
{
    (void)arg;
    minios_xs_watch("control/shutdown", "minios-shutdown", control_shutdown, NULL);
}

/* In a thread of its own: a store that never answers (a test's fake
 * xenstore) must not hold up main(). */
__attribute__((constructor)) static void control_watch(void)
{
    if (minios_xenbus_available() && !minios_thread_create("control", set_watch, NULL, 16 << 10))
        minios_printk("minios: no memory for the control/shutdown watch\n");
}
