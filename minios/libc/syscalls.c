/* syscalls.c: the system calls newlib expects, on top of minios's console, heap and shutdown. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/times.h>
#include <sys/types.h>
#include <unistd.h>
#include <minios/console.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/sched.h>
#include <minios/startinfo.h>

#include "fs_int.h"

/*
 * fds 0, 1 and 2 are the console (reading gives end of file; writing goes
 * to console_io); MINIOS_FS_FD_BASE and up are files of the mounted
 * filesystem (fs.c); every other fd is EBADF.
 * newlib declares read() and write() to return _READ_WRITE_RETURN_TYPE.
 */
#define MINIOS_PID 1

static int is_console(int fd)
{
    return fd >= 0 && fd <= 2;
}

_READ_WRITE_RETURN_TYPE write(int fd, const void *buf, size_t n)
{
    if (minios_fs_fd_valid(fd))
        return minios_fs_fd_write(fd, buf, n);
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    if (minios_console_write(buf, n) < 0) {
        errno = EIO;
        return -1;
    }
    return (_READ_WRITE_RETURN_TYPE)n;
}

_READ_WRITE_RETURN_TYPE read(int fd, void *buf, size_t n)
{
    if (minios_fs_fd_valid(fd))
        return minios_fs_fd_read(fd, buf, n);
    (void)buf;
    (void)n;
    if (!is_console(fd)) {
        errno = EBADF;
        return -1;
    }
    return 0;
}

void *sbrk(ptrdiff_t incr)
{
    return minios_sbrk(incr);
}

int close(int fd)
{
    if (minios_fs_fd_valid(fd))
        return minios_fs_fd_close(fd);
    if (!is_console(fd)) {
        errno = EBADF;
        return -1;
    }
    return 0;
}

int fstat(int fd, struct stat *st)
{
    if (minios_fs_fd_valid(fd))
        return minios_fs_fd_fstat(fd, st);
    if (!is_console(fd)) {
        errno = EBADF;
        return -1;
    }
    *st = (struct stat){ .st_mode = S_IFCHR | 0620, .st_blksize = 0 };
    return 0;
}

int isatty(int fd)
{
    if (minios_fs_fd_valid(fd)) {
        errno = ENOTTY;
        return 0;
    }
    if (!is_console(fd)) {
        errno = EBADF;
        return 0;
    }
    return 1;
}

off_t lseek(int fd, off_t off, int whence)
{
    if (minios_fs_fd_valid(fd))
        return minios_fs_fd_lseek(fd, off, whence);
    (void)off;
    (void)whence;
    errno = is_console(fd) ? ESPIPE : EBADF;
    return -1;
}

/* open, stat, unlink and the other calls on names: fs.c. */

int getpid(void)
{
    return MINIOS_PID;
}

/* One domain, one user: every id is root's (libraries such as
 * e2fsprogs' com_err compare real and effective ids). */
uid_t getuid(void) { return 0; }
uid_t geteuid(void) { return 0; }
gid_t getgid(void) { return 0; }
gid_t getegid(void) { return 0; }

/* Signals are never caught by anyone else: a signal to ourselves ends the
 * domain as a crash (this is how abort() ends, through raise(SIGABRT)). */
int kill(int pid, int sig)
{
    if (pid != MINIOS_PID) {
        errno = ESRCH;
        return -1;
    }
    minios_printk("%s: killed by signal %d\n", minios_app_name, sig);
    minios_shutdown(SHUTDOWN_crash);
}

clock_t times(struct tms *t)
{
    *t = (struct tms){ 0 };
    return 0;
}

/* exit(0) powers the domain off; any other status is a crash. newlib's
 * exit() has flushed stdio before it gets here. */
void _exit(int status)
{
    minios_shutdown(status == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash);
}
