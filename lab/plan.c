/*
 * plan.c: the simulator's prediction for a lab run, and the plan the lab script executes (see lab.h).
 *
 * The plan is written for bash (`source`): scalars and indexed arrays only, every value quoted. Network
 * actions are expanded into rules exactly as sim/load/scenario.c installs them (direction `to` on the selected
 * pods filtered on the targets' pod IPs, plus the target Services' IPs for command-line links and the
 * externalTargets; `from` on the targets filtered on the selected pods' IPs; `both` both; no target: all
 * egress, or every pod and Service address for the command line's default link set), so the lab matches
 * on the destination as the sender wrote it, like Chaos Mesh. Each rule says where it acts (RULE_HOOK):
 * `egress` (a qdisc on RULE_SRC's egress, filtered on the destinations RULE_DST and RULE_NETS unless
 * RULE_ANY), `output` (partition: RULE_SRC's OUTPUT chain drops packets to those destinations) or `input`
 * (partition: RULE_SRC's INPUT chain drops packets whose SOURCE is a pod of RULE_DST), as scenario.c's
 * install() calls. A network action's qdisc is written twice: in labwire's words (ACT_WIRE,
 * lab/wire/control.h) and in tc's (ACT_TC, for kernels with sch_netem and sch_tbf).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/units.h"
#include "lab/lab.h"
#include "sim/load/scenario.h"

int lab_predict(const sim_options *o, const experiment_unit *unit, uint64_t seed, sim_result *out, char *err,
                size_t errlen) {
    run_hooks hooks;
    memset(&hooks, 0, sizeof hooks);
    hooks.keep_records = 1;
    if (unit) {
        hooks.add_actions = experiment_add_actions;
        hooks.add_actions_ctx = (void *)(uintptr_t)unit;
    }
    return sim_run_once(o, seed, &hooks, out, err, errlen);
}

static const char *kind_word(sim_action_kind k) {
    switch (k) {
    case ACT_NETWORK: return "network";
    case ACT_STRESS: return "stress";
    case ACT_POD_KILL: return "pod-kill";
    case ACT_POD_FAILURE: return "pod-failure";
    case ACT_CONTAINER_KILL: return "container-kill";
    }
    return "?";
}

static const char *net_word(nf_kind k) {
    return k == NF_PARTITION ? "partition" : k == NF_BANDWIDTH ? "bandwidth" : "netem";
}

static void names(FILE *f, const char (*list)[48], int n) {
    fputc('"', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? " " : "", list[i]);
    fputc('"', f);
}

static void cidr(FILE *f, int *first, sim_addr a, int prefix) {
    char buf[32];
    sim_addr_format(a, buf, sizeof buf);
    fprintf(f, "%s%s/%d", *first ? "" : " ", buf, prefix);
    *first = 0;
}

/* One rule installed on the `src` pods: packets to `dst` pods or networks (sender's view of the destination),
 * or for hook "input" packets from `dst` pods. */
static void rule(FILE *f, int *nrules, int act, const char *hook, const char (*src)[48], int nsrc,
                 const char (*dst)[48], int ndst, const sim_chaos_action *a, int add_external, const sim_options *o) {
    int k = (*nrules)++;
    fprintf(f, "RULE_ACT[%d]=%d; RULE_HOOK[%d]=%s; RULE_SRC[%d]=", k, act, k, hook, k);
    names(f, src, nsrc);
    fprintf(f, "; RULE_DST[%d]=", k);
    names(f, dst, ndst);
    fprintf(f, "; RULE_NETS[%d]=\"", k);
    int first = 1, any = 0;
    if (a->match_all_in_cluster) {
        cidr(f, &first, SIM_ADDR(10, 244, 0, 0), 16);
        cidr(f, &first, SIM_ADDR(10, 96, 0, 0), 12);
    } else if (a->has_target || a->nexternal) {
        if (add_external) {
            for (int i = 0; i < a->nexternal; i++) cidr(f, &first, a->external[i].addr, a->external[i].prefix);
            if (a->match_service_ips)
                for (int s = 0; s < SVC_PEER_COUNT; s++)
                    if (a->target.services & (1u << s)) cidr(f, &first, o->cluster.svc[s].cluster_ip, 32);
        }
    } else {
        any = 1; /* a root netem: every packet the pod sends */
    }
    fprintf(f, "\"; RULE_ANY[%d]=%d\n", k, any);
}

