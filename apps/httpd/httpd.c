/* httpd.c: the HTTP/1.1 protocol core (see httpd.h): http-parser callbacks,
 * request checks, file lookup, byte ranges and response heads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include "httpd.h"

#ifdef __minios__
/* newlib's <sys/stat.h> declares lstat for a few targets only; minios's
 * libc has it (minios/libc/fs.c). */
int lstat(const char *path, struct stat *st);
#endif

enum { HDR_OTHER, HDR_RANGE, HDR_HOST };

/* http-parser's own head limit is the core's (httpd.mk sets it). */
_Static_assert(HTTP_MAX_HEADER_SIZE == HTTPD_MAX_HEAD, "HTTP_MAX_HEADER_SIZE != HTTPD_MAX_HEAD");

int64_t (*httpd_clock)(void);
const char *httpd_root;
const char *httpd_root_error;

int httpd_date(char out[30], int64_t t)
{
    static const char wd[7][4] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
    static const char mn[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    if (t < 0 || t > 253402300799LL)
        return -1;
    int64_t days = t / 86400, secs = t % 86400;
    /* civil from days (days since 1970-01-01; 1970-01-01 was a Thursday) */
    int64_t z = days + 719468, era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[days % 7], (int)d,
             mn[m - 1], (int)y, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    return 0;
}

/* "Date: ...\r\n" if there is a clock, else "". */
static void date_line(char out[40])
{
    char d[30];
    out[0] = 0;
    if (httpd_clock && httpd_date(d, httpd_clock()) == 0)
        snprintf(out, 40, "Date: %s\r\n", d);
}

static struct httpd_conn *conn_of(http_parser *p)
{
    return (struct httpd_conn *)p->data;
}

/* Decides an error before the message ends: stop parsing, answer, close. */
static int fail_early(http_parser *p, int status)
{
    struct httpd_conn *c = conn_of(p);
    if (!c->early)
        c->early = status;
    http_parser_pause(p, 1);
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct httpd_conn *c = conn_of(p);
    c->url_len = c->hname_len = c->range_len = 0;
    c->in_value = c->range_long = c->have_host = 0;
    c->nranges = 0;
    c->want = HDR_OTHER;
    c->nheaders = 0;
    c->body_seen = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct httpd_conn *c = conn_of(p);
    if (len > sizeof(c->url) - c->url_len)
        return fail_early(p, 414);
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct httpd_conn *c = conn_of(p);
    if (c->in_value) {        /* a new header begins */
        c->in_value = 0;
        c->hname_len = 0;
    }
    if (c->hname_len == 0 && ++c->nheaders > HTTPD_MAX_HEADERS)
        return fail_early(p, 431);
    size_t room = sizeof(c->hname) - 1 - c->hname_len;
    size_t n = len < room ? len : room;
    memcpy(c->hname + c->hname_len, at, n);
    c->hname_len += n;
    if (n < len)              /* longer than any name we look at */
        c->hname_len = sizeof(c->hname) - 1, c->hname[0] = 0;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct httpd_conn *c = conn_of(p);
    if (!c->in_value) {
        c->in_value = 1;
        c->hname[c->hname_len] = 0;
        c->want = HDR_OTHER;
        if (c->hname_len == 5 && strncasecmp(c->hname, "range", 5) == 0) {
            c->want = HDR_RANGE;
            c->nranges++;
            c->range_len = 0;
        } else if (c->hname_len == 4 && strncasecmp(c->hname, "host", 4) == 0) {
            c->want = HDR_HOST;
            c->have_host = 1;
        }
    }
    if (c->want == HDR_RANGE && !c->range_long) {
        if (len > sizeof(c->range) - c->range_len)
            c->range_long = 1;
        else {
            memcpy(c->range + c->range_len, at, len);
            c->range_len += len;
        }
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct httpd_conn *c = conn_of(p);
    c->in_value = 0;
    if (p->http_major != 1)
        return fail_early(p, 505);
    if (p->method != HTTP_GET && p->method != HTTP_HEAD)
        return fail_early(p, 405);
    if (p->http_minor >= 1 && !c->have_host)
        return fail_early(p, 400);
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > HTTPD_MAX_BODY)
        return fail_early(p, 413);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct httpd_conn *c = conn_of(p);
    (void)at;
    c->body_seen += len;
    if (c->body_seen > HTTPD_MAX_BODY)
        return fail_early(p, 413);
    return 0;
}

/* A chunk's size is known before its bytes: refuse it at once. */
static int on_chunk_header(http_parser *p)
{
    struct httpd_conn *c = conn_of(p);
    if (p->content_length > HTTPD_MAX_BODY - c->body_seen)
        return fail_early(p, 413);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct httpd_conn *c = conn_of(p);
    c->done = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

void httpd_conn_init(struct httpd_conn *c, const struct httpd_file *files, size_t nfiles)
{
    memset(c, 0, sizeof(*c));
    http_parser_init(&c->p, HTTP_REQUEST);
    c->p.data = c;
    c->files = files;
    c->nfiles = nfiles;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default:  return "Internal Server Error";
    }
}

/* The body of an error response: one line naming the status. */
static const char *error_body(int status)
{
    switch (status) {
    case 400: return "400 Bad Request\n";
    case 403: return "403 Forbidden\n";
    case 404: return "404 Not Found\n";
    case 405: return "405 Method Not Allowed\n";
    case 413: return "413 Content Too Large\n";
    case 414: return "414 URI Too Long\n";
    case 416: return "416 Range Not Satisfiable\n";
    case 431: return "431 Request Header Fields Too Large\n";
    case 501: return "501 Not Implemented\n";
    case 503: return "503 Service Unavailable\n";
    case 505: return "505 HTTP Version Not Supported\n";
    default:  return "500 Internal Server Error\n";
    }
}

/* An error response; file_len is the size a 416 names. */
static void error_resp(struct httpd_resp *r, int status, int head_only, int close,
                       uint64_t file_len)
{
    const char *body = error_body(status);
    size_t blen = strlen(body);
    char extra[64] = "";
    if (status == 405)
        snprintf(extra, sizeof(extra), "Allow: GET, HEAD\r\n");
    else if (status == 416)
        snprintf(extra, sizeof(extra), "Content-Range: bytes */%llu\r\n",
                 (unsigned long long)file_len);
    char date[40];
    date_line(date);
    int n = snprintf(r->head, sizeof(r->head),
                     "HTTP/1.1 %d %s\r\n%sServer: keel-httpd\r\n"
                     "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s%s\r\n",
                     status, reason(status), date, blen, extra,
                     close ? "Connection: close\r\n" : "");
    r->status = status;
    r->head_len = n < (int)sizeof(r->head) ? (size_t)n : sizeof(r->head) - 1;   /* (never: heads are short) */
    r->body = (const unsigned char *)body;
    r->body_len = head_only ? 0 : blen;
    r->body_fd = -1;
    r->close = close;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

const struct httpd_file *httpd_lookup(const struct httpd_file *files, size_t nfiles,
                                      const char *path, size_t len)
{
    if (len == 1 && path[0] == '/')
        path = "/index.html", len = 11;
    for (size_t i = 0; i < nfiles; i++)
        if (strlen(files[i].path) == len && memcmp(files[i].path, path, len) == 0)
            return &files[i];
    return NULL;
}

static int parse_u64(const char *s, size_t len, uint64_t *v)
{
    uint64_t x = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (x > (UINT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *v = x;
    return 0;
}

enum httpd_range_result httpd_parse_range(const char *v, size_t len, uint64_t size,
                                          uint64_t *first, uint64_t *last)
{
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len < 6 || strncasecmp(v, "bytes=", 6) != 0)
        return HTTPD_RANGE_NONE;
    v += 6, len -= 6;
    if (memchr(v, ',', len))
        return HTTPD_RANGE_NONE;          /* several ranges: we send it all */
    const char *dash = memchr(v, '-', len);
    if (!dash)
        return HTTPD_RANGE_NONE;
    size_t alen = (size_t)(dash - v), blen = len - alen - 1;
    uint64_t a, b;
    if (alen == 0) {                      /* suffix: the last b bytes */
        if (parse_u64(dash + 1, blen, &b))
            return HTTPD_RANGE_NONE;
        if (b == 0 || size == 0)
            return HTTPD_RANGE_UNSAT;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return HTTPD_RANGE_OK;
    }
    if (parse_u64(v, alen, &a))
        return HTTPD_RANGE_NONE;
    if (blen == 0)
        b = UINT64_MAX;
    else if (parse_u64(dash + 1, blen, &b) || b < a)
        return HTTPD_RANGE_NONE;
    if (a >= size)
        return HTTPD_RANGE_UNSAT;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return HTTPD_RANGE_OK;
}

const char *httpd_type(const char *name, size_t len)
{
    static const struct { const char *ext, *type; } types[] = {
        { "html", "text/html" }, { "htm", "text/html" }, { "txt", "text/plain" },
        { "css", "text/css" }, { "js", "text/javascript" }, { "json", "application/json" },
        { "xml", "application/xml" }, { "svg", "image/svg+xml" }, { "png", "image/png" },
        { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" }, { "gif", "image/gif" },
        { "ico", "image/vnd.microsoft.icon" }, { "wasm", "application/wasm" },
        { "pdf", "application/pdf" },
    };
    size_t dot = len;
    while (dot > 0 && name[dot - 1] != '.' && name[dot - 1] != '/')
        dot--;
    if (dot == 0 || name[dot - 1] != '.')
        return "application/octet-stream";
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i].ext) == len - dot && strncasecmp(types[i].ext, name + dot, len - dot) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* The status for an lstat or open that failed with e. */
static int errno_status(int e)
{
    return e == ENOENT || e == ENOTDIR || e == ENAMETOOLONG ? 404 : e == EACCES ? 403 : 500;
}

/*
 * Opens the file a decoded request path names under httpd_root: 0 with
 * *fd (open, read-only), its size and type, or the status refusing it.
 * Every name on the way is looked at with lstat before it is used, so a
 * symbolic link is refused, never followed out of the root.
 */
static int disk_open(const char *path, size_t plen, int *fd, uint64_t *size, const char **type)
{
    if (httpd_root_error)
        return 503;
    if (plen == 0 || path[0] != '/')
        return 400;
    /* The names: no ".", "..", or empty name except a final '/'. */
    for (size_t i = 1; i < plen;) {
        size_t j = i;
        while (j < plen && path[j] != '/')
            j++;
        size_t n = j - i;
        if (n == 0 || (n == 1 && path[i] == '.') || (n == 2 && path[i] == '.' && path[i + 1] == '.'))
            return 403;
        i = j + 1;
    }
    char full[HTTPD_ROOT_MAX + HTTPD_MAX_URL + 16];
    size_t rl = strlen(httpd_root);
    if (rl >= HTTPD_ROOT_MAX)
        return 500;
    memcpy(full, httpd_root, rl + 1);
    size_t n = rl;
    struct stat st;
    if (stat(full, &st))
        return 500;
    for (size_t i = 1; i < plen;) {
        size_t j = i;
        while (j < plen && path[j] != '/')
            j++;
        full[n++] = '/';
        memcpy(full + n, path + i, j - i);
        n += j - i;
        full[n] = 0;
        if (lstat(full, &st))
            return errno_status(errno);
        if (S_ISLNK(st.st_mode))
            return 403;
        if (j < plen && !S_ISDIR(st.st_mode))
            return 404;           /* "/file/..." or "/file/" */
        i = j + 1;
    }
    if (S_ISDIR(st.st_mode)) {
        memcpy(full + n, "/index.html", 12);
        n += 11;
        if (lstat(full, &st))
            return errno_status(errno);
        if (S_ISLNK(st.st_mode))
            return 403;
    }
    if (!S_ISREG(st.st_mode))
        return 403;
    int f = open(full, O_RDONLY);
    if (f < 0)
        return errno == EBUSY ? 503 : errno_status(errno);
    if (fstat(f, &st) || !S_ISREG(st.st_mode) || st.st_size < 0) {
        close(f);
        return 500;
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    *type = httpd_type(full, n);
    return 0;
}

/* The response to a complete, well-formed GET or HEAD. */
static void file_resp(struct httpd_conn *c, struct httpd_resp *r, int closing)
{
    int head_only = c->p.method == HTTP_HEAD;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (c->url_len == 0 || http_parser_parse_url(c->url, c->url_len, 0, &u) ||
        !(u.field_set & (1 << UF_PATH))) {
        error_resp(r, 400, head_only, closing, 0);
        return;
    }
    const char *raw = c->url + u.field_data[UF_PATH].off;
    size_t rlen = u.field_data[UF_PATH].len;
    char path[HTTPD_MAX_URL];
    size_t plen = 0;
    for (size_t i = 0; i < rlen; i++) {
        if (raw[i] == '%') {
            int h = i + 2 < rlen ? hexval(raw[i + 1]) : -1;
            int l = i + 2 < rlen ? hexval(raw[i + 2]) : -1;
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                error_resp(r, 400, head_only, closing, 0);
                return;
            }
            path[plen++] = (char)(h * 16 + l);
            i += 2;
        } else
            path[plen++] = raw[i];
    }
    const unsigned char *data = NULL;
    uint64_t flen;
    const char *type;
    int fd = -1;
    if (httpd_root) {
        int st = disk_open(path, plen, &fd, &flen, &type);
        if (st) {
            error_resp(r, st, head_only, closing, 0);
            return;
        }
    } else {
        const struct httpd_file *f = httpd_lookup(c->files, c->nfiles, path, plen);
        if (!f) {
            error_resp(r, 404, head_only, closing, 0);
            return;
        }
        data = f->data, flen = f->len, type = f->type;
    }
    uint64_t first = 0, last = 0;
    enum httpd_range_result rr = HTTPD_RANGE_NONE;
    if (c->nranges == 1 && !c->range_long)   /* several: ignored, as RFC 7233 allows */
        rr = httpd_parse_range(c->range, c->range_len, flen, &first, &last);
    if (rr == HTTPD_RANGE_UNSAT) {
        if (fd >= 0)
            close(fd);
        error_resp(r, 416, head_only, closing, flen);
        return;
    }
    if (rr != HTTPD_RANGE_OK)
        first = 0, last = flen - 1;       /* (unused for an empty file) */
    if (fd >= 0 && !head_only && flen && first &&
        lseek(fd, (off_t)first, SEEK_SET) != (off_t)first) {
        close(fd);
        error_resp(r, 500, head_only, closing, 0);
        return;
    }
    if (fd >= 0 && (head_only || flen == 0)) {
        close(fd);
        fd = -1;
    }
    int n;
    char date[40];
    date_line(date);
    const char *conn = closing ? "Connection: close\r\n"
                       : (c->p.http_minor == 0 ? "Connection: keep-alive\r\n" : "");
    if (rr == HTTPD_RANGE_OK) {
        r->status = 206;
        n = snprintf(r->head, sizeof(r->head),
                     "HTTP/1.1 206 Partial Content\r\n%sServer: keel-httpd\r\n"
                     "Content-Type: %s\r\nContent-Length: %llu\r\n"
                     "Content-Range: bytes %llu-%llu/%llu\r\nAccept-Ranges: bytes\r\n%s\r\n",
                     date, type, (unsigned long long)(last - first + 1),
                     (unsigned long long)first, (unsigned long long)last,
                     (unsigned long long)flen, conn);
        r->body_len = head_only ? 0 : (size_t)(last - first + 1);
    } else {
        r->status = 200;
        n = snprintf(r->head, sizeof(r->head),
                     "HTTP/1.1 200 OK\r\n%sServer: keel-httpd\r\n"
                     "Content-Type: %s\r\nContent-Length: %llu\r\nAccept-Ranges: bytes\r\n%s\r\n",
                     date, type, (unsigned long long)flen, conn);
        r->body_len = head_only ? 0 : (size_t)flen;
    }
    r->body = data ? data + first : NULL;
    r->body_fd = fd;
    r->head_len = n < (int)sizeof(r->head) ? (size_t)n : sizeof(r->head) - 1;   /* (never: heads are short) */
    r->close = closing;
}

size_t httpd_feed(struct httpd_conn *c, const char *buf, size_t len,
                  struct httpd_resp *r, int *ready)
{
    *ready = 0;
    if (c->dead)
        return len;
    size_t n = http_parser_execute(&c->p, &settings, buf, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->p);
    int head_only = c->p.method == HTTP_HEAD;
    if (c->early) {
        error_resp(r, c->early, head_only, 1, 0);
        c->dead = 1;
    } else if (e == HPE_PAUSED && c->done) {
        c->done = 0;
        int close = !http_should_keep_alive(&c->p);
        file_resp(c, r, close);
        http_parser_pause(&c->p, 0);
        if (close)
            c->dead = 1;
    } else if (e != HPE_OK) {
        int status = e == HPE_INVALID_METHOD ? 501 : e == HPE_HEADER_OVERFLOW ? 431 : 400;
        error_resp(r, status, 0, 1, 0);
        c->dead = 1;
        n = len;
    } else
        return n;             /* everything consumed, no complete request yet */
    *ready = 1;
    c->requests++;
    return c->dead ? len : n;
}
