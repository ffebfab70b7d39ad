/*
 * payment.c: the payment service's records and its stateful routes (port 5002):
 *   POST /payment/process, GET /payment/status/<id>, POST /payment/refund,
 * plus journal replay and the release outbox. The stateless routes (chain, validate) are in
 * payment_chain.c. The record life cycle and ownership rules are described in payment.h.
 *
 * process, step by step (each arrow waits for a callback):
 *   validate -> idempotency key (forward to the key's owner) -> journal "pay" (pending)
 *   -> GET inventory /check/<product> -> POST inventory /reserve {reservation_id = "res-" + payment id}
 *   -> journal "done" (completed) -> POST notification /send (best effort) -> 201
 * A failure after the reserve was sent may have left stock reserved, so it owes a release; releases are
 * idempotent at inventory and re-sent until acknowledged, which is what makes "no reservation without a
 * payment" hold once the system is quiet.
 */
#include "services/payment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/core/jsonr.h"
#include "services/core/jsonw.h"
#include "services/core/money.h"
#include "services/modules.h"

#define QUANTITY_MAX 1000000

const char *payment_status_name(payment_status status) {
    switch (status) {
    case PAY_PENDING: return "pending";
    case PAY_COMPLETED: return "completed";
    case PAY_FAILED: return "failed";
    case PAY_PARTIALLY_REFUNDED: return "partially_refunded";
    case PAY_REFUNDED: return "refunded";
    }
    return "unknown";
}

void payment_op_track(payment_state *st, payment_op *op) { pc_list_push(&st->ops, &op->link); }
void payment_op_untrack(payment_op *op) { pc_list_remove(&op->link); }

static const char *json_str(json_t *obj, const char *key) { return json_string_value(json_object_get(obj, key)); }

/* ---- records ---- */

static payment *payment_add(payment_state *st, const char *id) {
    if (st->count == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 256;
        payment **grown = realloc(st->payments, cap * sizeof *grown);
        if (!grown) return NULL;
        st->payments = grown;
        st->cap = cap;
    }
    payment *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->reservation_id, sizeof p->reservation_id, "res-%s", id);
    p->stock_seen = -1;
    if (svc_table_put(&st->by_id, p->id, p) < 0) {
        free(p);
        return NULL;
    }
    st->payments[st->count++] = p;
    return p;
}

/* Binds an idempotency key to its newest attempt. */
static void bind_key(payment_state *st, payment *p, const char *key) {
    p->idempotency_key = strdup(key);
    if (!p->idempotency_key || svc_table_put(&st->by_key, p->idempotency_key, p) < 0) abort();
}

static json_t *payment_json(const payment *p) {
    json_t *doc =
        json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:o, s:I}", "payment_id", p->id, "status",
                  payment_status_name(p->status), "amount", svc_amount_json(p->amount_minor), "currency", p->currency,
                  "product_id", p->product_id, "quantity", (json_int_t)p->quantity, "refunded_amount",
                  svc_amount_json(p->refunded_minor), "created_at_ms", (json_int_t)p->created_ms);
    if (p->status != PAY_FAILED && p->status != PAY_PENDING)
        json_object_set_new(doc, "reservation_id", json_string(p->reservation_id));
    if (p->status == PAY_FAILED)
        json_object_set_new(doc, "failure",
                            json_pack("{s:s, s:s, s:i}", "code", p->fail_code, "message", p->fail_message,
                                      "http_status", p->http_status));
    if (p->stock_seen >= 0)
        json_object_set_new(
            doc, "inventory_check",
            json_pack("{s:b, s:I}", "available", p->stock_seen > 0, "stock_count", (json_int_t)p->stock_seen));
    return doc;
}

/* The 201 document of a completed payment (also what a repeated Idempotency-Key receives). */
static json_t *completed_json(const payment *p, double processing_ms) {
    json_t *doc = json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:s}", "payment_id", p->id, "status", "completed", "amount",
                            svc_amount_json(p->amount_minor), "currency", p->currency, "product_id", p->product_id,
                            "quantity", (json_int_t)p->quantity, "reservation_id", p->reservation_id);
    json_object_set_new(
        doc, "inventory_check",
        json_pack("{s:b, s:I}", "available", p->stock_seen > 0, "stock_count", (json_int_t)p->stock_seen));
    json_object_set_new(doc, "processing_time_ms", json_real(processing_ms));
    return doc;
}

static json_t *failed_json(const payment *p) {
    return json_pack("{s:s, s:s, s:s, s:s}", "error", p->fail_code, "message", p->fail_message, "payment_id", p->id,
                     "status", "failed");
}

/* ---- the release outbox ---- */

typedef struct release_op {
    payment_op head;
    payment_state *st;
    char payment_id[SVC_ID_MAX + 1];
    int64_t next_delay_ns;
} release_op;

static void release_send(release_op *op);

static void release_finish(release_op *op) {
    svc_background_add(op->st->shell, -1);
    payment_op_untrack(&op->head);
    free(op);
}

static void release_persisted(void *arg, int error) {
    release_op *op = arg;
    payment *p = svc_table_get(&op->st->by_id, op->payment_id);
    if (error) {
        /* Still owed as far as the journal knows: releasing again later is harmless (idempotent). */
        svc_log(op->st->shell, SVC_LOG_WARN, "release_journal", "could not journal the release of %s", op->payment_id);
    } else if (p) {
        p->release = RELEASE_DONE;
    }
    release_finish(op);
}

