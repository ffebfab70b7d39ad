/*
 * loadgen.c: the lab's load generator: the simulator's clients, in real time, with libcurl (see lab.h).
 *
 * Same definitions as sim/load/load.c: open-loop arrivals from the seeded stream "client/arrivals" (so the lab
 * and the simulator send at the same instants for the same seed), closed-loop clients with think time,
 * product choices from "client/choices", the chain / process / custom workloads, the client deadline
 * (CURLOPT_TIMEOUT_MS, connect included) and the connection policy (a fresh connection per request, or
 * libcurl's connection cache). A request's start is its scheduled arrival, its end the instant libcurl
 * reports it done; failed requests count with their full wait, as in the simulator.
 *
 * One thread: a curl multi handle plus a timeline of arrivals, retries and chaos actions. The hook (the
 * lab script) is started without waiting at each action's start and stop, so a slow `nft` or `stress-ng`
 * start never holds requests back; its children are reaped as they end.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/rng.h"
#include "base/units.h"
#include "lab/lab.h"
#include "lab/labint.h"
#include "services/core/jsonr.h"
#include "services/http/client.h"

#define DRAIN_EXTRA_NS (2 * SEC)

typedef struct lreq {
    struct lreq *next; /* retry list */
    CURL *easy;
    struct curl_slist *headers;
    sim_req_record rec;
    int client;
    int64_t retry_at;
    char key[48];
    char product[16];
    char body[512];
    char url[512];
    http_body resp; /* the answer's body, for the chain's steps */
} lreq;

/* One start or stop of a chaos action: the hook is called then. */
typedef struct tl_event {
    int64_t at_ns;
    int action;
    int stop;
} tl_event;

typedef struct loadgen {
    const lab_config *cfg;
    const sim_options *o;
    const load_config *lc;
    CURLM *multi;
    int64_t t0;
    pc_rng arrivals, choices;
    sim_req_record *recs;
    size_t nrecs, caprecs;
    uint64_t next_key;
    int inflight;
    lreq *retries;
    int64_t *client_next; /* closed loop: next start per client, -1 busy */
    int64_t next_arrival; /* open loop: the next arrival, -1 after the last */
    int bursts_sent;      /* --burst: the phases whose burst has gone out */
    tl_event *ev;         /* the chaos actions' timeline (owned), nev events, next_ev the next one due */
    int nev, next_ev;
    int hooks_running;
} loadgen;

int64_t lab_clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static int64_t now_rel(const loadgen *g) { return lab_clock_ns() - g->t0; }

/* ---- the hook ---- */

static void hook_spawn(loadgen *g, const char *verb, int id) {
    if (!g->cfg->hook) return;
    char idbuf[16];
    snprintf(idbuf, sizeof idbuf, "%d", id);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(g->cfg->hook, g->cfg->hook, "hook", verb, idbuf, (char *)NULL);
        fprintf(stderr, "loadgen: cannot run %s: %s\n", g->cfg->hook, strerror(errno));
        _exit(127);
    }
    if (pid < 0) {
        fprintf(stderr, "loadgen: fork for the hook failed: %s\n", strerror(errno));
        return;
    }
    g->hooks_running++;
    fprintf(stderr, "loadgen: %7.3f s  hook %s %d\n", (double)now_rel(g) / 1e9, verb, id);
}

/* `HOOK hook begin 0`, waited for: the lab resets its counters before the first request. */
static void hook_begin(const lab_config *cfg) {
    if (!cfg->hook) return;
    pid_t pid = fork();
    if (pid == 0) {
        execl(cfg->hook, cfg->hook, "hook", "begin", "0", (char *)NULL);
        _exit(127);
    }
    int status;
    if (pid > 0) waitpid(pid, &status, 0);
}

