/*
 * explore.c: the explorer's driver: options, the baseline, the rounds of the single faults' searches, then
 * of the pairs (chosen in pairs.c); see explore.h.
 */
#include "sim/explore/explore.h"

#include <stdlib.h>
#include <string.h>

#include "base/units.h"
#include "sim/explore/state.h"
#include "sim/run/experiment.h"

#define DOC_MAX 8192
#define XP_STR2(x) #x
#define XP_STR(x) XP_STR2(x)

/* ---- setup ---- */

static int check_options(const sim_options *o, char *err, size_t errlen) {
    const char *bad = NULL;
    if (o->nexperiments)
        bad = "--explore searches the fault space itself: it takes no --experiment";
    else if (o->loss_pct > 0 || o->delay_ns > 0 || o->partition || o->cpu_workers > 0 || o->mem_bytes > 0 ||
             o->nkills || o->client_loss_pct > 0)
        bad =
            "--explore injects its own faults: leave out --loss, --delay, --partition, --client-loss, "
            "--cpu-workers, --mem-stress and --pod-kill";
    else if (o->seed_last != o->seed)
        bad = "--explore takes one --seed N: every point runs the seeds N, N+1, ... (up to " XP_STR(XP_SEEDS_MAX) ")";
    else if (o->find_violation || o->shrink || o->check_determinism || o->csv_path || o->trace_path || o->together ||
             o->nobjects)
        bad =
            "--explore does not combine with --find-violation, --shrink, --check-determinism, --csv, --trace, "
            "--together or --object";
    else if (!o->nexpects)
        bad = "--explore needs --expect 'EXPR', e.g. --expect 'chain.success_rate >= 0.99'";
    if (bad) snprintf(err, errlen, "%s", bad);
    return bad ? -1 : 0;
}

int explore_stray_options(const sim_options *o, char *err, size_t errlen) {
    sim_options def;
    sim_options_defaults(&def);
    const char *name = o->explore_budget != def.explore_budget       ? "--budget"
                       : o->explore_out                              ? "--out"
                       : o->explore_width != def.explore_width       ? "--explore-width"
                       : o->explore_strategy != def.explore_strategy ? "--explore-strategy"
                       : o->explore_faults                           ? "--explore-faults"
                       : o->explore_pairs != def.explore_pairs       ? "--explore-pairs"
                                                                     : NULL;
    if (name) snprintf(err, errlen, "%s belongs to --explore (bin/sim --explore --expect 'EXPR' %s ...)", name, name);
    return name ? -1 : 0;
}

/* Every --expect, each `;`-separated part without `during` taken as about the chaos phase. */
static int parse_expectations(explorer *x, char *err, size_t errlen) {
    for (int i = 0; i < x->o->nexpects; i++) {
        const char *s = x->o->expects[i];
        while (*s) {
            const char *semi = strchr(s, ';');
            size_t len = semi ? (size_t)(semi - s) : strlen(s);
            char part[400];
            snprintf(part, sizeof part, "%.*s", (int)(len < 300 ? len : 300), s);
            if (strspn(part, " \t") < strlen(part)) {
                if (!strstr(part, "during")) strncat(part, " during chaos", sizeof part - strlen(part) - 1);
                if (expect_parse(part, "--expect", x->ex, XP_MAX_EXPECT, &x->nex, err, errlen) < 0) return -1;
            }
            s += len + (semi ? 1 : 0);
        }
    }
    size_t n = 0;
    for (int i = 0; i < x->nex; i++)
        n += (size_t)snprintf(x->expect + n, n < sizeof x->expect ? sizeof x->expect - n : 0, "%s%s", i ? "; " : "",
                              x->ex[i].text);
    x->ctx.ex = x->ex;
    x->ctx.nex = x->nex;
    return 0;
}

/* The explorer's phases (its own defaults where the run defaults stand) and the reproduction's. */
static void phases(explorer *x) {
    sim_options def;
    sim_options_defaults(&def);
    x->run = *x->o;
    if (x->run.baseline_ns == def.baseline_ns) x->run.baseline_ns = 5 * SEC;
    if (x->run.chaos_ns == def.chaos_ns) x->run.chaos_ns = 20 * SEC;
    if (x->run.recovery_ns == def.recovery_ns) x->run.recovery_ns = 5 * SEC;
    x->run.load.stop_ns = x->run.baseline_ns + x->run.chaos_ns + x->run.recovery_ns;
    x->run.nexpects = 0;
    x->verify = *x->o;
    x->verify.baseline_ns = def.baseline_ns;
    x->verify.chaos_ns = def.chaos_ns;
    x->verify.recovery_ns = def.recovery_ns;
    x->verify.load.stop_ns = def.baseline_ns + def.chaos_ns + def.recovery_ns;
    x->verify.nexpects = 0;
}

