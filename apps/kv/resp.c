/* resp.c: kv's RESP2 side: connections, the request parser (multibulk
 * and inline, with the limits of kv.h), and reply building. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "kv_impl.h"

void kv_out_add(struct kv_conn *c, const char *p, size_t len)
{
    if (c->oom)
        return;
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *n = realloc(c->out, cap);
        if (!n) {
            c->oom = 1;
            return;
        }
        c->out = n;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
}

void kv_out_str(struct kv_conn *c, const char *s)
{
    kv_out_add(c, s, strlen(s));
}

/* A RESP2 number line: the type byte, v in decimal, CRLF.  By hand, not
 * snprintf: it is in every bulk, integer and array reply, and newlib's
 * formatter is a long way round for a number. */
void kv_out_num(struct kv_conn *c, char type, long long v)
{
    char b[24];
    size_t i = sizeof(b);
    b[--i] = '\n';
    b[--i] = '\r';
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        b[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        b[--i] = '-';
    b[--i] = type;
    kv_out_add(c, b + i, sizeof(b) - i);
}

void kv_out_int(struct kv_conn *c, long long v)
{
    kv_out_num(c, ':', v);
}

void kv_out_bulk(struct kv_conn *c, const char *p, size_t len)
{
    kv_out_num(c, '$', (long long)len);
    kv_out_add(c, p, len);
    kv_out_add(c, "\r\n", 2);
}

void kv_out_null(struct kv_conn *c)
{
    kv_out_str(c, "$-1\r\n");
}

void kv_out_array(struct kv_conn *c, size_t n)
{
    kv_out_num(c, '*', (long long)n);
}

/* An error naming client bytes: CR and LF become spaces (the reply is one
 * line), and each is cut at 128 bytes. */
void kv_out_err_quoted(struct kv_conn *c, const char *pre, const char *p, size_t len,
                           const char *post)
{
    char b[160];
    size_t n = len < 128 ? len : 128;
    for (size_t i = 0; i < n; i++)
        b[i] = (p[i] == '\r' || p[i] == '\n') ? ' ' : p[i];
    kv_out_str(c, pre);
    kv_out_add(c, b, n);
    kv_out_str(c, post);
}

void kv_out_ok(struct kv_conn *c)
{
    kv_out_str(c, "+OK\r\n");
}

int kv_conn_init(struct kv_conn *c, struct kv_store *s)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->args_cap = 16;
    c->argv = malloc(c->args_cap * sizeof(*c->argv));
    c->argl = malloc(c->args_cap * sizeof(*c->argl));
    if (!c->argv || !c->argl) {
        free(c->argv);
        free(c->argl);
        return -1;
    }
    if (s->lock)
        s->lock(s->lock_arg);
    s->clients++;
    s->connections++;
    if (s->unlock)
        s->unlock(s->lock_arg);
    return 0;
}

void kv_conn_free(struct kv_conn *c)
{
    struct kv_store *s = c->s;
    if (s->lock)
        s->lock(s->lock_arg);
    s->clients--;
    if (s->unlock)
        s->unlock(s->lock_arg);
    free(c->in);
    free(c->out);
    free(c->argv);
    free(c->argl);
}

