/*
 * pairs.c: which faults the explorer combines in pairs, after the single faults' searches (see state.h).
 *
 * The parts: of each place (a link in one direction, or a service's pods), the fault that breaks at the
 * smallest share of its range, paired at the largest position that holds alone; then faults that hold over
 * their range but visibly use the margin, paired at their range's end. At most --explore-pairs parts, one
 * per place (two faults on one link would be one netem). Only faults that last the whole chaos phase (not a
 * duration, not a one-shot kill), so that both parts share one window and mean in the pair what they meant
 * alone. A pair's search runs along t, the share of each part's own position.
 */
#include <math.h>

#include "sim/explore/state.h"

/* How much of the margin a fault that holds over its range still uses at its end (0: none visible). */
static double effect(const explorer *x, const xp_search *s) {
    const xp_point *top = NULL;
    for (int i = 0; i < s->npts; i++)
        if (!top || s->pts[i].u > top->u) top = &s->pts[i];
    double best = 0;
    for (int e = 0; top && e < x->nex; e++) {
        double base = x->ctx.base_mean[e], drop = base - top->mean[e] - top->half[e];
        if (isfinite(base) && base > 0 && drop > 0 && drop / base > best) best = drop / base;
    }
    return best;
}

static int conflict(const xp_fault *a, const xp_fault *b) {
    int na = space_is_network(a->kind), nb = space_is_network(b->kind);
    if (na && nb) return a->from == b->from && a->to == b->to;
    if (na || nb) return 0;
    if (a->svc != b->svc) return 0;
    int pa = a->kind == XK_POD_KILL || a->kind == XK_POD_FAILURE,
        pb = b->kind == XK_POD_KILL || b->kind == XK_POD_FAILURE;
    return a->kind == b->kind || (pa && pb);
}

/* Where most failed requests of a search's smallest breaking point (or its range's end) failed: XP_AT_*. */
static int failing_step(const xp_search *s, const xp_interval *iv) {
    const xp_point *p = iv->hi_pt >= 0 ? &s->pts[iv->hi_pt] : NULL;
    for (int i = 0; !p && i < s->npts; i++)
        if (s->pts[i].u >= 1) p = &s->pts[i];
    int best = XP_AT_CLIENT;
    uint32_t most = 0;
    for (int a = 0; p && a < XP_AT_COUNT; a++) {
        uint32_t n = 0;
        for (int k = 0; k < SIM_CAUSE_COUNT; k++) n += p->census[a][k];
        if (n > most) most = n, best = a;
    }
    return best;
}

typedef struct pair_cand {
    int s, cls, at; /* cls 0: breaks alone; 1: holds alone but uses the margin */
    double key, at1;
} pair_cand;

/* A fault that lasts the whole chaos phase (not a duration, not a one-shot kill), so that two of them share
 * one window and each part means in the pair what it meant alone. */
static int pairable(xp_kind k) { return !space_sets_duration(k) && k != XK_POD_KILL; }

/* The place a fault acts on: its link, or its service's pods. */
static int place_of(const xp_fault *f) {
    return space_is_network(f->kind) ? (int)(f->from * SVC_PEER_COUNT + f->to) : 16 + (int)f->svc;
}

/* The parts worth pairing, at most `max`: of each place (link or service), the fault that breaks at the
 * smallest share of its range (paired at the largest position that holds alone), by that share; then faults
 * that hold over their range but visibly use the margin (paired at their range's end), by how much. One per
 * place, so that a pair is two places each within its tolerance (two faults on one link are one netem). */
static int pair_parts(const explorer *x, pair_cand *c, int max) {
    int n = 0;
    unsigned places = 0;
    pair_cand all[XP_MAX_FAULTS];
    int na = 0;
    for (int s = 0; s < x->nsingles; s++) {
        const xp_fault *f = &x->sp.faults[s];
        xp_interval iv;
        search_interval(&x->searches[s], &x->ctx, &iv);
        if (!pairable(f->kind)) continue;
        double e = iv.status == XS_HOLDS ? effect(x, &x->searches[s]) : 0;
        if (iv.status == XS_FRONTIER && iv.lo > 0)
            all[na++] = (pair_cand){s, 0, failing_step(&x->searches[s], &iv), iv.hi, iv.lo};
        else if (e > 0)
            all[na++] = (pair_cand){s, 1, failing_step(&x->searches[s], &iv), -e, 1};
    }
    for (int i = 1; i < na; i++)
        for (int j = i;
             j > 0 && (all[j].cls < all[j - 1].cls || (all[j].cls == all[j - 1].cls && all[j].key < all[j - 1].key));
             j--) {
            pair_cand t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    for (int i = 0; i < na && n < max; i++) {
        unsigned bit = 1u << place_of(&x->sp.faults[all[i].s]);
        if (places & bit) continue;
        places |= bit;
        c[n++] = all[i];
    }
    return n;
}

/* Every pair of the parts that Chaos Mesh can apply together (not two netem objects on one link, not two pod
 * kills or failures of one service): pairs whose parts fail the same step first (their effects add up on
 * the same request, where a tolerance is most likely to be used twice), then the others. */
void explore_add_pairs(explorer *x) {
    if (x->ctx.strategy == SIM_EXPLORE_RANDOM || x->o->explore_pairs < 2) return;
    pair_cand c[XP_MAX_FAULTS];
    int n = pair_parts(x, c, x->o->explore_pairs);
    for (int same = 1; same >= 0; same--)
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) {
                const xp_fault *a = &x->sp.faults[c[i].s], *b = &x->sp.faults[c[j].s];
                if (conflict(a, b) || (c[i].at == c[j].at) != same) continue;
                int f[2] = {c[i].s, c[j].s};
                double t1[2] = {c[i].at1, c[j].at1};
                xp_search *ps = &x->searches[x->nsearches++];
                search_init(ps, 2, f, t1, space_zero_is_none(a->kind) && space_zero_is_none(b->kind), 0);
                ps->gap = x->ctx.width / 8;
            }
}
