/*
 * check_sim.c: the whole simulator: determinism, the headline scenarios, the report, the HTTP client's
 * deadline semantics, the event queue's order, and the options table (every flag in --help, refused values
 * word for word, the reproducing command line parsed back to the same options).
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"
#include "faults/cfs.h"
#include "services/core/config.h"
#include "sim/engine/engine.h"
#include "sim/input/manifest.h"
#include "sim/load/load.h"
#include "sim/load/stats.h"
#include "sim/net/net.h"
#include "sim/net/tcp.h"
#include "sim/node/cluster.h"
#include "sim/node/http.h"
#include "sim/report/report.h"
#include "sim/run/options.h"
#include "sim/run/run.h"
#include "tests/support/support.h"

/* A short version of the headline run: same faults, shorter phases. */
static void headline(sim_options *o, double loss, uint64_t seed) {
    sim_options_defaults(o);
    o->seed = o->seed_last = seed;
    o->loss_pct = loss * 100;
    /* a 60 s chaos phase as in the headline: with a short one, most requests started during the chaos
     * finish after it and succeed, which hides the effect */
    o->baseline_ns = 10 * SEC;
    o->chaos_ns = 60 * SEC;
    o->recovery_ns = 15 * SEC;
    o->load.stop_ns = o->baseline_ns + o->chaos_ns + o->recovery_ns;
}

static char *report_of(const sim_options *o, sim_result *r) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    report_text(f, o, r);
    fclose(f);
    return text;
}

static void run(const sim_options *o, sim_result *r) {
    char err[256];
    ck_assert_int_eq(sim_run_once(o, o->seed, NULL, r, err, sizeof err), 0);
}

START_TEST(same_seed_same_bytes) {
    sim_options o;
    headline(&o, 0.8, 42);
    sim_result a, b;
    run(&o, &a);
    run(&o, &b);
    char *ta = report_of(&o, &a), *tb = report_of(&o, &b);
    ck_assert_str_eq(ta, tb);
    ck_assert_uint_eq(a.trace_hash, b.trace_hash);
    ck_assert_uint_eq(a.events, b.events);
    free(ta);
    free(tb);
    sim_result_free(&a);
    sim_result_free(&b);
}
END_TEST

START_TEST(different_seeds_differ) {
    sim_options o;
    headline(&o, 0.8, 1);
    sim_result a, b;
    run(&o, &a);
    o.seed = o.seed_last = 2;
    run(&o, &b);
    ck_assert_uint_ne(a.trace_hash, b.trace_hash);
    sim_result_free(&a);
    sim_result_free(&b);
}
END_TEST

START_TEST(fingerprints_find_no_divergence) {
    sim_options o;
    headline(&o, 0.5, 9);
    uint64_t *prints = NULL, n = 0;
    run_hooks h1 = {0};
    h1.record_fingerprints = 1;
    h1.prints_out = &prints;
    h1.prints_count = &n;
    sim_result a, b;
    char err[128];
    ck_assert_int_eq(sim_run_once(&o, o.seed, &h1, &a, err, sizeof err), 0);
    ck_assert_uint_eq(n, a.events);
    run_hooks h2 = {0};
    h2.expect_prints = prints;
    h2.expect_count = n;
    ck_assert_int_eq(sim_run_once(&o, o.seed, &h2, &b, err, sizeof err), 0);
    ck_assert_int_eq(b.mismatch, -1);
    /* and a different seed diverges somewhere: the checker can fail */
    sim_result c;
    ck_assert_int_eq(sim_run_once(&o, 10, &h2, &c, err, sizeof err), 0);
    ck_assert_int_ge(c.mismatch, 0);
    ck_assert_ptr_nonnull(strstr(c.event_desc, "t=")); /* and it says which event */
    free(prints);
    sim_result_free(&a);
    sim_result_free(&b);
    sim_result_free(&c);
}
END_TEST

START_TEST(no_loss_all_succeed) {
    sim_options o;
    headline(&o, 0, 1);
    sim_result r;
    run(&o, &r);
    for (int p = 0; p < PHASES; p++) {
        ck_assert_uint_gt(r.summary.phase[p].requests, 50);
        ck_assert_uint_eq(r.summary.phase[p].successes, r.summary.phase[p].requests);
    }
    ck_assert(r.summary.recovery_s == 0);
    ck_assert(!r.violation.found);
    sim_result_free(&r);
}
END_TEST

