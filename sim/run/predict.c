/*
 * predict.c: what each chaos object really does (see predict.h).
 */
#include "sim/run/predict.h"

#include "base/units.h"
#include "faults/netem_effective.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[PRED_KINDS] = {"says",     "does",     "touches", "misses",
                                                   "timeline", "warnings", "notes"};

static void add(sim_prediction *p, pred_kind k, const char *fmt, ...) YT_PRINTF(3, 4);
static void add(sim_prediction *p, pred_kind k, const char *fmt, ...) {
    char text[720];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    for (int i = 0; i < p->n; i++)
        if (p->lines[i].kind == k && !strcmp(p->lines[i].text, text)) return;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->lines = realloc(p->lines, (size_t)p->cap * sizeof *p->lines);
        if (!p->lines) abort();
    }
    p->lines[p->n].kind = k;
    snprintf(p->lines[p->n].text, sizeof p->lines[0].text, "%s", text);
    p->n++;
}

void prediction_free(sim_prediction *p) {
    free(p->lines);
    memset(p, 0, sizeof *p);
}

int predict_warnings(const sim_prediction *p) {
    int n = 0;
    for (int i = 0; i < p->n; i++) n += p->lines[i].kind == PRED_WARNING;
    return n;
}

/* ---- helpers ---- */

static int svc_of_pod(const sim_options *o, const char *name) {
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        size_t wl = strlen(o->cluster.svc[s].workload);
        if (!strncmp(name, o->cluster.svc[s].workload, wl) && name[wl] == '-') return s;
    }
    return -1;
}

static unsigned services_of(const sim_options *o, const char (*names)[48], int n) {
    unsigned m = 0;
    for (int i = 0; i < n; i++) {
        int s = svc_of_pod(o, names[i]);
        if (s >= 0) m |= 1u << s;
    }
    return m;
}

static unsigned selector_services(const sim_options *o, const sim_pod_selector *sel) {
    if (!sel->npod_names) return sel->services;
    return services_of(o, sel->pod_names, sel->npod_names);
}

static const char *svc_list(unsigned m, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = '\0';
    for (int s = 0; s < SVC_PEER_COUNT && k < len; s++)
        if (m & (1u << s)) k += (size_t)snprintf(buf + k, len - k, "%s%s", k ? "/" : "", svc_peer_name((svc_peer)s));
    if (!k) snprintf(buf, len, "no");
    return buf;
}

static const char *pod_list(const char (*names)[48], int n, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k < len; i++) k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ", " : "", names[i]);
    if (!n) snprintf(buf, len, "no pod");
    return buf;
}

static void fmt_ip(sim_addr a, char *out, size_t len) { sim_addr_format(a, out, len); }

/* A ledger row, read back: src service (-1 client), dst service (-1 client), dst is a Service IP. */
typedef struct flow {
    int src, dst, vip;
} flow;

static flow parse_row(const sim_ledger_row *l) {
    flow f = {-1, -1, 0};
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        const char *n = svc_peer_name((svc_peer)s);
        if (!strcmp(l->src, n)) f.src = s;
        size_t len = strlen(n);
        if (!strncmp(l->dst, n, len) && l->dst[len] == ' ') {
            f.dst = s;
            f.vip = strstr(l->dst, "Service IP") != NULL;
        }
    }
    return f;
}

static void flow_words(const sim_options *o, flow f, char *out, size_t len) {
    char ip[32];
    if (f.src < 0) {
        snprintf(out, len, "client requests to %s", f.dst >= 0 ? svc_peer_name((svc_peer)f.dst) : "?");
        return;
    }
    const char *src = svc_peer_name((svc_peer)f.src);
    if (f.dst < 0) {
        snprintf(out, len, "%s's replies to the clients", src);
        return;
    }
    const char *dst = svc_peer_name((svc_peer)f.dst);
    if (f.vip) {
        fmt_ip(o->cluster.svc[f.dst].cluster_ip, ip, sizeof ip);
        const char *step = f.src == SVC_PAYMENT && f.dst == SVC_INVENTORY      ? " (chain step 1)"
                           : f.src == SVC_PAYMENT && f.dst == SVC_NOTIFICATION ? " (chain step 2)"
                                                                               : "";
        snprintf(out, len, "%s -> %s requests%s, sent to the Service IP %s", src, dst, step, ip);
    } else if (f.src == f.dst) {
        snprintf(out, len, "%s -> %s forwarding to the owner replica (pod IPs)", src, dst);
    } else if (f.dst == SVC_PAYMENT) {
        snprintf(out, len, "%s -> payment replies (to payment's pod IPs)", src);
    } else {
        snprintf(out, len, "%s -> %s packets to pod IPs", src, dst);
    }
}

