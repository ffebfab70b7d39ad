/*
 * faults/netem.c: the decisions of one netem qdisc, packet by packet.
 *
 * Mirrors Linux 6.x net/sched/sch_netem.c (init_crandom, get_crandom, loss_event, tabledist,
 * packet_time_ns, netem_enqueue, netem_change) and iproute2 tc/q_netem.c (set_percent,
 * get_ticks, the reorder/gap defaults, the TCA_NETEM_CORR rule). Contract, units and ownership:
 * see netem.h. Pure and deterministic: state lives in the caller's netem_qdisc only.
 */
#include "faults/netem.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_USEC 1000LL
/* PSCHED_SHIFT: the kernel's packet-scheduler tick is 2^6 = 64 ns. */
#define PSCHED_TICK_NS 64LL

/* Mixed into the seed of the side PRNG that stands in for the kernel's get_random_u32(), so
 * the correlation states do not start from the main stream's own numbers. Any odd constant. */
#define NETEM_ENTROPY_SALT 0x9E3779B97F4A7C15ULL

uint32_t netem_percent_to_u32(double pct) {
    /* iproute2 does not clamp; out-of-range doubles would be undefined in C, so we do. */
    if (!(pct > 0.0)) return 0;
    if (pct >= 100.0) return UINT32_MAX;
    return (uint32_t)rint(pct / 100.0 * (double)UINT32_MAX);
}

int64_t netem_tc_time_ns(int64_t ns) {
    if (ns < 0) return -1;
    /* tc get_time(): the value in whole microseconds (an unsigned int). */
    int64_t us = ns / NSEC_PER_USEC;
    if (us > (int64_t)UINT_MAX) return -1;
    /* tc_core_time2tick(): us * tick_in_usec, tick_in_usec = 1000 / 64 = 15.625 from
     * /proc/net/psched, truncated to unsigned. us * 125 / 8 is the same product, exactly. */
    int64_t ticks = us * 125 / 8;
    if (ticks > (int64_t)UINT32_MAX) /* tc_core_time2big(): "Illegal time (too large)" */
        return -1;
    /* Kernel netem_change(): PSCHED_TICKS2NS(ticks) = ticks << 6. */
    return ticks * PSCHED_TICK_NS;
}

uint32_t netem_get_crandom(netem_crnd *state, prandom_state *prng) {
    if (state == NULL || state->rho == 0) return prandom_u32_state(prng);

    /* X_n = (1 - r) U_n + r X_{n-1} in 32.32 fixed point, r = (rho + 1) / 2^32. Cannot
     * overflow: both weights sum to 2^32 and both operands are below 2^32. */
    uint64_t value = prandom_u32_state(prng);
    uint64_t rho = (uint64_t)state->rho + 1u;
    uint64_t answer = (value * ((1ULL << 32) - rho) + (uint64_t)state->last * rho) >> 32;
    state->last = (uint32_t)answer;
    return (uint32_t)answer;
}

int64_t netem_tabledist(int64_t mu_ns, int32_t sigma_ns, netem_crnd *state, prandom_state *prng) {
    assert(sigma_ns >= 0);
    if (sigma_ns == 0) return mu_ns; /* no draw at all: a jitter-free delay does not consume randomness */

    uint32_t rnd = netem_get_crandom(state, prng);
    /* The kernel's default "uniform" distribution is a plain modulo of a u32, so it carries the
     * modulo bias: with 2 * sigma = 1e9 the lowest 29.5 % of the range is 25 % more likely. */
    uint32_t span = 2u * (uint32_t)sigma_ns;
    return ((int64_t)(rnd % span) + mu_ns) - sigma_ns;
}

/* sch_netem.c packet_time_ns(): serialisation time of len bytes at the configured rate. */
static int64_t packet_time_ns(const netem_qdisc *q, uint32_t packet_bytes) {
    int64_t len = (int64_t)packet_bytes + q->packet_overhead_bytes;

    if (q->cell_size_bytes != 0) {
        /* Whole cells (ATM-like framing): round up, then pay the per-cell overhead. */
        int64_t cells = len / q->cell_size_bytes;
        if (len > cells * (int64_t)q->cell_size_bytes) cells++;
        len = cells * ((int64_t)q->cell_size_bytes + q->cell_overhead_bytes);
    }
    if (len <= 0) return 0;
    return (int64_t)(((uint64_t)len * (uint64_t)NSEC_PER_SEC) / q->rate_bytes_per_s);
}

