/*
 * emit.c: the explorer's results: one row per fault and pair, the ranking of the breaking points, the Chaos
 * Mesh files (checked before they are written), and the outputs (see explore.h, render.h).
 *
 * A breaking point is a search whose interval has an upper end (the smallest position that breaks). Ranked by
 * fewest parts, then the smallest share of the fault's range (positions are comparable across kinds only so),
 * then the fault space's order. With --out DIR, each is written as DIR/NN-<fault>.yaml at its upper end, and
 * DIR/inside/NN-<fault>.yaml at the interval's lower end (the largest position that holds), when that is a
 * fault at all. Before a file is written, it is run as `bin/sim --experiment FILE --seed SEED` runs it (the
 * default phases: the explorer's short baseline and recovery are not in the file): the breaking one must
 * fail an expectation, the inside one must hold. A seed may disagree with the mean over seeds near the
 * frontier: the position then moves by half the width outwards (up for a breaking file, down for an inside
 * one), at most four times, and the file says where it ended; a file that cannot be made to agree is not
 * written (and the report says so), so every file in DIR does what its name says.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/units.h"
#include "services/core/jsonw.h"
#include "sim/explore/state.h"

#define DOC_MAX 8192
#define COMMENT_MAX 3000
#define VERIFY_TRIES 5
#define FILE_MARK "Written by `bin/sim --explore`"

/* ---- rows ---- */

static void magnitude_text(const explorer *x, const xp_search *s, double u, char *out, size_t outlen) {
    xp_part parts[2];
    int n = explorer_parts(x, s, u, parts);
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        char m[64];
        xp_magnitude mg = space_magnitude(parts[i].f, parts[i].u);
        space_format(parts[i].f, &mg, m, sizeof m);
        if (n == 1)
            k += (size_t)snprintf(out + k, k < outlen ? outlen - k : 0, "%s", m);
        else
            k += (size_t)snprintf(out + k, k < outlen ? outlen - k : 0, "%s%s at %s", i ? " + " : "", parts[i].f->name,
                                  m);
    }
}

/* The binding expectation's mean at point p, and where the failed requests failed (the two largest shares). */
static void describe_first(const explorer *x, const xp_point *p, int b, char *out, size_t outlen) {
    expect_result er = {1, !isnan(p->value_mean[b]), p->value_mean[b]};
    char v[32];
    expect_format_actual(&x->ex[b], &er, v, sizeof v);
    const char *metric = x->ex[b].text;
    size_t k = (size_t)snprintf(out, outlen, "%.*s %s", (int)strcspn(metric, " "), metric, v);
    uint32_t total = 0;
    for (int a = 0; a < XP_AT_COUNT; a++)
        for (int c = 0; c < SIM_CAUSE_COUNT; c++) total += p->census[a][c];
    uint32_t taken[2] = {0, 0};
    for (int round = 0; round < 2 && total; round++) {
        int ba = -1, bc = 0;
        uint32_t most = 0;
        for (int a = 0; a < XP_AT_COUNT; a++)
            for (int c = 0; c < SIM_CAUSE_COUNT; c++)
                if (p->census[a][c] > most && (round == 0 || a * SIM_CAUSE_COUNT + c != (int)taken[0]))
                    most = p->census[a][c], ba = a, bc = c;
        if (ba < 0 || (round == 1 && most * 5 < total)) break;
        taken[round] = (uint32_t)(ba * SIM_CAUSE_COUNT + bc);
        k += (size_t)snprintf(out + k, k < outlen ? outlen - k : 0, "%s %s %s %.0f %%", round ? "," : ";",
                              pool_at_name(ba), sim_fail_cause_name((sim_fail_cause)bc), 100.0 * most / total);
    }
}