/* ---- network ---- */

typedef struct rule {
    unsigned on;        /* services whose pods carry it */
    int ingress;        /* iptables INPUT (partition): matches by source */
    int all;            /* root netem: every packet */
    unsigned dst_pods;  /* destination pod IPs of these services */
    unsigned dst_vips;  /* destination ClusterIPs of these services */
    int any_pod;        /* an externalTargets CIDR covers the pod network */
    unsigned src_match; /* ingress: senders */
} rule;

static int rule_matches(const rule *r, flow f) {
    if (r->ingress) return f.src >= 0 && (r->src_match & (1u << f.src)) && f.dst >= 0 && (r->on & (1u << f.dst));
    if (f.src < 0 || !(r->on & (1u << f.src))) return 0;
    if (r->all) return 1;
    if (f.dst < 0) return 0;
    if (f.vip) return (r->dst_vips >> f.dst) & 1;
    return ((r->dst_pods >> f.dst) & 1) || r->any_pod;
}

static int build_rules(const sim_options *o, const cm_action *ca, const sim_action_row *ar, rule *rules) {
    const sim_chaos_action *a = &ca->a;
    unsigned sel =
        ar->status.started ? services_of(o, ar->status.pods, ar->status.npods) : selector_services(o, &a->selector);
    unsigned tgt = !a->has_target       ? 0
                   : ar->status.started ? services_of(o, ar->status.targets, ar->status.ntargets)
                                        : selector_services(o, &a->target);
    int any_pod = 0;
    for (int i = 0; i < a->nexternal; i++) {
        int pfx = a->external[i].prefix;
        uint32_t mask = pfx >= 32 ? 0xffffffffu : pfx <= 0 ? 0 : ~((1u << (32 - pfx)) - 1);
        if ((SIM_ADDR(10, 244, 0, 0) & mask) == (a->external[i].addr & mask) && pfx <= 16) any_pod = 1;
    }
    int n = 0;
    memset(rules, 0, 4 * sizeof *rules);
    int to = a->dir == DIR_TO || a->dir == DIR_BOTH, from = a->dir == DIR_FROM || a->dir == DIR_BOTH;
    if (a->net_kind == NF_PARTITION) {
        if (to) {
            rules[n++] = (rule){sel, 0, 0, tgt, ca->external_vips, any_pod, 0};
            rules[n++] = (rule){tgt, 1, 0, 0, 0, 0, sel};
        }
        if (from) {
            rules[n++] = (rule){sel, 1, 0, 0, 0, 0, tgt};
            rules[n++] = (rule){tgt, 0, 0, sel, 0, 0, 0};
        }
        return n;
    }
    if (ca->unfiltered) {
        rules[n++] = (rule){sel, 0, 1, 0, 0, 0, 0};
        return n;
    }
    if (to) rules[n++] = (rule){sel, 0, 0, tgt, ca->external_vips, any_pod, 0};
    if (from) rules[n++] = (rule){tgt, 0, 0, sel, 0, 0, 0};
    return n;
}

static void describe_filter(const sim_options *o, const cm_action *ca, const sim_action_row *ar, int from_half,
                            char *out, size_t len) {
    const sim_chaos_action *a = &ca->a;
    char pods[400], ip[32];
    size_t k = 0;
    out[0] = '\0';
    if (ca->unfiltered) {
        snprintf(out, len, "none: every packet these pods send (replies to clients and probes included)");
        return;
    }
    if (from_half) {
        snprintf(out, len, "destination in the source pods' IPs (%s)",
                 pod_list(ar->status.pods, ar->status.npods, pods, sizeof pods));
        return;
    }
    if (a->has_target)
        k += (size_t)snprintf(out + k, len - k, "%s pod IPs (%s)",
                              svc_list(selector_services(o, &a->target), ip, sizeof ip),
                              pod_list(ar->status.targets, ar->status.ntargets, pods, sizeof pods));
    for (int i = 0; i < a->nexternal && k < len; i++) {
        fmt_ip(a->external[i].addr, ip, sizeof ip);
        const char *what = "";
        for (int s = 0; s < SVC_PEER_COUNT; s++)
            if (a->external[i].prefix == 32 && a->external[i].addr == o->cluster.svc[s].cluster_ip)
                what = o->cluster.svc[s].name;
        k += (size_t)snprintf(out + k, len - k, "%s%s/%d%s%s%s", k ? " + " : "", ip, a->external[i].prefix,
                              what[0] ? " (" : "", what, what[0] ? " ClusterIP)" : "");
    }
}