START_TEST(heavy_loss_fails_then_recovers) {
    sim_options o;
    headline(&o, 0.8, 42);
    sim_result r;
    run(&o, &r);
    const run_summary *s = &r.summary;
    ck_assert_double_eq_tol(s->phase[0].success_rate, 1.0, 1e-9);
    /* both chain steps cross lossy links; each needs ~3 packets through 80 % loss to complete within
     * 15 s of retransmissions, so most chains fail; "0-20 % success" is what the seed saw */
    ck_assert_double_lt(s->phase[1].success_rate, 0.4);
    ck_assert_double_gt(s->phase[2].success_rate, 0.95);
    ck_assert(s->recovery_s >= 0 && s->recovery_s < 3.0);
    ck_assert_double_gt(s->phase[1].p50_ms, 1000);
    /* the ledger realizes about the configured loss on the faulted packets */
    uint64_t faulted = 0, dropped = 0;
    for (size_t i = 0; i < r.nledger; i++) {
        faulted += r.ledger[i].faulted;
        dropped += r.ledger[i].dropped;
    }
    ck_assert_uint_gt(faulted, 1000);
    ck_assert_double_eq_tol((double)dropped / (double)faulted, 0.8, 0.03);
    sim_result_free(&r);
}
END_TEST

START_TEST(json_report_parses) {
    sim_options o;
    headline(&o, 0.8, 3);
    sim_result r;
    run(&o, &r);
    json_t *doc = report_json(&o, &r);
    char *text = json_dumps(doc, 0);
    json_error_t e;
    json_t *back = json_loads(text, 0, &e);
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(json_array_size(json_object_get(back, "phases")), 3);
    ck_assert_ptr_nonnull(json_object_get(back, "ledger"));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(back, "run"), "trace_hash"));
    json_decref(back);
    json_decref(doc);
    free(text);
    sim_result_free(&r);
}
END_TEST

/* The headline run (bin/sim --loss 0.8 --seed 42): its failure line counts every failed request by cause,
 * the chains answered 200 with overall_status "partial_failure" under their failed step's cause, so the
 * counters add up to the phase's failures, in the text and in the JSON. */
START_TEST(failure_counters_add_up) {
    sim_options o;
    sim_options_defaults(&o);
    o.seed = o.seed_last = 42;
    o.loss_pct = 80;
    sim_result r;
    run_hooks hooks = {.keep_records = 1};
    char err[256];
    ck_assert_int_eq(sim_run_once(&o, o.seed, &hooks, &r, err, sizeof err), 0);
    ck_assert_ptr_nonnull(r.records);
    const sim_phase_summary *ch = &r.summary.phase[1];
    size_t failed = ch->requests - ch->successes;
    ck_assert_uint_gt(failed, 100);
    /* most of them are answered 200 by payment: the client saw no timeout, a chain step did */
    size_t answered_200 = 0;
    for (size_t i = 0; i < r.nrecords; i++) {
        const sim_req_record *q = &r.records[i];
        if (q->start_ns >= o.baseline_ns && q->start_ns < o.baseline_ns + o.chaos_ns && !q->success &&
            q->outcome == SVC_CALL_OK && q->status == 200)
            answered_200++;
    }
    ck_assert_uint_gt(answered_200, failed / 2);
    char *text = report_of(&o, &r);
    const char *line = strstr(text, "failures during chaos: ");
    ck_assert_ptr_nonnull(line);
    unsigned long n, total, t, rs, rf, h, other = 0;
    int got = sscanf(line,
                     "failures during chaos: %lu of %lu requests: %lu timeouts, %lu resets, %lu refused, %lu HTTP "
                     "errors, %lu other",
                     &n, &total, &t, &rs, &rf, &h, &other);
    ck_assert_msg(got >= 6, "unexpected failure line: %.120s", line);
    ck_assert_uint_eq(n, failed);
    ck_assert_uint_eq(total, ch->requests);
    ck_assert_uint_eq(t + rs + rf + h + other, n);
    ck_assert_uint_gt(t, 0);
    json_t *doc = report_json(&o, &r);
    json_t *phases = json_object_get(doc, "phases");
    for (size_t i = 0; i < json_array_size(phases); i++) {
        json_t *p = json_array_get(phases, i), *f = json_object_get(p, "failures");
        json_int_t sum = 0;
        const char *keys[] = {"timeouts", "resets", "refused", "http_errors", "other"};
        for (size_t k = 0; k < 5; k++) sum += json_integer_value(json_object_get(f, keys[k]));
        json_int_t want =
            json_integer_value(json_object_get(p, "requests")) - json_integer_value(json_object_get(p, "successes"));
        ck_assert_int_eq(json_integer_value(json_object_get(f, "total")), want);
        ck_assert_int_eq(sum, want);
    }
    json_decref(doc);
    free(text);
    sim_result_free(&r);
}
END_TEST

/* How a failed request is classified: the client's own outcome first, then a status outside 2xx, then the
 * first failed chain step's error. */
