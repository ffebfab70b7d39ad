/*
 * hash.h: FNV-1a (Fowler, Noll, Vo), the one hash of the project.
 *
 * Used where a hash must be the same in every process and every run, because it decides something two
 * parties compute independently: the owning replica of a key (services/core/ids.c) and the seed of a named
 * random stream (base/rng.c). Not for hash tables facing untrusted keys: FNV-1a is not keyed.
 */
#ifndef PC_BASE_HASH_H
#define PC_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 32-bit FNV-1a of a NUL-terminated string. */
static inline uint32_t pc_fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* 64-bit FNV-1a of `len` bytes. */
static inline uint64_t pc_fnv1a64(const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

#endif
