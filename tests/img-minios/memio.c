/* A sparse in-memory img_io (4 KiB pages allocated on first non-zero write), portable C. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memio.h"

#define PG 4096u

struct memio {
    struct img_io io;
    uint8_t **pages;                    /* NULL: a page of zeros */
    size_t npages;                      /* length of pages[] */
    uint64_t size;
    uint64_t limit;
};

static struct memio *M(struct img_io *io) { return (struct memio *)io; }

static int m_pread(struct img_io *io, void *buf, size_t len, uint64_t off)
{
    struct memio *m = M(io);
    uint8_t *p = buf;
    while (len) {
        uint64_t pg = off / PG, in = off % PG;
        size_t n = PG - in < len ? (size_t)(PG - in) : len;
        if (off < m->size && pg < m->npages && m->pages[pg])
            memcpy(p, m->pages[pg] + in, n);
        else
            memset(p, 0, n);
        if (off < m->size && off + n > m->size)    /* past the end: zeros */
            memset(p + (m->size - off), 0, (size_t)(off + n - m->size));
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static bool zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static int m_pwrite(struct img_io *io, const void *buf, size_t len, uint64_t off)
{
    struct memio *m = M(io);
    const uint8_t *p = buf;
    if (off > m->limit || len > m->limit - off)
        return -EFBIG;
    uint64_t need = (off + len + PG - 1) / PG;
    if (need > m->npages) {
        uint8_t **np = realloc(m->pages, (size_t)need * sizeof *np);
        if (!np)
            return -ENOMEM;
        memset(np + m->npages, 0, (size_t)(need - m->npages) * sizeof *np);
        m->pages = np;
        m->npages = (size_t)need;
    }
    if (off + len > m->size)
        m->size = off + len;
    while (len) {
        uint64_t pg = off / PG, in = off % PG;
        size_t n = PG - in < len ? (size_t)(PG - in) : len;
        if (!m->pages[pg] && !zero(p, n) && !(m->pages[pg] = calloc(1, PG)))
            return -ENOMEM;
        if (m->pages[pg])
            memcpy(m->pages[pg] + in, p, n);
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static int m_flush(struct img_io *io)
{
    (void)io;
    return 0;
}

static int64_t m_size(struct img_io *io)
{
    return (int64_t)M(io)->size;
}

static int m_truncate(struct img_io *io, uint64_t size)
{
    struct memio *m = M(io);
    if (size > m->limit)
        return -EFBIG;
    /* Drop whole pages past the end; zero the tail of the last one. */
    for (uint64_t pg = (size + PG - 1) / PG; pg < m->npages; pg++) {
        free(m->pages[pg]);
        m->pages[pg] = NULL;
    }
    if (size % PG && size / PG < m->npages && m->pages[size / PG])
        memset(m->pages[size / PG] + size % PG, 0, PG - size % PG);
    m->size = size;
    return 0;
}

static void m_close(struct img_io *io)
{
    struct memio *m = M(io);
    for (size_t i = 0; i < m->npages; i++)
        free(m->pages[i]);
    free(m->pages);
    free(m);
}

static void m_keep_close(struct img_io *io)
{
    (void)io;                           /* memio_free releases it */
}

static const struct img_io_ops mem_ops = {
    .pread = m_pread, .pwrite = m_pwrite, .flush = m_flush, .size = m_size,
    .truncate = m_truncate, .close = m_close,
};
static const struct img_io_ops keep_ops = {
    .pread = m_pread, .pwrite = m_pwrite, .flush = m_flush, .size = m_size,
    .truncate = m_truncate, .close = m_keep_close,
};

struct img_io *memio_new(uint64_t limit, bool keep)
{
    struct memio *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->io.ops = keep ? &keep_ops : &mem_ops;
    m->io.priv = m;
    m->limit = limit;
    return &m->io;
}

void memio_free(struct img_io *io)
{
    m_close(io);
}

uint64_t memio_resident(struct img_io *io)
{
    struct memio *m = M(io);
    uint64_t n = 0;
    for (size_t i = 0; i < m->npages; i++)
        n += m->pages[i] ? PG : 0;
    return n;
}
