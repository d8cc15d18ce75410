/* events.c: XenAPI events (event.register/unregister/next, event.from,
 * event.inject) and tasks (task class, Async.* calls) for the agent
 * (docs/agent.md, "Events and tasks").
 *
 * The hypervisor does not announce changes, so events come from diffs:
 * the records of VM, host, pool and task are read again (a "poll") when a
 * call that may change something has run, and every 250 ms while an
 * event.from or event.next waits; each record that appeared, changed or
 * went is one event (add, mod, del) with the next id.  A token is the id
 * of the last event a client has seen, in decimal; the last
 * AGENT_EVENTS_KEPT events are kept and an older token gets EVENTS_LOST,
 * as xapi's (ocaml/xapi/xapi_event.ml).  minios threads are cooperative:
 * nothing here runs concurrently with anything else but across a
 * sleep_ms, and what a sleep may change is looked up again after it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"

struct ev {
    uint64_t id;
    char cls[8];
    const char *op;
    char ref[48];
    json_t *snap;
    uint64_t ts;
};

struct reg {
    int used;
    char session[SESSION_REF_LEN + 1];
    json_t *classes;           /* array of strings */
    uint64_t last;
};

struct task {
    int used;
    char uuid[37];
    char name[64];
    char descr[128];
    const char *status;        /* pending, success, failure, cancelled */
    double progress;
    char *result;              /* XML-RPC text of the result, or "" */
    json_t *error_info;        /* array of strings */
    uint64_t created, finished;
    int async, started;
    char method[40];
    json_t *params;
};

struct agent_events {
    uint64_t last_id;
    struct ev ring[AGENT_EVENTS_KEPT];
    json_t *last;              /* {class: {ref: record}} as last polled */
    struct reg regs[SESSION_MAX];
    struct task tasks[AGENT_MAX_TASKS];
};

static const char *const classes_all[] = { "vm", "host", "pool", "task" };
#define NCLASSES 4

int events_init(struct agent_api *api)
{
    api->ev = calloc(1, sizeof(*api->ev));
    return api->ev ? 0 : -1;
}

void events_free(struct agent_api *api)
{
    struct agent_events *e = api->ev;
    if (!e)
        return;
    for (int i = 0; i < AGENT_EVENTS_KEPT; i++)
        json_decref(e->ring[i].snap);
    for (int i = 0; i < SESSION_MAX; i++)
        json_decref(e->regs[i].classes);
    for (int i = 0; i < AGENT_MAX_TASKS; i++) {
        free(e->tasks[i].result);
        json_decref(e->tasks[i].error_info);
        json_decref(e->tasks[i].params);
    }
    json_decref(e->last);
    free(e);
    api->ev = NULL;
}

/* ---- tasks ---- */

/* The agent has no wall clock: times are its monotonic seconds as a date
 * from 1970-01-01 (docs/agent.md). */
static void stamp(uint64_t s, char out[24])
{
    static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    uint64_t d = s / 86400, r = s % 86400;
    unsigned y = 1970, m = 0;
    for (;;) {
        unsigned yd = (y % 4 == 0 && (y % 100 || y % 400 == 0)) ? 366 : 365;
        if (d < yd)
            break;
        d -= yd;
        y++;
    }
    for (;; m++) {
        unsigned md = mdays[m] + (m == 1 && y % 4 == 0 && (y % 100 || y % 400 == 0));
        if (d < md)
            break;
        d -= md;
    }
    snprintf(out, 24, "%04u%02u%02lluT%02llu:%02llu:%02lluZ", y % 10000, m + 1, (unsigned long long)d + 1,
             (unsigned long long)(r / 3600), (unsigned long long)(r / 60 % 60), (unsigned long long)(r % 60));
}

