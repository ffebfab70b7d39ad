/*
 * faults/netem.h: one Linux netem qdisc, as Chaos Mesh installs it, decided packet by packet.
 *
 * Contract. netem_enqueue() makes, for one packet handed to the qdisc at now_ns, exactly the
 * decisions Linux 6.x net/sched/sch_netem.c netem_enqueue() makes, drawing the same numbers
 * from the same PRNG in the same order:
 *   1. duplicate:  duplicate && duplicate >= get_crandom(dup_cor)        -> two copies
 *   2. loss:       loss && loss >= get_crandom(loss_cor)                 -> one copy fewer
 *                  (a duplicated packet that "loses" one copy still sends one; nothing dropped)
 *   3. corrupt:    corrupt && corrupt >= get_crandom(corrupt_cor)        -> one bit flipped
 *   4. limit:      qlen >= limit                                         -> tail drop (both copies)
 *   5. the duplicate re-enters the qdisc (steps 2-6, never step 1) before the original goes on
 *   6. reorder:    gap && counter >= gap - 1 && reorder >= get_crandom(reorder_cor)
 *                                                                         -> sent now, counter = 0
 *      else delay: tabledist(latency, jitter, delay_cor), plus the serialisation time when a
 *                  rate is set (counted from the last queued packet), counter++.
 * Each draw happens only when its feature is on (the kernel's && short-circuits). All draws share
 * one PRNG, so switching a feature on shifts the numbers every later decision sees, in the kernel
 * as here.
 *
 * What the caller does with a verdict: deliver every copy whose fate is NETEM_SENT at its
 * time_to_send_ns (packets overtake each other when their times cross: that is netem's jitter
 * reordering, since the kernel's tfifo releases the earliest time_to_send first). A corrupted
 * copy still leaves the qdisc; a TCP/IP receiver drops it on the checksum, so treat it as lost
 * after the send. netem_verdict_delivered() counts the copies that arrive intact.
 *
 * Time and units. All times are int64 nanoseconds of the caller's virtual clock; now_ns must not
 * go backwards between calls. Percentages in netem_config are 0..100 as written in a Chaos Mesh
 * manifest; netem_init() turns them into the kernel's u32 fractions with iproute2's
 * rint(pct / 100 * UINT32_MAX). Latency and jitter go through the same lossy path as with tc:
 * tc (q_netem.c get_ticks) truncates the time to whole microseconds, converts it to 64 ns
 * psched ticks with (unsigned)(us * 15.625) and sends a u32 tick count; the kernel
 * (netem_change) multiplies back by 64 (PSCHED_TICKS2NS) into its s64 nanosecond fields, then
 * caps jitter at INT_MAX ns (2.147483647 s) because tabledist() takes an s32 sigma. So 2 s and
 * 500 ms survive exactly, 1 us becomes 960 ns, and times >= 2^32 ticks (~274.9 s) are refused
 * as tc refuses them. netem_tc_time_ns() exposes that conversion.
 *
 * Randomness. The qdisc owns a prandom_state seeded with prandom_seed_state(seed), exactly as
 * the kernel does for `tc ... netem ... seed <seed>` (TCA_NETEM_PRNG_SEED, Linux >= 6.6). The
 * kernel starts every correlation state's `last` from get_random_u32(), a different entropy
 * source; we draw those from a second PRNG derived from the same seed, so runs are reproducible
 * and the main sequence stays identical to the kernel's for the same seed.
 *
 * Queue occupancy. The kernel's sch->q.qlen counts packets still inside netem (time_to_send not
 * reached, or sent-now reorders not yet dequeued). We keep their departure times in a bounded
 * min-heap and forget those with time_to_send <= now at each enqueue, i.e. we assume the device
 * behind netem is never the bottleneck. limit must be <= NETEM_LIMIT_MAX.
 *
 * Not modelled (Chaos Mesh never sets them): delay distribution tables (jitter is uniform, the
 * kernel's default), the 4-state and Gilbert-Elliott loss models, ecn marking, slot
 * scheduling, GSO segmentation on corruption, child qdiscs.
 *
 * Ownership: the caller owns netem_config, netem_qdisc and netem_verdict (all plain structs;
 * netem_qdisc is ~64 KiB because the heap is inline). Nothing allocates; no globals; no clock.
 */
