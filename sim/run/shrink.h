/*
 * shrink.h: reduce a failing run to the smallest scenario that still fails.
 *
 * Starting from a seed that breaks an invariant, shrink_run() repeatedly tries a smaller variant (drop one
 * fault, halve the chaos phase, halve the load, shorten the baseline and recovery) and keeps it when the
 * same seed still breaks an invariant. The result is printed as a sim command and written as a Chaos Mesh
 * experiment file (shrunk-<seed>.yaml) describing the remaining faults.
 */
#ifndef PC_SIM_RUN_SHRINK_H
#define PC_SIM_RUN_SHRINK_H

#include <stdint.h>
#include <stdio.h>

#include "sim/run/options.h"
#include "sim/run/run.h"

int shrink_run(const sim_options *o, const run_hooks *hooks, uint64_t seed, FILE *out);

#endif
