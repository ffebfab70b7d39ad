/*
 * load.c: open- and closed-loop clients and their request records (see load.h).
 */
#include "sim/load/load.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kinds.h"
#include "base/rng.h"
#include "base/units.h"
#include "services/core/jsonr.h"
#include "services/core/shell.h"
#include "services/core/text.h"

typedef struct load_req load_req;

struct sim_load {
    sim_cluster *cl;
    load_config cfg;
    pc_rng arrivals, choices;
    sim_host *host;
    sim_http_client *client;
    sim_req_record *recs;
    size_t nrecs, caprecs;
    sim_acked_payment *acked;
    size_t nacked, capacked;
    size_t duplicates;
    uint64_t next_key;
    int inflight;
    load_req *live; /* requests in flight or waiting to retry, for freeing */
};

struct load_req {
    sim_load *l;
    int client; /* closed-loop client index, or -1 */
    sim_req_record rec;
    char key[48];
    char product[16];
    sim_event_id retry;
    load_req *prev, *next;
};

static const char *const workload_names[] = {"chain", "process", "custom"};
const char *load_workload_name(load_workload w) { return workload_names[w]; }

void load_config_defaults(load_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->workload = LOAD_CHAIN;
    cfg->rate_per_s = 10;
    cfg->clients = 4;
    cfg->keepalive = 0;
    cfg->timeout_ns = 35 * SEC; /* two chain steps of 15 s each, and some margin */
    snprintf(cfg->method, sizeof cfg->method, "POST");
    snprintf(cfg->path, sizeof cfg->path, "/payment/chain");
    snprintf(cfg->body, sizeof cfg->body, "{\"product_id\":\"1\"}");
    cfg->client_retries = 0;
    cfg->client_backoff_ns = 500 * MS;
    cfg->products = 5;
    cfg->burst_at_ns = 1 * SEC;
}

sim_load *load_new(sim_cluster *c, const load_config *cfg, uint64_t seed) {
    sim_load *l = calloc(1, sizeof *l);
    if (!l) abort();
    l->cl = c;
    l->cfg = *cfg;
    pc_rng_init(&l->arrivals, seed, "client/arrivals");
    pc_rng_init(&l->choices, seed, "client/choices");
    l->host = net_add_host(cluster_net(c), "client", LOAD_CLIENT_ADDR, l);
    sim_http_client_config hc;
    sim_http_client_config_defaults(&hc);
    hc.keepalive = cfg->keepalive;
    hc.max_idle = 1024;
    l->client = sim_http_client_new(cluster_net(c), l->host, &hc);
    return l;
}

void load_free(sim_load *l) {
    if (!l) return;
    sim_http_client_free(l->client);
    while (l->live) {
        load_req *r = l->live;
        l->live = r->next;
        free(r);
    }
    free(l->recs);
    free(l->acked);
    free(l);
}

size_t load_record_count(const sim_load *l) { return l->nrecs; }
const sim_req_record *load_records(const sim_load *l) { return l->recs; }
size_t load_acked_count(const sim_load *l) { return l->nacked; }
const sim_acked_payment *load_acked(const sim_load *l) { return l->acked; }
size_t load_duplicate_acks(const sim_load *l) { return l->duplicates; }
int load_inflight(const sim_load *l) { return l->inflight; }
const load_config *load_get_config(const sim_load *l) { return &l->cfg; }

static sim_engine *E(sim_load *l) { return cluster_engine(l->cl); }

static void req_unlink(load_req *r) {
    sim_load *l = r->l;
    if (r->prev)
        r->prev->next = r->next;
    else
        l->live = r->next;
    if (r->next) r->next->prev = r->prev;
}

static void record(sim_load *l, const sim_req_record *rec) {
    if (l->nrecs == l->caprecs) {
        l->caprecs = l->caprecs ? l->caprecs * 2 : 4096;
        l->recs = realloc(l->recs, l->caprecs * sizeof *l->recs);
        if (!l->recs) abort();
    }
    l->recs[l->nrecs++] = *rec;
}

