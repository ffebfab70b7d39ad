/*
 * cfs.c: the CPU model of cfs.h, as a discrete-event simulation of the kernel's fair class per CPU.
 *
 * Each CPU has a root run queue whose entities are groups (pods), and each group has a run queue per CPU
 * whose entities are threads: the two levels of cgroup v1's `cpu` controller. Which entity runs is decided
 * as kernel/sched/fair.c decides it, in the version `cfg.sched` names (EEVDF since 6.6, CFS before); the
 * function each rule follows is named at the rule. The running thread progresses at full speed between two
 * events and drains its group's runtime on that CPU. Virtual time is accounted lazily, as the kernel does
 * (update_curr): only at ticks, wake-ups, enqueues, dequeues and switches, so that a decision taken between
 * two of them sees the same stale figures the kernel sees (a thread that wakes from a delayed dequeue is
 * placed against the running thread's last accounted vruntime, which is what lets it preempt at once:
 * docs/measurements/cfs-stress.md R8).
 *
 * update() applies the elapsed time to the physical state (work left, runtime used); reschedule() finds
 * the next moment something changes by itself (a thread finishes its burst, a tick on a busy CPU) and
 * arms one engine event for it. Period refills, slack distribution and stress workers' sleeps are separate
 * engine events. A decision to switch (need_resched) is carried out at the end of the operation that took
 * it, at the same virtual instant: a user-space thread is switched out on its return from the interrupt,
 * PREEMPT_NONE or not.
 *
 * Simplifications: every thread has nice 0 and every group entity the same weight (the lab gives every pod
 * the same cpu.shares; calc_group_shares would weigh a pod by where its load is); no periodic load
 * balancing (a CPU that goes idle pulls a waiting thread: newidle balance); no cache-hot checks; the tick
 * is aligned on every CPU.
 *
 * Throttling follows the kernel: when a group's cfs_rq on a CPU runs out of runtime and the pool is empty,
 * the group's entity leaves that CPU's root queue (throttle_cfs_rq) with its threads still queued in it,
 * until a refill gives the cfs_rq runtime again (distribute_cfs_runtime, unthrottle_cfs_rq).
 *
 * stress-ng timing (stress-cpu.c, stress_cpu(), measured on 0.15.06: docs/measurements/cfs-stress.md R1):
 * a worker with 0 < L < 100 loops over
 *   busy:  run until its own CPU time (CLOCK_PROCESS_CPUTIME_ID) has advanced by the slice (10 ms)
 *   sleep: delay = (100 - L) / L * t_busy - bias;  select(delay);  bias = slept - delay
 * where "slept" ends when the worker runs again (it reads the clock then), so a wake-up into a throttled
 * cgroup makes the next delay negative: the sleep is skipped and the bias reset. L = 100 never sleeps.
 */
#include "faults/cfs.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/freelist.h"
#include "base/kinds.h"
#include "base/rng.h"
#include "base/units.h"

#define MAX_CPUS 64
#define INF_WORK INT64_MAX
#define DONE_SLACK 4 /* ns of rounding left in a burst that count as done */
#define NICE_0 1024  /* the weight of a nice-0 entity (scale_load_down(NICE_0_LOAD)) */

enum task_kind { TASK_WORKER = 0, TASK_STRESS = 1, TASK_BURST = 2 };
enum task_state { T_SLEEP = 0, T_QUEUED, T_RUNNING };

typedef struct work_item {
    uint64_t id;
    int64_t cpu_ns;
    cfs_done_fn done;
    void *ctx;
    struct work_item *next;
} work_item;

struct erq;
struct cfs_task;

/* A schedulable entity (struct sched_entity): a thread, or a group on one CPU. */
typedef struct sched_ent {
    int64_t vruntime, deadline, vlag, vprot;
    int64_t exec_start;              /* real time from which the running entity's time is not yet accounted */
    int64_t sum_exec, prev_sum_exec; /* CPU time; at the last pick (CFS's check_preempt_tick) */
    int64_t weight;
    uint64_t seq;            /* order of insertion among the waiting: an equal deadline goes to the earlier */
    uint8_t on_rq;           /* queued or running (a delayed entity too) */
    uint8_t delayed;         /* asleep but still queued until eligible (DELAY_DEQUEUE) */
    uint8_t rel_deadline;    /* deadline kept relative to vruntime across a migration (PLACE_REL_DEADLINE) */
    uint8_t started;         /* has been enqueued before (the first enqueue is ENQUEUE_INITIAL) */
    struct sched_ent *qnext; /* among its queue's waiting entities */
    struct erq *q;           /* the queue it is on (or was on last) */
    struct erq *my_q;        /* a group's entity: the group's queue on this CPU */
    struct cfs_task *task;   /* a thread's entity: the thread */
} sched_ent;

/* A run queue (struct cfs_rq, the scheduling half): the running entity apart, the waiting in a list. */
typedef struct erq {
    sched_ent *curr;       /* picked: running, or holding the running thread; may be !on_rq until switched */
    sched_ent *head;       /* the other entities on the queue (waiting or delayed), in insertion order */
    sched_ent *next_buddy; /* picked next if eligible (PICK_BUDDY; set when a thread of the group sleeps) */
    int nr_queued;         /* entities on the queue, curr included when on_rq */
    int64_t zero_v;        /* V as last computed (zero_vruntime) */
    int64_t min_vruntime;  /* CFS */
    uint64_t seq;
    int cpu;
} erq;

typedef struct cfs_task {
    int kind;
    int state;
    cfs_group *g;
    int cpu; /* CPU whose queue holds it (running, waiting or delayed); -1 when off every queue */
    int prev_cpu;
    int64_t remaining; /* CPU ns left in the current burst; INF_WORK for a spinning worker */
    int64_t ran_ns;    /* CPU time of the current burst so far */
    sched_ent se;
    /* service thread (lane) */
    work_item *item;
    work_item *qhead, *qtail;
    int queued;
    /* stress worker */
    cfs_stress *stress;
    int64_t sleep_start_ns, sleep_delay_ns, bias_ns;
    int measure_bias; /* woke from a sleep: the bias is measured when it next runs */
    sim_event_id wake;
    uint8_t in_limbo;       /* runnable but throttled: off every queue until the refill */
    struct cfs_task *lnext; /* in its cfs_rq's limbo list */
    struct cfs_task *next_in_node;
} cfs_task;

/* A group's part on one CPU: bandwidth state, its queue of threads and its entity in the root queue. */
typedef struct cfs_rq {
    cfs_group *g;
    int64_t remaining;
    int throttled;
    int64_t throttled_since;
    cfs_task *limbo; /* threads throttled out of the queue (throttled_limbo_list), most recent first */
    erq q;
    sched_ent se;
} cfs_rq;

typedef struct cpu_state {
    cfs_task *current;
    int64_t busy_from; /* the current task runs from here (a woken idle CPU takes wake_latency) */
    int need_resched;
    erq root;
} cpu_state;

struct cfs_group {
    cfs_node *node;
    char name[48];
    uint32_t index;
    int64_t quota, period;
    int64_t pool;
    cfs_rq rq[MAX_CPUS];
    int threads;
    cfs_task **workers;
    pc_rng lane_rng;
    uint64_t next_item_id;
    sim_event_id period_timer, slack_timer;
    /* The period timer runs only while the group uses its quota (sched_cfs_period_timer): after a whole
     * period in which no CPU took runtime from the pool it stops, and the next request for runtime starts it
     * again on the same grid of boundaries (hrtimer_forward_now), so nr_periods counts active periods.
     * It is active exactly when period_timer is pending. */
    int idle;              /* no runtime taken from the pool since the last boundary (cfs_b->idle) */
    int64_t period_anchor; /* one boundary of the grid */
    cfs_group_stats stats;
    struct cfs_group *next;
};

struct cfs_stress {
    cfs_group *g;
    int workers, load;
    cfs_task **tasks;
    struct cfs_stress *next;
};

