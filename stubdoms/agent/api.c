/* api.c: the XenAPI classes the agent serves (session, system, host, pool,
 * VM), one dispatch table; values read from the hypervisor at each call.
 * Error codes and their parameters follow xapi's data model
 * (ocaml/idl/datamodel_errors.ml; docs/agent.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/sha256.h>
#include "agent.h"

#define NULL_REF "OpaqueRef:NULL"

json_t *api_failure(const char *code, ...)
{
    json_t *a = json_array();
    json_array_append_new(a, json_string(code));
    va_list ap;
    va_start(ap, code);
    for (const char *s; (s = va_arg(ap, const char *));)
        json_array_append_new(a, json_string(s));
    va_end(ap);
    return a;
}

/* ---- identities ---- */

/* A name-based UUID: the first 16 bytes of SHA-256(text), with RFC 9562's
 * version 8 (custom) and variant bits. */
static void uuid_derive(const void *text, size_t len, char out[37])
{
    unsigned char h[32];
    mbedtls_sha256_ret(text, len, h, 0);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x80);
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12],
             h[13], h[14], h[15]);
}

/* A VM's uuid: its domain handle if the builder set one, else derived
 * from "keel-vm:<domid>:<name>" (stable while the domain lives; domids
 * are not reused while the hypervisor runs). */
static void vm_uuid(const struct agent_dom *d, char out[37])
{
    static const uint8_t zero[16];
    if (memcmp(d->handle, zero, 16)) {
        const uint8_t *h = d->handle;
        snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12],
                 h[13], h[14], h[15]);
        return;
    }
    char t[64];
    int n = snprintf(t, sizeof(t), "keel-vm:%u:%s", d->domid, d->name);
    uuid_derive(t, (size_t)n, out);
}

static void ref_of(const char *uuid, char out[48])
{
    snprintf(out, 48, "OpaqueRef:%s", uuid);
}

void api_init(struct agent_api *api, struct agent_hv *hv, struct agent_auth *auth,
              uint64_t (*now)(void), const char *hostname, const char *address)
{
    memset(api, 0, sizeof(*api));
    api->hv = hv;
    api->auth = auth;
    api->now = now;
    snprintf(api->hostname, sizeof(api->hostname), "%s", hostname);
    snprintf(api->address, sizeof(api->address), "%s", address ? address : "");
    char t[80];
    int n = snprintf(t, sizeof(t), "keel-host:%s", api->hostname);
    uuid_derive(t, (size_t)n, api->host_uuid);
    events_init(api);   /* without it, event.* and task.* fail INTERNAL_ERROR */
}

static void pool_uuid(const struct agent_api *api, char out[37])
{
    char t[80];
    int n = snprintf(t, sizeof(t), "keel-pool:%s", api->hostname);
    uuid_derive(t, (size_t)n, out);
}

/* ---- a call's context ---- */

struct call {
    struct agent_api *api;
    const char *method;
    json_t *params;
    json_t *fail;           /* set on failure */
    struct agent_dom *doms; /* the domain list, read on first use */
    int ndoms;
};

static void failf(struct call *c, json_t *f)
{
    if (!c->fail)
        c->fail = f;
    else
        json_decref(f);
}

static int load_doms(struct call *c)
{
    if (c->doms)
        return 0;
    /* The hypervisor's domains, then the defined VMs without one. */
    c->doms = calloc(AGENT_MAX_DOMS + AGENT_MAX_VMDEFS, sizeof(*c->doms));
    if (!c->doms) {
        failf(c, api_failure("INTERNAL_ERROR", "out of memory", NULL));
        return -1;
    }
    c->ndoms = c->api->hv->list(c->api->hv->ctx, c->doms, AGENT_MAX_DOMS);
    if (c->ndoms < 0) {
        char m[64];
        snprintf(m, sizeof(m), "getdomaininfolist failed: %d", c->ndoms);
        failf(c, api_failure("INTERNAL_ERROR", m, NULL));
        c->ndoms = 0;
        return -1;
    }
    /* Domains started for defined VMs carry the VM's uuid as handle. */
    struct agent_api *api = c->api;
    unsigned char matched[AGENT_MAX_VMDEFS] = { 0 };
    for (int i = 0; i < c->ndoms; i++) {
        c->doms[i].vmdef = -1;
        /* Only a domain with a handle can be a defined VM's. */
        static const uint8_t zero[16];
        if (!memcmp(c->doms[i].handle, zero, 16))
            continue;
        for (int v = 0; v < AGENT_MAX_VMDEFS; v++)
            if (api_vm(api, v) && !memcmp(api->vms[v]->uuid, c->doms[i].handle, 16)) {
                c->doms[i].vmdef = v;
                matched[v] = 1;
                memcpy(c->doms[i].name, api->vms[v]->name, sizeof(c->doms[i].name));
            }
    }
    /* The defined VMs with no domain: Halted. */
    for (int v = 0; v < AGENT_MAX_VMDEFS; v++) {
        if (!api_vm(api, v) || matched[v])
            continue;
        struct agent_dom *d = &c->doms[c->ndoms++];
        memset(d, 0, sizeof(*d));
        d->domid = UINT32_MAX;
        d->defined_only = 1;
        d->vmdef = v;
        memcpy(d->handle, api->vms[v]->uuid, 16);
        memcpy(d->name, api->vms[v]->name, sizeof(d->name));
        d->max_pages = api->vms[v]->mem_bytes / 4096;
        d->max_vcpus = api->vms[v]->vcpus;
    }
    return 0;
}

/* The string parameter i (after the session, when there is one). */
static const char *str_param(struct call *c, size_t i, const char *what)
{
    json_t *v = json_array_get(c->params, i);
    if (!json_is_string(v)) {
        failf(c, api_failure("FIELD_TYPE_ERROR", what, NULL));
        return NULL;
    }
    return json_string_value(v);
}

/* ---- VM ---- */

static const char *power_state(const struct agent_dom *d)
{
    if (d->dying || d->defined_only)
        return "Halted";
    if (d->shutdown)
        return d->shutdown_code == 2 /* SHUTDOWN_suspend */ ? "Suspended" : "Halted";
    if (d->paused)
        return "Paused";
    return "Running";
}

static void lower(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    out[i] = 0;
}

static struct agent_dom *vm_by_ref(struct call *c, const char *ref)
{
    if (load_doms(c))
        return NULL;
    for (int i = 0; i < c->ndoms; i++) {
        char u[37], r[48];
        vm_uuid(&c->doms[i], u);
        ref_of(u, r);
        if (!strcmp(r, ref))
            return &c->doms[i];
    }
    failf(c, api_failure("HANDLE_INVALID", "VM", ref, NULL));
    return NULL;
}

