/*
 * explore.h: `bin/sim --explore --expect 'EXPR'`: the fault space searched for the tolerance frontier of a
 * steady-state expectation.
 *
 * For every fault of the space (sim/explore/space.h) the explorer finds the frontier: the largest magnitude
 * at which the expectation still holds and the smallest at which it breaks, with a 95 % interval from seed
 * sweeps (sim/explore/search.h); then the most sensitive faults in pairs, each part at a share t of its own
 * limit. Every point is run as the Chaos Mesh document that injects it (experiment_load_text), so the
 * breaking points written to --out DIR are exactly what was run; each one is checked with `bin/sim
 * --experiment FILE --seed SEED` semantics before it is written (it must fail: exit 1), with a file just
 * inside the frontier in DIR/inside/ (it must hold: exit 0).
 *
 * Phases: baseline 5 s, chaos 20 s (the faults' `duration`; partition and pod-failure last their magnitude,
 * a pod-kill until its pods are Ready again), recovery 5 s, unless --baseline/--chaos/--recovery say
 * otherwise; at the default 10 requests/s a chaos phase holds ~200 requests, enough to tell 99 % from 98 %
 * over a few seeds, and a run costs 10-50 ms. An expectation without `during` is about the chaos phase.
 *
 * Determinism: the searches advance in rounds; a round's runs go to the threads (sim/explore/pool.h) and are
 * fed back in a fixed order, so the output does not depend on the threads. Exit status: 0 explored; 1 the
 * expectation does not hold without a fault, a written file did not reproduce, or an invariant broke;
 * 2 bad input.
 */
#ifndef PC_SIM_EXPLORE_EXPLORE_H
#define PC_SIM_EXPLORE_EXPLORE_H

#include <stdio.h>

#include "sim/run/options.h"

int explore_main(const sim_options *o, FILE *out);
/* -1 with a message when an option that only --explore reads (--budget, --out, --explore-*) is given
 * without --explore; 0 otherwise. */
int explore_stray_options(const sim_options *o, char *err, size_t errlen);

#endif
