/* Domains and vCPUs. */
#ifndef KEEL_DOMAIN_H
#define KEEL_DOMAIN_H

#include "lib.h"
#include "memlayout.h"
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

#define MAX_VCPUS       XEN_LEGACY_MAX_VCPUS   /* vcpu_info in shared_info */

struct vcpu {
    struct domain *domain;       /* NULL for a pCPU's idle vCPU */
    unsigned id;
    /* PV guest state (pv/traps.c): trap table, callbacks, bases. */
    struct trap_info *trap_ctxt; /* 256 entries, one page */
    unsigned long event_callback, failsafe_callback, syscall_callback;
    bool failsafe_mask_events, syscall_mask_events;
    unsigned long kernel_ss, kernel_sp;
    unsigned long fs_base, gs_base, gs_base_user;
    unsigned long dr[8];
    bool fpu_ts;                 /* the guest's virtual CR0.TS */
    uint64_t cr3;                /* base table (machine address), referenced */
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
    unsigned long ctx_rsp;       /* saved by context_switch */
    void *stack;                 /* STACK_SIZE bytes */
    struct cpu_user_regs *regs;  /* guest frame at the top of the stack */
    unsigned long frame_top;     /* TSS.RSP0 / syscall stack */
    uint8_t fpu[512] __attribute__((aligned(16)));   /* fxsave image */
    enum vcpu_state state;
    struct vcpu *rq_next;
    bool on_rq;
    bool running;                /* on some pCPU right now */
    bool yielded;                /* SCHEDOP_yield: others first */
    unsigned processor;          /* the pCPU it last ran on / is queued on */
    uint64_t affinity;           /* allowed pCPUs (bit n = CPU n) */
    uint64_t vruntime;           /* weighted virtual run time */
    uint64_t unpark_at;          /* cap: when its domain's budget refills */
    uint64_t runtime_ns, slice_start_ns;
    vcpu_info_t *vcpu_info;      /* in shared_info */
};

struct domain {
    uint16_t id;
    char name[NAME_LEN];
    unsigned roles;
    uint64_t nr_pages, max_pages;
    uint32_t page_list;          /* frames owned, linked via page_info */
    uint64_t page_count;         /* all owned frames incl. shared_info */
    uint64_t cr3;                /* machine address of the L4 */
    shared_info_t *shared_info;
    unsigned nr_vcpus;
    struct vcpu *vcpu[MAX_VCPUS];
    struct evtchn *evtchn;       /* max_evtchns entries, allocated on demand */
    unsigned max_evtchns, valid_evtchns;
    unsigned evtchn_order;
    /* Scheduling parameters (credit-style): share by weight, cap in % of
     * one pCPU (0 = none), budget consumed in the current cap period. */
    unsigned weight, cap;
    uint64_t affinity_default;
    uint64_t cap_used, cap_period_start;
    bool parked;
    bool shutdown;
    unsigned shutdown_reason;
    bool crashed;
    /* console_io state */
    char con_buf[200];
    size_t con_len;
    uint64_t con_tokens, con_refill_ns, con_dropped;
    bool con_drop_noted;
    struct domain *next;
    int shared_image;            /* 1 + index of its shared image, or 0 */
    /* roles and control (xsm.c, domctl.c) */
    uint16_t target;             /* dm: the domain it serves (DOMID_INVALID: none) */
    char target_name[NAME_LEN];  /* boot target=NAME, resolved on first use */
    unsigned pause_count;        /* DOMCTL_pausedomain by a control domain */
    bool killed;                 /* DOMCTL_destroydomain */
    bool xs_held;                /* paused at boot until the xenstore domain
                                    has introduced it (it unpauses it) */
    xen_domain_handle_t handle;  /* from DOMCTL_createdomain */
    uint64_t soft_affinity[MAX_VCPUS];   /* recorded only; no soft scheduling */
    struct xsm_rangeset { unsigned nr; struct { uint64_t s, e; } r[12]; }
        io_ports, io_mem, io_irqs;       /* granted with DOMCTL_*_permission */
    /* boot domains (pv/dom_build.c): the start_info frame, 0 if none */
    uint64_t si_mfn;
    /* destruction in steps (domain.c) */
    struct domain *dying_next;
    unsigned destroy_phase;
    uint32_t destroy_cursor;
    uint64_t destroy_orphans;
    /* grant tables (grant_table.c) */
    struct grant_table *grant_table;     /* NULL until the first grant op */
};

#define MAX_CPUS        64

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
    struct vcpu *rq;             /* runnable vCPUs waiting for this CPU */
    unsigned nr_queued;
    uint64_t min_vruntime;
    void *tss, *gdt;             /* arch data */
    volatile uint64_t tlb_flushes;
    volatile uint32_t tlbflush_time;    /* clock at its last full flush */
    uint64_t global_flushes;     /* full flushes (global entries too) */
    uint64_t domain_switches;    /* switches between two domains' tables */
    volatile int tlb_flush_req;
    void (*volatile call_fn)(void *);   /* remote call (smp.c) */
    void *volatile call_arg;
};

extern struct pcpu *pcpus[MAX_CPUS];
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
    uint64_t affinity;
    const char *guest_cmdline;   /* what the guest sees (path removed) */
    uint16_t domid;              /* 0: the next free id (DOMCTL_createdomain may ask) */
    char target[NAME_LEN];       /* role=dm: target=<domid or name> */
};

int parse_boot_config(const char *cmdline, struct boot_config *cfg,
                      char *err, size_t errlen);

struct domain *domain_create(const struct boot_config *cfg);
struct domain *domain_by_id(unsigned id);
int domain_alloc_page(struct domain *d, uint64_t *mfn);
int domain_alloc_pages(struct domain *d, unsigned order, uint64_t *first);
int domain_alloc_shared_page(struct domain *d, uint64_t *mfn);
void domain_unlink_page(struct domain *d, uint64_t mfn);
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
unsigned nr_live_domains(void);

/* Exit statuses written to isa-debug-exit (QEMU exits with v<<1|1). */
#define EXIT_CLEAN      0x10     /* every domain powered off */
#define EXIT_UNCLEAN    0x11     /* some domain crashed, rebooted or refused */
#define EXIT_LEAK       0x12     /* frames not returned */
#define EXIT_PANIC      0x13
noreturn void hv_exit(unsigned status);

void console_flush_domain(struct domain *d);

#endif