#ifndef PC_FAULTS_NETEM_H
#define PC_FAULTS_NETEM_H

#include <stdbool.h>
#include <stdint.h>

#include "faults/prandom.h"

/* iproute2's default `limit` when none is given (Chaos Mesh never gives one). */
#define NETEM_DEFAULT_LIMIT_PACKETS 1000u
/* Largest limit this model accepts; the heap holds limit + 1 entries (see netem.c). */
#define NETEM_LIMIT_MAX 8192u

/* Error codes of netem_init (all negative). */
enum {
    NETEM_OK = 0,
    NETEM_ERR_ARG = -1,              /* NULL pointer */
    NETEM_ERR_LIMIT = -2,            /* limit_packets > NETEM_LIMIT_MAX */
    NETEM_ERR_TIME = -3,             /* latency/jitter negative or too large for tc */
    NETEM_ERR_REORDER_NO_DELAY = -4, /* tc: "reordering not possible without specifying some delay" */
    NETEM_ERR_GAP_NO_REORDER = -5,   /* tc: "gap specified without reorder probability" */
    NETEM_ERR_RATE = -6,             /* packet overhead / cell size make no sense */
};

/* Correlated random state (sch_netem.c struct crndstate): rho and last are u32 fractions of 2^32. */
typedef struct netem_crnd {
    uint32_t rho;
    uint32_t last;
} netem_crnd;

/* What a manifest (or a `tc qdisc add ... netem` line) asks for. Zero-initialised = no fault. */
typedef struct netem_config {
    double loss_pct; /* loss P [C] */
    double loss_corr_pct;
    int64_t latency_ns; /* delay TIME [JITTER [CORR]] */
    int64_t jitter_ns;
    double delay_corr_pct; /* tc only parses it after a jitter */
    double duplicate_pct;  /* duplicate P [C] */
    double duplicate_corr_pct;
    double corrupt_pct; /* corrupt P [C] */
    double corrupt_corr_pct;
    double reorder_pct; /* reorder P [C] [gap N]; needs latency_ns > 0 */
    double reorder_corr_pct;
    uint32_t reorder_gap;      /* 0 = tc's default of 1 when reorder_pct > 0 */
    uint32_t limit_packets;    /* 0 = NETEM_DEFAULT_LIMIT_PACKETS, as tc */
    uint64_t rate_bytes_per_s; /* rate R [OVERHEAD [CELLSIZE [CELLOVERHEAD]]]; 0 = none */
    int32_t packet_overhead_bytes;
    uint32_t cell_size_bytes;
    int32_t cell_overhead_bytes;
} netem_config;

typedef enum netem_fate {
    NETEM_SENT = 0,   /* leaves the qdisc at time_to_send_ns */
    NETEM_DROP_LOSS,  /* random loss (loss_event) */
    NETEM_DROP_LIMIT, /* tail drop: qlen >= limit */
} netem_fate;

typedef struct netem_copy {
    netem_fate fate;
    bool corrupted;          /* sent with one bit flipped: the receiver discards it */
    bool reordered;          /* sent at once by the reorder rule, ahead of queued packets */
    int64_t time_to_send_ns; /* when it leaves; >= now (see netem.c on negative delays) */
} netem_copy;

typedef struct netem_verdict {
    unsigned copies;    /* 1, or 2 when duplicated */
    netem_copy copy[2]; /* [0] the original, [1] the duplicate */
} netem_verdict;