/* Finds `"key":` in a compact JSON text (our own services' output) and returns what follows, or NULL.
 * It hops from colon to colon (one per field; quotes are four per string field). */
static const char *field_after(const char *from, const char *end, const char *key) {
    size_t klen = strlen(key);
    for (const char *c = from + klen + 2; c < end && (c = memchr(c, ':', (size_t)(end - c))) != NULL; c++) {
        if (c[-1] == '"' && c[-2 - (ptrdiff_t)klen] == '"' && !memcmp(c - 1 - klen, key, klen)) return c + 1;
    }
    return NULL;
}

const char *sim_fail_cause_name(sim_fail_cause c) {
    static const char *const names[SIM_CAUSE_COUNT] = {"", "timeout", "reset", "refused", "HTTP error", "other"};
    return c < SIM_CAUSE_COUNT ? names[c] : "other";
}

sim_fail_cause sim_step_error_cause(const char *error, size_t len) {
    if (len == 7 && !memcmp(error, "timeout", 7)) return SIM_CAUSE_TIMEOUT;
    if (len == 5 && !memcmp(error, "reset", 5)) return SIM_CAUSE_RESET;
    if (len == 7 && !memcmp(error, "refused", 7)) return SIM_CAUSE_REFUSED;
    if (len > 5 && !memcmp(error, "HTTP ", 5)) return SIM_CAUSE_HTTP;
    return SIM_CAUSE_OTHER;
}

void sim_req_set_cause(sim_req_record *rec, sim_fail_cause step_cause) {
    if (rec->success)
        rec->cause = SIM_CAUSE_NONE;
    else if (rec->outcome == SVC_CALL_TIMEOUT)
        rec->cause = SIM_CAUSE_TIMEOUT;
    else if (rec->outcome == SVC_CALL_RESET)
        rec->cause = SIM_CAUSE_RESET;
    else if (rec->outcome == SVC_CALL_REFUSED)
        rec->cause = SIM_CAUSE_REFUSED;
    else if (rec->outcome != SVC_CALL_OK)
        rec->cause = SIM_CAUSE_OTHER;
    else if (rec->status < 200 || rec->status >= 300)
        rec->cause = SIM_CAUSE_HTTP;
    else
        rec->cause = step_cause != SIM_CAUSE_NONE ? step_cause : SIM_CAUSE_OTHER;
}

/* Chain answers carry per-step results; read them so the report can show where it broke and why. The
 * answer is the chain route's compact JSON (steps[] then overall_status; a failed step's "error" right
 * after its latency_ms); a full JSON parse per request would cost the simulator a sixth of its time, so
 * only the few fields needed are read, in order. Returns the first failed step's cause. */
static sim_fail_cause parse_chain(sim_req_record *rec, const sim_http_result *r) {
    rec->success = 0;
    sim_fail_cause cause = SIM_CAUSE_NONE;
    if (r->status != 200 || !r->body) return cause;
    const char *p = r->body, *end = r->body + r->body_len;
    for (int i = 0; i < 2; i++) {
        const char *st = field_after(p, end, "status");
        const char *lat = st ? field_after(st, end, "latency_ms") : NULL;
        if (!st || !lat) break;
        rec->step_ok[i] = (int8_t)(!strncmp(st, "\"success\"", 9));
        rec->step_latency_us[i] = (int32_t)(strtod(lat, NULL) * 1000);
        p = lat;
        if (rec->step_ok[i]) continue;
        /* a failed step's "error" follows its latency, before the next step's fields */
        const char *err = field_after(lat, end, "error"), *next = field_after(lat, end, "step");
        const char *close =
            err && *err == '"' && (!next || err < next) ? memchr(err + 1, '"', (size_t)(end - err - 1)) : NULL;
        sim_fail_cause step = close ? sim_step_error_cause(err + 1, (size_t)(close - err - 1)) : SIM_CAUSE_OTHER;
        rec->step_cause[i] = (uint8_t)step;
        if (cause == SIM_CAUSE_NONE) cause = step;
    }
    const char *overall = field_after(r->body, end, "overall_status");
    rec->success = overall && !strncmp(overall, "\"success\"", 9);
    return cause;
}

