/*
 * check_parity.c: the services behave the same inside the simulator as under the HTTP runtime.
 *
 * One script of requests (every route, success and error cases, stateful steps such as "refund the payment
 * just made") runs against the three real binaries over HTTP and against a simulated cluster with one
 * replica each. Status codes, Allow headers and bodies must be equal once the values that are random or
 * time-dependent by nature (ids, timestamps, latencies) are replaced by placeholders.
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/httpc.h"
#include "tests/support/proc.h"
#include "tests/support/sim_probe.h"
#include "tests/support/support.h"

#define STOP_TIMEOUT_MS 15000

typedef struct step {
    svc_peer target;
    const char *method;
    const char *path;  /* "{pid}" and "{nid}" are replaced by ids returned earlier */
    const char *ctype; /* NULL: no Content-Type */
    const char *key;
    const char *body; /* "{pid}" replaced too; "BIG" means 70 KiB */
} step;

#define J "application/json"
static const step script[] = {
    {SVC_PAYMENT, "GET", "/", NULL, NULL, NULL},
    {SVC_INVENTORY, "GET", "/", NULL, NULL, NULL},
    {SVC_NOTIFICATION, "GET", "/", NULL, NULL, NULL},
    {SVC_PAYMENT, "GET", "/ready", NULL, NULL, NULL},
    {SVC_INVENTORY, "GET", "/list", NULL, NULL, NULL},
    {SVC_INVENTORY, "GET", "/check/1", NULL, NULL, NULL},
    {SVC_INVENTORY, "GET", "/check/999", NULL, NULL, NULL},
    {SVC_INVENTORY, "POST", "/reserve", J, NULL, "{\"product_id\":\"2\",\"quantity\":3,\"reservation_id\":\"r-1\"}"},
    {SVC_INVENTORY, "POST", "/reserve", J, NULL, "{\"product_id\":\"2\",\"quantity\":3,\"reservation_id\":\"r-1\"}"},
    {SVC_INVENTORY, "POST", "/reserve", J, NULL, "{\"product_id\":\"2\",\"quantity\":4,\"reservation_id\":\"r-1\"}"},
    {SVC_INVENTORY, "POST", "/reserve", J, NULL, "{\"product_id\":\"3\",\"quantity\":1000}"},
    {SVC_INVENTORY, "POST", "/release", J, NULL, "{\"reservation_id\":\"r-1\",\"product_id\":\"2\"}"},
    {SVC_INVENTORY, "POST", "/release", J, NULL, "{\"reservation_id\":\"r-1\",\"product_id\":\"2\"}"},
    {SVC_INVENTORY, "POST", "/reserve", J, NULL, "{\"product_id\":\"2\",\"quantity\":1,\"reservation_id\":\"r-1\"}"},
    {SVC_NOTIFICATION, "POST", "/send", J, NULL, "{\"message\":\"hello\",\"type\":\"info\",\"recipient\":\"a\"}"},
    {SVC_NOTIFICATION, "GET", "/status/{nid}", NULL, NULL, NULL},
    {SVC_NOTIFICATION, "GET", "/status/ntf-0-0000000000000000", NULL, NULL, NULL},
    {SVC_NOTIFICATION, "POST", "/send", J, NULL, "{\"type\":\"info\"}"},
    {SVC_PAYMENT, "POST", "/payment/process", J, NULL, "{\"amount\":100,\"currency\":\"USD\",\"product_id\":\"1\"}"},
    {SVC_PAYMENT, "GET", "/payment/status/{pid}", NULL, NULL, NULL},
    {SVC_PAYMENT, "POST", "/payment/refund", J, NULL, "{\"payment_id\":\"{pid}\",\"amount\":30.5}"},
    {SVC_PAYMENT, "POST", "/payment/refund", J, NULL, "{\"payment_id\":\"{pid}\",\"amount\":80}"},
    {SVC_PAYMENT, "POST", "/payment/refund", J, NULL, "{\"payment_id\":\"{pid}\"}"},
    {SVC_PAYMENT, "GET", "/payment/status/{pid}", NULL, NULL, NULL},
    {SVC_PAYMENT, "GET", "/payment/status/pay-0-0000000000000000", NULL, NULL, NULL},
    {SVC_PAYMENT, "POST", "/payment/process", J, NULL, "{\"amount\":0,\"product_id\":\"1\"}"},
    {SVC_PAYMENT, "POST", "/payment/process", J, NULL, "{\"amount\":1.001,\"product_id\":\"1\"}"},
    {SVC_PAYMENT, "POST", "/payment/process", J, NULL, "{\"amount\":10,\"currency\":\"usd\",\"product_id\":\"1\"}"},
    {SVC_PAYMENT, "POST", "/payment/process", J, NULL, "{\"amount\":10,\"product_id\":\"999\"}"},
    {SVC_PAYMENT, "POST", "/payment/process", J, NULL, "{\"amount\":10,\"product_id\":\"3\",\"quantity\":31}"},
    {SVC_PAYMENT, "POST", "/payment/process", J, "k-1", "{\"amount\":12.5,\"product_id\":\"4\"}"},
    {SVC_PAYMENT, "POST", "/payment/process", J, "k-1", "{\"amount\":12.5,\"product_id\":\"4\"}"},
    {SVC_PAYMENT, "POST", "/payment/process", J, "k-1", "{\"amount\":13,\"product_id\":\"4\"}"},
    {SVC_PAYMENT, "POST", "/payment/validate", J, NULL, "{\"card_number\":\"4111 1111 1111 1111\"}"},
    {SVC_PAYMENT, "POST", "/payment/validate", J, NULL, "{\"card_number\":\"4111 1111 1111 1112\"}"},
    {SVC_PAYMENT, "POST", "/payment/validate", J, NULL, "{\"card_number\":\"abc\"}"},
    {SVC_PAYMENT, "POST", "/payment/chain", J, NULL, "{\"product_id\":\"1\"}"},
    {SVC_PAYMENT, "GET", "/nope", NULL, NULL, NULL},
    {SVC_PAYMENT, "DELETE", "/payment/process", NULL, NULL, NULL},
    {SVC_PAYMENT, "POST", "/payment/process", NULL, NULL, "{\"amount\":1,\"product_id\":\"1\"}"},
    {SVC_PAYMENT, "POST", "/payment/process", "text/plain", NULL, "{\"amount\":1,\"product_id\":\"1\"}"},
    {SVC_PAYMENT, "POST", "/payment/process", J, NULL, "{\"amount\":1,"},
    {SVC_PAYMENT, "POST", "/payment/process", J, NULL, "{\"amount\":1,\"amount\":2}"},
    {SVC_PAYMENT, "POST", "/payment/process", J, NULL, "BIG"},
    {SVC_INVENTORY, "GET", "/list", NULL, NULL, NULL},
    {SVC_NOTIFICATION, "GET", "/history", NULL, NULL, NULL},
};
#define STEPS ((int)(sizeof script / sizeof script[0]))