static void release_timer(void *arg) { release_send(arg); }

static void release_answered(void *arg, const svc_call_result *r) {
    release_op *op = arg;
    payment_state *st = op->st;
    if (r->outcome == SVC_CALL_OK && r->status == 200) {
        svc_persist(st->shell, json_pack("{s:s, s:s}", "t", "released", "id", op->payment_id), release_persisted, op);
        return;
    }
    if (r->outcome == SVC_CALL_OK && r->status >= 400 && r->status < 500 && r->status != 421 && r->status != 429) {
        /* Inventory refuses it for good (bad request): retrying cannot help; keep it visible. */
        svc_log(st->shell, SVC_LOG_ERROR, "release_refused", "inventory refused the release of %s with %d",
                op->payment_id, r->status);
        release_finish(op);
        return;
    }
    int64_t delay = op->next_delay_ns;
    op->next_delay_ns = delay * 2 > st->cfg->release_retry_max_ns ? st->cfg->release_retry_max_ns : delay * 2;
    svc_timer(st->shell, delay, release_timer, op);
}

static void release_send(release_op *op) {
    payment *p = svc_table_get(&op->st->by_id, op->payment_id);
    if (!p) {
        release_finish(op);
        return;
    }
    char body[384];
    int n = snprintf(body, sizeof body, "{\"reservation_id\":\"%s\",\"product_id\":\"%s\",\"payment_id\":\"%s\"}",
                     p->reservation_id, p->product_id, p->id);
    svc_call c = {.peer = SVC_INVENTORY,
                  .replica = -1,
                  .method = "POST",
                  .path = "/release",
                  .body = body,
                  .body_len = (size_t)n,
                  .timeout_ns = op->st->cfg->downstream_timeout_ns};
    svc_call_start(op->st->shell, &c, release_answered, op);
}

/* Queues the release a payment owes; it is re-sent until inventory acknowledges it. */
static void release_owed(payment_state *st, payment *p) {
    p->release = RELEASE_OWED;
    release_op *op = calloc(1, sizeof *op);
    if (!op) abort();
    op->st = st;
    snprintf(op->payment_id, sizeof op->payment_id, "%s", p->id);
    op->next_delay_ns = st->cfg->release_retry_ns;
    payment_op_track(st, &op->head);
    svc_background_add(st->shell, 1);
    release_send(op);
}

/* ---- POST /payment/process ---- */

typedef struct process_op {
    payment_op head;
    payment_state *st;
    svc_exchange *ex;
    payment *p;
    int reserve_sent; /* from here on a failure owes a release */
} process_op;

static void process_free(process_op *op) {
    op->p->busy = 0;
    payment_op_untrack(&op->head);
    free(op);
}

static void fail_persisted(void *arg, int error) {
    process_op *op = arg;
    (void)error; /* the answer is a failure either way; a lost "fail" record replays as interrupted */
    payment *p = op->p;
    json_t *doc = failed_json(p);
    svc_ex_reply(op->ex, p->http_status, doc);
    if (p->release == RELEASE_OWED) release_owed(op->st, p);
    process_free(op);
}

static void process_fail(process_op *op, int http_status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void process_fail(process_op *op, int http_status, const char *code, const char *fmt, ...) {
    payment *p = op->p;
    p->status = PAY_FAILED;
    p->http_status = http_status;
    snprintf(p->fail_code, sizeof p->fail_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->fail_message, sizeof p->fail_message, fmt, ap);
    va_end(ap);
    if (op->reserve_sent) p->release = RELEASE_OWED;
    svc_persist(op->st->shell,
                json_pack("{s:s, s:s, s:i, s:s, s:s, s:b}", "t", "fail", "id", p->id, "http", http_status, "code", code,
                          "msg", p->fail_message, "release", op->reserve_sent),
                fail_persisted, op);
}

static void fail_downstream(process_op *op, const char *what, const svc_call_result *r) {
    if (r->outcome != SVC_CALL_OK) {
        process_fail(op, svc_status_for_outcome(r->outcome),
                     r->outcome == SVC_CALL_TIMEOUT ? "inventory_timeout" : "inventory_unavailable",
                     "%s: inventory could not be reached (%s)", what, svc_call_outcome_name(r->outcome));
    } else {
        process_fail(op, 503, "inventory_error", "%s: inventory answered %d", what, r->status);
    }
}

static void notified(void *arg, const svc_call_result *r) {
    process_op *op = arg;
    int sent = r->outcome == SVC_CALL_OK && r->status >= 200 && r->status < 300;
    json_t *doc = completed_json(op->p, (double)svc_ex_elapsed_ns(op->ex) / 1e6);
    json_object_set_new(doc, "notification", json_string(sent ? "sent" : "failed"));
    svc_ex_reply(op->ex, 201, doc);
    process_free(op);
}

static void completed_persisted(void *arg, int error) {
    process_op *op = arg;
    payment *p = op->p;
    payment_state *st = op->st;
    if (error) {
        process_fail(op, 503, "journal_unavailable", "the payment could not be made durable");
        return;
    }
    p->status = PAY_COMPLETED;
    /* Best effort: the payment is complete whatever happens to the notification. */
    char id[SVC_ID_MAX + 8];
    svc_new_id(st->shell, id, sizeof id, "ntf", -1, st->cfg->replicas[SVC_NOTIFICATION]);
    char amount[48];
    snprintf(amount, sizeof amount, "%lld.%02lld", (long long)(p->amount_minor / 100),
             (long long)(p->amount_minor % 100));
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"notification_id\":\"%s\",\"type\":\"payment\",\"recipient\":\"customer\","
                     "\"message\":\"Payment %s of %s %s completed\"}",
                     id, p->id, amount, p->currency);
    svc_call c = {.peer = SVC_NOTIFICATION,
                  .replica = -1,
                  .method = "POST",
                  .path = "/send",
                  .body = body,
                  .body_len = (size_t)n,
                  .timeout_ns = st->cfg->notify_timeout_ns};
    svc_call_retrying(st->shell, &c, notified, op);
}

