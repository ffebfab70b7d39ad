/*
 * tcp.c: the TCP model (see tcp.h for what is modelled and the kernel functions each part follows).
 *
 * A connection has two sides (client, server). Each side is a sender (its outgoing segments, RTT state,
 * the one transmit timer Linux keeps per socket: RTO, loss probe or probe0) and a receiver (rcv_nxt,
 * out-of-order ranges for SACK, the delayed-ACK machinery). Sequence numbers are 64-bit and start at 0
 * for the SYN, so data starts at 1 and never wraps.
 */
#include "sim/net/tcp.h"

#include <stdlib.h>
#include <string.h>

#include "base/freelist.h"
#include "base/kinds.h"
#include "base/room.h"
#include "base/units.h"

#define MAX_OOO 8
#define SEGS_INLINE 4 /* segments a side keeps inside its connection (a request, its FIN, room to spare) */
#define MSGS_INLINE 2 /* messages in flight per direction inside the connection */
#define QUICKACKS 16

enum side_state {
    S_CLOSED = 0, /* no socket (server before the SYN) or finished */
    S_SYN_SENT,
    S_SYN_RECV,
    S_ESTABLISHED
};

enum pending_timer { T_NONE = 0, T_RETRANS, T_LOSS_PROBE, T_PROBE0 };
enum ca_state { CA_OPEN = 0, CA_RECOVERY, CA_LOSS };

typedef struct tcp_seg {
    uint64_t seq;
    uint32_t len; /* sequence space: data bytes, +1 for a FIN */
    uint8_t fin;
    uint8_t sent;    /* has left the host at least once */
    uint8_t retrans; /* retransmitted at least once */
    uint8_t sacked;
    uint8_t lost;
    int64_t xmit_ns; /* last transmission */
} tcp_seg;

typedef struct tcp_msg {
    uint64_t end_seq;
    void *msg;
    void (*free_fn)(void *);
} tcp_msg;

typedef struct tcp_side {
    int state;
    int app_attached; /* callbacks allowed */
    int closing;      /* close() called: FIN queued, side orphaned */
    int finished;     /* nothing more will happen on this side */
    const tcp_app *app;
    void *ctx;
    /* sender */
    tcp_seg *segs; /* seg_room until more are outstanding at once, then malloc'd */
    uint32_t nsegs, segs_cap;
    tcp_seg seg_room[SEGS_INLINE];
    uint64_t snd_una, snd_nxt, write_seq;
    uint32_t cwnd, ssthresh;
    int64_t srtt_us8, mdev_us4, mdev_max_us, rttvar_us;
    uint64_t rtt_seq;
    int64_t rto_ns; /* icsk_rto, a whole number of jiffies */
    int backoff, retransmits, probes_out;
    int pending;
    sim_event_id xmit_timer;
    int64_t xmit_timer_at;
    uint64_t tlp_high_seq;
    int tlp_retrans;
    int ca;
    uint64_t high_seq;
    int fin_acked;
    /* receiver */
    uint64_t rcv_nxt, rcv_wup;
    uint64_t ooo[MAX_OOO][2];
    int nooo;
    int64_t ts_recent_us;
    int quick, pingpong, ack_pending, dsack_pending;
    uint64_t dsack_block[2];
    int64_t last_data_rx_ns, ato_ns;
    sim_event_id delack_timer;
    uint64_t peer_fin_seq; /* 0: no FIN seen */
    int peer_closed;
    /* handshake */
    int syn_retries;
    int64_t syn_sent_ns;
    sim_event_id syn_timer;
    int64_t established_ns;
} tcp_side;

struct tcp_conn {
    net_flow flow; /* first: the wire's packets point to it (id, hosts, incarnations, DNAT) */
    sim_net *net;
    sim_addr dst_addr;
    int port;
    int refs; /* packets in flight + sides not finished */
    tcp_side side[2];
    tcp_msg *msgs[2]; /* per direction, messages in flight in byte order (msg_room, or malloc'd when more) */
    uint32_t nmsgs[2], msgs_cap[2];
    tcp_msg msg_room[2][MSGS_INLINE];
    tcp_conn *next_live, *prev_live;
};

static void conn_free(tcp_conn *c);

/* A listening socket on a host: its port and who accepts. */
typedef struct tcp_listener {
    int port;
    tcp_accept_fn accept;
    void *ctx;
} tcp_listener;

typedef struct tcp_global {
    tcp_config cfg;
    tcp_stats stats;
    uint64_t next_id;
    tcp_conn live;                      /* sentinel of the list of live connections */
    freelist spare;                     /* freed connections, for the next ones */
    tcp_listener listen[SIM_MAX_HOSTS]; /* by host id */
} tcp_global;

/* One TCP instance per net, registered with it as its transport (tcp_attach). */
static tcp_global *net_tcp(const sim_net *net) { return net_transport_ctx(net); }
static tcp_conn *flow_conn(net_flow *f) { return (tcp_conn *)f; } /* the flow is the connection's first member */

void tcp_config_defaults(tcp_config *cfg) {
    memset(cfg, 0, sizeof *cfg); /* a field not named below is 0, also in a config on the stack */
    cfg->syn_linear_timeouts = 4;
    cfg->syn_retries = 6;
    cfg->synack_retries = 5;
    cfg->rto_min_ns = 200 * MS;
    cfg->rto_max_ns = 120 * SEC;
    cfg->rto_init_ns = 1 * SEC;
    cfg->ato_min_ns = 40 * MS;
    cfg->delack_max_ns = 200 * MS;
    cfg->mss = 1448;
    cfg->init_cwnd = 10;
    cfg->retries2 = 15;
    cfg->orphan_retries = 8;
    cfg->tlp = 1;
}

/* Frees the TCP instance and every connection still alive (pending engine events are dropped with the
 * engine, so nothing will touch them). */
static void global_free(void *p) {
    tcp_global *g = p;
    while (g->live.next_live != &g->live) conn_free(g->live.next_live);
    freelist_clear(&g->spare);
    free(g);
}

static void on_receive(void *ctx, sim_host *dst, const sim_packet *p);
static void on_unreachable(void *ctx, net_flow *f, net_error err);
static void on_sent(void *ctx, net_flow *f);
static void on_gone(void *ctx, net_flow *f);
static void on_host_down(void *ctx, sim_host *h);

static const net_transport transport = {
    .receive = on_receive,
    .unreachable = on_unreachable,
    .sent = on_sent,
    .gone = on_gone,
    .host_down = on_host_down,
    .free = global_free,
};

void tcp_attach(sim_net *net, const tcp_config *cfg) {
    tcp_global *t = calloc(1, sizeof *t);
    if (!t) abort();
    t->cfg = *cfg;
    t->live.next_live = t->live.prev_live = &t->live;
    t->spare = FREELIST_INIT(tcp_conn);
    net_set_transport(net, &transport, t);
}