static void status_text(const xp_interval *iv, char *out, size_t outlen) {
    switch (iv->status) {
    case XS_INERT: snprintf(out, outlen, "no effect"); break;
    case XS_HOLDS: snprintf(out, outlen, "holds over the range"); break;
    case XS_BELOW: snprintf(out, outlen, "breaks at the range's low end"); break;
    case XS_FRONTIER:
        snprintf(out, outlen, "%s",
                 !iv->closed ? "frontier (open: budget)"
                 : iv->noisy ? "frontier (seed noise)"
                             : "frontier");
        break;
    default: snprintf(out, outlen, iv->hi_pt < 0 ? "undecided at the range's end" : "open"); break;
    }
}

/* The frontier, its interval and the magnitudes of a single fault's row. */
static void single_values(const explorer *x, const xp_search *s, xp_row *r) {
    const xp_fault *f = r->f[0];
    const xp_interval *iv = &r->iv;
    char a[32], b[32], m[64];
    r->lo_value = r->hi_value = r->estimate_value = NAN;
    if (iv->lo >= 0) r->lo_value = space_magnitude(f, iv->lo).value;
    if (iv->hi_pt >= 0) r->hi_value = space_magnitude(f, iv->hi).value;
    if (!isnan(iv->estimate)) r->estimate_value = space_magnitude(f, iv->estimate).value;
    const char *unit = space_unit(f->kind);
    if (iv->status == XS_HOLDS) {
        magnitude_text(x, s, iv->lo, m, sizeof m);
        snprintf(r->frontier, sizeof r->frontier, ">= %s", m);
    } else if (iv->status == XS_BELOW) {
        magnitude_text(x, s, iv->hi, m, sizeof m);
        snprintf(r->frontier, sizeof r->frontier, "< %s", m);
    } else if (s->levels && iv->hi_pt >= 0 && iv->lo >= 0) {
        /* discrete: the frontier is a level, the largest that holds */
        xp_magnitude mg = space_magnitude(f, iv->lo);
        space_format(f, &mg, m, sizeof m);
        if (mg.none) magnitude_text(x, s, iv->hi, m, sizeof m);
        snprintf(r->frontier, sizeof r->frontier, "%s%s", mg.none ? "< " : "", m);
        r->estimate_value = r->lo_value;
    } else if (!isnan(r->estimate_value)) {
        xp_magnitude mg = space_magnitude(f, iv->estimate);
        space_format(f, &mg, r->frontier, sizeof r->frontier);
    }
    if (iv->hi_pt >= 0 && iv->lo >= 0) {
        /* low to high magnitude (a bandwidth breaks below the rate that holds) */
        double v0 = fmin(r->lo_value, r->hi_value), v1 = fmax(r->lo_value, r->hi_value);
        space_format_value(f, v0, a, sizeof a);
        space_format_value(f, v1, b, sizeof b);
        snprintf(r->interval, sizeof r->interval, "[%s, %s] %s", a, b, unit);
    }
}

static void fill_row(const explorer *x, int si, xp_row *r) {
    const xp_search *s = &x->searches[si];
    memset(r, 0, sizeof *r);
    r->nparts = s->nparts;
    r->nex = x->nex;
    r->s = s;
    for (int i = 0; i < s->nparts; i++) r->f[i] = &x->sp.faults[s->fault[i]];
    search_interval(s, &x->ctx, &r->iv);
    if (s->nparts == 1)
        snprintf(r->name, sizeof r->name, "%s", r->f[0]->name);
    else
        snprintf(r->name, sizeof r->name, "%s + %s", r->f[0]->name, r->f[1]->name);
    status_text(&r->iv, r->status, sizeof r->status);
    if (s->nparts == 1) {
        single_values(x, s, r);
    } else {
        r->lo_value = r->iv.lo;
        r->hi_value = r->iv.hi_pt >= 0 ? r->iv.hi : NAN;
        r->estimate_value = r->iv.estimate;
        if (r->iv.status == XS_HOLDS) snprintf(r->frontier, sizeof r->frontier, "t >= 1");
        if (!isnan(r->iv.estimate)) snprintf(r->frontier, sizeof r->frontier, "t = %.2f", r->iv.estimate);
        if (r->iv.hi_pt >= 0 && r->iv.lo >= 0)
            snprintf(r->interval, sizeof r->interval, "[%.2f, %.2f]", r->iv.lo, r->iv.hi);
    }
    if (r->iv.hi_pt >= 0) {
        magnitude_text(x, s, r->iv.hi, r->breaks_at, sizeof r->breaks_at);
        describe_first(x, &s->pts[r->iv.hi_pt], r->iv.binding, r->first, sizeof r->first);
    } else if (r->iv.status == XS_INERT) {
        snprintf(r->first, sizeof r->first, "its rules saw no packet: nothing is sent on this link");
    }
}