static json_t *vm_ops(const struct call *c, const struct agent_dom *d)
{
    json_t *a = json_array();
    const char *ps = power_state(d);
    if (d->domid == c->api->hv->self || d->xs_domain)
        return a;
    const char *ops[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
    const struct agent_vmdef *def = d->defined_only ? api_vm(c->api, d->vmdef) : NULL;
    if (def && def->is_template)       /* xapi's check_template */
        ops[0] = "clone", ops[1] = "provision", ops[2] = "destroy";
    else if (!strcmp(ps, "Running"))
        ops[0] = "pause", ops[1] = "hard_shutdown", ops[3] = "clean_shutdown";
    else if (!strcmp(ps, "Paused"))
        ops[0] = "unpause", ops[1] = "hard_shutdown";
    else if (!strcmp(ps, "Suspended"))
        ops[0] = "hard_shutdown";
    else if (d->defined_only)
        ops[0] = "start", ops[1] = "destroy", ops[5] = "clone";
    if (d->vmdef >= 0 && (!strcmp(ps, "Running") || !strcmp(ps, "Paused")))
        ops[2] = "hard_reboot";
    if (d->vmdef >= 0 && !strcmp(ps, "Running"))
        ops[4] = "clean_reboot";
    for (int i = 0; i < 6; i++)
        if (ops[i])
            json_array_append_new(a, json_string(ops[i]));
    return a;
}

/* The record of a domain: the fields of xapi's VM class this agent knows
 * honestly; the rest of the model's fields at their empty values. */
/* A defined VM's other_config: its auto_poweron flag. */
static json_t *vm_other_config(const struct agent_vmdef *def)
{
    return def && def->auto_poweron ? json_pack("{s:s}", "auto_poweron", "true") : json_object();
}

static json_t *vm_record_build(struct call *c, const struct agent_dom *d);

/* A defined VM with no domain has a record that only its definition
 * decides: built once, then shared (1,000 of them make every
 * get_all_records and every event poll, docs/agent.md "Figures"). */
static json_t *vm_record(struct call *c, const struct agent_dom *d)
{
    struct agent_vmdef *def = d->defined_only ? api_vm(c->api, d->vmdef) : NULL;
    if (def && def->halted_rec)
        return json_incref(def->halted_rec);
    json_t *r = vm_record_build(c, d);
    if (def && r)
        def->halted_rec = json_incref(r);
    return r;
}

void api_vm_changed(struct agent_vmdef *v)
{
    if (!v)
        return;
    json_decref(v->halted_rec);
    free(v->halted_text);
    free(v->halted_xml);
    v->halted_rec = NULL;
    v->halted_text = v->halted_xml = NULL;
    v->halted_text_len = v->halted_xml_len = 0;
}

const char *api_record_text(struct agent_api *api, json_t *rec, int xml, size_t *len)
{
    /* Records come in slot order (get_all_records): look from the last. */
    static int hint;
    for (int k = 0; k < AGENT_MAX_VMDEFS; k++) {
        int i = (hint + k) % AGENT_MAX_VMDEFS;
        struct agent_vmdef *v = api_vm(api, i);
        if (!v || v->halted_rec != rec)
            continue;
        hint = i + 1;
        char **t = xml ? &v->halted_xml : &v->halted_text;
        size_t *n = xml ? &v->halted_xml_len : &v->halted_text_len;
        if (!*t) {
            if (!(*t = xml ? rpc_xml_value(rec) : json_dumps(rec, JSON_COMPACT)))
                return NULL;
            *n = strlen(*t);
        }
        *len = *n;
        return *t;
    }
    return NULL;
}

static json_t *vm_record_build(struct call *c, const struct agent_dom *d)
{
    char u[37], host_ref[48];
    vm_uuid(d, u);
    ref_of(c->api->host_uuid, host_ref);
    const char *ps = power_state(d);
    int live = strcmp(ps, "Halted") != 0;
    json_int_t maxb = (json_int_t)(d->max_pages > (uint64_t)INT64_MAX / 4096 ? INT64_MAX / 4096 : d->max_pages) * 4096;
    json_int_t totb = (json_int_t)d->tot_pages * 4096;
    const struct agent_vmdef *def = d->vmdef >= 0 ? c->api->vms[d->vmdef] : NULL;
    const char *pv_kernel = def ? def->kernel : "", *pv_args = def ? def->args : "";
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:b, s:b, s:s, s:s,"
                     " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                     " s:o, s:{}, s:o, s:{}, s:o, s:o, s:[], s:[], s:[],"
                     " s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s}",
                     "uuid", u, "name_label", d->name, "name_description", "",
                     "power_state", ps, "domid", (json_int_t)(live ? (json_int_t)d->domid : -1),
                     "is_a_template", def ? def->is_template : 0, "is_default_template", 0,
                     "is_control_domain", d->domid == c->api->hv->self, "is_a_snapshot", 0,
                     "resident_on", live ? host_ref : NULL_REF,
                     "affinity", NULL_REF,
                     "memory_static_max", maxb, "memory_dynamic_max", maxb,
                     "memory_dynamic_min", totb, "memory_static_min", totb,
                     "memory_target", totb, "memory_overhead", (json_int_t)0,
                     "VCPUs_max", (json_int_t)d->max_vcpus,
                     "VCPUs_at_startup", (json_int_t)d->online_vcpus,
                     "allowed_operations", vm_ops(c, d),
                     "current_operations", "other_config", vm_other_config(def), "blocked_operations",
                     "VBDs", devices_vm_vbds(def), "VIFs", devices_vm_vifs(def), "consoles", "tags", "crash_dumps",
                     "actions_after_shutdown", "destroy", "actions_after_reboot", "restart",
                     "actions_after_crash", "destroy", "PV_kernel", pv_kernel, "PV_args", pv_args,
                     "HVM_boot_policy", "", "domarch", live ? "x64" : "",
                     "user_version", (json_int_t)1,
                     "metrics", NULL_REF, "guest_metrics", NULL_REF,
                     "suspend_VDI", NULL_REF, "snapshot_of", NULL_REF);
}

static json_t *vm_get_all(struct call *c)
{
    if (load_doms(c))
        return NULL;
    json_t *a = json_array();
    for (int i = 0; i < c->ndoms; i++) {
        char u[37], r[48];
        vm_uuid(&c->doms[i], u);
        ref_of(u, r);
        json_array_append_new(a, json_string(r));
    }
    return a;
}

static json_t *vm_get_all_records(struct call *c)
{
    if (load_doms(c))
        return NULL;
    json_t *o = json_object();
    for (int i = 0; i < c->ndoms; i++) {
        char u[37], r[48];
        vm_uuid(&c->doms[i], u);
        ref_of(u, r);
        json_object_set_new(o, r, vm_record(c, &c->doms[i]));
    }
    return o;
}

static json_t *vm_get_record(struct call *c)
{
    const char *ref = str_param(c, 1, "self");
    struct agent_dom *d = ref ? vm_by_ref(c, ref) : NULL;
    return d ? vm_record(c, d) : NULL;
}

static json_t *vm_get_by_uuid(struct call *c)
{
    const char *uuid = str_param(c, 1, "uuid");
    if (!uuid || load_doms(c))
        return NULL;
    for (int i = 0; i < c->ndoms; i++) {
        char u[37], r[48];
        vm_uuid(&c->doms[i], u);
        if (!strcmp(u, uuid)) {
            ref_of(u, r);
            return json_string(r);
        }
    }
    failf(c, api_failure("UUID_INVALID", "VM", uuid, NULL));
    return NULL;
}

