/*
 * cfs.c: the CPU model of cfs.h, as a discrete-event simulation of per-CPU run queues.
 *
 * Each CPU runs one task (`current`) for at most one quantum, then the next task of its queue, round
 * robin; a task that wakes joins the queue (no wake-up preemption). Between two events nothing changes:
 * the current task of each CPU progresses at full speed and drains its group's runtime on that CPU.
 * update() applies the elapsed time; reschedule() finds the next moment something changes by itself (a
 * task finishes its burst, a quantum ends with others waiting, a tick while a bandwidth-limited group
 * runs) and arms one engine event for it. Period refills, slack distribution and stress workers' sleeps
 * are separate engine events.
 *
 * Throttling follows the kernel: when a group's cfs_rq on a CPU runs out of runtime and the pool is empty,
 * every task of the group on that CPU leaves the run queue (the rq's `throttled` list) until a refill gives
 * the rq runtime again (distribute_cfs_runtime), and the CPU runs other groups' tasks or goes idle.
 *
 * stress-ng timing (stress-cpu.c, stress_cpu(), measured on 0.15.06: docs/measurements/cfs-stress.md R1):
 * a worker with 0 < L < 100 loops over
 *   busy:  run until its own CPU time (CLOCK_PROCESS_CPUTIME_ID) has advanced by the slice (10 ms)
 *   sleep: delay = (100 - L) / L * t_busy - bias;  select(delay);  bias = slept - delay
 * where "slept" ends when the worker runs again (it reads the clock then), so a wake-up into a throttled
 * cgroup makes the next delay negative: the sleep is skipped and the bias reset. L = 100 never sleeps.
 */
#include "faults/cfs.h"

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

enum task_kind { TASK_WORKER = 0, TASK_STRESS = 1, TASK_BURST = 2 };
enum task_state { T_SLEEP = 0, T_QUEUED, T_RUNNING, T_THROTTLED };

typedef struct work_item {
    uint64_t id;
    int64_t cpu_ns;
    cfs_done_fn done;
    void *ctx;
    struct work_item *next;
} work_item;

typedef struct cfs_task {
    int kind;
    int state;
    cfs_group *g;
    int cpu; /* CPU while queued, running or throttled; -1 while asleep */
    int prev_cpu;
    int64_t remaining;      /* CPU ns left in the current burst; INF_WORK for a spinning worker */
    int64_t ran_ns;         /* CPU time of the current burst so far */
    struct cfs_task *qnext; /* link in a CPU's queue or an rq's throttled list */
    /* service thread (lane) */
    work_item *item;
    work_item *qhead, *qtail;
    int queued;
    /* stress worker */
    cfs_stress *stress;
    int64_t sleep_start_ns, sleep_delay_ns, bias_ns;
    int measure_bias; /* woke from a sleep: the bias is measured when it next runs */
    sim_event_id wake;
    struct cfs_task *next_in_node;
} cfs_task;

typedef struct cfs_rq {
    int64_t remaining;
    int throttled;
    int64_t throttled_since;
    cfs_task *thead, *ttail; /* tasks parked while throttled */
} cfs_rq;

typedef struct cpu_state {
    cfs_task *current;
    int64_t slice_end;
    int64_t busy_from; /* the current task runs from here (a woken idle CPU takes wake_latency) */
    cfs_task *qhead, *qtail;
    int nqueued;
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
    int64_t last_update;
    cpu_state cpus[MAX_CPUS];
    cfs_task *tasks; /* every task ever created (freed with the node) */
    cfs_group *groups;
    uint32_t ngroups;
    cfs_stress *stresses;
    sim_event_id next_event;
    freelist spare_items; /* finished items kept for the next ones (one per request otherwise) */
};

void cfs_config_defaults(cfs_config *cfg) {
    cfg->cpus = 2;
    cfg->tick_ns = 4 * MS;
    cfg->slice_ns = 5 * MS;
    cfg->min_runtime_ns = 1 * MS;
    cfg->slack_ns = 5 * MS;
    cfg->stress_slice_ns = 10 * MS;
    cfg->stress_timing = CFS_STRESS_CPU_TIME;
    cfg->stress_sleep_overshoot_ns = 60 * US;
    /* EEVDF's sysctl_sched_base_slice (0.75 ms): what a woken thread waits behind a hog. R4 measured ~1 ms
     * alternation between two spinners; 0.75 ms fits the lab best (docs/calibration.md, fidelity table). */
    cfg->quantum_ns = 750 * US;
    cfg->wake_latency_ns = 20 * US; /* mean; fitted to the lab's no-fault p50 and p99 (docs/calibration.md) */
}