/* netem's or tbf's parameters in labwire's words (lab/wire/control.h) and in tc's. */
static void qdisc_words(FILE *f, int i, const sim_chaos_action *a) {
    const netem_config *n = &a->netem;
    if (a->net_kind == NF_PARTITION) {
        fprintf(f, "ACT_WIRE[%d]=''; ACT_TC[%d]=''\n", i, i);
        return;
    }
    if (a->net_kind == NF_BANDWIDTH) {
        const tbf_config *t = &a->tbf;
        fprintf(f, "ACT_WIRE[%d]='tbf rate %llu burst %u limit %u", i, (unsigned long long)t->rate_bytes_per_s,
                t->burst_bytes, t->limit_bytes);
        if (t->peakrate_bytes_per_s)
            fprintf(f, " peakrate %llu mtu %u", (unsigned long long)t->peakrate_bytes_per_s, t->mtu_bytes);
        /* tc: "bps" is bytes per second */
        fprintf(f, "'; ACT_TC[%d]='tbf rate %llubps burst %u limit %u", i, (unsigned long long)t->rate_bytes_per_s,
                t->burst_bytes, t->limit_bytes);
        if (t->peakrate_bytes_per_s)
            fprintf(f, " peakrate %llubps mtu %u", (unsigned long long)t->peakrate_bytes_per_s, t->mtu_bytes);
        fprintf(f, "'\n");
        return;
    }
    fprintf(f,
            "ACT_WIRE[%d]='netem loss %g loss_corr %g delay %lld jitter %lld delay_corr %g dup %g dup_corr %g "
            "corrupt %g corrupt_corr %g reorder %g reorder_corr %g gap %u limit %u'; ACT_TC[%d]='netem",
            i, n->loss_pct, n->loss_corr_pct, (long long)n->latency_ns, (long long)n->jitter_ns, n->delay_corr_pct,
            n->duplicate_pct, n->duplicate_corr_pct, n->corrupt_pct, n->corrupt_corr_pct, n->reorder_pct,
            n->reorder_corr_pct, n->reorder_gap, n->limit_packets, i);
    /* chaos-daemon's order (convertNetemToArgs): delay [jitter [corr]], loss, duplicate, corrupt, reorder */
    if (n->latency_ns > 0) {
        fprintf(f, " delay %lldus", (long long)(n->latency_ns / 1000));
        if (n->jitter_ns > 0) fprintf(f, " %lldus", (long long)(n->jitter_ns / 1000));
        if (n->jitter_ns > 0 && n->delay_corr_pct > 0) fprintf(f, " %g%%", n->delay_corr_pct);
    }
    if (n->loss_pct > 0) fprintf(f, " loss %g%% %g%%", n->loss_pct, n->loss_corr_pct);
    if (n->duplicate_pct > 0) fprintf(f, " duplicate %g%% %g%%", n->duplicate_pct, n->duplicate_corr_pct);
    if (n->corrupt_pct > 0) fprintf(f, " corrupt %g%% %g%%", n->corrupt_pct, n->corrupt_corr_pct);
    if (n->reorder_pct > 0) fprintf(f, " reorder %g%% %g%%", n->reorder_pct, n->reorder_corr_pct);
    if (n->reorder_pct > 0 && n->reorder_gap) fprintf(f, " gap %u", n->reorder_gap);
    fprintf(f, "'\n");
}