static json_t *vm_get_by_name_label(struct call *c)
{
    const char *label = str_param(c, 1, "label");
    if (!label || load_doms(c))
        return NULL;
    json_t *a = json_array();
    for (int i = 0; i < c->ndoms; i++)
        if (!strcmp(c->doms[i].name, label)) {
            char u[37], r[48];
            vm_uuid(&c->doms[i], u);
            ref_of(u, r);
            json_array_append_new(a, json_string(r));
        }
    return a;
}

/* VM.get_<field>: the field of the record (the method name says which). */
static json_t *vm_get_field(struct call *c)
{
    json_t *rec = vm_get_record(c);
    if (!rec)
        return NULL;
    const char *field = strchr(c->method, '.') + 1 + 4;   /* after "get_" */
    json_t *v = json_incref(json_object_get(rec, field));
    json_decref(rec);
    if (!v)
        failf(c, api_failure("INTERNAL_ERROR", "no such field", NULL));
    return v;
}

/* Checks that d may be acted on and is in one of the states want; 0, or
 * -1 with the failure set. */
static int vm_act_check(struct call *c, const char *ref, struct agent_dom *d, const char *const *want)
{
    /* xapi refuses operations on the control domain with
     * OPERATION_NOT_ALLOWED (xapi_vm_lifecycle.ml); the xenstore domain is
     * as vital here. */
    if (d->domid == c->api->hv->self) {
        failf(c, api_failure("OPERATION_NOT_ALLOWED",
                             "Operations on the control domain (the agent itself) are not allowed", NULL));
        return -1;
    }
    if (d->xs_domain) {
        failf(c, api_failure("OPERATION_NOT_ALLOWED",
                             "Operations on the xenstore domain are not allowed", NULL));
        return -1;
    }
    const char *ps = power_state(d);
    for (const char *const *w = want; *w; w++)
        if (!strcmp(ps, *w))
            return 0;
    char e[16], a[16];
    lower(want[0], e, sizeof(e));
    lower(ps, a, sizeof(a));
    failf(c, api_failure("VM_BAD_POWER_STATE", ref, e, a, NULL));
    return -1;
}

static json_t *hv_result(struct call *c, int rc, const char *op)
{
    if (rc == 0)
        return json_string("");
    char m[80];
    snprintf(m, sizeof(m), "%s failed: Xen errno %d", op, -rc);
    failf(c, api_failure("INTERNAL_ERROR", m, NULL));
    return NULL;
}

static json_t *vm_pause(struct call *c)
{
    static const char *const want[] = { "Running", NULL };
    const char *ref = str_param(c, 1, "vm");
    struct agent_dom *d = ref ? vm_by_ref(c, ref) : NULL;
    if (!d || vm_act_check(c, ref, d, want))
        return NULL;
    return hv_result(c, c->api->hv->pause(c->api->hv->ctx, d->domid), "pausedomain");
}

static json_t *vm_unpause(struct call *c)
{
    static const char *const want[] = { "Paused", NULL };
    const char *ref = str_param(c, 1, "vm");
    struct agent_dom *d = ref ? vm_by_ref(c, ref) : NULL;
    if (!d || vm_act_check(c, ref, d, want))
        return NULL;
    return hv_result(c, c->api->hv->unpause(c->api->hv->ctx, d->domid), "unpausedomain");
}

static json_t *vm_hard_shutdown(struct call *c)
{
    static const char *const want[] = { "Running", "Paused", "Suspended", NULL };
    const char *ref = str_param(c, 1, "vm");
    struct agent_dom *d = ref ? vm_by_ref(c, ref) : NULL;
    if (!d || vm_act_check(c, ref, d, want))
        return NULL;
    return hv_result(c, c->api->hv->destroy(c->api->hv->ctx, d->domid), "destroydomain");
}

/* VM.clean_shutdown(session, vm): "poweroff" written to the domain's
 * control/shutdown, as xl shutdown does; the domain has
 * AGENT_CLEAN_TIMEOUT seconds to shut down (other calls are served
 * meanwhile), then it is destroyed (xl shutdown -F's fallback). */
static json_t *vm_clean_shutdown(struct call *c)
{
    static const char *const want[] = { "Running", NULL };
    const char *ref = str_param(c, 1, "vm");
    struct agent_dom *d = ref ? vm_by_ref(c, ref) : NULL;
    if (!d || vm_act_check(c, ref, d, want))
        return NULL;
    struct agent_hv *hv = c->api->hv;
    uint32_t domid = d->domid;
    int rc = hv->control ? hv->control(hv->ctx, domid, "poweroff") : -2;
    if (rc == -2) {
        failf(c, api_failure("OPERATION_NOT_ALLOWED",
                             "the VM's domain has no control node in the store: use hard_shutdown", NULL));
        return NULL;
    }
    if (rc)
        return hv_result(c, rc, "writing control/shutdown");
    if (!hv->wait_shutdown(hv->ctx, domid, AGENT_CLEAN_TIMEOUT))
        return json_string("");
    return hv_result(c, hv->destroy(hv->ctx, domid), "destroydomain after the clean shutdown timed out");
}

/* An integer field of VM.create's record: a number, or a decimal string
 * (XML-RPC carries XenAPI's ints as strings).  1 if absent. */
static int int_field(struct call *c, json_t *rec, const char *field, json_int_t *v)
{
    json_t *f = json_object_get(rec, field);
    if (!f)
        return 1;
    if (json_is_integer(f)) {
        *v = json_integer_value(f);
        return 0;
    }
    if (json_is_string(f)) {
        const char *s = json_string_value(f);
        char *end;
        long long x = strtoll(s, &end, 10);
        if (*s && !*end && x >= 0 && x < INT64_MAX) {
            *v = x;
            return 0;
        }
        failf(c, api_failure("INVALID_VALUE", field, s, NULL));
        return -1;
    }
    failf(c, api_failure("FIELD_TYPE_ERROR", field, NULL));
    return -1;
}

static int invalid_int(struct call *c, const char *field, json_int_t v)
{
    char t[32];
    snprintf(t, sizeof(t), "%lld", (long long)v);
    failf(c, api_failure("INVALID_VALUE", field, t, NULL));
    return -1;
}

/* VM.create(session, args): a Halted VM that VM.start can build.  Of
 * xapi's record it reads name_label, memory_static_max, VCPUs_max,
 * PV_kernel (an image embedded in the agent) and PV_args; the other
 * fields are accepted and not used (docs/agent.md). */
struct agent_vmdef *api_vm_slot(struct agent_api *api)
{
    int nul = -1;
    for (int i = 0; i < AGENT_MAX_VMDEFS; i++) {
        if (api->vms[i] && !api->vms[i]->used)
            return api->vms[i];
        if (!api->vms[i] && nul < 0)
            nul = i;
    }
    if (nul < 0 || !(api->vms[nul] = calloc(1, sizeof(*api->vms[nul]))))
        return NULL;
    return api->vms[nul];
}

/* The new VM v (its slot taken: used 2) saved and defined: its ref, or
 * NULL (the slot given back) if the save fails. */
