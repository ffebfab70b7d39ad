/*
 * shell.c: routing, body rules, built-in routes, metrics, logs, forwarding and call wrappers shared by the
 * three services (contract in shell.h).
 *
 * Every allocation that waits for a callback (an exchange, a call wrapper, a retry, a gather) is linked into
 * the shell's `pending` list, so svc_shell_destroy() frees it even if the runtime drops the callback
 * (the HTTP runtime at shutdown, the simulator at the end of a run).
 */
#include "services/core/shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/list.h"
#include "services/core/ids.h"
#include "services/core/jsonr.h"
#include "services/core/metrics.h"
#include "services/core/text.h"

#define SVC_VERSION "1.0.0"
#define ALLOW_MAX 64

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

struct svc_shell {
    const svc_module *module;
    svc_config cfg;
    svc_runtime rt;
    void *state;
    int started;
    int draining;
    size_t inflight;
    long background;
    int64_t started_ns;
    svc_metrics metrics;
    int route_metric[SVC_METRICS_ROUTES]; /* module routes then built-ins */
    /* Each route's pattern length and whether it ends in "/<star>", computed once: every request is matched
     * against every route. */
    size_t route_len[SVC_METRICS_ROUTES];
    unsigned char route_wild[SVC_METRICS_ROUTES];
    char labels[SVC_METRICS_ROUTES][64];
    int unmatched_metric;
    pc_link pending;   /* shell_wait nodes: calls and timers started on the shell's behalf */
    pc_link exchanges; /* requests not yet answered */
};

struct svc_exchange {
    pc_link link;
    svc_shell *shell;
    const svc_request *req;
    svc_reply_fn reply;
    void *reply_ctx;
    json_t *body;
    const char *param;
    int metric;
    int64_t started_ns;
    char allow[ALLOW_MAX];
};

/* ---- built-in routes ---- */

static void route_root(void *state, svc_exchange *ex);
static void route_health(void *state, svc_exchange *ex);
static void route_ready(void *state, svc_exchange *ex);
static void route_metrics(void *state, svc_exchange *ex);

static const svc_route builtin_routes[] = {
    {"GET", "/", route_root, 0},
    {"GET", "/health", route_health, 0},
    {"GET", "/ready", route_ready, 0},
    {"GET", "/metrics", route_metrics, 0},
};
#define BUILTIN_COUNT (sizeof builtin_routes / sizeof builtin_routes[0])

/* Route i of the combined table: the module's routes first, then the built-ins. */
static const svc_route *route_at(const svc_shell *s, size_t i) {
    return i < s->module->route_count ? &s->module->routes[i] : &builtin_routes[i - s->module->route_count];
}

static size_t route_total(const svc_shell *s) { return s->module->route_count + BUILTIN_COUNT; }

/* ---- lifecycle ---- */

static char *dup_config_string(const char *s) { return s ? strdup(s) : NULL; }

svc_shell *svc_shell_create(const svc_module *module, const svc_config *cfg, svc_runtime rt, char *err, size_t errlen) {
    svc_shell *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->module = module;
    s->cfg = *cfg;
    s->cfg.catalogue_json = dup_config_string(cfg->catalogue_json);
    s->rt = rt;
    pc_list_init(&s->pending);
    pc_list_init(&s->exchanges);
    if (cfg->replica < 0 || cfg->replica >= cfg->replicas[module->peer]) {
        snprintf(err, errlen, "replica index %d is outside 0..%d for %s", cfg->replica, cfg->replicas[module->peer] - 1,
                 module->name);
        goto fail;
    }
    if (route_total(s) > SVC_METRICS_ROUTES - 1) {
        snprintf(err, errlen, "too many routes for the metrics table");
        goto fail;
    }
    svc_metrics_init(&s->metrics, module->name);
    /* Labels are "METHOD pattern", owned by the shell (no shared state between shells or threads). */
    for (size_t i = 0; i < route_total(s); i++) {
        const svc_route *r = route_at(s, i);
        char *label = s->labels[i];
        snprintf(label, 64, "%s %s", r->method, r->pattern);
        s->route_metric[i] = svc_metrics_add_route(&s->metrics, label);
        size_t n = strlen(r->pattern);
        s->route_len[i] = n;
        s->route_wild[i] = n >= 2 && r->pattern[n - 1] == '*' && r->pattern[n - 2] == '/';
    }
    s->unmatched_metric = svc_metrics_add_route(&s->metrics, "unmatched");
    s->started_ns = rt.ops->now_ns(rt.self);
    s->state = module->create(s, &s->cfg, err, errlen);
    if (!s->state) goto fail;
    return s;
fail:
    svc_config_free(&s->cfg);
    free(s);
    return NULL;
}

