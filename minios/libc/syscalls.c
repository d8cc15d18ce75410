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

/*
 * There are no files yet: fds 0, 1 and 2 are the console (reading gives
 * end of file; writing goes to console_io), every other fd is EBADF.
 * newlib declares read() and write() to return _READ_WRITE_RETURN_TYPE.
 */
#define MINIOS_PID 1

static int is_console(int fd)
{
    return fd >= 0 && fd <= 2;
}

_READ_WRITE_RETURN_TYPE write(int fd, const void *buf, size_t n)
{
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
    if (!is_console(fd)) {
        errno = EBADF;
        return -1;
    }
    return 0;
}

int fstat(int fd, struct stat *st)
{
    if (!is_console(fd)) {
        errno = EBADF;
        return -1;
    }
    *st = (struct stat){ .st_mode = S_IFCHR | 0620, .st_blksize = 0 };
    return 0;
}

int isatty(int fd)
{
    if (!is_console(fd)) {
        errno = EBADF;
        return 0;
    }
    return 1;
}

off_t lseek(int fd, off_t off, int whence)
{
    (void)off;
    (void)whence;
    errno = is_console(fd) ? ESPIPE : EBADF;
    return -1;
}

int open(const char *path, int flags, ...)
{
    (void)path;
    (void)flags;
    errno = ENOENT;
    return -1;
}

int stat(const char *path, struct stat *st)
{
    (void)path;
    (void)st;
    errno = ENOENT;
    return -1;
}

int unlink(const char *path)
{
    (void)path;
    errno = ENOENT;
    return -1;
}

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
