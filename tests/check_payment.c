/*
 * check_payment.c: the payment service (services/payment.c, payment_chain.c) through its routes, with the
 * fake runtime answering inventory and notification by hand: process and its downstream sequence, every
 * validation error, failures of inventory and the release outbox, status, refunds, validate, chain,
 * Idempotency-Key, journal replay, retries, and a three-service cluster for ownership.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/core/ids.h"
#include "services/core/shell.h"
#include "services/inventory.h"
#include "services/modules.h"
#include "services/payment.h"
#include "tests/support/fake_runtime.h"
#include "tests/support/support.h"

static fake_rt *pay_svc(const char *const *settings) { return fake_service(&payment_module, settings); }

static const char *const BODY = "{\"amount\":100,\"currency\":\"USD\",\"product_id\":\"1\",\"quantity\":2}";

/* ---- helpers ---- */

#define EXPECT_CALL(rt, peer, method, path) expect_call_at(__FILE__, __LINE__, (rt), (peer), (method), (path))

static fake_call *expect_call_at(const char *file, int line, fake_rt *rt, svc_peer peer, const char *method,
                                 const char *path) {
    fake_call *c = fake_next_call(rt);
    ck_assert_msg(c != NULL, "%s:%d: no call pending, expected %s %s", file, line, method, path);
    ck_assert_msg(c->peer == peer && !strcmp(c->method, method) && !strcmp(c->path, path),
                  "%s:%d: call to %s %s %s, expected %s %s %s", file, line, svc_peer_name(c->peer), c->method, c->path,
                  svc_peer_name(peer), method, path);
    return c;
}

static fake_reply *pay(fake_rt *rt, const char *body, const char *key) {
    fake_req_opts o = {.idempotency_key = key};
    return fake_req_ex(rt, "POST", "/payment/process", body, &o);
}

static void answer_check(fake_rt *rt, const char *product, int stock) {
    char path[64], body[256];
    snprintf(path, sizeof path, "/check/%s", product);
    snprintf(body, sizeof body,
             "{\"product_id\":\"%s\",\"name\":\"X\",\"available\":%s,\"stock_count\":%d,\"price\":100}", product,
             stock > 0 ? "true" : "false", stock);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "GET", path), 200, body);
}

static void answer_reserve(fake_rt *rt, int status) {
    fake_call *c = EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve");
    fake_answer(rt, c, status, status == 201 ? "{\"status\":\"reserved\"}" : "{\"error\":\"insufficient_stock\"}");
}

static void answer_send(fake_rt *rt, int status) {
    fake_answer(rt, EXPECT_CALL(rt, SVC_NOTIFICATION, "POST", "/send"), status, "{\"status\":\"sent\"}");
}

/* A payment through check, reserve and send, answered 201. */
static fake_reply *pay_ok(fake_rt *rt, const char *body, const char *key, const char *product) {
    fake_reply *r = pay(rt, body, key);
    answer_check(rt, product, 50);
    answer_reserve(rt, 201);
    answer_send(rt, 201);
    FAKE_EXPECT(r, 201);
    return r;
}

static const payment *find(fake_rt *rt, const char *id) { return payment_find(fake_state(rt), id); }

/* What a rejected request must leave as it was. */
typedef struct snapshot {
    size_t payments, journal, calls, background;
    int64_t refunded_total;
    int statuses;
} snapshot;

static snapshot snap(fake_rt *rt) {
    snapshot s = {payment_count(fake_state(rt)),
                  fake_journal_count(rt),
                  fake_calls_total(rt),
                  svc_shell_background(fake_shell(rt)),
                  0,
                  0};
    for (size_t i = 0; i < s.payments; i++) {
        const payment *p = payment_at(fake_state(rt), i);
        s.refunded_total += p->refunded_minor;
        s.statuses = s.statuses * 7 + (int)p->status + 1;
    }
    return s;
}

static void assert_unchanged(const snapshot *a, fake_rt *rt) {
    snapshot b = snap(rt);
    ck_assert_uint_eq(a->payments, b.payments);
    ck_assert_uint_eq(a->journal, b.journal);
    ck_assert_uint_eq(a->calls, b.calls);
    ck_assert_uint_eq(a->background, b.background);
    ck_assert_int_eq(a->refunded_total, b.refunded_total);
    ck_assert_int_eq(a->statuses, b.statuses);
}

static fake_reply *status_of(fake_rt *rt, const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/payment/status/%s", id);
    return fake_req(rt, "GET", path, NULL);
}

static fake_reply *refund(fake_rt *rt, const char *id, const char *amount) {
    char body[256];
    if (amount)
        snprintf(body, sizeof body, "{\"payment_id\":\"%s\",\"amount\":%s}", id, amount);
    else
        snprintf(body, sizeof body, "{\"payment_id\":\"%s\"}", id);
    return fake_req(rt, "POST", "/payment/refund", body);
}

/* ---- process ---- */

START_TEST(test_process_success) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = pay(rt, BODY, NULL);
    ck_assert(!r->done);
    /* The pending record is durable before inventory is asked. */
    ck_assert_uint_eq(fake_journal_count(rt), 1);
    json_t *rec = fake_journal_json(rt, 0);
    ck_assert_str_eq(fake_journal_type(rt, 0), "pay");
    const char *id = json_string_value(json_object_get(rec, "id"));
    ck_assert_int_eq(strncmp(id, "pay-0-", 6), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(rec, "amount")), 10000);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "currency")), "USD");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "product")), "1");
    ck_assert_int_eq(json_integer_value(json_object_get(rec, "qty")), 2);
    ck_assert(json_is_null(json_object_get(rec, "key")) || !json_object_get(rec, "key"));
    const payment *p = find(rt, id);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->status, PAY_PENDING);
    ck_assert(fake_trace_find(rt, "durable payment-0 pay", 0) < fake_trace_find(rt, "GET /check/1", 0));

    fake_call *c = EXPECT_CALL(rt, SVC_INVENTORY, "GET", "/check/1");
    ck_assert_int_eq(c->replica, -1);
    ck_assert_int_eq(c->timeout_ns, 10000 * FAKE_MS);
    ck_assert_ptr_null(c->body);
    fake_advance(rt, 30 * FAKE_MS);
    answer_check(rt, "1", 50);

    c = EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve");
    char rid[96];
    snprintf(rid, sizeof rid, "res-%s", id);
    ck_assert_str_eq(json_string_value(json_object_get(c->json, "reservation_id")), rid);
    ck_assert_str_eq(json_string_value(json_object_get(c->json, "product_id")), "1");
    ck_assert_int_eq(json_integer_value(json_object_get(c->json, "quantity")), 2);
    ck_assert_int_eq(c->timeout_ns, 10000 * FAKE_MS);
    fake_advance(rt, 20 * FAKE_MS);
    fake_answer(rt, c, 201, "{}");

    /* Completed and durable before the notification and before the answer. */
    ck_assert_str_eq(fake_journal_type(rt, 1), "done");
    ck_assert_int_eq(p->status, PAY_COMPLETED);
    ck_assert(!r->done);
    c = EXPECT_CALL(rt, SVC_NOTIFICATION, "POST", "/send");
    ck_assert_int_eq(c->replica, -1);
    const char *nid = json_string_value(json_object_get(c->json, "notification_id"));
    ck_assert_msg(nid && !strncmp(nid, "ntf-", 4) && svc_id_acceptable(nid), "notification_id %s", nid);
    ck_assert_str_eq(json_string_value(json_object_get(c->json, "type")), "payment");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(c->json, "message")), id));
    fake_answer(rt, c, 201, "{}");

    FAKE_EXPECT(r, 201);
    ck_assert_str_eq(fake_str(r, "payment_id"), id);
    ck_assert_str_eq(fake_str(r, "status"), "completed");
    ck_assert(json_is_integer(json_object_get(r->json, "amount")));
    ck_assert_int_eq(fake_int(r, "amount"), 100);
    ck_assert_str_eq(fake_str(r, "currency"), "USD");
    ck_assert_str_eq(fake_str(r, "product_id"), "1");
    ck_assert_int_eq(fake_int(r, "quantity"), 2);
    ck_assert_str_eq(fake_str(r, "reservation_id"), rid);
    ck_assert_str_eq(fake_str(r, "notification"), "sent");
    json_t *ic = json_object_get(r->json, "inventory_check");
    ck_assert(json_is_true(json_object_get(ic, "available")));
    ck_assert_int_eq(json_integer_value(json_object_get(ic, "stock_count")), 50);
    ck_assert(fake_num(r, "processing_time_ms") == 50.0);
    /* The order of effects. */
    long t_pay = fake_trace_find(rt, "durable payment-0 pay", 0);
    long t_check = fake_trace_find(rt, "call payment-0 -> inventory#-1 GET /check/1", 0);
    long t_reserve = fake_trace_find(rt, "call payment-0 -> inventory#-1 POST /reserve", 0);
    long t_done = fake_trace_find(rt, "durable payment-0 done", 0);
    long t_send = fake_trace_find(rt, "call payment-0 -> notification#-1 POST /send", 0);
    long t_reply = fake_trace_find(rt, "reply payment-0 201", 0);
    ck_assert(0 <= t_pay && t_pay < t_check && t_check < t_reserve && t_reserve < t_done && t_done < t_send &&
              t_send < t_reply);
    ck_assert_uint_eq(fake_calls_total(rt), 3);
    ck_assert_uint_eq(svc_shell_background(fake_shell(rt)), 0);
    ck_assert_int_eq(p->release, RELEASE_NONE);

    fake_reply *s = status_of(rt, id);
    FAKE_EXPECT(s, 200);
    ck_assert_str_eq(fake_str(s, "status"), "completed");
    ck_assert_int_eq(fake_int(s, "amount"), 100);
    ck_assert_str_eq(fake_str(s, "reservation_id"), rid);
    ck_assert_int_eq(fake_int(s, "refunded_amount"), 0);
    ck_assert_ptr_null(json_object_get(s->json, "failure"));
    fake_free(rt);
}
END_TEST