static void reserved(void *arg, const svc_call_result *r) {
    process_op *op = arg;
    payment *p = op->p;
    if (r->outcome == SVC_CALL_OK && (r->status == 200 || r->status == 201)) {
        svc_persist(op->st->shell, json_pack("{s:s, s:s, s:I}", "t", "done", "id", p->id, "stock", p->stock_seen),
                    completed_persisted, op);
        return;
    }
    if (r->outcome == SVC_CALL_OK && r->status == 409) {
        op->reserve_sent = 0; /* refused: nothing was taken */
        process_fail(op, 409, "out_of_stock", "inventory has less than %lld of product %s", (long long)p->quantity,
                     p->product_id);
        return;
    }
    if (r->outcome == SVC_CALL_OK && r->status == 404) {
        op->reserve_sent = 0;
        process_fail(op, 404, "unknown_product", "inventory does not know product %s", p->product_id);
        return;
    }
    fail_downstream(op, "reserve", r);
}

static void checked(void *arg, const svc_call_result *r) {
    process_op *op = arg;
    payment *p = op->p;
    payment_state *st = op->st;
    if (r->outcome != SVC_CALL_OK || (r->status != 200 && r->status != 404)) {
        fail_downstream(op, "stock check", r);
        return;
    }
    if (r->status == 404) {
        process_fail(op, 404, "unknown_product", "no product with id %s", p->product_id);
        return;
    }
    json_t *doc = r->body ? svc_json_read(r->body, r->body_len, 0, NULL) : NULL;
    json_t *stock = json_object_get(doc, "stock_count");
    p->stock_seen = json_is_integer(stock) ? json_integer_value(stock) : -1;
    json_decref(doc);
    if (p->stock_seen < 0) {
        process_fail(op, 502, "inventory_error", "inventory's stock check had no stock_count");
        return;
    }
    if (p->stock_seen < p->quantity) {
        process_fail(op, 409, "out_of_stock", "only %lld of product %s in stock, %lld requested",
                     (long long)p->stock_seen, p->product_id, (long long)p->quantity);
        return;
    }
    char body[384];
    int n = snprintf(body, sizeof body,
                     "{\"product_id\":\"%s\",\"quantity\":%lld,\"reservation_id\":\"%s\",\"payment_id\":\"%s\"}",
                     p->product_id, (long long)p->quantity, p->reservation_id, p->id);
    svc_call c = {.peer = SVC_INVENTORY,
                  .replica = -1,
                  .method = "POST",
                  .path = "/reserve",
                  .body = body,
                  .body_len = (size_t)n,
                  .timeout_ns = st->cfg->downstream_timeout_ns};
    op->reserve_sent = 1;
    svc_call_retrying(st->shell, &c, reserved, op);
}

static void pending_persisted(void *arg, int error) {
    process_op *op = arg;
    payment_state *st = op->st;
    payment *p = op->p;
    if (error) {
        process_fail(op, 503, "journal_unavailable", "the payment could not be recorded");
        return;
    }
    char path[128];
    snprintf(path, sizeof path, "/check/%s", p->product_id);
    svc_call c = {.peer = SVC_INVENTORY,
                  .replica = -1,
                  .method = "GET",
                  .path = path,
                  .timeout_ns = st->cfg->downstream_timeout_ns};
    svc_call_retrying(st->shell, &c, checked, op);
}

typedef struct process_request {
    int64_t amount_minor;
    const char *currency;
    const char *product_id;
    char product_buf[24]; /* product_id given as a JSON integer, as text */
    int64_t quantity;
} process_request;

