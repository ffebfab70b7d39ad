/*
 * faults/tbf.c: token bucket filter departures, computed at enqueue.
 *
 * Mirrors Linux 6.x net/sched/sch_tbf.c (tbf_change, tbf_enqueue, tbf_dequeue), the bfifo
 * child's limit test (net/sched/sch_fifo.c bfifo_enqueue), psched_ratecfg_precompute() and
 * psched_l2t_ns() (net/sched/sch_generic.c, include/net/sch_generic.h), and the Chaos Mesh
 * pipeline for the bandwidth action:
 *   api/v1alpha1 ConvertUnitToBytes(rate)          "1mbps" -> 1048576 (documented bytes/s)
 *   pkg/chaosdaemon/tc_server.go convertTbfToArgs   "rate 1048576 burst B limit L
 *                                                    [peakrate P mtu M]" (bare numbers)
 *   iproute2 tc/q_tbf.c + get_rate64()               bare rate = bit/s -> 131072 B/s;
 *                                                    burst/limit/mtu bare = bytes
 * Contract, units and ownership: see tbf.h.
 */
#include "faults/tbf.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000ULL

void tbf_ratecfg_init(tbf_ratecfg *r, uint64_t rate_bytes_per_s) {
    /* Largest mult that keeps len * mult from overflowing: double the dividend until the
     * quotient reaches 2^31 (or the dividend its top bit). */
    uint64_t factor = NSEC_PER_SEC;

    r->rate_bytes_per_s = rate_bytes_per_s;
    r->mult = 1;
    r->shift = 0;
    if (rate_bytes_per_s == 0) return;
    for (;;) {
        r->mult = (uint32_t)(factor / rate_bytes_per_s);
        if ((r->mult & (1u << 31)) || (factor & (1ULL << 63))) break;
        factor <<= 1;
        r->shift++;
    }
}

int64_t tbf_l2t_ns(const tbf_ratecfg *r, uint32_t len_bytes) {
    return (int64_t)(((uint64_t)len_bytes * r->mult) >> r->shift);
}

int tbf_init(tbf_qdisc *q, const tbf_config *cfg) {
    if (q == NULL || cfg == NULL) return TBF_ERR_ARG;
    if (cfg->rate_bytes_per_s == 0) return TBF_ERR_RATE;
    if (cfg->burst_bytes == 0) return TBF_ERR_BURST;
    if (cfg->limit_bytes == 0) return TBF_ERR_LIMIT;
    if (cfg->peakrate_bytes_per_s != 0 && (cfg->mtu_bytes == 0 || cfg->peakrate_bytes_per_s <= cfg->rate_bytes_per_s))
        return TBF_ERR_PEAK;

    memset(q, 0, sizeof(*q));
    tbf_ratecfg_init(&q->rate, cfg->rate_bytes_per_s);
    /* tbf_change() with TCA_TBF_BURST: max_size = burst, buffer = l2t(rate, burst). */
    q->max_size_bytes = cfg->burst_bytes;
    q->buffer_ns = tbf_l2t_ns(&q->rate, cfg->burst_bytes);
    if (cfg->peakrate_bytes_per_s != 0) {
        q->has_peak = true;
        tbf_ratecfg_init(&q->peak, cfg->peakrate_bytes_per_s);
        /* With TCA_TBF_PBURST: max_size = min(max_size, pburst), mtu = l2t(peak, pburst). */
        if (cfg->mtu_bytes < q->max_size_bytes) q->max_size_bytes = cfg->mtu_bytes;
        q->mtu_ns = tbf_l2t_ns(&q->peak, cfg->mtu_bytes);
    }
    q->limit_bytes = cfg->limit_bytes;
    /* The bucket starts full (tokens = buffer, ptokens = mtu); the start time is irrelevant
     * then, so t_c is taken at the first packet. */
    q->tokens_ns = q->buffer_ns;
    q->ptokens_ns = q->mtu_ns;
    q->last_now_ns = INT64_MIN;
    return TBF_OK;
}

static void purge(tbf_qdisc *q, int64_t now_ns) {
    /* Departures are FIFO-ordered, so the ones that have happened form a prefix. */
    while (q->count > 0 && q->fifo[q->head].departure_ns <= now_ns) {
        q->backlog_bytes -= q->fifo[q->head].packet_bytes;
        q->head = (q->head + 1) % TBF_QUEUE_MAX_PACKETS;
        q->count--;
    }
}

uint64_t tbf_backlog_bytes(tbf_qdisc *q, int64_t now_ns) {
    purge(q, now_ns);
    return q->backlog_bytes;
}

