/*
 * ids.h: record ids, key hashing and ownership.
 *
 * Every record has one owning replica. Ids the services create carry their owner: "pay-2-9f1c0b7e5a3d2468"
 * is owned by payment replica 2. Keys chosen by clients (product ids, idempotency keys, foreign ids) are
 * owned by fnv1a(key) mod replicas. Both rules are pure functions of the id and the replica count, so every
 * replica (and the simulator's checkers) computes the same owner without asking anyone.
 */
#ifndef PC_SERVICES_CORE_IDS_H
#define PC_SERVICES_CORE_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"

#define SVC_ID_MAX 64 /* longest id or key accepted, without the NUL */

/* Owner of a client-chosen key. */
int svc_owner_of_key(const char *key, int replicas);
/* Writes "<prefix>-<replica>-<16 hex digits of rnd>" into out (at least SVC_ID_MAX + 1 bytes). */
void svc_make_id(char *out, size_t outlen, const char *prefix, int replica, uint64_t rnd);
/* The same with a tail of 32 hex digits given by the caller (128 random bits from the runtime). */
void svc_make_id_hex(char *out, size_t outlen, const char *prefix, int replica, const char hex[32]);
/* Owner encoded in an id of our format with this prefix, if within [0, replicas); else the hash owner. */
int svc_owner_of_id(const char *id, const char *prefix, int replicas);
/* 1 if s is 1..SVC_ID_MAX characters from [A-Za-z0-9._:-]. */
int svc_id_acceptable(const char *s);

#endif
