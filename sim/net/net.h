/*
 * net.h: hosts, addresses, Services and packet delivery in the simulated cluster.
 *
 * Model
 *   Every pod and every load client is a host with an IPv4 address. A Service is a virtual IP (ClusterIP):
 *   the first SYN of a connection to it is DNAT-ed, as kube-proxy does with `numgen random` over the ready
 *   endpoints, to one backend pod, and every later packet of that connection follows the same conntrack
 *   entry. A Service without ready endpoints rejects the SYN (ICMP port unreachable: connection refused).
 *
 *   A packet leaves its sender through the egress hook (the fault layer: netem, partitions). The hook sees
 *   the destination as the sender addressed it (the Service IP, not the backend), which is exactly why
 *   Chaos Mesh's `to` filters on pod IPs miss Service traffic. The packet then takes the link latency (plus
 *   whatever delay the hook added) and is delivered to the destination host's TCP. A packet to a host that
 *   no longer exists is lost; a SYN to such an address gets "host unreachable" after the neighbour
 *   resolution timeout (3 s), like a pod IP whose pod was deleted.
 *
 *   Linux timers expire on a 4 ms jiffy wheel (HZ=250): net_timer_expiry() reproduces the rounding of
 *   kernel/time/timer.c (calc_index) so retransmissions land when the kernel would send them.
 *
 *   The wire knows no TCP. A transport (tcp.c) registers a table of callbacks with net_set_transport(): a
 *   packet arrived, a connection attempt is refused or unreachable, a packet entered or left the wire (the
 *   transport counts them to know when a connection may be freed), a host went down. What the wire needs
 *   of a connection (its id, its two hosts, whether DNAT has chosen the server yet) is a net_flow, which the
 *   transport embeds at the start of its connection and every packet points to.
 *
 * Ownership: the net owns hosts and Services; flows belong to the transport's connections; packets are
 * owned by the net from net_transmit() until delivery.
 */
#ifndef PC_SIM_NET_NET_H
#define PC_SIM_NET_NET_H

#include <stdint.h>

#include "base/rng.h"
#include "faults/packet.h"
#include "sim/engine/engine.h"

typedef uint32_t sim_addr;
typedef struct sim_net sim_net;
typedef struct sim_host sim_host;
typedef struct sim_packet sim_packet;

#define SIM_MAX_HOSTS 256
#define SIM_MAX_VIPS 16

/* Builds an address from four octets. */
#define SIM_ADDR(a, b, c, d) (((sim_addr)(a) << 24) | ((sim_addr)(b) << 16) | ((sim_addr)(c) << 8) | (sim_addr)(d))
void sim_addr_format(sim_addr a, char *out, size_t outlen);
int sim_addr_parse(const char *text, sim_addr *out); /* 0 or -1 */

/* The egress hook (the fault layer, faults/packet.h): what happens to a packet `src` sends to `dst_addr`, the
 * destination as written in the packet (a Service IP stays a Service IP here: DNAT comes after). */
typedef nf_verdict (*net_egress_hook)(void *ctx, int64_t now_ns, const sim_host *src, sim_addr dst_addr,
                                      const sim_packet *p);

struct sim_host {
    uint32_t id; /* index in the net, stable for the run */
    sim_addr addr;
    char name[48];
    int up; /* 0: the host is gone; packets to it vanish */
    uint32_t incarnation;
    void *owner; /* the pod or client that owns this host */
};

typedef struct net_config {
    int64_t link_latency_ns;  /* one-way, per packet (default 50 µs) */
    int64_t neigh_timeout_ns; /* unreachable report for a SYN to a vanished host (3 s) */
    int64_t jiffy_ns;         /* 4 ms at HZ=250 */
} net_config;

void net_config_defaults(net_config *cfg);

sim_net *net_new(sim_engine *e, uint64_t seed, const net_config *cfg);
void net_free(sim_net *net);
sim_engine *net_engine(sim_net *net);
const net_config *net_cfg(const sim_net *net);

sim_host *net_add_host(sim_net *net, const char *name, sim_addr addr, void *owner);
sim_host *net_host(sim_net *net, uint32_t id);
uint32_t net_host_count(const sim_net *net);
sim_host *net_host_by_addr(sim_net *net, sim_addr addr);
/* The host disappears (its connections are aborted by the caller first) or comes back with a new address. */
void net_host_down(sim_net *net, sim_host *h);
void net_host_up(sim_net *net, sim_host *h, sim_addr addr);