static json_t *vm_defined(struct call *c, struct agent_vmdef *v)
{
    char perr[200];
    if (c->api->store_dir[0] && persist_save(c->api->store_dir, v, perr, sizeof(perr))) {
        memset(v, 0, sizeof(*v));
        failf(c, api_failure("INTERNAL_ERROR", perr, NULL));
        return NULL;
    }
    v->used = 1;
    struct agent_dom d = { .vmdef = -1, .defined_only = 1 };
    memcpy(d.handle, v->uuid, 16);
    memcpy(d.name, v->name, sizeof(d.name));
    char u[37], r[48];
    vm_uuid(&d, u);
    ref_of(u, r);
    return json_string(r);
}

static json_t *vm_create(struct call *c)
{
    json_t *rec = json_array_get(c->params, 1);
    if (!json_is_object(rec)) {
        failf(c, api_failure("FIELD_TYPE_ERROR", "args", NULL));
        return NULL;
    }
    json_t *name = json_object_get(rec, "name_label"), *kernel = json_object_get(rec, "PV_kernel");
    json_t *args = json_object_get(rec, "PV_args");
    json_int_t mem = 0, vcpus = 1;
    if (!json_is_string(name)) {
        failf(c, api_failure("FIELD_TYPE_ERROR", "name_label", NULL));
        return NULL;
    }
    if (json_string_length(name) < 1 || json_string_length(name) > 31 ||
        strlen(json_string_value(name)) != json_string_length(name)) {
        failf(c, api_failure("INVALID_VALUE", "name_label", json_string_value(name), NULL));
        return NULL;
    }
    int rc = int_field(c, rec, "memory_static_max", &mem);
    if (rc == 1)
        failf(c, api_failure("FIELD_TYPE_ERROR", "memory_static_max", NULL));
    if (rc)
        return NULL;
    if (mem < (1 << 20) || (uint64_t)mem > AGENT_VM_MAX_MEM || mem % 4096) {
        invalid_int(c, "memory_static_max", mem);
        return NULL;
    }
    if (int_field(c, rec, "VCPUs_max", &vcpus) < 0)
        return NULL;
    if (vcpus < 1 || vcpus > 32) {
        invalid_int(c, "VCPUs_max", vcpus);
        return NULL;
    }
    if (!json_is_string(kernel)) {
        failf(c, api_failure("FIELD_TYPE_ERROR", "PV_kernel", NULL));
        return NULL;
    }
    if (!c->api->hv->kernel_known(json_string_value(kernel))) {
        char why[128];
        snprintf(why, sizeof(why), "the agent starts %s", c->api->hv->kernel_names);
        failf(c, api_failure("VALUE_NOT_SUPPORTED", "PV_kernel", json_string_value(kernel), why, NULL));
        return NULL;
    }
    if (args && (!json_is_string(args) || json_string_length(args) >= AGENT_ARGS_MAX ||
                 strlen(json_string_value(args)) != json_string_length(args))) {
        failf(c, api_failure(json_is_string(args) ? "INVALID_VALUE" : "FIELD_TYPE_ERROR", "PV_args",
                             json_is_string(args) ? "(too long)" : NULL, NULL));
        return NULL;
    }
    json_t *tmpl = json_object_get(rec, "is_a_template");
    if (tmpl && !json_is_boolean(tmpl)) {
        failf(c, api_failure("FIELD_TYPE_ERROR", "is_a_template", NULL));
        return NULL;
    }
    /* other_config:auto_poweron "true": started when the agent starts. */
    json_t *oc = json_object_get(rec, "other_config");
    json_t *ap = json_is_object(oc) ? json_object_get(oc, "auto_poweron") : NULL;
    if ((oc && !json_is_object(oc)) || (ap && !json_is_string(ap))) {
        failf(c, api_failure("FIELD_TYPE_ERROR", ap ? "other_config:auto_poweron" : "other_config", NULL));
        return NULL;
    }
    struct agent_vmdef *v = api_vm_slot(c->api);
    if (!v) {
        failf(c, api_failure("INTERNAL_ERROR", "the agent holds at most 1024 defined VMs (or is out of memory)", NULL));
        return NULL;
    }
    memset(v, 0, sizeof(*v));
    v->used = 2;   /* taken while its save runs (other calls run then) */
    if (auth_random(c->api->auth, v->uuid, 16)) {
        v->used = 0;
        failf(c, api_failure("INTERNAL_ERROR", "no random uuid", NULL));
        return NULL;
    }
    v->uuid[6] = (uint8_t)((v->uuid[6] & 0x0f) | 0x40);
    v->uuid[8] = (uint8_t)((v->uuid[8] & 0x3f) | 0x80);
    snprintf(v->name, sizeof(v->name), "%s", json_string_value(name));
    snprintf(v->kernel, sizeof(v->kernel), "%s", json_string_value(kernel));
    snprintf(v->args, sizeof(v->args), "%s", args ? json_string_value(args) : "");
    v->mem_bytes = (uint64_t)mem;
    v->vcpus = (unsigned)vcpus;
    v->auto_poweron = ap && !strcmp(json_string_value(ap), "true");
    v->is_template = json_is_true(tmpl);
    return vm_defined(c, v);
}

/* The defined VM ref names, Halted with no domain; NULL (failure set) if
 * it is not one. */
static struct agent_dom *halted_def(struct call *c, const char *ref)
{
    struct agent_dom *d = vm_by_ref(c, ref);
    if (!d)
        return NULL;
    if (d->defined_only)
        return d;
    const char *ps = power_state(d);
    if (strcmp(ps, "Halted")) {
        char a[16];
        lower(ps, a, sizeof(a));
        failf(c, api_failure("VM_BAD_POWER_STATE", ref, "halted", a, NULL));
    } else {
        failf(c, api_failure("OPERATION_NOT_ALLOWED",
                             d->vmdef >= 0 ? "the VM's last domain is still being torn down"
                                           : "the VM is a boot domain that is going away", NULL));
    }
    return NULL;
}

/* VM.start(session, vm, start_paused, force) */
static json_t *vm_start(struct call *c)
{
    const char *ref = str_param(c, 1, "vm");
    json_t *paused = json_array_get(c->params, 2), *force = json_array_get(c->params, 3);
    if (!ref)
        return NULL;
    if (!json_is_boolean(paused) || !json_is_boolean(force)) {
        failf(c, api_failure("FIELD_TYPE_ERROR", json_is_boolean(paused) ? "force" : "start_paused", NULL));
        return NULL;
    }
    struct agent_dom *d = halted_def(c, ref);
    if (!d)
        return NULL;
    if (c->api->vms[d->vmdef]->is_template) {
        failf(c, api_failure("VM_IS_TEMPLATE", ref, "start", NULL));
        return NULL;
    }
    char err[160];
    uint32_t domid;
    if (c->api->hv->start(c->api->hv->ctx, c->api->vms[d->vmdef], json_is_true(paused), &domid,
                          err, sizeof(err))) {
        failf(c, api_failure("INTERNAL_ERROR", err, NULL));
        return NULL;
    }
    return json_string("");
}

/* The rest of a reboot of defined VM v (ref): its old domain, already
 * destroyed, gone, and the VM started again, unpaused. */