static void exchange_free(svc_exchange *ex);

/* Something waiting for a runtime callback on the shell's behalf: a call or a timer. The node is freed when
 * the callback arrives; if the shell is destroyed first, free_ctx releases the context instead. */
typedef struct shell_wait {
    pc_link link;
    svc_shell *shell;
    svc_peer peer;         /* calls: the target, for metrics */
    svc_call_done_fn done; /* calls */
    svc_timer_fn fire;     /* timers */
    void *ctx;
    void (*free_ctx)(void *ctx);
} shell_wait;

static shell_wait *wait_new(svc_shell *s, void *ctx, void (*free_ctx)(void *)) {
    shell_wait *w = svc_zalloc(sizeof *w); /* no memory for bookkeeping: nothing sensible is left to do */
    w->shell = s;
    w->ctx = ctx;
    w->free_ctx = free_ctx;
    pc_list_push(&s->pending, &w->link);
    return w;
}

void svc_shell_destroy(svc_shell *s) {
    if (!s) return;
    if (s->state) s->module->destroy(s->state);
    /* Whatever still waits for a callback that will now never come. */
    while (!pc_list_empty(&s->pending)) {
        pc_link *l = s->pending.next;
        pc_list_remove(l);
        shell_wait *w = PC_CONTAINER_OF(l, shell_wait, link);
        if (w->free_ctx) w->free_ctx(w->ctx);
        free(w);
    }
    while (!pc_list_empty(&s->exchanges)) {
        svc_exchange *ex = PC_CONTAINER_OF(s->exchanges.next, svc_exchange, link);
        pc_list_remove(&ex->link);
        exchange_free(ex);
    }
    svc_config_free(&s->cfg);
    free(s);
}

int svc_shell_replay(svc_shell *s, const char *record, size_t len, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *rec = svc_json_read(record, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!rec || !json_is_object(rec)) {
        snprintf(err, errlen, "journal record is not a JSON object: %s", rec ? "wrong type" : jerr.text);
        json_decref(rec);
        return -1;
    }
    int rc = s->module->replay ? s->module->replay(s->state, rec, err, errlen) : 0;
    json_decref(rec);
    return rc;
}

void svc_shell_start(svc_shell *s) {
    if (s->started) return;
    s->started = 1;
    if (s->module->start) s->module->start(s->state);
}

void svc_shell_set_draining(svc_shell *s, int draining) { s->draining = draining; }
size_t svc_shell_inflight(const svc_shell *s) { return s->inflight; }
size_t svc_shell_background(const svc_shell *s) { return s->background > 0 ? (size_t)s->background : 0; }
const svc_module *svc_shell_module(const svc_shell *s) { return s->module; }
void *svc_shell_state(svc_shell *s) { return s->state; }

void *svc_zalloc(size_t size) {
    void *p = malloc(size);
    if (!p) abort();
    /* GCC turns malloc + memset(0) of the same size back into calloc: the empty asm hides where p came from */
    __asm__("" : "+r"(p));
    return memset(p, 0, size);
}

/* ---- service-side helpers ---- */

const svc_config *svc_cfg(const svc_shell *s) { return &s->cfg; }
int64_t svc_now_ns(svc_shell *s) { return s->rt.ops->now_ns(s->rt.self); }
int64_t svc_unix_ms(svc_shell *s) { return s->rt.ops->unix_ms(s->rt.self); }
uint64_t svc_random(svc_shell *s) { return s->rt.ops->random_u64(s->rt.self); }

