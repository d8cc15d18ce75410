/* fs_int.h: the file descriptors of fs.c as syscalls.c hands them over (fd >= MINIOS_FS_FD_BASE). */
#ifndef MINIOS_LIBC_FS_INT_H
#define MINIOS_LIBC_FS_INT_H
#include <sys/stat.h>
#include <sys/types.h>

ssize_t minios_fs_fd_read(int fd, void *buf, size_t n);
ssize_t minios_fs_fd_write(int fd, const void *buf, size_t n);
off_t minios_fs_fd_lseek(int fd, off_t off, int whence);
int minios_fs_fd_fstat(int fd, struct stat *st);
int minios_fs_fd_close(int fd);
int minios_fs_fd_valid(int fd);

#endif /* MINIOS_LIBC_FS_INT_H */