typedef struct answer {
    int status;
    char allow[128];
    char *body;
} answer;

static answer http_answers[STEPS], sim_answers[STEPS];
static int have_http;

/* ---- id substitution and normalisation ---- */

typedef struct ids {
    char pid[80], nid[80];
} ids;

static char *substitute(const char *text, const ids *v) {
    size_t n = strlen(text) + 256;
    char *out = malloc(n);
    size_t o = 0;
    for (const char *p = text; *p && o < n - 90;) {
        if (!strncmp(p, "{pid}", 5)) {
            o += (size_t)snprintf(out + o, n - o, "%s", v->pid);
            p += 5;
        } else if (!strncmp(p, "{nid}", 5)) {
            o += (size_t)snprintf(out + o, n - o, "%s", v->nid);
            p += 5;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return out;
}

static void learn(const answer *a, svc_peer target, ids *v) {
    json_t *doc = a->body ? json_loads(a->body, 0, NULL) : NULL;
    const char *pid = json_string_value(json_object_get(doc, "payment_id"));
    const char *nid = json_string_value(json_object_get(doc, "id"));
    if (pid && target == SVC_PAYMENT && a->status == 201 && !v->pid[0]) snprintf(v->pid, sizeof v->pid, "%s", pid);
    if (nid && target == SVC_NOTIFICATION && a->status == 201) snprintf(v->nid, sizeof v->nid, "%s", nid);
    json_decref(doc);
}

static const char *const volatile_keys[] = {"payment_id",
                                            "reservation_id",
                                            "refund_id",
                                            "id",
                                            "notification_id",
                                            "original_payment_id",
                                            "created_at_ms",
                                            "timestamp_ms",
                                            "uptime_s",
                                            "processing_time_ms",
                                            "latency_ms",
                                            "total_time_ms",
                                            "remaining",
                                            "stock_count",
                                            "available",
                                            "total_count",
                                            NULL};

static void scrub(json_t *v) {
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            int vol = 0;
            for (int i = 0; volatile_keys[i]; i++) vol |= !strcmp(k, volatile_keys[i]);
            if (vol)
                json_object_set_new(v, k, json_string("<volatile>"));
            else
                scrub(x);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) scrub(x);
    } else if (json_is_string(v)) {
        /* ids quoted inside messages: 32 hex digits from the HTTP runtime (128 random bits), 16 from the
         * simulator (its seeded 64-bit streams) */
        regex_t re;
        regcomp(&re, "[a-z]{3}-[0-9]+-[0-9a-f]{16}([0-9a-f]{16})?", REG_EXTENDED);
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
        regmatch_t m;
        while (regexec(&re, buf, 1, &m, 0) == 0) {
            char tmp[1024];
            snprintf(tmp, sizeof tmp, "%.*s<id>%s", (int)m.rm_so, buf, buf + m.rm_eo);
            snprintf(buf, sizeof buf, "%s", tmp);
        }
        regfree(&re);
        json_string_set(v, buf);
    }
}