static void hook_reap(loadgen *g, int block) {
    while (g->hooks_running > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, block ? 0 : WNOHANG);
        if (pid <= 0) break;
        g->hooks_running--;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fprintf(stderr, "loadgen: a hook (pid %d) failed with status %d\n", (int)pid,
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
}

/* ---- requests ---- */

static void record(loadgen *g, const sim_req_record *rec) {
    if (g->nrecs == g->caprecs) {
        g->caprecs = g->caprecs ? g->caprecs * 2 : 4096;
        g->recs = realloc(g->recs, g->caprecs * sizeof *g->recs);
        if (!g->recs) abort();
    }
    g->recs[g->nrecs++] = *rec;
}

static void send_attempt(loadgen *g, lreq *q) {
    q->rec.attempts++;
    q->resp.len = 0;
    q->resp.too_big = 0;
    CURL *e = curl_easy_init();
    if (!e) abort();
    q->easy = e;
    const load_config *lc = g->lc;
    const char *method = lc->workload == LOAD_PROCESS ? "POST" : lc->method;
    const char *path = lc->workload == LOAD_PROCESS ? "/payment/process" : lc->path;
    snprintf(q->url, sizeof q->url, "%s%s", g->cfg->target_url, path);
    if (lc->workload == LOAD_PROCESS)
        snprintf(q->body, sizeof q->body, "{\"amount\":100,\"currency\":\"USD\",\"product_id\":\"%s\",\"quantity\":1}",
                 q->product);
    else
        snprintf(q->body, sizeof q->body, "%s", lc->body);
    curl_slist_free_all(q->headers);
    q->headers = curl_slist_append(NULL, "Expect:");
    if (q->body[0]) q->headers = curl_slist_append(q->headers, "Content-Type: application/json");
    if (lc->workload == LOAD_PROCESS) {
        char h[96];
        snprintf(h, sizeof h, "Idempotency-Key: %s", q->key);
        q->headers = curl_slist_append(q->headers, h);
    }
    long timeout_ms = (long)((lc->timeout_ns + MS - 1) / MS);
    curl_easy_setopt(e, CURLOPT_URL, q->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_body_append);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &q->resp);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
    if (!lc->keepalive) {
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    if (!strcmp(method, "GET")) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(q->body));
        if (strcmp(method, "POST")) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    if (curl_multi_add_handle(g->multi, e) != CURLM_OK) abort();
}

/* `at_ns` is the scheduled arrival; the record starts when the request is handed to libcurl (a few
 * microseconds later: the loop polls the last millisecond), as the simulator's starts when it is sent. */
static void start_request(loadgen *g, int client, int64_t at_ns) {
    lreq *q = calloc(1, sizeof *q);
    if (!q) abort();
    q->client = client;
    int64_t now = now_rel(g);
    q->rec.start_ns = now > at_ns ? now : at_ns;
    q->rec.step_ok[0] = q->rec.step_ok[1] = -1;
    q->rec.step_latency_us[0] = q->rec.step_latency_us[1] = -1;
    snprintf(q->key, sizeof q->key, "lab-%lld-%llu", (long long)g->t0, (unsigned long long)++g->next_key);
    int products = g->lc->products > 0 ? g->lc->products : 1;
    snprintf(q->product, sizeof q->product, "%d", 1 + (int)pc_rng_below(&g->choices, (uint64_t)products));
    g->inflight++;
    send_attempt(g, q);
}

/* Chain answers carry per-step results (as sim/load/load.c parses them). Returns the first failed step's
 * cause. */
