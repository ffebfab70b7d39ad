/*
 * lab/wire/core.h: the packet core of bin/labwire, the lab's userspace wire: a pure function from (frame,
 * time) to what leaves when, with the kernel's own qdisc algorithms (faults/netem, faults/tbf) per frame.
 *
 * Where it sits. Each pod (and the load generator) is a port: a TAP device inside the pod's network
 * namespace (its eth0) and a TAP device on the node's bridge. Frames the pod sends (its egress) are offered
 * with lw_core_offer(..., LW_FROM_POD, ...) and leave towards the node; frames from the bridge are offered
 * with LW_FROM_NODE and leave towards the pod untouched. Chaos Mesh puts netem and tbf on a pod's egress
 * qdisc, before the node (where kube-proxy DNATs a Service IP), so a rule here sees the destination as the
 * sender wrote it, as the kernel's qdisc and Chaos Mesh's ipset filter do.
 *
 * Rules, as chaos-daemon installs them on one pod (../shared facts, "NetworkChaos loss/delay -> tc netem"):
 *   - unfiltered rules (no target, no externalTargets) are root qdiscs, stacked in the order they were
 *     added: every frame the pod sends goes through each, ARP included;
 *   - filtered rules hold a destination set (pod IPs and externalTargets CIDRs); an IPv4 frame whose
 *     destination is in several sets gets the LAST matching one only (iptables CLASSIFY is not terminating),
 *     in an order that Chaos Mesh takes from Go map iteration: redrawn from the core's seed whenever the
 *     port's filtered rules change. A filtered rule sits below the stacked root rules.
 * A frame's chain of rules is fixed when it is offered (the kernel classifies at the OUTPUT hook). Each rule
 * decides when the frame enters it, at the time the rule above released it (a child qdisc is fed by its
 * parent's dequeue), so every qdisc sees times that do not go backwards, as in the kernel.
 *
 * Per rule: netem_enqueue_bytes() (loss, duplicate, corrupt, reorder, delay with jitter and correlation, the
 * 1000-packet limit) or tbf_enqueue() (departure when the bucket holds the tokens; bfifo limit). A duplicate
 * is a second copy of the frame (taken before the original is corrupted, as the kernel clones it); a
 * corrupted copy gets one bit flipped, as sch_netem.c does: a random bit of a random byte of the skb's
 * linear part, which for a TCP/IP frame from a socket is its headers (Ethernet, IP, TCP: the payload sits in
 * page fragments), so the receiver's checksum or MAC filter discards it, except when the bit lands in the
 * source MAC address. A rule removed (tc qdisc del) drops the frames still inside it, as the kernel purges
 * a deleted qdisc's queue.
 *
 * Held frames wait in a bounded pool (LW_POOL_FRAMES copies of at most LW_FRAME_MAX bytes) ordered by due
 * time, then by arrival (netem's tfifo keeps equal times in order); a frame that finds the pool full is
 * dropped and counted. lw_core_pop() hands out the frames due at `now`, one at a time.
 *
 * The ledger. Per (port, IPv4 destination as written): frames seen, faulted (went through a rule), dropped
 * (no copy left the wire), duplicated, corrupted and reordered copies, copies sent and their delays. Per rule:
 * the qdisc's own counters (the kernel's decisions), the scheduled delays, and how late the wire released
 * its copies (release time - due time, measured at lw_core_pop). The core itself: frames in and out per
 * side, and the lateness of every release, which is the wire's own jitter beyond what it was told.
 *
 * Time is the caller's int64 nanoseconds, never going backwards between calls. No I/O, no clock, no global
 * state: a test drives it with hand-made frames. Ownership: lw_core_new() allocates everything (~15 MiB: the
 * pool and the qdiscs), lw_core_free() releases it.
 */
#ifndef PC_LAB_WIRE_CORE_H
#define PC_LAB_WIRE_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "faults/netem.h"
#include "faults/tbf.h"

#define LW_MAX_PORTS 32
#define LW_MAX_RULES 256    /* rules since the last lw_core_reset(), removed ones included */
#define LW_MAX_MATCH 32     /* CIDRs in one rule's destination set */
#define LW_MAX_STAGES 8     /* root rules plus the filtered one a frame passes through */
#define LW_FRAME_MAX 2048   /* the TAP devices have an MTU of 1500 and no offloads: frames <= 1514 */
#define LW_POOL_FRAMES 8192 /* held frames at once (2 s of delay at 4000 frames/s) */
#define LW_MAX_LINKS 1024   /* (port, destination) pairs in the ledger */
#define LW_LATE_BUCKETS 24  /* lateness histogram: bucket k counts [2^(k-1), 2^k) us, bucket 0 < 1 us */

typedef enum lw_side { LW_FROM_POD = 0, LW_FROM_NODE = 1 } lw_side;
typedef enum lw_kind { LW_NETEM = 0, LW_TBF = 1 } lw_kind;

typedef struct lw_cidr {
    uint32_t addr; /* IPv4, most significant octet first */
    int prefix;    /* 0..32 */
} lw_cidr;