static json_t *task_record(struct agent_api *api, const struct task *t)
{
    char host_ref[48], cr[24], fi[24];
    snprintf(host_ref, sizeof(host_ref), "OpaqueRef:%s", api->host_uuid);
    stamp(t->created, cr);
    stamp(t->finished, fi);
    int cancellable = !strcmp(t->status, "pending") && !t->started;
    return json_pack("{s:s, s:s, s:s, s:{}, s:s, s:s, s:s, s:f, s:s, s:s, s:O, s:s,"
                     " s:{}, s:s, s:[], s:s, s:o}",
                     "uuid", t->uuid, "name_label", t->name, "name_description", t->descr,
                     "current_operations", "created", cr,
                     "finished", t->finished ? fi : "19700101T00:00:00Z", "status", t->status,
                     "progress", t->progress, "resident_on", host_ref, "type", "",
                     "error_info", t->error_info, "result", t->result ? t->result : "",
                     "other_config", "subtask_of", "OpaqueRef:NULL", "subtasks",
                     "backtrace", "()",
                     "allowed_operations", cancellable ? json_pack("[s]", "cancel") : json_array());
}

static json_t *task_records(struct agent_api *api)
{
    json_t *o = json_object();
    for (int i = 0; i < AGENT_MAX_TASKS; i++) {
        struct task *t = &api->ev->tasks[i];
        if (!t->used)
            continue;
        char r[48];
        snprintf(r, sizeof(r), "OpaqueRef:%s", t->uuid);
        json_object_set_new(o, r, task_record(api, t));
    }
    return o;
}

static struct task *task_by_ref(struct agent_api *api, const char *ref)
{
    if (!ref || strncmp(ref, "OpaqueRef:", 10))
        return NULL;
    for (int i = 0; i < AGENT_MAX_TASKS; i++)
        if (api->ev->tasks[i].used && !strcmp(api->ev->tasks[i].uuid, ref + 10))
            return &api->ev->tasks[i];
    return NULL;
}

static void task_clear(struct task *t)
{
    free(t->result);
    json_decref(t->error_info);
    json_decref(t->params);
    memset(t, 0, sizeof(*t));
}

/* A new pending task; NULL with the failure in *fail. */
static struct task *task_new(struct agent_api *api, const char *name, const char *descr, json_t **fail)
{
    struct task *t = NULL;
    for (int i = 0; i < AGENT_MAX_TASKS && !t; i++)
        if (!api->ev->tasks[i].used)
            t = &api->ev->tasks[i];
    if (!t) {
        *fail = api_failure("INTERNAL_ERROR", "the agent holds at most 64 tasks: destroy finished ones", NULL);
        return NULL;
    }
    uint8_t u[16];
    if (auth_random(api->auth, u, 16)) {
        *fail = api_failure("INTERNAL_ERROR", "no random uuid", NULL);
        return NULL;
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    memset(t, 0, sizeof(*t));
    snprintf(t->uuid, sizeof(t->uuid),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->descr, sizeof(t->descr), "%s", descr);
    t->status = "pending";
    t->error_info = json_array();
    t->created = api->now();
    t->used = 1;
    return t;
}

/* ---- the event log ---- */

static void emit(struct agent_events *e, const char *cls, const char *op, const char *ref, json_t *snap,
                 uint64_t now)
{
    struct ev *v = &e->ring[++e->last_id % AGENT_EVENTS_KEPT];
    json_decref(v->snap);
    v->id = e->last_id;
    snprintf(v->cls, sizeof(v->cls), "%s", cls);
    v->op = op;
    snprintf(v->ref, sizeof(v->ref), "%s", ref);
    v->snap = json_incref(snap);
    v->ts = now;
}

static uint64_t oldest_id(const struct agent_events *e)
{
    return e->last_id >= AGENT_EVENTS_KEPT ? e->last_id - AGENT_EVENTS_KEPT + 1 : 1;
}

/* Reads the records again and logs what changed since the last poll (the
 * first poll is the baseline: no events). */
static void poll(struct agent_api *api)
{
    struct agent_events *e = api->ev;
    static const char *const api_cls[] = { "VM", "host", "pool" };
    json_t *cur = json_object();
    for (int i = 0; i < 3; i++) {
        json_t *r = api_class_records(api, api_cls[i]);
        if (!r)   /* the hypervisor failed us: keep what we had */
            r = json_incref(json_object_get(e->last, classes_all[i]));
        json_object_set_new(cur, classes_all[i], r ? r : json_object());
    }
    json_object_set_new(cur, "task", task_records(api));
    if (e->last) {
        uint64_t now = api->now();
        for (int i = 0; i < NCLASSES; i++) {
            json_t *n = json_object_get(cur, classes_all[i]), *o = json_object_get(e->last, classes_all[i]);
            const char *ref;
            json_t *rec;
            json_object_foreach(n, ref, rec) {
                json_t *old = json_object_get(o, ref);
                if (!old)
                    emit(e, classes_all[i], "add", ref, rec, now);
                else if (!json_equal(old, rec))
                    emit(e, classes_all[i], "mod", ref, rec, now);
            }
            json_object_foreach(o, ref, rec) {
                if (!json_object_get(n, ref))
                    emit(e, classes_all[i], "del", ref, rec, now);
            }
        }
    }
    json_decref(e->last);
    e->last = cur;
}

/* 1 if the event of class cls on ref is among classes ("*", a class
 * name in any case, or "class/ref"). */
static int wanted(json_t *classes, const char *cls, const char *ref)
{
    size_t i;
    json_t *c;
    json_array_foreach(classes, i, c) {
        const char *s = json_string_value(c);
        if (!strcmp(s, "*"))
            return 1;
        size_t n = strlen(cls);
        if (!strncasecmp(s, cls, n) && (!s[n] || (s[n] == '/' && !strcmp(s + n + 1, ref))))
            return 1;
    }
    return 0;
}

static json_t *event_json(const struct ev *v)
{
    char ts[24];
    stamp(v->ts, ts);
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:O}", "id", (json_int_t)v->id, "timestamp", ts,
                     "class", v->cls, "operation", v->op, "ref", v->ref, "snapshot", v->snap);
}

