/* jansson_private_config.h: what jansson's configure finds on minios and
 * on the host.  The hash seed is not jansson's business here: the agent
 * calls json_object_seed() with a value from its DRBG before any parsing. */
#define HAVE_STDINT_H 1
#define HAVE_UNISTD_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_GETTIMEOFDAY 1
#define HAVE_ATOMIC_BUILTINS 1
#define HAVE_SYNC_BUILTINS 1
