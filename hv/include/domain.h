/* Domains and vCPUs. */
#ifndef KEEL_DOMAIN_H
#define KEEL_DOMAIN_H

#include "lib.h"
#include "memlayout.h"
#include "arch_domain.h"
#include "cpumask.h"
#include "spinlock.h"
#include <xen/xen.h>

#define MAX_DOMAINS     4096
#define NAME_LEN        32
#define CONSOLE_BURST   (32 * 1024)   /* console_io bytes before rate limiting */

/* Roles (DESIGN.md): privileges checked by the access-control module. */
#define ROLE_CONTROL    (1u << 0)
#define ROLE_XENSTORE   (1u << 1)
#define ROLE_HARDWARE   (1u << 2)
#define ROLE_DM         (1u << 3)

enum vcpu_state { VCPU_RUNNABLE, VCPU_BLOCKED, VCPU_OFFLINE, VCPU_DEAD };

/* vCPUs per domain: Xen's limit for a PV guest (MAX_VIRT_CPUS on x86).
 * The first XEN_LEGACY_MAX_VCPUS have their vcpu_info in shared_info;
 * the others write into a private one until the guest registers one
 * (VCPUOP_register_vcpu_info), as on Xen. */
#define MAX_VCPUS       8192
#define VCPUS_IN_DOMAIN 8        /* this many need no page of their own */

struct vcpu {
    struct domain *domain;       /* NULL for a pCPU's idle vCPU */
    unsigned id;
    uint16_t virq_to_evtchn[NR_VIRQS];
    bool polling;                /* in SCHEDOP_poll */
    int poll_port;               /* the one port polled, or -1 */
    /* Timers (common/timer.c), in system time (ns since boot). */
    uint64_t singleshot, periodic_period, periodic_next, poll_deadline;
    uint64_t timer_expiry;       /* earliest of the above, 0 if none */
    struct vcpu *timer_next;
    bool on_timer_list;
    bool initialised;            /* has a context (VCPUOP_initialise) */
    bool vcpu_info_registered;   /* vcpu_info_mfn referenced (writable) */
    uint64_t vcpu_info_mfn;
    /* Runstate accounting (VCPUOP_get_runstate_info). */
    int runstate;
    uint64_t runstate_entry, runstate_time[4];
    /* VCPUOP_register_runstate_memory_area: the guest address (0: none);
     * at each switch-in the scheduler notes the runstate here and the way
     * out to the guest writes it there, in the vCPU's own address space
     * and holding no lock (vcpu.c, runstate_area_update). */
    unsigned long runstate_guest;
    bool runstate_pending;
    /* VCPUOP_register_vcpu_time_memory_area: the guest address of a
     * second vcpu_time_info (0: none), as Xen's time_info_guest.  Each
     * update of the vCPU's time notes a copy here (under timer_lock) and
     * the way out to its kernel writes it there (timer.c,
     * time_area_update), holding no lock. */
    unsigned long time_guest;
    bool time_pending;
    struct vcpu_time_info time_snap;
    uint64_t time_written_ns;   /* system time of the last update_vcpu_time */
    int runstate_snap;
    uint64_t runstate_snap_entry, runstate_snap_time[4];
    enum vcpu_state state;
    struct vcpu *rq_next;
    bool on_rq;
    bool running;                /* on some pCPU right now */
    bool yielded;                /* SCHEDOP_yield: others first */
    unsigned processor;          /* the pCPU it last ran on / is queued on */
    cpumask_t affinity;          /* hard: the pCPUs it may run on */
    cpumask_t soft_affinity;     /* recorded only; no soft scheduling */
    uint64_t vruntime;           /* weighted virtual run time */
    uint64_t unpark_at;          /* cap: when its domain's budget refills */
    uint64_t hvm_timer_at;       /* an HVM vCPU's emulated timer (the PIT) is due:
                                    it is woken if blocked (hv/hvm/isa.c) */
    uint64_t runtime_ns, slice_start_ns;
    vcpu_info_t *vcpu_info;      /* in shared_info, registered, or dummy_info */
    vcpu_info_t dummy_info;      /* for ids past shared_info's array */
    /* multicall (common/multicall.c): inside one, and the continuation a
     * sub-call asked for (its number and arguments), which goes into the
     * guest's entry instead of the guest's registers. */
    struct mc_state {
        bool active, preempted;
        unsigned long op, args[5];
    } mc;
    struct arch_vcpu arch;       /* x86 and guest-type state (arch_domain.h) */
};

