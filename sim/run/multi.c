/*
 * multi.c: seed ranges on threads into sweeps; the violation search; the progress line (see multi.h).
 */
#include "sim/run/multi.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define PROGRESS_EVERY_NS 250000000LL

typedef struct pool {
    const sim_options *o;
    const run_hooks *hooks;
    const experiment_unit *unit;
    const char *label; /* the progress line's prefix */
    uint64_t lo, hi;
    sweep_run *runs; /* index seed - lo */
    atomic_uint_fast64_t next;
    atomic_uint_fast64_t stop_after; /* find-violation: seeds above a known failing one are skipped */
    atomic_uint_fast64_t done;
    atomic_int running; /* threads still working */
    int stop_at_violation;
    atomic_int error;
    char err[320];
    pthread_mutex_t lock; /* err and the perf sums */
    double run_wall_s, run_cpu_s;
} pool;

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(sweep_run *s, const sim_result *r) {
    const run_summary *m = &r->summary;
    for (int p = 0; p < 3; p++) {
        s->metrics[p * 3 + 0] = m->phase[p].success_rate;
        s->metrics[p * 3 + 1] = m->phase[p].p50_ms;
        s->metrics[p * 3 + 2] = m->phase[p].p99_ms;
    }
    s->metrics[9] = m->recovery_s;
    s->metrics[10] = (double)m->phase[1].timeouts;
    s->metrics[11] = m->phase[1].step_success[0];
    s->metrics[12] = m->phase[1].step_success[1];
    s->violation = r->violation.found;
    if (r->violation.found) {
        s->what = sweep_strdup(r->violation.what);
        s->at_ns = r->violation.at_ns;
    }
}

/* Runs one seed into its slot; -1 (and the pool's error set) when the run cannot start. */
static int run_seed(pool *p, uint64_t seed, double *wall, double *cpu) {
    run_hooks h = {0};
    if (p->hooks) {
        h.add_actions = p->hooks->add_actions;
        h.add_actions_ctx = p->hooks->add_actions_ctx;
    }
    sim_result r;
    char err[256];
    double cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID), wall0 = clock_s(CLOCK_MONOTONIC);
    if (sim_run_once(p->o, seed, &h, &r, err, sizeof err) < 0) {
        pthread_mutex_lock(&p->lock);
        snprintf(p->err, sizeof p->err, "seed %" PRIu64 ": %s", seed, err);
        pthread_mutex_unlock(&p->lock);
        atomic_store(&p->error, 1);
        return -1;
    }
    sweep_run *s = &p->runs[seed - p->lo];
    fill(s, &r);
    if (p->unit) {
        const sim_expectation *ex;
        int ne = experiment_unit_expectations(p->unit, &ex);
        for (int i = 0; i < ne && i < SWEEP_EXPECT_BITS; i++)
            if (expect_eval(&ex[i], &r.summary).pass) s->passed_bits |= UINT64_C(1) << i;
        s->failed_expectations = experiment_report_text(p->unit, NULL, p->o, &r);
    }
    s->done = 1;
    if (r.violation.found && p->stop_at_violation) {
        uint64_t cur = atomic_load(&p->stop_after);
        while (seed < cur && !atomic_compare_exchange_weak(&p->stop_after, &cur, seed)) {
        }
    }
    sim_result_free(&r);
    *cpu += clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    *wall += clock_s(CLOCK_MONOTONIC) - wall0;
    return 0;
}

static void *worker(void *arg) {
    pool *p = arg;
    double wall = 0, cpu = 0;
    for (;;) {
        uint64_t seed = atomic_fetch_add(&p->next, 1);
        if (seed > p->hi || atomic_load(&p->error)) break;
        if (p->stop_at_violation && seed > atomic_load(&p->stop_after)) break;
        if (run_seed(p, seed, &wall, &cpu) < 0) break;
        atomic_fetch_add(&p->done, 1);
    }
    pthread_mutex_lock(&p->lock);
    p->run_wall_s += wall;
    p->run_cpu_s += cpu;
    pthread_mutex_unlock(&p->lock);
    atomic_fetch_sub(&p->running, 1);
    return NULL;
}