/* Breaking points by fewest parts, then the smallest breaking position, then the space's order. */
static int rank_rows(const xp_row *rows, int n, int *ranked) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (rows[i].iv.hi_pt >= 0) ranked[k++] = i;
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0; j--) {
            const xp_row *a = &rows[ranked[j - 1]], *b = &rows[ranked[j]];
            if (a->nparts < b->nparts || (a->nparts == b->nparts && a->iv.hi <= b->iv.hi)) break;
            int t = ranked[j];
            ranked[j] = ranked[j - 1];
            ranked[j - 1] = t;
        }
    return k;
}

/* ---- the files ---- */

typedef struct vfile {
    int row, inside, ok, done;
    double u;
    char path[320];
    xp_outcome res;
} vfile;

static void file_path(const explorer *x, const xp_row *r, int rank, int inside, char *out, size_t outlen) {
    char slug[160];
    if (r->nparts == 1)
        snprintf(slug, sizeof slug, "%s", r->f[0]->slug);
    else
        snprintf(slug, sizeof slug, "pair-%.60s-and-%.60s", r->f[0]->slug, r->f[1]->slug);
    snprintf(out, outlen, "%s/%s%02d-%s.yaml", x->o->explore_out, inside ? "inside/" : "", rank, slug);
}

/* The files still to check, run once each with the explorer's seed and the default phases. */
static int verify_round(explorer *x, const xp_row *rows, vfile *v, int nv, char *err, size_t errlen) {
    xp_job *jobs = calloc((size_t)nv + 1, sizeof *jobs);
    char *texts = malloc(((size_t)nv + 1) * DOC_MAX), (*names)[96] = malloc(((size_t)nv + 1) * 96);
    int *which = malloc(((size_t)nv + 1) * sizeof *which), n = 0;
    if (!jobs || !texts || !names || !which) abort();
    for (int i = 0; i < nv; i++) {
        if (v[i].done) continue;
        const xp_search *s = rows[v[i].row].s;
        explorer_object_name(x, s, names[n], 96);
        if (explorer_yaml(x, s, v[i].u, names[n], NULL, texts + (size_t)n * DOC_MAX, DOC_MAX) < 0) abort();
        jobs[n] = (xp_job){names[n], texts + (size_t)n * DOC_MAX, x->o->seed, 1};
        which[n++] = i;
    }
    xp_outcome *out = malloc(((size_t)n + 1) * sizeof *out);
    if (!out) abort();
    int rc = n ? explorer_run_jobs(x, &x->verify, jobs, n, out, err, errlen) : 0;
    for (int k = 0; !rc && k < n; k++) v[which[k]].res = out[k];
    x->verify_runs += rc ? 0 : n;
    free(out);
    free(which);
    free(names);
    free(texts);
    free(jobs);
    return rc;
}

/* Moves an unconfirmed file half a width outwards; 0 when it cannot move. */
static int move_out(const explorer *x, const xp_row *r, vfile *v) {
    double step = x->ctx.width / 2, u = v->inside ? v->u - step : v->u + step;
    if (u > 1 + 1e-9 || u < -1e-9 || (v->inside && r->s->zero_none && u <= 1e-9)) return 0;
    if (r->s->levels)
        u = v->inside ? floor(v->u * r->s->levels - 0.5) / r->s->levels
                      : ceil(v->u * r->s->levels + 0.5) / r->s->levels;
    if (u > 1 + 1e-9 || u < -1e-9 || (v->inside && r->s->zero_none && u <= 1e-9)) return 0;
    v->u = u < 0 ? 0 : u > 1 ? 1 : u;
    return 1;
}

