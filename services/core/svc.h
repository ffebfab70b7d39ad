/*
 * svc.h: the contract between a service's logic and the runtime that hosts it.
 *
 * payment-chaos runs the same service code in two runtimes: the HTTP runtime (services/http/, one process
 * per pod, libmicrohttpd + libcurl) and the simulator (sim/, every pod of the cluster in one deterministic
 * single-threaded process on a virtual clock). The logic in services/ therefore never does I/O, never reads a
 * clock, owns no thread and no random generator: everything that touches the world goes through the
 * svc_runtime below, and the runtime decides what "now", "random", "call inventory" and "make it durable" mean.
 *
 * Threading: a runtime calls into a service (handle, completions, timers) from one thread at a time. The
 * HTTP runtime serialises with a lock; the simulator is single-threaded. Service code holds no locks.
 *
 * Asynchrony: every operation that waits (a downstream call, a timer, a journal write) completes through a
 * callback that the runtime invokes later, exactly once, and never from inside the function that started it
 * (no re-entrancy, so a handler can start a call and then finish its own bookkeeping). A request is answered
 * by calling its reply function exactly once, possibly long after handle() returned.
 *
 * Ownership, in one sentence: the runtime owns requests (valid until the reply is sent) and call results
 * (valid during the callback); the service owns its state and the context pointers it hands to callbacks;
 * a response body passed to reply is handed over to the runtime, which frees it.
 */
#ifndef PC_SERVICES_CORE_SVC_H
#define PC_SERVICES_CORE_SVC_H

#include <stddef.h>
#include <stdint.h>

/* The three services; also the index of per-service arrays (replica counts, URLs). */
typedef enum svc_peer { SVC_PAYMENT = 0, SVC_INVENTORY = 1, SVC_NOTIFICATION = 2, SVC_PEER_COUNT = 3 } svc_peer;

const char *svc_peer_name(svc_peer peer); /* "payment", "inventory", "notification" */

/* Hard limits shared by both runtimes (documented in the README). */
#define SVC_BODY_MAX_BYTES (64 * 1024)
#define SVC_HEADER_VALUE_MAX 200 /* Idempotency-Key and similar header values */

/* What the runtime found out about who sent a request (docs/security.md). The zero value, SVC_AUTH_OFF,
 * means the runtime checks no credential of that kind (no SERVICE_TOKEN, no API_KEYS_FILE: the seed's trust
 * model, and the simulator's), and every route accepts the request as before. */
typedef enum svc_auth {
    SVC_AUTH_OFF = 0, /* not configured: not checked */
    SVC_AUTH_VALID,   /* a credential was sent and it matches */
    SVC_AUTH_MISSING, /* configured, and the request carries none (401) */
    SVC_AUTH_WRONG    /* configured, and the request carries one that does not match (403) */
} svc_auth;

/* An HTTP request as the service sees it. All strings are NUL-terminated and owned by the runtime. */
typedef struct svc_request {
    const char *method;          /* "GET", "POST", ... */
    const char *path;            /* "/payment/status/pay-1-..."; never contains the query */
    const char *query;           /* text after '?', or NULL */
    const char *content_type;    /* Content-Type header, or NULL */
    const char *idempotency_key; /* Idempotency-Key header, or NULL */
    int forwarded;               /* 1 if a peer replica forwarded it to us as the owner */
    const char *body;            /* request body (not NUL-terminated), may be NULL when body_len == 0 */
    size_t body_len;
    int body_too_large; /* the runtime stopped reading after SVC_BODY_MAX_BYTES */
    svc_auth service;   /* the service-to-service credential (SERVICE_TOKEN) */
    svc_auth client;    /* the client's API key (API_KEYS_FILE) */
} svc_request;

/* A response. The body is malloc'd; whoever receives the response frees it. */
typedef struct svc_response {
    int status;
    char *body;
    size_t body_len;
    const char *content_type; /* static string */
    const char *allow;        /* static "GET, POST" for 405 answers, else NULL */
} svc_response;

