/*
 * tests/check_netem.c: Check suite for faults/prandom, faults/netem and faults/tbf.
 *
 * What it pins down, against numbers computed independently of the code under test:
 *   - prandom: the kernel's own CONFIG_RANDOM32_SELFTEST vectors (lib/random32.c, taus113 from
 *     GSL), the seeding fix-ups, determinism per seed;
 *   - get_crandom: the integer recurrence on hand-checked values, and the long-run loss rates of
 *     correlated loss against the table in ../shared/facts/linux-tcp-cfs.md section 3;
 *   - delay: tc's tick truncation, the exact (modulo-biased) distribution of uniform jitter,
 *     the reordering rate it implies, and what delay correlation really does to the spread;
 *   - limit: tail drop above limit / delay packets per second;
 *   - the kernel's decision order, by replaying the draws with an independent reference;
 *   - determinism of whole verdict sequences;
 *   - tbf: Chaos Mesh rate strings, psched_l2t_ns truncation, an exact small schedule and the
 *     long-run rate of a 1mbps bucket.
 * Measured tables are printed to stdout (one line per case) so a run documents itself.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/netem.h"
#include "faults/netem_effective.h"
#include "faults/prandom.h"
#include "faults/tbf.h"
#include "tests/support/support.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

/* Check records the source location of every ck_assert with a write to its control file, a
 * system call each: hot loops count mismatches with MISS() and assert once afterwards. */
#define MISS(bad, cond) ((bad) += !(cond))

/* netem_qdisc and tbf_qdisc are large (inline queues): keep them off the stack. */
static netem_qdisc g_q, g_q2;
static tbf_qdisc g_tbf;

/* ------------------------------------------------------------------------------------------
 * prandom
 * ------------------------------------------------------------------------------------------ */

/* lib/random32.c test1[]: seed_early(seed) + warmup, then the first output. */
static const struct {
    uint32_t seed, result;
} k_test1[] = {
    {1u, 3484351685u},
    {2u, 2623130059u},
    {3u, 3125133893u},
    {4u, 984847254u},
};

/* A sample of lib/random32.c test2[] ("test cases against taus113 from GSL library"): after
 * seed_early + warmup, the iteration-th output. */
static const struct {
    uint32_t seed, iteration, result;
} k_test2[] = {
    {931557656u, 959u, 2975593782u}, {1339693295u, 876u, 3887776532u}, {1545556285u, 961u, 1615538833u},
    {601730776u, 723u, 1776162651u}, {1967883163u, 508u, 10734624u},   {1516232129u, 557u, 3173877u},
    {47485338u, 558u, 3521120834u},  {70616361u, 829u, 22483098u},     {1535432887u, 998u, 42610943u},
    {407983964u, 921u, 728767059u},
};

START_TEST(test_prandom_kernel_selftest_vectors) {
    for (size_t i = 0; i < sizeof(k_test1) / sizeof(k_test1[0]); i++) {
        prandom_state s;
        prandom_seed_early(&s, k_test1[i].seed);
        prandom_warmup(&s);
        ck_assert_uint_eq(prandom_u32_state(&s), k_test1[i].result);
    }
    for (size_t i = 0; i < sizeof(k_test2) / sizeof(k_test2[0]); i++) {
        prandom_state s;
        prandom_seed_early(&s, k_test2[i].seed);
        prandom_warmup(&s);
        for (uint32_t j = 0; j + 1 < k_test2[i].iteration; j++) (void)prandom_u32_state(&s);
        ck_assert_msg(prandom_u32_state(&s) == k_test2[i].result, "test2[%zu] seed %u", i, (unsigned)k_test2[i].seed);
    }
}
END_TEST

