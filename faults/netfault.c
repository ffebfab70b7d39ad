/*
 * netfault.c: egress fault rules per host and the link ledger (see netfault.h).
 */
#include "faults/netfault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

#define MAX_RULES 64

/* One rule instance on one host: its own qdisc state. */
typedef struct nf_instance {
    int rule;
    uint32_t host;
    netem_qdisc *netem;
    tbf_qdisc *tbf;
} nf_instance;

typedef struct nf_rule {
    int active;
    nf_rule_spec spec;
    nf_instance *inst;
    int ninst;
    nf_rule_stats stats;
} nf_rule;

typedef struct link_slot {
    int used;
    nf_link_stats s;
} link_slot;

struct nf_layer {
    uint64_t seed;
    pc_rng order_rng;
    nf_rule rules[MAX_RULES];
    int nrules;
    int active;
    /* per host: filtered rule ids in the (seeded) order their CLASSIFY rules are evaluated */
    int order[NF_MAX_HOSTS][MAX_RULES];
    int norder[NF_MAX_HOSTS];
    link_slot *links;
    size_t links_cap, links_used;
};

nf_layer *nf_new(uint64_t seed) {
    nf_layer *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->seed = seed;
    pc_rng_init(&l->order_rng, seed, "netfault/classify-order");
    l->links_cap = 1024;
    l->links = calloc(l->links_cap, sizeof *l->links);
    if (!l->links) {
        free(l);
        return NULL;
    }
    return l;
}

static void rule_release(nf_rule *r) {
    for (int i = 0; i < r->ninst; i++) {
        free(r->inst[i].netem);
        free(r->inst[i].tbf);
    }
    free(r->inst);
    r->inst = NULL;
    r->ninst = 0;
}

void nf_free(nf_layer *l) {
    if (!l) return;
    for (int i = 0; i < l->nrules; i++) rule_release(&l->rules[i]);
    free(l->links);
    free(l);
}

int nf_active_rules(const nf_layer *l) { return l->active; }
int nf_rule_count(const nf_layer *l) { return l->nrules; }
const nf_rule_stats *nf_rule_get_stats(const nf_layer *l, int id) {
    return id >= 0 && id < l->nrules ? &l->rules[id].stats : NULL;
}

/* Redraws the evaluation order of a host's filtered rules (Go map iteration in setFilterTcs). */
static void reorder_host(nf_layer *l, uint32_t host) {
    int n = 0;
    for (int i = 0; i < l->nrules; i++) {
        nf_rule *r = &l->rules[i];
        if (!r->active || !r->spec.filtered || r->spec.kind == NF_PARTITION) continue;
        for (int k = 0; k < r->ninst; k++)
            if (r->inst[k].host == host) l->order[host][n++] = i;
    }
    for (int i = n - 1; i > 0; i--) {
        int j = (int)pc_rng_below(&l->order_rng, (uint64_t)i + 1);
        int t = l->order[host][i];
        l->order[host][i] = l->order[host][j];
        l->order[host][j] = t;
    }
    l->norder[host] = n;
}

int nf_add(nf_layer *l, const nf_rule_spec *spec, char *err, size_t errlen) {
    if (l->nrules >= MAX_RULES) {
        snprintf(err, errlen, "too many network fault rules (max %d)", MAX_RULES);
        return -1;
    }
    int id = l->nrules;
    nf_rule *r = &l->rules[id];
    memset(r, 0, sizeof *r);
    r->spec = *spec;
    snprintf(r->stats.name, sizeof r->stats.name, "%s", spec->name);
    r->inst = calloc((size_t)(spec->nhosts ? spec->nhosts : 1), sizeof *r->inst);
    if (!r->inst) abort();
    for (int i = 0; i < spec->nhosts; i++) {
        nf_instance *in = &r->inst[r->ninst];
        in->rule = id;
        in->host = spec->hosts[i];
        char name[160];
        snprintf(name, sizeof name, "netem/%s/%u", spec->name, spec->hosts[i]);
        uint64_t seed = l->seed ^ pc_hash_name(name);
        if (spec->kind == NF_NETEM) {
            in->netem = calloc(1, sizeof *in->netem);
            if (!in->netem) abort();
            int rc = netem_init(in->netem, &spec->netem, seed);
            if (rc != NETEM_OK) {
                snprintf(err, errlen, "%s: %s", spec->name, netem_strerror(rc));
                r->ninst++;
                rule_release(r);
                return -1;
            }
        } else if (spec->kind == NF_BANDWIDTH) {
            in->tbf = calloc(1, sizeof *in->tbf);
            if (!in->tbf) abort();
            int rc = tbf_init(in->tbf, &spec->tbf);
            if (rc != 0) {
                snprintf(err, errlen, "%s: %s", spec->name, tbf_strerror(rc));
                r->ninst++;
                rule_release(r);
                return -1;
            }
        }
        r->ninst++;
    }
    r->active = 1;
    l->nrules++;
    l->active++;
    for (int i = 0; i < spec->nhosts; i++) reorder_host(l, spec->hosts[i]);
    return id;
}

