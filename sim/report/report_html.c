/*
 * report_html.c: the report as a self-contained web page (see report_html.h).
 */
#include "sim/report/report_html.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/report/report.h"
#include "sim/report/report_sweep.h"

#define HIST_BINS 20

struct report_html {
    FILE *f;
    char *path;
    int sections;
};

static const char style[] =
    "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.25em;border-top:2px solid #ccc;padding-top:.6em;margin-top:2em}"
    "h3{font-size:1.05em;margin-top:1.4em}table{border-collapse:collapse;margin:.5em 0}"
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#f3f3f3}"
    "td.t,th.t{text-align:left}.verdict{font-weight:bold;font-size:1.1em;padding:.4em .8em;display:inline-block}"
    ".PASS{background:#dafbe1;color:#1a7f37}.FAIL{background:#ffebe9;color:#cf222e}.none{background:#eee}"
    ".warning{color:#9a6700;font-weight:bold}ul{margin:.2em 0}code{background:#f3f3f3;padding:0 3px}"
    ".hists{display:flex;flex-wrap:wrap;gap:12px}.hists figure{margin:0}figcaption{font-size:.85em}"
    "#script-errors{color:#cf222e}";

/* Counts the warnings and failed expectations the page shows; records script errors in the page itself. */
static const char script[] =
    "window.onerror=function(m,s,l){var e=document.getElementById('script-errors');"
    "if(e)e.textContent+='script error: '+m+' (line '+l+')\\n';};"
    "document.addEventListener('DOMContentLoaded',function(){"
    "var w=document.querySelectorAll('.warning').length,f=document.querySelectorAll('td.FAIL').length,"
    "c=document.querySelectorAll('figure svg').length,s=document.getElementById('page-summary');"
    "s.textContent=c+' chart'+(c==1?'':'s')+', '+w+' warning'+(w==1?'':'s')+', '+f+"
    "' failed expectation'+(f==1?'':'s')+' on this page';s.setAttribute('data-rendered','yes');});";

static void esc(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

report_html *report_html_open(const char *path, const char *title, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return NULL;
    }
    report_html *h = calloc(1, sizeof *h);
    if (!h) abort();
    h->f = f;
    h->path = strdup(path);
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    esc(f, title);
    fprintf(f, "</title>\n<style>%s</style>\n<script>%s</script>\n</head>\n<body>\n<h1>", style, script);
    esc(f, title);
    fprintf(f, "</h1>\n<p id=\"page-summary\"></p>\n<pre id=\"script-errors\"></pre>\n");
    return h;
}

int report_html_close(report_html *h, char *err, size_t errlen) {
    fprintf(h->f,
            "<p><small>payment-chaos bin/sim: the same seed gives the same page.</small></p>\n"
            "</body>\n</html>\n");
    int bad = ferror(h->f) | (fclose(h->f) != 0);
    if (bad) snprintf(err, errlen, "cannot write %s", h->path);
    free(h->path);
    free(h);
    return bad ? -1 : 0;
}

/* ---- values from a run's JSON document ---- */

/* The value at a dotted path ("steps.inventory.success_rate"). */
static json_t *at(json_t *j, const char *path) {
    char key[64];
    while (j && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        j = json_object_get(j, key);
        path += n + (dot ? 1 : 0);
    }
    return j;
}

static const char *str_at(json_t *j, const char *path) {
    const char *s = json_string_value(at(j, path));
    return s ? s : "";
}

/* A table column: the key's value, written as s string, i integer, f 2 decimals, p percent, v PASS/FAIL. */
typedef struct column {
    const char *key, *head;
    char fmt;
} column;

