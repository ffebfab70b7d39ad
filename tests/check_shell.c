/*
 * check_shell.c: the machinery every service shares (services/core/shell.c), driven through a small test module
 * whose routes exercise one shell feature each: routing and body rules, built-in routes, metrics and logs,
 * forwarding to the owner, retried calls, gather, the journal, and destroy with work pending.
 */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "services/core/shell.h"
#include "tests/support/fake_runtime.h"
#include "tests/support/support.h"

/* ---- the test module ---- */

typedef struct tstate {
    svc_shell *shell;
    pc_link ops;
    int replayed;
    int started;
} tstate;

typedef struct top {
    pc_link link;
    tstate *st;
    svc_exchange *ex;
} top;

static top *top_new(tstate *st, svc_exchange *ex) {
    top *op = calloc(1, sizeof *op);
    ck_assert_ptr_nonnull(op);
    op->st = st;
    op->ex = ex;
    pc_list_push(&st->ops, &op->link);
    return op;
}

static void top_free(top *op) {
    pc_list_remove(&op->link);
    free(op);
}

static void r_echo_get(void *state, svc_exchange *ex) {
    (void)state;
    svc_ex_reply(ex, 200, json_pack("{s:s}", "method", "GET"));
}

static void r_echo_post(void *state, svc_exchange *ex) {
    (void)state;
    json_t *body = svc_ex_body(ex);
    svc_ex_reply(ex, 200, json_pack("{s:s, s:O}", "method", "POST", "body", body));
}

static void r_item(void *state, svc_exchange *ex) {
    (void)state;
    svc_ex_reply(ex, 200, json_pack("{s:s}", "param", svc_ex_param(ex)));
}

static void r_owner(void *state, svc_exchange *ex) {
    tstate *st = state;
    if (svc_ex_redirect_to_owner(ex, atoi(svc_ex_param(ex)))) return;
    svc_ex_reply(
        ex, 200,
        json_pack("{s:i, s:b}", "replica", svc_cfg(st->shell)->replica, "forwarded", svc_ex_request(ex)->forwarded));
}

static void call_done(void *arg, const svc_call_result *r) {
    top *op = arg;
    json_t *doc = json_pack("{s:s, s:i, s:I}", "outcome", svc_call_outcome_name(r->outcome), "status", r->status,
                            "elapsed_ms", (json_int_t)(r->elapsed_ns / FAKE_MS));
    if (r->body) json_object_set_new(doc, "body", json_stringn(r->body, r->body_len));
    svc_ex_reply(op->ex, 200, doc);
    top_free(op);
}

/* A retried POST whose strings live on this stack frame only: the shell must copy them. */
static void r_call(void *state, svc_exchange *ex) {
    tstate *st = state;
    top *op = top_new(st, ex);
    char path[32], body[32], key[32];
    snprintf(path, sizeof path, "/thing?x=1");
    snprintf(body, sizeof body, "{\"n\":7}");
    snprintf(key, sizeof key, "key-7");
    svc_call c = {.peer = SVC_INVENTORY,
                  .replica = -1,
                  .method = "POST",
                  .path = path,
                  .body = body,
                  .body_len = strlen(body),
                  .idempotency_key = key,
                  .timeout_ns = svc_cfg(st->shell)->downstream_timeout_ns};
    svc_call_retrying(st->shell, &c, call_done, op);
    memset(path, 'X', sizeof path - 1);
    memset(body, 'X', sizeof body - 1);
    memset(key, 'X', sizeof key - 1);
}

static void gathered(void *state, svc_exchange *ex, const svc_call_result *results, int count) {
    (void)state;
    json_t *arr = json_array();
    int complete = 1;
    for (int i = 0; i < count; i++) {
        json_t *item =
            json_pack("{s:s, s:i}", "outcome", svc_call_outcome_name(results[i].outcome), "status", results[i].status);
        if (results[i].body) json_object_set_new(item, "body", json_stringn(results[i].body, results[i].body_len));
        if (results[i].outcome != SVC_CALL_OK) complete = 0;
        json_array_append_new(arr, item);
    }
    svc_ex_reply(ex, 200, json_pack("{s:o, s:b}", "results", arr, "complete", complete));
}

static void r_gather(void *state, svc_exchange *ex) {
    (void)state;
    svc_ex_gather(ex, "/t/local?scope=local", gathered);
}

static void timer_fired(void *arg) {
    top *op = arg;
    svc_ex_reply(op->ex, 200, json_pack("{s:s}", "timer", "fired"));
    top_free(op);
}

static void r_timer(void *state, svc_exchange *ex) {
    tstate *st = state;
    svc_timer(st->shell, 1000 * FAKE_MS, timer_fired, top_new(st, ex));
}

static void persisted(void *arg, int error) {
    top *op = arg;
    if (error)
        svc_ex_error(op->ex, 503, "journal_unavailable", "error %d", error);
    else
        svc_ex_reply(op->ex, 201, json_pack("{s:s}", "journal", "ok"));
    top_free(op);
}

static void r_persist(void *state, svc_exchange *ex) {
    tstate *st = state;
    svc_persist(st->shell, json_deep_copy(svc_ex_body(ex)), persisted, top_new(st, ex));
}

static void r_state(void *state, svc_exchange *ex) {
    tstate *st = state;
    svc_log(st->shell, SVC_LOG_WARN, "state_asked", "replayed %d", st->replayed);
    svc_ex_reply(ex, 200, json_pack("{s:i, s:i}", "replayed", st->replayed, "started", st->started));
}

