/*
 * render.h: the exploration's results as a text table, a JSON document and an SVG frontier chart.
 *
 * The explorer (explore.c) fills one row per fault and per pair, in the fault space's order (pairs after the
 * single faults), and the ranking of the breaking points; rendering only reads them. Everything printed is
 * deterministic (no wall-clock figure).
 *
 * Ownership: the caller owns the rows; render_json returns a new reference.
 */
#ifndef PC_SIM_EXPLORE_RENDER_H
#define PC_SIM_EXPLORE_RENDER_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/explore/search.h"
#include "sim/explore/space.h"

typedef struct xp_row {
    int nparts, nex;
    const xp_fault *f[2];
    const xp_search *s;
    xp_interval iv;
    char name[200];
    char frontier[96];   /* the estimate, "54.2 %"; a pair: "t = 0.62" */
    char interval[96];   /* "[52.0, 56.0] %" */
    char breaks_at[160]; /* the magnitude(s) at the interval's upper end */
    char first[200];     /* what breaks first: the binding expectation's value and where requests failed */
    char status[48];     /* "frontier", "holds over the range", "no effect", ... */
    double lo_value, hi_value, estimate_value; /* singles, in the fault's unit (NAN: none) */
    int rank;                                  /* 1.. among the breaking points; 0: not one */
    char file[320], inside[320];               /* written files ("" none) */
    char file_note[280], inside_note[280];
} xp_row;

typedef struct xp_summary {
    char expect[1024];
    uint64_t seed;
    const char *strategy;
    double width;
    int budget, runs, verify_runs, converged_at, budget_hit;
    int64_t baseline_ns, chaos_ns, recovery_ns;
    double rate;
    char baseline[240]; /* the no-fault figures */
    int baseline_holds;
    const char *manifest;
    const char *out_dir;
} xp_summary;

void render_text(FILE *out, const xp_summary *sum, const xp_row *rows, int nrows, const int *ranked, int nranked);
json_t *render_json(const xp_summary *sum, const xp_row *rows, int nrows, const int *ranked, int nranked);
/* 0, or -1 with a message. */
int render_svg(const char *path, const xp_summary *sum, const xp_row *rows, int nrows, char *err, size_t errlen);

#endif
