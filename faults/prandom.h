/*
 * faults/prandom.h: the Linux kernel's seeded pseudo-random generator, bit for bit.
 *
 * Contract: prandom_u32_state() returns exactly the sequence Linux lib/random32.c
 * prandom_u32_state() returns for the same state, and prandom_seed_state() fills the state
 * exactly as include/linux/prandom.h prandom_seed_state() does for the same 64-bit seed. sch_netem
 * seeds its private PRNG with prandom_seed_state(&q->prng.prng_state, seed) (TCA_NETEM_PRNG_SEED,
 * or get_random_u64() when tc passes no seed), so a netem model seeded with N draws the same
 * numbers as `tc qdisc ... netem ... seed N` on a 6.x kernel.
 *
 * The generator is L'Ecuyer's maximally equidistributed combined Tausworthe generator "lfsr113"
 * (four 32-bit LFSR components, period about 2^113). Each component needs its k most
 * significant bits not all zero, which is why seeding forces s1 >= 2, s2 >= 8, s3 >= 16 and
 * s4 >= 128 (the kernel's __seed(x, m): x < m ? x + m : x).
 *
 * Warm-up: the kernel's prandom_seed_state() does NOT warm the state up; only the per-CPU
 * net_rand_state paths (prandom_seed_full_state, prandom_seed and the boot-time
 * prandom_seed_early) run prandom_warmup(), ten discarded draws. prandom_seed_early() and
 * prandom_warmup() are exposed here because the kernel's own self-test vectors
 * (CONFIG_RANDOM32_SELFTEST) are defined on them; netem never uses them.
 *
 * Ownership: the caller owns every prandom_state; nothing allocates, nothing is global.
 */
#ifndef PC_FAULTS_PRANDOM_H
#define PC_FAULTS_PRANDOM_H

#include <stdint.h>

/* struct rnd_state { u32 s1, s2, s3, s4; } */
typedef struct prandom_state {
    uint32_t s1, s2, s3, s4;
} prandom_state;

/* Smallest legal value of each component (see the erratum quoted above). */
#define PRANDOM_S1_MIN 2u
#define PRANDOM_S2_MIN 8u
#define PRANDOM_S3_MIN 16u
#define PRANDOM_S4_MIN 128u

/* Advance the state and return the next 32-bit output (lib/random32.c prandom_u32_state). */
uint32_t prandom_u32_state(prandom_state *state);

/* Seed from a 64-bit value (include/linux/prandom.h prandom_seed_state): folds the seed to
 * 32 bits as (seed >> 32) ^ (seed << 10) ^ seed, gives the same value to all four components,
 * then applies the minimum fix-ups. No warm-up, as in the kernel. */
void prandom_seed_state(prandom_state *state, uint64_t seed);

/* Boot-time seeding (lib/random32.c prandom_seed_early with mix_with_hwseed = false): each
 * component is the previous one times 69069, fixed up. Used by the kernel's self-test. */
void prandom_seed_early(prandom_state *state, uint32_t seed);

/* Discard ten outputs (lib/random32.c prandom_warmup). */
void prandom_warmup(prandom_state *state);

#endif /* PC_FAULTS_PRANDOM_H */
