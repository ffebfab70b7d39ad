/*
 * experiment.c: experiment files into runs, predictions and verdicts (see experiment.h).
 */
#include "sim/run/experiment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"
#include "sim/chaosmesh/chaosmesh.h"
#include "sim/input/manifest.h"
#include "sim/input/yamltree.h"
#include "sim/run/predict.h"

#define EPOCH_S 1767225600LL /* 2026-01-01T00:00:00Z: the cluster's wall clock at virtual time 0 */
#define MAX_OBJECTS 256
#define MAX_UNIT_EXPECT 48

struct experiment_unit {
    char name[160];
    const cm_object **objs;
    int nobjs;
    sim_expectation expects[MAX_UNIT_EXPECT];
    int nexpects;
    int64_t shift_ns; /* added to every action's times */
    int64_t chaos_ns; /* the chaos phase */
    int has_oom_adj;
    int64_t oom_adj;
    int command_line; /* no experiment file: --expect on the command-line run */
};

struct experiment_set {
    sim_manifest m;
    cm_object *objs; /* grown as documents are read (many sets live at once when the explorer runs them) */
    int nobjs, cap;
    experiment_unit *units;
    int nunits;
};

int experiment_read_manifest(sim_options *o, char *err, size_t errlen) {
    if (!o->manifest) return 0;
    sim_manifest *m = malloc(sizeof *m);
    if (!m) abort();
    int rc = manifest_load(o->manifest, m, err, errlen);
    if (rc == 0) rc = manifest_services_config(m, &o->services, err, errlen);
    if (rc == 0) {
        o->cluster = m->spec;
        for (int i = 0; i < m->nnotes; i++) fprintf(stderr, "sim: note: %s: %s\n", o->manifest, m->notes[i]);
    }
    free(m);
    return rc;
}

int experiment_unit_count(const experiment_set *xs) { return xs->nunits; }
const experiment_unit *experiment_unit_at(const experiment_set *xs, int i) { return &xs->units[i]; }
const char *experiment_unit_name(const experiment_unit *u) { return u->name; }
int experiment_unit_expectations(const experiment_unit *u, const sim_expectation **out) {
    *out = u->expects;
    return u->nexpects;
}

void experiment_free(experiment_set *xs) {
    if (!xs) return;
    for (int i = 0; i < xs->nobjs; i++) cm_object_free(&xs->objs[i]);
    for (int i = 0; i < xs->nunits; i++) free(xs->units[i].objs);
    free(xs->objs);
    free(xs->units);
    free(xs);
}

/* ---- loading ---- */

static int cli_faults(const sim_options *o) {
    return o->loss_pct > 0 || o->delay_ns > 0 || o->partition || o->cpu_workers > 0 || o->mem_bytes > 0 || o->nkills ||
           o->client_loss_pct > 0;
}

