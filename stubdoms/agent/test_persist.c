/* test_persist.c: host unit test of persist.c (ASan/UBSan): the record
 * codec round trip and every refusal of persist_decode, then save, load,
 * remove in a temporary directory, a crash between the steps of a save,
 * and corrupt, foreign and misnamed files skipped with their log lines. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"
#include "unit.h"

static int known(const char *name)
{
    return !strcmp(name, "hello");
}

static char logbuf[8192];
static unsigned nlogs;
static void logf_(const char *msg)
{
    nlogs++;
    size_t l = strlen(logbuf);
    snprintf(logbuf + l, sizeof(logbuf) - l, "%s\n", msg);
}

static const char *good =
    "{\"version\":1,\"uuid\":\"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0\",\"name_label\":\"web\","
    "\"memory_static_max\":\"2097152\",\"VCPUs_max\":2,\"PV_kernel\":\"hello\",\"PV_args\":\"a=1\","
    "\"other_config\":{\"auto_poweron\":\"true\"}}";

/* good with the text from..to (the first occurrence of from) replaced. */
static int decode_with(const char *from, const char *to, char *err)
{
    char buf[2048];
    const char *p = strstr(good, from);
    if (!p) {
        fprintf(stderr, "no %s in the record\n", from);
        return 99;
    }
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
    struct agent_vmdef v;
    int rc = persist_decode(buf, strlen(buf), known, &v, err, 200);
    EXPECT(rc || v.used);
    return rc;
}