void svc_new_id(svc_shell *s, char *out, size_t outlen, const char *prefix, int owner, int owners) {
    uint64_t rnd = svc_random(s);
    if (owner < 0) owner = owners > 0 ? (int)(rnd % (uint64_t)owners) : 0;
    if (!s->rt.ops->random_id) {
        svc_make_id(out, outlen, prefix, owner, rnd);
        return;
    }
    char hex[32];
    s->rt.ops->random_id(s->rt.self, hex);
    svc_make_id_hex(out, outlen, prefix, owner, hex);
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates, at most
 * U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *p) {
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi) return 0; /* also stops at the NUL */
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return n;
}

void svc_utf8_scrub(char *s) {
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = utf8_sequence(p);
        if (n == 0) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}
void svc_timer(svc_shell *s, int64_t delay_ns, svc_timer_fn fire, void *ctx) {
    s->rt.ops->timer(s->rt.self, delay_ns, fire, ctx);
}
void svc_background_add(svc_shell *s, int delta) { s->background += delta; }

void svc_log(svc_shell *s, int level, const char *event, const char *fmt, ...) {
    if (level < s->cfg.log_level || level >= SVC_LOG_OFF) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    svc_utf8_scrub(msg);
    json_t *line =
        json_pack("{s:I, s:s, s:s, s:i, s:s, s:s}", "ts_ms", (json_int_t)svc_unix_ms(s), "level", level_names[level],
                  "service", s->module->name, "replica", s->cfg.replica, "event", event, "msg", msg);
    char *text = line ? svc_json_dumps(line, JSON_COMPACT) : NULL;
    if (text) s->rt.ops->log(s->rt.self, text);
    free(text);
    json_decref(line);
}

void svc_persist(svc_shell *s, json_t *record, svc_persist_done_fn done, void *ctx) {
    char *text = svc_json_dumps(record, JSON_COMPACT);
    json_decref(record);
    if (!text) {
        /* Cannot encode: report a failed write through the normal asynchronous path. */
        s->rt.ops->persist(s->rt.self, NULL, 0, done, ctx);
        return;
    }
    s->rt.ops->persist(s->rt.self, text, strlen(text), done, ctx);
    free(text);
}

/* ---- downstream calls and tracked timers ---- */

static void wait_call_done(void *arg, const svc_call_result *r) {
    shell_wait *w = arg;
    pc_list_remove(&w->link);
    svc_metrics_call(&w->shell->metrics, w->peer, r);
    svc_call_done_fn done = w->done;
    void *ctx = w->ctx;
    free(w);
    done(ctx, r);
}

static void call_start(svc_shell *s, const svc_call *call, svc_call_done_fn done, void *ctx, void (*free_ctx)(void *)) {
    shell_wait *w = wait_new(s, ctx, free_ctx);
    w->peer = call->peer;
    w->done = done;
    s->rt.ops->call(s->rt.self, call, wait_call_done, w);
}

void svc_call_start(svc_shell *s, const svc_call *call, svc_call_done_fn done, void *ctx) {
    call_start(s, call, done, ctx, NULL);
}

static void wait_timer_fire(void *arg) {
    shell_wait *w = arg;
    pc_list_remove(&w->link);
    svc_timer_fn fire = w->fire;
    void *ctx = w->ctx;
    free(w);
    fire(ctx);
}

/* A timer whose context the shell frees if it never fires. */
static void tracked_timer(svc_shell *s, int64_t delay_ns, svc_timer_fn fire, void *ctx, void (*free_ctx)(void *)) {
    shell_wait *w = wait_new(s, ctx, free_ctx);
    w->fire = fire;
    s->rt.ops->timer(s->rt.self, delay_ns, wait_timer_fire, w);
}

