/*
 * fake_runtime.h: an in-memory svc_runtime for the Check suites: no sockets, no threads, no wall clock.
 *
 * What it fakes, and how a test drives it:
 *   clock      manual. fake_advance(rt, ns) moves virtual time and fires the timers that fall due, in
 *              (due time, start order), settling everything after each one.
 *   random     a seeded pc_rng stream per node (base/rng.h, as the HTTP runtime and the simulator draw);
 *              fake_random_push() forces the next values.
 *   journal    persist() appends the record to an in-memory journal (fake_journal_at) and completes later,
 *              asynchronously, with error 0; fake_journal_fail_next() makes the next write fail (the record is
 *              not kept), fake_journal_hold() keeps completions back until fake_journal_hold(rt, 0).
 *   log        every line is captured (fake_log_at).
 *   calls      ops->call never answers by itself: the call is queued (fake_next_call) and the test answers it
 *              with fake_answer() or fake_fail(). Callbacks never run inside ops->call, as svc.h requires.
 *   requests   fake_req() runs a request through svc_shell_handle and captures the response (status, body,
 *              the body parsed by jansson, Allow, Content-Type); reply->done tells whether it was answered.
 *   trace      one line per event, in order ("request", "call", "persist", "durable", "answer", "reply"), so
 *              a test can assert the order of effects with fake_trace_find().
 *   cluster    fake_cluster_new() wires several shells (each with its own node: journal, log, random, call
 *              queue) on one shared clock; calls between them are routed in-process (replica -1 is a round
 *              robin over the replicas that are up). fake_cluster_set_down() makes a replica unreachable and
 *              fake_cluster_set_hold() lets the test keep chosen calls to answer or fail them itself.
 *
 * Settling: after every test action (fake_req, fake_answer, fake_fail, fake_advance, fake_run_pending) the
 * fake delivers journal completions, fires timers already due and, in a cluster, routes queued calls, until
 * nothing is left to do. Calls that nobody routes stay queued for the test.
 *
 * Ownership: a fake_rt owns its shell, the captured replies (valid until fake_free) and the queued calls (a
 * fake_call is freed when it is answered: do not use it afterwards). A cluster owns its nodes.
 * Failures inside the helpers (a shell that cannot be created, a journal that cannot be replayed) are
 * Check assertion failures.
 */
#ifndef PC_TESTS_SUPPORT_FAKE_RUNTIME_H
#define PC_TESTS_SUPPORT_FAKE_RUNTIME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "services/core/shell.h"
#include "services/core/svc.h"

#define FAKE_EPOCH_MS 1700000000000LL /* unix_ms() at virtual time 0 */
#define FAKE_MS 1000000LL             /* ns per ms, for fake_advance */

typedef struct fake_rt fake_rt;
typedef struct fake_cluster fake_cluster;
typedef struct fake_world fake_world;
typedef struct fake_reply fake_reply;

/* A downstream call waiting for the test (or the cluster) to answer it. Fields are read-only. */
typedef struct fake_call {
    svc_peer peer;
    int replica;
    char method[16];
    char *path; /* with the query, as the service passed it */
    char *body; /* NUL-terminated copy, or NULL */
    size_t body_len;
    json_t *json; /* the body parsed, or NULL */
    char *key;    /* Idempotency-Key, or NULL */
    int forwarded;
    int64_t timeout_ns;
    int64_t started_ns;
    /* private */
    struct fake_call *next;
    fake_rt *from;
    svc_call_done_fn done;
    void *ctx;
    int state; /* 0 new, 1 left to the test by the cluster's hold, 2 routed to a node */
    fake_reply *bridge;
} fake_call;

/* A request made by the test (or routed by the cluster) and its captured answer. */
struct fake_reply {
    int done; /* 1 once the shell answered */
    int status;
    char *body; /* NUL-terminated */
    size_t body_len;
    json_t *json; /* the body parsed, or NULL if it is not JSON */
    char allow[64];
    char content_type[64];
    /* private */
    svc_request req;
    char *method, *path, *query, *ctype, *key, *reqbody;
    fake_rt *rt;
    fake_reply *next;
    fake_call *origin; /* cluster: the call this request answers */
};

typedef struct fake_req_opts {
    const char *content_type; /* NULL: "application/json" when there is a body */
    int no_content_type;      /* send no Content-Type at all */
    const char *idempotency_key;
    int forwarded;
    int body_too_large;
    svc_auth service; /* what the runtime found: the service credential */
    svc_auth client;  /* and the client's API key */
} fake_req_opts;

/* ---- settings ---- */

/* svc_config_get_fn over a NULL-terminated array of "KEY=VALUE" strings (the last match wins). */
const char *fake_settings_get(void *settings, const char *key);

/* ---- nodes ---- */

