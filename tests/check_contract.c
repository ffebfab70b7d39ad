/*
 * check_contract.c: the seed's wire contract, row by row, against the services.
 *
 * A client written for the seed (the Python/Flask demo this project reimplements: its test-chaos.sh, a
 * dashboard, a probe) depends on the status code of each valid request and on the names and JSON types of
 * the fields it gets back. The rows below are the seed's tables (docs/seed.md lists them, with the
 * intended differences), in the order a client would send them; each row says what the answer must carry:
 * "name:type" or "name:type=value" (alternatives split by '|', an empty value is ""), where a name may go
 * into an object ("inventory_check.name") or into every element of an array ("steps[].status"), and type
 * is string, int, float (a JSON number with a fraction: the seed's time.time() timestamps and latencies),
 * bool, array or object. Fields beyond these are ours and allowed.
 *
 * The same rows run against the three real binaries over HTTP (Content-Type checked too) and through the
 * simulator's runtime (tests/support/sim_probe), with one replica of each service and with two, so that
 * forwarding to an owner replica keeps the contract.
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/httpc.h"
#include "tests/support/proc.h"
#include "tests/support/sim_probe.h"
#include "tests/support/support.h"

#define J "application/json"
#define TS "timestamp:float"

typedef struct row {
    svc_peer target;
    const char *method;
    const char *path; /* "{pid}" and "{nid}": the payment and notification made by earlier rows */
    const char *body; /* NULL: no body; sent as JSON */
    int status;
    const char *fields; /* ';'-separated "name:type[=v1|v2]" ("{pid}"/"{nid}" substituted) */
} row;

