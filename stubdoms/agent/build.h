/* build.h: VM.start's domain builder on minios (build.c). */
#ifndef KEEL_AGENT_BUILD_H
#define KEEL_AGENT_BUILD_H
#include <stdint.h>
#include <stddef.h>

/* The most memory a VM started by the agent may have (pages: 64 MiB). */
#define BUILD_MAX_PAGES 16384

struct build_cfg {
    const char *kernel;        /* an image embedded in the agent (images.S),
                                * or an ELF file /var/kernels/NAME on its disk */
    uint64_t mem_bytes;
    unsigned vcpus;
    const char *args;          /* its command line */
    uint8_t handle[16];        /* the VM's uuid */
    int paused;                /* leave it paused */
    int store_domid;           /* the xenstore domain, offered the store
                                * ring and port; -1: none */
};

/* What build_start made. */
struct build_out {
    uint32_t domid;
    uint64_t store_mfn;        /* its store ring (with store_domid) */
    uint32_t store_port;       /* its end of the store channel */
    uint64_t console_mfn;      /* its console ring (with store_domid) */
    uint32_t console_port;     /* its end of the console channel */
};

/* The embedded images' names, ", "-separated (for error messages). */
extern const char *build_image_names;
int build_image_known(const char *name);
/* Whether name is a kernel path the agent takes from its disk:
 * BUILD_KERNEL_DIR then 1 to 40 of [A-Za-z0-9._-], not starting with a
 * dot (no "..", no other directory).  The file is read at VM.start. */
#define BUILD_KERNEL_DIR "/var/kernels/"
int build_kernel_path_ok(const char *name);
/* The largest kernel file VM.start reads. */
#define BUILD_KERNEL_FILE_MAX (16u << 20)
/* Builds and starts the domain; 0 with *out, or -1 with the reason. */
int build_start(const struct build_cfg *cfg, struct build_out *out, char *err, size_t errlen);
#endif
