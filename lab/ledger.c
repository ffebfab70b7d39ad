/*
 * ledger.c: the simulator's fault ledger and warnings against the lab's (bin/loadgen --ledger-check, one
 * block of the fidelity table per cell; see lab.h).
 *
 * The lab's side is what lab.sh's collect wrote for the cell (LAB_DIR/collect.out): per action the packets
 * its rules saw and dropped (the wire's qdiscs, the pods' partition chains, the kernel's tbf), per wire rule
 * the qdisc's own decisions and how late the wire released them, per link what the wire sent and what
 * reached the node. The simulator's side is its run for the same options and seed (the actions' rule
 * counters, which make its "no packet matched" warning) and netem's long-run rates by the kernel's formula
 * (which make its "80 % with correlation 50 % really drops 97.0 %" warning).
 *
 * Judged, per network action:
 *   match    the simulator's rules matched no packet iff the lab's matched none ("no packet matched"). Where
 *            filtered objects overlap on a pod (two objects' filters match the same packets), only the last
 *            matching CLASSIFY rule applies, in Go map order: the simulator and the lab each draw that order,
 *            so which of them gets the packets is not a prediction; those objects are judged together (the
 *            simulator's rules matched none of them iff the lab's matched none);
 *   loss     netem loss: the lab's realized rate (dropped / seen by the qdiscs) within 1 percentage point
 *            of the quoted rate, or inside the range netem itself gives for that many packets (99 %, by
 *            running the kernel's algorithm on 400 seeds): fewer packets cannot tell 1 pp;
 *   told     the wire did what it was told: duplicated, corrupted and reordered fractions within netem's
 *            own binomial range (99.9 %), scheduled delays inside [latency - jitter, latency + jitter]
 *            with their mean within 4 standard errors, releases late by at most 2 ms at the 99th percentile;
 *   arrived  every frame the wire says it sent towards the node arrived there (the node's prerouting
 *            counters, an independent count), corrupted ones excepted (some die at the node's checks).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/netem.h"
#include "faults/netem_effective.h"
#include "lab/lab.h"
#include "lab/labint.h"

#define MAX_ACTS 64
#define LATE_BUCKETS 24

typedef struct act_side {
    int present;
    uint64_t seen, dropped, delayed, local;
    /* wire rules of the action, summed over pods */
    int nrules;
    uint64_t w_seen, w_loss, w_limit, w_dup, w_corrupt, w_reorder, w_delayed, w_released, w_purged;
    double sched_sum, sched_sq;
    int64_t sched_min, sched_max, late_max;
    int have_min;
    uint64_t late[LATE_BUCKETS];
} act_side;

typedef struct lab_ledger {
    act_side act[MAX_ACTS];
    uint64_t sent, corrupted, arrived; /* wirelink totals */
    int links;
    char bad_link[160];
    /* the wire's loop (wireio): how late its timer woke it, how long one event held it */
    int have_io;
    int64_t wake_max, busy_max;
    uint64_t wake[LATE_BUCKETS], busy[LATE_BUCKETS];
} lab_ledger;

/* Adds a comma-separated histogram (the wire's buckets) to hist. */
static void add_hist(uint64_t *hist, char *text) {
    char *save = NULL;
    int k = 0;
    for (char *t = text ? strtok_r(text, ",", &save) : NULL; t && k < LATE_BUCKETS; t = strtok_r(NULL, ",", &save))
        hist[k++] += strtoull(t, NULL, 10);
}

static void parse_wirerule(act_side *a, char *cur) {
    lab_tab_field(&cur); /* pod */
    lab_tab_field(&cur); /* kind */
    lab_tab_field(&cur); /* active */
    uint64_t v[9];
    for (int i = 0; i < 9; i++) v[i] = lab_tab_u64(&cur);
    a->w_seen += v[0], a->w_loss += v[1], a->w_limit += v[2], a->w_dup += v[3], a->w_corrupt += v[4];
    a->w_reorder += v[5], a->w_delayed += v[6], a->w_released += v[7], a->w_purged += v[8];
    char *f = lab_tab_field(&cur);
    a->sched_sum += f ? strtod(f, NULL) : 0;
    f = lab_tab_field(&cur);
    a->sched_sq += f ? strtod(f, NULL) : 0;
    int64_t mn = (int64_t)lab_tab_u64(&cur), mx = (int64_t)lab_tab_u64(&cur), late = (int64_t)lab_tab_u64(&cur);
    /* only rules that released something have a minimum (a pod whose rule never won reports 0) */
    if (v[7] && (!a->have_min || mn < a->sched_min)) a->sched_min = mn, a->have_min = 1;
    if (mx > a->sched_max) a->sched_max = mx;
    if (late > a->late_max) a->late_max = late;
    add_hist(a->late, lab_tab_field(&cur));
    a->nrules++;
}