struct cfs_node {
    sim_engine *e;
    cfs_config cfg;
    pc_rng rng;
    pc_rng stall_rng; /* the idle vCPUs' late starts: a stream of their own */
    int64_t last_update;
    int64_t slice_ns;       /* EEVDF sysctl_sched_base_slice; CFS sysctl_sched_min_granularity */
    int64_t latency_ns;     /* CFS sysctl_sched_latency */
    int64_t wakeup_gran_ns; /* CFS sysctl_sched_wakeup_granularity */
    cpu_state cpus[MAX_CPUS];
    cfs_task *tasks; /* every task ever created (freed with the node) */
    cfs_group *groups;
    uint32_t ngroups;
    cfs_stress *stresses;
    sim_event_id next_event;
    freelist spare_items; /* finished items kept for the next ones (one per request otherwise) */
};

void cfs_config_defaults(cfs_config *cfg) {
    memset(cfg, 0, sizeof *cfg); /* a field not named below is 0, also in a config on the stack */
    cfg->cpus = 2;
    cfg->sched = CFS_SCHED_EEVDF;
    cfg->tick_ns = 4 * MS;
    cfg->slice_ns = 5 * MS;
    cfg->min_runtime_ns = 1 * MS;
    cfg->slack_ns = 5 * MS;
    cfg->stress_slice_ns = 10 * MS;
    cfg->stress_timing = CFS_STRESS_CPU_TIME;
    cfg->stress_sleep_overshoot_ns = 60 * US;
    cfg->quantum_ns = 0;            /* the kernel's base slice for the CPU count (cfs_node_new) */
    cfg->wake_latency_ns = 20 * US; /* mean; fitted to the lab's no-fault p50 and p99 (docs/calibration.md) */
}

/* get_update_sysctl_factor(), SCHED_TUNABLESCALING_LOG: 1 + ilog2(min(CPUs, 8)). */
static int64_t tunable_factor(int cpus) {
    int c = cpus < 8 ? cpus : 8, f = 1;
    while (c > 1) {
        c >>= 1;
        f++;
    }
    return f;
}

/* The scheduler's tunables as the kernel scales them for the CPU count (update_sysctl): EEVDF's base slice
 * 0.7 ms (normalized_sysctl_sched_base_slice since 6.15; 0.75 ms in 6.6-6.14); before 6.6 a latency of
 * 6 ms, a minimal granularity of 0.75 ms and a wake-up granularity of 1 ms. --cpu-quantum replaces the
 * slice (or the minimal granularity, the other two keeping their ratio to it). */
static void set_tunables(cfs_node *n) {
    int64_t f = tunable_factor(n->cfg.cpus);
    if (n->cfg.sched != CFS_SCHED_CFS) {
        int64_t base = n->cfg.sched == CFS_SCHED_EEVDF_66 ? 750 * US : 700 * US;
        n->slice_ns = n->cfg.quantum_ns > 0 ? n->cfg.quantum_ns : base * f;
    } else {
        n->slice_ns = n->cfg.quantum_ns > 0 ? n->cfg.quantum_ns : 750 * US * f;
        n->latency_ns = n->slice_ns * 8;
        n->wakeup_gran_ns = n->slice_ns * 4 / 3;
    }
}

cfs_node *cfs_node_new(sim_engine *e, const cfs_config *cfg, uint64_t seed) {
    cfs_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->e = e;
    n->cfg = *cfg;
    n->spare_items = FREELIST_INIT(work_item);
    if (n->cfg.cpus < 1) n->cfg.cpus = 1;
    if (n->cfg.cpus > MAX_CPUS) n->cfg.cpus = MAX_CPUS;
    set_tunables(n);
    for (int c = 0; c < n->cfg.cpus; c++) n->cpus[c].root.cpu = c;
    pc_rng_init(&n->rng, seed, "node/cpu");
    pc_rng_init(&n->stall_rng, seed, "node/cpu-stall");
    n->last_update = sim_now(e);
    return n;
}

const cfs_config *cfs_node_config(const cfs_node *n) { return &n->cfg; }
const cfs_group_stats *cfs_group_get_stats(const cfs_group *g) { return &g->stats; }
const char *cfs_group_name(const cfs_group *g) { return g->name; }
int cfs_group_lanes(const cfs_group *g) { return g->threads; }

int cfs_group_queue_length(const cfs_group *g) {
    int n = 0;
    for (int i = 0; i < g->threads; i++) n += g->workers[i]->queued + (g->workers[i]->item != NULL);
    return n;
}

static void free_items(work_item *w) {
    while (w) {
        work_item *next = w->next;
        free(w);
        w = next;
    }
}

void cfs_node_free(cfs_node *n) {
    if (!n) return;
    for (cfs_task *t = n->tasks; t;) {
        cfs_task *next = t->next_in_node;
        free(t->item);
        free_items(t->qhead);
        free(t);
        t = next;
    }
    for (cfs_group *g = n->groups; g;) {
        cfs_group *next = g->next;
        free(g->workers);
        free(g);
        g = next;
    }
    for (cfs_stress *s = n->stresses; s;) {
        cfs_stress *next = s->next;
        free(s->tasks);
        free(s);
        s = next;
    }
    freelist_clear(&n->spare_items);
    free(n);
}

static cfs_task *task_new(cfs_node *n, cfs_group *g, int kind) {
    cfs_task *t = calloc(1, sizeof *t);
    if (!t) abort();
    t->kind = kind;
    t->g = g;
    t->cpu = -1;
    t->prev_cpu = -1;
    t->se.weight = NICE_0;
    t->se.task = t;
    t->next_in_node = n->tasks;
    n->tasks = t;
    return t;
}

static int limited(const cfs_group *g) { return g->quota > 0; }
static int64_t now_of(const cfs_node *n) { return sim_now(n->e); }
static int eevdf(const cfs_node *n) { return n->cfg.sched != CFS_SCHED_CFS; }
/* What 6.12-6.18 added to EEVDF: delayed dequeue (with DELAY_ZERO and the next buddy, PICK_BUDDY), lag limits
 * by the longest slice, and (6.18) threads throttled one by one into a limbo list. */
static int eevdf_new(const cfs_node *n) { return n->cfg.sched == CFS_SCHED_EEVDF; }

/* How long an idle CPU takes to start a woken task: exponential around wake_latency_ns (a halted vCPU is
 * woken through the host, usually fast, sometimes not), drawn from the node's seeded stream. */
static int64_t wake_delay(cfs_node *n) {
    int64_t d = n->cfg.wake_latency_ns > 0 ? pc_rng_exp_ns(&n->rng, (double)n->cfg.wake_latency_ns) : 0;
    if (n->cfg.wake_stall_p > 0 && pc_rng_double(&n->stall_rng) < n->cfg.wake_stall_p) {
        int64_t span = n->cfg.wake_stall_max_ns - n->cfg.wake_stall_min_ns;
        if (n->cfg.wake_stall_mean_ns > 0)
            d += pc_rng_exp_ns(&n->stall_rng, (double)n->cfg.wake_stall_mean_ns);
        else
            d += n->cfg.wake_stall_min_ns + (span > 0 ? (int64_t)pc_rng_below(&n->stall_rng, (uint64_t)span) : 0);
    }
    return d;
}

/* ---- run queues: the waiting list ---- */

static void q_insert(erq *q, sched_ent *se) {
    se->seq = ++q->seq;
    se->qnext = NULL;
    sched_ent **p = &q->head;
    while (*p) p = &(*p)->qnext;
    *p = se;
}

static void q_remove(erq *q, sched_ent *se) {
    for (sched_ent **p = &q->head; *p; p = &(*p)->qnext)
        if (*p == se) {
            *p = se->qnext;
            se->qnext = NULL;
            return;
        }
}

/* calc_delta_fair(): real time as this entity's virtual time. */
static int64_t vdelta(int64_t d, const sched_ent *se) { return se->weight == NICE_0 ? d : d * NICE_0 / se->weight; }