/* The rules of one network action, as scenario.c's start_network() installs them. */
static void network_rules(FILE *f, int *nrules, int i, const sim_chaos_action *a, const sim_action_status *st,
                          const sim_options *o) {
    int to = a->dir == DIR_TO || a->dir == DIR_BOTH, from = a->dir == DIR_FROM || a->dir == DIR_BOTH;
    if (a->net_kind == NF_PARTITION) {
        /* iptables: the sending side's OUTPUT refuses, the receiving side's INPUT drops */
        if (to) {
            rule(f, nrules, i, "output", st->pods, st->npods, st->targets, st->ntargets, a, 1, o);
            rule(f, nrules, i, "input", st->targets, st->ntargets, st->pods, st->npods, a, 0, o);
        }
        if (from) {
            rule(f, nrules, i, "input", st->pods, st->npods, st->targets, st->ntargets, a, 0, o);
            rule(f, nrules, i, "output", st->targets, st->ntargets, st->pods, st->npods, a, 0, o);
        }
        return;
    }
    if (!a->has_target && !a->nexternal) {
        rule(f, nrules, i, "egress", st->pods, st->npods, NULL, 0, a, 0, o);
        return;
    }
    if (to) rule(f, nrules, i, "egress", st->pods, st->npods, st->targets, st->ntargets, a, 1, o);
    if (from) rule(f, nrules, i, "egress", st->targets, st->ntargets, st->pods, st->npods, a, 0, o);
}

