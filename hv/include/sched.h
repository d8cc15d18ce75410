/* The vCPU scheduler. */
#ifndef KEEL_SCHED_H
#define KEEL_SCHED_H
#include "domain.h"

#define SLICE_NS 10000000ULL    /* 10 ms */
#define IDLE_BALANCE_NS 1000000ULL  /* 1 ms: an idle pCPU's look at busy queues */
#define TIME_REFRESH_NS 100000000ULL   /* a vCPU's time record, rewritten at a switch to it when older */
#define CAP_PERIOD_NS 30000000ULL   /* caps are enforced per 30 ms */

void sched_init_cpu(struct pcpu *pc);
bool sched_work_pending(void);
bool sched_queued_elsewhere(void);   /* for idle pCPUs' balance tick */
void vcpu_wake(struct vcpu *v);
void vcpu_bring_up(struct vcpu *v);
void vcpu_take_down(struct vcpu *v);
void vcpu_set_dead(struct vcpu *v);
void sched_block(struct vcpu *v);
struct vcpu_runstate_info;
void vcpu_get_runstate(struct vcpu *v, struct vcpu_runstate_info *ri);
/* Notes v's runstate for its runstate area (runstate_pending). */
void vcpu_note_runstate(struct vcpu *v);
/* Writes the noted runstate into v's area (vcpu.c; v is current). */
void runstate_area_update(struct vcpu *v);
/* VCPUOP_register_vcpu_info for v, r->mfn a machine frame (vcpu.c). */
struct vcpu_register_vcpu_info;
long vcpu_register_vcpu_info(struct vcpu *v, const struct vcpu_register_vcpu_info *r);
bool domain_off_cpus(struct domain *d);
void schedule(void);
void sched_first_entry(void);
void sched_tick(void);
noreturn void idle_loop(void);
void vcpu_kick(struct vcpu *v);
void sched_unpark(struct vcpu *v);
void sched_pause_domain(struct domain *d);
void sched_unpause_domain(struct domain *d);
void sched_set_affinity(struct vcpu *v, const cpumask_t *mask);
void vcpu_sleep_sync(struct vcpu *v);
void domain_sleep_sync(struct domain *d);
void vcpu_first_entry(void);
static inline bool vcpu_down(const struct vcpu *v)
{
    return v->state == VCPU_OFFLINE || v->state == VCPU_DEAD;
}
void context_switch(unsigned long *save_rsp, unsigned long new_rsp);
struct vcpu *vcpu_create(struct domain *d, unsigned id);
void vcpu_free(struct vcpu *v);
void vcpu_set_runstate(struct vcpu *v, int state);
void vcpu_set_runstate_at(struct vcpu *v, int state, uint64_t now);
struct vcpu_guest_context;
long vcpu_set_context(struct vcpu *v, const struct vcpu_guest_context *c);
void vcpu_info_release(struct vcpu *v);
long do_vcpu_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
#endif
