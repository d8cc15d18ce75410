/* test_devices.c: host unit test (ASan/UBSan) of devices.c on a fake
 * hypervisor: the network and VIF classes, every VIF.create and
 * VIF.destroy refusal, a VM's VIFs in its record, a start with VIFs, no
 * networks at all, and a seeded loop of mutated VIF.create records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent.h"
#include "unit.h"

static struct agent_dom doms[8];
static int ndoms;
static int nnets = 2;

static int f_list(void *ctx, struct agent_dom *out, unsigned max)
{
    (void)ctx;
    int n = ndoms < (int)max ? ndoms : (int)max;
    memcpy(out, doms, sizeof(doms[0]) * (size_t)n);
    return n;
}
static int f_phys(void *ctx, struct agent_hostinfo *h)
{
    (void)ctx;
    memset(h, 0, sizeof(*h));
    return 0;
}
static int f_nop(void *ctx, uint32_t id)
{
    (void)ctx;
    for (int i = 0; i < ndoms; i++)
        if (doms[i].domid == id)
            doms[i] = doms[--ndoms];
    return 0;
}
static int started_vifs;
static int f_start(void *ctx, const struct agent_vmdef *vm, int paused, uint32_t *domid,
                   char *err, size_t errlen)
{
    (void)ctx, (void)err, (void)errlen;
    struct agent_dom *d = &doms[ndoms++];
    *d = (struct agent_dom){ .domid = 9, .paused = paused, .max_pages = 256, .tot_pages = 256,
                             .max_vcpus = 1, .online_vcpus = 1 };
    memcpy(d->handle, vm->uuid, 16);
    started_vifs = 0;
    for (int i = 0; i < AGENT_VM_VIFS; i++)
        started_vifs += vm->vifs[i].used;
    *domid = 9;
    return 0;
}
static int f_known(const char *name)
{
    return !strcmp(name, "httpd");
}
static int f_nets(void *ctx, struct agent_net *out, unsigned max)
{
    (void)ctx;
    if (max < 2)
        return 0;
    snprintf(out[0].name, sizeof(out[0].name), "netback");
    out[0].domid = 2;
    snprintf(out[1].name, sizeof(out[1].name), "nb2");
    out[1].domid = 3;
    return nnets;
}
static long sr_dom = 4;
static long f_disk(void *ctx)
{
    (void)ctx;
    return sr_dom;
}
static struct agent_hv hv = { .self = 1, .list = f_list, .physinfo = f_phys, .pause = f_nop,
                              .unpause = f_nop, .destroy = f_nop, .start = f_start,
                              .kernel_known = f_known, .kernel_names = "httpd",
                              .networks = f_nets, .disk_backend = f_disk };
static uint64_t now(void)
{
    return 1000;
}
static int ent(void *ctx, unsigned char *out, size_t len, size_t *olen)
{
    static unsigned char x = 7;
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = x = (unsigned char)(x * 73 + 41);
    *olen = len;
    return 0;
}
static struct agent_api api;
static char sess[64];

/* Calls method with params (JSON text, the session first as "S");
 * the result or the failure array (a new reference); *failed set. */
static json_t *call(const char *method, const char *params, int *failed)
{
    char buf[4096];
    const char *p = strstr(params, "\"S\"");
    if (p)
        snprintf(buf, sizeof(buf), "%.*s\"%s\"%s", (int)(p - params), params, sess, p + 3);
    else
        snprintf(buf, sizeof(buf), "%s", params);
    json_error_t e;
    json_t *a = json_loads(buf, JSON_ALLOW_NUL, &e), *r = NULL;
    if (!a) {
        fprintf(stderr, "bad test JSON %s: %s\n", buf, e.text);
        exit(2);
    }
    *failed = api_call(&api, method, a, &r);
    json_decref(a);
    return r;
}

static char *ok(const char *method, const char *params)
{
    int f;
    json_t *r = call(method, params, &f);
    char *s = json_dumps(r, JSON_ENCODE_ANY | JSON_COMPACT);
    if (f)
        fprintf(stderr, "%s %s failed: %s\n", method, params, s);
    EXPECT(!f);
    json_decref(r);
    return s;
}

/* The call fails with exactly want (a JSON array). */
static void refused(const char *method, const char *params, const char *want)
{
    int f;
    json_t *r = call(method, params, &f);
    char *s = json_dumps(r, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!f || strcmp(s, want))
        fprintf(stderr, "%s %s: got %s, expected %s\n", method, params, s, want);
    EXPECT(f && !strcmp(s, want));
    free(s);
    json_decref(r);
}

