/*
 * cfs.h: CPU time on a node, with CFS bandwidth control per pod (cgroup cpu.cfs_quota_us / cfs_period_us),
 * and stress-ng CPU workers running inside a pod's group, as Chaos Mesh's StressChaos places them.
 *
 * The model (kernel/sched/fair.c, Documentation/scheduler/sched-eevdf.rst and sched-bwc.rst; the measurements
 * in docs/measurements/cfs-stress.md):
 *   - A node has C CPUs, each with a run queue of group entities (one per pod with runnable threads on that
 *     CPU), each group with its own run queue of threads: the two levels of a cgroup v1 `cpu` hierarchy.
 *   - Who runs follows the kernel's fair class, in one of two versions (`sched`):
 *     EEVDF (kernels 6.6 and later, the default): every entity has a virtual runtime and a virtual deadline
 *     one slice ahead; the eligible entity (lag >= 0) with the earliest deadline runs (pick_eevdf). A thread
 *     that wakes is placed with the lag it had when it slept (place_entity); one that slept while not
 *     eligible stays queued until it is (delayed dequeue) and comes back with no lag (DELAY_ZERO). A woken
 *     entity preempts at once when a pick would choose it (check_preempt_wakeup_fair); the running one is
 *     protected until it has used its slice (RUN_TO_PARITY, set_protect_slice), and an expired slice is
 *     noticed only when the running entity's time is accounted: at a tick (4 ms), a wake-up or a switch
 *     (update_curr, update_deadline). The slice is sysctl_sched_base_slice, 0.7 ms x (1 + log2 CPUs)
 *     (0.75 ms in 6.6-6.14).
 *     CFS (kernels before 6.6): the smallest virtual runtime runs; a sleeper comes back at most half the
 *     scheduling latency behind (place_entity, GENTLE_FAIR_SLEEPERS) and preempts when it is more than the
 *     wake-up granularity behind (wakeup_preempt_entity); a tick switches when the running entity has had
 *     its share of the latency period (check_preempt_tick).
 *     A CPU that was idle needs `wake_latency` to start running (a halted vCPU waking up).
 *   - A waking thread goes to its previous CPU if that is idle, else to an idle CPU, else stays on its
 *     previous CPU (or the least loaded); a thread still queued (delayed) stays where it is. A CPU that
 *     becomes idle pulls a waiting thread from a busy one. A CPU whose only threads belong to a throttled
 *     group counts as idle, which is how a thread returning to a hog's CPU ends up waiting for the refill.
 *   - A group with a quota has a global pool refilled to `quota` at each period boundary (the period timer's
 *     phase is random: it starts when the group first runs). The timer stops after a whole period in which
 *     no CPU took runtime from the pool and restarts on the same grid when one does, so `periods` counts the
 *     active periods, as cpu.stat's nr_periods does. Each CPU's part of the group (its cfs_rq) runs
 *     on local runtime pulled from the pool in slices (5 ms). Runtime is checked at scheduler ticks (4 ms)
 *     and when the CPU's task set changes, so a CPU can overrun by up to a tick; the debt is repaid at the
 *     next refill. When the pool is empty, that CPU's part of the group is throttled (its group entity
 *     leaves the CPU's run queue) until the refill, which gives each throttled cfs_rq just enough to resume;
 *     a resumed group waits for the CPU's next scheduling point, as unthrottle_cfs_rq does not preempt. An
 *     idle cfs_rq returns all but 1 ms of its local runtime to the pool, and the slack timer (5 ms later)
 *     hands it to throttled CPUs.
 *   - Throttling is therefore per CPU and in time, against period boundaries: a request waits only if the
 *     CPU it runs on is throttled, exactly the mechanism that makes independent arrivals wait U(0, P - w)
 *     while closed-loop clients cluster inside the unthrottled window.
 *   - stress-ng --cpu W --cpu-load L --cpu-load-slice 10: W worker tasks in the group; each runs a busy slice
 *     (10 ms of CPU time) then sleeps (100 - L) / L times the slice, with stress-ng's bias correction
 *     (see cfs.c for the exact rule and its measurement).
 *
 * Work items are pieces of CPU demand (a request's handling) queued on one of a group's threads (lanes),
 * each with its own queue and its own last CPU, like libmicrohttpd's worker threads and libcurl's thread;
 * `done` runs when the item's CPU time has been granted.
 *
 * Ownership: the node owns groups, tasks, work items and stress workers; cfs_node_free() releases all of
 * them without running callbacks.
 */
#ifndef PC_FAULTS_CFS_H
#define PC_FAULTS_CFS_H

#include <stdint.h>

#include "base/clock.h"

typedef struct cfs_node cfs_node;
typedef struct cfs_group cfs_group;
typedef struct cfs_stress cfs_stress;

typedef enum cfs_stress_timing {
    CFS_STRESS_CPU_TIME = 0, /* the busy slice and the sleep are computed from CPU time (stress-ng 0.15.06) */
    CFS_STRESS_WALL_TIME,    /* ... from wall time (older stress-ng): throttled time lengthens the sleep */
} cfs_stress_timing;

