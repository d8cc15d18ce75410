/* A growable in-memory img_io for tests, fuzzing and the crash harness. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io_host.h"

#define MEM_MAX (1ull << 40)            /* refuse absurd growth */

struct mem_io {
    struct img_io io;
    uint8_t *buf;
    uint64_t size, cap;
    uint64_t writes, flushes, limit;
    img_io_mem_related_fn related;
    void *related_ctx;
};

static struct mem_io *M(struct img_io *io) { return (struct mem_io *)io; }

static int m_reserve(struct mem_io *m, uint64_t need)
{
    if (need > MEM_MAX || (m->limit && need > m->limit))
        return -EFBIG;
    if (need <= m->cap)
        return 0;
    uint64_t cap = m->cap ? m->cap : 65536;
    while (cap < need)
        cap *= 2;
    uint8_t *b = realloc(m->buf, cap);
    if (!b)
        return -ENOMEM;
    memset(b + m->cap, 0, cap - m->cap);
    m->buf = b;
    m->cap = cap;
    return 0;
}

static int m_pread(struct img_io *io, void *buf, size_t len, uint64_t off)
{
    struct mem_io *m = M(io);
    size_t n = 0;
    if (off < m->size)
        n = m->size - off < len ? (size_t)(m->size - off) : len;
    if (n)
        memcpy(buf, m->buf + off, n);
    memset((uint8_t *)buf + n, 0, len - n);
    return 0;
}

static int m_pwrite(struct img_io *io, const void *buf, size_t len, uint64_t off)
{
    struct mem_io *m = M(io);
    if (off + len < off)
        return -EFBIG;
    int r = m_reserve(m, off + len);
    if (r < 0)
        return r;
    if (off > m->size)
        memset(m->buf + m->size, 0, off - m->size);
    memcpy(m->buf + off, buf, len);
    if (off + len > m->size)
        m->size = off + len;
    m->writes++;
    return 0;
}

static int m_flush(struct img_io *io)
{
    M(io)->flushes++;
    return 0;
}

static int64_t m_size(struct img_io *io)
{
    return (int64_t)M(io)->size;
}

static int m_truncate(struct img_io *io, uint64_t size)
{
    struct mem_io *m = M(io);
    int r = m_reserve(m, size);
    if (r < 0)
        return r;
    if (size > m->size)
        memset(m->buf + m->size, 0, size - m->size);
    m->size = size;
    return 0;
}

static int m_open_related(struct img_io *io, const char *name, bool writable,
                          struct img_io **out)
{
    struct mem_io *m = M(io);
    if (!m->related)
        return -ENOENT;
    return m->related(m->related_ctx, name, writable, out);
}

static void m_close(struct img_io *io)
{
    free(M(io)->buf);
    free(io);
}

static const struct img_io_ops mem_ops = {
    .pread = m_pread,
    .pwrite = m_pwrite,
    .flush = m_flush,
    .size = m_size,
    .truncate = m_truncate,
    .open_related = m_open_related,
    .close = m_close,
};

int img_io_mem_new(struct img_io **out)
{
    struct mem_io *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->io.ops = &mem_ops;
    m->io.priv = m;
    *out = &m->io;
    return 0;
}

const uint8_t *img_io_mem_data(struct img_io *io, uint64_t *size)
{
    *size = M(io)->size;
    return M(io)->buf;
}

int img_io_mem_load(struct img_io *io, const void *buf, size_t len)
{
    struct mem_io *m = M(io);
    int r = m_reserve(m, len);
    if (r < 0)
        return r;
    if (len)
        memcpy(m->buf, buf, len);
    m->size = len;
    return 0;
}

void img_io_mem_stats(struct img_io *io, uint64_t *writes, uint64_t *flushes)
{
    *writes = M(io)->writes;
    *flushes = M(io)->flushes;
}

void img_io_mem_set_related(struct img_io *io, img_io_mem_related_fn fn, void *ctx)
{
    M(io)->related = fn;
    M(io)->related_ctx = ctx;
}

void img_io_mem_set_limit(struct img_io *io, uint64_t max_size)
{
    M(io)->limit = max_size;
}
