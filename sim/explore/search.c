/*
 * search.c: points, decisions, intervals and the next positions of one frontier search (see search.h).
 */
#include "sim/explore/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/run/options.h"

#define EPS 1e-9

void search_init(xp_search *s, int nparts, const int *fault, const double *at1, int zero_none, int levels) {
    memset(s, 0, sizeof *s);
    s->nparts = nparts;
    for (int i = 0; i < nparts; i++) {
        s->fault[i] = fault[i];
        s->at1[i] = at1 ? at1[i] : 1;
    }
    s->zero_none = zero_none;
    s->levels = levels;
}

void search_free(xp_search *s) {
    free(s->pts);
    s->pts = NULL;
    s->npts = s->cap = 0;
}

int search_add_point(xp_search *s, double u, int want) {
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    if (s->levels) u = round(u * s->levels) / s->levels;
    if (s->zero_none && u <= EPS) return -1; /* the baseline */
    for (int i = 0; i < s->npts; i++)
        if (fabs(s->pts[i].u - u) <= (s->levels ? EPS : s->gap + EPS)) return -1;
    if (s->npts >= XP_MAX_POINTS) return -1;
    if (s->npts == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->pts = realloc(s->pts, (size_t)s->cap * sizeof *s->pts);
        if (!s->pts) abort();
    }
    xp_point *p = &s->pts[s->npts];
    memset(p, 0, sizeof *p);
    p->u = u;
    p->want = want;
    return s->npts++;
}

double search_margin(const sim_expectation *e, double v) {
    if (isnan(v)) return -INFINITY;
    switch (e->op) {
    case EXP_GE:
    case EXP_GT: return v - e->value;
    case EXP_LE:
    case EXP_LT: return e->value - v;
    case EXP_EQ: return fabs(v - e->value) <= 1e-9 * (fabs(e->value) > 1 ? fabs(e->value) : 1) ? 1 : -1;
    }
    return -INFINITY;
}

/* Two-sided 97.5 % t quantile for n - 1 degrees of freedom. */
static double t975(int n) {
    static const double t[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086};
    int df = n > 1 ? n - 1 : 1;
    return df < (int)(sizeof t / sizeof t[0]) ? t[df] : 2.0;
}

/* Mean and 95 % half-width of one expectation's margins over the point's seeds; an infinite margin in any
 * seed makes the mean infinite (failing wins over passing). */
static void margin_stats(xp_point *p, int e) {
    int neg = 0, pos = 0;
    double sum = 0, vsum = 0;
    for (int k = 0; k < p->n; k++) {
        double g = p->g[k][e];
        if (isinf(g))
            *(g < 0 ? &neg : &pos) += 1;
        else
            sum += g;
        vsum += p->v[k][e];
    }
    p->value_mean[e] = p->n ? vsum / p->n : NAN;
    p->half[e] = 0;
    if (neg || pos) {
        p->mean[e] = neg ? -INFINITY : INFINITY;
        return;
    }
    double mean = p->n ? sum / p->n : 0, sq = 0;
    for (int k = 0; k < p->n; k++) sq += (p->g[k][e] - mean) * (p->g[k][e] - mean);
    p->mean[e] = mean;
    if (p->n > 1) p->half[e] = t975(p->n) * sqrt(sq / (p->n - 1)) / sqrt((double)p->n);
}

static int strict(const sim_expectation *e) { return e->op == EXP_GT || e->op == EXP_LT || e->op == EXP_EQ; }

static int holds(const xp_point *p, const sim_expectation *ex, int e) {
    double low = p->mean[e] - p->half[e];
    return strict(&ex[e]) ? low > 0 : low >= 0;
}

static int breaks(const xp_point *p, const sim_expectation *ex, int e) {
    double high = p->mean[e] + p->half[e];
    return strict(&ex[e]) ? high <= 0 : high < 0;
}

/* 1 when an undecided expectation's mean sits so close to its threshold that even the full number of seeds
 * would likely leave it undecided: its interval then would still be wider than the distance (the interval
 * shrinks with the square root of the seeds; the mean is taken to stay where it is). Checked from 8 seeds
 * on, so that points right at the frontier do not each cost the maximum. */
static int futile(const xp_point *p, const xp_ctx *c) {
    if (p->n < 2 * XP_SEEDS_FIRST) return 0;
    for (int e = 0; e < c->nex; e++) {
        if (holds(p, c->ex, e) || breaks(p, c->ex, e)) continue;
        double at_max = p->half[e] * sqrt((double)p->n / XP_SEEDS_MAX) * t975(XP_SEEDS_MAX) / t975(p->n);
        if (fabs(p->mean[e]) < at_max) return 1;
    }
    return 0;
}