/* Checks every file (moving the ones a seed disagrees with), until each is confirmed or cannot move. */
static int verify_files(explorer *x, const xp_row *rows, vfile *v, int nv, char *err, size_t errlen) {
    for (int t = 0; t < VERIFY_TRIES; t++) {
        if (verify_round(x, rows, v, nv, err, errlen) < 0) return -1;
        int left = 0;
        for (int i = 0; i < nv; i++) {
            if (v[i].done) continue;
            const xp_outcome *o = &v[i].res;
            v[i].ok = v[i].inside ? !o->failed && !o->violation : o->failed > 0;
            if (v[i].ok || t == VERIFY_TRIES - 1 || !move_out(x, &rows[v[i].row], &v[i]))
                v[i].done = 1;
            else
                left++;
        }
        if (!left) break;
    }
    return 0;
}

static void actual_text(const explorer *x, const xp_outcome *o, char *out, size_t outlen) {
    size_t k = 0;
    out[0] = '\0';
    for (int e = 0; e < x->nex; e++) {
        expect_result er = {1, !isnan(o->value[e]), o->value[e]};
        char v[32];
        expect_format_actual(&x->ex[e], &er, v, sizeof v);
        const char *t = x->ex[e].text;
        k += (size_t)snprintf(out + k, k < outlen ? outlen - k : 0, "%s%.*s %s", e ? ", " : "", (int)strcspn(t, " "), t,
                              v);
    }
}

/* `bin/sim --seed N --experiment PATH` and whatever else of the command line shapes a run. */
static void repro_command(const explorer *x, const char *path, char *out, size_t outlen) {
    sim_options *c = malloc(sizeof *c);
    if (!c) abort();
    *c = x->verify;
    c->experiments[0] = path;
    c->nexperiments = 1;
    c->nexpects = 0;
    sim_options_command(c, x->o->seed, out, outlen);
    free(c);
}

static void file_comment(const explorer *x, const xp_row *r, const vfile *v, const vfile *pair, char *out,
                         size_t outlen) {
    char mag[200], at_hi[200], cmd[1200], actual[200];
    magnitude_text(x, r->s, v->u, mag, sizeof mag);
    magnitude_text(x, r->s, r->iv.hi, at_hi, sizeof at_hi);
    repro_command(x, v->path, cmd, sizeof cmd);
    actual_text(x, &v->res, actual, sizeof actual);
    /* a pair's magnitude text names its parts already */
    size_t k = (size_t)snprintf(out, outlen, "%s (seed %llu): %s of the steady state\n  %s\n%s%s%s", FILE_MARK,
                                (unsigned long long)x->o->seed,
                                v->inside ? "just inside the tolerance frontier" : "a breaking point", x->expect,
                                r->nparts == 1 ? r->name : "", r->nparts == 1 ? " at " : "", mag);
#define ADD(...) k += (size_t)snprintf(out + k, k < outlen ? outlen - k : 0, __VA_ARGS__)
    if (r->nparts == 2) ADD(" (t = %.3f of each part's own limit)", v->u);
    if (!v->inside) {
        ADD(": %s (rank %d: fewest parts, then the smallest share of the range).\n",
            v->u == r->iv.hi ? "the smallest magnitude found that breaks it"
                             : "above the smallest magnitude found that "
                               "breaks it, where this seed still held",
            r->rank);
        ADD("The explorer's frontier: %s", r->frontier[0] ? r->frontier : "-");
        if (r->interval[0]) ADD(", 95 %% interval %s", r->interval);
        ADD("; at %s: %s.\n", at_hi, r->first);
    } else {
        ADD(": %s.\n", v->u == r->iv.lo ? "the largest magnitude found at which it holds"
                                        : "below the largest magnitude found at which it holds, where this seed broke");
        if (pair) ADD("The breaking point is %s.\n", pair->path);
    }
    ADD("Reproduce: %s\n  -> exit %d (checked when this file was written: %s)\n", cmd, v->inside ? 0 : 1, actual);
    ADD("On a cluster: tests/chaos.sh apply %s", v->path);
#undef ADD
}

