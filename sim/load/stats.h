/*
 * stats.h: what the request records mean: per-phase summaries, the per-second timeline, recovery time.
 *
 * Shared by the simulator and the lab's load generator, so both print the same figures computed the same
 * way. A request belongs to the phase (and the timeline second) in which it STARTED. Latency is end - start
 * of every request, failed ones included (a timeout counts with its full wait), in milliseconds.
 * Quantiles are nearest-rank on the sorted latencies.
 *
 * Recovery time: from the end of the chaos phase to the start of the first 1 s window (sliding in 100 ms
 * steps) whose success rate is back within RECOVERY_TOLERANCE of the baseline's; 0 when the success
 * rate never left the baseline, -1 when it did not come back before the run ended.
 */
#ifndef PC_SIM_LOAD_STATS_H
#define PC_SIM_LOAD_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "sim/load/load.h"

#define RECOVERY_TOLERANCE 0.05
#define PHASES 3

typedef struct sim_phase_summary {
    const char *name;
    int64_t from_ns, to_ns;
    size_t requests, successes;
    double success_rate;
    double p50_ms, p90_ms, p99_ms, max_ms, mean_ms;
    double throughput_per_s; /* successful requests per second */
    /* failed requests by cause (sim_req_record.cause): they add up to requests - successes */
    size_t timeouts, resets, refused, http_errors, other_failures;
    size_t step_n[2], step_ok[2];
    double step_success[2], step_p50_ms[2], step_p99_ms[2];
    double attempts_mean;
} sim_phase_summary;

typedef struct sim_timeline_point {
    int64_t second;
    size_t requests, successes;
    double success_rate, p50_ms, p99_ms;
} sim_timeline_point;

typedef struct run_summary {
    sim_phase_summary phase[PHASES];
    double recovery_s;
    double latency_recovery_s; /* first 1 s window whose p50 is within 1.5x the baseline's again */
    int affected;              /* the chaos phase's success rate fell below the baseline's (- tolerance) */
    int latency_affected;      /* the chaos phase's p50 rose above 1.5x the baseline's */
    sim_timeline_point *timeline;
    size_t timeline_len;
} run_summary;

/* Phase boundaries: baseline [0, b), chaos [b, c), recovery [c, r). */
void stats_compute(const sim_req_record *recs, size_t n, int64_t b_ns, int64_t c_ns, int64_t r_ns, run_summary *out);
void stats_free(run_summary *s);
/* Nearest-rank quantile of an array (sorted in place). */
double stats_quantile(double *values, size_t n, double q);
/* Sorts values (no NaN) in ascending order, as qsort would; -0.0 comes before 0.0. */
void stats_sort(double *values, size_t n);

#endif
