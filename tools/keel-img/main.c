/* keel-img: the host image tool (info, check, create, convert, compare),
 * with qemu-img's argument conventions. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <keel/image.h>
#include "io_host.h"

#define CHUNK (2u << 20)                /* convert/compare I/O size */
#define ZERO_GRAIN 4096u                /* zero detection granularity */

static const char *prog = "keel-img";
static const char *secret;              /* from --secret or --object secret */
static int die_status = 1;              /* compare: 2, like qemu-img */

static void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(die_status);
}

static void usage(void)
{
    fprintf(stderr,
        "usage: keel-img COMMAND [options]\n"
        "  info [-f FMT] FILE\n"
        "  check [-f FMT] [-r leaks|all] FILE\n"
        "  create -f FMT [-b BACKING [-F FMT]] [-o OPTS] FILE [SIZE]\n"
        "  convert [-f FMT] -O FMT [-c] [-o OPTS] [-t CACHE] [-p] SRC DST\n"
        "  compare [-f FMT] [-F FMT] [-p] [-s] A B\n"
        "  write [-f FMT] [-P BYTE] FILE OFFSET LENGTH   (fill with a byte)\n"
        "  formats                                      (list the drivers)\n"
        "options: --object secret,id=ID,data=PASSPHRASE | --secret PASSPHRASE\n"
        "OPTS: size, cluster_size, compat, refcount_bits, lazy_refcounts,\n"
        "      extended_l2, subformat, backing_file, backing_fmt,\n"
        "      encrypt.format=luks, encrypt.key-secret=ID, encrypt.iter-time\n"
        "SIZE: bytes, or with a k, M, G, T suffix (powers of 1024)\n");
    exit(1);
}

static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return false;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'b': case 'B': shift = 0; end++; break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return false;
    }
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

static const char *human(uint64_t v, char *buf, size_t len)
{
    static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    unsigned i = 0;
    double d = (double)v;
    while (d >= 1024 && i < 5) {
        d /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(buf, len, "%" PRIu64 " B", v);
    else
        snprintf(buf, len, "%.3g %s", d, u[i]);
    return buf;
}

/* ---- secrets (--object secret,id=X,data=Y) ----------------------------- */

struct secret_obj { char id[64]; char *data; };
static struct secret_obj secrets[8];
static unsigned nr_secrets;

static void add_object(const char *arg)
{
    char *s = strdup(arg), *save = NULL, *tok;
    char *id = NULL, *data = NULL;
    bool is_secret = false;
    for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "secret") == 0 || strcmp(tok, "qom-type=secret") == 0)
            is_secret = true;
        else if (strncmp(tok, "id=", 3) == 0)
            id = tok + 3;
        else if (strncmp(tok, "data=", 5) == 0)
            data = tok + 5;
        else if (strncmp(tok, "format=", 7) == 0 && strcmp(tok + 7, "raw") == 0)
            ;
        else
            die("--object: unsupported property '%s' (only secret,id=,data=)", tok);
    }
    if (!is_secret || !id || !data)
        die("--object: expected secret,id=ID,data=PASSPHRASE");
    if (nr_secrets == 8)
        die("--object: too many secrets");
    snprintf(secrets[nr_secrets].id, sizeof secrets[0].id, "%s", id);
    secrets[nr_secrets++].data = strdup(data);
    if (!secret)
        secret = secrets[nr_secrets - 1].data;
    free(s);
}

static const char *find_secret(const char *id)
{
    for (unsigned i = 0; i < nr_secrets; i++)
        if (strcmp(secrets[i].id, id) == 0)
            return secrets[i].data;
    die("no secret object with id '%s' (use --object secret,id=%s,data=...)", id, id);
}

/* ---- -o options -------------------------------------------------------- */

static bool on_off(const char *k, const char *v)
{
    if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes"))
        return true;
    if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no"))
        return false;
    die("-o %s: expected on or off, not '%s'", k, v);
}

