/*
 * check_e2e.c: the three services as processes, over HTTP (bin/payment-service, bin/inventory-service,
 * bin/notification-service under the HTTP runtime in services/http/).
 *
 * Two modes:
 *   managed (default)  main() starts the three binaries from PC_BIN_DIR (default ./bin) on free loopback
 *                      ports (PORT=0; the port is read from the {"event":"listening"} log line), wired so
 *                      payment reaches the others, runs every test, then stops them with SIGTERM and checks
 *                      they exit 0 (under ASan that includes "no leaks"). Tests that restart or signal a
 *                      service start their own processes in their own temporary directory.
 *   external           when PC_E2E_PAYMENT_URL, PC_E2E_INVENTORY_URL and PC_E2E_NOTIFICATION_URL are set, the
 *                      API tests run against those services; the restart, journal and signal tests are
 *                      not run (they need to own the processes; the banner says so and the count excludes them).
 *
 * Process hygiene: every service is started by tests/support/proc.h, so it dies with the process that
 * started it (main for the shared services, the forked test for per-test services) even when a test fails
 * or Check kills it on timeout; main also stops the shared services explicitly, and every wait is bounded.
 * Tests never assume absolute stock counts for the shared services: they compare before and after.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "services/http/journal.h"
#include "tests/support/httpc.h"
#include "tests/support/proc.h"
#include "tests/support/support.h"

#define START_TIMEOUT_MS 20000 /* sanitizer builds start slowly */
#define STOP_TIMEOUT_MS 15000
#define DIR_LEN 256 /* directories: files inside them fit in PATH_LEN */
#define PATH_LEN 512

/* ---- globals set in main() before the runner forks ---- */

static char bin_dir[DIR_LEN];
static char work_dir[DIR_LEN]; /* temporary directory of this run */
static char pay_url[128], inv_url[128], ntf_url[128];
static int external_mode;
static char nonce[32]; /* makes idempotency keys unique per run (external services live across runs) */

/* ---- small utilities ---- */

/* Waits (bounded: log lines reach the file within milliseconds, through the services' log writer). */
static int file_contains(const char *path, const char *needle) {
    int64_t deadline = support_now_ms() + 3000;
    for (;;) {
        char *text = support_read_file(path, NULL);
        int found = text && strstr(text, needle);
        free(text);
        if (found || support_now_ms() > deadline) return found;
        support_sleep_ms(10);
    }
}

/* ---- HTTP client (tests/support/httpc.h) ---- */

/* One exchange. body == NULL: no body. hdrs: NULL-terminated extra header lines. chunked: send the body with
 * Transfer-Encoding: chunked instead of Content-Length. */
static support_resp http_ex(const char *method, const char *url, const char *body, size_t body_len,
                            const char *const *hdrs, int chunked) {
    return support_http(&(support_req){
        .method = method, .url = url, .body = body, .body_len = body_len, .headers = hdrs, .chunked = chunked});
}

/* JSON request: returns the parsed answer (or NULL) and the status. */
static json_t *jreq(const char *method, const char *base, const char *path, const char *body, long *status,
                    const char *const *extra_hdrs) {
    char url[PATH_LEN];
    snprintf(url, sizeof url, "%s%s", base, path);
    const char *hdrs[8] = {0};
    int h = 0;
    if (body) hdrs[h++] = "Content-Type: application/json";
    for (int i = 0; extra_hdrs && extra_hdrs[i] && h < 7; i++) hdrs[h++] = extra_hdrs[i];
    support_resp r = http_ex(method, url, body, body ? strlen(body) : 0, hdrs, 0);
    ck_assert_msg(r.rc == CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(r.rc));
    *status = r.status;
    json_t *doc = json_loadb(r.body, r.len, 0, NULL);
    support_resp_free(&r);
    return doc;
}

static json_t *jget(const char *base, const char *path, long *status) {
    return jreq("GET", base, path, NULL, status, NULL);
}

static json_t *jpost(const char *base, const char *path, const char *body, long *status) {
    return jreq("POST", base, path, body, status, NULL);
}

static const char *jstr(json_t *doc, const char *key) { return json_string_value(json_object_get(doc, key)); }
static json_int_t jint(json_t *doc, const char *key) { return json_integer_value(json_object_get(doc, key)); }

/* Expects status and {"error": code}. */
static void expect_error(json_t *doc, long status, long want_status, const char *want_code, const char *what) {
    ck_assert_msg(status == want_status, "%s: status %ld, expected %ld", what, status, want_status);
    ck_assert_msg(doc && json_is_string(json_object_get(doc, "error")), "%s: no JSON error body", what);
    ck_assert_msg(json_is_string(json_object_get(doc, "message")), "%s: no message", what);
    if (want_code)
        ck_assert_msg(!strcmp(jstr(doc, "error"), want_code), "%s: error %s, expected %s", what, jstr(doc, "error"),
                      want_code);
}

static json_int_t stock_of(const char *inv, const char *product) {
    char path[128];
    snprintf(path, sizeof path, "/check/%s", product);
    long st = 0;
    json_t *doc = jget(inv, path, &st);
    ck_assert_msg(st == 200, "check %s: %ld", product, st);
    json_int_t n = jint(doc, "stock_count");
    json_decref(doc);
    return n;
}

/* Waits (bounded) until product's stock equals want. */
static int wait_stock(const char *inv, const char *product, json_int_t want) {
    int64_t deadline = support_now_ms() + 10000;
    while (support_now_ms() < deadline) {
        if (stock_of(inv, product) == want) return 1;
        support_sleep_ms(20);
    }
    return 0;
}

/* ---- processes ---- */

typedef struct proc {
    pid_t pid;
    int port;
    char log[PATH_LEN];
    char url[128];
} proc;

/* Variables the parent environment might set that would change what a test means. */
static const char *const scrubbed_env[] = {"PORT",
                                           "BIND_ADDRESS",
                                           "JOURNAL_PATH",
                                           "CATALOGUE",
                                           "CATALOGUE_FILE",
                                           "PAYMENT_SERVICE",
                                           "INVENTORY_SERVICE",
                                           "NOTIFICATION_SERVICE",
                                           "PAYMENT_PEERS",
                                           "INVENTORY_PEERS",
                                           "NOTIFICATION_PEERS",
                                           "PAYMENT_REPLICAS",
                                           "INVENTORY_REPLICAS",
                                           "NOTIFICATION_REPLICAS",
                                           "REPLICA_INDEX",
                                           "POD_NAME",
                                           "RETRY_ATTEMPTS",
                                           "DOWNSTREAM_TIMEOUT_MS",
                                           "CHAIN_STEP_TIMEOUT_MS",
                                           "IDEMPOTENCY",
                                           "LOG_LEVEL",
                                           "SHUTDOWN_GRACE_MS",
                                           NULL};

#define ENV_MAX 16

/* The command for bin_dir/<name>-service: this process's environment without scrubbed_env, with PORT=0,
 * BIND_ADDRESS=127.0.0.1 and then `env` ("KEY=value", NULL-terminated) over it; stderr to `log`. path and
 * all_env are the caller's buffers the command points into. */
static support_cmd service_cmd(const char *name, const char *const *env, const char *log, char *path, size_t pathlen,
                               const char *all_env[ENV_MAX]) {
    snprintf(path, pathlen, "%s/%s-service", bin_dir, name);
    int n = 0;
    all_env[n++] = "PORT=0";
    all_env[n++] = "BIND_ADDRESS=127.0.0.1";
    for (int i = 0; env && env[i] && n < ENV_MAX - 1; i++) all_env[n++] = env[i];
    all_env[n] = NULL;
    return (support_cmd){.path = path, .env = all_env, .inherit_env = 1, .unset = scrubbed_env, .output = log};
}

