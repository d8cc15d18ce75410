/* agent.h: the management agent's portable core (docs/agent.md): the
 * hypervisor as the XenAPI classes see it, sessions, the XenAPI dispatcher,
 * the JSON-RPC and XML-RPC codecs and the HTTP connection.  No minios
 * specifics: main.c supplies the hypervisor, the clock and the entropy; the
 * host unit test (test_agent.c) supplies fakes. */
#ifndef KEEL_AGENT_H
#define KEEL_AGENT_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "http_parser.h"

/* ---- the hypervisor, as getdomaininfo and physinfo show it ---- */

/* One domain (sysctl getdomaininfolist + its name from the store). */
struct agent_dom {
    uint32_t domid;
    char name[32];             /* /local/domain/<id>/name, else "d<id>" */
    uint8_t handle[16];        /* the domain handle; all zero: none set */
    int paused, shutdown, dying, running, blocked, xs_domain;
    unsigned shutdown_code;    /* SHUTDOWN_* when shutdown */
    uint64_t tot_pages, max_pages;
    unsigned max_vcpus, online_vcpus;
    uint64_t cpu_time_ns;
    int vmdef;                 /* the VM defined through the API it runs, or -1 */
    int defined_only;          /* a defined VM with no domain (Halted) */
};

/* A VIF of a defined VM (VIF.create; devices.c, docs/agent-devices.md). */
#define AGENT_VM_VIFS 4
#define AGENT_NET_NAME_MAX 32
struct agent_vif {
    int used;
    uint8_t uuid[16];
    unsigned device;           /* "0".."3": device/vif/<device> */
    char network[AGENT_NET_NAME_MAX]; /* the netback domain's name (the network's bridge) */
    char mac[18];              /* xx:xx:xx:xx:xx:xx, unicast */
    int mac_auto;              /* derived from the VM's uuid and the device */
    unsigned mtu;
};

/* A VM defined with VM.create (in the agent's memory only, for now). */
#define AGENT_KERNEL_MAX 64      /* an embedded image or /var/kernels/NAME */
#define AGENT_ARGS_MAX   1024
struct agent_vmdef {
    int used;                  /* 1: defined; 2: being defined (its save runs) */
    uint8_t uuid[16];
    char name[32];
    uint64_t mem_bytes;
    unsigned vcpus;
    char kernel[AGENT_KERNEL_MAX];
    char args[AGENT_ARGS_MAX];
    int auto_poweron;          /* other_config:auto_poweron "true" */
    int is_template;           /* is_a_template: clone, provision, destroy only */
    struct agent_vif vifs[AGENT_VM_VIFS];
    /* Its record while it has no domain (api.c builds it once and shares
     * it with every answer and event snapshot); NULL: not built yet. */
    json_t *halted_rec;
    char *halted_text;         /* its compact JSON text, made on first need */
    size_t halted_text_len;
    char *halted_xml;          /* its XML-RPC <value>, made on first need */
    size_t halted_xml_len;
};
/* At most this many; each is allocated when first needed (api_vm_slot)
 * and reused after VM.destroy, so memory follows the VMs defined. */
#define AGENT_MAX_VMDEFS 1024
/* The most memory VM.create accepts (build.h's BUILD_MAX_PAGES). */
#define AGENT_VM_MAX_MEM (64ull << 20)

struct agent_hostinfo {
    unsigned nr_cpus;
    uint32_t cpu_khz;
    uint64_t total_pages, free_pages;
};

/* A network: a netback domain, by its name (devices.c). */
struct agent_net {
    char name[AGENT_NET_NAME_MAX];
    uint32_t domid;
};
#define AGENT_MAX_NETS 8

/* The domain list holds at most this many domains. */
#define AGENT_MAX_DOMS 1024

