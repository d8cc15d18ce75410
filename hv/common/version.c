/* xen_version: who we are, as the Xen ABI asks it. */
#include "lib.h"
#include "domain.h"
#include "hypercall.h"
#include <xen/version.h>
#include <xen/features.h>

#define KEEL_XEN_MAJOR 4
#define KEEL_XEN_MINOR 17

long do_xen_version(unsigned long cmd, unsigned long arg, unsigned long a3,
                    unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    switch (cmd) {
    case XENVER_version:
        return (KEEL_XEN_MAJOR << 16) | KEEL_XEN_MINOR;
    case XENVER_extraversion: {
        xen_extraversion_t v = ".0-keel";
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
        /* Report only what is implemented; no optional features yet. */
        fi.submap = 0;
        if (fi.submap_idx >= XENFEAT_NR_SUBMAPS)
            return -XEN_EINVAL;
        return copy_to_guest(arg, &fi, sizeof(fi));
    }
    case XENVER_pagesize:
        return PAGE_SIZE;
    default:
        return -XEN_ENOSYS;
    }
}