/*
 * When the head-of-line packet leaves, and the bucket state after it. tbf_dequeue() computes
 *   toks  = min(min(now - t_c, buffer) + tokens, buffer) - l2t(rate, len)
 *   ptoks = min(min(now - t_c, buffer) + ptokens, mtu)   - l2t(peak, len)
 * and sends iff both are >= 0, else sleeps until now + max(-toks, -ptoks). Since len <=
 * max_size keeps each need within its bucket, the first instant both hold is
 * t_c + max(need - tokens, pneed - ptokens), and no earlier than the packet reaches the head.
 */
static int64_t schedule_departure(tbf_qdisc *q, int64_t head_at_ns, uint32_t len) {
    int64_t need_ns = tbf_l2t_ns(&q->rate, len);
    int64_t pneed_ns = q->has_peak ? tbf_l2t_ns(&q->peak, len) : 0;

    int64_t wait_ns = need_ns - q->tokens_ns;
    if (q->has_peak && pneed_ns - q->ptokens_ns > wait_ns) wait_ns = pneed_ns - q->ptokens_ns;
    int64_t depart_ns = q->t_c_ns + (wait_ns > 0 ? wait_ns : 0);
    if (depart_ns < head_at_ns) depart_ns = head_at_ns;

    int64_t elapsed_ns = depart_ns - q->t_c_ns;
    int64_t toks = elapsed_ns < q->buffer_ns ? elapsed_ns : q->buffer_ns;
    int64_t ptoks = 0;
    if (q->has_peak) {
        ptoks = toks + q->ptokens_ns;
        if (ptoks > q->mtu_ns) ptoks = q->mtu_ns;
        ptoks -= pneed_ns;
    }
    toks += q->tokens_ns;
    if (toks > q->buffer_ns) toks = q->buffer_ns;
    toks -= need_ns;
    assert(toks >= 0 && ptoks >= 0);

    q->t_c_ns = depart_ns;
    q->tokens_ns = toks;
    q->ptokens_ns = ptoks;
    return depart_ns;
}

bool tbf_enqueue(tbf_qdisc *q, int64_t now_ns, uint32_t packet_bytes, tbf_verdict *out) {
    assert(q != NULL && out != NULL);
    assert(now_ns >= q->last_now_ns); /* virtual time must not run backwards */
    q->last_now_ns = now_ns;
    purge(q, now_ns);
    out->fate = TBF_SENT;
    out->departure_ns = 0;
    q->stats.enqueued++;

    if (packet_bytes > q->max_size_bytes) {
        out->fate = TBF_DROP_OVERSIZE;
        q->stats.dropped_oversize++;
        return false;
    }
    if (q->backlog_bytes + packet_bytes > q->limit_bytes) {
        out->fate = TBF_DROP_LIMIT;
        q->stats.dropped_limit++;
        return false;
    }
    if (q->count == TBF_QUEUE_MAX_PACKETS) {
        out->fate = TBF_DROP_SLOTS;
        q->stats.dropped_slots++;
        return false;
    }

    if (!q->started) {
        q->started = true;
        q->t_c_ns = now_ns;
    }
    /* An empty queue is served at once (enqueue runs the qdisc); otherwise the packet
     * reaches the head when the previous one leaves, which schedule_departure() accounts for
     * through t_c, the previous departure. */
    int64_t depart_ns = schedule_departure(q, now_ns, packet_bytes);

    uint32_t tail = (q->head + q->count) % TBF_QUEUE_MAX_PACKETS;
    q->fifo[tail].departure_ns = depart_ns;
    q->fifo[tail].packet_bytes = packet_bytes;
    q->count++;
    q->backlog_bytes += packet_bytes;

    q->stats.sent++;
    q->stats.sent_bytes += packet_bytes;
    out->departure_ns = depart_ns;
    return true;
}

/* ---- Chaos Mesh rate strings ---- */

/* Message: rate "<text>": <reason>. */
static void set_err(char *err, size_t err_len, const char *text, const char *reason) {
    if (err != NULL && err_len > 0) snprintf(err, err_len, "rate \"%s\": %s", text ? text : "(null)", reason);
}

static int ascii_lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Does the lowercased text[0..len) end with suffix? */
static bool ends_with(const char *text, size_t len, const char *suffix) {
    size_t n = strlen(suffix);
    if (n > len) return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)text[len - n + i]) != suffix[i]) return false;
    return true;
}