struct agent_hv {
    void *ctx;
    uint32_t self;             /* the agent's own domid */
    /* Fills out[0..max) in domid order; the count or a negative Xen errno. */
    int (*list)(void *ctx, struct agent_dom *out, unsigned max);
    int (*physinfo)(void *ctx, struct agent_hostinfo *h);
    /* 0 or a negative Xen errno. */
    int (*pause)(void *ctx, uint32_t domid);
    int (*unpause)(void *ctx, uint32_t domid);
    int (*destroy)(void *ctx, uint32_t domid);
    /* VM.start: builds and starts (or leaves paused) a domain for vm with
     * vm->uuid as its handle; 0 with *domid, or -1 with the reason. */
    int (*start)(void *ctx, const struct agent_vmdef *vm, int paused, uint32_t *domid,
                 char *err, size_t errlen);
    /* Waits (letting other threads run) until domain domid is gone, at
     * most seconds; 0, or -1 if it is still there. */
    int (*wait_gone)(void *ctx, uint32_t domid, unsigned seconds);
    /* 1 if name is a kernel image start can build; names: their list. */
    int (*kernel_known)(const char *name);
    const char *kernel_names;
    /* events and tasks (events.c): sleep_ms lets other threads run for
     * about ms milliseconds (NULL: event.from and event.next never wait);
     * spawn runs fn(arg) in a new thread, 0 or -1 (NULL: Async calls run
     * before they return). */
    void (*sleep_ms)(void *ctx, unsigned ms);
    /* VM.clean_shutdown: writes req to the domain's control/shutdown in
     * the store; 0, -ENOENT (2) negated if the domain has no control node,
     * or another negative errno. */
    int (*control)(void *ctx, uint32_t domid, const char *req);
    /* Waits (letting other threads run) until domid has shut down or is
     * gone, at most seconds; 0, or -1 if it still runs. */
    int (*wait_shutdown)(void *ctx, uint32_t domid, unsigned seconds);
    int (*spawn)(void (*fn)(void *), void *arg);
    /* The networks (netback domains): fills out[0..max), the count
     * (NULL: none). */
    int (*networks)(void *ctx, struct agent_net *out, unsigned max);
    /* The SR: the domain named tapdisk now, or -1 (NULL: none). */
    long (*disk_backend)(void *ctx);
};

/* ---- credentials and sessions (session.c) ---- */

#define AUTH_SALT_LEN   16
#define AUTH_HASH_LEN   32
#define AUTH_USER_MAX   64
#define AUTH_PASS_MAX   128
/* The default PBKDF2-HMAC-SHA256 iteration count (docs/agent.md). */
#define AUTH_DEFAULT_ITER 20000
#define SESSION_MAX     64
/* "OpaqueRef:" and a UUID. */
#define SESSION_REF_LEN 46
/* A session unused for this long is gone (seconds; session_idle=). */
#define SESSION_DEFAULT_IDLE 1800

/* Entropy for the DRBG: fills len bytes, 0 or -1 (mbedTLS's f_source
 * shape, as mbedtls_entropy_add_source wants it). */
typedef int (*agent_entropy_fn)(void *ctx, unsigned char *out, size_t len, size_t *olen);

struct agent_auth;   /* opaque: holds the DRBG, the hash and the sessions */

/* Seeds the DRBG from entropy, draws a salt, hashes password with
 * iterations rounds and wipes password (its whole buffer up to its NUL).
 * NULL with a reason in err on failure. */
struct agent_auth *auth_create(const char *user, char *password, unsigned iterations,
                               uint64_t idle_seconds, agent_entropy_fn entropy, void *ectx,
                               char *err, size_t errlen);
void auth_free(struct agent_auth *a);
/* Random bytes from the DRBG: 0, or -1. */
int auth_random(struct agent_auth *a, void *buf, size_t len);
/* 1 if user and password match (constant time in the password), else 0. */
int auth_check(struct agent_auth *a, const char *user, size_t ulen, const char *pass, size_t plen);
/* A new session (the least recently used one makes room when all are
 * taken): writes its ref (NUL-terminated) to out; 0, or -1. */
int session_new(struct agent_auth *a, uint64_t now, char out[SESSION_REF_LEN + 1]);
/* 1 if ref names a live session (its idle time restarts), else 0; an
 * expired one is dropped. */