START_TEST(failure_causes) {
    sim_req_record rec = {.outcome = SVC_CALL_OK, .status = 200, .success = 1};
    sim_req_set_cause(&rec, SIM_CAUSE_TIMEOUT);
    ck_assert_int_eq(rec.cause, SIM_CAUSE_NONE);
    rec.success = 0;
    sim_req_set_cause(&rec, sim_step_error_cause("HTTP 503", 8));
    ck_assert_int_eq(rec.cause, SIM_CAUSE_HTTP);
    sim_req_set_cause(&rec, sim_step_error_cause("reset", 5));
    ck_assert_int_eq(rec.cause, SIM_CAUSE_RESET);
    sim_req_set_cause(&rec, sim_step_error_cause("refused", 7));
    ck_assert_int_eq(rec.cause, SIM_CAUSE_REFUSED);
    sim_req_set_cause(&rec, sim_step_error_cause("failed", 6));
    ck_assert_int_eq(rec.cause, SIM_CAUSE_OTHER);
    sim_req_set_cause(&rec, SIM_CAUSE_NONE); /* a 2xx that is not a success and names no cause */
    ck_assert_int_eq(rec.cause, SIM_CAUSE_OTHER);
    rec.status = 503;
    sim_req_set_cause(&rec, SIM_CAUSE_TIMEOUT);
    ck_assert_int_eq(rec.cause, SIM_CAUSE_HTTP);
    rec.outcome = SVC_CALL_TIMEOUT;
    rec.status = 0;
    sim_req_set_cause(&rec, SIM_CAUSE_HTTP);
    ck_assert_int_eq(rec.cause, SIM_CAUSE_TIMEOUT);
    rec.outcome = SVC_CALL_FAILED;
    sim_req_set_cause(&rec, SIM_CAUSE_NONE);
    ck_assert_int_eq(rec.cause, SIM_CAUSE_OTHER);
    /* and the summary counts each once */
    sim_req_record recs[4] = {
        {.start_ns = 1, .end_ns = 2, .success = 1, .cause = SIM_CAUSE_NONE},
        {.start_ns = 1, .end_ns = 2, .status = 200, .cause = SIM_CAUSE_HTTP},
        {.start_ns = 1, .end_ns = 2, .status = 200, .cause = SIM_CAUSE_TIMEOUT},
        {.start_ns = 1, .end_ns = 2, .outcome = SVC_CALL_FAILED, .cause = SIM_CAUSE_OTHER},
    };
    for (int i = 0; i < 4; i++) recs[i].step_ok[0] = recs[i].step_ok[1] = -1;
    run_summary sum;
    stats_compute(recs, 4, 10, 20, 30, &sum);
    const sim_phase_summary *b = &sum.phase[0];
    ck_assert_uint_eq(b->requests, 4);
    ck_assert_uint_eq(b->http_errors, 1);
    ck_assert_uint_eq(b->timeouts, 1);
    ck_assert_uint_eq(b->other_failures, 1);
    ck_assert_uint_eq(b->resets + b->refused, 0);
    stats_free(&sum);
}
END_TEST

/* ---- the HTTP client's deadline: code 28 after 10 s, connection closed ---- */

static nf_verdict drop_all(void *ctx, int64_t now, const sim_host *src, sim_addr dst, const sim_packet *p) {
    (void)ctx;
    (void)now;
    (void)src;
    (void)dst;
    nf_verdict v = {p->dir == 0 && p->len ? NF_DROP : NF_PASS, 0, 1, 0};
    return v;
}

typedef struct waited {
    sim_http_result r;
    int done;
} waited;

static void got(void *ctx, const sim_http_result *r) {
    waited *w = ctx;
    w->r = *r;
    w->done = 1;
}

static void never_answer(void *ctx, sim_http_pending *p, const sim_http_msg *req) {
    (void)ctx;
    (void)p;
    (void)req;
}

START_TEST(deadline_times_out_and_closes) {
    sim_engine *e = sim_engine_new();
    net_config nc;
    net_config_defaults(&nc);
    sim_net *net = net_new(e, 1, &nc);
    tcp_config tc;
    tcp_config_defaults(&tc);
    tcp_attach(net, &tc);
    net_set_egress_hook(net, drop_all, NULL);
    sim_host *c = net_add_host(net, "client", SIM_ADDR(10, 0, 0, 1), NULL);
    sim_host *s = net_add_host(net, "server", SIM_ADDR(10, 0, 0, 2), NULL);
    sim_http_server *srv = sim_http_server_new(net, s, 80, 120 * SEC, never_answer, NULL);
    sim_http_client_config cc;
    sim_http_client_config_defaults(&cc);
    sim_http_client *cl = sim_http_client_new(net, c, &cc);
    waited w = {0};
    sim_http_request(cl, s->addr, 80, sim_http_msg_request("GET", "/x", NULL, 0, NULL, 0, "h"), 10 * SEC, got, &w);
    sim_run_until(e, 9 * SEC);
    ck_assert_int_eq(w.done, 0);
    sim_run_until(e, 11 * SEC);
    ck_assert_int_eq(w.done, 1);
    ck_assert_int_eq(w.r.outcome, SVC_CALL_TIMEOUT);
    ck_assert_int_ge(w.r.elapsed_ns, 10 * SEC);
    ck_assert_int_lt(w.r.elapsed_ns, 10 * SEC + 1000000);
    ck_assert_int_eq(sim_http_client_inflight(cl), 0);
    /* the next request opens a new connection: the timed-out one was closed */
    uint64_t connects = sim_http_client_get_stats(cl)->connects;
    net_set_egress_hook(net, NULL, NULL);
    waited w2 = {0};
    sim_http_request(cl, s->addr, 80, sim_http_msg_request("GET", "/y", NULL, 0, NULL, 0, "h"), 1 * SEC, got, &w2);
    sim_run_until(e, 13 * SEC);
    ck_assert_uint_eq(sim_http_client_get_stats(cl)->connects, connects + 1);
    sim_http_client_free(cl);
    sim_http_server_free(srv);
    net_free(net);
    sim_engine_free(e);
}
END_TEST

