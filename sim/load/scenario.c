/*
 * scenario.c: starting and stopping chaos actions (see scenario.h).
 */
#include "sim/load/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kinds.h"
#include "base/rng.h"
#include "base/units.h"
#include "sim/load/load.h"

#define MAX_ACTIONS 128
#define MAX_HOGS 16

typedef struct action_state {
    sim_chaos_action a;
    sim_action_status st;
    sim_pod *pods[ACTION_MAX_PODS];
    sim_pod *targets[ACTION_MAX_PODS];
    cfs_stress *stress[ACTION_MAX_PODS];
    sim_mem_hog *hogs[ACTION_MAX_PODS][MAX_HOGS];
    sim_event_id mem_tick;
    pc_rng rng;
    struct sim_scenario *s;
} action_state;

struct sim_scenario {
    sim_cluster *cl;
    uint64_t seed;
    action_state *acts[MAX_ACTIONS];
    int n;
};

static const char *const mode_names[] = {"all", "one", "fixed", "fixed-percent", "random-max-percent"};
static const char *const dir_names[] = {"to", "from", "both"};
const char *select_mode_name(sim_select_mode m) { return mode_names[m]; }
const char *direction_name(sim_direction d) { return dir_names[d]; }

void chaos_action_init(sim_chaos_action *a, const char *name, sim_action_kind kind) {
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    snprintf(a->kind_name, sizeof a->kind_name, "command line");
    a->kind = kind;
    a->end_ns = -1;
    a->restart_delay_ns = 1 * SEC;
}

sim_scenario *scenario_new(sim_cluster *c, uint64_t seed) {
    sim_scenario *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->cl = c;
    s->seed = seed;
    return s;
}

void scenario_free(sim_scenario *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) free(s->acts[i]);
    free(s);
}

int scenario_count(const sim_scenario *s) { return s->n; }
const sim_chaos_action *scenario_action(const sim_scenario *s, int i) { return &s->acts[i]->a; }
const sim_action_status *scenario_status(const sim_scenario *s, int i) { return &s->acts[i]->st; }

int scenario_add(sim_scenario *s, const sim_chaos_action *a) {
    if (s->n >= MAX_ACTIONS) return -1;
    action_state *st = calloc(1, sizeof *st);
    if (!st) abort();
    st->a = *a;
    st->s = s;
    char stream[128];
    snprintf(stream, sizeof stream, "chaos/%s/%d", a->name, s->n);
    pc_rng_init(&st->rng, s->seed, stream);
    s->acts[s->n++] = st;
    return s->n - 1;
}

int64_t scenario_first_start(const sim_scenario *s) {
    int64_t first = -1;
    for (int i = 0; i < s->n; i++)
        if (first < 0 || s->acts[i]->a.start_ns < first) first = s->acts[i]->a.start_ns;
    return first;
}

int64_t scenario_last_end(const sim_scenario *s, int64_t run_end) {
    int64_t last = -1;
    for (int i = 0; i < s->n; i++) {
        int64_t e = s->acts[i]->a.end_ns < 0 ? run_end : s->acts[i]->a.end_ns;
        if (s->acts[i]->a.kind == ACT_POD_KILL || s->acts[i]->a.kind == ACT_CONTAINER_KILL)
            e = s->acts[i]->a.start_ns; /* one-shot */
        if (e > last) last = e;
    }
    return last;
}

/* ---- selection ---- */