START_TEST(test_process_defaults) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = pay(rt, "{\"amount\":99.5,\"product_id\":\"2\"}", NULL);
    answer_check(rt, "2", 10);
    fake_call *c = EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve");
    ck_assert_int_eq(json_integer_value(json_object_get(c->json, "quantity")), 1);
    fake_answer(rt, c, 200, "{}"); /* an idempotent repeat's 200 counts as reserved */
    answer_send(rt, 201);
    FAKE_EXPECT(r, 201);
    ck_assert_str_eq(fake_str(r, "currency"), "USD");
    ck_assert_int_eq(fake_int(r, "quantity"), 1);
    ck_assert(json_is_real(json_object_get(r->json, "amount")));
    ck_assert(fake_num(r, "amount") == 99.5);
    ck_assert_int_eq(find(rt, fake_str(r, "payment_id"))->amount_minor, 9950);
    /* The seed's clients send product ids as numbers. */
    r = pay(rt, "{\"amount\":12.34,\"currency\":\"EUR\",\"product_id\":3}", NULL);
    answer_check(rt, "3", 10);
    answer_reserve(rt, 201);
    answer_send(rt, 201);
    FAKE_EXPECT(r, 201);
    ck_assert_str_eq(fake_str(r, "product_id"), "3");
    ck_assert_str_eq(fake_str(r, "currency"), "EUR");
    ck_assert(fake_num(r, "amount") == 12.34);
    fake_free(rt);
}
END_TEST

static const struct {
    const char *body;
    const char *code;
} bad_process[] = {
    {"{\"currency\":\"USD\",\"product_id\":\"1\"}", "invalid_field"},
    {"{\"amount\":0,\"product_id\":\"1\"}", "invalid_amount"},
    {"{\"amount\":-1,\"product_id\":\"1\"}", "invalid_amount"},
    {"{\"amount\":-0.5,\"product_id\":\"1\"}", "invalid_amount"},
    {"{\"amount\":1.001,\"product_id\":\"1\"}", "invalid_amount"},
    {"{\"amount\":1e300,\"product_id\":\"1\"}", "invalid_amount"},
    {"{\"amount\":1000000001,\"product_id\":\"1\"}", "invalid_amount"},
    {"{\"amount\":\"100\",\"product_id\":\"1\"}", "invalid_amount"},
    {"{\"amount\":true,\"product_id\":\"1\"}", "invalid_amount"},
    {"{\"amount\":null,\"product_id\":\"1\"}", "invalid_amount"},
    {"{\"amount\":[100],\"product_id\":\"1\"}", "invalid_amount"},
    {"{\"amount\":100,\"currency\":\"usd\",\"product_id\":\"1\"}", "invalid_currency"},
    {"{\"amount\":100,\"currency\":\"XXX\",\"product_id\":\"1\"}", "invalid_currency"},
    {"{\"amount\":100,\"currency\":\"\",\"product_id\":\"1\"}", "invalid_currency"},
    {"{\"amount\":100,\"currency\":840,\"product_id\":\"1\"}", "invalid_currency"},
    {"{\"amount\":100,\"currency\":null,\"product_id\":\"1\"}", "invalid_currency"},
    {"{\"amount\":100}", "invalid_field"},
    {"{\"amount\":100,\"product_id\":\"\"}", "invalid_field"},
    {"{\"amount\":100,\"product_id\":\"a b\"}", "invalid_field"},
    {"{\"amount\":100,\"product_id\":null}", "invalid_field"},
    {"{\"amount\":100,\"product_id\":1.5}", "invalid_field"},
    {"{\"amount\":100,\"product_id\":true}", "invalid_field"},
    {"{\"amount\":100,\"product_id\":\"1\",\"quantity\":0}", "invalid_field"},
    {"{\"amount\":100,\"product_id\":\"1\",\"quantity\":-2}", "invalid_field"},
    {"{\"amount\":100,\"product_id\":\"1\",\"quantity\":1.5}", "invalid_field"},
    {"{\"amount\":100,\"product_id\":\"1\",\"quantity\":1000001}", "invalid_field"},
    {"{\"amount\":100,\"product_id\":\"1\",\"quantity\":\"1\"}", "invalid_field"},
    {"[{\"amount\":100,\"product_id\":\"1\"}]", "invalid_json"},
    {"{\"amount\":100,\"amount\":200,\"product_id\":\"1\"}", "invalid_json"},
    {"{\"amount\":100,\"product_id\":\"1\"", "invalid_json"},
};

START_TEST(test_process_rejected) {
    fake_rt *rt = pay_svc(NULL);
    pay_ok(rt, BODY, NULL, "1");
    snapshot before = snap(rt);
    fake_reply *r = pay(rt, bad_process[_i].body, NULL);
    FAKE_EXPECT_ERROR(r, 400, bad_process[_i].code);
    assert_unchanged(&before, rt);
    /* The same with an Idempotency-Key: nothing remembered for it either. */
    r = pay(rt, bad_process[_i].body, "key-bad");
    FAKE_EXPECT_ERROR(r, 400, bad_process[_i].code);
    assert_unchanged(&before, rt);
    pay_ok(rt, BODY, "key-bad", "1"); /* the key is still free */
    fake_free(rt);
}
END_TEST

START_TEST(test_process_bad_key) {
    fake_rt *rt = pay_svc(NULL);
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(pay(rt, BODY, "a b"), 400, "invalid_idempotency_key");
    FAKE_EXPECT_ERROR(pay(rt, BODY, ""), 400, "invalid_idempotency_key");
    char longkey[80];
    memset(longkey, 'k', 65);
    longkey[65] = '\0';
    FAKE_EXPECT_ERROR(pay(rt, BODY, longkey), 400, "invalid_idempotency_key");
    assert_unchanged(&before, rt);
    fake_free(rt);
}
END_TEST

/* ---- inventory says no, or cannot be reached ---- */

static void assert_failed(fake_rt *rt, fake_reply *r, int status, const char *code, int release_owed) {
    FAKE_EXPECT_ERROR(r, status, code);
    ck_assert_str_eq(fake_str(r, "status"), "failed");
    const char *id = fake_str(r, "payment_id");
    const payment *p = find(rt, id);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->status, PAY_FAILED);
    ck_assert_int_eq(p->http_status, status);
    ck_assert_str_eq(p->fail_code, code);
    size_t last = fake_journal_count(rt) - 1;
    ck_assert_str_eq(fake_journal_type(rt, last), "fail");
    json_t *rec = fake_journal_json(rt, last);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "id")), id);
    ck_assert_int_eq(json_integer_value(json_object_get(rec, "http")), status);
    ck_assert_int_eq(json_is_true(json_object_get(rec, "release")), release_owed);
    fake_reply *s = status_of(rt, id);
    FAKE_EXPECT(s, 200);
    ck_assert_str_eq(fake_str(s, "status"), "failed");
    json_t *failure = json_object_get(s->json, "failure");
    ck_assert_str_eq(json_string_value(json_object_get(failure, "code")), code);
    ck_assert_int_eq(json_integer_value(json_object_get(failure, "http_status")), status);
    ck_assert_ptr_null(json_object_get(s->json, "reservation_id"));
}

START_TEST(test_unknown_product) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = pay(rt, BODY, NULL);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "GET", "/check/1"), 404, "{\"error\":\"unknown_product\"}");
    assert_failed(rt, r, 404, "unknown_product", 0);
    ck_assert_uint_eq(fake_calls_total(rt), 1); /* no reserve, no release */
    ck_assert_uint_eq(svc_shell_background(fake_shell(rt)), 0);
    /* Unknown at reserve time (the catalogue changed in between): 404 too, nothing owed. */
    r = pay(rt, BODY, NULL);
    answer_check(rt, "1", 50);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve"), 404, "{}");
    assert_failed(rt, r, 404, "unknown_product", 0);
    ck_assert_uint_eq(fake_calls_pending(rt), 0);
    fake_free(rt);
}
END_TEST

START_TEST(test_out_of_stock) {
    fake_rt *rt = pay_svc(NULL);
    /* From the check: 1 in stock, 2 wanted; no reserve is attempted. */
    fake_reply *r = pay(rt, BODY, NULL);
    answer_check(rt, "1", 1);
    assert_failed(rt, r, 409, "out_of_stock", 0);
    ck_assert_uint_eq(fake_calls_total(rt), 1);
    /* From the reserve (someone else took it in between): nothing was taken, nothing is owed. */
    r = pay(rt, BODY, NULL);
    answer_check(rt, "1", 5);
    answer_reserve(rt, 409);
    assert_failed(rt, r, 409, "out_of_stock", 0);
    ck_assert_uint_eq(fake_calls_pending(rt), 0);
    ck_assert_uint_eq(svc_shell_background(fake_shell(rt)), 0);
    ck_assert_int_eq(find(rt, fake_str(r, "payment_id"))->release, RELEASE_NONE);
    fake_free(rt);
}
END_TEST