void search_decide(xp_point *p, const xp_ctx *c, int final) {
    if (p->n < XP_SEEDS_FIRST && !final) {
        p->decision = XD_PENDING;
        return;
    }
    int any_break = 0, all_hold = 1;
    for (int e = 0; e < c->nex; e++) {
        margin_stats(p, e);
        if (breaks(p, c->ex, e)) any_break = 1;
        if (!holds(p, c->ex, e)) all_hold = 0;
    }
    p->decision = any_break ? XD_BREAK : all_hold ? XD_HOLD : XD_UNSURE;
    if (p->decision == XD_UNSURE && !final && p->n < XP_SEEDS_MAX && !futile(p, c)) {
        p->want = p->n + XP_SEEDS_STEP > XP_SEEDS_MAX ? XP_SEEDS_MAX : p->n + XP_SEEDS_STEP;
        p->decision = XD_PENDING;
    }
}

void search_feed(xp_search *s, int i, const xp_outcome *o, const xp_ctx *c) {
    xp_point *p = &s->pts[i];
    if (p->n >= XP_SEEDS_MAX) return;
    for (int e = 0; e < c->nex; e++) {
        p->v[p->n][e] = o->value[e];
        p->g[p->n][e] = search_margin(&c->ex[e], o->value[e]);
    }
    for (int a = 0; a < XP_AT_COUNT; a++)
        for (int k = 0; k < SIM_CAUSE_COUNT; k++) p->census[a][k] += o->census[a][k];
    p->requests += o->chaos_requests;
    p->touched += o->touched;
    p->retransmissions += o->retransmissions;
    p->violations += o->violation;
    p->n++;
    s->runs++;
    if (p->n >= p->want) search_decide(p, c, 0);
}

/* ---- the interval ---- */

static int finished(const xp_point *p) { return p->decision != XD_PENDING && p->n >= p->want; }

/* The first expectation that breaks at point p (0 when none does). */
static int binding_of(const xp_point *p, const xp_ctx *c) {
    for (int e = 0; e < c->nex; e++)
        if (breaks(p, c->ex, e)) return e;
    return 0;
}

/* Where the mean margin of expectation b crosses 0, between the highest point (or the baseline) that passes on
 * average and the lowest that fails on average; NAN when there is no such pair. */
static double crossing(const xp_search *s, const xp_ctx *c, int b) {
    double au = -1, am = 0, bu = 2, bm = 0;
    if (s->zero_none && c->baseline_holds) au = 0, am = c->base_mean[b];
    for (int i = 0; i < s->npts; i++) {
        const xp_point *p = &s->pts[i];
        if (!finished(p) || !isfinite(p->mean[b])) continue;
        if (p->mean[b] < 0 && p->u < bu) bu = p->u, bm = p->mean[b];
    }
    for (int i = 0; i < s->npts; i++) {
        const xp_point *p = &s->pts[i];
        if (finished(p) && isfinite(p->mean[b]) && p->mean[b] >= 0 && p->u < bu && p->u > au)
            au = p->u, am = p->mean[b];
    }
    if (au < 0 || bu > 1 || am - bm <= 0) return NAN;
    return au + (bu - au) * am / (am - bm);
}

/* The lowest and highest UNSURE points inside (lo, hi); 0 when there is none. */
static int unsure_span(const xp_search *s, double lo, double hi, double *umin, double *umax) {
    int n = 0;
    for (int i = 0; i < s->npts; i++) {
        const xp_point *p = &s->pts[i];
        if (!finished(p) || p->decision != XD_UNSURE || p->u <= lo || p->u >= hi) continue;
        if (!n || p->u < *umin) *umin = p->u;
        if (!n || p->u > *umax) *umax = p->u;
        n++;
    }
    return n;
}

