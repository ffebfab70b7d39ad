/*
 * metrics.h: request and downstream-call counters with a latency histogram, rendered in the Prometheus
 * text format (version 0.0.4).
 *
 * Fixed-size tables, no allocation after init: a route index and a status code select a counter, so the
 * memory a service spends on metrics does not grow with traffic. Statuses are kept per exact code (at most
 * SVC_METRICS_CODES distinct codes per route; further codes are counted under code "other").
 * The caller owns the svc_metrics struct; svc_metrics_render returns a malloc'd string the caller frees.
 */
#ifndef PC_SERVICES_CORE_METRICS_H
#define PC_SERVICES_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "services/core/svc.h"

#define SVC_METRICS_ROUTES 24
#define SVC_METRICS_CODES 12
#define SVC_METRICS_BUCKETS 14

typedef struct svc_route_metrics {
    const char *label; /* "POST /payment/chain" */
    int codes[SVC_METRICS_CODES];
    uint64_t counts[SVC_METRICS_CODES];
    uint64_t other_count;
    uint64_t buckets[SVC_METRICS_BUCKETS]; /* cumulative at render time, stored per bucket */
    uint64_t observations;
    double sum_seconds;
} svc_route_metrics;

typedef struct svc_metrics {
    const char *service;
    size_t route_count;
    svc_route_metrics routes[SVC_METRICS_ROUTES];
    /* downstream calls by target service and result: result index is svc_call_outcome, plus one slot
     * for "http_5xx" answers (outcome ok, status >= 500) */
    uint64_t calls[SVC_PEER_COUNT][SVC_CALL_OUTCOME_COUNT + 1];
} svc_metrics;

void svc_metrics_init(svc_metrics *m, const char *service);
/* Registers a route label (static string); returns its index, or -1 when the table is full. */
int svc_metrics_add_route(svc_metrics *m, const char *label);
void svc_metrics_observe(svc_metrics *m, int route, int status, int64_t latency_ns);
void svc_metrics_call(svc_metrics *m, svc_peer peer, const svc_call_result *result);
char *svc_metrics_render(const svc_metrics *m, size_t *len);

#endif
