/*
 * metrics.c: fixed tables of counters, rendered as Prometheus text (see metrics.h).
 */
#include "services/core/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds in seconds; +Inf is implicit. Covers the sub-ms loopback case up to the 15 s chain timeout. */
static const double bucket_bounds[SVC_METRICS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                          0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   15.0};

void svc_metrics_init(svc_metrics *m, const char *service) {
    memset(m, 0, sizeof *m);
    m->service = service;
}

int svc_metrics_add_route(svc_metrics *m, const char *label) {
    if (m->route_count >= SVC_METRICS_ROUTES) return -1;
    m->routes[m->route_count].label = label;
    return (int)m->route_count++;
}

void svc_metrics_observe(svc_metrics *m, int route, int status, int64_t latency_ns) {
    if (route < 0 || (size_t)route >= m->route_count) return;
    svc_route_metrics *r = &m->routes[route];
    int slot = -1;
    for (int i = 0; i < SVC_METRICS_CODES; i++) {
        if (r->codes[i] == status || r->codes[i] == 0) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        r->other_count++;
    } else {
        r->codes[slot] = status;
        r->counts[slot]++;
    }
    double seconds = (double)latency_ns / 1e9;
    for (int b = 0; b < SVC_METRICS_BUCKETS; b++) {
        if (seconds <= bucket_bounds[b]) {
            r->buckets[b]++;
            break;
        }
    }
    r->observations++;
    r->sum_seconds += seconds;
}

void svc_metrics_call(svc_metrics *m, svc_peer peer, const svc_call_result *result) {
    if ((int)peer < 0 || peer >= SVC_PEER_COUNT) return;
    int slot = (int)result->outcome;
    if (result->outcome == SVC_CALL_OK && result->status >= 500) slot = SVC_CALL_OUTCOME_COUNT;
    m->calls[peer][slot]++;
}

/* A growable text buffer; on allocation failure it stays failed and render returns NULL. */
typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void text_printf(text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n + 256;
        char *nb = realloc(t->buf, cap);
        if (!nb) {
            t->failed = 1;
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
}

char *svc_metrics_render(const svc_metrics *m, size_t *len) {
    text t = {malloc(4096), 0, 4096, 0};
    if (!t.buf) return NULL;
    t.buf[0] = '\0';
    text_printf(&t,
                "# HELP http_requests_total Requests answered, by route and status code.\n"
                "# TYPE http_requests_total counter\n");
    for (size_t i = 0; i < m->route_count; i++) {
        const svc_route_metrics *r = &m->routes[i];
        for (int c = 0; c < SVC_METRICS_CODES && r->codes[c]; c++)
            text_printf(&t, "http_requests_total{service=\"%s\",route=\"%s\",code=\"%d\"} %llu\n", m->service, r->label,
                        r->codes[c], (unsigned long long)r->counts[c]);
        if (r->other_count)
            text_printf(&t, "http_requests_total{service=\"%s\",route=\"%s\",code=\"other\"} %llu\n", m->service,
                        r->label, (unsigned long long)r->other_count);
    }
    text_printf(&t,
                "# HELP http_request_duration_seconds Time from request to answer.\n"
                "# TYPE http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->route_count; i++) {
        const svc_route_metrics *r = &m->routes[i];
        if (!r->observations) continue;
        uint64_t cumulative = 0;
        for (int b = 0; b < SVC_METRICS_BUCKETS; b++) {
            cumulative += r->buckets[b];
            text_printf(&t, "http_request_duration_seconds_bucket{service=\"%s\",route=\"%s\",le=\"%g\"} %llu\n",
                        m->service, r->label, bucket_bounds[b], (unsigned long long)cumulative);
        }
        text_printf(&t, "http_request_duration_seconds_bucket{service=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n",
                    m->service, r->label, (unsigned long long)r->observations);
        text_printf(&t, "http_request_duration_seconds_sum{service=\"%s\",route=\"%s\"} %.6f\n", m->service, r->label,
                    r->sum_seconds);
        text_printf(&t, "http_request_duration_seconds_count{service=\"%s\",route=\"%s\"} %llu\n", m->service, r->label,
                    (unsigned long long)r->observations);
    }
    text_printf(&t,
                "# HELP downstream_calls_total Calls to other services, by target and result.\n"
                "# TYPE downstream_calls_total counter\n");
    for (int p = 0; p < SVC_PEER_COUNT; p++) {
        for (int o = 0; o <= SVC_CALL_OUTCOME_COUNT; o++) {
            if (!m->calls[p][o]) continue;
            const char *result = o == SVC_CALL_OUTCOME_COUNT ? "http_5xx" : svc_call_outcome_name(o);
            text_printf(&t, "downstream_calls_total{service=\"%s\",target=\"%s\",result=\"%s\"} %llu\n", m->service,
                        svc_peer_name((svc_peer)p), result, (unsigned long long)m->calls[p][o]);
        }
    }
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