/* ---- the event queue: heap for what is due soon, calendar and overflow for later ---- */

#define Q_MAX 60000

/* The test's own record of every event it scheduled: its key (time, order of scheduling) and fate. */
typedef struct q_model {
    sim_engine *e;
    uint64_t lcg;
    int64_t at[Q_MAX];
    sim_event_id id[Q_MAX];
    char state[Q_MAX]; /* 0 pending, 1 ran, 2 cancelled */
    int n;
    int last_ran; /* the previous event run, -1 before the first */
    int ran, out_of_order, wrong_time, twice;
} q_model;

static uint64_t q_next(q_model *m) {
    m->lcg = m->lcg * 6364136223846793005ull + 1442695040888963407ull;
    return m->lcg >> 33;
}

static void q_fire(sim_engine *e, void *ctx, uint64_t arg);

/* Delays from every part of the queue: the same instant, the heap's span, the calendar, beyond it. */
static int q_schedule(q_model *m) {
    if (m->n == Q_MAX) return -1;
    int64_t now = sim_now(m->e), delay;
    switch (q_next(m) % 6) {
    case 0: delay = 0; break;
    case 1: delay = (int64_t)(q_next(m) % 1000); break;     /* ties within a microsecond */
    case 2: delay = (int64_t)(q_next(m) % 50000000); break; /* < 50 ms */
    case 3: delay = (int64_t)(q_next(m) % 20) * SEC; break; /* whole seconds: ties */
    case 4: delay = (int64_t)(q_next(m) % 200) * SEC + (int64_t)(q_next(m) % 1000); break;
    default: delay = 100 * SEC + (int64_t)(q_next(m) % 2000) * SEC; break; /* beyond the calendar */
    }
    int k = m->n++;
    m->at[k] = now + delay;
    m->id[k] = sim_at(m->e, now + delay, 1, (uint64_t)k, q_fire, m, (uint64_t)k);
    return k;
}

static void q_cancel_some(q_model *m) {
    int k = (int)(q_next(m) % (uint64_t)m->n);
    int was_pending = m->state[k] == 0;
    ck_assert_int_eq(sim_cancel(m->e, &m->id[k]), was_pending);
    if (was_pending) m->state[k] = 2;
}

static void q_fire(sim_engine *e, void *ctx, uint64_t arg) {
    q_model *m = ctx;
    int k = (int)arg;
    if (m->state[k] != 0) m->twice++;
    m->state[k] = 1;
    m->ran++;
    if (sim_now(e) != m->at[k]) m->wrong_time++;
    /* (time, order of scheduling) must grow from one event to the next */
    if (m->last_ran >= 0 && (m->at[k] < m->at[m->last_ran] || (m->at[k] == m->at[m->last_ran] && k < m->last_ran)))
        m->out_of_order++;
    m->last_ran = k;
    /* as TCP does: re-arm and cancel from inside events */
    int more = (int)(q_next(m) % 3);
    for (int i = 0; i < more; i++) q_schedule(m);
    if (q_next(m) % 2) q_cancel_some(m);
}

START_TEST(queue_runs_events_in_time_then_schedule_order) {
    static q_model m;
    memset(&m, 0, sizeof m);
    m.e = sim_engine_new();
    m.lcg = 7;
    m.last_ran = -1;
    for (int i = 0; i < 2000; i++) q_schedule(&m);
    for (int i = 0; i < 300; i++) q_cancel_some(&m);
    /* Run in slices, with jumps over stretches where little is due (the clock then leaps ahead). */
    int64_t t = 0;
    for (int slice = 0; slice < 400 && m.n < Q_MAX - 100; slice++) {
        t += slice % 50 == 49 ? 900 * SEC : (int64_t)(q_next(&m) % 3000) * 1000000;
        sim_run_until(m.e, t);
        for (int i = 0; i < 20; i++) q_schedule(&m);
        q_cancel_some(&m);
    }
    /* Everything left: pending count and times agree with the model, then it all runs. */
    size_t pending = 0;
    for (int k = 0; k < m.n; k++)
        if (m.state[k] == 0) {
            pending++;
            ck_assert_int_eq(sim_event_time(m.e, m.id[k]), m.at[k]);
        }
    ck_assert_uint_eq(sim_pending_count(m.e), pending);
    while (sim_pending_count(m.e)) sim_run_until(m.e, sim_now(m.e) + 1000 * SEC);
    ck_assert_int_eq(m.out_of_order, 0);
    ck_assert_int_eq(m.wrong_time, 0);
    ck_assert_int_eq(m.twice, 0);
    int never = 0, cancelled = 0;
    for (int k = 0; k < m.n; k++) {
        never += m.state[k] == 0;
        cancelled += m.state[k] == 2;
    }
    ck_assert_int_eq(never, 0);
    ck_assert_int_gt(cancelled, 500);
    ck_assert_int_gt(m.ran, 20000);
    ck_assert_uint_eq(sim_events_executed(m.e), (uint64_t)m.ran);
    sim_engine_free(m.e);
}
END_TEST

