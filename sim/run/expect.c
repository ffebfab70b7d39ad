/*
 * expect.c: the expectation language (see expect.h).
 */
#include "sim/run/expect.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    M_SUCCESS = 0,
    M_P50,
    M_P90,
    M_P99,
    M_MAX,
    M_MEAN,
    M_REQUESTS,
    M_THROUGHPUT,
    M_TIMEOUTS,
    M_RESETS,
    M_REFUSED,
    M_HTTP_ERRORS,
    M_INV_SUCCESS,
    M_INV_P50,
    M_INV_P99,
    M_INV_REQUESTS,
    M_NOT_SUCCESS,
    M_NOT_P50,
    M_NOT_P99,
    M_NOT_REQUESTS,
    M_RECOVERY,
    M_LAT_RECOVERY,
    M_COUNT
};

static const char *const names[M_COUNT] = {"chain.success_rate",
                                           "chain.p50_ms",
                                           "chain.p90_ms",
                                           "chain.p99_ms",
                                           "chain.max_ms",
                                           "chain.mean_ms",
                                           "chain.requests",
                                           "chain.throughput_per_s",
                                           "chain.timeouts",
                                           "chain.resets",
                                           "chain.refused",
                                           "chain.http_errors",
                                           "inventory.success_rate",
                                           "inventory.p50_ms",
                                           "inventory.p99_ms",
                                           "inventory.requests",
                                           "notification.success_rate",
                                           "notification.p50_ms",
                                           "notification.p99_ms",
                                           "notification.requests",
                                           "recovery_s",
                                           "latency_recovery_s"};
static const char *const ops[] = {"<", "<=", ">", ">=", "=="};
static const char *const phases[] = {"baseline", "chaos", "recovery"};

int expect_metric_count(void) { return M_COUNT; }
const char *expect_metric_name(int m) { return m >= 0 && m < M_COUNT ? names[m] : "?"; }
int expect_metric_is_recovery(int m) { return m == M_RECOVERY || m == M_LAT_RECOVERY; }

double expect_metric_value(int m, int phase, const run_summary *s) {
    const sim_phase_summary *p = &s->phase[phase];
    switch (m) {
    case M_SUCCESS: return p->requests ? p->success_rate : NAN;
    case M_P50: return p->requests ? p->p50_ms : NAN;
    case M_P90: return p->requests ? p->p90_ms : NAN;
    case M_P99: return p->requests ? p->p99_ms : NAN;
    case M_MAX: return p->requests ? p->max_ms : NAN;
    case M_MEAN: return p->requests ? p->mean_ms : NAN;
    case M_REQUESTS: return (double)p->requests;
    case M_THROUGHPUT: return p->throughput_per_s;
    case M_TIMEOUTS: return (double)p->timeouts;
    case M_RESETS: return (double)p->resets;
    case M_REFUSED: return (double)p->refused;
    case M_HTTP_ERRORS: return (double)p->http_errors;
    case M_INV_SUCCESS: return p->step_n[0] ? p->step_success[0] : NAN;
    case M_INV_P50: return p->step_n[0] ? p->step_p50_ms[0] : NAN;
    case M_INV_P99: return p->step_n[0] ? p->step_p99_ms[0] : NAN;
    case M_INV_REQUESTS: return (double)p->step_n[0];
    case M_NOT_SUCCESS: return p->step_n[1] ? p->step_success[1] : NAN;
    case M_NOT_P50: return p->step_n[1] ? p->step_p50_ms[1] : NAN;
    case M_NOT_P99: return p->step_n[1] ? p->step_p99_ms[1] : NAN;
    case M_NOT_REQUESTS: return (double)p->step_n[1];
    case M_RECOVERY: return s->recovery_s < 0 ? INFINITY : s->recovery_s;
    case M_LAT_RECOVERY: return s->latency_recovery_s < 0 ? INFINITY : s->latency_recovery_s;
    default: return NAN;
    }
}

static const char *skip(const char *s) {
    while (isspace((unsigned char)*s)) s++;
    return s;
}