/* "seeds 350 of 1000 done, 19.4/s, 34 s left", rewritten in place every quarter second until the threads end. */
static void progress(pool *p, double t0) {
    uint64_t n = p->hi - p->lo + 1;
    int shown = 0;
    while (atomic_load(&p->running) > 0) {
        struct timespec wait = {0, PROGRESS_EVERY_NS};
        nanosleep(&wait, NULL);
        uint64_t done = atomic_load(&p->done);
        double el = clock_s(CLOCK_MONOTONIC) - t0, rate = el > 0 ? (double)done / el : 0;
        char left[32] = "?";
        if (rate > 0) snprintf(left, sizeof left, "%.0f s", (double)(n - done) / rate);
        fprintf(stderr, "\r\033[K%sseeds %" PRIu64 " of %" PRIu64 " done, %.1f/s, %s left", p->label, done, n, rate,
                left);
        shown = 1;
    }
    if (shown) fputs("\r\033[K", stderr);
}

static int run_pool(pool *p, const sim_options *o, const run_hooks *hooks, const experiment_unit *unit,
                    const char *label, sweep_run *runs, uint64_t lo, uint64_t hi, int stop, multi_perf *perf) {
    memset(p, 0, sizeof *p);
    p->o = o;
    p->hooks = hooks;
    p->unit = unit;
    p->label = label;
    p->lo = lo;
    p->hi = hi;
    p->runs = runs;
    atomic_init(&p->next, lo);
    atomic_init(&p->stop_after, UINT64_MAX);
    atomic_init(&p->done, 0);
    atomic_init(&p->error, 0);
    p->stop_at_violation = stop;
    pthread_mutex_init(&p->lock, NULL);
    int nthreads = o->threads < 1 ? 1 : o->threads > MAX_THREADS ? MAX_THREADS : o->threads;
    atomic_init(&p->running, nthreads);
    pthread_t th[MAX_THREADS];
    double t0 = clock_s(CLOCK_MONOTONIC);
    for (int i = 0; i < nthreads; i++) pthread_create(&th[i], NULL, worker, p);
    if (isatty(STDERR_FILENO) && !o->quiet) progress(p, t0);
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    if (perf) {
        perf->wall_s += clock_s(CLOCK_MONOTONIC) - t0;
        perf->runs += atomic_load(&p->done);
        perf->threads = nthreads;
        perf->run_wall_s += p->run_wall_s;
        perf->run_cpu_s += p->run_cpu_s;
    }
    pthread_mutex_destroy(&p->lock);
    return atomic_load(&p->error) ? -1 : 0;
}

/* The seeds this process runs: all of them, or its shard's. */
static sim_sweep *new_sweep(const sim_options *o, sweep_mode mode, int nunits, char *err, size_t errlen) {
    uint64_t lo = o->seed, hi = o->seed_last;
    if (o->nshards > 1 && sweep_shard_range(o->seed, o->seed_last, o->shard, o->nshards, &lo, &hi) < 0) {
        snprintf(err, errlen, "--shard %d/%d: the part is empty (more shards than seeds)", o->shard, o->nshards);
        return NULL;
    }
    sim_sweep *s = sweep_new(mode, o->seed, o->seed_last, lo, hi, nunits);
    s->shard = o->nshards > 1 ? o->shard : 0;
    s->nshards = o->nshards > 1 ? o->nshards : 1;
    char text[1024];
    sim_options_describe_faults(o, text, sizeof text);
    s->faults = sweep_strdup(text);
    sim_options_command(o, o->seed, text, sizeof text);
    s->command = sweep_strdup(text);
    return s;
}

/* The violations' reproducing commands, written once the threads are done. */
static void add_reproduce(const sim_options *o, sim_sweep *s, sweep_unit *u) {
    char cmd[1024];
    for (uint64_t i = 0; i < sweep_count(s); i++)
        if (u->runs[i].violation) {
            sim_options_command(o, s->lo + i, cmd, sizeof cmd);
            u->runs[i].reproduce = sweep_strdup(cmd);
        }
}

