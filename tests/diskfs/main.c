/* Guest test: newlib's file calls on the appliance's own ext4 disk (keel/diskfs.h): a POSIX-ish workout and every refusal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <keel/diskfs.h>

#include "report.h"

/*
 * Boot line: disk=xvda:/images/fs.img (writable, 8 MiB ext4 made by
 * run.sh with /www/hello.txt) and disk=xvdb:/images/ro.img:ro.  The
 * guest mounts xvda at /disk and works on /disk/d; what it leaves there
 * (run.sh checks it with debugfs, and e2fsck -fn):
 *   /d/a.bin     A_LEN bytes of pat(1, i)      (created, written, appended, truncated by O_TRUNC, rewritten)
 *   /d/e.txt     "renamed\n"                  (made as c.txt, renamed)
 *   /d/stdio.txt "fprintf 42 through newlib\n"
 *   /d/t.bin     1000 bytes of pat(2, i)      (ftruncate from 5000)
 *   /d/after.bin 200000 bytes of pat(4, i)    (written after filling the disk,
 *                                             getting ENOSPC and unlinking)
 * and no /d/b.bin, /d/sub, /d/fill.bin.  Then it unmounts, mounts xvdb
 * read-only at / and proves the refusals there, then xvdc
 * (disk=xvdc:/images/full.img, host_full).
 */
#define A_LEN 3000u

static uint8_t pat(unsigned k, uint32_t i) { return (uint8_t)(i * (13 + 2 * k) + (i >> 9) + k); }

static uint8_t buf[1 << 20];

/* rc must be -1 with errno e. */
#define REFUSED(expr, e) do {                                                  \
        errno = 0;                                                             \
        long r_ = (long)(expr);                                                \
        if (r_ != -1 || errno != (e))                                          \
            test_fail("%s: got %ld errno %d, want -1 errno %d (%s)", #expr,    \
                      r_, errno, (e), #e);                                     \
        else                                                                   \
            refusals++;                                                        \
    } while (0)

static unsigned refusals;

static int write_pat(const char *path, int flags, unsigned k, uint32_t from, uint32_t len)
{
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        test_fail("open %s: errno %d", path, errno);
        return -1;
    }
    for (uint32_t i = 0; i < len; i++)
        buf[i] = pat(k, from + i);
    ssize_t w = write(fd, buf, len);
    if (w != (ssize_t)len)
        test_fail("write %s: %zd errno %d", path, w, errno);
    if (fsync(fd))
        test_fail("fsync %s: errno %d", path, errno);
    if (close(fd))
        test_fail("close %s: errno %d", path, errno);
    return 0;
}

static void check_pat(const char *path, unsigned k, uint32_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        test_fail("open %s: errno %d", path, errno);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) || st.st_size != (off_t)len || !S_ISREG(st.st_mode))
        test_fail("fstat %s: size %ld, want %u", path, (long)st.st_size, len);
    /* Read in odd pieces to cross block boundaries. */
    uint32_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, 777);
        if (r < 0) {
            test_fail("read %s: errno %d", path, errno);
            break;
        }
        if (r == 0)
            break;
        got += (uint32_t)r;
        if (got > len)
            break;
    }
    if (got != len)
        test_fail("%s: read %u bytes, want %u", path, got, len);
    unsigned bad = 0;
    for (uint32_t i = 0; i < got && i < len; i++)
        bad += buf[i] != pat(k, i);
    if (bad)
        test_fail("%s: %u bytes differ", path, bad);
    close(fd);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted, joined with ' '. */
static void listing(const char *dir, char *out, size_t len)
{
    out[0] = 0;
    DIR *d = opendir(dir);
    if (!d) {
        test_fail("opendir %s: errno %d", dir, errno);
        return;
    }
    char *names[32];
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 32)
        names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp);
    for (unsigned i = 0; i < n; i++) {
        strncat(out, names[i], len - strlen(out) - 2);
        if (i + 1 < n)
            strcat(out, " ");
        free(names[i]);
    }
}