cfs_node *cfs_node_new(sim_engine *e, const cfs_config *cfg, uint64_t seed) {
    cfs_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->e = e;
    n->cfg = *cfg;
    n->spare_items = FREELIST_INIT(work_item);
    if (n->cfg.cpus < 1) n->cfg.cpus = 1;
    if (n->cfg.cpus > MAX_CPUS) n->cfg.cpus = MAX_CPUS;
    if (n->cfg.quantum_ns <= 0) n->cfg.quantum_ns = 1 * MS;
    pc_rng_init(&n->rng, seed, "node/cpu");
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
    t->next_in_node = n->tasks;
    n->tasks = t;
    return t;
}

static int limited(const cfs_group *g) { return g->quota > 0; }
static int64_t now_of(const cfs_node *n) { return sim_now(n->e); }

/* How long an idle CPU takes to start a woken task: exponential around wake_latency_ns (a halted vCPU is
 * woken through the host, usually fast, sometimes not), drawn from the node's seeded stream. */
static int64_t wake_delay(cfs_node *n) {
    if (n->cfg.wake_latency_ns <= 0) return 0;
    return pc_rng_exp_ns(&n->rng, (double)n->cfg.wake_latency_ns);
}

/* ---- queues ---- */

static void push(cfs_task **head, cfs_task **tail, cfs_task *t) {
    t->qnext = NULL;
    if (*tail)
        (*tail)->qnext = t;
    else
        *head = t;
    *tail = t;
}

static int unlink_task(cfs_task **head, cfs_task **tail, cfs_task *t) {
    cfs_task *prev = NULL;
    for (cfs_task *x = *head; x; prev = x, x = x->qnext) {
        if (x != t) continue;
        if (prev)
            prev->qnext = x->qnext;
        else
            *head = x->qnext;
        if (*tail == x) *tail = prev;
        x->qnext = NULL;
        return 1;
    }
    return 0;
}

/* Tasks of group g that are runnable on this CPU (queued or running, not throttled). */
static int group_on_cpu(const cfs_node *n, const cfs_group *g, int cpu) {
    const cpu_state *c = &n->cpus[cpu];
    int k = c->current && c->current->g == g;
    for (const cfs_task *t = c->qhead; t; t = t->qnext) k += t->g == g;
    return k;
}

static int cpu_load(const cfs_node *n, int cpu) { return (n->cpus[cpu].current != NULL) + n->cpus[cpu].nqueued; }

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

static void reschedule(cfs_node *n) {
    int64_t now = now_of(n);
    int64_t next = INT64_MAX;
    int need_tick = 0;
    for (int c = 0; c < n->cfg.cpus; c++) {
        cpu_state *cs = &n->cpus[c];
        cfs_task *t = cs->current;
        if (!t) continue;
        int64_t start = cs->busy_from > now ? cs->busy_from : now;
        if (t->remaining != INF_WORK) {
            int64_t when = start + (t->remaining > 0 ? t->remaining : 0);
            if (when < next) next = when;
        }
        if (cs->qhead && cs->slice_end < next) next = cs->slice_end > start ? cs->slice_end : start;
        if (limited(t->g)) need_tick = 1;
    }
    if (need_tick) {
        int64_t tick = next_tick_after(n, now);
        if (tick < next) next = tick;
    }
    if (sim_is_pending(n->e, n->next_event) && sim_event_time(n->e, n->next_event) == next) return;
    sim_cancel(n->e, &n->next_event);
    if (next != INT64_MAX) n->next_event = sim_at(n->e, next, SIM_K_CPU, 0, cpu_event, n, 0);
}

/* ---- bandwidth ---- */

static void switch_in(cfs_node *n, int cpu);

static void park(cfs_node *n, cfs_task *t, int cpu) {
    cfs_rq *rq = &t->g->rq[cpu];
    t->state = T_THROTTLED;
    push(&rq->thead, &rq->ttail, t);
    (void)n;
}

/* throttle_cfs_rq(): every task of the group on this CPU leaves the run queue. */
static void throttle(cfs_node *n, cfs_group *g, int cpu) {
    cfs_rq *rq = &g->rq[cpu];
    if (rq->throttled) return;
    rq->throttled = 1;
    rq->throttled_since = now_of(n);
    cpu_state *cs = &n->cpus[cpu];
    for (cfs_task *t = cs->qhead; t;) {
        cfs_task *next = t->qnext;
        if (t->g == g) {
            unlink_task(&cs->qhead, &cs->qtail, t);
            cs->nqueued--;
            park(n, t, cpu);
        }
        t = next;
    }
    if (cs->current && cs->current->g == g) {
        cfs_task *t = cs->current;
        cs->current = NULL;
        park(n, t, cpu);
        switch_in(n, cpu);
    }
}