static void count_run(sim_engine *e, void *ctx, uint64_t arg) {
    (void)arg;
    int64_t *ran_at = ctx;
    *ran_at = sim_now(e);
}

START_TEST(queue_reaches_far_future_events_at_once) {
    /* Alone in the queue, an event 11.6 days ahead (beyond the calendar's reach) runs at its time, and
     * finding it takes a jump, not 30 million steps of 34 ms; one at INT64_MAX is held at 2^62 ns. */
    sim_engine *e = sim_engine_new();
    int64_t ran_at = -1, never = -1;
    const int64_t far = 1000000 * SEC + 123;
    sim_at(e, far, 1, 1, count_run, &ran_at, 0);
    sim_event_id last = sim_at(e, INT64_MAX, 1, 2, count_run, &never, 0);
    ck_assert_int_eq(sim_event_time(e, last), (int64_t)1 << 62);
    ck_assert_uint_eq(sim_run_until(e, far - 1), 0);
    ck_assert_int_eq(ran_at, -1);
    ck_assert_uint_eq(sim_run_until(e, far), 1);
    ck_assert_int_eq(ran_at, far);
    ck_assert_uint_eq(sim_run_until(e, INT64_MAX), 1);
    ck_assert_int_eq(never, (int64_t)1 << 62);
    ck_assert_uint_eq(sim_pending_count(e), 0);
    sim_engine_free(e);
}
END_TEST

static int cmp_double_test(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* stats_sort (the report's radix sort) against qsort, on sizes from empty to past the insertion-sort
 * threshold and on values that share bytes, repeat, span every exponent or go negative. */
START_TEST(stats_sort_matches_qsort) {
    uint64_t x = 88172645463325252ull;
    static const size_t sizes[] = {0, 1, 2, 3, 31, 32, 33, 100, 1000, 5000};
    for (int shape = 0; shape < 5; shape++) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            double *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                double v;
                switch (shape) {
                case 0: v = (double)(x % 100000) / 1000.0; break;                  /* latencies in ms */
                case 1: v = (double)(x % 7); break;                                /* many repeats, zeros */
                case 2: v = ldexp((double)(x >> 11), (int)(x % 200) - 150); break; /* every exponent */
                case 3: v = (double)((int64_t)(x % 2001) - 1000) / 8.0; break;     /* negatives */
                default: v = 1.0 + (double)(x % 4) * 1e-12; break;                 /* differ in low bytes only */
                }
                a[i] = b[i] = v;
            }
            stats_sort(a, n);
            qsort(b, n, sizeof *b, cmp_double_test);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(a[i] == b[i], "shape %d n %zu: [%zu] %g != %g", shape, n, i, a[i], b[i]);
            free(a);
            free(b);
        }
    }
    double z[] = {0.0, -0.0, 1.0, -1.0};
    stats_sort(z, 4);
    ck_assert(z[0] == -1.0 && signbit(z[1]) && z[2] == 0.0 && !signbit(z[2]) && z[3] == 1.0);
}
END_TEST

/* ---- the options table: parser, --help and the reproducing command ---- */

#define MAX_ARGS 64

/* Parses a NULL-terminated list of arguments (after the program name) over the defaults. */
static int parse_list(sim_options *o, const char *const *args, char *err, size_t errlen) {
    char *argv[MAX_ARGS] = {"bin/sim"};
    int argc = 1;
    for (; args[argc - 1]; argc++) {
        ck_assert_int_lt(argc, MAX_ARGS);
        argv[argc] = (char *)args[argc - 1];
    }
    sim_options_defaults(o);
    return sim_options_parse(o, argc, argv, err, errlen);
}

/* Splits a command line as sh would for what sim_options_command writes: words, '...' and \x. */
static int split_words(char *s, char **argv, int max) {
    int n = 0;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        ck_assert_int_lt(n, max);
        char *w = s, *o = s;
        while (*s && *s != ' ') {
            if (*s == '\'') {
                for (s++; *s && *s != '\''; s++) *o++ = *s;
                ck_assert_msg(*s == '\'', "unterminated quote");
                s++;
            } else if (*s == '\\' && s[1]) {
                *o++ = s[1];
                s += 2;
            } else {
                *o++ = *s++;
            }
        }
        int more = *s == ' ';
        *o = '\0';
        if (more) s++;
        argv[n++] = w;
    }
    return n;
}