static const svc_route test_routes[] = {
    {"GET", "/t/echo", r_echo_get, 0},
    {"POST", "/t/echo", r_echo_post, SVC_ROUTE_JSON_BODY},
    {"GET", "/t/item/*", r_item, 0},
    {"GET", "/t/owner/*", r_owner, 0},
    {"POST", "/t/owner/*", r_owner, SVC_ROUTE_JSON_BODY},
    {"GET", "/t/call", r_call, 0},
    {"GET", "/t/gather", r_gather, 0},
    {"GET", "/t/local", r_owner, 0},
    {"GET", "/t/timer", r_timer, 0},
    {"POST", "/t/persist", r_persist, SVC_ROUTE_JSON_BODY},
    {"GET", "/t/state", r_state, 0},
};

static void *t_create(svc_shell *shell, const svc_config *cfg, char *err, size_t errlen) {
    (void)cfg;
    (void)err;
    (void)errlen;
    tstate *st = calloc(1, sizeof *st);
    st->shell = shell;
    pc_list_init(&st->ops);
    return st;
}

static void t_destroy(void *state) {
    tstate *st = state;
    while (!pc_list_empty(&st->ops)) top_free(PC_CONTAINER_OF(st->ops.next, top, link));
    free(st);
}

static int t_replay(void *state, json_t *rec, char *err, size_t errlen) {
    tstate *st = state;
    if (!json_object_get(rec, "t")) {
        snprintf(err, errlen, "test journal: no t");
        return -1;
    }
    st->replayed++;
    return 0;
}

static void t_start(void *state) { ((tstate *)state)->started++; }

static void t_describe(void *state, json_t *info) {
    (void)state;
    json_object_set_new(info, "test_module", json_true());
}

static const svc_module test_module = {
    .name = "test-service",
    .peer = SVC_PAYMENT,
    .default_port = 5999,
    .routes = test_routes,
    .route_count = sizeof test_routes / sizeof test_routes[0],
    .create = t_create,
    .destroy = t_destroy,
    .replay = t_replay,
    .start = t_start,
    .describe = t_describe,
};

static fake_rt *svc(const char *const *settings) { return fake_service(&test_module, settings); }

static void assert_error(fake_reply *r, int status, const char *code) {
    ck_assert_msg(r->done, "no answer");
    ck_assert_msg(r->status == status, "status %d, expected %d: %s", r->status, status, r->body);
    ck_assert_str_eq(r->content_type, "application/json");
    ck_assert_msg(r->json && fake_str(r, "error"), "error body expected: %s", r->body);
    ck_assert_str_eq(fake_str(r, "error"), code);
    ck_assert(fake_str(r, "message") && fake_str(r, "message")[0]);
}

/* ---- routing ---- */

START_TEST(test_unknown_route) {
    fake_rt *rt = svc(NULL);
    const char *paths[] = {"/nope", "/t/echo/extra", "/t/item/", "/t/item/a/b", "/T/ECHO", "", "/health/"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        fake_reply *r = fake_req(rt, "GET", paths[i], NULL);
        assert_error(r, 404, "not_found");
        ck_assert_str_eq(r->allow, "");
    }
    fake_reply *r = fake_req(rt, "GET", "/t/item/abc", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(fake_str(r, "param"), "abc");
    ck_assert_uint_eq(svc_shell_inflight(fake_shell(rt)), 0);
    fake_free(rt);
}
END_TEST

START_TEST(test_method_not_allowed) {
    fake_rt *rt = svc(NULL);
    fake_reply *r = fake_req(rt, "DELETE", "/t/echo", NULL);
    assert_error(r, 405, "method_not_allowed");
    ck_assert_str_eq(r->allow, "GET, POST");
    r = fake_req(rt, "POST", "/health", "{}");
    assert_error(r, 405, "method_not_allowed");
    ck_assert_str_eq(r->allow, "GET");
    r = fake_req(rt, "PUT", "/t/owner/1", "{}");
    ck_assert_int_eq(r->status, 405);
    ck_assert_str_eq(r->allow, "GET, POST");
    /* A matched route answers without Allow. */
    r = fake_req(rt, "GET", "/t/echo", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->allow, "");
    fake_free(rt);
}
END_TEST

START_TEST(test_body_too_large) {
    fake_rt *rt = svc(NULL);
    fake_req_opts big = {.body_too_large = 1};
    fake_reply *r = fake_req_ex(rt, "POST", "/t/echo", "{\"a\":", &big);
    assert_error(r, 413, "body_too_large");
    /* Checked before the media type. */
    fake_req_opts big_text = {.body_too_large = 1, .content_type = "text/plain"};
    r = fake_req_ex(rt, "POST", "/t/persist", "xxxx", &big_text);
    assert_error(r, 413, "body_too_large");
    ck_assert_uint_eq(fake_journal_count(rt), 0);
    fake_free(rt);
}
END_TEST

static const char *const bad_types[] = {NULL,
                                        "",
                                        "text/plain",
                                        "application/jsonp",
                                        "application/x-www-form-urlencoded",
                                        "json",
                                        "application/json-patch+json"};

START_TEST(test_unsupported_media_type) {
    fake_rt *rt = svc(NULL);
    fake_req_opts o = {.content_type = bad_types[_i], .no_content_type = bad_types[_i] == NULL};
    fake_reply *r = fake_req_ex(rt, "POST", "/t/persist", "{\"t\":\"x\"}", &o);
    assert_error(r, 415, "unsupported_media_type");
    ck_assert_uint_eq(fake_journal_count(rt), 0);
    fake_free(rt);
}
END_TEST

static const char *const good_types[] = {"application/json", "application/json; charset=utf-8",
                                         "application/json;charset=UTF-8", "Application/JSON", " application/json"};

START_TEST(test_json_media_types) {
    fake_rt *rt = svc(NULL);
    fake_req_opts o = {.content_type = good_types[_i]};
    fake_reply *r = fake_req_ex(rt, "POST", "/t/echo", "{\"a\":[1,2]}", &o);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(json_object_get(r->json, "body"), "a"), 1)), 2);
    fake_free(rt);
}
END_TEST