static void cell(FILE *f, json_t *v, char fmt) {
    double x = json_number_value(v);
    switch (fmt) {
    case 's':
        fputs("<td class=\"t\">", f);
        if (json_is_string(v))
            esc(f, json_string_value(v));
        else if (json_is_number(v))
            fprintf(f, "%g", x);
        else if (json_is_null(v))
            fputs("n/a", f);
        fputs("</td>", f);
        return;
    case 'i': fprintf(f, "<td>%" JSON_INTEGER_FORMAT "</td>", json_integer_value(v)); return;
    case 'f': fprintf(f, "<td>%.2f</td>", x); return;
    case 'p': fprintf(f, "<td>%.1f %%</td>", 100 * x); return;
    case 'v':
        fprintf(f, "<td class=\"%s\">%s</td>", json_is_true(v) ? "PASS" : "FAIL", json_is_true(v) ? "PASS" : "FAIL");
    }
}

static void table(FILE *f, const char *id, json_t *rows, const column *cols, int ncols) {
    fprintf(f, "<table id=\"%s\"><tr>", id);
    for (int c = 0; c < ncols; c++) fprintf(f, "<th%s>%s</th>", cols[c].fmt == 's' ? " class=\"t\"" : "", cols[c].head);
    fputs("</tr>\n", f);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        fputs("<tr>", f);
        for (int c = 0; c < ncols; c++) cell(f, at(row, cols[c].key), cols[c].fmt);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* ---- one run ---- */

static void run_verdict(FILE *f, json_t *doc, int n) {
    json_t *ex = json_object_get(doc, "expectations");
    const char *v = str_at(doc, "verdict");
    int violation = json_is_true(at(doc, "invariants.violation"));
    if (!*v) v = "PASS"; /* the command-line run: it passes unless an invariant broke */
    if (violation) v = "FAIL";
    size_t total = json_array_size(ex), passed = 0, i;
    json_t *e;
    json_array_foreach(ex, i, e) passed += json_is_true(json_object_get(e, "pass"));
    fprintf(f, "<p class=\"verdict %s\" id=\"verdict-%d\">verdict: %s", v, n, v);
    if (total) fprintf(f, " (%zu of %zu expectations hold)", passed, total);
    if (violation) fputs(" (an invariant broke)", f);
    if (!total && !violation) fputs(" (invariants hold; no expectations given)", f);
    fputs("</p>\n", f);
}

static void run_phases(FILE *f, json_t *doc, int n) {
    static const column phases[] = {{"phase", "phase", 's'},          {"requests", "requests", 'i'},
                                    {"success_rate", "success", 'p'}, {"p50_ms", "p50 ms", 'f'},
                                    {"p90_ms", "p90 ms", 'f'},        {"p99_ms", "p99 ms", 'f'},
                                    {"max_ms", "max ms", 'f'},        {"throughput_per_s", "ok/s", 'f'}};
    static const column steps[] = {{"phase", "phase", 's'},
                                   {"steps.inventory.success_rate", "1 inventory check: success", 'p'},
                                   {"steps.inventory.p50_ms", "p50 ms", 'f'},
                                   {"steps.inventory.p99_ms", "p99 ms", 'f'},
                                   {"steps.notification.success_rate", "2 notification send: success", 'p'},
                                   {"steps.notification.p50_ms", "p50 ms", 'f'},
                                   {"steps.notification.p99_ms", "p99 ms", 'f'}};
    char id[32];
    fputs("<h3>Phases</h3>\n", f);
    snprintf(id, sizeof id, "phases-%d", n);
    table(f, id, json_object_get(doc, "phases"), phases, 8);
    snprintf(id, sizeof id, "steps-%d", n);
    table(f, id, json_object_get(doc, "phases"), steps, 7);
}

static void run_predictions(FILE *f, json_t *doc) {
    static const char *const kinds[] = {"says", "does", "touches", "misses", "timeline"};
    static const char *const heads[] = {"the YAML says", "it really does", "touches", "misses", "timeline"};
    json_t *preds = json_object_get(doc, "predictions"), *p, *line;
    size_t i, k;
    if (!json_array_size(preds)) return;
    fputs("<h3>Predictions</h3>\n", f);
    json_array_foreach(preds, i, p) {
        fputs("<div class=\"prediction\"><p><b>", f);
        esc(f, str_at(p, "object"));
        fputs("</b> (", f);
        esc(f, str_at(p, "kind"));
        fputs(", ", f);
        esc(f, str_at(p, "where"));
        fputs(")</p>\n", f);
        for (int c = 0; c < 5; c++) {
            json_t *lines = json_object_get(p, kinds[c]);
            if (!json_array_size(lines)) continue;
            fprintf(f, "%s:<ul>", heads[c]);
            json_array_foreach(lines, k, line) {
                fputs("<li>", f);
                esc(f, json_string_value(line));
                fputs("</li>", f);
            }
            fputs("</ul>\n", f);
        }
        json_array_foreach(json_object_get(p, "warnings"), k, line) {
            fputs("<p class=\"warning\">WARNING: ", f);
            esc(f, json_string_value(line));
            fputs("</p>\n", f);
        }
        json_array_foreach(json_object_get(p, "notes"), k, line) {
            fputs("<p>note: ", f);
            esc(f, json_string_value(line));
            fputs("</p>\n", f);
        }
        fputs("</div>\n", f);
    }
}

static void run_tables(FILE *f, json_t *doc, int n) {
    static const column actions[] = {{"name", "chaos action", 's'},        {"what", "what", 's'},
                                     {"start_s", "from s", 'f'},           {"end_s", "to s (-1: never)", 'f'},
                                     {"realized.packets", "packets", 'i'}, {"realized.loss", "realized loss", 'p'}};
    static const column ledger[] = {{"from", "from", 's'},       {"to", "to", 's'},
                                    {"packets", "packets", 'i'}, {"faulted", "faulted", 'i'},
                                    {"dropped", "dropped", 'i'}, {"loss", "loss", 'p'},
                                    {"delayed", "delayed", 'i'}, {"mean_delay_ms", "mean delay ms", 'f'}};
    static const column expects[] = {
        {"pass", "verdict", 'v'}, {"expect", "expectation", 's'}, {"actual", "actual", 's'}, {"source", "from", 's'}};
    char id[32];
    if (json_array_size(json_object_get(doc, "actions"))) {
        fputs("<h3>Chaos actions</h3>\n", f);
        snprintf(id, sizeof id, "actions-%d", n);
        table(f, id, json_object_get(doc, "actions"), actions, 6);
    }
    fputs("<h3>Fault ledger</h3>\n<p>Every packet each side sent, by destination as written in the packet.</p>\n", f);
    snprintf(id, sizeof id, "ledger-%d", n);
    table(f, id, json_object_get(doc, "ledger"), ledger, 8);
    if (json_array_size(json_object_get(doc, "expectations"))) {
        fputs("<h3>Expectations</h3>\n", f);
        snprintf(id, sizeof id, "expectations-%d", n);
        table(f, id, json_object_get(doc, "expectations"), expects, 4);
    }
}

static void run_invariants(FILE *f, json_t *doc) {
    fputs("<h3>Invariants</h3>\n<p>", f);
    if (json_is_true(at(doc, "invariants.violation"))) {
        fprintf(f, "<span class=\"warning\">INVARIANT VIOLATION at %.3f s: ",
                json_number_value(at(doc, "invariants.at_s")));
        esc(f, str_at(doc, "invariants.what"));
        fputs("</span><br>reproduce: <code>", f);
        esc(f, str_at(doc, "invariants.reproduce"));
        fputs("</code>", f);
    } else {
        fprintf(f, "hold (checked %" JSON_INTEGER_FORMAT " times%s)", json_integer_value(at(doc, "invariants.checks")),
                json_is_true(at(doc, "invariants.end_checks_ran")) ? ", end-of-run checks included" : "");
    }
    fprintf(f, "</p>\n<p>run: %" JSON_INTEGER_FORMAT " events over %.1f simulated seconds, trace hash %s</p>\n",
            json_integer_value(at(doc, "run.events")), json_number_value(at(doc, "run.simulated_s")),
            str_at(doc, "run.trace_hash"));
}

void report_html_run(report_html *h, const sim_options *o, const sim_result *r, json_t *doc, const char *label) {
    FILE *f = h->f;
    int n = h->sections++;
    fprintf(f, "<section class=\"run\" id=\"run-%d\">\n<h2>", n);
    if (label) {
        esc(f, label);
        fputs(", ", f);
    }
    fprintf(f, "seed %" PRIu64 "</h2>\n", r->seed);
    run_verdict(f, doc, n);
    fputs("<p>faults: ", f);
    esc(f, str_at(doc, "faults"));
    fputs("<br>load: ", f);
    esc(f, str_at(doc, "load"));
    fprintf(f, "<br>phases: baseline 0-%g s, chaos %g-%g s, recovery %g-%g s</p>\n",
            json_number_value(at(doc, "phases_s.baseline_end")), json_number_value(at(doc, "phases_s.baseline_end")),
            json_number_value(at(doc, "phases_s.chaos_end")), json_number_value(at(doc, "phases_s.chaos_end")),
            json_number_value(at(doc, "phases_s.end")));
    run_phases(f, doc, n);
    fprintf(f, "<h3>Timeline</h3>\n<figure class=\"timeline\" id=\"timeline-%d\">\n", n);
    report_svg_write(f, o, r, label);
    fputs(
        "<figcaption>success rate and p50/p99 latency per second; the chaos phase shaded, each chaos action a bar "
        "below</figcaption></figure>\n",
        f);
    run_predictions(f, doc);
    run_tables(f, doc, n);
    run_invariants(f, doc);
    fputs("</section>\n", f);
}

/* ---- a seed range ---- */

/* The distribution of one metric over the runs: a histogram of HIST_BINS bins between its min and max. */
static void histogram(FILE *f, const sim_sweep *s, const sweep_unit *u, int m) {
    double lo = INFINITY, hi = -INFINITY;
    uint64_t n = sweep_count(s), bins[HIST_BINS] = {0}, top = 1;
    for (uint64_t i = 0; i < n; i++) {
        double v = u->runs[i].metrics[m];
        if (!isfinite(v) || (m == SWEEP_RECOVERY_METRIC && v < 0)) continue;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    for (uint64_t i = 0; lo <= hi && i < n; i++) {
        double v = u->runs[i].metrics[m];
        if (!isfinite(v) || (m == SWEEP_RECOVERY_METRIC && v < 0)) continue;
        int b = hi > lo ? (int)((v - lo) / (hi - lo) * HIST_BINS) : 0;
        b = b >= HIST_BINS ? HIST_BINS - 1 : b;
        if (++bins[b] > top) top = bins[b];
    }
    fprintf(f,
            "<figure class=\"hist\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"250\" height=\"90\">"
            "<rect width=\"250\" height=\"90\" fill=\"white\" stroke=\"#ccc\"/>");
    for (int b = 0; b < HIST_BINS; b++) {
        double bh = 70.0 * (double)bins[b] / (double)top;
        fprintf(f,
                "<rect x=\"%d\" y=\"%.1f\" width=\"11\" height=\"%.1f\" fill=\"#1f6feb\"><title>%" PRIu64
                "</title></rect>",
                5 + 12 * b, 80 - bh, bh, bins[b]);
    }
    fputs("</svg><figcaption>", f);
    esc(f, sweep_metric_name(m));
    if (lo <= hi)
        fprintf(f, ": %.4g .. %.4g", lo, hi);
    else
        fputs(": no value", f);
    fputs("</figcaption></figure>\n", f);
}

static void sweep_unit_section(report_html *h, const sim_sweep *s, const sweep_unit *u, json_t *ju) {
    FILE *f = h->f;
    int n = h->sections++;
    static const column expects[] = {
        {"expect", "expectation", 's'}, {"runs_passed", "runs it held in", 'i'}, {"pass_rate", "share", 'p'}};
    fprintf(f, "<section class=\"sweep\" id=\"run-%d\">\n<h2>", n);
    esc(f, *u->name ? u->name : "the command-line run");
    fprintf(f, ", seeds %" PRIu64 "..%" PRIu64 "</h2>\n", s->lo, s->hi);
    const char *v = str_at(ju, "verdict");
    fprintf(f,
            "<p class=\"verdict %s\" id=\"verdict-%d\">verdict: %s (%" JSON_INTEGER_FORMAT
            " runs with a violation)</p>\n",
            v, n, v, json_integer_value(at(ju, "runs_with_violation")));
    if (*u->header) {
        fputs("<pre>", f);
        esc(f, u->header);
        fputs("</pre>\n", f);
    }
    fprintf(f,
            "<h3>Metrics over %" PRIu64
            " seeds</h3>\n<table id=\"metrics-%d\"><tr><th class=\"t\">metric</th>"
            "<th>mean</th><th>95%% low</th><th>95%% high</th><th>stddev</th></tr>\n",
            sweep_count(s), n);
    for (int m = 0; m < SWEEP_METRICS; m++) {
        sweep_stat st;
        sweep_metric_stat(s, u, m, &st);
        fprintf(f, "<tr><td class=\"t\">%s</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td></tr>\n",
                sweep_metric_name(m), st.mean, st.low, st.high, st.sd);
    }
    fprintf(f, "</table>\n<h3>Distributions over the seeds</h3>\n<div class=\"hists\" id=\"distributions-%d\">\n", n);
    for (int m = 0; m < SWEEP_METRICS; m++) histogram(f, s, u, m);
    fputs("</div>\n", f);
    if (json_array_size(json_object_get(ju, "expectations"))) {
        char id[32];
        snprintf(id, sizeof id, "expectations-%d", n);
        fputs("<h3>Expectations</h3>\n", f);
        table(f, id, json_object_get(ju, "expectations"), expects, 3);
    }
    size_t i;
    json_t *viol;
    json_array_foreach(json_object_get(ju, "violations"), i, viol) {
        fprintf(f, "<p class=\"warning\">seed %s: invariant violation at %.3f s: ", str_at(viol, "seed"),
                json_number_value(at(viol, "at_s")));
        esc(f, str_at(viol, "what"));
        fputs("</p><p>reproduce: <code>", f);
        esc(f, str_at(viol, "reproduce"));
        fputs("</code></p>\n", f);
    }
    fputs("</section>\n", f);
}

void report_html_sweep(report_html *h, const sim_sweep *s) {
    int status;
    json_t *doc = report_sweep_json(s, &status);
    FILE *f = h->f;
    fputs("<p>faults: ", f);
    esc(f, s->faults);
    fputs("</p>\n", f);
    if (s->mode == SWEEP_FIND) {
        int n = h->sections++;
        const char *v = str_at(doc, "verdict");
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (!mem) abort();
        report_sweep_text(mem, s);
        fclose(mem);
        fprintf(f,
                "<section class=\"sweep\" id=\"run-%d\"><p class=\"verdict %s\" id=\"verdict-%d\">verdict: %s</p><pre>",
                n, v, n, v);
        esc(f, text);
        fputs("</pre></section>\n", f);
        free(text);
    } else if (s->mode == SWEEP_SEEDS) {
        sweep_unit_section(h, s, &s->units[0], doc);
    } else {
        for (int u = 0; u < s->nunits; u++)
            sweep_unit_section(h, s, &s->units[u], json_array_get(json_object_get(doc, "experiments"), (size_t)u));
    }
    json_decref(doc);
}