/* The metric name at *p (advancing it) into metric; its index, or M_COUNT with err set. */
static int parse_metric(const char **p, char *metric, size_t size, const char *source, const char *whole, char *err,
                        size_t errlen) {
    size_t k = 0;
    while (**p && (isalnum((unsigned char)**p) || **p == '.' || **p == '_') && k + 1 < size) metric[k++] = *(*p)++;
    metric[k] = '\0';
    int m;
    for (m = 0; m < M_COUNT; m++)
        if (!strcmp(metric, names[m])) return m;
    char list[1024];
    size_t n = 0;
    for (int i = 0; i < M_COUNT && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", names[i]);
    snprintf(err, errlen, "%s: \"%s\": unknown metric \"%s\" (one of %s)", source, whole, metric, list);
    return M_COUNT;
}

/* The comparison operator at *p (advancing it); -1 if none. */
static int parse_op(const char **p) {
    static const struct {
        const char *text;
        int op;
    } table[] = {{"<=", EXP_LE}, {">=", EXP_GE}, {"==", EXP_EQ}, {"<", EXP_LT}, {">", EXP_GT}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        size_t n = strlen(table[i].text);
        if (!strncmp(*p, table[i].text, n)) {
            *p += n;
            return table[i].op;
        }
    }
    return -1;
}

/* `during <phase>` at p: the phase's index, or -1 with err set. */
static int parse_phase(const char *p, const char *source, const char *whole, char *err, size_t errlen) {
    if (strncmp(p, "during", 6) || !isspace((unsigned char)p[6])) {
        snprintf(err, errlen,
                 "%s: \"%s\": expected `during <phase>` after the number (phases: baseline, chaos, recovery)", source,
                 whole);
        return -1;
    }
    p = skip(p + 6);
    for (int ph = 0; ph < 3; ph++) {
        size_t pl = strlen(phases[ph]);
        if (!strncmp(p, phases[ph], pl) && !*skip(p + pl)) return ph;
    }
    snprintf(err, errlen, "%s: \"%s\": unknown phase \"%s\" (baseline, chaos, recovery)", source, whole, p);
    return -1;
}

static int parse_one(const char *text, size_t len, const char *source, sim_expectation *e, char *err, size_t errlen) {
    char buf[256];
    if (len >= sizeof buf) {
        snprintf(err, errlen, "%s: expectation too long: \"%.60s...\"", source, text);
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    const char *whole = skip(buf), *p = whole;
    char metric[64];
    int m = parse_metric(&p, metric, sizeof metric, source, whole, err, errlen);
    if (m == M_COUNT) return -1;
    p = skip(p);
    int op = parse_op(&p);
    if (op < 0) {
        snprintf(err, errlen, "%s: \"%s\": expected an operator (< <= > >= ==) after %s", source, whole, metric);
        return -1;
    }
    p = skip(p);
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v)) {
        snprintf(err, errlen, "%s: \"%s\": expected a number after %s", source, whole, ops[op]);
        return -1;
    }
    int ph = parse_phase(skip(end), source, whole, err, errlen);
    if (ph < 0) return -1;
    if (expect_metric_is_recovery(m) && ph != 2) {
        snprintf(err, errlen, "%s: \"%s\": %s is measured after the chaos phase: write `during recovery`", source,
                 whole, metric);
        return -1;
    }
    if (strstr(metric, "success_rate") && (v < 0 || v > 1)) {
        snprintf(err, errlen, "%s: \"%s\": a success rate is a fraction between 0 and 1 (0.95, not 95)", source, whole);
        return -1;
    }
    memset(e, 0, sizeof *e);
    e->metric = m;
    e->op = (expect_op)op;
    e->value = v;
    e->phase = ph;
    snprintf(e->text, sizeof e->text, "%s %s %g during %s", names[m], ops[op], v, phases[ph]);
    snprintf(e->source, sizeof e->source, "%s", source);
    return 0;
}

int expect_parse(const char *text, const char *source, sim_expectation *out, int max, int *n, char *err,
                 size_t errlen) {
    const char *s = text;
    int any = 0;
    while (*s) {
        const char *semi = strchr(s, ';');
        size_t len = semi ? (size_t)(semi - s) : strlen(s);
        int blank = 1;
        for (size_t i = 0; i < len; i++)
            if (!isspace((unsigned char)s[i])) blank = 0;
        if (!blank) {
            if (*n >= max) {
                snprintf(err, errlen, "%s: more than %d expectations", source, max);
                return -1;
            }
            if (parse_one(s, len, source, &out[*n], err, errlen) < 0) return -1;
            int dup = 0;
            for (int i = 0; i < *n; i++)
                if (!strcmp(out[i].text, out[*n].text)) dup = 1;
            if (!dup) (*n)++;
            any = 1;
        }
        s += len + (semi ? 1 : 0);
    }
    if (!any) {
        snprintf(err, errlen, "%s: empty expectation", source);
        return -1;
    }
    return 0;
}

expect_result expect_eval(const sim_expectation *e, const run_summary *s) {
    expect_result r = {0, 1, 0};
    double v = expect_metric_value(e->metric, e->phase, s);
    r.actual = v;
    if (isnan(v)) {
        r.available = 0;
        return r;
    }
    switch (e->op) {
    case EXP_LT: r.pass = v < e->value; break;
    case EXP_LE: r.pass = v <= e->value; break;
    case EXP_GT: r.pass = v > e->value; break;
    case EXP_GE: r.pass = v >= e->value; break;
    case EXP_EQ: r.pass = fabs(v - e->value) <= 1e-9 * (fabs(e->value) > 1 ? fabs(e->value) : 1); break;
    }
    return r;
}

void expect_format_actual(const sim_expectation *e, const expect_result *r, char *out, size_t outlen) {
    if (!r->available)
        snprintf(out, outlen, "n/a");
    else if (isinf(r->actual))
        snprintf(out, outlen, "never");
    else if (strstr(names[e->metric], "success_rate"))
        snprintf(out, outlen, "%.3f", r->actual);
    else
        snprintf(out, outlen, "%.2f", r->actual);
}