static const struct {
    svc_call_outcome outcome;
    int http; /* when outcome is OK */
    int status;
    const char *code;
} check_failures[] = {
    {SVC_CALL_TIMEOUT, 0, 504, "inventory_timeout"},   {SVC_CALL_REFUSED, 0, 503, "inventory_unavailable"},
    {SVC_CALL_RESET, 0, 503, "inventory_unavailable"}, {SVC_CALL_OK, 500, 503, "inventory_error"},
    {SVC_CALL_OK, 503, 503, "inventory_error"},
};

START_TEST(test_check_unreachable) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = pay(rt, BODY, NULL);
    fake_call *c = EXPECT_CALL(rt, SVC_INVENTORY, "GET", "/check/1");
    if (check_failures[_i].outcome == SVC_CALL_OK)
        fake_answer(rt, c, check_failures[_i].http, "{}");
    else
        fake_fail(rt, c, check_failures[_i].outcome);
    assert_failed(rt, r, check_failures[_i].status, check_failures[_i].code, 0);
    ck_assert_uint_eq(fake_calls_total(rt), 1); /* retries are off by default */
    ck_assert_uint_eq(svc_shell_background(fake_shell(rt)), 0);
    fake_free(rt);
}
END_TEST

START_TEST(test_check_without_stock_count) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = pay(rt, BODY, NULL);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "GET", "/check/1"), 200, "not json");
    assert_failed(rt, r, 502, "inventory_error", 0);
    fake_free(rt);
}
END_TEST

/* The reserve timed out: it may have happened, so a release is owed and re-sent until acknowledged. */
START_TEST(test_reserve_timeout_owes_release) {
    fake_rt *rt = pay_svc((const char *const[]){"RELEASE_RETRY_MS=200", "RELEASE_RETRY_MAX_MS=500", NULL});
    fake_reply *r = pay(rt, BODY, NULL);
    answer_check(rt, "1", 50);
    fake_advance(rt, 10000 * FAKE_MS);
    fake_fail(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve"), SVC_CALL_TIMEOUT);
    assert_failed(rt, r, 504, "inventory_timeout", 1);
    const char *id = fake_str(r, "payment_id");
    const payment *p = find(rt, id);
    ck_assert_int_eq(p->release, RELEASE_OWED);
    ck_assert_uint_eq(svc_shell_background(fake_shell(rt)), 1);
    ck_assert(fake_trace_find(rt, "reply payment-0 504", 0) < fake_trace_find(rt, "POST /release", 0));
    char rid[96];
    snprintf(rid, sizeof rid, "res-%s", id);
    const int64_t waits[] = {200 * FAKE_MS, 400 * FAKE_MS, 500 * FAKE_MS, 500 * FAKE_MS};
    for (int k = 0; k < 4; k++) {
        fake_call *c = EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/release");
        ck_assert_str_eq(json_string_value(json_object_get(c->json, "reservation_id")), rid);
        ck_assert_str_eq(json_string_value(json_object_get(c->json, "product_id")), "1");
        if (k % 2)
            fake_answer(rt, c, 503, "{}");
        else
            fake_fail(rt, c, SVC_CALL_TIMEOUT);
        ck_assert_uint_eq(fake_calls_pending(rt), 0);
        ck_assert_int_eq(fake_next_timer_in(rt), waits[k]); /* backoff, doubling up to the cap */
        fake_advance(rt, waits[k]);
        ck_assert_int_eq(p->release, RELEASE_OWED);
    }
    size_t n = fake_journal_count(rt);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/release"), 200, "{\"status\":\"released\"}");
    ck_assert_uint_eq(fake_journal_count(rt), n + 1);
    ck_assert_str_eq(fake_journal_type(rt, n), "released");
    ck_assert_str_eq(json_string_value(json_object_get(fake_journal_json(rt, n), "id")), id);
    ck_assert_int_eq(p->release, RELEASE_DONE);
    ck_assert_uint_eq(svc_shell_background(fake_shell(rt)), 0);
    ck_assert_uint_eq(fake_timers_pending(rt), 0);
    ck_assert_uint_eq(fake_calls_pending(rt), 0);
    /* A restart does not send it again. */
    fake_restart(rt);
    ck_assert_uint_eq(fake_calls_pending(rt), 0);
    ck_assert_int_eq(find(rt, id)->release, RELEASE_DONE);
    fake_free(rt);
}
END_TEST

START_TEST(test_release_refused_for_good) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = pay(rt, BODY, NULL);
    answer_check(rt, "1", 50);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve"), 502, "{}");
    assert_failed(rt, r, 503, "inventory_error", 1);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/release"), 400, "{}");
    /* Retrying cannot help: the outbox stops, the payment still shows the release as owed, and it is logged. */
    ck_assert_uint_eq(svc_shell_background(fake_shell(rt)), 0);
    ck_assert_uint_eq(fake_timers_pending(rt), 0);
    ck_assert_int_eq(find(rt, fake_str(r, "payment_id"))->release, RELEASE_OWED);
    ck_assert_uint_eq(fake_log_count_event(rt, "release_refused"), 1);
    fake_free(rt);
}
END_TEST

START_TEST(test_notification_failure_does_not_fail) {
    fake_rt *rt = pay_svc(NULL);
    for (int k = 0; k < 3; k++) {
        fake_reply *r = pay(rt, BODY, NULL);
        answer_check(rt, "1", 50);
        answer_reserve(rt, 201);
        fake_call *c = EXPECT_CALL(rt, SVC_NOTIFICATION, "POST", "/send");
        if (k == 0)
            fake_answer(rt, c, 500, "{}");
        else if (k == 1)
            fake_fail(rt, c, SVC_CALL_REFUSED);
        else
            fake_fail(rt, c, SVC_CALL_TIMEOUT);
        FAKE_EXPECT(r, 201);
        ck_assert_str_eq(fake_str(r, "status"), "completed");
        ck_assert_str_eq(fake_str(r, "notification"), "failed");
        ck_assert_int_eq(find(rt, fake_str(r, "payment_id"))->status, PAY_COMPLETED);
        ck_assert_int_eq(find(rt, fake_str(r, "payment_id"))->release, RELEASE_NONE);
    }
    ck_assert_uint_eq(fake_calls_pending(rt), 0);
    fake_free(rt);
}
END_TEST

/* ---- status ---- */

START_TEST(test_status_unknown) {
    fake_rt *rt = pay_svc(NULL);
    pay_ok(rt, BODY, NULL, "1");
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(status_of(rt, "pay-0-0000000000000000"), 404, "not_found");
    FAKE_EXPECT_ERROR(status_of(rt, "nothing"), 404, "not_found");
    FAKE_EXPECT_ERROR(status_of(rt, "a%20b"), 404, "not_found");
    FAKE_EXPECT_ERROR(fake_req(rt, "GET", "/payment/status/", NULL), 404, "not_found");
    assert_unchanged(&before, rt);
    fake_reply *r = fake_req(rt, "POST", "/payment/status/x", "{}");
    FAKE_EXPECT_ERROR(r, 405, "method_not_allowed");
    ck_assert_str_eq(r->allow, "GET");
    fake_free(rt);
}
END_TEST

START_TEST(test_status_while_pending) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = pay(rt, BODY, NULL);
    const char *id = json_string_value(json_object_get(fake_journal_json(rt, 0), "id"));
    fake_reply *s = status_of(rt, id);
    FAKE_EXPECT(s, 200);
    ck_assert_str_eq(fake_str(s, "status"), "pending"); /* the truth, not a guess */
    ck_assert_ptr_null(json_object_get(s->json, "reservation_id"));
    answer_check(rt, "1", 50);
    answer_reserve(rt, 201);
    s = status_of(rt, id);
    ck_assert_str_eq(fake_str(s, "status"), "completed"); /* durable already, notification still out */
    ck_assert(!r->done);
    answer_send(rt, 201);
    FAKE_EXPECT(r, 201);
    fake_free(rt);
}
END_TEST

/* ---- refund ---- */

START_TEST(test_refund_full_releases_stock) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *p = pay_ok(rt, BODY, NULL, "1");
    const char *id = fake_str(p, "payment_id");
    fake_journal_hold(rt, 1);
    fake_reply *r = refund(rt, id, NULL);
    ck_assert(!r->done); /* not before the refund is durable */
    fake_journal_hold(rt, 0);
    FAKE_EXPECT(r, 200);
    ck_assert_int_eq(strncmp(fake_str(r, "refund_id"), "ref-0-", 6), 0);
    ck_assert_str_eq(fake_str(r, "original_payment_id"), id);
    ck_assert_int_eq(fake_int(r, "amount"), 100); /* the default: all that remains */
    ck_assert_str_eq(fake_str(r, "currency"), "USD");
    ck_assert_str_eq(fake_str(r, "status"), "refunded");
    ck_assert_int_eq(fake_int(r, "remaining_refundable"), 0);
    json_t *rec = fake_journal_json(rt, fake_journal_count(rt) - 1);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "t")), "refund");
    ck_assert_int_eq(json_integer_value(json_object_get(rec, "amount")), 10000);
    const payment *pp = find(rt, id);
    ck_assert_int_eq(pp->status, PAY_REFUNDED);
    ck_assert_int_eq(pp->refunded_minor, 10000);
    /* The stock goes back. */
    fake_call *c = EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/release");
    ck_assert_str_eq(json_string_value(json_object_get(c->json, "reservation_id")), fake_str(p, "reservation_id"));
    fake_answer(rt, c, 200, "{}");
    ck_assert_int_eq(pp->release, RELEASE_DONE);
    ck_assert_str_eq(fake_journal_type(rt, fake_journal_count(rt) - 1), "released");
    fake_reply *s = status_of(rt, id);
    ck_assert_str_eq(fake_str(s, "status"), "refunded");
    ck_assert_int_eq(fake_int(s, "refunded_amount"), 100);
    /* Nothing more to refund. */
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(refund(rt, id, NULL), 409, "not_refundable");
    FAKE_EXPECT_ERROR(refund(rt, id, "1"), 409, "not_refundable");
    assert_unchanged(&before, rt);
    fake_free(rt);
}
END_TEST