void tcp_listen(sim_net *net, sim_host *h, int port, tcp_accept_fn accept, void *ctx) {
    net_tcp(net)->listen[h->id] = (tcp_listener){port, accept, ctx};
}

/* A host that goes down loses its listening sockets with its network namespace. */
static void on_host_down(void *ctx, sim_host *h) {
    tcp_global *g = ctx;
    g->listen[h->id] = (tcp_listener){0, NULL, NULL};
}

const tcp_stats *tcp_get_stats(const sim_net *net) { return &net_tcp(net)->stats; }
static tcp_global *G(tcp_conn *c) { return net_tcp(c->net); }
static const tcp_config *CFG(tcp_conn *c) { return &G(c)->cfg; }
static sim_engine *E(tcp_conn *c) { return net_engine(c->net); }
static int64_t now_ns(tcp_conn *c) { return sim_now(E(c)); }
static uint64_t obj_id(tcp_conn *c, int side) { return c->flow.id * 2 + (uint64_t)side; }

uint64_t tcp_conn_id(const tcp_conn *c) { return c->flow.id; }
sim_host *tcp_host(const tcp_conn *c, int side) { return c->flow.host[side]; }
sim_addr tcp_dst_addr(const tcp_conn *c) { return c->dst_addr; }
int tcp_is_established(const tcp_conn *c, int side) { return c->side[side].state == S_ESTABLISHED; }
int64_t tcp_connected_at(const tcp_conn *c) {
    return c->side[TCP_CLIENT].state == S_ESTABLISHED ? c->side[TCP_CLIENT].established_ns : -1;
}
int tcp_peer_closed(const tcp_conn *c, int side) { return c->side[side].peer_closed; }

/* ---- lifetime ---- */

static void conn_free(tcp_conn *c) {
    for (int d = 0; d < 2; d++) {
        for (uint32_t i = 0; i < c->nmsgs[d]; i++)
            if (c->msgs[d][i].free_fn) c->msgs[d][i].free_fn(c->msgs[d][i].msg);
        if (c->msgs[d] != c->msg_room[d]) free(c->msgs[d]);
        if (c->side[d].segs != c->side[d].seg_room) free(c->side[d].segs);
    }
    c->prev_live->next_live = c->next_live;
    c->next_live->prev_live = c->prev_live;
    freelist_give(&G(c)->spare, c);
}

static void unref(tcp_conn *c) {
    if (--c->refs == 0) conn_free(c);
}

/* The wire holds a reference for each packet of the connection in flight. */
static void on_sent(void *ctx, net_flow *f) {
    (void)ctx;
    flow_conn(f)->refs++;
}
static void on_gone(void *ctx, net_flow *f) {
    (void)ctx;
    unref(flow_conn(f));
}

/* A side is finished: timers stop, callbacks stop; its reference goes. */
static void side_finish(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    if (sd->finished) return;
    sd->finished = 1;
    sd->app_attached = 0;
    sd->state = S_CLOSED;
    sim_cancel(E(c), &sd->xmit_timer);
    sim_cancel(E(c), &sd->delack_timer);
    sim_cancel(E(c), &sd->syn_timer);
    sd->pending = T_NONE;
    unref(c);
}

static void fin_wait2_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    tcp_conn *c = ctx;
    c->side[arg].syn_timer = SIM_NO_EVENT;
    side_finish(c, (int)arg);
}

/* A side is done once it closed, everything it sent (FIN included) is acknowledged and the peer closed;
 * a peer that never closes is given tcp_fin_timeout (60 s) in FIN_WAIT2. */
static void maybe_finish(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    if (sd->finished || !sd->closing || !sd->fin_acked) return;
    if (sd->peer_closed) {
        side_finish(c, s);
    } else if (!sim_is_pending(E(c), sd->syn_timer)) {
        sd->syn_timer = sim_at(E(c), net_timer_expiry(c->net, now_ns(c), 60 * SEC), SIM_K_IDLE, obj_id(c, s),
                               fin_wait2_fired, c, (uint64_t)s);
    }
}

/* ---- packets ---- */

static void send_packet(tcp_conn *c, int s, uint8_t flags, uint64_t seq, uint32_t len, nf_verdict_kind *verdict);

/* Timestamp clock in µs, offset by one so that a valid TSval is never 0 (0 means "no echo"). */
static int64_t now_us(tcp_conn *c) { return now_ns(c) / US + 1; }

static nf_verdict_kind transmit(tcp_conn *c, int s, sim_packet *p) {
    tcp_side *sd = &c->side[s];
    p->flow = &c->flow;
    p->dir = (uint8_t)s;
    p->tsval_us = now_us(c);
    p->tsecr_us = sd->ts_recent_us;
    p->src_host = c->flow.host[s]->id;
    p->dst_addr = s == TCP_CLIENT ? c->dst_addr : c->flow.host[TCP_CLIENT]->addr;
    if (sd->state >= S_SYN_RECV || (p->flags & TCP_F_ACK)) {
        p->ack = sd->rcv_nxt;
        p->flags |= (sd->state == S_SYN_SENT) ? 0 : TCP_F_ACK;
    }
    /* SACK blocks: the out-of-order ranges, most recent first (we keep them in arrival order). */
    p->nsack = 0;
    if (sd->dsack_pending) {
        p->dsack = 1;
        p->sack[0][0] = sd->dsack_block[0];
        p->sack[0][1] = sd->dsack_block[1];
        p->nsack = 1;
        sd->dsack_pending = 0;
    }
    for (int i = sd->nooo - 1; i >= 0 && p->nsack < 3; i--) {
        p->sack[p->nsack][0] = sd->ooo[i][0];
        p->sack[p->nsack][1] = sd->ooo[i][1];
        p->nsack++;
    }
    if (p->flags & TCP_F_ACK) {
        /* Every ACK we send covers what we have; a pending delayed ACK is now redundant. */
        sd->ack_pending = 0;
        sd->rcv_wup = sd->rcv_nxt;
        sim_cancel(E(c), &sd->delack_timer);
    }
    if (p->len || (p->flags & (TCP_F_SYN | TCP_F_FIN)))
        G(c)->stats.data_segments++;
    else if (!(p->flags & TCP_F_RST))
        G(c)->stats.pure_acks++;
    return net_transmit(c->net, c->flow.host[s], p);
}

static void send_packet(tcp_conn *c, int s, uint8_t flags, uint64_t seq, uint32_t len, nf_verdict_kind *verdict) {
    sim_packet p;
    memset(&p, 0, sizeof p);
    p.flags = flags;
    p.seq = seq;
    p.len = len;
    nf_verdict_kind v = transmit(c, s, &p);
    if (verdict) *verdict = v;
}

static void send_ack(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    if (sd->state != S_ESTABLISHED && sd->state != S_SYN_SENT) return;
    send_packet(c, s, TCP_F_ACK, sd->snd_nxt, 0, NULL);
}