static sim_fail_cause parse_chain(sim_req_record *rec, const char *body, size_t len, long status) {
    json_t *doc = body ? svc_json_read(body, len, 0, NULL) : NULL;
    const char *overall = json_string_value(json_object_get(doc, "overall_status"));
    rec->success = status == 200 && overall && !strcmp(overall, "success");
    json_t *steps = json_object_get(doc, "steps");
    sim_fail_cause cause = SIM_CAUSE_NONE;
    for (size_t i = 0; i < 2; i++) {
        json_t *s = json_array_get(steps, i);
        if (!s) continue;
        const char *st = json_string_value(json_object_get(s, "status"));
        rec->step_ok[i] = (int8_t)(st && !strcmp(st, "success"));
        rec->step_latency_us[i] = (int32_t)(json_number_value(json_object_get(s, "latency_ms")) * 1000);
        json_t *err = json_object_get(s, "error");
        if (!rec->step_ok[i] && cause == SIM_CAUSE_NONE)
            cause = json_is_string(err) ? sim_step_error_cause(json_string_value(err), json_string_length(err))
                                        : SIM_CAUSE_OTHER;
    }
    json_decref(doc);
    return cause;
}

static void finish(loadgen *g, lreq *q, CURLcode rc, int64_t end_ns) {
    sim_req_record *rec = &q->rec;
    long status = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(g->multi, q->easy);
    curl_easy_cleanup(q->easy);
    q->easy = NULL;
    rec->outcome = (uint8_t)http_call_outcome(rc);
    rec->status = (int16_t)status;
    const load_config *lc = g->lc;
    sim_fail_cause step_cause = SIM_CAUSE_NONE;
    if (rc == CURLE_OK) {
        if (lc->workload == LOAD_CHAIN)
            step_cause = parse_chain(rec, q->resp.data, q->resp.len, status);
        else
            rec->success = status >= 200 && status < 300;
    } else {
        rec->success = 0;
    }
    sim_req_set_cause(rec, step_cause);
    if (lc->workload == LOAD_PROCESS && !rec->success) {
        int transient = rc != CURLE_OK || status >= 500 || status == 409;
        if (transient && rec->attempts <= lc->client_retries) {
            int64_t wait = lc->client_backoff_ns;
            for (int i = 1; i < rec->attempts && wait < 8 * SEC; i++) wait *= 2;
            wait = wait / 2 + (int64_t)pc_rng_below(&g->choices, (uint64_t)(wait / 2 + 1));
            q->retry_at = end_ns + wait;
            q->next = g->retries;
            g->retries = q;
            return;
        }
    }
    rec->end_ns = end_ns;
    record(g, rec);
    g->inflight--;
    if (q->client >= 0 && end_ns < lc->stop_ns) g->client_next[q->client] = end_ns + lc->think_ns;
    curl_slist_free_all(q->headers);
    free(q->resp.data);
    free(q);
}

static void collect_done(loadgen *g) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(g->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        finish(g, (lreq *)(void *)priv, msg->data.result, now_rel(g));
    }
}

/* ---- the timeline ---- */

static int cmp_event(const void *a, const void *b) {
    const tl_event *x = a, *y = b;
    if (x->at_ns != y->at_ns) return x->at_ns < y->at_ns ? -1 : 1;
    return x->action - y->action;
}

/* The chaos actions' starts and stops that fall inside the phases, in time order (what happens after the
 * last phase is the lab's teardown's business: it stops every fault). The caller frees the array. */
static tl_event *build_timeline(const sim_result *pred, int64_t stop_ns, int *nev) {
    *nev = 0;
    tl_event *ev = calloc((size_t)(2 * pred->nactions + 1), sizeof *ev);
    if (!ev) abort();
    for (int i = 0; i < pred->nactions; i++) {
        const sim_chaos_action *a = &pred->actions[i].action;
        if (!pred->actions[i].status.started || a->start_ns >= stop_ns) continue;
        ev[(*nev)++] = (tl_event){a->start_ns, i, 0};
        int one_shot = a->kind == ACT_POD_KILL || a->kind == ACT_CONTAINER_KILL;
        if (!one_shot && a->end_ns >= 0 && a->end_ns < stop_ns) ev[(*nev)++] = (tl_event){a->end_ns, i, 1};
    }
    qsort(ev, (size_t)*nev, sizeof *ev, cmp_event);
    return ev;
}

/* The first arrival (open loop), or each client's first start spread over one think time (closed loop);
 * with --burst nothing: the bursts are the only requests (load_start). */