/* Which version of the kernel's fair scheduler the CPUs follow. */
typedef enum cfs_sched_policy {
    CFS_SCHED_EEVDF = 0, /* EEVDF as 6.18 runs it (the lab machine): delayed dequeue, task-based throttling */
    CFS_SCHED_CFS,       /* kernels before 6.6: vruntime, sleeper credit, wake-up granularity */
    CFS_SCHED_EEVDF_66,  /* EEVDF as 6.6-6.11 ran it (Minikube's ISO, 6.6.22): no delayed dequeue, a sleeper's
                          * negative lag kept, whole groups throttled, a 0.75 ms base slice */
} cfs_sched_policy;

typedef struct cfs_config {
    int cpus;                /* 2 */
    cfs_sched_policy sched;  /* EEVDF */
    int64_t tick_ns;         /* 4 ms (HZ=250) */
    int64_t slice_ns;        /* sched_cfs_bandwidth_slice_us: 5 ms */
    int64_t min_runtime_ns;  /* min_cfs_rq_runtime: 1 ms kept by an idle cfs_rq */
    int64_t slack_ns;        /* cfs_bandwidth_slack_period: 5 ms */
    int64_t stress_slice_ns; /* --cpu-load-slice 10 */
    cfs_stress_timing stress_timing;
    int64_t stress_sleep_overshoot_ns; /* select() wake-up latency, corrected by stress-ng's bias */
    /* the base slice; 0: the kernel's, 0.7 ms x (1 + log2 CPUs) for EEVDF (0.75 ms for eevdf-6.6), the same
     * 0.75 ms x (1 + log2 CPUs) as CFS's minimal granularity */
    int64_t quantum_ns;
    int64_t wake_latency_ns;                      /* an idle CPU starting to run a woken task */
    double wake_stall_p;                          /* ... now and then much later: the host runs the halted vCPU late */
    int64_t wake_stall_min_ns, wake_stall_max_ns; /* with probability wake_stall_p, uniform in [min, max] */
    int64_t wake_stall_mean_ns; /* > 0: instead, exponential with this mean (the lab's tail: docs/fidelity.md) */
} cfs_config;

void cfs_config_defaults(cfs_config *cfg);

cfs_node *cfs_node_new(sim_engine *e, const cfs_config *cfg, uint64_t seed);
void cfs_node_free(cfs_node *node);
const cfs_config *cfs_node_config(const cfs_node *node);

/* quota_ns <= 0: no limit. `threads`: how many threads (lanes) run work items; each has its own queue. */
cfs_group *cfs_group_new(cfs_node *node, const char *name, int64_t quota_ns, int64_t period_ns, int threads);
void cfs_group_set_quota(cfs_group *g, int64_t quota_ns, int64_t period_ns);

/* Queues `cpu_ns` of work on a lane; `done(ctx)` runs once it has had that much CPU (done may be NULL).
 * cfs_work() picks one of the first threads - 1 lanes at random (a server thread), or lane 0 when there is
 * one thread; cfs_work_lane() names the lane (e.g. the last one for the client thread). */
typedef void (*cfs_done_fn)(void *ctx);
uint64_t cfs_work(cfs_group *g, int64_t cpu_ns, cfs_done_fn done, void *ctx);
uint64_t cfs_work_lane(cfs_group *g, int lane, int64_t cpu_ns, cfs_done_fn done, void *ctx);
int cfs_group_lanes(const cfs_group *g);
/* A server lane drawn as cfs_work() draws it (for work that must follow on the same thread). */
int cfs_random_server_lane(cfs_group *g);
/* One-off CPU demand with no callback (e.g. a memory stressor touching its pages). */
void cfs_burst(cfs_group *g, int64_t cpu_ns);
/* Drops every queued and running work item of the group without calling done (the process was killed). */
void cfs_group_kill_work(cfs_group *g);

/* Starts W stress workers at L percent in the group; stopped with cfs_stress_stop (or when the group's
 * node is freed). */
cfs_stress *cfs_stress_start(cfs_group *g, int workers, int load_pct);
void cfs_stress_stop(cfs_stress *s);

typedef struct cfs_group_stats {
    int64_t cpu_used_ns;                 /* all tasks of the group */
    int64_t work_cpu_ns;                 /* service work only */
    int64_t stress_cpu_ns;               /* stress workers only */
    int64_t throttled_ns;                /* summed over CPUs, as cpu.stat throttled_time */
    uint64_t periods, throttled_periods; /* nr_periods, nr_throttled */
    uint64_t work_items;
} cfs_group_stats;

const cfs_group_stats *cfs_group_get_stats(const cfs_group *g);
const char *cfs_group_name(const cfs_group *g);
int cfs_group_queue_length(const cfs_group *g); /* work items waiting or running */

#endif