static const char *const bad_bodies[] = {"",
                                         "{",
                                         "{\"a\":1,}",
                                         "{\"a\":1,\"a\":2}",
                                         "[1]",
                                         "\"str\"",
                                         "42",
                                         "null",
                                         "{\"a\":1} {\"b\":2}",
                                         "{'a':1}",
                                         "{\"a\":\"\\ud800\"}"};

START_TEST(test_bad_json) {
    fake_rt *rt = svc(NULL);
    fake_reply *r = fake_req(rt, "POST", "/t/persist", bad_bodies[_i]);
    assert_error(r, 400, "invalid_json");
    ck_assert_uint_eq(fake_journal_count(rt), 0);
    fake_free(rt);
}
END_TEST

/* ---- built-in routes ---- */

/* Client bytes in a message are made valid UTF-8, whatever they are: every answer encodes. */
START_TEST(test_utf8_scrub) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"\xff\xfe", "??"},
        {"cut \xc3", "cut ?"},        /* a two-byte character cut by %.64s */
        {"cut \xe2\x82", "cut ??"},   /* a three-byte one */
        {"\xc0\xaf", "??"},           /* overlong '/' */
        {"\xed\xa0\x80", "???"},      /* a UTF-16 surrogate */
        {"\xf4\x90\x80\x80", "????"}, /* above U+10FFFF */
        {"\x80x\xbf", "?x?"},         /* stray continuation bytes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", cases[i].in);
        svc_utf8_scrub(buf);
        ck_assert_str_eq(buf, cases[i].out);
    }
    /* And through the shell: an unknown path of invalid bytes is a JSON 404, not a 500. */
    fake_rt *rt = svc(NULL);
    fake_reply *r = fake_req(rt, "GET", "/\xff\xc3", NULL);
    assert_error(r, 404, "not_found");
    ck_assert_ptr_nonnull(strstr(fake_str(r, "message"), "/??"));
    fake_free(rt);
}
END_TEST

START_TEST(test_forwarded_mark_needs_the_service_credential) {
    fake_rt *rt = svc(NULL);
    fake_req_opts o = {.forwarded = 1, .service = SVC_AUTH_MISSING};
    assert_error(fake_req_ex(rt, "GET", "/health", NULL, &o), 401, "unauthenticated");
    o.service = SVC_AUTH_WRONG;
    assert_error(fake_req_ex(rt, "GET", "/health", NULL, &o), 403, "forbidden");
    o.service = SVC_AUTH_VALID;
    ck_assert_int_eq(fake_req_ex(rt, "GET", "/health", NULL, &o)->status, 200);
    o.service = SVC_AUTH_OFF; /* nothing configured: the seed's trust, as before */
    ck_assert_int_eq(fake_req_ex(rt, "GET", "/health", NULL, &o)->status, 200);
    fake_free(rt);
}
END_TEST

START_TEST(test_root_lists_endpoints) {
    fake_rt *rt = svc((const char *const[]){"PAYMENT_REPLICAS=2", "REPLICA_INDEX=1", NULL});
    fake_reply *r = fake_req(rt, "GET", "/", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(fake_str(r, "service"), "test-service");
    ck_assert_int_eq(fake_int(r, "replica"), 1);
    ck_assert_int_eq(fake_int(r, "replicas"), 2);
    ck_assert(json_is_true(json_object_get(r->json, "test_module")));
    json_t *eps = json_object_get(r->json, "endpoints");
    ck_assert_uint_eq(json_array_size(eps), sizeof test_routes / sizeof test_routes[0] + 4);
    const char *want[] = {"GET /t/echo", "POST /t/echo", "GET /t/item/*", "GET /",
                          "GET /health", "GET /ready",   "GET /metrics"};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        int found = 0;
        for (size_t i = 0; i < json_array_size(eps); i++)
            found |= !strcmp(json_string_value(json_array_get(eps, i)), want[w]);
        ck_assert_msg(found, "GET / does not list %s", want[w]);
    }
    fake_free(rt);
}
END_TEST