static int setup(explorer *x, const sim_options *o, char *err, size_t errlen) {
    x->o = o;
    x->converged_at = -1;
    if (check_options(o, err, errlen) < 0 || parse_expectations(x, err, errlen) < 0) return -1;
    if (o->explore_out && emit_prepare_dir(o->explore_out, err, errlen) < 0) return -1; /* before the runs */
    phases(x);
    if (o->manifest) {
        if (manifest_load(o->manifest, &x->m, err, errlen) < 0) return -1;
    } else {
        manifest_defaults(&x->m);
    }
    x->m.spec = o->cluster; /* command-line cluster flags win, as in every run */
    space_cluster_names(&x->m, &x->cn);
    unsigned mask;
    if (space_parse_kinds(o->explore_faults, &mask, err, errlen) < 0) return -1;
    space_build(&x->sp, &o->cluster, mask);
    x->ctx.width = o->explore_width;
    x->ctx.strategy = o->explore_strategy;
    pc_rng_init(&x->rng, o->seed, "explore/random");
    x->searches = calloc((size_t)x->sp.n + 16 * 15 / 2, sizeof *x->searches); /* + --explore-pairs 16 */
    if (!x->searches) abort();
    for (int i = 0; i < x->sp.n; i++) {
        const xp_fault *f = &x->sp.faults[i];
        search_init(&x->searches[i], 1, &i, NULL, space_zero_is_none(f->kind), f->levels);
        x->searches[i].gap = x->ctx.width / 8;
        x->searches[i].check_low = space_sets_duration(f->kind) && !space_zero_is_none(f->kind);
    }
    x->nsingles = x->nsearches = x->sp.n;
    return 0;
}

/* ---- running documents ---- */

int explorer_run_jobs(const explorer *x, const sim_options *base, const xp_job *jobs, int njobs, xp_outcome *out,
                      char *err, size_t errlen) {
    (void)x;
    sim_options *load = malloc(sizeof *load);
    sim_options *uo = malloc((size_t)(njobs ? njobs : 1) * sizeof *uo);
    experiment_set **sets = calloc((size_t)(njobs ? njobs : 1), sizeof *sets);
    size_t total = 0;
    for (int j = 0; j < njobs; j++) total += (size_t)jobs[j].nseeds;
    xp_item *items = malloc((total ? total : 1) * sizeof *items);
    if (!load || !uo || !sets || !items) abort();
    *load = *base;
    load->nexpects = load->nexperiments = load->nobjects = load->together = 0;
    int rc = 0;
    size_t k = 0;
    for (int j = 0; j < njobs && !rc; j++) {
        sets[j] = experiment_load_text(load, jobs[j].name, jobs[j].text, err, errlen);
        if (!sets[j] || experiment_unit_count(sets[j]) != 1) {
            if (sets[j]) snprintf(err, errlen, "%s: not one run", jobs[j].name);
            rc = -1;
            break;
        }
        const experiment_unit *u = experiment_unit_at(sets[j], 0);
        experiment_unit_options(u, base, &uo[j]);
        for (int s = 0; s < jobs[j].nseeds; s++) items[k++] = (xp_item){u, &uo[j], jobs[j].seed0 + (uint64_t)s};
    }
    if (!rc) rc = pool_run(items, total, out, base->threads, err, errlen);
    for (int j = 0; j < njobs; j++) experiment_free(sets[j]);
    free(items);
    free(sets);
    free(uo);
    free(load);
    return rc;
}

int explorer_parts(const explorer *x, const xp_search *s, double u, xp_part *parts) {
    for (int i = 0; i < s->nparts; i++) {
        parts[i].f = &x->sp.faults[s->fault[i]];
        parts[i].u = s->nparts == 1 ? u : u * s->at1[i];
    }
    return s->nparts;
}

void explorer_object_name(const explorer *x, const xp_search *s, char *out, size_t outlen) {
    if (s->nparts == 1)
        snprintf(out, outlen, "explore-%s", x->sp.faults[s->fault[0]].slug);
    else
        snprintf(out, outlen, "explore-pair-%d", (int)(s - x->searches) - x->nsingles + 1);
}

int explorer_yaml(const explorer *x, const xp_search *s, double u, const char *name, const char *comment, char *out,
                  size_t outlen) {
    xp_part parts[2];
    int n = explorer_parts(x, s, u, parts);
    return space_yaml(out, outlen, &x->cn, parts, n, name, x->expect, x->run.chaos_ns, comment);
}

