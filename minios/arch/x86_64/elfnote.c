/* elfnote.c: the Xen ELF notes (PT_NOTE) that tell a Xen domain builder how to load minios. */
#include <stdint.h>
#include <minios/hypercall.h>
#include <xen/elfnote.h>
#include "../../../lib/dombuild/keel_elfnote.h"

/*
 * Emitted from C (not from entry.S) so that the constants come from
 * <xen/elfnote.h>, which is not safe to include from assembly. Each note is
 * an ELF note header, the name "Xen" and the descriptor padded to 4 bytes;
 * all notes live in one packed structure so that nothing can be placed
 * between them. The linker script puts .note.Xen into a PT_NOTE segment.
 *
 * Beside Xen's notes, Keel's KEEL_ELFNOTE_RO_SHAREABLE (name "Keel"):
 * minios never writes its text or read-only data, so Keel may share those
 * pages between domains booted from the same image (docs/abi.md).
 *
 * No SUPPORTED_FEATURES note: real Xen would then refuse to build the
 * image as its dom0 unless it advertised dom0 support.
 *
 * The PVH build (MINIOS_PVH, docs/hvm.md, "minios as a PVH guest") has PHYS32_ENTRY instead
 * of the PV notes (entry, virtual base, hypercall page) and no Keel
 * note: a PV builder then refuses it rather than jumping into 32-bit code.
 */
#define NOTE_ALIGN4(n) (((n) + 3) & ~3u)

#define STR_NOTE(field, str)                                       \
    struct __attribute__((packed)) {                               \
        uint32_t namesz, descsz, type;                             \
        char name[4];                                              \
        char desc[NOTE_ALIGN4(sizeof(str))];                       \
    } field

#define NUM_NOTE(field)                                            \
    struct __attribute__((packed)) {                               \
        uint32_t namesz, descsz, type;                             \
        char name[4];                                              \
        uint64_t desc;                                             \
    } field

#define GUEST_OS    "Keel-minios"
#define XEN_VERSION "xen-3.0"
#define LOADER      "generic"

#define KEEL_NOTE(field)                                           \
    struct __attribute__((packed)) {                               \
        uint32_t namesz, descsz, type;                             \
        char name[NOTE_ALIGN4(sizeof(KEEL_ELFNOTE_NAME))];         \
        uint32_t desc;                                             \
    } field

extern char _start[];

static const struct __attribute__((packed, aligned(4))) {
    STR_NOTE(guest_os, GUEST_OS);
    STR_NOTE(xen_version, XEN_VERSION);
    STR_NOTE(loader, LOADER);
#ifdef MINIOS_PVH
    NUM_NOTE(phys32_entry);
#else
    NUM_NOTE(virt_base);
    NUM_NOTE(paddr_offset);
    NUM_NOTE(entry);
    NUM_NOTE(hypercall_page);
    KEEL_NOTE(ro_shareable);
#endif
} xen_notes __attribute__((used, section(".note.Xen"))) = {
#define STR(t, s) { 4, sizeof(s), (t), "Xen", s }
#define NUM(t, v) { 4, sizeof(uint64_t), (t), "Xen", (v) }
    .guest_os       = STR(XEN_ELFNOTE_GUEST_OS, GUEST_OS),
    .xen_version    = STR(XEN_ELFNOTE_XEN_VERSION, XEN_VERSION),
    .loader         = STR(XEN_ELFNOTE_LOADER, LOADER),
#ifdef MINIOS_PVH
    .phys32_entry   = NUM(XEN_ELFNOTE_PHYS32_ENTRY, (uint64_t)(uintptr_t)_start),
#else
    .virt_base      = NUM(XEN_ELFNOTE_VIRT_BASE, 0),
    .paddr_offset   = NUM(XEN_ELFNOTE_PADDR_OFFSET, 0),
    .entry          = NUM(XEN_ELFNOTE_ENTRY, (uint64_t)(uintptr_t)_start),
    .hypercall_page = NUM(XEN_ELFNOTE_HYPERCALL_PAGE,
                          (uint64_t)(uintptr_t)hypercall_page),
    .ro_shareable   = { sizeof(KEEL_ELFNOTE_NAME), sizeof(uint32_t),
                        KEEL_ELFNOTE_RO_SHAREABLE, KEEL_ELFNOTE_NAME, 1 },
#endif
#undef STR
#undef NUM
};
