/* persist.c: VM records on the agent's own disk (docs/agent.md, "VM
 * records on the disk").  One JSON file per defined VM, DIR/<uuid>.json,
 * written as DIR/<uuid>.json.new, fsync'd, then renamed over the old one
 * (diskfs's rename is link then unlink, so the old name is unlinked
 * first); a crash leaves the old record, the new one, or both, and
 * persist_load prefers a whole new one.  Every record read is hostile: a
 * file that does not decode is logged and skipped.  Portable POSIX file
 * calls only: newlib's on diskfs in the agent, the host's in test_agent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"

#define PERSIST_VERSION 1

static void fmt_uuid(const uint8_t u[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
    }
    out[o] = 0;
}

/* 0 if s is exactly a lower- or upper-case 8-4-4-4-12 uuid. */
int persist_parse_uuid(const char *s, uint8_t u[16])
{
    if (strlen(s) != 36)
        return -1;
    int n = 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return -1;
            continue;
        }
        char ch = s[i];
        int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (v < 0)
            return -1;
        if (n % 2 == 0)
            u[n / 2] = (uint8_t)(v << 4);
        else
            u[n / 2] |= (uint8_t)v;
        n++;
    }
    return 0;
}

char *persist_encode(const struct agent_vmdef *v)
{
    char u[37], mem[24];
    fmt_uuid(v->uuid, u);
    snprintf(mem, sizeof(mem), "%llu", (unsigned long long)v->mem_bytes);
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:{s:s}, s:b}",
                          "version", PERSIST_VERSION, "uuid", u, "name_label", v->name,
                          "memory_static_max", mem, "VCPUs_max", (json_int_t)v->vcpus,
                          "PV_kernel", v->kernel, "PV_args", v->args,
                          "other_config", "auto_poweron", v->auto_poweron ? "true" : "false",
                          "is_a_template", v->is_template);
    if (!o || devices_encode(v, o)) {   /* its VIFs (vifrec.c) */
        json_decref(o);
        return NULL;
    }
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(o);
    return s;
}

#define REFUSE(...) do { snprintf(err, errlen, __VA_ARGS__); goto bad; } while (0)

/* A string field of o, 1..max-1 bytes (0 allowed if empty_ok), no NUL. */
static const char *str_field(json_t *o, const char *key, size_t max, int empty_ok,
                             char *err, size_t errlen)
{
    json_t *f = json_object_get(o, key);
    if (!json_is_string(f)) {
        snprintf(err, errlen, "%s: %s", key, f ? "not a string" : "missing");
        return NULL;
    }
    size_t n = json_string_length(f);
    if ((!empty_ok && n == 0) || n >= max || strlen(json_string_value(f)) != n) {
        snprintf(err, errlen, "%s: %s", key, n >= max ? "too long" : n ? "holds a NUL" : "empty");
        return NULL;
    }
    return json_string_value(f);
}