START_TEST(test_health) {
    fake_rt *rt = svc(NULL);
    fake_advance(rt, 2500 * FAKE_MS);
    fake_reply *r = fake_req(rt, "GET", "/health", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(fake_str(r, "status"), "healthy");
    ck_assert_str_eq(fake_str(r, "service"), "test-service");
    ck_assert(fake_num(r, "uptime_s") == 2.5);
    ck_assert_int_eq(fake_int(r, "timestamp_ms"), FAKE_EPOCH_MS + 2500);
    ck_assert_str_eq(fake_str(r, "version"), "1.0.0");
    ck_assert_int_eq(fake_int(r, "replica"), 0);
    /* written without a JSON tree: the uptime to the microsecond, still valid JSON */
    fake_advance(rt, 1234567); /* +1.234567 ms */
    r = fake_req(rt, "GET", "/health", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_ptr_nonnull(strstr(r->body, "\"uptime_s\":2.501234,"));
    ck_assert(fake_num(r, "uptime_s") == 2.501234);
    fake_free(rt);
}
END_TEST

START_TEST(test_ready) {
    fake_rt *rt = fake_service_unstarted(&test_module, NULL);
    fake_reply *r = fake_req(rt, "GET", "/ready", NULL);
    assert_error(r, 503, "not_ready");
    ck_assert_ptr_nonnull(strstr(fake_str(r, "message"), "starting"));
    r = fake_req(rt, "GET", "/t/state", NULL);
    ck_assert_int_eq(fake_int(r, "started"), 0);
    fake_start(rt);
    r = fake_req(rt, "GET", "/ready", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(fake_str(r, "status"), "ready");
    svc_shell_start(fake_shell(rt)); /* a second start does nothing */
    r = fake_req(rt, "GET", "/t/state", NULL);
    ck_assert_int_eq(fake_int(r, "started"), 1);
    svc_shell_set_draining(fake_shell(rt), 1);
    r = fake_req(rt, "GET", "/ready", NULL);
    assert_error(r, 503, "not_ready");
    ck_assert_ptr_nonnull(strstr(fake_str(r, "message"), "shutting down"));
    /* Draining still serves requests. */
    r = fake_req(rt, "GET", "/t/echo", NULL);
    ck_assert_int_eq(r->status, 200);
    svc_shell_set_draining(fake_shell(rt), 0);
    ck_assert_int_eq(fake_req(rt, "GET", "/ready", NULL)->status, 200);
    fake_free(rt);
}
END_TEST

static double metric(const char *text, const char *prefix) {
    for (const char *p = text; (p = strstr(p, prefix)); p++)
        if (p == text || p[-1] == '\n') return strtod(p + strlen(prefix), NULL);
    return -1;
}

START_TEST(test_metrics_by_route_and_code) {
    fake_rt *rt = svc(NULL);
    for (int i = 0; i < 3; i++) fake_req(rt, "GET", "/health", NULL);
    fake_req(rt, "GET", "/t/echo", NULL);
    fake_req(rt, "POST", "/t/echo", "{");
    fake_req(rt, "POST", "/t/echo", "{}");
    fake_req(rt, "GET", "/missing", NULL);
    fake_req(rt, "PATCH", "/t/echo", NULL);
    fake_reply *call = fake_req(rt, "GET", "/t/call", NULL);
    fake_answer(rt, fake_next_call(rt), 503, "{}");
    ck_assert(call->done);
    fake_reply *r = fake_req(rt, "GET", "/metrics", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->content_type, "text/plain; version=0.0.4");
    ck_assert_ptr_null(r->json);
    const char *t = r->body;
    ck_assert(metric(t, "http_requests_total{service=\"test-service\",route=\"GET /health\",code=\"200\"} ") == 3);
    ck_assert(metric(t, "http_requests_total{service=\"test-service\",route=\"GET /t/echo\",code=\"200\"} ") == 1);
    ck_assert(metric(t, "http_requests_total{service=\"test-service\",route=\"POST /t/echo\",code=\"400\"} ") == 1);
    ck_assert(metric(t, "http_requests_total{service=\"test-service\",route=\"POST /t/echo\",code=\"200\"} ") == 1);
    ck_assert(metric(t, "http_requests_total{service=\"test-service\",route=\"unmatched\",code=\"404\"} ") == 1);
    ck_assert(metric(t, "http_requests_total{service=\"test-service\",route=\"unmatched\",code=\"405\"} ") == 1);
    ck_assert(metric(t, "http_request_duration_seconds_count{service=\"test-service\",route=\"GET /health\"} ") == 3);
    ck_assert(metric(t, "downstream_calls_total{service=\"test-service\",target=\"inventory\",result=\"http_5xx\"} ") ==
              1);
    /* The metrics request itself is counted once it is answered. */
    r = fake_req(rt, "GET", "/metrics", NULL);
    ck_assert(metric(r->body, "http_requests_total{service=\"test-service\",route=\"GET /metrics\",code=\"200\"} ") ==
              1);
    fake_free(rt);
}
END_TEST

START_TEST(test_one_log_line_per_request) {
    fake_rt *rt = svc(NULL);
    fake_req(rt, "GET", "/health", NULL);
    fake_req(rt, "GET", "/nope", NULL);
    fake_req(rt, "POST", "/t/echo", "[]");
    fake_reply *pending = fake_req(rt, "GET", "/t/timer", NULL);
    ck_assert(!pending->done);
    ck_assert_uint_eq(fake_log_count_event(rt, "request"), 3); /* not logged before it is answered */
    fake_advance(rt, 1000 * FAKE_MS);
    ck_assert(pending->done);
    ck_assert_uint_eq(fake_log_count_event(rt, "request"), 4);
    const int statuses[] = {200, 404, 400, 200};
    const char *paths[] = {"/health", "/nope", "/t/echo", "/t/timer"};
    size_t k = 0;
    for (size_t i = 0; i < fake_log_count(rt); i++) {
        json_t *line = json_loads(fake_log_at(rt, i), 0, NULL);
        ck_assert_ptr_nonnull(line);
        if (!strcmp(json_string_value(json_object_get(line, "event")), "request")) {
            ck_assert_int_eq(json_integer_value(json_object_get(line, "status")), statuses[k]);
            ck_assert_str_eq(json_string_value(json_object_get(line, "path")), paths[k]);
            ck_assert_str_eq(json_string_value(json_object_get(line, "service")), "test-service");
            ck_assert(json_is_number(json_object_get(line, "latency_ms")));
            if (k == 3) ck_assert(json_number_value(json_object_get(line, "latency_ms")) == 1000.0);
            k++;
        }
        json_decref(line);
    }
    fake_free(rt);

    /* LOG_LEVEL=warn: no request lines, warnings still written; error: nothing. */
    rt = svc((const char *const[]){"LOG_LEVEL=warn", NULL});
    fake_req(rt, "GET", "/t/state", NULL);
    ck_assert_uint_eq(fake_log_count_event(rt, "request"), 0);
    ck_assert_uint_eq(fake_log_count_event(rt, "state_asked"), 1);
    fake_free(rt);
    rt = svc((const char *const[]){"LOG_LEVEL=error", NULL});
    fake_req(rt, "GET", "/t/state", NULL);
    ck_assert_uint_eq(fake_log_count(rt), 0);
    fake_free(rt);
}
END_TEST

/* ---- forwarding ---- */

START_TEST(test_forward_to_owner) {
    fake_rt *rt = svc((const char *const[]){"PAYMENT_REPLICAS=3", "FORWARD_TIMEOUT_MS=700", NULL});
    fake_reply *r = fake_req(rt, "GET", "/t/owner/0", NULL); /* mine */
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(fake_int(r, "replica"), 0);
    ck_assert_uint_eq(fake_calls_total(rt), 0);

    r = fake_req(rt, "GET", "/t/owner/2?x=1&y=2", NULL);
    ck_assert(!r->done);
    fake_call *c = fake_next_call(rt);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->peer, SVC_PAYMENT);
    ck_assert_int_eq(c->replica, 2);
    ck_assert_str_eq(c->method, "GET");
    ck_assert_str_eq(c->path, "/t/owner/2?x=1&y=2");
    ck_assert_int_eq(c->forwarded, 1);
    ck_assert_int_eq(c->timeout_ns, 700 * FAKE_MS);
    ck_assert_ptr_null(c->body);
    fake_answer(rt, c, 299, "{\"replica\":2}");
    ck_assert(r->done);
    ck_assert_int_eq(r->status, 299); /* the owner's status, relayed */
    ck_assert_str_eq(r->body, "{\"replica\":2}");
    ck_assert_str_eq(r->content_type, "application/json");

    /* A POST keeps its body and Idempotency-Key. */
    fake_req_opts o = {.idempotency_key = "key-1"};
    r = fake_req_ex(rt, "POST", "/t/owner/1", "{\"v\":1}", &o);
    c = fake_next_call(rt);
    ck_assert_str_eq(c->method, "POST");
    ck_assert_str_eq(c->body, "{\"v\":1}");
    ck_assert_str_eq(c->key, "key-1");
    ck_assert_int_eq(c->replica, 1);
    fake_answer(rt, c, 201, "{}");
    ck_assert_int_eq(r->status, 201);
    fake_free(rt);
}
END_TEST

static const struct {
    svc_call_outcome outcome;
    int status;
} forward_failures[] = {
    {SVC_CALL_TIMEOUT, 504}, {SVC_CALL_REFUSED, 503}, {SVC_CALL_RESET, 503}, {SVC_CALL_FAILED, 503}};

START_TEST(test_forward_failure) {
    fake_rt *rt = svc((const char *const[]){"PAYMENT_REPLICAS=3", NULL});
    fake_reply *r = fake_req(rt, "GET", "/t/owner/1", NULL);
    fake_fail(rt, fake_next_call(rt), forward_failures[_i].outcome);
    assert_error(r, forward_failures[_i].status, "owner_unavailable");
    ck_assert_int_eq(svc_status_for_outcome(forward_failures[_i].outcome), forward_failures[_i].status);
    ck_assert_uint_eq(fake_calls_total(rt), 1); /* a forward is not retried by the shell */
    fake_free(rt);
}
END_TEST

START_TEST(test_misdirected) {
    fake_rt *rt = svc((const char *const[]){"PAYMENT_REPLICAS=3", "REPLICA_INDEX=1", NULL});
    fake_req_opts fwd = {.forwarded = 1};
    fake_reply *r = fake_req_ex(rt, "GET", "/t/owner/2", NULL, &fwd);
    assert_error(r, 421, "misdirected");
    ck_assert_uint_eq(fake_calls_total(rt), 0);
    r = fake_req_ex(rt, "GET", "/t/owner/1", NULL, &fwd); /* forwarded to the right owner */
    ck_assert_int_eq(r->status, 200);
    ck_assert(json_is_true(json_object_get(r->json, "forwarded")));
    fake_free(rt);
}
END_TEST

START_TEST(test_replica_out_of_range) {
    char err[256] = "";
    ck_assert_int_eq(fake_service_error(&test_module,
                                        (const char *const[]){"PAYMENT_REPLICAS=3", "REPLICA_INDEX=3", NULL}, err,
                                        sizeof err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "replica index 3"));
    ck_assert_int_eq(
        fake_service_error(&test_module, (const char *const[]){"RETRY_ATTEMPTS=zero", NULL}, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "RETRY_ATTEMPTS"));
    ck_assert_int_eq(fake_service_error(&test_module,
                                        (const char *const[]){"PAYMENT_REPLICAS=3", "REPLICA_INDEX=2", NULL}, err,
                                        sizeof err),
                     0);
}
END_TEST

/* ---- retries ---- */

static const char *const retry3[] = {"RETRY_ATTEMPTS=3",           "RETRY_BACKOFF_MS=100",
                                     "RETRY_BACKOFF_MAX_MS=1000",  "RETRY_DEADLINE_MS=5000",
                                     "DOWNSTREAM_TIMEOUT_MS=1000", NULL};

static void assert_thing_call(fake_call *c) {
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->peer, SVC_INVENTORY);
    ck_assert_int_eq(c->replica, -1);
    ck_assert_str_eq(c->method, "POST");
    ck_assert_str_eq(c->path, "/thing?x=1");
    ck_assert_str_eq(c->body, "{\"n\":7}");
    ck_assert_str_eq(c->key, "key-7");
}

START_TEST(test_retry_timeout_then_success) {
    fake_rt *rt = svc(retry3);
    fake_reply *r = fake_req(rt, "GET", "/t/call", NULL);
    fake_call *c = fake_next_call(rt);
    assert_thing_call(c);
    ck_assert_int_eq(c->timeout_ns, 1000 * FAKE_MS);
    fake_advance(rt, 1000 * FAKE_MS);
    fake_fail(rt, c, SVC_CALL_TIMEOUT);
    ck_assert(!r->done);
    ck_assert_uint_eq(fake_calls_pending(rt), 0);
    ck_assert_uint_eq(fake_timers_pending(rt), 1);
    int64_t wait = fake_next_timer_in(rt);
    ck_assert(wait >= 0 && wait <= 100 * FAKE_MS);
    fake_advance(rt, wait);
    c = fake_next_call(rt);
    assert_thing_call(c); /* the copies survived the caller's stack frame */
    fake_answer(rt, c, 200, "{\"ok\":true}");
    ck_assert(r->done);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(fake_str(r, "outcome"), "ok");
    ck_assert_int_eq(fake_int(r, "status"), 200);
    ck_assert_str_eq(fake_str(r, "body"), "{\"ok\":true}");
    ck_assert_uint_eq(fake_calls_total(rt), 2);
    ck_assert_uint_eq(fake_timers_pending(rt), 0);
    /* Metrics see both attempts. */
    fake_reply *m = fake_req(rt, "GET", "/metrics", NULL);
    ck_assert(metric(m->body,
                     "downstream_calls_total{service=\"test-service\",target=\"inventory\",result=\"timeout\"} ") == 1);
    ck_assert(metric(m->body, "downstream_calls_total{service=\"test-service\",target=\"inventory\",result=\"ok\"} ") ==
              1);
    fake_free(rt);
}
END_TEST

START_TEST(test_retry_gives_up_after_attempts) {
    fake_rt *rt = svc(retry3);
    fake_reply *r = fake_req(rt, "GET", "/t/call", NULL);
    for (int attempt = 1; attempt <= 3; attempt++) {
        fake_call *c = fake_next_call(rt);
        ck_assert_msg(c != NULL, "attempt %d was not made", attempt);
        fake_answer(rt, c, 503, "{\"error\":\"busy\"}");
        if (attempt < 3) {
            ck_assert(!r->done);
            fake_advance(rt, fake_next_timer_in(rt));
        }
    }
    ck_assert(r->done);
    ck_assert_int_eq(fake_int(r, "status"), 503); /* the last attempt's result */
    ck_assert_uint_eq(fake_calls_total(rt), 3);
    ck_assert_uint_eq(fake_timers_pending(rt), 0);
    ck_assert_uint_eq(fake_calls_pending(rt), 0);
    fake_free(rt);
}
END_TEST

/* Backoff with full jitter: wait = random % (ceiling + 1), ceiling = min(max, base * 2^(n-1)). */
START_TEST(test_retry_backoff_bounds) {
    fake_rt *rt = svc((const char *const[]){"RETRY_ATTEMPTS=5", "RETRY_BACKOFF_MS=100", "RETRY_BACKOFF_MAX_MS=300",
                                            "RETRY_DEADLINE_MS=60000", NULL});
    const int64_t ceilings[] = {100 * FAKE_MS, 200 * FAKE_MS, 300 * FAKE_MS, 300 * FAKE_MS};
    fake_reply *r = fake_req(rt, "GET", "/t/call", NULL);
    for (int k = 0; k < 4; k++) {
        fake_random_push(rt, (uint64_t)ceilings[k]); /* the largest wait the jitter allows */
        fake_fail(rt, fake_next_call(rt), SVC_CALL_RESET);
        ck_assert_int_eq(fake_next_timer_in(rt), ceilings[k]);
        fake_advance(rt, ceilings[k] - 1);
        ck_assert_uint_eq(fake_calls_pending(rt), 0); /* not before the wait is over */
        fake_advance(rt, 1);
        ck_assert_uint_eq(fake_calls_pending(rt), 1);
    }
    fake_fail(rt, fake_next_call(rt), SVC_CALL_RESET);
    ck_assert(r->done);
    ck_assert_str_eq(fake_str(r, "outcome"), "reset");
    ck_assert_uint_eq(fake_calls_total(rt), 5);
    fake_free(rt);

    /* Unforced: 100 requests, every first wait within [0, 100 ms], and not all the same. */
    rt = svc((const char *const[]){"RETRY_ATTEMPTS=2", "RETRY_BACKOFF_MS=100", NULL});
    int64_t lo = INT64_MAX, hi = -1;
    for (int i = 0; i < 100; i++) {
        r = fake_req(rt, "GET", "/t/call", NULL);
        fake_fail(rt, fake_next_call(rt), SVC_CALL_TIMEOUT);
        int64_t w = fake_next_timer_in(rt);
        ck_assert(w >= 0 && w <= 100 * FAKE_MS);
        if (w < lo) lo = w;
        if (w > hi) hi = w;
        fake_advance(rt, w);
        fake_answer(rt, fake_next_call(rt), 200, "{}");
        ck_assert(r->done);
    }
    ck_assert_msg(hi - lo > 50 * FAKE_MS, "jitter spread only %lld ns", (long long)(hi - lo));
    fake_free(rt);
}
END_TEST

START_TEST(test_retry_deadline) {
    fake_rt *rt = svc((const char *const[]){"RETRY_ATTEMPTS=10", "RETRY_BACKOFF_MS=100", "RETRY_DEADLINE_MS=1500",
                                            "DOWNSTREAM_TIMEOUT_MS=1000", NULL});
    fake_reply *r = fake_req(rt, "GET", "/t/call", NULL);
    fake_call *c = fake_next_call(rt);
    ck_assert_int_eq(c->timeout_ns, 1000 * FAKE_MS);
    fake_advance(rt, 1000 * FAKE_MS);
    fake_random_push(rt, 40 * FAKE_MS);
    fake_fail(rt, c, SVC_CALL_TIMEOUT);
    ck_assert_int_eq(fake_next_timer_in(rt), 40 * FAKE_MS);
    fake_advance(rt, 40 * FAKE_MS);
    c = fake_next_call(rt);
    /* Only what is left of the 1.5 s budget. */
    ck_assert_int_eq(c->timeout_ns, 460 * FAKE_MS);
    fake_advance(rt, 460 * FAKE_MS);
    fake_fail(rt, c, SVC_CALL_TIMEOUT);
    /* The budget is spent: no third attempt although 10 are allowed. */
    ck_assert(r->done);
    ck_assert_str_eq(fake_str(r, "outcome"), "timeout");
    ck_assert_uint_eq(fake_calls_total(rt), 2);
    ck_assert_uint_eq(fake_timers_pending(rt), 0);

    /* A wait that would end past the deadline is not started either. */
    r = fake_req(rt, "GET", "/t/call", NULL);
    fake_advance(rt, 1450 * FAKE_MS);
    fake_random_push(rt, 60 * FAKE_MS);
    fake_fail(rt, fake_next_call(rt), SVC_CALL_REFUSED);
    ck_assert(r->done);
    ck_assert_str_eq(fake_str(r, "outcome"), "refused");
    ck_assert_uint_eq(fake_calls_total(rt), 3);
    fake_free(rt);
}
END_TEST

static const int no_retry_status[] = {400, 404, 409, 422, 500, 200, 201};

START_TEST(test_no_retry_on_final_answers) {
    fake_rt *rt = svc(retry3);
    fake_reply *r = fake_req(rt, "GET", "/t/call", NULL);
    fake_answer(rt, fake_next_call(rt), no_retry_status[_i], "{}");
    ck_assert(r->done);
    ck_assert_int_eq(fake_int(r, "status"), no_retry_status[_i]);
    ck_assert_uint_eq(fake_calls_total(rt), 1);
    ck_assert_uint_eq(fake_timers_pending(rt), 0);
    /* A local failure (no memory, bad URL) is not retried either. */
    r = fake_req(rt, "GET", "/t/call", NULL);
    fake_fail(rt, fake_next_call(rt), SVC_CALL_FAILED);
    ck_assert(r->done);
    ck_assert_str_eq(fake_str(r, "outcome"), "failed");
    ck_assert_uint_eq(fake_calls_total(rt), 2);
    fake_free(rt);
}
END_TEST

START_TEST(test_no_retry_with_one_attempt) {
    fake_rt *rt = svc((const char *const[]){"RETRY_ATTEMPTS=1", NULL});
    fake_reply *r = fake_req(rt, "GET", "/t/call", NULL);
    fake_call *c = fake_next_call(rt);
    ck_assert_int_eq(c->timeout_ns, 10000 * FAKE_MS); /* the default timeout, not cut by a deadline */
    fake_advance(rt, 3 * FAKE_MS);
    fake_fail(rt, c, SVC_CALL_TIMEOUT);
    ck_assert(r->done);
    ck_assert_str_eq(fake_str(r, "outcome"), "timeout");
    ck_assert_int_eq(fake_int(r, "elapsed_ms"), 3);
    ck_assert_uint_eq(fake_calls_total(rt), 1);
    ck_assert_uint_eq(fake_timers_pending(rt), 0);
    fake_free(rt);
}
END_TEST

/* ---- gather ---- */

START_TEST(test_gather) {
    fake_rt *rt = svc((const char *const[]){"PAYMENT_REPLICAS=3", "REPLICA_INDEX=1", NULL});
    fake_reply *r = fake_req(rt, "GET", "/t/gather", NULL);
    ck_assert(!r->done);
    ck_assert_uint_eq(fake_calls_pending(rt), 2);
    fake_call *c0 = fake_next_call(rt);
    fake_call *c2 = c0->next;
    ck_assert_int_eq(c0->replica, 0);
    ck_assert_int_eq(c2->replica, 2);
    for (fake_call *c = c0; c; c = c->next) {
        ck_assert_str_eq(c->method, "GET");
        ck_assert_str_eq(c->path, "/t/local?scope=local");
        ck_assert_int_eq(c->forwarded, 1);
        ck_assert_int_eq(c->peer, SVC_PAYMENT);
    }
    fake_answer(rt, c2, 200, "{\"replica\":2}"); /* out of order */
    ck_assert(!r->done);
    fake_answer(rt, c0, 200, "{\"replica\":0}");
    ck_assert(r->done);
    json_t *res = json_object_get(r->json, "results");
    ck_assert_uint_eq(json_array_size(res), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 0), "body")), "{\"replica\":0}");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(res, 1), "status")), 0); /* self */
    ck_assert_ptr_null(json_object_get(json_array_get(res, 1), "body"));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 2), "body")), "{\"replica\":2}");
    ck_assert(json_is_true(json_object_get(r->json, "complete")));

    /* A replica down: the gather still completes, marked incomplete. */
    r = fake_req(rt, "GET", "/t/gather", NULL);
    fake_answer(rt, fake_next_call(rt), 200, "{}");
    fake_fail(rt, fake_next_call(rt), SVC_CALL_REFUSED);
    ck_assert(r->done);
    ck_assert(json_is_false(json_object_get(r->json, "complete")));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(r->json, "results"), 2), "outcome")),
        "refused");
    fake_free(rt);

    /* Alone: completes without calls, and not inside the handler. */
    rt = svc(NULL);
    r = fake_req(rt, "GET", "/t/gather", NULL);
    ck_assert(r->done);
    ck_assert_uint_eq(fake_calls_total(rt), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(r->json, "results")), 1);
    ck_assert(fake_trace_find(rt, "timer payment-0 0", 0) >= 0);
    fake_free(rt);
}
END_TEST