/* Validates the body; answers 400 and returns -1 on the first problem. */
static int parse_process(svc_exchange *ex, process_request *out) {
    json_t *body = svc_ex_body(ex);
    char err[160];
    json_t *amount = json_object_get(body, "amount");
    if (!amount) {
        svc_ex_error(ex, 400, "invalid_field", "amount is required");
        return -1;
    }
    if (svc_amount_parse(amount, &out->amount_minor, err, sizeof err) < 0) {
        svc_ex_error(ex, 400, "invalid_amount", "%s", err);
        return -1;
    }
    json_t *cur = json_object_get(body, "currency");
    out->currency = cur ? json_string_value(cur) : "USD";
    if (!out->currency || !svc_currency_supported(out->currency)) {
        svc_ex_error(ex, 400, "invalid_currency", "currency must be one of %s", svc_currency_list());
        return -1;
    }
    json_t *pid = json_object_get(body, "product_id");
    if (json_is_integer(pid)) { /* the seed's clients sometimes send 1 instead of "1" */
        snprintf(out->product_buf, sizeof out->product_buf, "%lld", (long long)json_integer_value(pid));
        out->product_id = out->product_buf;
    } else {
        out->product_id = json_string_value(pid);
    }
    if (!out->product_id || !svc_id_acceptable(out->product_id)) {
        svc_ex_error(ex, 400, "invalid_field", "product_id is required (a string of [A-Za-z0-9._:-])");
        return -1;
    }
    json_t *q = json_object_get(body, "quantity");
    out->quantity = 1;
    if (q) {
        if (!json_is_integer(q) || json_integer_value(q) < 1 || json_integer_value(q) > QUANTITY_MAX) {
            svc_ex_error(ex, 400, "invalid_field", "quantity must be an integer from 1 to %d", QUANTITY_MAX);
            return -1;
        }
        out->quantity = json_integer_value(q);
    }
    return 0;
}

static uint64_t canonical_hash(json_t *body) {
    char *text = svc_json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = text ? pc_fnv1a64(text, strlen(text)) : 0;
    free(text);
    return h;
}

/* Forgets the keys older than the TTL, so that they stop counting against the capacity. Payments are held in
 * creation order, so the expired ones are a prefix and a cursor walks each payment once. */
static void expire_keys(payment_state *st) {
    int64_t cutoff_ms = svc_unix_ms(st->shell) - st->cfg->idempotency_ttl_ns / 1000000;
    /* A payment still pending keeps its key (and stops the walk): forgetting it would let a retry start a
     * second payment while the first may still complete. */
    while (st->key_cursor < st->count && st->payments[st->key_cursor]->created_ms < cutoff_ms &&
           st->payments[st->key_cursor]->status != PAY_PENDING) {
        payment *p = st->payments[st->key_cursor++];
        if (p->idempotency_key && svc_table_get(&st->by_key, p->idempotency_key) == p)
            svc_table_remove(&st->by_key, p->idempotency_key);
    }
}

/* Answers from an earlier attempt with the same key, or returns 0 when a new attempt must start. */
static int answer_from_key(payment_state *st, svc_exchange *ex, const char *key, uint64_t hash) {
    payment *prev = svc_table_get(&st->by_key, key);
    if (!prev) return 0;
    if (prev->status != PAY_PENDING &&
        svc_unix_ms(st->shell) - prev->created_ms > st->cfg->idempotency_ttl_ns / 1000000) {
        svc_table_remove(&st->by_key, key); /* expired: the key may be used again */
        return 0;
    }
    if (prev->body_hash != hash) {
        svc_ex_error(ex, 422, "idempotency_key_reused",
                     "Idempotency-Key was first used with a different request body (payment %s)", prev->id);
        return 1;
    }
    switch (prev->status) {
    case PAY_PENDING:
        svc_ex_error(ex, 409, "idempotency_in_progress", "payment %s with this key is still being processed", prev->id);
        return 1;
    case PAY_FAILED:
        if (prev->http_status == 503 || prev->http_status == 504) return 0; /* transient: try again */
        svc_ex_reply(ex, prev->http_status, failed_json(prev));
        return 1;
    default: {
        json_t *doc = completed_json(prev, 0.0);
        json_object_set_new(doc, "idempotent_replay", json_true());
        svc_ex_reply(ex, 201, doc);
        return 1;
    }
    }
}

/* Whether a payment may be forgotten to make room: failed, owing no release, no exchange still on it. */
static int forgettable(const payment *p) { return p->status == PAY_FAILED && p->release != RELEASE_OWED && !p->busy; }

/* Makes room when a capacity is reached: forgets the oldest failed payments that owe nothing, as many as
 * the capacities are exceeded by plus a sixteenth of the payment capacity (so that the array is compacted
 * once per batch), with their idempotency keys. Their status then answers 404; the journal keeps their
 * records (a restart replays them and the next capacity check forgets them again). */
static void forget_failed(payment_state *st) {
    size_t over = st->count + 1 > st->cfg->payment_capacity ? st->count + 1 - st->cfg->payment_capacity : 0;
    size_t keys =
        st->by_key.count + 1 > st->cfg->idempotency_capacity ? st->by_key.count + 1 - st->cfg->idempotency_capacity : 0;
    size_t want = (over > keys ? over : keys) + st->cfg->payment_capacity / 16;
    size_t forgotten = 0, kept = 0, cursor = st->key_cursor;
    for (size_t i = 0; i < st->count; i++) {
        payment *p = st->payments[i];
        if (forgotten < want && forgettable(p)) {
            if (p->idempotency_key && svc_table_get(&st->by_key, p->idempotency_key) == p)
                svc_table_remove(&st->by_key, p->idempotency_key);
            svc_table_remove(&st->by_id, p->id);
            free(p->idempotency_key);
            free(p);
            forgotten++;
            if (i < st->key_cursor) cursor--;
            continue;
        }
        st->payments[kept++] = p;
    }
    st->count = kept;
    st->key_cursor = cursor;
    if (forgotten)
        svc_log(st->shell, SVC_LOG_INFO, "payments_forgotten", "forgot %zu failed payments to make room", forgotten);
}