static void note_ack(sim_load *l, load_req *q, const sim_http_result *r) {
    json_t *doc = r->body ? svc_json_read(r->body, r->body_len, 0, NULL) : NULL;
    const char *pid = json_string_value(json_object_get(doc, "payment_id"));
    if (pid) {
        for (size_t i = 0; i < l->nacked; i++)
            if (!strcmp(l->acked[i].key, q->key) && strcmp(l->acked[i].payment_id, pid) != 0) l->duplicates++;
        if (l->nacked == l->capacked) {
            l->capacked = l->capacked ? l->capacked * 2 : 1024;
            l->acked = realloc(l->acked, l->capacked * sizeof *l->acked);
            if (!l->acked) abort();
        }
        sim_acked_payment *a = &l->acked[l->nacked++];
        memset(a, 0, sizeof *a);
        snprintf(a->key, sizeof a->key, "%s", q->key);
        snprintf(a->payment_id, sizeof a->payment_id, "%s", pid);
        snprintf(a->product_id, sizeof a->product_id, "%s", q->product);
        a->amount_minor = 10000;
        a->quantity = 1;
    }
    json_decref(doc);
}

static void send_attempt(load_req *q);
static void closed_next(sim_load *l, int client);

static void retry_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    load_req *q = ctx;
    q->retry = SIM_NO_EVENT;
    send_attempt(q);
}

static void answered(void *ctx, const sim_http_result *r) {
    load_req *q = ctx;
    sim_load *l = q->l;
    sim_req_record *rec = &q->rec;
    rec->outcome = (uint8_t)r->outcome;
    rec->status = (int16_t)r->status;
    sim_fail_cause step_cause = SIM_CAUSE_NONE;
    if (r->outcome == SVC_CALL_OK) {
        if (l->cfg.workload == LOAD_CHAIN)
            step_cause = parse_chain(rec, r);
        else
            rec->success = r->status >= 200 && r->status < 300;
    } else {
        rec->success = 0;
    }
    sim_req_set_cause(rec, step_cause);
    if (l->cfg.workload == LOAD_PROCESS) {
        if (rec->success) note_ack(l, q, r);
        int transient = r->outcome != SVC_CALL_OK || r->status >= 500 || r->status == 409;
        if (!rec->success && transient && rec->attempts <= l->cfg.client_retries) {
            /* same key, after a jittered backoff */
            int64_t wait = l->cfg.client_backoff_ns;
            for (int i = 1; i < rec->attempts && wait < 8 * SEC; i++) wait *= 2;
            wait = wait / 2 + (int64_t)pc_rng_below(&l->choices, (uint64_t)(wait / 2 + 1));
            q->retry = sim_after(E(l), wait, SIM_K_ARRIVAL, 2, retry_fired, q, 0);
            return;
        }
    }
    rec->end_ns = sim_now(E(l));
    record(l, rec);
    l->inflight--;
    int client = q->client;
    req_unlink(q);
    free(q);
    if (client >= 0) closed_next(l, client);
}

static void send_attempt(load_req *q) {
    sim_load *l = q->l;
    q->rec.attempts++;
    const char *host = "payment-service:5002";
    sim_http_msg *m;
    if (l->cfg.workload == LOAD_PROCESS) {
        char body[160];
        int n = snprintf(body, sizeof body,
                         "{\"amount\":100,\"currency\":\"USD\",\"product_id\":\"%s\",\"quantity\":1}", q->product);
        m = sim_http_msg_request("POST", "/payment/process", body, (size_t)n, q->key, 0, host);
    } else {
        size_t blen = strlen(l->cfg.body);
        m = sim_http_msg_request(l->cfg.method, l->cfg.path, blen ? l->cfg.body : NULL, blen, NULL, 0, host);
    }
    sim_http_request(l->client, cluster_service_ip(l->cl, SVC_PAYMENT), cluster_service_port(l->cl, SVC_PAYMENT), m,
                     l->cfg.timeout_ns, answered, q);
}