int session_check(struct agent_auth *a, const char *ref, uint64_t now);
/* Ends the session ref: 1 if it was live, else 0. */
int session_end(struct agent_auth *a, const char *ref, uint64_t now);
unsigned auth_iterations(const struct agent_auth *a);
/* The password replaced: a new salt from the DRBG, the same iterations;
 * 0, or -1 with the reason (a password of 0 or more than AUTH_PASS_MAX
 * bytes; nothing changed then). */
int auth_change_password(struct agent_auth *a, const char *pass, size_t plen, char *err,
                         size_t errlen);
/* The credentials as JSON text (user, iterations, salt, hash; malloc'd),
 * and back: auth_import checks every field (hostile: a file on the disk)
 * and replaces the user, salt, hash and iterations; 0, or -1 with the
 * reason and nothing changed. */
char *auth_export(const struct agent_auth *a);
int auth_import(struct agent_auth *a, const char *text, size_t len, char *err, size_t errlen);
const char *auth_user(const struct agent_auth *a);

/* ---- the XenAPI classes (api.c) ---- */

struct agent_api {
    struct agent_hv *hv;
    struct agent_auth *auth;
    uint64_t (*now)(void);     /* monotonic seconds */
    char host_uuid[37];
    char hostname[64];
    char address[48];          /* the management address, or "" */
    struct agent_vmdef *vms[AGENT_MAX_VMDEFS];   /* NULL: never used */
    char store_dir[32];        /* where VM records persist (persist.c); "": memory only */
    char devices_path[40];     /* VDIs and VBDs (devices.c); "": memory only */
    char auth_path[40];        /* the credentials, once changed (session.change_password) */

    /* events and tasks (events.c) */
    struct agent_events *ev;
};

/* Defined VM i, or NULL. */
static inline struct agent_vmdef *api_vm(const struct agent_api *api, int i)
{
    return i >= 0 && i < AGENT_MAX_VMDEFS && api->vms[i] && api->vms[i]->used == 1 ? api->vms[i] : NULL;
}
/* Drops the record kept for a defined VM with no domain (and its texts):
 * whatever changes its definition or its devices calls it. */
void api_vm_changed(struct agent_vmdef *v);
/* A free slot (zeroed, allocated if need be), or NULL when all
 * AGENT_MAX_VMDEFS are defined or memory is short. */
struct agent_vmdef *api_vm_slot(struct agent_api *api);

/* The compact JSON text (xml: its XML-RPC <value>) of rec if it is a
 * defined VM's shared Halted record (made once, kept with it), else NULL
 * (rpc.c). */
const char *api_record_text(struct agent_api *api, json_t *rec, int xml, size_t *len);

/* Sets up the host's identity (uuid derived from hostname, docs/agent.md). */
void api_init(struct agent_api *api, struct agent_hv *hv, struct agent_auth *auth,
              uint64_t (*now)(void), const char *hostname, const char *address);

/* Calls method with params (a JSON array; values as jansson holds them).
 * On success *result is the value (a new reference) and the return is 0;
 * on a XenAPI failure *result is the array [code, params...] of strings
 * (a new reference) and the return is 1. */
int api_call(struct agent_api *api, const char *method, json_t *params, json_t **result);

/* The methods, in system.listMethods order. */
size_t api_method_count(void);
const char *api_method_name(size_t i);

/* A XenAPI failure [code, params...] (helper for the codecs). */
json_t *api_failure(const char *code, ...);   /* NULL-terminated string params */

/* ---- VM records on the agent's disk (persist.c) ---- */

/* A record file holds at most this many bytes. */
#define PERSIST_MAX 4096

/* The record of v as JSON text (malloc'd), or NULL. */
char *persist_encode(const struct agent_vmdef *v);
/* Decodes a record (hostile: every field checked, a kernel_known refusal
 * too); 0 with *out used, or -1 with the reason in err. */
int persist_decode(const char *buf, size_t len, int (*kernel_known)(const char *),
                   struct agent_vmdef *out, char *err, size_t errlen);
/* Writes v's record to DIR/<uuid>.json atomically (.new, fsync, rename);
 * 0, or -1 with the reason in err. */