/* The logged events after since that classes want. */
static json_t *events_since(struct agent_events *e, uint64_t since, json_t *classes)
{
    json_t *a = json_array();
    for (uint64_t id = since + 1; id <= e->last_id; id++) {
        const struct ev *v = &e->ring[id % AGENT_EVENTS_KEPT];
        if (wanted(classes, v->cls, v->ref))
            json_array_append_new(a, event_json(v));
    }
    return a;
}

/* A list of class names: 0, or -1 with the failure. */
static int classes_param(json_t *v, json_t **fail)
{
    size_t i;
    json_t *c;
    if (!json_is_array(v)) {
        *fail = api_failure("FIELD_TYPE_ERROR", "classes", NULL);
        return -1;
    }
    json_array_foreach(v, i, c) {
        if (!json_is_string(c) || json_string_length(c) > 80) {
            *fail = api_failure("FIELD_TYPE_ERROR", "classes", NULL);
            return -1;
        }
    }
    if (json_array_size(v) > 64) {
        *fail = api_failure("INVALID_VALUE", "classes", "(more than 64)", NULL);
        return -1;
    }
    return 0;
}

/* The wait a timeout asks for, in 250 ms steps; -1 if it is no number. */
static int wait_steps(json_t *v, json_t **fail)
{
    double t;
    if (json_is_number(v)) {
        t = json_number_value(v);
    } else if (json_is_string(v)) {   /* XML-RPC's doubles may come untyped */
        char *end;
        t = strtod(json_string_value(v), &end);
        if (!*json_string_value(v) || *end)
            t = NAN;
    } else {
        *fail = api_failure("FIELD_TYPE_ERROR", "timeout", NULL);
        return -1;
    }
    if (isnan(t) || t < 0) {
        char s[32];
        snprintf(s, sizeof(s), "%g", t);
        *fail = api_failure("INVALID_VALUE", "timeout", s, NULL);
        return -1;
    }
    if (t > AGENT_EVENT_MAX_WAIT)
        t = AGENT_EVENT_MAX_WAIT;
    return (int)ceil(t * 4);
}