static void route_process(void *state, svc_exchange *ex) {
    payment_state *st = state;
    process_request rq;
    if (parse_process(ex, &rq) < 0) return;
    const char *raw_key = svc_ex_request(ex)->idempotency_key;
    const char *key = st->cfg->idempotency ? raw_key : NULL;
    uint64_t hash = canonical_hash(svc_ex_body(ex));
    if (key) {
        if (!svc_id_acceptable(key)) {
            svc_ex_error(ex, 400, "invalid_idempotency_key", "Idempotency-Key must be 1..%d of [A-Za-z0-9._:-]",
                         SVC_ID_MAX);
            return;
        }
        if (svc_ex_redirect_to_owner(ex, svc_owner_of_key(key, st->cfg->replicas[SVC_PAYMENT]))) return;
        if (answer_from_key(st, ex, key, hash)) return;
        expire_keys(st);
        if (!svc_table_get(&st->by_key, key) && st->by_key.count >= st->cfg->idempotency_capacity) forget_failed(st);
        if (!svc_table_get(&st->by_key, key) && st->by_key.count >= st->cfg->idempotency_capacity) {
            svc_ex_error(ex, 503, "capacity", "too many idempotency keys of completed payments are held (%zu)",
                         st->cfg->idempotency_capacity);
            return;
        }
    }
    if (st->count >= st->cfg->payment_capacity) forget_failed(st);
    if (st->count >= st->cfg->payment_capacity) {
        svc_ex_error(ex, 503, "capacity", "this replica holds its maximum of %zu payments that are not failed",
                     st->cfg->payment_capacity);
        return;
    }
    char id[SVC_ID_MAX + 1];
    svc_new_id(st->shell, id, sizeof id, "pay", st->cfg->replica, 0);
    payment *p = payment_add(st, id);
    if (!p) {
        svc_ex_error(ex, 503, "no_memory", "could not record the payment");
        return;
    }
    p->amount_minor = rq.amount_minor;
    snprintf(p->currency, sizeof p->currency, "%s", rq.currency);
    snprintf(p->product_id, sizeof p->product_id, "%s", rq.product_id);
    p->quantity = rq.quantity;
    p->created_ms = svc_unix_ms(st->shell);
    p->body_hash = hash;
    p->status = PAY_PENDING;
    if (key) {
        bind_key(st, p, key);
    } else if (raw_key && svc_id_acceptable(raw_key)) {
        /* IDEMPOTENCY=off (demonstration): the key is not honoured, but kept on the record so that the
         * invariant checkers can see a key charged twice */
        p->idempotency_key = strdup(raw_key);
        if (!p->idempotency_key) abort();
        key = p->idempotency_key;
    }

    process_op *op = calloc(1, sizeof *op);
    if (!op) abort();
    op->st = st;
    op->ex = ex;
    op->p = p;
    p->busy = 1;
    payment_op_track(st, &op->head);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
    json_t *rec = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:s, s:s?}", "t", "pay", "id", p->id, "amount",
                            (json_int_t)p->amount_minor, "currency", p->currency, "product", p->product_id, "qty",
                            (json_int_t)p->quantity, "created", (json_int_t)p->created_ms, "hash", hex, "key", key);
    svc_persist(st->shell, rec, pending_persisted, op);
}

/* ---- GET /payment/status/<id> ---- */

static int owner_of_payment(payment_state *st, const char *id) {
    return svc_owner_of_id(id, "pay", st->cfg->replicas[SVC_PAYMENT]);
}

/* The payment `id` when this replica owns it. Otherwise the exchange has been answered (forwarded to the
 * owning replica, or 404 when the owner has no such payment) and the result is NULL. */
static payment *owned_payment_or_answer(payment_state *st, svc_exchange *ex, const char *id) {
    if (svc_ex_redirect_to_owner(ex, owner_of_payment(st, id))) return NULL;
    payment *p = svc_table_get(&st->by_id, id);
    if (!p) svc_ex_error(ex, 404, "not_found", "no payment with id %.64s", id);
    return p;
}

static void route_status(void *state, svc_exchange *ex) {
    payment_state *st = state;
    const char *id = svc_ex_param(ex);
    if (!svc_id_acceptable(id)) {
        svc_ex_error(ex, 404, "not_found", "no payment with id %.64s", id);
        return;
    }
    payment *p = owned_payment_or_answer(st, ex, id);
    if (!p) return;
    svc_ex_reply(ex, 200, payment_json(p));
}

/* ---- POST /payment/refund ---- */

typedef struct refund_op {
    payment_op head;
    payment_state *st;
    svc_exchange *ex;
    payment *p;
    int64_t amount_minor;
    char refund_id[SVC_ID_MAX + 1];
    refund_key *rk; /* the key's record when the refund carries an Idempotency-Key */
} refund_op;

static int64_t ttl_ms(const payment_state *st) { return st->cfg->idempotency_ttl_ns / 1000000; }