/* The sums behind V: sum of w * (v - zero_v) and of w over the queue, curr included when on_rq. */
static int64_t q_sums(const erq *q, int64_t *weight) {
    int64_t s = 0, w = 0;
    for (const sched_ent *e = q->head; e; e = e->qnext) {
        s += (e->vruntime - q->zero_v) * e->weight;
        w += e->weight;
    }
    if (q->curr && q->curr->on_rq) {
        s += (q->curr->vruntime - q->zero_v) * q->curr->weight;
        w += q->curr->weight;
    }
    *weight = w;
    return s;
}

/* avg_vruntime(): V, the weighted mean of the queued entities' vruntime, rounded down (so that an entity
 * placed at V is eligible); it moves the queue's reference point to V. */
static int64_t avg_vruntime(erq *q) {
    int64_t w, s = q_sums(q, &w);
    if (w) {
        if (s < 0) s -= w - 1;
        q->zero_v += s / w;
    }
    return q->zero_v;
}

/* vruntime_eligible(): lag >= 0, i.e. V >= v, compared without the division's rounding. */
static int vruntime_eligible(const erq *q, int64_t v) {
    int64_t w, s = q_sums(q, &w);
    return s >= (v - q->zero_v) * w;
}

static int eligible(const erq *q, const sched_ent *se) { return vruntime_eligible(q, se->vruntime); }

/* ---- EEVDF (kernel/sched/fair.c since 6.6) ---- */

/* entity_lag() and update_entity_lag(): the lag an entity takes along when it leaves the queue, clamped to
 * a slice and a tick; a delayed entity cannot gain lag while delayed, and leaves with none (DELAY_ZERO). */
static void update_entity_lag(const cfs_node *n, erq *q, sched_ent *se) {
    int64_t v = avg_vruntime(q);
    /* entity_lag(): 6.6 clamped to max(2 slices, a tick), 6.18 to the longest slice and a tick */
    int64_t span = n->slice_ns + n->cfg.tick_ns;
    if (!eevdf_new(n)) span = 2 * n->slice_ns > n->cfg.tick_ns ? 2 * n->slice_ns : n->cfg.tick_ns;
    int64_t lag = v - se->vruntime, limit = vdelta(span, se);
    if (lag > limit) lag = limit;
    if (lag < -limit) lag = -limit;
    if (se->delayed) {
        if (lag < se->vlag) lag = se->vlag;
        if (lag > 0) lag = 0;
    }
    se->vlag = lag;
}

/* place_entity(): back at V minus its lag, the lag scaled so that it is still its lag once the entity's own
 * weight is in V; a fresh request one slice ahead (half a slice for a new task). */
static void place_eevdf(const cfs_node *n, erq *q, sched_ent *se, int initial) {
    int64_t v = avg_vruntime(q), vslice = vdelta(n->slice_ns, se), lag = 0;
    if (q->nr_queued && se->vlag) {
        int64_t load;
        q_sums(q, &load);
        lag = se->vlag * (load + se->weight) / (load ? load : 1);
    }
    se->vruntime = v - lag;
    if (se->rel_deadline) {
        se->deadline += se->vruntime;
        se->rel_deadline = 0;
        return;
    }
    if (initial) vslice /= 2; /* PLACE_DEADLINE_INITIAL */
    se->deadline = se->vruntime + vslice;
}

/* update_deadline(): a request used up gets the next one; returns 1 (the caller reschedules). */
static int update_deadline(const cfs_node *n, erq *q, sched_ent *se) {
    if (se->vruntime < se->deadline) return 0;
    se->deadline = se->vruntime + vdelta(n->slice_ns, se);
    avg_vruntime(q);
    return 1;
}

/* protect_slice(): picked entities run their request out (RUN_TO_PARITY: vprot is the deadline at the pick
 * when every entity has the base slice). */
static int protected_slice(const sched_ent *se) { return se->vruntime < se->vprot; }

/* pick_eevdf(): the next-buddy if eligible; the running entity while eligible and protected; else the
 * eligible entity with the earliest deadline (the running one only if strictly earlier). */
static sched_ent *pick_eevdf(erq *q, int protect) {
    sched_ent *curr = q->curr && q->curr->on_rq ? q->curr : NULL;
    if (q->nr_queued == 1) return curr ? curr : q->head;
    if (protect && q->next_buddy && eligible(q, q->next_buddy)) return q->next_buddy;
    if (curr && !eligible(q, curr)) curr = NULL;
    if (curr && protect && protected_slice(curr)) return curr;
    sched_ent *best = NULL;
    for (sched_ent *e = q->head; e; e = e->qnext)
        if ((!best || e->deadline < best->deadline) && eligible(q, e)) best = e;
    if (!best || (curr && curr->deadline < best->deadline)) best = curr;
    return best;
}

/* ---- CFS (kernel/sched/fair.c before 6.6) ---- */

/* update_min_vruntime(): the queue's monotonic floor, the smallest of curr and the waiting. */
static void update_min_vruntime(erq *q) {
    int64_t v = q->min_vruntime;
    int have = 0;
    if (q->curr && q->curr->on_rq) {
        v = q->curr->vruntime;
        have = 1;
    }
    for (const sched_ent *e = q->head; e; e = e->qnext)
        if (!have || e->vruntime < v) {
            v = e->vruntime;
            have = 1;
        }
    if (have && v > q->min_vruntime) q->min_vruntime = v;
}

static int64_t q_weight(const erq *q) {
    int64_t w;
    q_sums(q, &w);
    return w;
}

/* place_entity() before 6.6: a sleeper is put back at most sysctl_sched_latency / 2 behind min_vruntime
 * (GENTLE_FAIR_SLEEPERS), never ahead of where it was; a new task one virtual slice after it (START_DEBIT). */
static void place_cfs(const cfs_node *n, erq *q, sched_ent *se, int initial) {
    int64_t v = q->min_vruntime;
    if (initial) {
        int64_t w = q_weight(q) + se->weight;
        v += vdelta(n->latency_ns * se->weight / w, se);
        se->vruntime = v;
        return;
    }
    v -= n->latency_ns / 2;
    if (se->vruntime < v) se->vruntime = v;
}

/* pick_next_entity() before 6.6: the smallest vruntime, the running entity included. */
static sched_ent *pick_cfs(erq *q) {
    sched_ent *best = q->curr && q->curr->on_rq ? q->curr : NULL;
    for (sched_ent *e = q->head; e; e = e->qnext)
        if (!best || e->vruntime < best->vruntime) best = e;
    return best;
}

/* wakeup_preempt_entity(): the woken entity preempts when the running one is more than the wake-up
 * granularity (in the woken one's virtual time) ahead of it. */
static int wakeup_preempts(const cfs_node *n, const sched_ent *curr, const sched_ent *se) {
    int64_t vdiff = curr->vruntime - se->vruntime;
    return vdiff > vdelta(n->wakeup_gran_ns, se);
}

/* sched_slice(): the running thread's share of the latency period (ALT_PERIOD: by the CPU's runnable
 * threads), through both levels; at least the minimal granularity (BASE_SLICE). */
static int64_t sched_slice(const cfs_node *n, const erq *root, const erq *gq, const sched_ent *tse) {
    int nr = 0;
    for (const sched_ent *e = root->head; e; e = e->qnext) nr += e->my_q->nr_queued;
    if (root->curr && root->curr->on_rq) nr += root->curr->my_q->nr_queued;
    int64_t period = nr > 8 ? nr * n->slice_ns : n->latency_ns;
    int64_t slice = period * tse->weight / (q_weight(gq) ? q_weight(gq) : 1);
    const sched_ent *gse = root->curr;
    if (gse) slice = slice * gse->weight / (q_weight(root) ? q_weight(root) : 1);
    return slice > n->slice_ns ? slice : n->slice_ns;
}

/* check_preempt_tick(): switch when the running entity has had its slice, or (after the minimal
 * granularity) is a whole slice of virtual time ahead of the leftmost waiting one. */
