/*
 * invariants.h: correctness checkers that watch the simulated system from outside (TigerBeetle-style).
 *
 * They read the services' state through the modules' introspection functions (payment.h, inventory.h) and
 * the clients' record of what they were told; they never change anything.
 *
 * Checked every simulated second and at the end:
 *   stock      for every product, on its owning inventory replica: initial = available + reserved, and
 *              available >= 0 (nothing oversold, nothing created or lost)
 *   refunds    no payment has more refunded than its amount
 *   once       no idempotency key has two completed payments, and no client was acknowledged two
 *              different payment ids for one key
 * Checked at the end, once the system is quiet (no request, call or owed release in flight):
 *   durable    every payment acknowledged to a client (201) is retrievable from its owner and completed
 *              (or refunded)
 *   reserved   every held reservation belongs to a completed payment, and every completed, unrefunded
 *              payment holds exactly its quantity: no stock reserved without a payment
 * The first violation stops the run; the report shows it with the seed and the command that reproduces it.
 */
#ifndef PC_SIM_RUN_INVARIANTS_H
#define PC_SIM_RUN_INVARIANTS_H

#include "sim/load/load.h"
#include "sim/node/cluster.h"
#include "sim/run/options.h"

typedef struct sim_invariants sim_invariants;

/* The first violation found (found = 0: none yet). */
typedef struct sim_violation {
    int found;
    int64_t at_ns;
    char what[512];
    int final_checked; /* the end-of-run checks ran (the system became quiet before the drain limit) */
    uint64_t checks;   /* how many times the continuous checks ran */
} sim_violation;

sim_invariants *invariants_new(sim_cluster *c, sim_load *l, const sim_options *o, uint64_t seed);
void invariants_free(sim_invariants *inv);
/* final = 1 also runs the end-of-run checks (when the system is quiet). */
void invariants_check(sim_invariants *inv, int final);
int invariants_quiet(sim_invariants *inv);
const sim_violation *invariants_violation(const sim_invariants *inv);

#endif
