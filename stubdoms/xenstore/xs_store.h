/* xs_store.h: the portable core of Keel's xenstored — the store, its
 * permissions, watches, transactions, quotas and the whole xs_wire.h
 * protocol — with no OS dependency.  The stub domain's glue (main.c) maps
 * rings and binds event channels, and moves bytes between the rings and
 * the connections defined here.
 *
 * Behaviour follows Xen 4.17's C xenstored; docs/xenstore.md lists it.
 *
 * Usage by the glue, per connection (one per domain ring, plus an internal
 * privileged one if it wants):
 *
 *     c = xs_conn_new(store, domid, privileged);
 *     loop:
 *         while (ring has request bytes && xs_conn_can_accept(c)) {
 *             rc = xs_conn_input(c, bytes, n, &used);   (consumes `used`)
 *             if (rc == XS_CONN_PROTOCOL_ERROR) drop the connection;
 *         }
 *         for every connection with xs_conn_has_output():
 *             n = xs_conn_peek_output(c, &p); copy min(n, ring space);
 *             xs_conn_consume_output(c, copied);
 *         for every connection with xs_conn_is_gone(): unmap, xs_conn_free.
 *
 * Nothing here blocks, sleeps or uses threads; all state lives in the
 * struct xs_store object.  Not thread-safe: one caller at a time.
 */
#ifndef KEEL_XS_STORE_H
#define KEEL_XS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <xen/io/xs_wire.h>

struct xs_store;
struct xs_conn;

/* Quotas and limits.  Unprivileged connections are bound by them;
 * privileged ones are exempt, as in Xen.  xs_config_default() fills in
 * Xen 4.17's defaults (shown on the right). */
struct xs_config {
    unsigned quota_nodes;          /* nodes owned per domain         1000 */
    unsigned quota_entry_size;     /* bytes per node (Xen's record)  2048 */
    unsigned quota_watches;        /* watches per connection          128 */
    unsigned quota_transactions;   /* open transactions per conn       10 */
    unsigned quota_outstanding;    /* requests with unread replies     20 */
    unsigned quota_perms;          /* perms entries per node            5 */
    unsigned quota_trans_nodes;    /* nodes touched per transaction  1024 */
    unsigned quota_path_len;       /* path length below the domain's
                                      home /local/domain/<id>/       2048 */
    unsigned quota_queued_events;  /* Keel: undelivered watch events kept
                                      per connection; more are dropped.
                                      0 = unlimited.                 1024 */
    unsigned special_owner;        /* owner domid of @introduceDomain and
                                      @releaseDomain (Xen: dom0)        0 */
};

/* Domain actions the glue performs for INTRODUCE and RELEASE.  Each returns
 * 0 or a positive errno value (which is sent back as the error string). */
struct xs_domain_ops {
    /* INTRODUCE <domid> <mfn> <port>: map the domain's ring page and bind
     * <port>.  `reintroduce` is true when the domain is already connected
     * (Xen then only rebinds the event channel).  On first introduction the
     * glue creates the domain's connection with xs_conn_new() (inside the
     * callback or right after); the store then fires @introduceDomain. */
    int (*introduce)(void *opaque, struct xs_store *s, unsigned domid,
                     unsigned long mfn, unsigned port, bool reintroduce);
    /* RELEASE <domid>: the store has already marked the domain's connection
     * gone (xs_conn_is_gone); the glue unbinds, unmaps and later calls
     * xs_conn_free() on it — never from inside this callback.  May be NULL. */
    void (*release)(void *opaque, struct xs_store *s, unsigned domid,
                    struct xs_conn *conn);
    void *opaque;
};

/* Fills *cfg with Xen 4.17's defaults. */
void xs_config_default(struct xs_config *cfg);

/* Creates a store holding Xen's initial tree ("/", "/tool",
 * "/tool/xenstored", all owned by domain 0 with no access for others).
 * cfg may be NULL for the defaults; ops may be NULL (INTRODUCE then fails
 * with ENOSYS).  Returns NULL when out of memory. */
struct xs_store *xs_store_new(const struct xs_config *cfg,
                              const struct xs_domain_ops *ops);

/* Frees the store, every node and every connection still open. */
void xs_store_free(struct xs_store *s);

