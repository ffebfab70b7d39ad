/*
 * netfault.h: network faults on pods' egress, installed the way Chaos Mesh installs them, with a ledger of
 * what they really did.
 *
 * Where a NetworkChaos lands (../shared/facts/chaos-mesh.md, "NetworkChaos loss/delay -> tc netem"):
 *   - netem is an egress qdisc on the pod's eth0: it only acts on packets the pod sends.
 *   - Without a filter (no target, no externalTargets) it is a root netem: every packet the pod sends goes
 *     through it; several such objects on one pod are stacked, so their losses and delays compose.
 *   - With a filter, the packet must match the destination set as the SENDER wrote it (pod IPs of the other
 *     side plus externalTargets CIDRs). A packet sent to a Service's ClusterIP is DNAT-ed later, outside the
 *     pod, so a filter on pod IPs does not see it. When several filtered objects match one packet, only one
 *     netem applies: the last matching iptables CLASSIFY rule, in Go map order (we draw that order from the
 *     seed each time a pod's set of objects changes).
 *   - Each installed instance has its own netem state (PRNG, correlation memory), as each tc qdisc does.
 *   - `partition` is iptables: DROP in the source pod's OUTPUT chain (the send fails locally, which TCP
 *     handles differently from a loss) and in the target's INPUT chain.
 *   - `bandwidth` is a tbf qdisc (rate, limit, buffer).
 *
 * The ledger counts, per (sending host, destination address as written), every packet seen and what
 * happened to it, whether or not a fault matched: "configured 80 %, realized 97.1 %" comes from here.
 *
 * Ownership: the layer owns its rules, qdiscs and ledger. Host ids and addresses come from sim/net/net.h.
 */
#ifndef PC_FAULTS_NETFAULT_H
#define PC_FAULTS_NETFAULT_H

#include <stdint.h>

#include "faults/netem.h"
#include "faults/packet.h"
#include "faults/tbf.h"

typedef struct nf_layer nf_layer;

typedef enum nf_kind { NF_NETEM = 0, NF_BANDWIDTH, NF_PARTITION } nf_kind;

typedef struct nf_cidr {
    nf_addr addr;
    int prefix; /* 32 for a single address */
} nf_cidr;

#define NF_MAX_SET 64

typedef struct nf_rule_spec {
    char name[96]; /* the chaos object's name */
    nf_kind kind;
    uint32_t hosts[NF_MAX_SET]; /* where the qdisc / chain is installed (host ids) */
    int nhosts;
    nf_cidr match[NF_MAX_SET]; /* destination filter as the sender writes it; none = unfiltered */
    int nmatch;
    int filtered; /* 1 when the object has a target or externalTargets */
    int ingress;  /* partition: drop on the installing host's INPUT (match = sources) */
    netem_config netem;
    tbf_config tbf;
} nf_rule_spec;

nf_layer *nf_new(uint64_t seed);
void nf_free(nf_layer *l);
/* Installs a rule (on every host in spec->hosts); returns its id, or -1 with a message. */
int nf_add(nf_layer *l, const nf_rule_spec *spec, char *err, size_t errlen);
void nf_remove(nf_layer *l, int rule_id);
int nf_active_rules(const nf_layer *l);

/* A packet leaving its sender: what the sender's egress rules (OUTPUT chain, qdiscs) do to it. */
nf_verdict nf_egress(nf_layer *l, int64_t now_ns, const nf_packet *p);
/* A packet reaching host `dst_host`: 0 when the receiver's INPUT chain drops it. */
int nf_ingress(nf_layer *l, int64_t now_ns, const nf_packet *p, uint32_t dst_host);

typedef struct nf_link_stats {
    uint32_t src_host;
    nf_addr dst_addr;
    uint64_t seen;          /* packets the sender sent to this address */
    uint64_t faulted;       /* ... that went through at least one fault rule */
    uint64_t dropped;       /* lost in a qdisc (loss, limit) or dropped by an INPUT chain */
    uint64_t local_dropped; /* refused by the sender's OUTPUT chain */
    uint64_t delayed;
    uint64_t duplicated;
    uint64_t corrupted;
    int64_t delay_ns_sum;
} nf_link_stats;

/* Calls fn for every link in a deterministic order (by source host, then address). */
void nf_foreach_link(const nf_layer *l, void (*fn)(void *ctx, const nf_link_stats *s), void *ctx);

typedef struct nf_rule_stats {
    char name[96];
    uint64_t seen, dropped, delayed, local_dropped;
    uint64_t won_over_others; /* matched together with another filtered rule and was the one applied */
    uint64_t lost_to_others;  /* matched, but another filtered rule's netem applied instead */
} nf_rule_stats;

int nf_rule_count(const nf_layer *l);
const nf_rule_stats *nf_rule_get_stats(const nf_layer *l, int rule_id);

#endif