static const row rows[] = {
    /* payment-service */
    {SVC_PAYMENT, "GET", "/health", NULL, 200, "status:string=healthy;service:string=payment-service;" TS},
    {SVC_PAYMENT, "HEAD", "/health", NULL, 200, ""},
    {SVC_PAYMENT, "GET", "/", NULL, 200, "message:string;version:string=1.0.0;endpoints:array;endpoints[]:string"},
    {SVC_PAYMENT, "POST", "/payment/process", "{\"amount\":100,\"product_id\":\"1\"}", 200,
     "payment_id:string;status:string=success;amount:int=100;currency:string=TRY;inventory_check:object;"
     "inventory_check.product_id:string=1;inventory_check.name:string=Laptop;inventory_check.available:bool;"
     "inventory_check.stock_count:int;inventory_check.price:int=15000;inventory_check.timestamp:float;"
     "processing_time_ms:float;" TS},
    {SVC_PAYMENT, "POST", "/payment/process", "{\"amount\":100,\"currency\":\"USD\",\"product_id\":\"1\"}", 200,
     "payment_id:string;status:string=success;amount:int=100;currency:string=USD;inventory_check:object;"
     "processing_time_ms:float;" TS},
    {SVC_PAYMENT, "POST", "/payment/process", "{\"amount\":12.5,\"currency\":\"EUR\",\"product_id\":\"2\"}", 200,
     "status:string=success;amount:float;currency:string=EUR;inventory_check.name:string=Telefon;" TS},
    {SVC_PAYMENT, "GET", "/payment/status/{pid}", NULL, 200,
     "payment_id:string={pid};status:string=completed|pending|processing;last_update:float"},
    {SVC_PAYMENT, "POST", "/payment/refund", "{\"payment_id\":\"{pid}\",\"amount\":30}", 200,
     "refund_id:string;original_payment_id:string={pid};amount:int=30;status:string=refunded;" TS},
    {SVC_PAYMENT, "POST", "/payment/validate", "{\"card_number\":\"4111111111111111\"}", 200,
     "valid:bool;card_type:string=visa;masked_number:string=****-****-****-1111;" TS},
    {SVC_PAYMENT, "POST", "/payment/validate", "{\"card_number\":\"5555 5555 5555 4444\"}", 200,
     "valid:bool;card_type:string=mastercard;masked_number:string=****-****-****-4444;" TS},
    {SVC_PAYMENT, "POST", "/payment/validate", "{\"card_number\":\"123\"}", 200,
     "valid:bool;card_type:string;masked_number:string=****;" TS},
    {SVC_PAYMENT, "POST", "/payment/validate", "{}", 200, "valid:bool;card_type:string;masked_number:string;" TS},
    {SVC_PAYMENT, "POST", "/payment/chain", "{\"product_id\":\"1\"}", 200,
     "steps:array;steps[].step:int;steps[].service:string=inventory|notification;steps[].status:string=success;"
     "steps[].latency_ms:float;overall_status:string=success;total_time_ms:float"},
    {SVC_PAYMENT, "POST", "/payment/chain", "{}", 200,
     "steps:array;steps[].status:string=success;overall_status:string=success;total_time_ms:float"},
    /* inventory-service */
    {SVC_INVENTORY, "GET", "/health", NULL, 200, "status:string=healthy;service:string=inventory-service;" TS},
    {SVC_INVENTORY, "HEAD", "/health", NULL, 200, ""},
    {SVC_INVENTORY, "GET", "/", NULL, 200, "message:string;version:string=1.0.0;endpoints:array"},
    {SVC_INVENTORY, "GET", "/check/1", NULL, 200,
     "product_id:string=1;name:string=Laptop;available:bool;stock_count:int;price:int=15000;" TS},
    {SVC_INVENTORY, "HEAD", "/check/3", NULL, 200, ""},
    {SVC_INVENTORY, "GET", "/check/999", NULL, 404, "product_id:string=999;available:bool=false;error:string"},
    {SVC_INVENTORY, "POST", "/reserve", "{\"product_id\":\"2\",\"quantity\":2}", 200,
     "reservation_id:string;product_id:string=2;quantity:int=2;status:string=reserved;" TS},
    {SVC_INVENTORY, "POST", "/reserve", "{\"product_id\":\"2\"}", 200,
     "reservation_id:string;product_id:string=2;quantity:int=1;status:string=reserved;" TS},
    {SVC_INVENTORY, "POST", "/reserve", "{\"product_id\":\"3\",\"quantity\":1000}", 400,
     "error:string;available:int=30"},
    {SVC_INVENTORY, "POST", "/reserve", "{\"product_id\":\"999\",\"quantity\":1}", 400, "error:string;available:int=0"},
    {SVC_INVENTORY, "GET", "/list", NULL, 200,
     "products:array;products[].id:string;products[].name:string;products[].stock:int;products[].price:int;" TS},
    /* notification-service */
    {SVC_NOTIFICATION, "GET", "/health", NULL, 200, "status:string=healthy;service:string=notification-service;" TS},
    {SVC_NOTIFICATION, "HEAD", "/health", NULL, 200, ""},
    {SVC_NOTIFICATION, "GET", "/", NULL, 200, "message:string;version:string=1.0.0;endpoints:array"},
    {SVC_NOTIFICATION, "POST", "/send", "{\"message\":\"hi\",\"type\":\"payment\",\"recipient\":\"ops\"}", 200,
     "id:string;message:string=hi;type:string=payment;recipient:string=ops;status:string=sent;" TS},
    {SVC_NOTIFICATION, "POST", "/send", "{}", 200,
     "id:string;message:string=;type:string=info;recipient:string=system;status:string=sent;" TS},
    {SVC_NOTIFICATION, "POST", "/send", "", 200, "id:string;message:string=;type:string=info;status:string=sent;" TS},
    {SVC_NOTIFICATION, "GET", "/history", NULL, 200,
     "notifications:array;notifications[].id:string;notifications[].message:string;notifications[].type:string;"
     "notifications[].recipient:string;notifications[].status:string=sent;notifications[].timestamp:float;"
     "total_count:int;" TS},
    {SVC_NOTIFICATION, "GET", "/status/{nid}", NULL, 200,
     "id:string={nid};message:string=hi;type:string=payment;recipient:string=ops;status:string=sent;" TS},
    {SVC_NOTIFICATION, "GET", "/status/NOT-00000", NULL, 404, "id:string=NOT-00000;status:string=not_found"},
};
#define ROWS ((int)(sizeof rows / sizeof rows[0]))