static int tick_preempts(const cfs_node *n, const erq *q, const sched_ent *curr, int64_t ideal) {
    int64_t ran = curr->sum_exec - curr->prev_sum_exec;
    if (ran > ideal) return 1;
    if (ran < n->slice_ns) return 0;
    const sched_ent *left = NULL;
    for (const sched_ent *e = q->head; e; e = e->qnext)
        if (!left || e->vruntime < left->vruntime) left = e;
    return left && curr->vruntime - left->vruntime > ideal;
}

/* ---- accounting and queueing ---- */

static void set_need_resched(cfs_node *n, erq *q) {
    n->cpus[q->cpu].need_resched = 1;
    q->next_buddy = NULL; /* clear_buddies() */
}

/* update_curr(): the running entity's time since it was last accounted becomes virtual runtime; with EEVDF
 * a used-up request, or an expired protection, asks for a reschedule when others wait. */
static void update_curr(cfs_node *n, erq *q) {
    sched_ent *c = q->curr;
    int64_t now = now_of(n);
    if (!c || now <= c->exec_start) return;
    int64_t d = now - c->exec_start;
    c->exec_start = now;
    c->sum_exec += d;
    c->vruntime += vdelta(d, c);
    if (!eevdf(n)) {
        update_min_vruntime(q);
        return;
    }
    int resched = update_deadline(n, q, c);
    if (q->nr_queued <= 1) return;
    if (resched || !protected_slice(c)) set_need_resched(n, q);
}

static void place_entity(const cfs_node *n, erq *q, sched_ent *se, int initial) {
    if (eevdf(n))
        place_eevdf(n, q, se, initial);
    else
        place_cfs(n, q, se, initial);
}

/* enqueue_entity(): account the running one first, then place and queue (an entity that is still the
 * queue's picked one, dequeued and woken before it was switched out, is placed first and stays picked). */
static void enqueue_entity(cfs_node *n, erq *q, sched_ent *se, int initial) {
    int is_curr = q->curr == se;
    if (is_curr) place_entity(n, q, se, initial);
    update_curr(n, q);
    if (!is_curr) {
        place_entity(n, q, se, initial);
        q_insert(q, se);
    }
    se->q = q;
    se->on_rq = 1;
    se->started = 1;
    q->nr_queued++;
}

/* dequeue_entity(): returns 0 when the entity stays queued, delayed (EEVDF: asleep while not eligible, not
 * for a throttle or an exit). Leaving for another CPU keeps the lag and the deadline relative. */
static int dequeue_entity(cfs_node *n, erq *q, sched_ent *se, int sleep, int special) {
    update_curr(n, q);
    if (eevdf_new(n) && sleep && !special && !se->delayed && !eligible(q, se)) {
        se->delayed = 1;
        return 0;
    }
    if (eevdf(n)) {
        update_entity_lag(n, q, se);
        if (!sleep) {
            se->deadline -= se->vruntime;
            se->rel_deadline = 1;
        }
    } else if (!sleep) {
        se->vruntime -= q->min_vruntime; /* made relative; the new queue adds its own */
    }
    if (se != q->curr) q_remove(q, se);
    se->on_rq = 0;
    se->delayed = 0;
    q->nr_queued--;
    if (q->next_buddy == se) q->next_buddy = NULL;
    if (!eevdf(n)) update_min_vruntime(q);
    return 1;
}

/* requeue_delayed_entity(): a delayed entity woken again. Its lag is read against the queue's V as last
 * accounted (no update_curr first); with lag it starts over at V with a new request, else it keeps its
 * place and its deadline. */
static void requeue_delayed(const cfs_node *n, sched_ent *se) {
    erq *q = se->q;
    update_entity_lag(n, q, se);
    if (se->vlag > 0) {
        q->nr_queued--;
        if (se != q->curr) q_remove(q, se);
        se->vlag = 0;
        se->delayed = 0;
        place_eevdf(n, q, se, 0);
        if (se != q->curr) q_insert(q, se);
        q->nr_queued++;
    }
    se->delayed = 0;
}

static cfs_rq *rq_of_task(cfs_task *t) { return &t->g->rq[t->cpu]; }
/* The group's part that a group entity stands for. */
static cfs_rq *rq_of_group_se(const sched_ent *gse) { return (cfs_rq *)((char *)gse->my_q - offsetof(cfs_rq, q)); }

static void return_runtime(cfs_node *n, cfs_group *g, int cpu);

/* The group's entity leaves the root queue when its queue on that CPU is empty (dequeue_entities); while
 * a thread of it sleeps and others stay, the group is the root's next buddy. */
static void group_after_dequeue(cfs_node *n, cfs_rq *rq, int sleep) {
    erq *root = &n->cpus[rq->q.cpu].root;
    if (rq->q.nr_queued == 0) {
        if (rq->se.on_rq) dequeue_entity(n, root, &rq->se, 1, rq->throttled);
        return_runtime(n, rq->g, rq->q.cpu);
    } else if (sleep && eevdf_new(n) && rq->se.on_rq && !rq->throttled) {
        root->next_buddy = &rq->se;
    }
}

/* dequeue_task_fair(): the thread leaves its CPU's queue (asleep, killed or migrating); returns 0 when it
 * stays there, delayed. */
static int dequeue_task(cfs_node *n, cfs_task *t, int sleep, int special) {
    cfs_rq *rq = rq_of_task(t);
    if (!dequeue_entity(n, &rq->q, &t->se, sleep, special)) return 0;
    t->cpu = -1;
    group_after_dequeue(n, rq, sleep && !special);
    return 1;
}

/* enqueue_task_fair(): the thread joins the group's queue on `cpu`, the group's entity the root queue. */
static void enqueue_task(cfs_node *n, cfs_task *t, int cpu) {
    cfs_rq *rq = &t->g->rq[cpu];
    if (!eevdf(n) && t->se.started && t->prev_cpu >= 0 && t->prev_cpu != cpu)
        t->se.vruntime += rq->q.min_vruntime - t->g->rq[t->prev_cpu].q.min_vruntime; /* migrate_task_rq_fair */
    t->cpu = cpu;
    t->prev_cpu = cpu;
    if (rq->throttled && eevdf_new(n)) { /* task_woken_fair(): throttled on its way back to user space */
        t->in_limbo = 1;
        t->lnext = rq->limbo;
        rq->limbo = t;
        return;
    }
    enqueue_entity(n, &rq->q, &t->se, !t->se.started);
    if (rq->throttled) return;
    if (!rq->se.on_rq)
        enqueue_entity(n, &n->cpus[cpu].root, &rq->se, !rq->se.started);
    else if (rq->se.delayed)
        requeue_delayed(n, &rq->se);
}

/* Threads of the group on this CPU that can run (queued or running, not delayed), throttled or not. */
static int rq_runnable(const cfs_rq *rq) {
    int k = rq->q.curr && rq->q.curr->on_rq && !rq->q.curr->delayed;
    for (const sched_ent *e = rq->q.head; e; e = e->qnext) k += !e->delayed;
    return k;
}

static int group_on_cpu(const cfs_node *n, const cfs_group *g, int cpu) {
    (void)n;
    return rq_runnable(&g->rq[cpu]);
}

/* Runnable threads on a CPU, those of throttled groups not counted (they left rq->nr_running). */
static int cpu_load(const cfs_node *n, int cpu) {
    const erq *root = &n->cpus[cpu].root;
    int k = root->curr && root->curr->on_rq ? rq_runnable(rq_of_group_se(root->curr)) : 0;
    for (const sched_ent *e = root->head; e; e = e->qnext) k += rq_runnable(rq_of_group_se(e));
    return k;
}

/* ---- switching ---- */

/* pick_next_entity() found a delayed entity: its dequeue completes now (DEQUEUE_DELAYED). */
static void finish_delayed(cfs_node *n, sched_ent *se) {
    if (se->task) {
        dequeue_task(n, se->task, 1, 0);
    } else {
        dequeue_entity(n, se->q, se, 1, 0);
    }
}

