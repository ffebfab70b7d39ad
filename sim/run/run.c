/*
 * run.c: one simulation from options to result (see run.h).
 */
#include "sim/run/run.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/units.h"
#include "sim/engine/engine.h"
#include "sim/load/load.h"
#include "sim/load/scenario.h"
#include "sim/node/cluster.h"
#include "sim/run/invariants.h"

static double wall_seconds(void) {
    /* Only for the performance line: never feeds the simulation. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct ledger_ctx {
    sim_cluster *cl;
    sim_ledger_row *rows;
    size_t n, cap;
} ledger_ctx;

static void src_label(sim_cluster *cl, uint32_t host, char *out, size_t outlen) {
    sim_host *h = net_host(cluster_net(cl), host);
    sim_pod *p = h ? h->owner && strcmp(h->name, "client") ? (sim_pod *)h->owner : NULL : NULL;
    if (p)
        snprintf(out, outlen, "%s", svc_peer_name(pod_service(p)));
    else
        snprintf(out, outlen, "%s", h ? h->name : "?");
}

static void dst_label(sim_cluster *cl, sim_addr a, char *out, size_t outlen) {
    int is_vip = 0;
    int svc = cluster_addr_service(cl, a, &is_vip);
    if (svc >= 0 && is_vip)
        snprintf(out, outlen, "%s (Service IP)", svc_peer_name((svc_peer)svc));
    else if (svc >= 0)
        snprintf(out, outlen, "%s (pod IP)", svc_peer_name((svc_peer)svc));
    else
        snprintf(out, outlen, "client");
}

static void add_link(void *ctx, const nf_link_stats *s) {
    ledger_ctx *l = ctx;
    char src[48], dst[48];
    src_label(l->cl, s->src_host, src, sizeof src);
    dst_label(l->cl, s->dst_addr, dst, sizeof dst);
    sim_ledger_row *row = NULL;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->rows[i].src, src) && !strcmp(l->rows[i].dst, dst)) row = &l->rows[i];
    if (!row) {
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 16;
            l->rows = realloc(l->rows, l->cap * sizeof *l->rows);
            if (!l->rows) abort();
        }
        row = &l->rows[l->n++];
        memset(row, 0, sizeof *row);
        snprintf(row->src, sizeof row->src, "%.23s", src);
        snprintf(row->dst, sizeof row->dst, "%s", dst);
    }
    row->seen += s->seen;
    row->faulted += s->faulted;
    row->dropped += s->dropped;
    row->local_dropped += s->local_dropped;
    row->delayed += s->delayed;
    row->duplicated += s->duplicated;
    row->corrupted += s->corrupted;
    row->mean_delay_ms += (double)s->delay_ns_sum / 1e6; /* sum for now, divided below */
}

static void collect(sim_cluster *cl, sim_scenario *sc, sim_load *ld, const sim_options *o, sim_result *r) {
    ledger_ctx l = {cl, NULL, 0, 0};
    nf_foreach_link(cluster_faults(cl), add_link, &l);
    for (size_t i = 0; i < l.n; i++)
        l.rows[i].mean_delay_ms = l.rows[i].delayed ? l.rows[i].mean_delay_ms / (double)l.rows[i].delayed : 0;
    r->ledger = l.rows;
    r->nledger = l.n;
    r->npods = cluster_pod_count(cl);
    for (int i = 0; i < r->npods; i++) {
        sim_pod *p = cluster_pod(cl, i);
        const cfs_group_stats *cs = cfs_group_get_stats(pod_cpu(p));
        sim_cpu_row *c = &r->cpu[i];
        snprintf(c->pod, sizeof c->pod, "%s", pod_name(p));
        c->periods = cs->periods;
        c->throttled_periods = cs->throttled_periods;
        c->throttled_ms = (double)cs->throttled_ns / 1e6;
        c->work_cpu_ms = (double)cs->work_cpu_ns / 1e6;
        c->stress_cpu_ms = (double)cs->stress_cpu_ns / 1e6;
        sim_pod_row *pr = &r->pods[i];
        snprintf(pr->pod, sizeof pr->pod, "%s", pod_name(p));
        pr->restarts = pod_restarts(p);
        pr->memory_peak_bytes = pod_memory_stats(p)->peak_usage_bytes;
        pr->memory_limit_bytes = pod_memory_limit(p);
        pr->oom_kills_stressor = pod_memory_stats(p)->oom_kills_stressor;
        pr->oom_kills_app = pod_memory_stats(p)->oom_kills_app;
    }
    r->nactions = scenario_count(sc);
    r->actions = calloc((size_t)(r->nactions ? r->nactions : 1), sizeof *r->actions);
    if (!r->actions) abort();
    for (int i = 0; i < r->nactions; i++) {
        sim_action_row *a = &r->actions[i];
        a->action = *scenario_action(sc, i);
        a->status = *scenario_status(sc, i);
        for (int k = 0; k < a->status.nrules; k++) {
            const nf_rule_stats *rs = nf_rule_get_stats(cluster_faults(cl), a->status.rule_ids[k]);
            if (!rs) continue;
            a->rule_seen += rs->seen;
            a->rule_dropped += rs->dropped;
            a->rule_delayed += rs->delayed;
            a->rule_local_dropped += rs->local_dropped;
            a->rule_won += rs->won_over_others;
            a->rule_lost += rs->lost_to_others;
        }
    }
    r->tcp = *tcp_get_stats(cluster_net(cl));
    r->net = *net_get_stats(cluster_net(cl));
    r->cluster = *cluster_get_stats(cl);
    (void)o;
    (void)ld;
}