/* Lets other threads run for a step; 0 if the session still lives. */
static int step(struct agent_api *api, const char *session, json_t **fail)
{
    api->hv->sleep_ms(api->hv->ctx, 250);
    if (!session_check(api->auth, session, api->now())) {
        *fail = api_failure("SESSION_INVALID", session, NULL);
        return -1;
    }
    return 0;
}

static json_t *valid_ref_counts(struct agent_events *e, json_t *classes)
{
    json_t *o = json_object();
    for (int i = 0; i < NCLASSES; i++)
        if (wanted(classes, classes_all[i], ""))
            json_object_set_new(o, classes_all[i],
                                json_integer((json_int_t)json_object_size(json_object_get(e->last, classes_all[i]))));
    return o;
}

/* event.from(session, classes, token, timeout) */
static json_t *ev_from(struct agent_api *api, json_t *p, json_t **fail)
{
    struct agent_events *e = api->ev;
    const char *session = json_string_value(json_array_get(p, 0));
    json_t *classes = json_array_get(p, 1), *tok = json_array_get(p, 2);
    if (classes_param(classes, fail))
        return NULL;
    if (!json_is_string(tok)) {
        *fail = api_failure("FIELD_TYPE_ERROR", "token", NULL);
        return NULL;
    }
    int steps = wait_steps(json_array_get(p, 3), fail);
    if (steps < 0)
        return NULL;
    const char *ts = json_string_value(tok);
    size_t tl = json_string_length(tok);
    json_incref(classes);
    poll(api);
    json_t *evs;
    if (!tl) {
        /* No token: every object of the classes, as xapi's from generation 0. */
        evs = json_array();
        for (int i = 0; i < NCLASSES; i++) {
            const char *ref;
            json_t *rec;
            json_object_foreach(json_object_get(e->last, classes_all[i]), ref, rec) {
                if (!wanted(classes, classes_all[i], ref))
                    continue;
                struct ev v = { .id = e->last_id, .op = "add", .snap = rec, .ts = api->now() };
                snprintf(v.cls, sizeof(v.cls), "%s", classes_all[i]);
                snprintf(v.ref, sizeof(v.ref), "%s", ref);
                json_array_append_new(evs, event_json(&v));
            }
        }
    } else {
        int digits = tl <= 20 && strlen(ts) == tl;
        for (size_t i = 0; digits && i < tl; i++)
            digits = ts[i] >= '0' && ts[i] <= '9';
        unsigned long long since = digits ? strtoull(ts, NULL, 10) : 0;
        if (!digits || (tl == 20 && since < 10000000000000000000ull)) {
            *fail = api_failure("EVENT_FROM_TOKEN_PARSE_FAILURE", ts, NULL);
            json_decref(classes);
            return NULL;
        }
        for (;;) {
            /* A token from before the oldest kept event, or from another
             * life of the agent (beyond the last id): EVENTS_LOST. */
            if (since > e->last_id || since + 1 < oldest_id(e)) {
                *fail = api_failure("EVENTS_LOST", NULL);
                json_decref(classes);
                return NULL;
            }
            evs = events_since(e, since, classes);
            if (json_array_size(evs) || steps-- <= 0 || !api->hv->sleep_ms)
                break;
            json_decref(evs);
            if (step(api, session, fail)) {
                json_decref(classes);
                return NULL;
            }
            poll(api);
        }
    }
    char t[24];
    snprintf(t, sizeof(t), "%llu", (unsigned long long)e->last_id);
    json_t *r = json_pack("{s:o, s:o, s:s}", "events", evs, "valid_ref_counts",
                          valid_ref_counts(e, classes), "token", t);
    json_decref(classes);
    return r;
}

