/*
 * run.h: one complete simulation, from options to a result that the report prints.
 *
 * A run builds the cluster, the clients and the chaos actions, runs the engine through the three phases,
 * lets the requests still in flight finish (no new arrivals after the recovery phase, at most one client
 * timeout more), then collects everything the report needs into a plain result struct and frees the
 * simulation. Runs share nothing, so several can run at once on different threads (--seeds).
 *
 * Ownership: the caller owns the result and releases it with sim_result_free().
 */
#ifndef PC_SIM_RUN_RUN_H
#define PC_SIM_RUN_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "faults/netfault.h"
#include "sim/load/stats.h"
#include "sim/net/tcp.h"
#include "sim/run/invariants.h"
#include "sim/run/options.h"

typedef struct sim_ledger_row {
    char src[24];
    char dst[48]; /* "inventory (pod IP)", "inventory-service (ClusterIP)", "client" */
    uint64_t seen, faulted, dropped, local_dropped, delayed, duplicated, corrupted;
    double mean_delay_ms;
} sim_ledger_row;

typedef struct sim_cpu_row {
    char pod[48];
    uint64_t periods, throttled_periods;
    double throttled_ms, work_cpu_ms, stress_cpu_ms;
} sim_cpu_row;

typedef struct sim_pod_row {
    char pod[48];
    int restarts;
    int64_t memory_peak_bytes;
    int64_t memory_limit_bytes;
    uint64_t oom_kills_stressor, oom_kills_app;
} sim_pod_row;

typedef struct sim_action_row {
    sim_chaos_action action;
    sim_action_status status;
    uint64_t rule_seen, rule_dropped, rule_delayed, rule_local_dropped, rule_won, rule_lost;
} sim_action_row;

typedef struct sim_result {
    uint64_t seed;
    int64_t baseline_end_ns, chaos_end_ns, end_ns, drained_ns;
    run_summary summary;
    sim_ledger_row *ledger;
    size_t nledger;
    sim_cpu_row cpu[CLUSTER_MAX_PODS];
    sim_pod_row pods[CLUSTER_MAX_PODS];
    int npods;
    sim_action_row *actions;
    int nactions;
    tcp_stats tcp;
    net_stats net;
    sim_cluster_stats cluster;
    uint64_t client_connects, client_reuses, client_fresh_retries;
    uint64_t events;
    uint64_t trace_hash;
    int64_t mismatch;     /* --check-determinism: first differing event, else -1 */
    char event_desc[160]; /* the captured event, or the first mismatching one */
    double wall_s;
    sim_req_record *records; /* copy, for --csv/--svg and seed aggregation */
    size_t nrecords;
    size_t acked, duplicate_acks;
    sim_violation violation;
} sim_result;

typedef struct run_hooks {
    FILE *trace;                   /* every event */
    int record_fingerprints;       /* for --check-determinism */
    const uint64_t *expect_prints; /* compare against a previous run */
    uint64_t expect_count;
    uint64_t **prints_out; /* receives the recorded fingerprints (malloc'd) */
    int64_t capture_plus1; /* > 0: describe event number capture_plus1 - 1 in the result */
    uint64_t *prints_count;
    int keep_records;
    /* Adds the chaos actions of experiment files (set by the caller; may be NULL). */
    int (*add_actions)(void *ctx, sim_scenario *s, const sim_options *o, char *err, size_t errlen);
    void *add_actions_ctx;
} run_hooks;

int sim_run_once(const sim_options *o, uint64_t seed, const run_hooks *hooks, sim_result *out, char *err,
                 size_t errlen);
void sim_result_free(sim_result *r);

#endif
