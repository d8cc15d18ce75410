/* expat_config.h: the configuration of Debian's expat (built from its
 * source by stubdoms/agent/agent.mk for minios and the host); what its
 * cmake would write from expat_config.h.cmake. */
#ifndef EXPAT_CONFIG_H
#define EXPAT_CONFIG_H 1
#define BYTEORDER 1234
#define HAVE_STDINT_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRING_H 1
#define HAVE_INTTYPES_H 1
#define STDC_HEADERS 1
#define PACKAGE "expat"
#define PACKAGE_URL ""
#define XML_CONTEXT_BYTES 1024
/* No XML_DTD (no parameter entities, no external subsets) and no XML_NS.
 * minios has no getrandom: every parser the agent makes gets its hash salt
 * from the agent's DRBG (XML_SetHashSalt), so expat's own fallback, which
 * this flag allows, never runs. */
#define XML_POOR_ENTROPY 1
#endif