typedef struct lw_rule_spec {
    char name[64]; /* the caller's id for it (unique among active rules) */
    int port;
    lw_kind kind;
    int filtered; /* 0: a root qdisc; 1: only IPv4 frames to a destination in `match` */
    lw_cidr match[LW_MAX_MATCH];
    int nmatch;
    netem_config netem;
    uint64_t seed; /* the netem PRNG's seed (the kernel draws one; Chaos Mesh passes none) */
    tbf_config tbf;
} lw_rule_spec;

typedef struct lw_rule_stats {
    char name[64];
    int port, active, kind;
    uint64_t seen;          /* frames (copies) that entered it */
    uint64_t dropped_loss;  /* netem random loss */
    uint64_t dropped_limit; /* netem limit, tbf bfifo limit or oversize */
    uint64_t duplicated, corrupted, reordered, delayed;
    uint64_t released;    /* copies that left it */
    uint64_t purged;      /* copies inside when it was removed (dropped) */
    int64_t sched_sum_ns; /* sum of (due - entry) over released copies */
    double sched_sq_ns2;  /* and of its square */
    int64_t sched_min_ns, sched_max_ns;
    uint64_t late_hist[LW_LATE_BUCKETS]; /* release time - due, for its copies */
    int64_t late_max_ns;
} lw_rule_stats;

typedef struct lw_link_stats {
    int port;
    uint32_t dst;
    uint64_t seen, faulted, dropped, duplicated, corrupted, reordered, delayed, sent;
    int64_t delay_sum_ns; /* scheduled delay (due - offered) summed over sent copies */
} lw_link_stats;

typedef struct lw_self_stats {
    uint64_t frames_in[2], frames_out[2], bytes_in[2]; /* by lw_side of arrival */
    uint64_t pool_drops, too_big, no_port;
    uint32_t pool_high;
    uint64_t late_hist[LW_LATE_BUCKETS]; /* every release: pop time - due */
    int64_t late_max_ns;
} lw_self_stats;

/* One frame leaving the wire. */
typedef struct lw_out {
    int port;
    lw_side from; /* LW_FROM_POD: goes to the node's TAP; LW_FROM_NODE: to the pod's */
    uint32_t len;
    int64_t offered_ns, due_ns;
    uint8_t data[LW_FRAME_MAX];
} lw_out;

typedef struct lw_core lw_core;

lw_core *lw_core_new(uint64_t seed);
void lw_core_free(lw_core *c);

/* A port named `name`; its id (0..LW_MAX_PORTS-1), or -1 when all are taken or the name is in use. */
int lw_port_add(lw_core *c, const char *name);
int lw_port_find(const lw_core *c, const char *name);
const char *lw_port_name(const lw_core *c, int port);
/* Removes a port, its rules and the frames it holds. */
void lw_port_del(lw_core *c, int port);

/* Installs a rule; returns its index, or -1 with a message (bad port, duplicate name, too many, netem/tbf
 * refusing the configuration in tc's words). */
int lw_rule_add(lw_core *c, const lw_rule_spec *spec, char *err, size_t errlen);
int lw_rule_find(const lw_core *c, const char *name); /* an active rule by name, or -1 */
/* Removes an active rule (by index); the frames inside it are dropped, as the kernel drops a deleted
 * qdisc's queue, and counted; returns how many. With keep_held they leave at their due time instead (what
 * the simulator assumes: a lab knob to measure what the purge costs). */
uint64_t lw_rule_del(lw_core *c, int rule, int keep_held);

/* Offers one frame that arrived on `port` from `from` at now_ns. Returns the copies now held (0: dropped). */
int lw_core_offer(lw_core *c, int port, lw_side from, int64_t now_ns, const uint8_t *frame, uint32_t len);
/* The earliest due time of a held frame, or INT64_MAX. */
int64_t lw_core_next_due(const lw_core *c);
/* Fills *out with the next frame due at or before now_ns and returns 1, or returns 0. */
int lw_core_pop(lw_core *c, int64_t now_ns, lw_out *out);
/* Frames held at the moment. */
uint32_t lw_core_held(const lw_core *c);

/* Zeroes every counter and forgets removed rules (active ones keep their qdisc state). */
void lw_core_reset(lw_core *c);
int lw_rule_count(const lw_core *c);
const lw_rule_stats *lw_rule_get(const lw_core *c, int rule);
/* Every link with traffic, in (port, destination) order. */
void lw_foreach_link(const lw_core *c, void (*fn)(void *ctx, const lw_link_stats *s), void *ctx);
const lw_self_stats *lw_self(const lw_core *c);
/* The current order of a port's filtered rules (indexes, the winner last); returns how many. */
int lw_port_order(const lw_core *c, int port, int *out, int max);

/* The IPv4 destination of an Ethernet frame, 0 when it is not IPv4 (or too short). */
uint32_t lw_frame_ipv4_dst(const uint8_t *frame, uint32_t len);
/* The length of an Ethernet + IPv4 + TCP/UDP header (netem's skb_headlen for a socket's frame), or the
 * frame's length when shorter or not IPv4. */
uint32_t lw_frame_headlen(const uint8_t *frame, uint32_t len);
/* Histogram bucket of a lateness. */
int lw_late_bucket(int64_t late_ns);
/* Counts `ns` in a lateness histogram (LW_LATE_BUCKETS buckets) and raises *max to it. */
void lw_hist_note(uint64_t *hist, int64_t *max, int64_t ns);

#endif
