/* xenbus.h: minios's xenstore client over the store ring of start_info (read, write, directories, permissions, watches, transactions). */
#ifndef MINIOS_XENBUS_H
#define MINIOS_XENBUS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Every call blocks the calling thread (never an event handler) until
 * xenstored answers, and returns 0 (or a count) on success or a plain
 * negative errno of <errno.h> on failure: xenstored's error names map to
 * their errno values (-ENOENT, -EACCES, -EEXIST, -EAGAIN, -E2BIG,
 * -ENOSPC ..., the names of <xen/io/xs_wire.h>; a name outside that list
 * is -EIO); -ENODEV when the domain has no store (no
 * xenstore domain at boot); -EINVAL for arguments that cannot be sent
 * (a path or value too long for one message, NUL inside a path);
 * -ENOMEM when memory ran out; -EIO for a malformed reply.
 *
 * Paths are absolute ("/local/domain/3/name") or relative to the domain's
 * home ("name" means /local/domain/<own id>/name).
 *
 * Strings and arrays handed back are malloc()ed; free them with free().
 */

/* minios connects the client at start. An application that drives the
 * store ring itself (a test of the raw protocol) opts out by defining
 *     const int minios_store_client = 0;                                   */
extern const int minios_store_client;

/* A transaction: 0 (MINIOS_XBT_NIL) means none. */
typedef uint32_t minios_xbt_t;
#define MINIOS_XBT_NIL ((minios_xbt_t)0)

/* 1 once the store ring is connected (minios does that at start when
 * start_info names a store event channel). */
int minios_xenbus_available(void);

/* XS_READ: *value gets the node's value NUL-terminated (its length, not
 * counting the NUL, in *len if len is not NULL). */
int minios_xs_read(minios_xbt_t t, const char *path, char **value, size_t *len);
/* XS_WRITE of a NUL-terminated string, or of len bytes. */
int minios_xs_write(minios_xbt_t t, const char *path, const char *value);
int minios_xs_write_bytes(minios_xbt_t t, const char *path, const void *value, size_t len);
/* XS_MKDIR; XS_RM (a node and everything below it). */
int minios_xs_mkdir(minios_xbt_t t, const char *path);
int minios_xs_rm(minios_xbt_t t, const char *path);
/* XS_DIRECTORY: *names gets an array of *n child names, in one allocation
 * (free(*names) frees all of it). */
int minios_xs_directory(minios_xbt_t t, const char *path, char ***names, unsigned *n);
/* XS_GET_PERMS: *perms gets the permission entries ("n0", "r3" ...) as in
 * minios_xs_directory. XS_SET_PERMS: n entries, the first naming the
 * owner and everyone else's access. */
int minios_xs_get_perms(minios_xbt_t t, const char *path, char ***perms, unsigned *n);
int minios_xs_set_perms(minios_xbt_t t, const char *path, const char *const *perms,
                        unsigned n);
/* XS_GET_DOMAIN_PATH: "/local/domain/<domid>". */
int minios_xs_get_domain_path(unsigned domid, char **path);

/* XS_TRANSACTION_START / _END (commit, or abort if abort != 0). A commit
 * that conflicted with another change returns -EAGAIN: start over. */
int minios_xs_transaction_start(minios_xbt_t *t);
int minios_xs_transaction_end(minios_xbt_t t, int abort);
/* Runs fn(t, arg) in a new transaction and commits it, starting over
 * while the commit says -EAGAIN (at most `tries` times; 0 means 100).
 * fn returns 0 to commit or a negative errno to abort with. */
int minios_xs_transaction_run(int (*fn)(minios_xbt_t t, void *arg), void *arg,
                              unsigned tries);

/*
 * Watches: cb(path, token, data) runs in minios's xenwatch thread for the
 * first event xenstored sends when the watch is set, and then for every
 * change at or below path. cb may call the functions above (but should
 * not wait long: it delays the other watches). The (path, token) pair
 * names the watch; setting a pair twice is -EEXIST.
 */
typedef void (*minios_xs_watch_fn)(const char *path, const char *token, void *data);
int minios_xs_watch(const char *path, const char *token, minios_xs_watch_fn cb, void *data);
int minios_xs_unwatch(const char *path, const char *token);

/* The raw request: type (XS_*) with a body of len bytes; the reply's
 * body (NUL-terminated after its len bytes) goes to *reply, its length
 * to *reply_len. */
int minios_xs_request(minios_xbt_t t, unsigned type, const void *body, size_t len,
                      char **reply, size_t *reply_len);

#endif /* MINIOS_XENBUS_H */