struct domain {
    uint16_t id;
    char name[NAME_LEN];
    unsigned roles;
    uint64_t nr_pages, max_pages;
    uint32_t page_list;          /* frames owned, linked via page_info */
    uint64_t page_count;         /* all owned frames incl. shared_info */
    shared_info_t *shared_info;
    unsigned nr_vcpus;
    struct vcpu **vcpu;          /* nr_vcpus entries: vcpu_few, or 2^vcpu_order pages */
    unsigned vcpu_order;
    struct vcpu *vcpu_few[VCPUS_IN_DOMAIN];
    /* Locks and references (docs/locking.md). */
    spinlock_t lock;             /* page tables and types of its frames, its
                                    grant table and maptrack, reservation */
    spinlock_t page_alloc_lock;  /* page_list, page_count */
    uint32_t refcnt;             /* the table's, and domain_get's (atomic) */
    struct evtchn *evtchn;       /* max_evtchns entries, allocated on demand */
    spinlock_t event_lock;       /* evtchn[], valid_evtchns, its vCPUs'
                                    virq_to_evtchn (docs/locking.md) */
    unsigned max_evtchns, valid_evtchns;
    unsigned evtchn_order;
    uint16_t pirq_port[64];      /* NR_PIRQS: the port a PIRQ is bound to (event lock) */
    struct evtchn_fifo *fifo;    /* FIFO ABI state (event_fifo.c); NULL: 2-level */
    /* Scheduling parameters (credit-style): share by weight, cap in % of
     * one pCPU (0 = none), budget consumed in the current cap period. */
    unsigned weight, cap;
    cpumask_t affinity_default;  /* its vCPUs' hard affinity at creation */
    uint64_t cap_used, cap_period_start;
    spinlock_t cap_lock;         /* cap_used, cap_period_start, parked (sched.c) */
    bool parked;
    bool shutdown;
    unsigned shutdown_reason;
    bool crashed;
    unsigned long vm_assist;     /* VMASST_TYPE_* bits enabled (vm_assist) */
    /* console_io state */
    char con_buf[200];
    size_t con_len;
    uint64_t con_tokens, con_refill_ns, con_dropped;
    bool con_drop_noted;
    struct domain *next;
    /* roles and control (xsm.c, domctl.c) */
    uint16_t target;             /* dm: the domain it serves (DOMID_INVALID: none) */
    char target_name[NAME_LEN];  /* boot target=NAME, resolved on first use */
    unsigned pause_count;        /* DOMCTL_pausedomain by a control domain */
    bool killed;                 /* DOMCTL_destroydomain */
    uint8_t restart;             /* RESTART_*, from its boot configuration */
    bool restart_due;            /* dead, and to be built again once gone */
    bool runtime_created;        /* by DOMCTL_createdomain, not from a boot module */
    const char *boot_cmdline;    /* boot domains: the words their guest sees (setup.c's
                                    copy: disk= for the xenstore domain's list) */
    bool has_run;                /* a vCPU of it was switched to */
    bool xs_held;                /* paused at boot until the xenstore domain
                                    has introduced it (it unpauses it) */
    bool dm_held;                /* paused at boot until its device model (a
                                    role=dm boot domain) unpauses it */
    xen_domain_handle_t handle;  /* from DOMCTL_createdomain */
    struct xsm_rangeset { unsigned nr; struct { uint64_t s, e; } r[12]; }
        io_ports, io_mem, io_irqs;       /* granted with DOMCTL_*_permission */
    /* destruction in steps (domain.c) */
    struct domain *dying_next;
    unsigned destroy_phase;
    uint32_t destroy_cursor;
    uint64_t destroy_orphans;
    /* grant tables (grant_table.c) */
    struct grant_table *grant_table;     /* NULL until the first grant op */
    struct arch_domain arch;     /* x86 and guest-type state (arch_domain.h) */
};


