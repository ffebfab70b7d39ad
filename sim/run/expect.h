/*
 * expect.h: steady-state expectations: `<metric> <op> <number> during <phase>`, joined by `;`.
 *
 *   chain.success_rate >= 0.95 during baseline; chain.p50_ms < 200 during chaos; recovery_s <= 30 during recovery
 *
 * Metrics (phase_summary and run_summary of sim/load/stats.h; "chain" is the clients' requests, whatever the
 * workload):
 *   chain.success_rate chain.p50_ms chain.p90_ms chain.p99_ms chain.max_ms chain.mean_ms chain.requests
 *   chain.throughput_per_s chain.timeouts chain.resets chain.refused chain.http_errors
 *   inventory.success_rate inventory.p50_ms inventory.p99_ms inventory.requests      (chain step 1)
 *   notification.success_rate notification.p50_ms notification.p99_ms notification.requests (chain step 2)
 *   recovery_s latency_recovery_s        (seconds after the chaos phase; only `during recovery`; "never" when
 *                                         it did not recover: compares as +infinity)
 * Rates are fractions (0.95, not 95). Operators: < <= > >= ==. Phases: baseline, chaos, recovery.
 * A step metric in a phase where no request reached that step has no value: the expectation fails.
 *
 * Ownership: plain structs; nothing allocated.
 */
#ifndef PC_SIM_RUN_EXPECT_H
#define PC_SIM_RUN_EXPECT_H

#include <stddef.h>

#include "sim/load/stats.h"

typedef enum expect_op { EXP_LT = 0, EXP_LE, EXP_GT, EXP_GE, EXP_EQ } expect_op;

typedef struct sim_expectation {
    char text[200];   /* normalised: "chain.success_rate >= 0.95 during baseline" */
    char source[160]; /* "annotation of packet-loss-80-percent (FILE:LINE)" or "--expect" */
    int metric;
    expect_op op;
    double value;
    int phase; /* 0 baseline, 1 chaos, 2 recovery */
} sim_expectation;

typedef struct expect_result {
    int pass;
    int available; /* 0: the metric has no value in that phase */
    double actual; /* INFINITY for "never recovered" */
} expect_result;

/* Parses `text` (one or more `;`-separated expressions) into out[*n...]; 0, or -1 with a message. */
int expect_parse(const char *text, const char *source, sim_expectation *out, int max, int *n, char *err, size_t errlen);
expect_result expect_eval(const sim_expectation *e, const run_summary *s);
/* The metric's value as text ("0.982", "12.40", "never", "n/a"). */
void expect_format_actual(const sim_expectation *e, const expect_result *r, char *out, size_t outlen);
/* A metric's value in a phase (NAN when unavailable); for multi-seed statistics. */
double expect_metric_value(int metric, int phase, const run_summary *s);
int expect_metric_count(void);
const char *expect_metric_name(int metric);
int expect_metric_is_recovery(int metric);

#endif
