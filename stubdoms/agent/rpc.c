/* rpc.c: XenAPI's two transports: JSON-RPC 2.0 (parsed and written by
 * jansson) and XML-RPC (parsed by expat, written here), both onto the one
 * dispatcher api_call().  Values travel between them as jansson values. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <expat.h>
#include "agent.h"

unsigned long (*rpc_salt)(void);

/* ---- JSON-RPC 2.0 ---- */

static void json_out(json_t *resp, char **out, size_t *outlen)
{
    *out = json_dumps(resp, JSON_COMPACT);
    json_decref(resp);
    if (!*out)
        *out = strdup("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":\"Internal error\"},\"id\":null}");
    *outlen = *out ? strlen(*out) : 0;
}

static json_t *json_error(int code, const char *msg, json_t *id)
{
    return json_pack("{s:s, s:{s:i, s:s}, s:o}", "jsonrpc", "2.0", "error", "code", code,
                     "message", msg, "id", id ? json_incref(id) : json_null());
}

/* A result object of at least this many members is written member by
 * member (splice_result). */
#define SPLICE_MIN 32

struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_json(struct sbuf *b, json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) {
        b->oom = 1;
        return;
    }
    sb_put(b, t, strlen(t));
    free(t);
}

/* The answer {"jsonrpc":"2.0","result":{...},"id":ID} as json_dumps
 * would write it, each member's value from the text api.c keeps for a
 * defined VM's shared record when it is one (VM.get_all_records of 1,000
 * VMs: copies instead of a megabyte of serialisation).  0, or -1 (out of
 * memory: the caller writes it the usual way). */
static int splice_result(struct agent_api *api, json_t *result, json_t *id, char **out, size_t *outlen)
{
    struct sbuf b = { 0 };
    const char *key;
    json_t *v;
    int first = 1;
    sb_put(&b, "{\"jsonrpc\":\"2.0\",\"result\":{", 27);
    json_object_foreach(result, key, v) {
        if (!first)
            sb_put(&b, ",", 1);
        first = 0;
        json_t *k = json_string(key);
        if (!k)
            b.oom = 1;
        else
            sb_json(&b, k);
        json_decref(k);
        sb_put(&b, ":", 1);
        size_t n;
        const char *t = api_record_text(api, v, 0, &n);
        if (t)
            sb_put(&b, t, n);
        else
            sb_json(&b, v);
    }
    sb_put(&b, "},\"id\":", 7);
    if (id)
        sb_json(&b, id);
    else
        sb_put(&b, "null", 4);
    sb_put(&b, "}", 1);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *outlen = b.len;
    return 0;
}

void rpc_jsonrpc(struct agent_api *api, const char *body, size_t len, char **out, size_t *outlen)
{
    json_error_t e;
    json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (!req) {
        json_out(json_error(-32700, "Parse error", NULL), out, outlen);
        return;
    }
    json_t *id = json_object_get(req, "id");
    json_t *method = json_object_get(req, "method");
    json_t *params = json_object_get(req, "params");
    json_t *ver = json_object_get(req, "jsonrpc");
    if (!json_is_object(req) || !json_is_string(ver) || strcmp(json_string_value(ver), "2.0") ||
        !json_is_string(method) || (params && !json_is_array(params)) ||
        (id && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id))) {
        json_out(json_error(-32600, "Invalid Request", json_is_object(req) ? id : NULL), out, outlen);
        json_decref(req);
        return;
    }
    json_t *empty = params ? NULL : json_array();
    json_t *result;
    int failed = api_call(api, json_string_value(method), params ? params : empty, &result);
    json_t *resp;
    if (!failed && json_is_object(result) && json_object_size(result) >= SPLICE_MIN &&
        splice_result(api, result, id, out, outlen) == 0) {
        json_decref(result);
        json_decref(empty);
        json_decref(req);
        return;
    }
    if (!failed) {
        resp = json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", "result", result,
                         "id", id ? id : json_null());
    } else {
        /* As xapi: the code as the message, its parameters as data. */
        json_t *code = json_array_get(result, 0);
        json_t *data = json_array();
        for (size_t i = 1; i < json_array_size(result); i++)
            json_array_append(data, json_array_get(result, i));
        resp = json_pack("{s:s, s:{s:i, s:O, s:o}, s:O}", "jsonrpc", "2.0", "error", "code", 1,
                         "message", code, "data", data, "id", id ? id : json_null());
        json_decref(result);
    }
    json_decref(empty);
    json_decref(req);
    json_out(resp, out, outlen);
}

/* ---- XML-RPC in ---- */

/* Nesting of values allowed in a call (beyond it: refused). */
#define XML_MAX_DEPTH 16
/* Elements in one call. */
#define XML_MAX_ELEMENTS 20000