static char *normal(const char *body) {
    json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
    if (!doc) return strdup(body ? body : "");
    scrub(doc);
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    return s;
}

/* ---- the real binaries ---- */

static char base_url[3][64];
static int stop_codes[3] = {-1, -1, -1}; /* each binary's exit status after SIGTERM */

/* Runs step s against the service at url (path and body already substituted) and records the answer
 * (a->status is 0 when the exchange failed). */
static void http_do(const char *url, const step *s, const char *path, const char *body, size_t body_len, answer *a) {
    char full[512], ct[96], key[96];
    snprintf(full, sizeof full, "%s%s", url, path);
    const char *headers[3] = {NULL, NULL, NULL};
    int n = 0;
    if (s->ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", s->ctype);
        headers[n++] = ct;
    } else {
        headers[n++] = "Content-Type:"; /* none at all, not curl's form type */
    }
    if (s->key) {
        snprintf(key, sizeof key, "Idempotency-Key: %s", s->key);
        headers[n++] = key;
    }
    support_resp r = support_http(&(support_req){
        .method = s->method, .url = full, .body = body, .body_len = body_len, .headers = headers, .timeout_ms = 20000});
    a->status = (int)r.status;
    snprintf(a->allow, sizeof a->allow, "%s", r.allow);
    a->body = r.body; /* the answer keeps it */
}

static void body_for(const step *s, const ids *v, char **body, size_t *len) {
    *body = NULL;
    *len = 0;
    if (!s->body) return;
    if (!strcmp(s->body, "BIG")) {
        *len = 70 * 1024;
        *body = malloc(*len + 1);
        memset(*body, ' ', *len);
        (*body)[0] = '{';
        (*body)[*len - 1] = '}';
        (*body)[*len] = '\0';
        return;
    }
    *body = substitute(s->body, v);
    *len = strlen(*body);
}

/* Starts the three binaries on free loopback ports, wired to each other; 0 once each answers /ready
 * (bounded), -1 otherwise. */
static int start_services(const char *bin_dir, pid_t children[3]) {
    int ports[3] = {support_free_port(), support_free_port(), support_free_port()};
    for (int i = 0; i < 3; i++) snprintf(base_url[i], sizeof base_url[i], "http://127.0.0.1:%d", ports[i]);
    static const char *names[3] = {"payment-service", "inventory-service", "notification-service"};
    for (int i = 0; i < 3; i++) {
        char path[512], e0[64], e1[96], e2[96], e3[96];
        snprintf(path, sizeof path, "%s/%s", bin_dir, names[i]);
        snprintf(e0, sizeof e0, "PORT=%d", ports[i]);
        snprintf(e1, sizeof e1, "PAYMENT_SERVICE=%s", base_url[0]);
        snprintf(e2, sizeof e2, "INVENTORY_SERVICE=%s", base_url[1]);
        snprintf(e3, sizeof e3, "NOTIFICATION_SERVICE=%s", base_url[2]);
        const char *env[] = {e0, e1, e2, e3, "LOG_LEVEL=off", "BIND_ADDRESS=127.0.0.1", NULL};
        children[i] = support_proc_start(&(support_cmd){.path = path, .env = env}); /* stderr: /dev/null */
        if (children[i] < 0) return -1;
    }
    for (int i = 0; i < 3; i++) {
        char url[256];
        snprintf(url, sizeof url, "%s/ready", base_url[i]);
        int ok = 0;
        for (int t = 0; t < 200 && !ok; t++) {
            support_resp r = support_get(url);
            ok = r.status == 200;
            support_resp_free(&r);
            if (!ok) support_sleep_ms(50);
        }
        if (!ok) return -1;
    }
    return 0;
}

