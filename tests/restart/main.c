/* restart: boot domains with restart= (docs/boot-config.md) come back
 * after they die, with the same id, and the xenstore domain introduces
 * each new life again.
 *   op=life    read our name and domid from the store (proving this life
 *              was introduced), print them and the life's store port, then
 *              end as end= says: crash (abort) or poweroff.
 *   op=witness watch @introduceDomain and count the fires until want=N
 *              more than the first have come (each restarted life is one),
 *              checking on each that the restarted domains' name nodes
 *              are back; report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/xenbus.h>
#include <minios/startinfo.h>
#include <minios/sched.h>
#include <minios/thread.h>
#include <minios/time.h>
#include "report.h"

static const char *arg(int argc, char **argv, const char *key)
{
    size_t n = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
            return argv[i] + n + 1;
    return NULL;
}

static int life(const char *end)
{
    char *name = NULL, *domid = NULL, *path = NULL;
    if (!minios_xenbus_available()) {
        printf("no xenstore connection\n");
        abort();
    }
    if (minios_xs_read(MINIOS_XBT_NIL, "name", &name, NULL) ||
        minios_xs_read(MINIOS_XBT_NIL, "domid", &domid, NULL) ||
        minios_xs_get_domain_path((unsigned)atoi(domid), &path)) {
        printf("cannot read my nodes\n");
        abort();
    }
    printf("life: name=%s domid=%s path=%s store port %u\n", name, domid, path,
           minios_start_info->store_evtchn);
    if (!strcmp(end, "crash"))
        abort();
    return 0;
}

static volatile unsigned fires;
static struct minios_waitq wq = MINIOS_WAITQ_INIT;

static void on_intro(const char *path, const char *token, void *data)
{
    (void)path, (void)token, (void)data;
    fires++;
    minios_waitq_wake_all(&wq);
}

static int witness(unsigned want, const char *names)
{
    if (minios_xs_watch("@introduceDomain", "w", on_intro, NULL)) {
        test_error("cannot watch @introduceDomain");
        return test_finish();
    }
    uint64_t end = minios_monotonic_ns() + 120000000000ull;
    while (fires < want + 1 && minios_monotonic_ns() < end)
        minios_waitq_wait(&wq, end);
    if (fires < want + 1)
        test_fail("@introduceDomain fired %u times after the first, expected %u", fires - 1,
                  want);
    else
        printf("@introduceDomain fired %u times after the first\n", fires - 1);
    /* The restarted domains' directories were written again each time:
     * "ids" lists "id:name" pairs whose name node must read back (while
     * the domain lives) or be absent (once it is gone for good). */
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", names ? names : "");
    for (char *save, *w = strtok_r(buf, "+", &save); w; w = strtok_r(NULL, "+", &save)) {
        char *colon = strchr(w, ':');
        if (!colon)
            continue;
        *colon = 0;
        char path[64], *v = NULL;
        snprintf(path, sizeof(path), "/local/domain/%s/name", w);
        int rc = minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL);
        if (rc == 0 && strcmp(v, colon + 1))
            test_fail("%s reads '%s', expected '%s'", path, v, colon + 1);
        printf("%s: %s\n", path, rc ? "gone" : v);
        free(v);
    }
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = arg(argc, argv, "op");
    if (op && !strcmp(op, "life"))
        return life(arg(argc, argv, "end") ? arg(argc, argv, "end") : "crash");
    if (op && !strcmp(op, "witness")) {
        const char *want = arg(argc, argv, "want");
        return witness(want ? (unsigned)atoi(want) : 1, arg(argc, argv, "ids"));
    }
    test_error("op= life or witness");
    return test_finish();
}
