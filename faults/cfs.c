/*
 * cfs.c: the CPU model of cfs.h, as a fluid discrete-event simulation.
 *
 * Between two events nothing changes: each CPU's running tasks progress at 1/n of a CPU each, and each
 * group's per-CPU runtime drains at the rate its tasks run there. update() applies the elapsed time;
 * reschedule() finds the next moment something changes by itself (a task finishes its burst, a tick when a
 * bandwidth-limited group runs) and arms one engine event for it. Period refills, slack distribution and
 * stress workers' sleeps are separate engine events.
 *
 * stress-ng timing (stress-cpu.c, stress_cpu()): a worker with 0 < L < 100 loops over
 *   busy:  run the method until the slice (10 ms) of CPU time has been used
 *   sleep: delay = (100 - L) / L * t_busy - bias;  select(delay);  bias = slept - delay
 * so the bias cancels select()'s overshoot, including time the worker could not run after waking because
 * its cgroup was throttled. L = 100 never sleeps.
 */
#include "faults/cfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/kinds.h"
#include "sim/rng.h"

#define MS 1000000LL
#define US 1000LL
#define MAX_CPUS 64
#define INF_WORK INT64_MAX

enum task_kind { TASK_WORKER = 0, TASK_STRESS = 1 };

typedef struct work_item {
    uint64_t id;
    int64_t cpu_ns;
    cfs_done_fn done;
    void *ctx;
    struct work_item *next;
} work_item;

typedef struct cfs_task {
    int kind;
    cfs_group *g;
    int cpu;      /* CPU while runnable, else -1 */
    int prev_cpu;
    int64_t remaining; /* CPU ns left in the current burst; INF_WORK for a spinning worker */
    int64_t ran_ns;    /* CPU time of the current burst so far */
    /* service thread */
    work_item *item;
    /* stress worker */
    cfs_stress *stress;
    int64_t busy_start_ns, sleep_start_ns, sleep_delay_ns, bias_ns;
    int woke_from_sleep; /* measure the actual sleep when it next runs */
    sim_event_id wake;
    struct cfs_task *next_in_node;
} cfs_task;

typedef struct cfs_rq {
    int64_t remaining;
    int throttled;
    int64_t throttled_since;
} cfs_rq;

struct cfs_group {
    cfs_node *node;
    char name[48];
    uint32_t index;
    int64_t quota, period;
    int64_t pool;
    cfs_rq rq[MAX_CPUS];
    int threads;
    cfs_task **workers;
    work_item *queue_head, *queue_tail;
    int queued;
    uint64_t next_item_id;
    sim_event_id period_timer, slack_timer;
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
    sim_rng rng;
    int64_t last_update;
    cfs_task *tasks; /* every task ever created (freed with the node) */
    cfs_group *groups;
    uint32_t ngroups;
    cfs_stress *stresses;
    sim_event_id next_event;
    int in_callbacks;
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
}

cfs_node *cfs_node_new(sim_engine *e, const cfs_config *cfg, uint64_t seed) {
    cfs_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->e = e;
    n->cfg = *cfg;
    if (n->cfg.cpus < 1) n->cfg.cpus = 1;
    if (n->cfg.cpus > MAX_CPUS) n->cfg.cpus = MAX_CPUS;
    sim_rng_init(&n->rng, seed, "node/cpu");
    n->last_update = sim_now(e);
    return n;
}