static void send_rst(sim_net *net, sim_host *from, const sim_packet *in) {
    /* A reset for a packet that found no socket: it goes back the way the packet came. */
    tcp_conn *c = flow_conn(in->flow);
    int s = 1 - in->dir;
    sim_packet p;
    memset(&p, 0, sizeof p);
    p.flow = &c->flow;
    p.dir = (uint8_t)s;
    p.flags = TCP_F_RST;
    p.seq = in->ack;
    p.src_host = from->id;
    p.dst_addr = s == TCP_CLIENT ? c->dst_addr : c->flow.host[TCP_CLIENT]->addr;
    net_tcp(net)->stats.resets_sent++;
    net_transmit(net, from, &p);
}

/* ---- timers ---- */

static void xmit_timer_fired(sim_engine *e, void *ctx, uint64_t arg);

/* inet_csk_reset_xmit_timer(): one pending transmit timer per socket. */
static void reset_xmit_timer(tcp_conn *c, int s, int what, int64_t delay_ns) {
    tcp_side *sd = &c->side[s];
    if (delay_ns > CFG(c)->rto_max_ns) delay_ns = CFG(c)->rto_max_ns;
    sim_cancel(E(c), &sd->xmit_timer);
    sd->pending = what;
    sd->xmit_timer_at = net_timer_expiry(c->net, now_ns(c), delay_ns);
    sd->xmit_timer = sim_at(E(c), sd->xmit_timer_at, SIM_K_TCP_RTX, obj_id(c, s), xmit_timer_fired, c, (uint64_t)s);
}

static void clear_xmit_timer(tcp_conn *c, int s) {
    sim_cancel(E(c), &c->side[s].xmit_timer);
    c->side[s].pending = T_NONE;
}

static uint32_t packets_out(const tcp_side *sd) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < sd->nsegs; i++) n += sd->segs[i].sent && !sd->segs[i].sacked;
    return n;
}

static uint32_t in_flight(const tcp_side *sd) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < sd->nsegs; i++) n += sd->segs[i].sent && !sd->segs[i].sacked && !sd->segs[i].lost;
    return n;
}

static tcp_seg *first_sent(tcp_side *sd) {
    for (uint32_t i = 0; i < sd->nsegs; i++)
        if (sd->segs[i].sent) return &sd->segs[i];
    return NULL;
}

/* tcp_rto_delta_us(): time left until the head segment's RTO would expire. */
static int64_t rto_delta_ns(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    tcp_seg *head = first_sent(sd);
    if (!head) return sd->rto_ns;
    return head->xmit_ns + sd->rto_ns - now_ns(c);
}

/* tcp_rearm_rto() */
static void rearm_rto(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    if (!packets_out(sd)) {
        if (sd->pending != T_PROBE0) clear_xmit_timer(c, s);
        return;
    }
    int64_t rto = sd->rto_ns;
    if (sd->pending == T_LOSS_PROBE) {
        int64_t delta = rto_delta_ns(c, s);
        rto = net_round_jiffies(c->net, delta > 1000 ? delta : 1000);
    }
    reset_xmit_timer(c, s, T_RETRANS, rto);
}

/* tcp_schedule_loss_probe(); returns 1 if a probe was scheduled. */
static int schedule_loss_probe(tcp_conn *c, int s, int advancing_rto) {
    tcp_side *sd = &c->side[s];
    uint32_t out = packets_out(sd);
    if (!CFG(c)->tlp || !out || sd->ca != CA_OPEN || sd->state != S_ESTABLISHED) return 0;
    int64_t timeout;
    if (sd->srtt_us8) {
        timeout = net_round_jiffies(c->net, (sd->srtt_us8 >> 2) * US);
        timeout += out == 1 ? CFG(c)->rto_min_ns : 2 * net_cfg(c->net)->jiffy_ns;
    } else {
        timeout = CFG(c)->rto_init_ns;
    }
    int64_t delta = advancing_rto ? sd->rto_ns : rto_delta_ns(c, s);
    if (delta > 0) {
        int64_t d = net_round_jiffies(c->net, delta);
        if (d < timeout) timeout = d;
    }
    reset_xmit_timer(c, s, T_LOSS_PROBE, timeout);
    return 1;
}

/* ---- RTT estimation (tcp_rtt_estimator, tcp_set_rto) ---- */

static void rtt_sample(tcp_conn *c, int s, int64_t m_us) {
    tcp_side *sd = &c->side[s];
    int64_t rto_min_us = CFG(c)->rto_min_ns / US;
    if (m_us <= 0) m_us = 1;
    if (sd->srtt_us8 != 0) {
        int64_t m = m_us;
        m -= (sd->srtt_us8 >> 3);
        sd->srtt_us8 += m;
        if (m < 0) {
            m = -m;
            m -= (sd->mdev_us4 >> 2);
            if (m > 0) m >>= 3;
        } else {
            m -= (sd->mdev_us4 >> 2);
        }
        sd->mdev_us4 += m;
        if (sd->mdev_us4 > sd->mdev_max_us) {
            sd->mdev_max_us = sd->mdev_us4;
            if (sd->mdev_max_us > sd->rttvar_us) sd->rttvar_us = sd->mdev_max_us;
        }
        if (sd->snd_una > sd->rtt_seq) {
            /* once per window: rttvar decays toward the window's maximum deviation */
            if (sd->mdev_max_us < sd->rttvar_us) sd->rttvar_us -= (sd->rttvar_us - sd->mdev_max_us) >> 2;
            sd->rtt_seq = sd->snd_nxt;
            sd->mdev_max_us = rto_min_us;
        }
    } else {
        sd->srtt_us8 = m_us << 3;
        sd->mdev_us4 = m_us << 1;
        sd->rttvar_us = sd->mdev_us4 > rto_min_us ? sd->mdev_us4 : rto_min_us;
        sd->mdev_max_us = sd->rttvar_us;
        sd->rtt_seq = sd->snd_nxt;
    }
    if (sd->srtt_us8 < 8) sd->srtt_us8 = 8;
    /* __tcp_set_rto: srtt + rttvar, rounded up to jiffies. */
    int64_t rto_ns = ((sd->srtt_us8 >> 3) + sd->rttvar_us) * US;
    sd->rto_ns = net_round_jiffies(c->net, rto_ns);
    if (sd->rto_ns > CFG(c)->rto_max_ns) sd->rto_ns = CFG(c)->rto_max_ns;
    sd->backoff = 0; /* RFC 6298: a valid sample ends the backoff */
}

/* Sample from the timestamp echo: millisecond resolution, at least 1 ms (tcp_rtt_tsopt_us). */
static void rtt_sample_ts(tcp_conn *c, int s, int64_t tsecr_us) {
    if (tsecr_us <= 0) return;
    int64_t delta_ms = now_us(c) / 1000 - tsecr_us / 1000;
    if (delta_ms < 1) delta_ms = 1;
    rtt_sample(c, s, delta_ms * 1000);
}