/* event.inject(session, class, ref): a mod event on the object; its token. */
static json_t *ev_inject(struct agent_api *api, json_t *p, json_t **fail)
{
    struct agent_events *e = api->ev;
    json_t *cls = json_array_get(p, 1), *ref = json_array_get(p, 2);
    if (!json_is_string(cls) || !json_is_string(ref)) {
        *fail = api_failure("FIELD_TYPE_ERROR", json_is_string(cls) ? "ref" : "class", NULL);
        return NULL;
    }
    poll(api);
    for (int i = 0; i < NCLASSES; i++) {
        if (strcasecmp(json_string_value(cls), classes_all[i]))
            continue;
        json_t *rec = json_object_get(json_object_get(e->last, classes_all[i]), json_string_value(ref));
        if (!rec) {
            *fail = api_failure("HANDLE_INVALID", json_string_value(cls), json_string_value(ref), NULL);
            return NULL;
        }
        emit(e, classes_all[i], "mod", json_string_value(ref), rec, api->now());
        return json_sprintf("%llu", (unsigned long long)e->last_id);
    }
    *fail = api_failure("VALUE_NOT_SUPPORTED", "class", json_string_value(cls),
                        "events are kept for VM, host, pool and task", NULL);
    return NULL;
}

static struct reg *reg_of(struct agent_events *e, const char *session)
{
    for (int i = 0; i < SESSION_MAX; i++)
        if (e->regs[i].used && !strcmp(e->regs[i].session, session))
            return &e->regs[i];
    return NULL;
}

/* event.register(session, classes) */
static json_t *ev_register(struct agent_api *api, json_t *p, json_t **fail)
{
    struct agent_events *e = api->ev;
    const char *session = json_string_value(json_array_get(p, 0));
    json_t *classes = json_array_get(p, 1);
    if (classes_param(classes, fail))
        return NULL;
    poll(api);
    struct reg *r = reg_of(e, session);
    /* A free slot, else one whose session has ended (probing a live one
     * restarts its idle time: only when no slot is free). */
    int any_free = 0;
    for (int i = 0; i < SESSION_MAX; i++)
        any_free |= !e->regs[i].used;
    for (int i = 0; i < SESSION_MAX && !r; i++)
        if (!e->regs[i].used ||
            (!any_free && !session_check(api->auth, e->regs[i].session, api->now()))) {
            r = &e->regs[i];
            json_decref(r->classes);
            memset(r, 0, sizeof(*r));
            r->used = 1;
            snprintf(r->session, sizeof(r->session), "%s", session);
            r->classes = json_array();
            r->last = e->last_id;
        }
    if (!r) {
        *fail = api_failure("INTERNAL_ERROR", "no room for another registration", NULL);
        return NULL;
    }
    size_t i;
    json_t *c;
    json_array_foreach(classes, i, c) {
        size_t j;
        json_t *d;
        int have = 0;
        json_array_foreach(r->classes, j, d) have |= !strcasecmp(json_string_value(c), json_string_value(d));
        if (!have && json_array_size(r->classes) < 64)
            json_array_append(r->classes, c);
    }
    return json_string("");
}

/* event.unregister(session, classes) */
static json_t *ev_unregister(struct agent_api *api, json_t *p, json_t **fail)
{
    const char *session = json_string_value(json_array_get(p, 0));
    json_t *classes = json_array_get(p, 1);
    if (classes_param(classes, fail))
        return NULL;
    struct reg *r = reg_of(api->ev, session);
    if (!r)
        return json_string("");
    size_t i;
    json_t *c;
    json_array_foreach(classes, i, c) {
        for (size_t j = 0; j < json_array_size(r->classes);) {
            if (!strcasecmp(json_string_value(c), json_string_value(json_array_get(r->classes, j))))
                json_array_remove(r->classes, j);
            else
                j++;
        }
    }
    if (!json_array_size(r->classes)) {
        json_decref(r->classes);
        memset(r, 0, sizeof(*r));
    }
    return json_string("");
}

/* event.next(session): the registered classes' events since the last
 * call, waiting for one up to AGENT_EVENT_MAX_WAIT / 4 s (then []). */
