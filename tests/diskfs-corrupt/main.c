/* Guest test: corrupt ext4 disks under diskfs: each mount is refused with a reason naming what is wrong, and the appliance carries on. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <keel/diskfs.h>

#include "report.h"

/*
 * Boot line (run.sh makes the images with mkfs.ext4 -d, then damages them):
 *   xvda  /images/magic.img   the superblock's magic overwritten
 *   xvdb  /images/inode.img   the inode table block holding the root
 *                             directory's inode overwritten
 *   xvdc  /images/trunc.img   the image cut to half its size
 *   xvdd  /images/good.img    intact, except the inode of /bad.txt
 *                             (its inode table bytes overwritten)
 * Each of xvda..xvdc must be refused with the reason its damage gives,
 * nothing mounted afterwards; xvdd mounts, /bad.txt is EIO and /ok.txt
 * reads back whole.
 * With part=journal (a second domain; at most 4 disks each):
 *   xvda  /images/jr.img     intact, with a transaction debugfs left in
 *                             its journal (needs recovery): it logs the
 *                             block of /j.txt with new contents
 *   xvdb  /images/jro.img    the same, attached read-only (:ro)
 * xvda mounted read-only is replayed first (as Linux's read-only mount
 * does) and /j.txt holds the logged contents; xvdb cannot be replayed
 * and is refused (-EROFS), as Linux refuses it.
 */
struct bad {
    const char *node, *what, *want;
};

static const struct bad bads[] = {
    { "device/vbd/51712", "xvda (superblock magic overwritten)", "bad superblock magic 0x0000" },
    { "device/vbd/51728", "xvdb (root directory's inode table block overwritten)",
      "the root directory's inode (inode 2, in inode table block" },
    { "device/vbd/51744", "xvdc (image cut to half its size)", "truncated: the superblock counts" },
};

/* part=journal: a journal to replay, read-only. */
static int journal_part(void)
{
    char err[DISKFS_ERRLEN], buf[64];
    int fd, rc = diskfs_mount("device/vbd/51712", false, "/disk", err);
    if (rc) {
        test_fail("xvda: read-only mount: %d: %s", rc, err);
    } else {
        memset(buf, 0, sizeof(buf));
        fd = open("/disk/j.txt", O_RDONLY);
        CHECK_EQ(fd >= 0, 1);
        if (fd >= 0) {
            CHECK_EQ(read(fd, buf, sizeof(buf) - 1), 28);
            close(fd);
        }
        if (strcmp(buf, "after the journal's replay!\n"))
            test_fail("xvda: /disk/j.txt: \"%s\", not the logged contents", buf);
        else
            printf("xvda: mounted read-only after its journal's replay: /disk/j.txt holds the logged contents\n");
        CHECK_EQ(diskfs_umount(err), 0);
    }
    err[0] = 0;
    rc = diskfs_mount("device/vbd/51728", false, "/disk", err);
    if (rc == 0) {
        test_fail("xvdb: a read-only disk whose journal needs replaying mounted");
        diskfs_umount(NULL);
    } else {
        printf("xvdb (read-only, its journal needs recovery): mount refused: %d: %s\n", rc, err);
        CHECK_EQ(rc, -EROFS);
    }
    return test_finish();
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "part=journal"))
            return journal_part();
    char err[DISKFS_ERRLEN];
    struct stat st;
    for (unsigned i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        err[0] = 0;
        int rc = diskfs_mount(bads[i].node, true, "/disk", err);
        if (rc == 0) {
            test_fail("%s: mounted", bads[i].what);
            diskfs_umount(NULL);
            continue;
        }
        printf("%s: mount refused: %d: %s\n", bads[i].what, rc, err);
        if (!strstr(err, bads[i].want))
            test_fail("%s: the reason does not say \"%s\"", bads[i].what, bads[i].want);
        errno = 0;
        if (stat("/disk", &st) != -1 || errno != ENOENT)
            test_fail("%s: something is mounted at /disk after the refusal", bads[i].what);
    }
    int rc = diskfs_mount("device/vbd/51760", false, "/disk", err);
    if (rc) {
        test_fail("xvdd: mount: %d: %s", rc, err);
        return test_finish();
    }
    errno = 0;
    int fd = open("/disk/bad.txt", O_RDONLY);
    if (fd != -1 || errno != EIO)
        test_fail("/disk/bad.txt (its inode overwritten): open gave %d errno %d, want EIO", fd,
                  errno);
    else
        printf("xvdd: /disk/bad.txt, whose inode is overwritten: EIO\n");
    if (fd >= 0)
        close(fd);
    char buf[64] = { 0 };
    fd = open("/disk/ok.txt", O_RDONLY);
    CHECK_EQ(fd >= 0, 1);
    if (fd >= 0) {
        CHECK_EQ(read(fd, buf, sizeof(buf) - 1), 23);
        if (strcmp(buf, "an intact file on xvdd\n"))
            test_fail("/disk/ok.txt: \"%s\"", buf);
        close(fd);
    }
    CHECK_EQ(diskfs_umount(err), 0);
    printf("still running: xvdd mounted, /disk/ok.txt read whole, unmounted\n");

    return test_finish();
}
