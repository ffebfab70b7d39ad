/*
 * shell.h: what every service has in common, written once.
 *
 * A runtime hosts a service through its shell: the shell routes requests (404 / 405 with Allow), enforces the
 * body rules (413, 415, 400 for malformed JSON), answers the built-in routes (GET /, /health, /ready,
 * /metrics), counts metrics, writes one log line per request, forwards requests to the replica that owns a
 * record, and wraps the runtime's operations (calls with metrics and retries, timers, the journal). The
 * service modules (payment.c, inventory.c, notification.c) only hold their own routes and state.
 *
 * Ownership: svc_shell_create() copies nothing from the module (modules are static) and takes a copy of the
 * config; the shell owns the service state (module->create/destroy). An exchange (one request in flight)
 * belongs to the shell from svc_shell_handle() until its reply; handlers must not touch it after replying.
 */
#ifndef PC_SERVICES_CORE_SHELL_H
#define PC_SERVICES_CORE_SHELL_H

#include <jansson.h>
#include <stdarg.h>

#include "services/core/config.h"
#include "services/core/jsonw.h"
#include "services/core/svc.h"

typedef struct svc_shell svc_shell;
typedef struct svc_exchange svc_exchange;
typedef void (*svc_handler_fn)(void *state, svc_exchange *ex);

enum {
    SVC_ROUTE_JSON_BODY = 1, /* the body must be a JSON object: 415 if not declared JSON, 400 if malformed */
    SVC_ROUTE_SERVICE = 2,   /* only other services may call it: the service credential, when the runtime
                                checks one (svc_request.service), or 401/403 */
    SVC_ROUTE_API_KEY = 4    /* clients need an API key, when the runtime checks them (svc_request.client),
                                or 401/403; a valid service credential (a forwarding replica) also passes */
};

typedef struct svc_route {
    const char *method;  /* "GET", "POST" */
    const char *pattern; /* an exact path, or one ending in "/" + "*" that captures one non-empty segment */
    svc_handler_fn handler;
    unsigned flags;
} svc_route;

typedef struct svc_module {
    const char *name; /* "payment-service" */
    svc_peer peer;
    int default_port;
    const svc_route *routes;
    size_t route_count;
    /* Creates the service state; returns NULL with a message in err on failure. */
    void *(*create)(svc_shell *shell, const svc_config *cfg, char *err, size_t errlen);
    void (*destroy)(void *state);
    /* Applies one journal record at start-up (before start); -1 with a message if it is not understood. */
    int (*replay)(void *state, json_t *record, char *err, size_t errlen);
    /* Called once after replay, before the first request: resumes unfinished work. May be NULL. */
    void (*start)(void *state);
    /* Adds module-specific fields to GET / (may be NULL). */
    void (*describe)(void *state, json_t *info);
} svc_module;

/* ---- runtime side ---- */

svc_shell *svc_shell_create(const svc_module *module, const svc_config *cfg, svc_runtime rt, char *err, size_t errlen);
void svc_shell_destroy(svc_shell *shell);
/* Feeds one journal record (JSON text) to the service; only before svc_shell_start(). */
int svc_shell_replay(svc_shell *shell, const char *record, size_t len, char *err, size_t errlen);
void svc_shell_start(svc_shell *shell);
/* Draining: /ready answers 503 so load balancers stop sending; requests are still served. */
void svc_shell_set_draining(svc_shell *shell, int draining);
void svc_shell_handle(svc_shell *shell, const svc_request *req, svc_reply_fn reply, void *reply_ctx);
/* Requests received and not yet answered, plus background work (releases) not yet acknowledged. */
size_t svc_shell_inflight(const svc_shell *shell);
size_t svc_shell_background(const svc_shell *shell);
const svc_module *svc_shell_module(const svc_shell *shell);
/* The service state, for read-only introspection by the simulator's invariant checkers. */
void *svc_shell_state(svc_shell *shell);

/* A zeroed block for the objects made per request (exchanges, calls, operations): malloc and memset.
 * glibc's calloc never uses its per-thread cache and took three times the instructions for these small
 * blocks (callgrind, the simulator's headline run). Aborts when memory runs out, as the services do. */
void *svc_zalloc(size_t size);

/* ---- service side ---- */