/* ---- the baseline ---- */

/* The no-fault runs (16 seeds) through the command line's unit with the expectations. */
static int baseline(explorer *x, char *err, size_t errlen) {
    sim_options *lo = malloc(sizeof *lo);
    if (!lo) abort();
    *lo = x->run;
    const char *texts[XP_MAX_EXPECT];
    for (int i = 0; i < x->nex; i++) texts[i] = x->ex[i].text;
    memcpy(lo->expects, texts, sizeof(texts[0]) * (size_t)x->nex);
    lo->nexpects = x->nex;
    experiment_set *xs = experiment_load(lo, err, errlen);
    int rc = -1;
    if (xs) {
        xp_item items[XP_SEEDS_MAX];
        xp_outcome out[XP_SEEDS_MAX];
        for (int k = 0; k < XP_SEEDS_MAX; k++)
            items[k] = (xp_item){experiment_unit_at(xs, 0), &x->run, x->o->seed + (uint64_t)k};
        rc = pool_run(items, XP_SEEDS_MAX, out, x->o->threads, err, errlen);
        xp_search tmp;
        search_init(&tmp, 1, (int[]){0}, NULL, 0, 0);
        search_add_point(&tmp, 1, XP_SEEDS_MAX);
        for (int k = 0; !rc && k < XP_SEEDS_MAX; k++) search_feed(&tmp, 0, &out[k], &x->ctx);
        if (!rc) {
            search_decide(&tmp.pts[0], &x->ctx, 1);
            x->base = tmp.pts[0];
            x->runs += XP_SEEDS_MAX;
        }
        search_free(&tmp);
        experiment_free(xs);
    }
    free(lo);
    if (rc) return -1;
    x->ctx.baseline_holds = x->base.decision == XD_HOLD;
    for (int e = 0; e < x->nex; e++) x->ctx.base_mean[e] = x->base.mean[e];
    return 0;
}

/* ---- rounds ---- */

typedef struct xp_req {
    int s, pt, from, to;
} xp_req;

/* The seeds every search in [first, last) asks for, in order, as far as the budget goes. */
static int gather(explorer *x, int first, int last, xp_req **reqs) {
    int n = 0, cap = 64, planned = 0;
    *reqs = malloc((size_t)cap * sizeof **reqs);
    if (!*reqs) abort();
    for (int s = first; s < last; s++)
        for (int i = 0; i < x->searches[s].npts; i++) {
            xp_point *p = &x->searches[s].pts[i];
            if (p->n >= p->want) continue;
            if (x->runs + planned + (p->want - p->n) > x->o->explore_budget) {
                x->budget_hit = 1;
                continue;
            }
            if (n == cap) {
                cap *= 2;
                *reqs = realloc(*reqs, (size_t)cap * sizeof **reqs);
                if (!*reqs) abort();
            }
            (*reqs)[n++] = (xp_req){s, i, p->n, p->want};
            planned += p->want - p->n;
        }
    return n;
}

/* After the budget ran out: points never run are dropped, points part-run decided on what they have. */
static void settle(explorer *x, int first, int last) {
    for (int s = first; s < last; s++) {
        xp_search *se = &x->searches[s];
        while (se->npts && se->pts[se->npts - 1].n == 0) se->npts--;
        for (int i = 0; i < se->npts; i++)
            if (se->pts[i].n < se->pts[i].want) {
                se->pts[i].want = se->pts[i].n;
                search_decide(&se->pts[i], &x->ctx, 1);
            }
        se->done = 1;
    }
}

/* One round: every requested seed of the searches [first, last), run, and fed back in order. The number of
 * runs, or -1. */
static int round_run(explorer *x, int first, int last, char *err, size_t errlen) {
    xp_req *reqs;
    int n = gather(x, first, last, &reqs), total = 0;
    xp_job *jobs = calloc((size_t)(n ? n : 1), sizeof *jobs);
    char *texts = malloc((size_t)(n ? n : 1) * DOC_MAX), (*names)[96] = malloc((size_t)(n ? n : 1) * 96);
    if (!jobs || !texts || !names) abort();
    for (int r = 0; r < n; r++) {
        const xp_search *s = &x->searches[reqs[r].s];
        explorer_object_name(x, s, names[r], 96);
        if (explorer_yaml(x, s, s->pts[reqs[r].pt].u, names[r], NULL, texts + (size_t)r * DOC_MAX, DOC_MAX) < 0)
            abort();
        jobs[r] = (xp_job){names[r], texts + (size_t)r * DOC_MAX, x->o->seed + (uint64_t)reqs[r].from,
                           reqs[r].to - reqs[r].from};
        total += jobs[r].nseeds;
    }
    xp_outcome *out = malloc((size_t)(total ? total : 1) * sizeof *out);
    if (!out) abort();
    int rc = n ? explorer_run_jobs(x, &x->run, jobs, n, out, err, errlen) : 0;
    for (int r = 0, k = 0; !rc && r < n; r++)
        for (int s = reqs[r].from; s < reqs[r].to; s++, k++) {
            search_feed(&x->searches[reqs[r].s], reqs[r].pt, &out[k], &x->ctx);
            if (out[k].violation) x->problems++;
        }
    x->runs += rc ? 0 : total;
    free(out);
    free(names);
    free(texts);
    free(jobs);
    free(reqs);
    return rc ? -1 : total;
}

