/*
 * net.c: hosts, Services (DNAT), the egress hook, packet delivery and the jiffy timer wheel (see net.h).
 */
#include "sim/net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kinds.h"
#include "base/units.h"

typedef struct vip {
    char name[48];
    sim_addr addr;
    int port;
    uint32_t backends[SIM_MAX_HOSTS];
    int nbackends;
} vip;

/* A packet on the wire; pooled because millions are created per run. */
typedef struct wire_packet {
    sim_packet p;
    sim_net *net;
    uint32_t dst_host;
    struct wire_packet *next_free;
    struct wire_packet *next_all; /* every packet ever allocated: those still in flight when the run ends
                                   * sit in engine events nobody will run, and net_free() frees them here */
} wire_packet;

struct sim_net {
    sim_engine *engine;
    net_config cfg;
    pc_rng lb_rng; /* kube-proxy's random backend choice */
    sim_host *hosts[SIM_MAX_HOSTS];
    uint32_t nhosts;
    vip vips[SIM_MAX_VIPS];
    int nvips;
    net_egress_hook hook;
    void *hook_ctx;
    net_ingress_hook in_hook;
    void *in_hook_ctx;
    int64_t jiffy_phase_ns;
    int64_t jiffy_offset;
    net_stats stats;
    wire_packet *free_packets;
    wire_packet *all_packets;
    const net_transport *transport;
    void *transport_ctx;
};

void net_config_defaults(net_config *cfg) {
    memset(cfg, 0, sizeof *cfg); /* a field not named below is 0, also in a config on the stack */
    cfg->link_latency_ns = 50 * US;
    cfg->neigh_timeout_ns = 3000 * MS;
    cfg->jiffy_ns = 4 * MS;
}

sim_net *net_new(sim_engine *e, uint64_t seed, const net_config *cfg) {
    sim_net *net = calloc(1, sizeof *net);
    if (!net) return NULL;
    net->engine = e;
    net->cfg = *cfg;
    pc_rng_init(&net->lb_rng, seed, "kube-proxy");
    pc_rng phase;
    pc_rng_init(&phase, seed, "node/jiffies");
    net->jiffy_phase_ns = (int64_t)pc_rng_below(&phase, (uint64_t)cfg->jiffy_ns);
    net->jiffy_offset = (int64_t)pc_rng_below(&phase, 1 << 20);
    return net;
}

void net_free(sim_net *net) {
    if (!net) return;
    if (net->transport && net->transport->free) net->transport->free(net->transport_ctx);
    for (uint32_t i = 0; i < net->nhosts; i++) free(net->hosts[i]);
    while (net->all_packets) {
        wire_packet *w = net->all_packets;
        net->all_packets = w->next_all;
        free(w);
    }
    free(net);
}

void *net_transport_ctx(const sim_net *net) { return net->transport_ctx; }
void net_set_transport(sim_net *net, const net_transport *t, void *ctx) {
    net->transport = t;
    net->transport_ctx = ctx;
}

sim_engine *net_engine(sim_net *net) { return net->engine; }
const net_config *net_cfg(const sim_net *net) { return &net->cfg; }
const net_stats *net_get_stats(const sim_net *net) { return &net->stats; }
void net_set_egress_hook(sim_net *net, net_egress_hook hook, void *ctx) {
    net->hook = hook;
    net->hook_ctx = ctx;
}

void net_set_ingress_hook(sim_net *net, net_ingress_hook hook, void *ctx) {
    net->in_hook = hook;
    net->in_hook_ctx = ctx;
}