/* Per-physical-CPU data; %gs points here while in the hypervisor. */
struct pcpu {
    unsigned long stack_top;     /* PCPU_STACK_TOP: guest frame top */
    unsigned long scratch;       /* PCPU_SCRATCH: guest rsp at syscall */
    struct pcpu *self;           /* PCPU_SELF */
    struct vcpu *curr;
    struct vcpu *idle;
    volatile uint64_t switches;  /* context switches on this pCPU */
    bool need_resched;
    bool online;
    unsigned id;
    uint32_t apic_id;
    uint64_t slice_end;          /* ns; when the running vCPU's slice ends */
    uint64_t timer_deadline;     /* ns; when its local APIC timer fires */
    uint64_t apic_armed_for;     /* the deadline the APIC counts down to (0: none) */
    uint64_t apic_timer_irqs;    /* timer interrupts taken (the boot check counts them) */
    spinlock_t sched_lock;       /* rq, and the scheduling state of each vCPU
                                    whose processor this is (sched.c) */
    struct vcpu *migrate;        /* switched away from here, to be queued
                                    elsewhere once the switch is done */
    struct vcpu *rq;             /* runnable vCPUs waiting for this CPU */
    unsigned nr_queued;
    uint64_t min_vruntime;
    void *tss, *gdt;             /* arch data */
    volatile uint64_t tlb_flushes;
    volatile uint32_t tlbflush_time;    /* clock at its last full flush */
    uint64_t global_flushes;     /* full flushes (global entries too) */
    uint64_t domain_switches;    /* switches between two domains' tables */
    volatile int tlb_flush_req;
    uint32_t flush_seen[NR_CPUS];       /* flush_tlb_mask: each target's count */
    uint64_t sleep_seen[NR_CPUS];       /* domain_sleep_sync: switch counts */
    struct spinlock *held[8];    /* locks held, in order taken (debug build) */
    unsigned nr_held;
    struct vcpu *timer_vcpu;     /* whose timer this pCPU handles (timer.c) */
    void (*volatile call_fn)(void *);   /* remote call (smp.c) */
    void *volatile call_arg;
    uint64_t xcr0;               /* the hardware XCR0 (0: not known yet; xstate.h) */
    uint32_t tsc_aux;            /* the hardware TSC_AUX (cpu_has_tsc_aux) */
    bool fsgsbase;               /* the hardware CR4.FSGSBASE (pv.h) */
    bool extra;                  /* tsc_aux not 0 or fsgsbase set (pv_switch_extra) */
};

extern struct pcpu *pcpus[NR_CPUS];
extern unsigned nr_cpus;

#ifdef KEEL_HOST_TEST
extern struct pcpu *keel_host_cpu;
static inline struct pcpu *this_cpu(void) { return keel_host_cpu; }
#else
static inline struct pcpu *this_cpu(void)
{
    struct pcpu *p;
    __asm__ volatile("movq %%gs:16, %0" : "=r"(p));
    return p;
}
#endif
static inline struct vcpu *current_vcpu(void) { return this_cpu()->curr; }
static inline struct domain *current_domain(void) { return current_vcpu()->domain; }

/* Boot configuration of one module, parsed from its command line. */
struct boot_config {
    char name[NAME_LEN];
    uint64_t mem;                /* bytes */
    unsigned vcpus;
    unsigned roles;
    unsigned weight, cap;
    cpumask_t affinity;          /* empty: every CPU */
    const char *guest_cmdline;   /* what the guest sees (path removed) */
    uint16_t domid;              /* 0: the next free id (DOMCTL_createdomain may ask) */
    char target[NAME_LEN];       /* role=dm: target=<domid or name> */
    uint16_t pci[8];             /* pci=BB:DD.F: devices it owns (PCI_MAX_ASSIGN) */
    unsigned nr_pci;
    unsigned restart;            /* restart=: RESTART_* (boot domains only) */
    unsigned type;               /* type=pv|pvh: enum guest_type (docs/hvm.md) */
    bool firmware;               /* type=hvm: GUEST_PVH started at the reset vector of
                                    its module, a firmware image (docs/hvm.md) */
};