/* Writes <path> = value (len bytes) as the privileged internal actor, as a
 * toolstack would: missing parents are created (inheriting their parent's
 * permissions), watches fire.  If perms is non-NULL it is a permission list
 * in wire form ("b5\0r0\0" etc.: nperm strings, first = owner/default) set
 * on the node, else the node gets "n<owner_domid>" when it is created and
 * keeps its permissions when it already exists.  Returns 0 or a positive
 * errno value (EINVAL for a bad path or perms). */
int xs_store_write_internal(struct xs_store *s, const char *path,
                            const void *value, size_t len,
                            unsigned owner_domid, const char *perms,
                            size_t perms_len);

/* Reads <path> into buf (at most cap bytes, no NUL added).  Returns the
 * value's full length, -ENOENT if the node does not exist or -EINVAL for a
 * bad path.  Ignores permissions (internal actor).  For glue and tests. */
long xs_store_read_internal(struct xs_store *s, const char *path,
                            void *buf, size_t cap);

/* Removes <path> and its children as the internal actor (fires watches).
 * Returns 0, ENOENT or EINVAL. */
int xs_store_rm_internal(struct xs_store *s, const char *path);

/* Fires a special watch ("@introduceDomain" or "@releaseDomain"), e.g. when
 * the glue learns that a domain has shut down (Xen fires @releaseDomain on
 * shutdown as well as on destruction). */
void xs_store_fire_special(struct xs_store *s, const char *name);

/* The domain died: its connection (if any) is marked gone and loses its
 * watches, transactions and queued output; nodes it owned pass to domain 0
 * and permission entries naming it are dropped (Xen ignores such stale
 * entries); @releaseDomain fires.  Returns true if the domain had a
 * connection.  The glue still calls xs_conn_free() on that connection. */
bool xs_domain_gone(struct xs_store *s, unsigned domid);

/* Number of nodes currently accounted to domid (for tests and stats). */
unsigned xs_store_domain_nodes(struct xs_store *s, unsigned domid);

/* Total number of nodes in the store. */
unsigned xs_store_node_count(struct xs_store *s);

/* ---- connections ---- */

/* A new connection for domid.  privileged connections bypass permission
 * checks and quotas and may use INTRODUCE, RELEASE, IS_DOMAIN_INTRODUCED,
 * RESUME, SET_TARGET and CONTROL (Xen: dom0 / the priv domain).  The
 * domain counts as introduced (IS_DOMAIN_INTRODUCED "T") while it has a
 * connection that is not gone.  Returns NULL when out of memory. */
struct xs_conn *xs_conn_new(struct xs_store *s, unsigned domid,
                            bool privileged);

/* Drops the connection, its watches, transactions and queued output. */
void xs_conn_free(struct xs_conn *c);

/* The connection's domain id. */
unsigned xs_conn_domid(const struct xs_conn *c);

/* True once RELEASE or xs_domain_gone() ended the connection: it takes no
 * more requests, has no output, and should be freed by the glue. */
bool xs_conn_is_gone(const struct xs_conn *c);

/* Results of xs_conn_request() and xs_conn_input(). */
enum {
    XS_CONN_OK = 0,              /* request handled, reply queued         */
    XS_CONN_PROTOCOL_ERROR = -1, /* header len > XENSTORE_PAYLOAD_MAX: Xen
                                    drops the connection; the glue should
                                    too (set the ring's error field to
                                    XENSTORE_ERROR_PROTO)                 */
    XS_CONN_GONE = -2,           /* connection is gone; nothing done      */
};

/* Handles one complete request: hdr->len bytes of body follow.  Replies and
 * any watch events go to the output queues of this and other connections.
 * Every well-formed or malformed body gets a reply (XS_ERROR "E..." for
 * errors); only hdr->len > XENSTORE_PAYLOAD_MAX is a protocol error.
 * The request counts as outstanding until its reply has been consumed. */
int xs_conn_request(struct xs_conn *c, const struct xsd_sockmsg *hdr,
                    const void *body);

/* Convenience for ring glue: feeds len request bytes to the connection's
 * framer and handles each complete message.  Stops early (with *used < len)
 * when xs_conn_can_accept() turns false.  Returns XS_CONN_OK,
 * XS_CONN_PROTOCOL_ERROR or XS_CONN_GONE. */
int xs_conn_input(struct xs_conn *c, const void *data, size_t len,
                  size_t *used);

/* False while an unprivileged connection has quota_outstanding requests
 * whose replies are not yet consumed (Xen then stops reading its ring), or
 * when the connection is gone. */
