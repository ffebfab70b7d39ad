/*
 * lab/wire/control.c: parsing and executing bin/labwire's control commands (contract: control.h).
 */
#include "lab/wire/control.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int lw_split(char *line, char **words, int max) {
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && n < max; t = strtok_r(NULL, " \t\r\n", &save)) words[n++] = t;
    return n;
}

static int parse_u64(const char *s, uint64_t *v) {
    char *end = NULL;
    errno = 0;
    if (!*s || *s == '-') return -1;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *v = x;
    return 0;
}

static int parse_pct(const char *s, double *v) {
    char *end = NULL;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x) || x < 0 || x > 100) return -1;
    *v = x;
    return 0;
}

static int parse_cidr(const char *s, lw_cidr *out) {
    unsigned a, b, c, d;
    int prefix = 32, n = 0;
    if (sscanf(s, "%u.%u.%u.%u%n", &a, &b, &c, &d, &n) != 4 || a > 255 || b > 255 || c > 255 || d > 255) return -1;
    if (s[n] == '/') {
        char *end = NULL;
        long p = strtol(s + n + 1, &end, 10);
        if (end == s + n + 1 || *end || p < 0 || p > 32) return -1;
        prefix = (int)p;
    } else if (s[n]) {
        return -1;
    }
    out->addr = a << 24 | b << 16 | c << 8 | d;
    out->prefix = prefix;
    return 0;
}

static int parse_filter(const char *text, lw_rule_spec *spec, char *err, size_t errlen) {
    if (!strcmp(text, "any")) {
        spec->filtered = 0;
        return 0;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    spec->filtered = 1;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (spec->nmatch >= LW_MAX_MATCH || parse_cidr(t, &spec->match[spec->nmatch]) < 0) {
            snprintf(err, errlen, "bad destination \"%s\" (any, or up to %d IPv4 CIDRs separated by commas)", t,
                     LW_MAX_MATCH);
            return -1;
        }
        spec->nmatch++;
    }
    return 0;
}

/* One KEY VALUE of a netem rule. */
static int netem_key(netem_config *n, uint64_t *seed, const char *k, const char *v) {
    struct {
        const char *key;
        double *pct;
    } pcts[] = {{"loss", &n->loss_pct},
                {"loss_corr", &n->loss_corr_pct},
                {"dup", &n->duplicate_pct},
                {"dup_corr", &n->duplicate_corr_pct},
                {"corrupt", &n->corrupt_pct},
                {"corrupt_corr", &n->corrupt_corr_pct},
                {"reorder", &n->reorder_pct},
                {"reorder_corr", &n->reorder_corr_pct},
                {"delay_corr", &n->delay_corr_pct}};
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
        if (!strcmp(k, pcts[i].key)) return parse_pct(v, pcts[i].pct);
    uint64_t x;
    if (parse_u64(v, &x) < 0) return -1;
    if (!strcmp(k, "delay") || !strcmp(k, "jitter")) {
        if (x > (uint64_t)INT64_MAX) return -1;
        *(!strcmp(k, "delay") ? &n->latency_ns : &n->jitter_ns) = (int64_t)x;
    } else if (!strcmp(k, "gap") || !strcmp(k, "limit")) {
        if (x > UINT32_MAX) return -1;
        *(!strcmp(k, "gap") ? &n->reorder_gap : &n->limit_packets) = (uint32_t)x;
    } else if (!strcmp(k, "seed")) {
        *seed = x;
    } else {
        return -1;
    }
    return 0;
}

static int tbf_key(tbf_config *t, const char *k, const char *v) {
    uint64_t x;
    if (parse_u64(v, &x) < 0) return -1;
    if (!strcmp(k, "rate"))
        t->rate_bytes_per_s = x;
    else if (!strcmp(k, "peakrate"))
        t->peakrate_bytes_per_s = x;
    else if (x > UINT32_MAX)
        return -1;
    else if (!strcmp(k, "burst"))
        t->burst_bytes = (uint32_t)x;
    else if (!strcmp(k, "limit"))
        t->limit_bytes = (uint32_t)x;
    else if (!strcmp(k, "mtu"))
        t->mtu_bytes = (uint32_t)x;
    else
        return -1;
    return 0;
}

int lw_parse_rule(const lw_core *c, int argc, char **argv, lw_rule_spec *spec, char *err, size_t errlen) {
    memset(spec, 0, sizeof *spec);
    if (argc < 4) {
        snprintf(err, errlen, "usage: rule add NAME PORT netem|tbf any|CIDR[,CIDR...] [KEY VALUE]...");
        return -1;
    }
    if (strlen(argv[0]) >= sizeof spec->name) {
        snprintf(err, errlen, "rule name too long (at most %zu characters)", sizeof spec->name - 1);
        return -1;
    }
    snprintf(spec->name, sizeof spec->name, "%s", argv[0]);
    if ((spec->port = lw_port_find(c, argv[1])) < 0) {
        snprintf(err, errlen, "no port named \"%s\"", argv[1]);
        return -1;
    }
    if (!strcmp(argv[2], "netem"))
        spec->kind = LW_NETEM;
    else if (!strcmp(argv[2], "tbf"))
        spec->kind = LW_TBF;
    else {
        snprintf(err, errlen, "unknown kind \"%s\" (netem or tbf)", argv[2]);
        return -1;
    }
    if (parse_filter(argv[3], spec, err, errlen) < 0) return -1;
    if ((argc - 4) % 2) {
        snprintf(err, errlen, "\"%s\" has no value", argv[argc - 1]);
        return -1;
    }
    for (int i = 4; i < argc; i += 2) {
        int bad = spec->kind == LW_NETEM ? netem_key(&spec->netem, &spec->seed, argv[i], argv[i + 1])
                                         : tbf_key(&spec->tbf, argv[i], argv[i + 1]);
        if (bad) {
            snprintf(err, errlen, "%s: bad key or value \"%s %s\"", argv[2], argv[i], argv[i + 1]);
            return -1;
        }
    }
    return 0;
}