/* restart= of a boot domain (docs/boot-config.md): when the hypervisor
 * builds it again from its boot module after it is gone. */
enum {
    RESTART_NEVER = 0,
    RESTART_CRASH,               /* after a crash or a reboot request */
    RESTART_ALWAYS,              /* after any shutdown (not a destroy) */
};

/* A domain by id with a reference (domain_put drops it), or NULL if there
 * is none or it is being taken apart.  A reference keeps the structure
 * and its vCPUs; a dead domain's resources go regardless. */
struct domain *domain_get(unsigned id);
void domain_put(struct domain *d);
/* What an operation that names "us or another" got: the caller's own
 * domain (no reference taken, it runs this) or another (domain_get's). */
static inline void domain_put_named(struct domain *d)
{
    if (d != current_domain())
        domain_put(d);
}
/* The domain lock; of two domains, the lower id first (the same domain
 * twice: once). */
static inline void domain_lock(struct domain *d)
{
    spin_lock_key(&d->lock, d->id);
}
static inline void domain_unlock(struct domain *d)
{
    spin_unlock(&d->lock);
}
void domain_lock2(struct domain *a, struct domain *b);
/* The control lock (domctl.c): domctl, sysctl, building at boot. */
void control_lock_acquire(void);
void control_lock_release(void);
void domain_unlock2(struct domain *a, struct domain *b);

int parse_boot_config(const char *cmdline, struct boot_config *cfg,
                      char *err, size_t errlen);

struct domain *domain_create(const struct boot_config *cfg);
/* restart= (dom_build.c): domain id is gone and is to be built again from
 * its boot module; the idle loop does it (restart_domains). */
void domain_restart_queue(uint16_t id);
bool restart_pending(void);
void restart_domains(void);
void domain_life_release(void);
struct domain *domain_by_id(unsigned id);
int domain_alloc_page(struct domain *d, uint64_t *mfn);
uint64_t domain_alloc_frames(struct domain *d, uint64_t *mfns, uint64_t n, uint64_t skip_first,
                             uint64_t skip_nr);
int domain_alloc_pages(struct domain *d, unsigned order, uint64_t *first);
int domain_alloc_shared_page(struct domain *d, uint64_t *mfn);
void domain_unlink_page(struct domain *d, uint64_t mfn);
vcpu_info_t *vcpu_info_default(struct vcpu *v);
void domain_destroy(struct domain *d);
void domain_shutdown(struct domain *d, unsigned reason);
void domain_kill(struct domain *d);
void domain_crash(struct domain *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void domain_note_refused(const char *name, const char *why);
noreturn void domains_finish(void);
extern bool domains_booted;
void domains_set_baseline(uint64_t free_frames);
bool reap_dead_domains(void);     /* whether destruction work remains */
bool reap_pending(void);
unsigned nr_live_domains(void);

/* Exit statuses written to isa-debug-exit (QEMU exits with v<<1|1). */
#define EXIT_CLEAN      0x10     /* every domain powered off */
#define EXIT_UNCLEAN    0x11     /* some domain crashed, rebooted or refused */
#define EXIT_LEAK       0x12     /* frames not returned */
#define EXIT_PANIC      0x13
noreturn void hv_exit(unsigned status);

void console_flush_domain(struct domain *d);
bool console_guest_line_allowed(struct domain *d, size_t n);

/* The VMASST types Xen 4.17 lets a 64-bit PV guest use (vm_assist, and
 * vCPU 0's vcpu_guest_context). */
#define PV64_VM_ASSIST_MASK ((1UL << VMASST_TYPE_4gb_segments) |        \
                             (1UL << VMASST_TYPE_4gb_segments_notify) | \
                             (1UL << VMASST_TYPE_writable_pagetables) | \
                             (1UL << VMASST_TYPE_pae_extended_cr3) |    \
                             (1UL << VMASST_TYPE_architectural_iopl) |  \
                             (1UL << VMASST_TYPE_runstate_update_flag) | \
                             (1UL << VMASST_TYPE_m2p_strict))

#endif