/* ---- occupancy heap: departure times of packets still inside the qdisc ---- */

static void heap_push(netem_qdisc *q, int64_t t_ns) {
    assert(q->qlen < NETEM_LIMIT_MAX + 1);
    uint32_t i = q->qlen++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (q->heap_ns[parent] <= t_ns) break;
        q->heap_ns[i] = q->heap_ns[parent];
        i = parent;
    }
    q->heap_ns[i] = t_ns;
    if (q->qlen == 1 || t_ns > q->last_time_to_send_ns) q->last_time_to_send_ns = t_ns;
}

static void heap_pop(netem_qdisc *q) {
    int64_t moved = q->heap_ns[--q->qlen];
    uint32_t i = 0;
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= q->qlen) break;
        if (child + 1 < q->qlen && q->heap_ns[child + 1] < q->heap_ns[child]) child++;
        if (moved <= q->heap_ns[child]) break;
        q->heap_ns[i] = q->heap_ns[child];
        i = child;
    }
    if (q->qlen > 0) q->heap_ns[i] = moved;
}

/* Packets whose time_to_send has come are dequeued by the kernel as soon as the watchdog
 * fires; with an idle device that is at time_to_send, so they no longer count in qlen. Popping
 * the minimum first keeps last_time_to_send_ns (the maximum) valid until the heap is empty. */
static void purge(netem_qdisc *q, int64_t now_ns) {
    while (q->qlen > 0 && q->heap_ns[0] <= now_ns) heap_pop(q);
}

uint32_t netem_qlen(netem_qdisc *q, int64_t now_ns) {
    purge(q, now_ns);
    return q->qlen;
}

/* ---- configuration ---- */

int netem_init(netem_qdisc *q, const netem_config *cfg, uint64_t seed) {
    if (q == NULL || cfg == NULL) return NETEM_ERR_ARG;
    memset(q, 0, sizeof(*q));

    uint32_t limit = cfg->limit_packets ? cfg->limit_packets : NETEM_DEFAULT_LIMIT_PACKETS;
    if (limit > NETEM_LIMIT_MAX) return NETEM_ERR_LIMIT;

    int64_t latency_ns = netem_tc_time_ns(cfg->latency_ns);
    int64_t jitter_ns = netem_tc_time_ns(cfg->jitter_ns);
    if (latency_ns < 0 || jitter_ns < 0) return NETEM_ERR_TIME;

    uint32_t reorder = netem_percent_to_u32(cfg->reorder_pct);
    uint32_t gap = cfg->reorder_gap;
    if (reorder != 0) {
        /* tc compares the tick count, so a delay that truncates to 0 ticks counts as none. */
        if (latency_ns == 0) return NETEM_ERR_REORDER_NO_DELAY;
        if (gap == 0) gap = 1; /* tc: "if (opt.gap == 0) opt.gap = 1" */
    } else if (gap != 0) {
        return NETEM_ERR_GAP_NO_REORDER;
    }
    if (cfg->rate_bytes_per_s != 0 && cfg->cell_size_bytes != 0 &&
        (int64_t)cfg->cell_size_bytes + cfg->cell_overhead_bytes <= 0)
        return NETEM_ERR_RATE;

    q->limit = limit;
    q->latency_ns = latency_ns;
    /* netem_change(): "capping jitter to the range acceptable by tabledist()" */
    q->jitter_ns = jitter_ns > INT32_MAX ? INT32_MAX : jitter_ns;
    q->gap = gap;
    q->loss = netem_percent_to_u32(cfg->loss_pct);
    q->duplicate = netem_percent_to_u32(cfg->duplicate_pct);
    q->corrupt = netem_percent_to_u32(cfg->corrupt_pct);
    q->reorder = reorder;
    q->rate_bytes_per_s = cfg->rate_bytes_per_s;
    q->packet_overhead_bytes = cfg->packet_overhead_bytes;
    q->cell_size_bytes = cfg->cell_size_bytes;
    q->cell_overhead_bytes = cfg->cell_overhead_bytes;
    q->last_now_ns = INT64_MIN;

    /* iproute2 sends TCA_NETEM_CORR (delay, loss and duplicate correlations) only when a delay
     * (after a jitter), loss, reorder or corrupt correlation was typed: a duplicate correlation
     * alone is silently not sent, and the kernel keeps rho = 0 for all three. */
    bool corr_sent = (cfg->jitter_ns > 0 && netem_percent_to_u32(cfg->delay_corr_pct) != 0) ||
                     netem_percent_to_u32(cfg->loss_corr_pct) != 0 ||
                     netem_percent_to_u32(cfg->reorder_corr_pct) != 0 ||
                     netem_percent_to_u32(cfg->corrupt_corr_pct) != 0;
    if (corr_sent) {
        q->delay_cor.rho = netem_percent_to_u32(cfg->delay_corr_pct);
        q->loss_cor.rho = netem_percent_to_u32(cfg->loss_corr_pct);
        q->dup_cor.rho = netem_percent_to_u32(cfg->duplicate_corr_pct);
    }
    q->reorder_cor.rho = netem_percent_to_u32(cfg->reorder_corr_pct);
    q->corrupt_cor.rho = netem_percent_to_u32(cfg->corrupt_corr_pct);

    /* netem_init(): prandom_seed_state(&q->prng.prng_state, seed), no warm-up. */
    prandom_seed_state(&q->prng, seed);

    /* init_crandom(): last = get_random_u32(), in netem_change()'s order (delay, loss, dup from
     * get_correlation, then reorder, then corrupt). A side stream keeps the main one intact. */
    prandom_state entropy;
    prandom_seed_state(&entropy, seed ^ NETEM_ENTROPY_SALT);
    prandom_warmup(&entropy);
    q->delay_cor.last = prandom_u32_state(&entropy);
    q->loss_cor.last = prandom_u32_state(&entropy);
    q->dup_cor.last = prandom_u32_state(&entropy);
    q->reorder_cor.last = prandom_u32_state(&entropy);
    q->corrupt_cor.last = prandom_u32_state(&entropy);
    return NETEM_OK;
}