static void test_codec(void)
{
    struct agent_vmdef v, w;
    char err[200];
    EXPECT(persist_decode(good, strlen(good), known, &v, err, sizeof(err)) == 0);
    EXPECT(v.used && !strcmp(v.name, "web") && v.mem_bytes == 2097152 && v.vcpus == 2 &&
           !strcmp(v.kernel, "hello") && !strcmp(v.args, "a=1") && v.auto_poweron);
    EXPECT(v.uuid[0] == 0x0f && v.uuid[15] == 0xf0);
    char *s = persist_encode(&v);
    EXPECT(s && persist_decode(s, strlen(s), known, &w, err, sizeof(err)) == 0);
    EXPECT(!memcmp(&v, &w, sizeof(v)));
    free(s);
    v.auto_poweron = 0;
    v.args[0] = 0;
    s = persist_encode(&v);
    EXPECT(s && persist_decode(s, strlen(s), known, &w, err, sizeof(err)) == 0 && !w.auto_poweron &&
           !w.args[0]);
    free(s);

    /* Refusals, each with its reason. */
    static const struct { const char *from, *to, *why; } bad[] = {
        { "{\"version\"", "[\"version\"", "not JSON" },
        { "\"version\":1", "\"version\":2", "version" },
        { "\"version\":1", "\"version\":\"1\"", "version" },
        { "\"uuid\":\"0f1e2d3c", "\"uuid\":\"0f1e2d3", "uuid" },
        { "\"uuid\":\"0f1e2d3c", "\"uuid\":\"0f1e2d3x", "uuid: not a uuid" },
        { "-4b5a-", "x4b5ax", "uuid: not a uuid" },
        { "\"uuid\":\"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0\"", "\"uuid\":7", "uuid: not a string" },
        { "\"name_label\":\"web\"", "\"name_label\":\"\"", "name_label: empty" },
        { "\"name_label\":\"web\"", "\"name_label\":\"w\\u0000b\"", "is not allowed" },
        { "\"name_label\":\"web\"", "\"name_label\":\"a name that is longer than thirty-one bytes\"",
          "name_label: too long" },
        { "\"name_label\":\"web\",", "", "name_label: missing" },
        { "\"2097152\"", "2097152", "memory_static_max: not a string" },
        { "\"2097152\"", "\"2097153\"", "memory_static_max" },
        { "\"2097152\"", "\"4096\"", "memory_static_max" },
        { "\"2097152\"", "\"-2097152\"", "memory_static_max" },
        { "\"2097152\"", "\"+2097152\"", "memory_static_max" },
        { "\"2097152\"", "\"2097152 \"", "memory_static_max" },
        { "\"2097152\"", "\"99999999999999999999\"", "memory_static_max" },
        { "\"2097152\"", "\"134217728\"", "memory_static_max" },
        { "\"VCPUs_max\":2", "\"VCPUs_max\":0", "VCPUs_max" },
        { "\"VCPUs_max\":2", "\"VCPUs_max\":33", "VCPUs_max" },
        { "\"VCPUs_max\":2", "\"VCPUs_max\":\"2\"", "VCPUs_max" },
        { "\"PV_kernel\":\"hello\"", "\"PV_kernel\":\"/boot/vmlinuz\"", "PV_kernel: /boot/vmlinuz" },
        { "\"PV_kernel\":\"hello\"", "\"PV_kernel\":null", "PV_kernel: not a string" },
        { "\"PV_args\":\"a=1\"", "\"PV_args\":[]", "PV_args: not a string" },
        { "\"other_config\":{\"auto_poweron\":\"true\"}", "\"other_config\":[]", "other_config: not an object" },
        { "{\"auto_poweron\":\"true\"}", "{}", "auto_poweron: missing" },
        { "{\"auto_poweron\":\"true\"}", "{\"auto_poweron\":true}", "auto_poweron: not a string" },
        { "{\"auto_poweron\":\"true\"}", "{\"auto_poweron\":\"yes\"}", "auto_poweron: not" },
        { "\"version\":1,", "\"version\":1,\"version\":1,", "not JSON" },
        { "\"}}", "\"}", "not JSON" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        int rc = decode_with(bad[i].from, bad[i].to, err);
        if (rc != -1 || !strstr(err, bad[i].why))
            fprintf(stderr, "refusal %zu (%s): rc %d, \"%s\"\n", i, bad[i].why, rc, err);
        EXPECT(rc == -1 && strstr(err, bad[i].why));
    }
    EXPECT(persist_decode("", 0, known, &v, err, sizeof(err)) == -1 && strstr(err, "not JSON"));
    EXPECT(persist_decode("[1]", 3, known, &v, err, sizeof(err)) == -1 && strstr(err, "not a JSON object"));
    EXPECT(!v.used);
    char *big = malloc(PERSIST_MAX + 2);
    memset(big, ' ', PERSIST_MAX + 1);
    big[PERSIST_MAX + 1] = 0;
    memcpy(big, good, strlen(good));
    EXPECT(persist_decode(big, PERSIST_MAX + 1, known, &v, err, sizeof(err)) == -1 && strstr(err, "at most"));
    /* Within the limit the trailing blanks are fine. */
    EXPECT(persist_decode(big, PERSIST_MAX, known, &v, err, sizeof(err)) == 0);
    free(big);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[300];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    EXPECT(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int exists(const char *dir, const char *name)
{
    char p[300];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static void test_files(void)
{
    char dir[] = "/tmp/keel-persist-XXXXXX";
    EXPECT(mkdtemp(dir) != NULL);
    struct agent_vmdef slots[4], *vms[4], v;
    char err[200];
    for (int i = 0; i < 4; i++)
        vms[i] = &slots[i];
    memset(slots, 0, sizeof(slots));
    /* An empty directory: nothing. */
    EXPECT(persist_load(dir, vms, 4, known, logf_) == 0 && nlogs == 0);
    /* Save two, load them back. */
    EXPECT(persist_decode(good, strlen(good), known, &v, err, sizeof(err)) == 0);
    EXPECT(persist_save(dir, &v, err, sizeof(err)) == 0);
    EXPECT(exists(dir, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0.json"));
    EXPECT(!exists(dir, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0.json.new"));
    struct agent_vmdef v2 = v;
    v2.uuid[15] = 0xf1;
    snprintf(v2.name, sizeof(v2.name), "db");
    v2.auto_poweron = 0;
    EXPECT(persist_save(dir, &v2, err, sizeof(err)) == 0);
    /* Saving again replaces the record. */
    snprintf(v2.args, sizeof(v2.args), "second");
    EXPECT(persist_save(dir, &v2, err, sizeof(err)) == 0);
    EXPECT(persist_load(dir, vms, 4, known, logf_) == 2 && nlogs == 0);
    int web = !strcmp(vms[0]->name, "web") ? 0 : 1;
    EXPECT(!memcmp(vms[web], &v, sizeof(v)));
    EXPECT(!memcmp(vms[1 - web], &v2, sizeof(v2)) && !strcmp(vms[1 - web]->args, "second"));
    /* Loading again adds nothing (already held). */
    EXPECT(persist_load(dir, vms, 4, known, logf_) == 0);

    /* A crash after the .new was written, before the old was unlinked:
     * the whole .new wins. */
    memset(slots, 0, sizeof(slots));
    v2.auto_poweron = 1;
    char *s = persist_encode(&v2);
    write_file(dir, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f1.json.new", s);
    free(s);
    EXPECT(persist_load(dir, vms, 4, known, logf_) == 2 && nlogs == 0);
    int db = !strcmp(vms[0]->name, "db") ? 0 : 1;
    EXPECT(vms[db]->auto_poweron == 1);
    /* A crash in the middle of writing the .new: the old record. */
    memset(slots, 0, sizeof(slots));
    write_file(dir, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f1.json.new", "{\"version\":1,\"uu");
    EXPECT(persist_load(dir, vms, 4, known, logf_) == 2 && nlogs == 1);
    db = !strcmp(vms[0]->name, "db") ? 0 : 1;
    EXPECT(vms[db]->auto_poweron == 0 && strstr(logbuf, ".json.new: not JSON"));
    /* The next save cleans it up. */
    EXPECT(persist_save(dir, vms[db], err, sizeof(err)) == 0);
    EXPECT(!exists(dir, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f1.json.new"));

    /* Corrupt, foreign, misnamed files: logged and skipped. */
    memset(slots, 0, sizeof(slots));
    nlogs = 0;
    logbuf[0] = 0;
    write_file(dir, "11111111-2222-4333-8444-555555555555.json", "garbage\x01\xff");
    write_file(dir, "21111111-2222-4333-8444-555555555555.json", good);   /* someone else's record */
    write_file(dir, "notes.txt", "hello");
    EXPECT(persist_load(dir, vms, 4, known, logf_) == 2);
    EXPECT(nlogs == 3);
    EXPECT(strstr(logbuf, "11111111-2222-4333-8444-555555555555.json: not JSON") != NULL);
    EXPECT(strstr(logbuf, "holds the record of 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0") != NULL);
    EXPECT(strstr(logbuf, "notes.txt: not a VM record") != NULL);
    /* More records than slots: logged. */
    memset(slots, 0, sizeof(slots));
    nlogs = 0;
    logbuf[0] = 0;
    EXPECT(persist_load(dir, vms, 1, known, logf_) == 1 && strstr(logbuf, "at most 1 VMs"));
    /* Slots never used (NULL) are allocated as records need them: two
     * records fill the first two of three, the third stays NULL. */
    struct agent_vmdef *fresh[3] = { NULL, NULL, NULL };
    nlogs = 0;
    EXPECT(persist_load(dir, fresh, 3, known, logf_) == 2 && nlogs == 3);   /* the 3 bad files */
    EXPECT(fresh[0] && fresh[1] && !fresh[2] && fresh[0]->used && fresh[1]->used);
    EXPECT(persist_load(dir, fresh, 3, known, logf_) == 0 && !fresh[2]);   /* held already */
    free(fresh[0]);
    free(fresh[1]);

    /* Remove: gone, and removing again is fine. */
    EXPECT(persist_remove(dir, v.uuid, err, sizeof(err)) == 0);
    EXPECT(persist_remove(dir, v.uuid, err, sizeof(err)) == 0);
    EXPECT(!exists(dir, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0.json"));
    /* A directory that cannot be written: a clear error. */
    char gone[300];
    snprintf(gone, sizeof(gone), "%s/missing", dir);
    EXPECT(persist_save(gone, &v, err, sizeof(err)) == -1 && strstr(err, "create"));
    memset(slots, 0, sizeof(slots));
    nlogs = 0;
    EXPECT(persist_load(gone, vms, 4, known, logf_) == -1 && nlogs == 1);

    /* Clean up. */
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[300];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void)
{
    test_codec();
    test_files();
    UNIT_DONE();
}