START_TEST(test_refund_partial) {
    fake_rt *rt = pay_svc(NULL);
    const char *id = fake_str(pay_ok(rt, BODY, NULL, "1"), "payment_id");
    fake_reply *r = refund(rt, id, "30.25");
    FAKE_EXPECT(r, 200);
    ck_assert(fake_num(r, "amount") == 30.25);
    ck_assert(fake_num(r, "remaining_refundable") == 69.75);
    ck_assert_int_eq(find(rt, id)->status, PAY_PARTIALLY_REFUNDED);
    ck_assert_uint_eq(fake_calls_pending(rt), 0); /* stock stays sold */
    ck_assert_str_eq(fake_str(status_of(rt, id), "status"), "partially_refunded");
    /* Over what remains: refused, nothing changes. */
    snapshot before = snap(rt);
    r = refund(rt, id, "69.76");
    FAKE_EXPECT_ERROR(r, 409, "refund_exceeds_payment");
    assert_unchanged(&before, rt);
    ck_assert_int_eq(find(rt, id)->refunded_minor, 3025);
    /* Exactly what remains, by default. */
    r = refund(rt, id, NULL);
    FAKE_EXPECT(r, 200);
    ck_assert(fake_num(r, "amount") == 69.75);
    ck_assert_int_eq(find(rt, id)->status, PAY_REFUNDED);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/release"), 200, "{}");
    ck_assert_int_eq(find(rt, id)->refunded_minor, 10000);
    fake_free(rt);
}
END_TEST

START_TEST(test_refund_rejected) {
    fake_rt *rt = pay_svc(NULL);
    const char *ok = fake_str(pay_ok(rt, BODY, NULL, "1"), "payment_id");
    fake_reply *f = pay(rt, BODY, NULL);
    answer_check(rt, "1", 0);
    FAKE_EXPECT(f, 409);
    const char *failed = fake_str(f, "payment_id");
    fake_reply *pending = pay(rt, BODY, NULL);
    const char *pend = json_string_value(json_object_get(fake_journal_json(rt, fake_journal_count(rt) - 1), "id"));
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(refund(rt, failed, NULL), 409, "not_refundable");
    FAKE_EXPECT_ERROR(refund(rt, pend, NULL), 409, "not_refundable");
    FAKE_EXPECT_ERROR(refund(rt, "pay-0-0000000000000000", NULL), 404, "not_found");
    FAKE_EXPECT_ERROR(refund(rt, ok, "0"), 400, "invalid_amount");
    FAKE_EXPECT_ERROR(refund(rt, ok, "-5"), 400, "invalid_amount");
    FAKE_EXPECT_ERROR(refund(rt, ok, "1.001"), 400, "invalid_amount");
    FAKE_EXPECT_ERROR(refund(rt, ok, "\"5\""), 400, "invalid_amount");
    FAKE_EXPECT_ERROR(refund(rt, ok, "100.01"), 409, "refund_exceeds_payment");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/refund", "{}"), 400, "invalid_field");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/refund", "{\"payment_id\":5}"), 400, "invalid_field");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/refund", "{\"payment_id\":\"a b\"}"), 400, "invalid_field");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/refund", "[]"), 400, "invalid_json");
    assert_unchanged(&before, rt);
    ck_assert(!pending->done);
    /* The journal cannot take the refund: 503, and the amount is refundable again. */
    fake_journal_fail_next(rt, 5);
    FAKE_EXPECT_ERROR(refund(rt, ok, "40"), 503, "journal_unavailable");
    ck_assert_int_eq(find(rt, ok)->refunded_minor, 0);
    ck_assert_int_eq(find(rt, ok)->status, PAY_COMPLETED);
    FAKE_EXPECT(refund(rt, ok, "100"), 200);
    fake_free(rt);
}
END_TEST

/* ---- validate ---- */

START_TEST(test_validate) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = fake_req(rt, "POST", "/payment/validate", "{\"card_number\":\"4111 1111 1111 1111\"}");
    FAKE_EXPECT(r, 200);
    ck_assert(json_is_true(json_object_get(r->json, "valid")));
    ck_assert_str_eq(fake_str(r, "brand"), "visa");
    ck_assert_str_eq(fake_str(r, "masked_number"), "****-****-****-1111");
    ck_assert_str_eq(fake_str(r, "last4"), "1111");
    r = fake_req(rt, "POST", "/payment/validate", "{\"card_number\":\"378282246310006\"}");
    FAKE_EXPECT(r, 200);
    ck_assert(json_is_false(json_object_get(r->json, "valid")));
    ck_assert_str_eq(fake_str(r, "brand"), "amex");
    ck_assert_str_eq(fake_str(r, "masked_number"), "****-****-****-0006");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/validate", "{\"card_number\":\"4111abcd11111111\"}"), 400,
                      "invalid_card_number");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/validate", "{\"card_number\":\"4111\"}"), 400,
                      "invalid_card_number");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/validate", "{\"card_number\":\"41111111111111111111\"}"), 400,
                      "invalid_card_number");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/validate", "{\"card_number\":4111111111111111}"), 400,
                      "invalid_field");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/validate", "{}"), 400, "invalid_field");
    /* Never stored or logged. */
    ck_assert_uint_eq(fake_journal_count(rt), 0);
    ck_assert_uint_eq(fake_calls_total(rt), 0);
    ck_assert_uint_eq(payment_count(fake_state(rt)), 0);
    for (size_t i = 0; i < fake_log_count(rt); i++) {
        ck_assert_ptr_null(strstr(fake_log_at(rt, i), "4111 1111"));
        ck_assert_ptr_null(strstr(fake_log_at(rt, i), "37828224631"));
    }
    fake_free(rt);
}
END_TEST

/* ---- chain ---- */

START_TEST(test_chain_success) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = fake_req(rt, "POST", "/payment/chain", "{\"product_id\":\"2\"}");
    fake_call *c = EXPECT_CALL(rt, SVC_INVENTORY, "GET", "/check/2");
    ck_assert_int_eq(c->timeout_ns, 15000 * FAKE_MS);
    fake_advance(rt, 12 * FAKE_MS);
    fake_answer(rt, c, 200, "{}");
    c = EXPECT_CALL(rt, SVC_NOTIFICATION, "POST", "/send");
    ck_assert_int_eq(c->timeout_ns, 15000 * FAKE_MS);
    ck_assert_str_eq(json_string_value(json_object_get(c->json, "type")), "chain");
    ck_assert(svc_id_acceptable(json_string_value(json_object_get(c->json, "notification_id"))));
    fake_advance(rt, 5 * FAKE_MS);
    fake_answer(rt, c, 201, "{}");
    FAKE_EXPECT(r, 200);
    ck_assert_str_eq(fake_str(r, "overall_status"), "success");
    ck_assert(fake_num(r, "total_time_ms") == 17.0);
    ck_assert_str_eq(fake_str(r, "product_id"), "2");
    json_t *steps = json_object_get(r->json, "steps");
    ck_assert_uint_eq(json_array_size(steps), 2);
    json_t *s1 = json_array_get(steps, 0), *s2 = json_array_get(steps, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(s1, "step")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(s1, "service")), "inventory");
    ck_assert_str_eq(json_string_value(json_object_get(s1, "status")), "success");
    ck_assert(json_number_value(json_object_get(s1, "latency_ms")) == 12.0);
    ck_assert_ptr_null(json_object_get(s1, "error"));
    ck_assert_int_eq(json_integer_value(json_object_get(s2, "step")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(s2, "service")), "notification");
    ck_assert(json_number_value(json_object_get(s2, "latency_ms")) == 5.0);
    /* No payment, no journal. */
    ck_assert_uint_eq(payment_count(fake_state(rt)), 0);
    ck_assert_uint_eq(fake_journal_count(rt), 0);
    fake_free(rt);
}
END_TEST

