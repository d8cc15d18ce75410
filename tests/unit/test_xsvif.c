/* Host unit test of the xenstore stub's vif wiring (stubdoms/xenstore/vif.c) against the real store core, under ASan/UBSan: nodes, permissions, refusals, removal and a backend's restart. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#define XS_STORE_INTERNAL
#include "vif.h"
#include "unit.h"

static struct xs_store *S;

static bool has(const char *path)
{
    char b[1];
    return xs_store_read_internal(S, path, b, 0) >= 0;
}

static bool is(const char *path, const char *want)
{
    char b[256];
    long n = xs_store_read_internal(S, path, b, sizeof(b) - 1);
    if (n < 0 || n >= (long)sizeof(b))
        return false;
    b[n] = 0;
    if (strcmp(b, want))
        fprintf(stderr, "%s = '%s', expected '%s'\n", path, b, want);
    return !strcmp(b, want);
}

/* The node's owner, and whether domid has read (and only read) access. */
static bool perms(const char *path, unsigned owner, unsigned reader)
{
    struct node *n = htab_find(&S->tree, path, xs_hash(path));
    if (!n || n->nperms < 1 || n->perms[0].id != owner)
        return false;
    for (uint32_t i = 1; i < n->nperms; i++)
        if (n->perms[i].id == reader)
            return n->perms[i].p == XS_P_READ;
    return false;
}

static unsigned logs;
static void logf_(const char *fmt, ...)
{
    (void)fmt;
    logs++;
}

