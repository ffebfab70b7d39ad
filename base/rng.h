/*
 * rng.h: the simulator's random streams.
 *
 * One seed drives a run. Each component gets its own stream, derived from the seed and the component's name
 * ("client/0", "lb/inventory", "pod/payment-1", "fault/packet-loss-80/payment-0"), so adding a component or
 * drawing more numbers in one place never shifts another component's numbers. The generator is
 * xoshiro256** seeded through splitmix64 (Blackman & Vigna); it is fast, has 256 bits of state and no
 * dependence on anything but the seed and the name.
 */
#ifndef PC_BASE_RNG_H
#define PC_BASE_RNG_H

#include <stdint.h>

typedef struct pc_rng {
    uint64_t s[4];
} pc_rng;

void pc_rng_init(pc_rng *r, uint64_t seed, const char *name);
uint64_t pc_rng_u64(pc_rng *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t pc_rng_below(pc_rng *r, uint64_t n);
/* Uniform in [0, 1) with 53 bits. */
double pc_rng_double(pc_rng *r);
/* Exponential with the given mean, in ns (for Poisson arrivals). */
int64_t pc_rng_exp_ns(pc_rng *r, double mean_ns);
uint64_t pc_hash_name(const char *name);

#endif