/* Services: a virtual IP and port with a list of ready backend hosts. */
int net_add_vip(sim_net *net, const char *name, sim_addr vip, int port);
void net_vip_set_backends(sim_net *net, int vip, const uint32_t *host_ids, int count);
int net_vip_by_addr(const sim_net *net, sim_addr addr);
const char *net_vip_name(const sim_net *net, int vip);

void net_set_egress_hook(sim_net *net, net_egress_hook hook, void *ctx);
/* Called when a packet reaches its (real) destination host, after DNAT: 0 drops it (iptables INPUT). */
typedef int (*net_ingress_hook)(void *ctx, int64_t now_ns, const sim_host *src, const sim_host *dst,
                                const sim_packet *p);
void net_set_ingress_hook(sim_net *net, net_ingress_hook hook, void *ctx);

/* When a Linux timer armed now for `delay_ns` fires (jiffy rounding + timer-wheel granularity). */
int64_t net_timer_expiry(const sim_net *net, int64_t now_ns, int64_t delay_ns);
/* usecs_to_jiffies(): rounds a duration up to whole jiffies, in ns. */
int64_t net_round_jiffies(const sim_net *net, int64_t ns);

/* The sides of a flow and the packet flags the wire looks at (the transport's, named again in tcp.h). */
enum { NET_CLIENT = 0, NET_SERVER = 1 };
enum { NET_F_SYN = 1, NET_F_ACK = 2, NET_F_FIN = 4, NET_F_RST = 8 };

/* Why a connection attempt ends before a packet reaches a socket. */
typedef enum net_error {
    NET_ERR_REFUSED = 1, /* no Service endpoint (kube-proxy's reject) */
    NET_ERR_UNREACHABLE  /* ICMP host unreachable: the address has no host any more */
} net_error;

/* What the wire knows of a connection: the transport embeds it first in its own connection. */
typedef struct net_flow {
    uint64_t id;             /* stable object id for events */
    sim_host *host[2];       /* NET_CLIENT, NET_SERVER (NULL until the first SYN is routed) */
    uint32_t incarnation[2]; /* the hosts' incarnations when the flow met them */
    int server_bound;        /* DNAT (or the pod address) chose the server */
} net_flow;

/* The transport above the wire. Every callback gets the context given to net_set_transport(). */
typedef struct net_transport {
    void (*receive)(void *ctx, sim_host *dst, const sim_packet *p); /* a packet reached its host */
    void (*unreachable)(void *ctx, net_flow *f, net_error err);     /* its SYN cannot be delivered */
    void (*sent)(void *ctx, net_flow *f);      /* a packet of f entered the wire (or an ICMP error for it) */
    void (*gone)(void *ctx, net_flow *f);      /* ... and left it, delivered or lost */
    void (*host_down)(void *ctx, sim_host *h); /* the host's sockets are gone */
    void (*free)(void *ctx);                   /* net_free(): the transport's own state */
} net_transport;

/* Registers the transport (one per net); `t` must outlive the net. */
void net_set_transport(sim_net *net, const net_transport *t, void *ctx);
/* The context registered with the transport (the transport's own state), NULL before. */
void *net_transport_ctx(const sim_net *net);

/* Packet delivery (used by the transport). */
struct sim_packet {
    net_flow *flow;
    uint8_t dir;   /* NET_CLIENT: client to server, NET_SERVER: server to client */
    uint8_t flags; /* NET_F_* */
    uint8_t nsack;
    uint8_t dsack;
    uint32_t len;
    uint64_t seq, ack;
    int64_t tsval_us, tsecr_us;
    uint64_t sack[3][2];
    uint32_t src_host;
    sim_addr dst_addr; /* as written by the sender: a Service IP or a pod IP */
};

/* Sends a packet from `src` (copied). Returns the verdict kind (NF_LOCAL_DROP: the send failed). */
nf_verdict_kind net_transmit(sim_net *net, const sim_host *src, const sim_packet *p);

/* Statistics of the wire itself (the fault layer keeps per-link ledgers). */
typedef struct net_stats {
    uint64_t packets_sent, packets_delivered, packets_lost_unreachable, connections_refused;
} net_stats;
const net_stats *net_get_stats(const sim_net *net);

/* The backend host chosen for a new connection to `dst` (DNAT); -1 if refused (no endpoints). For a pod
 * address, the host itself (or -1 if no host has it). */
int net_route_new_connection(sim_net *net, sim_addr dst, int port);

#endif