int persist_save(const char *dir, const struct agent_vmdef *v, char *err, size_t errlen);
/* text (a line is added) to path, as persist_save writes a record: whole
 * to path.new, fsync, then renamed over path; 0, or -1 with the reason. */
int persist_write_file(const char *path, const char *text, char *err, size_t errlen);
/* path's contents (at most max + 1 bytes read: a longer file shows as
 * max + 1), malloc'd, or NULL with the reason. */
char *persist_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);
int persist_parse_uuid(const char *s, uint8_t u[16]);
/* The newest whole one of path.new and path, as the records are read (a
 * whole .new wins: its rename may not have reached the disk): each read
 * (at most max bytes) and offered to take, which returns 0 if it takes
 * the text, else -1 with why; each refusal and each read error but a
 * missing file is logged as "PATH: why (not used)".  0 with the path
 * taken in from, or -1 if neither was. */
int persist_read_newest(const char *path, size_t max,
                        int (*take)(const char *text, size_t len, void *ctx, char *err, size_t errlen),
                        void *ctx, void (*log)(const char *msg), char *from, size_t fromlen);
/* Removes the record of uuid; 0, or -1 with the reason. */
int persist_remove(const char *dir, const uint8_t uuid[16], char *err, size_t errlen);
/* Loads every record of dir into free slots of vms[0..max) (a NULL
 * slot is allocated, a slot with used set is taken); a file that
 * does not decode is logged (log) and skipped.  The count, or -1 if dir
 * cannot be read. */
int persist_load(const char *dir, struct agent_vmdef **vms, unsigned max,
                 int (*kernel_known)(const char *), void (*log)(const char *msg));

/* ---- events and tasks (events.c) ---- */

/* Events kept for event.from / event.next (older tokens: EVENTS_LOST). */
#define AGENT_EVENTS_KEPT 256
#define AGENT_MAX_TASKS 64
/* The longest event.from / event.next wait (seconds). */
#define AGENT_EVENT_MAX_WAIT 120
/* How long VM.clean_shutdown waits before it destroys the domain (s). */
#define AGENT_CLEAN_TIMEOUT 30

/* Allocates api->ev; 0, or -1. */
int events_init(struct agent_api *api);
void events_free(struct agent_api *api);
/* The current records of class cls ("VM", "host", "pool"; api.c) as
 * {ref: record}, or NULL. */
json_t *api_class_records(struct agent_api *api, const char *cls);
/* Handles an event.* or task.* method, or an Async.* call, after api.c
 * checked the session; as api_call.  Returns -2 if method is none of them. */
int events_call(struct agent_api *api, const char *method, json_t *params, json_t **result);
/* api.c's checks of a call (method known, parameter count, session): 0,
 * or -1 with the failure in *fail. */
int api_check(struct agent_api *api, const char *method, json_t *params, json_t **fail);
/* After a call of api.c's that succeeded: logs what it changed. */
void events_after(struct agent_api *api, const char *method);
/* Their names, for system.listMethods. */
size_t events_method_count(void);
const char *events_method_name(size_t i);

/* ---- VIF and network classes (devices.c) ---- */

/* A VM by ref for devices.c (api.c): 0 with its defined VM's index
 * (-1 for a boot domain) and power state ("Halted", "Running"...), or -1
 * with the failure (HANDLE_INVALID) in *fail. */
int api_vm_lookup(struct agent_api *api, const char *ref, int *vmdef, char power[16], json_t **fail);
/* out[v] = 1 for each defined VM v whose domain is Running or Paused
 * (one domain list for all). */
void api_vm_attached(struct agent_api *api, unsigned char out[AGENT_MAX_VMDEFS]);
/* Handles a network.* or VIF.* method, as api_call; -2 if none of them. */
int devices_call(struct agent_api *api, const char *method, json_t *params, json_t **result);
size_t devices_method_count(void);
const char *devices_method_name(size_t i);
/* The VIF refs of a defined VM (NULL: none), for its record. */
json_t *devices_vm_vifs(const struct agent_vmdef *v);
/* The default MAC of a VIF: 00:16:3e and three bytes of SHA-256 of
 * "keel-vif:<vm uuid>:<device>", stable per VM and device. */