/* Every document of a file (or of a text, when text is not NULL: `path` then names it in messages). */
static int load_file(experiment_set *xs, const char *path, const char *text, const cm_env *env, char *err,
                     size_t errlen) {
    yt_file *f = text ? yt_load_string(path, text, strlen(text), err, errlen) : yt_load_file(path, err, errlen);
    if (!f) return -1;
    int rc = 0, found = 0;
    for (int i = 0; i < yt_doc_count(f) && !rc; i++) {
        const yt_doc *d = yt_doc_at(f, i);
        if (!cm_is_chaos_document(d->root)) {
            const yt_node *kind = yt_get(d->root, "kind");
            snprintf(err, errlen,
                     "%s:%d: %s: not a Chaos Mesh object (apiVersion chaos-mesh.org/v1alpha1); cluster "
                     "objects belong in --manifest",
                     path, d->root->line, kind && kind->value ? kind->value : "document");
            rc = -1;
            break;
        }
        if (xs->nobjs >= MAX_OBJECTS) {
            snprintf(err, errlen, "%s: more than %d chaos objects", path, MAX_OBJECTS);
            rc = -1;
            break;
        }
        if (xs->nobjs == xs->cap) {
            xs->cap = xs->cap ? 2 * xs->cap : 4;
            xs->objs = realloc(xs->objs, (size_t)xs->cap * sizeof *xs->objs);
            if (!xs->objs) abort();
        }
        cm_object *o = &xs->objs[xs->nobjs];
        if (cm_parse(path, d, env, o, err, errlen) < 0) {
            cm_object_free(o);
            rc = -1;
            break;
        }
        for (int k = 0; k < xs->nobjs; k++)
            if (!strcmp(xs->objs[k].name, o->name) && !strcmp(xs->objs[k].kind, o->kind)) {
                snprintf(err, errlen,
                         "%s:%d: %s %s is defined twice (first at %s:%d): kubectl apply would configure "
                         "the same object twice",
                         path, o->line, o->kind, o->name, xs->objs[k].file, xs->objs[k].line);
                cm_object_free(o);
                rc = -1;
                break;
            }
        if (rc) break;
        xs->nobjs++;
        found++;
    }
    yt_free(f);
    if (!rc && !found) {
        snprintf(err, errlen, "%s: no Chaos Mesh object in the file", path);
        rc = -1;
    }
    return rc;
}

static int find_object(const experiment_set *xs, const char *name) {
    for (int i = 0; i < xs->nobjs; i++)
        if (!strcmp(xs->objs[i].name, name)) return i;
    return -1;
}

static void unit_timing(experiment_unit *u, const sim_options *o, int together) {
    int64_t first = -1, last = 0;
    int endless = 0, any = 0;
    for (int i = 0; i < u->nobjs; i++) {
        const cm_object *ob = u->objs[i];
        if (!ob->nacts) continue;
        any = 1;
        if (first < 0 || ob->first_start_ns < first) first = ob->first_start_ns;
        if (ob->endless) endless = 1;
        if (ob->last_end_ns > last) last = ob->last_end_ns;
    }
    if (together || first < 0) first = 0;
    u->shift_ns = o->baseline_ns - first;
    u->chaos_ns = last - first;
    /* an object that never ends is watched for --chaos after its last change */
    if (endless) u->chaos_ns += o->chaos_ns;
    if (!any) u->chaos_ns = o->chaos_ns;
    if (u->chaos_ns < SEC) u->chaos_ns = SEC;
}

static int unit_expectations(experiment_unit *u, const sim_options *o, int annotations, char *err, size_t errlen) {
    if (annotations)
        for (int i = 0; i < u->nobjs; i++) {
            const cm_object *ob = u->objs[i];
            if (!ob->expect[0]) continue;
            char src[200];
            snprintf(src, sizeof src, "%.80s:%d: payment-chaos/expect of %.60s", ob->file, ob->expect_line, ob->name);
            if (expect_parse(ob->expect, src, u->expects, MAX_UNIT_EXPECT, &u->nexpects, err, errlen) < 0) return -1;
        }
    for (int i = 0; i < o->nexpects; i++)
        if (expect_parse(o->expects[i], "--expect", u->expects, MAX_UNIT_EXPECT, &u->nexpects, err, errlen) < 0)
            return -1;
    return 0;
}

/* --object: keep the units holding one of the named objects (a pair stays whole). */
static int select_units(experiment_set *xs, const sim_options *o, char *err, size_t errlen) {
    for (int k = 0; k < o->nobjects; k++)
        if (find_object(xs, o->objects[k]) < 0) {
            size_t n = (size_t)snprintf(err, errlen, "--object %s: no such chaos object in the experiment files (",
                                        o->objects[k]);
            for (int i = 0; i < xs->nobjs && n < errlen; i++)
                n += (size_t)snprintf(err + n, errlen - n, "%s%s", i ? ", " : "", xs->objs[i].name);
            if (n < errlen) snprintf(err + n, errlen - n, ")");
            return -1;
        }
    int w = 0;
    for (int u = 0; u < xs->nunits; u++) {
        int keep = 0;
        for (int i = 0; i < xs->units[u].nobjs; i++)
            for (int k = 0; k < o->nobjects; k++) keep |= !strcmp(xs->units[u].objs[i]->name, o->objects[k]);
        if (keep)
            xs->units[w++] = xs->units[u];
        else
            free(xs->units[u].objs);
    }
    xs->nunits = w;
    return 0;
}

