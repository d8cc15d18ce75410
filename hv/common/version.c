/* xen_version: who we are, as the Xen ABI asks it, with Xen 4.17's
 * answers to a domU. */
#include "lib.h"
#include "domain.h"
#include "hypercall.h"
#include "boot.h"
#include <xen/version.h>
#include <xen/features.h>

#define KEEL_XEN_MAJOR 4
#define KEEL_XEN_MINOR 17

static const char denied[] = "<denied>";     /* Xen's xen_deny() */

/* What Keel gives a 64-bit PV guest in feature submap 0 (Xen gives a PV
 * domU mmu_pt_update_preserve_ad, highmem_assist, gnttab_map_avail_bits,
 * memory_op_vnode_supported and direct_mapped, plus pae_pgdir_above_4gb
 * with VMASST_TYPE_pae_extended_cr3; docs/abi.md says which Keel lacks). */
static uint32_t features(const struct domain *d)
{
    if (d->arch.type == GUEST_PVH)
        /* As Xen 4.17 gives a PVH domU (its translated paging and vector
         * callback; no PIRQs, no direct map). */
        return (1u << XENFEAT_writable_page_tables) |
               (1u << XENFEAT_auto_translated_physmap) |
               (1u << XENFEAT_hvm_callback_vector) |
               (1u << XENFEAT_hvm_safe_pvclock) |
               (1u << XENFEAT_linux_rsdp_unrestricted) |
               (1u << XENFEAT_not_direct_mapped);
    uint32_t f = (1u << XENFEAT_mmu_pt_update_preserve_ad) |
                 (1u << XENFEAT_highmem_assist) |
                 (1u << XENFEAT_gnttab_map_avail_bits) |
                 (1u << XENFEAT_direct_mapped);
    if (d->vm_assist & (1UL << VMASST_TYPE_pae_extended_cr3))
        f |= 1u << XENFEAT_pae_pgdir_above_4gb;
    return f;
}

/*
 * As Xen's default access control: version, platform_parameters and
 * get_features for anyone; extraversion, compile_info, capabilities,
 * changeset, pagesize and guest_handle for anyone; the rest (commandline,
 * build_id) only for a control domain: commandline then says "<denied>"
 * and build_id -EPERM.  The command is Xen's int.
 */
long do_xen_version(unsigned long cmd_arg, unsigned long arg, unsigned long a3,
                    unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    switch ((int)cmd_arg) {
    case XENVER_version:
        return (KEEL_XEN_MAJOR << 16) | KEEL_XEN_MINOR;
    case XENVER_extraversion: {
        xen_extraversion_t v;
        memset(v, 0, sizeof(v));
        strlcpy(v, ".0-keel", sizeof(v));
        return copy_to_guest(arg, v, sizeof(v));
    }
    case XENVER_compile_info: {
        xen_compile_info_t ci;
        memset(&ci, 0, sizeof(ci));
        strlcpy(ci.compiler, "clang " __clang_version__, sizeof(ci.compiler));
        strlcpy(ci.compile_by, "keel", sizeof(ci.compile_by));
        strlcpy(ci.compile_domain, "keel", sizeof(ci.compile_domain));
        strlcpy(ci.compile_date, __DATE__ " " __TIME__, sizeof(ci.compile_date));
        return copy_to_guest(arg, &ci, sizeof(ci));
    }
    case XENVER_capabilities: {
        xen_capabilities_info_t caps;
        memset(caps, 0, sizeof(caps));
        strlcpy(caps, "xen-3.0-x86_64", sizeof(caps));
        return copy_to_guest(arg, caps, sizeof(caps));
    }
    case XENVER_changeset: {
        xen_changeset_info_t cs;
        memset(cs, 0, sizeof(cs));
        strlcpy(cs, "keel", sizeof(cs));
        return copy_to_guest(arg, cs, sizeof(cs));
    }
    case XENVER_platform_parameters: {
        xen_platform_parameters_t pp = { .virt_start = HV_VIRT_START };
        return copy_to_guest(arg, &pp, sizeof(pp));
    }
    case XENVER_get_features: {
        xen_feature_info_t fi;
        if (copy_from_guest(&fi, arg, sizeof(fi)))
            return -XEN_EFAULT;
        if (fi.submap_idx != 0)
            return -XEN_EINVAL;
        fi.submap = features(current_domain());
        return copy_to_guest(arg, &fi, sizeof(fi));
    }
    case XENVER_pagesize:
        return arg ? -XEN_EINVAL : PAGE_SIZE;
    case XENVER_guest_handle:
        return copy_to_guest(arg, current_domain()->handle, sizeof(xen_domain_handle_t));
    case XENVER_commandline: {
        if (!(current_domain()->roles & ROLE_CONTROL))   /* Xen's xen_deny() */
            return copy_to_guest(arg, denied, sizeof(denied));
        xen_commandline_t cl;
        memset(cl, 0, sizeof(cl));
        strlcpy(cl, hv_command_line(), sizeof(cl));
        return copy_to_guest(arg, cl, sizeof(cl));
    }
    case XENVER_build_id: {
        if (!(current_domain()->roles & ROLE_CONTROL))   /* Xen's xen_deny() */
            return -XEN_EPERM;
        if (arg) {
            xen_build_id_t b;
            if (copy_from_guest(&b, arg, sizeof(b)))
                return -XEN_EFAULT;
            if (b.len == 0)
                return -XEN_EINVAL;
        }
        return -XEN_ENODATA;     /* Keel's image carries no build id (yet) */
    }
    default:
        return -XEN_ENOSYS;
    }
}
