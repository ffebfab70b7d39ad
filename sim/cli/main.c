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
    if (o->json) {
        json_t *doc = report_json(o, &r);
        char *text = svc_json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (text) puts(text);
        free(text);
        json_decref(doc);
    } else {
        report_text(stdout, o, &r);
    }
    report_perf(stderr, &r);
    if (o->csv_path && report_csv(o->csv_path, &r, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        status = 2;
    }
    if (o->svg_path && report_svg(o->svg_path, o, &r, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        status = 2;
    }
    if (r.violation.found && status == 0) status = 1;
    sim_result_free(&r);
    return status;
}

/* Writes the chaos object's name where the chart's subtitle goes (report_svg leaves it empty for experiments,
 * whose faults are not command-line ones). */
static int label_svg(const char *path, const char *label, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) goto fail;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len <= 0) {
        fclose(f);
        goto fail;
    }
    char *buf = malloc((size_t)len + 1);
    if (!buf) abort();
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    buf[got] = '\0';
    char *end = strstr(buf, "</svg>");
    f = end ? fopen(path, "wb") : NULL;
    if (!f) {
        free(buf);
        goto fail;
    }
    fwrite(buf, 1, (size_t)(end - buf), f);
    fprintf(f, "<text x=\"70\" y=\"38\" fill=\"#555\">");
    for (const char *p = label; *p; p++) {
        if (*p == '&')
            fputs("&amp;", f);
        else if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else
            fputc(*p, f);
    }
    fprintf(f, "</text>\n%s", end);
    free(buf);
    if (fclose(f) != 0) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "cannot write %.400s", path);
    return -1;
}

static int run_units(const sim_options *o, const experiment_set *xs, FILE *trace) {
    int units = experiment_unit_count(xs), status = 0;
    json_t *all = o->json ? json_array() : NULL;
    json_t *single = NULL;
    int failed_units = 0;
    for (int i = 0; i < units && status != 2; i++) {
        const experiment_unit *u = experiment_unit_at(xs, i);
        sim_options uo;
        experiment_unit_options(u, o, &uo);
        run_hooks hooks = {0};
        hooks.trace = trace;
        hooks.add_actions = experiment_add_actions;
        hooks.add_actions_ctx = (void *)(uintptr_t)u;
        if (o->check_determinism) {
            if (!o->json) experiment_report_header(u, stdout, i, units);
            int rc = check_determinism(&uo, &hooks);
            if (rc > status) status = rc;
            continue;
        }
        hooks.keep_records = o->csv_path || o->svg_path;
        sim_result r;
        char err[512];
        if (sim_run_once(&uo, uo.seed, &hooks, &r, err, sizeof err) < 0) {
            fprintf(stderr, "sim: %s\n", err);
            status = 2;
            break;
        }
        int failed;
        if (o->json) {
            json_t *doc = report_json(&uo, &r);
            failed = experiment_report_json(u, &uo, &r, doc);
            if (units == 1 && !o->nexperiments)
                single = doc;
            else
                json_array_append_new(all, doc);
        } else {
            if (i) fputs("\n\n", stdout);
            experiment_report_header(u, stdout, i, units);
            report_text(stdout, &uo, &r);
            failed = experiment_report_text(u, stdout, &uo, &r);
        }
        report_perf(stderr, &r);
        if (failed) failed_units++;
        if (failed || r.violation.found) status = 1;
        char path[1024];
        if (o->csv_path) {
            experiment_output_path(u, o->csv_path, units, path, sizeof path);
            if (report_csv(path, &r, err, sizeof err) < 0) {
                fprintf(stderr, "sim: %s\n", err);
                status = 2;
            }
        }
        if (o->svg_path) {
            experiment_output_path(u, o->svg_path, units, path, sizeof path);
            char label[256];
            snprintf(label, sizeof label, "chaos object: %s", experiment_unit_name(u));
            if (report_svg(path, &uo, &r, err, sizeof err) < 0 ||
                (o->nexperiments && label_svg(path, label, err, sizeof err) < 0)) {
                fprintf(stderr, "sim: %s\n", err);
                status = 2;
            }
        }
        sim_result_free(&r);
    }
    if (o->json && status != 2) {
        json_t *doc = single;
        if (!doc) {
            doc = json_pack("{s:o, s:s, s:i}", "experiments", all, "verdict", failed_units ? "FAIL" : "PASS",
                            "failed_objects", failed_units);
            all = NULL;
        }
        char *text = svc_json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (text) puts(text);
        free(text);
        json_decref(doc);
    } else if (single) {
        json_decref(single);
    }
    if (all) json_decref(all);
    if (!o->json && !o->check_determinism && units > 1 && status != 2)
        printf("\n==== %d chaos objects: %d with failed expectations\n", units, failed_units);
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
