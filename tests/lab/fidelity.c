/*
 * fidelity.c: one row of the fidelity table: the lab's chaos phase against the simulator's (see lab.h).
 *
 * Both sides are summarized exactly as stats.c does (latency of every request that started in the
 * chaos phase, failed ones with their full wait; nearest-rank quantiles). The simulator's side pools its
 * chaos-phase requests over `sim_seeds` seeds, so its own sampling error is small next to the lab's.
 *
 * Intervals (95 %): a success rate gets the normal interval of a proportion (Wilson for the printed
 * interval); a quantile q of n samples gets the order-statistic interval, ranks n*q -/+ 1.96*sqrt(n*q*(1-q)).
 * Bounds: success within 3 percentage points, p50 and p99 within 15 % of the simulator's value, or within
 * the sampling interval when that is wider: the difference is inside its own 95 % interval (half-widths
 * added in quadrature), or one side's value lies inside the other side's 95 % interval (a quantile in a
 * gap of a lattice-like distribution, such as the TCP retransmission times, jumps between neighbouring
 * lattice points with the sample, and its interval spans both). p90 is shown without a bound.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lab/lab.h"

#define SUCCESS_BOUND_PP 3.0
#define QUANTILE_BOUND_REL 0.15
#define Z95 1.96

typedef struct side {
    double *lat;
    size_t n, cap, ok;
} side;

static void side_add(side *s, const req_record *r) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->lat = realloc(s->lat, s->cap * sizeof *s->lat);
        if (!s->lat) abort();
    }
    s->lat[s->n++] = (double)(r->end_ns - r->start_ns) / 1e6;
    s->ok += r->success;
}

static void side_take(side *s, const req_record *recs, size_t n, int64_t from, int64_t to) {
    for (size_t i = 0; i < n; i++)
        if (recs[i].start_ns >= from && recs[i].start_ns < to) side_add(s, &recs[i]);
}

/* Quantile with its order-statistic interval; lat must be sorted. */
static void quantile(const side *s, double q, double *v, double *lo, double *hi) {
    size_t n = s->n;
    if (!n) {
        *v = *lo = *hi = 0;
        return;
    }
    double nq = (double)n * q, sd = sqrt((double)n * q * (1 - q));
    long r = (long)ceil(nq), rl = (long)floor(nq - Z95 * sd), rh = (long)ceil(nq + Z95 * sd);
    if (r < 1) r = 1;
    if (rl < 1) rl = 1;
    if (rh < 1) rh = 1;
    if (r > (long)n) r = (long)n;
    if (rl > (long)n) rl = (long)n;
    if (rh > (long)n) rh = (long)n;
    *v = s->lat[r - 1];
    *lo = s->lat[rl - 1];
    *hi = s->lat[rh - 1];
}

static void wilson(size_t ok, size_t n, double *lo, double *hi) {
    if (!n) {
        *lo = *hi = 0;
        return;
    }
    double p = (double)ok / (double)n, z2 = Z95 * Z95, nn = (double)n;
    double c = (p + z2 / (2 * nn)) / (1 + z2 / nn);
    double h = Z95 * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
    *lo = c - h;
    *hi = c + h;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fmt_ms(char *buf, size_t len, double v) {
    if (v >= 1000) snprintf(buf, len, "%.0f", v);
    else if (v >= 10) snprintf(buf, len, "%.1f", v);
    else snprintf(buf, len, "%.2f", v);
}

int lab_compare(FILE *out, const char *name, const char *lab_path, const sim_options *o, const experiment_unit *unit,
                int sim_seeds, char *err, size_t errlen) {
    req_record *recs = NULL;
    size_t nrecs = 0;
    if (lab_records_read(lab_path, &recs, &nrecs, err, errlen) < 0) return -1;
    int64_t from = o->baseline_ns, to = o->baseline_ns + o->chaos_ns;
    side lab = {0}, sim = {0};
    side_take(&lab, recs, nrecs, from, to);
    free(recs);
    run_hooks hooks;
    memset(&hooks, 0, sizeof hooks);
    hooks.keep_records = 1;
    if (unit) {
        hooks.add_actions = experiment_add_actions;
        hooks.add_actions_ctx = (void *)(uintptr_t)unit;
    }
    for (int k = 0; k < sim_seeds; k++) {
        sim_result r;
        if (sim_run_once(o, o->seed + (uint64_t)k, &hooks, &r, err, errlen) < 0) {
            free(lab.lat);
            free(sim.lat);
            return -1;
        }
        side_take(&sim, r.records, r.nrecords, from, to);
        sim_result_free(&r);
    }
    qsort(lab.lat, lab.n, sizeof *lab.lat, cmp_double);
    qsort(sim.lat, sim.n, sizeof *sim.lat, cmp_double);
    int failed = 0;

    double pl = lab.n ? (double)lab.ok / (double)lab.n : 0, ps = sim.n ? (double)sim.ok / (double)sim.n : 0;
    double ll, lh, sl, sh;
    wilson(lab.ok, lab.n, &ll, &lh);
    wilson(sim.ok, sim.n, &sl, &sh);
    double d_pp = 100 * (pl - ps);
    double se = sqrt((lab.n ? pl * (1 - pl) / (double)lab.n : 0) + (sim.n ? ps * (1 - ps) / (double)sim.n : 0));
    double bound_pp = fmax(SUCCESS_BOUND_PP, 100 * Z95 * se);
    int ok = lab.n > 0 && (fabs(d_pp) <= bound_pp || (ps >= ll && ps <= lh));
    failed |= !ok;
    fprintf(out, "%-24.24s %-8s %6.1f%% [%5.1f-%5.1f]  %6.1f%% [%5.1f-%5.1f]  %+7.1f pp %7.1f pp  %s   (n %zu / %zu)\n",
            name, "success", 100 * pl, 100 * ll, 100 * lh, 100 * ps, 100 * sl, 100 * sh, d_pp, bound_pp,
            ok ? "ok" : "MISS", lab.n, sim.n);
    static const double qs[3] = {0.50, 0.90, 0.99};
    static const char *const qn[3] = {"p50 ms", "p90 ms", "p99 ms"};
    for (int i = 0; i < 3; i++) {
        double lv, llo, lhi, sv, slo, shi;
        quantile(&lab, qs[i], &lv, &llo, &lhi);
        quantile(&sim, qs[i], &sv, &slo, &shi);
        double hw = sqrt(pow((lhi - llo) / 2, 2) + pow((shi - slo) / 2, 2));
        double bound = fmax(QUANTILE_BOUND_REL * sv, hw);
        double rel = sv > 0 ? (lv - sv) / sv : 0;
        double bound_rel = sv > 0 ? bound / sv : 0;
        const char *verdict = "  ";
        if (i != 1) {
            int qok = fabs(lv - sv) <= bound || (sv >= llo && sv <= lhi) || (lv >= slo && lv <= shi);
            failed |= !qok;
            verdict = qok ? "ok" : "MISS";
        }
        char a[16], b[16], c[16], d[16], e[16], f[16];
        fmt_ms(a, sizeof a, lv);
        fmt_ms(b, sizeof b, llo);
        fmt_ms(c, sizeof c, lhi);
        fmt_ms(d, sizeof d, sv);
        fmt_ms(e, sizeof e, slo);
        fmt_ms(f, sizeof f, shi);
        fprintf(out, "%-24s %-8s %7s [%s-%s]  %7s [%s-%s]  %+7.0f %%  %7.0f %%   %s\n", "", qn[i], a, b, c, d, e, f,
                100 * rel, 100 * bound_rel, verdict);
    }
    free(lab.lat);
    free(sim.lat);
    return failed;
}