static char *dup_or_null(const char *p, size_t n) {
    if (!p) return NULL;
    char *d = malloc(n + 1);
    if (!d) abort();
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* A retried call: owns deep copies of the call's strings because attempts outlive the caller's stack. */
typedef struct retry_op {
    svc_shell *shell;
    svc_call call;
    char *method, *path, *body, *key;
    svc_call_done_fn done;
    void *ctx;
    int attempt;
    int64_t first_ns;
} retry_op;

static void retry_free(void *arg) {
    retry_op *op = arg;
    free(op->method);
    free(op->path);
    free(op->body);
    free(op->key);
    free(op);
}

/* Failures after which the request may not have been processed, or was refused for a transient reason. */
static int retryable(const svc_call_result *r) {
    if (r->outcome != SVC_CALL_OK) return r->outcome != SVC_CALL_FAILED;
    return r->status == 502 || r->status == 503 || r->status == 504;
}

static void retry_attempt(void *arg);

static void retry_result(void *arg, const svc_call_result *r) {
    retry_op *op = arg;
    svc_shell *s = op->shell;
    const svc_retry_policy *p = &s->cfg.retry;
    if (retryable(r) && op->attempt < p->attempts) {
        /* Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(n-1))]. */
        int64_t ceiling = p->backoff_ns;
        for (int i = 1; i < op->attempt && ceiling < p->backoff_max_ns; i++) ceiling *= 2;
        if (ceiling > p->backoff_max_ns) ceiling = p->backoff_max_ns;
        int64_t wait = ceiling > 0 ? (int64_t)(svc_random(s) % (uint64_t)(ceiling + 1)) : 0;
        if (svc_now_ns(s) + wait < op->first_ns + p->deadline_ns) {
            op->attempt++;
            tracked_timer(s, wait, retry_attempt, op, retry_free);
            return;
        }
    }
    svc_call_done_fn done = op->done;
    void *ctx = op->ctx;
    done(ctx, r);
    retry_free(op); /* after done: r may point into memory the runtime owns, not into op */
}

static void retry_attempt(void *arg) {
    retry_op *op = arg;
    svc_shell *s = op->shell;
    int64_t left = op->first_ns + s->cfg.retry.deadline_ns - svc_now_ns(s);
    svc_call c = op->call;
    if (left < c.timeout_ns) c.timeout_ns = left > 0 ? left : 1;
    call_start(s, &c, retry_result, op, retry_free);
}

void svc_call_retrying(svc_shell *s, const svc_call *call, svc_call_done_fn done, void *ctx) {
    if (s->cfg.retry.attempts <= 1) {
        svc_call_start(s, call, done, ctx);
        return;
    }
    retry_op *op = svc_zalloc(sizeof *op);
    op->shell = s;
    op->method = dup_or_null(call->method, strlen(call->method));
    op->path = dup_or_null(call->path, strlen(call->path));
    op->body = dup_or_null(call->body, call->body_len);
    op->key = call->idempotency_key ? dup_or_null(call->idempotency_key, strlen(call->idempotency_key)) : NULL;
    op->call = *call;
    op->call.method = op->method;
    op->call.path = op->path;
    op->call.body = op->body;
    op->call.idempotency_key = op->key;
    op->done = done;
    op->ctx = ctx;
    op->attempt = 1;
    op->first_ns = svc_now_ns(s);
    retry_attempt(op);
}

int svc_status_for_outcome(svc_call_outcome outcome) { return outcome == SVC_CALL_TIMEOUT ? 504 : 503; }

/* ---- gather: ask every other replica ---- */

typedef struct gather_op {
    svc_ex_gather_fn done;
    svc_exchange *ex;
    int count, waiting;
    svc_call_result *results;
    char **bodies;
} gather_op;

typedef struct gather_slot {
    gather_op *op;
    int index;
} gather_slot;

static void gather_op_free(void *arg) {
    gather_op *op = arg;
    for (int i = 0; i < op->count; i++) free(op->bodies[i]);
    free(op->bodies);
    free(op->results);
    free(op);
}

/* Only reached when the shell is destroyed with the slot's call pending. */
static void gather_slot_free(void *arg) {
    gather_slot *slot = arg;
    gather_op *op = slot->op;
    free(slot);
    if (--op->waiting == 0) gather_op_free(op);
}

static void gather_finish(void *arg) {
    gather_op *op = arg;
    op->done(op->ex->shell->state, op->ex, op->results, op->count);
    gather_op_free(op);
}

static void gather_result(void *arg, const svc_call_result *r) {
    gather_slot *slot = arg;
    gather_op *op = slot->op;
    int i = slot->index;
    free(slot);
    op->results[i] = *r;
    op->results[i].body = NULL;
    if (r->body) {
        op->bodies[i] = dup_or_null(r->body, r->body_len);
        op->results[i].body = op->bodies[i];
    }
    if (--op->waiting == 0) gather_finish(op);
}

int svc_ex_wants_local_only(const svc_exchange *ex) {
    const char *query = ex->req->query;
    return ex->req->forwarded || (query && strstr(query, "scope=local"));
}

json_t *svc_result_json(const svc_call_result *r) {
    if (r->outcome != SVC_CALL_OK || r->status != 200 || !r->body) return NULL;
    return svc_json_read(r->body, r->body_len, 0, NULL);
}

void svc_ex_gather(svc_exchange *ex, const char *path, svc_ex_gather_fn done) {
    svc_shell *s = ex->shell;
    int n = s->cfg.replicas[s->module->peer];
    gather_op *op = calloc(1, sizeof *op);
    if (!op) abort();
    op->done = done;
    op->ex = ex;
    op->count = n;
    op->results = calloc((size_t)n, sizeof *op->results);
    op->bodies = calloc((size_t)n, sizeof *op->bodies);
    if (!op->results || !op->bodies) abort();
    op->results[s->cfg.replica].outcome = SVC_CALL_OK;
    op->waiting = n - 1;
    if (op->waiting == 0) {
        /* Alone: still complete asynchronously, like every other completion. */
        tracked_timer(s, 0, gather_finish, op, gather_op_free);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (i == s->cfg.replica) continue;
        gather_slot *slot = calloc(1, sizeof *slot);
        if (!slot) abort();
        slot->op = op;
        slot->index = i;
        svc_call c = {.peer = s->module->peer,
                      .replica = i,
                      .method = "GET",
                      .path = path,
                      .forwarded = 1,
                      .timeout_ns = s->cfg.forward_timeout_ns};
        call_start(s, &c, gather_result, slot, gather_slot_free);
    }
}

/* ---- exchanges ---- */

const svc_request *svc_ex_request(const svc_exchange *ex) { return ex->req; }
json_t *svc_ex_body(const svc_exchange *ex) { return ex->body; }
const char *svc_ex_param(const svc_exchange *ex) { return ex->param ? ex->param : ""; }
svc_shell *svc_ex_shell(const svc_exchange *ex) { return ex->shell; }
int64_t svc_ex_elapsed_ns(svc_exchange *ex) { return svc_now_ns(ex->shell) - ex->started_ns; }

static void exchange_free(svc_exchange *ex) {
    json_decref(ex->body);
    free(ex);
}

/* Appends str as the inside of a JSON string to out[n..cap): quotes and backslashes escaped, control
 * characters as \u00XX, bytes outside ASCII as '?' (paths are untrusted bytes, the log must stay valid
 * JSON). Returns the new length; stops early rather than overflow. */
static size_t json_escape(char *out, size_t n, size_t cap, const char *str) {
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)str; *p && n + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            out[n++] = '\\';
            out[n++] = 'u';
            out[n++] = '0';
            out[n++] = '0';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        } else {
            out[n++] = *p < 0x80 ? (char)*p : '?';
        }
    }
    return n;
}