START_TEST(test_chain_partial_failure) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = fake_req(rt, "POST", "/payment/chain", "{}");
    fake_advance(rt, 15000 * FAKE_MS);
    fake_fail(rt, EXPECT_CALL(rt, SVC_INVENTORY, "GET", "/check/1"), SVC_CALL_TIMEOUT); /* default product 1 */
    ck_assert(!r->done);                                                                /* step 2 still runs */
    fake_advance(rt, 3 * FAKE_MS);
    fake_answer(rt, EXPECT_CALL(rt, SVC_NOTIFICATION, "POST", "/send"), 500, "{}");
    FAKE_EXPECT(r, 200);
    ck_assert_str_eq(fake_str(r, "overall_status"), "partial_failure");
    json_t *steps = json_object_get(r->json, "steps");
    json_t *s1 = json_array_get(steps, 0), *s2 = json_array_get(steps, 1);
    ck_assert_str_eq(json_string_value(json_object_get(s1, "status")), "failed");
    ck_assert_str_eq(json_string_value(json_object_get(s1, "error")), "timeout");
    ck_assert(json_number_value(json_object_get(s1, "latency_ms")) == 15000.0);
    ck_assert_str_eq(json_string_value(json_object_get(s2, "status")), "failed");
    ck_assert_str_eq(json_string_value(json_object_get(s2, "error")), "HTTP 500");
    ck_assert(json_number_value(json_object_get(s2, "latency_ms")) == 3.0);
    ck_assert(fake_num(r, "total_time_ms") == 15003.0);
    /* One step failing is enough for partial_failure; a numeric product id is accepted. */
    r = fake_req(rt, "POST", "/payment/chain", "{\"product_id\":3}");
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "GET", "/check/3"), 404, "{}");
    fake_answer(rt, EXPECT_CALL(rt, SVC_NOTIFICATION, "POST", "/send"), 201, "{}");
    ck_assert_str_eq(fake_str(r, "overall_status"), "partial_failure");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(r->json, "steps"), 0), "error")),
                     "HTTP 404");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/chain", "{\"product_id\":\"a b\"}"), 400, "invalid_field");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/payment/chain", "{\"product_id\":[1]}"), 400, "invalid_field");
    ck_assert_uint_eq(fake_calls_pending(rt), 0);
    fake_free(rt);
}
END_TEST

/* ---- Idempotency-Key ---- */

START_TEST(test_key_replays_first_result) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *first = pay_ok(rt, BODY, "order-1", "1");
    snapshot before = snap(rt);
    fake_reply *again = pay(rt, BODY, "order-1");
    FAKE_EXPECT(again, 201);
    ck_assert_str_eq(fake_str(again, "payment_id"), fake_str(first, "payment_id"));
    ck_assert_str_eq(fake_str(again, "status"), "completed");
    ck_assert(json_is_true(json_object_get(again->json, "idempotent_replay")));
    assert_unchanged(&before, rt); /* no new payment, no journal record, no downstream call */
    /* The same body written differently is the same request. */
    fake_reply *reordered =
        pay(rt, "{ \"quantity\":2, \"product_id\":\"1\", \"currency\":\"USD\",  \"amount\":100 }", "order-1");
    FAKE_EXPECT(reordered, 201);
    ck_assert_str_eq(fake_str(reordered, "payment_id"), fake_str(first, "payment_id"));
    /* A different body under the same key: 422, nothing changes. */
    FAKE_EXPECT_ERROR(pay(rt, "{\"amount\":101,\"currency\":\"USD\",\"product_id\":\"1\",\"quantity\":2}", "order-1"),
                      422, "idempotency_key_reused");
    assert_unchanged(&before, rt);
    /* The key is in the journal record. */
    ck_assert_str_eq(json_string_value(json_object_get(fake_journal_json(rt, 0), "key")), "order-1");
    fake_free(rt);
}
END_TEST

START_TEST(test_key_in_progress) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *first = pay(rt, BODY, "order-2");
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(pay(rt, BODY, "order-2"), 409, "idempotency_in_progress");
    assert_unchanged(&before, rt);
    answer_check(rt, "1", 50);
    answer_reserve(rt, 201);
    answer_send(rt, 201);
    FAKE_EXPECT(first, 201);
    ck_assert_str_eq(fake_str(pay(rt, BODY, "order-2"), "payment_id"), fake_str(first, "payment_id"));
    fake_free(rt);
}
END_TEST

START_TEST(test_key_after_transient_failure) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *first = pay(rt, BODY, "order-3");
    fake_fail(rt, EXPECT_CALL(rt, SVC_INVENTORY, "GET", "/check/1"), SVC_CALL_REFUSED);
    FAKE_EXPECT_ERROR(first, 503, "inventory_unavailable");
    /* A 503 may be retried: a new attempt, a new payment. */
    fake_reply *second = pay_ok(rt, BODY, "order-3", "1");
    ck_assert_str_ne(fake_str(second, "payment_id"), fake_str(first, "payment_id"));
    ck_assert_uint_eq(payment_count(fake_state(rt)), 2);
    ck_assert_int_eq(find(rt, fake_str(first, "payment_id"))->status, PAY_FAILED);
    /* From now on the key answers with the completed one. */
    fake_reply *third = pay(rt, BODY, "order-3");
    FAKE_EXPECT(third, 201);
    ck_assert_str_eq(fake_str(third, "payment_id"), fake_str(second, "payment_id"));
    /* A final failure (409) is the answer for good. */
    fake_reply *oos = pay(rt, BODY, "order-4");
    answer_check(rt, "1", 0);
    FAKE_EXPECT_ERROR(oos, 409, "out_of_stock");
    snapshot before = snap(rt);
    fake_reply *oos2 = pay(rt, BODY, "order-4");
    FAKE_EXPECT_ERROR(oos2, 409, "out_of_stock");
    ck_assert_str_eq(fake_str(oos2, "payment_id"), fake_str(oos, "payment_id"));
    assert_unchanged(&before, rt);
    fake_free(rt);
}
END_TEST

/* A key owned by another replica: the whole request goes there. */
START_TEST(test_key_forwarded_to_owner) {
    char key[32];
    for (int i = 0;; i++) {
        snprintf(key, sizeof key, "k-%d", i);
        if (svc_owner_of_key(key, 3) == 2) break;
    }
    fake_rt *rt = pay_svc((const char *const[]){"PAYMENT_REPLICAS=3", NULL});
    fake_reply *r = pay(rt, BODY, key);
    fake_call *c = EXPECT_CALL(rt, SVC_PAYMENT, "POST", "/payment/process");
    ck_assert_int_eq(c->replica, 2);
    ck_assert_int_eq(c->forwarded, 1);
    ck_assert_str_eq(c->key, key);
    ck_assert_str_eq(c->body, BODY);
    ck_assert_uint_eq(payment_count(fake_state(rt)), 0);
    ck_assert_uint_eq(fake_journal_count(rt), 0);
    fake_answer(rt, c, 201, "{\"payment_id\":\"pay-2-00000000000000ff\",\"status\":\"completed\"}");
    FAKE_EXPECT(r, 201);
    ck_assert_str_eq(fake_str(r, "payment_id"), "pay-2-00000000000000ff");
    /* Arriving forwarded at a replica that does not own the key: 421. */
    fake_req_opts fwd = {.idempotency_key = key, .forwarded = 1};
    FAKE_EXPECT_ERROR(fake_req_ex(rt, "POST", "/payment/process", BODY, &fwd), 421, "misdirected");
    ck_assert_uint_eq(payment_count(fake_state(rt)), 0);
    fake_free(rt);
}
END_TEST

START_TEST(test_key_ttl_and_capacity) {
    fake_rt *rt = pay_svc((const char *const[]){"IDEMPOTENCY_TTL_S=1", "IDEMPOTENCY_CAPACITY=2", NULL});
    fake_reply *a = pay_ok(rt, BODY, "t-1", "1");
    fake_advance(rt, 1000 * FAKE_MS);
    ck_assert_str_eq(fake_str(pay(rt, BODY, "t-1"), "payment_id"), fake_str(a, "payment_id")); /* still kept */
    fake_advance(rt, 1 * FAKE_MS);
    fake_reply *b = pay_ok(rt, BODY, "t-1", "1"); /* expired: a new payment */
    ck_assert_str_ne(fake_str(b, "payment_id"), fake_str(a, "payment_id"));
    pay_ok(rt, BODY, "t-2", "1");
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(pay(rt, BODY, "t-3"), 503, "capacity");
    assert_unchanged(&before, rt);
    pay_ok(rt, BODY, NULL, "1"); /* payments without a key are not limited by it */
    /* Once the held keys expire they make room for new ones (a key is kept for the TTL, not forever). */
    fake_advance(rt, 1001 * FAKE_MS);
    pay_ok(rt, BODY, "t-3", "1");
    pay_ok(rt, BODY, "t-4", "1");
    FAKE_EXPECT_ERROR(pay(rt, BODY, "t-5"), 503, "capacity");
    fake_advance(rt, 1001 * FAKE_MS);
    pay_ok(rt, BODY, "t-5", "1");
    fake_free(rt);
}
END_TEST

START_TEST(test_idempotency_off_ignores_key) {
    fake_rt *rt = pay_svc((const char *const[]){"IDEMPOTENCY=off", NULL});
    fake_reply *a = pay_ok(rt, BODY, "same", "1");
    fake_reply *b = pay_ok(rt, BODY, "same", "1");
    ck_assert_str_ne(fake_str(a, "payment_id"), fake_str(b, "payment_id"));
    ck_assert_uint_eq(payment_count(fake_state(rt)), 2);
    ck_assert_uint_eq(fake_calls_total(rt), 6);
    /* The key is not honoured, but it stays on both records (and in the journal) so that the simulator's
     * checkers can see one key charged twice. */
    ck_assert_str_eq(json_string_value(json_object_get(fake_journal_json(rt, 0), "key")), "same");
    ck_assert_str_eq(payment_at(fake_state(rt), 0)->idempotency_key, "same");
    ck_assert_str_eq(payment_at(fake_state(rt), 1)->idempotency_key, "same");
    /* Even an unusable key is ignored. */
    pay_ok(rt, BODY, "a b", "1");
    fake_free(rt);
}
END_TEST

/* ---- journal ---- */