START_TEST(test_prandom_seed_minimums) {
    prandom_state s;

    /* Seed 0 folds to 0: every component is lifted by exactly its minimum. */
    prandom_seed_state(&s, 0);
    ck_assert_uint_eq(s.s1, 2);
    ck_assert_uint_eq(s.s2, 8);
    ck_assert_uint_eq(s.s3, 16);
    ck_assert_uint_eq(s.s4, 128);

    /* 2^32 folds to (seed >> 32) = 1: 1 + m for each. */
    prandom_seed_state(&s, 1ULL << 32);
    ck_assert_uint_eq(s.s1, 3);
    ck_assert_uint_eq(s.s2, 9);
    ck_assert_uint_eq(s.s3, 17);
    ck_assert_uint_eq(s.s4, 129);

    /* 100 folds to (100 << 10) ^ 100 = 102500: above every minimum, all four equal. */
    prandom_seed_state(&s, 100);
    ck_assert_uint_eq(s.s1, 102500u);
    ck_assert_uint_eq(s.s4, 102500u);

    /* 10 folds to (10 << 10) ^ 10 = 10250, above every minimum. */
    prandom_seed_state(&s, 10);
    ck_assert_uint_eq(s.s1, 10250u);

    /* Any seed: every component starts at or above its minimum and never collapses to 0. */
    int bad = 0;
    for (uint64_t seed = 0; seed < 2000; seed++) {
        prandom_seed_state(&s, seed * 0x9E3779B97F4A7C15ULL);
        MISS(bad, s.s1 >= PRANDOM_S1_MIN && s.s2 >= PRANDOM_S2_MIN);
        MISS(bad, s.s3 >= PRANDOM_S3_MIN && s.s4 >= PRANDOM_S4_MIN);
        for (int k = 0; k < 8; k++) (void)prandom_u32_state(&s);
        /* A component at 0 would stay 0 forever; the fix-up prevents that. */
        MISS(bad, s.s1 != 0 && s.s2 != 0 && s.s3 != 0 && s.s4 != 0);
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(test_prandom_determinism) {
    prandom_state a, b, c;
    prandom_seed_state(&a, 12345);
    prandom_seed_state(&b, 12345);
    prandom_seed_state(&c, 12346);
    int differ = 0, bad = 0;
    for (int i = 0; i < 10000; i++) {
        uint32_t x = prandom_u32_state(&a);
        MISS(bad, x == prandom_u32_state(&b));
        differ += x != prandom_u32_state(&c);
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_gt(differ, 9990);

    /* Output is roughly uniform: the top bit is set about half the time. */
    prandom_seed_state(&a, 99);
    int high = 0;
    for (int i = 0; i < 100000; i++) high += (prandom_u32_state(&a) >> 31) != 0;
    ck_assert_int_gt(high, 49000);
    ck_assert_int_lt(high, 51000);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * percentages and get_crandom
 * ------------------------------------------------------------------------------------------ */

START_TEST(test_percent_to_u32) {
    ck_assert_uint_eq(netem_percent_to_u32(0), 0);
    ck_assert_uint_eq(netem_percent_to_u32(100), UINT32_MAX);
    ck_assert_uint_eq(netem_percent_to_u32(80), 3435973836u); /* 0.8 * (2^32 - 1), exact */
    ck_assert_uint_eq(netem_percent_to_u32(50), 2147483648u); /* 2147483647.5 rounds to even */
    ck_assert_uint_eq(netem_percent_to_u32(25), 1073741824u); /* 1073741823.75 */
    ck_assert_uint_eq(netem_percent_to_u32(-3), 0);
    ck_assert_uint_eq(netem_percent_to_u32(250), UINT32_MAX);
    ck_assert_uint_eq(netem_percent_to_u32(NAN), 0);
}
END_TEST

START_TEST(test_crandom_recurrence) {
    prandom_state p, mirror;
    prandom_seed_state(&p, 5);
    prandom_seed_state(&mirror, 5);

    /* rho = 0 (or NULL state): the raw PRNG output, and last is untouched. */
    netem_crnd st = {.rho = 0, .last = 777};
    ck_assert_uint_eq(netem_get_crandom(&st, &p), prandom_u32_state(&mirror));
    ck_assert_uint_eq(st.last, 777);
    ck_assert_uint_eq(netem_get_crandom(NULL, &p), prandom_u32_state(&mirror));

    /* rho = 2^31 - 1 -> weight exactly 1/2: answer = floor((U + last) / 2). */
    st.rho = 0x7FFFFFFFu;
    st.last = 4000000000u;
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t u = prandom_u32_state(&mirror);
        uint64_t expect = (u + st.last) >> 1;
        MISS(bad, netem_get_crandom(&st, &p) == expect);
        MISS(bad, st.last == expect);
    }
    ck_assert_int_eq(bad, 0);

    /* rho = 2^32 - 1 -> weight of U is 0: stuck at last forever. */
    st.rho = UINT32_MAX;
    st.last = 123456789u;
    for (int i = 0; i < 100; i++) MISS(bad, netem_get_crandom(&st, &p) == 123456789u);
    ck_assert_int_eq(bad, 0);

    /* rho = 3 * 2^30 - 1 -> weight 3/4 on last: (U + 3 * last) >> 2. */
    prandom_seed_state(&p, 6);
    prandom_seed_state(&mirror, 6);
    st.rho = 0xBFFFFFFFu;
    st.last = 17;
    for (int i = 0; i < 1000; i++) {
        uint64_t u = prandom_u32_state(&mirror);
        uint64_t expect = (u + 3 * (uint64_t)st.last) >> 2;
        MISS(bad, netem_get_crandom(&st, &p) == expect);
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* The facts table (linux-tcp-cfs.md section 3, 2*10^7-packet replica) and chaos-mesh.md. */
static const struct {
    double loss, corr, expect_pct;
    int at_least; /* 1: expect_pct is a lower bound */
} k_loss_cases[] = {
    {80, 0, 80.0, 0},  {80, 50, 97.1, 0}, {20, 25, 10.2, 0}, {50, 0, 50.0, 0},  {50, 30, 50.0, 0},
    {50, 75, 50.0, 0}, {95, 75, 99.9, 1}, {80, 25, 89.8, 0}, {30, 50, 13.0, 0},
};
#define LOSS_SEEDS 3
#define LOSS_PACKETS 1000000L

START_TEST(test_loss_table) {
    int c = _i / LOSS_SEEDS;
    uint64_t seed = 1000003ULL * (uint64_t)(_i % LOSS_SEEDS + 1);
    netem_config cfg = {.loss_pct = k_loss_cases[c].loss, .loss_corr_pct = k_loss_cases[c].corr};
    ck_assert_int_eq(netem_init(&g_q, &cfg, seed), NETEM_OK);

    long lost = 0, bad = 0;
    netem_verdict v;
    for (long i = 0; i < LOSS_PACKETS; i++) {
        /* One packet per microsecond; without delay the queue never fills. */
        if (netem_enqueue(&g_q, i * 1000, &v) == 0) {
            MISS(bad, v.copy[0].fate == NETEM_DROP_LOSS);
            lost++;
        }
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(g_q.stats.dropped_loss, (uint64_t)lost);
    ck_assert_uint_eq(g_q.stats.dropped_limit, 0);

    double pct = 100.0 * (double)lost / (double)LOSS_PACKETS;
    printf("loss %2.0f%% corr %2.0f%% seed %llu: realized %.3f %% (facts %s%.1f %%)\n", k_loss_cases[c].loss,
           k_loss_cases[c].corr, (unsigned long long)seed, pct, k_loss_cases[c].at_least ? ">= " : "",
           k_loss_cases[c].expect_pct);
    if (k_loss_cases[c].at_least)
        ck_assert_double_ge(pct, k_loss_cases[c].expect_pct);
    else
        ck_assert_double_eq_tol(pct, k_loss_cases[c].expect_pct, 0.3);
}
END_TEST

/* netem_effective_pct, the rate the reader's and the prediction's notes quote: the same facts table as the
 * qdisc realizes above, deterministic, and the cases it answers without drawing. */
START_TEST(test_effective_pct) {
    for (size_t c = 0; c < sizeof k_loss_cases / sizeof k_loss_cases[0]; c++) {
        double eff = netem_effective_pct(k_loss_cases[c].loss, k_loss_cases[c].corr);
        if (k_loss_cases[c].at_least)
            ck_assert_double_ge(eff, k_loss_cases[c].expect_pct);
        else
            ck_assert_double_eq_tol(eff, k_loss_cases[c].expect_pct, 0.3);
    }
    ck_assert_double_ge(netem_effective_pct(80, 50), 96.8);
    ck_assert_double_le(netem_effective_pct(80, 50), 97.4);
    ck_assert_double_eq(netem_effective_pct(50, 40), netem_effective_pct(50, 40));
    ck_assert_double_eq(netem_effective_pct(0, 50), 0);
    ck_assert_double_eq(netem_effective_pct(-5, 50), 0);
    ck_assert_double_eq(netem_effective_pct(37.5, 0), 37.5);
    ck_assert_double_eq(netem_effective_pct(100, 90), 100);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * delay and jitter
 * ------------------------------------------------------------------------------------------ */

START_TEST(test_tc_time_truncation) {
    ck_assert_int_eq(netem_tc_time_ns(2 * NS_PER_S), 2 * NS_PER_S);
    ck_assert_int_eq(netem_tc_time_ns(500 * NS_PER_MS), 500 * NS_PER_MS);
    ck_assert_int_eq(netem_tc_time_ns(NS_PER_MS), NS_PER_MS);
    ck_assert_int_eq(netem_tc_time_ns(8000), 8000); /* 8 us = 125 ticks, exact */
    ck_assert_int_eq(netem_tc_time_ns(1000), 960);  /* 1 us = 15.625 -> 15 ticks */
    ck_assert_int_eq(netem_tc_time_ns(1999), 960);  /* sub-microsecond part dropped first */
    ck_assert_int_eq(netem_tc_time_ns(100000), 99968);
    ck_assert_int_eq(netem_tc_time_ns(0), 0);
    ck_assert_int_eq(netem_tc_time_ns(-1), -1);
    /* 2^32 ticks of 64 ns = 274.877906944 s: tc refuses it. */
    ck_assert_int_eq(netem_tc_time_ns(274 * NS_PER_S), 274 * NS_PER_S);
    ck_assert_int_eq(netem_tc_time_ns(275 * NS_PER_S), -1);

    /* Jitter is capped at INT_MAX ns after the tick conversion. */
    netem_config cfg = {.latency_ns = 5 * NS_PER_S, .jitter_ns = 3 * NS_PER_S};
    ck_assert_int_eq(netem_init(&g_q, &cfg, 1), NETEM_OK);
    ck_assert_int_eq(g_q.latency_ns, 5 * NS_PER_S);
    ck_assert_int_eq(g_q.jitter_ns, 2147483647LL);
}
END_TEST

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Exact law of rnd % S for a uniform u32 rnd: values below r = 2^32 mod S have one more
 * preimage (q + 1 = floor(2^32 / S) + 1) than the others. */
typedef struct {
    double S, q, r, N;
} modlaw;

static modlaw modlaw_of(double span) {
    modlaw m = {.S = span, .N = 4294967296.0};
    m.q = floor(m.N / span);
    m.r = m.N - m.q * span;
    return m;
}

static double modlaw_quantile(const modlaw *m, double p) {
    double low_mass = (m->q + 1) * m->r / m->N;
    if (p <= low_mass) return p * m->N / (m->q + 1);
    return m->r + (p * m->N - (m->q + 1) * m->r) / m->q;
}

static double modlaw_mean(const modlaw *m) {
    double low = (m->q + 1) * m->r * (m->r - 1) / 2;
    double high = m->q * (m->r + m->S - 1) * (m->S - m->r) / 2;
    return (low + high) / m->N;
}

#define JITTER_N 200000
static int64_t g_delays[JITTER_N];

/* Run JITTER_N packets 1 ms apart through 2 s +- 500 ms with the given delay correlation. Fills
 * g_delays (sorted on return if sort), returns the fraction of adjacent pairs delivered out of
 * order and the mean |delay_i - delay_{i-1}|. */
static double run_jitter(double corr_pct, uint64_t seed, double *mean_step_s, int sort) {
    netem_config cfg = {.latency_ns = 2 * NS_PER_S,
                        .jitter_ns = 500 * NS_PER_MS,
                        .delay_corr_pct = corr_pct,
                        .limit_packets = NETEM_LIMIT_MAX};
    ck_assert_int_eq(netem_init(&g_q, &cfg, seed), NETEM_OK);
    long inversions = 0, bad = 0;
    double step_sum = 0;
    int64_t prev_tts = 0;
    for (int i = 0; i < JITTER_N; i++) {
        netem_verdict v;
        int64_t now = (int64_t)i * NS_PER_MS;
        MISS(bad, netem_enqueue(&g_q, now, &v) == 1);
        int64_t tts = v.copy[0].time_to_send_ns;
        g_delays[i] = tts - now;
        if (i > 0) {
            inversions += tts < prev_tts;
            step_sum += fabs((double)(g_delays[i] - g_delays[i - 1]));
        }
        prev_tts = tts;
    }
    ck_assert_int_eq(bad, 0);
    if (mean_step_s) *mean_step_s = step_sum / (JITTER_N - 1) / 1e9;
    if (sort) qsort(g_delays, JITTER_N, sizeof(g_delays[0]), cmp_i64);
    return (double)inversions / (JITTER_N - 1);
}

static double delays_mean_s(void) {
    double s = 0;
    for (int i = 0; i < JITTER_N; i++) s += (double)g_delays[i];
    return s / JITTER_N / 1e9;
}

static double delays_sd_s(void) {
    double m = delays_mean_s() * 1e9, s = 0;
    for (int i = 0; i < JITTER_N; i++) s += ((double)g_delays[i] - m) * ((double)g_delays[i] - m);
    return sqrt(s / JITTER_N) / 1e9;
}

START_TEST(test_jitter_distribution) {
    (void)run_jitter(0, 2024, NULL, 1);
    modlaw m = modlaw_of(1e9);
    double base = 1.5e9;

    ck_assert_int_ge(g_delays[0], 1500 * NS_PER_MS);
    ck_assert_int_lt(g_delays[JITTER_N - 1], 2500 * NS_PER_MS);
    /* The extremes are reached (1 ms of the bounds with 2e5 draws). */
    ck_assert_int_lt(g_delays[0], 1501 * NS_PER_MS);
    ck_assert_int_gt(g_delays[JITTER_N - 1], 2499 * NS_PER_MS);

    double mean = delays_mean_s();
    double expect_mean = (base + modlaw_mean(&m)) / 1e9;
    printf("jitter 2s+-500ms: mean %.4f s (modulo law %.4f, ideal uniform 2.0000)", mean, expect_mean);
    /* 2^32 mod 1e9 = 294967296: the lowest 29.5 % of the range is 5/4 as likely, which pulls the
     * mean 24 ms below 2 s. A truly uniform implementation fails this by 8 standard errors. */
    ck_assert_double_eq_tol(mean, expect_mean, 0.003);

    const double ps[] = {0.25, 0.5, 0.75};
    for (int k = 0; k < 3; k++) {
        double got = (double)g_delays[(int)(ps[k] * JITTER_N)] / 1e9;
        double want = (base + modlaw_quantile(&m, ps[k])) / 1e9;
        printf(", q%.0f %.4f (law %.4f)", ps[k] * 100, got, want);
        ck_assert_double_eq_tol(got, want, 0.005);
    }
    printf("\n");
}
END_TEST

START_TEST(test_jitter_reorder_rate) {
    double inv = run_jitter(0, 77, NULL, 0);
    /* Two independent delays D1, D2 uniform over 2*sigma = 1 s, sent g = 1 ms apart: the
     * second overtakes iff D1 - D2 > g, probability (1 - g / (2 sigma))^2 / 2 = 0.4990. */
    double g = 1e-3, span = 1.0;
    double expect = (1 - g / span) * (1 - g / span) / 2;
    printf("jitter 2s+-500ms, 1 ms spacing: %.4f of adjacent pairs reordered (uniform law %.4f)\n", inv, expect);
    ck_assert_double_eq_tol(inv, expect, 0.006);

    /* Without jitter nothing ever overtakes. */
    netem_config cfg = {.latency_ns = 2 * NS_PER_S, .limit_packets = NETEM_LIMIT_MAX};
    ck_assert_int_eq(netem_init(&g_q, &cfg, 1), NETEM_OK);
    int64_t prev = 0;
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        netem_verdict v;
        netem_enqueue(&g_q, (int64_t)i * NS_PER_MS, &v);
        MISS(bad, v.copy[0].time_to_send_ns == (int64_t)i * NS_PER_MS + 2 * NS_PER_S);
        MISS(bad, v.copy[0].time_to_send_ns >= prev);
        prev = v.copy[0].time_to_send_ns;
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(test_delay_correlation_spread) {
    double step0, step50, step99;
    (void)run_jitter(0, 5, &step0, 0);
    double sd0 = delays_sd_s();
    (void)run_jitter(50, 5, &step50, 0);
    double sd50 = delays_sd_s();
    double inv99 = run_jitter(99, 5, &step99, 1);
    double sd99 = delays_sd_s();
    double median99 = (double)g_delays[JITTER_N / 2] / 1e9;

    printf(
        "delay corr 0/50/99 %%: sd %.4f/%.4f/%.4f s, mean |step| %.4f/%.4f/%.4f s, "
        "corr-99 median %.4f s, reordered %.4f\n",
        sd0, sd50, sd99, step0, step50, step99, median99, inv99);

    /* The AR(1) value lives in [0, 2^32) and is then taken mod 2*sigma, so a moderate
     * correlation wraps around several times and leaves the spread unchanged... */
    ck_assert_double_eq_tol(sd50, sd0, 0.01);
    ck_assert_double_eq_tol(step50, step0, 0.02);
    /* ...while a strong one shrinks it and the steps between neighbours. */
    ck_assert_double_lt(sd99, 0.8 * sd0);
    ck_assert_double_lt(step99, 0.1 * step0);
    /* It concentrates around mu - sigma + (2^31 mod 2 sigma) = 1.5 + 0.147 s, not around mu. */
    ck_assert_double_eq_tol(median99, 1.5 + 2147483648.0 / 1e9 - 2.0, 0.05);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * limit
 * ------------------------------------------------------------------------------------------ */

/* Offer rate_pps packets per second for duration_s through delay (+- jitter); return the
 * fraction tail-dropped after warm_s, and check qlen never exceeds the limit. */
static double limit_drop_fraction(int rate_pps, int64_t jitter_ns, double duration_s, double warm_s) {
    netem_config cfg = {.latency_ns = 2 * NS_PER_S, .jitter_ns = jitter_ns};
    ck_assert_int_eq(netem_init(&g_q, &cfg, 11), NETEM_OK);
    ck_assert_uint_eq(g_q.limit, 1000);
    long n = (long)(duration_s * rate_pps), counted = 0, dropped = 0;
    uint32_t max_qlen = 0;
    for (long i = 0; i < n; i++) {
        int64_t now = (int64_t)(i * NS_PER_S / rate_pps);
        netem_verdict v;
        netem_enqueue(&g_q, now, &v);
        uint32_t qlen = netem_qlen(&g_q, now);
        if (qlen > max_qlen) max_qlen = qlen;
        if (now >= (int64_t)(warm_s * NS_PER_S)) {
            counted++;
            dropped += v.copy[0].fate == NETEM_DROP_LIMIT;
        }
    }
    ck_assert_uint_le(max_qlen, 1000);
    return (double)dropped / (double)counted;
}

START_TEST(test_limit_tail_drop) {
    /* 1000 packets held for 2 s: the qdisc passes at most 500 pkt/s. */
    double f600 = limit_drop_fraction(600, 0, 30, 6);
    double f600j = limit_drop_fraction(600, 500 * NS_PER_MS, 30, 6);
    double f450 = limit_drop_fraction(450, 0, 30, 0);
    double f450j = limit_drop_fraction(450, 500 * NS_PER_MS, 30, 0);
    double f1000 = limit_drop_fraction(1000, 0, 30, 6);
    printf(
        "limit 1000 at 2 s delay: tail-drop %.4f at 600 pkt/s (%.4f with +-500ms), "
        "%.4f at 450 pkt/s (%.4f with jitter), %.4f at 1000 pkt/s\n",
        f600, f600j, f450, f450j, f1000);
    ck_assert_double_eq_tol(f600, 100.0 / 600.0, 0.01);
    /* With jitter the queue is pinned at the limit too; by Little's law the qdisc then passes
     * limit / E[delay] packets per second, and E[delay] is 1.976 s, not 2 s (modulo bias). */
    modlaw m = modlaw_of(1e9);
    double mean_delay_s = (1.5e9 + modlaw_mean(&m)) / 1e9;
    ck_assert_double_eq_tol(f600j, 1.0 - 1000.0 / (600.0 * mean_delay_s), 0.01);
    ck_assert_double_eq_tol(f1000, 0.5, 0.01);
    ck_assert_double_eq(f450, 0.0);
    ck_assert_double_eq(f450j, 0.0);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * decision order and individual features
 * ------------------------------------------------------------------------------------------ */

START_TEST(test_kernel_decision_order) {
    /* Independent replay: with no correlation every feature draws one raw PRNG output, in the
     * order dup, loss, corrupt, then for the clone loss, corrupt; delay/reorder draw nothing. */
    netem_config cfg = {.duplicate_pct = 30, .loss_pct = 40, .corrupt_pct = 20};
    ck_assert_int_eq(netem_init(&g_q, &cfg, 314), NETEM_OK);
    prandom_state ref;
    prandom_seed_state(&ref, 314);
    uint32_t dup = netem_percent_to_u32(30), loss = netem_percent_to_u32(40), corrupt = netem_percent_to_u32(20);
    int saw_dup_lost = 0, saw_dup_both = 0, bad = 0;

    for (int i = 0; i < 20000; i++) {
        netem_verdict v;
        netem_enqueue(&g_q, (int64_t)i * NS_PER_MS, &v);

        int count = 1 + (dup >= prandom_u32_state(&ref));
        count -= loss >= prandom_u32_state(&ref);
        if (count == 0) {
            MISS(bad, v.copies == 1 && v.copy[0].fate == NETEM_DROP_LOSS);
            continue;
        }
        bool orig_corrupt = corrupt >= prandom_u32_state(&ref);
        MISS(bad, v.copies == (unsigned)count);
        if (count == 2) {
            if (loss >= prandom_u32_state(&ref)) {
                MISS(bad, v.copy[1].fate == NETEM_DROP_LOSS);
                saw_dup_lost++;
            } else {
                bool dup_corrupt = corrupt >= prandom_u32_state(&ref);
                MISS(bad, v.copy[1].fate == NETEM_SENT && v.copy[1].corrupted == dup_corrupt);
                saw_dup_both++;
            }
        }
        MISS(bad, v.copy[0].fate == NETEM_SENT && v.copy[0].corrupted == orig_corrupt);
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_gt(saw_dup_lost, 100);
    ck_assert_int_gt(saw_dup_both, 100);
    /* The main stream is the kernel's: the qdisc and the replay end in the same state. */
    ck_assert_uint_eq(prandom_u32_state(&g_q.prng), prandom_u32_state(&ref));
}
END_TEST

START_TEST(test_features) {
    netem_verdict v;

    /* duplicate 100 %: two intact copies, both delayed by the same fixed latency. */
    netem_config dup = {.duplicate_pct = 100, .latency_ns = 10 * NS_PER_MS};
    ck_assert_int_eq(netem_init(&g_q, &dup, 1), NETEM_OK);
    ck_assert_uint_eq(netem_enqueue(&g_q, 0, &v), 2);
    ck_assert_uint_eq(netem_verdict_delivered(&v), 2);
    ck_assert_int_eq(v.copy[1].time_to_send_ns, 10 * NS_PER_MS);
    ck_assert_uint_eq(g_q.stats.duplicated, 1);

    /* corrupt 100 %: sent, but nothing arrives intact. */
    netem_config cor = {.corrupt_pct = 100};
    ck_assert_int_eq(netem_init(&g_q, &cor, 1), NETEM_OK);
    ck_assert_uint_eq(netem_enqueue(&g_q, 0, &v), 1);
    ck_assert(v.copy[0].corrupted);
    ck_assert_uint_eq(netem_verdict_delivered(&v), 0);

    /* loss 100 %: everything dropped, even with duplication on (count 2 - 1 = 1 survives). */
    netem_config all = {.loss_pct = 100};
    ck_assert_int_eq(netem_init(&g_q, &all, 1), NETEM_OK);
    ck_assert_uint_eq(netem_enqueue(&g_q, 0, &v), 0);
    netem_config dl = {.loss_pct = 100, .duplicate_pct = 100};
    ck_assert_int_eq(netem_init(&g_q, &dl, 1), NETEM_OK);
    ck_assert_uint_eq(netem_enqueue(&g_q, 0, &v), 1);
    ck_assert_uint_eq(v.copies, 1);
    ck_assert_uint_eq(g_q.stats.dropped_loss, 0);

    /* reorder 100 % gap 3: every third packet jumps the queue, the others wait 100 ms. */
    netem_config ro = {.latency_ns = 100 * NS_PER_MS, .reorder_pct = 100, .reorder_gap = 3};
    ck_assert_int_eq(netem_init(&g_q, &ro, 1), NETEM_OK);
    for (int i = 0; i < 30; i++) {
        int64_t now = (int64_t)i * NS_PER_MS;
        netem_enqueue(&g_q, now, &v);
        int immediate = (i % 3) == 2;
        ck_assert_int_eq(v.copy[0].reordered, immediate);
        ck_assert_int_eq(v.copy[0].time_to_send_ns, immediate ? now : now + 100 * NS_PER_MS);
    }
    ck_assert_uint_eq(g_q.stats.reordered, 10);

    /* rate 1000 B/s, 1000-byte packets all at t = 0: one per second, from the last queued. */
    netem_config rt = {.rate_bytes_per_s = 1000, .limit_packets = 100};
    ck_assert_int_eq(netem_init(&g_q, &rt, 1), NETEM_OK);
    for (int i = 0; i < 5; i++) {
        netem_enqueue_bytes(&g_q, 0, 1000, &v);
        ck_assert_int_eq(v.copy[0].time_to_send_ns, (int64_t)(i + 1) * NS_PER_S);
    }

    /* rate + jitter: delays count from the previous packet, so nothing overtakes. */
    netem_config rj = {.rate_bytes_per_s = 125000,
                       .latency_ns = 50 * NS_PER_MS,
                       .jitter_ns = 40 * NS_PER_MS,
                       .limit_packets = NETEM_LIMIT_MAX};
    ck_assert_int_eq(netem_init(&g_q, &rj, 9), NETEM_OK);
    int64_t prev = 0;
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        netem_enqueue_bytes(&g_q, (int64_t)i * NS_PER_MS, 100, &v);
        MISS(bad, v.copy[0].time_to_send_ns > prev);
        prev = v.copy[0].time_to_send_ns;
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(test_init_rules) {
    netem_config c = {.reorder_pct = 10};
    ck_assert_int_eq(netem_init(&g_q, &c, 1), NETEM_ERR_REORDER_NO_DELAY);
    c = (netem_config){.latency_ns = 500, .reorder_pct = 10}; /* 0 us -> 0 ticks */
    ck_assert_int_eq(netem_init(&g_q, &c, 1), NETEM_ERR_REORDER_NO_DELAY);
    c = (netem_config){.latency_ns = NS_PER_MS, .reorder_gap = 5};
    ck_assert_int_eq(netem_init(&g_q, &c, 1), NETEM_ERR_GAP_NO_REORDER);
    c = (netem_config){.limit_packets = NETEM_LIMIT_MAX + 1};
    ck_assert_int_eq(netem_init(&g_q, &c, 1), NETEM_ERR_LIMIT);
    c = (netem_config){.latency_ns = 300 * NS_PER_S};
    ck_assert_int_eq(netem_init(&g_q, &c, 1), NETEM_ERR_TIME);
    ck_assert_int_eq(netem_init(NULL, &c, 1), NETEM_ERR_ARG);
    ck_assert_str_eq(netem_strerror(NETEM_ERR_REORDER_NO_DELAY),
                     "netem: reordering not possible without specifying some delay");

    /* reorder without gap gets tc's gap 1. */
    c = (netem_config){.latency_ns = NS_PER_MS, .reorder_pct = 10};
    ck_assert_int_eq(netem_init(&g_q, &c, 1), NETEM_OK);
    ck_assert_uint_eq(g_q.gap, 1);

    /* iproute2 only sends TCA_NETEM_CORR when a delay/loss/reorder/corrupt correlation is
     * typed: a duplicate correlation alone never reaches the kernel. */
    c = (netem_config){.duplicate_pct = 10, .duplicate_corr_pct = 50};
    ck_assert_int_eq(netem_init(&g_q, &c, 1), NETEM_OK);
    ck_assert_uint_eq(g_q.dup_cor.rho, 0);
    c.loss_pct = 1;
    c.loss_corr_pct = 5;
    ck_assert_int_eq(netem_init(&g_q, &c, 1), NETEM_OK);
    ck_assert_uint_eq(g_q.dup_cor.rho, netem_percent_to_u32(50));
    /* A delay correlation without jitter is never typed (tc parses it after the jitter). */
    c = (netem_config){.latency_ns = NS_PER_MS, .delay_corr_pct = 30};
    ck_assert_int_eq(netem_init(&g_q, &c, 1), NETEM_OK);
    ck_assert_uint_eq(g_q.delay_cor.rho, 0);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * determinism
 * ------------------------------------------------------------------------------------------ */

#define DET_N 20000
static netem_verdict g_va[DET_N], g_vb[DET_N];

static void run_everything(netem_qdisc *q, uint64_t seed, netem_verdict *out) {
    netem_config cfg = {.loss_pct = 30,
                        .loss_corr_pct = 25,
                        .latency_ns = 100 * NS_PER_MS,
                        .jitter_ns = 20 * NS_PER_MS,
                        .delay_corr_pct = 10,
                        .duplicate_pct = 5,
                        .corrupt_pct = 2,
                        .reorder_pct = 10,
                        .reorder_gap = 3,
                        .limit_packets = 50};
    ck_assert_int_eq(netem_init(q, &cfg, seed), NETEM_OK);
    for (int i = 0; i < DET_N; i++) netem_enqueue(q, (int64_t)i * NS_PER_MS, &out[i]); /* ~100 queued > limit 50 */
}

static int verdict_eq(const netem_verdict *a, const netem_verdict *b) {
    if (a->copies != b->copies) return 0;
    for (unsigned i = 0; i < a->copies; i++) {
        const netem_copy *x = &a->copy[i], *y = &b->copy[i];
        if (x->fate != y->fate || x->corrupted != y->corrupted || x->reordered != y->reordered ||
            x->time_to_send_ns != y->time_to_send_ns)
            return 0;
    }
    return 1;
}

START_TEST(test_determinism) {
    run_everything(&g_q, 7, g_va);
    run_everything(&g_q2, 7, g_vb);
    int first_diff = -1;
    for (int i = 0; i < DET_N && first_diff < 0; i++)
        if (!verdict_eq(&g_va[i], &g_vb[i])) first_diff = i;
    ck_assert_int_eq(first_diff, -1);
    ck_assert_int_eq(memcmp(&g_q.stats, &g_q2.stats, sizeof(g_q.stats)), 0);
    /* Every kind of outcome happened, so the comparison covered them all. */
    ck_assert_uint_gt(g_q.stats.dropped_loss, 0);
    ck_assert_uint_gt(g_q.stats.dropped_limit, 0);
    ck_assert_uint_gt(g_q.stats.duplicated, 0);
    ck_assert_uint_gt(g_q.stats.corrupted, 0);
    ck_assert_uint_gt(g_q.stats.reordered, 0);

    run_everything(&g_q2, 8, g_vb);
    int differ = 0;
    for (int i = 0; i < DET_N; i++) differ += !verdict_eq(&g_va[i], &g_vb[i]);
    ck_assert_int_gt(differ, DET_N / 2);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * tbf
 * ------------------------------------------------------------------------------------------ */

START_TEST(test_tbf_parse_rate) {
    static const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {
        {"1mbps", 1048576},    {"100kbps", 102400}, {"1gbps", 1073741824}, {"10bps", 10},  {"1tbps", 1099511627776ULL},
        {"1MBPS", 1048576},    {" 2 kbps ", 2048},  {"5mbit", 625000},     {"1kbit", 125}, {"12bit", 1},
        {"8gbit", 1000000000},
    };
    char err[160];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint64_t b = 0;
        ck_assert_msg(tbf_parse_rate(good[i].text, &b, err, sizeof(err)) == TBF_OK, "%s: %s", good[i].text, err);
        ck_assert_msg(b == good[i].bytes, "%s -> %llu", good[i].text, (unsigned long long)b);
    }
    static const char *bad[] = {"", "mbps", "1.5mbps", "-1mbps", "10", "1 mb", "10xbps", "+1kbps"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t b = 0;
        err[0] = '\0';
        ck_assert_msg(tbf_parse_rate(bad[i], &b, err, sizeof(err)) == TBF_ERR_PARSE, "%s", bad[i]);
        ck_assert_msg(strstr(err, bad[i]) != NULL && strlen(err) > strlen(bad[i]) + 10, "message for \"%s\": %s",
                      bad[i], err);
    }
    uint64_t b;
    ck_assert_int_eq(tbf_parse_rate("99999999999tbps", &b, err, sizeof(err)), TBF_ERR_RANGE);
    ck_assert_int_eq(tbf_parse_rate("99999999999999999999bps", &b, err, sizeof(err)), TBF_ERR_RANGE);

    /* The kernel side: tc reads chaos-daemon's bare number as bits per second. */
    tbf_config cfg;
    ck_assert_int_eq(tbf_config_from_chaos_mesh("1mbps", 20000, 10000, 0, 0, &cfg, err, sizeof(err)), TBF_OK);
    ck_assert_uint_eq(cfg.rate_bytes_per_s, 131072);
    ck_assert_uint_eq(cfg.burst_bytes, 10000);
    ck_assert_uint_eq(cfg.limit_bytes, 20000);
    ck_assert_int_eq(tbf_config_from_chaos_mesh("1bps", 20000, 10000, 0, 0, &cfg, err, sizeof(err)), TBF_ERR_RATE);
    ck_assert_int_eq(tbf_config_from_chaos_mesh("1kbps", 20000, 10000, 0, 0, &cfg, err, sizeof(err)), TBF_OK);
    ck_assert_uint_eq(cfg.rate_bytes_per_s, 128);
}
END_TEST

START_TEST(test_tbf_l2t) {
    tbf_ratecfg r;
    tbf_ratecfg_init(&r, 131072);
    ck_assert_uint_eq(r.mult, 4000000000u);
    ck_assert_uint_eq(r.shift, 19);
    ck_assert_int_eq(tbf_l2t_ns(&r, 1500), 11444091); /* 1500 / 131072 s = 11444091.797 ns */

    /* 3 B/s: mult = floor(8e9 / 3) = 2666666666, shift 3, so 1500 B take 125 ns less than
     * the exact 500 s. */
    tbf_ratecfg_init(&r, 3);
    ck_assert_uint_eq(r.mult, 2666666666u);
    ck_assert_uint_eq(r.shift, 3);
    ck_assert_int_eq(tbf_l2t_ns(&r, 1500), 499999999875LL);

    /* mult/shift never loses more than 2^-31 relative (plus 1 ns) against the exact quotient. */
    int bad = 0;
    for (uint64_t rate = 1; rate < 1000000000ULL; rate = rate * 3 + 7) {
        tbf_ratecfg_init(&r, rate);
        MISS(bad, (r.mult & (1u << 31)) != 0);
        double exact = 1500.0 * 1e9 / (double)rate;
        MISS(bad, fabs((double)tbf_l2t_ns(&r, 1500) - exact) <= 1.0 + exact * 1e-9);
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(test_tbf_exact_small) {
    /* 1000 B/s, bucket 3000 B, limit 2500 B: l2t(1000 B) = 1 s exactly (mult 4096000000, shift 12). */
    tbf_config cfg = {.rate_bytes_per_s = 1000, .burst_bytes = 3000, .limit_bytes = 2500};
    ck_assert_int_eq(tbf_init(&g_tbf, &cfg), TBF_OK);
    tbf_verdict v;
    for (int i = 0; i < 3; i++) { /* the full bucket lets three through at once */
        ck_assert(tbf_enqueue(&g_tbf, 0, 1000, &v));
        ck_assert_int_eq(v.departure_ns, 0);
    }
    ck_assert(tbf_enqueue(&g_tbf, 0, 1000, &v));
    ck_assert_int_eq(v.departure_ns, 1 * NS_PER_S);
    ck_assert(tbf_enqueue(&g_tbf, 0, 1000, &v));
    ck_assert_int_eq(v.departure_ns, 2 * NS_PER_S);
    ck_assert_uint_eq(tbf_backlog_bytes(&g_tbf, 0), 2000);
    ck_assert(!tbf_enqueue(&g_tbf, 0, 1000, &v)); /* 2000 + 1000 > 2500 */
    ck_assert_int_eq(v.fate, TBF_DROP_LIMIT);
    ck_assert(tbf_enqueue(&g_tbf, 0, 500, &v)); /* 2000 + 500 fits */
    ck_assert_int_eq(v.departure_ns, 2500 * NS_PER_MS);
    ck_assert(!tbf_enqueue(&g_tbf, 0, 3001, &v)); /* bigger than the bucket: never sendable */
    ck_assert_int_eq(v.fate, TBF_DROP_OVERSIZE);

    /* After a long idle period the bucket is full again, but no fuller. */
    for (int i = 0; i < 4; i++) ck_assert(tbf_enqueue(&g_tbf, 100 * NS_PER_S, 1000, &v));
    ck_assert_int_eq(v.departure_ns, 101 * NS_PER_S);

    tbf_config pk = {.rate_bytes_per_s = 1000,
                     .burst_bytes = 3000,
                     .limit_bytes = 10000,
                     .peakrate_bytes_per_s = 2000,
                     .mtu_bytes = 1000};
    ck_assert_int_eq(tbf_init(&g_tbf, &pk), TBF_OK);
    /* Peak bucket: at most one packet per 0.5 s; rate bucket: 3000 B + 1000 B/s, so the sixth
     * 1000 B packet (6000 B) has to wait until 3 s. */
    const int64_t want[] = {0, 500 * NS_PER_MS, 1000 * NS_PER_MS, 1500 * NS_PER_MS, 2000 * NS_PER_MS, 3000 * NS_PER_MS};
    for (int i = 0; i < 6; i++) {
        ck_assert(tbf_enqueue(&g_tbf, 0, 1000, &v));
        ck_assert_int_eq(v.departure_ns, want[i]);
    }
    /* After a long idle period the peak bucket holds one mtu, not the whole idle time. */
    ck_assert(tbf_enqueue(&g_tbf, 100 * NS_PER_S, 1000, &v));
    ck_assert_int_eq(v.departure_ns, 100 * NS_PER_S);
    ck_assert(tbf_enqueue(&g_tbf, 100 * NS_PER_S, 1000, &v));
    ck_assert_int_eq(v.departure_ns, 100 * NS_PER_S + 500 * NS_PER_MS);

    tbf_config bad = {.rate_bytes_per_s = 1000,
                      .burst_bytes = 3000,
                      .limit_bytes = 1,
                      .peakrate_bytes_per_s = 1000,
                      .mtu_bytes = 1000};
    ck_assert_int_eq(tbf_init(&g_tbf, &bad), TBF_ERR_PEAK);
    bad.peakrate_bytes_per_s = 0;
    bad.rate_bytes_per_s = 0;
    ck_assert_int_eq(tbf_init(&g_tbf, &bad), TBF_ERR_RATE);
}
END_TEST

START_TEST(test_tbf_long_run_rate) {
    char err[160];
    tbf_config cfg;
    ck_assert_int_eq(tbf_config_from_chaos_mesh("1mbps", 20000, 10000, 0, 0, &cfg, err, sizeof(err)), TBF_OK);
    ck_assert_int_eq(tbf_init(&g_tbf, &cfg), TBF_OK);

    /* Offer twice the rate in 1000-byte packets for 60 s; measure what leaves in [10 s, 60 s). */
    const uint64_t offered = 2 * cfg.rate_bytes_per_s;
    const int64_t spacing_ns = (int64_t)(1000ULL * NS_PER_S / offered);
    uint64_t window_bytes = 0, offered_n = 0, dropped = 0;
    int bad = 0;
    for (int64_t now = 0; now < 60 * NS_PER_S; now += spacing_ns) {
        tbf_verdict v;
        offered_n++;
        if (!tbf_enqueue(&g_tbf, now, 1000, &v)) {
            MISS(bad, v.fate == TBF_DROP_LIMIT);
            dropped++;
            continue;
        }
        MISS(bad, v.departure_ns >= now);
        MISS(bad, tbf_backlog_bytes(&g_tbf, now) <= cfg.limit_bytes);
        if (v.departure_ns >= 10 * NS_PER_S && v.departure_ns < 60 * NS_PER_S) window_bytes += 1000;
    }
    ck_assert_int_eq(bad, 0);
    double rate = (double)window_bytes / 50.0;
    printf("tbf \"1mbps\" (kernel %llu B/s): passed %.0f B/s over 50 s, dropped %.3f of offered\n",
           (unsigned long long)cfg.rate_bytes_per_s, rate, (double)dropped / (double)offered_n);
    ck_assert_double_eq_tol(rate, (double)cfg.rate_bytes_per_s, 0.01 * (double)cfg.rate_bytes_per_s);
    ck_assert_double_eq_tol((double)dropped / (double)offered_n, 0.5, 0.02);
    ck_assert_uint_eq(g_tbf.stats.dropped_slots, 0);

    /* Below the rate nothing is dropped and nothing waits longer than one packet time. */
    ck_assert_int_eq(tbf_init(&g_tbf, &cfg), TBF_OK);
    for (int64_t now = 0; now < 10 * NS_PER_S; now += 4 * spacing_ns) {
        tbf_verdict v;
        MISS(bad, tbf_enqueue(&g_tbf, now, 1000, &v) && v.departure_ns == now);
    }
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */

static Suite *netem_suite(void) {
    Suite *s = suite_create("netem");

    TCase *tc = tcase_create("prandom");
    tcase_add_test(tc, test_prandom_kernel_selftest_vectors);
    tcase_add_test(tc, test_prandom_seed_minimums);
    tcase_add_test(tc, test_prandom_determinism);
    suite_add_tcase(s, tc);

    tc = tcase_create("crandom");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_percent_to_u32);
    tcase_add_test(tc, test_crandom_recurrence);
    tcase_add_loop_test(tc, test_loss_table, 0, (int)(sizeof(k_loss_cases) / sizeof(k_loss_cases[0])) * LOSS_SEEDS);
    tcase_add_test(tc, test_effective_pct);
    suite_add_tcase(s, tc);

    tc = tcase_create("delay");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_tc_time_truncation);
    tcase_add_test(tc, test_jitter_distribution);
    tcase_add_test(tc, test_jitter_reorder_rate);
    tcase_add_test(tc, test_delay_correlation_spread);
    suite_add_tcase(s, tc);

    tc = tcase_create("limit");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_limit_tail_drop);
    suite_add_tcase(s, tc);

    tc = tcase_create("features");
    tcase_add_test(tc, test_kernel_decision_order);
    tcase_add_test(tc, test_features);
    tcase_add_test(tc, test_init_rules);
    tcase_add_test(tc, test_determinism);
    suite_add_tcase(s, tc);

    tc = tcase_create("tbf");
    tcase_add_test(tc, test_tbf_parse_rate);
    tcase_add_test(tc, test_tbf_l2t);
    tcase_add_test(tc, test_tbf_exact_small);
    tcase_add_test(tc, test_tbf_long_run_rate);
    suite_add_tcase(s, tc);

    return s;
}

int main(void) {
    /* Results go to stdout together with the measured tables; unbuffered keeps them in order
     * when Check forks a child per test. */
    setvbuf(stdout, NULL, _IONBF, 0);
    int failed = support_run_suite(netem_suite(), CK_NORMAL, 0);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
