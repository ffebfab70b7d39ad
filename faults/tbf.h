/*
 * faults/tbf.h: one Linux token bucket filter (tbf qdisc), as Chaos Mesh's NetworkChaos
 * `bandwidth` action installs it, computed at enqueue time.
 *
 * Contract. tbf_enqueue() decides, for one packet of packet_bytes offered at now_ns, what Linux
 * 6.x net/sched/sch_tbf.c (tbf_enqueue, tbf_dequeue) plus its default bfifo child do:
 *   - packet_bytes > max_size (the burst, or min(burst, mtu) with a peak rate): dropped, as the
 *     kernel drops a non-GSO packet that can never collect enough tokens;
 *   - backlog + packet_bytes > limit_bytes: dropped by the bfifo child (tail drop);
 *   - otherwise it joins the FIFO and leaves at the first instant the bucket (and the peak
 *     bucket) holds enough tokens after the previous packet left. That is exactly when the
 *     kernel's watchdog fires (now + max(-toks, -ptoks)), assuming the device itself is idle.
 * Because the queue is FIFO and tokens only depend on the departures before, every departure
 * time is known at enqueue; the caller delivers the packet at departure_ns.
 *
 * Units and truncation. Tokens are nanoseconds of transmission time, as in the kernel. The
 * time to send len bytes is psched_l2t_ns(): (len * mult) >> shift with mult/shift from
 * psched_ratecfg_precompute() (net/sched/sch_generic.c), not len * 1e9 / rate, so the
 * kernel's truncation is reproduced. tc sends the burst in bytes (TCA_TBF_BURST) and the kernel
 * derives buffer_ns = psched_l2t_ns(rate, burst); likewise mtu_ns from TCA_TBF_PBURST.
 * Rates are bytes per second (psched_ratecfg.rate_bytes_ps). No overhead, mpu or ATM linklayer
 * (Chaos Mesh never passes them). packet_bytes should be the L2 length the qdisc sees
 * (IP length + 14 on Ethernet).
 *
 * Chaos Mesh units (read from the code; see tbf.c for the pipeline):
 *   - bandwidth.rate "N<unit>": bps/kbps/mbps/gbps/tbps are BYTES per second scaled by 1024
 *     (1mbps = 1048576 B/s), bit/kbit/mbit/gbit/tbit are bits scaled by 1000, divided by 8
 *     (1mbit = 125000 B/s). tbf_parse_rate() returns that documented value.
 *   - but chaos-daemon prints that number bare into `tc qdisc ... tbf rate %d`, and tc reads a
 *     bare rate as BITS per second: the kernel rate is the documented value / 8 (reported upstream:
 *     github.com/chaos-mesh/chaos-mesh/issues/4118, "set 1bps ... but get 1bit").
 *     tbf_config_from_chaos_mesh() applies that, so "1mbps" ends up as 131072 B/s in the kernel, and
 *     "1bps" (0 B/s) is refused as tc refuses it.
 *   - limit and buffer are bytes; peakrate is printed bare too (bits/s -> /8); minburst is the
 *     peak bucket in bytes (tc "mtu").
 *
 * Ownership: the caller owns tbf_config, tbf_qdisc (~128 KiB, the FIFO is inline) and
 * tbf_verdict. Nothing allocates; no globals; no clock.
 */
#ifndef PC_FAULTS_TBF_H
#define PC_FAULTS_TBF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Packets the model can hold at once. The kernel bound is limit_bytes; a packet that finds
 * this many already queued is dropped as TBF_DROP_SLOTS (and counted), which only happens with
 * a limit above ~8192 packets' worth of bytes. */
#define TBF_QUEUE_MAX_PACKETS 8192u

enum {
    TBF_OK = 0,
    TBF_ERR_ARG = -1,   /* NULL pointer */
    TBF_ERR_RATE = -2,  /* rate 0: tc "the \"rate\" parameter is mandatory" */
    TBF_ERR_BURST = -3, /* burst 0: nothing could ever be sent */
    TBF_ERR_LIMIT = -4, /* limit 0: tc wants "limit" or "latency" */
    TBF_ERR_PEAK = -5,  /* peak rate without mtu, or not above rate (kernel EINVAL) */
    TBF_ERR_PARSE = -6, /* bad rate string */
    TBF_ERR_RANGE = -7, /* rate string overflows 64 bits */
};

typedef struct tbf_config {
    uint64_t rate_bytes_per_s;     /* token rate as the kernel holds it */
    uint32_t burst_bytes;          /* bucket size (tc burst/buffer/maxburst) */
    uint32_t limit_bytes;          /* bfifo limit: bytes allowed to wait for tokens */
    uint64_t peakrate_bytes_per_s; /* 0 = no peak bucket */
    uint32_t mtu_bytes;            /* peak bucket size (tc mtu/minburst); needed with a peak */
} tbf_config;