/* Starts bin_dir/<name>-service (see service_cmd). Returns the pid, or -1 with a message (the port is read by
 * wait_listening). Usable outside a test. */
static pid_t spawn(const char *name, const char *const *env, const char *log) {
    char path[PATH_LEN];
    const char *all_env[ENV_MAX];
    support_cmd cmd = service_cmd(name, env, log, path, sizeof path, all_env);
    return support_proc_start(&cmd);
}

/* Waits for the listening line; returns the port, or -1 if the process exited or the wait timed out. */
static int wait_listening(pid_t pid, const char *log, int *exit_status) {
    int64_t deadline = support_now_ms() + START_TIMEOUT_MS;
    while (support_now_ms() < deadline) {
        char *text = support_read_file(log, NULL);
        const char *line = text ? strstr(text, "\"event\":\"listening\"") : NULL;
        const char *port = line ? strstr(line, "\"port\":") : NULL;
        int p = port ? atoi(port + 7) : 0;
        free(text);
        if (p > 0) return p;
        if (support_proc_exited(pid, exit_status) != 0) return -1;
        support_sleep_ms(10);
    }
    return -1;
}

static void proc_start(proc *p, const char *name, const char *const *env, const char *log) {
    snprintf(p->log, sizeof p->log, "%s", log);
    p->pid = spawn(name, env, log);
    ck_assert_msg(p->pid > 0, "cannot start %s-service", name);
    int status = -1;
    p->port = wait_listening(p->pid, log, &status);
    if (p->port < 0) {
        char *text = support_read_file(log, NULL);
        ck_abort_msg("%s-service did not start (exit %d): %s", name, status, text ? text : "");
    }
    snprintf(p->url, sizeof p->url, "http://127.0.0.1:%d", p->port);
}

/* Runs a service binary to completion (bounded) with `arg` (may be NULL) and env as spawn gives them;
 * returns the exit status (-1 when killed at the bound) and captures stdout+stderr in *output. */
static int run_capture(const char *name, const char *arg, const char *const *env, char **output) {
    char log[PATH_LEN], path[PATH_LEN];
    snprintf(log, sizeof log, "%s/run-%s-%d.out", work_dir, name, (int)getpid());
    const char *all_env[ENV_MAX];
    const char *args[] = {arg, NULL};
    support_cmd cmd = service_cmd(name, env, log, path, sizeof path, all_env);
    cmd.args = args;
    cmd.capture_stdout = 1;
    return support_proc_run(&cmd, START_TIMEOUT_MS, output);
}