const char *netem_strerror(int code) {
    switch (code) {
    case NETEM_OK: return "ok";
    case NETEM_ERR_ARG: return "netem: NULL qdisc or config";
    case NETEM_ERR_LIMIT: return "netem: limit above NETEM_LIMIT_MAX";
    case NETEM_ERR_TIME: return "netem: latency/jitter negative or too large for tc (>= 2^32 ticks of 64 ns)";
    case NETEM_ERR_REORDER_NO_DELAY: return "netem: reordering not possible without specifying some delay";
    case NETEM_ERR_GAP_NO_REORDER: return "netem: gap specified without reorder probability";
    case NETEM_ERR_RATE: return "netem: cell size plus cell overhead must be positive";
    default: return "netem: unknown error";
    }
}

/* ---- per packet ---- */

static bool loss_event(netem_qdisc *q) {
    /* CLG_RANDOM: 0 => never (and no draw), ~0 => always. */
    return q->loss != 0 && q->loss >= netem_get_crandom(&q->loss_cor, &q->prng);
}

static bool corrupt_event(netem_qdisc *q) {
    return q->corrupt != 0 && q->corrupt >= netem_get_crandom(&q->corrupt_cor, &q->prng);
}

/* The tail of netem_enqueue() once a copy is admitted: the reorder-or-delay choice and the
 * insertion into the tfifo (here: the occupancy heap). */