/* One JSON line per request. Written with snprintf rather than jansson: it runs for every request of every
 * service, and building a JSON document for it cost more than a /health request itself (tests/bench). */
static void log_request(svc_exchange *ex, int status, int64_t latency_ns) {
    svc_shell *s = ex->shell;
    if (s->cfg.log_level > SVC_LOG_INFO) return;
    char line[1024];
    size_t n = (size_t)snprintf(line, sizeof line,
                                "{\"ts_ms\":%lld,\"level\":\"info\",\"service\":\"%s\",\"replica\":%d,"
                                "\"event\":\"request\",\"method\":\"",
                                (long long)svc_unix_ms(s), s->module->name, s->cfg.replica);
    n = json_escape(line, n, sizeof line - 160, ex->req->method);
    n += (size_t)snprintf(line + n, sizeof line - n, "\",\"path\":\"");
    n = json_escape(line, n, sizeof line - 160, ex->req->path);
    snprintf(line + n, sizeof line - n, "\",\"status\":%d,\"latency_ms\":%.3f,\"forwarded\":%s}", status,
             (double)latency_ns / 1e6, ex->req->forwarded ? "true" : "false");
    s->rt.ops->log(s->rt.self, line);
}

/* Sends a response whose body is already encoded (malloc'd, handed over). */
static void reply_raw(svc_exchange *ex, int status, char *body, size_t len, const char *content_type) {
    svc_shell *s = ex->shell;
    int64_t latency = svc_now_ns(s) - ex->started_ns;
    svc_metrics_observe(&s->metrics, ex->metric, status, latency);
    log_request(ex, status, latency);
    /* The exchange is freed before reply runs, so the Allow value is copied out of it first. */
    char allow[ALLOW_MAX];
    memcpy(allow, ex->allow, sizeof allow);
    svc_response resp = {.status = status,
                         .body = body,
                         .body_len = len,
                         .content_type = content_type,
                         .allow = allow[0] ? allow : NULL};
    svc_reply_fn reply = ex->reply;
    void *reply_ctx = ex->reply_ctx;
    s->inflight--;
    pc_list_remove(&ex->link);
    exchange_free(ex);
    reply(reply_ctx, &resp);
}