/* Options that do not go with experiment files (`files`: there are some, or a text in their place). */
static int check_options(const sim_options *o, int files, char *err, size_t errlen) {
    if (files && cli_faults(o)) {
        snprintf(err, errlen,
                 "--experiment runs the chaos objects of its files; command-line faults (--loss, --delay, "
                 "--partition, --client-loss, --cpu-workers, --mem-stress, --pod-kill) cannot be added to them");
        return -1;
    }
    if (files && (o->shrink || o->find_violation)) {
        snprintf(err, errlen, "--find-violation and --shrink work on command-line faults, not with --experiment");
        return -1;
    }
    return 0;
}

/* The manifest's cluster (or the defaults) with the command line's overrides, and every file's objects (or the
 * text's, named `text_name`, in their place). */
static int load_objects(experiment_set *xs, const sim_options *o, const char *text_name, const char *text, char *err,
                        size_t errlen) {
    if (o->manifest) {
        if (manifest_load(o->manifest, &xs->m, err, errlen) < 0) return -1;
    } else {
        manifest_defaults(&xs->m);
    }
    xs->m.spec = o->cluster; /* the cluster the runs really use (command-line overrides included) */
    cm_env env = {&xs->m, o->schedule_cycles, EPOCH_S + o->baseline_ns / SEC};
    if (text) return load_file(xs, text_name, text, &env, err, errlen);
    for (int i = 0; i < o->nexperiments; i++)
        if (load_file(xs, o->experiments[i], NULL, &env, err, errlen) < 0) return -1;
    return 0;
}

/* No experiment file: one unit, the command line's faults. */
static int command_line_unit(experiment_set *xs, const sim_options *o, char *err, size_t errlen) {
    experiment_unit *u = &xs->units[xs->nunits++];
    u->command_line = 1;
    snprintf(u->name, sizeof u->name, "command line");
    u->objs = calloc(1, sizeof *u->objs);
    if (!u->objs) abort();
    u->shift_ns = 0;
    u->chaos_ns = o->chaos_ns;
    return unit_expectations(u, o, 0, err, errlen);
}

/* Every payment-chaos/pair names another object of the files. */
static int check_pairs(const experiment_set *xs, char *err, size_t errlen) {
    for (int i = 0; i < xs->nobjs; i++) {
        const cm_object *ob = &xs->objs[i];
        if (!ob->pair[0]) continue;
        int j = find_object(xs, ob->pair);
        if (j < 0 || j == i) {
            snprintf(err, errlen, "%s:%d: payment-chaos/pair: %s names \"%s\", %s", ob->file, ob->pair_line, ob->name,
                     ob->pair, j < 0 ? "which is not an object of the experiment files" : "itself");
            return -1;
        }
    }
    return 0;
}

/* Units: each object with every object linked to it by pair annotations (transitively), or all of them
 * (--together). */