/* A started service with its own runtime. settings: NULL-terminated "KEY=VALUE" list, or NULL. */
fake_rt *fake_service(const svc_module *module, const char *const *settings);
/* The same, not started (GET /ready is 503 until fake_start). */
fake_rt *fake_service_unstarted(const svc_module *module, const char *const *settings);
void fake_start(fake_rt *rt);
/* Tries to create a service: returns 0, or -1 with the configuration or create error in err. */
int fake_service_error(const svc_module *module, const char *const *settings, char *err, size_t errlen);
/* A bare runtime without a shell, for a test that creates its own shell with fake_runtime(). */
fake_rt *fake_rt_new(uint64_t seed);
svc_runtime fake_runtime(fake_rt *rt);
/* Destroys the shell (pending work dropped, as at shutdown) and the runtime. */
void fake_free(fake_rt *rt);
/* Crash and restart: destroys the shell without firing anything, keeps the journal, creates a new shell
 * with the same settings, replays the journal, starts it and settles. */
void fake_restart(fake_rt *rt);

svc_shell *fake_shell(fake_rt *rt);
void *fake_state(fake_rt *rt);
const char *fake_name(fake_rt *rt); /* "payment-0" */

/* ---- requests ---- */

fake_reply *fake_req(fake_rt *rt, const char *method, const char *target, const char *body);
fake_reply *fake_req_ex(fake_rt *rt, const char *method, const char *target, const char *body,
                        const fake_req_opts *opts);
/* Assertions that name the caller's line: the reply was answered with `status` (and error `code`). */
#define FAKE_EXPECT(r, status) fake_expect_at(__FILE__, __LINE__, (r), (status), NULL)
#define FAKE_EXPECT_ERROR(r, status, code) fake_expect_at(__FILE__, __LINE__, (r), (status), (code))
void fake_expect_at(const char *file, int line, const fake_reply *r, int status, const char *code);
/* Borrowed members of reply->json. */
const char *fake_str(const fake_reply *r, const char *key);
json_int_t fake_int(const fake_reply *r, const char *key);
double fake_num(const fake_reply *r, const char *key); /* integer or real */

/* ---- calls ---- */

size_t fake_calls_pending(fake_rt *rt); /* queued and not routed */
fake_call *fake_next_call(fake_rt *rt); /* the oldest one, or NULL */
size_t fake_calls_total(fake_rt *rt);   /* every call ever made by this node */
void fake_answer(fake_rt *rt, fake_call *c, int status, const char *body);
void fake_fail(fake_rt *rt, fake_call *c, svc_call_outcome outcome);

/* ---- time, timers, randomness ---- */

int64_t fake_now(fake_rt *rt);
void fake_advance(fake_rt *rt, int64_t ns);
size_t fake_timers_pending(fake_rt *rt);
int64_t fake_next_timer_in(fake_rt *rt); /* ns until the earliest timer, or -1 */
void fake_random_push(fake_rt *rt, uint64_t value);
void fake_run_pending(fake_rt *rt);

/* ---- journal ---- */

size_t fake_journal_count(fake_rt *rt);
const char *fake_journal_at(fake_rt *rt, size_t i);
json_t *fake_journal_json(fake_rt *rt, size_t i);          /* borrowed */
const char *fake_journal_type(fake_rt *rt, size_t i);      /* the record's "t" */
void fake_journal_append(fake_rt *rt, const char *record); /* as if an earlier run had written it */
void fake_journal_fail_next(fake_rt *rt, int error);
void fake_journal_hold(fake_rt *rt, int hold);
size_t fake_journal_held(fake_rt *rt);

/* ---- log and trace ---- */

size_t fake_log_count(fake_rt *rt);
const char *fake_log_at(fake_rt *rt, size_t i);
/* Lines whose "event" field equals event. */
size_t fake_log_count_event(fake_rt *rt, const char *event);
size_t fake_trace_count(fake_rt *rt);
const char *fake_trace_at(fake_rt *rt, size_t i);
/* Index of the first trace line at or after `from` that contains needle, or -1. */
long fake_trace_find(fake_rt *rt, const char *needle, long from);
void fake_trace_dump(fake_rt *rt); /* to stderr, for debugging a failing test */
/* Frees the answered replies, the log and the trace, so long loops measure the service, not the fake.
 * Replies returned earlier for answered requests are invalid afterwards. */
void fake_forget(fake_rt *rt);

/* ---- cluster ---- */

/* replicas[peer] nodes of each service (0: none, calls to it stay queued); replica counts in every node's
 * config are max(1, replicas[peer]). settings apply to every node. */
fake_cluster *fake_cluster_new(const int replicas[SVC_PEER_COUNT], const char *const *settings);
fake_rt *fake_node(fake_cluster *cl, svc_peer peer, int replica);
/* outcome SVC_CALL_OK: up; anything else: calls to that replica fail with it. */
void fake_cluster_set_down(fake_cluster *cl, svc_peer peer, int replica, svc_call_outcome outcome);
/* hold(ctx, call) returning 1 leaves the call queued at its caller for the test to answer. */
void fake_cluster_set_hold(fake_cluster *cl, int (*hold)(void *ctx, const fake_call *c), void *ctx);
/* Calls routed from `from` to (peer, replica) so far. */
size_t fake_cluster_routed(fake_cluster *cl, fake_rt *from, svc_peer peer, int replica);
void fake_cluster_free(fake_cluster *cl);

#endif