static void parse_opts(char *list, struct img_create_opts *o)
{
    char *save = NULL, *tok;
    for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *v = strchr(tok, '=');
        if (!v)
            die("-o: expected KEY=VALUE, not '%s'", tok);
        *v++ = '\0';
        uint64_t n;
        if (!strcmp(tok, "size")) {
            if (!parse_size(v, &o->size))
                die("-o size: invalid size '%s'", v);
        } else if (!strcmp(tok, "cluster_size")) {
            if (!parse_size(v, &n) || n > UINT32_MAX)
                die("-o cluster_size: invalid size '%s'", v);
            o->cluster_size = (uint32_t)n;
        } else if (!strcmp(tok, "compat")) {
            if (!strcmp(v, "0.10") || !strcmp(v, "v2") || !strcmp(v, "2"))
                o->compat = 2;
            else if (!strcmp(v, "1.1") || !strcmp(v, "v3") || !strcmp(v, "3"))
                o->compat = 3;
            else
                die("-o compat: expected 0.10 or 1.1, not '%s'", v);
        } else if (!strcmp(tok, "refcount_bits")) {
            if (!parse_size(v, &n) || n > 64)
                die("-o refcount_bits: invalid value '%s'", v);
            o->refcount_bits = (unsigned)n;
        } else if (!strcmp(tok, "lazy_refcounts")) {
            o->lazy_refcounts = on_off(tok, v);
        } else if (!strcmp(tok, "extended_l2")) {
            o->extended_l2 = on_off(tok, v);
        } else if (!strcmp(tok, "subformat")) {
            o->subformat = v;
        } else if (!strcmp(tok, "backing_file")) {
            o->backing = v;
        } else if (!strcmp(tok, "backing_fmt")) {
            o->backing_format = v;
        } else if (!strcmp(tok, "encrypt.format") || !strcmp(tok, "encryption")) {
            if (strcmp(v, "luks") && strcmp(v, "on"))
                die("-o %s: only luks is supported, not '%s'", tok, v);
            o->encrypt_format = "luks";
        } else if (!strcmp(tok, "encrypt.key-secret")) {
            o->encrypt_secret = find_secret(v);
            if (!o->encrypt_format)
                o->encrypt_format = "luks";
        } else if (!strcmp(tok, "encrypt.iter-time")) {
            if (!parse_size(v, &o->encrypt_iter_time_ms))
                die("-o encrypt.iter-time: invalid value '%s'", v);
        } else if (!strcmp(tok, "preallocation")) {
            if (strcmp(v, "off"))
                die("-o preallocation: only off is supported");
        } else if (!strcmp(tok, "force_size") || !strcmp(tok, "adapter_type") ||
                   !strcmp(tok, "hwversion") || !strcmp(tok, "toolsversion")) {
            /* accepted for qemu-img compatibility; no effect */
        } else {
            die("-o: unknown option '%s'", tok);
        }
    }
}

/* ---- opening ----------------------------------------------------------- */

static bool nosync;                     /* convert -t unsafe: no flushes */

static struct img *open_image(const char *path, const char *fmt, unsigned flags)
{
    struct img_io *io;
    struct img *img;
    char err[IMG_ERR_LEN];
    int r = img_io_file_open(path, flags & IMG_OPEN_RDWR, &io);
    if (r < 0)
        die("Could not open '%s': %s", path, strerror(-r));
    if (flags & IMG_OPEN_RDWR)
        img_io_file_set_nosync(io, nosync);
    r = img_open(io, fmt, flags, secret, &img, err);
    if (r < 0)
        die("Could not open '%s': %s", path, err);
    return img;
}

/* ---- info -------------------------------------------------------------- */

static int cmd_info(int argc, char **argv)
{
    const char *fmt = NULL;
    int c;
    while ((c = getopt(argc, argv, "f:")) != -1) {
        if (c == 'f') fmt = optarg;
        else usage();
    }
    if (optind != argc - 1)
        usage();
    const char *path = argv[optind];
    struct img *img = open_image(path, fmt, IMG_OPEN_NO_BACKING);
    struct img_info in;
    char h[32];
    int r = img_info(img, &in);
    if (r < 0)
        die("'%s': cannot get image information: %s", path, strerror(-r));
    struct stat st;
    uint64_t disk = stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : in.allocated;
    printf("image: %s\n", path);
    printf("file format: %s\n", in.format);
    printf("virtual size: %s (%" PRIu64 " bytes)\n", human(in.virtual_size, h, sizeof h),
           in.virtual_size);
    printf("disk size: %s\n", human(disk, h, sizeof h));
    if (in.cluster_size)
        printf("cluster_size: %u\n", in.cluster_size);
    if (in.backing[0]) {
        printf("backing file: %s\n", in.backing);
        if (in.backing_format[0])
            printf("backing file format: %s\n", in.backing_format);
    }
    if (in.nr_snapshots) {
        printf("Snapshot list:\n");
        for (unsigned i = 0; i < in.nr_snapshots && i < 16; i++)
            printf("%-4u %s\n", i + 1, in.snapshot_names[i]);
        if (in.nr_snapshots > 16)
            printf("(%u snapshots in all)\n", in.nr_snapshots);
    }
    printf("Format specific information:\n");
    if (in.version)
        printf("    version: %u\n", in.version);
    if (in.subformat[0])
        printf("    subformat: %s\n", in.subformat);
    printf("    encrypted: %s\n", in.encrypted ? "yes" : "no");
    printf("    dirty: %s\n", in.dirty ? "yes" : "no");
    printf("    compressed clusters: %s\n", in.compressed_clusters ? "yes" : "no");
    img_close(img);
    return 0;
}