static void parse_wireio(lab_ledger *l, char *cur) {
    l->have_io = 1;
    l->wake_max = (int64_t)lab_tab_u64(&cur);
    add_hist(l->wake, lab_tab_field(&cur));
    l->busy_max = (int64_t)lab_tab_u64(&cur);
    add_hist(l->busy, lab_tab_field(&cur));
}

static int read_ledger(const char *path, lab_ledger *l, char *err, size_t errlen) {
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the lab's ledger %s", path);
        return -1;
    }
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *cur = line, *kind = lab_tab_field(&cur);
        if (!kind) continue;
        if (!strcmp(kind, "action") || !strcmp(kind, "wirerule")) {
            uint64_t id = lab_tab_u64(&cur);
            if (id >= MAX_ACTS) continue;
            act_side *a = &l->act[id];
            a->present = 1;
            if (!strcmp(kind, "wirerule")) {
                parse_wirerule(a, cur);
                continue;
            }
            a->seen = lab_tab_u64(&cur), a->dropped = lab_tab_u64(&cur), a->delayed = lab_tab_u64(&cur),
            a->local = lab_tab_u64(&cur);
        } else if (!strcmp(kind, "wireio")) {
            parse_wireio(l, cur);
        } else if (!strcmp(kind, "wirelink")) {
            char *src = lab_tab_field(&cur), *dst = lab_tab_field(&cur);
            uint64_t sent = lab_tab_u64(&cur), corrupted = lab_tab_u64(&cur), arrived = lab_tab_u64(&cur);
            l->sent += sent, l->corrupted += corrupted, l->arrived += arrived, l->links++;
            /* some frames can cross the counters' reset or the collect: a handful per cell at most */
            uint64_t slack = 2 + sent / 1000;
            if ((arrived + corrupted + slack < sent || arrived > sent + slack) && !l->bad_link[0])
                snprintf(l->bad_link, sizeof l->bad_link,
                         "%s -> %s: the wire sent %" PRIu64 " (%" PRIu64 " corrupted), the node saw %" PRIu64,
                         src ? src : "?", dst ? dst : "?", sent, corrupted, arrived);
        }
    }
    fclose(f);
    return 0;
}

