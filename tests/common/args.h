/* Guest helper: the value of key=value among a test domain's command-line
 * words (op=, peer=, seed= ...), or NULL. */
#ifndef KEEL_TEST_ARGS_H
#define KEEL_TEST_ARGS_H

#include <string.h>

static inline const char *test_arg(int argc, char **argv, const char *key)
{
    size_t n = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
            return argv[i] + n + 1;
    return NULL;
}

#endif