/* ---- sending ---- */

static void seg_push(tcp_side *sd, uint64_t seq, uint32_t len, int fin) {
    if (sd->nsegs == sd->segs_cap)
        sd->segs = room_grow(sd->segs, sd->seg_room, SEGS_INLINE, &sd->segs_cap, sizeof *sd->segs);
    tcp_seg *g = &sd->segs[sd->nsegs++];
    memset(g, 0, sizeof *g);
    g->seq = seq;
    g->len = len;
    g->fin = (uint8_t)fin;
}

static uint32_t data_len(const tcp_seg *g) { return g->len - g->fin; }

/* Transmits one segment; 0 when the local stack refused it. */
static int xmit_seg(tcp_conn *c, int s, tcp_seg *g, int is_retransmit) {
    tcp_side *sd = &c->side[s];
    uint8_t flags = TCP_F_ACK | (g->fin ? TCP_F_FIN : 0);
    nf_verdict_kind v;
    send_packet(c, s, flags, g->seq, data_len(g), &v);
    if (v == NF_LOCAL_DROP) return 0;
    g->xmit_ns = now_ns(c);
    if (is_retransmit) g->retrans = 1;
    g->lost = 0;
    if (!g->sent) {
        g->sent = 1;
        if (g->seq + g->len > sd->snd_nxt) sd->snd_nxt = g->seq + g->len;
    }
    /* Sending data after receiving some, within ato, is the ping-pong pattern (tcp_event_data_sent). */
    if (data_len(g) && sd->last_data_rx_ns && now_ns(c) - sd->last_data_rx_ns < sd->ato_ns) sd->pingpong = 1;
    return 1;
}

static void probe0_fired(sim_engine *e, void *ctx, uint64_t arg);

/* tcp_write_xmit(): sends unsent segments while the congestion window allows. */
static void push_pending(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    if (sd->state != S_ESTABLISHED || sd->finished) return;
    int sent_new = 0;
    uint32_t prior_out = packets_out(sd);
    for (uint32_t i = 0; i < sd->nsegs; i++) {
        tcp_seg *g = &sd->segs[i];
        if (g->sent) continue;
        if (in_flight(sd) >= sd->cwnd) break;
        if (!xmit_seg(c, s, g, 0)) {
            /* Refused by our own stack (EPERM from an OUTPUT drop): the segment is not in flight, so no
             * RTO or probe covers it; the probe0 timer will try again (tcp_check_probe_timer). */
            G(c)->stats.probe0_retries++;
            if (!packets_out(sd) && sd->pending != T_PROBE0) {
                int64_t when = sd->rto_ns << (sd->probes_out < 16 ? sd->probes_out : 16);
                sim_cancel(E(c), &sd->xmit_timer);
                sd->pending = T_PROBE0;
                sd->xmit_timer = sim_at(E(c), net_timer_expiry(c->net, now_ns(c), when), SIM_K_TCP_PROBE0, obj_id(c, s),
                                        probe0_fired, c, (uint64_t)s);
            }
            break;
        }
        sent_new = 1;
    }
    if (sent_new) {
        /* tcp_event_new_data_sent: arm the RTO for the first outstanding segment, then try a probe. */
        if (!prior_out || sd->pending == T_LOSS_PROBE || sd->pending == T_PROBE0) {
            if (sd->pending == T_PROBE0) sd->pending = T_NONE;
            rearm_rto(c, s);
        }
        if (!schedule_loss_probe(c, s, 0) && sd->pending == T_NONE) rearm_rto(c, s);
    }
}

static void probe0_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    tcp_conn *c = ctx;
    int s = (int)arg;
    tcp_side *sd = &c->side[s];
    sd->xmit_timer = SIM_NO_EVENT;
    sd->pending = T_NONE;
    sd->probes_out++;
    push_pending(c, s);
}

void tcp_send(tcp_conn *c, int s, uint32_t bytes, void *msg, void (*msg_free)(void *)) {
    tcp_side *sd = &c->side[s];
    if (sd->closing || sd->finished || bytes == 0) {
        if (msg_free) msg_free(msg);
        return;
    }
    uint64_t start = sd->write_seq;
    for (uint32_t off = 0; off < bytes; off += CFG(c)->mss) {
        uint32_t len = bytes - off < CFG(c)->mss ? bytes - off : CFG(c)->mss;
        seg_push(sd, start + off, len, 0);
    }
    sd->write_seq += bytes;
    int d = s;
    if (c->nmsgs[d] == c->msgs_cap[d])
        c->msgs[d] = room_grow(c->msgs[d], c->msg_room[d], MSGS_INLINE, &c->msgs_cap[d], sizeof *c->msgs[d]);
    c->msgs[d][c->nmsgs[d]++] = (tcp_msg){sd->write_seq, msg, msg_free};
    push_pending(c, s);
}

/* ---- loss recovery ---- */

static void enter_loss(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    sd->ca = CA_LOSS;
    sd->high_seq = sd->snd_nxt;
    uint32_t out = in_flight(sd);
    sd->ssthresh = out / 2 > 2 ? out / 2 : 2;
    sd->cwnd = 1;
    for (uint32_t i = 0; i < sd->nsegs; i++)
        if (sd->segs[i].sent && !sd->segs[i].sacked) sd->segs[i].lost = 1;
}

static tcp_seg *first_unacked_lost(tcp_side *sd) {
    for (uint32_t i = 0; i < sd->nsegs; i++)
        if (sd->segs[i].sent && sd->segs[i].lost && !sd->segs[i].sacked) return &sd->segs[i];
    return NULL;
}

/* Retransmits lost segments while the window allows (tcp_xmit_retransmit_queue). */
static void retransmit_lost(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    for (uint32_t i = 0; i < sd->nsegs; i++) {
        tcp_seg *g = &sd->segs[i];
        if (!g->sent || !g->lost || g->sacked) continue;
        if (in_flight(sd) >= sd->cwnd) break;
        if (!xmit_seg(c, s, g, 1)) break;
    }
}

/* tcp_retransmit_timer() for an established connection. */
static void retransmit_timer(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    if (!packets_out(sd)) return;
    sd->tlp_high_seq = 0;
    int limit = sd->closing ? CFG(c)->orphan_retries : CFG(c)->retries2;
    if (sd->retransmits >= limit) {
        /* tcp_write_timeout(): give up; an app still attached sees ETIMEDOUT. */
        G(c)->stats.connect_failures++;
        int attached = sd->app_attached;
        const tcp_app *app = sd->app;
        void *ctx = sd->ctx;
        side_finish(c, s);
        if (attached && app && app->error) app->error(ctx, c, TCP_ERR_TIMEDOUT);
        return;
    }
    enter_loss(c, s);
    tcp_seg *head = first_unacked_lost(sd);
    G(c)->stats.rto_retransmits++;
    if (head) xmit_seg(c, s, head, 1);
    sd->backoff++;
    sd->retransmits++;
    sd->rto_ns = sd->rto_ns * 2 < CFG(c)->rto_max_ns ? sd->rto_ns * 2 : CFG(c)->rto_max_ns;
    reset_xmit_timer(c, s, T_RETRANS, sd->rto_ns);
}

