/* Host benchmark of the image drivers: sequential and random 4 KiB reads
 * and writes through each driver on a file, printed as one JSON object. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <keel/image.h>
#include "io_host.h"

#define BS 4096u
#define SPAN (64u << 20)                /* bytes touched by each test */
#define NRAND 8192u

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct img *open_rw(const char *path, const char *fmt)
{
    struct img_io *io;
    struct img *img;
    char err[IMG_ERR_LEN];
    if (img_io_file_open(path, true, &io) < 0 || img_open(io, fmt, IMG_OPEN_RDWR, NULL, &img, err) < 0) {
        fprintf(stderr, "bench: cannot open %s: %s\n", path, err);
        exit(1);
    }
    return img;
}

/* MB/s of one pattern: seq or random, read or write. */
static double run(struct img *img, bool write, bool random, uint8_t *buf)
{
    unsigned n = random ? NRAND : SPAN / BS;
    uint32_t x = 12345;
    double t0 = now();
    for (unsigned i = 0; i < n; i++) {
        uint64_t off = (uint64_t)i * BS;
        if (random) {
            x = x * 1664525u + 1013904223u;
            off = (uint64_t)(x % (SPAN / BS)) * BS;
        }
        buf[0] = (uint8_t)i;
        int r = write ? img_write(img, off, buf, BS) : img_read(img, off, buf, BS);
        if (r < 0) {
            fprintf(stderr, "bench: I/O error %d\n", r);
            exit(1);
        }
    }
    if (write)
        img_flush(img);
    double dt = now() - t0;
    return (double)n * BS / dt / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench DIR FMT...\n");
        return 2;
    }
    const char *dir = argv[1];
    uint8_t *buf = malloc(BS);
    memset(buf, 0x5a, BS);
    printf("{");
    for (int a = 2; a < argc; a++) {
        const char *fmt = argv[a];
        char path[512], err[IMG_ERR_LEN];
        if (!img_find_driver(fmt))
            continue;
        snprintf(path, sizeof path, "%s/bench.%s", dir, fmt);
        struct img_io *io;
        struct img_create_opts o = { .size = 256u << 20 };
        if (img_io_file_create(path, &io) < 0 || img_create(io, fmt, &o, err) < 0) {
            fprintf(stderr, "bench: cannot create %s: %s\n", path, err);
            return 1;
        }
        io->ops->close(io);
        struct img *img = open_rw(path, fmt);
        double sw = run(img, true, false, buf);      /* allocating writes */
        double sr = run(img, false, false, buf);
        double rw = run(img, true, true, buf);       /* overwrites */
        double rr = run(img, false, true, buf);
        img_close(img);
        unlink(path);
        printf("%s\"%s\": {\"seq_write_MBps\": %.1f, \"seq_read_MBps\": %.1f, "
               "\"rand_write_MBps\": %.1f, \"rand_read_MBps\": %.1f}",
               a > 2 ? ", " : "", fmt, sw, sr, rw, rr);
    }
    printf("}\n");
    free(buf);
    return 0;
}