static void netem_words(const netem_config *ne, char *out, size_t len) {
    size_t k = 0;
    out[0] = '\0';
    if (ne->latency_ns > 0) k += (size_t)snprintf(out + k, len - k, "delay %g ms", (double)ne->latency_ns / MS);
    if (ne->jitter_ns > 0 && k < len) k += (size_t)snprintf(out + k, len - k, " ± %g ms", (double)ne->jitter_ns / MS);
    if (ne->loss_pct > 0 && k < len) {
        k += (size_t)snprintf(out + k, len - k, "%sloss %g %%", k ? " + " : "", ne->loss_pct);
        if (ne->loss_corr_pct > 0 && k < len) k += (size_t)snprintf(out + k, len - k, " %g %%", ne->loss_corr_pct);
    }
    if (ne->duplicate_pct > 0 && k < len)
        k += (size_t)snprintf(out + k, len - k, "%sduplicate %g %%", k ? " + " : "", ne->duplicate_pct);
    if (ne->corrupt_pct > 0 && k < len)
        k += (size_t)snprintf(out + k, len - k, "%scorrupt %g %%", k ? " + " : "", ne->corrupt_pct);
    if (ne->reorder_pct > 0 && k < len) k += (size_t)snprintf(out + k, len - k, " reorder %g %%", ne->reorder_pct);
    if (!k) snprintf(out, len, "nothing (every block was dropped)");
}

/* The qdisc or the iptables rule, in words (netem's blocks, tbf's rate, partition). */
static void filter_words(const sim_chaos_action *a, char *what, size_t whatlen) {
    char filter[600], words[200];
    if (a->net_kind == NF_NETEM) {
        netem_words(&a->netem, words, sizeof words);
        snprintf(filter, sizeof filter, "netem %s", words);
    } else if (a->net_kind == NF_BANDWIDTH) {
        snprintf(filter, sizeof filter, "tbf rate %" PRIu64 " bytes/s (burst %u B, limit %u B)",
                 a->tbf.rate_bytes_per_s, a->tbf.burst_bytes, a->tbf.limit_bytes);
    } else {
        snprintf(filter, sizeof filter,
                 "iptables DROP (the sender's OUTPUT refuses the send, the receiver's INPUT drops it)");
    }
    snprintf(what, whatlen, "%.190s", filter);
}

/* What netem does to each packet it sees: the effective loss (correlation included), the delay. */
static void predict_netem(sim_prediction *p, const netem_config *ne, const char *pre) {
    if (ne->loss_pct > 0) {
        double eff = netem_effective_pct(ne->loss_pct, ne->loss_corr_pct);
        add(p, PRED_DOES,
            "%seffective loss by netem's formula (get_crandom over 4 * 10^6 packets): %.1f %% of the packets "
            "it sees (configured %g %%%s)",
            pre, eff, ne->loss_pct, ne->loss_corr_pct > 0 ? ", correlation included" : ", no correlation");
    }
    if (ne->latency_ns > 0) {
        double lo = (double)(ne->latency_ns - ne->jitter_ns) / MS, hi = (double)(ne->latency_ns + ne->jitter_ns) / MS;
        if (ne->jitter_ns > 0)
            add(p, PRED_DOES,
                "%seach matched packet waits uniformly %.0f-%.0f ms (no distribution table is sent, "
                "so jitter is uniform) and the jitter reorders packets; netem's 1000-packet limit "
                "tail-drops above %.0f packets/s per pod",
                pre, lo, hi, 1000.0 / ((double)ne->latency_ns / SEC));
        else
            add(p, PRED_DOES,
                "%seach matched packet waits %.0f ms; netem's 1000-packet limit tail-drops above %.0f "
                "packets/s per pod",
                pre, lo, 1000.0 / ((double)ne->latency_ns / SEC));
    }
}