enum xtag {
    T_NONE, T_METHODCALL, T_METHODNAME, T_PARAMS, T_PARAM, T_VALUE, T_STRUCT, T_MEMBER,
    T_NAME, T_ARRAY, T_DATA, T_SCALAR,
};

struct xframe {
    enum xtag tag;
    char type[20];          /* the scalar's type (T_SCALAR) */
    json_t *container;      /* T_STRUCT: object; T_ARRAY/T_DATA: array */
    json_t *value;          /* T_VALUE: its value once known; T_MEMBER: value */
    char *name;             /* T_MEMBER: its name */
    int has_child;          /* T_VALUE: a typed child was seen */
};

struct xstate {
    XML_Parser p;
    struct xframe st[2 * XML_MAX_DEPTH + 8];
    int sp;
    char *text;
    size_t tlen, tcap;
    int depth;              /* of values */
    unsigned elements;
    char *method;
    json_t *params;
    char err[120];
};

static void xfail(struct xstate *x, const char *fmt, const char *arg)
{
    if (!x->err[0])
        snprintf(x->err, sizeof(x->err), fmt, arg);
    XML_StopParser(x->p, XML_FALSE);
}

static enum xtag tag_of(const char *n)
{
    static const struct { const char *n; enum xtag t; } tags[] = {
        { "methodCall", T_METHODCALL }, { "methodName", T_METHODNAME }, { "params", T_PARAMS },
        { "param", T_PARAM }, { "value", T_VALUE }, { "struct", T_STRUCT },
        { "member", T_MEMBER }, { "name", T_NAME }, { "array", T_ARRAY }, { "data", T_DATA },
    };
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        if (!strcmp(n, tags[i].n))
            return tags[i].t;
    static const char *const scalars[] = { "string", "int", "i4", "i8", "boolean", "double",
                                           "dateTime.iso8601", "base64", "nil" };
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
        if (!strcmp(n, scalars[i]))
            return T_SCALAR;
    return T_NONE;
}

/* Which parent each element may have. */
static int parent_ok(enum xtag t, enum xtag parent)
{
    switch (t) {
    case T_METHODCALL: return parent == T_NONE;
    case T_METHODNAME: case T_PARAMS: return parent == T_METHODCALL;
    case T_PARAM: return parent == T_PARAMS;
    case T_VALUE: return parent == T_PARAM || parent == T_MEMBER || parent == T_DATA;
    case T_STRUCT: case T_ARRAY: case T_SCALAR: return parent == T_VALUE;
    case T_MEMBER: return parent == T_STRUCT;
    case T_NAME: return parent == T_MEMBER;
    case T_DATA: return parent == T_ARRAY;
    default: return 0;
    }
}

static void XMLCALL x_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct xstate *x = ud;
    (void)attrs;
    enum xtag t = tag_of(name);
    enum xtag parent = x->sp ? x->st[x->sp - 1].tag : T_NONE;
    if (t == T_NONE) {
        xfail(x, "unknown element <%s>", name);
        return;
    }
    if (!parent_ok(t, parent)) {
        xfail(x, "<%s> is not allowed here", name);
        return;
    }
    if (++x->elements > XML_MAX_ELEMENTS) {
        xfail(x, "%s", "too many elements");
        return;
    }
    if (parent == T_VALUE) {
        if (x->st[x->sp - 1].has_child) {
            xfail(x, "%s", "a <value> holds one value");
            return;
        }
        x->st[x->sp - 1].has_child = 1;
    }
    if (t == T_VALUE && ++x->depth > XML_MAX_DEPTH) {
        xfail(x, "%s", "values nested too deeply");
        return;
    }
    if (x->sp >= (int)(sizeof(x->st) / sizeof(x->st[0]))) {
        xfail(x, "%s", "elements nested too deeply");
        return;
    }
    struct xframe *f = &x->st[x->sp++];
    memset(f, 0, sizeof(*f));
    f->tag = t;
    if (t == T_SCALAR)
        snprintf(f->type, sizeof(f->type), "%s", name);
    if (t == T_STRUCT)
        f->container = json_object();
    if (t == T_ARRAY || t == T_DATA)
        f->container = json_array();
    x->tlen = 0;
}

static void XMLCALL x_text(void *ud, const XML_Char *s, int len)
{
    struct xstate *x = ud;
    if (x->tlen + (size_t)len + 1 > x->tcap) {
        size_t cap = (x->tlen + (size_t)len + 1) * 2;
        char *t = realloc(x->text, cap);
        if (!t) {
            xfail(x, "%s", "out of memory");
            return;
        }
        x->text = t;
        x->tcap = cap;
    }
    memcpy(x->text + x->tlen, s, (size_t)len);
    x->tlen += (size_t)len;
    x->text[x->tlen] = 0;
}

/* The text of the element just ended (XML-RPC has no mixed content that
 * matters: text beside elements is whitespace). */
