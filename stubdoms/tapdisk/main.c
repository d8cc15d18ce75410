/* main.c: the tapdisk stub domain: owns the disk holding the image store and serves every guest disk that a backend directory under its home names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/store.h>
#include <keel/store_fs.h>
#include <minios/blk.h>
#include <minios/events.h>
#include <minios/thread.h>
#include <minios/xenbus.h>
#include <xen/io/xenbus.h>

#include "blkback.h"
#include "vbd.h"

/*
 * Command line (docs/boot-config.md, docs/disk.md):
 *   tapdisk.elf name=tapdisk role=hardware pci=BB:DD.F [exit=idle]
 * The store is the first virtio-blk device among pci=.  Every directory
 * /local/domain/<us>/backend/vbd/<frontend-id>/<device> in state
 * Initialising (1) is served by its own thread (vbd.c) until the
 * frontend closes, fails or goes.  exit=idle: once at least one disk was
 * served and none is left, close the store and power off (for tests).
 * selftest=crash-after-writes=N: abort after carrying out the N-th write
 * request of this life, before answering it (test disk-restart).
 */
#define MAX_VBDS 64

static struct store *store;
static char home[64];
static bool exit_idle;
static struct {
    char path[128];
    bool active;
} vbds[MAX_VBDS];
static unsigned active, served;

static void serve_vbd(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    struct vbd *v;
    char err[VBD_ERRLEN];
    int rc = vbd_connect(vbds[i].path, store, &v, err);
    if (rc) {
        printf("tapdisk: %s: %s (%d)\n", vbds[i].path, err, rc);
    } else {
        printf("tapdisk: %s: connected\n", vbds[i].path);
        int fs;
        while ((fs = vbd_frontend_state(v)) >= 0 && fs < XenbusStateClosing)
            minios_thread_sleep_ns(10000000);
        vbd_close(v);
        printf("tapdisk: %s: closed (frontend state %d)\n", vbds[i].path, fs);
    }
    served++;
    active--;
    minios_thread_exit();
}

/* Starts a thread for each backend directory in state 1 not served yet. */
static void scan(void)
{
    char dir[96], **fes, **devs;
    unsigned nfe, ndev;
    snprintf(dir, sizeof(dir), "%s/backend/vbd", home);
    if (minios_xs_directory(MINIOS_XBT_NIL, dir, &fes, &nfe))
        return;
    for (unsigned a = 0; a < nfe; a++) {
        char fdir[128];
        snprintf(fdir, sizeof(fdir), "%s/%s", dir, fes[a]);
        if (minios_xs_directory(MINIOS_XBT_NIL, fdir, &devs, &ndev))
            continue;
        for (unsigned b = 0; b < ndev; b++) {
            char path[128], sp[160], *st;
            size_t n;
            if ((size_t)snprintf(path, sizeof(path), "%s/%s", fdir, devs[b]) >= sizeof(path))
                continue;
            snprintf(sp, sizeof(sp), "%s/state", path);
            if (minios_xs_read(MINIOS_XBT_NIL, sp, &st, &n))
                continue;
            bool init = n == 1 && st[0] == '1';
            free(st);
            if (!init)
                continue;
            unsigned i, fr = MAX_VBDS;
            for (i = 0; i < MAX_VBDS; i++) {
                if (vbds[i].active && !strcmp(vbds[i].path, path))
                    break;
                if (!vbds[i].active && fr == MAX_VBDS)
                    fr = i;
            }
            if (i < MAX_VBDS)
                continue;           /* being served */
            if (fr == MAX_VBDS) {
                printf("tapdisk: %s: more than %u disks, not served\n", path, MAX_VBDS);
                continue;
            }
            snprintf(vbds[fr].path, sizeof(vbds[fr].path), "%s", path);
            vbds[fr].active = true;
            active++;
            if (!minios_thread_create("vbd", serve_vbd, (void *)(uintptr_t)fr, 64 << 10)) {
                vbds[fr].active = false;
                active--;
            }
        }
        free(devs);
    }
    free(fes);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "exit=idle"))
            exit_idle = true;
        else if (!strcmp(argv[i], "persistent=0"))
            vbd_offer_persistent = false;
        else if (!strncmp(argv[i], "selftest=crash-after-writes=", 28)) {
            char *end;
            unsigned long n = strtoul(argv[i] + 28, &end, 10);
            if (end == argv[i] + 28 || *end || !n)
                printf("tapdisk: %s: not a positive number: ignored\n", argv[i]);
            else
                blkback_selftest_crash_after_writes(n);
        }
    }
    uint16_t bdf;
    struct minios_blk *dev;
    char err[STORE_ERRLEN];
    if (minios_blk_find(&bdf) || minios_blk_open(bdf, &dev)) {
        printf("tapdisk: no virtio-blk device among pci=: nothing to serve from\n");
        return 1;
    }
    int rc = store_open(dev, true, &store, err);
    if (rc) {
        printf("tapdisk: store on %02x:%02x.%x: %s (%d)\n", bdf >> 8, (bdf >> 3) & 31, bdf & 7,
               err, rc);
        return 1;
    }
    /* Debian 12's libext2fs (1.47.0) cannot free a range that ends at the
     * filesystem's last block (EIO: docs/diskfs.md): a growing image
     * file never gets it, so truncating or deleting one always works. */
    store_keep_last_block(store);
    printf("tapdisk: store on %02x:%02x.%x: %llu MiB\n", bdf >> 8, (bdf >> 3) & 31, bdf & 7,
           (unsigned long long)(minios_blk_sectors(dev) >> 11));
    snprintf(home, sizeof(home), "/local/domain/%u", minios_domid());
    /* New backend directories are found by a scan every 20 ms (a watch
     * on backend/vbd would do it without polling: not yet). */
    for (;;) {
        scan();
        if (exit_idle && served && !active)
            break;
        minios_thread_sleep_ns(20000000);
    }
    rc = store_close(store, err);
    if (rc) {
        printf("tapdisk: closing the store: %s (%d)\n", err, rc);
        return 1;
    }
    printf("tapdisk: every disk closed (exit=idle): store closed\n");
    return 0;
}
