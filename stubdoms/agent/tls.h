/* tls.h: the agent's HTTPS (tls.c, docs/agent.md "HTTPS"). */
#ifndef KEEL_AGENT_TLS_H
#define KEEL_AGENT_TLS_H
#include <stddef.h>
#include "agent.h"

struct tls_conn;

/* Loads DIR/key.pem and DIR/cert.pem, or makes an ECDSA P-256 key and a
 * self-signed certificate for hostname and keeps them there (dir NULL: in
 * memory only); sets up the server configuration.  0, or -1 with the
 * reason in err. */
int tls_init(struct agent_auth *auth, const char *dir, const char *hostname, char *err, size_t errlen);
/* The TLS handshake on an accepted socket (its timeouts bound it): the
 * connection, or NULL with the reason. */
struct tls_conn *tls_accept(int fd, char *err, size_t errlen);
/* Bytes read (0 at the peer's close), or -1. */
long tls_read(struct tls_conn *c, void *buf, size_t len);
int tls_write_all(struct tls_conn *c, const void *buf, size_t len);
void tls_close(struct tls_conn *c);
/* The certificate's SHA-256 fingerprint, "AB:CD:...". */
const char *tls_fingerprint(void);

#endif