bool xs_conn_can_accept(const struct xs_conn *c);

/* Requests whose replies have not been fully consumed yet. */
unsigned xs_conn_outstanding(const struct xs_conn *c);

/* Output: bytes (headers and payloads, back to back) waiting to go to the
 * ring.  peek returns the length of the next contiguous chunk and points
 * *p at it (0 when empty); consume removes n bytes (n <= that length), so
 * a message may be split across ring space. */
bool xs_conn_has_output(const struct xs_conn *c);
size_t xs_conn_peek_output(const struct xs_conn *c, const void **p);
void xs_conn_consume_output(struct xs_conn *c, size_t n);

/* Number of watches / open transactions on the connection. */
unsigned xs_conn_watch_count(const struct xs_conn *c);
unsigned xs_conn_transaction_count(const struct xs_conn *c);

/* ---- incremental framer ---- */

/* Reassembles messages from bytes that arrive in arbitrary pieces. */
struct xs_framer {
    struct xsd_sockmsg hdr;
    size_t have;             /* bytes of header+body received so far */
    bool error;              /* sticky protocol error */
    char body[XENSTORE_PAYLOAD_MAX];
};

enum {
    XS_FRAME_MORE = 0,       /* all input consumed, message incomplete */
    XS_FRAME_READY = 1,      /* f->hdr and f->body hold one message    */
    XS_FRAME_ERROR = -1,     /* len > XENSTORE_PAYLOAD_MAX (sticky)    */
};

/* Resets the framer to expect a new header. */
void xs_framer_init(struct xs_framer *f);

/* Consumes bytes from data (at most len, stopping at the end of a message)
 * and stores the count in *used.  Returns XS_FRAME_READY when a whole
 * message is in f->hdr / f->body (valid until the next call), XS_FRAME_MORE
 * when more bytes are needed, XS_FRAME_ERROR for an over-long header (the
 * error is sticky until xs_framer_init). */
int xs_framer_feed(struct xs_framer *f, const void *data, size_t len,
                   size_t *used);

/* ======================================================================
 * Internals shared by xs_store.c, xs_watch.c and xs_proto.c only.  Not part
 * of the API: the glue must not define XS_STORE_INTERNAL.
 * ====================================================================== */
#ifdef XS_STORE_INTERNAL

#define XS_P_READ    1u            /* permission bits (Xen's values) */
#define XS_P_WRITE   2u
#define XS_P_OWNER   8u
#define XS_P_ALL     (XS_P_READ | XS_P_WRITE | XS_P_OWNER)
#define XS_NO_GEN    UINT64_MAX    /* generation of an absent node */
#define XS_NO_DOMID  0xffffffffu
#define XS_REC_HDR   24            /* Xen's xs_tdb_record_hdr, for the   */
#define XS_REC_PERM  8             /* entry-size quota: hdr + 8/perm +   */
                                   /* data + children list               */
#define XS_DOM_BUCKETS 64

struct xs_perm {
    uint16_t id;
    uint8_t p;                     /* XS_P_READ | XS_P_WRITE */
};

/* A node of the store, or a transaction's copy of one. */
struct node {
    struct node *hnext;            /* hash chain */
    struct node *onext;            /* transaction: access order */
    uint32_t hash;
    char *path;
    char *val;
    uint32_t vlen;
    uint32_t nperms;
    struct xs_perm *perms;         /* [0] = owner and default for others */
    char *kids;                    /* child names, each NUL-terminated, */
    uint32_t kidslen;              /* in creation order                 */
    uint64_t gen;                  /* generation of the last change     */
    /* transaction copies only */
    bool exists, modified, fire, fire_exact, fire_old;
    uint64_t orig_gen;             /* store generation at first access */
    struct xs_perm *oldp;          /* store perms at first access      */
    uint32_t noldp;
};

struct htab {
    struct node **b;
    uint32_t nb, n;
};

struct tx {
    struct tx *next;
    uint32_t id;
    uint64_t start_gen;
    bool stale;                    /* touched a node changed after start */
    unsigned nnodes;
    struct htab nodes;
    struct node *ofirst, **otail;
};

struct watch {
    struct watch *next;
    char *path;                    /* absolute, or @special */
    char *token;
    size_t rel_off;                /* prefix stripped in events, 0 if absolute */
};