/* put_prev_entity(): the entity that was picked goes back among the waiting if still queued. */
static void put_prev(cfs_node *n, erq *q) {
    sched_ent *c = q->curr;
    if (!c) return;
    if (c->on_rq) {
        update_curr(n, q);
        q_insert(q, c);
    }
    q->curr = NULL;
}

/* set_next_entity(): a newly picked entity starts its protected run (set_protect_slice). */
static void set_next(cfs_node *n, erq *q, sched_ent *se, int64_t start) {
    if (q->curr == se) return;
    put_prev(n, q);
    q_remove(q, se);
    q->curr = se;
    se->exec_start = start;
    se->prev_sum_exec = se->sum_exec;
    se->vprot = se->deadline;
    if (q->next_buddy == se) q->next_buddy = NULL;
}

/* The CPU runs `tse` of group entity `gse` (both NULL: it goes idle). */
static void switch_to(cfs_node *n, int cpu, sched_ent *gse, sched_ent *tse) {
    cpu_state *cs = &n->cpus[cpu];
    cfs_task *prev = cs->current, *next = tse ? tse->task : NULL;
    int64_t now = now_of(n);
    sched_ent *old = cs->root.curr;
    if (old && old != gse) {
        put_prev(n, old->my_q);
        put_prev(n, &cs->root);
    }
    if (prev && prev != next && prev->state == T_RUNNING) prev->state = T_QUEUED;
    cs->current = next;
    if (!next) return;
    if (!prev)
        cs->busy_from = now + wake_delay(n);
    else if (cs->busy_from < now)
        cs->busy_from = now;
    set_next(n, &cs->root, gse, cs->busy_from);
    set_next(n, gse->my_q, tse, cs->busy_from);
    next->state = T_RUNNING;
    if (next->measure_bias) {
        /* stress-ng reads the clock when it runs again: the bias includes any throttled wait */
        next->bias_ns = (cs->busy_from - next->sleep_start_ns) - next->sleep_delay_ns;
        next->measure_bias = 0;
    }
}

/* newidle balance: an idle CPU pulls a thread waiting on another CPU (its group not throttled here). */
static int pull_task(cfs_node *n, int cpu) {
    for (int c = 0; c < n->cfg.cpus; c++) {
        if (c == cpu) continue;
        erq *root = &n->cpus[c].root;
        sched_ent *groups[2] = {root->curr && root->curr->on_rq ? root->curr : NULL, root->head};
        for (int k = 0; k < 2; k++)
            for (sched_ent *gse = groups[k]; gse; gse = k ? gse->qnext : NULL) {
                cfs_group *g = rq_of_group_se(gse)->g;
                if (g->rq[cpu].throttled) continue;
                for (sched_ent *e = gse->my_q->head; e; e = e->qnext) {
                    if (e->delayed || e->task->state != T_QUEUED) continue;
                    cfs_task *t = e->task;
                    dequeue_task(n, t, 0, 0);
                    enqueue_task(n, t, cpu);
                    return 1;
                }
            }
    }
    return 0;
}

static void check_runtime(cfs_node *n, cfs_group *g, int cpu);

/* __schedule() / pick_next_task_fair(): account, pick level by level (finishing delayed dequeues met on
 * the way), switch, and let the switch account the group's runtime (check_cfs_rq_runtime), which may
 * throttle it and so pick again. */
static void schedule(cfs_node *n, int cpu) {
    cpu_state *cs = &n->cpus[cpu];
    erq *root = &cs->root;
    for (int guard = 0; guard < 10000; guard++) {
        if (root->curr && root->curr->on_rq) update_curr(n, root);
        sched_ent *gse = eevdf(n) ? pick_eevdf(root, 1) : pick_cfs(root);
        if (!gse) {
            if (pull_task(n, cpu)) continue;
            break;
        }
        if (gse->delayed) {
            finish_delayed(n, gse);
            continue;
        }
        erq *gq = gse->my_q;
        if (root->curr == gse && gq->curr && gq->curr->on_rq) update_curr(n, gq);
        sched_ent *tse = eevdf(n) ? pick_eevdf(gq, 1) : pick_cfs(gq);
        if (!tse) abort(); /* a queued group has queued threads */
        if (tse->delayed) {
            finish_delayed(n, tse);
            continue;
        }
        switch_to(n, cpu, gse, tse);
        cfs_group *g = tse->task->g;
        check_runtime(n, g, cpu);
        if (g->rq[cpu].throttled) continue;
        cs->need_resched = 0;
        return;
    }
    switch_to(n, cpu, NULL, NULL);
    cs->need_resched = 0;
}

#ifdef CFS_CHECK
/* Debug builds (-DCFS_CHECK): the queues' invariants, checked after every operation. */
static void q_check(const erq *q, const char *what) {
    int k = q->curr && q->curr->on_rq;
    for (const sched_ent *e = q->head; e; e = e->qnext) {
        if (!e->on_rq || e->q != q) fprintf(stderr, "cfs: %s: waiting entity not on this queue\n", what), abort();
        k++;
    }
    if (k != q->nr_queued) fprintf(stderr, "cfs: %s: nr_queued %d, counted %d\n", what, q->nr_queued, k), abort();
}
static void node_check(const cfs_node *n) {
    for (int c = 0; c < n->cfg.cpus; c++) {
        const erq *root = &n->cpus[c].root;
        q_check(root, "root");
        for (const cfs_group *g = n->groups; g; g = g->next) {
            const cfs_rq *rq = &g->rq[c];
            q_check(&rq->q, g->name);
            if (rq->se.on_rq && !rq->se.delayed && !rq->q.nr_queued)
                fprintf(stderr, "cfs: %s queued with nothing in it\n", g->name), abort();
            if (rq->se.on_rq && !rq->se.delayed && rq->throttled)
                fprintf(stderr, "cfs: %s queued while throttled\n", g->name), abort();
            if (!rq->se.on_rq && rq->q.nr_queued && !rq->throttled)
                fprintf(stderr, "cfs: %s has threads but is not queued\n", g->name), abort();
        }
    }
}
#define NODE_CHECK(n) node_check(n)
#else
#define NODE_CHECK(n) ((void)0)
#endif

static void run_resched(cfs_node *n) {
    for (int c = 0; c < n->cfg.cpus; c++)
        if (n->cpus[c].need_resched) schedule(n, c);
}

/* select_task_rq_fair(), simplified: previous CPU if idle, else any idle CPU, else the least loaded. A CPU
 * whose tasks are all throttled is idle as far as the scheduler knows. */
static int pick_cpu(cfs_node *n, const cfs_task *t) {
    if (t->prev_cpu >= 0 && cpu_load(n, t->prev_cpu) == 0) return t->prev_cpu;
    for (int c = 0; c < n->cfg.cpus; c++)
        if (cpu_load(n, c) == 0) return c;
    int best = t->prev_cpu >= 0 ? t->prev_cpu : 0;
    for (int c = 0; c < n->cfg.cpus; c++)
        if (cpu_load(n, c) < cpu_load(n, best)) best = c;
    return best;
}

/* check_preempt_wakeup_fair() (before 6.6 check_preempt_wakeup()): compared at the level where the woken
 * thread and the running one meet (find_matching_se); EEVDF preempts when a pick now would choose the woken
 * side, CFS when the running side is more than the wake-up granularity ahead. An idle CPU just runs it. */
static void preempt_check(cfs_node *n, int cpu, cfs_task *t) {
    cpu_state *cs = &n->cpus[cpu];
    if (!cs->current) {
        cs->need_resched = 1;
        return;
    }
    if (t->g->rq[cpu].throttled || cs->need_resched) return;
    cfs_task *c = cs->current;
    erq *q = c->g == t->g ? &t->g->rq[cpu].q : &cs->root;
    sched_ent *se_c = c->g == t->g ? &c->se : cs->root.curr, *se_w = c->g == t->g ? &t->se : &t->g->rq[cpu].se;
    update_curr(n, q);
    if (!eevdf(n)) {
        if (wakeup_preempts(n, se_c, se_w)) set_need_resched(n, q);
        return;
    }
    for (int guard = 0; guard < 1000; guard++) {
        sched_ent *p = pick_eevdf(q, 1);
        if (p && p->delayed && p != q->curr) {
            finish_delayed(n, p);
            if (q->nr_queued) continue;
            return;
        }
        if (p == se_w) set_need_resched(n, q);
        return;
    }
}