static const char *text(struct xstate *x)
{
    return x->text ? x->text : "";
}

static json_t *scalar(struct xstate *x, const char *type, const char *s)
{
    if (!strcmp(type, "string") || !strcmp(type, "dateTime.iso8601") || !strcmp(type, "base64"))
        return json_stringn(s, x->tlen);
    if (!strcmp(type, "nil"))
        return json_null();
    if (!strcmp(type, "boolean")) {
        if (!strcmp(s, "0") || !strcmp(s, "1"))
            return json_boolean(s[0] == '1');
        xfail(x, "bad boolean \"%.40s\"", s);
        return NULL;
    }
    if (!strcmp(type, "double")) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (!*s || *end || errno) {
            xfail(x, "bad double \"%.40s\"", s);
            return NULL;
        }
        return json_real(d);
    }
    /* int, i4, i8: decimal, optional sign, in range. */
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || (strcmp(type, "i8") && (v < INT32_MIN || v > INT32_MAX))) {
        xfail(x, "bad integer \"%.40s\"", s);
        return NULL;
    }
    return json_integer(v);
}

/* Gives v (a new reference) to the element that holds values above. */
static void deliver(struct xstate *x, json_t *v)
{
    struct xframe *f = &x->st[x->sp - 1];
    if (f->tag == T_PARAM) {
        json_array_append_new(x->params, v);
    } else if (f->tag == T_MEMBER) {
        json_decref(f->value);
        f->value = v;
    } else if (f->tag == T_DATA) {
        json_array_append_new(f->container, v);
    } else {
        json_decref(v);
    }
}

static void XMLCALL x_end(void *ud, const XML_Char *name)
{
    struct xstate *x = ud;
    (void)name;
    if (!x->sp)
        return;
    struct xframe *f = &x->st[--x->sp];
    struct xframe *up = x->sp ? &x->st[x->sp - 1] : NULL;
    switch (f->tag) {
    case T_METHODNAME:
        free(x->method);
        x->method = strdup(text(x));
        break;
    case T_SCALAR: {
        json_t *v = scalar(x, f->type, text(x));
        if (v) {
            json_decref(up->value);
            up->value = v;
        }
        break;
    }
    case T_STRUCT: case T_ARRAY:
        json_decref(up->value);
        up->value = f->container;
        f->container = NULL;
        break;
    case T_DATA:
        /* the array's container is the data's */
        json_decref(up->container);
        up->container = f->container;
        f->container = NULL;
        break;
    case T_NAME:
        free(up->name);
        up->name = strdup(text(x));
        break;
    case T_VALUE: {
        x->depth--;
        json_t *v = f->value;
        if (!f->has_child)      /* <value>text</value> is a string */
            v = json_stringn(text(x), x->tlen);
        f->value = NULL;
        if (v)
            deliver(x, v);
        break;
    }
    case T_MEMBER:
        if (!f->name || !f->value) {
            xfail(x, "%s", "a <member> needs a <name> and a <value>");
        } else if (json_object_get(up->container, f->name)) {
            xfail(x, "member \"%.40s\" given twice", f->name);
        } else {
            json_object_set_new(up->container, f->name, f->value);
            f->value = NULL;
        }
        free(f->name);
        f->name = NULL;
        break;
    default:
        break;
    }
    json_decref(f->value);
    json_decref(f->container);
    free(f->name);
    memset(f, 0, sizeof(*f));
    x->tlen = 0;
    if (x->text)
        x->text[0] = 0;
}

static void XMLCALL x_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                              const XML_Char *pubid, int has_internal)
{
    (void)name; (void)sysid; (void)pubid; (void)has_internal;
    xfail(ud, "%s", "a document type declaration is not accepted");
}

static void XMLCALL x_entity(void *ud, const XML_Char *name, int pe, const XML_Char *v, int vlen,
                             const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
                             const XML_Char *notation)
{
    (void)pe; (void)v; (void)vlen; (void)base; (void)sysid; (void)pubid; (void)notation;
    xfail(ud, "entity declaration \"%.40s\" is not accepted", name);
}

int rpc_xml_parse(const char *body, size_t len, char **method, json_t **params,
                  char *err, size_t errlen)
{
    struct xstate *x = calloc(1, sizeof(*x));
    if (!x || len > INT_MAX) {
        snprintf(err, errlen, "out of memory");
        free(x);
        return -1;
    }
    x->p = XML_ParserCreate("UTF-8");
    x->params = json_array();
    int rc = -1;
    if (!x->p || !x->params) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (rpc_salt)
        XML_SetHashSalt(x->p, rpc_salt());
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, x_start, x_end);
    XML_SetCharacterDataHandler(x->p, x_text);
    XML_SetStartDoctypeDeclHandler(x->p, x_doctype);
    XML_SetEntityDeclHandler(x->p, x_entity);
    if (XML_Parse(x->p, body, (int)len, XML_TRUE) != XML_STATUS_OK) {
        if (x->err[0])
            snprintf(err, errlen, "%s", x->err);
        else
            snprintf(err, errlen, "line %lu: %s", (unsigned long)XML_GetCurrentLineNumber(x->p),
                     XML_ErrorString(XML_GetErrorCode(x->p)));
        goto out;
    }
    if (!x->method || !*x->method) {
        snprintf(err, errlen, "no <methodName>");
        goto out;
    }
    *method = x->method;
    x->method = NULL;
    *params = x->params;
    x->params = NULL;
    rc = 0;
