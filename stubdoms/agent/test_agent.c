/* test_agent.c: host unit test of the agent's core under ASan/UBSan: the
 * HTTP layer (keep-alive, pipelining, limits, bad requests), JSON-RPC and
 * XML-RPC (bad JSON, bad XML, wrong types, huge and nested values), the
 * XenAPI dispatcher (sessions, expiry, every refusal) on a fake
 * hypervisor of four domains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent.h"
#include "unit.h"

/* ---- a fake hypervisor: xenstore d0 (xs_domain), agent d1, web d2, gone d3 ---- */

static struct agent_dom doms[4];
static int ndoms = 3;
static int last_rc;

static int f_list(void *ctx, struct agent_dom *out, unsigned max)
{
    (void)ctx;
    if (last_rc)
        return last_rc;
    int n = ndoms < (int)max ? ndoms : (int)max;
    memcpy(out, doms, sizeof(doms[0]) * (size_t)n);
    return n;
}

static int f_phys(void *ctx, struct agent_hostinfo *h)
{
    (void)ctx;
    h->nr_cpus = 2;
    h->cpu_khz = 2400123;
    h->total_pages = 131072;
    h->free_pages = 1000;
    return 0;
}

static struct agent_dom *find(uint32_t id)
{
    for (int i = 0; i < ndoms; i++)
        if (doms[i].domid == id)
            return &doms[i];
    return NULL;
}

static int f_pause(void *ctx, uint32_t id)
{
    (void)ctx;
    find(id)->paused = 1;
    return 0;
}

static int f_unpause(void *ctx, uint32_t id)
{
    (void)ctx;
    find(id)->paused = 0;
    return 0;
}

static int f_destroy(void *ctx, uint32_t id)
{
    (void)ctx;
    find(id)->dying = 1;
    return 0;
}

static int start_fails;
static int f_start(void *ctx, const struct agent_vmdef *vm, int paused, uint32_t *domid,
                   char *err, size_t errlen)
{
    (void)ctx;
    if (start_fails || ndoms == 4) {
        snprintf(err, errlen, "populate_physmap gave 0 of 512 frames");
        return -1;
    }
    struct agent_dom *d = &doms[ndoms];
    *d = (struct agent_dom){ .domid = 7, .paused = paused, .max_pages = vm->mem_bytes / 4096,
                             .tot_pages = vm->mem_bytes / 4096, .max_vcpus = vm->vcpus,
                             .online_vcpus = 1 };
    memcpy(d->handle, vm->uuid, 16);
    snprintf(d->name, sizeof(d->name), "d7");
    ndoms++;
    *domid = 7;
    return 0;
}

static int f_wait_gone(void *ctx, uint32_t id, unsigned seconds)
{
    (void)ctx;
    (void)seconds;
    for (int i = 0; i < ndoms; i++)
        if (doms[i].domid == id) {
            if (!doms[i].dying)
                return -1;
            doms[i] = doms[--ndoms];
        }
    return 0;
}

static int f_known(const char *name)
{
    return !strcmp(name, "hello");
}

static struct agent_hv hv = { .self = 1, .list = f_list, .physinfo = f_phys, .pause = f_pause,
                              .unpause = f_unpause, .destroy = f_destroy, .start = f_start,
                              .wait_gone = f_wait_gone,
                              .kernel_known = f_known, .kernel_names = "hello" };

static uint64_t clock_s = 1000;
static uint64_t now(void)
{
    return clock_s;
}

/* A deterministic entropy source (the test is about the logic). */
static int ent(void *ctx, unsigned char *out, size_t len, size_t *olen)
{
    static unsigned char x = 1;
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        x = (unsigned char)(x * 73 + 41);
        out[i] = x;
    }
    *olen = len;
    return 0;
}

static struct agent_api api;

/* ---- helpers ---- */

static json_t *jcall(const char *body)
{
    char *out;
    size_t len;
    rpc_jsonrpc(&api, body, strlen(body), &out, &len);
    json_error_t e;
    json_t *r = json_loadb(out, len, 0, &e);
    if (!r)
        fprintf(stderr, "unparsable response: %s\n", out);
    free(out);
    return r;
}

static char *xcall(const char *body)
{
    char *out;
    size_t len;
    rpc_xmlrpc(&api, body, strlen(body), &out, &len);
    return out;
}

/* The failure code of a call, or "" when it succeeded; *res gets the result. */
static const char *call(const char *method, json_t *params, json_t **res)
{
    static char code[64];
    json_t *r;
    int failed = api_call(&api, method, params, &r);
    json_decref(params);
    snprintf(code, sizeof(code), "%s", failed ? json_string_value(json_array_get(r, 0)) : "");
    if (res)
        *res = r;
    else
        json_decref(r);
    return code;
}

static char session[64];

static void test_sessions(void)
{
    json_t *r;
    EXPECT(!strcmp(call("session.login_with_password", json_pack("[s,s]", "root", "bad"), &r),
                   "SESSION_AUTHENTICATION_FAILED"));
    EXPECT(json_array_size(r) == 1);
    json_decref(r);
    EXPECT(!strcmp(call("session.login_with_password", json_pack("[s,s]", "roo", "keel-demo"), NULL),
                   "SESSION_AUTHENTICATION_FAILED"));
    EXPECT(!strcmp(call("session.login_with_password", json_pack("[s,s]", "root", "keel-dem"), NULL),
                   "SESSION_AUTHENTICATION_FAILED"));
    EXPECT(!strcmp(call("session.login_with_password", json_pack("[s,i]", "root", 5), NULL),
                   "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("session.login_with_password", json_pack("[s]", "root"), NULL),
                   "MESSAGE_PARAMETER_COUNT_MISMATCH"));
    EXPECT(!strcmp(call("session.login_with_password",
                        json_pack("[s,s,s,s,s]", "root", "keel-demo", "1", "2", "3"), NULL),
                   "MESSAGE_PARAMETER_COUNT_MISMATCH"));
    EXPECT(!strcmp(call("session.login_with_password",
                        json_pack("[s,s,s,s]", "root", "keel-demo", "1.0", "unit"), &r), ""));
    EXPECT(json_is_string(r) && strlen(json_string_value(r)) == SESSION_REF_LEN);
    snprintf(session, sizeof(session), "%s", json_string_value(r));
    json_decref(r);
    EXPECT(!strcmp(call("VM.get_all", json_pack("[s]", session), NULL), ""));
    EXPECT(!strcmp(call("VM.get_all", json_pack("[s]", "OpaqueRef:x"), NULL), "SESSION_INVALID"));
    EXPECT(!strcmp(call("VM.get_all", json_pack("[i]", 3), NULL), "SESSION_INVALID"));
    EXPECT(!strcmp(call("VM.get_all", json_pack("[]"), NULL), "MESSAGE_PARAMETER_COUNT_MISMATCH"));
    EXPECT(!strcmp(call("VM.nope", json_pack("[s]", session), &r), "MESSAGE_METHOD_UNKNOWN"));
    EXPECT(!strcmp(json_string_value(json_array_get(r, 1)), "VM.nope"));
    json_decref(r);

    /* Idle expiry: used within the idle time it lives on; then it is gone. */
    char s2[64];
    call("session.login_with_password", json_pack("[s,s]", "root", "keel-demo"), &r);
    snprintf(s2, sizeof(s2), "%s", json_string_value(r));
    json_decref(r);
    EXPECT(strcmp(s2, session) != 0);
    clock_s += 50;
    EXPECT(!strcmp(call("VM.get_all", json_pack("[s]", s2), NULL), ""));
    clock_s += 50;
    EXPECT(!strcmp(call("VM.get_all", json_pack("[s]", s2), NULL), ""));
    clock_s += 61;   /* idle time 60 in this test */
    EXPECT(!strcmp(call("VM.get_all", json_pack("[s]", s2), NULL), "SESSION_INVALID"));
    /* logout ends a session */
    call("session.login_with_password", json_pack("[s,s]", "root", "keel-demo"), &r);
    snprintf(session, sizeof(session), "%s", json_string_value(r));
    json_decref(r);
    call("session.login_with_password", json_pack("[s,s]", "root", "keel-demo"), &r);
    snprintf(s2, sizeof(s2), "%s", json_string_value(r));
    json_decref(r);
    EXPECT(!strcmp(call("session.logout", json_pack("[s]", s2), NULL), ""));
    EXPECT(!strcmp(call("VM.get_all", json_pack("[s]", s2), NULL), "SESSION_INVALID"));
    EXPECT(!strcmp(call("VM.get_all", json_pack("[s]", session), NULL), ""));
    /* More logins than slots: the oldest go, the newest lives. */
    for (int i = 0; i < SESSION_MAX + 5; i++) {
        clock_s++;
        call("session.login_with_password", json_pack("[s,s]", "root", "keel-demo"), &r);
        json_decref(r);
    }
    EXPECT(!strcmp(call("VM.get_all", json_pack("[s]", session), NULL), "SESSION_INVALID"));
    call("session.login_with_password", json_pack("[s,s]", "root", "keel-demo"), &r);
    snprintf(session, sizeof(session), "%s", json_string_value(r));
    json_decref(r);
}

static const char *refof(const char *name)
{
    static char ref[64];
    json_t *r;
    call("VM.get_all_records", json_pack("[s]", session), &r);
    const char *k;
    json_t *v;
    ref[0] = 0;
    json_object_foreach(r, k, v)
        if (!strcmp(json_string_value(json_object_get(v, "name_label")), name))
            snprintf(ref, sizeof(ref), "%s", k);
    json_decref(r);
    return ref;
}