static json_t *ev_next(struct agent_api *api, json_t *p, json_t **fail)
{
    struct agent_events *e = api->ev;
    const char *session = json_string_value(json_array_get(p, 0));
    int steps = AGENT_EVENT_MAX_WAIT;
    for (;;) {
        struct reg *r = reg_of(e, session);
        if (!r) {
            *fail = api_failure("SESSION_NOT_REGISTERED", session, NULL);
            return NULL;
        }
        poll(api);
        if (r->last + 1 < oldest_id(e)) {
            r->last = e->last_id;
            *fail = api_failure("EVENTS_LOST", NULL);
            return NULL;
        }
        json_t *evs = events_since(e, r->last, r->classes);
        r->last = e->last_id;
        if (json_array_size(evs) || steps-- <= 0 || !api->hv->sleep_ms)
            return evs;
        json_decref(evs);
        if (step(api, session, fail))
            return NULL;
    }
}

/* ---- task methods ---- */

static struct task *task_param(struct agent_api *api, json_t *p, json_t **fail)
{
    json_t *v = json_array_get(p, 1);
    if (!json_is_string(v)) {
        *fail = api_failure("FIELD_TYPE_ERROR", "self", NULL);
        return NULL;
    }
    struct task *t = task_by_ref(api, json_string_value(v));
    if (!t)
        *fail = api_failure("HANDLE_INVALID", "task", json_string_value(v), NULL);
    return t;
}

static json_t *task_get_all(struct agent_api *api, json_t *p, json_t **fail)
{
    (void)p, (void)fail;
    json_t *o = task_records(api), *a = json_array();
    const char *ref;
    json_t *rec;
    json_object_foreach(o, ref, rec) json_array_append_new(a, json_string(ref));
    json_decref(o);
    return a;
}

static json_t *task_get_all_records(struct agent_api *api, json_t *p, json_t **fail)
{
    (void)p, (void)fail;
    return task_records(api);
}

static json_t *task_get_record(struct agent_api *api, json_t *p, json_t **fail)
{
    struct task *t = task_param(api, p, fail);
    return t ? task_record(api, t) : NULL;
}

static json_t *task_get_field(struct agent_api *api, json_t *p, json_t **fail, const char *method)
{
    json_t *rec = task_get_record(api, p, fail);
    if (!rec)
        return NULL;
    json_t *v = json_incref(json_object_get(rec, strchr(method, '.') + 1 + 4));
    json_decref(rec);
    return v;
}

static json_t *task_get_by_uuid(struct agent_api *api, json_t *p, json_t **fail)
{
    json_t *v = json_array_get(p, 1);
    if (!json_is_string(v)) {
        *fail = api_failure("FIELD_TYPE_ERROR", "uuid", NULL);
        return NULL;
    }
    for (int i = 0; i < AGENT_MAX_TASKS; i++)
        if (api->ev->tasks[i].used && !strcmp(api->ev->tasks[i].uuid, json_string_value(v)))
            return json_sprintf("OpaqueRef:%s", api->ev->tasks[i].uuid);
    *fail = api_failure("UUID_INVALID", "task", json_string_value(v), NULL);
    return NULL;
}

/* task.create(session, label, description) */
static json_t *task_create(struct agent_api *api, json_t *p, json_t **fail)
{
    json_t *l = json_array_get(p, 1), *d = json_array_get(p, 2);
    if (!json_is_string(l) || !json_is_string(d)) {
        *fail = api_failure("FIELD_TYPE_ERROR", json_is_string(l) ? "description" : "label", NULL);
        return NULL;
    }
    if (json_string_length(l) > 63 || json_string_length(d) > 127 ||
        strlen(json_string_value(l)) != json_string_length(l) ||
        strlen(json_string_value(d)) != json_string_length(d)) {
        *fail = api_failure("INVALID_VALUE", json_string_length(l) > 63 ? "label" : "description",
                            "(too long or holds NUL)", NULL);
        return NULL;
    }
    struct task *t = task_new(api, json_string_value(l), json_string_value(d), fail);
    return t ? json_sprintf("OpaqueRef:%s", t->uuid) : NULL;
}

static json_t *task_destroy(struct agent_api *api, json_t *p, json_t **fail)
{
    struct task *t = task_param(api, p, fail);
    if (!t)
        return NULL;
    if (t->async && !strcmp(t->status, "pending")) {
        *fail = api_failure("OPERATION_NOT_ALLOWED", "the task's call is still running", NULL);
        return NULL;
    }
    task_clear(t);
    return json_string("");
}