void svc_ex_reply(svc_exchange *ex, int status, json_t *body) {
    char *text = svc_json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(body);
    if (!text) {
        static const char oom[] = "{\"error\":\"internal\",\"message\":\"could not encode the response\"}";
        text = strdup(oom);
        status = 500;
        if (!text) abort();
    }
    reply_raw(ex, status, text, strlen(text), "application/json");
}

void svc_ex_reply_jw(svc_exchange *ex, int status, svc_jw *w) {
    size_t len;
    char *text = svc_jw_take(w, &len);
    reply_raw(ex, status, text, len, "application/json");
}

void svc_ex_error(svc_exchange *ex, int status, const char *code, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* The message may quote what the client sent (a path, an id, jansson's report of a bad body), cut
     * anywhere by the buffer or a precision: whatever the bytes, the answer must encode. */
    svc_utf8_scrub(msg);
    svc_ex_reply(ex, status, json_pack("{s:s, s:s}", "error", code, "message", msg));
}

static void forward_done(void *arg, const svc_call_result *r) {
    svc_exchange *ex = arg;
    if (r->outcome != SVC_CALL_OK) {
        svc_ex_error(ex, svc_status_for_outcome(r->outcome), "owner_unavailable",
                     "the replica that owns this record could not be reached (%s)", svc_call_outcome_name(r->outcome));
        return;
    }
    char *copy = malloc(r->body_len + 1);
    if (!copy) abort();
    if (r->body_len) memcpy(copy, r->body, r->body_len);
    copy[r->body_len] = '\0';
    reply_raw(ex, r->status, copy, r->body_len, "application/json");
}

void svc_ex_forward(svc_exchange *ex, svc_peer peer, int replica) {
    const svc_request *q = ex->req;
    char path[1024];
    size_t n = svc_copy(path, sizeof path, q->path);
    if (q->query) svc_append(path, sizeof path, svc_append(path, sizeof path, n, "?"), q->query);
    svc_call c = {.peer = peer,
                  .replica = replica,
                  .method = q->method,
                  .path = path,
                  .body = q->body,
                  .body_len = q->body_len,
                  .idempotency_key = q->idempotency_key,
                  .forwarded = 1,
                  .timeout_ns = ex->shell->cfg.forward_timeout_ns};
    svc_call_start(ex->shell, &c, forward_done, ex);
}

int svc_ex_redirect_to_owner(svc_exchange *ex, int owner) {
    svc_shell *s = ex->shell;
    if (owner == s->cfg.replica) return 0;
    if (ex->req->forwarded) {
        svc_ex_error(ex, 421, "misdirected",
                     "replica %d received a forwarded request for records owned by replica %d: the replicas "
                     "disagree on the replica count",
                     s->cfg.replica, owner);
        return 1;
    }
    svc_ex_forward(ex, s->module->peer, owner);
    return 1;
}

/* ---- dispatch ---- */

/* Matches path against route i's pattern (n bytes, wild: ends in "/<star>"); on a "/<segment>" match stores
 * the captured segment. */
static int route_matches(const char *pattern, size_t n, int wild, const char *path, const char **param) {
    /* most routes differ in their first two bytes (those of the literal part, NUL included) */
    size_t literal = wild ? n - 1 : n + 1;
    if (pattern[0] != path[0] || (literal > 1 && pattern[0] && pattern[1] != path[1])) return 0;
    if (wild) {
        if (strncmp(path, pattern, n - 1) != 0) return 0;
        const char *seg = path + n - 1;
        if (!*seg || strchr(seg, '/')) return 0;
        *param = seg;
        return 1;
    }
    return strcmp(pattern, path) == 0;
}

static int is_json_content_type(const char *ct) {
    if (!ct) return 0;
    while (*ct == ' ') ct++;
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof want - 1) != 0) return 0;
    char next = ct[sizeof want - 1];
    return next == '\0' || next == ';' || next == ' ';
}