START_TEST(test_journal_failures) {
    fake_rt *rt = pay_svc(NULL);
    /* The pending record cannot be written: 503, inventory never asked. */
    fake_journal_fail_next(rt, 5);
    fake_reply *r = pay(rt, BODY, NULL);
    FAKE_EXPECT_ERROR(r, 503, "journal_unavailable");
    ck_assert_uint_eq(fake_calls_total(rt), 0);
    /* The completion cannot be written: 503, and the stock that was reserved is released. */
    r = pay(rt, BODY, NULL);
    answer_check(rt, "1", 50);
    fake_journal_fail_next(rt, 5);
    answer_reserve(rt, 201);
    FAKE_EXPECT_ERROR(r, 503, "journal_unavailable");
    const payment *p = find(rt, fake_str(r, "payment_id"));
    ck_assert_int_eq(p->status, PAY_FAILED);
    ck_assert_int_eq(p->release, RELEASE_OWED);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/release"), 200, "{}");
    ck_assert_int_eq(p->release, RELEASE_DONE);
    ck_assert_uint_eq(fake_calls_pending(rt), 0); /* no notification for a payment that did not complete */
    fake_free(rt);
}
END_TEST

START_TEST(test_replay_completed_survive) {
    fake_rt *rt = pay_svc(NULL);
    const char *a = fake_str(pay_ok(rt, BODY, "keep-1", "1"), "payment_id");
    const char *b =
        fake_str(pay_ok(rt, "{\"amount\":50.5,\"currency\":\"GBP\",\"product_id\":\"4\"}", NULL, "4"), "payment_id");
    FAKE_EXPECT(refund(rt, a, "10"), 200);
    fake_reply *f = pay(rt, BODY, NULL);
    answer_check(rt, "1", 0);
    const char *c = fake_str(f, "payment_id");
    char ida[64], idb[64], idc[64];
    snprintf(ida, sizeof ida, "%s", a);
    snprintf(idb, sizeof idb, "%s", b);
    snprintf(idc, sizeof idc, "%s", c);
    fake_restart(rt);
    ck_assert_uint_eq(payment_count(fake_state(rt)), 3);
    ck_assert_uint_eq(fake_calls_pending(rt), 0); /* nothing owed */
    fake_reply *s = status_of(rt, ida);
    FAKE_EXPECT(s, 200);
    ck_assert_str_eq(fake_str(s, "status"), "partially_refunded");
    ck_assert_int_eq(fake_int(s, "refunded_amount"), 10);
    ck_assert_int_eq(fake_int(s, "quantity"), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(s->json, "inventory_check"), "stock_count")),
                     50);
    s = status_of(rt, idb);
    ck_assert_str_eq(fake_str(s, "status"), "completed");
    ck_assert(fake_num(s, "amount") == 50.5);
    ck_assert_str_eq(fake_str(s, "currency"), "GBP");
    s = status_of(rt, idc);
    ck_assert_str_eq(fake_str(s, "status"), "failed");
    /* The key is remembered across the restart, with its body. */
    fake_reply *again = pay(rt, BODY, "keep-1");
    FAKE_EXPECT(again, 201);
    ck_assert_str_eq(fake_str(again, "payment_id"), ida);
    FAKE_EXPECT_ERROR(pay(rt, "{\"amount\":1,\"product_id\":\"1\"}", "keep-1"), 422, "idempotency_key_reused");
    /* Refunds continue from where they were. */
    FAKE_EXPECT_ERROR(refund(rt, ida, "90.01"), 409, "refund_exceeds_payment");
    FAKE_EXPECT(refund(rt, ida, "90"), 200);
    fake_free(rt);
}
END_TEST

/* Cut off between the reserve and the answer: at restart the payment failed ("interrupted") and its
 * reservation, if any, is released. */
START_TEST(test_replay_pending_becomes_interrupted) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = pay(rt, BODY, "cut");
    answer_check(rt, "1", 50);
    EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve"); /* sent, never answered: the process dies */
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(fake_journal_json(rt, 0), "id")));
    ck_assert(!r->done);
    size_t n = fake_journal_count(rt);
    fake_restart(rt);
    const payment *p = find(rt, id);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->status, PAY_FAILED);
    ck_assert_str_eq(p->fail_code, "interrupted");
    ck_assert_int_eq(p->http_status, 503);
    ck_assert_str_eq(fake_journal_type(rt, n), "fail");
    ck_assert(json_is_true(json_object_get(fake_journal_json(rt, n), "release")));
    fake_call *c = EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/release");
    char rid[96];
    snprintf(rid, sizeof rid, "res-%s", id);
    ck_assert_str_eq(json_string_value(json_object_get(c->json, "reservation_id")), rid);
    ck_assert_uint_eq(svc_shell_background(fake_shell(rt)), 1);
    fake_answer(rt, c, 200, "{}");
    ck_assert_int_eq(p->release, RELEASE_DONE);
    ck_assert_uint_eq(svc_shell_background(fake_shell(rt)), 0);
    fake_reply *s = status_of(rt, id);
    ck_assert_str_eq(fake_str(s, "status"), "failed");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(s->json, "failure"), "code")), "interrupted");
    /* Interrupted is transient: the client's retry with its key makes a new payment. */
    fake_reply *retry = pay_ok(rt, BODY, "cut", "1");
    ck_assert_str_ne(fake_str(retry, "payment_id"), id);
    /* Another restart: the release is not owed again. */
    fake_restart(rt);
    ck_assert_uint_eq(fake_calls_pending(rt), 0);
    fake_free(rt);
}
END_TEST