/* A task becomes runnable: one still queued (delayed) wakes where it is (ttwu_runnable); others are placed
 * on a CPU first (select_task_rq_fair, ttwu_do_activate). */
static void wake(cfs_node *n, cfs_task *t) {
    if (t->se.on_rq && t->se.delayed) {
        requeue_delayed(n, &t->se);
        t->state = T_QUEUED;
        preempt_check(n, t->cpu, t);
        return;
    }
    int cpu = pick_cpu(n, t);
    enqueue_task(n, t, cpu);
    t->state = T_QUEUED;
    preempt_check(n, cpu, t);
}

/* The running task of `cpu` goes to sleep (its burst is done). */
static void block_current(cfs_node *n, int cpu) {
    cfs_task *t = n->cpus[cpu].current;
    t->state = T_SLEEP;
    dequeue_task(n, t, 1, 0);
    n->cpus[cpu].need_resched = 1;
}

/* Removes a task from wherever it is (pod killed, stress stopped): an exit, never delayed. */
static void remove_task(cfs_node *n, cfs_task *t) {
    if (t->in_limbo) {
        cfs_rq *rq = &t->g->rq[t->cpu];
        for (cfs_task **p = &rq->limbo; *p; p = &(*p)->lnext)
            if (*p == t) {
                *p = t->lnext;
                break;
            }
        t->in_limbo = 0;
        t->cpu = -1;
    }
    if (!t->se.on_rq) {
        t->state = T_SLEEP;
        return;
    }
    int cpu = t->cpu;
    int running = n->cpus[cpu].current == t;
    t->state = T_SLEEP;
    dequeue_task(n, t, 1, 1);
    if (running) n->cpus[cpu].need_resched = 1;
}

/* A tick on a busy CPU (entity_tick at each level): the running entities' time is accounted, which with
 * EEVDF may end a request or a protection; CFS checks the slice (check_preempt_tick); the bandwidth is
 * checked (a CPU can overrun its runtime until then). */
static void tick(cfs_node *n, int cpu) {
    cpu_state *cs = &n->cpus[cpu];
    cfs_task *t = cs->current;
    if (!t || now_of(n) < cs->busy_from) return;
    erq *gq = &t->g->rq[cpu].q, *root = &cs->root;
    update_curr(n, gq);
    update_curr(n, root);
    if (!eevdf(n)) {
        int64_t ideal = sched_slice(n, root, gq, &t->se);
        if (gq->nr_queued > 1 && tick_preempts(n, gq, &t->se, ideal)) set_need_resched(n, gq);
        int64_t gideal = ideal * q_weight(gq) / t->se.weight;
        if (root->nr_queued > 1 && tick_preempts(n, root, root->curr, gideal)) set_need_resched(n, root);
    }
    check_runtime(n, t->g, cpu);
}

/* ---- time ---- */

static void update(cfs_node *n) {
    int64_t now = now_of(n);
    if (now <= n->last_update) return;
    for (int c = 0; c < n->cfg.cpus; c++) {
        cpu_state *cs = &n->cpus[c];
        cfs_task *t = cs->current;
        if (!t) continue;
        int64_t from = n->last_update > cs->busy_from ? n->last_update : cs->busy_from;
        if (now <= from) continue;
        int64_t dt = now - from;
        if (t->remaining != INF_WORK) t->remaining -= dt;
        t->ran_ns += dt;
        cfs_group *g = t->g;
        g->stats.cpu_used_ns += dt;
        if (t->kind == TASK_WORKER)
            g->stats.work_cpu_ns += dt;
        else
            g->stats.stress_cpu_ns += dt;
        if (limited(g)) g->rq[c].remaining -= dt;
    }
    n->last_update = now;
}

static void cpu_event(sim_engine *e, void *ctx, uint64_t arg);

static int64_t next_tick_after(const cfs_node *n, int64_t now) { return (now / n->cfg.tick_ns + 1) * n->cfg.tick_ns; }

/* A stress-ng worker below 100 % reads its CPU clock after every sqrt call (~0.1 ms of CPU; cfs-stress.md
 * section 0), and reading a running thread's CPU clock accounts its time (task_sched_runtime ->
 * update_curr_fair, its own queue only): so its request and its protection end on time, not at the next
 * tick. A worker at 100 % makes no system call at all. */
static int polls_clock(const cfs_node *n, const cfs_task *t) {
    return eevdf(n) && t->kind == TASK_STRESS && t->stress->load < 100;
}

/* When the polling thread next matters: its group's runtime on this CPU runs out (account_cfs_rq_runtime
 * runs then, not at the next tick, so such a group overruns its quota by no more than a poll), or its
 * protection (or, past it, its request) ends while others wait in its queue. */
static int64_t poll_due(const cfs_node *n, int cpu, int64_t now) {
    const cpu_state *cs = &n->cpus[cpu];
    const cfs_task *t = cs->current;
    const sched_ent *se = &t->se;
    int64_t due = INT64_MAX, start = cs->busy_from > now ? cs->busy_from : now;
    const cfs_rq *rq = &t->g->rq[cpu];
    if (limited(t->g) && !rq->throttled) due = start + (rq->remaining > 0 ? rq->remaining : 0);
    if (rq->q.nr_queued <= 1) return due;
    int64_t target = se->vruntime < se->vprot ? se->vprot : se->deadline;
    if (target <= se->vruntime) return due;
    int64_t at = se->exec_start + (target - se->vruntime); /* nice 0: virtual time is real time */
    return at < due ? at : due;
}

/* The next moment something changes by itself: a burst ends, or a tick on a busy CPU. */
static void reschedule(cfs_node *n) {
    NODE_CHECK(n);
    int64_t now = now_of(n);
    int64_t next = INT64_MAX;
    int busy = 0;
    for (int c = 0; c < n->cfg.cpus; c++) {
        cpu_state *cs = &n->cpus[c];
        cfs_task *t = cs->current;
        if (!t) continue;
        busy = 1;
        int64_t start = cs->busy_from > now ? cs->busy_from : now;
        if (t->remaining != INF_WORK) {
            int64_t when = start + (t->remaining > 0 ? t->remaining : 0);
            if (when < next) next = when;
        }
        if (polls_clock(n, t)) {
            int64_t due = poll_due(n, c, now);
            if (due < next) next = due > now ? due : now;
        }
    }
    if (busy) {
        int64_t tk = next_tick_after(n, now);
        if (tk < next) next = tk;
    }
    if (sim_is_pending(n->e, n->next_event) && sim_event_time(n->e, n->next_event) == next) return;
    sim_cancel(n->e, &n->next_event);
    if (next != INT64_MAX) n->next_event = sim_at(n->e, next, SIM_K_CPU, 0, cpu_event, n, 0);
}

/* ---- bandwidth ---- */

/* The thread leaves its queue for the cfs_rq's limbo list (throttle_cfs_rq_work: DEQUEUE_SLEEP |
 * DEQUEUE_THROTTLE, never delayed, its lag kept); a running one is switched out. */
static void to_limbo(cfs_node *n, cfs_task *t) {
    int cpu = t->cpu;
    cfs_rq *rq = &t->g->rq[cpu];
    if (n->cpus[cpu].current == t) n->cpus[cpu].need_resched = 1;
    dequeue_task(n, t, 1, 1);
    t->cpu = cpu;
    t->state = T_QUEUED;
    t->in_limbo = 1;
    t->lnext = rq->limbo;
    rq->limbo = t;
}