const cfs_config *cfs_node_config(const cfs_node *n) { return &n->cfg; }
const cfs_group_stats *cfs_group_get_stats(const cfs_group *g) { return &g->stats; }
const char *cfs_group_name(const cfs_group *g) { return g->name; }
int cfs_group_queue_length(const cfs_group *g) {
    int busy = 0;
    for (int i = 0; i < g->threads; i++) busy += g->workers[i]->item != NULL;
    return g->queued + busy;
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
        free(t);
        t = next;
    }
    for (cfs_group *g = n->groups; g;) {
        cfs_group *next = g->next;
        free_items(g->queue_head);
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

/* ---- who runs ---- */

static int limited(const cfs_group *g) { return g->quota > 0; }

static int task_running(const cfs_task *t) { return t->cpu >= 0 && !t->g->rq[t->cpu].throttled; }

static int running_on(const cfs_node *n, int cpu) {
    int k = 0;
    for (const cfs_task *t = n->tasks; t; t = t->next_in_node) k += t->cpu == cpu && task_running(t);
    return k;
}

static int runnable_on(const cfs_node *n, int cpu) {
    int k = 0;
    for (const cfs_task *t = n->tasks; t; t = t->next_in_node) k += t->cpu == cpu;
    return k;
}

static int group_running_on(const cfs_group *g, int cpu) {
    int k = 0;
    for (const cfs_task *t = g->node->tasks; t; t = t->next_in_node) k += t->g == g && t->cpu == cpu;
    return k;
}

/* ---- bandwidth ---- */

static void throttle(cfs_group *g, int cpu, int64_t now) {
    if (g->rq[cpu].throttled) return;
    g->rq[cpu].throttled = 1;
    g->rq[cpu].throttled_since = now;
}

static void unthrottle(cfs_group *g, int cpu, int64_t now) {
    if (!g->rq[cpu].throttled) return;
    g->rq[cpu].throttled = 0;
    g->stats.throttled_ns += now - g->rq[cpu].throttled_since;
}

/* assign_cfs_rq_runtime(): pull a slice from the pool; throttle when nothing is left. */
static void check_runtime(cfs_group *g, int cpu, int64_t now) {
    if (!limited(g)) return;
    cfs_rq *rq = &g->rq[cpu];
    if (rq->throttled || rq->remaining > 0) return;
    int64_t want = g->node->cfg.slice_ns - rq->remaining;
    int64_t amount = want < g->pool ? want : g->pool;
    if (amount > 0) {
        g->pool -= amount;
        rq->remaining += amount;
    }
    if (rq->remaining <= 0 && group_running_on(g, cpu)) throttle(g, cpu, now);
}

static void distribute(cfs_group *g, int64_t now) {
    for (int cpu = 0; cpu < g->node->cfg.cpus && g->pool > 0; cpu++) {
        cfs_rq *rq = &g->rq[cpu];
        if (!rq->throttled) continue;
        int64_t runtime = -rq->remaining + 1;
        if (runtime > g->pool) runtime = g->pool;
        g->pool -= runtime;
        rq->remaining += runtime;
        if (rq->remaining > 0) unthrottle(g, cpu, now);
    }
}

/* ---- time ---- */

static void update(cfs_node *n) {
    int64_t now = sim_now(n->e);
    int64_t dt = now - n->last_update;
    if (dt <= 0) return;
    n->last_update = now;
    int counts[MAX_CPUS];
    for (int c = 0; c < n->cfg.cpus; c++) counts[c] = running_on(n, c);
    for (cfs_task *t = n->tasks; t; t = t->next_in_node) {
        if (!task_running(t)) continue;
        int64_t share = dt / counts[t->cpu];
        if (t->remaining != INF_WORK) t->remaining -= share;
        t->ran_ns += share;
        cfs_group *g = t->g;
        g->stats.cpu_used_ns += share;
        if (t->kind == TASK_WORKER) g->stats.work_cpu_ns += share;
        else g->stats.stress_cpu_ns += share;
        if (limited(g)) g->rq[t->cpu].remaining -= share;
    }
}

static void cpu_event(sim_engine *e, void *ctx, uint64_t arg);

static int64_t next_tick_after(const cfs_node *n, int64_t now) { return (now / n->cfg.tick_ns + 1) * n->cfg.tick_ns; }

static void reschedule(cfs_node *n) {
    int64_t now = sim_now(n->e);
    int64_t next = INT64_MAX;
    int counts[MAX_CPUS];
    for (int c = 0; c < n->cfg.cpus; c++) counts[c] = running_on(n, c);
    int need_tick = 0;
    for (cfs_task *t = n->tasks; t; t = t->next_in_node) {
        if (!task_running(t)) continue;
        if (t->remaining != INF_WORK) {
            int64_t when = now + (t->remaining > 0 ? t->remaining : 0) * counts[t->cpu];
            if (when < next) next = when;
        }
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

/* select_task_rq_fair(), simplified: previous CPU if idle, else any idle CPU, else the least loaded. */
static int pick_cpu(cfs_node *n, cfs_task *t) {
    if (t->prev_cpu >= 0 && running_on(n, t->prev_cpu) == 0) return t->prev_cpu;
    for (int c = 0; c < n->cfg.cpus; c++)
        if (running_on(n, c) == 0) return c;
    int best = t->prev_cpu >= 0 ? t->prev_cpu : 0, best_load = runnable_on(n, best);
    for (int c = 0; c < n->cfg.cpus; c++) {
        int load = runnable_on(n, c);
        if (load < best_load) {
            best = c;
            best_load = load;
        }
    }
    return best;
}

static void enqueue(cfs_node *n, cfs_task *t) {
    int cpu = pick_cpu(n, t);
    t->cpu = cpu;
    t->prev_cpu = cpu;
    check_runtime(t->g, cpu, sim_now(n->e));
}

/* The task stops being runnable; its CPU may go idle and return spare runtime, or pull a waiting task. */
static void slack_timer_fired(sim_engine *e, void *ctx, uint64_t arg);

static void dequeue(cfs_node *n, cfs_task *t) {
    int cpu = t->cpu;
    if (cpu < 0) return;
    t->cpu = -1;
    cfs_group *g = t->g;
    int64_t now = sim_now(n->e);
    if (limited(g) && !group_running_on(g, cpu)) {
        /* return_cfs_rq_runtime(): keep min_cfs_rq_runtime, give the rest back, let the slack timer
         * distribute it to throttled CPUs. */
        cfs_rq *rq = &g->rq[cpu];
        if (rq->throttled) unthrottle(g, cpu, now); /* an empty throttled rq has nothing left to hold */
        int64_t slack = rq->remaining - n->cfg.min_runtime_ns;
        if (slack > 0) {
            g->pool += slack;
            rq->remaining -= slack;
            int any_throttled = 0;
            for (int c = 0; c < n->cfg.cpus; c++) any_throttled |= g->rq[c].throttled;
            if (any_throttled && g->pool > n->cfg.slice_ns && !sim_is_pending(n->e, g->slack_timer))
                g->slack_timer = sim_after(n->e, n->cfg.slack_ns, SIM_K_CPU, 1000 + g->index, slack_timer_fired, g, 1);
        }
    }
    /* newidle balance: an idle CPU pulls a task that shares another CPU */
    if (running_on(n, cpu) == 0) {
        for (cfs_task *o = n->tasks; o; o = o->next_in_node) {
            if (o->cpu < 0 || o->cpu == cpu || !task_running(o) || running_on(n, o->cpu) < 2) continue;
            o->cpu = cpu;
            o->prev_cpu = cpu;
            check_runtime(o->g, cpu, now);
            break;
        }
    }
}

static void slack_timer_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    cfs_group *g = ctx;
    cfs_node *n = g->node;
    update(n);
    g->slack_timer = SIM_NO_EVENT;
    distribute(g, sim_now(n->e));
    reschedule(n);
}

static void period_timer_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)arg;
    cfs_group *g = ctx;
    cfs_node *n = g->node;
    update(n);
    int64_t now = sim_now(e);
    g->stats.periods++;
    int throttled = 0;
    for (int c = 0; c < n->cfg.cpus; c++) throttled |= g->rq[c].throttled;
    if (throttled) g->stats.throttled_periods++;
    g->pool = g->quota;
    distribute(g, now);
    g->period_timer = sim_after(e, g->period, SIM_K_CFS_PERIOD, g->index, period_timer_fired, g, 0);
    reschedule(n);
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
    int64_t now = sim_now(n->e);
    /* Bursts that are complete. Callbacks run after the model is consistent; they may queue work. */
    work_item *finished = NULL, **tail = &finished;
    for (cfs_task *t = n->tasks; t; t = t->next_in_node) {
        if (t->cpu < 0 || t->remaining == INF_WORK || t->remaining > 4) continue; /* ns rounding of dt/n */
        if (t->kind == TASK_WORKER) {
            work_item *w = t->item;
            t->item = NULL;
            *tail = w;
            tail = &w->next;
            w->next = NULL;
            dequeue(n, t);
            worker_take(n, t);
        } else {
            stress_burst_done(n, t);
        }
    }
    /* Tick: runtime accounting for every CPU that runs a limited group. */
    if (now % n->cfg.tick_ns == 0) {
        for (cfs_group *g = n->groups; g; g = g->next)
            for (int c = 0; c < n->cfg.cpus; c++)
                if (limited(g) && group_running_on(g, c)) check_runtime(g, c, now);
    }
    reschedule(n);
    while (finished) {
        work_item *w = finished;
        finished = w->next;
        w->done(w->ctx);
        free(w);
    }
}