/* A release still owed when the process died is re-sent after the restart. */
START_TEST(test_replay_resends_owed_release) {
    fake_rt *rt = pay_svc(NULL);
    fake_reply *r = pay(rt, BODY, NULL);
    answer_check(rt, "1", 50);
    fake_fail(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve"), SVC_CALL_RESET);
    FAKE_EXPECT(r, 503);
    fake_fail(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/release"), SVC_CALL_REFUSED);
    fake_restart(rt);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/release"), 200, "{}");
    ck_assert_int_eq(find(rt, fake_str(r, "payment_id"))->release, RELEASE_DONE);
    fake_free(rt);
}
END_TEST

START_TEST(test_replay_rejects_garbage) {
    fake_rt *rt = fake_service_unstarted(&payment_module, NULL);
    char err[256] = "";
    const char *bad[] = {"{\"t\":\"done\",\"id\":\"pay-0-1\"}", "{\"t\":\"pay\",\"id\":\"pay-0-1\"}", "{\"id\":\"x\"}",
                         "{\"t\":\"bogus\",\"id\":\"x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(svc_shell_replay(fake_shell(rt), bad[i], strlen(bad[i]), err, sizeof err) == -1, "accepted %s",
                      bad[i]);
    fake_free(rt);
}
END_TEST

/* ---- retries ---- */

START_TEST(test_retries_reuse_reservation_id) {
    fake_rt *rt = pay_svc((const char *const[]){"RETRY_ATTEMPTS=3", "RETRY_BACKOFF_MS=50", NULL});
    fake_reply *r = pay(rt, BODY, NULL);
    fake_fail(rt, EXPECT_CALL(rt, SVC_INVENTORY, "GET", "/check/1"), SVC_CALL_TIMEOUT);
    ck_assert(!r->done);
    fake_advance(rt, fake_next_timer_in(rt));
    answer_check(rt, "1", 50);
    fake_call *c = EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve");
    char body[256];
    snprintf(body, sizeof body, "%s", c->body);
    fake_answer(rt, c, 503, "{}");
    fake_advance(rt, fake_next_timer_in(rt));
    c = EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve");
    ck_assert_str_eq(c->body, body); /* same reservation id: inventory takes the stock once */
    fake_answer(rt, c, 200, "{}");
    answer_send(rt, 201);
    FAKE_EXPECT(r, 201);
    ck_assert_uint_eq(fake_calls_total(rt), 5);
    /* A 409 from reserve is final, even with retries on. */
    r = pay(rt, BODY, NULL);
    answer_check(rt, "1", 50);
    answer_reserve(rt, 409);
    FAKE_EXPECT_ERROR(r, 409, "out_of_stock");
    ck_assert_uint_eq(fake_calls_pending(rt), 0);
    ck_assert_uint_eq(fake_timers_pending(rt), 0);
    fake_free(rt);
}
END_TEST

/* ---- a whole cluster: payment x3, inventory x2, notification x2 ---- */

static const int full_cluster[SVC_PEER_COUNT] = {3, 2, 2};

START_TEST(test_cluster_status_forwarded) {
    fake_cluster *cl = fake_cluster_new(full_cluster, NULL);
    fake_rt *p0 = fake_node(cl, SVC_PAYMENT, 0), *p2 = fake_node(cl, SVC_PAYMENT, 2);
    fake_reply *r = pay(p2, BODY, NULL);
    FAKE_EXPECT(r, 201);
    const char *id = fake_str(r, "payment_id");
    ck_assert_int_eq(strncmp(id, "pay-2-", 6), 0);
    ck_assert_str_eq(fake_str(r, "notification"), "sent");
    ck_assert_uint_eq(payment_count(fake_state(p2)), 1);
    ck_assert_uint_eq(payment_count(fake_state(p0)), 0);
    fake_reply *s = status_of(p0, id);
    FAKE_EXPECT(s, 200);
    ck_assert_str_eq(fake_str(s, "payment_id"), id);
    ck_assert_str_eq(fake_str(s, "status"), "completed");
    ck_assert_uint_eq(fake_cluster_routed(cl, p0, SVC_PAYMENT, 2), 1);
    /* Unknown there too: 404 from the owner, not a guess. */
    FAKE_EXPECT_ERROR(status_of(p0, "pay-2-0000000000000000"), 404, "not_found");
    /* The owner down: 503, never a made-up status. */
    fake_cluster_set_down(cl, SVC_PAYMENT, 2, SVC_CALL_REFUSED);
    FAKE_EXPECT_ERROR(status_of(p0, id), 503, "owner_unavailable");
    /* Refund through another replica reaches the owner. */
    fake_cluster_set_down(cl, SVC_PAYMENT, 2, SVC_CALL_OK);
    FAKE_EXPECT(refund(fake_node(cl, SVC_PAYMENT, 1), id, "1"), 200);
    ck_assert_int_eq(payment_find(fake_state(p2), id)->refunded_minor, 100);
    fake_cluster_free(cl);
}
END_TEST

typedef struct held_stock {
    int64_t held;
} held_stock;

static void sum_held(void *ctx, const char *rid, const char *product_id, int64_t quantity) {
    (void)rid;
    (void)product_id;
    ((held_stock *)ctx)->held += quantity;
}

/* Many payments through the cluster, keyed, some repeated: every unit of stock is accounted for. */
START_TEST(test_cluster_conserves_stock) {
    fake_cluster *cl = fake_cluster_new(full_cluster, NULL);
    int64_t want_sold = 0;
    for (int i = 0; i < 30; i++) {
        char key[32], body[160];
        snprintf(key, sizeof key, "order-%d", i % 20); /* 10 repeats */
        snprintf(body, sizeof body, "{\"amount\":10,\"product_id\":\"%d\",\"quantity\":%d}", 1 + (i % 20) % 5,
                 1 + (i % 20) % 3);
        fake_reply *r = pay(fake_node(cl, SVC_PAYMENT, i % 3), body, key);
        FAKE_EXPECT(r, 201);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "pay-%d-", svc_owner_of_key(key, 3)); /* made by the key's owner */
        ck_assert_int_eq(strncmp(fake_str(r, "payment_id"), prefix, strlen(prefix)), 0);
        if (i < 20)
            want_sold += 1 + i % 3;
        else
            ck_assert(json_is_true(json_object_get(r->json, "idempotent_replay")));
    }
    size_t payments = 0;
    for (int k = 0; k < 3; k++) payments += payment_count(fake_state(fake_node(cl, SVC_PAYMENT, k)));
    ck_assert_uint_eq(payments, 20);
    int64_t sold = 0;
    held_stock held = {0};
    for (int k = 0; k < 2; k++) {
        void *st = fake_state(fake_node(cl, SVC_INVENTORY, k));
        for (size_t i = 0; i < inventory_product_count(st); i++) {
            inventory_stock s;
            inventory_product_stock(st, i, &s);
            if (!s.owned) continue;
            ck_assert_int_eq(s.available + s.reserved, s.initial);
            sold += s.initial - s.available;
        }
        inventory_foreach_held(st, sum_held, &held);
    }
    ck_assert_int_eq(sold, want_sold);
    ck_assert_int_eq(held.held, want_sold);
    fake_cluster_free(cl);
}
END_TEST

/* Holds payment's /reserve calls so the test can deliver them itself and then lose the reply. */
static int hold_reserve(void *ctx, const fake_call *c) {
    int *armed = ctx;
    return *armed && c->peer == SVC_INVENTORY && !strcmp(c->path, "/reserve");
}

static int64_t owner_stock(fake_cluster *cl, const char *product, int64_t *held) {
    int owner = svc_owner_of_key(product, 2);
    void *st = fake_state(fake_node(cl, SVC_INVENTORY, owner));
    held_stock h = {0};
    inventory_foreach_held(st, sum_held, &h);
    *held = h.held;
    for (size_t i = 0; i < inventory_product_count(st); i++) {
        inventory_stock s;
        inventory_product_stock(st, i, &s);
        if (!strcmp(s.product_id, product)) return s.available;
    }
    return -1;
}

/* The reserve reaches inventory, its reply is lost: the payment fails with 504 and the release outbox gives
 * the stock back, so nothing stays reserved without a payment. */
START_TEST(test_cluster_lost_reserve_reply) {
    fake_cluster *cl = fake_cluster_new(full_cluster, NULL);
    int armed = 1;
    fake_cluster_set_hold(cl, hold_reserve, &armed);
    fake_rt *p0 = fake_node(cl, SVC_PAYMENT, 0);
    fake_reply *r = pay(p0, BODY, NULL);
    fake_call *c = EXPECT_CALL(p0, SVC_INVENTORY, "POST", "/reserve");
    fake_rt *owner = fake_node(cl, SVC_INVENTORY, svc_owner_of_key("1", 2));
    FAKE_EXPECT(fake_req(owner, "POST", "/reserve", c->body), 201); /* it arrived and took the stock */
    int64_t held = 0;
    ck_assert_int_eq(owner_stock(cl, "1", &held), 48);
    armed = 0;
    fake_advance(p0, 10000 * FAKE_MS);
    fake_fail(p0, c, SVC_CALL_TIMEOUT); /* ... but the answer never came back */
    FAKE_EXPECT_ERROR(r, 504, "inventory_timeout");
    /* The outbox's release was routed, acknowledged and journaled. */
    ck_assert_int_eq(owner_stock(cl, "1", &held), 50);
    ck_assert_int_eq(held, 0);
    ck_assert_int_eq(find(p0, fake_str(r, "payment_id"))->release, RELEASE_DONE);
    ck_assert_uint_eq(svc_shell_background(fake_shell(p0)), 0);
    fake_cluster_free(cl);
}
END_TEST

/* The same lost reply with retries on: with idempotency the retried reserve takes the stock once; with
 * IDEMPOTENCY=off (the demonstration switch) it takes it twice for one payment. */
START_TEST(test_cluster_retry_after_lost_reply) {
    int idempotency = _i == 0;
    const char *const settings[] = {"RETRY_ATTEMPTS=3", idempotency ? "IDEMPOTENCY=on" : "IDEMPOTENCY=off", NULL};
    fake_cluster *cl = fake_cluster_new(full_cluster, settings);
    int armed = 1;
    fake_cluster_set_hold(cl, hold_reserve, &armed);
    fake_rt *p1 = fake_node(cl, SVC_PAYMENT, 1);
    fake_reply *r = pay(p1, BODY, NULL);
    fake_call *c = EXPECT_CALL(p1, SVC_INVENTORY, "POST", "/reserve");
    fake_rt *owner = fake_node(cl, SVC_INVENTORY, svc_owner_of_key("1", 2));
    FAKE_EXPECT(fake_req(owner, "POST", "/reserve", c->body), 201);
    armed = 0;
    fake_fail(p1, c, SVC_CALL_TIMEOUT);
    ck_assert(!r->done);
    fake_advance(p1, fake_next_timer_in(p1)); /* the retry goes through */
    FAKE_EXPECT(r, 201);
    int64_t held = 0;
    int64_t avail = owner_stock(cl, "1", &held);
    if (idempotency) {
        ck_assert_int_eq(avail, 48);
        ck_assert_int_eq(held, 2);
    } else {
        ck_assert_int_eq(avail, 46); /* one payment of 2, 4 taken */
        ck_assert_int_eq(held, 4);
    }
    fake_cluster_free(cl);
}
END_TEST

/* ---- destroy with work in flight (leaks show under ASan) ---- */

START_TEST(test_destroy_with_work_pending) {
    fake_rt *rt = pay_svc((const char *const[]){"RETRY_ATTEMPTS=3", NULL});
    const char *done_id = fake_str(pay_ok(rt, "{\"amount\":5,\"product_id\":\"9\"}", NULL, "9"), "payment_id");
    fake_reply *t = pay(rt, BODY, NULL); /* its reserve is refused oddly: a release is owed */
    answer_check(rt, "1", 5);
    fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/reserve"), 422, "{}");
    FAKE_EXPECT(t, 503);
    fake_fail(rt, EXPECT_CALL(rt, SVC_INVENTORY, "POST", "/release"), SVC_CALL_TIMEOUT); /* outbox on its timer */
    pay(rt, BODY, "k-pending");                                                          /* waiting on /check */
    fake_req(rt, "POST", "/payment/chain", "{}");                                        /* waiting on step 1 */
    fake_reply *retrying = pay(rt, BODY, NULL); /* a /check retry waiting on its backoff */
    fake_call *c = fake_next_call(rt);
    while (c->next) c = c->next;
    fake_fail(rt, c, SVC_CALL_TIMEOUT);
    fake_journal_hold(rt, 1);
    refund(rt, done_id, NULL); /* waiting on the journal */
    ck_assert(!retrying->done);
    ck_assert_uint_ge(fake_timers_pending(rt), 2);
    ck_assert_uint_eq(fake_calls_pending(rt), 2);
    ck_assert_uint_eq(fake_journal_held(rt), 1);
    ck_assert_uint_eq(svc_shell_inflight(fake_shell(rt)), 4);
    fake_free(rt);

    /* And a cluster torn down mid-flight. */
    fake_cluster *cl = fake_cluster_new(full_cluster, NULL);
    fake_rt *p0 = fake_node(cl, SVC_PAYMENT, 0);
    fake_journal_hold(fake_node(cl, SVC_INVENTORY, 0), 1);
    fake_journal_hold(fake_node(cl, SVC_INVENTORY, 1), 1);
    pay(p0, BODY, NULL);
    fake_req(p0, "GET", "/payment/status/pay-1-0000000000000001", NULL);
    fake_cluster_free(cl);
}
END_TEST

/* ---- hostile clients ---- */

static fake_reply *refund_ex(fake_rt *rt, const char *body, const char *key, svc_auth client, svc_auth service) {
    fake_req_opts o = {.idempotency_key = key, .client = client, .service = service};
    return fake_req_ex(rt, "POST", "/payment/refund", body, &o);
}

START_TEST(test_refund_key_refunds_once) {
    fake_rt *rt = pay_svc(NULL);
    const char *id = fake_str(pay_ok(rt, BODY, NULL, "1"), "payment_id");
    char part[128], rest[128];
    snprintf(part, sizeof part, "{\"payment_id\":\"%s\",\"amount\":10}", id);
    snprintf(rest, sizeof rest, "{\"payment_id\":\"%s\"}", id);
    fake_reply *a = refund_ex(rt, part, "rf-1", SVC_AUTH_OFF, SVC_AUTH_OFF);
    FAKE_EXPECT(a, 200);
    snapshot before = snap(rt);
    for (int i = 0; i < 3; i++) { /* the same key and body: the same refund, nothing refunded again */
        fake_reply *b = refund_ex(rt, part, "rf-1", SVC_AUTH_OFF, SVC_AUTH_OFF);
        FAKE_EXPECT(b, 200);
        ck_assert_str_eq(fake_str(b, "refund_id"), fake_str(a, "refund_id"));
        ck_assert(json_is_true(json_object_get(b->json, "idempotent_replay")));
        assert_unchanged(&before, rt);
    }
    ck_assert_int_eq(find(rt, id)->refunded_minor, 1000);
    FAKE_EXPECT_ERROR(refund_ex(rt, rest, "rf-1", SVC_AUTH_OFF, SVC_AUTH_OFF), 422, "idempotency_key_reused");
    assert_unchanged(&before, rt);
    /* A full refund under its own key, retried after the payment is refunded: the same answer, not 409. */
    fake_reply *full = refund_ex(rt, rest, "rf-2", SVC_AUTH_OFF, SVC_AUTH_OFF);
    FAKE_EXPECT(full, 200);
    fake_run_pending(rt);
    FAKE_EXPECT(refund_ex(rt, rest, "rf-2", SVC_AUTH_OFF, SVC_AUTH_OFF), 200);
    ck_assert_int_eq(find(rt, id)->refunded_minor, 10000);
    /* Still after a restart: the keys come back from the journal. */
    fake_restart(rt);
    fake_reply *c = refund_ex(rt, part, "rf-1", SVC_AUTH_OFF, SVC_AUTH_OFF);
    FAKE_EXPECT(c, 200);
    ck_assert_str_eq(fake_str(c, "refund_id"), fake_str(a, "refund_id"));
    ck_assert_int_eq(find(rt, id)->refunded_minor, 10000);
    fake_free(rt);
}
END_TEST

START_TEST(test_refund_needs_api_key_when_configured) {
    fake_rt *rt = pay_svc(NULL);
    const char *id = fake_str(pay_ok(rt, BODY, NULL, "1"), "payment_id");
    char body[128];
    snprintf(body, sizeof body, "{\"payment_id\":\"%s\",\"amount\":1}", id);
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(refund_ex(rt, body, NULL, SVC_AUTH_MISSING, SVC_AUTH_OFF), 401, "unauthenticated");
    FAKE_EXPECT_ERROR(refund_ex(rt, body, NULL, SVC_AUTH_WRONG, SVC_AUTH_OFF), 403, "forbidden");
    assert_unchanged(&before, rt);
    FAKE_EXPECT(refund_ex(rt, body, NULL, SVC_AUTH_VALID, SVC_AUTH_OFF), 200);
    /* A replica forwarding a refund it checked carries the service credential instead. */
    FAKE_EXPECT(refund_ex(rt, body, NULL, SVC_AUTH_MISSING, SVC_AUTH_VALID), 200);
    ck_assert_int_eq(find(rt, id)->refunded_minor, 200);
    fake_free(rt);
}
END_TEST

/* A client text cut by %.64s inside a two-byte character, or invalid UTF-8: still a JSON 404, never 500. */
START_TEST(test_error_messages_encode_any_bytes) {
    fake_rt *rt = pay_svc(NULL);
    char path[160];
    snprintf(path, sizeof path, "/payment/status/%s\xc3\xa9",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    FAKE_EXPECT_ERROR(fake_req(rt, "GET", path, NULL), 404, "not_found");
    FAKE_EXPECT_ERROR(fake_req(rt, "GET", "/payment/status/\xff\xfe", NULL), 404, "not_found");
    FAKE_EXPECT_ERROR(fake_req(rt, "GET", "/payment/\xff", NULL), 404, "not_found");
    FAKE_EXPECT_ERROR(fake_req(rt, "DELETE", "/payment/status/\xed\xa0\x80", NULL), 405, "method_not_allowed");
    fake_free(rt);
}
END_TEST

/* Failing payments (a product inventory does not know) fill the capacities; valid payments are still served,
 * before and after a restart, and completed ones are never forgotten. */
START_TEST(test_capacity_flood_of_failures) {
    fake_rt *rt = pay_svc((const char *const[]){"PAYMENT_CAPACITY=16", "IDEMPOTENCY_CAPACITY=16", NULL});
    const char *kept = fake_str(pay_ok(rt, BODY, "good-0", "1"), "payment_id");
    char keep[SVC_ID_MAX + 1];
    snprintf(keep, sizeof keep, "%s", kept);
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof key, "bad-%d", i);
        fake_reply *r = pay(rt, BODY, key);
        fake_answer(rt, EXPECT_CALL(rt, SVC_INVENTORY, "GET", "/check/1"), 404, "{}");
        FAKE_EXPECT(r, 404);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++) {
            char key[32];
            snprintf(key, sizeof key, "good-%d-%d", round, i);
            pay_ok(rt, BODY, key, "1");
        }
        FAKE_EXPECT(status_of(rt, keep), 200);
        fake_restart(rt);
    }
    /* Completed payments fill it for good: then 503, and nothing is forgotten. */
    for (int i = 0; i < 7; i++) pay_ok(rt, BODY, NULL, "1"); /* 16 completed */
    FAKE_EXPECT_ERROR(pay(rt, BODY, NULL), 503, "capacity");
    FAKE_EXPECT(status_of(rt, keep), 200);
    fake_free(rt);
}
END_TEST