/* Records a refund made under `key` (payment_add's growth rule); NULL without memory. */
static refund_key *refund_key_add(payment_state *st, const char *key, const char *payment_id, const char *refund_id,
                                  uint64_t hash, int64_t amount, int64_t created_ms) {
    if (st->refund_count == st->refund_cap) {
        size_t cap = st->refund_cap ? st->refund_cap * 2 : 64;
        refund_key **grown = realloc(st->refunds, cap * sizeof *grown);
        if (!grown) return NULL;
        st->refunds = grown;
        st->refund_cap = cap;
    }
    refund_key *rk = calloc(1, sizeof *rk);
    if (!rk) return NULL;
    snprintf(rk->key, sizeof rk->key, "%s", key);
    snprintf(rk->payment_id, sizeof rk->payment_id, "%s", payment_id);
    snprintf(rk->refund_id, sizeof rk->refund_id, "%s", refund_id);
    rk->body_hash = hash;
    rk->amount_minor = amount;
    rk->created_ms = created_ms;
    if (svc_table_put(&st->refunds_by_key, rk->key, rk) < 0) {
        free(rk);
        return NULL;
    }
    st->refunds[st->refund_count++] = rk;
    return rk;
}

/* Forgets refund keys older than the TTL (creation order: a prefix), compacting the array. */
static void refund_keys_expire(payment_state *st) {
    int64_t cutoff = svc_unix_ms(st->shell) - ttl_ms(st);
    size_t n = 0;
    while (n < st->refund_count && st->refunds[n]->created_ms < cutoff && st->refunds[n]->durable) n++;
    if (n == 0) return;
    for (size_t i = 0; i < n; i++) {
        if (svc_table_get(&st->refunds_by_key, st->refunds[i]->key) == st->refunds[i])
            svc_table_remove(&st->refunds_by_key, st->refunds[i]->key);
        free(st->refunds[i]);
    }
    memmove(st->refunds, st->refunds + n, (st->refund_count - n) * sizeof *st->refunds);
    st->refund_count -= n;
}

static json_t *refund_json(const payment *p, const char *refund_id, int64_t amount) {
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o}", "refund_id", refund_id, "original_payment_id", p->id, "amount",
                     svc_amount_json(amount), "currency", p->currency, "status", "refunded", "remaining_refundable",
                     svc_amount_json(p->amount_minor - p->refunded_minor));
}

/* A retried refund: answers from the refund made earlier with this key and returns 1, or returns 0 when the
 * key is new (or expired). */
static int refund_from_key(payment_state *st, svc_exchange *ex, const char *key, uint64_t hash) {
    refund_key *rk = svc_table_get(&st->refunds_by_key, key);
    if (!rk) return 0;
    if (rk->durable && svc_unix_ms(st->shell) - rk->created_ms > ttl_ms(st)) {
        svc_table_remove(&st->refunds_by_key, key);
        return 0;
    }
    if (rk->body_hash != hash) {
        svc_ex_error(ex, 422, "idempotency_key_reused",
                     "Idempotency-Key was first used with a different request body (refund %s)", rk->refund_id);
        return 1;
    }
    if (!rk->durable) {
        svc_ex_error(ex, 409, "idempotency_in_progress", "refund %s with this key is still being processed",
                     rk->refund_id);
        return 1;
    }
    payment *p = svc_table_get(&st->by_id, rk->payment_id);
    if (!p) { /* cannot happen: a refunded payment is completed, and completed payments are never forgotten */
        svc_ex_error(ex, 404, "not_found", "no payment with id %s", rk->payment_id);
        return 1;
    }
    json_t *doc = refund_json(p, rk->refund_id, rk->amount_minor);
    json_object_set_new(doc, "idempotent_replay", json_true());
    svc_ex_reply(ex, 200, doc);
    return 1;
}

/* Status after the refunded total changed; a full refund gives the stock back. */
static void settle_refund(payment *p) {
    if (p->refunded_minor >= p->amount_minor) {
        p->status = PAY_REFUNDED;
        if (p->release == RELEASE_NONE) p->release = RELEASE_OWED;
    } else {
        p->status = PAY_PARTIALLY_REFUNDED;
    }
}

static void refund_persisted(void *arg, int error) {
    refund_op *op = arg;
    payment *p = op->p;
    if (error) {
        p->refunded_minor -= op->amount_minor; /* not durable: the amount is refundable again */
        if (op->rk) { /* and the key may be used again: forget it (the array entry is dropped too) */
            svc_table_remove(&op->st->refunds_by_key, op->rk->key);
            op->rk->durable = 1;
            op->rk->created_ms = INT64_MIN / 2; /* expired for refund_keys_expire */
        }
        svc_ex_error(op->ex, 503, "journal_unavailable", "the refund could not be made durable");
    } else {
        if (op->rk) op->rk->durable = 1;
        settle_refund(p);
        svc_ex_reply(op->ex, 200, refund_json(p, op->refund_id, op->amount_minor));
        if (p->release == RELEASE_OWED) release_owed(op->st, p);
    }
    payment_op_untrack(&op->head);
    free(op);
}