/* A new engine with what the hooks ask for: a trace, fingerprints recorded or compared, an event captured.
 * NULL when out of memory. */
static sim_engine *engine_with_hooks(const run_hooks *hooks) {
    sim_engine *e = sim_engine_new();
    if (!e || !hooks) return e;
    if (hooks->trace) sim_set_trace(e, hooks->trace);
    if (hooks->record_fingerprints) sim_record_fingerprints(e, 1);
    if (hooks->expect_prints) sim_compare_fingerprints(e, hooks->expect_prints, hooks->expect_count);
    if (hooks->capture_plus1 > 0) sim_capture_at(e, hooks->capture_plus1 - 1);
    return e;
}

/* The phases, in slices of a second so that invariant checks run while it goes; then a drain, until the
 * load has nothing in flight and the invariants are quiet (bounded by the load's timeout plus 5 s). Stops
 * early at a fingerprint mismatch or an invariant violation. */
static void run_phases(sim_engine *e, sim_load *ld, sim_invariants *inv, const load_config *lc) {
    int64_t t = 0;
    int64_t drain_until = lc->stop_ns + lc->timeout_ns + 5 * SEC;
    while (t < drain_until && sim_mismatch(e) < 0 && !invariants_violation(inv)->found) {
        t += SEC;
        sim_run_until(e, t);
        invariants_check(inv, 0);
        if (t >= lc->stop_ns && load_inflight(ld) == 0 && invariants_quiet(inv)) break;
    }
    if (sim_mismatch(e) < 0 && !invariants_violation(inv)->found) invariants_check(inv, 1);
}

/* Copies out what the hooks asked to keep (the request records, the fingerprints). */
static void keep_for_hooks(const run_hooks *hooks, sim_engine *e, sim_load *ld, sim_result *r) {
    if (!hooks) return;
    if (hooks->keep_records) {
        r->nrecords = load_record_count(ld);
        r->records = malloc((r->nrecords ? r->nrecords : 1) * sizeof *r->records);
        if (!r->records) abort();
        memcpy(r->records, load_records(ld), r->nrecords * sizeof *r->records);
    }
    if (hooks->prints_out) {
        uint64_t n;
        const uint64_t *p = sim_fingerprints(e, &n);
        *hooks->prints_out = malloc((n ? n : 1) * sizeof **hooks->prints_out);
        if (!*hooks->prints_out) abort();
        memcpy(*hooks->prints_out, p, n * sizeof *p);
        *hooks->prints_count = n;
    }
}

int sim_run_once(const sim_options *o, uint64_t seed, const run_hooks *hooks, sim_result *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->seed = seed;
    r->mismatch = -1;
    double t0 = wall_seconds();
    sim_engine *e = engine_with_hooks(hooks);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sim_cluster *cl = cluster_new(e, seed, &o->cluster, &o->services);
    sim_scenario *sc = scenario_new(cl, seed);
    sim_options_actions(o, sc);
    if (hooks && hooks->add_actions && hooks->add_actions(hooks->add_actions_ctx, sc, o, err, errlen) < 0) {
        scenario_free(sc);
        cluster_free(cl);
        sim_engine_free(e);
        return -1;
    }
    scenario_arm(sc);
    load_config lc = sim_options_load_config(o);
    sim_load *ld = load_new(cl, &lc, seed);
    load_start(ld);
    sim_invariants *inv = invariants_new(cl, ld, o, seed);

    r->baseline_end_ns = o->baseline_ns;
    r->chaos_end_ns = o->baseline_ns + o->chaos_ns;
    r->end_ns = lc.stop_ns;
    run_phases(e, ld, inv, &lc);
    r->drained_ns = sim_now(e);
    r->violation = *invariants_violation(inv);

    stats_compute(load_records(ld), load_record_count(ld), r->baseline_end_ns, r->chaos_end_ns, r->end_ns, &r->summary);
    collect(cl, sc, ld, o, r);
    r->acked = load_acked_count(ld);
    r->duplicate_acks = load_duplicate_acks(ld);
    keep_for_hooks(hooks, e, ld, r);
    r->events = sim_events_executed(e);
    r->trace_hash = sim_trace_hash(e);
    r->mismatch = sim_mismatch(e);
    snprintf(r->event_desc, sizeof r->event_desc, "%s", sim_captured(e));
    invariants_free(inv);
    load_free(ld);
    scenario_free(sc);
    cluster_free(cl);
    sim_engine_free(e);
    r->wall_s = wall_seconds() - t0;
    return 0;
}

void sim_result_free(sim_result *r) {
    stats_free(&r->summary);
    free(r->ledger);
    free(r->actions);
    free(r->records);
    memset(r, 0, sizeof *r);
}
