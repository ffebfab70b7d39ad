/*
 * search.h: the tolerance frontier of one fault (or one pair of faults) along its position u in [0, 1].
 *
 * A point is a position evaluated over seeds (seed, seed + 1, ...: the same seeds at every point, so that
 * neighbouring points differ by the fault, not by the draw). For each expectation a run gives a margin: how
 * far the metric is on the passing side of its threshold (`>=`: value - threshold; `<=`: threshold - value;
 * `==`: +1 pass, -1 fail; no value or "never recovered" on the failing side: -infinity). Over the seeds a
 * point's margin has a mean and a 95 % t-interval, and the point is decided:
 *   HOLD    every expectation's interval lies on the passing side,
 *   BREAK   some expectation's interval lies on the failing side,
 *   UNSURE  otherwise: more seeds (4, then +4 up to 16), and if still undecided, it stays UNSURE.
 * The frontier's interval is [lo, hi]: hi the smallest position that BREAKs, lo the largest HOLD below it
 * (the baseline stands for u = 0 where that is no fault). It is closed when narrower than the width asked
 * for (or no discrete level lies between), when the fault holds at u = 1, breaks at u = 0, touched nothing
 * (inert), or when three UNSURE points lie inside it (the seed noise, not the search, limits it then).
 *
 * A fault whose magnitude is its duration (partition, pod failure) sets the chaos phase, so a rate over that
 * phase need not fall as the magnitude grows: a one-pod failure fails the requests of the first seconds, a
 * large share of a 1.5 s phase and a small one of a 30 s phase. Such a search (check_low) that holds at its
 * range's end also runs the range's low end, so that a fault that breaks only when short is found (and
 * reported as breaking at the low end) instead of passing as "holds over the range".
 *
 * Strategies for the next position:
 *   guided  a first run at u = 1 (1 seed) shows whether the fault's rules saw any packet or pod: if none,
 *           the fault is inert (1 run). A fault whose range's end fails the same step for the same cause as
 *           an earlier fault of the same kind (loss on payment -> inventory and on inventory -> payment: both
 *           time out the inventory check) waits for that fault's frontier and starts with points at its
 *           interval's ends (explore.c). Then the search interpolates the binding expectation's mean margin
 *           between the points around the crossing (once a HOLD point shows the metric moving away from the
 *           baseline; before that, extrapolating from two BREAK points) and probes just below and just
 *           above the estimate in one round, so that a good estimate closes the interval at once; when the
 *           interval is within twice the width, one probe anywhere in its middle closes it; with no estimate,
 *           bisection;
 *   bisect  u = 1, then the middle of the widest gap between lo, the UNSURE points inside, and hi;
 *   random  positions drawn uniformly (by the driver, in explore.c) from a seeded stream.
 *
 * Ownership: a search owns its points (search_free()).
 */
#ifndef PC_SIM_EXPLORE_SEARCH_H
#define PC_SIM_EXPLORE_SEARCH_H

#include <stdint.h>

#include "sim/explore/pool.h"
#include "sim/run/expect.h"

#define XP_SEEDS_FIRST 4
#define XP_SEEDS_STEP 4
#define XP_SEEDS_MAX 32
#define XP_MAX_POINTS 256 /* random sampling may need many */
#define XP_PLAN_POINTS 48 /* guided and bisect give up beyond */

typedef enum xp_decision { XD_PENDING = 0, XD_HOLD, XD_BREAK, XD_UNSURE } xp_decision;

typedef struct xp_point {
    double u;
    int n, want; /* seeds run, seeds asked for */
    xp_decision decision;
    double g[XP_SEEDS_MAX][XP_MAX_EXPECT]; /* per seed: margins */
    double v[XP_SEEDS_MAX][XP_MAX_EXPECT]; /* per seed: metric values */
    double mean[XP_MAX_EXPECT], half[XP_MAX_EXPECT];
    double value_mean[XP_MAX_EXPECT];
    uint32_t census[XP_AT_COUNT][SIM_CAUSE_COUNT];
    uint32_t requests;
    uint64_t touched, retransmissions;
    int violations;
} xp_point;

/* What every search shares: the expectations, the baseline, the width and the strategy. */
typedef struct xp_ctx {
    const sim_expectation *ex;
    int nex;
    double width;
    int strategy; /* SIM_EXPLORE_* */
    int baseline_holds;
    double base_mean[XP_MAX_EXPECT]; /* the baseline's mean margins */
} xp_ctx;

typedef enum xp_status {
    XS_OPEN = 0, /* not closed yet */
    XS_FRONTIER, /* holds at lo, breaks at hi */
    XS_HOLDS,    /* holds over the whole range */
    XS_BELOW,    /* breaks already at u = 0 */
    XS_INERT,    /* touched no packet and no pod */
} xp_status;

typedef struct xp_interval {
    xp_status status;
    int closed, noisy;
    double lo, hi;    /* positions; lo -1: no HOLD known below hi */
    int lo_pt, hi_pt; /* their points (-1: the baseline or none) */
    double estimate;  /* where the binding expectation's mean margin crosses 0 (NAN: none) */
    int binding;      /* the expectation that breaks at hi */
} xp_interval;

typedef struct xp_search {
    int nparts;
    int fault[2];  /* indices into the fault space */
    double at1[2]; /* pairs: each part's position at t = 1 */
    int zero_none; /* u = 0 is no fault: the baseline stands for it */
    int levels;    /* discrete positions k / levels, 0: continuous */
    double gap;    /* a new point closer than this to another is not added (continuous positions) */
    xp_point *pts;
    int npts, cap;
    int done;
    int inert;
    int warm;      /* guided: has looked for a leader to start from */
    int check_low; /* the range's low end is run too when its high end holds (see search_plan) */
    int runs;      /* simulations spent on it */
} xp_search;

void search_init(xp_search *s, int nparts, const int *fault, const double *at1, int zero_none, int levels);
void search_free(xp_search *s);
/* Adds a point at u (snapped to the levels) asking for `want` seeds; its index, or -1 when one is there (or
 * within the search's gap). */
int search_add_point(xp_search *s, double u, int want);
/* Feeds seed index p->n of point i; when all asked seeds are in, decides it (or asks for more). */
void search_feed(xp_search *s, int i, const xp_outcome *o, const xp_ctx *c);
/* Plans the next round (guided, bisect): asks for seeds or adds points, or marks the search done. */
void search_plan(xp_search *s, const xp_ctx *c);
void search_interval(const xp_search *s, const xp_ctx *c, xp_interval *iv);
/* Guided: the signature of a single fault whose range's end broke: where and why most of its failed requests
 * failed there (XP_AT_* x SIM_CAUSE_*; -1: none failed); -2 when the range's end is not a decided BREAK. */
int search_signature(const xp_search *s);
/* Guided: starts s from a finished leader of the same kind and signature: points at the leader's interval
 * ends, where s's own frontier most likely is. Returns the points added. */
int search_warm(xp_search *s, const xp_search *leader, const xp_ctx *c);
/* The margin of expectation e for metric value v (see above). */
double search_margin(const sim_expectation *e, double v);
/* The point's decision from its seeds so far (no more seeds are asked for). */
void search_decide(xp_point *p, const xp_ctx *c, int final);

#endif