/* The script against the real binaries, then SIGTERM (exit statuses in stop_codes); 0, or -1 when they did
 * not start. */
static int run_http(const char *bin_dir) {
    pid_t children[3] = {-1, -1, -1};
    int rc = start_services(bin_dir, children);
    ids v = {{0}, {0}};
    for (int i = 0; i < STEPS && rc == 0; i++) {
        const step *s = &script[i];
        char *path = substitute(s->path, &v), *body;
        size_t len;
        body_for(s, &v, &body, &len);
        http_do(base_url[s->target], s, path, body, len, &http_answers[i]);
        learn(&http_answers[i], s->target, &v);
        free(path);
        free(body);
    }
    for (int i = 0; i < 3; i++) stop_codes[i] = support_proc_stop(children[i], SIGTERM, STOP_TIMEOUT_MS);
    return rc;
}

static void run_sim(void) {
    sim_probe *p = sim_probe_new(7, 1);
    ids v = {{0}, {0}};
    for (int i = 0; i < STEPS; i++) {
        const step *s = &script[i];
        char *path = substitute(s->path, &v), *body;
        size_t len;
        body_for(s, &v, &body, &len);
        sim_probe_answer pa;
        sim_probe_request(p, s->target, s->method, path, s->ctype, s->key, body, len, &pa);
        sim_answers[i].status = pa.status;
        sim_answers[i].body = pa.body;
        snprintf(sim_answers[i].allow, sizeof sim_answers[i].allow, "%s", pa.allow);
        learn(&sim_answers[i], s->target, &v);
        free(path);
        free(body);
    }
    sim_probe_free(p);
}

START_TEST(same_answers) {
    ck_assert_msg(have_http, "the real services did not start");
    int i = _i;
    const step *s = &script[i];
    char *a = normal(http_answers[i].body), *b = normal(sim_answers[i].body);
    ck_assert_msg(http_answers[i].status == sim_answers[i].status, "step %d %s %s: HTTP %d, simulator %d", i, s->method,
                  s->path, http_answers[i].status, sim_answers[i].status);
    ck_assert_msg(!strcmp(http_answers[i].allow, sim_answers[i].allow), "step %d: Allow '%s' vs '%s'", i,
                  http_answers[i].allow, sim_answers[i].allow);
    if (strcmp(s->path, "/metrics") != 0)
        ck_assert_msg(!strcmp(a, b), "step %d %s %s: bodies differ\n  http: %s\n  sim:  %s", i, s->method, s->path, a,
                      b);
    free(a);
    free(b);
}
END_TEST

START_TEST(services_exit_0_on_sigterm) {
    ck_assert_msg(have_http, "the real services did not start");
    for (int i = 0; i < 3; i++)
        ck_assert_msg(stop_codes[i] == 0, "service %d exited %d after SIGTERM", i, stop_codes[i]);
}
END_TEST

START_TEST(script_exercises_errors) {
    /* the script is only useful if it reaches the error paths: count distinct statuses */
    int seen[600] = {0}, distinct = 0;
    for (int i = 0; i < STEPS; i++) {
        int st = sim_answers[i].status;
        if (st > 0 && st < 600 && !seen[st]++) distinct++;
    }
    ck_assert_int_ge(distinct, 9); /* 200 201 400 404 405 409 413 415 422 */
}
END_TEST

int main(void) {
    const char *bin_dir = getenv("PC_BIN_DIR") ? getenv("PC_BIN_DIR") : "bin";
    curl_global_init(CURL_GLOBAL_NOTHING);
    have_http = run_http(bin_dir) == 0;
    run_sim();
    Suite *su = suite_create("parity");
    TCase *t = tcase_create("sim-vs-http");
    tcase_add_loop_test(t, same_answers, 0, STEPS);
    tcase_add_test(t, script_exercises_errors);
    tcase_add_test(t, services_exit_0_on_sigterm);
    suite_add_tcase(su, t);
    int failed = support_run_suite(su, CK_NORMAL, 0);
    for (int i = 0; i < STEPS; i++) {
        free(http_answers[i].body);
        free(sim_answers[i].body);
    }
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
