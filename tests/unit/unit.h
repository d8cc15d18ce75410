/* Minimal assertions for host unit tests. */
#ifndef KEEL_UNIT_H
#define KEEL_UNIT_H
#include <stdio.h>
#include <stdlib.h>

static int unit_failures;
#define EXPECT(c) do {                                                     \
        if (!(c)) {                                                        \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #c); \
            unit_failures++;                                               \
        }                                                                  \
    } while (0)
#define UNIT_DONE() do {                                                   \
        printf("%s: %s\n", __FILE__, unit_failures ? "FAILED" : "ok");     \
        return unit_failures ? 1 : 0;                                      \
    } while (0)
#endif