/* throttle_cfs_rq(). Since 6.18 (task-based throttling) it marks the cfs_rq, and each of its threads is
 * dequeued on its way back to user space into the limbo list: the running one at once, a waiting one when
 * it is picked, i.e. before anything else of the group could run; a delayed one is dequeued by that pick.
 * The group's entity leaves the root queue when the last one has gone (a sleep that keeps its lag, never
 * delayed). Before 6.6 (`cfs`) the group's entity left at once, its threads staying queued in it. */
static void throttle(cfs_node *n, cfs_group *g, int cpu) {
    cfs_rq *rq = &g->rq[cpu];
    if (rq->throttled) return;
    rq->throttled = 1;
    rq->throttled_since = now_of(n);
    if (!eevdf_new(n)) {
        erq *root = &n->cpus[cpu].root;
        if (rq->se.on_rq) {
            if (root->curr == &rq->se) n->cpus[cpu].need_resched = 1;
            dequeue_entity(n, root, &rq->se, 1, 1);
        }
        return;
    }
    while (rq->q.nr_queued) {
        sched_ent *se = rq->q.curr && rq->q.curr->on_rq ? rq->q.curr : rq->q.head;
        if (se->delayed)
            finish_delayed(n, se);
        else
            to_limbo(n, se->task);
    }
}

/* unthrottle_cfs_rq() / tg_unthrottle_up(): the limbo threads are enqueued again as woken (placed with
 * their lag), the group's entity with them; a busy CPU switches to them only at its next scheduling point
 * (no wake-up preemption here), an idle one at once. Before 6.6 the group's entity came back, placed as a
 * sleeper. */
static void unthrottle(cfs_node *n, cfs_group *g, int cpu) {
    cfs_rq *rq = &g->rq[cpu];
    if (!rq->throttled) return;
    rq->throttled = 0;
    g->stats.throttled_ns += now_of(n) - rq->throttled_since;
    while (rq->limbo) {
        cfs_task *t = rq->limbo;
        rq->limbo = t->lnext;
        t->in_limbo = 0;
        enqueue_task(n, t, cpu);
    }
    if (rq->q.nr_queued && !rq->se.on_rq) enqueue_entity(n, &n->cpus[cpu].root, &rq->se, !rq->se.started);
    if (!n->cpus[cpu].current && rq->q.nr_queued) n->cpus[cpu].need_resched = 1;
}

static void start_period_timer(cfs_node *n, cfs_group *g);

/* assign_cfs_rq_runtime(): pull a slice from the pool (starting the period timer if it had stopped);
 * throttle when nothing is left. */
static void check_runtime(cfs_node *n, cfs_group *g, int cpu) {
    if (!limited(g)) return;
    cfs_rq *rq = &g->rq[cpu];
    if (rq->throttled || rq->remaining > 0) return;
    int64_t want = n->cfg.slice_ns - rq->remaining;
    int64_t amount = want < g->pool ? want : g->pool;
    if (!sim_is_pending(n->e, g->period_timer)) start_period_timer(n, g);
    if (amount > 0) {
        g->pool -= amount;
        rq->remaining += amount;
        g->idle = 0;
    }
    if (rq->remaining <= 0 && group_on_cpu(n, g, cpu)) throttle(n, g, cpu);
}

static void distribute(cfs_node *n, cfs_group *g) {
    for (int cpu = 0; cpu < n->cfg.cpus && g->pool > 0; cpu++) {
        cfs_rq *rq = &g->rq[cpu];
        if (!rq->throttled) continue;
        int64_t runtime = -rq->remaining + 1;
        if (runtime > g->pool) runtime = g->pool;
        g->pool -= runtime;
        rq->remaining += runtime;
        if (rq->remaining > 0) unthrottle(n, g, cpu);
    }
}

static void slack_timer_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    cfs_group *g = ctx;
    cfs_node *n = g->node;
    update(n);
    g->slack_timer = SIM_NO_EVENT;
    distribute(n, g);
    run_resched(n);
    reschedule(n);
}

/* return_cfs_rq_runtime(): a cfs_rq with nothing queued keeps min_cfs_rq_runtime, returns the rest. */
static void return_runtime(cfs_node *n, cfs_group *g, int cpu) {
    if (!limited(g) || g->rq[cpu].q.nr_queued) return;
    cfs_rq *rq = &g->rq[cpu];
    int64_t slack = rq->remaining - n->cfg.min_runtime_ns;
    if (slack <= 0) return;
    g->pool += slack;
    rq->remaining -= slack;
    int any_throttled = 0;
    for (int c = 0; c < n->cfg.cpus; c++) any_throttled |= g->rq[c].throttled;
    if (any_throttled && g->pool > n->cfg.slice_ns && !sim_is_pending(n->e, g->slack_timer))
        g->slack_timer = sim_after(n->e, n->cfg.slack_ns, SIM_K_CPU, 1000 + g->index, slack_timer_fired, g, 1);
}

static void period_timer_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    cfs_group *g = ctx;
    cfs_node *n = g->node;
    update(n);
    g->period_timer = SIM_NO_EVENT;
    g->stats.periods++;
    int throttled = 0;
    for (int c = 0; c < n->cfg.cpus; c++) throttled |= g->rq[c].throttled;
    g->pool = g->quota;
    /* do_sched_cfs_period_timer: idle for a whole period, the timer stops (is not re-armed). Otherwise it is
     * re-armed before distributing, which may resume tasks that ask for runtime: they find it running. */
    if (!g->idle || throttled) {
        if (throttled) g->stats.throttled_periods++;
        g->period_timer = sim_after(n->e, g->period, SIM_K_CFS_PERIOD, g->index, period_timer_fired, g, 0);
        distribute(n, g);
        g->idle = !throttled; /* potentially idle for the upcoming period */
    }
    run_resched(n);
    reschedule(n);
}

/* start_cfs_bandwidth(): the timer restarts at the next boundary of its grid. */
static void start_period_timer(cfs_node *n, cfs_group *g) {
    int64_t now = now_of(n);
    int64_t k = now >= g->period_anchor ? (now - g->period_anchor) / g->period + 1 : 0;
    g->period_timer =
        sim_at(n->e, g->period_anchor + k * g->period, SIM_K_CFS_PERIOD, g->index, period_timer_fired, g, 0);
}

/* ---- service work and stress bursts ---- */

static void stress_burst_done(cfs_node *n, int cpu, cfs_task *t);

/* The lane takes its next queued item: it keeps running if it is (its thread loops), else it wakes. */
static void worker_next(cfs_node *n, cfs_task *t) {
    work_item *w = t->qhead;
    t->qhead = w->next;
    if (!t->qhead) t->qtail = NULL;
    t->queued--;
    w->next = NULL;
    t->item = w;
    t->remaining = w->cpu_ns > 0 ? w->cpu_ns : 1;
    t->ran_ns = 0;
    if (t->state == T_SLEEP) wake(n, t);
}

/* The running task of `cpu` has finished its burst. Finished work items are appended to *tail. */
static void burst_done(cfs_node *n, int cpu, cfs_task *t, work_item ***tail) {
    if (t->kind == TASK_WORKER) {
        work_item *w = t->item;
        t->item = NULL;
        w->next = NULL;
        **tail = w;
        *tail = &w->next;
        if (t->qhead)
            worker_next(n, t);
        else
            block_current(n, cpu);
    } else if (t->kind == TASK_STRESS) {
        stress_burst_done(n, cpu, t);
    } else {
        block_current(n, cpu); /* a one-off burst: never runs again */
    }
}

