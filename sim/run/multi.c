/*
 * multi.c: seed ranges on threads, with intervals; the violation search (see multi.h).
 */
#include "sim/run/multi.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/run/shrink.h"

#define METRICS 13
#define MAX_EXPECT_BITS 64

static const char *const metric_names[METRICS] = {"baseline.success_rate",
                                                  "baseline.p50_ms",
                                                  "baseline.p99_ms",
                                                  "chaos.success_rate",
                                                  "chaos.p50_ms",
                                                  "chaos.p99_ms",
                                                  "recovery.success_rate",
                                                  "recovery.p50_ms",
                                                  "recovery.p99_ms",
                                                  "recovery_s",
                                                  "chaos.timeouts",
                                                  "chaos.inventory.success",
                                                  "chaos.notification.success"};

typedef struct seed_slot {
    int done;
    int failed_expectations;
    uint64_t passed_bits; /* bit i: expectation i held */
    int violation;
    double metrics[METRICS];
    char what[512];
    int64_t at_ns;
} seed_slot;

typedef struct pool {
    const sim_options *o;
    const run_hooks *hooks;
    const experiment_unit *unit;
    uint64_t first, last;
    atomic_uint_fast64_t next;
    atomic_uint_fast64_t stop_after; /* find-violation: seeds above a known failing one are skipped */
    int stop_at_violation;
    seed_slot *slots;
    atomic_int error;
    char err[320];
    pthread_mutex_t err_lock;
} pool;

static void fill(seed_slot *s, const sim_result *r) {
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
        snprintf(s->what, sizeof s->what, "%s", r->violation.what);
        s->at_ns = r->violation.at_ns;
    }
}

static void *worker(void *arg) {
    pool *p = arg;
    for (;;) {
        uint64_t seed = atomic_fetch_add(&p->next, 1);
        if (seed > p->last || atomic_load(&p->error)) break;
        if (p->stop_at_violation && seed > atomic_load(&p->stop_after)) break;
        run_hooks h = {0};
        if (p->hooks) {
            h.add_actions = p->hooks->add_actions;
            h.add_actions_ctx = p->hooks->add_actions_ctx;
        }
        sim_result r;
        char err[256];
        if (sim_run_once(p->o, seed, &h, &r, err, sizeof err) < 0) {
            pthread_mutex_lock(&p->err_lock);
            snprintf(p->err, sizeof p->err, "seed %" PRIu64 ": %s", seed, err);
            pthread_mutex_unlock(&p->err_lock);
            atomic_store(&p->error, 1);
            break;
        }
        seed_slot *s = &p->slots[seed - p->first];
        fill(s, &r);
        if (p->unit) {
            const sim_expectation *ex;
            int ne = experiment_unit_expectations(p->unit, &ex);
            for (int i = 0; i < ne && i < MAX_EXPECT_BITS; i++)
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
    }
    return NULL;
}

static int run_pool(pool *p, const sim_options *o, const run_hooks *hooks, const experiment_unit *unit, int stop) {
    memset(p, 0, sizeof *p);
    p->o = o;
    p->hooks = hooks;
    p->unit = unit;
    p->first = o->seed;
    p->last = o->seed_last;
    atomic_init(&p->next, o->seed);
    atomic_init(&p->stop_after, UINT64_MAX);
    atomic_init(&p->error, 0);
    p->stop_at_violation = stop;
    pthread_mutex_init(&p->err_lock, NULL);
    p->slots = calloc((size_t)(p->last - p->first + 1), sizeof *p->slots);
    if (!p->slots) abort();
    int nthreads = o->threads > 0 ? o->threads : 1;
    pthread_t th[64];
    for (int i = 0; i < nthreads; i++) pthread_create(&th[i], NULL, worker, p);
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p->err_lock);
    return atomic_load(&p->error) ? -1 : 0;
}

/* Two-sided 97.5 % t quantile for n - 1 degrees of freedom (table, then the normal limit). */
static double t975(size_t n) {
    static const double t[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086};
    size_t df = n > 1 ? n - 1 : 1;
    if (df < sizeof t / sizeof t[0]) return t[df];
    if (df < 40) return 2.03;
    if (df < 120) return 2.0;
    return 1.96;
}

/* The metric table, the run counts and, with a unit, the expectations' pass rates; returns 1 when a run broke
 * an invariant or failed an expectation. */