/* tcp_send_loss_probe() */
static void send_loss_probe(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    if (sd->tlp_high_seq) {
        rearm_rto(c, s); /* still LOSS_PROBE pending: the RTO is re-armed for what is left of it */
        return;
    }
    sd->tlp_retrans = 0;
    /* New data that the window allows is the better probe. */
    for (uint32_t i = 0; i < sd->nsegs; i++) {
        tcp_seg *g = &sd->segs[i];
        if (!g->sent) {
            if (!xmit_seg(c, s, g, 0)) {
                rearm_rto(c, s);
                return;
            }
            goto probe_sent;
        }
    }
    {
        tcp_seg *tail = NULL;
        for (uint32_t i = 0; i < sd->nsegs; i++)
            if (sd->segs[i].sent && !sd->segs[i].sacked) tail = &sd->segs[i];
        if (!tail || !xmit_seg(c, s, tail, 1)) {
            rearm_rto(c, s);
            return;
        }
        sd->tlp_retrans = 1;
    }
probe_sent:
    sd->tlp_high_seq = sd->snd_nxt;
    G(c)->stats.tlp_probes++;
    sd->pending = T_NONE; /* so that rearm_rto restarts a full RTO from now */
    rearm_rto(c, s);
}

static void xmit_timer_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    tcp_conn *c = ctx;
    int s = (int)arg;
    tcp_side *sd = &c->side[s];
    sd->xmit_timer = SIM_NO_EVENT;
    int what = sd->pending;
    c->refs++; /* a give-up may finish the side and call the application: keep c alive until we return */
    if (what == T_LOSS_PROBE) {
        send_loss_probe(c, s);
    } else if (what == T_RETRANS) {
        sd->pending = T_NONE;
        retransmit_timer(c, s);
    }
    unref(c);
}

/* ---- handshake ---- */

static void syn_timer_fired(sim_engine *e, void *ctx, uint64_t arg);

static int64_t syn_interval(tcp_conn *c, int backoff) {
    const tcp_config *cfg = CFG(c);
    int64_t rto = cfg->rto_init_ns;
    int doublings = backoff - cfg->syn_linear_timeouts;
    if (cfg->syn_linear_timeouts == 0) doublings = backoff;
    for (int i = 0; i < doublings && rto < cfg->rto_max_ns; i++) rto *= 2;
    return rto < cfg->rto_max_ns ? rto : cfg->rto_max_ns;
}

static void send_syn(tcp_conn *c) {
    tcp_side *sd = &c->side[TCP_CLIENT];
    sd->syn_sent_ns = now_ns(c);
    send_packet(c, TCP_CLIENT, TCP_F_SYN, 0, 0, NULL);
    int64_t when = syn_interval(c, sd->syn_retries);
    sd->syn_timer = sim_at(E(c), net_timer_expiry(c->net, now_ns(c), when), SIM_K_TCP_SYN, obj_id(c, TCP_CLIENT),
                           syn_timer_fired, c, TCP_CLIENT);
}

static void send_synack(tcp_conn *c) {
    tcp_side *sd = &c->side[TCP_SERVER];
    sd->syn_sent_ns = now_ns(c);
    send_packet(c, TCP_SERVER, TCP_F_SYN | TCP_F_ACK, 0, 0, NULL);
    int64_t when = CFG(c)->rto_init_ns << (sd->syn_retries < 16 ? sd->syn_retries : 16);
    if (when > CFG(c)->rto_max_ns) when = CFG(c)->rto_max_ns;
    sim_cancel(E(c), &sd->syn_timer);
    sd->syn_timer = sim_at(E(c), net_timer_expiry(c->net, now_ns(c), when), SIM_K_TCP_SYNACK, obj_id(c, TCP_SERVER),
                           syn_timer_fired, c, TCP_SERVER);
}

static void fail_connect(tcp_conn *c, tcp_error err) {
    tcp_side *sd = &c->side[TCP_CLIENT];
    G(c)->stats.connect_failures++;
    int attached = sd->app_attached;
    const tcp_app *app = sd->app;
    void *ctx = sd->ctx;
    side_finish(c, TCP_CLIENT);
    if (attached && app && app->error) app->error(ctx, c, err);
}

static void syn_timer_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    tcp_conn *c = ctx;
    int s = (int)arg;
    tcp_side *sd = &c->side[s];
    sd->syn_timer = SIM_NO_EVENT;
    if (s == TCP_CLIENT) {
        if (sd->state != S_SYN_SENT) return;
        if (sd->syn_retries >= CFG(c)->syn_retries + CFG(c)->syn_linear_timeouts) {
            c->refs++; /* the application's error callback may close its side */
            fail_connect(c, TCP_ERR_TIMEDOUT);
            unref(c);
            return;
        }
        sd->syn_retries++;
        G(c)->stats.syn_retransmits++;
        send_syn(c);
    } else {
        if (sd->state != S_SYN_RECV) return;
        if (sd->syn_retries >= CFG(c)->synack_retries) {
            side_finish(c, s); /* the request socket is dropped */
            return;
        }
        sd->syn_retries++;
        G(c)->stats.synack_retransmits++;
        send_synack(c);
    }
}

static void side_init(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    sd->cwnd = CFG(c)->init_cwnd;
    sd->ssthresh = UINT32_MAX;
    sd->rto_ns = CFG(c)->rto_init_ns;
    sd->ato_ns = CFG(c)->ato_min_ns;
    sd->quick = QUICKACKS;
    sd->snd_una = 0;
    sd->snd_nxt = 1; /* the SYN */
    sd->write_seq = 1;
    sd->rcv_nxt = 0;
}

tcp_conn *tcp_connect(sim_net *net, sim_host *client, sim_addr dst, int port, const tcp_app *app, void *ctx) {
    tcp_global *g = net_tcp(net);
    tcp_conn *c = freelist_take(&g->spare);
    c->flow.id = ++g->next_id;
    c->net = net;
    c->flow.host[TCP_CLIENT] = client;
    c->flow.incarnation[TCP_CLIENT] = client->incarnation;
    c->dst_addr = dst;
    c->port = port;
    c->refs = 2; /* both sides */
    c->next_live = &g->live;
    c->prev_live = g->live.prev_live;
    g->live.prev_live->next_live = c;
    g->live.prev_live = c;
    side_init(c, TCP_CLIENT);
    side_init(c, TCP_SERVER);
    c->side[TCP_CLIENT].state = S_SYN_SENT;
    c->side[TCP_CLIENT].app = app;
    c->side[TCP_CLIENT].ctx = ctx;
    c->side[TCP_CLIENT].app_attached = 1;
    g->stats.connections++;
    send_syn(c);
    return c;
}

