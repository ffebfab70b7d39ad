/*
 * tcp.h: a packet-level model of Linux TCP for short request/response exchanges.
 *
 * What is modelled, and from where (net/ipv4/tcp_*.c, Linux 6.x, defaults as docs/facts.md lists them):
 *   - the three-way handshake; SYN retransmission at 1 s with tcp_syn_linear_timeouts=4 linear steps, then
 *     doubling (0, 1, 2, 3, 4, 5, 7, 11 ... s), or the pre-6.5 doubling schedule; give-up after
 *     tcp_syn_retries + linear timeouts. SYN-ACK retransmission 1, 2, 4 ... s (5 tries); a repeated SYN
 *     makes the server resend its SYN-ACK at once; the first data segment completes a handshake whose ACK
 *     was lost (tcp_check_req).
 *   - segmentation by MSS (1448 bytes with timestamps), a congestion window (initial 10, slow start,
 *     1 after an RTO).
 *   - the RTT estimator of tcp_rtt_estimator() with timestamps: samples from retransmitted segments come
 *     from TSecr with millisecond resolution; RTO = srtt + max(mdev, rto_min 200 ms), doubled on each
 *     expiry (tcp_retransmit_timer), backoff reset by a valid sample.
 *   - the tail loss probe (tcp_schedule_loss_probe / tcp_send_loss_probe / tcp_process_tlp_ack),
 *     including the episode that stays open when the probe itself repaired the loss, so that the next loss
 *     on a keep-alive connection gets no probe.
 *   - SACK, D-SACK and RACK-style fast retransmit for multi-segment messages.
 *   - delayed ACKs (40 ms), quick-ack mode, ping-pong mode, piggybacked ACKs.
 *   - FIN as a sequence-space byte (retransmitted like data), RST on data for a closed socket, orphan
 *     retries, local send failures (iptables OUTPUT drop) retried by the probe0 timer and by any arriving
 *     packet.
 *   - every timer on the 4 ms jiffy wheel (net_timer_expiry).
 * Not modelled: flow control windows (never limiting at these sizes), Nagle (TCP_NODELAY everywhere),
 * TIME_WAIT (the active closer's port is not reused within a run), ECN, pacing.
 *
 * Applications exchange opaque messages: tcp_send() queues `bytes` bytes and a message pointer that is
 * handed to the peer's `message` callback once all its bytes have arrived in order.
 *
 * Ownership: a connection lives until both sides are finished and no packet of it is in flight; the
 * application never frees it. After tcp_close()/tcp_abort() a side makes no more callbacks. Undelivered
 * messages are released with the free function given to tcp_send().
 */
#ifndef PC_SIM_NET_TCP_H
#define PC_SIM_NET_TCP_H

#include <stdint.h>

#include "sim/net/net.h"

typedef struct tcp_conn tcp_conn;

enum { TCP_F_SYN = NET_F_SYN, TCP_F_ACK = NET_F_ACK, TCP_F_FIN = NET_F_FIN, TCP_F_RST = NET_F_RST };
enum { TCP_CLIENT = NET_CLIENT, TCP_SERVER = NET_SERVER };

typedef enum tcp_error {
    TCP_ERR_REFUSED = 1, /* RST in reply to the SYN, or no Service endpoint (ECONNREFUSED) */
    TCP_ERR_UNREACHABLE, /* ICMP host unreachable during connect (EHOSTUNREACH) */
    TCP_ERR_RESET,       /* the peer reset an established connection */
    TCP_ERR_TIMEDOUT     /* the kernel gave up retransmitting */
} tcp_error;

typedef struct tcp_app {
    void (*connected)(void *ctx, tcp_conn *c);            /* client: handshake complete */
    void (*message)(void *ctx, tcp_conn *c, void *msg);   /* a whole message arrived; the app owns msg */
    void (*peer_closed)(void *ctx, tcp_conn *c);          /* the peer's FIN arrived (after all its data) */
    void (*error)(void *ctx, tcp_conn *c, tcp_error err); /* connect failed or connection reset */
} tcp_app;

typedef struct tcp_config {
    int syn_linear_timeouts; /* 4 on kernels >= 6.5; 0 gives the old doubling schedule */
    int syn_retries;         /* 6 */
    int synack_retries;      /* 5 */
    int64_t rto_min_ns;      /* 200 ms */
    int64_t rto_max_ns;      /* 120 s */
    int64_t rto_init_ns;     /* 1 s */
    int64_t ato_min_ns;      /* 40 ms */
    int64_t delack_max_ns;   /* 200 ms */
    uint32_t mss;            /* 1448 */
    uint32_t init_cwnd;      /* 10 */
    int retries2;            /* 15 */
    int orphan_retries;      /* 8 (tcp_orphan_retries=0 means 8) */
    int tlp;                 /* tcp_early_retrans=3: 1 */
} tcp_config;

void tcp_config_defaults(tcp_config *cfg);

/* A listening socket: called for each connection whose handshake completes on its host and port. */
typedef void (*tcp_accept_fn)(void *ctx, tcp_conn *conn);

/* Installs TCP on a net (before any connection), as the net's transport (net.h). */
void tcp_attach(sim_net *net, const tcp_config *cfg);
/* Listens on host h: `port` 0 (or accept NULL) stops listening; a SYN then gets a RST. A host that goes down
 * stops listening too. */
void tcp_listen(sim_net *net, sim_host *h, int port, tcp_accept_fn accept, void *ctx);

tcp_conn *tcp_connect(sim_net *net, sim_host *client, sim_addr dst, int port, const tcp_app *app, void *ctx);
/* Server side: the accept callback calls this to receive the connection's events. */
void tcp_set_app(tcp_conn *c, int side, const tcp_app *app, void *ctx);
void tcp_send(tcp_conn *c, int side, uint32_t bytes, void *msg, void (*msg_free)(void *msg));
void tcp_close(tcp_conn *c, int side); /* FIN after the queued data; no more callbacks */
void tcp_abort(tcp_conn *c, int side); /* RST now; no more callbacks */

uint64_t tcp_conn_id(const tcp_conn *c);
sim_host *tcp_host(const tcp_conn *c, int side); /* NULL for the server before the SYN arrives */
sim_addr tcp_dst_addr(const tcp_conn *c);        /* as the client addressed it */
int tcp_is_established(const tcp_conn *c, int side);
int64_t tcp_connected_at(const tcp_conn *c); /* client: when the handshake completed, else -1 */
int tcp_peer_closed(const tcp_conn *c, int side);

/* Every connection a host has open gets a RST / vanishes: used when a pod is killed. */
void tcp_host_crash(sim_net *net, sim_host *h);

typedef struct tcp_stats {
    uint64_t connections, syn_retransmits, synack_retransmits, tlp_probes, rto_retransmits, fast_retransmits,
        probe0_retries, resets_sent, dsacks, connect_failures, data_segments, pure_acks;
} tcp_stats;
const tcp_stats *tcp_get_stats(const sim_net *net);

#endif