out:
    while (x->sp > 0) {
        struct xframe *f = &x->st[--x->sp];
        json_decref(f->value);
        json_decref(f->container);
        free(f->name);
    }
    if (x->p)
        XML_ParserFree(x->p);
    json_decref(x->params);
    free(x->method);
    free(x->text);
    free(x);
    return rc;
}

/* ---- XML-RPC out ---- */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
    /* When set, a defined VM's shared record is written as the XML text
     * kept with it (api_record_text) */
    struct agent_api *api;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_escaped(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<': puts_(b, "&lt;"); break;
        case '>': puts_(b, "&gt;"); break;
        case '&': puts_(b, "&amp;"); break;
        case '\r': puts_(b, "&#13;"); break;
        default: put(b, s + i, 1);
        }
    }
}

static void put_value(struct buf *b, json_t *v)
{
    char num[40];
    size_t kept;
    const char *t = b->api && json_is_object(v) ? api_record_text(b->api, v, 1, &kept) : NULL;
    if (t) {
        put(b, t, kept);
        return;
    }
    puts_(b, "<value>");
    switch (json_typeof(v)) {
    case JSON_STRING:
        put_escaped(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        /* XenAPI's ints are 64-bit: strings on XML-RPC. */
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        puts_(b, num);
        break;
    case JSON_REAL:
        snprintf(num, sizeof(num), "<double>%.17g</double>", json_real_value(v));
        puts_(b, num);
        break;
    case JSON_TRUE:
        puts_(b, "<boolean>1</boolean>");
        break;
    case JSON_FALSE:
        puts_(b, "<boolean>0</boolean>");
        break;
    case JSON_ARRAY: {
        puts_(b, "<array><data>");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            put_value(b, e);
        puts_(b, "</data></array>");
        break;
    }
    case JSON_OBJECT: {
        puts_(b, "<struct>");
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) {
            puts_(b, "<member><name>");
            put_escaped(b, k, strlen(k));
            puts_(b, "</name>");
            put_value(b, e);
            puts_(b, "</member>");
        }
        puts_(b, "</struct>");
        break;
    }
    default:   /* null: XenAPI has none; an empty string */
        break;
    }
    puts_(b, "</value>");
}

char *rpc_xml_value(json_t *v)
{
    struct buf b = { 0 };
    put_value(&b, v);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static void xml_reply(struct agent_api *api, json_t *status, char **out, size_t *outlen)
{
    struct buf b = { .api = api };
    puts_(&b, "<?xml version=\"1.0\"?>\n<methodResponse><params><param>");
    put_value(&b, status);
    puts_(&b, "</param></params></methodResponse>\n");
    json_decref(status);
    if (b.oom) {
        free(b.p);
        b.p = NULL;
    }
    *out = b.p;
    *outlen = b.p ? b.len : 0;
}

void rpc_xmlrpc(struct agent_api *api, const char *body, size_t len, char **out, size_t *outlen)
{
    char *method = NULL, err[160];
    json_t *params = NULL;
    if (rpc_xml_parse(body, len, &method, &params, err, sizeof(err))) {
        /* Not a call at all: an XML-RPC fault (no XenAPI method ran). */
        struct buf b = { 0 };
        puts_(&b, "<?xml version=\"1.0\"?>\n<methodResponse><fault><value><struct>"
                  "<member><name>faultCode</name><value><int>-32700</int></value></member>"
                  "<member><name>faultString</name><value>");
        put_escaped(&b, err, strlen(err));
        puts_(&b, "</value></member></struct></value></fault></methodResponse>\n");
        if (b.oom) {
            free(b.p);
            b.p = NULL;
        }
        *out = b.p;
        *outlen = b.p ? b.len : 0;
        return;
    }
    json_t *result;
    int failed = api_call(api, method, params, &result);
    free(method);
    json_decref(params);
    if (!failed)
        xml_reply(api, json_pack("{s:s, s:o}", "Status", "Success", "Value", result), out, outlen);
    else
        xml_reply(api, json_pack("{s:s, s:o}", "Status", "Failure", "ErrorDescription", result),
                  out, outlen);
}
