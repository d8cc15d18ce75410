/* start.c: minios's C start of day, from start_info to main(argc, argv) and exit(). */
#include <stdlib.h>
#include <string.h>
#include <minios/console.h>
#include <minios/startinfo.h>
#include "kernel.h"

start_info_t *minios_start_info;

/* Overridden by the strong definition that x86_64-minios-cc links in. */
__attribute__((weak)) const char minios_app_name[] = "minios";

/* cmd_line is at most MAX_GUEST_CMDLINE bytes, so is every word; a word
 * takes at least two bytes (itself and a separator). */
#define MAX_ARGS (MAX_GUEST_CMDLINE / 2 + 2)

static char cmdline[MAX_GUEST_CMDLINE + 1];
static char *argv[MAX_ARGS];

int main(int argc, char **argv);

/*
 * Constructors and destructors. This newlib is configured without
 * HAVE_INITFINI_ARRAY, so it has no __libc_init_array(): minios walks the
 * arrays that minios.ld collects itself.
 */
typedef void (*initfini_fn)(void);
extern initfini_fn __preinit_array_start[], __preinit_array_end[];
extern initfini_fn __init_array_start[], __init_array_end[];
extern initfini_fn __fini_array_start[], __fini_array_end[];

static void run_init_arrays(void)
{
    for (initfini_fn *f = __preinit_array_start; f < __preinit_array_end; f++)
        (*f)();
    for (initfini_fn *f = __init_array_start; f < __init_array_end; f++)
        (*f)();
}

static void run_fini_array(void)
{
    for (initfini_fn *f = __fini_array_end; f > __fini_array_start; f--)
        (*(f - 1))();
}

/*
 * argv[0] is minios_app_name; argv[1..] are the words of
 * start_info->cmd_line split on spaces and tabs. (Xen, and Keel, hand an
 * initial domain its boot module's string without the first word, the
 * image's path, so cmd_line holds just the arguments.)
 */
static int split_cmdline(const start_info_t *si)
{
    int argc = 0;
    char *p = cmdline;

    memcpy(cmdline, si->cmd_line, MAX_GUEST_CMDLINE);
    cmdline[MAX_GUEST_CMDLINE] = '\0';

    argv[argc++] = (char *)minios_app_name;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (*p == '\0' || argc == MAX_ARGS - 1)
            break;
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
    }
    argv[argc] = NULL;
    return argc;
}

void minios_start(start_info_t *si)
{
    int argc;

    minios_start_info = si;
    minios_mm_init(si);
    minios_traps_init();
    minios_events_init(si);
    minios_time_init();
    minios_threads_init();
    minios_console_init();
    minios_xenbus_init(si);
    argc = split_cmdline(si);
    run_init_arrays();
    atexit(run_fini_array);
    exit(main(argc, argv));
}
