/*
 * report_sweep.c: text and JSON of a seed range (see report_sweep.h).
 */
#include "sim/report/report_sweep.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>

/* What a unit's runs add up to. */
typedef struct unit_counts {
    size_t unrecovered, violations, failed;
} unit_counts;

static unit_counts count_unit(const sim_sweep *s, const sweep_unit *u) {
    unit_counts c = {0, 0, 0};
    for (uint64_t i = 0; i < sweep_count(s); i++) {
        c.unrecovered += u->runs[i].metrics[SWEEP_RECOVERY_METRIC] < 0;
        c.violations += u->runs[i].violation;
        c.failed += u->runs[i].failed_expectations != 0;
    }
    return c;
}

static size_t expectation_passes(const sim_sweep *s, const sweep_unit *u, int e) {
    size_t ok = 0;
    for (uint64_t i = 0; i < sweep_count(s); i++) ok += (u->runs[i].passed_bits >> e) & 1;
    return ok;
}

/* The metric table, the run counts and, in an experiment, the expectations' pass rates; returns 1 when a run
 * broke an invariant or failed an expectation. */
static int text_table(FILE *out, const sim_sweep *s, const sweep_unit *u) {
    size_t n = (size_t)sweep_count(s);
    fprintf(out, "%-28s %12s %12s %12s %12s\n", "metric", "mean", "95% low", "95% high", "stddev");
    for (int m = 0; m < SWEEP_METRICS; m++) {
        sweep_stat st;
        sweep_metric_stat(s, u, m, &st);
        fprintf(out, "%-28s %12.4f %12.4f %12.4f %12.4f\n", sweep_metric_name(m), st.mean, st.low, st.high, st.sd);
    }
    unit_counts c = count_unit(s, u);
    fprintf(out, "\nruns that did not recover before the end: %zu of %zu\n", c.unrecovered, n);
    fprintf(out, "runs with an invariant violation: %zu of %zu\n", c.violations, n);
    if (s->mode == SWEEP_EXPERIMENTS) {
        if (u->nexpects) {
            fprintf(out, "runs whose expectations all passed: %zu of %zu (%.1f %%)\n", n - c.failed, n,
                    100.0 * (double)(n - c.failed) / (double)n);
            for (int e = 0; e < u->nexpects && e < SWEEP_EXPECT_BITS; e++)
                fprintf(out, "  %5.1f %%  %s\n", 100.0 * (double)expectation_passes(s, u, e) / (double)n,
                        u->expects[e]);
        } else {
            fprintf(out, "no expectations\n");
        }
    }
    return (c.violations || c.failed) ? 1 : 0;
}

int report_sweep_text(FILE *out, const sim_sweep *s) {
    size_t n = (size_t)sweep_count(s);
    int rc = 0;
    switch (s->mode) {
    case SWEEP_SEEDS:
        fprintf(out, "payment-chaos simulation over seeds %" PRIu64 "..%" PRIu64 " (%zu runs)\n", s->lo, s->hi, n);
        fprintf(out, "faults: %s\n\n", s->faults);
        return text_table(out, s, &s->units[0]);
    case SWEEP_EXPERIMENTS:
        fprintf(out, "payment-chaos simulation over seeds %" PRIu64 "..%" PRIu64 " (%zu runs per chaos object)\n",
                s->lo, s->hi, n);
        for (int u = 0; u < s->nunits; u++) {
            fprintf(out, "\n%s", s->units[u].header);
            rc |= text_table(out, s, &s->units[u]);
        }
        return rc;
    case SWEEP_FIND:
        if (s->found) {
            fprintf(out, "violation found with seed %" PRIu64 " at %.3f s: %s\n  reproduce: %s\n", s->found_seed,
                    (double)s->found_at_ns / 1e9, s->found_what, s->found_reproduce);
            return 1;
        }
        fprintf(out, "no invariant violation in %" PRIu64 " runs (seeds %" PRIu64 "..%" PRIu64 ")\n", s->find_runs,
                s->lo, s->hi);
        return 0;
    }
    return rc;
}

/* ---- JSON ---- */

/* A real, or null where JSON has none (NaN, infinities). */
static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *seed_text(uint64_t seed) {
    char t[24];
    snprintf(t, sizeof t, "%" PRIu64, seed);
    return json_string(t);
}

static json_t *unit_metrics_json(const sim_sweep *s, const sweep_unit *u) {
    json_t *metrics = json_object();
    for (int m = 0; m < SWEEP_METRICS; m++) {
        sweep_stat st;
        sweep_metric_stat(s, u, m, &st);
        json_t *j = json_object();
        json_object_set_new(j, "mean", real_or_null(st.mean));
        json_object_set_new(j, "low95", real_or_null(st.low));
        json_object_set_new(j, "high95", real_or_null(st.high));
        json_object_set_new(j, "stddev", real_or_null(st.sd));
        json_object_set_new(j, "runs", json_integer((json_int_t)st.n));
        json_object_set_new(metrics, sweep_metric_name(m), j);
    }
    return metrics;
}