/* A string result without its quotes. */
static void unq(char *s)
{
    size_t n = strlen(s);
    memmove(s, s + 1, n - 2);
    s[n - 2] = 0;
}

/* SR, VDI and VBD: records, refusals, the wiring handed to VM.start. */
static void test_disks(const char *vm)
{
    char p[1024], sr[64], vdi[64], vbd[64], w[256];
    int f;
    char *r = ok("SR.get_all", "[\"S\"]");
    EXPECT(sscanf(r, "[\"%63[^\"]\"]", sr) == 1);
    free(r);
    sr_dom = -1;
    r = ok("SR.get_all", "[\"S\"]");
    EXPECT(!strcmp(r, "[]"));
    free(r);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", sr);
    snprintf(w, sizeof(w), "[\"HANDLE_INVALID\",\"SR\",\"%s\"]", sr);
    refused("SR.get_record", p, w);
    sr_dom = 4;
    r = ok("SR.get_record", p);
    EXPECT(strstr(r, "\"type\":\"tapdisk\"") && strstr(r, "\"VDIs\":[]"));
    free(r);
#define INTRO(uuid, srr, loc, ro) (snprintf(p, sizeof(p), \
    "[\"S\",\"%s\",\"disk\",\"\",\"%s\",\"user\",false,%s,{},\"%s\",{},{}]", uuid, srr, ro, loc), p)
    refused("VDI.introduce", "[\"S\",\"\",\"d\",\"\",\"x\",\"user\",false,true,{},\"/a\",{}]",
            "[\"MESSAGE_PARAMETER_COUNT_MISMATCH\",\"VDI.introduce\",\"19\",\"11\"]");
    refused("VDI.introduce", INTRO("", "OpaqueRef:q", "/a.img", "true"), "[\"HANDLE_INVALID\",\"SR\",\"OpaqueRef:q\"]");
    refused("VDI.introduce", INTRO("", sr, "/a.img", "0"), "[\"FIELD_TYPE_ERROR\",\"read_only\"]");
    const char *bad[] = { "a.img", "/", "/a/../b", "//a", "/a b", "/a\\u0001" };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *res = call("VDI.introduce", INTRO("", sr, bad[i], "true"), &f);
        EXPECT(f && !strcmp(json_string_value(json_array_get(res, 0)), "INVALID_VALUE"));
        json_decref(res);
    }
    char longloc[200];
    memset(longloc, 'a', sizeof(longloc));
    longloc[0] = '/';
    longloc[AGENT_VDI_LOC_MAX] = 0;
    json_t *res = call("VDI.introduce", INTRO("", sr, longloc, "true"), &f);
    EXPECT(f && !strcmp(json_string_value(json_array_get(res, 0)), "INVALID_VALUE"));
    json_decref(res);
    refused("VDI.introduce", INTRO("ABCDEF00-0000-4000-8000-000000000000", sr, "/a.img", "true"),
            "[\"UUID_INVALID\",\"VDI\",\"ABCDEF00-0000-4000-8000-000000000000\"]");
    r = ok("VDI.introduce", INTRO("abcdef00-0000-4000-8000-000000000001", sr, "/imgs/a.img", "true"));
    EXPECT(!strcmp(r, "\"OpaqueRef:abcdef00-0000-4000-8000-000000000001\""));
    snprintf(vdi, sizeof(vdi), "%s", r);
    unq(vdi);
    free(r);
    refused("VDI.introduce", INTRO("abcdef00-0000-4000-8000-000000000001", sr, "/b.img", "true"),
            "[\"UUID_INVALID\",\"VDI\",\"abcdef00-0000-4000-8000-000000000001\"]");
    snprintf(w, sizeof(w), "[\"VDI_IN_USE\",\"%s\",\"introduce\"]", vdi);
    refused("VDI.introduce", INTRO("", sr, "/imgs/a.img", "false"), w);
    /* With the seven later parameters too. */
    snprintf(p, sizeof(p), "[\"S\",\"\",\"rw\",\"\",\"%s\",\"user\",false,false,{},\"/rw.img\",{},{},"
             "true,\"0\",\"0\",\"OpaqueRef:NULL\",false,\"\",\"OpaqueRef:NULL\"]", sr);
    char *rw = ok("VDI.introduce", p);
    unq(rw);