static int all_closed(const explorer *x, int first, int last) {
    for (int s = first; s < last; s++) {
        xp_interval iv;
        search_interval(&x->searches[s], &x->ctx, &iv);
        if (!iv.closed) return 0;
    }
    return 1;
}

/* Random sampling: as many new positions as there are open faults, each on an open fault drawn uniformly. */
static void random_points(explorer *x) {
    int open[XP_MAX_FAULTS], nopen = 0;
    for (int s = 0; s < x->nsingles; s++) {
        xp_interval iv;
        search_interval(&x->searches[s], &x->ctx, &iv);
        if (!iv.closed) open[nopen++] = s;
    }
    for (int k = 0; k < nopen; k++) {
        xp_search *s = &x->searches[open[pc_rng_below(&x->rng, (uint64_t)nopen)]];
        double gap = s->gap;
        s->gap = 0; /* sampling draws where it draws */
        search_add_point(s, pc_rng_double(&x->rng), XP_SEEDS_FIRST);
        s->gap = gap;
    }
}

/* Guided: 1 when single fault si waits for (or has just started from) an earlier fault of the same kind whose
 * range's end failed the same way (search_signature). */
static int follows(explorer *x, int si) {
    xp_search *s = &x->searches[si];
    if (x->ctx.strategy != SIM_EXPLORE_GUIDED || si >= x->nsingles || s->warm || s->done) return 0;
    int sig = search_signature(s);
    if (sig == -2 || s->npts != 1) return 0;
    for (int j = 0; j < si; j++) {
        const xp_search *l = &x->searches[j];
        if (x->sp.faults[j].kind != x->sp.faults[si].kind || search_signature(l) != sig) continue;
        if (!l->done) return 1;
        return search_warm(s, l, &x->ctx) > 0;
    }
    s->warm = 1;
    return 0;
}

/* Rounds over the searches [first, last) until none asks for anything, the budget is spent or (random
 * sampling) every interval is closed. */
static int rounds(explorer *x, int first, int last, int singles, char *err, size_t errlen) {
    int random = x->ctx.strategy == SIM_EXPLORE_RANDOM && singles;
    for (;;) {
        if (random)
            random_points(x);
        else
            for (int s = first; s < last; s++)
                if (!follows(x, s)) search_plan(&x->searches[s], &x->ctx);
        int n = round_run(x, first, last, err, errlen);
        if (n < 0) return -1;
        if (singles && x->converged_at < 0 && all_closed(x, first, last)) x->converged_at = x->runs;
        if (x->budget_hit) {
            settle(x, first, last);
            break;
        }
        if (n == 0 || (random && x->converged_at >= 0)) break;
    }
    return 0;
}

int explore_main(const sim_options *o, FILE *out) {
    explorer *x = calloc(1, sizeof *x);
    if (!x) abort();
    char err[1024];
    int status = 0;
    if (setup(x, o, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        status = 2;
    } else if (baseline(x, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        status = 2;
    } else if (!x->ctx.baseline_holds) {
        status = emit_results(x, out); /* says why there is nothing to explore */
    } else if (rounds(x, 0, x->nsingles, 1, err, sizeof err) < 0) {
        fprintf(stderr, "sim: %s\n", err);
        status = 2;
    } else {
        if (!x->budget_hit) explore_add_pairs(x); /* pairs start from the single faults' frontiers */
        if (!x->budget_hit && rounds(x, x->nsingles, x->nsearches, 0, err, sizeof err) < 0) {
            fprintf(stderr, "sim: %s\n", err);
            status = 2;
        } else {
            status = emit_results(x, out);
        }
    }
    for (int i = 0; i < x->nsearches; i++) search_free(&x->searches[i]);
    free(x->searches);
    free(x);
    return status;
}
