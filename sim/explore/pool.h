/*
 * pool.h: many runs of experiment units on threads, each reduced to what the explorer needs.
 *
 * An item is one run: a unit (sim/run/experiment.h) with its run options and a seed. pool_run() runs every
 * item on `threads` threads (each run is independent and deterministic: the threads share only the item
 * counter) and writes item i's outcome to out[i], so the outcomes do not depend on the threads' number or
 * timing. An outcome holds the value of each of the unit's expectations, how many failed (as `bin/sim
 * --experiment` counts them for its exit status), whether an invariant broke, how many packets the unit's
 * network rules saw and how many pods its other actions took (0: the fault touched nothing), and where and
 * why the chaos phase's requests failed.
 *
 * Ownership: the caller owns items (and what they point to) and outcomes.
 */
#ifndef PC_SIM_EXPLORE_POOL_H
#define PC_SIM_EXPLORE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "sim/run/experiment.h"

#define XP_MAX_EXPECT 8

/* Where a failed chain request failed: at its inventory step, its notification step, or before or after
 * them (the client's request to payment itself). */
enum { XP_AT_INVENTORY = 0, XP_AT_NOTIFICATION, XP_AT_CLIENT, XP_AT_COUNT };

typedef struct xp_item {
    const experiment_unit *unit;
    const sim_options *o; /* the unit's run options (experiment_unit_options) */
    uint64_t seed;
} xp_item;

typedef struct xp_outcome {
    double value[XP_MAX_EXPECT]; /* each expectation's metric (NAN: no value; INFINITY: never recovered) */
    int failed;                  /* expectations that do not hold */
    int violation;               /* an invariant broke */
    uint64_t touched;            /* packets through the unit's network rules + pods its other actions took */
    uint32_t census[XP_AT_COUNT][SIM_CAUSE_COUNT]; /* failed requests of the chaos phase */
    uint32_t chaos_requests;
    uint64_t retransmissions; /* TCP: SYN and RTO retransmissions and tail loss probes */
} xp_outcome;

/* 0, or -1 with the first failing item's message. */
int pool_run(const xp_item *items, size_t n, xp_outcome *out, int threads, char *err, size_t errlen);

/* "inventory check", "notification send", "client request". */
const char *pool_at_name(int at);

#endif
