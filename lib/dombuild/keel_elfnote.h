/* Keel's own ELF notes (name "Keel"), beside Xen's <xen/elfnote.h>: what
 * an image may tell Keel's domain builder that Xen's notes cannot.  Used
 * by lib/dombuild (reading) and minios (writing); docs/abi.md. */
#ifndef KEEL_ELFNOTE_H
#define KEEL_ELFNOTE_H

/* The note name, 4 bytes with its NUL (namesz 5). */
#define KEEL_ELFNOTE_NAME "Keel"

/*
 * KEEL_ELFNOTE_RO_SHAREABLE (type 1), a 4-byte descriptor, nonzero: the
 * image never writes the pages of its read-only PT_LOAD segments (no
 * self-patching, no relocation in place), so domains booted from the same
 * image may share those frames, mapped read-only.  Without it a domain
 * gets Xen's layout: every page of the image its own and writable.
 */
#define KEEL_ELFNOTE_RO_SHAREABLE 1

#endif