/* ---- check ------------------------------------------------------------- */

static int cmd_check(int argc, char **argv)
{
    const char *fmt = NULL;
    bool repair = false;
    int c;
    while ((c = getopt(argc, argv, "f:r:")) != -1) {
        if (c == 'f') fmt = optarg;
        else if (c == 'r') {
            if (strcmp(optarg, "leaks") && strcmp(optarg, "all"))
                die("-r: expected leaks or all, not '%s'", optarg);
            repair = true;
        } else usage();
    }
    if (optind != argc - 1)
        usage();
    const char *path = argv[optind];
    struct img *img = open_image(path, fmt,
                                 IMG_OPEN_NO_BACKING | (repair ? IMG_OPEN_RDWR : 0));
    struct img_check res;
    int r = img_check(img, &res, repair);
    if (r < 0) {
        fprintf(stderr, "%s: '%s': check failed: %s%s%s\n", prog, path, strerror(-r),
                res.first_error[0] ? ": " : "", res.first_error);
        img_close(img);
        return 1;
    }
    if (repair && res.repaired)
        printf("The following inconsistencies were found and repaired:\n\n"
               "    %" PRIu64 " leaked clusters\n    %" PRIu64 " corruptions\n\n",
               res.repaired, (uint64_t)0);
    if (res.corruptions) {
        printf("\n%" PRIu64 " errors were found on the image.\n"
               "Data may be corrupted, or further writes to the image may corrupt it.\n",
               res.corruptions);
        if (res.first_error[0])
            printf("First error: %s\n", res.first_error);
    }
    if (res.leaks)
        printf("\n%" PRIu64 " leaked clusters were found on the image.\n"
               "This means waste of disk space, but no harm to data.\n", res.leaks);
    if (!res.corruptions && !res.leaks)
        printf("No errors were found on the image.\n");
    img_close(img);
    return res.corruptions ? 2 : res.leaks ? 3 : 0;
}

/* ---- create ------------------------------------------------------------ */

static uint64_t backing_size(const char *file, const char *backing, const char *bfmt)
{
    /* The backing name is relative to the new image's directory. */
    char *path;
    const char *slash = strrchr(file, '/');
    if (backing[0] == '/' || !slash)
        path = strdup(backing);
    else if (asprintf(&path, "%.*s/%s", (int)(slash - file), file, backing) < 0)
        path = NULL;
    if (!path)
        die("out of memory");
    struct img *b = open_image(path, bfmt, 0);
    uint64_t size = b->size;
    img_close(b);
    free(path);
    return size;
}

static void do_create(const char *path, const char *fmt, struct img_create_opts *o)
{
    struct img_io *io;
    char err[IMG_ERR_LEN];
    if (!img_find_driver(fmt))
        die("Unknown file format '%s'", fmt);
    int r = img_io_file_create(path, &io);
    if (r < 0)
        die("Could not create '%s': %s", path, strerror(-r));
    img_io_file_set_nosync(io, nosync);
    r = img_create(io, fmt, o, err);
    io->ops->close(io);
    if (r < 0) {
        unlink(path);
        die("'%s': %s", path, err);
    }
}