static void workout(void)
{
    struct stat st;
    char l[512];
    CHECK_EQ(mkdir("/disk/d", 0755), 0);
    CHECK_EQ(stat("/disk/d", &st), 0);
    if (!S_ISDIR(st.st_mode))
        test_fail("/disk/d is not a directory: mode %o", (unsigned)st.st_mode);
    /* Create, write 10000, read back. */
    write_pat("/disk/d/a.bin", O_WRONLY | O_CREAT | O_EXCL, 1, 0, 10000);
    check_pat("/disk/d/a.bin", 1, 10000);
    /* Append 5000: the file is pat(1) over 15000. */
    write_pat("/disk/d/a.bin", O_WRONLY | O_APPEND, 1, 10000, 5000);
    check_pat("/disk/d/a.bin", 1, 15000);
    CHECK_EQ(stat("/disk/d/a.bin", &st), 0);
    CHECK_EQ(st.st_size, 15000);
    /* O_RDWR: lseek and read in the middle. */
    int fd = open("/disk/d/a.bin", O_RDWR);
    CHECK_EQ(lseek(fd, 12345, SEEK_SET), 12345);
    CHECK_EQ(read(fd, buf, 10), 10);
    CHECK_EQ(buf[0], pat(1, 12345));
    CHECK_EQ(lseek(fd, 0, SEEK_END), 15000);
    CHECK_EQ(read(fd, buf, 10), 0);
    CHECK_EQ(close(fd), 0);
    /* O_TRUNC: the file is A_LEN bytes afterwards. */
    write_pat("/disk/d/a.bin", O_WRONLY | O_TRUNC, 1, 0, A_LEN);
    check_pat("/disk/d/a.bin", 1, A_LEN);
    printf("created, wrote, appended, truncated /disk/d/a.bin: sizes 10000, 15000, %u, byte-exact\n",
           A_LEN);
    /* ftruncate. */
    write_pat("/disk/d/t.bin", O_RDWR | O_CREAT, 2, 0, 5000);
    fd = open("/disk/d/t.bin", O_RDWR);
    CHECK_EQ(ftruncate(fd, 1000), 0);
    CHECK_EQ(fstat(fd, &st), 0);
    CHECK_EQ(st.st_size, 1000);
    CHECK_EQ(close(fd), 0);
    check_pat("/disk/d/t.bin", 2, 1000);
    /* stdio over the same calls. */
    FILE *f = fopen("/disk/d/stdio.txt", "w");
    if (!f) {
        test_fail("fopen: errno %d", errno);
    } else {
        fprintf(f, "fprintf %d through newlib\n", 42);
        CHECK_EQ(fclose(f), 0);
    }
    f = fopen("/disk/d/stdio.txt", "r");
    if (!f || !fgets(l, sizeof(l), f) || strcmp(l, "fprintf 42 through newlib\n"))
        test_fail("fgets /disk/d/stdio.txt");
    if (f)
        fclose(f);
    write_pat("/disk/d/b.bin", O_WRONLY | O_CREAT, 3, 0, 100);
    fd = open("/disk/d/c.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK_EQ(write(fd, "renamed\n", 8), 8);
    CHECK_EQ(close(fd), 0);
    CHECK_EQ(mkdir("/disk/d/sub", 0700), 0);
    listing("/disk/d", l, sizeof(l));
    if (strcmp(l, ". .. a.bin b.bin c.txt stdio.txt sub t.bin"))
        test_fail("readdir /disk/d: \"%s\"", l);
    else
        printf("readdir /disk/d: %s\n", l);
    /* rename (newlib: link + unlink), unlink, rmdir. */
    CHECK_EQ(rename("/disk/d/c.txt", "/disk/d/e.txt"), 0);
    REFUSED(stat("/disk/d/c.txt", &st), ENOENT);
    CHECK_EQ(stat("/disk/d/e.txt", &st), 0);
    CHECK_EQ(st.st_size, 8);
    CHECK_EQ(st.st_nlink, 1);
    CHECK_EQ(unlink("/disk/d/b.bin"), 0);
    REFUSED(stat("/disk/d/b.bin", &st), ENOENT);
    REFUSED(rmdir("/disk/d"), ENOTEMPTY);
    CHECK_EQ(rmdir("/disk/d/sub"), 0);
    listing("/disk/d", l, sizeof(l));
    if (strcmp(l, ". .. a.bin e.txt stdio.txt t.bin"))
        test_fail("readdir /disk/d after rename, unlink, rmdir: \"%s\"", l);
    else
        printf("renamed c.txt to e.txt, unlinked b.bin, removed sub: %s\n", l);
    listing("/disk", l, sizeof(l));
    if (strcmp(l, ". .. d lost+found www"))
        test_fail("readdir /disk: \"%s\"", l);
    /* The host's file. */
    f = fopen("/disk/www/hello.txt", "r");
    if (!f || !fgets(l, sizeof(l), f) || strcmp(l, "hello from the host\n"))
        test_fail("/disk/www/hello.txt does not hold the host's line");
    if (f)
        fclose(f);
}

static void refusals_rw(void)
{
    struct stat st;
    char longname[300];
    REFUSED(open("/disk/missing", O_RDONLY), ENOENT);
    REFUSED(open("/disk/nodir/x", O_WRONLY | O_CREAT, 0644), ENOENT);
    REFUSED(open("/elsewhere/x", O_RDONLY), ENOENT);
    REFUSED(open("disk/d/a.bin", O_RDONLY), ENOENT);
    REFUSED(open("/disk/d/a.bin", O_RDONLY | O_CREAT | O_EXCL, 0644), EEXIST);
    REFUSED(open("/disk/d", O_RDONLY), EISDIR);
    REFUSED(open("/disk/d", O_WRONLY), EISDIR);
    REFUSED(open("/disk/d/a.bin/x", O_RDONLY), ENOTDIR);
    REFUSED(open("/disk/d/a.bin/x", O_WRONLY | O_CREAT, 0644), ENOTDIR);
    REFUSED(mkdir("/disk/d", 0755), EEXIST);
    REFUSED(mkdir("/disk/d/a.bin", 0755), EEXIST);
    REFUSED(rmdir("/disk/d/a.bin"), ENOTDIR);
    REFUSED(unlink("/disk/d"), EISDIR);
    REFUSED(unlink("/disk/d/missing"), ENOENT);
    REFUSED(link("/disk/d", "/disk/d2"), EPERM);
    REFUSED(link("/disk/d/a.bin", "/disk/d/e.txt"), EEXIST);
    REFUSED(rename("/disk/d/missing", "/disk/d/x"), ENOENT);
    memset(longname, 'n', sizeof(longname));
    memcpy(longname, "/disk/", 6);
    longname[sizeof(longname) - 1] = 0;
    REFUSED(open(longname, O_WRONLY | O_CREAT, 0644), ENAMETOOLONG);
    REFUSED(opendir("/disk/d/a.bin") ? 0 : -1, ENOTDIR);
    REFUSED(opendir("/disk/none") ? 0 : -1, ENOENT);
    int fd = open("/disk/d/a.bin", O_RDONLY);
    REFUSED(write(fd, "x", 1), EBADF);
    REFUSED(ftruncate(fd, 0), EINVAL);
    REFUSED(lseek(fd, -1, SEEK_SET), EINVAL);
    REFUSED(lseek(fd, 0, 42), EINVAL);
    /* One writer or readers: the store's rule. */
    REFUSED(open("/disk/d/a.bin", O_WRONLY), EBUSY);
    REFUSED(unlink("/disk/d/a.bin"), EBUSY);
    REFUSED(diskfs_umount(NULL) == 0 ? 0 : (errno = EBUSY, -1), EBUSY);
    CHECK_EQ(close(fd), 0);
    REFUSED(close(fd), EBADF);
    REFUSED(read(fd, buf, 1), EBADF);
    REFUSED(fsync(fd), EBADF);
    REFUSED(fstat(200, &st), EBADF);
    fd = open("/disk/d/t.bin", O_WRONLY);
    REFUSED(read(fd, buf, 1), EBADF);
    CHECK_EQ(close(fd), 0);
}

/* Fills the disk: writes 64 KiB pieces until one gets ENOSPC, then
 * unlinks the file (its blocks come back) and writes a new file. */
static void fill(void)
{
    struct stat st;
    int fd = open("/disk/d/fill.bin", O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        test_fail("open /disk/d/fill.bin: errno %d", errno);
        return;
    }
    memset(buf, 0xa5, 1 << 16);
    uint64_t total = 0;
    ssize_t w;
    for (;;) {
        errno = 0;
        w = write(fd, buf, 1 << 16);
        if (w <= 0)
            break;
        total += (uint64_t)w;
        if (total > (64u << 20))
            break;
    }
    if (w != -1 || errno != ENOSPC)
        test_fail("filling the disk: write gave %zd errno %d after %llu bytes, want ENOSPC",
                  w, errno, (unsigned long long)total);
    else
        refusals++;
    /* The open file still works: another write is ENOSPC again (not
     * EIO), and what it holds reads back. */
    REFUSED(write(fd, buf, 4096), ENOSPC);
    CHECK_EQ(lseek(fd, (off_t)total - 1000, SEEK_SET), (off_t)total - 1000);
    memset(buf, 0, 4096);
    CHECK_EQ(read(fd, buf, 4096), 1000);
    unsigned bad = 0;
    for (unsigned i = 0; i < 1000; i++)
        bad += buf[i] != 0xa5;
    if (bad)
        test_fail("fill.bin: the last 1000 bytes read back with %u differences", bad);
    int crc = close(fd);
    printf("filled the disk: %llu bytes written, then ENOSPC; read back; close %d errno %d\n",
           (unsigned long long)total, crc, crc ? errno : 0);
    /* A full file can be truncated (it failed with EIO while files could
     * take the filesystem's last block: docs/diskfs.md). */
    fd = open("/disk/d/fill.bin", O_RDWR);
    errno = 0;
    if (ftruncate(fd, 3000))
        test_fail("ftruncate of the full file to 3000: errno %d", errno);
    CHECK_EQ(fstat(fd, &st), 0);
    CHECK_EQ(st.st_size, 3000);
    CHECK_EQ(close(fd), 0);
    printf("truncated the full file to 3000 bytes\n");
    /* Fill it again, then unlink it full. */
    fd = open("/disk/d/fill.bin", O_WRONLY | O_APPEND);
    memset(buf, 0xa5, 1 << 16);
    uint64_t again = 3000;
    while ((w = write(fd, buf, 1 << 16)) > 0 && again < (64u << 20))
        again += (uint64_t)w;
    if (w != -1 || errno != ENOSPC)
        test_fail("filling the disk again: write gave %zd errno %d", w, errno);
    CHECK_EQ(close(fd), 0);
    printf("filled the disk again: %llu bytes\n", (unsigned long long)again);
    CHECK_EQ(stat("/disk/d/fill.bin", &st), 0);
    if ((uint64_t)st.st_size != again)
        test_fail("fill.bin: size %ld, want the %llu bytes written", (long)st.st_size,
                  (unsigned long long)again);
    errno = 0;
    int rc = unlink("/disk/d/fill.bin");
    if (rc)
        test_fail("unlink /disk/d/fill.bin after ENOSPC: errno %d", errno);
    REFUSED(stat("/disk/d/fill.bin", &st), ENOENT);
    /* The space is back: a 200000-byte file. */
    write_pat("/disk/d/after.bin", O_WRONLY | O_CREAT | O_EXCL, 4, 0, 200000);
    check_pat("/disk/d/after.bin", 4, 200000);
    printf("unlinked the full file, wrote and read back 200000 bytes after it\n");
}

static void readonly(void)
{
    char err[DISKFS_ERRLEN];
    int rc = diskfs_mount("device/vbd/51728", false, "/", err);
    if (rc) {
        test_fail("mount xvdb read-only: %d: %s", rc, err);
        return;
    }
    struct stat st;
    CHECK_EQ(stat("/ro.txt", &st), 0);
    CHECK_EQ(st.st_size, 12);
    int fd = open("/ro.txt", O_RDONLY);
    char l[16] = { 0 };
    CHECK_EQ(read(fd, l, sizeof(l)), 12);
    if (strcmp(l, "read only!!\n"))
        test_fail("/ro.txt: \"%s\"", l);
    CHECK_EQ(close(fd), 0);
    REFUSED(open("/ro.txt", O_WRONLY), EROFS);
    REFUSED(open("/ro.txt", O_RDWR), EROFS);
    REFUSED(open("/new", O_WRONLY | O_CREAT, 0644), EROFS);
    REFUSED(mkdir("/dir", 0755), EROFS);
    REFUSED(unlink("/ro.txt"), EROFS);
    REFUSED(link("/ro.txt", "/ro2"), EROFS);
    REFUSED(rmdir("/lost+found"), EROFS);
    CHECK_EQ(diskfs_umount(err), 0);
    printf("xvdb mounted read-only at /: read /ro.txt, writes refused (EROFS)\n");
}

/*
 * xvdc: full.img, which the host filled with debugfs: /full.bin holds
 * every free block up to the filesystem's last.  Truncating it to 100000
 * bytes and then unlinking it free them (ext2fs_punch refused that last
 * block: EIO, for both); then a new file fits.
 */
static void host_full(void)
{
    char err[DISKFS_ERRLEN];
    int rc = diskfs_mount("device/vbd/51744", true, "/full", err);
    if (rc) {
        test_fail("mount xvdc: %d: %s", rc, err);
        return;
    }
    /* Full: a new file takes no block. */
    int fd = open("/full/new.bin", O_WRONLY | O_CREAT | O_EXCL, 0644);
    REFUSED(write(fd, buf, 4096), ENOSPC);
    CHECK_EQ(close(fd), 0);
    /* Truncated: its last block (the filesystem's) is freed first
     * (store.c's release_last_block); the 100000 bytes kept are intact. */
    fd = open("/full/full.bin", O_RDWR);
    CHECK_EQ(fd >= 0, 1);
    if (fd >= 0) {
        if (ftruncate(fd, 100000))
            test_fail("ftruncate /full/full.bin (it holds the filesystem's last block): errno %d", errno);
        struct stat st;
        CHECK_EQ(fstat(fd, &st), 0);
        CHECK_EQ(st.st_size, 100000);
        uint32_t got = 0, bad = 0;
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
            for (ssize_t i = 0; i < n; i++)
                bad += buf[i] != 'x';
            got += (uint32_t)n;
        }
        CHECK_EQ(got, 100000);
        CHECK_EQ(bad, 0);
        CHECK_EQ(close(fd), 0);
    }
    /* The blocks freed take a new file's 64 KiB. */
    write_pat("/full/new.bin", O_WRONLY | O_TRUNC, 5, 0, 1 << 16);
    check_pat("/full/new.bin", 5, 1 << 16);
    printf("xvdc: truncated the host's full.bin (to the last block) to 100000 bytes, wrote 64 KiB after it\n");
    errno = 0;
    if (unlink("/full/full.bin"))
        test_fail("unlink /full/full.bin (it holds the filesystem's last block): errno %d", errno);
    write_pat("/full/new.bin", O_WRONLY | O_TRUNC, 5, 0, 1 << 20);
    check_pat("/full/new.bin", 5, 1 << 20);
    CHECK_EQ(diskfs_umount(err), 0);
    printf("xvdc: unlinked the host's full.bin (to the last block), wrote 1 MiB after it\n");
}

int main(int argc, char **argv)
{
    char err[DISKFS_ERRLEN];
    int rc = diskfs_mount_boot(argc, argv, "/disk", err);
    if (rc) {
        test_fail("mount: %d: %s", rc, err);
        return test_finish();
    }
    printf("mounted xvda's ext4 at /disk\n");
    workout();
    refusals_rw();
    fill();
    rc = diskfs_umount(err);
    if (rc)
        test_fail("umount: %d: %s", rc, err);
    REFUSED(open("/disk/d/a.bin", O_RDONLY), ENOENT);
    readonly();
    host_full();
    printf("%u refusals, each with its errno\n", refusals);
    return test_finish();
}