const svc_config *svc_cfg(const svc_shell *shell);
int64_t svc_now_ns(svc_shell *shell);
int64_t svc_unix_ms(svc_shell *shell);
uint64_t svc_random(svc_shell *shell);
/* A fresh record id "<prefix>-<owner>-<hex>" (out: at least SVC_ID_MAX + 1 bytes). owner < 0: chosen at
 * random among `owners` replicas. The tail is 128 bits from the runtime's random_id when it has one (the HTTP
 * runtime: ids nobody can predict from ids seen before), else the 64 bits of the random_u64 that also chose
 * the owner (the simulator's seeded streams, unchanged). */
void svc_new_id(svc_shell *shell, char *out, size_t outlen, const char *prefix, int owner, int owners);
/* Makes s valid UTF-8 in place: every byte that does not belong to a well-formed sequence (a stray
 * continuation byte, an overlong or surrogate form, a sequence cut short, e.g. by %.64s) becomes '?'.
 * Messages quote what clients sent; jansson refuses to encode invalid UTF-8. */
void svc_utf8_scrub(char *s);
/* A downstream call, counted in /metrics by target and result. */
void svc_call_start(svc_shell *shell, const svc_call *call, svc_call_done_fn done, void *ctx);
/* The same call retried under the configured policy (only for idempotent calls); `done` sees the last
 * attempt's result. With policy attempts == 1 this is svc_call_start. */
void svc_call_retrying(svc_shell *shell, const svc_call *call, svc_call_done_fn done, void *ctx);
void svc_timer(svc_shell *shell, int64_t delay_ns, svc_timer_fn fire, void *ctx);
/* Journals `record` (stolen) and calls done once it is durable. */
void svc_persist(svc_shell *shell, json_t *record, svc_persist_done_fn done, void *ctx);
/* Background work counter, so shutdown and the simulator's "quiet" check know when it is all done. */
void svc_background_add(svc_shell *shell, int delta);
void svc_log(svc_shell *shell, int level, const char *event, const char *fmt, ...);

/* Answers a request from every replica's records: asks every other replica of this service for `path`
 * (marked as forwarded, so each answers from its own records) and calls done(state, ex, results, count) once
 * all have answered or failed; done must answer ex. results[i] is replica i's result; results[self] is an OK
 * result with status 0 and no body. Bodies are valid only during the callback. If the shell is destroyed
 * first, done never runs (the shell frees the exchange). */
typedef void (*svc_ex_gather_fn)(void *state, svc_exchange *ex, const svc_call_result *results, int count);
void svc_ex_gather(svc_exchange *ex, const char *path, svc_ex_gather_fn done);
/* True when a listing request must be answered from this replica's records alone: it was forwarded by a
 * replica that is gathering, or it asks for "scope=local". Otherwise the handler gathers. */
int svc_ex_wants_local_only(const svc_exchange *ex);
/* A replica's answer as JSON: the parsed body of a 200, else NULL (call failed, other status, not JSON). */
json_t *svc_result_json(const svc_call_result *r);

/* ---- exchanges ---- */

const svc_request *svc_ex_request(const svc_exchange *ex);
json_t *svc_ex_body(const svc_exchange *ex);      /* the parsed body (routes with SVC_ROUTE_JSON_BODY) */
const char *svc_ex_param(const svc_exchange *ex); /* the segment captured by "/<segment>", else "" */
svc_shell *svc_ex_shell(const svc_exchange *ex);
int64_t svc_ex_elapsed_ns(svc_exchange *ex);
/* Answers with a JSON document (stolen). The exchange is gone afterwards. */
void svc_ex_reply(svc_exchange *ex, int status, json_t *body);
/* Answers with the document in `w` (taken; the writer is empty afterwards). Same bytes as svc_ex_reply
 * of the same document (jsonw.h); the hot routes use it. */
void svc_ex_reply_jw(svc_exchange *ex, int status, svc_jw *w);
/* Answers {"error": code, "message": ...}. */
void svc_ex_error(svc_exchange *ex, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Hands the request to the owner replica and relays its answer (502/503/504 when it cannot be reached). */
void svc_ex_forward(svc_exchange *ex, svc_peer peer, int replica);
/* Ownership routing: returns 0 when this replica is `owner` (handle the request here); otherwise takes
 * the exchange over (forwards it to the owner, or answers 421 if it was already forwarded once, which means
 * the replicas disagree on the replica count) and returns 1. */
int svc_ex_redirect_to_owner(svc_exchange *ex, int owner);

/* Maps a downstream failure to the status this service answers with: timeout 504, others 503. */
int svc_status_for_outcome(svc_call_outcome outcome);

#endif