static int cmd_create(int argc, char **argv)
{
    struct img_create_opts o = { 0 };
    const char *fmt = "raw";
    char *optlists[16];
    unsigned nopt = 0;
    int c;
    while ((c = getopt(argc, argv, "f:b:F:o:uq")) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'b': o.backing = optarg; break;
        case 'F': o.backing_format = optarg; break;
        case 'o': if (nopt < 16) optlists[nopt++] = optarg; break;
        case 'u': case 'q': break;
        default: usage();
        }
    }
    for (unsigned i = 0; i < nopt; i++)
        parse_opts(optlists[i], &o);
    if (optind != argc - 1 && optind != argc - 2)
        usage();
    const char *path = argv[optind];
    if (optind == argc - 2 && !parse_size(argv[optind + 1], &o.size))
        die("Invalid image size '%s' (a number with an optional k, M, G or T suffix)",
            argv[optind + 1]);
    if (optind == argc - 1 && !o.size && !o.backing)
        die("Image creation needs a size parameter");
    if (o.backing && !o.size)
        o.size = backing_size(path, o.backing, o.backing_format);
    if (o.encrypt_format && !o.encrypt_secret) {
        if (!secret)
            die("Encryption needs a secret: -o encrypt.key-secret=ID with "
                "--object secret,id=ID,data=..., or --secret PASSPHRASE");
        o.encrypt_secret = secret;
    }
    do_create(path, fmt, &o);
    char h[32];
    printf("Formatting '%s', fmt=%s size=%" PRIu64 " (%s)%s%s\n", path, fmt, o.size,
           human(o.size, h, sizeof h), o.backing ? " backing_file=" : "",
           o.backing ? o.backing : "");
    return 0;
}

/* ---- convert ----------------------------------------------------------- */