void lw_hist_print(FILE *out, const uint64_t *h) {
    for (int k = 0; k < LW_LATE_BUCKETS; k++) fprintf(out, "%s%" PRIu64, k ? "," : "", h[k]);
}

static void print_link(void *ctx, const lw_link_stats *s) {
    const void **pair = ctx;
    FILE *out = (FILE *)pair[0];
    const lw_core *c = pair[1];
    fprintf(out,
            "link %s %u.%u.%u.%u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
            " %" PRIu64 " %" PRId64 "\n",
            lw_port_name(c, s->port), s->dst >> 24, s->dst >> 16 & 255, s->dst >> 8 & 255, s->dst & 255, s->seen,
            s->faulted, s->dropped, s->duplicated, s->corrupted, s->reordered, s->delayed, s->sent, s->delay_sum_ns);
}

static void print_rule(FILE *out, const lw_core *c, const lw_rule_stats *r) {
    fprintf(out,
            "rule %s %s %s %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
            " %" PRIu64 " %" PRIu64 " %" PRId64 " %.0f %" PRId64 " %" PRId64 " %" PRId64 " ",
            r->name, lw_port_name(c, r->port), r->kind == LW_NETEM ? "netem" : "tbf", r->active, r->seen,
            r->dropped_loss, r->dropped_limit, r->duplicated, r->corrupted, r->reordered, r->delayed, r->released,
            r->purged, r->sched_sum_ns, r->sched_sq_ns2, r->released ? r->sched_min_ns : 0, r->sched_max_ns,
            r->late_max_ns);
    lw_hist_print(out, r->late_hist);
    fputc('\n', out);
}

void lw_stats_print(const lw_core *c, FILE *out) {
    const lw_self_stats *s = lw_self(c);
    fprintf(out,
            "self in_pod %" PRIu64 " in_node %" PRIu64 " out_pod %" PRIu64 " out_node %" PRIu64 " pool_drops %" PRIu64
            " pool_high %u too_big %" PRIu64 " late_max %" PRId64 " late ",
            s->frames_in[LW_FROM_POD], s->frames_in[LW_FROM_NODE], s->frames_out[LW_FROM_POD],
            s->frames_out[LW_FROM_NODE], s->pool_drops, s->pool_high, s->too_big, s->late_max_ns);
    lw_hist_print(out, s->late_hist);
    fputc('\n', out);
    for (int p = 0; p < LW_MAX_PORTS; p++) {
        int order[LW_MAX_RULES], n = lw_port_order(c, p, order, LW_MAX_RULES);
        if (n < 2) continue;
        fprintf(out, "order %s ", lw_port_name(c, p));
        for (int i = 0; i < n; i++) fprintf(out, "%s%s", i ? "," : "", lw_rule_get(c, order[i])->name);
        fputc('\n', out);
    }
    const void *pair[2] = {out, c};
    lw_foreach_link(c, print_link, (void *)pair);
    for (int r = 0; r < lw_rule_count(c); r++) {
        const lw_rule_stats *st = lw_rule_get(c, r);
        if (st) print_rule(out, c, st);
    }
}

int lw_control(lw_core *c, int argc, char **argv, FILE *out) {
    char err[256];
    if (argc >= 1 && !strcmp(argv[0], "ping")) {
        fprintf(out, "ok\n");
        return 0;
    }
    if (argc >= 1 && !strcmp(argv[0], "stats")) {
        lw_stats_print(c, out);
        fprintf(out, "ok\n");
        return 0;
    }
    if (argc >= 1 && !strcmp(argv[0], "reset")) {
        lw_core_reset(c);
        fprintf(out, "ok\n");
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[0], "rule") && !strcmp(argv[1], "add")) {
        lw_rule_spec spec;
        if (lw_parse_rule(c, argc - 2, argv + 2, &spec, err, sizeof err) < 0 ||
            lw_rule_add(c, &spec, err, sizeof err) < 0) {
            fprintf(out, "error: %s\n", err);
            return -1;
        }
        fprintf(out, "ok\n");
        return 0;
    }
    if (argc == 2 && !strcmp(argv[0], "rule") && !strcmp(argv[1], "clear")) {
        uint64_t purged = 0;
        for (int r = 0; r < lw_rule_count(c); r++)
            if (lw_rule_get(c, r) && lw_rule_get(c, r)->active) purged += lw_rule_del(c, r, 0);
        fprintf(out, "purged %" PRIu64 "\nok\n", purged);
        return 0;
    }
    if ((argc == 3 || (argc == 4 && !strcmp(argv[3], "keep"))) && !strcmp(argv[0], "rule") && !strcmp(argv[1], "del")) {
        int r = lw_rule_find(c, argv[2]);
        if (r < 0) {
            fprintf(out, "error: no active rule named \"%s\"\n", argv[2]);
            return -1;
        }
        fprintf(out, "purged %" PRIu64 "\nok\n", lw_rule_del(c, r, argc == 4));
        return 0;
    }
    return 1;
}