/* The unit's texts: its header as the report prints it before the table, its name and expectations. */
static void unit_texts(sweep_unit *su, const experiment_unit *unit, const sim_options *uo, int u, int units) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) abort();
    experiment_report_header(unit, f, u, units);
    fprintf(f, "phases: baseline 0-%g s, chaos %g-%g s, recovery %g-%g s\n\n", (double)uo->baseline_ns / 1e9,
            (double)uo->baseline_ns / 1e9, (double)(uo->baseline_ns + uo->chaos_ns) / 1e9,
            (double)(uo->baseline_ns + uo->chaos_ns) / 1e9,
            (double)(uo->baseline_ns + uo->chaos_ns + uo->recovery_ns) / 1e9);
    fclose(f);
    su->header = text;
    su->name = sweep_strdup(experiment_unit_name(unit));
    const sim_expectation *ex;
    su->nexpects = experiment_unit_expectations(unit, &ex);
    su->expects = calloc((size_t)su->nexpects + 1, sizeof *su->expects);
    if (!su->expects) abort();
    for (int e = 0; e < su->nexpects; e++) su->expects[e] = sweep_strdup(ex[e].text);
}

sim_sweep *multi_seeds(const sim_options *o, const experiment_set *xs, multi_perf *perf, char *err, size_t errlen) {
    int units = xs ? experiment_unit_count(xs) : 1;
    sim_sweep *s = new_sweep(o, xs ? SWEEP_EXPERIMENTS : SWEEP_SEEDS, units, err, errlen);
    if (!s) return NULL;
    for (int u = 0; u < units; u++) {
        sweep_unit *su = &s->units[u];
        const experiment_unit *unit = xs ? experiment_unit_at(xs, u) : NULL;
        sim_options uo = *o;
        run_hooks h = {0};
        char label[64] = "";
        if (unit) {
            experiment_unit_options(unit, o, &uo);
            h.add_actions = experiment_add_actions;
            h.add_actions_ctx = (void *)(uintptr_t)unit;
            unit_texts(su, unit, &uo, u, units);
            snprintf(label, sizeof label, "chaos object %d of %d: ", u + 1, units);
        } else {
            su->header = sweep_strdup("");
            su->name = sweep_strdup("");
            su->expects = calloc(1, sizeof *su->expects);
        }
        pool p;
        int rc = run_pool(&p, &uo, &h, unit, label, su->runs, s->lo, s->hi, 0, perf);
        if (rc < 0) {
            snprintf(err, errlen, "%s", p.err);
            sweep_free(s);
            return NULL;
        }
        add_reproduce(o, s, su);
    }
    return s;
}

sim_sweep *multi_find_violation(const sim_options *o, const run_hooks *hooks, multi_perf *perf, char *err,
                                size_t errlen) {
    sim_sweep *s = new_sweep(o, SWEEP_FIND, 0, err, errlen);
    if (!s) return NULL;
    sweep_run *runs = calloc((size_t)sweep_count(s), sizeof *runs);
    if (!runs) abort();
    pool p;
    int rc = run_pool(&p, o, hooks, NULL, "", runs, s->lo, s->hi, 1, perf);
    for (uint64_t i = 0; rc == 0 && i < sweep_count(s); i++) {
        s->find_runs += runs[i].done;
        if (!runs[i].violation || s->found) continue;
        char cmd[1024];
        sim_options_command(o, s->lo + i, cmd, sizeof cmd);
        s->found = 1;
        s->found_seed = s->lo + i;
        s->found_at_ns = runs[i].at_ns;
        s->found_what = sweep_strdup(runs[i].what);
        s->found_reproduce = sweep_strdup(cmd);
    }
    for (uint64_t i = 0; i < sweep_count(s); i++) free(runs[i].what);
    free(runs);
    if (rc < 0) {
        snprintf(err, errlen, "%s", p.err);
        sweep_free(s);
        return NULL;
    }
    return s;
}

void multi_perf_print(FILE *out, const multi_perf *p) {
    double capacity = p->wall_s * (p->threads > 0 ? p->threads : 1);
    if (capacity <= 0) capacity = 1e-9;
    fprintf(out,
            "perf: %" PRIu64
            " runs on %d threads in %.3f s wall; the runs' own times add up to %.3f s, their CPU "
            "time to %.3f s; parallel efficiency %.3f by run time, %.3f by CPU time (over wall x %d threads)\n",
            p->runs, p->threads, p->wall_s, p->run_wall_s, p->run_cpu_s, p->run_wall_s / capacity,
            p->run_cpu_s / capacity, p->threads);
}