/* The range (99 %) of the realized loss rate over n packets by netem's own algorithm, 400 seeds. */
static void netem_range(double pct, double corr, uint64_t n, double *lo, double *hi) {
    static netem_qdisc q;
    enum { R = 400 };
    double v[R];
    netem_config cfg = {.loss_pct = pct, .loss_corr_pct = corr};
    if (n > 200000) n = 200000;
    for (int r = 0; r < R; r++) {
        netem_init(&q, &cfg, 0x1edae7ULL + (uint64_t)r * 7919);
        uint64_t drops = 0;
        netem_verdict vd;
        for (uint64_t i = 0; i < n; i++) drops += netem_enqueue(&q, (int64_t)i, &vd) == 0;
        v[r] = n ? 100.0 * (double)drops / (double)n : 0;
    }
    for (int i = 1; i < R; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *lo = v[R / 200];
    *hi = v[R - 1 - R / 200];
}

static double pct_of(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

/* |x - n p| within 3.3 binomial sd (99.9 %) */
static int binom_ok(uint64_t x, uint64_t n, double p) {
    return fabs((double)x - (double)n * p) <= 3.3 * sqrt((double)n * p * (1 - p)) + 1;
}

/* The upper edge (us) of the bucket that holds quantile q of a lateness histogram (core.h's buckets). */
static double hist_quantile_us(const uint64_t *hist, double q) {
    uint64_t total = 0, acc = 0;
    for (int k = 0; k < LATE_BUCKETS; k++) total += hist[k];
    for (int k = 0; k < LATE_BUCKETS; k++) {
        acc += hist[k];
        if (total && (double)acc >= q * (double)total) return k == 0 ? 1.0 : ldexp(1.0, k);
    }
    return 0;
}

#define IND "                         "

/* The loss check; returns 1 on a miss. */
static int check_loss(FILE *out, const netem_config *ne, const sim_action_row *sa, const act_side *la) {
    double quoted = netem_effective_pct(ne->loss_pct, ne->loss_corr_pct), lo, hi;
    double lab = pct_of(la->w_loss, la->w_seen), sim = pct_of(sa->rule_dropped, sa->rule_seen);
    netem_range(ne->loss_pct, ne->loss_corr_pct, la->w_seen, &lo, &hi);
    int in1 = fabs(lab - quoted) <= 1.0, inr = lab >= lo && lab <= hi, miss = !in1 && !inr;
    fprintf(out,
            IND "loss %g %%%s: quoted %.1f %%; sim %.1f %% of %" PRIu64 "; lab %.1f %% of %" PRIu64
                " [netem's 99 %% range for as many: %.1f-%.1f]; within 1 pp: %s  %s\n",
            ne->loss_pct, ne->loss_corr_pct > 0 ? " with correlation" : "", quoted, sim, sa->rule_seen, lab, la->w_seen,
            lo, hi, in1 ? "yes" : "no", miss ? "MISS" : "ok");
    return miss;
}

/* What the wire was told against what it did; returns 1 on a miss. */
static int check_told(FILE *out, const netem_config *ne, const act_side *la) {
    int miss = 0;
    uint64_t n = la->w_seen;
    struct {
        const char *what;
        double pct;
        uint64_t got;
    } fr[] = {{"duplicated", ne->duplicate_pct, la->w_dup},
              {"corrupted", ne->corrupt_pct, la->w_corrupt},
              {"reordered", ne->reorder_pct, la->w_reorder}};
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++) {
        if (fr[i].pct <= 0) continue;
        /* duplication and corruption are decided per copy that gets that far; the binomial is per frame */
        int ok = binom_ok(fr[i].got, n, fr[i].pct / 100.0) || fr[i].pct >= 100;
        miss |= !ok;
        fprintf(out, IND "%s: told %g %%, did %.1f %% of %" PRIu64 "  %s\n", fr[i].what, fr[i].pct,
                pct_of(fr[i].got, n), n, ok ? "ok" : "MISS");
    }
    if (ne->latency_ns > 0 && la->w_released) {
        int64_t lat = netem_tc_time_ns(ne->latency_ns), jit = netem_tc_time_ns(ne->jitter_ns);
        uint64_t delayed = la->w_released - la->w_reorder;
        double mean = delayed ? la->sched_sum / (double)delayed : 0, sd = (double)jit / sqrt(3.0);
        /* tabledist: mu - sigma + (u32 % 2 sigma), whose modulo bias lowers the mean (2 s +- 500 ms: by 22 ms) */
        double expect = (double)lat;
        if (jit > 0) {
            double m = 2.0 * (double)jit, q = floor(4294967296.0 / m), r = 4294967296.0 - q * m;
            expect = (double)lat - (double)jit + (q * m * (m - 1) / 2 + r * (r - 1) / 2) / 4294967296.0;
        }
        double se = delayed ? sd / sqrt((double)delayed) : 0;
        int ok_range =
            la->w_reorder ? la->sched_max < lat + jit + 1 : la->sched_min >= lat - jit && la->sched_max <= lat + jit;
        int ok_mean = fabs(mean - expect) <= 4 * se + 1000;
        miss |= !ok_range || !ok_mean;
        fprintf(out,
                IND "delay: told %.1f ms +- %.1f ms, scheduled %.2f-%.2f ms, mean %.3f ms (netem's %.3f +- %.3f)  %s\n",
                (double)lat / 1e6, (double)jit / 1e6, (double)la->sched_min / 1e6, (double)la->sched_max / 1e6,
                mean / 1e6, expect / 1e6, 4 * se / 1e6, ok_range && ok_mean ? "ok" : "MISS");
    }
    if (la->w_purged)
        fprintf(out,
                IND "%" PRIu64
                    " frames were still inside when the qdisc was removed: dropped, as the kernel drops a "
                    "deleted qdisc's queue (the simulator delivers them)\n",
                la->w_purged);
    if (la->w_released) {
        double p50 = hist_quantile_us(la->late, 0.5), p99 = hist_quantile_us(la->late, 0.99);
        int ok = p99 <= 2048;
        miss |= !ok;
        fprintf(out, IND "released late by: p50 < %.0f us, p99 < %.0f us, max %.2f ms  %s\n", p50, p99,
                (double)la->late_max / 1e6, ok ? "ok" : "MISS");
    }
    return miss;
}

/* The objects whose filtered rules competed for packets in the simulator (an overlap: one of them won a
 * packet another also matched), with their matched packets summed on each side. */
typedef struct overlap_group {
    uint64_t sim_hit, lab_hit;
    int n;
} overlap_group;

static int competed(const sim_action_row *sa) { return sa->rule_won || sa->rule_lost; }

/* The actions the check judges: network actions that started in the simulator's run. */
static int judged(const sim_action_row *sa) { return sa->action.kind == ACT_NETWORK && sa->status.started; }

/* One network action; returns 1 on a miss. */
static int check_action(FILE *out, const sim_action_row *sa, const act_side *la, const overlap_group *g) {
    const sim_chaos_action *a = &sa->action;
    uint64_t sim_hit = sa->rule_seen, lab_hit = la->seen;
    int miss = (sim_hit == 0) != (lab_hit == 0);
    if (competed(sa) && g->n > 1) miss = (g->sim_hit == 0) != (g->lab_hit == 0);
    fprintf(out, "%-24s %s: ", "", a->name);
    if (sim_hit == 0)
        fprintf(out, "sim: no packet matched its rules (\"it changes nothing\"); ");
    else
        fprintf(out, "sim: %" PRIu64 " packets matched, %" PRIu64 " dropped; ", sim_hit,
                sa->rule_dropped + sa->rule_local_dropped);
    fprintf(out, "lab: %" PRIu64 " matched, %" PRIu64 " dropped  %s\n", lab_hit, la->dropped + la->local,
            miss ? "MISS" : "ok");
    if (competed(sa) && g->n > 1)
        fprintf(out,
                IND "its filter overlaps %d other object(s)' (sim: %" PRIu64 " packets won, %" PRIu64
                    " lost to them): which one a packet gets is drawn (Go map order), by the simulator and the "
                    "lab each, so they are judged together: sim %" PRIu64 ", lab %" PRIu64 " matched\n",
                g->n - 1, sa->rule_won, sa->rule_lost, g->sim_hit, g->lab_hit);
    if (a->net_kind == NF_NETEM && la->nrules) {
        if (a->netem.loss_pct > 0 && la->w_seen) miss |= check_loss(out, &a->netem, sa, la);
        miss |= check_told(out, &a->netem, la);
    }
    return miss;
}

int lab_ledger_check(FILE *out, const char *name, const char *ledger_path, const sim_options *o,
                     const experiment_unit *unit, char *err, size_t errlen) {
    static lab_ledger l;
    if (read_ledger(ledger_path, &l, err, errlen) < 0) return -1;
    sim_result pred;
    if (lab_predict(o, unit, o->seed, &pred, err, errlen) < 0) return -1;
    int miss = 0, n = 0;
    fprintf(out, "%-24s ledger: the simulator's rules and warnings (seed %" PRIu64 ") against the lab's counters\n",
            name, pred.seed);
    overlap_group g = {0, 0, 0};
    for (int i = 0; i < pred.nactions && i < MAX_ACTS; i++) {
        if (!judged(&pred.actions[i]) || !competed(&pred.actions[i])) continue;
        g.sim_hit += pred.actions[i].rule_seen;
        g.lab_hit += l.act[i].seen;
        g.n++;
    }
    for (int i = 0; i < pred.nactions && i < MAX_ACTS; i++) {
        if (!judged(&pred.actions[i])) continue;
        miss |= check_action(out, &pred.actions[i], &l.act[i], &g);
        n++;
    }
    if (l.links) {
        int bad = l.bad_link[0] != 0;
        miss |= bad;
        fprintf(out,
                IND "wire -> node: sent %" PRIu64 " frames (%" PRIu64 " corrupted), the node saw %" PRIu64
                    " arrive%s%s  %s\n",
                l.sent, l.corrupted, l.arrived, bad ? "; " : "", l.bad_link, bad ? "MISS" : "ok");
    }
    if (l.have_io && l.wake_max) /* where late releases come from (not judged: the releases are) */
        fprintf(out,
                IND
                "the wire's loop: its timer woke it late by p50 < %.0f us, p99 < %.0f us, max %.2f ms; one event "
                "held it p99 < %.0f us, max %.2f ms\n",
                hist_quantile_us(l.wake, 0.5), hist_quantile_us(l.wake, 0.99), (double)l.wake_max / 1e6,
                hist_quantile_us(l.busy, 0.99), (double)l.busy_max / 1e6);
    if (!n) fprintf(out, IND "(no network action)\n");
    sim_result_free(&pred);
    return miss;
}