static void unthrottle(cfs_node *n, cfs_group *g, int cpu) {
    cfs_rq *rq = &g->rq[cpu];
    if (!rq->throttled) return;
    rq->throttled = 0;
    g->stats.throttled_ns += now_of(n) - rq->throttled_since;
    cpu_state *cs = &n->cpus[cpu];
    while (rq->thead) {
        cfs_task *t = rq->thead;
        unlink_task(&rq->thead, &rq->ttail, t);
        t->state = T_QUEUED;
        push(&cs->qhead, &cs->qtail, t);
        cs->nqueued++;
    }
    if (!cs->current) switch_in(n, cpu);
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
    reschedule(n);
}

/* return_cfs_rq_runtime(): an rq with no task left keeps min_cfs_rq_runtime, returns the rest. */
static void return_runtime(cfs_node *n, cfs_group *g, int cpu) {
    if (!limited(g) || group_on_cpu(n, g, cpu) || g->rq[cpu].thead) return;
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
    reschedule(n);
}

/* start_cfs_bandwidth(): the timer restarts at the next boundary of its grid. */
static void start_period_timer(cfs_node *n, cfs_group *g) {
    int64_t now = now_of(n);
    int64_t k = now >= g->period_anchor ? (now - g->period_anchor) / g->period + 1 : 0;
    g->period_timer =
        sim_at(n->e, g->period_anchor + k * g->period, SIM_K_CFS_PERIOD, g->index, period_timer_fired, g, 0);
}

/* ---- scheduling ---- */

/* The next task of this CPU's queue becomes current (or, the queue empty, one waiting elsewhere). */
static void switch_in(cfs_node *n, int cpu) {
    cpu_state *cs = &n->cpus[cpu];
    int64_t now = now_of(n);
    while (!cs->current) {
        cfs_task *t = cs->qhead;
        if (!t) {
            /* newidle balance: pull a task waiting behind another CPU's current one */
            for (int c = 0; c < n->cfg.cpus && !t; c++) {
                if (c == cpu || !n->cpus[c].qhead) continue;
                t = n->cpus[c].qhead;
                unlink_task(&n->cpus[c].qhead, &n->cpus[c].qtail, t);
                n->cpus[c].nqueued--;
                if (t->g->rq[cpu].throttled) { /* cannot run here either: park it on this CPU's rq */
                    t->cpu = cpu;
                    t->prev_cpu = cpu;
                    park(n, t, cpu);
                    t = NULL;
                    continue;
                }
                t->cpu = cpu;
                t->prev_cpu = cpu;
                cs->busy_from = now + wake_delay(n); /* the pulled task starts on an idle CPU */
                cs->current = t;
                t->state = T_RUNNING;
                cs->slice_end = cs->busy_from + n->cfg.quantum_ns;
            }
            if (!t) return;
        } else {
            unlink_task(&cs->qhead, &cs->qtail, t);
            cs->nqueued--;
            if (cs->busy_from < now) cs->busy_from = now;
            cs->current = t;
            t->state = T_RUNNING;
            cs->slice_end = cs->busy_from + n->cfg.quantum_ns;
        }
        /* a context switch accounts runtime (check_cfs_rq_runtime in pick_next_task) */
        check_runtime(n, t->g, cpu);
        if (cs->current == t && t->measure_bias) {
            /* stress-ng reads the clock when it runs again: the bias includes any throttled wait */
            t->bias_ns = (cs->busy_from - t->sleep_start_ns) - t->sleep_delay_ns;
            t->measure_bias = 0;
        }
    }
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

/* A task becomes runnable. */
static void wake(cfs_node *n, cfs_task *t) {
    int cpu = pick_cpu(n, t);
    cpu_state *cs = &n->cpus[cpu];
    t->cpu = cpu;
    t->prev_cpu = cpu;
    if (t->g->rq[cpu].throttled) {
        park(n, t, cpu);
        return;
    }
    int was_idle = cs->current == NULL;
    t->state = T_QUEUED;
    push(&cs->qhead, &cs->qtail, t);
    cs->nqueued++;
    if (was_idle) {
        cs->busy_from = now_of(n) + wake_delay(n);
        switch_in(n, cpu);
    }
}

/* The current task of `cpu` stops (its burst is done or it goes to sleep). */
static void stop_current(cfs_node *n, int cpu) {
    cpu_state *cs = &n->cpus[cpu];
    cfs_task *t = cs->current;
    cs->current = NULL;
    t->state = T_SLEEP;
    t->cpu = -1;
    return_runtime(n, t->g, cpu);
    switch_in(n, cpu);
}

/* Removes a task from wherever it is (pod killed, stress stopped). */
static void remove_task(cfs_node *n, cfs_task *t) {
    if (t->state == T_SLEEP) return;
    int cpu = t->cpu;
    cpu_state *cs = &n->cpus[cpu];
    if (t->state == T_RUNNING) {
        stop_current(n, cpu);
        return;
    }
    if (t->state == T_QUEUED && unlink_task(&cs->qhead, &cs->qtail, t)) cs->nqueued--;
    if (t->state == T_THROTTLED) unlink_task(&t->g->rq[cpu].thead, &t->g->rq[cpu].ttail, t);
    t->state = T_SLEEP;
    t->cpu = -1;
    return_runtime(n, t->g, cpu);
}

/* ---- service work ---- */

static void worker_take(cfs_node *n, cfs_task *t);
static void stress_burst_done(cfs_node *n, cfs_task *t);

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
        if (t->remaining != INF_WORK && t->remaining <= DONE_SLACK) {
            if (t->kind == TASK_WORKER) {
                work_item *w = t->item;
                t->item = NULL;
                w->next = NULL;
                *tail = w;
                tail = &w->next;
                stop_current(n, c);
                worker_take(n, t);
            } else if (t->kind == TASK_STRESS) {
                stop_current(n, c);
                stress_burst_done(n, t);
            } else {
                stop_current(n, c); /* a one-off burst */
            }
        } else if (now >= cs->slice_end) {
            if (cs->qhead) {
                /* the quantum is over and others wait: to the back of the queue */
                cs->current = NULL;
                t->state = T_QUEUED;
                push(&cs->qhead, &cs->qtail, t);
                cs->nqueued++;
                switch_in(n, c);
            } else {
                cs->slice_end = now + n->cfg.quantum_ns;
            }
        }
    }
    /* Tick: runtime accounting for every CPU running a limited group (a CPU can overrun until then). */
    if (now % n->cfg.tick_ns == 0)
        for (int c = 0; c < n->cfg.cpus; c++)
            if (n->cpus[c].current) check_runtime(n, n->cpus[c].current->g, c);
    reschedule(n);
    while (finished) {
        work_item *w = finished;
        finished = w->next;
        if (w->done) w->done(w->ctx);
        freelist_give(&n->spare_items, w);
    }
}