static int select_pods(action_state *as, const sim_pod_selector *sel, sim_pod **out) {
    sim_cluster *c = as->s->cl;
    sim_pod *cand[CLUSTER_MAX_PODS];
    int n = 0;
    for (int i = 0; i < cluster_pod_count(c); i++) {
        sim_pod *p = cluster_pod(c, i);
        if (pod_get_state(p) != POD_RUNNING) continue; /* Chaos Mesh selects running pods */
        if (sel->npod_names) {
            for (int k = 0; k < sel->npod_names; k++)
                if (!strcmp(sel->pod_names[k], pod_name(p))) cand[n++] = p;
        } else if (sel->services & (1u << pod_service(p))) {
            cand[n++] = p;
        }
    }
    int want = n;
    switch (sel->mode) {
    case SEL_ALL: want = n; break;
    case SEL_ONE: want = n ? 1 : 0; break;
    case SEL_FIXED: want = sel->value < n ? sel->value : n; break;
    case SEL_FIXED_PERCENT: want = n * sel->value / 100; break;
    case SEL_RANDOM_MAX_PERCENT: {
        int max = n * sel->value / 100;
        want = max > 0 ? (int)pc_rng_below(&as->rng, (uint64_t)max + 1) : 0;
        break;
    }
    }
    /* A seeded partial shuffle picks which ones (Chaos Mesh: crypto/rand). */
    for (int i = 0; i < want; i++) {
        int j = i + (int)pc_rng_below(&as->rng, (uint64_t)(n - i));
        sim_pod *t = cand[i];
        cand[i] = cand[j];
        cand[j] = t;
    }
    if (want > ACTION_MAX_PODS) want = ACTION_MAX_PODS;
    /* keep the chosen ones in pod order so reports read naturally */
    for (int i = 0; i < want; i++) out[i] = cand[i];
    for (int i = 1; i < want; i++)
        for (int j = i; j > 0 && pod_ordinal(out[j - 1]) + 100 * (int)pod_service(out[j - 1]) >
                                     pod_ordinal(out[j]) + 100 * (int)pod_service(out[j]);
             j--) {
            sim_pod *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return want;
}

/* ---- network ---- */

static void add_addr(nf_rule_spec *r, sim_addr a, int prefix) {
    if (r->nmatch >= NF_MAX_SET) return;
    r->match[r->nmatch].addr = a;
    r->match[r->nmatch].prefix = prefix;
    r->nmatch++;
}

static void install(action_state *as, sim_pod **on, int non, sim_pod **peers, int npeers, int add_external, int ingress,
                    const char *suffix) {
    sim_cluster *c = as->s->cl;
    sim_chaos_action *a = &as->a;
    nf_rule_spec r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s%s", a->name, suffix);
    r.kind = a->net_kind;
    r.netem = a->netem;
    r.tbf = a->tbf;
    r.ingress = ingress;
    for (int i = 0; i < non && r.nhosts < NF_MAX_SET; i++) r.hosts[r.nhosts++] = pod_host(on[i])->id;
    if (a->match_all_in_cluster) {
        r.filtered = 1;
        add_addr(&r, SIM_ADDR(10, 244, 0, 0), 16); /* every pod */
        add_addr(&r, SIM_ADDR(10, 96, 0, 0), 12);  /* every Service */
    } else if (a->has_target || a->nexternal) {
        r.filtered = 1;
        for (int i = 0; i < npeers; i++) add_addr(&r, pod_host(peers[i])->addr, 32);
        if (add_external)
            for (int i = 0; i < a->nexternal; i++) add_addr(&r, a->external[i].addr, a->external[i].prefix);
        if (a->match_service_ips && add_external) {
            for (int s = 0; s < SVC_PEER_COUNT; s++)
                if (a->target.services & (1u << s)) add_addr(&r, cluster_service_ip(c, (svc_peer)s), 32);
        }
    }
    char err[256];
    int id = nf_add(cluster_faults(c), &r, err, sizeof err);
    if (id < 0) {
        fprintf(stderr, "sim: cannot install %s: %s\n", a->name, err);
        return;
    }
    if (as->st.nrules < 4) as->st.rule_ids[as->st.nrules++] = id;
}

/* The clients' link: a netem on the client host toward the service (its Service IP and pods), and one on
 * the service's pods toward the client. */
static void start_client_side(action_state *as) {
    sim_cluster *c = as->s->cl;
    sim_chaos_action *a = &as->a;
    sim_host *client = net_host_by_addr(cluster_net(c), LOAD_CLIENT_ADDR);
    if (!client) return;
    char err[256];
    for (int side = 0; side < 2; side++) {
        nf_rule_spec r;
        memset(&r, 0, sizeof r);
        snprintf(r.name, sizeof r.name, "%.80s%s", a->name, side ? "/to-client" : "/from-client");
        r.kind = NF_NETEM;
        r.netem = a->netem;
        r.filtered = 1;
        if (side == 0) {
            r.hosts[r.nhosts++] = client->id;
            for (int s = 0; s < SVC_PEER_COUNT; s++)
                if (a->selector.services & (1u << s)) add_addr(&r, cluster_service_ip(c, (svc_peer)s), 32);
            for (int i = 0; i < as->st.npods; i++) add_addr(&r, pod_host(as->pods[i])->addr, 32);
        } else {
            for (int i = 0; i < as->st.npods && r.nhosts < NF_MAX_SET; i++)
                r.hosts[r.nhosts++] = pod_host(as->pods[i])->id;
            add_addr(&r, LOAD_CLIENT_ADDR, 32);
        }
        int id = nf_add(cluster_faults(c), &r, err, sizeof err);
        if (id >= 0 && as->st.nrules < 4) as->st.rule_ids[as->st.nrules++] = id;
    }
}

static void start_network(action_state *as) {
    sim_chaos_action *a = &as->a;
    if (a->client_side) {
        start_client_side(as);
        return;
    }
    sim_pod **src = as->pods, **dst = as->targets;
    int ns = as->st.npods, nt = as->st.ntargets;
    if (a->net_kind == NF_PARTITION) {
        /* iptables: the sending side's OUTPUT refuses, the receiving side's INPUT drops */
        if (a->dir == DIR_TO || a->dir == DIR_BOTH) {
            install(as, src, ns, dst, nt, 1, 0, "");
            install(as, dst, nt, src, ns, 0, 1, "/input");
        }
        if (a->dir == DIR_FROM || a->dir == DIR_BOTH) {
            install(as, src, ns, dst, nt, 0, 1, "/from-input");
            install(as, dst, nt, src, ns, 0, 0, "/from-output");
        }
        return;
    }
    if (!a->has_target && !a->nexternal) {
        install(as, src, ns, NULL, 0, 0, 0, ""); /* a root netem on every selected pod */
        return;
    }
    if (a->dir == DIR_TO || a->dir == DIR_BOTH) install(as, src, ns, dst, nt, 1, 0, "");
    if (a->dir == DIR_FROM || a->dir == DIR_BOTH) install(as, dst, nt, src, ns, 0, 0, "/from");
}

/* ---- memory ---- */

static void mem_tick(sim_engine *e, void *ctx, uint64_t arg);

static void mem_allocate(action_state *as, int pod, int worker) {
    sim_chaos_action *a = &as->a;
    char name[128];
    snprintf(name, sizeof name, "memStress/%s/%d", a->name, worker);
    as->hogs[pod][worker] = cluster_mem_hog(as->s->cl, as->pods[pod], a->mem_bytes / a->mem_workers, name);
}

static void mem_tick(sim_engine *e, void *ctx, uint64_t arg) {
    (void)arg;
    action_state *as = ctx;
    as->mem_tick = SIM_NO_EVENT;
    if (as->st.stopped) return;
    /* memStress's server respawns a worker the OOM killer took, about a second later */
    for (int p = 0; p < as->st.npods; p++) {
        if (pod_get_state(as->pods[p]) == POD_DEAD) continue;
        for (int w = 0; w < as->a.mem_workers && w < MAX_HOGS; w++) {
            sim_mem_hog *h = as->hogs[p][w];
            if (h && !mem_hog_alive(h)) {
                as->st.stressor_oom_kills++;
                as->st.stressor_respawns++;
                cluster_mem_hog_free(as->s->cl, h);
                as->hogs[p][w] = NULL;
                mem_allocate(as, p, w);
            }
        }
    }
    as->mem_tick = sim_after(e, 1 * SEC, SIM_K_MEMORY, (uint64_t)as->st.npods, mem_tick, as, 0);
}

/* ---- start / stop ---- */

static void action_start(sim_engine *e, void *ctx, uint64_t arg) {
    (void)arg;
    action_state *as = ctx;
    sim_cluster *c = as->s->cl;
    sim_chaos_action *a = &as->a;
    as->st.started = 1;
    as->st.npods = select_pods(as, &a->selector, as->pods);
    for (int i = 0; i < as->st.npods; i++) snprintf(as->st.pods[i], 48, "%s", pod_name(as->pods[i]));
    if (a->has_target) {
        as->st.ntargets = select_pods(as, &a->target, as->targets);
        for (int i = 0; i < as->st.ntargets; i++) snprintf(as->st.targets[i], 48, "%s", pod_name(as->targets[i]));
    }
    switch (a->kind) {
    case ACT_NETWORK: start_network(as); break;
    case ACT_STRESS:
        for (int i = 0; i < as->st.npods; i++) {
            if (a->cpu_workers > 0) as->stress[i] = cfs_stress_start(pod_cpu(as->pods[i]), a->cpu_workers, a->cpu_load);
            if (a->mem_workers > 0 && a->mem_bytes > 0)
                for (int w = 0; w < a->mem_workers && w < MAX_HOGS; w++) mem_allocate(as, i, w);
        }
        if (a->mem_workers > 0 && a->mem_bytes > 0)
            as->mem_tick = sim_after(e, 1 * SEC, SIM_K_MEMORY, 0, mem_tick, as, 0);
        break;
    case ACT_POD_KILL:
        for (int i = 0; i < as->st.npods; i++) cluster_kill_pod(c, as->pods[i], a->restart_delay_ns, a->name);
        break;
    case ACT_CONTAINER_KILL:
        for (int i = 0; i < as->st.npods; i++) cluster_kill_container(c, as->pods[i], a->restart_delay_ns);
        break;
    case ACT_POD_FAILURE:
        for (int i = 0; i < as->st.npods; i++) cluster_fail_pod(c, as->pods[i]);
        break;
    }
}

static void action_stop(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    action_state *as = ctx;
    sim_cluster *c = as->s->cl;
    if (!as->st.started || as->st.stopped) return;
    as->st.stopped = 1;
    for (int i = 0; i < as->st.nrules; i++) nf_remove(cluster_faults(c), as->st.rule_ids[i]);
    for (int i = 0; i < as->st.npods; i++) {
        if (as->stress[i]) cfs_stress_stop(as->stress[i]);
        as->stress[i] = NULL;
        for (int w = 0; w < MAX_HOGS; w++) {
            if (as->hogs[i][w]) cluster_mem_hog_free(c, as->hogs[i][w]);
            as->hogs[i][w] = NULL;
        }
    }
    sim_cancel(cluster_engine(c), &as->mem_tick);
    if (as->a.kind == ACT_POD_FAILURE)
        for (int i = 0; i < as->st.npods; i++) cluster_recover_pod(c, as->pods[i]);
}

void scenario_arm(sim_scenario *s) {
    sim_engine *e = cluster_engine(s->cl);
    for (int i = 0; i < s->n; i++) {
        action_state *as = s->acts[i];
        sim_at(e, as->a.start_ns, SIM_K_CHAOS, (uint64_t)i * 2, action_start, as, 0);
        if (as->a.end_ns >= 0) sim_at(e, as->a.end_ns, SIM_K_CHAOS, (uint64_t)i * 2 + 1, action_stop, as, 0);
    }
}