#define VBD(vmr, vdir, ud, mode, type) (snprintf(p, sizeof(p), \
    "[\"S\",{\"VM\":\"%s\",\"VDI\":\"%s\",\"userdevice\":\"%s\",\"mode\":\"%s\"%s}]", vmr, vdir, ud, mode, type), p)
    snprintf(w, sizeof(w), "[\"VDI_READONLY\",\"%s\"]", vdi);
    refused("VBD.create", VBD(vm, vdi, "0", "RW", ""), w);
    refused("VBD.create", VBD(vm, vdi, "16", "RO", ""), "[\"INVALID_DEVICE\",\"16\"]");
    refused("VBD.create", VBD(vm, vdi, "01", "RO", ""), "[\"INVALID_DEVICE\",\"01\"]");
    refused("VBD.create", VBD(vm, vdi, "-1", "RO", ""), "[\"INVALID_DEVICE\",\"-1\"]");
    refused("VBD.create", VBD(vm, vdi, "0", "ro", ""), "[\"INVALID_VALUE\",\"mode\",\"ro\"]");
    refused("VBD.create", VBD(vm, vdi, "0", "RO", ",\"type\":\"CD\""),
            "[\"VALUE_NOT_SUPPORTED\",\"type\",\"CD\",\"only Disk: tapdisk serves images\"]");
    refused("VBD.create", VBD(vm, vdi, "0", "RO", ",\"type\":1"), "[\"FIELD_TYPE_ERROR\",\"type\"]");
    refused("VBD.create", VBD(vm, "OpaqueRef:v", "0", "RO", ""), "[\"HANDLE_INVALID\",\"VDI\",\"OpaqueRef:v\"]");
    refused("VBD.create", VBD("OpaqueRef:m", vdi, "0", "RO", ""), "[\"HANDLE_INVALID\",\"VM\",\"OpaqueRef:m\"]");
    refused("VBD.create", "[\"S\",{\"VM\":\"x\"}]", "[\"FIELD_TYPE_ERROR\",\"VDI\"]");
    r = ok("VBD.create", VBD(vm, vdi, "0", "RO", ",\"type\":\"Disk\",\"bootable\":false"));
    snprintf(vbd, sizeof(vbd), "%s", r);
    unq(vbd);
    free(r);
    free(ok("VBD.create", VBD(vm, rw, "2", "RW", "")));
    refused("VBD.create", VBD(vm, rw, "0", "RW", ""), "[\"DEVICE_ALREADY_EXISTS\",\"0\"]");
    snprintf(w, sizeof(w), "[\"VDI_IN_USE\",\"%s\",\"forget\"]", vdi);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", vdi);
    refused("VDI.forget", p, w);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", vbd);
    r = ok("VBD.get_record", p);
    EXPECT(strstr(r, "\"device\":\"xvda\"") && strstr(r, "\"mode\":\"RO\"") &&
           strstr(r, "\"currently_attached\":false"));
    free(r);
    /* What VM.start wires. */
    struct agent_vmdef *def = NULL;
    for (int i = 0; i < AGENT_MAX_VMDEFS; i++)
        if (api_vm(&api, i))
            def = api_vm(&api, i);
    struct agent_vbd_wire wire[4];
    EXPECT(devices_vbds_of(def->uuid, wire, 4) == 2);
    EXPECT(wire[0].userdevice == 0 && wire[0].ro && !strcmp(wire[0].location, "/imgs/a.img"));
    EXPECT(wire[1].userdevice == 2 && !wire[1].ro && !strcmp(wire[1].location, "/rw.img"));
    EXPECT(devices_vbds_of(def->uuid, wire, 1) == 1);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", vm);
    r = ok("VM.get_VBDs", p);
    EXPECT(strstr(r, vbd) != NULL);
    free(r);
    r = ok("VDI.get_VBDs", (snprintf(p, sizeof(p), "[\"S\",\"%s\"]", vdi), p));
    EXPECT(strstr(r, vbd) != NULL);
    free(r);
    /* Mutated VBD.create records. */
    const char *keys[] = { "VM", "VDI", "userdevice", "mode", "type", "x" };
    const char *vals[] = { "\"0\"", "\"15\"", "\"RO\"", "\"RW\"", "\"Disk\"", "null", "[]", "7", "\"\"" };
    srand(17);
    for (int i = 0; i < 2000; i++) {
        char b[1024];
        int n = snprintf(b, sizeof(b), "[\"S\",{");
        int k = rand() % 6;
        for (int j = 0; j < k; j++) {
            const char *key = keys[rand() % 6];
            int pick = rand() % 4;
            const char *val = pick == 0 ? vm : pick == 1 ? rw : vals[rand() % 9];
            int q = pick < 2;
            if (!strstr(b, key))
                n += snprintf(b + n, sizeof(b) - (size_t)n, "%s\"%s\":%s%s%s", j ? "," : "", key,
                              q ? "\"" : "", val, q ? "\"" : "");
        }
        snprintf(b + n, sizeof(b) - (size_t)n, "}]");
        json_t *res2 = call("VBD.create", b, &f);
        EXPECT(res2 != NULL);
        if (!f) {
            char d[128];
            snprintf(d, sizeof(d), "[\"S\",\"%s\"]", json_string_value(res2));
            free(ok("VBD.destroy", d));
        }
        json_decref(res2);
    }
    /* VM.destroy takes its VBDs: the VDIs can be forgotten. */
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", vm);
    free(ok("VM.destroy", p));
    snprintf(w, sizeof(w), "[\"HANDLE_INVALID\",\"VBD\",\"%s\"]", vbd);
    refused("VBD.get_record", (snprintf(p, sizeof(p), "[\"S\",\"%s\"]", vbd), p), w);
    free(ok("VDI.forget", (snprintf(p, sizeof(p), "[\"S\",\"%s\"]", vdi), p)));
    free(ok("VDI.forget", (snprintf(p, sizeof(p), "[\"S\",\"%s\"]", rw), p)));
    free(rw);
    r = ok("VDI.get_all", "[\"S\"]");
    EXPECT(!strcmp(r, "[]"));
    free(r);
}