/* ---- journal ---- */

START_TEST(test_persist_and_replay) {
    fake_rt *rt = svc(NULL);
    fake_journal_hold(rt, 1);
    fake_reply *r = fake_req(rt, "POST", "/t/persist", "{\"t\":\"a\",\"n\":1}");
    ck_assert(!r->done); /* answered only once durable */
    ck_assert_uint_eq(fake_journal_count(rt), 1);
    ck_assert_str_eq(fake_journal_at(rt, 0), "{\"t\":\"a\",\"n\":1}");
    fake_journal_hold(rt, 0);
    ck_assert(r->done);
    ck_assert_int_eq(r->status, 201);
    fake_journal_fail_next(rt, 5);
    r = fake_req(rt, "POST", "/t/persist", "{\"t\":\"b\"}");
    assert_error(r, 503, "journal_unavailable");
    ck_assert_uint_eq(fake_journal_count(rt), 1);
    ck_assert_int_eq(fake_req(rt, "POST", "/t/persist", "{\"t\":\"c\"}")->status, 201);
    fake_restart(rt);
    r = fake_req(rt, "GET", "/t/state", NULL);
    ck_assert_int_eq(fake_int(r, "replayed"), 2);
    ck_assert_int_eq(fake_int(r, "started"), 1);
    /* Records that are not JSON objects, or that the module does not understand, are refused. */
    char err[128] = "";
    fake_rt *fresh = fake_service_unstarted(&test_module, NULL);
    ck_assert_int_eq(svc_shell_replay(fake_shell(fresh), "{\"t\":", 5, err, sizeof err), -1);
    ck_assert(err[0]);
    ck_assert_int_eq(svc_shell_replay(fake_shell(fresh), "[1]", 3, err, sizeof err), -1);
    ck_assert_int_eq(svc_shell_replay(fake_shell(fresh), "{\"x\":1}", 7, err, sizeof err), -1);
    ck_assert_str_eq(err, "test journal: no t");
    ck_assert_int_eq(svc_shell_replay(fake_shell(fresh), "{\"t\":1}", 7, err, sizeof err), 0);
    fake_free(fresh);
    fake_free(rt);
}
END_TEST

