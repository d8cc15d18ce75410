/* http.c: the agent's HTTP/1.1 connection (Debian's http-parser): POST
 * /jsonrpc and /xmlrpc to the transports, GET / a one-line banner,
 * keep-alive, pipelining, size limits; every bad request gets its status
 * and the connection closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    default: return "Error";
    }
}

static int on_message_begin(http_parser *p)
{
    struct agent_http *c = p->data;
    c->url_len = 0;
    c->url_long = 0;
    c->body_len = 0;
    c->early = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct agent_http *c = p->data;
    if (c->url_len + len >= sizeof(c->url)) {
        c->url_long = 1;
        return 0;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    c->url[c->url_len] = 0;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct agent_http *c = p->data;
    if (c->url_long)
        c->early = 414;
    else if ((p->flags & F_CONTENTLENGTH) && p->content_length > AGENT_MAX_BODY)
        c->early = 413;
    if (c->early) {
        /* Answer now, without reading a body we will not use. */
        c->done = 1;
        http_parser_pause(p, 1);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct agent_http *c = p->data;
    if (c->early)
        return 0;
    if (c->body_len + len > AGENT_MAX_BODY) {
        c->early = 413;       /* a chunked body that grew too large */
        c->done = 1;
        http_parser_pause(p, 1);
        return 0;
    }
    if (c->body_len + len + 1 > c->body_cap) {
        size_t cap = c->body_len + len + 1;
        cap = cap < 4096 ? 4096 : cap * 2;
        if (cap > AGENT_MAX_BODY + 1)
            cap = AGENT_MAX_BODY + 1;
        char *b = realloc(c->body, cap);
        if (!b) {
            c->early = 500;
            c->done = 1;
            http_parser_pause(p, 1);
            return 0;
        }
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct agent_http *c = p->data;
    c->done = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_conn_init(struct agent_http *c, struct agent_api *api)
{
    memset(c, 0, sizeof(*c));
    http_parser_init(&c->p, HTTP_REQUEST);
    c->p.data = c;
    c->api = api;
}

void http_conn_free(struct agent_http *c)
{
    free(c->body);
    c->body = NULL;
    c->body_cap = c->body_len = 0;
}

static void respond(struct agent_http *c, struct agent_http_resp *r, int status, const char *type,
                    char *body, size_t body_len)
{
    r->status = status;
    r->body = body;
    r->body_len = body ? body_len : 0;
    if (status >= 400 && !body) {
        char *t = malloc(64);
        if (t) {
            r->body_len = (size_t)snprintf(t, 64, "%d %s\n", status, reason(status));
            r->body = t;
        }
        type = "text/plain";
    }
    r->close = r->close || c->dead;
    r->head_len = (size_t)snprintf(r->head, sizeof(r->head),
                                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                                   "%s\r\n",
                                   status, reason(status), type, r->body_len,
                                   r->close ? "Connection: close\r\n" : "");
    c->requests++;
}

/* The response to the request just parsed. */
static void handle(struct agent_http *c, struct agent_http_resp *r)
{
    int post = c->p.method == HTTP_POST;
    char *out = NULL;
    size_t outlen = 0;
    if (c->early) {
        c->dead = 1;
        respond(c, r, c->early, "text/plain", NULL, 0);
        return;
    }
    if (!http_should_keep_alive(&c->p))
        c->dead = 1;
    /* The path without a query. */
    size_t n = strcspn(c->url, "?");
    int json = n == 8 && !strncmp(c->url, "/jsonrpc", 8);
    int xml = (n == 7 && !strncmp(c->url, "/xmlrpc", 7)) || (n == 1 && c->url[0] == '/' && post);
    if (!json && !xml) {
        if (n == 1 && c->url[0] == '/' && (c->p.method == HTTP_GET || c->p.method == HTTP_HEAD)) {
            char *t = strdup("Keel management agent: XenAPI at POST /jsonrpc and /xmlrpc\n");
            respond(c, r, 200, "text/plain", t, t ? strlen(t) : 0);
            if (c->p.method == HTTP_HEAD) {
                free(r->body);
                r->body = NULL;
                r->body_len = 0;
            }
            return;
        }
        respond(c, r, 404, "text/plain", NULL, 0);
        return;
    }
    if (!post) {
        respond(c, r, 405, "text/plain", NULL, 0);
        return;
    }
    if (json)
        rpc_jsonrpc(c->api, c->body ? c->body : "", c->body_len, &out, &outlen);
    else
        rpc_xmlrpc(c->api, c->body ? c->body : "", c->body_len, &out, &outlen);
    if (!out) {
        respond(c, r, 500, "text/plain", NULL, 0);
        return;
    }
    /* The npm xen-api client wants exactly "application/json". */
    respond(c, r, 200, json ? "application/json" : "text/xml", out, outlen);
}

size_t http_conn_feed(struct agent_http *c, const char *buf, size_t len,
                      struct agent_http_resp *r, int *ready)
{
    *ready = 0;
    memset(r, 0, sizeof(*r));
    if (c->dead)
        return len;
    size_t used = http_parser_execute(&c->p, &settings, buf, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->p);
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->p, 0);
    } else if (e != HPE_OK) {
        int status = e == HPE_HEADER_OVERFLOW ? 431 :
                     e == HPE_INVALID_METHOD ? 501 : 400;
        c->dead = 1;
        r->close = 1;
        respond(c, r, status, "text/plain", NULL, 0);
        *ready = 1;
        return len;
    }
    if (c->done) {
        c->done = 0;
        handle(c, r);
        if (r->close || c->dead) {
            r->close = 1;
            c->dead = 1;
        }
        *ready = 1;
        return c->dead ? len : used;
    }
    return used;
}