/* The VDIs and VBDs on the agent's disk (devices_save/devices_load):
 * saved after each change, loaded back whole; a hostile table's bad
 * entries skipped with their reasons, the good ones taken; a whole .new
 * wins, a broken one does not. */
static int nlog;
static char lastlog[512];
static void dlog(const char *m)
{
    nlog++;
    snprintf(lastlog, sizeof(lastlog), "%s", m);
    fprintf(stderr, "devices: %s\n", m);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char b[65536];
    size_t n = fread(b, 1, sizeof(b) - 1, f);
    fclose(f);
    b[n] = 0;
    return strdup(b);
}

static void spit(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    EXPECT(f != NULL);
    if (f) {
        fputs(s, f);
        fclose(f);
    }
}

static unsigned count(const char *method, const char *params)
{
    char *r = ok(method, params);
    json_t *j = json_loads(r, 0, NULL);
    unsigned n = (unsigned)json_array_size(j);
    json_decref(j);
    free(r);
    return n;
}

static void test_disk_table(void)
{
    char dir[] = "/tmp/test_devices.XXXXXX", p[1024], sr[64];
    EXPECT(mkdtemp(dir) != NULL);
    snprintf(api.devices_path, sizeof(api.devices_path), "%s/devices.json", dir);
    sr_dom = 4;
    char *r = ok("SR.get_all", "[\"S\"]");
    EXPECT(sscanf(r, "[\"%63[^\"]\"]", sr) == 1);
    free(r);
    char *vm = ok("VM.create", "[\"S\",{\"name_label\":\"dt\",\"memory_static_max\":16777216,"
                               "\"PV_kernel\":\"httpd\"}]");
    char vmref[64];
    EXPECT(sscanf(vm, "\"%63[^\"]\"", vmref) == 1);
    char *rw = ok("VDI.introduce", INTRO("", sr, "/t/rw.img", "false"));
    char *ro = ok("VDI.introduce", INTRO("", sr, "/t/ro.img", "true"));
    snprintf(p, sizeof(p), "[\"S\",{\"VM\":\"%s\",\"VDI\":%s,\"userdevice\":\"0\",\"mode\":\"RW\"}]",
             vmref, rw);
    char *b0 = ok("VBD.create", p);
    snprintf(p, sizeof(p), "[\"S\",{\"VM\":\"%s\",\"VDI\":%s,\"userdevice\":\"1\",\"mode\":\"RO\"}]",
             vmref, ro);
    char *b1 = ok("VBD.create", p);
    char *saved = slurp(api.devices_path);
    EXPECT(saved && strstr(saved, "\"location\":\"/t/rw.img\"") && strstr(saved, "\"mode\":\"RO\""));
    /* Emptied through the API: the file follows. */
    free(ok("VBD.destroy", (snprintf(p, sizeof(p), "[\"S\",%s]", b0), p)));
    free(ok("VBD.destroy", (snprintf(p, sizeof(p), "[\"S\",%s]", b1), p)));
    free(ok("VDI.forget", (snprintf(p, sizeof(p), "[\"S\",%s]", rw), p)));
    free(ok("VDI.forget", (snprintf(p, sizeof(p), "[\"S\",%s]", ro), p)));
    char *empty = slurp(api.devices_path);
    EXPECT(empty && strstr(empty, "\"VBDs\":[]") && strstr(empty, "\"VDIs\":[]"));
    free(empty);
    /* The saved table loaded back: both VDIs, both VBDs, same refs. */
    spit(api.devices_path, saved);
    nlog = 0;
    EXPECT(devices_load(&api, dlog) == 4);
    EXPECT(nlog == 1 && strstr(lastlog, "2 VDIs and 2 VBDs loaded"));
    EXPECT(count("VDI.get_all", "[\"S\"]") == 2);
    EXPECT(count("VM.get_VBDs", (snprintf(p, sizeof(p), "[\"S\",%s]", vm), p)) == 2);
    r = ok("VBD.get_mode", (snprintf(p, sizeof(p), "[\"S\",%s]", b1), p));
    EXPECT(!strcmp(r, "\"RO\""));
    free(r);
    free(ok("VBD.destroy", (snprintf(p, sizeof(p), "[\"S\",%s]", b0), p)));
    free(ok("VBD.destroy", (snprintf(p, sizeof(p), "[\"S\",%s]", b1), p)));
    free(ok("VDI.forget", (snprintf(p, sizeof(p), "[\"S\",%s]", rw), p)));
    free(ok("VDI.forget", (snprintf(p, sizeof(p), "[\"S\",%s]", ro), p)));
    /* A hostile table: only the two good entries are taken. */
    char vmu[37];
    snprintf(vmu, sizeof(vmu), "%.36s", vmref + 10);
    static const char A[] = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", B[] = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
    static char big[4096];
    snprintf(big, sizeof(big),
             "{\"version\":1,\"VDIs\":["
             "{\"uuid\":\"%s\",\"name_label\":\"a\",\"location\":\"/a.img\",\"read_only\":true},"
             "{\"uuid\":\"nope\",\"name_label\":\"x\",\"location\":\"/x.img\",\"read_only\":true},"
             "{\"uuid\":\"%s\",\"name_label\":\"b\",\"location\":\"/../b.img\",\"read_only\":true},"
             "{\"uuid\":\"%s\",\"name_label\":\"b\",\"location\":\"/a.img\",\"read_only\":true},"
             "{\"uuid\":\"%s\",\"name_label\":\"a2\",\"location\":\"/a2.img\",\"read_only\":true},"
             "7],\"VBDs\":["
             "{\"uuid\":\"%s\",\"VM\":\"%s\",\"VDI\":\"%s\",\"userdevice\":3,\"mode\":\"RO\"},"
             "{\"uuid\":\"%s\",\"VM\":\"%s\",\"VDI\":\"%s\",\"userdevice\":3,\"mode\":\"RO\"},"
             "{\"uuid\":\"%s\",\"VM\":\"%s\",\"VDI\":\"%s\",\"userdevice\":4,\"mode\":\"RW\"},"
             "{\"uuid\":\"%s\",\"VM\":\"%s\",\"VDI\":\"%s\",\"userdevice\":16,\"mode\":\"RO\"},"
             "{\"uuid\":\"%s\",\"VM\":\"%s\",\"VDI\":\"%s\",\"userdevice\":5,\"mode\":\"RO\"}]}",
             A, B, B, "cccccccc-cccc-4ccc-8ccc-cccccccccccc",
             B, vmu, A,
             "dddddddd-dddd-4ddd-8ddd-dddddddddddd", vmu, A,       /* the same userdevice */
             "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee", vmu, A,       /* RW on a read-only VDI */
             "ffffffff-ffff-4fff-8fff-ffffffffffff", vmu, A,       /* userdevice 16 */
             "99999999-9999-4999-8999-999999999999", A, A);        /* no such VM */
    spit(api.devices_path, big);
    nlog = 0;
    EXPECT(devices_load(&api, dlog) == 3);                   /* VDIs a, a2; VBD 3 */
    EXPECT(nlog == 9 && strstr(lastlog, "2 VDIs and 1 VBDs loaded"));
    EXPECT(count("VDI.get_all", "[\"S\"]") == 2);
    EXPECT(count("VM.get_VBDs", (snprintf(p, sizeof(p), "[\"S\",%s]", vm), p)) == 1);
    /* A whole .new wins; then an empty table saved by the API. */
    char newp[80];
    snprintf(newp, sizeof(newp), "%s.new", api.devices_path);
    free(ok("VM.destroy", (snprintf(p, sizeof(p), "[\"S\",%s]", vm), p)));   /* its VBD goes */
    r = ok("VDI.get_all", "[\"S\"]");
    json_t *all = json_loads(r, 0, NULL);
    free(r);
    for (size_t i = 0; i < json_array_size(all); i++)
        free(ok("VDI.forget", (snprintf(p, sizeof(p), "[\"S\",\"%s\"]",
                                        json_string_value(json_array_get(all, i))), p)));
    json_decref(all);
    spit(newp, saved);
    spit(api.devices_path, "{\"version\":1,\"VDIs\":[],\"VBDs\":[]}");
    nlog = 0;
    EXPECT(devices_load(&api, dlog) == 2);     /* the two VDIs; the VBDs' VM is gone */
    EXPECT(nlog == 3 && strstr(lastlog, ".new") != NULL);
    r = ok("VDI.get_all", "[\"S\"]");
    all = json_loads(r, 0, NULL);
    free(r);
    for (size_t i = 0; i < json_array_size(all); i++)
        free(ok("VDI.forget", (snprintf(p, sizeof(p), "[\"S\",\"%s\"]",
                                        json_string_value(json_array_get(all, i))), p)));
    json_decref(all);
    spit(newp, "{\"version\":1,\"VDIs\":[");          /* a torn .new: the .json */
    spit(api.devices_path, "{\"version\":1,\"VDIs\":[],\"VBDs\":[]}");
    nlog = 0;
    EXPECT(devices_load(&api, dlog) == 0);
    EXPECT(nlog == 2 && strstr(lastlog, "0 VDIs and 0 VBDs loaded from") &&
           !strstr(lastlog, ".new"));
    unlink(newp);
    unlink(api.devices_path);
    rmdir(dir);
    api.devices_path[0] = 0;
    free(saved);
    free(vm);
    free(rw);
    free(ro);
    free(b0);
    free(b1);
}