static void seed_arrivals(loadgen *g) {
    const load_config *lc = g->lc;
    g->next_arrival = -1;
    g->bursts_sent = 0;
    if (lc->burst > 0) return;
    if (lc->closed_loop) {
        g->client_next = calloc((size_t)lc->clients, sizeof *g->client_next);
        if (!g->client_next) abort();
        int64_t spread = lc->think_ns > 0 ? lc->think_ns : 100 * MS;
        for (int i = 0; i < lc->clients; i++) g->client_next[i] = (int64_t)pc_rng_below(&g->arrivals, (uint64_t)spread);
    } else {
        g->next_arrival = pc_rng_exp_ns(&g->arrivals, 1e9 / lc->rate_per_s);
    }
}

/* Everything due by `now`: the hook for chaos actions, new requests (arrivals or clients), retries. */
static void start_due(loadgen *g, int64_t now) {
    const load_config *lc = g->lc;
    while (g->next_ev < g->nev && g->ev[g->next_ev].at_ns <= now) {
        hook_spawn(g, g->ev[g->next_ev].stop ? "stop" : "start", g->ev[g->next_ev].action);
        g->next_ev++;
    }
    if (lc->burst > 0) {
        while (g->bursts_sent < 3 && load_burst_time(lc, g->bursts_sent) <= now) {
            int64_t at = load_burst_time(lc, g->bursts_sent++);
            for (int i = 0; i < lc->burst; i++) start_request(g, -1, at);
        }
    } else if (!lc->closed_loop) {
        while (g->next_arrival >= 0 && g->next_arrival <= now) {
            start_request(g, -1, g->next_arrival);
            int64_t gap = pc_rng_exp_ns(&g->arrivals, 1e9 / lc->rate_per_s);
            g->next_arrival = g->next_arrival + gap < lc->stop_ns ? g->next_arrival + gap : -1;
        }
    } else {
        for (int i = 0; i < lc->clients; i++) {
            if (g->client_next[i] >= 0 && g->client_next[i] <= now && g->client_next[i] < lc->stop_ns) {
                int64_t at = g->client_next[i];
                g->client_next[i] = -1;
                start_request(g, i, at);
            }
        }
    }
    for (lreq **pp = &g->retries; *pp;) {
        lreq *q = *pp;
        if (q->retry_at <= now) {
            *pp = q->next;
            send_attempt(g, q);
        } else {
            pp = &q->next;
        }
    }
}

/* Sleeps until the next thing to do (libcurl's sockets wake us earlier), at most 100 ms. */
static void wait_for_next(loadgen *g, int64_t now, int64_t hard_end) {
    const load_config *lc = g->lc;
    int64_t next = hard_end;
    if (g->next_ev < g->nev && g->ev[g->next_ev].at_ns < next) next = g->ev[g->next_ev].at_ns;
    if (g->next_arrival >= 0 && g->next_arrival < next) next = g->next_arrival;
    if (lc->burst > 0 && g->bursts_sent < 3 && load_burst_time(lc, g->bursts_sent) < next)
        next = load_burst_time(lc, g->bursts_sent);
    if (lc->closed_loop && !lc->burst)
        for (int i = 0; i < lc->clients; i++)
            if (g->client_next[i] >= 0 && g->client_next[i] < next) next = g->client_next[i];
    for (lreq *q = g->retries; q; q = q->next)
        if (q->retry_at < next) next = q->retry_at;
    long curl_ms = -1;
    curl_multi_timeout(g->multi, &curl_ms);
    int64_t wait_ns = next - now;
    if (curl_ms >= 0 && curl_ms * MS < wait_ns) wait_ns = curl_ms * MS;
    if (wait_ns > 100 * MS) wait_ns = 100 * MS;
    /* whole milliseconds, rounded down: the last fraction is spent polling with a zero timeout, so
     * arrivals leave within a few microseconds of their scheduled instant */
    curl_multi_poll(g->multi, NULL, 0, (int)(wait_ns > 0 ? wait_ns / MS : 0), NULL);
}

