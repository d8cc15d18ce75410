/* httpd.h: the HTTP/1.1 static file server's protocol core: portable C, no
 * minios specifics. It turns the bytes a client sent into responses (head
 * text plus a slice of a compiled-in file); the caller moves the bytes.
 * Requests are parsed by Debian's http-parser. */
#ifndef KEEL_HTTPD_H
#define KEEL_HTTPD_H
#include <stddef.h>
#include <stdint.h>
#include "http_parser.h"

/* One served file: an absolute path ("/1k.bin"), its bytes and MIME type. */
struct httpd_file {
    const char *path;
    const unsigned char *data;
    uint64_t len;
    const char *type;
};

/* The compiled-in site (apps/httpd/mkwww.sh generates it). */
extern const struct httpd_file httpd_www[];
extern const uint64_t httpd_www_count;

/* Limits: a request head over HTTPD_MAX_HEAD bytes (http-parser's
 * HTTP_MAX_HEADER_SIZE, set to the same value) or with more than
 * HTTPD_MAX_HEADERS header lines gets 431; a request target over
 * HTTPD_MAX_URL bytes 414; a request body over HTTPD_MAX_BODY bytes 413. */
#define HTTPD_MAX_HEAD    8192
#define HTTPD_MAX_HEADERS 100
#define HTTPD_MAX_URL     2048
#define HTTPD_MAX_BODY    65536

/* A response: the status line and headers, then body_len bytes of body:
 * a slice of a compiled-in file or a static error text at body, or, when
 * body_fd >= 0, read from that open file (positioned at the first byte;
 * the caller reads body_len bytes from it in pieces and closes it).
 * close: the connection ends after it. */
struct httpd_resp {
    int status;
    char head[512];
    size_t head_len;
    const unsigned char *body;
    size_t body_len;
    int body_fd;
    int close;
};

/*
 * Serving from a directory instead of the compiled-in table: httpd_root
 * (NULL, the default: the table) is an absolute path without a trailing
 * '/' ("/disk/www"), set once before serving.  A request path is
 * percent-decoded and then served from under it: a directory (by its
 * name, with or without a final '/') serves its index.html; a name of
 * "." or "..", an empty name ("//") or a symbolic link anywhere on the
 * way gets 403, so that nothing outside the root is ever opened; a
 * missing name 404; anything but a regular file 403.  The content type
 * comes from the name's extension (httpd_type).  httpd_root_error: if
 * not NULL, the root could not be made ready (e.g. its disk did not
 * mount) and every request gets 503.
 */
extern const char *httpd_root;
extern const char *httpd_root_error;
#define HTTPD_ROOT_MAX 1024
/* The MIME type for a file name, by its extension (case-insensitive):
 * html, htm, txt, css, js, json, xml, svg, png, jpg, jpeg, gif, ico,
 * wasm, pdf; anything else application/octet-stream. */
const char *httpd_type(const char *name, size_t len);

struct httpd_conn {
    http_parser p;
    const struct httpd_file *files;
    size_t nfiles;
    char url[HTTPD_MAX_URL];
    size_t url_len;
    char hname[32];           /* current header name (truncated) */
    size_t hname_len;
    int in_value;             /* receiving the current header's value */
    int want;                 /* which header the value belongs to (HDR_*) */
    char range[128];          /* the Range header's value */
    size_t range_len;
    unsigned nranges;         /* Range headers seen: used if exactly one */
    int range_long;           /* longer than range[]: ignored */
    int have_host;
    unsigned nheaders;
    uint64_t body_seen;
    int early;                /* error status decided before the message ended */
    int done;                 /* a message completed: respond */
    int dead;                 /* the connection must close (after the response) */
    unsigned long requests;   /* responses produced */
};

/* The wall clock, seconds since the Unix epoch, for the Date header (RFC
 * 9110: a server with a clock sends it); NULL (the default) or a negative
 * result: no Date header. Set once before serving. */
extern int64_t (*httpd_clock)(void);
/* t as an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters and
 * a NUL); t must be 0..253402300799 (years 1970..9999), else -1. */
int httpd_date(char out[30], int64_t t);

/* Starts a connection serving the nfiles files. */
void httpd_conn_init(struct httpd_conn *c, const struct httpd_file *files, size_t nfiles);

/*
 * Feeds len bytes the client sent. Returns how many were consumed; when
 * *ready is set, r holds a response to send before feeding the rest (an
 * unconsumed tail is the next pipelined request). After a response with
 * r->close set, the caller closes the connection and feeds nothing more.
 */
size_t httpd_feed(struct httpd_conn *c, const char *buf, size_t len,
                  struct httpd_resp *r, int *ready);

/* Range header parsing (RFC 7233, one range). */
enum httpd_range_result {
    HTTPD_RANGE_NONE,   /* absent, invalid or several ranges: send it all (200) */
    HTTPD_RANGE_OK,     /* [*first, *last] inclusive: 206 */
    HTTPD_RANGE_UNSAT,  /* no byte of the file in range: 416 */
};
enum httpd_range_result httpd_parse_range(const char *v, size_t len, uint64_t size,
                                          uint64_t *first, uint64_t *last);

/* The file at a decoded path ("/" is "/index.html"), or NULL. */
const struct httpd_file *httpd_lookup(const struct httpd_file *files, size_t nfiles,
                                      const char *path, size_t len);

/* Serves one connected socket until the client closes it, an error, or
 * a response that closes it; then closes fd. (httpd_sock.c: BSD sockets,
 * host or lwIP.) */
void httpd_serve_fd(int fd, const struct httpd_file *files, size_t nfiles);

#endif