/* psched_ratecfg: time_ns(len) = (len * mult) >> shift. */
typedef struct tbf_ratecfg {
    uint64_t rate_bytes_per_s;
    uint32_t mult;
    uint8_t shift;
} tbf_ratecfg;

typedef enum tbf_fate {
    TBF_SENT = 0,
    TBF_DROP_OVERSIZE, /* larger than the bucket: can never be sent */
    TBF_DROP_LIMIT,    /* bfifo full */
    TBF_DROP_SLOTS,    /* this model's TBF_QUEUE_MAX_PACKETS reached (not a kernel drop) */
} tbf_fate;

typedef struct tbf_verdict {
    tbf_fate fate;
    int64_t departure_ns; /* when it leaves the qdisc; valid when fate == TBF_SENT */
} tbf_verdict;

typedef struct tbf_counters {
    uint64_t enqueued;
    uint64_t sent;
    uint64_t sent_bytes;
    uint64_t dropped_oversize;
    uint64_t dropped_limit;
    uint64_t dropped_slots;
} tbf_counters;

typedef struct tbf_slot {
    int64_t departure_ns;
    uint32_t packet_bytes;
} tbf_slot;

typedef struct tbf_qdisc {
    tbf_ratecfg rate, peak;
    bool has_peak;
    int64_t buffer_ns; /* bucket depth in ns of transmission time */
    int64_t mtu_ns;    /* peak bucket depth */
    uint32_t max_size_bytes;
    uint32_t limit_bytes;

    /* Bucket state after the last scheduled departure (kernel t_c, tokens, ptokens). */
    bool started;
    int64_t t_c_ns;
    int64_t tokens_ns;
    int64_t ptokens_ns;
    int64_t last_now_ns;

    /* FIFO of packets still queued (departure > now), oldest at head. */
    uint32_t head, count;
    uint64_t backlog_bytes;
    tbf_slot fifo[TBF_QUEUE_MAX_PACKETS];

    tbf_counters stats;
} tbf_qdisc;

/* net/sched/sch_generic.c psched_ratecfg_precompute() and psched_l2t_ns(). */
void tbf_ratecfg_init(tbf_ratecfg *r, uint64_t rate_bytes_per_s);
int64_t tbf_l2t_ns(const tbf_ratecfg *r, uint32_t len_bytes);

/* Configure q (tbf_init + tbf_change). Returns TBF_OK or a TBF_ERR_*. */
int tbf_init(tbf_qdisc *q, const tbf_config *cfg);

/* Decide one packet offered at now_ns (non-decreasing across calls). Fills *out; returns true
 * when the packet will be sent (fate TBF_SENT). */
bool tbf_enqueue(tbf_qdisc *q, int64_t now_ns, uint32_t packet_bytes, tbf_verdict *out);

/* Bytes waiting in the qdisc at now_ns (the bfifo backlog). */
uint64_t tbf_backlog_bytes(tbf_qdisc *q, int64_t now_ns);

/* Parse a Chaos Mesh bandwidth rate ("1mbps", "100kbps", "10bps", "1gbps", "5mbit", ...;
 * case-insensitive, spaces around the number allowed, whole numbers only) into the bytes per
 * second the CRD documents. Returns TBF_OK, or TBF_ERR_PARSE / TBF_ERR_RANGE / TBF_ERR_ARG with a
 * one-line message naming the string in err (when err != NULL and err_len > 0). */
int tbf_parse_rate(const char *text, uint64_t *bytes_per_s, char *err, size_t err_len);

/* The kernel rate that results from a documented rate once chaos-daemon prints it bare to tc
 * (bits per second): bytes_per_s / 8, truncated. */
uint64_t tbf_chaos_mesh_kernel_rate(uint64_t documented_bytes_per_s);

/* Build the kernel-side config from NetworkChaos bandwidth fields (rate string, limit, buffer,
 * optional peakrate/minburst; pass peakrate 0 when unset), as the chaos-daemon + tc pipeline
 * does. Errors as tbf_parse_rate(), plus TBF_ERR_RATE when the rate truncates to 0 in tc. */
int tbf_config_from_chaos_mesh(const char *rate, uint32_t limit, uint32_t buffer, uint64_t peakrate, uint32_t minburst,
                               tbf_config *out, char *err, size_t err_len);

const char *tbf_strerror(int code);

#endif /* PC_FAULTS_TBF_H */