/* The seed's catalogue at start, as /list must show it. */
static const support_product *const catalogue = support_seed_catalogue;

typedef struct answer {
    int status;
    char *body;
    char ctype[128]; /* as support_resp.ctype */
} answer;

enum { HTTP_RUN, SIM_RUN, SIM2_RUN, RUNS };
static const char *const run_names[RUNS] = {"HTTP", "simulator (1 replica each)", "simulator (2 replicas each)"};
static answer answers[RUNS][ROWS];
static answer first_list[RUNS]; /* GET /list before any row, for the catalogue */
static int ran[RUNS];

/* ---- ids learned along the way ---- */

typedef struct ids {
    char pid[80], nid[80];
} ids;

static ids learned[RUNS]; /* each run's ids, for the rows' expected values */

static char *substitute(const char *text, const ids *v) {
    size_t n = strlen(text) + 256, o = 0;
    char *out = malloc(n);
    if (!out) abort();
    for (const char *p = text; *p && o < n - 90;) {
        if (!strncmp(p, "{pid}", 5) || !strncmp(p, "{nid}", 5)) {
            o += (size_t)snprintf(out + o, n - o, "%s", p[1] == 'p' ? v->pid : v->nid);
            p += 5;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return out;
}

static void learn(const row *r, const answer *a, ids *v) {
    json_t *doc = a->body ? json_loads(a->body, 0, NULL) : NULL;
    const char *pid = json_string_value(json_object_get(doc, "payment_id"));
    const char *nid = json_string_value(json_object_get(doc, "id"));
    if (r->target == SVC_PAYMENT && !strcmp(r->path, "/payment/process") && pid && !v->pid[0])
        snprintf(v->pid, sizeof v->pid, "%s", pid);
    if (r->target == SVC_NOTIFICATION && !strcmp(r->path, "/send") && nid && !v->nid[0])
        snprintf(v->nid, sizeof v->nid, "%s", nid);
    json_decref(doc);
}

/* ---- checking one answer against its row ---- */

static int type_ok(json_t *v, const char *type) {
    if (!strcmp(type, "string")) return json_is_string(v);
    if (!strcmp(type, "int")) return json_is_integer(v);
    if (!strcmp(type, "float")) return json_is_real(v);
    if (!strcmp(type, "bool")) return json_is_boolean(v);
    if (!strcmp(type, "array")) return json_is_array(v);
    if (!strcmp(type, "object")) return json_is_object(v);
    return 0;
}

/* Whether v's text ("true", "30", "hi") is one of the '|'-separated alternatives. */
static int value_ok(json_t *v, const char *want) {
    char have[256];
    if (json_is_string(v))
        snprintf(have, sizeof have, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(have, sizeof have, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(have, sizeof have, "%s", json_is_true(v) ? "true" : "false");
    else
        return 0;
    for (const char *p = want;;) {
        size_t n = strcspn(p, "|");
        if (strlen(have) == n && !strncmp(have, p, n)) return 1;
        if (!p[n]) return 0;
        p += n + 1;
    }
}

/* Checks one "path:type[=values]" against doc; on failure writes why into err. */
static int check_field(json_t *doc, const char *spec, char *err, size_t errlen) {
    char path[160], type[16];
    const char *colon = strchr(spec, ':'), *eq = strchr(spec, '=');
    if (!colon || (eq && eq < colon)) {
        snprintf(err, errlen, "bad row spec '%s'", spec);
        return 0;
    }
    snprintf(path, sizeof path, "%.*s", (int)(colon - spec), spec);
    snprintf(type, sizeof type, "%.*s", (int)((eq ? eq : colon + strlen(colon)) - colon - 1), colon + 1);
    /* "a[]" or "a[].b": every element of array a (there must be one) */
    char *brackets = strstr(path, "[]");
    if (brackets) {
        *brackets = '\0';
        json_t *arr = json_object_get(doc, path);
        if (!json_is_array(arr) || json_array_size(arr) == 0) {
            snprintf(err, errlen, "%s: not a non-empty array", path);
            return 0;
        }
        size_t i;
        json_t *item;
        json_array_foreach(arr, i, item) {
            char sub[200];
            const char *rest = brackets[2] == '.' ? brackets + 3 : "";
            json_t *wrap = json_pack("{s:O}", "item", item);
            snprintf(sub, sizeof sub, "item%s%s%s", *rest ? "." : "", rest, spec + (colon - spec));
            int ok = check_field(wrap, sub, err, errlen);
            json_decref(wrap);
            if (!ok) {
                size_t len = strlen(err);
                snprintf(err + len, errlen - len, " (element %zu of %s)", i, path);
                return 0;
            }
        }
        return 1;
    }
    json_t *v = doc;
    for (char *part = path, *dot; v && part; part = dot ? dot + 1 : NULL) {
        dot = strchr(part, '.');
        if (dot) *dot = '\0';
        v = json_object_get(v, part);
    }
    if (!v) {
        snprintf(err, errlen, "%.*s: missing", (int)(colon - spec), spec);
        return 0;
    }
    if (!type_ok(v, type)) {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(err, errlen, "%.*s: %s is not a JSON %s", (int)(colon - spec), spec, text ? text : "?", type);
        free(text);
        return 0;
    }
    if (eq && !value_ok(v, eq + 1)) {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(err, errlen, "%.*s: %s, expected %s", (int)(colon - spec), spec, text ? text : "?", eq + 1);
        free(text);
        return 0;
    }
    return 1;
}

static void check_row(int run, int i) {
    const row *r = &rows[i];
    const answer *a = &answers[run][i];
    ck_assert_msg(ran[run], "%s: the services did not start", run_names[run]);
    ck_assert_msg(a->status == r->status, "%s, row %d %s %s: status %d, expected %d: %.300s", run_names[run], i,
                  r->method, r->path, a->status, r->status, a->body ? a->body : "");
    if (!strcmp(r->method, "HEAD")) {
        ck_assert_msg(!a->body || !a->body[0], "%s: HEAD %s has a body", run_names[run], r->path);
        return;
    }
    if (run == HTTP_RUN)
        ck_assert_msg(!strncasecmp(a->ctype, J, strlen(J)), "row %d %s %s: Content-Type '%s'", i, r->method, r->path,
                      a->ctype);
    json_error_t jerr;
    json_t *doc = a->body ? json_loads(a->body, 0, &jerr) : NULL;
    ck_assert_msg(json_is_object(doc), "%s, row %d %s %s: not a JSON object: %.300s", run_names[run], i, r->method,
                  r->path, a->body ? a->body : "");
    char *fields = substitute(r->fields, &learned[run]);
    char *save = NULL;
    for (char *spec = strtok_r(fields, ";", &save); spec; spec = strtok_r(NULL, ";", &save)) {
        char err[512];
        int ok = check_field(doc, spec, err, sizeof err);
        ck_assert_msg(ok, "%s, row %d %s %s: %s\n  answer: %.400s", run_names[run], i, r->method, r->path, err,
                      a->body);
    }
    free(fields);
    json_decref(doc);
}

/* ---- HTTP: the three binaries on loopback ---- */

static pid_t children[3];
static char base_url[3][64];

static int http_do(const char *base, const char *method, const char *path, const char *body, answer *a) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    const char *const headers[] = {body ? "Content-Type: " J : "Content-Type:", NULL};
    support_resp r = support_http(&(support_req){.method = method,
                                                 .url = url,
                                                 .body = body,
                                                 .body_len = body ? strlen(body) : 0,
                                                 .headers = headers,
                                                 .timeout_ms = 20000});
    a->status = (int)r.status;
    snprintf(a->ctype, sizeof a->ctype, "%s", r.ctype);
    a->body = r.body; /* the answer keeps it */
    return r.rc == CURLE_OK ? 0 : -1;
}

static void start_services(const char *bin_dir) {
    int ports[3] = {support_free_port(), support_free_port(), support_free_port()};
    static const char *const names[3] = {"payment-service", "inventory-service", "notification-service"};
    for (int i = 0; i < 3; i++) snprintf(base_url[i], sizeof base_url[i], "http://127.0.0.1:%d", ports[i]);
    for (int i = 0; i < 3; i++) {
        char e0[64], e1[96], e2[96], e3[96], path[512];
        snprintf(e0, sizeof e0, "PORT=%d", ports[i]);
        snprintf(e1, sizeof e1, "PAYMENT_SERVICE=%s", base_url[0]);
        snprintf(e2, sizeof e2, "INVENTORY_SERVICE=%s", base_url[1]);
        snprintf(e3, sizeof e3, "NOTIFICATION_SERVICE=%s", base_url[2]);
        const char *const env[] = {e0, e1, e2, e3, "LOG_LEVEL=off", "BIND_ADDRESS=127.0.0.1", NULL};
        snprintf(path, sizeof path, "%s/%s", bin_dir, names[i]);
        children[i] = support_proc_start(&(support_cmd){.path = path, .env = env});
    }
}

static int wait_ready(void) {
    for (int i = 0; i < 3; i++) {
        int ok = 0;
        for (int t = 0; t < 200 && !ok; t++) {
            answer a = {0};
            ok = http_do(base_url[i], "GET", "/ready", NULL, &a) == 0 && a.status == 200;
            free(a.body);
            if (!ok) nanosleep(&(struct timespec){0, 50000000}, NULL);
        }
        if (!ok) return -1;
    }
    return 0;
}

static void run_http(const char *bin_dir) {
    start_services(bin_dir);
    if (wait_ready() == 0) {
        ran[HTTP_RUN] = 1;
        http_do(base_url[SVC_INVENTORY], "GET", "/list", NULL, &first_list[HTTP_RUN]);
        ids v = {{0}, {0}};
        for (int i = 0; i < ROWS; i++) {
            char *path = substitute(rows[i].path, &v), *body = rows[i].body ? substitute(rows[i].body, &v) : NULL;
            http_do(base_url[rows[i].target], rows[i].method, path, body, &answers[HTTP_RUN][i]);
            learn(&rows[i], &answers[HTTP_RUN][i], &v);
            free(path);
            free(body);
        }
        learned[HTTP_RUN] = v;
    }
    for (int i = 0; i < 3; i++) support_proc_stop(children[i], SIGTERM, 10000);
}

/* ---- the simulator's runtime ---- */

static void sim_do(sim_probe *p, svc_peer target, const char *method, const char *path, const char *body, answer *a) {
    sim_probe_answer pa;
    sim_probe_request(p, target, method, path, body ? J : NULL, NULL, body, body ? strlen(body) : 0, &pa);
    a->status = pa.status;
    a->body = pa.body;
}

static void run_sim(int run, int replicas) {
    sim_probe *p = sim_probe_new(11, replicas);
    ran[run] = p != NULL;
    if (!p) return;
    sim_do(p, SVC_INVENTORY, "GET", "/list", NULL, &first_list[run]);
    ids v = {{0}, {0}};
    for (int i = 0; i < ROWS; i++) {
        char *path = substitute(rows[i].path, &v), *body = rows[i].body ? substitute(rows[i].body, &v) : NULL;
        sim_do(p, rows[i].target, rows[i].method, path, body, &answers[run][i]);
        learn(&rows[i], &answers[run][i], &v);
        free(path);
        free(body);
    }
    learned[run] = v;
    sim_probe_free(p);
}

/* ---- tests ---- */

START_TEST(http_rows) { check_row(HTTP_RUN, _i); }
END_TEST

START_TEST(sim_rows) { check_row(SIM_RUN, _i); }
END_TEST

START_TEST(sim2_rows) { check_row(SIM2_RUN, _i); }
END_TEST

/* The catalogue at start is the seed's, names in UTF-8, in every run. */
START_TEST(seed_catalogue) {
    int run = _i;
    ck_assert_msg(ran[run], "%s: the services did not start", run_names[run]);
    json_t *doc = first_list[run].body ? json_loads(first_list[run].body, 0, NULL) : NULL;
    json_t *products = json_object_get(doc, "products");
    ck_assert_msg(json_array_size(products) == 5, "%s: /list: %.300s", run_names[run], first_list[run].body);
    for (size_t i = 0; i < 5; i++) {
        json_t *p = json_array_get(products, i);
        ck_assert_str_eq(json_string_value(json_object_get(p, "id")), catalogue[i].id);
        ck_assert_str_eq(json_string_value(json_object_get(p, "name")), catalogue[i].name);
        ck_assert_int_eq(json_integer_value(json_object_get(p, "stock")), catalogue[i].stock);
        ck_assert_int_eq(json_integer_value(json_object_get(p, "price")), catalogue[i].price);
    }
    json_decref(doc);
}
END_TEST

/* The rows themselves must be able to fail: a spec the parser does not understand, or a wrong type or
 * value, is reported. */
START_TEST(checker_rejects) {
    json_t *doc = json_loads("{\"a\":1,\"b\":1.5,\"s\":\"x\",\"l\":[{\"k\":true}],\"o\":{\"t\":\"y\"}}", 0, NULL);
    char err[256];
    ck_assert(check_field(doc, "a:int=1", err, sizeof err));
    ck_assert(check_field(doc, "b:float", err, sizeof err));
    ck_assert(check_field(doc, "l[].k:bool=true", err, sizeof err));
    ck_assert(check_field(doc, "o.t:string=x|y", err, sizeof err));
    ck_assert(!check_field(doc, "a:float", err, sizeof err));
    ck_assert(!check_field(doc, "b:int", err, sizeof err));
    ck_assert(!check_field(doc, "s:string=z", err, sizeof err));
    ck_assert(!check_field(doc, "l[].k:bool=false", err, sizeof err));
    ck_assert(!check_field(doc, "o.u:string", err, sizeof err));
    ck_assert(!check_field(doc, "missing:int", err, sizeof err));
    ck_assert(!check_field(doc, "s[]:string", err, sizeof err));
    ck_assert(!check_field(doc, "no type", err, sizeof err));
    json_decref(doc);
}
END_TEST

int main(void) {
    const char *bin_dir = getenv("PC_BIN_DIR") ? getenv("PC_BIN_DIR") : "bin";
    curl_global_init(CURL_GLOBAL_NOTHING);
    run_http(bin_dir);
    run_sim(SIM_RUN, 1);
    run_sim(SIM2_RUN, 2);
    Suite *su = suite_create("contract");
    TCase *t = tcase_create("seed-rows");
    tcase_add_loop_test(t, http_rows, 0, ROWS);
    tcase_add_loop_test(t, sim_rows, 0, ROWS);
    tcase_add_loop_test(t, sim2_rows, 0, ROWS);
    tcase_add_loop_test(t, seed_catalogue, 0, RUNS);
    tcase_add_test(t, checker_rejects);
    suite_add_tcase(su, t);
    int failed = support_run_suite(su, CK_NORMAL, 0);
    for (int r = 0; r < RUNS; r++) {
        free(first_list[r].body);
        for (int i = 0; i < ROWS; i++) free(answers[r][i].body);
    }
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
