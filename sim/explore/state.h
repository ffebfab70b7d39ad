/*
 * state.h: the explorer's state, shared by its driver (explore.c) and its output side (emit.c).
 *
 * Ownership: explore_main() owns the explorer and everything in it (searches and their points).
 */
#ifndef PC_SIM_EXPLORE_STATE_H
#define PC_SIM_EXPLORE_STATE_H

#include <stdint.h>
#include <stdio.h>

#include "base/rng.h"
#include "sim/explore/pool.h"
#include "sim/explore/render.h"
#include "sim/explore/search.h"
#include "sim/explore/space.h"
#include "sim/input/manifest.h"

typedef struct explorer {
    const sim_options *o; /* as given */
    sim_options run;      /* the explorer's runs: its phases; no expectation, no experiment file */
    sim_options verify;   /* `bin/sim --experiment FILE --seed S`: the default phases */
    sim_manifest m;
    xp_cluster_names cn;
    sim_expectation ex[XP_MAX_EXPECT];
    int nex;
    char expect[1024]; /* the expectations, normalised, joined by "; " */
    xp_space sp;
    xp_ctx ctx;
    xp_search *searches; /* the single faults (nsingles), then the pairs */
    int nsingles, nsearches;
    xp_point base; /* the no-fault runs */
    int runs, verify_runs, converged_at, budget_hit;
    int problems; /* invariant violations, files that did not reproduce */
    pc_rng rng;   /* the random strategy's positions */
} explorer;

/* A document to run over seeds seed0 .. seed0 + nseeds - 1. */
typedef struct xp_job {
    const char *name;
    const char *text;
    uint64_t seed0;
    int nseeds;
} xp_job;

/* Runs every job (documents parsed as experiment files, run with `base`'s phases) on the threads; the outcomes
 * are in job order, then seed order. 0, or -1 with a message. */
int explorer_run_jobs(const explorer *x, const sim_options *base, const xp_job *jobs, int njobs, xp_outcome *out,
                      char *err, size_t errlen);
/* The parts of search s at position u (a pair: each part at u times its position at t = 1). */
int explorer_parts(const explorer *x, const xp_search *s, double u, xp_part *parts);
/* The document of search s at position u; -1 when it does not fit. */
int explorer_yaml(const explorer *x, const xp_search *s, double u, const char *name, const char *comment, char *out,
                  size_t outlen);
/* The object name of search s ("explore-loss-payment-inventory", a pair: "explore-pair-N"). */
void explorer_object_name(const explorer *x, const xp_search *s, char *out, size_t outlen);

/* Appends the pair searches (pairs.c) to x->searches, from the finished single faults' intervals. */
void explore_add_pairs(explorer *x);
/* Creates DIR and DIR/inside (or removes the files an earlier exploration wrote there); 0, or -1 with a
 * message. */
int emit_prepare_dir(const char *dir, char *err, size_t errlen);
/* The rows, the ranking, the checked files (--out) and the outputs; the exit status. */
int emit_results(explorer *x, FILE *out);

#endif