/* ---- destroy with work pending (leaks show under ASan) ---- */

START_TEST(test_destroy_with_work_pending) {
    fake_rt *rt = svc((const char *const[]){"PAYMENT_REPLICAS=3", "RETRY_ATTEMPTS=3", NULL});
    fake_reply *a = fake_req(rt, "GET", "/t/call", NULL); /* a call in flight */
    fake_reply *b = fake_req(rt, "GET", "/t/call", NULL); /* a retry waiting on its backoff */
    fake_call *second = fake_next_call(rt)->next;
    fake_fail(rt, second, SVC_CALL_TIMEOUT);
    fake_reply *g = fake_req(rt, "GET", "/t/gather", NULL); /* a gather half answered */
    fake_call *gc = fake_next_call(rt)->next;
    fake_answer(rt, gc, 200, "{}");
    fake_reply *t = fake_req(rt, "GET", "/t/timer", NULL);                   /* a module timer */
    fake_reply *f = fake_req(rt, "POST", "/t/owner/2", "{\"big\":[1,2,3]}"); /* a forward */
    fake_journal_hold(rt, 1);
    fake_reply *p = fake_req(rt, "POST", "/t/persist", "{\"t\":\"x\"}"); /* a journal write */
    ck_assert(!a->done && !b->done && !g->done && !t->done && !f->done && !p->done);
    ck_assert_uint_eq(svc_shell_inflight(fake_shell(rt)), 6);
    ck_assert_uint_eq(fake_calls_pending(rt), 3);
    ck_assert_uint_eq(fake_timers_pending(rt), 2);
    fake_free(rt);
}
END_TEST