/* Go strconv.ParseUint(s, 10, 64) on text[0..len) after TrimSpace: digits only, no sign. */
static int parse_u64(const char *text, size_t len, uint64_t *out) {
    while (len > 0 && is_space((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len > 0 && is_space((unsigned char)text[len - 1])) len--;
    if (len == 0) return TBF_ERR_PARSE;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') return TBF_ERR_PARSE;
        unsigned d = (unsigned)(text[i] - '0');
        if (n > (UINT64_MAX - d) / 10) return TBF_ERR_RANGE;
        n = n * 10 + d;
    }
    *out = n;
    return TBF_OK;
}

int tbf_parse_rate(const char *text, uint64_t *bytes_per_s, char *err, size_t err_len) {
    /* Longest prefixes first, as Chaos Mesh tests them (so "kbps" wins over "bps"). Byte units
     * scale by 1024 (ConvertUnitToBytes); bit units by 1000, then / 8 (the bit branch of
     * pkg/chaosdaemon/netem/utils.go parseRate, added with the CRD's "bit, kbit, ..."). */
    static const struct {
        const char *suffix;
        uint64_t scale;
        bool bits;
    } units[] = {
        {"tbps", 1024ULL * 1024 * 1024 * 1024, false},
        {"gbps", 1024ULL * 1024 * 1024, false},
        {"mbps", 1024ULL * 1024, false},
        {"kbps", 1024ULL, false},
        {"bps", 1ULL, false},
        {"tbit", 1000ULL * 1000 * 1000 * 1000, true},
        {"gbit", 1000ULL * 1000 * 1000, true},
        {"mbit", 1000ULL * 1000, true},
        {"kbit", 1000ULL, true},
        {"bit", 1ULL, true},
    };

    if (text == NULL || bytes_per_s == NULL) {
        set_err(err, err_len, text, "NULL argument");
        return TBF_ERR_ARG;
    }
    size_t len = strlen(text);
    while (len > 0 && is_space((unsigned char)text[len - 1])) len--;

    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        if (!ends_with(text, len, units[u].suffix)) continue;
        uint64_t n = 0;
        int rc = parse_u64(text, len - strlen(units[u].suffix), &n);
        if (rc == TBF_OK && n > UINT64_MAX / units[u].scale) rc = TBF_ERR_RANGE; /* Go would wrap silently; we refuse */
        if (rc == TBF_ERR_PARSE) {
            set_err(err, err_len, text, "expected a whole number before the unit (e.g. \"1mbps\")");
            return rc;
        }
        if (rc == TBF_ERR_RANGE) {
            set_err(err, err_len, text, "does not fit in 64 bits");
            return rc;
        }
        n *= units[u].scale;
        *bytes_per_s = units[u].bits ? n / 8 : n;
        return TBF_OK;
    }
    set_err(err, err_len, text,
            "invalid unit (want bps, kbps, mbps, gbps, tbps = bytes/s x1024^k, "
            "or bit, kbit, mbit, gbit, tbit = bits/s x1000^k)");
    return TBF_ERR_PARSE;
}

uint64_t tbf_chaos_mesh_kernel_rate(uint64_t documented_bytes_per_s) {
    /* tc get_rate64(): a bare number is bit/s; "bps /= 8; *rate = bps" truncates. */
    return documented_bytes_per_s / 8;
}

int tbf_config_from_chaos_mesh(const char *rate, uint32_t limit, uint32_t buffer, uint64_t peakrate, uint32_t minburst,
                               tbf_config *out, char *err, size_t err_len) {
    uint64_t documented = 0;
    int rc = tbf_parse_rate(rate, &documented, err, err_len);
    if (rc != TBF_OK) return rc;
    if (out == NULL) return TBF_ERR_ARG;

    memset(out, 0, sizeof(*out));
    out->rate_bytes_per_s = tbf_chaos_mesh_kernel_rate(documented);
    out->burst_bytes = buffer;
    out->limit_bytes = limit;
    if (peakrate != 0) {
        /* Printed bare as "peakrate %d mtu %d": bits/s again, and minburst in bytes. */
        out->peakrate_bytes_per_s = peakrate / 8;
        out->mtu_bytes = minburst;
    }
    if (out->rate_bytes_per_s == 0) {
        set_err(err, err_len, rate, "below 8 bytes/s once tc reads it as bits/s; tc refuses rate 0");
        return TBF_ERR_RATE;
    }
    return TBF_OK;
}

const char *tbf_strerror(int code) {
    switch (code) {
    case TBF_OK: return "ok";
    case TBF_ERR_ARG: return "tbf: NULL argument";
    case TBF_ERR_RATE: return "tbf: rate is 0";
    case TBF_ERR_BURST: return "tbf: burst (buffer) is 0";
    case TBF_ERR_LIMIT: return "tbf: limit is 0";
    case TBF_ERR_PEAK: return "tbf: peak rate needs an mtu (minburst) and must exceed the rate";
    case TBF_ERR_PARSE: return "tbf: bad rate string";
    case TBF_ERR_RANGE: return "tbf: rate string out of range";
    default: return "tbf: unknown error";
    }
}