void tcp_set_app(tcp_conn *c, int s, const tcp_app *app, void *ctx) {
    c->side[s].app = app;
    c->side[s].ctx = ctx;
    c->side[s].app_attached = 1;
}

/* ICMP unreachable / refused for a connection that is still connecting. */
static void on_unreachable(void *ctx, net_flow *f, net_error err) {
    (void)ctx;
    tcp_conn *c = flow_conn(f);
    if (c->side[TCP_CLIENT].state != S_SYN_SENT || c->side[TCP_CLIENT].finished) return;
    fail_connect(c, err == NET_ERR_REFUSED ? TCP_ERR_REFUSED : TCP_ERR_UNREACHABLE);
}

/* ---- receiving ---- */

static void deliver_messages(tcp_conn *c, int s) {
    /* side s receives the peer's direction */
    int d = 1 - s;
    tcp_side *sd = &c->side[s];
    while (c->nmsgs[d] && c->msgs[d][0].end_seq <= sd->rcv_nxt) {
        tcp_msg m = c->msgs[d][0];
        memmove(&c->msgs[d][0], &c->msgs[d][1], (c->nmsgs[d] - 1) * sizeof m);
        c->nmsgs[d]--;
        if (sd->app_attached && sd->app && sd->app->message) {
            sd->app->message(sd->ctx, c, m.msg);
            if (sd->finished) return;
        } else if (m.free_fn) {
            m.free_fn(m.msg);
        }
    }
}

static void delack_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    tcp_conn *c = ctx;
    int s = (int)arg;
    tcp_side *sd = &c->side[s];
    sd->delack_timer = SIM_NO_EVENT;
    if (!sd->ack_pending) return;
    /* tcp_delack_timer_handler: a missed delayed ACK leaves ping-pong mode. */
    if (sd->pingpong) {
        sd->pingpong = 0;
        sd->ato_ns = CFG(c)->ato_min_ns;
    }
    send_ack(c, s);
}

static void schedule_ack(tcp_conn *c, int s, int now) {
    tcp_side *sd = &c->side[s];
    sd->ack_pending = 1;
    if (now) {
        send_ack(c, s);
        return;
    }
    if (sim_is_pending(E(c), sd->delack_timer)) return;
    int64_t ato = sd->ato_ns;
    int64_t srtt = (sd->srtt_us8 >> 3) * US;
    int64_t max_ato = sd->pingpong ? CFG(c)->delack_max_ns : 500 * MS;
    if (srtt) {
        int64_t rtt = srtt > CFG(c)->ato_min_ns ? srtt : CFG(c)->ato_min_ns;
        if (rtt < max_ato) max_ato = rtt;
    }
    if (ato > max_ato) ato = max_ato;
    sd->delack_timer = sim_at(E(c), net_timer_expiry(c->net, now_ns(c), ato), SIM_K_TCP_DELACK, obj_id(c, s),
                              delack_fired, c, (uint64_t)s);
}

static void ooo_add(tcp_side *sd, uint64_t a, uint64_t b) {
    for (int i = 0; i < sd->nooo; i++) {
        if (b < sd->ooo[i][0] || a > sd->ooo[i][1]) continue;
        if (a < sd->ooo[i][0]) sd->ooo[i][0] = a;
        if (b > sd->ooo[i][1]) sd->ooo[i][1] = b;
        return;
    }
    if (sd->nooo == MAX_OOO) return; /* bounded: the sender will retransmit what we forget */
    sd->ooo[sd->nooo][0] = a;
    sd->ooo[sd->nooo][1] = b;
    sd->nooo++;
}

/* Advances rcv_nxt over out-of-order ranges that became contiguous. */
static void ooo_drain(tcp_side *sd) {
    int progress = 1;
    while (progress) {
        progress = 0;
        for (int i = 0; i < sd->nooo; i++) {
            if (sd->ooo[i][0] <= sd->rcv_nxt) {
                if (sd->ooo[i][1] > sd->rcv_nxt) sd->rcv_nxt = sd->ooo[i][1];
                sd->ooo[i][0] = sd->ooo[--sd->nooo][0];
                sd->ooo[i][1] = sd->ooo[sd->nooo][1];
                progress = 1;
                break;
            }
        }
    }
}

static void app_peer_closed(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    if (sd->peer_closed) return;
    sd->peer_closed = 1;
    if (sd->app_attached && sd->app && sd->app->peer_closed) sd->app->peer_closed(sd->ctx, c);
    if (!sd->finished) maybe_finish(c, s);
}

/* Data (and FIN) part of an incoming segment, for a side in ESTABLISHED. */
static void receive_data(tcp_conn *c, int s, const sim_packet *p) {
    tcp_side *sd = &c->side[s];
    uint64_t seq = p->seq;
    uint64_t end = p->seq + p->len + ((p->flags & TCP_F_FIN) ? 1 : 0);
    if (end == seq) return;
    if (sd->closing && p->len) {
        /* Data for a socket the application closed: tcp_rcv_state_process answers with a reset. */
        send_rst(c->net, c->flow.host[s], p);
        side_finish(c, s);
        return;
    }
    int64_t now = now_ns(c);
    if (p->len) {
        /* tcp_event_data_recv: a long silence re-enters quick-ack mode. */
        if (sd->last_data_rx_ns && now - sd->last_data_rx_ns > sd->rto_ns) sd->quick = QUICKACKS;
        sd->last_data_rx_ns = now;
    }
    if (p->flags & TCP_F_FIN) sd->peer_fin_seq = end;
    if (end <= sd->rcv_nxt) {
        /* Entirely old: a duplicate. Tell the sender with a D-SACK at once. */
        sd->dsack_pending = 1;
        sd->dsack_block[0] = seq;
        sd->dsack_block[1] = end;
        G(c)->stats.dsacks++;
        sd->quick = QUICKACKS;
        schedule_ack(c, s, 1);
        return;
    }
    if (seq > sd->rcv_nxt) {
        ooo_add(sd, seq, end);
        schedule_ack(c, s, 1); /* out of order: ACK immediately with SACK */
        return;
    }
    if (seq <= sd->rcv_nxt) sd->ts_recent_us = p->tsval_us;
    sd->rcv_nxt = end;
    int had_ooo = sd->nooo > 0;
    ooo_drain(sd);
    int fin_now = sd->peer_fin_seq && sd->rcv_nxt >= sd->peer_fin_seq;
    /* __tcp_ack_snd_check runs in the softirq, before the application reads: an immediate ACK leaves
     * now, a delayed one is cancelled if the application answers first (the answer carries the ACK). */
    int quick = sd->quick > 0 && !sd->pingpong;
    int immediate = had_ooo || fin_now || (sd->rcv_nxt - sd->rcv_wup > CFG(c)->mss) || quick;
    if (immediate && quick) sd->quick--;
    schedule_ack(c, s, immediate);
    deliver_messages(c, s);
    if (sd->finished) return;
    if (fin_now) app_peer_closed(c, s);
}

