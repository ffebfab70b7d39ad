/*
 * faults/prandom.c: Linux's lfsr113 Tausworthe generator and its seeding rules.
 *
 * Mirrors lib/random32.c (prandom_u32_state, prandom_warmup, prandom_seed_early) and
 * include/linux/prandom.h (__seed, prandom_seed_state). Contract and ownership: see prandom.h.
 * Pure functions of the caller's state: no globals, no clock, no allocation.
 */
#include "faults/prandom.h"

/*
 * One step of a Tausworthe component: shift the masked state left by d and mix in the state
 * xor-shifted by a then shifted right by b. The masks clear the low bits the recurrence
 * treats as absent (component k has 32 - (31, 29, 28, 25) bits of state).
 */
static uint32_t taus_step(uint32_t s, unsigned a, unsigned b, uint32_t mask, unsigned d) {
    uint32_t feedback = ((s << a) ^ s) >> b;
    return ((s & mask) << d) ^ feedback;
}

uint32_t prandom_u32_state(prandom_state *state) {
    /* (a, b, mask, d) per component, L'Ecuyer 1999 table for lfsr113. */
    state->s1 = taus_step(state->s1, 6u, 13u, 0xFFFFFFFEu, 18u);
    state->s2 = taus_step(state->s2, 2u, 27u, 0xFFFFFFF8u, 2u);
    state->s3 = taus_step(state->s3, 13u, 21u, 0xFFFFFFF0u, 7u);
    state->s4 = taus_step(state->s4, 3u, 12u, 0xFFFFFF80u, 13u);
    return state->s1 ^ state->s2 ^ state->s3 ^ state->s4;
}

/* A component below its minimum would lose its top bits forever; the kernel lifts it by m. */
static uint32_t seed_fixup(uint32_t x, uint32_t minimum) { return x < minimum ? x + minimum : x; }

void prandom_seed_state(prandom_state *state, uint64_t seed) {
    /* The kernel folds 64 bits into one u32 and uses it for all four components. */
    uint32_t folded = (uint32_t)(((seed >> 32) ^ (seed << 10) ^ seed) & 0xFFFFFFFFu);

    state->s1 = seed_fixup(folded, PRANDOM_S1_MIN);
    state->s2 = seed_fixup(folded, PRANDOM_S2_MIN);
    state->s3 = seed_fixup(folded, PRANDOM_S3_MIN);
    state->s4 = seed_fixup(folded, PRANDOM_S4_MIN);
}

void prandom_seed_early(prandom_state *state, uint32_t seed) {
    const uint32_t lcg_mult = 69069u; /* Marsaglia's "super-duper" multiplier */

    state->s1 = seed_fixup(seed * lcg_mult, PRANDOM_S1_MIN);
    state->s2 = seed_fixup(state->s1 * lcg_mult, PRANDOM_S2_MIN);
    state->s3 = seed_fixup(state->s2 * lcg_mult, PRANDOM_S3_MIN);
    state->s4 = seed_fixup(state->s3 * lcg_mult, PRANDOM_S4_MIN);
}

void prandom_warmup(prandom_state *state) {
    /* Ten draws bring every component past the influence of a degenerate seed. */
    for (int i = 0; i < 10; i++) (void)prandom_u32_state(state);
}