int kv_feed(struct kv_conn *c, const char *data, size_t len)
{
    if (c->in_len + len > KV_MAX_QUERY + (64u << 10))
        return -1;
    if (c->in_len + len > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 4096;
        while (cap < c->in_len + len)
            cap *= 2;
        char *n = realloc(c->in, cap);
        if (!n)
            return -1;
        c->in = n;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    return 0;
}

static int args_room(struct kv_conn *c, size_t n)
{
    if (n <= c->args_cap)
        return 0;
    size_t cap = c->args_cap;
    while (cap < n)
        cap *= 2;
    const char **v = realloc(c->argv, cap * sizeof(*v));
    if (!v)
        return -1;
    c->argv = v;
    size_t *l = realloc(c->argl, cap * sizeof(*l));
    if (!l)
        return -1;
    c->argl = l;
    c->args_cap = cap;
    return 0;
}

static int protocol_error(struct kv_conn *c, const char *what)
{
    kv_out_str(c, "-ERR Protocol error: ");
    kv_out_str(c, what);
    kv_out_str(c, "\r\n");
    c->close = 1;
    return -1;
}

/* A "<ch>N\r\n" header line at in[off] (of len bytes): 1 and *n, 0 if
 * incomplete, -1 on a protocol error (already replied). */
static int number_line(struct kv_conn *c, const char *in, size_t len, size_t off,
                       long long *n, size_t *next, const char *toobig, const char *invalid)
{
    const char *p = in + off;
    size_t avail = len - off;
    const char *cr = memchr(p, '\r', avail > KV_MAX_INLINE ? KV_MAX_INLINE : avail);
    if (!cr)
        return avail > KV_MAX_INLINE ? protocol_error(c, toobig) : 0;
    if ((size_t)(cr - p) + 1 >= avail)
        return 0;             /* the \n has not arrived */
    if (cr[1] != '\n' || kv_parse_ll(p + 1, (size_t)(cr - p) - 1, n))
        return protocol_error(c, invalid);
    *next = off + (size_t)(cr - p) + 2;
    return 1;
}

/* Parses the multibulk command at in (len bytes received) into c->argv:
 * its argument count, 0 if incomplete, -1 on a protocol error (replied),
 * -2 for an empty command. *used: its bytes. */
static long long parse_multibulk(struct kv_conn *c, const char *in, size_t len,
                                 size_t *used)
{
    long long n;
    size_t off;
    int r = number_line(c, in, len, 0, &n, &off, "too big mbulk count string",
                        "invalid multibulk length");
    if (r <= 0)
        return r;
    if (n > KV_MAX_ARGS)
        return protocol_error(c, "invalid multibulk length");
    if (n <= 0) {             /* an empty command: nothing to do */
        *used = off;
        return -2;
    }
    if (args_room(c, (size_t)n)) {
        c->oom = 1;
        return -1;
    }
    for (long long i = 0; i < n; i++) {
        if (off >= len)
            return 0;
        if (in[off] != '$') {
            char what[40];
            unsigned char ch = (unsigned char)in[off];
            if (ch >= 32 && ch < 127 && ch != '\'')
                snprintf(what, sizeof(what), "expected '$', got '%c'", ch);
            else
                snprintf(what, sizeof(what), "expected '$', got byte %u", ch);
            return protocol_error(c, what);
        }
        long long blen;
        r = number_line(c, in, len, off, &blen, &off, "too big bulk count string",
                        "invalid bulk length");
        if (r <= 0)
            return r;
        if (blen < 0 || blen > (long long)KV_MAX_BULK)
            return protocol_error(c, "invalid bulk length");
        size_t b = (size_t)blen;
        if (off + b > KV_MAX_QUERY)
            return protocol_error(c, "too big request");
        if (len - off < b + 2)
            return 0;
        if (in[off + b] != '\r' || in[off + b + 1] != '\n')
            return protocol_error(c, "bulk not followed by CRLF");
        c->argv[i] = in + off;
        c->argl[i] = b;
        off += b + 2;
    }
    *used = off;
    return n;
}

static int hexdigit(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* One word of an inline command at in[*i] (before end), decoded in place
 * (a decoded word is never longer): as Redis's inline syntax, "double
 * quotes" with \n \r \t \b \a \xHH and \<any> escapes, 'single quotes'
 * with \', and a closing quote must end the word. The word's length, or
 * -1 for unbalanced quotes. */
static long word(char *in, size_t end, size_t *i, char **start)
{
    size_t p = *i, o = p;
    *start = in + p;
    char q = in[p];
    if (q != '"' && q != '\'') {
        while (p < end && in[p] != ' ' && in[p] != '\t')
            p++;
        *i = p;
        return (long)(p - o);
    }
    p++;
    for (;;) {
        if (p >= end)
            return -1;                    /* no closing quote */
        char ch = in[p];
        if (ch == q) {
            p++;
            if (p < end && in[p] != ' ' && in[p] != '\t')
                return -1;                /* the quote must end the word */
            break;
        }
        if (ch == '\\' && p + 1 < end) {
            char e = in[p + 1];
            if (q == '\'') {
                ch = e == '\'' ? '\'' : '\\';
                p += e == '\'' ? 2 : 1;
            } else if (e == 'x' && p + 3 < end && hexdigit(in[p + 2]) >= 0 &&
                       hexdigit(in[p + 3]) >= 0) {
                ch = (char)(hexdigit(in[p + 2]) * 16 + hexdigit(in[p + 3]));
                p += 4;
            } else {
                ch = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' :
                     e == 'b' ? '\b' : e == 'a' ? '\a' : e;
                p += 2;
            }
        } else
            p++;
        in[o++] = ch;
    }
    *i = p;
    return (long)(o - (size_t)(*start - in));
}

/* An inline command: one line of words separated by spaces or tabs
 * (quoted as word() says). Returns as parse_multibulk. */
static long long parse_inline(struct kv_conn *c, char *in, size_t len, size_t *used)
{
    const char *nl = memchr(in, '\n', len > KV_MAX_INLINE ? KV_MAX_INLINE : len);
    if (!nl)
        return len > KV_MAX_INLINE ? protocol_error(c, "too big inline request") : 0;
    size_t end = (size_t)(nl - in);
    *used = end + 1;
    if (end && in[end - 1] == '\r')
        end--;
    size_t n = 0;
    for (size_t i = 0; i < end;) {
        while (i < end && (in[i] == ' ' || in[i] == '\t'))
            i++;
        if (i == end)
            break;
        char *start;
        long wl = word(in, end, &i, &start);
        if (wl < 0)
            return protocol_error(c, "unbalanced quotes in request");
        if (n == KV_MAX_ARGS)
            return protocol_error(c, "too many arguments");
        if (args_room(c, n + 1)) {
            c->oom = 1;
            return -1;
        }
        c->argv[n] = start;
        c->argl[n] = (size_t)wl;
        n++;
    }
    return n ? (long long)n : -2;
}

int kv_run(struct kv_conn *c)
{
    struct kv_store *s = c->s;
    size_t done = 0;
    int ret = 0;
    if (s->lock)
        s->lock(s->lock_arg);
    while (!c->close && !c->oom && done < c->in_len) {
        if (c->out_len >= KV_OUT_FLUSH) {
            ret = 1;
            break;
        }
        char *in = c->in + done;
        size_t len = c->in_len - done, used = 0;
        long long n = in[0] == '*' ? parse_multibulk(c, in, len, &used)
                                   : parse_inline(c, in, len, &used);
        if (n > 0)
            kv_execute(c, (size_t)n);
        if (n == 0)
            break;            /* incomplete: wait for more */
        if (n == -1)
            break;            /* protocol error or no memory: close */
        done += used;
    }
    if (s->unlock)
        s->unlock(s->lock_arg);
    if (done) {
        memmove(c->in, c->in + done, c->in_len - done);
        c->in_len -= done;
    }
    if (c->oom) {             /* a reply is lost: the stream is broken */
        c->close = 1;
        c->out_len = 0;
    }
    if (c->close)
        return -1;
    return ret;
}