static void cpu_event(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    cfs_node *n = ctx;
    n->next_event = SIM_NO_EVENT;
    update(n);
    int64_t now = now_of(n);
    /* Callbacks run after the model is consistent; they may queue work. */
    work_item *finished = NULL, **tail = &finished;
    for (int c = 0; c < n->cfg.cpus; c++) {
        cpu_state *cs = &n->cpus[c];
        cfs_task *t = cs->current;
        if (!t || now < cs->busy_from) continue;
        if (t->remaining != INF_WORK && t->remaining <= DONE_SLACK) burst_done(n, c, t, &tail);
        if (cs->need_resched) schedule(n, c);
        if (cs->current && now >= cs->busy_from && polls_clock(n, cs->current)) {
            update_curr(n, &cs->current->g->rq[c].q);
            check_runtime(n, cs->current->g, c);
            if (cs->need_resched) schedule(n, c);
        }
    }
    if (now % n->cfg.tick_ns == 0)
        for (int c = 0; c < n->cfg.cpus; c++) tick(n, c);
    run_resched(n);
    reschedule(n);
    while (finished) {
        work_item *w = finished;
        finished = w->next;
        if (w->done) w->done(w->ctx);
        freelist_give(&n->spare_items, w);
    }
}

uint64_t cfs_work_lane(cfs_group *g, int lane, int64_t cpu_ns, cfs_done_fn done, void *ctx) {
    cfs_node *n = g->node;
    update(n);
    if (lane < 0 || lane >= g->threads) lane = 0;
    cfs_task *t = g->workers[lane];
    work_item *w = freelist_take(&n->spare_items);
    w->id = ++g->next_item_id;
    w->cpu_ns = cpu_ns;
    w->done = done;
    w->ctx = ctx;
    if (t->qtail)
        t->qtail->next = w;
    else
        t->qhead = w;
    t->qtail = w;
    t->queued++;
    g->stats.work_items++;
    if (!t->item) worker_next(n, t);
    run_resched(n);
    reschedule(n);
    return w->id;
}

int cfs_random_server_lane(cfs_group *g) {
    /* one of the server threads: all lanes but the last, which is the client thread */
    int servers = g->threads > 1 ? g->threads - 1 : 1;
    return (int)pc_rng_below(&g->lane_rng, (uint64_t)servers);
}

uint64_t cfs_work(cfs_group *g, int64_t cpu_ns, cfs_done_fn done, void *ctx) {
    return cfs_work_lane(g, cfs_random_server_lane(g), cpu_ns, done, ctx);
}

void cfs_group_kill_work(cfs_group *g) {
    cfs_node *n = g->node;
    update(n);
    for (int i = 0; i < g->threads; i++) {
        cfs_task *t = g->workers[i];
        free_items(t->qhead);
        t->qhead = t->qtail = NULL;
        t->queued = 0;
        remove_task(n, t);
        free(t->item);
        t->item = NULL;
    }
    run_resched(n);
    reschedule(n);
}

/* ---- groups ---- */

cfs_group *cfs_group_new(cfs_node *n, const char *name, int64_t quota_ns, int64_t period_ns, int threads) {
    cfs_group *g = calloc(1, sizeof *g);
    if (!g) abort();
    g->node = n;
    g->index = n->ngroups++;
    snprintf(g->name, sizeof g->name, "%s", name);
    for (int c = 0; c < MAX_CPUS; c++) {
        g->rq[c].g = g;
        g->rq[c].q.cpu = c;
        g->rq[c].se.weight = NICE_0;
        g->rq[c].se.my_q = &g->rq[c].q;
    }
    g->threads = threads > 0 ? threads : 1;
    g->workers = calloc((size_t)g->threads, sizeof *g->workers);
    if (!g->workers) abort();
    for (int i = 0; i < g->threads; i++) g->workers[i] = task_new(n, g, TASK_WORKER);
    char stream[80];
    snprintf(stream, sizeof stream, "cfs-lanes/%s", g->name);
    pc_rng_init(&g->lane_rng, n->rng.s[0], stream);
    g->next = n->groups;
    n->groups = g;
    cfs_group_set_quota(g, quota_ns, period_ns);
    return g;
}

void cfs_group_set_quota(cfs_group *g, int64_t quota_ns, int64_t period_ns) {
    cfs_node *n = g->node;
    update(n);
    g->quota = quota_ns > 0 ? quota_ns : 0;
    g->period = period_ns > 0 ? period_ns : 100 * MS;
    g->pool = g->quota;
    sim_cancel(n->e, &g->period_timer);
    if (g->quota > 0) { /* armed before unthrottling, which may resume tasks that ask for runtime */
        /* The period timer's phase is arbitrary relative to the workload: seeded per group. */
        pc_rng r;
        char name[64];
        snprintf(name, sizeof name, "cfs-phase/%s", g->name);
        pc_rng_init(&r, n->rng.s[0], name);
        int64_t phase = (int64_t)pc_rng_below(&r, (uint64_t)g->period) + 1;
        g->period_anchor = sim_now(n->e) + phase;
        g->idle = 0;
        g->period_timer = sim_at(n->e, g->period_anchor, SIM_K_CFS_PERIOD, g->index, period_timer_fired, g, 0);
    }
    for (int c = 0; c < n->cfg.cpus; c++) {
        unthrottle(n, g, c);
        g->rq[c].remaining = 0;
    }
    run_resched(n);
    reschedule(n);
}

void cfs_burst(cfs_group *g, int64_t cpu_ns) {
    cfs_node *n = g->node;
    if (cpu_ns <= 0) return;
    update(n);
    cfs_task *t = task_new(n, g, TASK_BURST);
    t->remaining = cpu_ns;
    wake(n, t);
    run_resched(n);
    reschedule(n);
}

/* ---- stress workers ---- */

static void stress_wake(sim_engine *e, void *ctx, uint64_t arg);

static void stress_new_slice(cfs_node *n, cfs_task *t) {
    t->ran_ns = 0;
    t->remaining = t->stress->load >= 100 ? INF_WORK : n->cfg.stress_slice_ns;
}

/* stress-ng: after a busy slice, sleep (100 - L) / L of it minus the bias; a negative delay resets the bias
 * and the next slice starts at once, the worker still running. */
static void stress_burst_done(cfs_node *n, int cpu, cfs_task *t) {
    int load = t->stress->load;
    int64_t busy = t->ran_ns; /* CPU time: CLOCK_PROCESS_CPUTIME_ID in 0.15.06 */
    int64_t delay = busy * (100 - load) / load - t->bias_ns;
    if (delay < 0) {
        t->bias_ns = 0;
        stress_new_slice(n, t);
        return;
    }
    block_current(n, cpu);
    t->sleep_start_ns = now_of(n);
    t->sleep_delay_ns = delay;
    t->measure_bias = 1;
    t->wake = sim_after(n->e, delay + n->cfg.stress_sleep_overshoot_ns, SIM_K_STRESS, t->g->index, stress_wake, t, 0);
}

static void stress_wake(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    cfs_task *t = ctx;
    cfs_node *n = t->g->node;
    update(n);
    t->wake = SIM_NO_EVENT;
    stress_new_slice(n, t);
    wake(n, t);
    run_resched(n);
    reschedule(n);
}

cfs_stress *cfs_stress_start(cfs_group *g, int workers, int load) {
    cfs_node *n = g->node;
    update(n);
    cfs_stress *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->g = g;
    s->workers = workers;
    s->load = load < 0 ? 0 : load > 100 ? 100 : load;
    s->tasks = calloc((size_t)(workers > 0 ? workers : 1), sizeof *s->tasks);
    if (!s->tasks) abort();
    s->next = n->stresses;
    n->stresses = s;
    for (int i = 0; i < workers; i++) {
        cfs_task *t = task_new(n, g, TASK_STRESS);
        t->stress = s;
        s->tasks[i] = t;
        if (s->load == 0) continue; /* load 0 only sleeps */
        stress_new_slice(n, t);
        wake(n, t);
    }
    run_resched(n);
    reschedule(n);
    return s;
}

void cfs_stress_stop(cfs_stress *s) {
    if (!s) return;
    cfs_node *n = s->g->node;
    update(n);
    for (int i = 0; i < s->workers; i++) {
        cfs_task *t = s->tasks[i];
        sim_cancel(n->e, &t->wake);
        remove_task(n, t);
        t->remaining = 0;
        t->measure_bias = 0;
        /* the task stays in the node's list, inert (asleep, no wake pending) */
    }
    s->workers = 0;
    run_resched(n);
    reschedule(n);
}