static Suite *shell_suite(void) {
    Suite *s = suite_create("shell");
    TCase *tc = tcase_create("routing");
    tcase_add_test(tc, test_unknown_route);
    tcase_add_test(tc, test_method_not_allowed);
    tcase_add_test(tc, test_body_too_large);
    tcase_add_loop_test(tc, test_unsupported_media_type, 0, (int)(sizeof bad_types / sizeof bad_types[0]));
    tcase_add_loop_test(tc, test_json_media_types, 0, (int)(sizeof good_types / sizeof good_types[0]));
    tcase_add_loop_test(tc, test_bad_json, 0, (int)(sizeof bad_bodies / sizeof bad_bodies[0]));
    tcase_add_test(tc, test_utf8_scrub);
    tcase_add_test(tc, test_forwarded_mark_needs_the_service_credential);
    suite_add_tcase(s, tc);
    tc = tcase_create("builtins");
    tcase_add_test(tc, test_root_lists_endpoints);
    tcase_add_test(tc, test_health);
    tcase_add_test(tc, test_ready);
    tcase_add_test(tc, test_metrics_by_route_and_code);
    tcase_add_test(tc, test_one_log_line_per_request);
    suite_add_tcase(s, tc);
    tc = tcase_create("forwarding");
    tcase_add_test(tc, test_forward_to_owner);
    tcase_add_loop_test(tc, test_forward_failure, 0, (int)(sizeof forward_failures / sizeof forward_failures[0]));
    tcase_add_test(tc, test_misdirected);
    tcase_add_test(tc, test_replica_out_of_range);
    suite_add_tcase(s, tc);
    tc = tcase_create("retries");
    tcase_add_test(tc, test_retry_timeout_then_success);
    tcase_add_test(tc, test_retry_gives_up_after_attempts);
    tcase_add_test(tc, test_retry_backoff_bounds);
    tcase_add_test(tc, test_retry_deadline);
    tcase_add_loop_test(tc, test_no_retry_on_final_answers, 0,
                        (int)(sizeof no_retry_status / sizeof no_retry_status[0]));
    tcase_add_test(tc, test_no_retry_with_one_attempt);
    suite_add_tcase(s, tc);
    tc = tcase_create("gather_journal_destroy");
    tcase_add_test(tc, test_gather);
    tcase_add_test(tc, test_persist_and_replay);
    tcase_add_test(tc, test_destroy_with_work_pending);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    int failed = support_run_suite(shell_suite(), CK_NORMAL, 0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