/* What the object's own rules saw, and their clashes with another filtered NetworkChaos. */
static void predict_realized(sim_prediction *p, const sim_action_row *ar, const char *pre) {
    uint64_t lost = ar->rule_dropped + ar->rule_local_dropped;
    if (ar->rule_seen) {
        char extra[96] = "";
        if (ar->rule_delayed) snprintf(extra, sizeof extra, ", %" PRIu64 " delayed", ar->rule_delayed);
        add(p, PRED_TOUCHES, "%srealized by its rules: %" PRIu64 " packets, %" PRIu64 " dropped (%.1f %%)%s", pre,
            ar->rule_seen, lost, 100.0 * (double)lost / (double)ar->rule_seen, extra);
    } else {
        add(p, PRED_WARNING, "%sno packet of the system ever matched its rules: it changes nothing for the clients",
            pre);
    }
    if (ar->rule_lost)
        add(p, PRED_WARNING,
            "%s%" PRIu64
            " packets matched both this and another filtered NetworkChaos on the same pods: only one netem "
            "applies per packet (the last matching iptables CLASSIFY chain, in Go map order), so the effects do NOT "
            "add up; put both blocks in ONE object",
            pre, ar->rule_lost);
    if (ar->rule_won)
        add(p, PRED_NOTE, "%s%" PRIu64 " packets got this object's netem over another's", pre, ar->rule_won);
}

/* A flow the object seems to aim at but misses (a ClusterIP, the other direction's egress). */
static void predict_miss(sim_prediction *p, const sim_options *o, const cm_action *ca, flow f, int fwd, int back,
                         int to, const char *words) {
    const sim_chaos_action *a = &ca->a;
    char ip[32];
    if (fwd && to && f.vip && !(ca->external_vips >> f.dst & 1)) {
        fmt_ip(o->cluster.svc[f.dst].cluster_ip, ip, sizeof ip);
        add(p, PRED_MISSES,
            "%s -> %s requests: they go to the Service IP %s, the filter lists pod IPs only "
            "(kube-proxy DNATs the ClusterIP outside the pod's network namespace)",
            svc_peer_name((svc_peer)f.src), svc_peer_name((svc_peer)f.dst), ip);
        add(p, PRED_WARNING,
            "the YAML reads as %s on %s -> %s, but it misses every request %s sends to %s: "
            "they go to the Service IP %s; add it to externalTargets to hit them",
            a->net_kind == NF_PARTITION ? "a partition" : "a fault", svc_peer_name((svc_peer)f.src),
            svc_peer_name((svc_peer)f.dst), svc_peer_name((svc_peer)f.src), svc_peer_name((svc_peer)f.dst), ip);
    } else if (back && a->dir == DIR_TO && f.src != f.dst) {
        add(p, PRED_MISSES, "%s: direction to shapes only the %s pods' egress", words, svc_peer_name((svc_peer)f.dst));
    } else if (fwd && a->dir == DIR_FROM && f.src != f.dst) {
        add(p, PRED_MISSES, "%s: direction from shapes only the target pods' egress", words);
    }
}

/* The ledger's flows: which ones its rules match (marked in touched_rows), which ones it misses. */
static void predict_flows(sim_prediction *p, const sim_options *o, const sim_result *r, const cm_action *ca,
                          const sim_action_row *ar, int many, int to, int *touched_rows) {
    const sim_chaos_action *a = &ca->a;
    rule rules[4];
    int nr = build_rules(o, ca, ar, rules);
    unsigned sel = services_of(o, ar->status.pods, ar->status.npods);
    unsigned tgt = a->has_target ? services_of(o, ar->status.targets, ar->status.ntargets) : 0;
    for (size_t i = 0; i < r->nledger; i++) {
        const sim_ledger_row *l = &r->ledger[i];
        if (!l->seen) continue;
        flow f = parse_row(l);
        int hit = 0;
        for (int k = 0; k < nr; k++) hit |= rule_matches(&rules[k], f);
        char words[200];
        flow_words(o, f, words, sizeof words);
        if (hit) {
            touched_rows[i] = 1;
            if (!many) {
                uint64_t dropped = l->dropped + l->local_dropped;
                char delay[96] = "";
                if (l->delayed)
                    snprintf(delay, sizeof delay, ", %" PRIu64 " delayed (mean %.0f ms)", l->delayed, l->mean_delay_ms);
                add(p, PRED_TOUCHES, "%s: %" PRIu64 " packets went through it, %" PRIu64 " dropped (%.1f %%)%s", words,
                    l->faulted, dropped, l->faulted ? 100.0 * (double)dropped / (double)l->faulted : 0.0, delay);
            }
            continue;
        }
        if (f.src < 0 || f.dst < 0 || ca->unfiltered) continue;
        int fwd = (sel >> f.src & 1) && (tgt >> f.dst & 1), back = (tgt >> f.src & 1) && (sel >> f.dst & 1);
        predict_miss(p, o, ca, f, fwd, back, to, words);
    }
}

