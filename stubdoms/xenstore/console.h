/* console.h: the console backend in the xenstore domain: other domains' console rings to the hypervisor console. */
#ifndef XSC_CONSOLE_H
#define XSC_CONSOLE_H

/*
 * Each served domain's output (the out[] half of its <xen/io/console.h>
 * ring) is cut into lines and written with console_io as
 * "(name) line"; the hypervisor prints a xenstore-role domain's lines
 * verbatim after its timestamp. '\r' is dropped, other control
 * characters but '\t' become '?', and a line longer than one console
 * line (XSC_LINE_MAX bytes with its prefix) is cut into several, each
 * with the prefix. A ring whose indices make no sense (out_prod -
 * out_cons > sizeof(out)) is reported once and no longer served. See
 * docs/console.md.
 */

/* The longest line written to console_io, "(name) " and text, without
 * the newline: the hypervisor's per-domain line buffer (hv
 * struct domain con_buf); a longer one would be split without a prefix. */
#define XSC_LINE_MAX 200

/* Starts the service thread. Call once, before or after the first add. */
void xsc_console_init(void);

/*
 * Serves domain domid's console: maps its grant reference 0
 * (GNTTAB_RESERVED_CONSOLE) and binds an interdomain channel to its port
 * (start_info console.domU.evtchn, console_port= in the boot module).
 * What the domain wrote before is printed too. 0, or a negative Xen errno:
 * -XEN_EEXIST (already served), -XEN_ENOMEM, -XEN_EFAULT (the grant could
 * not be mapped), or the hypervisor's refusal of the bind; each failure is
 * also logged.
 */
int xsc_console_add(unsigned domid, const char *name, unsigned port);

/* Stops serving domid, once the domain is gone or released: prints what
 * is left in its ring and its unfinished last line, then unbinds the
 * channel and unmaps the ring. Nothing if domid is not served. */
void xsc_console_remove(unsigned domid);

/* The xenstore domain's own lines: "(xenstore) " and the text, one
 * console line per '\n' (a missing final '\n' is added). */
void xsc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* XSC_CONSOLE_H */