/* Answers 401/403 and returns 1 when the caller may not use a route with these flags (docs/security.md).
 * A request marked as forwarded by an owner replica must itself carry the service credential: the mark
 * makes a replica answer from its own records and skip the owner check, which only replicas may ask for. */
static int refuse_caller(svc_exchange *ex, unsigned flags) {
    const svc_request *req = ex->req;
    svc_auth need = SVC_AUTH_OFF;
    const char *what = NULL;
    if (req->forwarded || (flags & SVC_ROUTE_SERVICE)) {
        need = req->service;
        what = req->forwarded ? "a request forwarded between replicas" : "this route is for the other services";
    } else if ((flags & SVC_ROUTE_API_KEY) && req->service != SVC_AUTH_VALID) {
        need = req->client;
        what = "this route needs an API key";
    }
    if (need == SVC_AUTH_MISSING) {
        svc_ex_error(ex, 401, "unauthenticated", "%s: no credential was sent", what);
        return 1;
    }
    if (need == SVC_AUTH_WRONG) {
        svc_ex_error(ex, 403, "forbidden", "%s: the credential sent is not valid", what);
        return 1;
    }
    return 0;
}

void svc_shell_handle(svc_shell *s, const svc_request *req, svc_reply_fn reply, void *reply_ctx) {
    svc_exchange *ex = svc_zalloc(sizeof *ex);
    ex->shell = s;
    ex->req = req;
    ex->reply = reply;
    ex->reply_ctx = reply_ctx;
    ex->started_ns = svc_now_ns(s);
    ex->metric = s->unmatched_metric;
    pc_list_push(&s->exchanges, &ex->link);
    s->inflight++;

    const svc_route *route = NULL;
    size_t allow_len = 0;
    for (size_t i = 0; i < route_total(s); i++) {
        const svc_route *r = route_at(s, i);
        const char *param = NULL;
        if (!route_matches(r->pattern, s->route_len[i], s->route_wild[i], req->path, &param)) continue;
        if (strcmp(r->method, req->method) == 0) {
            route = r;
            ex->param = param;
            ex->metric = s->route_metric[i];
            break;
        }
        if (!strstr(ex->allow, r->method) && allow_len + strlen(r->method) + 3 < ALLOW_MAX) {
            allow_len += (size_t)snprintf(ex->allow + allow_len, ALLOW_MAX - allow_len, "%s%s", allow_len ? ", " : "",
                                          r->method);
        }
    }
    if (!route) {
        if (allow_len) {
            svc_ex_error(ex, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)", req->method, req->path,
                         ex->allow);
        } else {
            svc_ex_error(ex, 404, "not_found", "no route for %s %s", req->method, req->path);
        }
        return;
    }
    ex->allow[0] = '\0';
    if (refuse_caller(ex, route->flags)) return;
    if (req->body_too_large) {
        svc_ex_error(ex, 413, "body_too_large", "the request body exceeds %d bytes", SVC_BODY_MAX_BYTES);
        return;
    }
    if (route->flags & SVC_ROUTE_JSON_BODY) {
        if (!is_json_content_type(req->content_type)) {
            svc_ex_error(ex, 415, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)");
            return;
        }
        json_error_t jerr;
        ex->body = svc_json_read(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!ex->body) {
            svc_ex_error(ex, 400, "invalid_json", "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                         jerr.text);
            return;
        }
        if (!json_is_object(ex->body)) {
            svc_ex_error(ex, 400, "invalid_json", "the body must be a JSON object");
            return;
        }
    }
    route->handler(s->state, ex);
}