/* Removes the *.yaml files an earlier exploration wrote in dir (and only those: their first line says so). */
static void clean_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml")) continue;
        char path[1200], line[128] = "";
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        int ours = fgets(line, sizeof line, f) && !strncmp(line, "# " FILE_MARK, strlen("# " FILE_MARK));
        fclose(f);
        if (ours) unlink(path);
    }
    closedir(d);
}

int emit_prepare_dir(const char *dir, char *err, size_t errlen) {
    char inside[1100];
    snprintf(inside, sizeof inside, "%s/inside", dir);
    if ((mkdir(dir, 0777) < 0 && errno != EEXIST) || (mkdir(inside, 0777) < 0 && errno != EEXIST)) {
        snprintf(err, errlen, "--out %s: cannot create the directory: %s", dir, strerror(errno));
        return -1;
    }
    clean_dir(dir);
    clean_dir(inside);
    return 0;
}

static int write_file(const explorer *x, const xp_row *r, const vfile *v, const vfile *pair, char *err, size_t errlen) {
    char *comment = malloc(COMMENT_MAX), *text = malloc(DOC_MAX + COMMENT_MAX), name[96];
    if (!comment || !text) abort();
    file_comment(x, r, v, pair, comment, COMMENT_MAX);
    explorer_object_name(x, r->s, name, sizeof name);
    int rc = explorer_yaml(x, r->s, v->u, name, comment, text, DOC_MAX + COMMENT_MAX) < 0 ? -1 : 0;
    FILE *f = rc ? NULL : fopen(v->path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %s", v->path);
        rc = -1;
    }
    free(comment);
    free(text);
    return rc;
}

/* The files of the ranked breaking points: checked, then written; each row says what became of its files. */
static int write_files(explorer *x, xp_row *rows, const int *ranked, int nranked, char *err, size_t errlen) {
    vfile *v = calloc((size_t)nranked * 2 + 1, sizeof *v);
    int *brk = malloc(((size_t)nranked + 1) * sizeof *brk), nv = 0;
    if (!v || !brk) abort();
    for (int k = 0; k < nranked; k++) {
        xp_row *r = &rows[ranked[k]];
        brk[k] = nv;
        v[nv] = (vfile){.row = ranked[k], .u = r->iv.hi};
        file_path(x, r, r->rank, 0, v[nv].path, sizeof v[nv].path);
        nv++;
        if (r->iv.lo < 0 || (r->s->zero_none && r->iv.lo <= 0)) continue;
        v[nv] = (vfile){.row = ranked[k], .inside = 1, .u = r->iv.lo};
        file_path(x, r, r->rank, 1, v[nv].path, sizeof v[nv].path);
        nv++;
    }
    int rc = verify_files(x, rows, v, nv, err, errlen);
    for (int i = 0; !rc && i < nv; i++) {
        xp_row *r = &rows[v[i].row];
        char *note = v[i].inside ? r->inside_note : r->file_note, mag[200];
        magnitude_text(x, r->s, v[i].u, mag, sizeof mag);
        if (!v[i].ok) {
            snprintf(note, sizeof r->file_note, "not written: with seed %llu it %s even at %s",
                     (unsigned long long)x->o->seed, v[i].inside ? "broke" : "held", mag);
            continue;
        }
        const vfile *pair = v[i].inside ? &v[brk[r->rank - 1]] : NULL;
        rc = write_file(x, r, &v[i], pair && pair->ok ? pair : NULL, err, errlen);
        snprintf(v[i].inside ? r->inside : r->file, sizeof r->file, "%s", v[i].path);
        snprintf(note, sizeof r->file_note, "%s, exit %d", mag, v[i].inside ? 0 : 1);
    }
    free(brk);
    free(v);
    return rc;
}

/* ---- the outputs ---- */