static void predict_network(sim_prediction *p, const sim_options *o, const sim_result *r, const cm_action *ca,
                            const sim_action_row *ar, int many, const char *pre, int *touched_rows) {
    const sim_chaos_action *a = &ca->a;
    char where[400], filter[600], what[200];
    filter_words(a, what, sizeof what);
    int to = a->dir == DIR_TO || a->dir == DIR_BOTH, from = a->dir == DIR_FROM || a->dir == DIR_BOTH;
    if (ca->unfiltered) to = 1, from = 0;
    if (to) {
        describe_filter(o, ca, ar, 0, filter, sizeof filter);
        add(p, PRED_DOES, "%s%s on the egress of %s; filter: %s", pre, what,
            pod_list(ar->status.pods, ar->status.npods, where, sizeof where), filter);
    }
    if (from) {
        describe_filter(o, ca, ar, 1, filter, sizeof filter);
        add(p, PRED_DOES, "%s%s on the egress of %s (direction %s: the targets' side); filter: %s", pre, what,
            pod_list(ar->status.targets, ar->status.ntargets, where, sizeof where), direction_name(a->dir), filter);
    }
    if (a->net_kind == NF_NETEM) predict_netem(p, &a->netem, pre);
    predict_realized(p, ar, pre);
    predict_flows(p, o, r, ca, ar, many, to, touched_rows);
}

/* ---- CPU and memory ---- */

static const sim_cpu_row *cpu_of(const sim_result *r, const char *pod) {
    for (int i = 0; i < r->npods; i++)
        if (!strcmp(r->cpu[i].pod, pod)) return &r->cpu[i];
    return NULL;
}

static const sim_pod_row *pod_of(const sim_result *r, const char *pod) {
    for (int i = 0; i < r->npods; i++)
        if (!strcmp(r->pods[i].pod, pod)) return &r->pods[i];
    return NULL;
}

static int64_t active_ns(const sim_chaos_action *a, const sim_result *r) {
    int64_t end = a->end_ns < 0 || a->end_ns > r->end_ns ? r->end_ns : a->end_ns;
    return end > a->start_ns ? end - a->start_ns : 0;
}

static void predict_cpu(sim_prediction *p, const cm_object *obj, int first, const sim_options *o, const sim_result *r) {
    /* per pod: the stressors' CPU over every window in which this object stressed it */
    char done[CLUSTER_MAX_PODS][48];
    int ndone = 0;
    for (int i = 0; i < obj->nacts; i++) {
        const sim_action_row *ar = &r->actions[first + i];
        if (ar->action.kind != ACT_STRESS || !ar->action.cpu_workers) continue;
        for (int k = 0; k < ar->status.npods; k++) {
            const char *pod = ar->status.pods[k];
            int seen = 0;
            for (int d = 0; d < ndone; d++) seen |= !strcmp(done[d], pod);
            if (seen || ndone >= CLUSTER_MAX_PODS) continue;
            snprintf(done[ndone++], sizeof done[0], "%s", pod);
            int64_t window = 0;
            for (int j = 0; j < obj->nacts; j++) {
                const sim_action_row *aj = &r->actions[first + j];
                if (aj->action.kind != ACT_STRESS || !aj->action.cpu_workers) continue;
                for (int q = 0; q < aj->status.npods; q++)
                    if (!strcmp(aj->status.pods[q], pod)) window += active_ns(&aj->action, r);
            }
            const sim_cpu_row *c = cpu_of(r, pod);
            int s = svc_of_pod(o, pod);
            if (!c || s < 0 || window <= 0) continue;
            double limit = (double)o->cluster.svc[s].cpu_limit_millis / 1000.0;
            double quota_ms = (double)window / MS * limit;
            double share = quota_ms > 0 ? c->stress_cpu_ms / quota_ms : 0;
            if (share > 1) share = 1;
            add(p, PRED_DOES,
                "%s: the stressors got %.0f ms of CPU in %.0f s = %.0f %% of the container's %.0fm quota (%.0f ms per "
                "100 ms period), leaving the service %.0f %%; the cgroup was throttled in %" PRIu64 " of %" PRIu64
                " CFS periods, and a request that arrives while it is throttled waits for the next refill (up to "
                "100 ms)",
                pod, c->stress_cpu_ms, (double)window / SEC, 100 * share, limit * 1000, limit * 100, 100 * (1 - share),
                c->throttled_periods, c->periods);
        }
    }
}