static void group_units(experiment_set *xs, const sim_options *o) {
    int *unit_of = malloc((size_t)xs->nobjs * sizeof *unit_of);
    if (!unit_of) abort();
    for (int i = 0; i < xs->nobjs; i++) unit_of[i] = -1;
    for (int i = 0; i < xs->nobjs; i++) {
        if (unit_of[i] >= 0) continue;
        int ui = o->together && xs->nunits ? 0 : xs->nunits;
        if (ui == xs->nunits) {
            experiment_unit *nu = &xs->units[xs->nunits++];
            nu->objs = calloc((size_t)xs->nobjs, sizeof *nu->objs);
            if (!nu->objs) abort();
        }
        experiment_unit *u = &xs->units[ui];
        int stack[MAX_OBJECTS], top = 0;
        stack[top++] = i;
        unit_of[i] = ui;
        while (top) {
            int k = stack[--top];
            u->objs[u->nobjs++] = &xs->objs[k];
            for (int j = 0; j < xs->nobjs; j++) {
                if (unit_of[j] >= 0) continue;
                if ((xs->objs[k].pair[0] && !strcmp(xs->objs[k].pair, xs->objs[j].name)) ||
                    (xs->objs[j].pair[0] && !strcmp(xs->objs[j].pair, xs->objs[k].name))) {
                    unit_of[j] = ui;
                    stack[top++] = j;
                }
            }
        }
    }
    free(unit_of);
}

/* The one memory.oomScoreAdj of a unit's stressors (the simulator has one per run). */
static int unit_oom_adj(experiment_unit *u, char *err, size_t errlen) {
    for (int k = 0; k < u->nobjs; k++)
        for (int a = 0; a < u->objs[k]->nacts; a++) {
            const cm_action *ca = &u->objs[k]->acts[a];
            if (!ca->has_oom_adj) continue;
            if (u->has_oom_adj && u->oom_adj != ca->oom_score_adj) {
                snprintf(err, errlen,
                         "%s:%d: memory.oomScoreAdj %lld differs from another object's %lld in the same "
                         "run: not supported by the simulator (one stressor adj per run)",
                         u->objs[k]->file, u->objs[k]->line, (long long)ca->oom_score_adj, (long long)u->oom_adj);
                return -1;
            }
            u->has_oom_adj = 1;
            u->oom_adj = ca->oom_score_adj;
        }
    return 0;
}

/* A unit's objects in document order, its name, timing, stressor adj and expectations. */
static int finish_unit(experiment_unit *u, const sim_options *o, char *err, size_t errlen) {
    for (int a = 1; a < u->nobjs; a++)
        for (int b = a; b > 0 && u->objs[b - 1] > u->objs[b]; b--) {
            const cm_object *t = u->objs[b];
            u->objs[b] = u->objs[b - 1];
            u->objs[b - 1] = t;
        }
    if (o->together)
        snprintf(u->name, sizeof u->name, "all %d objects together", u->nobjs);
    else if (u->nobjs == 1)
        snprintf(u->name, sizeof u->name, "%s", u->objs[0]->name);
    else
        snprintf(u->name, sizeof u->name, "%.60s + %.60s%s", u->objs[0]->name, u->objs[1]->name,
                 u->nobjs > 2 ? " + ..." : "");
    unit_timing(u, o, o->together);
    if (unit_oom_adj(u, err, errlen) < 0) return -1;
    return unit_expectations(u, o, !o->together, err, errlen);
}

/* experiment_load() of the options' files, or of one text in their place (named `text_name`). */
static experiment_set *load_set(const sim_options *o, const char *text_name, const char *text, char *err,
                                size_t errlen) {
    experiment_set *xs = calloc(1, sizeof *xs);
    if (!xs) abort();
    int files = text || o->nexperiments;
    if (check_options(o, files, err, errlen) < 0 || load_objects(xs, o, text_name, text, err, errlen) < 0) goto fail;
    xs->units = calloc((size_t)(xs->nobjs ? xs->nobjs : 1), sizeof *xs->units);
    if (!xs->units) abort();
    if (!files) {
        if (command_line_unit(xs, o, err, errlen) < 0) goto fail;
        return xs;
    }
    if (check_pairs(xs, err, errlen) < 0) goto fail;
    group_units(xs, o);
    for (int ui = 0; ui < xs->nunits; ui++)
        if (finish_unit(&xs->units[ui], o, err, errlen) < 0) goto fail;
    if (o->nobjects && select_units(xs, o, err, errlen) < 0) goto fail;
    return xs;
fail:
    experiment_free(xs);
    return NULL;
}