static bool all_zero(const uint8_t *p, size_t n)
{
    const uint64_t *w = (const uint64_t *)p;
    size_t i;
    for (i = 0; i + 8 <= n; i += 32, w += 4) {
        if (i + 32 > n)
            break;
        if (w[0] | w[1] | w[2] | w[3])
            return false;
    }
    for (; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void progress(bool on, uint64_t done, uint64_t total)
{
    if (on)
        printf("    (%.2f/100%%)\r", total ? 100.0 * (double)done / (double)total : 100.0),
            fflush(stdout);
}

/* convert: block status first, so holes are skipped without reading;
 * data is read in requests of up to CHUNK bytes and written in runs of
 * non-zero units, so the output stays sparse.  The unit is a 4 KiB grain,
 * or with -c the output's cluster: every non-zero cluster is then written
 * whole, once, which is what lets the driver compress it (as qemu-img
 * convert -c does, at every cluster size). */
static int cmd_convert(int argc, char **argv)
{
    struct img_create_opts o = { 0 };
    const char *fmt = NULL, *ofmt = "raw", *cache = "unsafe";
    char *optlists[16];
    unsigned nopt = 0;
    bool compress = false, prog_on = false;
    int c;
    while ((c = getopt(argc, argv, "f:O:co:pqnt:T:W")) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'O': ofmt = optarg; break;
        case 'c': compress = true; break;
        case 'o': if (nopt < 16) optlists[nopt++] = optarg; break;
        case 'p': prog_on = true; break;
        case 't': cache = optarg; break;
        case 'q': case 'n': case 'T': case 'W': break;
        default: usage();
        }
    }
    /* Like qemu-img convert, the output is written with cache=unsafe
     * unless -t says otherwise: no flushes (the OS writes it back). */
    if (!strcmp(cache, "unsafe"))
        nosync = true;
    else if (strcmp(cache, "writeback") && strcmp(cache, "none") &&
             strcmp(cache, "writethrough") && strcmp(cache, "directsync"))
        die("-t: unknown cache mode '%s' (unsafe, writeback, none, writethrough, "
            "directsync)", cache);
    for (unsigned i = 0; i < nopt; i++)
        parse_opts(optlists[i], &o);
    if (optind != argc - 2)
        usage();
    const char *src = argv[optind], *dst = argv[optind + 1];
    if (o.backing)
        die("convert: a backing file for the output is not supported");
    struct img *in = open_image(src, fmt, 0);
    o.size = in->size;
    if (o.encrypt_format && !o.encrypt_secret) {
        if (!secret)
            die("Encryption needs a secret (--object secret,... or --secret)");
        o.encrypt_secret = secret;
    }
    do_create(dst, ofmt, &o);
    struct img *out = open_image(dst, ofmt, IMG_OPEN_RDWR | (compress ? IMG_OPEN_COMPRESS : 0));
    if (out->size < in->size)
        die("'%s': the output is smaller (%" PRIu64 ") than the input (%" PRIu64 ")",
            dst, out->size, in->size);
    uint64_t unit = ZERO_GRAIN;
    if (compress) {
        struct img_info oi;
        if (img_info(out, &oi) == 0 && oi.cluster_size)
            unit = oi.cluster_size;
        if (unit > CHUNK || CHUNK % unit)
            die("'%s': cluster size %" PRIu64 " is not supported with -c", dst, unit);
    }
    uint8_t *buf = malloc(CHUNK);
    if (!buf)
        die("out of memory");
    uint64_t total = in->size, off = 0, written = 0;
    int r;
    progress(prog_on, 0, total);
    while (off < total) {
        uint64_t len = total - off < CHUNK ? total - off : CHUNK, pnum;
        r = img_block_status(in, off, len, &pnum);
        if (r < 0)
            die("'%s': cannot read at offset %" PRIu64 ": %s", src, off, strerror(-r));
        if (r == IMG_BS_ZERO) {
            off += pnum;
            continue;
        }
        uint64_t start = off, end = off + pnum;
        if (unit != ZERO_GRAIN) {
            /* Whole clusters, each written once. */
            start = off / unit * unit;
            if (start < written)
                start = written;
            end = (end + unit - 1) / unit * unit;
            if (end > start + CHUNK)
                end = start + CHUNK;
            if (end > total)
                end = total;
            if (end <= start) {
                off += pnum;
                continue;
            }
        }
        len = end - start;
        r = img_read(in, start, buf, len);
        if (r < 0)
            die("'%s': cannot read at offset %" PRIu64 ": %s", src, start, strerror(-r));
        /* Write runs of non-zero units; skip zero units (sparse). */
        for (uint64_t p = 0; p < len;) {
            uint64_t g = len - p < unit ? len - p : unit;
            if (all_zero(buf + p, g)) {
                p += g;
                continue;
            }
            uint64_t e = p + g;
            while (e < len) {
                uint64_t ge = len - e < unit ? len - e : unit;
                if (all_zero(buf + e, ge))
                    break;
                e += ge;
            }
            r = img_write(out, start + p, buf + p, e - p);
            if (r < 0)
                die("'%s': cannot write at offset %" PRIu64 ": %s", dst, start + p,
                    strerror(-r));
            p = e;
        }
        written = end;
        off = end;
        progress(prog_on, off, total);
    }
    r = img_flush(out);
    if (r < 0)
        die("'%s': flush failed: %s", dst, strerror(-r));
    if (prog_on)
        printf("    (100.00/100%%)\n");
    free(buf);
    img_close(out);
    img_close(in);
    return 0;
}

/* ---- compare ----------------------------------------------------------- */

/* Reads [off, off+len) of img into buf, or reports it as zeros. */
static bool read_or_zero(struct img *img, const char *name, uint64_t off, uint64_t len,
                         uint8_t *buf, uint64_t *pnum)
{
    int r = img_block_status(img, off, len, pnum);
    if (r < 0)
        goto fail;
    if (r == IMG_BS_ZERO)
        return false;
    r = img_read(img, off, buf, *pnum);
    if (r >= 0)
        return true;
fail:
    fprintf(stderr, "%s: '%s': cannot read at offset %" PRIu64 ": %s\n", prog, name, off,
            strerror(-r));
    exit(2);
}

static int cmd_compare(int argc, char **argv)
{
    const char *fa = NULL, *fb = NULL;
    bool strict = false, prog_on = false;
    int c;
    while ((c = getopt(argc, argv, "f:F:spq")) != -1) {
        switch (c) {
        case 'f': fa = optarg; break;
        case 'F': fb = optarg; break;
        case 's': strict = true; break;
        case 'p': prog_on = true; break;
        case 'q': break;
        default: usage();
        }
    }
    if (optind != argc - 2)
        usage();
    if (!fb)
        fb = fa;
    die_status = 2;
    const char *na = argv[optind], *nb = argv[optind + 1];
    struct img *a = open_image(na, fa, 0), *b = open_image(nb, fb, 0);
    uint8_t *ba = malloc(CHUNK), *bb = malloc(CHUNK);
    if (!ba || !bb)
        die("out of memory");
    if (a->size != b->size) {
        if (strict) {
            printf("Strict mode: Image size mismatch!\n");
            return 1;
        }
        printf("Warning: Image size mismatch!\n");
    }
    uint64_t common = a->size < b->size ? a->size : b->size;
    uint64_t big = a->size < b->size ? b->size : a->size, off = 0;
    struct img *longer = a->size < b->size ? b : a;
    int ret = 0;
    while (off < big && ret == 0) {
        uint64_t len, pa, pb;
        if (off < common) {
            len = common - off < CHUNK ? common - off : CHUNK;
            bool da = read_or_zero(a, na, off, len, ba, &pa);
            len = pa;
            bool db = read_or_zero(b, nb, off, len, bb, &pb);
            len = pb;
            if (!da)
                memset(ba, 0, len);
            if (!db)
                memset(bb, 0, len);
            if ((da || db) && memcmp(ba, bb, len)) {
                uint64_t i = 0;
                while (ba[i] == bb[i])
                    i++;
                printf("Content mismatch at offset %" PRIu64 "!\n", off + (i & ~(uint64_t)511));
                ret = 1;
            }
        } else {
            len = big - off < CHUNK ? big - off : CHUNK;
            bool d = read_or_zero(longer, longer == a ? na : nb, off, len, ba, &pa);
            len = pa;
            if (d && !all_zero(ba, len)) {
                uint64_t i = 0;
                while (!ba[i])
                    i++;
                printf("Content mismatch at offset %" PRIu64 "!\n", off + (i & ~(uint64_t)511));
                ret = 1;
            }
        }
        off += len;
        progress(prog_on, off, big);
    }
    if (ret == 0)
        printf("Images are identical.\n");
    free(ba);
    free(bb);
    img_close(a);
    img_close(b);
    return ret;
}

/* ---- write (keel-img's own: fill a range with a byte) ------------------ */

static int cmd_write(int argc, char **argv)
{
    const char *fmt = NULL;
    unsigned pattern = 0xcd;
    int c;
    while ((c = getopt(argc, argv, "f:P:")) != -1) {
        if (c == 'f') fmt = optarg;
        else if (c == 'P') pattern = (unsigned)strtoul(optarg, NULL, 0) & 0xff;
        else usage();
    }
    if (optind != argc - 3)
        usage();
    const char *path = argv[optind];
    uint64_t off, len;
    if (!parse_size(argv[optind + 1], &off) || !parse_size(argv[optind + 2], &len))
        die("write: invalid offset or length");
    struct img *img = open_image(path, fmt, IMG_OPEN_RDWR);
    if (off > img->size || len > img->size - off)
        die("'%s': write of %" PRIu64 " bytes at %" PRIu64 " is past the end (%" PRIu64 ")",
            path, len, off, img->size);
    uint8_t *buf = malloc(CHUNK);
    if (!buf)
        die("out of memory");
    memset(buf, (int)pattern, CHUNK);
    while (len) {
        uint64_t n = len < CHUNK ? len : CHUNK;
        int r = img_write(img, off, buf, n);
        if (r < 0)
            die("'%s': write at %" PRIu64 " failed: %s", path, off, strerror(-r));
        off += n;
        len -= n;
    }
    int r = img_flush(img);
    if (r < 0)
        die("'%s': flush failed: %s", path, strerror(-r));
    free(buf);
    img_close(img);
    return 0;
}

static int cmd_formats(void)
{
    static const char *names[] = { "raw", "qcow2", "vhd", "vmdk" };
    for (unsigned i = 0; i < 4; i++)
        if (img_find_driver(names[i]))
            printf("%s\n", names[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    /* Pull out --object/--secret wherever they are. */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--object") && i + 1 < argc)
            add_object(argv[++i]);
        else if (!strncmp(argv[i], "--object=", 9))
            add_object(argv[i] + 9);
        else if (!strcmp(argv[i], "--secret") && i + 1 < argc)
            secret = argv[++i];
        else
            argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    argc--;
    argv++;
    optind = 1;
    if (!strcmp(cmd, "info")) return cmd_info(argc, argv);
    if (!strcmp(cmd, "check")) return cmd_check(argc, argv);
    if (!strcmp(cmd, "create")) return cmd_create(argc, argv);
    if (!strcmp(cmd, "convert")) return cmd_convert(argc, argv);
    if (!strcmp(cmd, "compare")) return cmd_compare(argc, argv);
    if (!strcmp(cmd, "write")) return cmd_write(argc, argv);
    if (!strcmp(cmd, "formats")) return cmd_formats();
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) usage();
    die("unknown command '%s' (try --help)", cmd);
}