static json_t *unit_violations_json(const sim_sweep *s, const sweep_unit *u) {
    json_t *list = json_array();
    for (uint64_t i = 0; i < sweep_count(s); i++) {
        const sweep_run *r = &u->runs[i];
        if (!r->violation) continue;
        json_t *v = json_object();
        json_object_set_new(v, "seed", seed_text(s->lo + i));
        json_object_set_new(v, "at_s", json_real((double)r->at_ns / 1e9));
        json_object_set_new(v, "what", json_string(r->what ? r->what : ""));
        json_object_set_new(v, "reproduce", json_string(r->reproduce ? r->reproduce : ""));
        json_array_append_new(list, v);
    }
    return list;
}

/* One unit's figures; *failed is set when a run broke an invariant or failed an expectation. */
static json_t *unit_json(const sim_sweep *s, const sweep_unit *u, int *failed) {
    size_t n = (size_t)sweep_count(s);
    unit_counts c = count_unit(s, u);
    json_t *j = json_object();
    if (s->mode == SWEEP_EXPERIMENTS) json_object_set_new(j, "name", json_string(u->name));
    json_object_set_new(j, "metrics", unit_metrics_json(s, u));
    json_object_set_new(j, "runs_not_recovered", json_integer((json_int_t)c.unrecovered));
    json_object_set_new(j, "runs_with_violation", json_integer((json_int_t)c.violations));
    json_object_set_new(j, "violations", unit_violations_json(s, u));
    if (s->mode == SWEEP_EXPERIMENTS) {
        json_t *ex = json_array();
        for (int e = 0; e < u->nexpects && e < SWEEP_EXPECT_BITS; e++) {
            size_t ok = expectation_passes(s, u, e);
            json_array_append_new(ex, json_pack("{s:s, s:I, s:f}", "expect", u->expects[e], "runs_passed",
                                                (json_int_t)ok, "pass_rate", (double)ok / (double)n));
        }
        json_object_set_new(j, "expectations", ex);
        json_object_set_new(j, "runs_all_passed", json_integer((json_int_t)(n - c.failed)));
    }
    *failed = c.violations || c.failed;
    json_object_set_new(j, "verdict", json_string(*failed ? "FAIL" : "PASS"));
    return j;
}

static json_t *find_json(const sim_sweep *s, int *status) {
    json_t *doc = json_object();
    if (s->found) {
        json_object_set_new(doc, "violation",
                            json_pack("{s:o, s:f, s:s, s:s}", "seed", seed_text(s->found_seed), "at_s",
                                      (double)s->found_at_ns / 1e9, "what", s->found_what, "reproduce",
                                      s->found_reproduce));
    } else {
        json_object_set_new(doc, "violation", json_null());
        json_object_set_new(doc, "runs", json_integer((json_int_t)s->find_runs));
    }
    *status = s->found;
    json_object_set_new(doc, "verdict", json_string(s->found ? "FAIL" : "PASS"));
    return doc;
}

json_t *report_sweep_json(const sim_sweep *s, int *status) {
    static const char *const modes[] = {"seeds", "experiments", "find-violation"};
    json_t *doc = json_object();
    json_object_set_new(doc, "sweep",
                        json_pack("{s:s, s:o, s:o, s:I}", "mode", modes[s->mode], "first", seed_text(s->lo), "last",
                                  seed_text(s->hi), "seeds", (json_int_t)sweep_count(s)));
    json_object_set_new(doc, "faults", json_string(s->faults));
    if (s->mode == SWEEP_FIND) {
        json_t *f = find_json(s, status);
        json_object_update(doc, f);
        json_decref(f);
        return doc;
    }
    int failed_units = 0;
    if (s->mode == SWEEP_SEEDS) {
        int failed;
        json_t *u = unit_json(s, &s->units[0], &failed);
        json_object_update(doc, u);
        json_decref(u);
        failed_units = failed;
    } else {
        json_t *units = json_array();
        for (int u = 0; u < s->nunits; u++) {
            int failed;
            json_array_append_new(units, unit_json(s, &s->units[u], &failed));
            failed_units += failed;
        }
        json_object_set_new(doc, "experiments", units);
        json_object_set_new(doc, "failed_objects", json_integer(failed_units));
        json_object_set_new(doc, "verdict", json_string(failed_units ? "FAIL" : "PASS"));
    }
    *status = failed_units ? 1 : 0;
    return doc;
}