/* A temporary directory for one test (inside the run's directory). */
static void test_dir(char *out, size_t outlen, const char *name) {
    snprintf(out, outlen, "%s/%s-%d", work_dir, name, (int)getpid());
    ck_assert_msg(mkdir(out, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", out, strerror(errno));
}

/* ======================= built-in routes ======================= */

START_TEST(builtins_every_service) {
    const char *bases[3] = {pay_url, inv_url, ntf_url};
    const char *names[3] = {"payment-service", "inventory-service", "notification-service"};
    for (int i = 0; i < 3; i++) {
        long st;
        json_t *doc = jget(bases[i], "/", &st);
        ck_assert_int_eq(st, 200);
        ck_assert_str_eq(jstr(doc, "service"), names[i]);
        ck_assert(json_array_size(json_object_get(doc, "endpoints")) >= 4);
        json_decref(doc);

        doc = jget(bases[i], "/health", &st);
        ck_assert_int_eq(st, 200);
        ck_assert_str_eq(jstr(doc, "status"), "healthy");
        ck_assert_str_eq(jstr(doc, "service"), names[i]);
        json_decref(doc);

        doc = jget(bases[i], "/ready", &st);
        ck_assert_int_eq(st, 200);
        ck_assert_str_eq(jstr(doc, "status"), "ready");
        json_decref(doc);

        char url[PATH_LEN];
        snprintf(url, sizeof url, "%s/metrics", bases[i]);
        support_resp r = http_ex("GET", url, NULL, 0, NULL, 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_msg(!strncmp(r.ctype, "text/plain", 10), "metrics content type %s", r.ctype);
        ck_assert_ptr_nonnull(strstr(r.body, "# TYPE http_requests_total counter"));
        char counter[160];
        snprintf(counter, sizeof counter, "http_requests_total{service=\"%s\",route=\"GET /health\",code=\"200\"}",
                 names[i]);
        ck_assert_msg(strstr(r.body, counter), "metrics lack %s", counter);
        ck_assert_ptr_nonnull(strstr(r.body, "http_request_duration_seconds_bucket"));
        support_resp_free(&r);
    }
}
END_TEST

START_TEST(unknown_route_404_and_wrong_method_405) {
    const char *bases[3] = {pay_url, inv_url, ntf_url};
    for (int i = 0; i < 3; i++) {
        long st;
        json_t *doc = jget(bases[i], "/no/such/route", &st);
        expect_error(doc, st, 404, "not_found", "unknown route");
        json_decref(doc);
    }
    struct {
        const char *base, *method, *path, *allow;
    } cases[] = {
        {pay_url, "GET", "/payment/process", "POST"},
        {pay_url, "DELETE", "/health", "GET"},
        {pay_url, "PUT", "/payment/refund", "POST"},
        {pay_url, "POST", "/payment/status/x", "GET"},
        {inv_url, "GET", "/reserve", "POST"},
        {inv_url, "POST", "/check/1", "GET"},
        {ntf_url, "GET", "/send", "POST"},
        {ntf_url, "POST", "/history", "GET"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char url[PATH_LEN];
        snprintf(url, sizeof url, "%s%s", cases[i].base, cases[i].path);
        support_resp r = http_ex(cases[i].method, url, NULL, 0, NULL, 0);
        ck_assert_msg(r.status == 405, "%s %s: %ld", cases[i].method, url, r.status);
        ck_assert_msg(!strcmp(r.allow, cases[i].allow), "%s %s: Allow '%s', expected '%s'", cases[i].method,
                      cases[i].path, r.allow, cases[i].allow);
        ck_assert_msg(!strncmp(r.ctype, "application/json", 16), "405 content type %s", r.ctype);
        json_t *doc = json_loads(r.body, 0, NULL);
        ck_assert_str_eq(jstr(doc, "error"), "method_not_allowed");
        json_decref(doc);
        support_resp_free(&r);
    }
}
END_TEST

/* ======================= body rules ======================= */

START_TEST(body_rules_400_413_415) {
    long st;
    json_t *doc;
    /* 400: malformed JSON, a JSON array instead of an object */
    doc = jpost(pay_url, "/payment/process", "{\"amount\":", &st);
    expect_error(doc, st, 400, "invalid_json", "malformed JSON");
    json_decref(doc);
    doc = jpost(inv_url, "/reserve", "[1,2]", &st);
    expect_error(doc, st, 400, "invalid_json", "array body");
    json_decref(doc);
    doc = jpost(ntf_url, "/send", "{\"message\":\"a\",\"message\":\"b\"}", &st);
    expect_error(doc, st, 400, "invalid_json", "duplicate keys");
    json_decref(doc);

    /* 415: not declared JSON */
    char url[PATH_LEN];
    snprintf(url, sizeof url, "%s/payment/process", pay_url);
    const char *text_plain[] = {"Content-Type: text/plain", NULL};
    support_resp r = http_ex("POST", url, "{\"amount\":1}", 12, text_plain, 0);
    ck_assert_int_eq(r.status, 415);
    ck_assert_ptr_nonnull(strstr(r.body, "unsupported_media_type"));
    support_resp_free(&r);
    r = http_ex("POST", url, "{\"amount\":1}", 12, NULL, 0); /* no Content-Type: curl sends a form type */
    ck_assert_int_eq(r.status, 415);
    support_resp_free(&r);

    /* 413: over 64 KiB, with Content-Length and chunked */
    const size_t limit = 64 * 1024;
    char *body = malloc(limit + 2);
    ck_assert_ptr_nonnull(body);
    memset(body, ' ', limit + 1);
    body[0] = '{';
    body[limit] = '}'; /* limit + 1 bytes: one too many */
    body[limit + 1] = '\0';
    const char *json_ct[] = {"Content-Type: application/json", NULL};
    for (int chunked = 0; chunked <= 1; chunked++) {
        r = http_ex("POST", url, body, limit + 1, json_ct, chunked);
        ck_assert_msg(r.status == 413, "%s body: %ld", chunked ? "chunked" : "sized", r.status);
        ck_assert_ptr_nonnull(strstr(r.body, "body_too_large"));
        support_resp_free(&r);
    }
    /* Exactly 64 KiB passes the body rules and reaches the handler (which wants an amount). */
    body[limit] = ' ';
    body[limit - 1] = '}';
    for (int chunked = 0; chunked <= 1; chunked++) {
        r = http_ex("POST", url, body, limit, json_ct, chunked);
        ck_assert_msg(r.status == 400 && strstr(r.body, "amount is required"), "64 KiB body: %ld %s", r.status, r.body);
        support_resp_free(&r);
    }
    free(body);
}
END_TEST

/* ======================= payment ======================= */

START_TEST(payment_validation_400) {
    static const char *const bad[] = {
        "{\"amount\":0,\"product_id\":\"1\"}",
        "{\"amount\":-1,\"product_id\":\"1\"}",
        "{\"amount\":1.001,\"product_id\":\"1\"}",
        "{\"amount\":1e300,\"product_id\":\"1\"}",
        "{\"amount\":\"100\",\"product_id\":\"1\"}",
        "{\"amount\":true,\"product_id\":\"1\"}",
        "{\"product_id\":\"1\"}",
        "{\"amount\":100}",
        "{\"amount\":100,\"product_id\":[1]}",
        "{\"amount\":100,\"product_id\":\"1\",\"currency\":\"XXX\"}",
        "{\"amount\":100,\"product_id\":\"1\",\"currency\":7}",
        "{\"amount\":100,\"product_id\":\"1\",\"quantity\":0}",
        "{\"amount\":100,\"product_id\":\"1\",\"quantity\":1.5}",
        "{\"amount\":100,\"product_id\":\"a b\"}",
    };
    json_int_t before = stock_of(inv_url, "1");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long st;
        json_t *doc = jpost(pay_url, "/payment/process", bad[i], &st);
        expect_error(doc, st, 400, NULL, bad[i]);
        json_decref(doc);
    }
    /* A rejected request changes no state. */
    ck_assert_int_eq(stock_of(inv_url, "1"), before);
    long st;
    json_t *doc = jpost(pay_url, "/payment/refund", "{\"payment_id\":5}", &st);
    expect_error(doc, st, 400, NULL, "refund with a numeric id");
    json_decref(doc);
    doc = jpost(pay_url, "/payment/refund", "{\"payment_id\":\"pay-0-1\",\"amount\":0.001}", &st);
    expect_error(doc, st, 400, NULL, "refund with 3 decimals");
    json_decref(doc);
}
END_TEST

START_TEST(payment_process_status_and_chain_of_effects) {
    json_int_t before = stock_of(inv_url, "2");
    long st;
    json_t *doc = jpost(pay_url, "/payment/process",
                        "{\"amount\":99.99,\"currency\":\"EUR\",\"product_id\":\"2\",\"quantity\":2}", &st);
    ck_assert_msg(st == 201, "process: %ld", st);
    ck_assert_str_eq(jstr(doc, "status"), "completed");
    ck_assert_str_eq(jstr(doc, "currency"), "EUR");
    ck_assert_str_eq(jstr(doc, "product_id"), "2");
    ck_assert(json_real_value(json_object_get(doc, "amount")) == 99.99);
    ck_assert(json_is_object(json_object_get(doc, "inventory_check")));
    ck_assert(json_is_number(json_object_get(doc, "processing_time_ms")));
    char id[80];
    snprintf(id, sizeof id, "%s", jstr(doc, "payment_id"));
    ck_assert_str_eq(jstr(doc, "notification"), "sent");
    json_decref(doc);

    /* inventory: stock decremented by the quantity */
    ck_assert_int_eq(stock_of(inv_url, "2"), before - 2);

    /* status */
    char path[160];
    snprintf(path, sizeof path, "/payment/status/%s", id);
    doc = jget(pay_url, path, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(jstr(doc, "payment_id"), id);
    ck_assert_str_eq(jstr(doc, "status"), "completed");
    ck_assert_int_eq(jint(doc, "quantity"), 2);
    json_decref(doc);

    /* notification: the payment's message is in the history */
    doc = jget(ntf_url, "/history", &st);
    ck_assert_int_eq(st, 200);
    ck_assert(jint(doc, "total_count") >= 1);
    json_t *list = json_object_get(doc, "notifications");
    int found = 0;
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        const char *msg = jstr(item, "message");
        if (msg && strstr(msg, id)) found = 1;
    }
    ck_assert_msg(found, "no notification mentions %s", id);
    json_decref(doc);

    /* metrics count it, including the downstream calls */
    char url[PATH_LEN];
    snprintf(url, sizeof url, "%s/metrics", pay_url);
    support_resp r = http_ex("GET", url, NULL, 0, NULL, 0);
    ck_assert_ptr_nonnull(strstr(
        r.body, "http_requests_total{service=\"payment-service\",route=\"POST /payment/process\",code=\"201\"}"));
    ck_assert_ptr_nonnull(
        strstr(r.body, "downstream_calls_total{service=\"payment-service\",target=\"inventory\",result=\"ok\"}"));
    ck_assert_ptr_nonnull(
        strstr(r.body, "downstream_calls_total{service=\"payment-service\",target=\"notification\",result=\"ok\"}"));
    support_resp_free(&r);

    /* unknown ids */
    doc = jget(pay_url, "/payment/status/pay-0-00000000deadbeef", &st);
    expect_error(doc, st, 404, NULL, "unknown payment");
    json_decref(doc);
}
END_TEST

START_TEST(payment_out_of_stock_and_unknown_product) {
    json_int_t before = stock_of(inv_url, "3");
    long st;
    json_t *doc = jpost(pay_url, "/payment/process", "{\"amount\":10,\"product_id\":\"3\",\"quantity\":1000000}", &st);
    expect_error(doc, st, 409, "out_of_stock", "quantity beyond the stock");
    const char *id = jstr(doc, "payment_id");
    ck_assert_ptr_nonnull(id);
    /* the failed payment is recorded as failed, with its reason */
    char path[160];
    snprintf(path, sizeof path, "/payment/status/%s", id);
    json_t *status = jget(pay_url, path, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(jstr(status, "status"), "failed");
    ck_assert(json_is_object(json_object_get(status, "failure")));
    json_decref(status);
    json_decref(doc);
    ck_assert_int_eq(stock_of(inv_url, "3"), before); /* nothing stays reserved */

    doc = jpost(pay_url, "/payment/process", "{\"amount\":10,\"product_id\":\"999\"}", &st);
    expect_error(doc, st, 404, NULL, "unknown product");
    json_decref(doc);
}
END_TEST

START_TEST(payment_refund) {
    json_int_t before = stock_of(inv_url, "4");
    long st;
    json_t *doc = jpost(pay_url, "/payment/process", "{\"amount\":100,\"product_id\":\"4\"}", &st);
    ck_assert_int_eq(st, 201);
    char id[80];
    snprintf(id, sizeof id, "%s", jstr(doc, "payment_id"));
    json_decref(doc);
    ck_assert_int_eq(stock_of(inv_url, "4"), before - 1);

    char body[256];
    /* more than the amount: 409, nothing changes */
    snprintf(body, sizeof body, "{\"payment_id\":\"%s\",\"amount\":200}", id);
    doc = jpost(pay_url, "/payment/refund", body, &st);
    expect_error(doc, st, 409, "refund_exceeds_payment", "refund over the amount");
    json_decref(doc);

    /* partial refund: stock stays taken */
    snprintf(body, sizeof body, "{\"payment_id\":\"%s\",\"amount\":30.5}", id);
    doc = jpost(pay_url, "/payment/refund", body, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(jstr(doc, "status"), "refunded");
    ck_assert_str_eq(jstr(doc, "original_payment_id"), id);
    ck_assert(json_real_value(json_object_get(doc, "amount")) == 30.5);
    ck_assert_ptr_nonnull(jstr(doc, "refund_id"));
    json_decref(doc);
    char path[160];
    snprintf(path, sizeof path, "/payment/status/%s", id);
    doc = jget(pay_url, path, &st);
    ck_assert_str_eq(jstr(doc, "status"), "partially_refunded");
    json_decref(doc);

    /* the rest (amount defaults to what remains): full refund releases the stock */
    snprintf(body, sizeof body, "{\"payment_id\":\"%s\"}", id);
    doc = jpost(pay_url, "/payment/refund", body, &st);
    ck_assert_int_eq(st, 200);
    ck_assert(json_real_value(json_object_get(doc, "amount")) == 69.5);
    json_decref(doc);
    ck_assert_msg(wait_stock(inv_url, "4", before), "stock of 4 not released after a full refund");
    doc = jget(pay_url, path, &st);
    ck_assert_str_eq(jstr(doc, "status"), "refunded");
    json_decref(doc);

    /* nothing left: 409; unknown payment: 404 */
    doc = jpost(pay_url, "/payment/refund", body, &st);
    expect_error(doc, st, 409, NULL, "refund of a refunded payment");
    json_decref(doc);
    doc = jpost(pay_url, "/payment/refund", "{\"payment_id\":\"pay-0-00000000deadbeef\"}", &st);
    expect_error(doc, st, 404, NULL, "refund of an unknown payment");
    json_decref(doc);
}
END_TEST

START_TEST(payment_idempotency_key) {
    char key[96], hdr[128];
    snprintf(key, sizeof key, "e2e-%s-1", nonce);
    snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", key);
    const char *hdrs[] = {hdr, NULL};
    json_int_t before = stock_of(inv_url, "5");
    const char *body = "{\"amount\":12.5,\"product_id\":\"5\"}";
    long st;
    json_t *first = jreq("POST", pay_url, "/payment/process", body, &st, hdrs);
    ck_assert_int_eq(st, 201);
    json_t *again = jreq("POST", pay_url, "/payment/process", body, &st, hdrs);
    ck_assert_int_eq(st, 201);
    ck_assert_str_eq(jstr(first, "payment_id"), jstr(again, "payment_id"));
    ck_assert(json_is_true(json_object_get(again, "idempotent_replay")));
    ck_assert_int_eq(stock_of(inv_url, "5"), before - 1); /* charged once */
    json_decref(first);
    json_decref(again);

    json_t *other = jreq("POST", pay_url, "/payment/process", "{\"amount\":13,\"product_id\":\"5\"}", &st, hdrs);
    expect_error(other, st, 422, "idempotency_key_reused", "same key, other body");
    json_decref(other);
    ck_assert_int_eq(stock_of(inv_url, "5"), before - 1);

    const char *bad[] = {"Idempotency-Key: has space", NULL};
    other = jreq("POST", pay_url, "/payment/process", body, &st, bad);
    expect_error(other, st, 400, NULL, "malformed key");
    json_decref(other);
}
END_TEST

START_TEST(payment_validate_card) {
    long st;
    json_t *doc = jpost(pay_url, "/payment/validate", "{\"card_number\":\"4111 1111 1111 1111\"}", &st);
    ck_assert_int_eq(st, 200);
    ck_assert(json_is_true(json_object_get(doc, "valid")));
    ck_assert_str_eq(jstr(doc, "brand"), "visa");
    ck_assert_str_eq(jstr(doc, "masked_number"), "****-****-****-1111");
    char *text = json_dumps(doc, 0);
    ck_assert_ptr_null(strstr(text, "4111")); /* the full number never comes back */
    free(text);
    json_decref(doc);
    doc = jpost(pay_url, "/payment/validate", "{\"card_number\":\"4111111111111112\"}", &st);
    ck_assert_int_eq(st, 200);
    ck_assert(json_is_false(json_object_get(doc, "valid")));
    json_decref(doc);
    doc = jpost(pay_url, "/payment/validate", "{\"card_number\":\"abc\"}", &st);
    expect_error(doc, st, 400, NULL, "not a card number");
    json_decref(doc);
    doc = jpost(pay_url, "/payment/validate", "{\"card_number\":4111111111111111}", &st);
    expect_error(doc, st, 400, NULL, "card number as a number");
    json_decref(doc);
}
END_TEST

START_TEST(payment_chain) {
    long st;
    json_t *doc = jpost(pay_url, "/payment/chain", "{\"product_id\":\"1\"}", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(jstr(doc, "overall_status"), "success");
    json_t *steps = json_object_get(doc, "steps");
    ck_assert_int_eq(json_array_size(steps), 2);
    ck_assert_str_eq(jstr(json_array_get(steps, 0), "service"), "inventory");
    ck_assert_str_eq(jstr(json_array_get(steps, 1), "service"), "notification");
    ck_assert_str_eq(jstr(json_array_get(steps, 0), "status"), "success");
    ck_assert(json_is_number(json_object_get(json_array_get(steps, 1), "latency_ms")));
    ck_assert(json_is_number(json_object_get(doc, "total_time_ms")));
    json_decref(doc);
    /* an unknown product fails step 1 only */
    doc = jpost(pay_url, "/payment/chain", "{\"product_id\":\"999\"}", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(jstr(doc, "overall_status"), "partial_failure");
    ck_assert_str_eq(jstr(json_array_get(json_object_get(doc, "steps"), 0), "error"), "HTTP 404");
    json_decref(doc);
    doc = jpost(pay_url, "/payment/chain", "{\"product_id\":{}}", &st);
    expect_error(doc, st, 400, NULL, "object product id");
    json_decref(doc);
}
END_TEST

/* ======================= inventory ======================= */

START_TEST(inventory_routes) {
    long st;
    json_t *doc = jget(inv_url, "/check/1", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(jstr(doc, "product_id"), "1");
    ck_assert_str_eq(jstr(doc, "name"), "Laptop");
    ck_assert(json_is_boolean(json_object_get(doc, "available")));
    ck_assert_int_eq(jint(doc, "price"), 15000);
    json_decref(doc);
    doc = jget(inv_url, "/check/999", &st);
    expect_error(doc, st, 404, NULL, "unknown product");
    json_decref(doc);

    doc = jget(inv_url, "/list", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "products")), 5);
    json_decref(doc);
    /* the query string reaches the service: scope=local answers this replica's view */
    doc = jget(inv_url, "/list?scope=local", &st);
    ck_assert_int_eq(st, 200);
    ck_assert(json_is_integer(json_object_get(doc, "replica")));
    json_decref(doc);

    json_int_t before = stock_of(inv_url, "2");
    char rid[96], body[256];
    snprintf(rid, sizeof rid, "res-e2e-%s", nonce);
    snprintf(body, sizeof body, "{\"product_id\":\"2\",\"quantity\":3,\"reservation_id\":\"%s\"}", rid);
    doc = jpost(inv_url, "/reserve", body, &st);
    ck_assert_int_eq(st, 201);
    ck_assert_str_eq(jstr(doc, "reservation_id"), rid);
    json_decref(doc);
    ck_assert_int_eq(stock_of(inv_url, "2"), before - 3);
    doc = jpost(inv_url, "/reserve", body, &st); /* idempotent repeat */
    ck_assert_int_eq(st, 200);
    json_decref(doc);
    ck_assert_int_eq(stock_of(inv_url, "2"), before - 3);

    snprintf(body, sizeof body, "{\"product_id\":\"2\",\"reservation_id\":\"%s\"}", rid);
    doc = jpost(inv_url, "/release", body, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(jint(doc, "quantity_released"), 3);
    json_decref(doc);
    ck_assert_int_eq(stock_of(inv_url, "2"), before);

    doc = jpost(inv_url, "/reserve", "{\"product_id\":\"3\",\"quantity\":1000000}", &st);
    expect_error(doc, st, 409, "insufficient_stock", "reserve beyond the stock");
    ck_assert(json_is_integer(json_object_get(doc, "available")));
    json_decref(doc);
    doc = jpost(inv_url, "/reserve", "{\"product_id\":\"999\"}", &st);
    expect_error(doc, st, 404, NULL, "reserve unknown product");
    json_decref(doc);
    doc = jpost(inv_url, "/reserve", "{\"product_id\":2}", &st);
    expect_error(doc, st, 400, NULL, "numeric product id");
    json_decref(doc);
    doc = jpost(inv_url, "/reserve", "{\"product_id\":\"2\",\"quantity\":-1}", &st);
    expect_error(doc, st, 400, NULL, "negative quantity");
    json_decref(doc);
    doc = jpost(inv_url, "/release", "{\"product_id\":\"2\"}", &st);
    expect_error(doc, st, 400, NULL, "release without reservation id");
    json_decref(doc);
}
END_TEST

/* ======================= notification ======================= */

START_TEST(notification_routes) {
    long st;
    json_t *doc =
        jpost(ntf_url, "/send", "{\"message\":\"hello e2e\",\"type\":\"email\",\"recipient\":\"a@b.c\"}", &st);
    ck_assert_int_eq(st, 201);
    ck_assert_str_eq(jstr(doc, "status"), "sent");
    char id[96];
    snprintf(id, sizeof id, "%s", jstr(doc, "id"));
    json_decref(doc);

    char path[160];
    snprintf(path, sizeof path, "/status/%s", id);
    doc = jget(ntf_url, path, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(jstr(doc, "message"), "hello e2e");
    json_decref(doc);
    doc = jget(ntf_url, "/status/ntf-0-00000000deadbeef", &st);
    expect_error(doc, st, 404, NULL, "unknown notification");
    json_decref(doc);

    doc = jget(ntf_url, "/history", &st);
    ck_assert_int_eq(st, 200);
    json_t *list = json_object_get(doc, "notifications");
    ck_assert(json_array_size(list) >= 1 && json_array_size(list) <= 50);
    ck_assert_str_eq(jstr(json_array_get(list, 0), "id"), id); /* newest first */
    ck_assert(jint(doc, "total_count") >= 1);
    json_decref(doc);

    /* X-Forwarded-To-Owner reaches the service: a forwarded /history answers locally (with "replica") */
    const char *fwd[] = {"X-Forwarded-To-Owner: 1", NULL};
    doc = jreq("GET", ntf_url, "/history", NULL, &st, fwd);
    ck_assert_int_eq(st, 200);
    ck_assert(json_is_integer(json_object_get(doc, "replica")));
    json_decref(doc);

    doc = jpost(ntf_url, "/send", "{\"type\":\"email\"}", &st);
    expect_error(doc, st, 400, NULL, "message missing");
    json_decref(doc);
    doc = jpost(ntf_url, "/send", "{\"message\":42}", &st);
    expect_error(doc, st, 400, NULL, "numeric message");
    json_decref(doc);
}
END_TEST

/* ======================= processes: signals, failures, journal ======================= */

/* A TCP listener on a free loopback port that the test drives by hand (a slow or silent downstream). */
static int listen_any(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    ck_assert(listen(fd, 16) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Accepts one connection and reads one request head (bounded); returns the connection or -1. */
static int accept_request(int lfd, int timeout_ms) {
    struct pollfd p = {lfd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return -1;
    int c = accept(lfd, NULL, NULL);
    if (c < 0) return -1;
    char buf[4096];
    size_t n = 0;
    int64_t deadline = support_now_ms() + timeout_ms;
    while (n < sizeof buf - 1 && support_now_ms() < deadline) {
        struct pollfd q = {c, POLLIN, 0};
        if (poll(&q, 1, 100) != 1) continue;
        ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n")) return c;
    }
    close(c);
    return -1;
}

typedef struct bg_request {
    pthread_t thread;
    char url[PATH_LEN];
    const char *body;
    support_resp r;
} bg_request;

static void *bg_main(void *arg) {
    bg_request *b = arg;
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    b->r = http_ex("POST", b->url, b->body, strlen(b->body), hdrs, 0);
    return NULL;
}

START_TEST(sigterm_lets_request_in_flight_finish) {
    char dir[DIR_LEN + 64], log[PATH_LEN + 16];
    test_dir(dir, sizeof dir, "sigterm");
    int slow_port;
    int lfd = listen_any(&slow_port);
    char inv[96], ntf[200];
    snprintf(inv, sizeof inv, "INVENTORY_SERVICE=http://127.0.0.1:%d", slow_port);
    snprintf(ntf, sizeof ntf, "NOTIFICATION_SERVICE=%s", ntf_url);
    const char *env[] = {inv, ntf, "SHUTDOWN_GRACE_MS=10000", NULL};
    snprintf(log, sizeof log, "%s/payment.log", dir);
    proc p;
    proc_start(&p, "payment", env, log);

    /* A keep-alive connection opened before the signal: it can still ask /ready while the service drains. */
    CURL *keep = curl_easy_init();
    char ready_url[PATH_LEN];
    snprintf(ready_url, sizeof ready_url, "%s/ready", p.url);
    support_resp ready = {0};
    curl_easy_setopt(keep, CURLOPT_URL, ready_url);
    curl_easy_setopt(keep, CURLOPT_TIMEOUT_MS, SUPPORT_HTTP_TIMEOUT_MS);
    curl_easy_setopt(keep, CURLOPT_WRITEFUNCTION, support_http_collect);
    curl_easy_setopt(keep, CURLOPT_WRITEDATA, &ready);
    ck_assert_int_eq(curl_easy_perform(keep), CURLE_OK);
    long code = 0;
    curl_easy_getinfo(keep, CURLINFO_RESPONSE_CODE, &code);
    ck_assert_int_eq(code, 200);
    support_resp_free(&ready);

    bg_request b = {.body = "{\"product_id\":\"1\"}"};
    snprintf(b.url, sizeof b.url, "%s/payment/chain", p.url);
    ck_assert(pthread_create(&b.thread, NULL, bg_main, &b) == 0);
    int c = accept_request(lfd, 10000); /* the chain's step 1 is now waiting on us */
    ck_assert_msg(c >= 0, "payment never called the slow inventory");
    kill(p.pid, SIGTERM);
    /* draining: the service must still be alive and waiting for us */
    int64_t until = support_now_ms() + 300;
    while (support_now_ms() < until) {
        ck_assert_msg(support_proc_exited(p.pid, NULL) == 0, "payment exited with a request in flight");
        support_sleep_ms(10);
    }
    ck_assert_msg(file_contains(log, "\"event\":\"shutdown\""), "no shutdown log line");
    /* draining: /ready says 503 on the existing connection (new connections are no longer accepted) */
    ck_assert_int_eq(curl_easy_perform(keep), CURLE_OK);
    curl_easy_getinfo(keep, CURLINFO_RESPONSE_CODE, &code);
    ck_assert_msg(code == 503, "/ready while draining: %ld", code);
    ck_assert_ptr_nonnull(strstr(ready.body, "shutting down"));
    support_resp_free(&ready);
    curl_easy_cleanup(keep);
    static const char doc_text[] = "{\"product_id\":\"1\",\"stock_count\":7}";
    char answer[256];
    int n = snprintf(answer, sizeof answer,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     strlen(doc_text), doc_text);
    ck_assert(write(c, answer, (size_t)n) == (ssize_t)n);
    close(c);
    pthread_join(b.thread, NULL);
    ck_assert_msg(b.r.status == 200, "in-flight request: status %ld (%s)", b.r.status, curl_easy_strerror(b.r.rc));
    json_t *doc = json_loads(b.r.body, 0, NULL);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(doc, "steps"), 0), "status"), "success");
    json_decref(doc);
    support_resp_free(&b.r);
    ck_assert_int_eq(support_proc_stop(p.pid, 0, STOP_TIMEOUT_MS), 0);
    ck_assert_msg(file_contains(log, "\"event\":\"stopped\""), "no clean stop logged");
    close(lfd);
}
END_TEST

START_TEST(sigterm_grace_expiry_still_exits_0) {
    char dir[DIR_LEN + 64], log[PATH_LEN];
    test_dir(dir, sizeof dir, "grace");
    int silent_port;
    int lfd = listen_any(&silent_port);
    char inv[96];
    snprintf(inv, sizeof inv, "INVENTORY_SERVICE=http://127.0.0.1:%d", silent_port);
    const char *env[] = {inv, "CHAIN_STEP_TIMEOUT_MS=60000", "SHUTDOWN_GRACE_MS=300", NULL};
    snprintf(log, sizeof log, "%s/payment.log", dir);
    proc p;
    proc_start(&p, "payment", env, log);
    bg_request b = {.body = "{\"product_id\":\"1\"}"};
    snprintf(b.url, sizeof b.url, "%s/payment/chain", p.url);
    ck_assert(pthread_create(&b.thread, NULL, bg_main, &b) == 0);
    int c = accept_request(lfd, 10000); /* the request is stuck on a downstream that never answers */
    ck_assert(c >= 0);
    int64_t t0 = support_now_ms();
    ck_assert_int_eq(support_proc_stop(p.pid, SIGTERM, STOP_TIMEOUT_MS), 0);
    ck_assert_msg(support_now_ms() - t0 < 5000, "the 300 ms grace took %lld ms", (long long)(support_now_ms() - t0));
    ck_assert_msg(file_contains(log, "\"event\":\"shutdown_timeout\""), "grace expiry not logged");
    pthread_join(b.thread, NULL); /* the abandoned client sees the connection close */
    ck_assert_int_eq(b.r.status, 0);
    support_resp_free(&b.r);
    close(c);
    close(lfd);
}
END_TEST

START_TEST(downstream_refused_and_timeout) {
    char dir[DIR_LEN + 64], log[PATH_LEN + 16];
    test_dir(dir, sizeof dir, "downstream");
    int silent_port;
    int lfd = listen_any(&silent_port); /* accepts (kernel backlog) and never answers */
    int closed_port;
    int tmp = listen_any(&closed_port);
    close(tmp); /* nothing listens there any more: connections are refused */

    char inv[96], ntf[200];
    snprintf(inv, sizeof inv, "INVENTORY_SERVICE=http://127.0.0.1:%d", closed_port);
    snprintf(ntf, sizeof ntf, "NOTIFICATION_SERVICE=http://127.0.0.1:%d", silent_port);
    const char *env[] = {inv, ntf, "DOWNSTREAM_TIMEOUT_MS=300", "CHAIN_STEP_TIMEOUT_MS=300", NULL};
    snprintf(log, sizeof log, "%s/payment.log", dir);
    proc p;
    proc_start(&p, "payment", env, log);
    long st;
    json_t *doc = jpost(p.url, "/payment/process", "{\"amount\":10,\"product_id\":\"1\"}", &st);
    expect_error(doc, st, 503, "inventory_unavailable", "inventory refused");
    json_decref(doc);
    int64_t t0 = support_now_ms();
    doc = jpost(p.url, "/payment/chain", "{\"product_id\":\"1\"}", &st);
    ck_assert_int_eq(st, 200);
    json_t *steps = json_object_get(doc, "steps");
    ck_assert_str_eq(jstr(json_array_get(steps, 0), "error"), "refused");
    ck_assert_str_eq(jstr(json_array_get(steps, 1), "error"), "timeout");
    ck_assert_msg(support_now_ms() - t0 < 5000, "the 300 ms step timeout took %lld ms",
                  (long long)(support_now_ms() - t0));
    json_decref(doc);
    ck_assert_int_eq(support_proc_stop(p.pid, SIGTERM, STOP_TIMEOUT_MS), 0);
    close(lfd);
}
END_TEST

START_TEST(unconfigured_replica_fails_cleanly) {
    char dir[DIR_LEN + 64], log[PATH_LEN];
    test_dir(dir, sizeof dir, "unconfigured");
    snprintf(log, sizeof log, "%s/payment.log", dir);
    /* Two payment replicas, no PAYMENT_PEERS: replica 1 has no URL, so a record it owns cannot be read. */
    const char *env[] = {"PAYMENT_REPLICAS=2", "REPLICA_INDEX=0", NULL};
    proc p;
    proc_start(&p, "payment", env, log);
    long st;
    json_t *doc = jget(p.url, "/payment/status/pay-1-00000000000000aa", &st);
    expect_error(doc, st, 503, "owner_unavailable", "owner replica without a URL");
    json_decref(doc);
    ck_assert_msg(file_contains(log, "\"event\":\"call_unconfigured\""), "no log line about the missing URL");
    ck_assert_int_eq(support_proc_stop(p.pid, SIGTERM, STOP_TIMEOUT_MS), 0);
}
END_TEST

START_TEST(bad_settings_exit_2_and_help) {
    char *out = NULL;
    const char *bad_port[] = {"PORT=70000", NULL};
    ck_assert_int_eq(run_capture("payment", NULL, bad_port, &out), 2);
    ck_assert_msg(out && strstr(out, "PORT"), "message does not name PORT: %s", out ? out : "");
    free(out);
    const char *bad_timeout[] = {"DOWNSTREAM_TIMEOUT_MS=abc", NULL};
    ck_assert_int_eq(run_capture("payment", NULL, bad_timeout, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "DOWNSTREAM_TIMEOUT_MS"));
    free(out);
    const char *bad_url[] = {"INVENTORY_SERVICE=ftp://x", NULL};
    ck_assert_int_eq(run_capture("payment", NULL, bad_url, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "INVENTORY_SERVICE"));
    free(out);
    const char *bad_catalogue[] = {"CATALOGUE_FILE=/nonexistent/catalogue.json", NULL};
    ck_assert_int_eq(run_capture("inventory", NULL, bad_catalogue, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "CATALOGUE_FILE"));
    free(out);
    ck_assert_int_eq(run_capture("notification", "--help", NULL, &out), 0);
    static const char *const vars[] = {"PORT",
                                       "BIND_ADDRESS",
                                       "THREADS",
                                       "SHUTDOWN_GRACE_MS",
                                       "JOURNAL_PATH",
                                       "CATALOGUE_FILE",
                                       "INVENTORY_SERVICE",
                                       "NOTIFICATION_PEERS",
                                       "LOG_LEVEL",
                                       "DOWNSTREAM_TIMEOUT_MS",
                                       "RETRY_ATTEMPTS",
                                       "NOTIFICATION_HISTORY",
                                       NULL};
    for (int i = 0; vars[i]; i++) ck_assert_msg(strstr(out, vars[i]), "--help does not mention %s", vars[i]);
    free(out);
    ck_assert_int_eq(run_capture("inventory", "--version", NULL, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "inventory-service"));
    free(out);
}
END_TEST

/* The server's threads each listen on the port with SO_REUSEPORT, which would let a second copy of a service
 * join the first one's sockets and take half of its connections without a word; the probe bind before them
 * keeps a port in use a start-up failure (exit 1), whoever holds it. */
START_TEST(port_in_use_exits_1) {
    const char *port = strrchr(inv_url, ':');
    ck_assert_ptr_nonnull(port);
    char port_env[32];
    snprintf(port_env, sizeof port_env, "PORT=%s", port + 1);
    const char *env[] = {port_env, NULL};
    char *out = NULL;
    ck_assert_int_eq(run_capture("inventory", NULL, env, &out), 1);
    ck_assert_msg(out && strstr(out, "in use"), "no \"in use\" in: %s", out ? out : "");
    free(out);
    const char *one_thread[] = {port_env, "THREADS=1", NULL};
    ck_assert_int_eq(run_capture("payment", NULL, one_thread, &out), 1);
    free(out);
    /* the first copy still answers */
    long st;
    json_t *doc = jget(inv_url, "/health", &st);
    ck_assert_int_eq(st, 200);
    json_decref(doc);
}
END_TEST

/* Starts inventory then payment on journals in dir (notification: the shared one). */
static void start_journaled(const char *dir, proc *inv, proc *pay, int round) {
    char inv_journal[PATH_LEN], pay_journal[PATH_LEN], inv_url_env[160], ntf_env[160], log[PATH_LEN];
    snprintf(inv_journal, sizeof inv_journal, "JOURNAL_PATH=%s/inventory.journal", dir);
    snprintf(pay_journal, sizeof pay_journal, "JOURNAL_PATH=%s/payment.journal", dir);
    const char *inv_env[] = {inv_journal, NULL};
    snprintf(log, sizeof log, "%s/inventory-%d.log", dir, round);
    proc_start(inv, "inventory", inv_env, log);
    snprintf(inv_url_env, sizeof inv_url_env, "INVENTORY_SERVICE=%s", inv->url);
    snprintf(ntf_env, sizeof ntf_env, "NOTIFICATION_SERVICE=%s", ntf_url);
    const char *pay_env[] = {pay_journal, inv_url_env, ntf_env, NULL};
    snprintf(log, sizeof log, "%s/payment-%d.log", dir, round);
    proc_start(pay, "payment", pay_env, log);
}

#define JOURNAL_PAYMENTS 6

START_TEST(journal_survives_sigkill_and_torn_tail) {
    char dir[DIR_LEN + 64];
    test_dir(dir, sizeof dir, "journal");
    proc inv, pay;
    start_journaled(dir, &inv, &pay, 1);
    json_int_t initial = stock_of(inv.url, "2");
    char ids[JOURNAL_PAYMENTS][80];
    long st;
    for (int i = 0; i < JOURNAL_PAYMENTS; i++) {
        json_t *doc = jpost(pay.url, "/payment/process", "{\"amount\":25,\"product_id\":\"2\",\"quantity\":2}", &st);
        ck_assert_int_eq(st, 201);
        snprintf(ids[i], sizeof ids[i], "%s", jstr(doc, "payment_id"));
        json_decref(doc);
    }
    /* one refunded in full: its release is journaled on both sides */
    char body[200];
    snprintf(body, sizeof body, "{\"payment_id\":\"%s\"}", ids[0]);
    json_t *doc = jpost(pay.url, "/payment/refund", body, &st);
    ck_assert_int_eq(st, 200);
    json_decref(doc);
    json_int_t expected = initial - 2 * (JOURNAL_PAYMENTS - 1);
    ck_assert_msg(wait_stock(inv.url, "2", expected), "release after refund not applied");

    /* crash both */
    ck_assert_int_eq(support_proc_stop(pay.pid, SIGKILL, STOP_TIMEOUT_MS), 128 + SIGKILL);
    ck_assert_int_eq(support_proc_stop(inv.pid, SIGKILL, STOP_TIMEOUT_MS), 128 + SIGKILL);

    for (int round = 2; round <= 3; round++) {
        char journal[PATH_LEN + 32];
        snprintf(journal, sizeof journal, "%s/payment.journal", dir);
        struct stat before_tear;
        ck_assert(stat(journal, &before_tear) == 0);
        if (round == 3) { /* a crash in the middle of a write: half a record at the end */
            FILE *f = fopen(journal, "ab");
            ck_assert_ptr_nonnull(f);
            fputs("57 0badc0de {\"t\":\"pay\",\"id\":\"pay-0-torn", f);
            fclose(f);
        }
        start_journaled(dir, &inv, &pay, round);
        for (int i = 0; i < JOURNAL_PAYMENTS; i++) {
            char path[160];
            snprintf(path, sizeof path, "/payment/status/%s", ids[i]);
            doc = jget(pay.url, path, &st);
            ck_assert_msg(st == 200, "round %d: payment %s lost (%ld)", round, ids[i], st);
            ck_assert_str_eq(jstr(doc, "status"), i == 0 ? "refunded" : "completed");
            json_decref(doc);
        }
        ck_assert_int_eq(stock_of(inv.url, "2"), expected);
        if (round == 3) {
            ck_assert_msg(file_contains(pay.log, "journal_torn_tail"), "no warning about the torn tail");
            struct stat after;
            ck_assert(stat(journal, &after) == 0);
            /* truncated back to the last good record; the restart itself may have appended since */
            ck_assert_msg(after.st_size >= before_tear.st_size, "journal shrank below the good records");
            char *text = support_read_file(journal, NULL);
            ck_assert_ptr_null(strstr(text, "pay-0-torn"));
            free(text);
        }
        ck_assert_int_eq(support_proc_stop(pay.pid, SIGKILL, STOP_TIMEOUT_MS), 128 + SIGKILL);
        ck_assert_int_eq(support_proc_stop(inv.pid, SIGKILL, STOP_TIMEOUT_MS), 128 + SIGKILL);
    }
}
END_TEST

START_TEST(journal_corruption_before_the_end_refuses_to_start) {
    char dir[DIR_LEN + 64], journal[PATH_LEN + 32], env_journal[PATH_LEN + 48];
    test_dir(dir, sizeof dir, "corrupt");
    snprintf(journal, sizeof journal, "%s/inventory.journal", dir);
    /* Two good records, the first one damaged by a flipped byte. */
    const char *recs[] = {"{\"t\":\"reserve\",\"rid\":\"r1\",\"product\":\"1\",\"qty\":1}",
                          "{\"t\":\"reserve\",\"rid\":\"r2\",\"product\":\"1\",\"qty\":1}"};
    FILE *f = fopen(journal, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 2; i++)
        fprintf(f, "%zu %08x %s\n", strlen(recs[i]), (unsigned)http_crc32(recs[i], strlen(recs[i])), recs[i]);
    fclose(f);
    snprintf(env_journal, sizeof env_journal, "JOURNAL_PATH=%s", journal);
    const char *env[] = {env_journal, NULL};

    /* intact: starts, and both reservations are applied */
    char log[PATH_LEN + 32];
    snprintf(log, sizeof log, "%s/inventory-ok.log", dir);
    proc inv;
    proc_start(&inv, "inventory", env, log);
    ck_assert_int_eq(stock_of(inv.url, "1"), 48);
    ck_assert_int_eq(support_proc_stop(inv.pid, SIGTERM, STOP_TIMEOUT_MS), 0);

    size_t len = 0;
    char *text = support_read_file(journal, &len);
    char *p = strstr(text, "\"r1\"");
    p[2] = '9'; /* r1 -> r9 without fixing the CRC */
    f = fopen(journal, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    free(text);
    char *out = NULL;
    ck_assert_int_eq(run_capture("inventory", NULL, env, &out), 1);
    ck_assert_msg(strstr(out, "offset 0"), "message should give the offset: %s", out);
    free(out);
}
END_TEST

/* ======================= runner ======================= */

static Suite *e2e_suite(void) {
    Suite *s = suite_create("e2e");
    TCase *api = tcase_create("api");
    tcase_set_timeout(api, 120);
    tcase_add_test(api, builtins_every_service);
    tcase_add_test(api, unknown_route_404_and_wrong_method_405);
    tcase_add_test(api, body_rules_400_413_415);
    tcase_add_test(api, payment_validation_400);
    tcase_add_test(api, payment_process_status_and_chain_of_effects);
    tcase_add_test(api, payment_out_of_stock_and_unknown_product);
    tcase_add_test(api, payment_refund);
    tcase_add_test(api, payment_idempotency_key);
    tcase_add_test(api, payment_validate_card);
    tcase_add_test(api, payment_chain);
    tcase_add_test(api, inventory_routes);
    tcase_add_test(api, notification_routes);
    suite_add_tcase(s, api);

    /* These start, signal and restart their own processes: not in external mode, where the services belong
     * to someone else (the containers). The count of checks then says how many really ran. */
    if (external_mode) return s;
    TCase *procs = tcase_create("processes");
    tcase_set_timeout(procs, 180);
    tcase_add_test(procs, sigterm_lets_request_in_flight_finish);
    tcase_add_test(procs, sigterm_grace_expiry_still_exits_0);
    tcase_add_test(procs, downstream_refused_and_timeout);
    tcase_add_test(procs, unconfigured_replica_fails_cleanly);
    tcase_add_test(procs, bad_settings_exit_2_and_help);
    tcase_add_test(procs, port_in_use_exits_1);
    tcase_add_test(procs, journal_survives_sigkill_and_torn_tail);
    tcase_add_test(procs, journal_corruption_before_the_end_refuses_to_start);
    suite_add_tcase(s, procs);
    return s;
}

/* Shared services, owned by main. */
static proc shared[3];
static const char *const shared_names[3] = {"inventory", "notification", "payment"};
static pid_t main_pid;

static void stop_shared(void) {
    if (getpid() != main_pid) return; /* a forked test exiting: the services are not its own */
    for (int i = 2; i >= 0; i--)
        if (shared[i].pid > 0) {
            support_proc_stop(shared[i].pid, SIGKILL, STOP_TIMEOUT_MS);
            shared[i].pid = 0;
        }
}

/* Starts the three services outside of Check (main is not a test: report and exit on failure). */
static int start_shared(void) {
    for (int i = 0; i < 3; i++) {
        char log[PATH_LEN], e1[160], e2[160];
        snprintf(log, sizeof log, "%s/%s.log", work_dir, shared_names[i]);
        const char *env[3] = {NULL, NULL, NULL};
        if (i == 2) {
            snprintf(e1, sizeof e1, "INVENTORY_SERVICE=%s", shared[0].url);
            snprintf(e2, sizeof e2, "NOTIFICATION_SERVICE=%s", shared[1].url);
            env[0] = e1;
            env[1] = e2;
        }
        snprintf(shared[i].log, sizeof shared[i].log, "%s", log);
        shared[i].pid = spawn(shared_names[i], env, log);
        if (shared[i].pid < 0) return -1;
        int status = -1;
        shared[i].port = wait_listening(shared[i].pid, log, &status);
        if (shared[i].port < 0) {
            char *text = support_read_file(log, NULL);
            fprintf(stderr, "check_e2e: %s-service did not start (exit %d):\n%s\n", shared_names[i], status,
                    text ? text : "");
            free(text);
            return -1;
        }
        snprintf(shared[i].url, sizeof shared[i].url, "http://127.0.0.1:%d", shared[i].port);
    }
    snprintf(inv_url, sizeof inv_url, "%s", shared[0].url);
    snprintf(ntf_url, sizeof ntf_url, "%s", shared[1].url);
    snprintf(pay_url, sizeof pay_url, "%s", shared[2].url);
    return 0;
}

static void on_fatal_signal(int sig) {
    stop_shared();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

/* rm -rf: children first, symbolic links not followed. */
static void remove_tree(const char *dir) {
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "check_e2e: cannot remove %s: %s\n", dir, strerror(errno));
}

int main(void) {
    main_pid = getpid();
    snprintf(nonce, sizeof nonce, "%d-%lld", (int)getpid(), (long long)time(NULL));
    snprintf(bin_dir, sizeof bin_dir, "%s", getenv("PC_BIN_DIR") ? getenv("PC_BIN_DIR") : "./bin");
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(work_dir, sizeof work_dir, "%s/pc-e2e-XXXXXX", tmp);
    if (!mkdtemp(work_dir)) {
        perror("mkdtemp");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *ep = getenv("PC_E2E_PAYMENT_URL"), *ei = getenv("PC_E2E_INVENTORY_URL"),
               *en = getenv("PC_E2E_NOTIFICATION_URL");
    if (ep && ei && en) {
        external_mode = 1;
        snprintf(pay_url, sizeof pay_url, "%s", ep);
        snprintf(inv_url, sizeof inv_url, "%s", ei);
        snprintf(ntf_url, sizeof ntf_url, "%s", en);
        printf(
            "check_e2e: external mode against %s, %s, %s (the 7 restart, journal and signal tests need their own "
            "processes and are not run)\n",
            ep, ei, en);
    } else {
        atexit(stop_shared);
        signal(SIGINT, on_fatal_signal);
        signal(SIGTERM, on_fatal_signal);
        if (start_shared() < 0) { /* the failing service's log is on stderr already */
            stop_shared();
            remove_tree(work_dir);
            return 1;
        }
        printf("check_e2e: services from %s: payment %s, inventory %s, notification %s (logs in %s)\n", bin_dir,
               pay_url, inv_url, ntf_url, work_dir);
    }
    fflush(stdout);

    int failed = support_run_suite(e2e_suite(), CK_ENV, 0); /* CK_VERBOSITY=verbose lists every test */

    /* A clean SIGTERM exit (status 0; under ASan also "no leaks") is part of the contract. */
    if (!external_mode) {
        for (int i = 2; i >= 0; i--) {
            int code = support_proc_stop(shared[i].pid, SIGTERM, STOP_TIMEOUT_MS);
            shared[i].pid = 0;
            if (code != 0) {
                char *text = support_read_file(shared[i].log, NULL);
                size_t n = text ? strlen(text) : 0;
                fprintf(stderr, "check_e2e: %s-service exited %d after SIGTERM; end of its log:\n%s\n", shared_names[i],
                        code, text ? text + (n > 4000 ? n - 4000 : 0) : "");
                free(text);
                failed++;
            }
        }
    }
    if (failed)
        fprintf(stderr, "check_e2e: logs kept in %s\n", work_dir);
    else
        remove_tree(work_dir);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