static json_t *restart(struct call *c, const char *ref, int v, uint32_t old)
{
    uint8_t uuid[16];
    uint32_t domid;
    memcpy(uuid, c->api->vms[v]->uuid, 16);
    /* Other calls run meanwhile: the VM may be destroyed or redefined. */
    if (c->api->hv->wait_gone(c->api->hv->ctx, old, 10)) {
        failf(c, api_failure("INTERNAL_ERROR", "the old domain did not go away in 10 s", NULL));
        return NULL;
    }
    if (!api_vm(c->api, v) || memcmp(c->api->vms[v]->uuid, uuid, 16)) {
        failf(c, api_failure("HANDLE_INVALID", "VM", ref, NULL));
        return NULL;
    }
    char err[160];
    if (c->api->hv->start(c->api->hv->ctx, c->api->vms[v], 0, &domid, err, sizeof(err))) {
        failf(c, api_failure("INTERNAL_ERROR", err, NULL));
        return NULL;
    }
    return json_string("");
}

/* VM.hard_reboot(session, vm): a defined VM's domain destroyed, gone,
 * and the VM started again (a boot domain restarts by its restart=
 * policy, not through the API). */
static json_t *vm_hard_reboot(struct call *c)
{
    static const char *const want[] = { "Running", "Paused", NULL };
    const char *ref = str_param(c, 1, "vm");
    struct agent_dom *d = ref ? vm_by_ref(c, ref) : NULL;
    if (!d || vm_act_check(c, ref, d, want))
        return NULL;
    if (d->vmdef < 0) {
        failf(c, api_failure("OPERATION_NOT_ALLOWED",
                             "a boot domain restarts by its restart= policy, not through the API", NULL));
        return NULL;
    }
    int rc = c->api->hv->destroy(c->api->hv->ctx, d->domid);
    if (rc)
        return hv_result(c, rc, "destroydomain");
    return restart(c, ref, d->vmdef, d->domid);
}

/* VM.clean_reboot(session, vm): "reboot" written to a defined VM's
 * control/shutdown, as xl reboot does; once its domain has shut down (or
 * after AGENT_CLEAN_TIMEOUT seconds, xl reboot -F's fallback) it is
 * destroyed, gone, and the VM started again. */
static json_t *vm_clean_reboot(struct call *c)
{
    static const char *const want[] = { "Running", NULL };
    const char *ref = str_param(c, 1, "vm");
    struct agent_dom *d = ref ? vm_by_ref(c, ref) : NULL;
    if (!d || vm_act_check(c, ref, d, want))
        return NULL;
    if (d->vmdef < 0) {
        failf(c, api_failure("OPERATION_NOT_ALLOWED",
                             "a boot domain restarts by its restart= policy, not through the API", NULL));
        return NULL;
    }
    struct agent_hv *hv = c->api->hv;
    uint32_t domid = d->domid;
    int v = d->vmdef;
    int rc = hv->control ? hv->control(hv->ctx, domid, "reboot") : -2;
    if (rc == -2) {
        failf(c, api_failure("OPERATION_NOT_ALLOWED",
                             "the VM's domain has no control node in the store: use hard_reboot", NULL));
        return NULL;
    }
    if (rc)
        return hv_result(c, rc, "writing control/shutdown");
    hv->wait_shutdown(hv->ctx, domid, AGENT_CLEAN_TIMEOUT);
    /* Shut down (or not in time): destroyed either way; one already gone
     * is not an error. */
    hv->destroy(hv->ctx, domid);
    return restart(c, ref, v, domid);
}

/* VM.destroy(session, self): forgets a Halted defined VM. */
static json_t *vm_destroy(struct call *c)
{
    const char *ref = str_param(c, 1, "self");
    struct agent_dom *d = ref ? halted_def(c, ref) : NULL;
    if (!d)
        return NULL;
    char perr[200];
    if (c->api->store_dir[0] &&
        persist_remove(c->api->store_dir, c->api->vms[d->vmdef]->uuid, perr, sizeof(perr))) {
        failf(c, api_failure("INTERNAL_ERROR", perr, NULL));
        return NULL;
    }
    /* The slot stays allocated for the next VM.create: a start still
     * running in another thread may hold it. */
    api_vm_changed(c->api->vms[d->vmdef]);
    memset(c->api->vms[d->vmdef], 0, sizeof(*c->api->vms[0]));
    /* Its VBDs went with it: the table on the disk without them (if that
     * save fails, the next load skips them: their VM is not defined). */
    devices_save(c->api, perr, sizeof(perr));
    return json_string("");
}

/* ---- templates (docs/agent.md "Templates") ---- */

/* Saves defined VM v after a change; on failure the failure is set and
 * the caller puts the old value back. */
static int vm_save(struct call *c, struct agent_vmdef *v)
{
    char perr[200];
    if (c->api->store_dir[0] && persist_save(c->api->store_dir, v, perr, sizeof(perr))) {
        failf(c, api_failure("INTERNAL_ERROR", perr, NULL));
        return -1;
    }
    api_vm_changed(v);
    return 0;
}

/* The Halted defined VM ref made a template or not, and saved (the old
 * value back if the save fails). */
static json_t *set_template(struct call *c, const char *ref, int value)
{
    struct agent_dom *d = halted_def(c, ref);
    if (!d)
        return NULL;
    struct agent_vmdef *v = c->api->vms[d->vmdef];
    int old = v->is_template;
    v->is_template = value;
    if (vm_save(c, v)) {
        v->is_template = old;
        return NULL;
    }
    return json_string("");
}

/* VM.set_is_a_template(session, self, value): a Halted defined VM. */
static json_t *vm_set_is_a_template(struct call *c)
{
    const char *ref = str_param(c, 1, "self");
    json_t *value = json_array_get(c->params, 2);
    if (!ref)
        return NULL;
    if (!json_is_boolean(value)) {
        failf(c, api_failure("FIELD_TYPE_ERROR", "value", NULL));
        return NULL;
    }
    return set_template(c, ref, json_is_true(value));
}

/* VM.provision(session, vm): as xapi's, the VM stops being a template;
 * xapi then installs the disks its other_config:disks describes, which
 * this agent does not keep (only auto_poweron), so there is nothing more. */
static json_t *vm_provision(struct call *c)
{
    const char *ref = str_param(c, 1, "vm");
    return ref ? set_template(c, ref, 0) : NULL;
}

/* VM.clone(session, vm, new_name): a new defined VM with vm's
 * configuration (a template's clone is a template, as in xapi), a new
 * uuid, and its VIFs copied with new uuids (an autogenerated MAC made
 * again from the new uuid, as xapi regenerates it).  A VM with VBDs:
 * OPERATION_NOT_ALLOWED (their VDIs are introduced files: no VDI.clone). */
