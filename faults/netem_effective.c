/*
 * faults/netem_effective.c: the measured rate of a correlated netem decision (see netem_effective.h).
 */
#include "faults/netem_effective.h"

#include <stdint.h>

#include "faults/netem.h"
#include "faults/prandom.h"

#define NETEM_EFFECTIVE_DRAWS 4000000
#define NETEM_EFFECTIVE_SEED 0x5eedULL

double netem_effective_pct(double pct, double corr_pct) {
    if (pct <= 0) return 0;
    if (corr_pct <= 0 || pct >= 100) return pct;
    prandom_state prng;
    prandom_seed_state(&prng, NETEM_EFFECTIVE_SEED);
    netem_crnd st = {netem_percent_to_u32(corr_pct), 0};
    st.last = prandom_u32_state(&prng);
    uint32_t threshold = netem_percent_to_u32(pct);
    int hits = 0;
    for (int i = 0; i < NETEM_EFFECTIVE_DRAWS; i++) hits += threshold >= netem_get_crandom(&st, &prng);
    return 100.0 * hits / NETEM_EFFECTIVE_DRAWS;
}