struct outbuf {
    struct outbuf *next;
    size_t len, off;
    bool event;
    char data[];
};

struct dom {
    struct dom *next;
    unsigned domid;
    unsigned nodes;                /* nodes it owns */
    unsigned target;               /* SET_TARGET, XS_NO_DOMID if none */
    struct xs_conn *conn;
};

struct xs_conn {
    struct xs_store *s;
    struct xs_conn *next, *prev;
    unsigned domid;
    bool priv, gone;
    struct watch *watches;
    unsigned nwatches;
    struct tx *txs;
    unsigned ntx;
    uint32_t next_txid;
    struct outbuf *out, **out_tail;
    unsigned outstanding, queued_events;
    struct tx *cur_tx;             /* transaction of the current request */
    const struct xsd_sockmsg *cur_hdr;
    struct xs_framer fr;
};

struct xs_store {
    struct xs_config cfg;
    struct xs_domain_ops ops;
    struct htab tree;
    uint64_t gen, last_delete_gen;
    struct dom *doms[XS_DOM_BUCKETS];
    struct xs_conn *conns;
    struct xs_conn *actor;         /* privileged internal actor */
    struct xs_perm *special[2];    /* @introduceDomain, @releaseDomain */
    uint32_t nspecial[2];
};

/* xs_store.c: hash table, nodes, paths, domains, perms, views, tx, output */
uint32_t xs_hash(const char *s);
struct node *htab_find(const struct htab *t, const char *path, uint32_t h);
int htab_insert(struct htab *t, struct node *n);
void htab_remove(struct htab *t, struct node *n);
void htab_destroy(struct htab *t);
struct node *node_alloc(const char *path);
void node_clear(struct node *n);
void node_free(struct node *n);
int node_copy_content(struct node *dst, const struct node *src);
int node_set_value(struct node *n, const void *val, uint32_t len);
int node_set_perms(struct node *n, const struct xs_perm *p, uint32_t np);
size_t node_size(uint32_t nperms, size_t vlen, size_t kidslen);
int kids_add(struct node *n, const char *base);
void kids_del(struct node *n, const char *base);
const char *path_base(const char *path);
void path_parent(const char *path, char *out);
bool path_is_child(const char *child, const char *parent);
bool path_valid(const struct xs_conn *c, const char *p);
char *path_canon(const struct xs_conn *c, const char *in, bool allow_special,
                 size_t *rel_off);
struct dom *dom_find(struct xs_store *s, unsigned domid, bool create);
void dom_account(struct xs_store *s, unsigned domid, int delta);
bool dom_introduced(struct xs_store *s, unsigned domid);
unsigned perm_for(const struct xs_conn *c, const struct xs_perm *p,
                  uint32_t np);
int perms_parse(const char *s, size_t len, uint32_t num, struct xs_perm **out);
char *perms_format(const struct xs_perm *p, uint32_t np, size_t *len);
int view_get(struct xs_conn *c, const char *path, struct node **out);
void view_touch(struct xs_conn *c, struct node *n);
void view_changed(struct xs_conn *c, const char *path, bool exact,
                  bool use_old, const struct xs_perm *oldp, uint32_t noldp);
int get_node(struct xs_conn *c, const char *path, unsigned perm,
             struct node **out);
int create_node(struct xs_conn *c, const char *path, const void *val,
                uint32_t vlen, struct node **out);
int rm_node(struct xs_conn *c, const char *path);
struct tx *tx_find(struct xs_conn *c, uint32_t id);
int tx_start(struct xs_conn *c, uint32_t *id);
void tx_free(struct xs_conn *c, struct tx *t);
int tx_commit(struct xs_conn *c, struct tx *t);
void conn_queue(struct xs_conn *c, uint32_t type, uint32_t req_id,
                uint32_t tx_id, const void *data, size_t len, bool event);
void conn_drop_state(struct xs_conn *c);
void conn_mark_gone(struct xs_conn *c);

/* xs_watch.c: watch registration and event delivery */
int special_index(const char *name);
void watch_fire(struct xs_store *s, const char *path, bool exact,
                const struct xs_perm *oldp, uint32_t noldp);
void watch_drop_all(struct xs_conn *c);
int op_watch(struct xs_conn *c, const char *body, uint32_t len);
int op_unwatch(struct xs_conn *c, const char *body, uint32_t len);

#endif /* XS_STORE_INTERNAL */

#endif