void search_interval(const xp_search *s, const xp_ctx *c, xp_interval *iv) {
    memset(iv, 0, sizeof *iv);
    iv->lo = -1;
    iv->hi = 2;
    iv->lo_pt = iv->hi_pt = -1;
    iv->estimate = NAN;
    if (s->inert) {
        iv->status = XS_INERT;
        iv->closed = 1;
        return;
    }
    for (int i = 0; i < s->npts; i++)
        if (finished(&s->pts[i]) && s->pts[i].decision == XD_BREAK && s->pts[i].u < iv->hi)
            iv->hi = s->pts[i].u, iv->hi_pt = i;
    if (s->zero_none && c->baseline_holds) iv->lo = 0;
    for (int i = 0; i < s->npts; i++)
        if (finished(&s->pts[i]) && s->pts[i].decision == XD_HOLD && s->pts[i].u < iv->hi && s->pts[i].u > iv->lo)
            iv->lo = s->pts[i].u, iv->lo_pt = i;
    if (iv->hi_pt < 0) {
        /* nothing breaks (yet): closed when it holds within the width of the range's end, or is undecided at
         * its very end (at the threshold there: noisy) */
        if (iv->lo >= 1 - c->width - EPS) iv->status = XS_HOLDS, iv->closed = 1;
        for (int i = 0; !iv->closed && i < s->npts; i++)
            if (finished(&s->pts[i]) && s->pts[i].decision == XD_UNSURE && s->pts[i].u >= 1 - c->width / 2 - EPS)
                iv->status = XS_HOLDS, iv->closed = iv->noisy = 1;
        return;
    }
    iv->binding = binding_of(&s->pts[iv->hi_pt], c);
    iv->estimate = crossing(s, c, iv->binding);
    if (iv->lo < 0) {
        if (iv->hi <= c->width + EPS) iv->status = XS_BELOW, iv->closed = 1;
        return;
    }
    iv->status = XS_FRONTIER;
    if (!isnan(iv->estimate)) iv->estimate = fmin(fmax(iv->estimate, iv->lo), iv->hi);
    iv->closed = iv->hi - iv->lo <= c->width + EPS ||
                 (s->levels && lround(iv->hi * s->levels) - lround(iv->lo * s->levels) <= 1);
    double umin, umax;
    if (!iv->closed && unsure_span(s, iv->lo, iv->hi, &umin, &umax) && umin - iv->lo <= c->width / 2 + EPS &&
        iv->hi - umax <= c->width / 2 + EPS)
        iv->closed = iv->noisy = 1;
}

/* ---- the next positions ---- */

/* A guided estimate of the crossing inside (lo, hi), from how far the binding expectation's metric has moved
 * from the baseline: the drop of the mean margin, d(u) = base - mean(u), must reach d* = base (the margin
 * the baseline had). Degradation grows roughly exponentially with a fault near a tolerance (each further
 * loss or delay step multiplies the requests that exhaust their retries), so log d is interpolated linearly
 * between the highest passing point that has visibly moved and the lowest failing one (*bracketed = 1), or
 * extrapolated from the two lowest failing points. NAN when neither exists (then the search bisects: a metric
 * that has not moved yet says nothing about where it will). */
static double guess(const xp_search *s, const xp_ctx *c, int b, double hi, int *bracketed) {
    const xp_point *A = NULL, *B = NULL, *B2 = NULL;
    double base = c->base_mean[b];
    for (int i = 0; i < s->npts; i++) {
        const xp_point *p = &s->pts[i];
        if (!finished(p) || !isfinite(p->mean[b])) continue;
        if (p->mean[b] < 0) {
            if (!B || p->u < B->u)
                B2 = B, B = p;
            else if (!B2 || p->u < B2->u)
                B2 = p;
        } else if (p->mean[b] < base - fmax(p->half[b], EPS) && p->u < hi && (!A || p->u > A->u)) {
            A = p;
        }
    }
    *bracketed = 0;
    if (!isfinite(base) || base <= 0 || !B) return NAN;
    double ls = log(base), lb = log(base - B->mean[b]);
    if (A && A->u < B->u) {
        double la = log(base - A->mean[b]);
        *bracketed = 1;
        return A->u + (B->u - A->u) * (ls - la) / (lb - la);
    }
    if (B2 && B2->mean[b] < B->mean[b]) {
        double slope = (log(base - B2->mean[b]) - lb) / (B2->u - B->u);
        return B->u - (lb - ls) / slope;
    }
    return NAN;
}

/* The middle of the widest gap between lo, the UNSURE points inside (lo, hi), and hi. */
static double widest_gap(const xp_search *s, double lo, double hi) {
    double best_a = lo, best_b = hi, prev = lo;
    double width = -1;
    for (;;) {
        double next = hi;
        for (int i = 0; i < s->npts; i++) {
            const xp_point *p = &s->pts[i];
            if (finished(p) && p->decision == XD_UNSURE && p->u > prev + EPS && p->u < next) next = p->u;
        }
        if (next - prev > width) width = next - prev, best_a = prev, best_b = next;
        if (next >= hi) break;
        prev = next;
    }
    return (best_a + best_b) / 2;
}