/* a and b equal, the strings they point to compared as strings (they point into different argv) */
static void assert_same_options(const sim_options *a, const sim_options *b) {
    static sim_options x, y;
    x = *a;
    y = *b;
    const char **xs[] = {&x.manifest, &x.csv_path, &x.svg_path, &x.trace_path};
    const char **ys[] = {&y.manifest, &y.csv_path, &y.svg_path, &y.trace_path};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        ck_assert_pstr_eq(*xs[i], *ys[i]);
        *xs[i] = *ys[i] = NULL;
    }
    for (int i = 0; i < OPT_MAX_EXPERIMENTS; i++) {
        ck_assert_pstr_eq(x.experiments[i], y.experiments[i]);
        x.experiments[i] = y.experiments[i] = NULL;
    }
    for (int i = 0; i < OPT_MAX_EXPECT; i++) {
        ck_assert_pstr_eq(x.expects[i], y.expects[i]);
        ck_assert_pstr_eq(x.objects[i], y.objects[i]);
        x.expects[i] = y.expects[i] = x.objects[i] = y.objects[i] = NULL;
    }
    ck_assert_msg(memcmp(&x, &y, sizeof x) == 0, "the options differ after the round trip");
}

/* parse(command(parse(args))) == parse(args); returns the command for more checks (static buffer). */
static const char *round_trip(const char *const *args) {
    static sim_options a, b;
    static char cmd[4096], copy[4096];
    char err[256], *argv[MAX_ARGS];
    ck_assert_msg(parse_list(&a, args, err, sizeof err) == 0, "%s", err);
    sim_options_command(&a, a.seed, cmd, sizeof cmd);
    snprintf(copy, sizeof copy, "%s", cmd);
    int argc = split_words(copy, argv, MAX_ARGS);
    ck_assert_str_eq(argv[0], "bin/sim");
    sim_options_defaults(&b);
    ck_assert_msg(sim_options_parse(&b, argc, argv, err, sizeof err) == 0, "%s: %s", cmd, err);
    assert_same_options(&a, &b);
    return cmd;
}

START_TEST(options_command_round_trip) {
    static const char *const none[] = {NULL};
    ck_assert_str_eq(round_trip(none), "bin/sim --seed 1");
    static const char *const network[] = {"--seed",
                                          "42",
                                          "--loss",
                                          "0.3",
                                          "--correlation",
                                          "25%",
                                          "--delay",
                                          "10ms",
                                          "--jitter",
                                          "2500us",
                                          "--link",
                                          "payment:inventory",
                                          "--link",
                                          "inventory-service:notification",
                                          "--direction",
                                          "from",
                                          "--baseline",
                                          "2s",
                                          "--chaos",
                                          "10s",
                                          "--recovery",
                                          "1250ms",
                                          "--client-loss",
                                          "0.07",
                                          NULL};
    ck_assert_str_eq(round_trip(network),
                     "bin/sim --seed 42 --baseline 2s --chaos 10s --recovery 1250ms --loss 30% --correlation 25%"
                     " --delay 10ms --jitter 2500us --link payment:inventory --link inventory:notification"
                     " --direction from --client-loss 0.07");
    static const char *const load[] = {"--workload",
                                       "process",
                                       "--rate",
                                       "12.345",
                                       "--clients",
                                       "7",
                                       "--think",
                                       "5ms",
                                       "--client-retries",
                                       "2",
                                       "--keepalive",
                                       "--timeout",
                                       "2.5s",
                                       "--retries",
                                       "3",
                                       "--backoff",
                                       "50ms",
                                       "--idempotency",
                                       "off",
                                       "--pod-kill",
                                       "payment@3s",
                                       "--pod-kill",
                                       "inventory@1500ms",
                                       "--cpu-workers",
                                       "2",
                                       "--cpu-load",
                                       "80",
                                       "--cpu-target",
                                       "payment,inventory",
                                       "--mem-stress",
                                       "130MiB",
                                       "--mem-workers",
                                       "3",
                                       "--mem-target",
                                       "notification",
                                       NULL};
    const char *cmd = round_trip(load);
    ck_assert_ptr_nonnull(strstr(cmd, " --rate 12.345 --clients 7 "));
    ck_assert_ptr_nonnull(strstr(cmd, " --mem-stress 136314880 "));
    /* the last of --clients and --rate decides the loop; a later --workload wins over --endpoint's custom; a GET
     * to another path empties the body unless --body comes after; quotes survive */
    static const char *const open_loop[] = {"--clients", "9", "--rate", "3", NULL};
    round_trip(open_loop);
    static const char *const custom[] = {"--endpoint", "GET /inventory/check/1", "--workload", "chain", NULL};
    ck_assert_str_eq(round_trip(custom), "bin/sim --seed 1 --endpoint 'GET /inventory/check/1' --workload chain");
    static const char *const empty_body[] = {"--body", "", NULL};
    ck_assert_str_eq(round_trip(empty_body), "bin/sim --seed 1 --body ''");
    static const char *const body[] = {"--endpoint", "POST /payment/process", "--body", "{\"note\": \"it's\"}", NULL};
    round_trip(body);
    static const char *const cluster[] = {"--replicas",
                                          "2,1,1",
                                          "--cpus",
                                          "4",
                                          "--cpu-limit",
                                          "500",
                                          "--cpu-quantum",
                                          "1ms",
                                          "--wake-latency",
                                          "10us",
                                          "--cpu-scale",
                                          "1.37",
                                          "--link-latency",
                                          "123ns",
                                          "--syn-schedule",
                                          "doubling",
                                          "--downstream-keepalive",
                                          "off",
                                          "--fsync",
                                          "3ms",
                                          "--backoff",
                                          "9s",
                                          "--backoff",
                                          "20ms",
                                          "--idempotency",
                                          "on",
                                          NULL};
    round_trip(cluster);
    static const char *const sched[] = {"--sched", "eevdf-6.6", "--wake-stall", "0.3%,0.7ms,1.2ms", "--burst",
                                        "50",      NULL};
    ck_assert_str_eq(round_trip(sched), "bin/sim --seed 1 --burst 50 --sched eevdf-6.6 --wake-stall 0.3%,700us,1200us");
    static const char *const exp_stall[] = {"--wake-stall", "2.1394%,1422000ns", NULL};
    ck_assert_str_eq(round_trip(exp_stall), "bin/sim --seed 1 --wake-stall 2.1394%,1422us");
    static const char *const burst_at[] = {"--burst", "20@2500ms", "--sched", "cfs", "--wake-stall", "off", NULL};
    ck_assert_str_eq(round_trip(burst_at), "bin/sim --seed 1 --burst 20@2500ms --sched cfs");
    static const char *const experiments[] = {"--experiment",
                                              "chaos-experiments/02-packet-loss-80-percent.yaml",
                                              "--experiment",
                                              "my dir/x.yaml",
                                              "--manifest",
                                              "k8s/deployment.yaml",
                                              "--together",
                                              "--schedule-cycles",
                                              "3",
                                              "--object",
                                              "gradual-packet-loss",
                                              "--expect",
                                              "chain.success_rate >= 0.95 during recovery",
                                              "--partition",
                                              "--seed",
                                              "77",
                                              NULL};
    round_trip(experiments);
    /* how to run and what to print are not part of the run */
    static const char *const outputs[] = {"--seed",
                                          "5",
                                          "--json",
                                          "--csv",
                                          "x.csv",
                                          "--svg",
                                          "x.svg",
                                          "--trace",
                                          "t.txt",
                                          "--perf",
                                          "--check-determinism",
                                          "--find-violation",
                                          "--shrink",
                                          "--threads",
                                          "3",
                                          NULL};
    sim_options o;
    char err[256];
    ck_assert_int_eq(parse_list(&o, outputs, err, sizeof err), 0);
    char line[256];
    sim_options_command(&o, 9, line, sizeof line);
    ck_assert_str_eq(line, "bin/sim --seed 9");
}
END_TEST