typedef void (*svc_reply_fn)(void *reply_ctx, svc_response *response);

/* A downstream call. The runtime copies what it needs before svc_runtime_ops.call returns. */
typedef struct svc_call {
    svc_peer peer;
    int replica; /* -1: through the load-balanced Service; >= 0: that replica */
    const char *method;
    const char *path; /* may include a query */
    const char *body; /* JSON text or NULL */
    size_t body_len;
    const char *idempotency_key; /* sent as Idempotency-Key, or NULL */
    int forwarded;               /* sent as X-Forwarded-To-Owner: 1 */
    int64_t timeout_ns;          /* whole-exchange deadline, connect included (libcurl TIMEOUT_MS semantics) */
} svc_call;

typedef enum svc_call_outcome {
    SVC_CALL_OK = 0,  /* an HTTP response arrived (any status) */
    SVC_CALL_TIMEOUT, /* the deadline passed; the connection was closed (curl code 28) */
    SVC_CALL_REFUSED, /* could not connect: refused or unreachable (curl code 7) */
    SVC_CALL_RESET,   /* the connection died before a complete response (curl 52/55/56) */
    SVC_CALL_FAILED,  /* any other local failure (no memory, bad URL) */
    SVC_CALL_OUTCOME_COUNT
} svc_call_outcome;

const char *svc_call_outcome_name(svc_call_outcome outcome); /* "ok", "timeout", ... */

typedef struct svc_call_result {
    svc_call_outcome outcome;
    int status;       /* HTTP status when outcome == SVC_CALL_OK, else 0 */
    const char *body; /* borrowed for the duration of the callback; may be NULL */
    size_t body_len;
    int64_t elapsed_ns;
} svc_call_result;

typedef void (*svc_call_done_fn)(void *ctx, const svc_call_result *result);
typedef void (*svc_timer_fn)(void *ctx);
typedef void (*svc_persist_done_fn)(void *ctx, int error); /* error: 0 = durable, else errno-like */

/*
 * What a runtime provides. `self` is the runtime's own object, passed back to every operation.
 *   now_ns      monotonic time in ns (virtual in the simulator).
 *   unix_ms     wall-clock time for timestamps in documents (a fixed epoch + virtual time in the simulator).
 *   random_u64  uniformly random bits (seeded per pod in the simulator, getrandom in the HTTP runtime).
 *   random_id   may be NULL. Fills hex[0..32) with 128 random bits in lowercase hex for a record id that
 *               must not be guessable (the HTTP runtime: getrandom). NULL: ids carry the 64 bits of one
 *               random_u64 (the simulator, whose seeded streams and reports stay as they were).
 *   call        start a downstream call; `done` runs later, exactly once.
 *   timer       run `fire` after delay_ns. Timers cannot be cancelled; when the runtime shuts down,
 *               pending timers are dropped without firing (the service frees their contexts in destroy).
 *   persist     append one record to this replica's journal and make it durable (fsync) before `done`.
 *               A runtime without a journal completes immediately (asynchronously) with error 0.
 *   log         write one structured log line (JSON, no newline).
 */
typedef struct svc_runtime_ops {
    int64_t (*now_ns)(void *self);
    int64_t (*unix_ms)(void *self);
    uint64_t (*random_u64)(void *self);
    void (*random_id)(void *self, char hex[32]);
    void (*call)(void *self, const svc_call *call, svc_call_done_fn done, void *ctx);
    void (*timer)(void *self, int64_t delay_ns, svc_timer_fn fire, void *ctx);
    void (*persist)(void *self, const char *record, size_t len, svc_persist_done_fn done, void *ctx);
    void (*log)(void *self, const char *line);
} svc_runtime_ops;

typedef struct svc_runtime {
    const svc_runtime_ops *ops;
    void *self;
} svc_runtime;

#endif