static json_t *vm_clone(struct call *c)
{
    const char *ref = str_param(c, 1, "vm");
    const char *name = ref ? str_param(c, 2, "new_name") : NULL;
    if (!name)
        return NULL;
    size_t nl = strlen(name);
    if (nl == 0 || nl >= sizeof(((struct agent_vmdef *)0)->name)) {
        failf(c, api_failure("INVALID_VALUE", "new_name", name, NULL));
        return NULL;
    }
    struct agent_dom *d = halted_def(c, ref);
    if (!d)
        return NULL;
    const struct agent_vmdef *src = c->api->vms[d->vmdef];
    json_t *vbds = devices_vm_vbds(src);
    size_t nvbd = json_array_size(vbds);
    json_decref(vbds);
    if (nvbd) {
        failf(c, api_failure("OPERATION_NOT_ALLOWED",
                             "the VM has VBDs, whose VDIs cannot be cloned (VDI.clone is not offered)",
                             NULL));
        return NULL;
    }
    int si = d->vmdef;
    struct agent_vmdef *v = api_vm_slot(c->api);
    if (!v) {
        failf(c, api_failure("INTERNAL_ERROR", "the agent holds at most 1024 defined VMs (or is out of memory)", NULL));
        return NULL;
    }
    src = c->api->vms[si];         /* the slot table may have grown */
    memset(v, 0, sizeof(*v));
    v->used = 2;
    int bad = auth_random(c->api->auth, v->uuid, 16);
    for (unsigned i = 0; i < AGENT_VM_VIFS && !bad; i++) {
        v->vifs[i] = src->vifs[i];
        if (src->vifs[i].used)
            bad = auth_random(c->api->auth, v->vifs[i].uuid, 16);
    }
    if (bad) {
        memset(v, 0, sizeof(*v));
        failf(c, api_failure("INTERNAL_ERROR", "no random uuid", NULL));
        return NULL;
    }
    v->uuid[6] = (uint8_t)((v->uuid[6] & 0x0f) | 0x40);
    v->uuid[8] = (uint8_t)((v->uuid[8] & 0x3f) | 0x80);
    for (unsigned i = 0; i < AGENT_VM_VIFS; i++) {
        struct agent_vif *f = &v->vifs[i];
        if (!f->used)
            continue;
        f->uuid[6] = (uint8_t)((f->uuid[6] & 0x0f) | 0x40);
        f->uuid[8] = (uint8_t)((f->uuid[8] & 0x3f) | 0x80);
        if (f->mac_auto)
            devices_default_mac(v->uuid, f->device, f->mac);
    }
    snprintf(v->name, sizeof(v->name), "%s", name);
    memcpy(v->kernel, src->kernel, sizeof(v->kernel));
    memcpy(v->args, src->args, sizeof(v->args));
    v->mem_bytes = src->mem_bytes;
    v->vcpus = src->vcpus;
    v->auto_poweron = src->auto_poweron;
    v->is_template = src->is_template;
    return vm_defined(c, v);
}

/* ---- host and pool ---- */

static json_t *host_record(struct call *c)
{
    struct agent_hostinfo h;
    int rc = c->api->hv->physinfo(c->api->hv->ctx, &h);
    if (rc) {
        char m[64];
        snprintf(m, sizeof(m), "physinfo failed: Xen errno %d", -rc);
        failf(c, api_failure("INTERNAL_ERROR", m, NULL));
        return NULL;
    }
    json_t *vms = json_array();
    if (load_doms(c)) {
        json_decref(vms);
        return NULL;
    }
    for (int i = 0; i < c->ndoms; i++) {
        if (!strcmp(power_state(&c->doms[i]), "Halted"))
            continue;
        char u[37], r[48];
        vm_uuid(&c->doms[i], u);
        ref_of(u, r);
        json_array_append_new(vms, json_string(r));
    }
    char speed[16], count[16];
    snprintf(speed, sizeof(speed), "%u.%03u", h.cpu_khz / 1000, h.cpu_khz % 1000);
    snprintf(count, sizeof(count), "%u", h.nr_cpus);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:{s:s, s:s, s:s},"
                     " s:b, s:{s:s, s:s}, s:o, s:{}, s:[], s:[], s:[], s:s, s:I, s:I}",
                     "uuid", c->api->host_uuid, "name_label", c->api->hostname,
                     "name_description", "Keel hypervisor", "hostname", c->api->hostname,
                     "address", c->api->address,
                     "API_version_major", (json_int_t)2, "API_version_minor", (json_int_t)21,
                     "API_version_vendor", "Keel",
                     "software_version", "product_brand", "Keel", "product_version", "0.1",
                     "xen", "4.17 ABI",
                     "enabled", 1, "cpu_info", "cpu_count", count, "speed", speed,
                     "resident_VMs", vms, "other_config", "host_CPUs", "PIFs", "PBDs",
                     "metrics", NULL_REF,
                     "memory_total", (json_int_t)(h.total_pages * 4096),
                     "memory_free", (json_int_t)(h.free_pages * 4096));
}

static int host_ref_check(struct call *c, const char *ref)
{
    char r[48];
    ref_of(c->api->host_uuid, r);
    if (strcmp(ref, r)) {
        failf(c, api_failure("HANDLE_INVALID", "host", ref, NULL));
        return -1;
    }
    return 0;
}

static json_t *host_get_all(struct call *c)
{
    char r[48];
    ref_of(c->api->host_uuid, r);
    return json_pack("[s]", r);
}

static json_t *host_get_all_records(struct call *c)
{
    char r[48];
    ref_of(c->api->host_uuid, r);
    json_t *rec = host_record(c);
    return rec ? json_pack("{s:o}", r, rec) : NULL;
}

static json_t *host_get_record(struct call *c)
{
    const char *ref = str_param(c, 1, "self");
    if (!ref || host_ref_check(c, ref))
        return NULL;
    return host_record(c);
}

static json_t *host_get_by_uuid(struct call *c)
{
    const char *uuid = str_param(c, 1, "uuid");
    if (!uuid)
        return NULL;
    if (strcmp(uuid, c->api->host_uuid)) {
        failf(c, api_failure("UUID_INVALID", "host", uuid, NULL));
        return NULL;
    }
    return json_sprintf("OpaqueRef:%s", c->api->host_uuid);
}

static json_t *host_get_by_name_label(struct call *c)
{
    const char *label = str_param(c, 1, "label");
    if (!label)
        return NULL;
    return strcmp(label, c->api->hostname) ? json_array() : host_get_all(c);
}

static json_t *host_get_field(struct call *c)
{
    json_t *rec = host_get_record(c);
    if (!rec)
        return NULL;
    const char *field = strchr(c->method, '.') + 1 + 4;
    json_t *v = json_incref(json_object_get(rec, field));
    json_decref(rec);
    if (!v)
        failf(c, api_failure("INTERNAL_ERROR", "no such field", NULL));
    return v;
}

static json_t *pool_record(struct call *c)
{
    char pu[37], host_ref[48];
    pool_uuid(c->api, pu);
    ref_of(c->api->host_uuid, host_ref);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{}, s:b, s:[], s:{}}",
                     "uuid", pu, "name_label", "", "name_description", "",
                     "master", host_ref, "default_SR", NULL_REF, "suspend_image_SR", NULL_REF,
                     "crash_dump_SR", NULL_REF, "other_config", "ha_enabled", 0,
                     "tags", "gui_config");
}