static double clamp(double x, double a, double b) { return x < a ? a : x > b ? b : x; }

/* Adds the next point(s) inside (lo, hi); 0 when none could be added. Guided: with an estimate e of the
 * crossing, a HOLD candidate at e - W/2 and a BREAK candidate at e + W/2 (W the width), so that two right
 * guesses close the interval; an UNSURE point pushes its side's candidate W/2 past it, so that the interval
 * still closes as tightly as the seed noise lets it. A side already within reach is not probed again.
 * Without an estimate (and for bisect): the middle of the widest gap. */
static int propose(xp_search *s, const xp_ctx *c, const xp_interval *iv) {
    double W = c->width, lo = iv->lo < 0 ? 0 : iv->lo, hi = iv->hi, w = hi - lo;
    int bracketed, added = 0;
    double e = c->strategy == SIM_EXPLORE_GUIDED ? guess(s, c, iv->binding, hi, &bracketed) : NAN;
    if (!(e > lo && e < hi)) e = NAN; /* an estimate outside the interval says the curve is not what it assumes */
    if (!isnan(e) && bracketed) {
        double ht = e - W / 2, bt = e + W / 2, umin, umax;
        if (unsure_span(s, lo, hi, &umin, &umax)) {
            ht = fmin(ht, umin - W / 2);
            bt = fmax(bt, umax + W / 2);
        }
        if (ht > lo + EPS) added += search_add_point(s, clamp(ht, lo + 0.02 * w, hi - 0.02 * w), XP_SEEDS_FIRST) >= 0;
        if (bt < hi - EPS) added += search_add_point(s, clamp(bt, lo + 0.02 * w, hi - 0.02 * w), XP_SEEDS_FIRST) >= 0;
    } else if (!isnan(e)) {
        /* extrapolated from two failing points: one probe, kept off the interval's ends */
        added += search_add_point(s, clamp(e, lo + 0.25 * w, hi - 0.1 * w), XP_SEEDS_FIRST) >= 0;
    }
    if (!added) added += search_add_point(s, widest_gap(s, lo, hi), XP_SEEDS_FIRST) >= 0;
    return added;
}

int search_signature(const xp_search *s) {
    if (s->nparts != 1 || s->npts < 1 || !finished(&s->pts[0]) || s->pts[0].decision != XD_BREAK) return -2;
    const xp_point *p = &s->pts[0];
    int best = -1;
    uint32_t most = 0;
    for (int a = 0; a < XP_AT_COUNT; a++)
        for (int k = 0; k < SIM_CAUSE_COUNT; k++)
            if (p->census[a][k] > most) most = p->census[a][k], best = a * SIM_CAUSE_COUNT + k;
    return best;
}

int search_warm(xp_search *s, const xp_search *leader, const xp_ctx *c) {
    xp_interval iv;
    search_interval(leader, c, &iv);
    s->warm = 1;
    if (iv.status != XS_FRONTIER || iv.lo < 0) return 0;
    int added = search_add_point(s, iv.lo, XP_SEEDS_FIRST) >= 0;
    added += search_add_point(s, iv.hi, XP_SEEDS_FIRST) >= 0;
    return added;
}

void search_plan(xp_search *s, const xp_ctx *c) {
    if (s->done) return;
    for (int i = 0; i < s->npts; i++)
        if (s->pts[i].n < s->pts[i].want) return; /* seeds asked for and not run yet */
    int guided = c->strategy == SIM_EXPLORE_GUIDED;
    if (!s->npts) {
        /* guided: one seed at the range's end first, to see whether the fault touches anything */
        search_add_point(s, 1, guided && s->nparts == 1 ? 1 : XP_SEEDS_FIRST);
        return;
    }
    xp_point *first = &s->pts[0];
    if (first->decision == XD_PENDING && first->n < XP_SEEDS_FIRST) {
        if (!first->touched) {
            s->inert = s->done = 1;
            return;
        }
        first->want = XP_SEEDS_FIRST;
        return;
    }
    xp_interval iv;
    search_interval(s, c, &iv);
    if (iv.status == XS_HOLDS && s->check_low && c->strategy != SIM_EXPLORE_RANDOM &&
        search_add_point(s, 0, XP_SEEDS_FIRST) >= 0)
        return; /* a duration fault that holds when long may break when short */
    if (iv.closed || iv.hi_pt < 0 || s->npts >= XP_PLAN_POINTS) {
        s->done = 1;
        return;
    }
    if (!propose(s, c, &iv)) s->done = 1;
}