static void predict_stress(sim_prediction *p, const sim_options *o, const sim_result *r, const cm_action *ca,
                           const sim_action_row *ar, const char *pre) {
    const sim_chaos_action *a = &ca->a;
    char pods[400];
    if (!ar->status.npods) {
        add(p, PRED_WARNING, "%sselects no pod: nothing is stressed", pre);
        return;
    }
    pod_list(ar->status.pods, ar->status.npods, pods, sizeof pods);
    int s = svc_of_pod(o, ar->status.pods[0]);
    if (s < 0) return;
    const sim_service_spec *ss = &o->cluster.svc[s];
    if (a->cpu_workers) {
        double ask = a->cpu_workers * a->cpu_load / 100.0, limit = (double)ss->cpu_limit_millis / 1000.0;
        add(p, PRED_DOES,
            "%sstress-ng --cpu %d --cpu-load %d --cpu-load-slice 10 inside the cgroup of %s: it asks "
            "%.2f CPU; the container's limit (%lldm) caps app + stressors together",
            pre, a->cpu_workers, a->cpu_load, pods, ask, (long long)ss->cpu_limit_millis);
        if (limit > 0 && ask > limit)
            add(p, PRED_WARNING,
                "%s%d workers x %d %% read as %.2f CPU of load, but the stressors run in the "
                "container's cgroup with a %.2f CPU quota: they cannot reach that load, and the "
                "service is throttled with them until the next 100 ms period",
                pre, a->cpu_workers, a->cpu_load, ask, limit);
    }
    if (a->mem_workers && a->mem_bytes > 0) {
        int64_t limit = ss->mem_limit_bytes, app = o->cluster.app_rss_bytes, per = a->mem_bytes / a->mem_workers;
        int64_t adj_app = 1000 - 1000 * ss->mem_request_bytes / o->cluster.node_memory_bytes;
        if (adj_app < 2) adj_app = 2;
        if (adj_app > 999) adj_app = 999;
        int64_t own = o->cluster.stressor_rss_bytes; /* each stressor process's own memory */
        int64_t bad_app = app + adj_app * limit / 1000,
                bad_hog = per + own + o->cluster.stressor_oom_score_adj * limit / 1000;
        int64_t total = app + a->mem_bytes + own * a->mem_workers;
        add(p, PRED_DOES,
            "%smemStress: %d workers x %.1f MiB = %.1f MiB in the cgroup of %s, + %.1f MiB of the "
            "stressor processes themselves + the service's %.1f MiB = %.1f MiB against the %.1f MiB "
            "limit; touching the pages costs about %.0f ms of the pod's CPU quota at the start",
            pre, a->mem_workers, per / MIB_F, a->mem_bytes / MIB_F, pods, own * a->mem_workers / MIB_F, app / MIB_F,
            total / MIB_F, limit / MIB_F,
            ((double)(a->mem_bytes / (1024 * 1024)) * o->cluster.mem_touch_ns_per_mib +
             (double)a->mem_workers * o->cluster.stressor_start_ns) /
                1e6);
        if (total > limit) {
            const char *victim = bad_hog >= bad_app ? "a memStress worker" : "the service itself";
            add(p, PRED_DOES,
                "%sOOM kills expected: the cgroup is over its limit; the killer takes the largest "
                "badness (RSS + oom_score_adj/1000 of the limit): %s (worker %.1f MiB with adj %lld vs "
                "service %.1f MiB with adj %lld); memStress respawns a killed worker after >= 1 s, so it "
                "repeats",
                pre, victim, bad_hog / MIB_F, (long long)o->cluster.stressor_oom_score_adj, bad_app / MIB_F,
                (long long)adj_app);
        } else {
            add(p, PRED_DOES, "%sno OOM kill expected: %.1f MiB of headroom", pre, (limit - total) / MIB_F);
        }
        uint64_t ooms = 0, app_ooms = 0;
        double peak = 0;
        for (int k = 0; k < ar->status.npods; k++) {
            const sim_pod_row *pr = pod_of(r, ar->status.pods[k]);
            if (!pr) continue;
            ooms += pr->oom_kills_stressor;
            app_ooms += pr->oom_kills_app;
            if (pr->memory_peak_bytes / MIB_F > peak) peak = pr->memory_peak_bytes / MIB_F;
        }
        add(p, PRED_TOUCHES,
            "%smemory in the run: peak %.1f MiB of %.1f MiB; OOM kills: %" PRIu64
            " memStress workers, "
            "%" PRIu64 " of the service",
            pre, peak, limit / MIB_F, ooms, app_ooms);
        if (ooms || app_ooms)
            add(p, PRED_WARNING,
                "%sthe YAML reads as holding %.1f MiB for the whole window, but the cgroup OOM killer "
                "kills %s %" PRIu64 " times (memStress respawns its workers)",
                pre, a->mem_bytes / MIB_F, app_ooms ? "the service" : "memStress workers", app_ooms ? app_ooms : ooms);
    }
}