/* The load, from the first arrival until every request has ended after the last phase (or the hard end:
 * the client deadline plus a margin). Returns the end, relative to the start. */
static int64_t run_load(loadgen *g) {
    const load_config *lc = g->lc;
    g->t0 = lab_clock_ns();
    int64_t hard_end = lc->stop_ns + lc->timeout_ns + DRAIN_EXTRA_NS;
    for (;;) {
        start_due(g, now_rel(g));
        int running = 0;
        curl_multi_perform(g->multi, &running);
        collect_done(g);
        hook_reap(g, 0);
        int64_t now = now_rel(g);
        if (now >= lc->stop_ns && g->inflight == 0 && g->next_ev >= g->nev) break;
        if (now >= hard_end) break;
        wait_for_next(g, now, hard_end);
    }
    int64_t end = now_rel(g);
    /* Retries still waiting at the hard end are recorded as they stand (their last attempt failed). */
    while (g->retries) {
        lreq *q = g->retries;
        g->retries = q->next;
        q->rec.end_ns = end;
        record(g, &q->rec);
        curl_slist_free_all(q->headers);
        free(q->resp.data);
        free(q);
    }
    return end;
}

/* The result as bin/sim's: phases, the requests' statistics and records (moved out of g), the CPU used
 * between the two snapshots and what the hook collected. */
static void fill_result(loadgen *g, const sim_result *pred, int64_t end, const lab_cpu_snapshot *cpu0,
                        const lab_cpu_snapshot *cpu1, sim_result *out) {
    const sim_options *o = g->o;
    out->seed = o->seed;
    out->mismatch = -1;
    out->baseline_end_ns = o->baseline_ns;
    out->chaos_end_ns = o->baseline_ns + o->chaos_ns;
    out->end_ns = g->lc->stop_ns;
    out->drained_ns = end;
    stats_compute(g->recs, g->nrecs, out->baseline_end_ns, out->chaos_end_ns, out->end_ns, &out->summary);
    out->records = g->recs;
    out->nrecords = g->nrecs;
    g->recs = NULL;
    lab_fill_cpu(out, cpu0, cpu1);
    lab_fill_from_hook(out, g->cfg, pred);
    out->wall_s = (double)end / 1e9;
}

int lab_run(const lab_config *cfg, const sim_options *o, const sim_result *pred, sim_result *out, char *err,
            size_t errlen) {
    memset(out, 0, sizeof *out);
    loadgen g;
    memset(&g, 0, sizeof g);
    g.cfg = cfg;
    g.o = o;
    load_config lc = sim_options_load_config(o);
    g.lc = &lc;
    pc_rng_init(&g.arrivals, o->seed, "client/arrivals");
    pc_rng_init(&g.choices, o->seed, "client/choices");
    g.multi = curl_multi_init();
    if (!g.multi) {
        snprintf(err, errlen, "curl_multi_init failed");
        return -1;
    }
    curl_multi_setopt(g.multi, CURLMOPT_MAXCONNECTS, 1024L);
    g.ev = build_timeline(pred, lc.stop_ns, &g.nev);
    hook_begin(cfg);
    lab_cpu_snapshot cpu0, cpu1;
    lab_cpu_read(cfg->lab_dir, &cpu0, 1);
    seed_arrivals(&g);
    int64_t end = run_load(&g);
    hook_reap(&g, 1);
    lab_cpu_read(cfg->lab_dir, &cpu1, 0);
    fill_result(&g, pred, end, &cpu0, &cpu1, out);
    int rc = 0;
    if (cfg->records_path && lab_records_write(cfg->records_path, out->records, out->nrecords, err, errlen) < 0)
        rc = -1;
    curl_multi_cleanup(g.multi);
    free(g.ev);
    free(g.client_next);
    return rc;
}