int main(void)
{
    S = xs_store_new(NULL, NULL);
    xsv_set_log(logf_);
    xsv_note_line("domain 1 name=netback mem_kb=16384 vcpus=1 store_mfn=1 store_port=1 "
                  "console_mfn=2 console_port=2 roles=- restart=crash");
    xsv_note_line("domain 2 name=alpha mem_kb=4096 vcpus=1 store_mfn=1 store_port=1 "
                  "console_mfn=2 console_port=2 roles=- restart=never vif=netback");
    xsv_note_line("domain 3 name=beta mem_kb=4096 vcpus=1 store_mfn=1 store_port=1 "
                  "console_mfn=2 console_port=2 roles=- restart=never vif=netback "
                  "mac=00:16:3e:00:00:42 fw=drop:in:any");
    xsv_note_line("domain 4 name=g vif=nosuch");
    xsv_note_line("domain 5 name=h vif=netback mac=01:00:00:00:00:01");
    xsv_note_line("domain 6 name=i vif=netback mac=00:16:3e:00:00:421");
    xsv_note_line("domain 7 name=j vif=netback fw=DROP:in:any");
    xsv_note_line("domain 8 name=k vif=k");
    xsv_note_line("garbage");

    /* MACs: stable per name, Xen's prefix, unicast; the syntax check. */
    char m1[18], m2[18];
    xsv_default_mac("alpha", m1);
    xsv_default_mac("alpha", m2);
    EXPECT(!strcmp(m1, m2) && !strncmp(m1, "00:16:3e:", 9) && xsv_mac_ok(m1));
    xsv_default_mac("beta", m2);
    EXPECT(strcmp(m1, m2) != 0);
    EXPECT(xsv_mac_ok("00:16:3E:aB:00:ff"));
    EXPECT(!xsv_mac_ok("01:16:3e:00:00:00") && !xsv_mac_ok("00:16:3e:00:00") &&
           !xsv_mac_ok("00-16-3e-00-00-00") && !xsv_mac_ok("00:16:3e:00:00:0g") &&
           !xsv_mac_ok("") && !xsv_mac_ok("00:16:3e:00:00:000"));

    xs_store_write_internal(S, "/local/domain/1", "", 0, 1, NULL, 0);
    xsv_domain_up(S, 1);            /* the backend first: no frontend there yet */
    EXPECT(!has("/local/domain/1/backend/vif/2/0"));
    for (unsigned d = 2; d <= 8; d++) {
        char p[32];
        snprintf(p, sizeof(p), "/local/domain/%u", d);
        xs_store_write_internal(S, p, "", 0, d, NULL, 0);
    }
    xsv_domain_up(S, 2);
    EXPECT(is("/local/domain/2/device/vif/0/backend", "/local/domain/1/backend/vif/2/0"));
    EXPECT(is("/local/domain/2/device/vif/0/backend-id", "1"));
    EXPECT(is("/local/domain/2/device/vif/0/mac", m1));
    EXPECT(is("/local/domain/2/device/vif/0/state", "1"));
    EXPECT(perms("/local/domain/2/device/vif/0", 2, 1));
    EXPECT(perms("/local/domain/2/device/vif/0/state", 2, 1));
    EXPECT(is("/local/domain/1/backend/vif/2/0/frontend", "/local/domain/2/device/vif/0"));
    EXPECT(is("/local/domain/1/backend/vif/2/0/frontend-id", "2"));
    EXPECT(is("/local/domain/1/backend/vif/2/0/mac", m1));
    EXPECT(is("/local/domain/1/backend/vif/2/0/online", "1"));
    EXPECT(is("/local/domain/1/backend/vif/2/0/type", "vif"));
    EXPECT(is("/local/domain/1/backend/vif/2/0/firewall", ""));
    EXPECT(is("/local/domain/1/backend/vif/2/0/state", "1"));
    EXPECT(perms("/local/domain/1/backend/vif/2/0", 1, 2));
    EXPECT(perms("/local/domain/1/backend/vif/2/0/firewall", 1, 2));
    xsv_domain_up(S, 3);
    EXPECT(is("/local/domain/3/device/vif/0/mac", "00:16:3e:00:00:42"));
    EXPECT(is("/local/domain/1/backend/vif/3/0/firewall", "drop:in:any"));
    /* Refusals: logged, nothing written. */
    unsigned before = logs;
    for (unsigned d = 4; d <= 8; d++) {
        char p[64];
        xsv_domain_up(S, d);
        snprintf(p, sizeof(p), "/local/domain/%u/device/vif/0", d);
        EXPECT(!has(p));
        snprintf(p, sizeof(p), "/local/domain/1/backend/vif/%u", d);
        EXPECT(!has(p));
    }
    EXPECT(logs >= before + 5);

    /* A frontend that is gone loses its backend half. */
    xs_store_rm_internal(S, "/local/domain/2");
    xsv_domain_gone(S, 2);
    EXPECT(!has("/local/domain/1/backend/vif/2"));
    EXPECT(has("/local/domain/1/backend/vif/3/0"));

    /* The backend dies and comes back: its directory is written again for
     * the frontends present (3, not 2), and it may read theirs again. */
    /* (as the frontend's own write: its directory's permissions inherited) */
    xs_store_write_internal(S, "/local/domain/3/device/vif/0/tx-ring-ref", "8", 1, 3,
                            "n3\0r1", 6);
    EXPECT(perms("/local/domain/3/device/vif/0/tx-ring-ref", 3, 1));
    xs_store_rm_internal(S, "/local/domain/1");
    xs_domain_gone(S, 1);
    EXPECT(!perms("/local/domain/3/device/vif/0/tx-ring-ref", 3, 1));
    xs_store_write_internal(S, "/local/domain/1", "", 0, 1, NULL, 0);
    xsv_domain_up(S, 1);
    EXPECT(is("/local/domain/1/backend/vif/3/0/state", "1"));
    EXPECT(is("/local/domain/1/backend/vif/3/0/mac", "00:16:3e:00:00:42"));
    EXPECT(!has("/local/domain/1/backend/vif/2"));
    EXPECT(perms("/local/domain/3/device/vif/0", 3, 1));
    EXPECT(perms("/local/domain/3/device/vif/0/tx-ring-ref", 3, 1));
    EXPECT(perms("/local/domain/3/device/vif/0/state", 3, 1));
    xs_store_free(S);
    UNIT_DONE();
}