int main(void)
{
    char err[200];
    struct agent_auth *a = auth_create("root", (char[]){ "pw" }, 1000, 1800, ent, NULL, err, sizeof(err));
    EXPECT(a);
    doms[ndoms++] = (struct agent_dom){ .domid = 1, .max_vcpus = 1 };
    doms[ndoms++] = (struct agent_dom){ .domid = 2, .max_vcpus = 1 };
    snprintf(doms[1].name, sizeof(doms[1].name), "netback");
    api_init(&api, &hv, a, now, "keel", "");
    int f;
    json_t *s = call("session.login_with_password", "[\"root\",\"pw\"]", &f);
    snprintf(sess, sizeof(sess), "%s", json_string_value(s));
    json_decref(s);

    /* Networks. */
    char *nets = ok("network.get_all", "[\"S\"]");
    char net[64], net2[64], vm[64], boot[64], v0[64], v1[64], p[1024];
    EXPECT(sscanf(nets, "[\"%63[^\"]\",\"%63[^\"]\"]", net, net2) == 2);
    free(nets);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", net);
    char *rec = ok("network.get_record", p);
    EXPECT(strstr(rec, "\"bridge\":\"netback\"") && strstr(rec, "\"VIFs\":[]"));
    free(rec);
    char *lab = ok("network.get_by_name_label", "[\"S\",\"nb2\"]");
    snprintf(p, sizeof(p), "[\"%s\"]", net2);
    EXPECT(!strcmp(lab, p));
    free(lab);
    refused("network.get_record", "[\"S\",\"OpaqueRef:x\"]", "[\"HANDLE_INVALID\",\"network\",\"OpaqueRef:x\"]");
    refused("network.get_by_uuid", "[\"S\",\"x\"]", "[\"UUID_INVALID\",\"network\",\"x\"]");
    refused("network.get_record", "[\"S\",5]", "[\"FIELD_TYPE_ERROR\",\"self\"]");
    refused("network.get_all", "[\"nope\"]", "[\"SESSION_INVALID\",\"nope\"]");
    refused("network.get_all", "[\"S\",1]", "[\"MESSAGE_PARAMETER_COUNT_MISMATCH\",\"network.get_all\",\"1\",\"2\"]");

    /* A VM, and the boot domain netback. */
    char *r = ok("VM.create", "[\"S\",{\"name_label\":\"web\",\"memory_static_max\":1048576,\"PV_kernel\":\"httpd\"}]");
    snprintf(vm, sizeof(vm), "%s", r);
    unq(vm);
    free(r);
    r = ok("VM.get_by_name_label", "[\"S\",\"netback\"]");
    EXPECT(sscanf(r, "[\"%63[^\"]\"]", boot) == 1);
    free(r);

#define VIF(vmr, netr, dev, extra) \
    (snprintf(p, sizeof(p), "[\"S\",{\"VM\":\"%s\",\"network\":\"%s\",\"device\":\"%s\"%s}]", vmr, netr, dev, extra), p)
    refused("VIF.create", VIF("OpaqueRef:x", net, "0", ""), "[\"HANDLE_INVALID\",\"VM\",\"OpaqueRef:x\"]");
    refused("VIF.create", VIF(vm, "OpaqueRef:y", "0", ""), "[\"HANDLE_INVALID\",\"network\",\"OpaqueRef:y\"]");
    refused("VIF.create", VIF(boot, net, "0", ""),
            "[\"OPERATION_NOT_ALLOWED\",\"the devices of a boot domain come from its boot line\"]");
    refused("VIF.create", VIF(vm, net, "4", ""), "[\"INVALID_DEVICE\",\"4\"]");
    refused("VIF.create", VIF(vm, net, "", ""), "[\"INVALID_DEVICE\",\"\"]");
    refused("VIF.create", VIF(vm, net, "00", ""), "[\"INVALID_DEVICE\",\"00\"]");
    refused("VIF.create", VIF(vm, net, "0", ",\"MAC\":\"03:00:00:00:00:00\""), "[\"MAC_INVALID\",\"03:00:00:00:00:00\"]");
    refused("VIF.create", VIF(vm, net, "0", ",\"MAC\":\"00:00:00:00:00:0g\""), "[\"MAC_INVALID\",\"00:00:00:00:00:0g\"]");
    refused("VIF.create", VIF(vm, net, "0", ",\"MAC\":\"00:00:00:00:00:00:\""), "[\"MAC_INVALID\",\"00:00:00:00:00:00:\"]");
    refused("VIF.create", VIF(vm, net, "0", ",\"MAC\":\"00:00:00:00:00:0\\u0000\""), "[\"MAC_INVALID\",\"00:00:00:00:00:0\"]");
    refused("VIF.create", VIF(vm, net, "0", ",\"MTU\":67"), "[\"INVALID_VALUE\",\"MTU\",\"67\"]");
    refused("VIF.create", VIF(vm, net, "0", ",\"MTU\":1501"), "[\"INVALID_VALUE\",\"MTU\",\"1501\"]");
    refused("VIF.create", VIF(vm, net, "0", ",\"MTU\":\"\""), "[\"INVALID_VALUE\",\"MTU\",\"\"]");
    refused("VIF.create", VIF(vm, net, "0", ",\"MTU\":1.5"), "[\"FIELD_TYPE_ERROR\",\"MTU\"]");
    refused("VIF.create", VIF(vm, net, "0", ",\"MAC\":null"), "[\"FIELD_TYPE_ERROR\",\"MAC\"]");
    refused("VIF.create", VIF(vm, net, "0", ",\"other_config\":[]"), "[\"FIELD_TYPE_ERROR\",\"other_config\"]");
    refused("VIF.create", "[\"S\",{\"network\":\"x\",\"device\":\"0\"}]", "[\"FIELD_TYPE_ERROR\",\"VM\"]");
    refused("VIF.create", "[\"S\",{\"VM\":\"x\",\"network\":\"x\"}]", "[\"FIELD_TYPE_ERROR\",\"device\"]");
    refused("VIF.create", "[\"S\",[]]", "[\"FIELD_TYPE_ERROR\",\"args\"]");

    /* Created: a derived MAC, stable per VM and device. */
    r = ok("VIF.create", VIF(vm, net, "0", ",\"MTU\":\"1400\",\"qos_algorithm_type\":\"\""));
    snprintf(v0, sizeof(v0), "%s", r);
    unq(v0);
    free(r);
    refused("VIF.create", VIF(vm, net2, "0", ""), "[\"DEVICE_ALREADY_EXISTS\",\"0\"]");
    r = ok("VIF.create", VIF(vm, net2, "3", ",\"MAC\":\"AA:bb:CC:00:00:01\""));
    snprintf(v1, sizeof(v1), "%s", r);
    unq(v1);
    free(r);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", v0);
    rec = ok("VIF.get_record", p);
    char mac[18], want[18];
    const char *m = strstr(rec, "\"MAC\":\"");
    EXPECT(m && sscanf(m, "\"MAC\":\"%17[^\"]", mac) == 1);
    struct agent_vmdef *def = NULL;
    for (int i = 0; i < AGENT_MAX_VMDEFS; i++)
        if (api_vm(&api, i))
            def = api_vm(&api, i);
    devices_default_mac(def->uuid, 0, want);
    EXPECT(!strcmp(mac, want) && !strncmp(mac, "00:16:3e:", 9));
    EXPECT(strstr(rec, "\"MTU\":1400") && strstr(rec, "\"MAC_autogenerated\":true") &&
           strstr(rec, "\"currently_attached\":false") && strstr(rec, "\"device\":\"0\""));
    free(rec);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", v1);
    r = ok("VIF.get_MAC", p);
    EXPECT(!strcmp(r, "\"aa:bb:cc:00:00:01\""));
    free(r);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", vm);
    r = ok("VM.get_VIFs", p);
    EXPECT(strstr(r, v0) && strstr(r, v1));
    free(r);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", net2);
    r = ok("network.get_VIFs", p);
    EXPECT(strstr(r, v1) && !strstr(r, v0));
    free(r);
    char *all = ok("VIF.get_all_records", "[\"S\"]");
    EXPECT(strstr(all, v0) && strstr(all, v1));
    free(all);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", v0 + 10);
    r = ok("VIF.get_by_uuid", p);
    EXPECT(strstr(r, v0) != NULL);
    free(r);
    refused("VIF.get_by_uuid", "[\"S\",\"0000\"]", "[\"UUID_INVALID\",\"VIF\",\"0000\"]");

    /* Started: both VIFs given to the start; changes refused. */
    snprintf(p, sizeof(p), "[\"S\",\"%s\",false,false]", vm);
    free(ok("VM.start", p));
    EXPECT(started_vifs == 2);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", v0);
    rec = ok("VIF.get_currently_attached", p);
    EXPECT(!strcmp(rec, "true"));
    free(rec);
    char w2[160];
    snprintf(w2, sizeof(w2), "[\"VM_BAD_POWER_STATE\",\"%s\",\"halted\",\"running\"]", vm);
    refused("VIF.destroy", p, w2);
    refused("VIF.create", VIF(vm, net, "1", ""), w2);
    f_nop(NULL, 9);   /* the domain is gone */
    /* The Halted VM's kept record (api_vm_changed) follows its VIFs:
     * listed once, then one destroyed and the lists asked again. */
    char *before = ok("VM.get_all_records", "[\"S\"]");
    EXPECT(strstr(before, v0) && strstr(before, v1));
    free(before);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", v1);
    free(ok("VIF.destroy", p));
    char *after = ok("VM.get_all_records", "[\"S\"]");
    EXPECT(strstr(after, v0) && !strstr(after, v1));
    free(after);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", vm);
    after = ok("VM.get_VIFs", p);
    EXPECT(strstr(after, v0) && !strstr(after, v1));
    free(after);
    snprintf(p, sizeof(p), "[\"S\",\"%s\"]", v1);
    refused("VIF.destroy", p, (snprintf(w2, sizeof(w2), "[\"HANDLE_INVALID\",\"VIF\",\"%s\"]", v1), w2));
    refused("VIF.get_record", "[\"S\",\"OpaqueRef:z\"]", "[\"HANDLE_INVALID\",\"VIF\",\"OpaqueRef:z\"]");

    /* No networks: the VIF keeps its network's name; new ones refused. */
    nnets = 0;
    r = ok("network.get_all", "[\"S\"]");
    EXPECT(!strcmp(r, "[]"));
    free(r);
    snprintf(p, sizeof(p), "[\"HANDLE_INVALID\",\"network\",\"%s\"]", net);
    snprintf(w2, sizeof(w2), "%s", p);
    refused("VIF.create", VIF(vm, net, "1", ""), w2);
    nnets = 2;

    /* Mutated records: never a crash, always an answer. */
    srand(13);
    const char *keys[] = { "VM", "network", "device", "MAC", "MTU", "other_config", "x" };
    const char *vals[] = { "\"0\"", "1", "null", "{}", "[]", "\"\"", "\"00:16:3e:00:00:00\"", "1500",
                           "\"-1\"", "\"99999999999999999999\"", "true", "\"OpaqueRef:NULL\"" };
    for (int i = 0; i < 3000; i++) {
        char b[1024];
        int n = snprintf(b, sizeof(b), "[\"S\",{");
        int k = rand() % 6;
        for (int j = 0; j < k; j++) {
            const char *key = keys[rand() % 7];
            const char *val = rand() % 3 == 0 ? (rand() % 2 ? vm : net) : vals[rand() % 12];
            int q = val == vm || val == net;
            if (strstr(b, key) == NULL)
                n += snprintf(b + n, sizeof(b) - (size_t)n, "%s\"%s\":%s%s%s", j ? "," : "", key,
                              q ? "\"" : "", val, q ? "\"" : "");
        }
        snprintf(b + n, sizeof(b) - (size_t)n, "}]");
        json_t *res = call("VIF.create", b, &f);
        EXPECT(res != NULL);
        if (!f) {   /* one that was accepted is destroyed again */
            char d[128];
            snprintf(d, sizeof(d), "[\"S\",\"%s\"]", json_string_value(res));
            free(ok("VIF.destroy", d));
        }
        json_decref(res);
    }
    test_disks(vm);
    test_disk_table();
    events_free(&api);
    auth_free(a);
    UNIT_DONE();
}