static int pool_ref_check(struct call *c, const char *ref)
{
    char pu[37], r[48];
    pool_uuid(c->api, pu);
    ref_of(pu, r);
    if (strcmp(ref, r)) {
        failf(c, api_failure("HANDLE_INVALID", "pool", ref, NULL));
        return -1;
    }
    return 0;
}

static json_t *pool_get_all(struct call *c)
{
    char pu[37], r[48];
    pool_uuid(c->api, pu);
    ref_of(pu, r);
    return json_pack("[s]", r);
}

static json_t *pool_get_all_records(struct call *c)
{
    char pu[37], r[48];
    pool_uuid(c->api, pu);
    ref_of(pu, r);
    return json_pack("{s:o}", r, pool_record(c));
}

static json_t *pool_get_record(struct call *c)
{
    const char *ref = str_param(c, 1, "self");
    if (!ref || pool_ref_check(c, ref))
        return NULL;
    return pool_record(c);
}

static json_t *pool_get_field(struct call *c)
{
    json_t *rec = pool_get_record(c);
    if (!rec)
        return NULL;
    const char *field = strchr(c->method, '.') + 1 + 4;
    json_t *v = json_incref(json_object_get(rec, field));
    json_decref(rec);
    return v;
}

/* ---- session and system ---- */

static json_t *login(struct call *c)
{
    const char *u = str_param(c, 0, "uname");
    const char *p = u ? str_param(c, 1, "pwd") : NULL;
    if (!p)
        return NULL;
    /* version and originator: strings when given, not otherwise used. */
    if (json_array_size(c->params) > 2 && !str_param(c, 2, "version"))
        return NULL;
    if (json_array_size(c->params) > 3 && !str_param(c, 3, "originator"))
        return NULL;
    json_t *pu = json_array_get(c->params, 0), *pp = json_array_get(c->params, 1);
    if (!auth_check(c->api->auth, u, json_string_length(pu), p, json_string_length(pp))) {
        /* SESSION_AUTHENTICATION_FAILED has no parameters in the data model. */
        failf(c, api_failure("SESSION_AUTHENTICATION_FAILED", NULL));
        return NULL;
    }
    char ref[SESSION_REF_LEN + 1];
    if (session_new(c->api->auth, c->api->now(), ref)) {
        failf(c, api_failure("INTERNAL_ERROR", "no random session reference", NULL));
        return NULL;
    }
    return json_string(ref);
}

/* session.change_password(session, old_pwd, new_pwd): the one account's
 * password, checked against old_pwd first (xapi skips that check for its
 * root account; a wrong one here is SESSION_AUTHENTICATION_FAILED); a new
 * password of 0 or more than 128 bytes CHANGE_PASSWORD_REJECTED.  With
 * the agent's disk the new credentials (salt and hash) are saved to
 * /var/auth.json before the call answers, and used from the next start
 * on instead of the boot line's; a save that fails keeps the old ones. */
static json_t *change_password(struct call *c)
{
    const char *o = str_param(c, 1, "old_pwd");
    const char *n = o ? str_param(c, 2, "new_pwd") : NULL;
    if (!n)
        return NULL;
    json_t *jo = json_array_get(c->params, 1), *jn = json_array_get(c->params, 2);
    const char *user = auth_user(c->api->auth);
    if (!auth_check(c->api->auth, user, strlen(user), o, json_string_length(jo))) {
        failf(c, api_failure("SESSION_AUTHENTICATION_FAILED", NULL));
        return NULL;
    }
    char *old = auth_export(c->api->auth), err[200];
    if (!old) {
        failf(c, api_failure("INTERNAL_ERROR", "cannot keep the old credentials", NULL));
        return NULL;
    }
    if (auth_change_password(c->api->auth, n, json_string_length(jn), err, sizeof(err))) {
        free(old);
        failf(c, api_failure("CHANGE_PASSWORD_REJECTED", err, NULL));
        return NULL;
    }
    if (c->api->auth_path[0]) {
        char *text = auth_export(c->api->auth), ierr[80];
        int rc = -1;
        if (!text)
            snprintf(err, sizeof(err), "cannot encode the credentials");
        else
            rc = persist_write_file(c->api->auth_path, text, err, sizeof(err));
        free(text);
        if (rc) {
            auth_import(c->api->auth, old, strlen(old), ierr, sizeof(ierr));   /* the old ones back */
            free(old);
            failf(c, api_failure("INTERNAL_ERROR", err, NULL));
            return NULL;
        }
    }
    free(old);
    return json_string("");
}

static json_t *logout(struct call *c)
{
    const char *ref = json_string_value(json_array_get(c->params, 0));
    session_end(c->api->auth, ref, c->api->now());
    return json_string("");
}

static json_t *list_methods(struct call *c)
{
    (void)c;
    json_t *a = json_array();
    for (size_t i = 0; i < api_method_count(); i++)
        json_array_append_new(a, json_string(api_method_name(i)));
    return a;
}

/* ---- the table ---- */

enum { NO_SESSION = 0, SESSION = 1, OPT_SESSION = 2 };

struct method {
    const char *name;
    unsigned min, max;      /* parameters, the session included */
    int session;
    json_t *(*fn)(struct call *c);
};