static void summarize(const explorer *x, xp_summary *sum) {
    static const char *const strategies[] = {"guided", "bisect", "random"};
    memset(sum, 0, sizeof *sum);
    snprintf(sum->expect, sizeof sum->expect, "%s", x->expect);
    sum->seed = x->o->seed;
    sum->strategy = strategies[x->ctx.strategy];
    sum->width = x->ctx.width;
    sum->budget = x->o->explore_budget;
    sum->runs = x->runs;
    sum->verify_runs = x->verify_runs;
    sum->converged_at = x->converged_at;
    sum->budget_hit = x->budget_hit;
    sum->baseline_ns = x->run.baseline_ns;
    sum->chaos_ns = x->run.chaos_ns;
    sum->recovery_ns = x->run.recovery_ns;
    sum->rate = x->run.load.closed_loop ? 0 : x->run.load.rate_per_s;
    sum->manifest = x->o->manifest;
    sum->out_dir = x->o->explore_out;
    sum->baseline_holds = x->ctx.baseline_holds;
    size_t k = 0;
    for (int e = 0; e < x->nex; e++) {
        expect_result er = {1, !isnan(x->base.value_mean[e]), x->base.value_mean[e]};
        char v[32];
        expect_format_actual(&x->ex[e], &er, v, sizeof v);
        const char *t = x->ex[e].text;
        k += (size_t)snprintf(sum->baseline + k, k < sizeof sum->baseline ? sizeof sum->baseline - k : 0, "%s%.*s %s",
                              e ? ", " : "", (int)strcspn(t, " "), t, v);
    }
    snprintf(sum->baseline + k, k < sizeof sum->baseline ? sizeof sum->baseline - k : 0, " (mean of %d seeds): %s",
             x->base.n,
             x->base.decision == XD_HOLD    ? "holds"
             : x->base.decision == XD_BREAK ? "does NOT hold"
                                            : "undecided (too close to the threshold)");
}

static int write_outputs(const explorer *x, const xp_summary *sum, const xp_row *rows, int nrows, const int *ranked,
                         int nranked, char *err, size_t errlen) {
    char path[1100];
    if (x->o->explore_out) {
        snprintf(path, sizeof path, "%s/explore.json", x->o->explore_out);
        json_t *doc = render_json(sum, rows, nrows, ranked, nranked);
        int rc = json_dump_file(doc, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        json_decref(doc);
        if (rc < 0) {
            snprintf(err, errlen, "cannot write %.900s", path);
            return -1;
        }
        snprintf(path, sizeof path, "%s/frontier.svg", x->o->explore_out);
        if (render_svg(path, sum, rows, nrows, err, errlen) < 0) return -1;
    }
    if (x->o->svg_path && render_svg(x->o->svg_path, sum, rows, nrows, err, errlen) < 0) return -1;
    return 0;
}

int emit_results(explorer *x, FILE *out) {
    int n = x->nsearches, status = 0;
    xp_row *rows = calloc((size_t)n + 1, sizeof *rows);
    int *ranked = calloc((size_t)n + 1, sizeof *ranked);
    if (!rows || !ranked) abort();
    for (int i = 0; i < n; i++) fill_row(x, i, &rows[i]);
    int nranked = rank_rows(rows, n, ranked);
    for (int k = 0; k < nranked; k++) rows[ranked[k]].rank = k + 1;
    char err[1024];
    if (x->o->explore_out && x->ctx.baseline_holds && write_files(x, rows, ranked, nranked, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        status = 2;
    }
    xp_summary sum;
    summarize(x, &sum);
    if (x->o->json) {
        json_t *doc = render_json(&sum, rows, n, ranked, nranked);
        char *text = svc_json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (text) fprintf(out, "%s\n", text);
        free(text);
        json_decref(doc);
    } else {
        render_text(out, &sum, rows, n, ranked, nranked);
    }
    if (!status && write_outputs(x, &sum, rows, n, ranked, nranked, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        status = 2;
    }
    if (!status && (!x->ctx.baseline_holds || x->problems)) status = 1;
    free(ranked);
    free(rows);
    return status;
}