static void schedule_copy(netem_qdisc *q, int64_t now_ns, uint32_t packet_bytes, netem_copy *c) {
    c->fate = NETEM_SENT;
    /* gap - 1 is u32 arithmetic in the kernel; gap == 0 is tested first so it cannot wrap. */
    bool delay_it = q->gap == 0 || q->counter < q->gap - 1 || q->reorder < netem_get_crandom(&q->reorder_cor, &q->prng);

    if (!delay_it) {
        /* __qdisc_enqueue_head(): jumps the queue, leaves at once. */
        q->counter = 0;
        c->reordered = true;
        c->time_to_send_ns = now_ns;
        heap_push(q, now_ns);
        q->stats.reordered++;
        return;
    }

    int64_t delay_ns = netem_tabledist(q->latency_ns, (int32_t)q->jitter_ns, &q->delay_cor, &q->prng);
    int64_t base_ns = now_ns;
    if (q->rate_bytes_per_s != 0) {
        /* With a rate the link is a single server: count from the last queued packet's
         * time_to_send, keeping only the part of the random delay that exceeds the wait. */
        if (q->qlen > 0) {
            delay_ns -= q->last_time_to_send_ns - now_ns;
            if (delay_ns < 0) delay_ns = 0;
            base_ns = q->last_time_to_send_ns;
        }
        delay_ns += packet_time_ns(q, packet_bytes);
    }
    int64_t tts_ns = base_ns + delay_ns;
    q->counter++;
    heap_push(q, tts_ns);

    /* jitter > latency gives negative delays: the kernel files such a packet in the past and
     * dequeues it immediately, so to the caller it leaves now. */
    c->time_to_send_ns = tts_ns > now_ns ? tts_ns : now_ns;
    if (tts_ns > now_ns) q->stats.delayed++;
}

/* A copy after the duplicate decision: loss, corruption, limit, then scheduling. Used for the
 * duplicate, which re-enters the qdisc from the root (the Chaos Mesh prio/CLASSIFY setup sends
 * it back to this same netem, since the clone keeps skb->priority) with duplication disabled. */
static void enqueue_duplicate(netem_qdisc *q, int64_t now_ns, uint32_t packet_bytes, netem_copy *c) {
    if (loss_event(q)) {
        c->fate = NETEM_DROP_LOSS;
        q->stats.dropped_loss++;
        return;
    }
    c->corrupted = corrupt_event(q);
    if (q->qlen >= q->limit) {
        c->fate = NETEM_DROP_LIMIT;
        c->corrupted = false;
        q->stats.dropped_limit++;
        return;
    }
    if (c->corrupted) q->stats.corrupted++;
    schedule_copy(q, now_ns, packet_bytes, c);
}

unsigned netem_enqueue_bytes(netem_qdisc *q, int64_t now_ns, uint32_t packet_bytes, netem_verdict *out) {
    assert(q != NULL && out != NULL);
    assert(now_ns >= q->last_now_ns); /* virtual time must not run backwards */
    q->last_now_ns = now_ns;
    purge(q, now_ns);
    memset(out, 0, sizeof(*out));
    out->copies = 1;
    q->stats.enqueued++;

    int count = 1;
    if (q->duplicate != 0 && q->duplicate >= netem_get_crandom(&q->dup_cor, &q->prng)) count++;
    if (loss_event(q)) count--; /* no ecn: Chaos Mesh never sets it */
    if (count == 0) {
        out->copy[0].fate = NETEM_DROP_LOSS;
        q->stats.dropped_loss++;
        return 0;
    }

    netem_copy *orig = &out->copy[0];
    orig->corrupted = corrupt_event(q);

    if (q->qlen >= q->limit) {
        /* qdisc_drop_all(): the original and the not-yet-enqueued clone both go. */
        out->copies = (unsigned)count;
        for (int i = 0; i < count; i++) {
            out->copy[i].fate = NETEM_DROP_LIMIT;
            out->copy[i].corrupted = false;
        }
        q->stats.dropped_limit += (uint64_t)count;
        return 0;
    }

    if (count > 1) {
        /* The clone was taken before the original was corrupted, and is enqueued first. */
        out->copies = 2;
        q->stats.duplicated++;
        enqueue_duplicate(q, now_ns, packet_bytes, &out->copy[1]);
    }

    if (orig->corrupted) q->stats.corrupted++;
    schedule_copy(q, now_ns, packet_bytes, orig);

    unsigned sent = 0;
    for (unsigned i = 0; i < out->copies; i++) sent += out->copy[i].fate == NETEM_SENT;
    return sent;
}

unsigned netem_enqueue(netem_qdisc *q, int64_t now_ns, netem_verdict *out) {
    return netem_enqueue_bytes(q, now_ns, 0, out);
}

unsigned netem_verdict_delivered(const netem_verdict *v) {
    unsigned n = 0;
    for (unsigned i = 0; i < v->copies && i < 2; i++) n += v->copy[i].fate == NETEM_SENT && !v->copy[i].corrupted;
    return n;
}
