/*
 * packet.h: what a fault sees of a packet, and what it decides.
 *
 * The fault layer (netfault.h) and the wire that carries packets (sim/net/net.h) meet here: the wire asks
 * its egress hook for an nf_verdict, and the fault layer answers one after looking at the packet through
 * an nf_packet. Hosts are known by an index, addresses as IPv4 numbers; nothing here owns memory.
 */
#ifndef PC_FAULTS_PACKET_H
#define PC_FAULTS_PACKET_H

#include <stdint.h>

typedef uint32_t nf_addr; /* an IPv4 address, most significant octet first */
#define NF_MAX_HOSTS 256  /* host indexes are below this */

/* What the layer sees of a packet. */
typedef struct nf_packet {
    uint32_t src_host; /* the sending host */
    nf_addr src_addr;  /* its address */
    nf_addr dst_addr;  /* the destination as the sender wrote it (a Service IP or a pod IP) */
    uint32_t len;      /* payload bytes */
} nf_packet;

/* What the layer decides for one packet. */
typedef enum nf_verdict_kind {
    NF_PASS = 0,  /* leaves normally (possibly delayed) */
    NF_DROP,      /* lost after the sender believes it left (netem loss, a qdisc's limit) */
    NF_LOCAL_DROP /* refused by the sender's own stack (iptables OUTPUT DROP: the send fails) */
} nf_verdict_kind;

typedef struct nf_verdict {
    nf_verdict_kind kind;
    int64_t extra_delay_ns; /* added to the link latency when passing */
    int copies;             /* 1, or 2 when netem duplicates */
    int corrupt;            /* the receiver discards it (bad checksum) */
} nf_verdict;

#endif