START_TEST(options_every_flag_in_help) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sim_options_usage(f);
    fclose(f);
    int n = 0;
    for (const char *flag; (flag = sim_options_flag(n)); n++) {
        size_t fl = strlen(flag);
        int found = 0;
        for (const char *p = text; (p = strstr(p, flag)) && !found; p += fl)
            found = (p == text || p[-1] == ' ') && (p[fl] == ' ' || p[fl] == '\n');
        ck_assert_msg(found, "%s is not in --help", flag);
    }
    ck_assert_int_ge(n, 59);
    ck_assert_ptr_null(sim_options_flag(-1));
    free(text);
}
END_TEST

/* The messages of refused values (exit status 2 in bin/sim), word for word. */
#define WAKE_STALL_BAD                                                                                                 \
    "expected P,MEAN or P,MIN,MAX (e.g. 2%,1.4ms or 0.3%,0.7ms,1.2ms; 0 < MEAN, MIN <= MAX, both <= 100ms) or off"

START_TEST(options_refused_values) {
    static const struct {
        const char *args[6], *message;
    } cases[] = {
        {{"--bogus"}, "unknown option --bogus (see --help)"},
        {{"--loss", "0.5", "--seed"}, "--seed needs a value (see --help)"},
        {{"--seed", "12x"}, "--seed 12x: expected a non-negative integer"},
        {{"--seeds", "5..3"}, "--seeds 5..3: expected A..B with A <= B"},
        {{"--rate", "0"}, "--rate 0: expected a rate in (0, 100000] per second"},
        {{"--timeout", "0"}, "--timeout 0: expected a positive duration"},
        {{"--loss", "101%"}, "--loss 101%: expected a probability 0..1 or a percentage N%"},
        {{"--link", "payment:foo"}, "--link payment:foo: services are payment, inventory, notification"},
        {{"--direction", "up"}, "--direction up: expected to, from or both"},
        {{"--cpu-target", ","}, "--cpu-target ,: services are payment, inventory, notification"},
        {{"--mem-stress", "10XB"}, "--mem-stress 10XB: expected a size such as 100MB or 64MiB"},
        {{"--pod-kill", "inventory@1x"}, "--pod-kill inventory@1x: expected SERVICE@TIME, e.g. inventory@10s"},
        {{"--replicas", "3,0,2"}, "--replicas 3,0,2: each count must be 1..16"},
        {{"--cpu-quantum", "101ms"}, "--cpu-quantum 101ms: expected a duration up to 100ms"},
        {{"--cpu-scale", "11"}, "--cpu-scale 11: expected a factor 0.1..10"},
        {{"--idempotency", "maybe"}, "--idempotency maybe: expected on or off"},
        {{"--burst", "50@x"}, "--burst 50@x: expected N (1..10000) or N@DURATION, e.g. 50 or 50@5s"},
        {{"--sched", "bfs"},
         "--sched bfs: expected eevdf (as 6.18 runs it), eevdf-6.6 (6.6-6.11: Minikube's ISO) or cfs (before 6.6)"},
        {{"--wake-stall", "1%,2ms,1ms"}, "--wake-stall 1%,2ms,1ms: " WAKE_STALL_BAD},
        {{"--wake-stall", "1%,0ms"}, "--wake-stall 1%,0ms: " WAKE_STALL_BAD},
        {{"--jitter", "5ms"}, "--jitter needs --delay (netem applies jitter around a delay)"},
        {{"--cpu-workers", "2", "--cpu-load", "0"}, "--cpu-load 0 with workers only sleeps; give a load 1..100"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_options o;
        char err[256] = "";
        ck_assert_int_eq(parse_list(&o, cases[i].args, err, sizeof err), -1);
        ck_assert_str_eq(err, cases[i].message);
    }
    sim_options o;
    char err[256];
    static const char *const expects[] = {"--expect", "a", "--expect", "b", NULL};
    ck_assert_int_eq(parse_list(&o, expects, err, sizeof err), 0);
    ck_assert_int_eq(o.nexpects, 2);
    ck_assert_str_eq(o.expects[1], "b");
}
END_TEST

/* Every *_defaults() sets the whole struct, whatever the memory held before: configs live on callers'
 * stacks, and a field left as the stack had it made check_cfs pass or fail by the run (check_cfs.c,
 * defaults_set_every_field). Each struct is filled with a pattern, then with zeros, and given its defaults
 * both times: the two must be the same bytes. */
#define SAME_WHATEVER_THE_MEMORY(type, defaults)                                                                       \
    do {                                                                                                               \
        static type dirty, clean;                                                                                      \
        memset(&dirty, 0xA5, sizeof dirty);                                                                            \
        memset(&clean, 0, sizeof clean);                                                                               \
        defaults(&dirty);                                                                                              \
        defaults(&clean);                                                                                              \
        ck_assert_msg(memcmp(&dirty, &clean, sizeof dirty) == 0, #defaults " leaves a field as it was");               \
    } while (0)

START_TEST(defaults_do_not_depend_on_the_memory) {
    SAME_WHATEVER_THE_MEMORY(svc_config, svc_config_defaults);
    SAME_WHATEVER_THE_MEMORY(cfs_config, cfs_config_defaults);
    SAME_WHATEVER_THE_MEMORY(tcp_config, tcp_config_defaults);
    SAME_WHATEVER_THE_MEMORY(net_config, net_config_defaults);
    SAME_WHATEVER_THE_MEMORY(sim_http_client_config, sim_http_client_config_defaults);
    SAME_WHATEVER_THE_MEMORY(load_config, load_config_defaults);
    SAME_WHATEVER_THE_MEMORY(cluster_spec, cluster_spec_defaults);
    SAME_WHATEVER_THE_MEMORY(sim_manifest, manifest_defaults);
    SAME_WHATEVER_THE_MEMORY(sim_options, sim_options_defaults);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sim");
    TCase *t = tcase_create("whole");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, same_seed_same_bytes);
    tcase_add_test(t, different_seeds_differ);
    tcase_add_test(t, fingerprints_find_no_divergence);
    tcase_add_test(t, no_loss_all_succeed);
    tcase_add_test(t, heavy_loss_fails_then_recovers);
    tcase_add_test(t, json_report_parses);
    tcase_add_test(t, failure_counters_add_up);
    tcase_add_test(t, failure_causes);
    tcase_add_test(t, deadline_times_out_and_closes);
    suite_add_tcase(s, t);
    t = tcase_create("queue");
    tcase_add_test(t, queue_runs_events_in_time_then_schedule_order);
    tcase_add_test(t, queue_reaches_far_future_events_at_once);
    suite_add_tcase(s, t);
    t = tcase_create("options");
    tcase_add_test(t, options_command_round_trip);
    tcase_add_test(t, options_every_flag_in_help);
    tcase_add_test(t, options_refused_values);
    tcase_add_test(t, defaults_do_not_depend_on_the_memory);
    suite_add_tcase(s, t);
    t = tcase_create("stats");
    tcase_add_test(t, stats_sort_matches_qsort);
    suite_add_tcase(s, t);
    int failed = support_run_suite(s, CK_NORMAL, 0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