/* SACK / D-SACK blocks of an incoming ACK: marks the segments they cover. Returns whether a segment was
 * newly SACKed; *dsack_tlp tells whether a D-SACK reports the tail loss probe as a duplicate. */
static int mark_sacked(tcp_side *sd, const sim_packet *p, int *dsack_tlp) {
    int new_sack = 0;
    for (int b = 0; b < p->nsack; b++) {
        uint64_t a = p->sack[b][0], z = p->sack[b][1];
        if (b == 0 && p->dsack) {
            if (sd->tlp_high_seq && sd->tlp_retrans && z >= sd->tlp_high_seq) *dsack_tlp = 1;
            continue;
        }
        for (uint32_t i = 0; i < sd->nsegs; i++) {
            tcp_seg *g = &sd->segs[i];
            if (g->sent && !g->sacked && g->seq >= a && g->seq + g->len <= z) {
                g->sacked = 1;
                new_sack = 1;
            }
        }
    }
    return new_sack;
}

/* What removing the cumulatively acknowledged segments found. */
typedef struct tcp_acked {
    int any;            /* at least one segment left the queue */
    int retrans_only;   /* every one of them had been retransmitted (no RTT sample from send times) */
    int64_t first_ackt; /* earliest send time of a segment sent once; -1 if none */
} tcp_acked;

/* Removes the segments that end at or before `ack` from the retransmission queue. */
static tcp_acked remove_acked(tcp_side *sd, uint64_t ack) {
    tcp_acked r = {.any = 0, .retrans_only = 1, .first_ackt = -1};
    uint32_t keep = 0;
    for (uint32_t i = 0; i < sd->nsegs; i++) {
        tcp_seg *g = &sd->segs[i];
        if (g->sent && g->seq + g->len <= ack) {
            r.any = 1;
            if (!g->retrans) {
                r.retrans_only = 0;
                if (r.first_ackt < 0 || g->xmit_ns < r.first_ackt) r.first_ackt = g->xmit_ns;
            }
            if (g->fin) sd->fin_acked = 1;
            continue;
        }
        sd->segs[keep++] = *g;
    }
    sd->nsegs = keep;
    return r;
}

/* tcp_process_tlp_ack: ends the tail loss probe episode once the ACK tells how the probe fared. */
static void process_tlp_ack(tcp_side *sd, const sim_packet *p, int una_advanced, int dsack_tlp, int new_sack) {
    if (!sd->tlp_high_seq || p->ack < sd->tlp_high_seq) return;
    int flag_not_dup = una_advanced || p->len > 0;
    if (!sd->tlp_retrans)
        sd->tlp_high_seq = 0;
    else if (dsack_tlp)
        sd->tlp_high_seq = 0;
    else if (p->ack > sd->tlp_high_seq)
        sd->tlp_high_seq = 0; /* recovered a real loss (cwnd reduction) */
    else if (!flag_not_dup && !new_sack)
        sd->tlp_high_seq = 0;
}

/* Data newly acknowledged: an RTT sample, the retry counters reset, the window grows, recovery may end. */
static void on_data_acked(tcp_conn *c, int s, const sim_packet *p, const tcp_acked *acked) {
    tcp_side *sd = &c->side[s];
    if (!acked->retrans_only && acked->first_ackt >= 0)
        rtt_sample(c, s, (now_ns(c) - acked->first_ackt) / US);
    else
        rtt_sample_ts(c, s, p->tsecr_us);
    sd->retransmits = 0;
    sd->probes_out = 0;
    if (sd->cwnd < sd->ssthresh)
        sd->cwnd++;
    else if (sd->cwnd < 1000)
        sd->cwnd++;
    if (sd->ca != CA_OPEN && sd->snd_una >= sd->high_seq) sd->ca = CA_OPEN;
}

/* RACK-style detection: a segment sent before one the receiver SACKed is lost; the first loss enters
 * recovery (ssthresh halves) and the lost segments go again at once. */
static void detect_sack_losses(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    int64_t latest_sacked = -1;
    for (uint32_t i = 0; i < sd->nsegs; i++)
        if (sd->segs[i].sacked && sd->segs[i].xmit_ns > latest_sacked) latest_sacked = sd->segs[i].xmit_ns;
    int64_t reo_wnd = (sd->srtt_us8 >> 3) * US / 4;
    int marked = 0;
    for (uint32_t i = 0; i < sd->nsegs; i++) {
        tcp_seg *g = &sd->segs[i];
        if (g->sent && !g->sacked && !g->lost && g->xmit_ns + reo_wnd < latest_sacked) {
            g->lost = 1;
            marked = 1;
        }
    }
    if (!marked) return;
    if (sd->ca == CA_OPEN) {
        sd->ca = CA_RECOVERY;
        sd->high_seq = sd->snd_nxt;
        uint32_t out = in_flight(sd);
        sd->ssthresh = out / 2 > 2 ? out / 2 : 2;
    }
    G(c)->stats.fast_retransmits++;
    retransmit_lost(c, s);
}

/* ACK part of an incoming segment (tcp_ack). */
static void receive_ack(tcp_conn *c, int s, const sim_packet *p) {
    tcp_side *sd = &c->side[s];
    if (!(p->flags & TCP_F_ACK)) return;
    uint64_t ack = p->ack;
    if (ack > sd->snd_nxt) return; /* acknowledges something never sent */
    int una_advanced = ack > sd->snd_una;
    int dsack_tlp = 0;
    int new_sack = mark_sacked(sd, p, &dsack_tlp);
    tcp_acked acked = remove_acked(sd, ack);
    if (una_advanced) sd->snd_una = ack;
    process_tlp_ack(sd, p, una_advanced, dsack_tlp, new_sack);
    if (acked.any) on_data_acked(c, s, p, &acked);
    if (new_sack) detect_sack_losses(c, s);
    if (acked.any || new_sack) {
        if (!packets_out(sd)) {
            if (sd->pending != T_PROBE0) clear_xmit_timer(c, s);
        } else if (!schedule_loss_probe(c, s, 1)) {
            rearm_rto(c, s);
        }
    }
    if (sd->ca == CA_LOSS) retransmit_lost(c, s);
    push_pending(c, s); /* tcp_data_snd_check: any arriving packet may let unsent data go */
    if (sd->closing) maybe_finish(c, s);
}

static void notify_error(tcp_conn *c, int s, tcp_error err) {
    tcp_side *sd = &c->side[s];
    int attached = sd->app_attached;
    const tcp_app *app = sd->app;
    void *ctx = sd->ctx;
    side_finish(c, s);
    if (attached && app && app->error) app->error(ctx, c, err);
}