void devices_default_mac(const uint8_t vm_uuid[16], unsigned device, char out[18]);
/* 1 if m is six hex bytes separated by ':' of a unicast address. */
int devices_mac_ok(const char *m);
/* A VBD as VM.start wires it (devices.c keeps VDIs and VBDs in memory). */
#define AGENT_VDI_LOC_MAX 128
struct agent_vbd_wire {
    unsigned userdevice;       /* 0..15: xvda..xvdp, device 202*256+16*N */
    int ro;
    char location[AGENT_VDI_LOC_MAX];   /* the image's path on tapdisk's store */
};
/* The VBDs of the VM with uuid vm_uuid: fills out[0..max), the count. */
unsigned devices_vbds_of(const uint8_t vm_uuid[16], struct agent_vbd_wire *out, unsigned max);
/* The VBD refs of a defined VM, for its record. */
json_t *devices_vm_vbds(const struct agent_vmdef *v);
/* The VIFs of a record: encode into rec ("VIFs": [...]), decode from it
 * (hostile: each checked; no "VIFs": none); 0, or -1 with the reason. */
int devices_encode(const struct agent_vmdef *v, json_t *rec);
/* VDIs and VBDs on the agent's disk (api->devices_path; "": none): saved
 * whole after each change (0, or -1 with the reason), loaded once at
 * start after the VM records (each entry checked, bad ones logged and
 * skipped; the number taken). */
int devices_save(struct agent_api *api, char *err, size_t errlen);
int devices_load(struct agent_api *api, void (*log)(const char *msg));
int devices_decode(json_t *rec, struct agent_vmdef *v, char *err, size_t errlen);

/* ---- the transports (rpc.c) ---- */

/* The XML-RPC parser's hash salt comes from here (expat: XML_SetHashSalt). */
extern unsigned long (*rpc_salt)(void);

/* Handles one JSON-RPC 2.0 request body; *out is a malloc'd response
 * body of *outlen bytes (always set: errors are JSON-RPC errors). */
void rpc_jsonrpc(struct agent_api *api, const char *body, size_t len, char **out, size_t *outlen);
/* Handles one XML-RPC methodCall; *out as above (a fault for bad XML). */
void rpc_xmlrpc(struct agent_api *api, const char *body, size_t len, char **out, size_t *outlen);

/* Parses an XML-RPC methodCall into the method name (malloc'd) and its
 * params (a JSON array); 0, or -1 with a reason in err. */
int rpc_xml_parse(const char *body, size_t len, char **method, json_t **params,
                  char *err, size_t errlen);
/* The XML-RPC text of a value (malloc'd), ints as strings. */
char *rpc_xml_value(json_t *v);

/* ---- HTTP/1.1 (http.c) ---- */

/* Limits: a head over AGENT_MAX_HEAD bytes (http-parser's
 * HTTP_MAX_HEADER_SIZE) 431; a target over AGENT_MAX_URL 414; a body over
 * AGENT_MAX_BODY 413. */
#define AGENT_MAX_HEAD 8192
#define AGENT_MAX_URL  256
#define AGENT_MAX_BODY (256u << 10)

struct agent_http_resp {
    int status;
    char head[256];
    size_t head_len;
    char *body;                /* malloc'd, or NULL */
    size_t body_len;
    int close;                 /* the connection ends after it */
};

struct agent_http {
    http_parser p;
    struct agent_api *api;
    char url[AGENT_MAX_URL];
    size_t url_len;
    int url_long;
    char *body;
    size_t body_len, body_cap;
    int early;                 /* an error status decided before the end */
    int done;
    int dead;
    unsigned long requests;
};

void http_conn_init(struct agent_http *c, struct agent_api *api);
void http_conn_free(struct agent_http *c);
/* Feeds len bytes from the client; returns how many were used.  When
 * *ready is set, r holds a response to send (then free r->body) before
 * feeding the rest; after one with r->close, feed nothing more. */
size_t http_conn_feed(struct agent_http *c, const char *buf, size_t len,
                      struct agent_http_resp *r, int *ready);

#endif