/* An idle lane takes its next queued item. */
static void worker_take(cfs_node *n, cfs_task *t) {
    if (t->item || !t->qhead) return;
    work_item *w = t->qhead;
    t->qhead = w->next;
    if (!t->qhead) t->qtail = NULL;
    t->queued--;
    w->next = NULL;
    t->item = w;
    t->remaining = w->cpu_ns > 0 ? w->cpu_ns : 1;
    t->ran_ns = 0;
    wake(n, t);
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
    worker_take(n, t);
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
        if (t->item) {
            remove_task(n, t);
            free(t->item);
            t->item = NULL;
        }
    }
    reschedule(n);
}

/* ---- groups ---- */

cfs_group *cfs_group_new(cfs_node *n, const char *name, int64_t quota_ns, int64_t period_ns, int threads) {
    cfs_group *g = calloc(1, sizeof *g);
    if (!g) abort();
    g->node = n;
    g->index = n->ngroups++;
    snprintf(g->name, sizeof g->name, "%s", name);
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
    reschedule(n);
}

void cfs_burst(cfs_group *g, int64_t cpu_ns) {
    cfs_node *n = g->node;
    if (cpu_ns <= 0) return;
    update(n);
    cfs_task *t = task_new(n, g, TASK_BURST);
    t->remaining = cpu_ns;
    wake(n, t);
    reschedule(n);
}

/* ---- stress workers ---- */

static void stress_wake(sim_engine *e, void *ctx, uint64_t arg);

static void stress_begin_burst(cfs_node *n, cfs_task *t) {
    t->ran_ns = 0;
    t->remaining = t->stress->load >= 100 ? INF_WORK : n->cfg.stress_slice_ns;
    wake(n, t);
}

static void stress_burst_done(cfs_node *n, cfs_task *t) {
    int load = t->stress->load;
    int64_t busy = t->ran_ns; /* CPU time: CLOCK_PROCESS_CPUTIME_ID in 0.15.06 */
    int64_t delay = busy * (100 - load) / load - t->bias_ns;
    if (delay < 0) {
        /* stress-ng: a negative delay resets the bias and the next slice starts at once */
        t->bias_ns = 0;
        stress_begin_burst(n, t);
        return;
    }
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
    stress_begin_burst(n, t);
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
        stress_begin_burst(n, t);
    }
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
    reschedule(n);
}