static void predict_pod(sim_prediction *p, const sim_options *o, const sim_result *r, const cm_action *ca,
                        const sim_action_row *ar, const char *pre) {
    const sim_chaos_action *a = &ca->a;
    char pods[400];
    pod_list(ar->status.pods, ar->status.npods, pods, sizeof pods);
    if (!ar->status.npods) {
        add(p, PRED_WARNING, "%sselects no pod: nothing happens", pre);
        return;
    }
    double at = (double)ar->action.start_ns / SEC;
    int s = svc_of_pod(o, ar->status.pods[0]);
    const sim_service_spec *ss = s >= 0 ? &o->cluster.svc[s] : &o->cluster.svc[0];
    double start = (double)ss->start_delay_ns / SEC, ready = (double)ss->readiness_delay_ns / SEC,
           ep = (double)o->cluster.endpoint_delay_ns / SEC, restart = (double)a->restart_delay_ns / SEC;
    if (a->kind == ACT_POD_KILL)
        add(p, PRED_DOES,
            "%sdeletes %s at %.1f s (grace period 0: no preStop, no drain); the %s recreates it under the "
            "same name with a new IP: back in the Service after ~%.1f s (recreate %.1f s + container "
            "start %.1f s + first readiness probe %.1f s + kube-proxy %.1f s)",
            pre, pods, at, ss->stateful ? "StatefulSet" : "ReplicaSet", restart + start + ready + ep, restart, start,
            ready, ep);
    else if (a->kind == ACT_CONTAINER_KILL)
        add(p, PRED_DOES,
            "%sSIGKILLs the container of %s at %.1f s; the kubelet restarts it (same pod, same IP): back "
            "after ~%.1f s",
            pre, pods, at, restart + start + ready + ep);
    else
        add(p, PRED_DOES,
            "%sreplaces the image of %s with pause at %.1f s: the service is down and not Ready until the "
            "object ends%s",
            pre, pods, at, a->end_ns < 0 ? " (never, without duration)" : "");
    int restarts = 0;
    for (int k = 0; k < ar->status.npods; k++) {
        const sim_pod_row *pr = pod_of(r, ar->status.pods[k]);
        if (pr) restarts += pr->restarts;
    }
    add(p, PRED_TOUCHES,
        "%s%d restart(s) of %s in the run; requests to it meanwhile: refused by the Service until "
        "kube-proxy drops the endpoint, then sent to the other replicas; forwards to a dead owner fail",
        pre, restarts, pods);
}

/* ---- the object ---- */

