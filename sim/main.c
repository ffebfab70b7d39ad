/*
 * main.c: the `sim` command: parse options, run (once, twice for --check-determinism, or over a range of
 * seeds on several threads), print the report, exit 0/1/2.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/experiment.h"
#include "sim/multi.h"
#include "sim/options.h"
#include "sim/report.h"
#include "sim/run.h"

static int print_result(const sim_options *o, const sim_result *r, const experiment_set *xs) {
    int failed = 0;
    if (o->json) {
        json_t *doc = report_json(o, r);
        if (xs) failed = experiment_report_json(xs, o, r, doc);
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (text) puts(text);
        free(text);
        json_decref(doc);
    } else {
        report_text(stdout, o, r);
        if (xs) failed = experiment_report_text(xs, stdout, o, r);
    }
    report_perf(stderr, r);
    return failed;
}

static int check_determinism(const sim_options *o, run_hooks *hooks) {
    uint64_t *prints = NULL, count = 0;
    sim_result a, b;
    char err[256];
    run_hooks h1 = *hooks;
    h1.record_fingerprints = 1;
    h1.prints_out = &prints;
    h1.prints_count = &count;
    if (sim_run_once(o, o->seed, &h1, &a, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        return 2;
    }
    run_hooks h2 = *hooks;
    h2.expect_prints = prints;
    h2.expect_count = count;
    if (sim_run_once(o, o->seed, &h2, &b, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        free(prints);
        sim_result_free(&a);
        return 2;
    }
    int rc = 0;
    if (b.mismatch >= 0) {
        printf("determinism: FAILED: the runs diverge at event %" PRId64 " (of %" PRIu64 ")\n", b.mismatch, count);
        printf("  rerun both with --trace to see the events around it\n");
        rc = 1;
    } else if (a.trace_hash != b.trace_hash || a.events != b.events) {
        printf("determinism: FAILED: same events but different hashes (%016" PRIx64 " vs %016" PRIx64 ")\n",
               a.trace_hash, b.trace_hash);
        rc = 1;
    } else {
        printf("determinism: ok: two runs with seed %" PRIu64 " executed the same %" PRIu64
               " events (trace hash %016" PRIx64 ")\n",
               o->seed, a.events, a.trace_hash);
    }
    free(prints);
    sim_result_free(&a);
    sim_result_free(&b);
    return rc;
}

int main(int argc, char **argv) {
    static sim_options o; /* large; one per process */
    char err[512];
    sim_options_defaults(&o);
    int rc = sim_options_parse(&o, argc, argv, err, sizeof err);
    if (rc == 1) return 0;
    if (rc < 0) {
        fprintf(stderr, "sim: %s\n", err);
        return 2;
    }
    experiment_set *xs = NULL;
    if (o.nexperiments || o.manifest || o.nexpects) {
        xs = experiment_load(&o, err, sizeof err);
        if (!xs) {
            fprintf(stderr, "sim: %s\n", err);
            return 2;
        }
    }
    run_hooks hooks = {0};
    if (xs) {
        hooks.add_actions = experiment_add_actions;
        hooks.add_actions_ctx = xs;
    }
    FILE *trace = NULL;
    if (o.trace_path) {
        trace = fopen(o.trace_path, "w");
        if (!trace) {
            fprintf(stderr, "sim: cannot write %s\n", o.trace_path);
            experiment_free(xs);
            return 2;
        }
        hooks.trace = trace;
    }
    int status = 0;
    if (o.check_determinism) {
        status = check_determinism(&o, &hooks);
    } else if (o.find_violation || o.shrink) {
        status = multi_find_violation(&o, &hooks, stdout);
    } else if (o.seed_last > o.seed) {
        status = multi_seeds(&o, &hooks, xs, stdout);
    } else {
        sim_result r;
        hooks.keep_records = o.csv_path || o.svg_path;
        if (sim_run_once(&o, o.seed, &hooks, &r, err, sizeof err) < 0) {
            fprintf(stderr, "sim: %s\n", err);
            status = 2;
        } else {
            status = print_result(&o, &r, xs);
            if (o.csv_path && report_csv(o.csv_path, &r, err, sizeof err) < 0) {
                fprintf(stderr, "sim: %s\n", err);
                status = 2;
            }
            if (o.svg_path && report_svg(o.svg_path, &o, &r, err, sizeof err) < 0) {
                fprintf(stderr, "sim: %s\n", err);
                status = 2;
            }
            if (r.violation.found && status == 0) status = 1;
            sim_result_free(&r);
        }
    }
    if (trace) fclose(trace);
    experiment_free(xs);
    return status;
}
