/*
 * rng.c: xoshiro256** streams seeded by splitmix64(seed ^ hash(name)) (see rng.h).
 */
#include "base/rng.h"

#include <math.h>
#include <string.h>

#include "base/hash.h"

/* FNV-1a, the same hash the services use for ownership (services/core/ids.c). */
uint64_t pc_hash_name(const char *name) { return pc_fnv1a64(name, strlen(name)); }

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void pc_rng_init(pc_rng *r, uint64_t seed, const char *name) {
    uint64_t x = seed ^ pc_hash_name(name);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t pc_rng_u64(pc_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t pc_rng_below(pc_rng *r, uint64_t n) {
    /* Rejection on the top of the range keeps every value equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = pc_rng_u64(r);
    while (v >= limit);
    return v % n;
}

double pc_rng_double(pc_rng *r) { return (double)(pc_rng_u64(r) >> 11) * 0x1.0p-53; }

int64_t pc_rng_exp_ns(pc_rng *r, double mean_ns) {
    double u = pc_rng_double(r);
    return (int64_t)(-log1p(-u) * mean_ns);
}