static const struct method methods[] = {
    { "session.login_with_password", 2, 4, NO_SESSION, login },
    { "session.logout", 1, 1, SESSION, logout },
    { "session.change_password", 3, 3, SESSION, change_password },
    { "system.listMethods", 0, 1, OPT_SESSION, list_methods },
    { "host.get_all", 1, 1, SESSION, host_get_all },
    { "host.get_all_records", 1, 1, SESSION, host_get_all_records },
    { "host.get_record", 2, 2, SESSION, host_get_record },
    { "host.get_by_uuid", 2, 2, SESSION, host_get_by_uuid },
    { "host.get_by_name_label", 2, 2, SESSION, host_get_by_name_label },
    { "host.get_uuid", 2, 2, SESSION, host_get_field },
    { "host.get_name_label", 2, 2, SESSION, host_get_field },
    { "host.get_name_description", 2, 2, SESSION, host_get_field },
    { "host.get_hostname", 2, 2, SESSION, host_get_field },
    { "host.get_address", 2, 2, SESSION, host_get_field },
    { "host.get_API_version_major", 2, 2, SESSION, host_get_field },
    { "host.get_API_version_minor", 2, 2, SESSION, host_get_field },
    { "host.get_software_version", 2, 2, SESSION, host_get_field },
    { "host.get_cpu_info", 2, 2, SESSION, host_get_field },
    { "host.get_resident_VMs", 2, 2, SESSION, host_get_field },
    { "host.get_enabled", 2, 2, SESSION, host_get_field },
    { "pool.get_all", 1, 1, SESSION, pool_get_all },
    { "pool.get_all_records", 1, 1, SESSION, pool_get_all_records },
    { "pool.get_record", 2, 2, SESSION, pool_get_record },
    { "pool.get_uuid", 2, 2, SESSION, pool_get_field },
    { "pool.get_name_label", 2, 2, SESSION, pool_get_field },
    { "pool.get_master", 2, 2, SESSION, pool_get_field },
    { "pool.get_other_config", 2, 2, SESSION, pool_get_field },
    { "VM.get_all", 1, 1, SESSION, vm_get_all },
    { "VM.get_all_records", 1, 1, SESSION, vm_get_all_records },
    { "VM.get_record", 2, 2, SESSION, vm_get_record },
    { "VM.get_by_uuid", 2, 2, SESSION, vm_get_by_uuid },
    { "VM.get_by_name_label", 2, 2, SESSION, vm_get_by_name_label },
    { "VM.get_uuid", 2, 2, SESSION, vm_get_field },
    { "VM.get_name_label", 2, 2, SESSION, vm_get_field },
    { "VM.get_name_description", 2, 2, SESSION, vm_get_field },
    { "VM.get_power_state", 2, 2, SESSION, vm_get_field },
    { "VM.get_domid", 2, 2, SESSION, vm_get_field },
    { "VM.get_is_control_domain", 2, 2, SESSION, vm_get_field },
    { "VM.get_is_a_template", 2, 2, SESSION, vm_get_field },
    { "VM.get_resident_on", 2, 2, SESSION, vm_get_field },
    { "VM.get_memory_static_max", 2, 2, SESSION, vm_get_field },
    { "VM.get_memory_dynamic_max", 2, 2, SESSION, vm_get_field },
    { "VM.get_memory_dynamic_min", 2, 2, SESSION, vm_get_field },
    { "VM.get_memory_static_min", 2, 2, SESSION, vm_get_field },
    { "VM.get_memory_target", 2, 2, SESSION, vm_get_field },
    { "VM.get_VCPUs_max", 2, 2, SESSION, vm_get_field },
    { "VM.get_VCPUs_at_startup", 2, 2, SESSION, vm_get_field },
    { "VM.get_allowed_operations", 2, 2, SESSION, vm_get_field },
    { "VM.pause", 2, 2, SESSION, vm_pause },
    { "VM.unpause", 2, 2, SESSION, vm_unpause },
    { "VM.hard_shutdown", 2, 2, SESSION, vm_hard_shutdown },
    { "VM.create", 2, 2, SESSION, vm_create },
    { "VM.start", 4, 4, SESSION, vm_start },
    { "VM.destroy", 2, 2, SESSION, vm_destroy },
    { "VM.clone", 3, 3, SESSION, vm_clone },
    { "VM.provision", 2, 2, SESSION, vm_provision },
    { "VM.set_is_a_template", 3, 3, SESSION, vm_set_is_a_template },
    { "VM.hard_reboot", 2, 2, SESSION, vm_hard_reboot },
    { "VM.get_PV_kernel", 2, 2, SESSION, vm_get_field },
    { "VM.get_PV_args", 2, 2, SESSION, vm_get_field },
    { "VM.get_VIFs", 2, 2, SESSION, vm_get_field },   /* devices.c */
    { "VM.get_VBDs", 2, 2, SESSION, vm_get_field },
    /* issue 13, second slice (lifecycle) */
    { "VM.clean_shutdown", 2, 2, SESSION, vm_clean_shutdown },
    { "VM.clean_reboot", 2, 2, SESSION, vm_clean_reboot },
};

/* ---- events and tasks (events.c) ---- */

json_t *api_class_records(struct agent_api *api, const char *cls)
{
    struct call c = { .api = api, .method = "", .params = NULL };
    json_t *v = NULL;
    if (!strcmp(cls, "VM"))
        v = vm_get_all_records(&c);
    else if (!strcmp(cls, "host"))
        v = host_get_all_records(&c);
    else if (!strcmp(cls, "pool"))
        v = pool_get_all_records(&c);
    free(c.doms);
    json_decref(c.fail);
    return v;
}

size_t api_method_count(void)
{
    return sizeof(methods) / sizeof(methods[0]) + events_method_count() + devices_method_count();
}

const char *api_method_name(size_t i)
{
    size_t n = sizeof(methods) / sizeof(methods[0]);
    if (i < n)
        return methods[i].name;
    return i - n < events_method_count() ? events_method_name(i - n)
                                          : devices_method_name(i - n - events_method_count());
}

/* The method's entry, its parameter count and its session checked: the
 * entry, or NULL with the failure in c. */
static const struct method *check_call(struct call *c)
{
    const struct method *m = NULL;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (!strcmp(methods[i].name, c->method))
            m = &methods[i];
    size_t n = json_array_size(c->params);
    if (!m) {
        failf(c, api_failure("MESSAGE_METHOD_UNKNOWN", c->method, NULL));
    } else if (!json_is_array(c->params) || n < m->min || n > m->max) {
        char e[16], r[16];
        snprintf(e, sizeof(e), "%u", m->max);
        snprintf(r, sizeof(r), "%zu", n);
        failf(c, api_failure("MESSAGE_PARAMETER_COUNT_MISMATCH", c->method, e, r, NULL));
    } else if (m->session == SESSION || (m->session == OPT_SESSION && n > 0)) {
        json_t *s = json_array_get(c->params, 0);
        const char *ref = json_is_string(s) ? json_string_value(s) : "";
        if (!session_check(c->api->auth, ref, c->api->now()))
            failf(c, api_failure("SESSION_INVALID", ref, NULL));
    }
    return c->fail ? NULL : m;
}

int api_vm_lookup(struct agent_api *api, const char *ref, int *vmdef, char power[16], json_t **fail)
{
    struct call c = { .api = api, .method = "", .params = NULL };
    struct agent_dom *d = vm_by_ref(&c, ref);
    if (d) {
        *vmdef = d->vmdef;
        snprintf(power, 16, "%s", power_state(d));
    }
    free(c.doms);
    *fail = c.fail;
    return d ? 0 : -1;
}

void api_vm_attached(struct agent_api *api, unsigned char out[AGENT_MAX_VMDEFS])
{
    struct call c = { .api = api, .method = "", .params = NULL };
    memset(out, 0, AGENT_MAX_VMDEFS);
    if (!load_doms(&c))
        for (int i = 0; i < c.ndoms; i++) {
            const char *ps = power_state(&c.doms[i]);
            if (c.doms[i].vmdef >= 0 && (!strcmp(ps, "Running") || !strcmp(ps, "Paused")))
                out[c.doms[i].vmdef] = 1;
        }
    free(c.doms);
    json_decref(c.fail);
}

int api_check(struct agent_api *api, const char *method, json_t *params, json_t **fail)
{
    struct call c = { .api = api, .method = method, .params = params };
    check_call(&c);
    *fail = c.fail;
    return c.fail ? -1 : 0;
}

int api_call(struct agent_api *api, const char *method, json_t *params, json_t **result)
{
    struct call c = { .api = api, .method = method, .params = params };
    int r = events_call(api, method, params, result);
    if (r == -2 && (r = devices_call(api, method, params, result)) == 0)
        events_after(api, method);
    if (r != -2)
        return r;
    const struct method *m = check_call(&c);
    json_t *v = NULL;
    if (m) {
        v = m->fn(&c);
        if (!v && !c.fail)
            failf(&c, api_failure("INTERNAL_ERROR", "no result", NULL));
    }
    free(c.doms);
    if (c.fail) {
        json_decref(v);
        *result = c.fail;
        return 1;
    }
    *result = v;
    events_after(api, method);
    return 0;
}
