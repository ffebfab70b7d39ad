/*
 * multi.h: many runs of one scenario over a range of seeds, on several threads.
 *
 * --seeds A..B runs every seed (each run is independent and deterministic, so the threads share nothing
 * and the output does not depend on their number or timing) and reports, per metric, the mean and a 95 %
 * interval over seeds (t distribution); with experiments, per chaos object, with the fraction of seeds whose
 * expectations passed (all of them, and each one).
 * --find-violation runs the seeds until one breaks an invariant and reports it with the command that
 * reproduces it; --shrink then reduces that run's faults and load to the smallest that still fails.
 */
#ifndef PC_SIM_RUN_MULTI_H
#define PC_SIM_RUN_MULTI_H

#include <stdio.h>

#include "sim/run/experiment.h"
#include "sim/run/options.h"
#include "sim/run/run.h"

int multi_seeds(const sim_options *o, const run_hooks *hooks, FILE *out);
/* --seeds with experiments: every unit (chaos object) over the seed range, one table each, with the share of
 * seeds in which each expectation held. */
int multi_seeds_experiments(const sim_options *o, const experiment_set *xs, FILE *out);
int multi_find_violation(const sim_options *o, const run_hooks *hooks, FILE *out);

#endif