experiment_set *experiment_load(const sim_options *o, char *err, size_t errlen) {
    return load_set(o, NULL, NULL, err, errlen);
}

experiment_set *experiment_load_text(const sim_options *o, const char *name, const char *text, char *err,
                                     size_t errlen) {
    return load_set(o, name, text, err, errlen);
}

void experiment_unit_options(const experiment_unit *u, const sim_options *base, sim_options *out) {
    *out = *base;
    if (u->command_line) return;
    out->chaos_ns = u->chaos_ns;
    out->load.stop_ns = out->baseline_ns + out->chaos_ns + out->recovery_ns;
    if (u->has_oom_adj) out->cluster.stressor_oom_score_adj = u->oom_adj;
}

int experiment_add_actions(void *ctx, sim_scenario *s, const sim_options *o, char *err, size_t errlen) {
    (void)o;
    const experiment_unit *u = ctx;
    for (int k = 0; k < u->nobjs; k++)
        for (int i = 0; i < u->objs[k]->nacts; i++) {
            sim_chaos_action a = u->objs[k]->acts[i].a;
            a.start_ns += u->shift_ns;
            if (a.end_ns >= 0) a.end_ns += u->shift_ns;
            if (scenario_add(s, &a) < 0) {
                snprintf(err, errlen, "%s: too many chaos actions in one run", u->name);
                return -1;
            }
        }
    return 0;
}

/* ---- reports ---- */

void experiment_report_header(const experiment_unit *u, FILE *out, int index, int total) {
    if (u->command_line) return;
    fprintf(out, "==== chaos object %d of %d: %s\n", index + 1, total, u->name);
    for (int k = 0; k < u->nobjs; k++) {
        const cm_object *ob = u->objs[k];
        fprintf(out, "     %s %s (%s:%d)%s%s\n", ob->kind, ob->name, ob->file, ob->line, ob->description[0] ? ": " : "",
                ob->description);
    }
}

/* The actions of the run are the unit's, in order, after any command-line ones (none with experiments). */
static int first_action(const experiment_unit *u, const sim_result *r, int k) {
    int total = 0, before = 0;
    for (int i = 0; i < u->nobjs; i++) {
        if (i < k) before += u->objs[i]->nacts;
        total += u->objs[i]->nacts;
    }
    return r->nactions - total + before;
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0; }

static void impact_line(FILE *out, const sim_options *o, const sim_result *r) {
    const run_summary *s = &r->summary;
    const sim_phase_summary *b = &s->phase[0], *c = &s->phase[1];
    fprintf(out,
            "\nimpact: chain success %.1f %% -> %.1f %% during chaos; p50 %.2f -> %.2f ms (x%.1f); p99 %.2f -> "
            "%.2f ms; ",
            100 * b->success_rate, 100 * c->success_rate, b->p50_ms, c->p50_ms, ratio(c->p50_ms, b->p50_ms), b->p99_ms,
            c->p99_ms);
    if (s->recovery_s < 0)
        fprintf(out, "success not back before the end");
    else
        fprintf(out, "success back %.1f s after the chaos phase", s->recovery_s);
    if (o->load.burst)
        fprintf(out, "; a burst of %d answered in %.3f -> %.3f s (x%.1f)", o->load.burst, b->max_ms / 1e3,
                c->max_ms / 1e3, ratio(c->max_ms, b->max_ms));
    else if (o->load.closed_loop)
        fprintf(out, "; throughput %.2f -> %.2f ok/s (x%.2f)", b->throughput_per_s, c->throughput_per_s,
                ratio(c->throughput_per_s, b->throughput_per_s));
    fprintf(out, "\n");
}

