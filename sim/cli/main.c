/*
 * main.c: the `sim` command: parse options, run (once, twice for --check-determinism, or over a range of
 * seeds on several threads), print the report, exit 0/1/2.
 *
 * With --experiment (or --expect) the runs are the experiment units of sim/run/experiment.h: one run per chaos
 * object (or one for everything with --together), each printed as a report, the prediction section and the
 * verdicts; --csv/--svg then write one file per object (the object's name before the extension).
 * Exit status: 2 for bad input, 1 when an expectation failed or an invariant broke, else 0.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/smallalloc.h"
#include "services/core/jsonw.h"
#include "sim/report/report.h"
#include "sim/run/experiment.h"
#include "sim/run/multi.h"
#include "sim/run/options.h"
#include "sim/run/run.h"

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
        /* run 1 again, keeping a description of the event it executed at that position */
        sim_result c;
        run_hooks h3 = *hooks;
        h3.capture_plus1 = b.mismatch + 1;
        int have = sim_run_once(o, o->seed, &h3, &c, err, sizeof err) == 0;
        printf("determinism: FAILED: the runs diverge at event %" PRId64 " (of %" PRIu64 ")\n", b.mismatch, count);
        printf("  first run:  %s\n  second run: %s\n", have ? c.event_desc : "?", b.event_desc);
        printf("  rerun both with --trace FILE to see the events around it\n");
        if (have) sim_result_free(&c);
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

/* One JSON document on stdout, as every mode of the command prints it; takes the document. */
static void print_json(json_t *doc) {
    char *text = svc_json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    if (text) puts(text);
    free(text);
    json_decref(doc);
}