static int print_table(const pool *p, const experiment_unit *unit, FILE *out) {
    size_t n = (size_t)(p->last - p->first + 1);
    fprintf(out, "%-28s %12s %12s %12s %12s\n", "metric", "mean", "95% low", "95% high", "stddev");
    for (int m = 0; m < METRICS; m++) {
        double sum = 0, sq = 0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            double v = p->slots[i].metrics[m];
            if (m == 9 && v < 0) continue; /* not recovered: excluded from the recovery mean, counted below */
            sum += v;
            k++;
        }
        double mean = k ? sum / (double)k : 0;
        for (size_t i = 0; i < n; i++) {
            double v = p->slots[i].metrics[m];
            if (m == 9 && v < 0) continue;
            sq += (v - mean) * (v - mean);
        }
        double sd = k > 1 ? sqrt(sq / (double)(k - 1)) : 0;
        double half = k > 1 ? t975(k) * sd / sqrt((double)k) : 0;
        fprintf(out, "%-28s %12.4f %12.4f %12.4f %12.4f\n", metric_names[m], mean, mean - half, mean + half, sd);
    }
    size_t unrecovered = 0, violations = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        unrecovered += p->slots[i].metrics[9] < 0;
        violations += (size_t)p->slots[i].violation;
        failed += p->slots[i].failed_expectations != 0;
    }
    fprintf(out, "\nruns that did not recover before the end: %zu of %zu\n", unrecovered, n);
    fprintf(out, "runs with an invariant violation: %zu of %zu\n", violations, n);
    if (unit) {
        const sim_expectation *ex;
        int ne = experiment_unit_expectations(unit, &ex);
        if (ne) {
            fprintf(out, "runs whose expectations all passed: %zu of %zu (%.1f %%)\n", n - failed, n,
                    100.0 * (double)(n - failed) / (double)n);
            for (int e = 0; e < ne && e < MAX_EXPECT_BITS; e++) {
                size_t ok = 0;
                for (size_t i = 0; i < n; i++) ok += (p->slots[i].passed_bits >> e) & 1;
                fprintf(out, "  %5.1f %%  %s\n", 100.0 * (double)ok / (double)n, ex[e].text);
            }
        } else {
            fprintf(out, "no expectations\n");
        }
    }
    return (violations || failed) ? 1 : 0;
}

int multi_seeds(const sim_options *o, const run_hooks *hooks, FILE *out) {
    pool p;
    if (run_pool(&p, o, hooks, NULL, 0) < 0) {
        fprintf(stderr, "sim: %s\n", p.err);
        free(p.slots);
        return 2;
    }
    size_t n = (size_t)(p.last - p.first + 1);
    char faults[512];
    sim_options_describe_faults(o, faults, sizeof faults);
    fprintf(out, "payment-chaos simulation over seeds %" PRIu64 "..%" PRIu64 " (%zu runs)\n", p.first, p.last, n);
    fprintf(out, "faults: %s\n\n", faults);
    int rc = print_table(&p, NULL, out);
    free(p.slots);
    return rc;
}

int multi_seeds_experiments(const sim_options *o, const experiment_set *xs, FILE *out) {
    int rc = 0, units = experiment_unit_count(xs);
    fprintf(out, "payment-chaos simulation over seeds %" PRIu64 "..%" PRIu64 " (%" PRIu64 " runs per chaos object)\n",
            o->seed, o->seed_last, o->seed_last - o->seed + 1);
    for (int u = 0; u < units; u++) {
        const experiment_unit *unit = experiment_unit_at(xs, u);
        sim_options uo;
        experiment_unit_options(unit, o, &uo);
        run_hooks h = {0};
        h.add_actions = experiment_add_actions;
        h.add_actions_ctx = (void *)(uintptr_t)unit;
        pool p;
        if (run_pool(&p, &uo, &h, unit, 0) < 0) {
            fprintf(stderr, "sim: %s\n", p.err);
            free(p.slots);
            return 2;
        }
        fprintf(out, "\n");
        experiment_report_header(unit, out, u, units);
        fprintf(out, "phases: baseline 0-%g s, chaos %g-%g s, recovery %g-%g s\n\n", (double)uo.baseline_ns / 1e9,
                (double)uo.baseline_ns / 1e9, (double)(uo.baseline_ns + uo.chaos_ns) / 1e9,
                (double)(uo.baseline_ns + uo.chaos_ns) / 1e9,
                (double)(uo.baseline_ns + uo.chaos_ns + uo.recovery_ns) / 1e9);
        rc |= print_table(&p, unit, out);
        free(p.slots);
    }
    return rc;
}

int multi_find_violation(const sim_options *o, const run_hooks *hooks, FILE *out) {
    pool p;
    if (run_pool(&p, o, hooks, NULL, 1) < 0) {
        fprintf(stderr, "sim: %s\n", p.err);
        free(p.slots);
        return 2;
    }
    size_t n = (size_t)(p.last - p.first + 1);
    size_t runs = 0;
    for (size_t i = 0; i < n; i++) runs += (size_t)p.slots[i].done;
    for (size_t i = 0; i < n; i++) {
        if (!p.slots[i].violation) continue;
        uint64_t seed = p.first + i;
        char cmd[1024];
        sim_options_command(o, seed, cmd, sizeof cmd);
        fprintf(out, "violation found with seed %" PRIu64 " at %.3f s: %s\n  reproduce: %s\n", seed,
                (double)p.slots[i].at_ns / 1e9, p.slots[i].what, cmd);
        int rc = 1;
        if (o->shrink) rc = shrink_run(o, hooks, seed, out) < 0 ? 2 : 1;
        free(p.slots);
        return rc;
    }
    fprintf(out, "no invariant violation in %zu runs (seeds %" PRIu64 "..%" PRIu64 ")\n", runs, p.first, p.last);
    free(p.slots);
    return 0;
}