static Suite *payment_suite(void) {
    Suite *s = suite_create("payment");
    TCase *tc = tcase_create("process");
    tcase_add_test(tc, test_process_success);
    tcase_add_test(tc, test_process_defaults);
    tcase_add_loop_test(tc, test_process_rejected, 0, (int)(sizeof bad_process / sizeof bad_process[0]));
    tcase_add_test(tc, test_process_bad_key);
    tcase_add_test(tc, test_unknown_product);
    tcase_add_test(tc, test_out_of_stock);
    tcase_add_loop_test(tc, test_check_unreachable, 0, (int)(sizeof check_failures / sizeof check_failures[0]));
    tcase_add_test(tc, test_check_without_stock_count);
    tcase_add_test(tc, test_reserve_timeout_owes_release);
    tcase_add_test(tc, test_release_refused_for_good);
    tcase_add_test(tc, test_notification_failure_does_not_fail);
    suite_add_tcase(s, tc);
    tc = tcase_create("status_refund_validate_chain");
    tcase_add_test(tc, test_status_unknown);
    tcase_add_test(tc, test_status_while_pending);
    tcase_add_test(tc, test_refund_full_releases_stock);
    tcase_add_test(tc, test_refund_partial);
    tcase_add_test(tc, test_refund_rejected);
    tcase_add_test(tc, test_validate);
    tcase_add_test(tc, test_chain_success);
    tcase_add_test(tc, test_chain_partial_failure);
    suite_add_tcase(s, tc);
    tc = tcase_create("idempotency");
    tcase_add_test(tc, test_key_replays_first_result);
    tcase_add_test(tc, test_key_in_progress);
    tcase_add_test(tc, test_key_after_transient_failure);
    tcase_add_test(tc, test_key_forwarded_to_owner);
    tcase_add_test(tc, test_key_ttl_and_capacity);
    tcase_add_test(tc, test_idempotency_off_ignores_key);
    suite_add_tcase(s, tc);
    tc = tcase_create("journal_retries");
    tcase_add_test(tc, test_journal_failures);
    tcase_add_test(tc, test_replay_completed_survive);
    tcase_add_test(tc, test_replay_pending_becomes_interrupted);
    tcase_add_test(tc, test_replay_resends_owed_release);
    tcase_add_test(tc, test_replay_rejects_garbage);
    tcase_add_test(tc, test_retries_reuse_reservation_id);
    suite_add_tcase(s, tc);
    tc = tcase_create("cluster");
    tcase_add_test(tc, test_cluster_status_forwarded);
    tcase_add_test(tc, test_cluster_conserves_stock);
    tcase_add_test(tc, test_cluster_lost_reserve_reply);
    tcase_add_loop_test(tc, test_cluster_retry_after_lost_reply, 0, 2);
    tcase_add_test(tc, test_destroy_with_work_pending);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_add_test(tc, test_refund_key_refunds_once);
    tcase_add_test(tc, test_refund_needs_api_key_when_configured);
    tcase_add_test(tc, test_error_messages_encode_any_bytes);
    tcase_add_test(tc, test_capacity_flood_of_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    int failed = support_run_suite(payment_suite(), CK_NORMAL, 0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