int lab_plan_write(FILE *f, const sim_options *o, const sim_result *pred) {
    char cmd[2048];
    sim_options_command(o, pred->seed, cmd, sizeof cmd);
    fprintf(f, "# lab plan written by bin/loadgen; the simulator's run: %s\n", cmd);
    fprintf(f, "PLAN_SEED=%llu\n", (unsigned long long)pred->seed);
    fprintf(f, "PLAN_BASELINE_MS=%lld\nPLAN_CHAOS_MS=%lld\nPLAN_RECOVERY_MS=%lld\n", (long long)(o->baseline_ns / MS),
            (long long)(o->chaos_ns / MS), (long long)(o->recovery_ns / MS));
    fprintf(f, "PLAN_TIMEOUT_MS=%lld\n", (long long)(o->load.timeout_ns / MS));
    const cluster_spec *cs = &o->cluster;
    fprintf(f, "PLAN_SERVICES=(");
    for (int s = 0; s < SVC_PEER_COUNT; s++) fprintf(f, "%s%s", s ? " " : "", cs->svc[s].workload);
    fprintf(f, ")\n");
#define ARRAY(name, fmt, expr)                                                                                         \
    do {                                                                                                               \
        fprintf(f, "%s=(", name);                                                                                      \
        for (int s = 0; s < SVC_PEER_COUNT; s++) fprintf(f, "%s" fmt, s ? " " : "", expr);                             \
        fprintf(f, ")\n");                                                                                             \
    } while (0)
    ARRAY("PLAN_REPLICAS", "%d", cs->svc[s].replicas);
    ARRAY("PLAN_PORTS", "%d", cs->svc[s].port);
    char ip[SVC_PEER_COUNT][32];
    for (int s = 0; s < SVC_PEER_COUNT; s++) sim_addr_format(cs->svc[s].cluster_ip, ip[s], sizeof ip[s]);
    ARRAY("PLAN_VIPS", "%s", ip[s]);
    ARRAY("PLAN_CPU_QUOTA_US", "%lld", (long long)(cs->svc[s].cpu_limit_millis * 100));
    ARRAY("PLAN_MEM_LIMIT", "%lld", (long long)cs->svc[s].mem_limit_bytes);
    ARRAY("PLAN_START_DELAY_MS", "%lld", (long long)(cs->svc[s].start_delay_ns / MS));
    ARRAY("PLAN_READY_DELAY_MS", "%lld", (long long)(cs->svc[s].readiness_delay_ns / MS));
    ARRAY("PLAN_READY_PERIOD_MS", "%lld", (long long)(cs->svc[s].readiness_period_ns / MS));
#undef ARRAY
    fprintf(f, "PLAN_ENDPOINT_DELAY_MS=%lld\n", (long long)(cs->endpoint_delay_ns / MS));
    fprintf(f, "PLAN_NODE_CPUS=%d\n", cs->node_cpus);
    const svc_config *sc = &o->services;
    fprintf(f,
            "PLAN_ENV=(DOWNSTREAM_KEEPALIVE=%s DOWNSTREAM_TIMEOUT_MS=%lld CHAIN_STEP_TIMEOUT_MS=%lld "
            "FORWARD_TIMEOUT_MS=%lld RETRY_ATTEMPTS=%d RETRY_BACKOFF_MS=%lld RETRY_BACKOFF_MAX_MS=%lld "
            "RETRY_DEADLINE_MS=%lld IDEMPOTENCY=%s)\n",
            cs->keepalive_downstream ? "on" : "off", (long long)(sc->downstream_timeout_ns / MS),
            (long long)(sc->chain_step_timeout_ns / MS), (long long)(sc->forward_timeout_ns / MS), sc->retry.attempts,
            (long long)(sc->retry.backoff_ns / MS), (long long)(sc->retry.backoff_max_ns / MS),
            (long long)(sc->retry.deadline_ns / MS), sc->idempotency ? "on" : "off");
    fprintf(f, "PLAN_NACTIONS=%d\n", pred->nactions);
    int nrules = 0;
    for (int i = 0; i < pred->nactions; i++) {
        const sim_chaos_action *a = &pred->actions[i].action;
        const sim_action_status *st = &pred->actions[i].status;
        fprintf(f, "ACT_NAME[%d]='%s'; ACT_KIND[%d]=%s; ACT_START_MS[%d]=%lld; ACT_END_MS[%d]=%lld; ACT_PODS[%d]=", i,
                a->name, i, kind_word(a->kind), i, (long long)(a->start_ns / MS), i,
                (long long)(a->end_ns < 0 ? -1 : a->end_ns / MS), i);
        names(f, st->pods, st->started ? st->npods : 0);
        fprintf(f, "\n");
        switch (a->kind) {
        case ACT_NETWORK:
            fprintf(f,
                    "ACT_NET[%d]=%s; ACT_LOSS_PCT[%d]=%g; ACT_CORR_PCT[%d]=%g; ACT_DELAY_US[%d]=%lld; "
                    "ACT_JITTER_US[%d]=%lld; ACT_DUP_PCT[%d]=%g; ACT_CORRUPT_PCT[%d]=%g\n",
                    i, net_word(a->net_kind), i, a->netem.loss_pct, i, a->netem.loss_corr_pct, i,
                    (long long)(a->netem.latency_ns / 1000), i, (long long)(a->netem.jitter_ns / 1000), i,
                    a->netem.duplicate_pct, i, a->netem.corrupt_pct);
            qdisc_words(f, i, a);
            if (st->started) network_rules(f, &nrules, i, a, st, o);
            break;
        case ACT_STRESS:
            fprintf(f, "ACT_CPU_WORKERS[%d]=%d; ACT_CPU_LOAD[%d]=%d; ACT_MEM_WORKERS[%d]=%d; ACT_MEM_BYTES[%d]=%lld\n",
                    i, a->cpu_workers, i, a->cpu_load, i, a->mem_workers, i, (long long)a->mem_bytes);
            break;
        default: fprintf(f, "ACT_RESTART_DELAY_MS[%d]=%lld\n", i, (long long)(a->restart_delay_ns / MS)); break;
        }
    }
    fprintf(f, "PLAN_NRULES=%d\n", nrules);
    return ferror(f) ? -1 : 0;
}