static void start_request(sim_load *l, int client) {
    load_req *q = svc_zalloc(sizeof *q);
    q->l = l;
    q->client = client;
    q->rec.start_ns = sim_now(E(l));
    q->rec.step_ok[0] = q->rec.step_ok[1] = -1;
    q->rec.step_latency_us[0] = q->rec.step_latency_us[1] = -1;
    svc_append_u64(q->key, sizeof q->key, svc_copy(q->key, sizeof q->key, "key-"), ++l->next_key);
    svc_append_u64(q->product, sizeof q->product, 0,
                   1 + pc_rng_below(&l->choices, (uint64_t)(l->cfg.products > 0 ? l->cfg.products : 1)));
    q->next = l->live;
    if (l->live) l->live->prev = q;
    l->live = q;
    l->inflight++;
    send_attempt(q);
}

static void open_arrival(sim_engine *e, void *ctx, uint64_t arg) {
    (void)arg;
    sim_load *l = ctx;
    if (sim_now(e) >= l->cfg.stop_ns) return;
    start_request(l, -1);
    int64_t gap = pc_rng_exp_ns(&l->arrivals, 1e9 / l->cfg.rate_per_s);
    if (sim_now(e) + gap < l->cfg.stop_ns) sim_after(e, gap, SIM_K_ARRIVAL, 0, open_arrival, l, 0);
}

static void closed_arrival(sim_engine *e, void *ctx, uint64_t arg) {
    sim_load *l = ctx;
    if (sim_now(e) >= l->cfg.stop_ns) return;
    start_request(l, (int)arg);
}

static void closed_next(sim_load *l, int client) {
    if (sim_now(E(l)) >= l->cfg.stop_ns) return;
    sim_after(E(l), l->cfg.think_ns, SIM_K_ARRIVAL, 1, closed_arrival, l, (uint64_t)client);
}

static void burst_fire(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    sim_load *l = ctx;
    for (int i = 0; i < l->cfg.burst; i++) start_request(l, -1);
}

/* One burst per phase, `burst_at` into it (at most half-way through a short phase). */
int64_t load_burst_time(const load_config *cfg, int phase) {
    int64_t end = phase < 2 ? cfg->phase_ns[phase + 1] : cfg->stop_ns;
    int64_t len = end - cfg->phase_ns[phase], at = cfg->burst_at_ns < len / 2 ? cfg->burst_at_ns : len / 2;
    return cfg->phase_ns[phase] + at;
}

void load_start(sim_load *l) {
    sim_engine *e = E(l);
    if (l->cfg.burst > 0) {
        for (int k = 0; k < 3; k++) sim_at(e, load_burst_time(&l->cfg, k), SIM_K_ARRIVAL, 3, burst_fire, l, 0);
    } else if (l->cfg.closed_loop) {
        for (int i = 0; i < l->cfg.clients; i++) {
            /* clients start spread over the first think interval (or 100 ms) */
            int64_t spread = l->cfg.think_ns > 0 ? l->cfg.think_ns : 100 * MS;
            int64_t at = l->cfg.start_ns + (int64_t)pc_rng_below(&l->arrivals, (uint64_t)spread);
            sim_at(e, at, SIM_K_ARRIVAL, 1, closed_arrival, l, (uint64_t)i);
        }
    } else {
        int64_t first = pc_rng_exp_ns(&l->arrivals, 1e9 / l->cfg.rate_per_s);
        sim_at(e, l->cfg.start_ns + first, SIM_K_ARRIVAL, 0, open_arrival, l, 0);
    }
}
