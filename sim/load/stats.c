/*
 * stats.c: phase summaries, timeline and recovery time (see stats.h).
 */
#include "sim/load/stats.h"
#include "base/units.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STEP 100000000LL /* recovery windows slide by 100 ms */

/* Nearest-rank quantile of values already sorted. */
static double quantile_of_sorted(const double *v, size_t n, double q) {
    if (!n) return 0;
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return v[rank - 1];
}

/* A double's bits as an unsigned key in the same order: positive values keep their bits with the sign
 * set, negative ones are inverted (IEEE 754 orders magnitudes like their bit patterns). */
static uint64_t order_key(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u >> 63 ? ~u : u | (UINT64_C(1) << 63);
}

static double from_key(uint64_t k) {
    uint64_t u = k >> 63 ? k & ~(UINT64_C(1) << 63) : ~k;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Sorts the latencies of a run (no NaN): a least-significant-digit radix sort on order_key(), a byte per
 * pass, skipping the bytes that every key shares (the exponent's, mostly). It gives qsort's order, several
 * times faster than qsort's callback per comparison (the run's report sorts ~5 000 values). Small arrays
 * take an insertion sort. */
void stats_sort(double *v, size_t n) {
    if (n < 2) return;
    if (n < 32) {
        for (size_t i = 1; i < n; i++) {
            double x = v[i];
            size_t j = i;
            for (; j > 0 && order_key(v[j - 1]) > order_key(x); j--) v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    uint64_t *keys = malloc(2 * n * sizeof *keys);
    if (!keys) abort();
    uint64_t *from = keys, *to = keys + n;
    uint64_t all_and = ~UINT64_C(0), all_or = 0;
    for (size_t i = 0; i < n; i++) {
        from[i] = order_key(v[i]);
        all_and &= from[i];
        all_or |= from[i];
    }
    for (int shift = 0; shift < 64; shift += 8) {
        if ((((all_and ^ all_or) >> shift) & 0xff) == 0) continue; /* the same byte everywhere */
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++) count[((from[i] >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++) to[count[(from[i] >> shift) & 0xff]++] = from[i];
        uint64_t *t = from;
        from = to;
        to = t;
    }
    for (size_t i = 0; i < n; i++) v[i] = from_key(from[i]);
    free(keys);
}

double stats_quantile(double *v, size_t n, double q) {
    stats_sort(v, n);
    return quantile_of_sorted(v, n, q);
}

static double latency_ms(const sim_req_record *r) { return (double)(r->end_ns - r->start_ns) / 1e6; }

static void summarize(const sim_req_record *recs, size_t n, int64_t from, int64_t to, sim_phase_summary *p) {
    p->from_ns = from;
    p->to_ns = to;
    double *lat = malloc((n ? n : 1) * sizeof *lat);
    double *steps[2] = {malloc((n ? n : 1) * sizeof(double)), malloc((n ? n : 1) * sizeof(double))};
    if (!lat || !steps[0] || !steps[1]) abort();
    double sum = 0, attempts = 0;
    for (size_t i = 0; i < n; i++) {
        const sim_req_record *r = &recs[i];
        if (r->start_ns < from || r->start_ns >= to) continue;
        double l = latency_ms(r);
        lat[p->requests++] = l;
        sum += l;
        attempts += r->attempts;
        if (l > p->max_ms) p->max_ms = l;
        if (r->success) p->successes++;
        switch ((sim_fail_cause)r->cause) {
        case SIM_CAUSE_NONE: break;
        case SIM_CAUSE_TIMEOUT: p->timeouts++; break;
        case SIM_CAUSE_RESET: p->resets++; break;
        case SIM_CAUSE_REFUSED: p->refused++; break;
        case SIM_CAUSE_HTTP: p->http_errors++; break;
        default: p->other_failures++; break;
        }
        for (int k = 0; k < 2; k++) {
            if (r->step_ok[k] < 0) continue;
            steps[k][p->step_n[k]++] = r->step_latency_us[k] / 1000.0;
            p->step_ok[k] += (size_t)r->step_ok[k];
        }
    }
    p->success_rate = p->requests ? (double)p->successes / (double)p->requests : 0;
    p->mean_ms = p->requests ? sum / (double)p->requests : 0;
    p->attempts_mean = p->requests ? attempts / (double)p->requests : 0;
    stats_sort(lat, p->requests);
    p->p50_ms = quantile_of_sorted(lat, p->requests, 0.50);
    p->p90_ms = quantile_of_sorted(lat, p->requests, 0.90);
    p->p99_ms = quantile_of_sorted(lat, p->requests, 0.99);
    double secs = (double)(to - from) / 1e9;
    p->throughput_per_s = secs > 0 ? (double)p->successes / secs : 0;
    for (int k = 0; k < 2; k++) {
        p->step_success[k] = p->step_n[k] ? (double)p->step_ok[k] / (double)p->step_n[k] : 0;
        stats_sort(steps[k], p->step_n[k]);
        p->step_p50_ms[k] = quantile_of_sorted(steps[k], p->step_n[k], 0.50);
        p->step_p99_ms[k] = quantile_of_sorted(steps[k], p->step_n[k], 0.99);
    }
    free(lat);
    free(steps[0]);
    free(steps[1]);
}

/* Success rate and p50 of requests that started in [from, from + 1 s); -1 rate if none. */
static void window(const sim_req_record *recs, size_t n, int64_t from, double *rate, double *p50, double *buf) {
    size_t count = 0, ok = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].start_ns < from || recs[i].start_ns >= from + SEC) continue;
        buf[count++] = latency_ms(&recs[i]);
        ok += recs[i].success;
    }
    *rate = count ? (double)ok / (double)count : -1;
    *p50 = stats_quantile(buf, count, 0.5);
}

void stats_compute(const sim_req_record *recs, size_t n, int64_t b, int64_t c, int64_t r, run_summary *out) {
    memset(out, 0, sizeof *out);
    static const char *const names[PHASES] = {"baseline", "chaos", "recovery"};
    int64_t bounds[PHASES + 1] = {0, b, c, r};
    for (int i = 0; i < PHASES; i++) {
        out->phase[i].name = names[i];
        summarize(recs, n, bounds[i], bounds[i + 1], &out->phase[i]);
    }
    double *buf = malloc((n ? n : 1) * sizeof *buf);
    if (!buf) abort();
    /* timeline: one pass counts the requests that started in each second, a second one puts their
     * latencies into buf grouped by second (a counting sort), then each group is sorted on its own */
    out->timeline_len = (size_t)((r + SEC - 1) / SEC);
    out->timeline = calloc(out->timeline_len ? out->timeline_len : 1, sizeof *out->timeline);
    size_t *first = calloc(out->timeline_len + 1, sizeof *first);
    if (!out->timeline || !first) abort();
    for (size_t i = 0; i < n; i++) {
        int64_t s = recs[i].start_ns / SEC;
        if (s < 0 || s >= (int64_t)out->timeline_len) continue;
        out->timeline[s].requests++;
        out->timeline[s].successes += recs[i].success;
    }
    for (size_t s = 0; s < out->timeline_len; s++) first[s + 1] = first[s] + out->timeline[s].requests;
    for (size_t i = 0; i < n; i++) {
        int64_t s = recs[i].start_ns / SEC;
        if (s < 0 || s >= (int64_t)out->timeline_len) continue;
        buf[first[s]++] = latency_ms(&recs[i]);
    }
    for (size_t s = 0, at = 0; s < out->timeline_len; s++) {
        sim_timeline_point *t = &out->timeline[s];
        size_t count = t->requests;
        t->second = (int64_t)s;
        t->success_rate = count ? (double)t->successes / (double)count : 0;
        stats_sort(buf + at, count);
        t->p50_ms = quantile_of_sorted(buf + at, count, 0.5);
        t->p99_ms = quantile_of_sorted(buf + at, count, 0.99);
        at += count;
    }
    free(first);
    /* recovery */
    const sim_phase_summary *base = &out->phase[0];
    double target = (base->requests ? base->success_rate : 1.0) - RECOVERY_TOLERANCE;
    double lat_target = base->p50_ms * 1.5 + 1.0;
    int affected = out->phase[1].requests && out->phase[1].success_rate < target;
    out->affected = affected;
    out->recovery_s = affected ? -1 : 0;
    out->latency_recovery_s = -1;
    int lat_affected = out->phase[1].requests && out->phase[1].p50_ms > lat_target;
    out->latency_affected = lat_affected;
    if (!lat_affected) out->latency_recovery_s = 0;
    for (int64_t t = c; t + SEC <= r && (out->recovery_s < 0 || out->latency_recovery_s < 0); t += STEP) {
        double rate, p50;
        window(recs, n, t, &rate, &p50, buf);
        if (rate < 0) continue;
        if (out->recovery_s < 0 && rate >= target) out->recovery_s = (double)(t - c) / 1e9;
        if (out->latency_recovery_s < 0 && p50 <= lat_target) out->latency_recovery_s = (double)(t - c) / 1e9;
    }
    free(buf);
}

void stats_free(run_summary *s) {
    free(s->timeline);
    s->timeline = NULL;
}