typedef struct netem_counters {
    uint64_t enqueued;      /* packets offered (netem_enqueue calls) */
    uint64_t dropped_loss;  /* copies dropped by loss */
    uint64_t dropped_limit; /* copies tail-dropped */
    uint64_t duplicated;    /* packets that produced a second copy */
    uint64_t corrupted;     /* copies sent corrupted */
    uint64_t delayed;       /* copies queued with time_to_send > now */
    uint64_t reordered;     /* copies sent at once by the reorder rule */
} netem_counters;

typedef struct netem_qdisc {
    /* Parameters as the kernel holds them after netem_change(). */
    uint32_t loss, duplicate, corrupt, reorder; /* u32 fractions of 2^32 */
    uint32_t gap, limit;
    int64_t latency_ns, jitter_ns; /* after tc's tick truncation and the cap */
    uint64_t rate_bytes_per_s;
    int32_t packet_overhead_bytes;
    uint32_t cell_size_bytes;
    int32_t cell_overhead_bytes;
    netem_crnd delay_cor, loss_cor, dup_cor, reorder_cor, corrupt_cor;
    prandom_state prng;
    uint32_t counter; /* packets since the last reorder (gap logic) */

    /* Occupancy: departure times of the packets still inside, as a min-heap. */
    uint32_t qlen;
    int64_t last_time_to_send_ns; /* max over the heap; valid when qlen > 0 */
    int64_t last_now_ns;          /* to check now_ns never goes backwards */
    int64_t heap_ns[NETEM_LIMIT_MAX + 1];

    netem_counters stats;
} netem_qdisc;

/* iproute2 get_percent/set_percent: rint(pct / 100 * UINT32_MAX), pct clamped to 0..100
 * (NaN counts as 0). */
uint32_t netem_percent_to_u32(double pct);

/* The nanoseconds the kernel ends up with when tc is given `ns` as a delay or jitter:
 * whole microseconds, then 64 ns ticks, truncated at each step. -1 if negative or >= 2^32 ticks. */
int64_t netem_tc_time_ns(int64_t ns);

/* sch_netem.c get_crandom(): with state NULL or rho == 0 an independent uniform u32; else the
 * integer AR(1) mix ((u64)U * (2^32 - (rho+1)) + (u64)last * (rho+1)) >> 32, stored in last. */
uint32_t netem_get_crandom(netem_crnd *state, prandom_state *prng);

/* sch_netem.c tabledist() without a distribution table: mu when sigma == 0, else
 * (rnd % (2 * sigma)) + mu - sigma with rnd = get_crandom(state). sigma must be >= 0. */
int64_t netem_tabledist(int64_t mu_ns, int32_t sigma_ns, netem_crnd *state, prandom_state *prng);

/* Configure q (netem_init + netem_change in the kernel). Returns NETEM_OK or a NETEM_ERR_*;
 * after an error *q is unspecified and must not be used. */
int netem_init(netem_qdisc *q, const netem_config *cfg, uint64_t seed);

/* Decide the fate of one packet of packet_bytes (the L2 length qdisc_pkt_len() sees; only
 * used when a rate is set) offered at now_ns. Fills *out and returns the number of copies that
 * leave the qdisc (fate NETEM_SENT, corrupted or not). */
unsigned netem_enqueue_bytes(netem_qdisc *q, int64_t now_ns, uint32_t packet_bytes, netem_verdict *out);

/* netem_enqueue_bytes() for callers that do not model packet sizes (no rate set). */
unsigned netem_enqueue(netem_qdisc *q, int64_t now_ns, netem_verdict *out);

/* Copies that reach the receiver intact: fate NETEM_SENT and not corrupted. */
unsigned netem_verdict_delivered(const netem_verdict *v);

/* Packets inside the qdisc at now_ns (sch->q.qlen): forgets those that have left. */
uint32_t netem_qlen(netem_qdisc *q, int64_t now_ns);

/* A short English message for a NETEM_ERR_* code. */
const char *netem_strerror(int code);

#endif /* PC_FAULTS_NETEM_H */