static void server_receive_syn(tcp_conn *c, sim_host *dst, const sim_packet *p) {
    tcp_side *sd = &c->side[TCP_SERVER];
    if (sd->state == S_SYN_RECV) {
        send_synack(c); /* a repeated SYN: our SYN-ACK was lost, resend now */
        return;
    }
    if (sd->state != S_CLOSED || sd->finished) return;
    const tcp_listener *l = &G(c)->listen[dst->id];
    if (!dst->up || l->port != c->port || !l->accept) {
        send_rst(c->net, dst, p); /* nobody listens: connection refused */
        return;
    }
    sd->state = S_SYN_RECV;
    sd->ts_recent_us = p->tsval_us;
    sd->rcv_nxt = 1;
    sd->rcv_wup = 1;
    send_synack(c);
}

static void server_establish(tcp_conn *c, sim_host *dst, const sim_packet *p) {
    tcp_side *sd = &c->side[TCP_SERVER];
    sim_cancel(E(c), &sd->syn_timer);
    sd->state = S_ESTABLISHED;
    sd->established_ns = now_ns(c);
    sd->snd_una = 1;
    /* tcp_synack_rtt_meas: from the SYN-ACK's send time unless it was retransmitted */
    if (sd->syn_retries == 0)
        rtt_sample(c, TCP_SERVER, (now_ns(c) - sd->syn_sent_ns) / US);
    else
        rtt_sample_ts(c, TCP_SERVER, p->tsecr_us);
    const tcp_listener *l = &G(c)->listen[dst->id];
    if (l->accept) l->accept(l->ctx, c);
}

static void on_receive(void *ctx, sim_host *dst, const sim_packet *p) {
    (void)ctx;
    tcp_conn *c = flow_conn(p->flow);
    sim_net *net = c->net;
    int s = 1 - p->dir; /* the receiving side */
    tcp_side *sd = &c->side[s];
    if (c->flow.incarnation[s] != dst->incarnation && c->flow.host[s] == dst) {
        /* The host restarted since this connection was made: the socket no longer exists. */
        if (!(p->flags & TCP_F_RST)) send_rst(net, dst, p);
        return;
    }
    if (p->flags & TCP_F_RST) {
        if (sd->finished) return;
        if (s == TCP_CLIENT && sd->state == S_SYN_SENT) {
            fail_connect(c, TCP_ERR_REFUSED);
        } else if (sd->state == S_SYN_RECV) {
            side_finish(c, s);
        } else {
            notify_error(c, s, TCP_ERR_RESET);
        }
        return;
    }
    if (s == TCP_SERVER && (p->flags & TCP_F_SYN)) {
        server_receive_syn(c, dst, p);
        return;
    }
    if (sd->finished) {
        /* No socket for this packet any more. */
        if (p->len || (p->flags & (TCP_F_FIN | TCP_F_SYN))) send_rst(net, dst, p);
        return;
    }
    if (s == TCP_CLIENT && (p->flags & TCP_F_SYN)) {
        if (sd->state == S_SYN_SENT && (p->flags & TCP_F_ACK) && p->ack == 1) {
            sim_cancel(E(c), &sd->syn_timer);
            sd->state = S_ESTABLISHED;
            sd->established_ns = now_ns(c);
            sd->snd_una = 1;
            sd->rcv_nxt = 1;
            sd->rcv_wup = 1;
            sd->ts_recent_us = p->tsval_us;
            if (sd->syn_retries == 0)
                rtt_sample(c, TCP_CLIENT, (now_ns(c) - sd->syn_sent_ns) / US);
            else
                rtt_sample_ts(c, TCP_CLIENT, p->tsecr_us);
            send_ack(c, TCP_CLIENT); /* the handshake ACK */
            if (sd->app_attached && sd->app && sd->app->connected) sd->app->connected(sd->ctx, c);
        } else if (sd->state == S_ESTABLISHED) {
            send_ack(c, TCP_CLIENT); /* a retransmitted SYN-ACK: our ACK was lost */
        }
        return;
    }
    if (s == TCP_SERVER && sd->state == S_SYN_RECV) {
        if (!(p->flags & TCP_F_ACK) || p->ack != 1) return;
        server_establish(c, dst, p);
        if (sd->finished) return;
    }
    if (sd->state != S_ESTABLISHED) return;
    receive_ack(c, s, p);
    if (sd->finished) return;
    receive_data(c, s, p);
}

/* ---- closing ---- */

void tcp_close(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    if (sd->closing || sd->finished) {
        sd->app_attached = 0;
        return;
    }
    sd->app_attached = 0;
    sd->closing = 1;
    if (sd->state == S_SYN_SENT || sd->state == S_SYN_RECV || sd->state == S_CLOSED) {
        side_finish(c, s);
        return;
    }
    /* The FIN takes one sequence number after the data and is retransmitted like data. */
    seg_push(sd, sd->write_seq, 1, 1);
    sd->write_seq += 1;
    push_pending(c, s);
    maybe_finish(c, s);
}

void tcp_abort(tcp_conn *c, int s) {
    tcp_side *sd = &c->side[s];
    if (sd->finished) return;
    sd->app_attached = 0;
    if (sd->state == S_ESTABLISHED || sd->state == S_SYN_RECV) {
        G(c)->stats.resets_sent++;
        send_packet(c, s, TCP_F_RST, sd->snd_nxt, 0, NULL);
    }
    side_finish(c, s);
}

void tcp_host_crash(sim_net *net, sim_host *h) {
    tcp_global *g = net_tcp(net);
    /* Collect first: finishing a side may free its connection. */
    size_t n = 0, cap = 64;
    tcp_conn **victims = malloc(cap * sizeof *victims);
    int *sides = malloc(cap * sizeof *sides);
    if (!victims || !sides) abort();
    for (tcp_conn *c = g->live.next_live; c != &g->live; c = c->next_live) {
        for (int s = 0; s < 2; s++) {
            if (c->flow.host[s] != h || c->side[s].finished) continue;
            if (n == cap) {
                cap *= 2;
                victims = realloc(victims, cap * sizeof *victims);
                sides = realloc(sides, cap * sizeof *sides);
                if (!victims || !sides) abort();
            }
            c->refs++; /* hold it across the loop below */
            victims[n] = c;
            sides[n] = s;
            n++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        tcp_conn *c = victims[i];
        int s = sides[i];
        /* A killed process's sockets are closed by the kernel: established ones send a FIN (data already
         * read) and then vanish with the network namespace, so the peer sees the FIN or nothing. */
        tcp_side *sd = &c->side[s];
        if (!sd->finished) {
            sd->app_attached = 0;
            if (sd->state == S_ESTABLISHED) send_packet(c, s, TCP_F_FIN | TCP_F_ACK, sd->write_seq, 0, NULL);
            side_finish(c, s);
        }
        unref(c);
    }
    free(victims);
    free(sides);
}