void predict_object(const cm_object *obj, int first, const sim_options *o, const sim_result *r, sim_prediction *p) {
    memset(p, 0, sizeof *p);
    snprintf(p->object, sizeof p->object, "%s", obj->name);
    snprintf(p->kind, sizeof p->kind, "%s", obj->kind);
    snprintf(p->where, sizeof p->where, "%s:%d", obj->file, obj->line);
    int many = obj->nacts > 1;
    for (int i = 0; i < obj->nacts; i++) {
        const cm_action *ca = &obj->acts[i];
        char win[96];
        /* the run's times (shifted behind the baseline), when the run has them */
        const sim_chaos_action *ra = first + i < r->nactions ? &r->actions[first + i].action : &ca->a;
        int64_t s = ra->start_ns, e = ra->end_ns;
        if (ca->one_shot)
            snprintf(win, sizeof win, "at %.1f s", (double)s / SEC);
        else if (e < 0)
            snprintf(win, sizeof win, "from %.1f s, never ends", (double)s / SEC);
        else
            snprintf(win, sizeof win, "%.1f-%.1f s", (double)s / SEC, (double)e / SEC);
        add(p, PRED_SAYS, "%s%s%s (%s)", many ? ca->step : "", many ? ": " : "", ca->says, win);
    }
    if (!obj->nacts) add(p, PRED_SAYS, "nothing is injected");
    int *touched = calloc(r->nledger ? r->nledger : 1, sizeof *touched);
    if (!touched) abort();
    int stress_cpu = 0;
    for (int i = 0; i < obj->nacts && first + i < r->nactions; i++) {
        const cm_action *ca = &obj->acts[i];
        const sim_action_row *ar = &r->actions[first + i];
        if (ca->a.kind == ACT_STRESS) stress_cpu |= ca->a.cpu_workers > 0;
        char pre[128]; /* each line about a step of several names the step */
        snprintf(pre, sizeof pre, "%s%s", many ? ca->step : "", many ? ": " : "");
        if (!ar->status.started)
            add(p, PRED_DOES, "%snot injected during the run", pre);
        else if (ca->a.kind == ACT_NETWORK)
            predict_network(p, o, r, ca, ar, many, pre, touched);
        else if (ca->a.kind == ACT_STRESS)
            predict_stress(p, o, r, ca, ar, pre);
        else
            predict_pod(p, o, r, ca, ar, pre);
    }
    if (stress_cpu) predict_cpu(p, obj, first, o, r);
    if (many) {
        /* the links, once for all the steps (the ledger counts the whole run) */
        for (size_t i = 0; i < r->nledger; i++) {
            if (!touched[i]) continue;
            const sim_ledger_row *l = &r->ledger[i];
            uint64_t dropped = l->dropped + l->local_dropped;
            char words[200];
            flow_words(o, parse_row(l), words, sizeof words);
            add(p, PRED_TOUCHES, "all steps, %s: %" PRIu64 " packets through a fault, %" PRIu64 " dropped (%.1f %%)",
                words, l->faulted, dropped, l->faulted ? 100.0 * (double)dropped / (double)l->faulted : 0.0);
        }
    }
    free(touched);
    for (int i = 0; i < obj->ntimeline; i++) add(p, PRED_TIMELINE, "%s", obj->timeline[i]);
    for (int i = 0; i < obj->nnotes; i++)
        add(p, obj->notes[i].warning ? PRED_WARNING : PRED_NOTE, "%s", obj->notes[i].text);
}

void predict_print(FILE *out, const sim_prediction *p) {
    static const char *const head[PRED_KINDS] = {"the YAML says (times in the run)",
                                                 "it really does",
                                                 "touches",
                                                 "misses",
                                                 "timeline (seconds after the start of the chaos phase)",
                                                 "",
                                                 ""};
    fprintf(out, "\nprediction: %s (%s, %s)\n", p->object, p->kind, p->where);
    for (int k = 0; k < PRED_KINDS; k++) {
        int any = 0;
        for (int i = 0; i < p->n; i++) {
            if (p->lines[i].kind != (pred_kind)k) continue;
            if (k == PRED_WARNING)
                fprintf(out, "  WARNING: %s\n", p->lines[i].text);
            else if (k == PRED_NOTE)
                fprintf(out, "  note: %s\n", p->lines[i].text);
            else {
                if (!any) fprintf(out, "  %s:\n", head[k]);
                fprintf(out, "    - %s\n", p->lines[i].text);
            }
            any = 1;
        }
    }
}

json_t *predict_json(const sim_prediction *p) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "object", p->object, "kind", p->kind, "where", p->where);
    for (int k = 0; k < PRED_KINDS; k++) {
        json_t *a = json_array();
        for (int i = 0; i < p->n; i++)
            if (p->lines[i].kind == (pred_kind)k) json_array_append_new(a, json_string(p->lines[i].text));
        json_object_set_new(o, kind_names[k], a);
    }
    return o;
}