static void test_vms(void)
{
    json_t *r;
    EXPECT(!strcmp(call("VM.get_all_records", json_pack("[s]", session), &r), ""));
    EXPECT(json_object_size(r) == 3);
    const char *k;
    json_t *v;
    int control = 0;
    json_object_foreach(r, k, v) {
        EXPECT(!strncmp(k, "OpaqueRef:", 10));
        EXPECT(!strcmp(json_string_value(json_object_get(v, "power_state")), "Running"));
        control += json_is_true(json_object_get(v, "is_control_domain"));
        json_int_t id = json_integer_value(json_object_get(v, "domid"));
        EXPECT(id >= 0 && id <= 2);
        EXPECT(!strcmp(json_string_value(json_object_get(v, "name_label")), doms[id].name));
        EXPECT(json_integer_value(json_object_get(v, "memory_static_max")) ==
               (json_int_t)doms[id].max_pages * 4096);
    }
    EXPECT(control == 1);
    json_decref(r);
    char web[64], agent[64], xs[64];
    snprintf(web, sizeof(web), "%s", refof("web"));
    snprintf(agent, sizeof(agent), "%s", refof("agent"));
    snprintf(xs, sizeof(xs), "%s", refof("xenstore"));
    /* The handle, when set, is the uuid. */
    EXPECT(!strcmp(agent, "OpaqueRef:01020304-0506-0708-090a-0b0c0d0e0f10"));
    /* uuid, name lookups, field getters */
    EXPECT(!strcmp(call("VM.get_uuid", json_pack("[s,s]", session, web), &r), ""));
    char uuid[40];
    snprintf(uuid, sizeof(uuid), "%s", json_string_value(r));
    json_decref(r);
    EXPECT(!strcmp(call("VM.get_by_uuid", json_pack("[s,s]", session, uuid), &r), ""));
    EXPECT(!strcmp(json_string_value(r), web));
    json_decref(r);
    EXPECT(!strcmp(call("VM.get_by_uuid", json_pack("[s,s]", session, "nope"), NULL), "UUID_INVALID"));
    EXPECT(!strcmp(call("VM.get_by_name_label", json_pack("[s,s]", session, "web"), &r), ""));
    EXPECT(json_array_size(r) == 1);
    json_decref(r);
    EXPECT(!strcmp(call("VM.get_domid", json_pack("[s,s]", session, web), &r), ""));
    EXPECT(json_integer_value(r) == 2);
    json_decref(r);
    EXPECT(!strcmp(call("VM.get_VCPUs_max", json_pack("[s,s]", session, web), &r), ""));
    EXPECT(json_integer_value(r) == 2);
    json_decref(r);
    EXPECT(!strcmp(call("VM.get_record", json_pack("[s,s]", session, "OpaqueRef:x"), &r), "HANDLE_INVALID"));
    EXPECT(!strcmp(json_string_value(json_array_get(r, 1)), "VM"));
    EXPECT(!strcmp(json_string_value(json_array_get(r, 2)), "OpaqueRef:x"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.get_record", json_pack("[s,b]", session, 1), NULL), "FIELD_TYPE_ERROR"));

    /* Lifecycle and its refusals. */
    EXPECT(!strcmp(call("VM.unpause", json_pack("[s,s]", session, web), &r), "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(json_string_value(json_array_get(r, 2)), "paused"));
    EXPECT(!strcmp(json_string_value(json_array_get(r, 3)), "running"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.pause", json_pack("[s,s]", session, web), NULL), ""));
    EXPECT(doms[2].paused);
    EXPECT(!strcmp(call("VM.get_power_state", json_pack("[s,s]", session, web), &r), ""));
    EXPECT(!strcmp(json_string_value(r), "Paused"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.pause", json_pack("[s,s]", session, web), NULL), "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(call("VM.unpause", json_pack("[s,s]", session, web), NULL), ""));
    EXPECT(!doms[2].paused);
    EXPECT(!strcmp(call("VM.pause", json_pack("[s,s]", session, agent), NULL), "OPERATION_NOT_ALLOWED"));
    EXPECT(!strcmp(call("VM.hard_shutdown", json_pack("[s,s]", session, xs), NULL), "OPERATION_NOT_ALLOWED"));
    EXPECT(!doms[0].dying && !doms[1].paused);
    EXPECT(!strcmp(call("VM.hard_shutdown", json_pack("[s,s]", session, web), NULL), ""));
    EXPECT(doms[2].dying);
    EXPECT(!strcmp(call("VM.get_power_state", json_pack("[s,s]", session, web), &r), ""));
    EXPECT(!strcmp(json_string_value(r), "Halted"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.hard_shutdown", json_pack("[s,s]", session, web), NULL), "VM_BAD_POWER_STATE"));
    doms[2].dying = 0;
    /* A hypervisor that fails: an internal error, not a crash. */
    last_rc = -1;
    EXPECT(!strcmp(call("VM.get_all", json_pack("[s]", session), NULL), "INTERNAL_ERROR"));
    last_rc = 0;

    /* host and pool */
    EXPECT(!strcmp(call("host.get_all_records", json_pack("[s]", session), &r), ""));
    EXPECT(json_object_size(r) == 1);
    json_object_foreach(r, k, v) {
        EXPECT(!strcmp(json_string_value(json_object_get(json_object_get(v, "cpu_info"), "cpu_count")), "2"));
        EXPECT(json_integer_value(json_object_get(v, "memory_total")) == 131072ll * 4096);
        EXPECT(json_array_size(json_object_get(v, "resident_VMs")) == 3);
    }
    json_decref(r);
    EXPECT(!strcmp(call("host.get_record", json_pack("[s,s]", session, "OpaqueRef:h"), NULL), "HANDLE_INVALID"));
    EXPECT(!strcmp(call("pool.get_all_records", json_pack("[s]", session), &r), ""));
    json_object_foreach(r, k, v)
        EXPECT(!strncmp(json_string_value(json_object_get(v, "master")), "OpaqueRef:", 10));
    json_decref(r);
    EXPECT(!strcmp(call("system.listMethods", json_pack("[]"), &r), ""));
    EXPECT(json_array_size(r) == api_method_count());
    json_decref(r);
}

static void test_create(void)
{
    json_t *r;
    /* Refusals: types, values, kernels. */
    EXPECT(!strcmp(call("VM.create", json_pack("[s,s]", session, "x"), NULL), "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:i}]", session, "memory_static_max", 2 << 20), NULL),
                   "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:s}]", session, "name_label", "h", "PV_kernel", "hello"), NULL),
                   "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:I,s:s}]", session, "name_label", "h",
                                               "memory_static_max", (json_int_t)1 << 40, "PV_kernel", "hello"), &r),
                   "INVALID_VALUE"));
    EXPECT(!strcmp(json_string_value(json_array_get(r, 2)), "1099511627776"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:s,s:s}]", session, "name_label", "h",
                                               "memory_static_max", "12x", "PV_kernel", "hello"), NULL),
                   "INVALID_VALUE"));
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:i,s:i,s:s}]", session, "name_label", "h",
                                               "memory_static_max", 2 << 20, "VCPUs_max", 0, "PV_kernel", "hello"), NULL),
                   "INVALID_VALUE"));
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:i,s:s}]", session, "name_label", "h",
                                               "memory_static_max", 2 << 20, "PV_kernel", "/boot/vmlinuz"), &r),
                   "VALUE_NOT_SUPPORTED"));
    EXPECT(json_array_size(r) == 4);
    json_decref(r);
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:i,s:s}]", session, "name_label",
                                               "a name that is longer than thirty-one bytes",
                                               "memory_static_max", 2 << 20, "PV_kernel", "hello"), NULL),
                   "INVALID_VALUE"));
    /* A good one: Halted, with its configuration; memory as an XML-RPC string. */
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:s,s:s,s:s,s:b}]", session, "name_label", "h1",
                                               "memory_static_max", "2097152", "PV_kernel", "hello",
                                               "PV_args", "x=1", "is_a_template", 0), &r), ""));
    char ref[64];
    snprintf(ref, sizeof(ref), "%s", json_string_value(r));
    json_decref(r);
    EXPECT(!strcmp(refof("h1"), ref));
    EXPECT(!strcmp(call("VM.get_record", json_pack("[s,s]", session, ref), &r), ""));
    EXPECT(!strcmp(json_string_value(json_object_get(r, "power_state")), "Halted"));
    EXPECT(json_integer_value(json_object_get(r, "domid")) == -1);
    EXPECT(json_integer_value(json_object_get(r, "memory_static_max")) == 2097152);
    EXPECT(!strcmp(json_string_value(json_object_get(r, "PV_args")), "x=1"));
    EXPECT(json_array_size(json_object_get(r, "allowed_operations")) == 3);   /* start, destroy, clone */
    json_decref(r);
    EXPECT(!strcmp(call("VM.pause", json_pack("[s,s]", session, ref), NULL), "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(call("VM.hard_shutdown", json_pack("[s,s]", session, ref), NULL), "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(call("VM.start", json_pack("[s,s,s,b]", session, ref, "no", 0), NULL), "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("VM.start", json_pack("[s,s,b]", session, ref, 0), NULL),
                   "MESSAGE_PARAMETER_COUNT_MISMATCH"));
    start_fails = 1;
    EXPECT(!strcmp(call("VM.start", json_pack("[s,s,b,b]", session, ref, 0, 0), &r), "INTERNAL_ERROR"));
    EXPECT(strstr(json_string_value(json_array_get(r, 1)), "populate_physmap") != NULL);
    json_decref(r);
    start_fails = 0;
    /* Started paused: the domain carries the VM's uuid, so it is the VM. */
    EXPECT(!strcmp(call("VM.start", json_pack("[s,s,b,b]", session, ref, 1, 0), NULL), ""));
    EXPECT(!strcmp(call("VM.get_record", json_pack("[s,s]", session, ref), &r), ""));
    EXPECT(!strcmp(json_string_value(json_object_get(r, "power_state")), "Paused"));
    EXPECT(json_integer_value(json_object_get(r, "domid")) == 7);
    EXPECT(!strcmp(json_string_value(json_object_get(r, "name_label")), "h1"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.start", json_pack("[s,s,b,b]", session, ref, 0, 0), &r), "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(json_string_value(json_array_get(r, 2)), "halted"));
    EXPECT(!strcmp(json_string_value(json_array_get(r, 3)), "paused"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.destroy", json_pack("[s,s]", session, ref), NULL), "VM_BAD_POWER_STATE"));
    /* hard_reboot: the paused domain goes, a new one runs (unpaused). */
    EXPECT(!strcmp(call("VM.get_allowed_operations", json_pack("[s,s]", session, ref), &r), ""));
    EXPECT(json_array_size(r) == 3 && !strcmp(json_string_value(json_array_get(r, 2)), "hard_reboot"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.hard_reboot", json_pack("[s,s]", session, ref), NULL), ""));
    EXPECT(ndoms == 4 && !doms[3].paused && !doms[3].dying);
    EXPECT(!strcmp(call("VM.get_power_state", json_pack("[s,s]", session, ref), &r), ""));
    EXPECT(!strcmp(json_string_value(r), "Running"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.hard_reboot", json_pack("[s,s]", session, refof("web")), NULL), "OPERATION_NOT_ALLOWED"));
    EXPECT(!strcmp(call("VM.hard_reboot", json_pack("[s,s]", session, refof("agent")), NULL), "OPERATION_NOT_ALLOWED"));
    /* Its domain destroyed and dying: not startable yet; gone: Halted again. */
    EXPECT(!strcmp(call("VM.hard_shutdown", json_pack("[s,s]", session, ref), NULL), ""));
    EXPECT(!strcmp(call("VM.start", json_pack("[s,s,b,b]", session, ref, 0, 0), NULL), "OPERATION_NOT_ALLOWED"));
    ndoms = 3;
    EXPECT(!strcmp(call("VM.get_power_state", json_pack("[s,s]", session, ref), &r), ""));
    EXPECT(!strcmp(json_string_value(r), "Halted"));
    json_decref(r);
    /* A boot domain cannot be started nor destroyed. */
    EXPECT(!strcmp(call("VM.start", json_pack("[s,s,b,b]", session, refof("web"), 0, 0), NULL), "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(call("VM.destroy", json_pack("[s,s]", session, refof("web")), NULL), "VM_BAD_POWER_STATE"));
    /* VM.destroy forgets it. */
    EXPECT(!strcmp(call("VM.destroy", json_pack("[s,s]", session, ref), NULL), ""));
    EXPECT(!strcmp(call("VM.get_record", json_pack("[s,s]", session, ref), NULL), "HANDLE_INVALID"));
    /* At most AGENT_MAX_VMDEFS. */
    int made = 0;
    for (int i = 0; i < AGENT_MAX_VMDEFS + 1; i++)
        made += !strcmp(call("VM.create", json_pack("[s,{s:s,s:i,s:s}]", session, "name_label", "many",
                                                   "memory_static_max", 1 << 20, "PV_kernel", "hello"), NULL), "");
    EXPECT(made == AGENT_MAX_VMDEFS);
    EXPECT(!strcmp(call("VM.get_by_name_label", json_pack("[s,s]", session, "many"), &r), ""));
    EXPECT(json_array_size(r) == AGENT_MAX_VMDEFS);
    /* Their records (shared while Halted) read twice. */
    json_t *all1, *all2;
    EXPECT(!strcmp(call("VM.get_all_records", json_pack("[s]", session), &all1), ""));
    EXPECT(!strcmp(call("VM.get_all_records", json_pack("[s]", session), &all2), ""));
    EXPECT(json_object_size(all1) == AGENT_MAX_VMDEFS + 3 && json_equal(all1, all2));
    /* Through JSON-RPC (the records' kept texts spliced in): the same, twice. */
    for (int k = 0; k < 2; k++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"VM.get_all_records\",\"params\":[\"%s\"]}", session);
        json_t *jr = jcall(body);
        EXPECT(json_equal(json_object_get(jr, "result"), all1));
        EXPECT(json_integer_value(json_object_get(jr, "id")) == 7 && json_object_size(jr) == 3);
        json_decref(jr);
    }
    /* Through XML-RPC (kept <value> texts): the same text as written whole. */
    {
        char body[512];
        snprintf(body, sizeof(body), "<methodCall><methodName>VM.get_all_records</methodName><params>"
                 "<param><value>%s</value></param></params></methodCall>", session);
        char *x1 = xcall(body), *x2 = xcall(body);
        json_t *st = json_pack("{s:s, s:O}", "Status", "Success", "Value", all1);
        char *whole = rpc_xml_value(st);
        json_decref(st);
        EXPECT(x1 && x2 && whole && !strcmp(x1, x2) && strstr(x1, whole));
        EXPECT(strstr(x1, "<member><name>name_label</name><value>many</value></member>") != NULL);
        free(x1);
        free(x2);
        free(whole);
    }
    json_decref(all1);
    json_decref(all2);
    for (size_t i = 0; i < json_array_size(r); i++)
        EXPECT(!strcmp(call("VM.destroy", json_pack("[s,O]", session, json_array_get(r, i)), NULL), ""));
    json_decref(r);
    /* A slot reused: the new VM's record, not the shared one of the old. */
    json_t *again;
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:i,s:s}]", session, "name_label", "again",
                                               "memory_static_max", 2 << 20, "PV_kernel", "hello"), &again), ""));
    EXPECT(!strcmp(call("VM.get_record", json_pack("[s,O]", session, again), &r), ""));
    EXPECT(!strcmp(json_string_value(json_object_get(r, "name_label")), "again"));
    EXPECT(json_integer_value(json_object_get(r, "memory_static_max")) == 2 << 20);
    json_decref(r);
    EXPECT(!strcmp(call("VM.destroy", json_pack("[s,O]", session, again), NULL), ""));
    json_decref(again);
}

/* Templates: VM.create with is_a_template, VM.start refused
 * (VM_IS_TEMPLATE with the ref and "start"), VM.clone (a template's clone
 * is a template, new uuid, same configuration), VM.provision (no longer a
 * template: it starts), VM.set_is_a_template, and the refusals. */
static void test_templates(void)
{
    json_t *t, *r, *c;
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:i,s:s,s:s,s:i}]", session, "name_label", "t",
                                               "memory_static_max", 4 << 20, "PV_kernel", "hello",
                                               "PV_args", "a b", "is_a_template", 1), NULL),
                   "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:i,s:s,s:s,s:b}]", session, "name_label", "tmpl",
                                               "memory_static_max", 4 << 20, "PV_kernel", "hello",
                                               "PV_args", "a b", "is_a_template", 1), &t), ""));
    EXPECT(!strcmp(call("VM.get_record", json_pack("[s,O]", session, t), &r), ""));
    EXPECT(json_is_true(json_object_get(r, "is_a_template")));
    json_t *ops = json_object_get(r, "allowed_operations");
    EXPECT(json_array_size(ops) == 3 && !strcmp(json_string_value(json_array_get(ops, 0)), "clone") &&
           !strcmp(json_string_value(json_array_get(ops, 1)), "provision") &&
           !strcmp(json_string_value(json_array_get(ops, 2)), "destroy"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.start", json_pack("[s,O,b,b]", session, t, 0, 0), &r), "VM_IS_TEMPLATE"));
    EXPECT(json_array_size(r) == 3 && !strcmp(json_string_value(json_array_get(r, 1)), json_string_value(t)) &&
           !strcmp(json_string_value(json_array_get(r, 2)), "start"));
    json_decref(r);
    /* Clones: bad names, then one. */
    EXPECT(!strcmp(call("VM.clone", json_pack("[s,O,s]", session, t, ""), NULL), "INVALID_VALUE"));
    EXPECT(!strcmp(call("VM.clone", json_pack("[s,O,s]", session, t,
                                              "a name that is longer than thirty-one bytes"), NULL),
                   "INVALID_VALUE"));
    EXPECT(!strcmp(call("VM.clone", json_pack("[s,O,i]", session, t, 3), NULL), "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("VM.clone", json_pack("[s,s,s]", session, "OpaqueRef:nope", "x"), NULL),
                   "HANDLE_INVALID"));
    EXPECT(!strcmp(call("VM.clone", json_pack("[s,O,s]", session, t, "vm1"), &c), ""));
    EXPECT(strcmp(json_string_value(c), json_string_value(t)) != 0);
    EXPECT(!strcmp(call("VM.get_record", json_pack("[s,O]", session, c), &r), ""));
    EXPECT(!strcmp(json_string_value(json_object_get(r, "name_label")), "vm1"));
    EXPECT(json_is_true(json_object_get(r, "is_a_template")));
    EXPECT(!strcmp(json_string_value(json_object_get(r, "PV_args")), "a b"));
    EXPECT(!strcmp(json_string_value(json_object_get(r, "PV_kernel")), "hello"));
    EXPECT(json_integer_value(json_object_get(r, "memory_static_max")) == 4 << 20);
    json_decref(r);
    /* Provision: no longer a template; it starts. */
    EXPECT(!strcmp(call("VM.provision", json_pack("[s,O]", session, c), NULL), ""));
    EXPECT(!strcmp(call("VM.get_is_a_template", json_pack("[s,O]", session, c), &r), ""));
    EXPECT(json_is_false(r));
    json_decref(r);
    EXPECT(!strcmp(call("VM.get_is_a_template", json_pack("[s,O]", session, t), &r), ""));
    EXPECT(json_is_true(r));                   /* the template is untouched */
    json_decref(r);
    EXPECT(!strcmp(call("VM.start", json_pack("[s,O,b,b]", session, c, 1, 0), NULL), ""));
    EXPECT(!strcmp(call("VM.provision", json_pack("[s,O]", session, c), NULL), "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(call("VM.clone", json_pack("[s,O,s]", session, c, "vm2"), NULL), "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(call("VM.set_is_a_template", json_pack("[s,O,b]", session, c, 1), NULL),
                   "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(call("VM.hard_shutdown", json_pack("[s,O]", session, c), NULL), ""));
    f_wait_gone(NULL, 7, 0);                   /* the fake hypervisor reaps it */
    EXPECT(ndoms == 3);
    EXPECT(!strcmp(call("VM.destroy", json_pack("[s,O]", session, c), NULL), ""));
    /* set_is_a_template both ways on a Halted VM; a bad value refused. */
    EXPECT(!strcmp(call("VM.set_is_a_template", json_pack("[s,O,s]", session, t, "no"), NULL),
                   "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("VM.set_is_a_template", json_pack("[s,O,b]", session, t, 0), NULL), ""));
    EXPECT(!strcmp(call("VM.get_allowed_operations", json_pack("[s,O]", session, t), &r), ""));
    EXPECT(json_array_size(r) == 3 && !strcmp(json_string_value(json_array_get(r, 0)), "start"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.set_is_a_template", json_pack("[s,O,b]", session, t, 1), NULL), ""));
    EXPECT(!strcmp(call("VM.destroy", json_pack("[s,O]", session, t), NULL), ""));
    json_decref(t);
    json_decref(c);
}

/* session.change_password: the old password checked, the new one's
 * length, the credentials saved (auth_path) and read back by
 * auth_import, a failed save keeping the old ones, hostile files refused. */
static void test_change_password(void)
{
    json_t *r;
    char dir[] = "/tmp/test_agent.XXXXXX", err[120];
    EXPECT(mkdtemp(dir) != NULL);
    snprintf(api.auth_path, sizeof(api.auth_path), "%s/auth.json", dir);
    EXPECT(!strcmp(call("session.change_password", json_pack("[s,s,s]", session, "wrong", "n3w"), &r),
                   "SESSION_AUTHENTICATION_FAILED"));
    json_decref(r);
    EXPECT(!strcmp(call("session.change_password", json_pack("[s,s,s]", session, "keel-demo", ""), &r),
                   "CHANGE_PASSWORD_REJECTED"));
    json_decref(r);
    EXPECT(!strcmp(call("session.change_password", json_pack("[s,s,i]", session, "keel-demo", 5), NULL),
                   "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("session.change_password", json_pack("[s,s,s]", session, "keel-demo", "n3w pw"), NULL),
                   ""));
    EXPECT(!strcmp(call("session.login_with_password", json_pack("[s,s]", "root", "keel-demo"), NULL),
                   "SESSION_AUTHENTICATION_FAILED"));
    EXPECT(!strcmp(call("session.login_with_password", json_pack("[s,s]", "root", "n3w pw"), &r), ""));
    json_decref(r);
    /* The file holds what a new agent takes. */
    FILE *f = fopen(api.auth_path, "r");
    char text[1024] = "";
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = 0;
    EXPECT(strstr(text, "\"user\":\"root\"") && strstr(text, "\"kdf\":\"PBKDF2-HMAC-SHA256\"") &&
           !strstr(text, "n3w"));
    char pw[] = "other";
    struct agent_auth *b = auth_create("x", pw, 1000, 60, ent, NULL, err, sizeof(err));
    EXPECT(b && auth_import(b, text, n, err, sizeof(err)) == 0);
    EXPECT(b && auth_check(b, "root", 4, "n3w pw", 6) && !auth_check(b, "x", 1, "other", 5));
    static const char *bad[] = {
        "[]", "{\"version\":2}",
        "{\"version\":1,\"kdf\":\"md5\",\"user\":\"r\",\"iterations\":1000,\"salt\":\"\",\"hash\":\"\"}",
        "{\"version\":1,\"kdf\":\"PBKDF2-HMAC-SHA256\",\"user\":\"\",\"iterations\":1000,\"salt\":\"\",\"hash\":\"\"}",
        "{\"version\":1,\"kdf\":\"PBKDF2-HMAC-SHA256\",\"user\":\"r\",\"iterations\":5,\"salt\":\"\",\"hash\":\"\"}",
        "{\"version\":1,\"kdf\":\"PBKDF2-HMAC-SHA256\",\"user\":\"r\",\"iterations\":1000,"
        "\"salt\":\"00112233445566778899aabbccddeeff\",\"hash\":\"00\"}",
        "{\"version\":1,\"kdf\":\"PBKDF2-HMAC-SHA256\",\"user\":\"r\",\"iterations\":1000,"
        "\"salt\":\"0011223344556677889XaabbccddeeFF\",\"hash\":\"00\"}",
    };
    for (size_t i = 0; b && i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT(auth_import(b, bad[i], strlen(bad[i]), err, sizeof(err)) == -1);
    EXPECT(b && auth_check(b, "root", 4, "n3w pw", 6));      /* the refusals changed nothing */
    auth_free(b);
    /* A save that fails: INTERNAL_ERROR, the old password still the one. */
    snprintf(api.auth_path, sizeof(api.auth_path), "%s/no/such/dir/auth.json", dir);
    EXPECT(!strcmp(call("session.change_password", json_pack("[s,s,s]", session, "n3w pw", "third"), &r),
                   "INTERNAL_ERROR"));
    json_decref(r);
    EXPECT(!strcmp(call("session.login_with_password", json_pack("[s,s]", "root", "third"), NULL),
                   "SESSION_AUTHENTICATION_FAILED"));
    api.auth_path[0] = 0;
    EXPECT(!strcmp(call("session.change_password", json_pack("[s,s,s]", session, "n3w pw", "keel-demo"), NULL),
                   ""));
    EXPECT(!strcmp(call("session.login_with_password", json_pack("[s,s]", "root", "keel-demo"), &r), ""));
    json_decref(r);
    snprintf(text, sizeof(text), "%s/auth.json", dir);
    unlink(text);
    rmdir(dir);
}

static void test_jsonrpc(void)
{
    json_t *r = jcall("{\"jsonrpc\":\"2.0\",\"id\":1,");
    EXPECT(json_integer_value(json_object_get(json_object_get(r, "error"), "code")) == -32700);
    json_decref(r);
    static const char *const invalid[] = {
        "[1,2]", "\"x\"", "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"VM.get_all\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"VM.get_all\",\"params\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"VM.get_all\"}",
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        r = jcall(invalid[i]);
        EXPECT(json_integer_value(json_object_get(json_object_get(r, "error"), "code")) == -32600);
        json_decref(r);
    }
    /* Duplicate keys, NUL inside, deep nesting, a huge integer: parse errors. */
    static const char *const bad[] = {
        "{\"jsonrpc\":\"2.0\",\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\\u0000y\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[99999999999999999999999]}",
        "", "\xff\xfe",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = jcall(bad[i]);
        EXPECT(json_integer_value(json_object_get(json_object_get(r, "error"), "code")) == -32700);
        json_decref(r);
    }
    char deep[400] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":";
    size_t n = strlen(deep);
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    deep[n] = 0;
    r = jcall(deep);
    EXPECT(json_integer_value(json_object_get(json_object_get(r, "error"), "code")) == -32700);
    json_decref(r);
    /* A call: result and the id echoed; a failure: message and data. */
    char body[256];
    snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"VM.get_all\",\"params\":[\"%s\"]}", session);
    r = jcall(body);
    EXPECT(json_array_size(json_object_get(r, "result")) == 3);
    EXPECT(!strcmp(json_string_value(json_object_get(r, "id")), "abc"));
    json_decref(r);
    r = jcall("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"VM.get_all\",\"params\":[\"s\"]}");
    json_t *e = json_object_get(r, "error");
    EXPECT(!strcmp(json_string_value(json_object_get(e, "message")), "SESSION_INVALID"));
    EXPECT(!strcmp(json_string_value(json_array_get(json_object_get(e, "data"), 0)), "s"));
    json_decref(r);
    /* No params: an empty list. */
    r = jcall("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"system.listMethods\"}");
    EXPECT(json_is_array(json_object_get(r, "result")));
    json_decref(r);
}

static void test_xmlrpc(void)
{
    char *out, *method, err[160] = "";
    json_t *params;
    /* Values of every type, nested. */
    const char *call1 =
        "<?xml version=\"1.0\"?><methodCall><methodName>m.x</methodName><params>"
        "<param><value>bare</value></param>"
        "<param><value><string>a&amp;b</string></value></param>"
        "<param><value><i4>-5</i4></value></param>"
        "<param><value><i8>9223372036854775807</i8></value></param>"
        "<param><value><boolean>1</boolean></value></param>"
        "<param><value><double>1.5</double></value></param>"
        "<param><value><struct><member><name>k</name><value><array><data>"
        "<value>1</value><value><int>2</int></value></data></array></value></member></struct></value></param>"
        "<param><value></value></param>"
        "</params></methodCall>";
    EXPECT(rpc_xml_parse(call1, strlen(call1), &method, &params, err, sizeof(err)) == 0);
    if (!err[0]) {
        EXPECT(!strcmp(method, "m.x"));
        EXPECT(json_array_size(params) == 8);
        EXPECT(!strcmp(json_string_value(json_array_get(params, 0)), "bare"));
        EXPECT(!strcmp(json_string_value(json_array_get(params, 1)), "a&b"));
        EXPECT(json_integer_value(json_array_get(params, 2)) == -5);
        EXPECT(json_integer_value(json_array_get(params, 3)) == 9223372036854775807ll);
        EXPECT(json_is_true(json_array_get(params, 4)));
        EXPECT(json_real_value(json_array_get(params, 5)) == 1.5);
        json_t *arr = json_object_get(json_array_get(params, 6), "k");
        EXPECT(json_array_size(arr) == 2 && json_integer_value(json_array_get(arr, 1)) == 2);
        EXPECT(!strcmp(json_string_value(json_array_get(params, 7)), ""));
        free(method);
        json_decref(params);
    }
    static const char *const bad[] = {
        "", "<methodCall>", "<a/>", "<methodCall><params/></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value><int>99999999999</int></value></param></params></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value><i8>99999999999999999999</i8></value></param></params></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value><int>12a</int></value></param></params></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value><boolean>2</boolean></value></param></params></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value><double>x</double></value></param></params></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value><int>1</int><int>2</int></value></param></params></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodCall>",
        ("<methodCall><methodName>x</methodName><params><param><value><struct><member><name>a</name><value>1</value></member>"
        "<member><name>a</name><value>2</value></member></struct></value></param></params></methodCall>"),
        "<methodCall><methodName>x</methodName><params><param><string>x</string></param></params></methodCall>",
        "<!DOCTYPE m [<!ENTITY a \"aaaa\">]><methodCall><methodName>&a;</methodName></methodCall>",
        "<methodCall><methodName>x</methodName><bogus/></methodCall>",
        "<methodCall><methodName>x</methodName></methodCall><methodCall/>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        int rc = rpc_xml_parse(bad[i], strlen(bad[i]), &method, &params, err, sizeof(err));
        EXPECT(rc == -1 && err[0]);
        if (rc == 0) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            free(method);
            json_decref(params);
        }
    }
    /* Nesting deeper than allowed. */
    size_t cap = 64 * 40 + 200;
    char *deep = malloc(cap);
    strcpy(deep, "<methodCall><methodName>x</methodName><params><param>");
    for (int i = 0; i < 40; i++)
        strcat(deep, "<value><array><data>");
    for (int i = 0; i < 40; i++)
        strcat(deep, "</data></array></value>");
    strcat(deep, "</param></params></methodCall>");
    EXPECT(rpc_xml_parse(deep, strlen(deep), &method, &params, err, sizeof(err)) == -1);
    EXPECT(strstr(err, "deeply") != NULL);
    free(deep);

    /* Round trips through the dispatcher. */
    out = xcall("<methodCall><methodName>session.login_with_password</methodName><params>"
                "<param><value>root</value></param><param><value>nope</value></param></params></methodCall>");
    EXPECT(strstr(out, "<name>Status</name><value>Failure</value>") &&
           strstr(out, "<name>ErrorDescription</name><value><array><data><value>SESSION_AUTHENTICATION_FAILED</value></data></array>"));
    free(out);
    char body[512];
    snprintf(body, sizeof(body), "<methodCall><methodName>VM.get_domid</methodName><params>"
             "<param><value>%s</value></param><param><value>%s</value></param></params></methodCall>",
             session, refof("web"));
    out = xcall(body);
    EXPECT(strstr(out, "<name>Status</name><value>Success</value>") &&
           strstr(out, "<name>Value</name><value>2</value>"));   /* an int as a string */
    free(out);
    out = xcall("<methodCall>");
    EXPECT(strstr(out, "<fault>") && strstr(out, "faultCode"));
    free(out);
    /* Escaping on the way out. */
    json_t *v = json_pack("{s:s, s:b, s:f, s:[]}", "a<b", "x&y\r", "t", 1, "d", 0.5, "e");
    out = rpc_xml_value(v);
    EXPECT(strstr(out, "<name>a&lt;b</name><value>x&amp;y&#13;</value>") != NULL);
    EXPECT(strstr(out, "<boolean>1</boolean>") && strstr(out, "<double>0.5</double>") &&
           strstr(out, "<array><data></data></array>"));
    free(out);
    json_decref(v);
}

/* Feeds s in pieces of step bytes; collects the responses' text. */
static char *feed(const char *s, size_t len, size_t step, int *closed)
{
    static struct agent_http c;
    http_conn_init(&c, &api);
    size_t cap = 1 << 16, n = 0;
    char *all = calloc(1, cap);
    *closed = 0;
    for (size_t off = 0; off < len && !*closed;) {
        size_t piece = len - off < step ? len - off : step;
        size_t used_total = 0;
        while (used_total < piece && !*closed) {
            struct agent_http_resp r;
            int ready;
            size_t used = http_conn_feed(&c, s + off + used_total, piece - used_total, &r, &ready);
            used_total += used;
            if (ready) {
                size_t add = r.head_len + r.body_len;
                if (n + add + 1 < cap) {
                    memcpy(all + n, r.head, r.head_len);
                    if (r.body_len)
                        memcpy(all + n + r.head_len, r.body, r.body_len);
                    n += add;
                }
                free(r.body);
                if (r.close)
                    *closed = 1;
            } else if (used == 0) {
                break;
            }
        }
        off += piece;
    }
    http_conn_free(&c);
    return all;
}

static unsigned count(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_http(void)
{
    int closed;
    char req[1024];
    const char *jbody = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"system.listMethods\",\"params\":[]}";
    int n = snprintf(req, sizeof(req),
                     "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s", strlen(jbody), jbody);
    /* Three pipelined requests, fed whole and byte by byte. */
    char three[4096];
    snprintf(three, sizeof(three), "%s%s%s", req, req, req);
    for (size_t step = 1; step <= 4096; step *= 4096) {
        char *out = feed(three, 3 * (size_t)n, step, &closed);
        EXPECT(count(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n") == 3);
        EXPECT(!closed);
        free(out);
    }
    char *out = feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 100, &closed);
    EXPECT(strstr(out, "200 OK") && strstr(out, "Keel management agent"));
    free(out);
    static const struct { const char *req; const char *status; } cases[] = {
        { "GET /jsonrpc HTTP/1.1\r\nHost: x\r\n\r\n", "405" },
        { "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "404" },
        { "FROB / HTTP/1.1\r\n\r\n", "501" },
        { "POST /jsonrpc HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", "413" },
        { "POST /jsonrpc HTTP/1.1\r\nContent-Length: x\r\n\r\n", "400" },
        { "garbage\r\n\r\n", "" },
        { "POST /jsonrpc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        out = feed(cases[i].req, strlen(cases[i].req), 7, &closed);
        char want[32];
        snprintf(want, sizeof(want), "HTTP/1.1 %s", cases[i].status);
        EXPECT(strstr(out, want) != NULL);
        if (!strstr(out, want))
            fprintf(stderr, "case %zu: %s\n", i, out);
        free(out);
    }
    /* A URL too long, a head too large. */
    char *big = malloc(20000);
    n = snprintf(big, 20000, "POST /%0300d HTTP/1.1\r\n\r\n", 0);
    out = feed(big, (size_t)n, 1000, &closed);
    EXPECT(strstr(out, "HTTP/1.1 414") && closed);
    free(out);
    n = snprintf(big, 20000, "POST /jsonrpc HTTP/1.1\r\nX: %09000d\r\n\r\n", 0);
    out = feed(big, (size_t)n, 1000, &closed);
    EXPECT(strstr(out, "HTTP/1.1 431") && closed);
    free(out);
    /* A chunked body that grows too large. */
    n = snprintf(big, 20000, "POST /jsonrpc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++)
        n += snprintf(big + n, (size_t)(20000 - n), "FFFFF\r\n");
    out = feed(big, (size_t)n, 1000, &closed);
    free(out);
    free(big);
    /* Connection: close is honoured. */
    n = snprintf(req, sizeof(req), "POST /xmlrpc HTTP/1.1\r\nConnection: close\r\nContent-Length: 5\r\n\r\n<a/>x");
    out = feed(req, (size_t)n, 1000, &closed);
    EXPECT(strstr(out, "200 OK") && strstr(out, "text/xml") && strstr(out, "faultCode") && closed);
    free(out);
}

/* A seeded fuzz loop: valid requests, mutated (bytes flipped, inserted,
 * deleted, cut), through the whole HTTP + RPC + XenAPI path.  Nothing may
 * crash (ASan/UBSan watch) and every complete request gets an answer. */
static void test_fuzz(void)
{
    char seeds[4][1024];
    const char *jb[2] = { "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"VM.get_all_records\",\"params\":[\"%s\"]}",
                          "{\"jsonrpc\":\"2.0\",\"id\":[],\"method\":\"VM.create\",\"params\":[\"%s\",{\"name_label\":\"f\",\"memory_static_max\":\"1048576\",\"PV_kernel\":\"hello\"}]}" };
    const char *xb[2] = { "<?xml version=\"1.0\"?><methodCall><methodName>VM.get_record</methodName><params>"
                          "<param><value>%s</value></param><param><value><string>OpaqueRef:x</string></value></param></params></methodCall>",
                          "<methodCall><methodName>VM.pause</methodName><params><param><value>%s</value></param>"
                          "<param><value><struct><member><name>a</name><value><array><data><value><i8>1</i8></value>"
                          "</data></array></value></member></struct></value></param></params></methodCall>" };
    for (int i = 0; i < 4; i++) {
        char body[600];
        int bl = snprintf(body, sizeof(body), i < 2 ? jb[i] : xb[i - 2], session);
        snprintf(seeds[i], sizeof(seeds[i]), "POST /%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s",
                 i < 2 ? "jsonrpc" : "xmlrpc", bl, body);
    }
    unsigned long long x = 0x9e3779b97f4a7c15ull;
    unsigned answered = 0;
    for (int iter = 0; iter < 20000; iter++) {
        char buf[2048];
        const char *seed = seeds[iter % 4];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int muts = 1 + iter % 4;
        for (int m = 0; m < muts; m++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            size_t at = (size_t)(x >> 32) % (len ? len : 1);
            unsigned char b = (unsigned char)(x >> 8);
            switch (x % 4) {
            case 0: buf[at] = (char)b; break;
            case 1: if (len + 1 < sizeof(buf)) { memmove(buf + at + 1, buf + at, len - at); buf[at] = (char)b; len++; } break;
            case 2: if (len > 1) { memmove(buf + at, buf + at + 1, len - at - 1); len--; } break;
            default: len = at; break;
            }
        }
        int closed;
        char *out = feed(buf, len, 1 + (size_t)(x % 300), &closed);
        answered += out[0] != 0;
        free(out);
        /* keep the fake hypervisor's domains as they were */
        for (int d = 0; d < 3; d++)
            doms[d].paused = doms[d].dying = 0;
        ndoms = 3;
    }
    EXPECT(answered > 1000);
    printf("fuzz: 20000 mutated requests, %u answered\n", answered);
}

/* ---- events and tasks (events.c) ---- */

static int sleeps, unpause_at, sleep_ticks;
static char logout_ref[64];
static void f_sleep(void *ctx, unsigned ms)
{
    (void)ctx;
    (void)ms;
    if (sleep_ticks && sleeps + 1 == sleep_ticks)
        session_end(api.auth, logout_ref, clock_s);   /* logged out meanwhile */
    /* A change made by "another thread" while the caller waits. */
    if (++sleeps == unpause_at && find(2))
        find(2)->paused = 0;
}

static void (*spawned_fn)(void *);
static void *spawned_arg;
static int spawn_fails;
static int f_spawn(void (*fn)(void *), void *arg)
{
    if (spawn_fails)
        return -1;
    spawned_fn = fn;
    spawned_arg = arg;
    return 0;
}

static const char *token_of(json_t *r)
{
    static char t[32];
    snprintf(t, sizeof(t), "%s", json_string_value(json_object_get(r, "token")));
    return t;
}

static json_t *task_rec(const char *ref)
{
    json_t *r;
    EXPECT(!strcmp(call("task.get_record", json_pack("[s,s]", session, ref), &r), ""));
    return r;
}

static void test_events(void)
{
    json_t *r;
    char web[64], pool[64], tok[32];
    snprintf(web, sizeof(web), "%s", refof("web"));
    EXPECT(web[0] != 0);
    call("pool.get_all", json_pack("[s]", session), &r);
    snprintf(pool, sizeof(pool), "%s", json_string_value(json_array_get(r, 0)));
    json_decref(r);

    /* inject gives a token; nothing happened since: no events, counts. */
    EXPECT(!strcmp(call("event.inject", json_pack("[s,s,s]", session, "pool", pool), &r), ""));
    EXPECT(json_is_string(r));
    snprintf(tok, sizeof(tok), "%s", json_string_value(r));
    json_decref(r);
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s,s],s,f]", session, "VM", "task", tok, 0.0), &r), ""));
    EXPECT(json_array_size(json_object_get(r, "events")) == 0);
    json_t *counts = json_object_get(r, "valid_ref_counts");
    EXPECT(json_integer_value(json_object_get(counts, "vm")) >= 3);
    EXPECT(json_integer_value(json_object_get(counts, "task")) == 0 && json_object_get(counts, "task"));
    EXPECT(!json_object_get(counts, "host"));
    EXPECT(!strcmp(token_of(r), tok));
    json_decref(r);

    /* A pause is one mod event of class vm with the new record. */
    EXPECT(!strcmp(call("VM.pause", json_pack("[s,s]", session, web), NULL), ""));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", session, "vm", tok, 0), &r), ""));
    json_t *evs = json_object_get(r, "events"), *e0 = json_array_get(evs, 0);
    EXPECT(json_array_size(evs) == 1);
    EXPECT(!strcmp(json_string_value(json_object_get(e0, "class")), "vm"));
    EXPECT(!strcmp(json_string_value(json_object_get(e0, "operation")), "mod"));
    EXPECT(!strcmp(json_string_value(json_object_get(e0, "ref")), web));
    EXPECT(!strcmp(json_string_value(json_object_get(json_object_get(e0, "snapshot"), "power_state")), "Paused"));
    EXPECT(strcmp(token_of(r), tok) != 0);
    snprintf(tok, sizeof(tok), "%s", token_of(r));
    json_decref(r);

    /* Without a sleep hook event.from does not wait; with one it waits
     * (250 ms steps) until a change: the unpause made at the third step. */
    hv.sleep_ms = f_sleep;
    sleeps = 0;
    unpause_at = 3;
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,f]", session, "*", tok, 30.0), &r), ""));
    EXPECT(sleeps == 3);
    e0 = json_array_get(json_object_get(r, "events"), 0);
    EXPECT(!strcmp(json_string_value(json_object_get(json_object_get(e0, "snapshot"), "power_state")), "Running"));
    snprintf(tok, sizeof(tok), "%s", token_of(r));
    EXPECT(json_object_size(json_object_get(r, "valid_ref_counts")) == 4);
    json_decref(r);
    /* Nothing changes: the timeout (1.1 s: 5 steps) ends the wait, empty. */
    sleeps = 0;
    unpause_at = 0;
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,f]", session, "vm", tok, 1.1), &r), ""));
    EXPECT(sleeps == 5 && json_array_size(json_object_get(r, "events")) == 0);
    json_decref(r);
    /* A session that ends while the call waits: SESSION_INVALID. */
    char s2[64];
    call("session.login_with_password", json_pack("[s,s]", "root", "keel-demo"), &r);
    snprintf(s2, sizeof(s2), "%s", json_string_value(r));
    json_decref(r);
    sleeps = 0;
    sleep_ticks = 7;
    snprintf(logout_ref, sizeof(logout_ref), "%s", s2);
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", s2, "vm", tok, 200), NULL), "SESSION_INVALID"));
    EXPECT(sleeps == 7);
    sleep_ticks = 0;
    hv.sleep_ms = NULL;

    /* An empty token: every object of the classes as add. */
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s,s],s,i]", session, "pool", "host", "", 0), &r), ""));
    EXPECT(json_array_size(json_object_get(r, "events")) == 2);
    EXPECT(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(r, "events"), 0), "operation")), "add"));
    json_decref(r);
    /* class/ref: only that object. */
    char one[120];
    snprintf(one, sizeof(one), "vm/%s", web);
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", session, one, "", 0), &r), ""));
    EXPECT(json_array_size(json_object_get(r, "events")) == 1);
    json_decref(r);

    /* Refusals. */
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", session, "vm", "abc", 0), NULL),
                   "EVENT_FROM_TOKEN_PARSE_FAILURE"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", session, "vm", "-1", 0), NULL),
                   "EVENT_FROM_TOKEN_PARSE_FAILURE"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", session, "vm", "999999999999999999999", 0), NULL),
                   "EVENT_FROM_TOKEN_PARSE_FAILURE"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", session, "vm", "99999", 0), NULL), "EVENTS_LOST"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,s,s,i]", session, "vm", tok, 0), NULL), "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[i],s,i]", session, 5, tok, 0), NULL), "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],i,i]", session, "vm", 5, 0), NULL), "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", session, "vm", tok, -1), NULL), "INVALID_VALUE"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,s]", session, "vm", tok, "x"), NULL), "INVALID_VALUE"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,b]", session, "vm", tok, 1), NULL), "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s]", session, "vm", tok), NULL),
                   "MESSAGE_PARAMETER_COUNT_MISMATCH"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", "OpaqueRef:x", "vm", tok, 0), NULL), "SESSION_INVALID"));
    EXPECT(!strcmp(call("event.inject", json_pack("[s,s,s]", session, "VM", "OpaqueRef:nope"), NULL), "HANDLE_INVALID"));
    EXPECT(!strcmp(call("event.inject", json_pack("[s,s,s]", session, "SR", "OpaqueRef:nope"), NULL), "VALUE_NOT_SUPPORTED"));
    EXPECT(!strcmp(call("event.inject", json_pack("[s,i,s]", session, 1, pool), NULL), "FIELD_TYPE_ERROR"));
    /* More events than are kept: an old token is EVENTS_LOST. */
    for (int i = 0; i < AGENT_EVENTS_KEPT + 1; i++)
        call("event.inject", json_pack("[s,s,s]", session, "pool", pool), NULL);
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", session, "vm", tok, 0), NULL), "EVENTS_LOST"));

    /* register / next / unregister */
    EXPECT(!strcmp(call("event.next", json_pack("[s]", session), NULL), "SESSION_NOT_REGISTERED"));
    EXPECT(!strcmp(call("event.register", json_pack("[s,[s]]", session, "VM"), NULL), ""));
    EXPECT(!strcmp(call("event.register", json_pack("[s,s]", session, "VM"), NULL), "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("VM.pause", json_pack("[s,s]", session, web), NULL), ""));
    EXPECT(!strcmp(call("event.next", json_pack("[s]", session), &r), ""));
    EXPECT(json_array_size(r) == 1);
    EXPECT(!strcmp(json_string_value(json_object_get(json_array_get(r, 0), "ref")), web));
    json_decref(r);
    EXPECT(!strcmp(call("event.next", json_pack("[s]", session), &r), ""));   /* no sleep hook: [] */
    EXPECT(json_array_size(r) == 0);
    json_decref(r);
    EXPECT(!strcmp(call("VM.unpause", json_pack("[s,s]", session, web), NULL), ""));
    EXPECT(!strcmp(call("event.unregister", json_pack("[s,[s]]", session, "vm"), NULL), ""));
    EXPECT(!strcmp(call("event.next", json_pack("[s]", session), NULL), "SESSION_NOT_REGISTERED"));
    /* More registrations than sessions can live: an ended session's slot
     * is taken again, and the newest registrations work. */
    for (int i = 0; i < SESSION_MAX + 3; i++) {
        clock_s++;
        call("session.login_with_password", json_pack("[s,s]", "root", "keel-demo"), &r);
        snprintf(session, sizeof(session), "%s", json_string_value(r));
        json_decref(r);
        EXPECT(!strcmp(call("event.register", json_pack("[s,[s]]", session, "*"), NULL), ""));
    }
    EXPECT(!strcmp(call("event.next", json_pack("[s]", session), &r), ""));
    json_decref(r);
}

static void test_tasks(void)
{
    json_t *r;
    char t1[64], web[64], tok[32];
    snprintf(web, sizeof(web), "%s", refof("web"));
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", session, "task", "", 0), &r), ""));
    snprintf(tok, sizeof(tok), "%s", token_of(r));
    json_decref(r);

    /* task.create: pending, cancellable; cancel; destroy. */
    EXPECT(!strcmp(call("task.create", json_pack("[s,s,s]", session, "mine", "d"), &r), ""));
    snprintf(t1, sizeof(t1), "%s", json_string_value(r));
    json_decref(r);
    r = task_rec(t1);
    EXPECT(!strcmp(json_string_value(json_object_get(r, "status")), "pending"));
    EXPECT(!strcmp(json_string_value(json_array_get(json_object_get(r, "allowed_operations"), 0)), "cancel"));
    EXPECT(!strcmp(json_string_value(json_object_get(r, "name_label")), "mine"));
    json_decref(r);
    EXPECT(!strcmp(call("event.from", json_pack("[s,[s],s,i]", session, "task", tok, 0), &r), ""));
    EXPECT(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(r, "events"), 0), "operation")), "add"));
    EXPECT(json_integer_value(json_object_get(json_object_get(r, "valid_ref_counts"), "task")) == 1);
    json_decref(r);
    EXPECT(!strcmp(call("task.cancel", json_pack("[s,s]", session, t1), NULL), ""));
    EXPECT(!strcmp(call("task.get_status", json_pack("[s,s]", session, t1), &r), ""));
    EXPECT(!strcmp(json_string_value(r), "cancelled"));
    json_decref(r);
    EXPECT(!strcmp(call("task.cancel", json_pack("[s,s]", session, t1), NULL), "OPERATION_NOT_ALLOWED"));
    EXPECT(!strcmp(call("task.destroy", json_pack("[s,s]", session, t1), NULL), ""));
    EXPECT(!strcmp(call("task.get_record", json_pack("[s,s]", session, t1), NULL), "HANDLE_INVALID"));
    EXPECT(!strcmp(call("task.get_by_uuid", json_pack("[s,s]", session, t1 + 10), NULL), "UUID_INVALID"));
    EXPECT(!strcmp(call("task.create", json_pack("[s,i,s]", session, 1, "d"), NULL), "FIELD_TYPE_ERROR"));
    EXPECT(!strcmp(call("task.destroy", json_pack("[s,i]", session, 1), NULL), "FIELD_TYPE_ERROR"));

    /* Async without a spawn hook runs at once: success, result "". */
    EXPECT(!strcmp(call("Async.VM.pause", json_pack("[s,s]", session, web), &r), ""));
    snprintf(t1, sizeof(t1), "%s", json_string_value(r));
    json_decref(r);
    r = task_rec(t1);
    EXPECT(!strcmp(json_string_value(json_object_get(r, "status")), "success"));
    EXPECT(!strcmp(json_string_value(json_object_get(r, "result")), ""));
    EXPECT(json_real_value(json_object_get(r, "progress")) == 1.0);
    json_decref(r);
    EXPECT(find(2)->paused);
    EXPECT(!strcmp(call("task.destroy", json_pack("[s,s]", session, t1), NULL), ""));
    /* The call fails: the task fails with the call's error. */
    EXPECT(!strcmp(call("Async.VM.pause", json_pack("[s,s]", session, web), &r), ""));
    snprintf(t1, sizeof(t1), "%s", json_string_value(r));
    json_decref(r);
    r = task_rec(t1);
    EXPECT(!strcmp(json_string_value(json_object_get(r, "status")), "failure"));
    EXPECT(!strcmp(json_string_value(json_array_get(json_object_get(r, "error_info"), 0)), "VM_BAD_POWER_STATE"));
    json_decref(r);
    call("task.destroy", json_pack("[s,s]", session, t1), NULL);
    /* A ref result is XML-RPC text. */
    EXPECT(!strcmp(call("Async.VM.create", json_pack("[s,{s:s,s:i,s:s}]", session, "name_label", "asy",
                                                        "memory_static_max", 4 << 20, "PV_kernel", "hello"), &r), ""));
    snprintf(t1, sizeof(t1), "%s", json_string_value(r));
    json_decref(r);
    r = task_rec(t1);
    const char *res = json_string_value(json_object_get(r, "result"));
    EXPECT(!strncmp(res, "<value>OpaqueRef:", 17) && strstr(res, "</value>"));
    json_decref(r);
    call("task.destroy", json_pack("[s,s]", session, t1), NULL);
    EXPECT(!strcmp(call("VM.destroy", json_pack("[s,s]", session, refof("asy")), NULL), ""));

    /* Refused before any task: unknown, not async-able, bad session, count. */
    EXPECT(!strcmp(call("Async.VM.nope", json_pack("[s,s]", session, web), NULL), "MESSAGE_METHOD_UNKNOWN"));
    EXPECT(!strcmp(call("Async.session.logout", json_pack("[s]", session), NULL), "MESSAGE_METHOD_UNKNOWN"));
    EXPECT(!strcmp(call("Async.VM.unpause", json_pack("[s,s]", "OpaqueRef:x", web), NULL), "SESSION_INVALID"));
    EXPECT(!strcmp(call("Async.VM.unpause", json_pack("[s]", session), NULL), "MESSAGE_PARAMETER_COUNT_MISMATCH"));
    EXPECT(!strcmp(call("task.get_all", json_pack("[s]", session), &r), ""));
    EXPECT(json_array_size(r) == 0);
    json_decref(r);

    /* In a thread: pending until it runs; destroy refused meanwhile;
     * cancelled before it runs, it never runs. */
    hv.spawn = f_spawn;
    spawn_fails = 1;
    EXPECT(!strcmp(call("Async.VM.unpause", json_pack("[s,s]", session, web), NULL), "INTERNAL_ERROR"));
    spawn_fails = 0;
    EXPECT(!strcmp(call("Async.VM.unpause", json_pack("[s,s]", session, web), &r), ""));
    snprintf(t1, sizeof(t1), "%s", json_string_value(r));
    json_decref(r);
    EXPECT(!strcmp(call("task.get_status", json_pack("[s,s]", session, t1), &r), ""));
    EXPECT(!strcmp(json_string_value(r), "pending"));
    json_decref(r);
    EXPECT(!strcmp(call("task.destroy", json_pack("[s,s]", session, t1), NULL), "OPERATION_NOT_ALLOWED"));
    EXPECT(!strcmp(call("task.cancel", json_pack("[s,s]", session, t1), NULL), ""));
    spawned_fn(spawned_arg);
    EXPECT(find(2)->paused);   /* it did not run */
    EXPECT(!strcmp(call("task.destroy", json_pack("[s,s]", session, t1), NULL), ""));
    EXPECT(!strcmp(call("Async.VM.unpause", json_pack("[s,s]", session, web), &r), ""));
    snprintf(t1, sizeof(t1), "%s", json_string_value(r));
    json_decref(r);
    spawned_fn(spawned_arg);
    EXPECT(!find(2)->paused);
    EXPECT(!strcmp(call("task.get_status", json_pack("[s,s]", session, t1), &r), ""));
    EXPECT(!strcmp(json_string_value(r), "success"));
    json_decref(r);
    EXPECT(!strcmp(call("task.cancel", json_pack("[s,s]", session, t1), NULL), "OPERATION_NOT_ALLOWED"));
    call("task.destroy", json_pack("[s,s]", session, t1), NULL);
    hv.spawn = NULL;

    /* At most AGENT_MAX_TASKS tasks. */
    for (int i = 0; i < AGENT_MAX_TASKS; i++)
        EXPECT(!strcmp(call("task.create", json_pack("[s,s,s]", session, "n", ""), NULL), ""));
    EXPECT(!strcmp(call("task.create", json_pack("[s,s,s]", session, "n", ""), NULL), "INTERNAL_ERROR"));
    EXPECT(!strcmp(call("task.get_all_records", json_pack("[s]", session), &r), ""));
    EXPECT(json_object_size(r) == AGENT_MAX_TASKS);
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) call("task.destroy", json_pack("[s,s]", session, k), NULL);
    json_decref(r);
}

