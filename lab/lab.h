/*
 * lab.h: the lab's load generator, its run plan and its fidelity comparison (lab/, run as root).
 *
 * The lab runs the real service binaries in network namespaces and cgroups (lab/lab.sh builds that);
 * this module is the C half:
 *
 *   plan      bin/loadgen --plan FILE [sim flags]: runs bin/sim's model once for the same flags and seed
 *             and writes, as a bash-sourceable file, what the lab must build and do: replica counts,
 *             limits, the pods' environment (the services' settings the simulator uses), the probe and
 *             endpoint delays, and every chaos action with the pods the simulator selected for it (so the
 *             lab kills the same pod the model killed) and its packet filters expanded into rules.
 *   run       bin/loadgen [sim flags]: drives the payment Service with the simulator's load definitions
 *             (same seeded arrival stream, same workloads, same client timeout and connection policy)
 *             with libcurl, calls the lab's hook at every action's start and stop, records every request
 *             as a req_record, and prints the SAME report as bin/sim (report_text / report_json) from a
 *             sim_result filled with the lab's measurements: phase summaries from stats_compute, the
 *             fault ledger from the nftables counters, CPU rows from each pod's cgroup.
 *   compare   bin/loadgen --compare LAB.csv --sim-seeds N [sim flags]: one row of the fidelity table:
 *             the chaos phase of the lab records against the simulator's pooled over N seeds, with 95 %
 *             intervals, and whether each difference is inside its bound.
 *
 * Time: the run uses CLOCK_MONOTONIC from the moment the first phase starts; a request belongs to the
 * phase in which it started, as in the simulator.
 * Ownership: every function here owns what it allocates and frees it before returning, except the
 * sim_result filled by lab_run(), which the caller releases with sim_result_free().
 */
#ifndef PC_LAB_LAB_H
#define PC_LAB_LAB_H

#include <stdio.h>

#include "sim/run/experiment.h"
#include "sim/run/options.h"
#include "sim/run/run.h"

typedef struct lab_config {
    const char *target_url;   /* the payment Service, e.g. http://10.96.100.2:5002 */
    const char *hook;         /* program called as `HOOK hook start|stop|collect ID`; NULL: none */
    const char *lab_dir;      /* state directory of the lab (pods file), for the CPU rows */
    const char *records_path; /* CSV of every request, for the fidelity comparison; NULL: none */
} lab_config;

/* The simulator's run for the same options and seed (actions with their selected pods); `unit`: the chaos
 * object of an experiment file to add (NULL for the command line's faults only). Records are kept.
 * 0 or -1 with err. */
int lab_predict(const sim_options *o, const experiment_unit *unit, uint64_t seed, sim_result *out, char *err,
                size_t errlen);

/* Writes the plan (see above) for the prediction; 0 or -1. */
int lab_plan_write(FILE *out, const sim_options *o, const sim_result *pred);

/* Runs the load against the lab in real time; fills `out` like sim_run_once() does. 0 or -1 with err. */
int lab_run(const lab_config *cfg, const sim_options *o, const sim_result *pred, sim_result *out, char *err,
            size_t errlen);

/* report_text / report_json with the lab's title and run line instead of the simulator's. */
void lab_report_text(FILE *out, const sim_options *o, const sim_result *r, double wall_s);
struct json_t *lab_report_json(const sim_options *o, const sim_result *r, double wall_s);

/* Request records as CSV (one line each) and back. */
int lab_records_write(const char *path, const sim_req_record *recs, size_t n, char *err, size_t errlen);
int lab_records_read(const char *path, sim_req_record **recs, size_t *n, char *err, size_t errlen);

/* One fidelity row: lab records against `sim_seeds` pooled simulator runs; prints it to `out` (see
 * fidelity.c); returns 0 when every difference is within its bound, 1 when one is not, -1 on error.
 * Flags: LAB_CALIBRATION_CELL, a no-fault cell that calibrated the machine (lab_fit_link): its p50 is
 * judged and marked "cal"; its p99 is shown, not judged (the host's tail, a known miss of the model:
 * docs/lab.md). LAB_REFIT_LINK: before comparing, the link latency is refitted to this cell's own
 * no-fault phases (its baseline and its recovery), so that the box's drift since the calibration cells,
 * and within the cell, does not count as the model's error; the row says which latency it used. */
#define LAB_CALIBRATION_CELL 1
#define LAB_REFIT_LINK 2
int lab_compare(FILE *out, const char *name, const char *lab_records, const sim_options *o, const experiment_unit *unit,
                int sim_seeds, int flags, char *err, size_t errlen);

/* The machine's one-way latency per packet (o->cluster.net.link_latency_ns) at which the simulator's pooled
 * chaos-phase p50 matches the lab's for the no-fault cell `keep_records` (options `o`) and, unless NULL, the
 * cell `fresh_records` (the same options with the services' downstream keep-alive off): the sum of the
 * log ratios is zero. Bisection over LAB_LINK_FIT_MIN_NS..LAB_LINK_FIT_MAX_NS (a lab outside gives that
 * end); prints "NS LAB_P50_KEEP LAB_P50_FRESH ERR_AT_MIN ERR_AT_MAX" (ms; the sums of log ratios) to
 * `out`. 0 or -1 with err. */
/* The A/A table of one cell (`make fidelity-aa`): for the chaos phase of each of the `nruns` lab records files
 * (the same cell run again and again) the success rate, p50, p90, p95 and p99; per figure the lab runs'
 * mean and standard deviation (absolute and relative), the simulator's across `sim_seeds` seeds, the ratio
 * of the two, and how many lab runs fall outside the range one run of the model reaches at 99 %. 0 or -1
 * with err. */
int lab_aa(FILE *out, const char *name, char *const *lab_paths, int nruns, const sim_options *o,
           const experiment_unit *unit, int sim_seeds, char *err, size_t errlen);

/* The simulator's fault ledger and warnings against the lab's counters for one cell (ledger.c): the
 * collect's output `ledger_path` (LAB_DIR/collect.out) against the simulator's run for the same options and
 * seed. Prints a block of the fidelity table; 0 when every check holds, 1 when one misses, -1 with err. */
int lab_ledger_check(FILE *out, const char *name, const char *ledger_path, const sim_options *o,
                     const experiment_unit *unit, char *err, size_t errlen);

#define LAB_LINK_FIT_MIN_NS 5000
#define LAB_LINK_FIT_MAX_NS 200000
int lab_fit_link(FILE *out, const char *keep_records, const char *fresh_records, const sim_options *o,
                 const experiment_unit *unit, int sim_seeds, char *err, size_t errlen);

/* The host's no-fault tail: the exponential stall (cluster.cfs.wake_stall_p and wake_stall_mean_ns,
 * --wake-stall P,MEAN) at which the simulator's pooled chaos-phase p95 and p99 match the lab's for the
 * same no-fault cells as lab_fit_link, at the link latency and CPU scale of `o` (fidelity.c says how).
 * Prints "P MEAN_NS LAB_P95_KEEP LAB_P99_KEEP LAB_P95_FRESH LAB_P99_FRESH ERR95 ERR99" (ms; the sums of log
 * ratios at the fit); P 0 when the model's tail already reaches the lab's. 0 or -1 with err. */
int lab_fit_tail(FILE *out, const char *keep_records, const char *fresh_records, const sim_options *o,
                 const experiment_unit *unit, int sim_seeds, char *err, size_t errlen);

#endif
