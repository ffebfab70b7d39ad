/*
 * multi.h: many runs of one scenario over a range of seeds, on several threads.
 *
 * --seeds A..B runs every seed (each run is independent and deterministic, so the threads share nothing
 * and the results do not depend on their number or timing) and returns them as a sweep (sim/run/sweep.h),
 * from which the report prints, per metric, the mean and a 95 % interval over seeds; with experiments, per chaos
 * object, with the fraction of seeds whose expectations passed (all of them, and each one).
 * --find-violation runs the seeds until one breaks an invariant; the sweep names the lowest failing seed with
 * the command that reproduces it (seeds below a failing one always run, so the answer does not depend on the
 * threads either).
 * With --shard I/N only the seeds of part I of N run (sweep_shard_range); the sweep is that part.
 *
 * Seeds are handed to the threads one at a time, so a slow seed holds up only its own thread. While a range
 * runs and stderr is a terminal, a progress line there shows the seeds done, the rate and the time left
 * (nothing when stderr is a file or a pipe, so logs stay clean).
 */
#ifndef PC_SIM_RUN_MULTI_H
#define PC_SIM_RUN_MULTI_H

#include <stdint.h>

#include "sim/run/experiment.h"
#include "sim/run/options.h"
#include "sim/run/run.h"
#include "sim/run/sweep.h"

/* Wall-clock figures of a sweep (not deterministic: only for --perf and the bench). */
typedef struct multi_perf {
    uint64_t runs;
    int threads;
    double wall_s;     /* from the first run's start to the last one's end, over every pool */
    double run_wall_s; /* the runs' own wall-clock times (a seed from its start to its slot filled), added up */
    double run_cpu_s;  /* the runs' own CPU times (their threads'), added up */
} multi_perf;

/* --seeds, with experiment units when xs is not NULL; NULL with a message on error. perf may be NULL. */
sim_sweep *multi_seeds(const sim_options *o, const experiment_set *xs, multi_perf *perf, char *err, size_t errlen);
sim_sweep *multi_find_violation(const sim_options *o, const run_hooks *hooks, multi_perf *perf, char *err,
                                size_t errlen);
/* "perf: N runs on T threads in W s wall; ..." with the parallel efficiency. */
void multi_perf_print(FILE *out, const multi_perf *p);

#endif
