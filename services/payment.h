/*
 * payment.h: the payment service's records, shared by its route files (payment.c, payment_chain.c) and
 * exposed read-only to the simulator's invariant checkers and the unit tests.
 *
 * A payment is owned by the replica named in its id ("pay-<replica>-<hex>"). Its life:
 *   pending   journaled before inventory is asked, so a crash after the reservation is noticed at restart
 *   completed journaled (fsync) before the 201 answer: an acknowledged payment survives a crash
 *   failed    with the HTTP status and reason answered; if a reservation may exist, a release is owed
 *   refunded / partially_refunded
 * A release that is owed is re-sent with backoff until inventory acknowledges it (the "release outbox");
 * it is journaled as done once acknowledged.
 *
 * Capacity: PAYMENT_CAPACITY counts the payments held. When it is reached, failed payments that owe nothing
 * are forgotten, oldest first (with their idempotency keys), so that a flood of failing requests cannot
 * lock out valid ones; completed payments are never forgotten. Refunds are idempotent by Idempotency-Key
 * (same key and body: the same refund; another body: 422), kept IDEMPOTENCY_TTL_S.
 *
 * Ownership: payment_state owns payments (and their idempotency keys), operation contexts and the outbox.
 */
#ifndef PC_SERVICES_PAYMENT_H
#define PC_SERVICES_PAYMENT_H

#include <stdint.h>

#include "base/list.h"
#include "services/core/ids.h"
#include "services/core/shell.h"
#include "services/core/table.h"

typedef enum payment_status {
    PAY_PENDING = 0,
    PAY_COMPLETED,
    PAY_FAILED,
    PAY_PARTIALLY_REFUNDED,
    PAY_REFUNDED
} payment_status;

typedef enum release_state { RELEASE_NONE = 0, RELEASE_OWED, RELEASE_DONE } release_state;

typedef struct payment {
    char id[SVC_ID_MAX + 1];
    char reservation_id[SVC_ID_MAX + 8];
    char product_id[SVC_ID_MAX + 1];
    char currency[4];
    char *idempotency_key; /* owned; NULL without a key */
    uint64_t body_hash;    /* canonical JSON of the request body, for key reuse checks */
    int64_t amount_minor;
    int64_t refunded_minor;
    int64_t quantity;
    int64_t created_ms;
    payment_status status;
    int http_status; /* what the client was answered when it failed */
    char fail_code[40];
    char fail_message[200];
    release_state release;
    int64_t stock_seen; /* stock_count reported by inventory's check, -1 if none */
    int busy;           /* a /payment/process exchange still refers to it: not forgotten meanwhile */
} payment;

/* A refund made with an Idempotency-Key, for answering its retries. */
typedef struct refund_key {
    char key[SVC_ID_MAX + 1];
    char refund_id[SVC_ID_MAX + 1];
    char payment_id[SVC_ID_MAX + 1];
    uint64_t body_hash;
    int64_t amount_minor;
    int64_t created_ms;
    int durable; /* 0 while its journal write is pending */
} refund_key;

typedef struct payment_state {
    svc_shell *shell;
    const svc_config *cfg;
    payment **payments; /* creation order */
    size_t count, cap;
    svc_table by_id;
    svc_table by_key;  /* idempotency key -> latest payment attempt for it */
    size_t key_cursor; /* payments before this index have had their expired keys forgotten */
    pc_link ops;       /* operations in flight (freed at destroy) */
    svc_table refunds_by_key;
    refund_key **refunds; /* creation order, for expiry */
    size_t refund_count, refund_cap, refund_cursor;
} payment_state;

/* Every operation in flight starts with this header and sits in payment_state.ops, so that destroying the
 * service frees it even when its callback will never come. */
typedef struct payment_op {
    pc_link link;
    void (*dispose)(struct payment_op *op); /* frees what the op owns besides itself; may be NULL */
} payment_op;

void payment_op_track(payment_state *st, payment_op *op);
void payment_op_untrack(payment_op *op);

const char *payment_status_name(payment_status status);

/* Introspection (simulator checkers, tests). */
size_t payment_count(void *state);
const payment *payment_at(void *state, size_t index);
const payment *payment_find(void *state, const char *id);

/* Route handlers implemented in payment_chain.c. */
void payment_route_chain(void *state, svc_exchange *ex);
void payment_route_validate(void *state, svc_exchange *ex);

#endif