/* ---- built-in route handlers (state is the service's; the shell comes from the exchange) ---- */

static void route_root(void *state, svc_exchange *ex) {
    svc_shell *s = ex->shell;
    json_t *endpoints = json_array();
    for (size_t i = 0; i < route_total(s); i++) {
        const svc_route *r = route_at(s, i);
        json_array_append_new(endpoints, json_sprintf("%s %s", r->method, r->pattern));
    }
    json_t *info = json_pack("{s:s, s:s, s:i, s:i, s:o}", "service", s->module->name, "version", SVC_VERSION, "replica",
                             s->cfg.replica, "replicas", s->cfg.replicas[s->module->peer], "endpoints", endpoints);
    if (s->module->describe) s->module->describe(state, info);
    svc_ex_reply(ex, 200, info);
}

/* Probes and load balancers call /health all the time: its answer is written directly, without building a
 * JSON tree (that tree was a fifth of the server CPU of a /health request). Every string in it is a
 * constant of this program, so nothing needs escaping; the uptime is printed from integers, to the µs. */
static void route_health(void *state, svc_exchange *ex) {
    (void)state;
    svc_shell *s = ex->shell;
    int64_t up_us = (svc_now_ns(s) - s->started_ns) / 1000;
    if (up_us < 0) up_us = 0;
    enum { HEALTH_MAX = 256 };
    char *text = malloc(HEALTH_MAX);
    if (!text) abort();
    int n = snprintf(text, HEALTH_MAX,
                     "{\"status\":\"healthy\",\"service\":\"%s\",\"version\":\"%s\",\"replica\":%d,"
                     "\"uptime_s\":%lld.%06lld,\"timestamp_ms\":%lld}",
                     s->module->name, SVC_VERSION, s->cfg.replica, (long long)(up_us / 1000000),
                     (long long)(up_us % 1000000), (long long)svc_unix_ms(s));
    if (n < 0 || n >= HEALTH_MAX) abort(); /* constant names and bounded numbers: cannot happen */
    reply_raw(ex, 200, text, (size_t)n, "application/json");
}

static void route_ready(void *state, svc_exchange *ex) {
    (void)state;
    svc_shell *s = ex->shell;
    if (!s->started || s->draining) {
        svc_ex_error(ex, 503, "not_ready", "%s", s->draining ? "shutting down" : "starting");
        return;
    }
    svc_ex_reply(ex, 200, json_pack("{s:s, s:s}", "status", "ready", "service", s->module->name));
}

static void route_metrics(void *state, svc_exchange *ex) {
    (void)state;
    size_t len = 0;
    char *text = svc_metrics_render(&ex->shell->metrics, &len);
    if (!text) {
        svc_ex_error(ex, 500, "internal", "could not render metrics");
        return;
    }
    reply_raw(ex, 200, text, len, "text/plain; version=0.0.4");
}