static void route_refund(void *state, svc_exchange *ex) {
    payment_state *st = state;
    json_t *body = svc_ex_body(ex);
    const char *id = json_str(body, "payment_id");
    if (!id || !svc_id_acceptable(id)) {
        svc_ex_error(ex, 400, "invalid_field", "payment_id is required and must be a payment id");
        return;
    }
    json_t *amount = json_object_get(body, "amount");
    int64_t minor = 0;
    char err[160];
    if (amount && svc_amount_parse(amount, &minor, err, sizeof err) < 0) {
        svc_ex_error(ex, 400, "invalid_amount", "%s", err);
        return;
    }
    const char *key = st->cfg->idempotency ? svc_ex_request(ex)->idempotency_key : NULL;
    if (key && !svc_id_acceptable(key)) {
        svc_ex_error(ex, 400, "invalid_idempotency_key", "Idempotency-Key must be 1..%d of [A-Za-z0-9._:-]",
                     SVC_ID_MAX);
        return;
    }
    if (svc_ex_redirect_to_owner(ex, owner_of_payment(st, id))) return;
    uint64_t hash = key ? canonical_hash(body) : 0;
    if (key && refund_from_key(st, ex, key, hash)) return;
    payment *p = owned_payment_or_answer(st, ex, id);
    if (!p) return;
    if (p->status != PAY_COMPLETED && p->status != PAY_PARTIALLY_REFUNDED) {
        svc_ex_error(ex, 409, "not_refundable", "payment %s is %s; only completed payments can be refunded", p->id,
                     payment_status_name(p->status));
        return;
    }
    int64_t remaining = p->amount_minor - p->refunded_minor;
    if (!amount) minor = remaining;
    if (minor > remaining) {
        svc_ex_error(ex, 409, "refund_exceeds_payment", "refund of %lld.%02lld exceeds the refundable %lld.%02lld",
                     (long long)(minor / 100), (long long)(minor % 100), (long long)(remaining / 100),
                     (long long)(remaining % 100));
        return;
    }
    if (key && st->refunds_by_key.count >= st->cfg->idempotency_capacity) refund_keys_expire(st);
    if (key && st->refunds_by_key.count >= st->cfg->idempotency_capacity) {
        svc_ex_error(ex, 503, "capacity", "too many refund idempotency keys are held (%zu)",
                     st->cfg->idempotency_capacity);
        return;
    }
    refund_op *op = calloc(1, sizeof *op);
    if (!op) abort();
    op->st = st;
    op->ex = ex;
    op->p = p;
    op->amount_minor = minor;
    svc_new_id(st->shell, op->refund_id, sizeof op->refund_id, "ref", st->cfg->replica, 0);
    int64_t now_ms = svc_unix_ms(st->shell);
    if (key && !(op->rk = refund_key_add(st, key, p->id, op->refund_id, hash, minor, now_ms))) abort();
    /* Count it now so a concurrent refund cannot pass the same check; undone if not durable. */
    p->refunded_minor += minor;
    payment_op_track(st, &op->head);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
    svc_persist(st->shell,
                json_pack("{s:s, s:s, s:s, s:I, s:s?, s:s?, s:I}", "t", "refund", "id", p->id, "rid", op->refund_id,
                          "amount", (json_int_t)minor, "key", key, "hash", key ? hex : NULL, "created",
                          (json_int_t)now_ms),
                refund_persisted, op);
}

/* ---- journal replay and restart ---- */

static int payment_replay(void *state, json_t *rec, char *err, size_t errlen) {
    payment_state *st = state;
    const char *t = json_str(rec, "t"), *id = json_str(rec, "id");
    if (!t || !id) {
        snprintf(err, errlen, "payment journal: record without t/id");
        return -1;
    }
    if (!strcmp(t, "pay")) {
        payment *p = payment_add(st, id);
        const char *cur = json_str(rec, "currency"), *product = json_str(rec, "product");
        if (!p || !cur || !product) {
            snprintf(err, errlen, "payment journal: bad pay record %s", id);
            return -1;
        }
        p->amount_minor = json_integer_value(json_object_get(rec, "amount"));
        p->quantity = json_integer_value(json_object_get(rec, "qty"));
        p->created_ms = json_integer_value(json_object_get(rec, "created"));
        snprintf(p->currency, sizeof p->currency, "%s", cur);
        snprintf(p->product_id, sizeof p->product_id, "%s", product);
        const char *hash = json_str(rec, "hash");
        p->body_hash = hash ? strtoull(hash, NULL, 16) : 0;
        if (json_str(rec, "key")) {
            if (st->cfg->idempotency)
                bind_key(st, p, json_str(rec, "key"));
            else if (!(p->idempotency_key = strdup(json_str(rec, "key"))))
                abort();
        }
        return 0;
    }
    payment *p = svc_table_get(&st->by_id, id);
    if (!p) {
        snprintf(err, errlen, "payment journal: %s record for unknown payment %s", t, id);
        return -1;
    }
    if (!strcmp(t, "done")) {
        p->status = PAY_COMPLETED;
        p->stock_seen = json_integer_value(json_object_get(rec, "stock"));
    } else if (!strcmp(t, "fail")) {
        p->status = PAY_FAILED;
        p->http_status = (int)json_integer_value(json_object_get(rec, "http"));
        snprintf(p->fail_code, sizeof p->fail_code, "%s", json_str(rec, "code") ? json_str(rec, "code") : "");
        snprintf(p->fail_message, sizeof p->fail_message, "%s", json_str(rec, "msg") ? json_str(rec, "msg") : "");
        if (json_is_true(json_object_get(rec, "release")) && p->release == RELEASE_NONE) p->release = RELEASE_OWED;
    } else if (!strcmp(t, "released")) {
        p->release = RELEASE_DONE;
    } else if (!strcmp(t, "refund")) {
        int64_t amount = json_integer_value(json_object_get(rec, "amount"));
        p->refunded_minor += amount;
        settle_refund(p);
        const char *key = json_str(rec, "key"), *rid = json_str(rec, "rid"), *hash = json_str(rec, "hash");
        if (key && rid && st->cfg->idempotency) {
            refund_key *rk = refund_key_add(st, key, p->id, rid, hash ? strtoull(hash, NULL, 16) : 0, amount,
                                            json_integer_value(json_object_get(rec, "created")));
            if (!rk) abort();
            rk->durable = 1;
        }
    } else {
        snprintf(err, errlen, "payment journal: unknown record type %s", t);
        return -1;
    }
    return 0;
}