/* task.cancel: a task.create task, or an Async call that has not begun. */
static json_t *task_cancel(struct agent_api *api, json_t *p, json_t **fail)
{
    struct task *t = task_param(api, p, fail);
    if (!t)
        return NULL;
    if (strcmp(t->status, "pending")) {
        *fail = api_failure("OPERATION_NOT_ALLOWED", "the task has finished", NULL);
        return NULL;
    }
    if (t->started) {
        *fail = api_failure("OPERATION_NOT_ALLOWED", "the task's call is running and cannot be cancelled", NULL);
        return NULL;
    }
    t->status = "cancelled";
    t->finished = api->now();
    return json_string("");
}

/* ---- Async ---- */

/* The calls Async.* runs as tasks. */
static const char *const async_ok[] = {
    "VM.start", "VM.hard_shutdown", "VM.hard_reboot", "VM.pause", "VM.unpause",
    "VM.create", "VM.destroy", "VM.clean_shutdown", "VM.clean_reboot",
    "VM.clone", "VM.provision",
};

struct job {
    struct agent_api *api;
    char uuid[37];
};

static void async_run(void *arg)
{
    struct job *j = arg;
    struct agent_api *api = j->api;
    char ref[48];
    snprintf(ref, sizeof(ref), "OpaqueRef:%s", j->uuid);
    free(j);
    struct task *t = task_by_ref(api, ref);
    if (!t || strcmp(t->status, "pending"))   /* cancelled before it began */
        return;
    t->started = 1;
    char method[40];
    snprintf(method, sizeof(method), "%s", t->method);
    json_t *params = json_incref(t->params), *res;
    int failed = api_call(api, method, params, &res);
    json_decref(params);
    t = task_by_ref(api, ref);   /* destroy is refused meanwhile; still, look again */
    if (!t) {
        json_decref(res);
        return;
    }
    if (failed) {
        json_decref(t->error_info);
        t->error_info = res;
        t->status = "failure";
    } else {
        t->result = json_is_string(res) && !json_string_length(res) ? strdup("") : rpc_xml_value(res);
        json_decref(res);
        t->status = t->result ? "success" : "failure";
        if (!t->result)
            json_array_append_new(t->error_info, json_string("INTERNAL_ERROR"));
        t->progress = 1.0;
    }
    t->finished = api->now();
    poll(api);
}

static json_t *async_call(struct agent_api *api, const char *method, json_t *p, json_t **fail)
{
    const char *inner = method + 6;
    int ok = 0;
    for (size_t i = 0; i < sizeof(async_ok) / sizeof(async_ok[0]); i++)
        ok |= !strcmp(inner, async_ok[i]);
    if (!ok || strlen(inner) >= sizeof(((struct task *)0)->method)) {
        *fail = api_failure("MESSAGE_METHOD_UNKNOWN", method, NULL);
        return NULL;
    }
    if (api_check(api, inner, p, fail))
        return NULL;
    struct task *t = task_new(api, method, "", fail);
    if (!t)
        return NULL;
    t->async = 1;
    snprintf(t->method, sizeof(t->method), "%s", inner);
    t->params = json_deep_copy(p);
    struct job *j = malloc(sizeof(*j));
    if (!t->params || !j) {
        free(j);
        task_clear(t);
        *fail = api_failure("INTERNAL_ERROR", "out of memory", NULL);
        return NULL;
    }
    j->api = api;
    memcpy(j->uuid, t->uuid, sizeof(j->uuid));
    json_t *ref = json_sprintf("OpaqueRef:%s", t->uuid);
    poll(api);   /* the new task is an event */
    if (!api->hv->spawn) {
        async_run(j);
    } else if (api->hv->spawn(async_run, j)) {
        free(j);
        task_clear(t);
        json_decref(ref);
        *fail = api_failure("INTERNAL_ERROR", "no thread for the task", NULL);
        return NULL;
    }
    return ref;
}