int persist_decode(const char *buf, size_t len, int (*kernel_known)(const char *),
                   struct agent_vmdef *out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = NULL;
    const char *s;
    memset(out, 0, sizeof(*out));
    if (len > PERSIST_MAX)
        REFUSE("%zu bytes: a record holds at most %d", len, PERSIST_MAX);
    o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        REFUSE("not JSON: %s (line %d)", je.text, je.line);
    if (!json_is_object(o))
        REFUSE("not a JSON object");
    json_t *ver = json_object_get(o, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != PERSIST_VERSION)
        REFUSE("version: not %d", PERSIST_VERSION);
    if (!(s = str_field(o, "uuid", 37, 0, err, errlen)))
        goto bad;
    if (persist_parse_uuid(s, out->uuid))
        REFUSE("uuid: not a uuid");
    if (!(s = str_field(o, "name_label", sizeof(out->name), 0, err, errlen)))
        goto bad;
    memcpy(out->name, s, strlen(s) + 1);
    if (!(s = str_field(o, "memory_static_max", 21, 0, err, errlen)))
        goto bad;
    char *end;
    errno = 0;
    unsigned long long mem = strtoull(s, &end, 10);
    if (*end || s[0] < '0' || s[0] > '9' || errno || mem < (1u << 20) || mem > AGENT_VM_MAX_MEM ||
        mem % 4096)
        REFUSE("memory_static_max: %s is not a multiple of 4096 from 1 MiB to %llu MiB", s,
               AGENT_VM_MAX_MEM >> 20);
    out->mem_bytes = mem;
    json_t *vc = json_object_get(o, "VCPUs_max");
    if (!json_is_integer(vc) || json_integer_value(vc) < 1 || json_integer_value(vc) > 32)
        REFUSE("VCPUs_max: not an integer from 1 to 32");
    out->vcpus = (unsigned)json_integer_value(vc);
    if (!(s = str_field(o, "PV_kernel", sizeof(out->kernel), 0, err, errlen)))
        goto bad;
    if (kernel_known && !kernel_known(s))
        REFUSE("PV_kernel: %s is not an image the agent holds", s);
    memcpy(out->kernel, s, strlen(s) + 1);
    if (!(s = str_field(o, "PV_args", sizeof(out->args), 1, err, errlen)))
        goto bad;
    memcpy(out->args, s, strlen(s) + 1);
    json_t *oc = json_object_get(o, "other_config");
    if (!json_is_object(oc))
        REFUSE("other_config: not an object");
    if (!(s = str_field(oc, "auto_poweron", 6, 0, err, errlen)))
        goto bad;
    if (strcmp(s, "true") && strcmp(s, "false"))
        REFUSE("other_config.auto_poweron: not \"true\" or \"false\"");
    out->auto_poweron = !strcmp(s, "true");
    json_t *tm = json_object_get(o, "is_a_template");   /* absent in older records: false */
    if (tm && !json_is_boolean(tm))
        REFUSE("is_a_template: not a boolean");
    out->is_template = json_is_true(tm);
    if (devices_decode(o, out, err, errlen))   /* its VIFs (vifrec.c) */
        goto bad;
    json_decref(o);
    out->used = 1;
    return 0;
bad:
    json_decref(o);
    memset(out, 0, sizeof(*out));
    return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int persist_save(const char *dir, const struct agent_vmdef *v, char *err, size_t errlen)
{
    char u[37], path[160];
    fmt_uuid(v->uuid, u);
    snprintf(path, sizeof(path), "%s/%s.json", dir, u);
    char *s = persist_encode(v);
    if (!s) {
        snprintf(err, errlen, "cannot encode the record of %s", u);
        return -1;
    }
    int rc = persist_write_file(path, s, err, errlen);
    free(s);
    return rc;
}

int persist_write_file(const char *path, const char *s, char *err, size_t errlen)
{
    char tmp[200];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t n = strlen(s);
    int rc = write_all(fd, s, n) || write_all(fd, "\n", 1) ? -1 : fsync(fd);
    int e = errno;
    if (close(fd) && !rc) {
        rc = -1;
        e = errno;
    }
    if (rc) {
        snprintf(err, errlen, "write %s: %s", tmp, strerror(e));
        unlink(tmp);
        return -1;
    }
    /* The new record is whole on the disk: now it replaces the old one. */
    if (unlink(path) && errno != ENOENT) {
        snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
        return -1;
    }
    if (rename(tmp, path)) {
        snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
        return -1;
    }
    /* The rename is not made durable here: diskfs's fsync commits a
     * file, not the directory entries link and unlink changed (test
     * agent-persist saw a crash leave the .new); persist_load takes a
     * whole .new as the record. */
    return 0;
}

int persist_remove(const char *dir, const uint8_t uuid[16], char *err, size_t errlen)
{
    char u[37], path[160], tmp[170];
    fmt_uuid(uuid, u);
    snprintf(path, sizeof(path), "%s/%s.json", dir, u);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    if (unlink(tmp) && errno != ENOENT) {
        snprintf(err, errlen, "unlink %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (unlink(path) && errno != ENOENT) {
        snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

char *persist_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errlen, "open: %s", strerror(errno));
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = 0;
    ssize_t r = 0;
    while (buf && n <= max && (r = read(fd, buf + n, max + 1 - n)) > 0)
        n += (size_t)r;
    int e = errno;
    close(fd);
    if (!buf || r < 0) {
        snprintf(err, errlen, "read: %s", buf ? strerror(e) : "no memory");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int persist_read_newest(const char *path, size_t max,
                        int (*take)(const char *text, size_t len, void *ctx, char *err, size_t errlen),
                        void *ctx, void (*log)(const char *msg), char *from, size_t fromlen)
{
    char paths[2][200], err[200], msg[460];
    snprintf(paths[0], sizeof(paths[0]), "%s.new", path);
    snprintf(paths[1], sizeof(paths[1]), "%s", path);
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *text = persist_read_file(paths[i], max, &len, err, sizeof(err));
        if (!text) {
            if (strcmp(err, "open: No such file or directory")) {
                snprintf(msg, sizeof(msg), "%s: %s", paths[i], err);
                log(msg);
            }
            continue;
        }
        int rc = -1;
        if (len > max)
            snprintf(err, sizeof(err), "more than %zu bytes", max);
        else
            rc = take(text, len, ctx, err, sizeof(err));
        free(text);
        if (!rc) {
            snprintf(from, fromlen, "%s", paths[i]);
            return 0;
        }
        snprintf(msg, sizeof(msg), "%s: %s (not used)", paths[i], err);
        log(msg);
    }
    return -1;
}

/* Reads path (at most PERSIST_MAX + 1 bytes) and decodes it; 0, or -1
 * with the reason in err. */
static int load_one(const char *path, int (*kernel_known)(const char *), struct agent_vmdef *out,
                    char *err, size_t errlen)
{
    size_t len;
    char *buf = persist_read_file(path, PERSIST_MAX, &len, err, errlen);
    if (!buf)
        return -1;
    int rc = persist_decode(buf, len, kernel_known, out, err, errlen);
    free(buf);
    return rc;
}

int persist_load(const char *dir, struct agent_vmdef **vms, unsigned max,
                 int (*kernel_known)(const char *), void (*log)(const char *msg))
{
    char msg[400], err[200];
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(msg, sizeof(msg), "cannot read %s: %s", dir, strerror(errno));
        log(msg);
        return -1;
    }
    /* The names first: the directory is a snapshot, and the files are
     * read (and stale ones unlinked) after. */
    size_t cap = 16, n = 0;
    char (*names)[64] = malloc(cap * sizeof(*names));
    struct dirent *e;
    while (names && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        int is_new = l == 36 + 9 && !strcmp(e->d_name + 36, ".json.new");
        if (!is_new && !(l == 36 + 5 && !strcmp(e->d_name + 36, ".json"))) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "lost+found")) {
                snprintf(msg, sizeof(msg), "%s/%.64s: not a VM record (skipped)", dir, e->d_name);
                log(msg);
            }
            continue;
        }
        if (n == cap) {
            void *nn = realloc(names, (cap *= 2) * sizeof(*names));
            if (!nn) {
                free(names);
                names = NULL;
                break;
            }
            names = nn;
        }
        memcpy(names[n++], e->d_name, l + 1);
    }
    closedir(d);
    if (!names) {
        log("no memory for the record list");
        return -1;
    }
    int loaded = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        int is_new = l == 36 + 9;
        char path[200], other[200];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        /* A whole .new record wins over its .json (the save got as far as
         * the fsync); a .json whose .new is whole is skipped. */
        snprintf(other, sizeof(other), "%s/%.36s%s", dir, names[i], is_new ? ".json" : ".json.new");
        struct agent_vmdef v;
        if (load_one(path, kernel_known, &v, err, sizeof(err))) {
            snprintf(msg, sizeof(msg), "%s: %s (skipped)", path, err);
            log(msg);
            continue;
        }
        char u[37];
        fmt_uuid(v.uuid, u);
        if (strncmp(u, names[i], 36)) {
            snprintf(msg, sizeof(msg), "%s: holds the record of %s (skipped)", path, u);
            log(msg);
            continue;
        }
        if (!is_new) {
            struct agent_vmdef nv;
            if (!load_one(other, kernel_known, &nv, err, sizeof(err)) && !memcmp(nv.uuid, v.uuid, 16))
                continue;   /* its .new is the record */
        }
        int dup = 0;
        for (unsigned k = 0; k < max; k++)
            dup |= vms[k] && vms[k]->used && !memcmp(vms[k]->uuid, v.uuid, 16);
        if (dup)
            continue;
        unsigned k = 0;
        while (k < max && vms[k] && vms[k]->used)
            k++;
        if (k < max && !vms[k])
            vms[k] = malloc(sizeof(*vms[k]));
        if (k < max && !vms[k]) {
            snprintf(msg, sizeof(msg), "%s: no memory for it (skipped)", path);
            log(msg);
            continue;
        }
        if (k == max) {
            snprintf(msg, sizeof(msg), "%s: the agent holds at most %u VMs (skipped)", path, max);
            log(msg);
            continue;
        }
        *vms[k] = v;
        loaded++;
    }
    free(names);
    return loaded;
}