/* The command-line run (no experiment units). */
static int run_plain(const sim_options *o, run_hooks *hooks) {
    sim_result r;
    char err[512];
    hooks->keep_records = o->csv_path || o->svg_path;
    if (sim_run_once(o, o->seed, hooks, &r, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        return 2;
    }
    int status = 0;
    if (o->json)
        print_json(report_json(o, &r));
    else
        report_text(stdout, o, &r);
    report_perf(stderr, &r);
    if (o->csv_path && report_csv(o->csv_path, &r, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        status = 2;
    }
    if (o->svg_path && report_svg(o->svg_path, o, &r, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        status = 2;
    }
    if (r.violation.found && status == 0) status = 1;
    sim_result_free(&r);
    return status;
}

/* What the units' reports add up to. */
typedef struct units_acc {
    json_t *all;    /* --json: every unit's document */
    json_t *single; /* --json: the one document of a run without experiment files (--expect alone) */
    int failed;     /* units with a failed expectation */
} units_acc;

/* CSV and SVG of one unit: a file per chaos object, the chart labelled with the object's name when it comes from an
 * experiment file. 0, or 2 when a file cannot be written. */
static int unit_outputs(const sim_options *o, const experiment_unit *u, int units, const sim_options *uo,
                        const sim_result *r) {
    char path[1024], err[512];
    int status = 0;
    if (o->csv_path) {
        experiment_output_path(u, o->csv_path, units, path, sizeof path);
        if (report_csv(path, r, err, sizeof err) < 0) {
            fprintf(stderr, "sim: %s\n", err);
            status = 2;
        }
    }
    if (o->svg_path) {
        experiment_output_path(u, o->svg_path, units, path, sizeof path);
        char label[256];
        snprintf(label, sizeof label, "chaos object: %s", experiment_unit_name(u));
        if (report_svg(path, uo, r, o->nexperiments ? label : NULL, err, sizeof err) < 0) {
            fprintf(stderr, "sim: %s\n", err);
            status = 2;
        }
    }
    return status;
}

/* Runs unit i of units and prints its report (or its determinism check): 0, 1 when an expectation failed or
 * an invariant broke, 2 on an error. */
static int run_unit(const sim_options *o, const experiment_unit *u, int i, int units, FILE *trace, units_acc *acc) {
    sim_options uo;
    experiment_unit_options(u, o, &uo);
    run_hooks hooks = {0};
    hooks.trace = trace;
    hooks.add_actions = experiment_add_actions;
    hooks.add_actions_ctx = (void *)(uintptr_t)u;
    if (o->check_determinism) {
        if (!o->json) experiment_report_header(u, stdout, i, units);
        return check_determinism(&uo, &hooks);
    }
    hooks.keep_records = o->csv_path || o->svg_path;
    sim_result r;
    char err[512];
    if (sim_run_once(&uo, uo.seed, &hooks, &r, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        return 2;
    }
    int failed;
    if (o->json) {
        json_t *doc = report_json(&uo, &r);
        failed = experiment_report_json(u, &uo, &r, doc);
        if (units == 1 && !o->nexperiments)
            acc->single = doc;
        else
            json_array_append_new(acc->all, doc);
    } else {
        if (i) fputs("\n\n", stdout);
        experiment_report_header(u, stdout, i, units);
        report_text(stdout, &uo, &r);
        failed = experiment_report_text(u, stdout, &uo, &r);
    }
    report_perf(stderr, &r);
    if (failed) acc->failed++;
    int status = failed || r.violation.found ? 1 : 0;
    if (unit_outputs(o, u, units, &uo, &r)) status = 2;
    sim_result_free(&r);
    return status;
}

/* The units' JSON as one document (or the single unit's own), or the closing line of the text reports. */
static void finish_units(const sim_options *o, units_acc *acc, int units, int status) {
    if (o->json && status != 2) {
        json_t *doc = acc->single;
        if (!doc) {
            doc = json_pack("{s:o, s:s, s:i}", "experiments", acc->all, "verdict", acc->failed ? "FAIL" : "PASS",
                            "failed_objects", acc->failed);
            acc->all = NULL;
        }
        print_json(doc);
    } else if (acc->single) {
        json_decref(acc->single);
    }
    if (acc->all) json_decref(acc->all);
    if (!o->json && !o->check_determinism && units > 1 && status != 2)
        printf("\n==== %d chaos objects: %d with failed expectations\n", units, acc->failed);
}

/* Every experiment unit in turn, until one fails with an error. */
static int run_units(const sim_options *o, const experiment_set *xs, FILE *trace) {
    int units = experiment_unit_count(xs), status = 0;
    units_acc acc = {.all = o->json ? json_array() : NULL};
    for (int i = 0; i < units && status != 2; i++) {
        int rc = run_unit(o, experiment_unit_at(xs, i), i, units, trace, &acc);
        if (rc > status) status = rc;
    }
    finish_units(o, &acc, units, status);
    return status;
}

int main(int argc, char **argv) {
    pc_smallalloc_install(); /* before anything builds a jansson tree */
    static sim_options o;    /* large; one per process */
    char err[1024];
    sim_options_defaults(&o);
    int rc = sim_options_parse(&o, argc, argv, err, sizeof err);
    if (rc == 1) return 0;
    if (rc < 0) {
        fprintf(stderr, "sim: %s\n", err);
        return 2;
    }
    if (o.manifest) {
        /* the manifest first, then the command line again on top of it: explicit flags win */
        sim_options_defaults(&o);
        o.manifest = NULL;
        for (int i = 1; i + 1 < argc; i++)
            if (!strcmp(argv[i], "--manifest")) o.manifest = argv[i + 1];
        if (experiment_read_manifest(&o, err, sizeof err) < 0 ||
            sim_options_parse(&o, argc, argv, err, sizeof err) < 0) {
            fprintf(stderr, "sim: %s\n", err);
            return 2;
        }
    }
    experiment_set *xs = NULL;
    if (o.nexperiments || o.nexpects) {
        xs = experiment_load(&o, err, sizeof err);
        if (!xs) {
            fprintf(stderr, "sim: %s\n", err);
            return 2;
        }
    }
    FILE *trace = NULL;
    if (o.trace_path) {
        trace = fopen(o.trace_path, "w");
        if (!trace) {
            fprintf(stderr, "sim: cannot write %s\n", o.trace_path);
            experiment_free(xs);
            return 2;
        }
    }
    int status = 0;
    run_hooks hooks = {0};
    hooks.trace = trace;
    if (o.find_violation || o.shrink) {
        status = multi_find_violation(&o, &hooks, stdout);
    } else if (xs && o.seed_last > o.seed && !o.check_determinism) {
        status = multi_seeds_experiments(&o, xs, stdout);
    } else if (xs) {
        status = run_units(&o, xs, trace);
    } else if (o.check_determinism) {
        status = check_determinism(&o, &hooks);
    } else if (o.seed_last > o.seed) {
        status = multi_seeds(&o, &hooks, stdout);
    } else {
        status = run_plain(&o, &hooks);
    }
    if (trace) fclose(trace);
    experiment_free(xs);
    return status;
}