/* An idle service thread takes the next queued item. */
static void worker_take(cfs_node *n, cfs_task *t) {
    cfs_group *g = t->g;
    if (t->item || !g->queue_head) return;
    work_item *w = g->queue_head;
    g->queue_head = w->next;
    if (!g->queue_head) g->queue_tail = NULL;
    g->queued--;
    w->next = NULL;
    t->item = w;
    t->remaining = w->cpu_ns > 0 ? w->cpu_ns : 1;
    t->ran_ns = 0;
    enqueue(n, t);
}

uint64_t cfs_work(cfs_group *g, int64_t cpu_ns, cfs_done_fn done, void *ctx) {
    cfs_node *n = g->node;
    update(n);
    work_item *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->id = ++g->next_item_id;
    w->cpu_ns = cpu_ns;
    w->done = done;
    w->ctx = ctx;
    if (g->queue_tail) g->queue_tail->next = w;
    else g->queue_head = w;
    g->queue_tail = w;
    g->queued++;
    g->stats.work_items++;
    for (int i = 0; i < g->threads; i++) {
        if (!g->workers[i]->item) {
            worker_take(n, g->workers[i]);
            break;
        }
    }
    reschedule(n);
    return w->id;
}

void cfs_group_kill_work(cfs_group *g) {
    cfs_node *n = g->node;
    update(n);
    free_items(g->queue_head);
    g->queue_head = g->queue_tail = NULL;
    g->queued = 0;
    for (int i = 0; i < g->threads; i++) {
        cfs_task *t = g->workers[i];
        if (t->item) {
            free(t->item);
            t->item = NULL;
            dequeue(n, t);
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
    for (int c = 0; c < n->cfg.cpus; c++) {
        unthrottle(g, c, sim_now(n->e));
        g->rq[c].remaining = 0;
    }
    if (g->quota > 0) {
        /* The period timer's phase is arbitrary relative to the workload: seeded per group. */
        sim_rng r;
        char name[64];
        snprintf(name, sizeof name, "cfs-phase/%s", g->name);
        sim_rng_init(&r, n->rng.s[0], name);
        int64_t phase = (int64_t)sim_rng_below(&r, (uint64_t)g->period) + 1;
        g->period_timer = sim_after(n->e, phase, SIM_K_CFS_PERIOD, g->index, period_timer_fired, g, 0);
    }
    reschedule(n);
}

/* ---- stress workers ---- */

static void stress_wake(sim_engine *e, void *ctx, uint64_t arg);

static void stress_begin_burst(cfs_node *n, cfs_task *t) {
    int load = t->stress->load;
    t->busy_start_ns = sim_now(n->e);
    t->ran_ns = 0;
    t->remaining = load >= 100 ? INF_WORK : n->cfg.stress_slice_ns;
    enqueue(n, t);
}

static void stress_burst_done(cfs_node *n, cfs_task *t) {
    int64_t now = sim_now(n->e);
    int load = t->stress->load;
    int64_t busy = n->cfg.stress_timing == CFS_STRESS_CPU_TIME ? t->ran_ns : now - t->busy_start_ns;
    int64_t delay = busy * (100 - load) / load - t->bias_ns;
    dequeue(n, t);
    if (delay < 0) {
        /* stress-ng: a negative delay resets the bias and the next slice starts at once */
        t->bias_ns = 0;
        stress_begin_burst(n, t);
        return;
    }
    t->sleep_start_ns = now;
    t->sleep_delay_ns = delay;
    t->woke_from_sleep = 1;
    t->wake = sim_after(n->e, delay + n->cfg.stress_sleep_overshoot_ns, SIM_K_STRESS, t->g->index, stress_wake, t, 0);
}

static void stress_wake(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    cfs_task *t = ctx;
    cfs_node *n = t->g->node;
    update(n);
    t->wake = SIM_NO_EVENT;
    /* The bias is what the sleep really took beyond the request; the worker can only read the clock once it
     * runs again, which we approximate by the wake-up instant plus the overshoot. */
    t->bias_ns = (sim_now(n->e) - t->sleep_start_ns) - t->sleep_delay_ns;
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
        /* Workers start within the first slice, in a seeded order, as forked processes do. */
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
        dequeue(n, t);
        t->remaining = 0;
        /* the task stays in the node's list, inert (cpu == -1, no wake pending) */
    }
    s->workers = 0;
    reschedule(n);
}
