/*
 * load.h: the clients that drive the system, and the record of every request they made.
 *
 * Clients sit outside the cluster (like the seed's test script behind `kubectl port-forward`, or the lab's
 * load generator) and call the payment Service. Arrivals are either open-loop (Poisson at `rate` per
 * second, each request independent of the others: what makes CFS throttling show as U(0, P - w) waits),
 * closed-loop (N clients, each sending its next request when the previous one ends, after `think`), or
 * bursts (`burst` requests started at the same instant, `burst_at` into each phase, and nothing else: the
 * seed's `test-chaos.sh stress`, whose figure is the time until the last one is answered).
 *
 * Workloads:
 *   chain    POST /payment/chain {"product_id":"1"}; success = 200 with overall_status "success";
 *            the two steps' outcomes and latencies are recorded too
 *   process  POST /payment/process with an Idempotency-Key per payment; a failed attempt (timeout, reset,
 *            5xx) is retried with the same key up to `client_retries` times; success = 2xx (the service
 *            answers 200, the seed's status)
 *   custom   any METHOD /path with an optional JSON body; success = 2xx
 *
 * Each client uses a libcurl-like HTTP client (fresh connection per request, or keep-alive).
 * Ownership: the load owns its clients and records; records stay valid until load_free().
 */
#ifndef PC_SIM_LOAD_LOAD_H
#define PC_SIM_LOAD_LOAD_H

#include <stdint.h>

#include "sim/node/cluster.h"

/* Where the load clients live (outside the pod network, like a laptop behind kubectl port-forward). */
#define LOAD_CLIENT_ADDR SIM_ADDR(192, 168, 49, 1)

typedef enum load_workload { LOAD_CHAIN = 0, LOAD_PROCESS, LOAD_CUSTOM } load_workload;

typedef struct load_config {
    load_workload workload;
    int closed_loop;
    double rate_per_s;
    int clients;
    int64_t think_ns;
    int keepalive;
    int64_t timeout_ns;
    int64_t start_ns, stop_ns; /* arrivals only inside [start, stop) */
    int burst;                 /* > 0: bursts of this many requests instead of the steady load */
    int64_t burst_at_ns;       /* how far into each phase the burst starts (1 s) */
    int64_t phase_ns[3];       /* where the phases start (baseline, chaos, recovery): one burst each */
    char method[8];
    char path[160];
    char body[512];
    int client_retries; /* process workload */
    int64_t client_backoff_ns;
    int products; /* process workload: product ids 1..products */
} load_config;

void load_config_defaults(load_config *cfg);

/* Why a request failed, so that the report's failure counters add up to the failed requests: the client's
 * own outcome (timeout, reset, refused), an HTTP status outside 2xx, or, for a chain answered 200 with
 * overall_status "partial_failure", the cause of its first failed step ("timeout", "HTTP 503", ...).
 * OTHER: anything else (a local failure, a 2xx answer that is not a success and names no cause). */
typedef enum sim_fail_cause {
    SIM_CAUSE_NONE = 0, /* a success */
    SIM_CAUSE_TIMEOUT,
    SIM_CAUSE_RESET,
    SIM_CAUSE_REFUSED,
    SIM_CAUSE_HTTP,
    SIM_CAUSE_OTHER,
    SIM_CAUSE_COUNT
} sim_fail_cause;

typedef struct sim_req_record {
    int64_t start_ns, end_ns;
    uint8_t outcome; /* svc_call_outcome of the last attempt */
    uint8_t success;
    int16_t status;
    int8_t step_ok[2]; /* chain: 1 success, 0 failed, -1 absent */
    int32_t step_latency_us[2];
    uint8_t attempts;
    uint8_t cause;         /* sim_fail_cause; set by sim_req_set_cause once the request ended */
    uint8_t step_cause[2]; /* chain: why a failed step failed (sim_fail_cause); SIM_CAUSE_NONE otherwise */
} sim_req_record;

/* "timeout", "reset", "refused", "HTTP error", "other"; "" for SIM_CAUSE_NONE. */
const char *sim_fail_cause_name(sim_fail_cause c);

/* The cause named by a chain step's `error` text (len bytes, not NUL-terminated): "timeout", "reset",
 * "refused", "HTTP <status>"; anything else is OTHER. */
sim_fail_cause sim_step_error_cause(const char *error, size_t len);
/* Sets rec->cause from its success, outcome and status; `step_cause` is the first failed chain step's
 * cause (SIM_CAUSE_NONE when there is none). Shared by the simulator's clients and the lab's loadgen. */
void sim_req_set_cause(sim_req_record *rec, sim_fail_cause step_cause);

/* A payment the system acknowledged (201) to a client: the invariant checkers verify it survives. */
typedef struct sim_acked_payment {
    char key[48];
    char payment_id[72];
    int64_t amount_minor;
    char product_id[16];
    int quantity;
} sim_acked_payment;

typedef struct sim_load sim_load;

sim_load *load_new(sim_cluster *c, const load_config *cfg, uint64_t seed);
void load_free(sim_load *l);
void load_start(sim_load *l);

size_t load_record_count(const sim_load *l);
const sim_req_record *load_records(const sim_load *l);
size_t load_acked_count(const sim_load *l);
const sim_acked_payment *load_acked(const sim_load *l);
/* Keys for which the client saw more than one distinct payment_id acknowledged. */
size_t load_duplicate_acks(const sim_load *l);
int load_inflight(const sim_load *l);
const load_config *load_get_config(const sim_load *l);
const char *load_workload_name(load_workload w);
/* When the burst of phase 0..2 starts (load_config.burst > 0). */
int64_t load_burst_time(const load_config *cfg, int phase);

#endif