int experiment_report_text(const experiment_unit *u, FILE *out, const sim_options *o, const sim_result *r) {
    int failed = 0;
    if (out && !u->command_line) {
        impact_line(out, o, r);
        for (int k = 0; k < u->nobjs; k++) {
            sim_prediction p;
            predict_object(u->objs[k], first_action(u, r, k), o, r, &p);
            predict_print(out, &p);
            prediction_free(&p);
        }
    }
    if (out && u->nexpects) fprintf(out, "\nexpectations (%s)\n", u->name);
    for (int i = 0; i < u->nexpects; i++) {
        expect_result res = expect_eval(&u->expects[i], &r->summary);
        if (!res.pass) failed++;
        if (!out) continue;
        char actual[32];
        expect_format_actual(&u->expects[i], &res, actual, sizeof actual);
        /* the annotation's file and line are in the header and the JSON; here only where it came from */
        const char *from = strstr(u->expects[i].source, "payment-chaos/expect") ? "annotation" : u->expects[i].source;
        fprintf(out, "  %-4s %-52s actual %-8s (%s)\n", res.pass ? "PASS" : "FAIL", u->expects[i].text, actual, from);
    }
    if (out && u->nexpects)
        fprintf(out, "verdict: %s (%d of %d expectations hold)\n", failed ? "FAIL" : "PASS", u->nexpects - failed,
                u->nexpects);
    return failed;
}

int experiment_report_json(const experiment_unit *u, const sim_options *o, const sim_result *r, json_t *doc) {
    int failed = 0;
    if (!u->command_line) {
        json_t *objs = json_array(), *preds = json_array();
        for (int k = 0; k < u->nobjs; k++) {
            const cm_object *ob = u->objs[k];
            json_array_append_new(objs, json_pack("{s:s, s:s, s:s, s:i}", "name", ob->name, "kind", ob->kind, "file",
                                                  ob->file, "line", ob->line));
            sim_prediction p;
            predict_object(ob, first_action(u, r, k), o, r, &p);
            json_array_append_new(preds, predict_json(&p));
            prediction_free(&p);
        }
        json_object_set_new(doc, "experiment",
                            json_pack("{s:s, s:o, s:f, s:f}", "name", u->name, "objects", objs, "chaos_start_s",
                                      (double)o->baseline_ns / SEC, "chaos_end_s",
                                      (double)(o->baseline_ns + o->chaos_ns) / SEC));
        json_object_set_new(doc, "predictions", preds);
    }
    json_t *ex = json_array();
    for (int i = 0; i < u->nexpects; i++) {
        expect_result res = expect_eval(&u->expects[i], &r->summary);
        if (!res.pass) failed++;
        json_t *v = !res.available ? json_null() : isinf(res.actual) ? json_string("never") : json_real(res.actual);
        json_array_append_new(ex, json_pack("{s:s, s:o, s:b, s:s}", "expect", u->expects[i].text, "actual", v, "pass",
                                            res.pass, "source", u->expects[i].source));
    }
    json_object_set_new(doc, "expectations", ex);
    json_object_set_new(doc, "verdict", json_string(failed ? "FAIL" : u->nexpects ? "PASS" : "none"));
    return failed;
}

void experiment_output_path(const experiment_unit *u, const char *path, int units, char *out, size_t outlen) {
    if (units <= 1 || u->command_line) {
        snprintf(out, outlen, "%s", path);
        return;
    }
    /* the unit's name with spaces, '/' and '+' as single '_' ("a + b" -> "a_b") */
    char name[160];
    size_t k = 0;
    for (const char *p = u->name; *p && k + 1 < sizeof name; p++) {
        int sep = *p == ' ' || *p == '/' || *p == '+';
        if (sep && (k == 0 || name[k - 1] == '_')) continue;
        name[k++] = sep ? '_' : *p;
    }
    while (k && name[k - 1] == '_') k--;
    name[k] = '\0';
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    if (dot && (!slash || dot > slash))
        snprintf(out, outlen, "%.*s.%s%s", (int)(dot - path), path, name, dot);
    else
        snprintf(out, outlen, "%s.%s", path, name);
}