void sim_addr_format(sim_addr a, char *out, size_t outlen) {
    snprintf(out, outlen, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

int sim_addr_parse(const char *text, sim_addr *out) {
    unsigned o[4];
    char tail;
    if (sscanf(text, "%u.%u.%u.%u%c", &o[0], &o[1], &o[2], &o[3], &tail) != 4) return -1;
    for (int i = 0; i < 4; i++)
        if (o[i] > 255) return -1;
    *out = SIM_ADDR(o[0], o[1], o[2], o[3]);
    return 0;
}

/* ---- hosts ---- */

sim_host *net_add_host(sim_net *net, const char *name, sim_addr addr, void *owner) {
    if (net->nhosts >= SIM_MAX_HOSTS) return NULL;
    sim_host *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->id = net->nhosts;
    h->addr = addr;
    snprintf(h->name, sizeof h->name, "%s", name);
    h->up = 1;
    h->owner = owner;
    net->hosts[net->nhosts++] = h;
    return h;
}

sim_host *net_host(sim_net *net, uint32_t id) { return id < net->nhosts ? net->hosts[id] : NULL; }
uint32_t net_host_count(const sim_net *net) { return net->nhosts; }

sim_host *net_host_by_addr(sim_net *net, sim_addr addr) {
    for (uint32_t i = 0; i < net->nhosts; i++)
        if (net->hosts[i]->addr == addr && net->hosts[i]->up) return net->hosts[i];
    return NULL;
}

void net_host_down(sim_net *net, sim_host *h) {
    h->up = 0;
    if (net->transport) net->transport->host_down(net->transport_ctx, h);
}

void net_host_up(sim_net *net, sim_host *h, sim_addr addr) {
    (void)net;
    h->up = 1;
    h->addr = addr;
    h->incarnation++;
}

/* ---- Services ---- */

int net_add_vip(sim_net *net, const char *name, sim_addr addr, int port) {
    if (net->nvips >= SIM_MAX_VIPS) return -1;
    vip *v = &net->vips[net->nvips];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->addr = addr;
    v->port = port;
    return net->nvips++;
}

void net_vip_set_backends(sim_net *net, int i, const uint32_t *host_ids, int count) {
    vip *v = &net->vips[i];
    v->nbackends = count < SIM_MAX_HOSTS ? count : SIM_MAX_HOSTS;
    memcpy(v->backends, host_ids, (size_t)v->nbackends * sizeof *host_ids);
}

int net_vip_by_addr(const sim_net *net, sim_addr addr) {
    for (int i = 0; i < net->nvips; i++)
        if (net->vips[i].addr == addr) return i;
    return -1;
}

const char *net_vip_name(const sim_net *net, int i) { return i >= 0 && i < net->nvips ? net->vips[i].name : "?"; }

int net_route_new_connection(sim_net *net, sim_addr dst, int port) {
    int vi = net_vip_by_addr(net, dst);
    if (vi >= 0) {
        vip *v = &net->vips[vi];
        if (v->nbackends == 0 || v->port != port) return -1;
        /* kube-proxy nftables: numgen random mod N over the ready endpoints, per new connection */
        return (int)v->backends[pc_rng_below(&net->lb_rng, (uint64_t)v->nbackends)];
    }
    sim_host *h = net_host_by_addr(net, dst);
    return h ? (int)h->id : -1;
}

/* ---- timers ---- */

int64_t net_round_jiffies(const sim_net *net, int64_t ns) {
    int64_t j = net->cfg.jiffy_ns;
    if (ns <= 0) return 0;
    return (ns + j - 1) / j * j;
}

int64_t net_timer_expiry(const sim_net *net, int64_t now_ns, int64_t delay_ns) {
    int64_t J = net->cfg.jiffy_ns;
    /* jiffies at `now`: ticks happen at phase + k*J */
    int64_t since = now_ns - net->jiffy_phase_ns;
    int64_t jnow = since >= 0 ? since / J : -(((-since) + J - 1) / J);
    int64_t dj = delay_ns > 0 ? (delay_ns + J - 1) / J : 0;
    int64_t abs_now = jnow + net->jiffy_offset;
    int64_t expires = abs_now + dj;
    /* calc_wheel_index(): level by distance, 6 bits per level, 3 bits of granularity per level */
    int lvl = 0;
    int64_t start = 63; /* LVL_START(1) */
    while (lvl < 8 && dj >= start) {
        lvl++;
        start <<= 3;
    }
    int shift = 3 * lvl;
    int64_t bucket = ((expires >> shift) + 1) << shift; /* calc_index(): never early, so round up */
    return net->jiffy_phase_ns + (bucket - net->jiffy_offset) * J;
}

/* ---- packets ---- */

static wire_packet *packet_alloc(sim_net *net) {
    wire_packet *w = net->free_packets;
    if (w) {
        net->free_packets = w->next_free;
    } else {
        if (!(w = malloc(sizeof *w))) abort();
        w->next_all = net->all_packets;
        net->all_packets = w;
    }
    return w;
}

static void packet_release(sim_net *net, wire_packet *w) {
    w->next_free = net->free_packets;
    net->free_packets = w;
}

static void deliver(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    wire_packet *w = ctx;
    sim_net *net = w->net;
    net_flow *f = w->p.flow;
    sim_host *h = net->hosts[w->dst_host];
    if (h->up && net->in_hook &&
        !net->in_hook(net->in_hook_ctx, sim_now(net->engine), net->hosts[w->p.src_host], h, &w->p)) {
        net->stats.packets_lost_unreachable++;
    } else if (h->up) {
        net->stats.packets_delivered++;
        net->transport->receive(net->transport_ctx, h, &w->p);
    } else {
        net->stats.packets_lost_unreachable++;
    }
    packet_release(net, w);
    net->transport->gone(net->transport_ctx, f);
}

/* An ICMP error travels as a wire packet too (same pool, same clean-up when the run ends). */
static void icmp_arrives(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    wire_packet *w = ctx;
    sim_net *net = w->net;
    net_flow *f = w->p.flow;
    net->transport->unreachable(net->transport_ctx, f, (net_error)arg);
    packet_release(net, w);
    net->transport->gone(net->transport_ctx, f);
}

/* The sender learns that its SYN cannot be delivered: refused at once (no endpoints, REJECT rule) or
 * unreachable after the neighbour resolution timeout (a deleted pod's address). */
static void report_unreachable(sim_net *net, net_flow *f, net_error err, int64_t after_ns) {
    wire_packet *w = packet_alloc(net);
    memset(&w->p, 0, sizeof w->p);
    w->p.flow = f;
    w->net = net;
    net->transport->sent(net->transport_ctx, f);
    if (err == NET_ERR_REFUSED) net->stats.connections_refused++;
    sim_after(net->engine, after_ns, SIM_K_ICMP, f->id, icmp_arrives, w, (uint64_t)err);
}

nf_verdict_kind net_transmit(sim_net *net, const sim_host *src, const sim_packet *p) {
    net->stats.packets_sent++;
    nf_verdict v = {NF_PASS, 0, 1, 0};
    if (net->hook) v = net->hook(net->hook_ctx, sim_now(net->engine), src, p->dst_addr, p);
    if (v.kind != NF_PASS) return v.kind;
    net_flow *f = p->flow;
    uint32_t dst;
    if (p->dir == NET_CLIENT) {
        if (!f->server_bound) {
            if (!(p->flags & NET_F_SYN)) return NF_DROP;
            /* The first SYN that gets out of the pod creates the conntrack entry (DNAT for a Service). */
            int vi = net_vip_by_addr(net, p->dst_addr);
            int backend = net_route_new_connection(net, p->dst_addr, vi >= 0 ? net->vips[vi].port : 0);
            if (vi >= 0 && backend < 0) {
                report_unreachable(net, f, NET_ERR_REFUSED, net->cfg.link_latency_ns);
                return NF_PASS;
            }
            if (backend < 0) {
                report_unreachable(net, f, NET_ERR_UNREACHABLE, net->cfg.neigh_timeout_ns);
                return NF_PASS;
            }
            sim_host *server = net->hosts[backend];
            f->host[NET_SERVER] = server;
            f->incarnation[NET_SERVER] = server->incarnation;
            f->server_bound = 1;
        }
        sim_host *server = f->host[NET_SERVER];
        if (!server->up) {
            if ((p->flags & NET_F_SYN) && !(p->flags & NET_F_ACK))
                report_unreachable(net, f, NET_ERR_UNREACHABLE, net->cfg.neigh_timeout_ns);
            net->stats.packets_lost_unreachable++;
            return NF_PASS;
        }
        dst = server->id;
    } else {
        dst = f->host[NET_CLIENT]->id;
    }
    if (v.corrupt) return NF_PASS; /* leaves, but the receiver's checksum check discards it */
    for (int i = 0; i < v.copies; i++) {
        wire_packet *w = packet_alloc(net);
        w->p = *p;
        w->net = net;
        w->dst_host = dst;
        net->transport->sent(net->transport_ctx, f);
        sim_after(net->engine, net->cfg.link_latency_ns + v.extra_delay_ns, SIM_K_PACKET, f->id, deliver, w,
                  ((uint64_t)p->dir << 8) | p->flags);
    }
    return NF_PASS;
}
