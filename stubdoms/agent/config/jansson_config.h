/* jansson_config.h: the configuration of Debian's jansson (built from its
 * source by stubdoms/agent/agent.mk for minios and the host); what its
 * configure script would write from jansson_config.h.in. */
#ifndef JANSSON_CONFIG_H
#define JANSSON_CONFIG_H
#define JSON_INLINE inline
#define JSON_INTEGER_IS_LONG_LONG 1
/* minios has no locales: '.' is the decimal point. */
#define JSON_HAVE_LOCALECONV 0
#define JSON_HAVE_ATOMIC_BUILTINS 1
#define JSON_HAVE_SYNC_BUILTINS 1
/* The parser recurses once per nesting level on a 32 KiB connection
 * thread: a request nested deeper than this is refused by jansson. */
#define JSON_PARSER_MAX_DEPTH 32
#endif