/* ---- VM.clean_shutdown ---- */

static int control_rc, control_obeys;
static char control_req[16];
static int f_control(void *ctx, uint32_t id, const char *req)
{
    (void)ctx;
    if (control_rc)
        return control_rc;
    snprintf(control_req, sizeof(control_req), "%s", req);
    if (control_obeys)
        find(id)->shutdown = 1, find(id)->shutdown_code = 0;
    return 0;
}

static int f_wait_shutdown(void *ctx, uint32_t id, unsigned seconds)
{
    (void)ctx;
    EXPECT(seconds == AGENT_CLEAN_TIMEOUT);
    struct agent_dom *d = find(id);
    return !d || d->shutdown || d->dying ? 0 : -1;
}

static void test_clean_shutdown(void)
{
    json_t *r;
    char web[64], agent[64];
    snprintf(web, sizeof(web), "%s", refof("web"));
    snprintf(agent, sizeof(agent), "%s", refof("agent"));
    struct agent_dom *w = find(2);
    EXPECT(w && !w->paused && !w->shutdown && !w->dying);
    EXPECT(!strcmp(call("VM.get_allowed_operations", json_pack("[s,s]", session, web), &r), ""));
    int have = 0;
    for (size_t i = 0; i < json_array_size(r); i++)
        have |= !strcmp(json_string_value(json_array_get(r, i)), "clean_shutdown");
    EXPECT(have);
    json_decref(r);
    /* No control hook, no control node, a store error. */
    EXPECT(!strcmp(call("VM.clean_shutdown", json_pack("[s,s]", session, web), NULL), "OPERATION_NOT_ALLOWED"));
    hv.control = f_control;
    hv.wait_shutdown = f_wait_shutdown;
    control_rc = -2;
    EXPECT(!strcmp(call("VM.clean_shutdown", json_pack("[s,s]", session, web), &r), "OPERATION_NOT_ALLOWED"));
    EXPECT(strstr(json_string_value(json_array_get(r, 1)), "no control node") != NULL);
    json_decref(r);
    control_rc = -13;
    EXPECT(!strcmp(call("VM.clean_shutdown", json_pack("[s,s]", session, web), NULL), "INTERNAL_ERROR"));
    control_rc = 0;
    /* Not on the agent, not when paused, not with a bad ref. */
    EXPECT(!strcmp(call("VM.clean_shutdown", json_pack("[s,s]", session, agent), NULL), "OPERATION_NOT_ALLOWED"));
    w->paused = 1;
    EXPECT(!strcmp(call("VM.clean_shutdown", json_pack("[s,s]", session, web), &r), "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(json_string_value(json_array_get(r, 2)), "running"));
    json_decref(r);
    w->paused = 0;
    EXPECT(!strcmp(call("VM.clean_shutdown", json_pack("[s,s]", session, "OpaqueRef:x"), NULL), "HANDLE_INVALID"));
    EXPECT(!strcmp(call("VM.clean_shutdown", json_pack("[s,i]", session, 1), NULL), "FIELD_TYPE_ERROR"));
    EXPECT(control_req[0] == 0);
    /* The domain obeys: poweroff asked, it shuts down, Halted. */
    control_obeys = 1;
    EXPECT(!strcmp(call("VM.clean_shutdown", json_pack("[s,s]", session, web), NULL), ""));
    EXPECT(!strcmp(control_req, "poweroff") && w->shutdown && !w->dying);
    EXPECT(!strcmp(call("VM.get_power_state", json_pack("[s,s]", session, web), &r), ""));
    EXPECT(!strcmp(json_string_value(r), "Halted"));
    json_decref(r);
    w->shutdown = 0;
    /* It does not: destroyed after the timeout. */
    control_obeys = 0;
    EXPECT(!strcmp(call("VM.clean_shutdown", json_pack("[s,s]", session, web), NULL), ""));
    EXPECT(w->dying && !w->shutdown);
    w->dying = 0;
    hv.control = NULL;
    hv.wait_shutdown = NULL;
}

/* VM.clean_reboot: "reboot" through control/shutdown, then the VM started
 * again; refused for boot domains, without a control node, unless Running. */
static void test_clean_reboot(void)
{
    json_t *r;
    char web[64], ref[64];
    snprintf(web, sizeof(web), "%s", refof("web"));
    int n0 = ndoms;
    EXPECT(n0 < 4);
    EXPECT(!strcmp(call("VM.create", json_pack("[s,{s:s,s:i,s:s}]", session, "name_label", "rb",
                                                  "memory_static_max", 1 << 20, "PV_kernel", "hello"),
                        &r), ""));
    snprintf(ref, sizeof(ref), "%s", json_string_value(r));
    json_decref(r);
    EXPECT(!strcmp(call("VM.clean_reboot", json_pack("[s,s]", session, ref), &r), "VM_BAD_POWER_STATE"));
    json_decref(r);
    EXPECT(!strcmp(call("VM.start", json_pack("[s,s,b,b]", session, ref, 0, 0), NULL), ""));
    EXPECT(ndoms == n0 + 1);
    struct agent_dom *d = &doms[n0];
    EXPECT(!strcmp(call("VM.get_allowed_operations", json_pack("[s,s]", session, ref), &r), ""));
    int have = 0;
    for (size_t i = 0; i < json_array_size(r); i++)
        have |= !strcmp(json_string_value(json_array_get(r, i)), "clean_reboot");
    EXPECT(have);
    json_decref(r);
    /* No control hook (no node); a boot domain; paused; a bad ref. */
    EXPECT(!strcmp(call("VM.clean_reboot", json_pack("[s,s]", session, ref), &r), "OPERATION_NOT_ALLOWED"));
    EXPECT(strstr(json_string_value(json_array_get(r, 1)), "hard_reboot") != NULL);
    json_decref(r);
    hv.control = f_control;
    hv.wait_shutdown = f_wait_shutdown;
    EXPECT(!strcmp(call("VM.clean_reboot", json_pack("[s,s]", session, web), NULL), "OPERATION_NOT_ALLOWED"));
    d->paused = 1;
    EXPECT(!strcmp(call("VM.clean_reboot", json_pack("[s,s]", session, ref), &r), "VM_BAD_POWER_STATE"));
    EXPECT(!strcmp(json_string_value(json_array_get(r, 2)), "running"));
    json_decref(r);
    d->paused = 0;
    EXPECT(!strcmp(call("VM.clean_reboot", json_pack("[s,s]", session, "OpaqueRef:x"), NULL), "HANDLE_INVALID"));
    control_rc = -13;
    EXPECT(!strcmp(call("VM.clean_reboot", json_pack("[s,s]", session, ref), NULL), "INTERNAL_ERROR"));
    control_rc = 0;
    /* Obeyed: the old domain shut down, destroyed, gone; a new one runs. */
    control_req[0] = 0;
    control_obeys = 1;
    EXPECT(!strcmp(call("VM.clean_reboot", json_pack("[s,s]", session, ref), NULL), ""));
    EXPECT(!strcmp(control_req, "reboot"));
    EXPECT(ndoms == n0 + 1 && !doms[n0].shutdown && !doms[n0].dying && !doms[n0].paused);
    EXPECT(!strcmp(call("VM.get_power_state", json_pack("[s,s]", session, ref), &r), ""));
    EXPECT(!strcmp(json_string_value(r), "Running"));
    json_decref(r);
    /* Not obeyed: destroyed after the timeout, started again all the same. */
    control_obeys = 0;
    EXPECT(!strcmp(call("VM.clean_reboot", json_pack("[s,s]", session, ref), NULL), ""));
    EXPECT(ndoms == n0 + 1 && !doms[n0].dying && !doms[n0].shutdown);
    /* A start that fails after the old domain went: INTERNAL_ERROR, Halted. */
    start_fails = 1;
    EXPECT(!strcmp(call("VM.clean_reboot", json_pack("[s,s]", session, ref), NULL), "INTERNAL_ERROR"));
    start_fails = 0;
    EXPECT(ndoms == n0);
    EXPECT(!strcmp(call("VM.destroy", json_pack("[s,s]", session, ref), NULL), ""));
    control_obeys = 0;
    hv.control = NULL;
    hv.wait_shutdown = NULL;
}

int main(void)
{
    doms[0] = (struct agent_dom){ .domid = 0, .name = "xenstore", .xs_domain = 1, .max_pages = 4096,
                                  .tot_pages = 4000, .max_vcpus = 1, .online_vcpus = 1 };
    doms[1] = (struct agent_dom){ .domid = 1, .name = "agent", .max_pages = 8192, .tot_pages = 8192,
                                  .max_vcpus = 1, .online_vcpus = 1,
                                  .handle = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } };
    doms[2] = (struct agent_dom){ .domid = 2, .name = "web", .max_pages = 4096, .tot_pages = 4096,
                                  .max_vcpus = 2, .online_vcpus = 1 };
    char pw[] = "keel-demo";
    char err[120];
    struct agent_auth *auth = auth_create("root", pw, 1000, 60, ent, NULL, err, sizeof(err));
    EXPECT(auth != NULL);
    EXPECT(pw[0] == 0 && pw[8] == 0);   /* wiped */
    char pw2[] = "x";
    EXPECT(auth_create("", pw2, 1000, 60, ent, NULL, err, sizeof(err)) == NULL);
    EXPECT(auth_create("root", pw2, 10, 60, ent, NULL, err, sizeof(err)) == NULL);
    if (!auth)
        UNIT_DONE();
    api_init(&api, &hv, auth, now, "keel", "10.0.2.15");
    test_sessions();
    test_vms();
    test_create();
    test_templates();
    test_change_password();
    test_events();
    test_tasks();
    test_clean_shutdown();
    test_clean_reboot();
    test_jsonrpc();
    test_xmlrpc();
    test_http();
    test_fuzz();
    events_free(&api);
    for (int i = 0; i < AGENT_MAX_VMDEFS; i++) {
        if (api.vms[i]) {
            json_decref(api.vms[i]->halted_rec);
            free(api.vms[i]->halted_text);
            free(api.vms[i]->halted_xml);
        }
        free(api.vms[i]);
    }
    auth_free(auth);
    UNIT_DONE();
}