void nf_remove(nf_layer *l, int id) {
    if (id < 0 || id >= l->nrules || !l->rules[id].active) return;
    nf_rule *r = &l->rules[id];
    r->active = 0;
    l->active--;
    for (int i = 0; i < r->ninst; i++) reorder_host(l, r->inst[i].host);
    /* qdisc state is dropped with the qdisc, as `tc qdisc del` does */
    rule_release(r);
}

/* ---- matching ---- */

static int cidr_match(const nf_cidr *c, nf_addr a) {
    if (c->prefix <= 0) return 1;
    uint32_t mask = c->prefix >= 32 ? 0xffffffffu : ~((1u << (32 - c->prefix)) - 1);
    return (a & mask) == (c->addr & mask);
}

static int rule_matches(const nf_rule *r, nf_addr a) {
    if (!r->spec.nmatch) return !r->spec.filtered;
    for (int i = 0; i < r->spec.nmatch; i++)
        if (cidr_match(&r->spec.match[i], a)) return 1;
    return 0;
}

static nf_instance *instance_on(nf_rule *r, uint32_t host) {
    for (int i = 0; i < r->ninst; i++)
        if (r->inst[i].host == host) return &r->inst[i];
    return NULL;
}

/* ---- ledger ---- */

static uint64_t link_key_hash(uint32_t host, nf_addr a) {
    uint64_t k = ((uint64_t)host << 32) | a;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static nf_link_stats *ledger(nf_layer *l, uint32_t host, nf_addr a) {
    if ((l->links_used + 1) * 2 > l->links_cap) {
        size_t cap = l->links_cap * 2;
        link_slot *bigger = calloc(cap, sizeof *bigger);
        if (!bigger) abort();
        for (size_t i = 0; i < l->links_cap; i++) {
            if (!l->links[i].used) continue;
            size_t j = link_key_hash(l->links[i].s.src_host, l->links[i].s.dst_addr) & (cap - 1);
            while (bigger[j].used) j = (j + 1) & (cap - 1);
            bigger[j] = l->links[i];
        }
        free(l->links);
        l->links = bigger;
        l->links_cap = cap;
    }
    size_t j = link_key_hash(host, a) & (l->links_cap - 1);
    while (l->links[j].used && (l->links[j].s.src_host != host || l->links[j].s.dst_addr != a))
        j = (j + 1) & (l->links_cap - 1);
    if (!l->links[j].used) {
        l->links[j].used = 1;
        l->links[j].s.src_host = host;
        l->links[j].s.dst_addr = a;
        l->links_used++;
    }
    return &l->links[j].s;
}

static int cmp_links(const void *a, const void *b) {
    const nf_link_stats *x = *(const nf_link_stats *const *)a, *y = *(const nf_link_stats *const *)b;
    if (x->src_host != y->src_host) return x->src_host < y->src_host ? -1 : 1;
    return x->dst_addr < y->dst_addr ? -1 : x->dst_addr > y->dst_addr;
}

void nf_foreach_link(const nf_layer *l, void (*fn)(void *ctx, const nf_link_stats *s), void *ctx) {
    const nf_link_stats **all = calloc(l->links_used ? l->links_used : 1, sizeof *all);
    if (!all) abort();
    size_t n = 0;
    for (size_t i = 0; i < l->links_cap; i++)
        if (l->links[i].used) all[n++] = &l->links[i].s;
    qsort(all, n, sizeof *all, cmp_links);
    for (size_t i = 0; i < n; i++) fn(ctx, all[i]);
    free(all);
}

/* ---- the hook ---- */

/* Runs one netem/tbf instance; returns 0 if the packet is lost, else adds its delay. */
static int apply_instance(nf_rule *r, nf_instance *in, int64_t now, const nf_packet *p, nf_verdict *v,
                          nf_link_stats *ls) {
    r->stats.seen++;
    if (in->netem) {
        netem_verdict nv;
        netem_enqueue(in->netem, now, &nv);
        /* The original copy decides the packet; a duplicate is a second delivery. */
        const netem_copy *orig = &nv.copy[0];
        int delivered = 0;
        int64_t delay = -1;
        for (unsigned k = 0; k < nv.copies; k++) {
            if (nv.copy[k].fate != NETEM_SENT) continue;
            if (nv.copy[k].corrupted) {
                ls->corrupted++;
                continue;
            }
            delivered++;
            if (delay < 0 || nv.copy[k].time_to_send_ns - now < delay) delay = nv.copy[k].time_to_send_ns - now;
        }
        (void)orig;
        if (!delivered) {
            r->stats.dropped++;
            return 0;
        }
        if (delivered > 1) {
            v->copies = 2;
            ls->duplicated++;
        }
        if (delay > 0) {
            v->extra_delay_ns += delay;
            r->stats.delayed++;
            ls->delayed++;
            ls->delay_ns_sum += delay;
        }
        return 1;
    }
    if (in->tbf) {
        tbf_verdict tv;
        uint32_t bytes = p->len + 66; /* Ethernet + IPv4 + TCP with timestamps */
        if (!tbf_enqueue(in->tbf, now, bytes, &tv)) {
            r->stats.dropped++;
            return 0;
        }
        if (tv.departure_ns > now) {
            v->extra_delay_ns += tv.departure_ns - now;
            r->stats.delayed++;
            ls->delayed++;
            ls->delay_ns_sum += tv.departure_ns - now;
        }
        return 1;
    }
    return 1;
}

nf_verdict nf_egress(nf_layer *l, int64_t now, const nf_packet *p) {
    nf_verdict v = {NF_PASS, 0, 1, 0};
    uint32_t src = p->src_host;
    nf_addr dst = p->dst_addr;
    nf_link_stats *ls = ledger(l, src, dst);
    ls->seen++;
    if (!l->active) return v;
    int faulted = 0;

    /* iptables OUTPUT DROP on the sender (partition): the send fails locally. */
    for (int i = 0; i < l->nrules; i++) {
        nf_rule *r = &l->rules[i];
        if (!r->active || r->spec.kind != NF_PARTITION || r->spec.ingress) continue;
        if (instance_on(r, src) && rule_matches(r, dst)) {
            r->stats.seen++;
            r->stats.local_dropped++;
            ls->faulted++;
            ls->local_dropped++;
            v.kind = NF_LOCAL_DROP;
            return v;
        }
    }

    /* Root netems (no filter), stacked in installation order. */
    for (int i = 0; i < l->nrules; i++) {
        nf_rule *r = &l->rules[i];
        if (!r->active || r->spec.filtered || r->spec.kind == NF_PARTITION) continue;
        nf_instance *in = instance_on(r, src);
        if (!in) continue;
        faulted = 1;
        if (!apply_instance(r, in, now, p, &v, ls)) {
            ls->faulted++;
            ls->dropped++;
            v.kind = NF_DROP;
            return v;
        }
    }

    /* Filtered netems: the last matching CLASSIFY rule wins. */
    int winner = -1, matches = 0;
    for (int k = 0; k < l->norder[src]; k++) {
        int i = l->order[src][k];
        if (!rule_matches(&l->rules[i], dst)) continue;
        matches++;
        if (winner >= 0) l->rules[winner].stats.lost_to_others++;
        winner = i;
    }
    if (winner >= 0) {
        nf_rule *r = &l->rules[winner];
        if (matches > 1) r->stats.won_over_others++;
        faulted = 1;
        if (!apply_instance(r, instance_on(r, src), now, p, &v, ls)) {
            ls->faulted++;
            ls->dropped++;
            v.kind = NF_DROP;
            return v;
        }
    }
    if (faulted) ls->faulted++;
    return v;
}

int nf_ingress(nf_layer *l, int64_t now_ns, const nf_packet *p, uint32_t dst_host) {
    (void)now_ns;
    if (!l->active) return 1;
    for (int i = 0; i < l->nrules; i++) {
        nf_rule *r = &l->rules[i];
        if (!r->active || r->spec.kind != NF_PARTITION || !r->spec.ingress) continue;
        if (instance_on(r, dst_host) && rule_matches(r, p->src_addr)) {
            r->stats.seen++;
            r->stats.dropped++;
            nf_link_stats *ls = ledger(l, p->src_host, p->dst_addr);
            ls->faulted++;
            ls->dropped++;
            return 0;
        }
    }
    return 1;
}