/* ---- the table ---- */

struct emethod {
    const char *name;
    unsigned min, max;
    json_t *(*fn)(struct agent_api *api, json_t *p, json_t **fail);
    int field;                 /* task.get_<field> */
};

static const struct emethod emethods[] = {
    { "event.register", 2, 2, ev_register, 0 },
    { "event.unregister", 2, 2, ev_unregister, 0 },
    { "event.next", 1, 1, ev_next, 0 },
    { "event.from", 4, 4, ev_from, 0 },
    { "event.inject", 3, 3, ev_inject, 0 },
    { "task.get_all", 1, 1, task_get_all, 0 },
    { "task.get_all_records", 1, 1, task_get_all_records, 0 },
    { "task.get_record", 2, 2, task_get_record, 0 },
    { "task.get_by_uuid", 2, 2, task_get_by_uuid, 0 },
    { "task.get_uuid", 2, 2, NULL, 1 },
    { "task.get_name_label", 2, 2, NULL, 1 },
    { "task.get_name_description", 2, 2, NULL, 1 },
    { "task.get_status", 2, 2, NULL, 1 },
    { "task.get_progress", 2, 2, NULL, 1 },
    { "task.get_result", 2, 2, NULL, 1 },
    { "task.get_error_info", 2, 2, NULL, 1 },
    { "task.get_created", 2, 2, NULL, 1 },
    { "task.get_finished", 2, 2, NULL, 1 },
    { "task.get_allowed_operations", 2, 2, NULL, 1 },
    { "task.create", 3, 3, task_create, 0 },
    { "task.destroy", 2, 2, task_destroy, 0 },
    { "task.cancel", 2, 2, task_cancel, 0 },
};
#define NEMETHODS (sizeof(emethods) / sizeof(emethods[0]))

size_t events_method_count(void)
{
    return NEMETHODS;
}

const char *events_method_name(size_t i)
{
    return i < NEMETHODS ? emethods[i].name : NULL;
}

int events_call(struct agent_api *api, const char *method, json_t *params, json_t **result)
{
    const struct emethod *m = NULL;
    for (size_t i = 0; i < NEMETHODS; i++)
        if (!strcmp(emethods[i].name, method))
            m = &emethods[i];
    int async = !strncmp(method, "Async.", 6);
    if (!m && !async)
        return -2;
    json_t *fail = NULL, *v = NULL;
    size_t n = json_array_size(params);
    if (!api->ev) {
        fail = api_failure("INTERNAL_ERROR", "events are not set up", NULL);
    } else if (async) {
        v = async_call(api, method, params, &fail);
    } else if (!json_is_array(params) || n < m->min || n > m->max) {
        char e[16], r[16];
        snprintf(e, sizeof(e), "%u", m->max);
        snprintf(r, sizeof(r), "%zu", n);
        fail = api_failure("MESSAGE_PARAMETER_COUNT_MISMATCH", method, e, r, NULL);
    } else {
        json_t *s = json_array_get(params, 0);
        const char *ref = json_is_string(s) ? json_string_value(s) : "";
        if (!session_check(api->auth, ref, api->now()))
            fail = api_failure("SESSION_INVALID", ref, NULL);
        else
            v = m->field ? task_get_field(api, params, &fail, method) : m->fn(api, params, &fail);
    }
    if (fail) {
        json_decref(v);
        *result = fail;
        return 1;
    }
    if (!v) {
        *result = api_failure("INTERNAL_ERROR", "no result", NULL);
        return 1;
    }
    *result = v;
    /* A call that may have changed something: log it now, so that a
     * change and its undoing between two event.from calls are both seen. */
    if (strncmp(method, "task.get", 8) && strcmp(method, "event.from") && strcmp(method, "event.next"))
        poll(api);
    return 0;
}

void events_after(struct agent_api *api, const char *method)
{
    if (api->ev && !strstr(method, ".get") && strcmp(method, "system.listMethods") &&
        strncmp(method, "session.", 8))
        poll(api);
}
