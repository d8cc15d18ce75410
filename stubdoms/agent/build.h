/* build.h: VM.start's domain builder on minios (build.c). */
#ifndef KEEL_AGENT_BUILD_H
#define KEEL_AGENT_BUILD_H
#include <stdint.h>
#include <stddef.h>

/* The most memory a VM started by the agent may have (pages: 64 MiB). */
#define BUILD_MAX_PAGES 16384

struct build_cfg {
    const char *kernel;        /* an image embedded in the agent (images.S) */
    uint64_t mem_bytes;
    unsigned vcpus;
    const char *args;          /* its command line */
    uint8_t handle[16];        /* the VM's uuid */
    int paused;                /* leave it paused */
};

/* The embedded images' names, ", "-separated (for error messages). */
extern const char *build_image_names;
int build_image_known(const char *name);
/* Builds and starts the domain; 0 with *domid, or -1 with the reason. */
int build_start(const struct build_cfg *cfg, uint32_t *domid, char *err, size_t errlen);
#endif