typedef struct interrupted_op {
    payment_op head;
    payment_state *st;
    payment *p;
} interrupted_op;

static void interrupted_persisted(void *arg, int error) {
    interrupted_op *op = arg;
    (void)error;
    release_owed(op->st, op->p);
    payment_op_untrack(&op->head);
    free(op);
}

/* After replay: a payment still pending was cut off by a crash; it failed, and its stock may be held. */
static void payment_start(void *state) {
    payment_state *st = state;
    for (size_t i = 0; i < st->count; i++) {
        payment *p = st->payments[i];
        if (p->status == PAY_PENDING) {
            p->status = PAY_FAILED;
            p->http_status = 503;
            snprintf(p->fail_code, sizeof p->fail_code, "interrupted");
            snprintf(p->fail_message, sizeof p->fail_message, "the payment service restarted during the payment");
            p->release = RELEASE_OWED;
            interrupted_op *op = calloc(1, sizeof *op);
            if (!op) abort();
            op->st = st;
            op->p = p;
            payment_op_track(st, &op->head);
            svc_persist(st->shell,
                        json_pack("{s:s, s:s, s:i, s:s, s:s, s:b}", "t", "fail", "id", p->id, "http", 503, "code",
                                  "interrupted", "msg", p->fail_message, "release", 1),
                        interrupted_persisted, op);
        } else if (p->release == RELEASE_OWED) {
            release_owed(st, p);
        }
    }
}

/* ---- module ---- */

static void *payment_create(svc_shell *shell, const svc_config *cfg, char *err, size_t errlen) {
    payment_state *st = calloc(1, sizeof *st);
    if (!st || svc_table_init(&st->by_id, 1024) < 0 || svc_table_init(&st->by_key, 1024) < 0 ||
        svc_table_init(&st->refunds_by_key, 64) < 0) {
        if (st) {
            svc_table_free(&st->by_id);
            svc_table_free(&st->by_key);
        }
        free(st);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->shell = shell;
    st->cfg = cfg;
    pc_list_init(&st->ops);
    return st;
}

static void payment_destroy(void *state) {
    payment_state *st = state;
    while (!pc_list_empty(&st->ops)) {
        payment_op *op = PC_CONTAINER_OF(st->ops.next, payment_op, link);
        pc_list_remove(&op->link);
        if (op->dispose) op->dispose(op);
        free(op);
    }
    for (size_t i = 0; i < st->count; i++) {
        free(st->payments[i]->idempotency_key);
        free(st->payments[i]);
    }
    free(st->payments);
    for (size_t i = 0; i < st->refund_count; i++) free(st->refunds[i]);
    free(st->refunds);
    svc_table_free(&st->by_id);
    svc_table_free(&st->by_key);
    svc_table_free(&st->refunds_by_key);
    free(st);
}

static void payment_describe(void *state, json_t *info) {
    payment_state *st = state;
    json_object_set_new(info, "payments", json_integer((json_int_t)st->count));
    json_object_set_new(info, "idempotency", json_boolean(st->cfg->idempotency));
    json_object_set_new(info, "retry_attempts", json_integer(st->cfg->retry.attempts));
}

size_t payment_count(void *state) { return ((payment_state *)state)->count; }
const payment *payment_at(void *state, size_t i) {
    payment_state *st = state;
    return i < st->count ? st->payments[i] : NULL;
}
const payment *payment_find(void *state, const char *id) { return svc_table_get(&((payment_state *)state)->by_id, id); }

static const svc_route payment_routes[] = {
    {"POST", "/payment/process", route_process, SVC_ROUTE_JSON_BODY},
    {"GET", "/payment/status/*", route_status, 0},
    {"POST", "/payment/refund", route_refund, SVC_ROUTE_JSON_BODY | SVC_ROUTE_API_KEY},
    {"POST", "/payment/validate", payment_route_validate, SVC_ROUTE_JSON_BODY},
    {"POST", "/payment/chain", payment_route_chain, SVC_ROUTE_JSON_BODY},
};

const svc_module payment_module = {
    .name = "payment-service",
    .peer = SVC_PAYMENT,
    .default_port = 5002,
    .routes = payment_routes,
    .route_count = sizeof payment_routes / sizeof payment_routes[0],
    .create = payment_create,
    .destroy = payment_destroy,
    .replay = payment_replay,
    .start = payment_start,
    .describe = payment_describe,
};
